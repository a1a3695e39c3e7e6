import Testing

@testable import StateBrowser

/// Which state ID a key acts on: the one the focused pane points at (the highlighted
/// lock's in the locks pane), and after a clear, the ID that was cleared for `H`.
@Suite("Keys act on the state ID the focused pane points at")
struct ActionTargetTests {
    static let listID = "dev:tap-github-to-target-postgres"
    static let staleLockID = "prod:tap-github-to-target-postgres"
    static let freshLockID = "prod:tap-stripe-to-target-postgres"

    @Test("In the locks pane d, H, e, c, m, D act on the highlighted lock's state ID, not the list's")
    func locksPaneKeys() {
        let backend = Samples.backend()
        var edited: [String] = []
        backend.editor = { session in edited.append(session.stateID); return nil }
        var harness = Harness(backend: backend)
        #expect(harness.model.list.selectedRow?.stateID == Self.listID)
        harness.press(.character("L"))
        #expect(harness.model.locks.selectedRow?.stateID == Self.staleLockID)

        harness.press(.character("d"))
        guard case let .confirm(clear) = harness.model.mode else { Issue.record("no confirmation"); return }
        #expect(clear.action == .clear(stateID: Self.staleLockID))
        #expect(clear.lines.contains { $0.map(\.text).joined() == "  " + Self.staleLockID })
        harness.press(.escape)

        harness.press(.character("H"))
        guard case let .history(history) = harness.model.mode else { Issue.record("no history"); return }
        #expect(history.stateID == Self.staleLockID)
        harness.press(.escape)

        harness.press(.character("e"))
        #expect(edited == [Self.staleLockID])

        harness.press(.character("c"))
        guard case let .prompt(copy) = harness.model.mode else { Issue.record("no copy prompt"); return }
        #expect(copy.purpose == .copy && copy.source == Self.staleLockID)
        harness.press(.escape)
        harness.press(.character("m"))
        guard case let .prompt(move) = harness.model.mode else { Issue.record("no move prompt"); return }
        #expect(move.purpose == .move && move.source == Self.staleLockID)
        harness.press(.escape)

        harness.press(.character("D"))
        guard case let .doctor(panel) = harness.model.mode else { Issue.record("no doctor panel"); return }
        #expect(panel.stateID == Self.staleLockID)
        harness.press(.escape)

        // The next lock: its own ID.
        harness.press(.character("j"), .character("d"))
        guard case let .confirm(second) = harness.model.mode else { Issue.record("no confirmation"); return }
        #expect(second.action == .clear(stateID: Self.freshLockID))
        harness.press(.escape)
        #expect(backend.writes.isEmpty)
        // The list's selection never moved.
        #expect(harness.model.list.selectedRow?.stateID == Self.listID)
    }

    @Test("b in the locks pane: the lock's state once it is shown, else it says to open it first")
    func bookmarksFromLocksPane() {
        var harness = Harness(backend: Samples.backend())
        harness.press(.character("L"), .character("b"))
        #expect(harness.model.mode == .browse)
        #expect(harness.model.status?.text == "b shows the bookmarks of the state shown: press Enter to open '\(Self.staleLockID)' first.")
        #expect(harness.model.status?.isError == true)
        harness.press(.enter)  // to the lock's state ID, shown
        #expect(harness.model.detail.stateID == Self.staleLockID)
        harness.press(.character("L"), .character("b"))
        guard case let .bookmarks(view) = harness.model.mode else { Issue.record("no bookmarks: \(harness.text)"); return }
        #expect(view.stateID == Self.staleLockID)
    }

    @Test("An empty locks pane says there is no lock instead of acting on the list's ID")
    func emptyLocksPane() {
        let backend = Samples.backend()
        backend.locks = []
        var harness = Harness(backend: backend)
        harness.press(.character("L"))
        #expect(harness.model.focus == .locks)
        for key in ["d", "e", "c", "m", "D", "b", "="] {
            harness.press(.character(Character(key)))
            #expect(harness.model.mode == .browse, "\(key)")
            #expect(harness.model.status?.text.hasPrefix("No lock is selected: nothing to ") == true, "\(key): \(String(describing: harness.model.status))")
        }
        harness.press(.character("H"))
        #expect(harness.model.mode == .browse)
        #expect(harness.model.status?.text.hasPrefix("No lock is selected: no history to show") == true)
        #expect(backend.writes.isEmpty)
    }

    @Test("H right after a clear shows the cleared ID's history, though the selection moved on; then the selection's again")
    func historyAfterClear() {
        let backend = Samples.backend()
        var harness = Harness(backend: backend)
        harness.press(.character("d"), .character("y"))
        #expect(backend.writes == [.clear(stateID: Self.listID)])
        #expect(harness.model.list.selectedRow?.stateID == "dev:tap-gitlab-to-target-postgres")
        harness.press(.character("H"))
        guard case let .history(history) = harness.model.mode else { Issue.record("no history"); return }
        #expect(history.stateID == Self.listID)
        #expect(harness.text.contains("History of \(Self.listID)"))
        harness.press(.escape)
        harness.press(.character("H"))
        guard case let .history(selected) = harness.model.mode else { Issue.record("no history"); return }
        #expect(selected.stateID == "dev:tap-gitlab-to-target-postgres")
    }

    @Test("Any other key after a clear gives H back to the selection")
    func historyAfterClearAndMove() {
        var harness = Harness(backend: Samples.backend())
        harness.press(.character("d"), .character("y"), .character("j"), .character("H"))
        guard case let .history(history) = harness.model.mode else { Issue.record("no history"); return }
        #expect(history.stateID == "dev:tap-jira-to-target-snowflake")
    }

    @Test("H with no ID selected: the last cleared ID's history, or it says there is none")
    func historyWithNothingSelected() {
        var harness = Harness(backend: Samples.backend())
        harness.press(.character("/"))
        harness.type("nothing-matches")
        harness.press(.enter)
        #expect(harness.model.list.rows.isEmpty)
        harness.press(.character("H"))
        #expect(harness.model.mode == .browse)
        #expect(harness.model.status?.text == "No state ID is selected: no history to show (`meltano-state history` lists the whole journal).")
        #expect(harness.text.contains("No state ID is selected: no history to show"))

        var cleared = Harness(backend: Samples.backend())
        cleared.press(.character("d"), .character("y"), .character("/"))
        cleared.type("nothing-matches")
        cleared.press(.enter)
        #expect(cleared.model.list.rows.isEmpty)
        cleared.press(.character("H"))
        guard case let .history(history) = cleared.model.mode else { Issue.record("no history"); return }
        #expect(history.stateID == Self.listID)
    }
}
