import Foundation
import Postgres

/// What monitoring (`metrics`, `watch`, `check-health`) knows of one state ID: a row of
/// the state table, a lock held on an ID, or runs of a job left RUNNING (system
/// database) — whichever exist.
public struct MonitoredState: Sendable, Equatable {
    public var stateID: String
    /// A row exists in the state table (a lock or a first run can come before it).
    public var hasState: Bool
    /// Seconds since `updated_at`, computed on the server as the list does.
    public var updateAgeSeconds: Double?
    public var lockHeld: Bool
    public var lockAgeSeconds: Double?
    public var lockIsStale: Bool
    /// System database: runs of this job (`job_name` is the state ID) marked RUNNING.
    public var runsRunning: Int
    /// Seconds since the last heartbeat of the most silent of them (since its start
    /// when it never sent one).
    public var heartbeatAgeSeconds: Double?
    public var runIsStale: Bool
    /// The ID matches the `--pattern` asked for (all do without one).
    public var matchesPattern: Bool

    public init(stateID: String, hasState: Bool = true, updateAgeSeconds: Double? = nil, lockHeld: Bool = false,
                lockAgeSeconds: Double? = nil, lockIsStale: Bool = false, runsRunning: Int = 0,
                heartbeatAgeSeconds: Double? = nil, runIsStale: Bool = false, matchesPattern: Bool = true) {
        self.stateID = stateID
        self.hasState = hasState
        self.updateAgeSeconds = updateAgeSeconds
        self.lockHeld = lockHeld
        self.lockAgeSeconds = lockAgeSeconds
        self.lockIsStale = lockIsStale
        self.runsRunning = runsRunning
        self.heartbeatAgeSeconds = heartbeatAgeSeconds
        self.runIsStale = runIsStale
        self.matchesPattern = matchesPattern
    }
}

extension StorageLayout {
    /// Locks this tool can see (the system database has none).
    public var hasLocks: Bool { self != .systemDB }
    /// Meltano's `runs` table (only in the system database).
    public var hasRuns: Bool { self == .systemDB }
}

extension StateStore {
    /// Monitoring's one rule for "stale": a held lock as `locks` judges it, by evidence
    /// (the job's heartbeat, the holder session, and only then its age: issue 18), and
    /// Meltano's own heartbeat rule for runs (`runIsStale`, as `runs` says). A lock taken
    /// after the locks were read is judged by its age. An old lock whose heartbeat could
    /// not be read (the system database is configured but unreadable) is not stale for
    /// releasing, but is for alerting: monitoring must not go quiet when its evidence does.
    func monitoredStaleness(lockHeld: Bool, judged: LockInfo?, lockAge: Double?, runStaleByHeartbeat: Bool) -> (lock: Bool, run: Bool) {
        guard lockHeld else { return (false, runStaleByHeartbeat) }
        guard let judged else { return (isStale(lockAge: lockAge), runStaleByHeartbeat) }
        return (judged.isStale || (judged.releaseVerdict == .unknown && isStale(lockAge: judged.ageSeconds)), runStaleByHeartbeat)
    }

    /// Every state ID the store knows of, each handed to `body` as it arrives from the
    /// server (one query; for the single-table layout a second one for its advisory
    /// locks), in no particular order: memory does not grow with the number of IDs.
    /// IDs without a state row but with a lock (two-tables) or RUNNING runs (system
    /// database) are included. `pattern` (a glob, as `list --pattern`) only sets
    /// `matchesPattern`: totals are of everything.
    public func forEachMonitoredState(pattern: String?, _ body: (MonitoredState) throws -> Void) throws {
        try requireTables()
        var parameters: [String?] = []
        func matching(_ column: String) -> String {
            StateID.matchCondition(column, glob: pattern) { parameters = [$0]; return "$1" }.map { "(\($0))" } ?? "true"
        }
        let updateAge = "EXTRACT(EPOCH FROM (LOCALTIMESTAMP - s.updated_at))::float8"
        // The locks are few: read first, judged by evidence as `locks` judges them.
        var judged: [ExactID: LockInfo] = [:]
        if layout.hasLocks {
            for lock in try locks() where judged[ExactID(lock.stateID)] == nil { judged[ExactID(lock.stateID)] = lock }
        }
        let sql: String
        switch (tables.locking, layout) {
        case let (.rows(locksTable), _):
            let id = "COALESCE(s.state_id, l.state_id)"
            sql = """
                SELECT \(id), s.state_id IS NOT NULL, \(updateAge),
                       l.state_id IS NOT NULL, EXTRACT(EPOCH FROM (LOCALTIMESTAMP - l.locked_at))::float8,
                       NULL::int, NULL::float8, false, \(matching(id))
                FROM \(tables.state) s FULL JOIN \(locksTable) l ON l.state_id = s.state_id
                """
        case (.advisory, .systemDB):
            let id = "COALESCE(s.state_id, r.job_name, '')"
            sql = """
                SELECT \(id), s.state_id IS NOT NULL, \(updateAge), false, NULL::float8, r.n, r.silent, COALESCE(r.stale, false),
                       \(matching(id))
                FROM \(tables.state) s
                FULL JOIN (SELECT job_name, count(*)::int AS n, max(silent) AS silent, bool_or(stale) AS stale
                           FROM (SELECT job_name, \(StateStore.runSilentSeconds) AS silent, \(StateStore.runIsStale) AS stale
                                 FROM \(runsTable) WHERE state = 'RUNNING') running
                           GROUP BY job_name) r ON r.job_name = s.state_id
                """
        case (.advisory, _):
            // Advisory locks are not in a table to join: those read above, then the rows.
            sql = """
                SELECT s.state_id, true, \(updateAge), false, NULL::float8, NULL::int, NULL::float8, false, \(matching("s.state_id"))
                FROM \(tables.state) s
                """
        }
        try database("read the state IDs, locks and runs to monitor") {
            // Numbers and booleans are read in place (a million rows: no String per column).
            func number(_ row: StreamedRow, _ column: Int) -> Double? {
                guard !row.isNull(column), let base = row.bytes(column).baseAddress else { return nil }
                return strtod(base.assumingMemoryBound(to: CChar.self), nil)  // libpq's values end in NUL
            }
            func flag(_ row: StreamedRow, _ column: Int) -> Bool {
                let bytes = row.bytes(column)
                return bytes.count == 1 && bytes[0] == UInt8(ascii: "t")
            }
            try connection.forEachRow(sql, parameters, idempotent: true) { row in
                var state = MonitoredState(
                    stateID: row.string(0) ?? "", hasState: flag(row, 1), updateAgeSeconds: number(row, 2), lockHeld: flag(row, 3),
                    lockAgeSeconds: number(row, 4), runsRunning: number(row, 5).map { Int($0) } ?? 0,
                    heartbeatAgeSeconds: number(row, 6), matchesPattern: flag(row, 8))
                let lock = judged[ExactID(state.stateID)]
                if case .advisory = tables.locking, let lock {
                    state.lockHeld = true
                    state.lockAgeSeconds = lock.ageSeconds
                }
                (state.lockIsStale, state.runIsStale) = monitoredStaleness(
                    lockHeld: state.lockHeld, judged: lock, lockAge: state.lockAgeSeconds, runStaleByHeartbeat: flag(row, 7))
                try body(state)
            }
        }
    }
}
