import Foundation
import Postgres
import StateStore
import TestSupport
import Testing

@testable import StateBrowser

extension BrowserFixture {
    /// A `runs` row left RUNNING as a `meltano run` writes it (times in UTC, as Meltano
    /// stores them); `heartbeatSecondsAgo: nil` for a run that never sent one. Returns
    /// its id and run_id.
    @discardableResult
    func insertRunningRun(_ jobName: String, startedMinutesAgo: Int, heartbeatSecondsAgo: Int?,
                          payload: String = #"{"state": {}}"#) throws -> (id: String, runID: String) {
        try MeltanoSystemDB.insertRunningRun(jobName, inSchema: schema, on: admin, startedMinutesAgo: startedMinutesAgo,
                                             heartbeatSecondsAgo: heartbeatSecondsAgo, payload: payload)
    }

    /// state, ended_at set?, payload of a run.
    func runRow(_ id: String) throws -> (state: String?, ended: Bool, payload: String?) {
        let row = try admin.query("SELECT state, ended_at IS NOT NULL, payload FROM \(quoteIdentifier(schema)).runs WHERE id = $1::int",
                                  [id]).rows.first
        return (row?[0], row?[1] == "t", row?[2])
    }

    func journalEntries() throws -> [JournalEntry] {
        guard FileManager.default.fileExists(atPath: journalPath) else { return [] }
        return try Journal(path: journalPath).entries().entries
    }
}

@Suite("Runs of Meltano's system database, against PostgreSQL", .serialized)
struct SystemDBRunnerTests {
    static let reason = "No heartbeat recorded for 5 minutes. The process was likely killed unceremoniously."

    @Test("The bottom pane loads the RUNNING runs; u, y marks the stale one failed through the writes worker")
    func failThroughTheRunner() throws {
        let fixture = try BrowserFixture(layout: .systemDB)
        try fixture.insert("dev:stuck", completed: #"{"singer_state": {"page": 3}}"#)
        try fixture.insert("dev:alive", completed: #"{"singer_state": {"page": 9}}"#)
        let stuck = try fixture.insertRunningRun("dev:stuck", startedMinutesAgo: 60, heartbeatSecondsAgo: 1200)
        let alive = try fixture.insertRunningRun("dev:alive", startedMinutesAgo: 1, heartbeatSecondsAgo: 2)
        let program = fixture.program(settings: BrowserSettings(location: "test", layout: "systemdb", refreshInterval: 0.3))
        #expect(program.run(until: { $0.initialLoadComplete && $0.locks.runs.count == 2 }, timeout: 10))
        let runs = program.model.locks.runs
        #expect(runs.map { String($0.id) } == [stuck.id, alive.id])
        #expect(runs.map(\.isStale) == [true, false])
        #expect(runs[0].runID == stuck.runID)
        #expect(runs[0].staleReason == Self.reason)
        #expect(program.model.locks.rows.isEmpty)
        #expect(view(program.model).text.contains("!  dev:stuck"))

        program.send(.key(.character("L")))
        program.send(.key(.character("u")))
        guard case let .confirm(confirmation) = program.model.mode else { Issue.record("no confirmation"); return }
        #expect(confirmation.action == .failRun(id: Int(stuck.id)!, jobName: "dev:stuck"))
        program.send(.key(.character("y")))
        #expect(program.run(until: { $0.writing == nil && $0.locks.runs.count == 1 }, timeout: 10))
        #expect(program.model.status?.text.hasPrefix("Marked run \(stuck.id) ('dev:stuck') failed") == true)
        let row = try fixture.runRow(stuck.id)
        #expect(row.state == "FAIL")
        #expect(row.ended)
        #expect(row.payload == #"{"state": {}, "error": "\#(Self.reason)"}"#)
        #expect(try fixture.journalEntries().map(\.action) == ["fail-run"])

        // The live one: refused in the browser, and nothing reaches the store.
        program.send(.key(.character("u")))
        #expect(program.model.mode == .browse)
        #expect(program.model.writing == nil)
        #expect(program.model.status?.text.contains("sent a heartbeat") == true)
        #expect(try fixture.runRow(alive.id).state == "RUNNING")
    }

    @Test("The store's refusal comes back as it says it: a run that became alive again is not failed")
    func storeRefusal() throws {
        let fixture = try BrowserFixture(layout: .systemDB)
        let run = try fixture.insertRunningRun("dev:back", startedMinutesAgo: 60, heartbeatSecondsAgo: 1200)
        let program = fixture.program(settings: BrowserSettings(location: "test", layout: "systemdb", refreshInterval: 30))
        #expect(program.run(until: { $0.initialLoadComplete && $0.locks.runs.count == 1 }, timeout: 10))
        program.send(.key(.character("L")))
        program.send(.key(.character("u")))
        guard case .confirm = program.model.mode else { Issue.record("no confirmation"); return }
        // Its pipeline sends a heartbeat while the dialog is open.
        try fixture.admin.query("UPDATE \(quoteIdentifier(fixture.schema)).runs SET last_heartbeat_at = now() AT TIME ZONE 'UTC' WHERE id = $1::int",
                                [run.id])
        program.send(.key(.character("y")))
        #expect(program.run(until: { $0.writing == nil }, timeout: 10))
        #expect(program.model.status?.isError == true)
        #expect(program.model.status?.text.contains("it may still be running. Nothing was changed.") == true)
        #expect(try fixture.runRow(run.id).state == "RUNNING")
        #expect(try fixture.journalEntries().isEmpty)
    }
}
