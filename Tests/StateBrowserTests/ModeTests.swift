import Testing

@testable import StateBrowser

@Suite("Help, errors, disconnection, read-only")
struct ModeTests {
    @Test("? lists every key")
    func help() {
        var harness = Harness(backend: Samples.backend())
        harness.press(.character("?"))
        assertSnapshot(harness.screen, named: "help-80x24")
        harness.press(.pageDown)
        assertSnapshot(harness.screen, named: "help-80x24-page2")
        harness.press(.escape)
        #expect(harness.model.mode == .browse)
    }

    @Test("? at 200×60 fits on one screen")
    func helpLarge() {
        var harness = Harness(backend: Samples.backend(), size: Size(width: 200, height: 60))
        harness.press(.character("?"))
        assertSnapshot(harness.screen, named: "help-200x60")
        let text = harness.text
        for key in ["j k", "PgUp PgDn", "g G", "Tab", "/", "n N", "Enter  Space", "y  Y", "r  F5", "e", "d", "c  m", "u", "b", "H", "q"] {
            #expect(text.contains(key), "help lacks \(key)")
        }
    }

    @Test("A failed write shows the store's error in red")
    func writeError() {
        let backend = Samples.backend()
        backend.writeOutcome = { _ in
            .failed("Could not acquire lock for state_id: dev:tap-github-to-target-postgres (waited 30 s); it is held by lock 3f9a1c2e since 2023-11-14 21:41:02.")
        }
        var harness = Harness(backend: backend)
        harness.press(.character("d"), .character("y"))
        assertSnapshot(harness.screen, named: "error-write")
        let y = harness.model.layout.status.y
        #expect(harness.screen[0, y].style.foreground == .red)
    }

    @Test("A state that cannot be read shows the error in the pane")
    func stateError() {
        let backend = Samples.backend()
        backend.failing[.state] = "Could not read the state of 'dev:tap-gitlab-to-target-postgres': permission denied for table meltano_state"
        var harness = Harness(backend: backend)
        harness.press(.character("j"))
        assertSnapshot(harness.screen, named: "error-state")
    }

    @Test("Disconnected: the header says so, the data stays, keys still work")
    func disconnected() {
        var harness = Harness(backend: Samples.backend())
        harness.send(.connection(.disconnected(reason: "server closed the connection unexpectedly", retryAt: testNow + 4)))
        assertSnapshot(harness.screen, named: "disconnected")
        #expect(harness.text.contains("DISCONNECTED retry in 4 s"))
        harness.press(.tab, .character("j"), .enter)
        #expect(harness.model.detail.folds == [1])
        harness.send(.connection(.connected))
        #expect(harness.text.contains("Reconnected"))
        #expect(harness.text.contains("● connected"))
    }

    @Test("Locks that cannot be read: the pane says why and tries again")
    func locksError() {
        let backend = Samples.backend()
        backend.failing[.locks] = "permission denied for table meltano_state_locks"
        let harness = Harness(backend: backend)
        #expect(harness.text.contains("✖ permission denied"))
        #expect(harness.timers.contains { if case .refreshLocksDue = $0 { return true } else { return false } })
    }

    @Test("Read-only: badge, no write hints, write keys refused")
    func readOnly() {
        let backend = Samples.backend()
        var settings = Harness.settings
        settings.readOnly = true
        var harness = Harness(backend: backend, settings: settings)
        assertSnapshot(harness.screen, named: "read-only")
        for key in ["e", "d", "c", "m", "u"] {
            harness.press(.character(Character(key)))
            #expect(harness.model.mode == .browse)
        }
        #expect(harness.text.contains("Read-only"))
        #expect(backend.writes.isEmpty)
        #expect(!backend.commandLog.contains { $0.hasPrefix("prepareEdit") })
        harness.press(.character("?"))
        #expect(!harness.text.contains("release the selected lock"))
        assertSnapshot(harness.screen, named: "read-only-help")
    }
}

@Suite("Styles")
struct StyleTests {
    @Test("Stale locks in red, JSON syntax colours, selection in reverse")
    func styles() {
        let harness = Harness(backend: Samples.backend())
        let screen = harness.screen
        let y = harness.model.layout.locks.y + 2  // the oldest lock: stale
        #expect(screen.line(y).contains("STALE"))
        // (selected but not focused: bold and underlined as well)
        #expect(screen.styleLine(y).hasPrefix(String(repeating: "R", count: 78)))
        #expect(!screen.styleLine(y + 1).contains { $0 == "r" || $0 == "R" })  // the fresh lock is not red
        // `"updated_at": "2023-…"`: key blue and bold, string green.
        let jsonRow = harness.model.layout.detail.y + 2 + 4
        let text = screen.line(jsonRow)
        let styles = screen.styleLine(jsonRow)
        let keyStart = text.distance(from: text.startIndex, to: text.range(of: "\"updated_at\"")!.lowerBound)
        let chars = Array(styles)
        #expect(chars[keyStart] == "B")
        let valueStart = text.distance(from: text.startIndex, to: text.range(of: "\"2023-11-14T21:00:00Z\"")!.lowerBound)
        #expect(chars[valueStart] == "g")
        // The selected ID (focused list) is in reverse video.
        #expect(screen.styleLine(harness.model.layout.list.y + 1).hasPrefix("################################"))
    }
}
