import Testing

@testable import StateBrowser

extension Samples {
    static let staleRunReason = "No heartbeat recorded for 5 minutes. The process was likely killed unceremoniously."

    /// Meltano's system database: the sample IDs, no locks, three runs left RUNNING: one
    /// silent for 20 minutes (stale), one that never sent a heartbeat and started
    /// 36 hours ago (stale), one heard from 2 s ago (running).
    static func systemDBBackend() -> FakeBackend {
        let backend = backend()
        backend.locks = []
        backend.runs = [
            RunRow(id: 57, jobName: "prod:tap-stripe-to-target-postgres", runID: "0b7e4a52-91c3-4d0e-8f6a-2c5d9e1b7a40",
                   startedAt: "2023-11-14 22:12:48.000001", lastHeartbeatAt: "2023-11-14 22:13:18.000001", silentForSeconds: 2,
                   fetchedAt: testNow, isStale: false, staleReason: staleRunReason),
            RunRow(id: 41, jobName: "prod:tap-github-to-target-postgres", runID: "7c0a9e1f-3b2d-4c5e-9f80-1a2b3c4d5e6f",
                   startedAt: "2023-11-14 21:13:20.000000", lastHeartbeatAt: "2023-11-14 21:53:20.000000", silentForSeconds: 1200,
                   fetchedAt: testNow, isStale: true, staleReason: staleRunReason),
            RunRow(id: 12, jobName: "dev:tap-jira-to-target-snowflake", runID: "e3d2c1b0-a9f8-4e7d-8c6b-5a4f3e2d1c0b",
                   startedAt: "2023-11-13 10:13:20.000000", lastHeartbeatAt: nil, silentForSeconds: 129_600,
                   fetchedAt: testNow, isStale: true,
                   staleReason: "Still running after 24 hours. The process was likely killed unceremoniously."),
        ]
        return backend
    }

    static var systemDBSettings: BrowserSettings {
        var settings = Harness.settings
        settings.layout = "systemdb"
        return settings
    }
}

@Suite("Runs pane (system database layout)")
struct RunsPaneTests {
    @Test("Runs instead of locks: longest silent first, STALE marked, counted in the header, marks in the list")
    func runsRows() {
        let harness = Harness(backend: Samples.systemDBBackend(), settings: Samples.systemDBSettings)
        assertSnapshot(harness.screen, named: "runs-80x24")
        let text = harness.text
        #expect(text.contains("runs 3, 2 stale"))
        #expect(!text.contains("locks 3"))
        #expect(text.contains("Runs 3 running, 2 stale · oldest first · refreshed every 2 s"))
        #expect(text.contains("STATE ID"))
        #expect(text.contains("RUN ID"))
        #expect(text.contains("SILENT FOR"))
        #expect(harness.model.locks.runs.map(\.id) == [12, 41, 57])
        // The list marks IDs with a RUNNING run: ! stale, L heard from.
        #expect(text.contains("!  dev:tap-jira-to-target-"))
        #expect(text.contains("!  prod:tap-github-to-targ"))
        #expect(text.contains("L  prod:tap-stripe-to-targ"))
        #expect(text.contains("   prod:tap-gitlab-to-targ"))
        #expect(harness.model.initialLoadComplete)
    }

    @Test("Wide: the state ID column takes the room, the other layouts' columns are not used")
    func runsRowsWide() {
        let harness = Harness(backend: Samples.systemDBBackend(), size: Size(width: 120, height: 30), settings: Samples.systemDBSettings)
        assertSnapshot(harness.screen, named: "runs-120x30")
        #expect(!harness.text.contains("LOCK ID"))
        #expect(!harness.text.contains("TAKEN AT"))
    }

    @Test("No run RUNNING: a hint line, and the header says runs 0")
    func noRuns() {
        let backend = Samples.systemDBBackend()
        backend.runs = []
        let harness = Harness(backend: backend, settings: Samples.systemDBSettings)
        #expect(harness.text.contains("No runs in RUNNING state: no pipeline is running, or stuck."))
        #expect(harness.text.contains("Runs 0 running · oldest first"))
        #expect(harness.text.contains("runs 0"))
        #expect(!harness.text.contains("No locks held"))
    }

    @Test("The other layouts keep their locks pane and header")
    func locksLayoutUnchanged() {
        let harness = Harness(backend: Samples.backend())
        #expect(harness.text.contains("locks 2, 1 stale"))
        #expect(!harness.text.contains("Runs "))
    }

    @Test("u on a stale run: a confirmation naming the run, what Meltano does, and the journal; y marks it failed")
    func failStale() {
        let backend = Samples.systemDBBackend()
        var harness = Harness(backend: backend, settings: Samples.systemDBSettings)
        harness.press(.character("L"), .character("j"), .character("u"))
        guard case let .confirm(confirmation) = harness.model.mode else {
            Issue.record("no confirmation: \(harness.text)"); return
        }
        #expect(confirmation.action == .failRun(id: 41, jobName: "prod:tap-github-to-target-postgres"))
        #expect(confirmation.yes == "mark it failed")
        assertSnapshot(harness.screen, named: "confirm-fail-run")
        let lines = confirmation.lines.map { $0.map(\.text).joined() }
        #expect(lines.first == "Mark run 41 failed")
        #expect(lines.contains("  prod:tap-github-to-target-postgres"))
        #expect(lines.contains("run_id          7c0a9e1f-3b2d-4c5e-9f80-1a2b3c4d5e6f"))
        #expect(lines.contains("started         2023-11-14 21:13:20.000000 UTC"))
        #expect(lines.contains("last heartbeat  2023-11-14 21:53:20.000000 UTC"))
        #expect(lines.contains("silent for      20 min"))
        #expect(lines.contains { $0.contains("state FAIL, ended_at now, and payload.error is set") })
        #expect(lines.contains("  \"\(Samples.staleRunReason)\""))
        #expect(lines.contains { $0.contains("backup journal first (H restores it)") })
        // No is the default.
        harness.press(.enter)
        #expect(backend.writes.isEmpty)
        #expect(harness.text.contains("Cancelled: nothing was changed."))

        harness.press(.character("u"), .character("y"))
        #expect(backend.writes == [.failRun(id: 41, jobName: "prod:tap-github-to-target-postgres")])
        #expect(harness.model.status?.text == "Marked run 41 ('prod:tap-github-to-target-postgres') failed.")
        // The runs were read again: the failed run is gone from the pane.
        #expect(harness.model.locks.runs.map(\.id) == [12, 57])
        #expect(harness.text.contains("runs 2, 1 stale"))
    }

    @Test("A run with no heartbeat ever: 'never', and the 24-hour reason")
    func failStaleWithoutHeartbeat() {
        var harness = Harness(backend: Samples.systemDBBackend(), settings: Samples.systemDBSettings)
        harness.press(.character("L"), .character("u"))
        guard case let .confirm(confirmation) = harness.model.mode else { Issue.record("no confirmation"); return }
        let lines = confirmation.lines.map { $0.map(\.text).joined() }
        #expect(confirmation.action == .failRun(id: 12, jobName: "dev:tap-jira-to-target-snowflake"))
        #expect(lines.contains("last heartbeat  never"))
        #expect(lines.contains("silent for      1 d 12 h"))
        #expect(lines.contains { $0.contains("running for over 24 hours without a heartbeat") })
        #expect(lines.contains { $0.contains("Still running after 24 hours.") })
    }

    @Test("u on a run that is still heard from: refused without a dialog, nothing written")
    func refuseFresh() {
        let backend = Samples.systemDBBackend()
        var harness = Harness(backend: backend, settings: Samples.systemDBSettings)
        harness.press(.character("L"), .character("G"), .character("u"))
        #expect(harness.model.mode == .browse)
        #expect(backend.writes.isEmpty)
        #expect(harness.model.status?.isError == true)
        #expect(harness.model.status?.text
            == "Run 57 ('prod:tap-stripe-to-target-postgres') sent a heartbeat 2 s ago: it may still be running. Nothing was changed.")
        // The age goes on counting between refreshes.
        harness.send(.tick(testNow + 30))
        harness.press(.character("u"))
        #expect(harness.model.status?.text.contains("sent a heartbeat 32 s ago") == true)
        #expect(backend.writes.isEmpty)
    }

    @Test("u in the list acts on the selected state ID's run, or says it has none")
    func failFromList() {
        var harness = Harness(backend: Samples.systemDBBackend(), settings: Samples.systemDBSettings)
        harness.press(.character("u"))
        #expect(harness.model.mode == .browse)
        #expect(harness.model.status?.text == "'dev:tap-github-to-target-postgres' has no run in RUNNING state (as of the last refresh).")
        harness.press(.character("j"), .character("j"), .character("j"))
        #expect(harness.model.list.selectedRow?.stateID == "prod:tap-github-to-target-postgres")
        harness.press(.character("u"))
        guard case let .confirm(confirmation) = harness.model.mode else { Issue.record("no confirmation"); return }
        #expect(confirmation.action == .failRun(id: 41, jobName: "prod:tap-github-to-target-postgres"))
    }

    @Test("d on a state whose pipeline has a RUNNING run warns that the run may write it again")
    func clearWarnsOfARunningRun() {
        var harness = Harness(backend: Samples.systemDBBackend(), settings: Samples.systemDBSettings)
        harness.press(.character("d"))
        guard case let .confirm(quiet) = harness.model.mode else { Issue.record("no confirmation"); return }
        #expect(!quiet.lines.map { $0.map(\.text).joined() }.contains { $0.contains("RUNNING") }, "no run, no warning")
        harness.press(.escape, .character("j"), .character("j"), .character("j"))
        #expect(harness.model.list.selectedRow?.stateID == "prod:tap-github-to-target-postgres")
        harness.press(.character("d"))
        guard case let .confirm(confirmation) = harness.model.mode else { Issue.record("no confirmation"); return }
        let text = confirmation.lines.map { $0.map(\.text).joined() }
        #expect(confirmation.action == .clear(stateID: "prod:tap-github-to-target-postgres"))
        #expect(text.contains("⚠ Run 41 of this pipeline is RUNNING (STALE, silent for 20 min);"), "\(text)")
        #expect(text.contains("  if it is alive, it writes its state again when it finishes."))
    }

    @Test("A stale run of a job that also has a live run is the one u offers")
    func staleRunOfABusyJob() {
        let backend = Samples.systemDBBackend()
        backend.runs?.append(RunRow(id: 99, jobName: "prod:tap-stripe-to-target-postgres", runID: nil, startedAt: "2023-11-14 20:00:00",
                                    lastHeartbeatAt: "2023-11-14 21:00:00", silentForSeconds: 4400, fetchedAt: testNow, isStale: true,
                                    staleReason: Samples.staleRunReason))
        var harness = Harness(backend: backend, settings: Samples.systemDBSettings)
        for _ in 0..<10 { harness.press(.character("j")) }
        #expect(harness.model.list.selectedRow?.stateID == "prod:tap-stripe-to-target-postgres")
        harness.press(.character("u"))
        guard case let .confirm(confirmation) = harness.model.mode else { Issue.record("no confirmation"); return }
        #expect(confirmation.action == .failRun(id: 99, jobName: "prod:tap-stripe-to-target-postgres"))
        #expect(confirmation.lines.map { $0.map(\.text).joined() }.contains("run_id          —"))
    }

    @Test("A failure of the store is shown as it says it, and the runs are read again")
    func storeRefuses() {
        let backend = Samples.systemDBBackend()
        backend.writeOutcome = { _ in .failed("Run 41 (prod:tap-github-to-target-postgres) sent a heartbeat 1 s ago: it may still be running. Nothing was changed.") }
        var harness = Harness(backend: backend, settings: Samples.systemDBSettings)
        harness.press(.character("L"), .character("j"), .character("u"))
        let before = backend.commandLog.count
        harness.press(.character("y"))
        #expect(harness.model.status?.isError == true)
        #expect(harness.model.status?.text.hasPrefix("Run 41 (prod:tap-github-to-target-postgres) sent a heartbeat 1 s ago") == true)
        #expect(backend.commandLog.dropFirst(before).contains("loadLocks"))
        #expect(harness.model.writing == nil)
    }

    @Test("Read-only: u refuses as the other writes do; help and footer leave it out")
    func readOnly() {
        var settings = Samples.systemDBSettings
        settings.readOnly = true
        let backend = Samples.systemDBBackend()
        var harness = Harness(backend: backend, settings: settings)
        #expect(!harness.text.contains("fail run"))
        harness.press(.character("L"), .character("j"), .character("u"))
        #expect(harness.model.mode == .browse)
        #expect(harness.model.status?.text == "Read-only: marking runs failed is disabled (--read-only). Nothing was changed.")
        #expect(harness.model.status?.isError == true)
        #expect(backend.writes.isEmpty)
        // A confirmation reached some other way still writes nothing.
        harness.model.mode = .confirm(Confirmation(action: .failRun(id: 41, jobName: "x"), title: "", lines: [], yes: ""))
        harness.press(.character("y"))
        #expect(backend.writes.isEmpty)
        harness.resize(120, 60)
        harness.press(.character("?"))
        #expect(harness.text.contains("Read-only: edit, clear, copy, move, fail-run and restore are off."))
        #expect(!harness.text.contains("mark the selected stale run failed"))
    }

    @Test("Help and footer speak of runs in this layout")
    func helpAndFooter() {
        var harness = Harness(backend: Samples.systemDBBackend(), settings: Samples.systemDBSettings)
        #expect(harness.text.contains("u fail run"))
        harness.press(.character("L"))
        #expect(harness.text.contains("u fail run"))
        harness.resize(120, 60)
        harness.press(.character("?"))
        let text = harness.text
        #expect(text.contains("mark the selected stale run failed (as fail-run)"))
        #expect(text.contains("the runs pane (longest silent first)"))
        #expect(text.contains("L running  ! stale run"))
        #expect(!text.contains("release the selected lock"))
    }

    @Test("Enter on a run goes to its state ID; y and Y copy its run_id and state ID")
    func enterAndCopy() {
        let backend = Samples.systemDBBackend()
        var harness = Harness(backend: backend, settings: Samples.systemDBSettings)
        harness.press(.character("L"), .character("j"), .character("y"), .character("Y"))
        #expect(backend.clipboard == ["7c0a9e1f-3b2d-4c5e-9f80-1a2b3c4d5e6f", "prod:tap-github-to-target-postgres"])
        harness.press(.enter)
        #expect(harness.model.focus == .list)
        #expect(harness.model.list.selectedRow?.stateID == "prod:tap-github-to-target-postgres")
    }

    @Test("The selection stays on its run across refreshes")
    func selectionFollowsRun() {
        let backend = Samples.systemDBBackend()
        var harness = Harness(backend: backend, settings: Samples.systemDBSettings)
        harness.press(.character("L"), .character("j"))
        #expect(harness.model.locks.selectedRun?.id == 41)
        backend.runs?.removeAll { $0.id == 12 }
        harness.send(.refreshLocksDue(generation: harness.model.locks.timerGeneration))
        #expect(harness.model.locks.selectedRun?.id == 41)
    }

    @Test("H: a run marked failed is put back as a run, not as a deleted state")
    func restoreRunEntry() {
        let backend = Samples.systemDBBackend()
        backend.history["prod:tap-github-to-target-postgres"] = [
            HistoryRow(id: "20231114T221500Z-aa01bb", time: "2023-11-14T22:15:00Z", action: "fail-run",
                       stateID: "prod:tap-github-to-target-postgres", note: "run 41 marked FAIL: \(Samples.staleRunReason)",
                       hadRow: false, isRun: true),
        ]
        var harness = Harness(backend: backend, settings: Samples.systemDBSettings)
        harness.press(.character("j"), .character("j"), .character("j"), .character("H"))
        #expect(harness.text.contains("run row"))
        harness.press(.enter)
        guard case let .confirm(confirmation) = harness.model.mode else { Issue.record("no confirmation"); return }
        let lines = confirmation.lines.map { $0.map(\.text).joined() }
        #expect(lines.first == "Put back the run of")
        #expect(lines.contains { $0.contains("gets back its state (RUNNING)") })
        #expect(!lines.contains { $0.contains("current row is deleted") })
    }
}
