import Foundation
import Postgres
import StateJSON

/// A row of Meltano's `runs` table (system database layout).
public struct RunInfo: Sendable, Equatable, Codable {
    public var id: Int
    public var jobName: String
    public var state: String
    public var runID: String?
    public var trigger: String?
    public var startedAt: String?
    public var lastHeartbeatAt: String?
    public var endedAt: String?
    /// The `payload` text as stored.
    public var payload: String?
    /// Seconds since the last heartbeat (or since start, without one), computed on the
    /// server in UTC as Meltano stores these columns.
    public var silentForSeconds: Double?
    /// Meltano's rule (`Job.is_stale`): RUNNING and no heartbeat for 5 minutes, or
    /// RUNNING for 24 hours with no heartbeat ever.
    public var isStale: Bool

    /// The reason Meltano's `fail_stale` writes into the payload.
    public var staleReason: String {
        lastHeartbeatAt != nil
            ? "No heartbeat recorded for 5 minutes. The process was likely killed unceremoniously."
            : "Still running after 24 hours. The process was likely killed unceremoniously."
    }
}

extension StateStore {
    /// Seconds since a run's last heartbeat (or its start, without one), in UTC as
    /// Meltano stores these columns.
    static let runSilentSeconds = "EXTRACT(EPOCH FROM ((now() AT TIME ZONE 'UTC') - COALESCE(last_heartbeat_at, started_at)))::float8"
    /// Meltano's `Job.is_stale`, as SQL over a `runs` row.
    static let runIsStale = """
        (state = 'RUNNING' AND ((last_heartbeat_at IS NOT NULL AND last_heartbeat_at + interval '5 minutes' < now() AT TIME ZONE 'UTC')
          OR (last_heartbeat_at IS NULL AND started_at + interval '24 hours' < now() AT TIME ZONE 'UTC')))
        """
    static let runColumns = """
        id, job_name, state, run_id::text, trigger, started_at::text, last_heartbeat_at::text, ended_at::text, payload,
        \(runSilentSeconds), \(runIsStale)
        """

    var runsTable: String { quoteIdentifier(tables.schema) + "." + quoteIdentifier("runs") }

    static func run(from row: [String?]) -> RunInfo {
        RunInfo(id: Int(row[0] ?? "") ?? 0, jobName: row[1] ?? "", state: row[2] ?? "", runID: row[3], trigger: row[4],
                startedAt: row[5], lastHeartbeatAt: row[6], endedAt: row[7], payload: row[8],
                silentForSeconds: row[9].flatMap(Double.init), isStale: row[10] == "t")
    }

    /// Runs Meltano thinks are RUNNING (system database layout), stale ones first.
    public func runningRuns() throws -> [RunInfo] {
        guard layout == .systemDB else { return [] }
        return try database("list running pipelines") {
            try connection.query("""
                SELECT \(StateStore.runColumns) FROM \(runsTable) WHERE state = 'RUNNING'
                ORDER BY COALESCE(last_heartbeat_at, started_at)
                """, idempotent: true).rows.map(StateStore.run(from:))
        }
    }

    /// Marks a stale RUNNING run failed exactly as Meltano's own stale-run handling does
    /// (`Job.fail_stale`: state FAIL, ended_at now, the reason under `error` in the
    /// payload), journaled first. Refused when the run is not (or no longer) stale.
    public func failStaleRun(id: Int) throws -> RunInfo {
        try requireWritable("mark a run failed")
        guard layout == .systemDB else { throw StoreError.other("Runs exist only in Meltano's system database layout.") }
        return try database("mark run \(id) failed") {
            try connection.transaction {
                guard let row = try connection.query("SELECT \(StateStore.runColumns) FROM \(runsTable) WHERE id = $1 FOR UPDATE",
                                                     [String(id)]).rows.first else {
                    throw StoreError.other("No run with id \(id).")
                }
                let run = StateStore.run(from: row)
                guard run.state == "RUNNING" else { throw StoreError.other("Run \(id) is \(run.state), not RUNNING; nothing to do.") }
                guard run.isStale else {
                    throw StoreError.other("Run \(id) (\(run.jobName)) sent a heartbeat \(run.silentForSeconds.map(formatAge) ?? "recently") ago: it may still be running. Nothing was changed.")
                }
                var payload = JSONObject()
                if let text = run.payload, case let .object(existing)? = try? JSONParser.parse(text) { payload = existing }
                payload["error"] = .string(JSONString(run.staleReason))
                var entry = journalEntry(action: "fail-run", stateID: run.jobName, before: nil, note: "run \(id) marked FAIL: \(run.staleReason)")
                entry.run = run
                try options.journal.append([entry])
                try connection.query("""
                    UPDATE \(runsTable) SET state = 'FAIL', ended_at = now() AT TIME ZONE 'UTC', payload = $2 WHERE id = $1
                    """, [String(id), JSONValue.object(payload).meltanoText])
                return run
            }
        }
    }

    /// Puts a run row back as the journal recorded it (undo of `failStaleRun`).
    func restoreRun(_ run: RunInfo) throws {
        try database("restore run \(run.id)") {
            try connection.query("UPDATE \(runsTable) SET state = $2, ended_at = $3::timestamp, payload = $4 WHERE id = $1",
                                 [String(run.id), run.state, run.endedAt, run.payload])
        }
    }
}
