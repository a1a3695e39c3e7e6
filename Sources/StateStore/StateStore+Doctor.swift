import Foundation
import Postgres
import StateConfig
import StateJSON

/// The system database beside a store, opened once on first use; a failure to open it
/// is remembered for `retryAfter` seconds (a host that does not answer must not cost a
/// connect timeout at every refresh of the browser's locks), then tried again (a
/// browser left open must see the heartbeats again once the host is back).
final class BesideRuns: @unchecked Sendable {
    private let lock = NSLock()
    private var store: StateStore?
    private var problem: (error: Error, at: Date)?
    let retryAfter: TimeInterval

    init(retryAfter: TimeInterval = 30) {
        self.retryAfter = retryAfter
    }

    func with<T>(_ open: () throws -> StateStore, _ body: (StateStore) throws -> T) throws -> T {
        lock.lock(); defer { lock.unlock() }
        if let problem, Date().timeIntervalSince(problem.at) < retryAfter { throw problem.error }
        if store == nil {
            do {
                store = try open()
                problem = nil
            } catch {
                problem = (error, Date())
                throw error
            }
        }
        return try body(store!)
    }

    func close() {
        lock.lock(); defer { lock.unlock() }
        store?.close()
        store = nil
    }
}

extension StateStore {
    /// The run of each job that matters: its latest RUNNING one, else its latest (by
    /// `started_at`, then id; `meltano state set` adds a STATE_EDIT run of its own), in
    /// this store's `runs` table (systemdb layout; empty otherwise). Meltano names a
    /// run's job after its state ID.
    public func latestRuns(jobNames: [String]) throws -> [ExactID: RunInfo] {
        guard layout == .systemDB, !jobNames.isEmpty else { return [:] }
        let names = JSONValue.array(jobNames.map { .string(JSONString($0)) }).compactText
        return try database("read the runs of \(jobNames.count) job(s)") {
            var result: [ExactID: RunInfo] = [:]
            for row in try connection.query("""
                SELECT DISTINCT ON (job_name) \(StateStore.runColumns) FROM \(runsTable)
                WHERE job_name IN (SELECT jsonb_array_elements_text($1::jsonb))
                ORDER BY job_name, (state = 'RUNNING') DESC, started_at DESC NULLS LAST, id DESC
                """, [names], idempotent: true).rows {
                let run = StateStore.run(from: row)
                result[ExactID(run.jobName)] = run
            }
            return result
        }
    }

    /// What Meltano's system database says of these jobs, never failing: unreadable or
    /// not configured, it says why.
    public func runEvidence(for jobNames: [String]) -> RunEvidence {
        do {
            return .known(try withRunsStore { try $0.latestRuns(jobNames: jobNames) })
        } catch let problem as RunsUnavailable {
            return problem.configured ? .unreadable(problem.why) : .unavailable(problem.why)
        } catch {
            return .unreadable("\(systemDatabaseName) could not be read: \(error)")
        }
    }

    /// Jobs Meltano has RUNNING, from its system database (empty when it cannot be read).
    func runningJobNames() -> [String] {
        (try? withRunsStore { try $0.runningRuns().map(\.jobName) }) ?? []
    }

    private var systemDatabaseName: String {
        switch options.systemDatabase {
        case let .postgres(_, target, _): return "Meltano's system database (\(target))"
        default: return "Meltano's system database"
        }
    }

    /// `configured`: a system database is configured but could not be used.
    private struct RunsUnavailable: Error {
        let why: String
        var configured = false
    }

    /// Runs `body` on the store that holds Meltano's runs: this one (systemdb layout) or
    /// the system database beside it.
    private func withRunsStore<T>(_ body: (StateStore) throws -> T) throws -> T {
        if layout == .systemDB { return try body(self) }
        switch options.systemDatabase {
        case .sameAsState:
            throw RunsUnavailable(why: "the state backend is the system database, but the \(layout.rawValue) layout's tables are read (--layout)")
        case let .unavailable(why):
            throw RunsUnavailable(why: why)
        case let .postgres(configuration, target, schema):
            let name = "Meltano's system database (\(target))"
            return try besideRuns.with({
                let connection: Connection
                do { connection = try Connection(configuration) } catch let error as PostgresError {
                    throw RunsUnavailable(why: "\(name) cannot be reached: \(error.description)", configured: true)
                }
                let resolvedSchema = try schema ?? connection.query("SELECT current_schema()", idempotent: true).scalar ?? "public"
                let runs = quoteIdentifier(resolvedSchema) + ".runs"
                guard try connection.query("SELECT to_regclass($1) IS NOT NULL", [runs], idempotent: true).scalar == "t" else {
                    connection.close()
                    throw RunsUnavailable(why: "\(name) has no runs table in schema \(resolvedSchema) (Meltano's migrations create it: `meltano install`)", configured: true)
                }
                return StateStore(connection: connection, options: StoreOptions(
                    schema: resolvedSchema, layout: .systemDB, readOnly: true, journal: options.journal, systemDatabase: .sameAsState))
            }, body)
        }
    }

    /// The state IDs `doctor` looks at when given none: every one with a lock, a
    /// RUNNING run (Meltano's system database), or a partial state.
    public func doctorCandidates() throws -> [String] {
        try requireTables()
        var ids = Set(try lockRows().map { ExactID($0.stateID) })
        ids.formUnion(runningJobNames().map(ExactID.init))
        let partial = try database("find partial states") {
            try connection.query("SELECT state_id, partial_state FROM \(tables.state) WHERE partial_state IS NOT NULL AND partial_state NOT IN ('', '{}')",
                                 idempotent: true).rows
        }
        for row in partial where StateEvidence(RowSnapshot(partialState: row[1], completedState: nil, updatedAt: nil), ageSeconds: nil).hasPartial {
            ids.insert(ExactID(row[0] ?? ""))
        }
        return ids.map(\.id).sorted()
    }

    /// Every piece of evidence about these state IDs, and the verdict on each
    /// (`Diagnosis.diagnose`, pure).
    public func diagnose(_ stateIDs: [String]) throws -> [Diagnosis] {
        try requireTables()
        let locks = try lockRows(of: stateIDs)
        let runs = runEvidence(for: stateIDs)
        return try stateIDs.map { stateID in
            let lock = locks.first { sameText($0.stateID, stateID) }
            // Read in slices: a 100 MB state is held once, not in libpq's buffer, its
            // result and a String.
            let state = try readStoredBytes(stateID).map(StateEvidence.init)
            return Diagnosis.diagnose(DoctorEvidence(stateID: stateID, layout: layout, lock: lock, runs: runs, state: state,
                                                     staleAfter: options.staleLockAfter))
        }
    }
}
