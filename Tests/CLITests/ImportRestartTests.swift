import Foundation
import Postgres
import StateJSON
import StateStore
import TestSupport
import Testing

/// Issue 22: the server restarted (fast: every session ended) while `meltano-state
/// import` of 50,000 states is half-way through writing them, on a server of the test's
/// own. A BEFORE trigger holds the import's statement in the row of one state ID, so the
/// restart comes at a known point: 25,000 rows into the COPY of new states, half-way
/// through the upsert of existing ones, or in the COMMIT (a deferred trigger). Nothing
/// may be half-written, the journal must agree with the table, and the message must say
/// what happened and what to do; the import run again then writes every state.
@Suite("Server restart during import of 50,000 states", .serialized)
struct ImportRestartTests {
    static let count = 50_000
    /// The last `existing` IDs of the import already have a row (with an old value).
    static let existing = 1_000

    static func id(_ n: Int) -> String { String(format: "import-%05d", n) }

    struct Point: Sendable, CustomTestStringConvertible {
        let name: String
        /// The state ID whose row the import's statement sleeps in.
        let stateID: String
        let events: String
        let atCommit: Bool
        /// How the statement held there starts, as pg_stat_activity shows it.
        let statement: String
        var testDescription: String { name }
    }

    static let points = [
        Point(name: "copying new states", stateID: id(25_000), events: "INSERT", atCommit: false, statement: "COPY "),
        Point(name: "upserting existing states", stateID: id(count - existing / 2), events: "INSERT OR UPDATE", atCommit: false,
              statement: "INSERT INTO"),
        Point(name: "committing", stateID: id(25_000), events: "INSERT", atCommit: true, statement: "COMMIT"),
    ]

    @Test(arguments: points)
    func restartMidImport(_ point: Point) throws {
        let server = try ThrowawayServer(prefix: "import-restart")
        let fixture = try CLIFixture(schemaPrefix: "import", server: server.configuration())
        #expect(try fixture.run(["init"]).status == 0)
        let table = fixture.stateTable
        try fixture.admin.query("""
            INSERT INTO \(table) (state_id, completed_state)
            SELECT format('import-%s', lpad(n::text, 5, '0')), format('{"singer_state": {"n": %s, "run": "old"}}', n)
            FROM generate_series(\(Self.count - Self.existing), \(Self.count - 1)) n
            """)
        try fixture.admin.query("INSERT INTO \(table) (state_id, completed_state) VALUES ('other', '{\"singer_state\": {}}')")
        func rows() throws -> [[String?]] {
            try fixture.admin.query("SELECT state_id, partial_state, completed_state, updated_at::text FROM \(table) ORDER BY state_id").rows
        }
        let before = try rows()

        var text = "{"
        for n in 0..<Self.count {
            text += (n > 0 ? ",\n" : "") + #""\#(Self.id(n))": {"completed": {"singer_state": {"n": \#(n), "run": "new"}}, "partial": null}"#
        }
        text += "}\n"
        let file = fixture.directory + "/import.json"
        try text.write(toFile: file, atomically: true, encoding: .utf8)

        try installSlowTrigger(fixture.admin, schema: fixture.schema, table: "meltano_state", events: point.events,
                               stateID: point.stateID, atCommit: point.atCommit)
        let finished = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var result: Result<ProcessOutput, Error>?
        Thread.detachNewThread {
            result = Result { try fixture.run(["import", "--yes", file]) }
            finished.signal()
        }
        // Mid-import: the import's own statement sleeps in the trigger.
        var held: String?
        #expect(try waitUntil(timeout: 60) {
            held = try fixture.admin.query("""
                SELECT query FROM pg_stat_activity WHERE wait_event = 'PgSleep' AND application_name = 'meltano-state'
                """, idempotent: true).scalar
            return held != nil
        }, "the import never reached the state ID \(point.stateID)")
        #expect(held?.hasPrefix(point.statement) == true, "\(String(describing: held))")
        try server.restart()
        finished.wait()
        let output = try #require(try result?.get())

        // All or nothing, and it says which: nothing, run it again.
        #expect(output.status == 1, "\(output.stderr)")
        #expect(output.stderr.contains("The connection broke while trying to import states"), "\(output.stderr)")
        #expect(output.stderr.contains("Nothing was imported"), "\(output.stderr)")
        #expect(output.stderr.contains("Run the import again once the server is back"), "\(output.stderr)")
        #expect(!output.stderr.contains("may remain"), "\(output.stderr)")
        // In the COMMIT the outcome was not known by the client: it asked the server.
        #expect(output.stderr.contains("asked once it was back, says it was rolled back") == point.atCommit, "\(output.stderr)")
        try fixture.admin.reconnect()
        try dropSlowTrigger(fixture.admin, schema: fixture.schema, table: "meltano_state")
        #expect(try rows() == before, "rows changed by an import that failed")
        #expect(try fixture.admin.query("SELECT count(*) FROM \(fixture.locksTable)").scalar == "0")

        // The journal agrees with the table: the failed import's batch holds every ID's
        // row exactly as it still is (restoring it would change nothing).
        let rowsByID = Dictionary(uniqueKeysWithValues: before.map { ($0[0] ?? "", $0) })
        let failedBatch = try Journal(path: fixture.journalPath).entries().entries.filter { $0.action == "import" }
        #expect(failedBatch.count == Self.count)
        #expect(Set(failedBatch.compactMap(\.batch)).count == 1)
        let disagreeing = failedBatch.filter { entry in
            entry.before != rowsByID[entry.stateID].map { RowSnapshot(partialState: $0[1], completedState: $0[2], updatedAt: $0[3]) }
        }
        #expect(disagreeing.isEmpty, "journal entries that differ from the row: \(disagreeing.prefix(3))")
        #expect(failedBatch.filter { $0.before != nil }.count == Self.existing)

        // Run again, it writes every state; its batch names exactly the IDs written.
        let again = try fixture.run(["import", "--yes", file])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stderr.contains("Successfully imported \(Self.count) state(s)."), "\(again.stderr)")
        #expect(try fixture.admin.query("""
            SELECT count(*) FROM \(table) WHERE state_id LIKE 'import-%' AND partial_state IS NULL
              AND completed_state::jsonb = jsonb_build_object('singer_state', jsonb_build_object('n', substr(state_id, 8)::int, 'run', 'new'))
            """).scalar == String(Self.count))
        #expect(try fixture.admin.query("SELECT completed_state FROM \(table) WHERE state_id = 'other'").scalar == #"{"singer_state": {}}"#)
        let batches = Dictionary(grouping: try Journal(path: fixture.journalPath).entries().entries.filter { $0.action == "import" },
                                 by: { $0.batch ?? "" })
        #expect(batches.count == 2)
        let written = try #require(batches.values.first { $0.first?.batch != failedBatch.first?.batch })
        #expect(Set(written.map(\.stateID)) == Set((0..<Self.count).map(Self.id)))
        #expect(written.filter { $0.before != nil }.count == Self.existing)
        #expect(try fixture.admin.query("SELECT count(*) FROM \(fixture.locksTable)").scalar == "0")
    }
}
