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
        for key in ["j k", "PgUp PgDn", "g G", "Tab", "/", "n N", "Enter  Space", "y  Y", "r  F5", "e", "d", "c  m", "u", "H", "q"] {
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
