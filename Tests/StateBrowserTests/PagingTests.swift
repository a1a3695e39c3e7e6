import Testing

@testable import StateBrowser

@Suite("Keyset paging")
struct PagingTests {
    static let small = BrowserSettings(location: "u@h:5432/db", pageSize: 50, maxRows: 150)

    @Test("The first screen asks for one page and a count, never the whole list")
    func firstPageOnly() {
        let backend = Samples.manyIDs(1000)
        let harness = Harness(backend: backend, settings: Self.small)
        #expect(harness.model.list.rows.count == 50)
        #expect(backend.commandLog.filter { $0.hasPrefix("loadPage") } == ["loadPage(first)"])
        #expect(harness.text.contains("1 of 1,000"))
    }

    @Test("A filter's count is asked for only after its first page arrived (counting reads every index entry)")
    func countAfterFirstPage() {
        let backend = Samples.manyIDs(1000)
        var harness = Harness(backend: backend, settings: Self.small)
        #expect(backend.commandLog.filter { $0.hasPrefix("count(") } == ["count(*)"])
        #expect(backend.commandLog.firstIndex(of: "loadPage(first)")! < backend.commandLog.firstIndex(of: "count(*)")!)
        harness.hold = { if case .loadPage = $0 { return true } else { return false } }
        harness.press(.character("/"))
        harness.type("state-0004")
        harness.press(.enter)
        #expect(harness.held.contains { if case .loadPage = $0 { return true } else { return false } })
        #expect(!backend.commandLog.contains("count(*state-0004*)"), "counted before its first page")
        #expect(harness.model.list.total == nil)
        harness.hold = nil
        harness.releaseHeld()
        #expect(backend.commandLog.filter { $0 == "count(*state-0004*)" }.count == 1)
        #expect(harness.model.list.total == 100)
        #expect(harness.text.contains("1 of 100"))
    }

    @Test("Scrolling to the end keeps at most maxRows in memory and the position right")
    func scrollToEndBounded() {
        var harness = Harness(backend: Samples.manyIDs(1000), settings: Self.small)
        var largest = 0
        for _ in 0..<1200 {
            harness.press(.character("j"))
            largest = max(largest, harness.model.list.rows.count)
        }
        #expect(largest <= 150 + 50)
        #expect(harness.model.list.selectedRow?.stateID == "state-000999")
        #expect(harness.text.contains("1,000 of 1,000"))
        #expect(harness.model.list.atEnd)
        // and back up again, a page at a time
        for _ in 0..<100 { harness.press(.pageUp) }
        #expect(harness.model.list.selectedRow?.stateID == "state-000000")
        #expect(harness.text.contains("1 of 1,000"))
    }

    @Test("G jumps to the last page with one query; g back to the first")
    func jumpEnds() {
        let backend = Samples.manyIDs(1000)
        var harness = Harness(backend: backend, settings: Self.small)
        harness.press(.character("G"))
        #expect(harness.model.list.selectedRow?.stateID == "state-000999")
        #expect(harness.text.contains("1,000 of 1,000"))
        #expect(backend.commandLog.contains("loadPage(last)"))
        assertSnapshot(harness.screen, named: "paging-last")
        harness.press(.character("k"), .character("k"))
        #expect(harness.text.contains("998 of 1,000"))
        harness.press(.character("g"))
        #expect(harness.model.list.selectedRow?.stateID == "state-000000")
        #expect(harness.text.contains("1 of 1,000"))
    }

    @Test("PgDn moves a screenful")
    func pageDown() {
        var harness = Harness(backend: Samples.manyIDs(1000), settings: Self.small)
        harness.press(.pageDown)
        #expect(harness.model.list.selected == harness.model.layout.listRows)
        #expect(harness.model.list.top == 1)
    }

    /// 1 000 IDs, one stale lock on `lockedID`, and Enter pressed on it in the locks pane.
    func enterOnLock(_ lockedID: String) -> (FakeBackend, Harness) {
        let backend = Samples.manyIDs(1000)
        backend.locks = [LockRow(stateID: lockedID, lockID: "aaaa", lockedAt: "2023-11-14 22:00:00", ageSeconds: 800, fetchedAt: testNow, isStale: true)]
        var harness = Harness(backend: backend, settings: Self.small)
        harness.press(.character("L"), .enter)
        return (backend, harness)
    }

    @Test("Enter on a lock jumps to its state, wherever it is in the list")
    func jumpToLockedState() {
        let (backend, harness) = enterOnLock("state-000777")
        #expect(harness.model.focus == .list)
        #expect(harness.model.list.selectedRow?.stateID == "state-000777")
        #expect(harness.model.detail.stateID == "state-000777")
        #expect(harness.screen.text.contains("!  state-000777"))
        // The store placed the window: the real position, not "?".
        #expect(backend.commandLog.contains { $0.hasPrefix("locate(") })
        #expect(harness.text.contains("778 of 1,000"))
    }

    @Test("Enter on a lock whose ID has no state says so")
    func jumpToALockWithoutState() {
        var (_, harness) = enterOnLock("state-000777x")
        #expect(harness.text.contains("'state-000777x' has no state stored, only its lock"), "\(harness.text)")
        // A later reload does not say it again.
        harness.press(.character("r"))
        #expect(!harness.text.contains("has no state stored"))
    }

    @Test("After a jump the position reads ? until the store answers, then N of TOTAL, and follows the selection")
    func positionAfterJump() {
        let backend = Samples.manyIDs(1000)
        backend.locks = [LockRow(stateID: "state-000500", lockID: "bbbb", lockedAt: "2023-11-14 22:00:00", ageSeconds: 10, fetchedAt: testNow)]
        var harness = Harness(backend: backend, settings: Self.small)
        harness.hold = { if case .locate = $0 { return true } else { return false } }
        harness.press(.character("L"), .enter)
        #expect(harness.model.list.selectedRow?.stateID == "state-000500")
        #expect(harness.text.contains("? of 1,000"))
        #expect(harness.held.map(\.name) == ["locate(state-000500)"])
        harness.hold = nil
        harness.releaseHeld()
        #expect(harness.text.contains("501 of 1,000"))
        harness.press(.character("j"), .character("j"))
        #expect(harness.text.contains("503 of 1,000"))
        // Paging back past the window's start keeps counting right.
        for _ in 0..<10 { harness.press(.pageUp) }
        let selected = harness.model.list.selectedRow!.stateID
        #expect(harness.text.contains("\(Int(selected.dropFirst("state-".count))! + 1) of 1,000"))
    }

    @Test("A position that arrives after the list was reloaded again is dropped")
    func stalePosition() {
        let backend = Samples.manyIDs(1000)
        backend.locks = [LockRow(stateID: "state-000500", lockID: "bbbb", lockedAt: "2023-11-14 22:00:00", ageSeconds: 10, fetchedAt: testNow)]
        var harness = Harness(backend: backend, settings: Self.small)
        harness.hold = { if case .locate = $0 { return true } else { return false } }
        harness.press(.character("L"), .enter)
        let late = harness.held
        harness.hold = nil
        harness.press(.character("g"))
        #expect(harness.text.contains("1 of 1,000"))
        harness.held = late
        harness.releaseHeld()
        #expect(harness.text.contains("1 of 1,000"))
        #expect(harness.model.list.offset == 0)
    }

    @Test("r after IDs were added before the selection: the position is corrected by the store")
    func positionAfterRefresh() {
        let backend = Samples.manyIDs(1000)
        var harness = Harness(backend: backend, settings: Self.small)
        for _ in 0..<300 { harness.press(.character("j")) }
        #expect(harness.text.contains("301 of 1,000"))
        for index in 0..<5 { backend.add("state-000000-new\(index)", completed: "{}") }
        harness.press(.character("r"))
        #expect(harness.model.list.selectedRow?.stateID == "state-000300")
        #expect(harness.text.contains("306 of 1,005"))
    }

    @Test("A page that fails shows the error and keeps the rows")
    func pageError() {
        let backend = Samples.manyIDs(100)
        var harness = Harness(backend: backend, settings: Self.small)
        backend.failing[.page] = "Could not list state IDs: permission denied for table meltano_state"
        harness.press(.character("r"))
        #expect(harness.model.list.rows.count == 50)
        #expect(harness.text.contains("permission denied"))
    }

    @Test("A new filter whose page fails shows the error, not the rows of the old filter under its name")
    func filterPageError() {
        let backend = Samples.manyIDs(100)
        var harness = Harness(backend: backend, settings: Self.small)
        #expect(harness.text.contains("state-000000"))
        backend.failing[.page] = "Could not list state IDs: canceling statement due to statement timeout"
        harness.press(.character("/"), .character("0"), .character("7"), .enter)
        #expect(harness.model.list.rows.isEmpty)
        #expect(harness.text.contains("statement timeout"))
        #expect(harness.text.contains("*07*"))
        // The list pane (left of the divider) has no row; the right one still names the
        // state it shows.
        let listPane = harness.text.split(separator: "\n").map { $0.split(separator: "│", omittingEmptySubsequences: false).first ?? "" }
        #expect(!listPane.contains { $0.contains("state-0") })
        // Back to no filter: its rows come back once a page is read.
        backend.failing[.page] = nil
        harness.press(.escape)
        #expect(harness.text.contains("state-000000"))
    }
}

@Suite("Never blocked")
struct NeverBlockedTests {
    @Test("Moving while a refresh is in flight: the new page keeps the row the user moved to")
    func moveDuringReload() {
        let backend = Samples.backend()
        var harness = Harness(backend: backend)
        // Ask for a refresh but hold its answers.
        let (model, commands) = update(harness.model, .key(.character("r")))
        harness.model = model
        harness.press(.character("j"), .character("j"))
        #expect(harness.model.list.selectedRow?.stateID == "dev:tap-jira-to-target-snowflake")
        #expect(harness.text.contains("… 3 of …"))
        harness.run(commands)
        #expect(harness.model.list.selectedRow?.stateID == "dev:tap-jira-to-target-snowflake")
        #expect(harness.text.contains("3 of 12"))
    }
}
