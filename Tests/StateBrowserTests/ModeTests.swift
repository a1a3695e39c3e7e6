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

    @Test("A message longer than its line takes the key hints' line: the fix at its end shows")
    func longStatus() {
        let backend = Samples.backend()
        let message = "Could not acquire lock for state_id: dev:tap-github-to-target-postgres (waited 30 s); it is held by lock 3f9a1c2e since 2023-11-14 21:41:02 (3 d 0 h ago, stale). If that pipeline is no longer running, release it with: meltano-state unlock dev:tap-github-to-target-postgres 3f9a1c2e"
        backend.writeOutcome = { _ in .failed(message) }
        var harness = Harness(backend: backend, size: Size(width: 120, height: 30))
        harness.press(.character("d"), .character("y"))
        let layout = harness.model.layout
        // Wrapped over the status line, the key hints' line and, when it needs more, the
        // panes' last rows: every word shows, the unlock command at its end too.
        let shown = (layout.status.y - 3...layout.footer.y).map { harness.screen.line($0) }.joined(separator: " ")
        #expect(shown.contains("held by lock 3f9a1c2e"), "\(shown)")
        #expect(shown.contains("release it with: meltano-state unlock dev:tap-github-to-target-postgres 3f9a1c2e"), "\(shown)")
        #expect(!harness.screen.line(layout.footer.y).contains("? help"), "the key hints gave way")
        #expect(harness.screen[0, layout.footer.y].style.foreground == .red)
        // At 80 columns it takes more rows, and still shows whole.
        harness.resize(80, 24)
        let narrow = harness.model.layout
        let rows = (narrow.status.y - 4...narrow.footer.y).map { harness.screen.line($0) }
        #expect(rows.joined(separator: " ").contains("meltano-state unlock dev:tap-github-to-target-postgres 3f9a1c2e"), "\(rows)")
        harness.resize(120, 30)
        // A short message leaves the key hints where they are.
        backend.writeOutcome = { _ in .failed("Short.") }
        harness.press(.character("d"), .character("y"))
        #expect(harness.screen.line(layout.status.y).hasPrefix("Short."))
        #expect(harness.screen.line(layout.footer.y).contains("help"), "\(harness.screen.line(layout.footer.y))")
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

    @Test("After a failover the status names the new server and the old one, the header the current one, and all is read again")
    func failoverNamesTheServer() {
        let backend = Samples.backend()
        var harness = Harness(backend: backend)
        let primary = ConnectedServer(address: "127.0.0.1:5432", inRecovery: false)
        harness.send(.server(primary))
        // The first server is no news: the header names it, the status line stays quiet.
        #expect(harness.model.status == nil)
        #expect(harness.text.contains("● connected to 127.0.0.1:5432 (primary)"))
        harness.send(.connection(.disconnected(reason: "server closed the connection unexpectedly", retryAt: testNow + 2)))
        #expect(harness.text.contains("DISCONNECTED retry in 2 s"))
        #expect(!harness.text.contains("connected to"))
        backend.commandLog = []
        harness.send(.connection(.connected))
        harness.send(.server(ConnectedServer(address: "127.0.0.1:5433", inRecovery: false)))
        #expect(harness.model.status?.text == "Reconnected to 127.0.0.1:5433 (primary; was 127.0.0.1:5432); refreshing.")
        #expect(harness.model.status?.isError == false)
        let text = harness.text
        #expect(text.contains("● connected to 127.0.0.1:5433 (primary)"))
        #expect(text.contains("Reconnected to 127.0.0.1:5433 (primary; was 127.0.0.1:5432)"))
        #expect(backend.commandLog.contains { $0.hasPrefix("loadPage") })
        #expect(backend.commandLog.contains { $0.hasPrefix("loadState") })
        #expect(backend.commandLog.contains("loadLocks"))
        // The same server again (a restart) is the plain reconnection, without names.
        harness.send(.connection(.disconnected(reason: "the database system is shutting down", retryAt: nil)))
        harness.send(.connection(.connected))
        harness.send(.server(ConnectedServer(address: "127.0.0.1:5433", inRecovery: false)))
        #expect(harness.model.status?.text == "Reconnected; refreshing.")
        // A standby reached (target_session_attrs=any) says so; an unknown role is left out.
        harness.send(.server(ConnectedServer(address: "db2.example:5432", inRecovery: true)))
        #expect(harness.model.status?.text == "Reconnected to db2.example:5432 (standby, read-only; was 127.0.0.1:5433); refreshing.")
        harness.send(.server(ConnectedServer(address: "db3.example:5432", inRecovery: nil)))
        #expect(harness.model.status?.text == "Reconnected to db3.example:5432 (was db2.example:5432); refreshing.")
        #expect(harness.text.contains("● connected to db3.example:5432 "))
    }

    @Test("The server's name gives way first in a narrow header")
    func serverGivesWay() {
        var harness = Harness(backend: Samples.backend())
        harness.send(.server(ConnectedServer(address: "a-very-long-primary-host-name.eu-west-1.rds.example.com:5432", inRecovery: false)))
        let header = harness.text.split(separator: "\n")[1]
        #expect(header.contains("● connected"))
        #expect(header.contains("locks 2, 1 stale"), "\(header)")
        #expect(!header.contains("rds.example"), "\(header)")
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
    @Test("On a narrow screen the locks pane drops TAKEN AT, never STATUS")
    func narrowLocksKeepStatus() {
        for width in [60, 66, 80] {
            let harness = Harness(backend: Samples.backend(), size: Size(width: width, height: 24))
            let locks = harness.model.layout.locks
            guard locks.height > 2 else { Issue.record("no locks pane at \(width)"); continue }
            #expect(harness.screen.line(locks.y + 1).contains("STATUS"), "\(width): \(harness.screen.line(locks.y + 1))")
            #expect(harness.screen.line(locks.y + 2).hasSuffix("STALE"), "\(width): \(harness.screen.line(locks.y + 2))")
            #expect(harness.screen.line(locks.y + 1).contains("TAKEN AT") == (width >= 66), "\(width)")
        }
    }

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
