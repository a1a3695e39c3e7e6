import Foundation
import Postgres
import StateStore
import TestSupport
import Testing

/// The real binary in a real terminal: tmux runs `$MELTANO_STATE_BIN tui` against the
/// test server; the test types with `send-keys` and reads the screen with
/// `capture-pane`, waiting for what a user would wait for (as lazygit's integration
/// tests do). Needs MELTANO_STATE_BIN and MELTANO_STATE_TEST_DSN (scripts/test sets
/// both) and tmux; without them the tests fail, they do not skip.
@Suite("End to end in tmux", .serialized)
struct TmuxEndToEndTests {
    @Test("Open: IDs, header, the selected state, the locks; q restores the terminal")
    func open() throws {
        let fixture = try BrowserFixture()
        try fixture.insert("dev:tap-github-to-target-postgres", completed: #"{"singer_state": {"bookmarks": {"issues": {"since": "2023-11-14"}}}}"#)
        try fixture.insert("prod:tap-stripe-to-target-postgres", completed: #"{"singer_state": {"bookmarks": {"charges": {"created": 1700000000}}}}"#)
        try fixture.lock("prod:tap-stripe-to-target-postgres", lockID: "3f9a1c2e-5b7d-4e21-9c0a-8d6f4b2e1a37", minutesAgo: 40)
        let tmux = try Tmux(fixture: fixture)
        defer { tmux.kill() }
        try tmux.waitFor("1 of 2")
        try tmux.waitFor(#""since": "2023-11-14""#)
        try tmux.waitFor("locks 1, 1 stale")
        try tmux.waitFor("STALE")
        #expect(tmux.capture().contains("schema \(fixture.schema)"))
        tmux.send("q")
        try tmux.waitFor("EXIT=0")
        // Back to a normal screen: nothing of the browser is left on it.
        #expect(!tmux.capture().contains("State IDs"))
    }

    @Test("Filter on the server, open a state, fold it")
    func filterOpenFold() throws {
        let fixture = try BrowserFixture()
        try fixture.insertMany(3000)
        try fixture.insert("prod:tap-zendesk-to-target", completed: #"{"singer_state": {"bookmarks": {"tickets": {"updated_at": "2023-11-14"}, "users": {}}}}"#)
        let tmux = try Tmux(fixture: fixture)
        defer { tmux.kill() }
        try tmux.waitFor("1 of 3,001")
        tmux.send("/")
        tmux.type("zendesk")
        try tmux.waitFor("1 match")
        tmux.send("Enter")
        try tmux.waitFor("1 of 1")
        try tmux.waitFor(#""tickets": {"#)
        tmux.send("Tab", "j", "j", "Enter")
        try tmux.waitFor(#""bookmarks": {…}  2 keys"#)
        tmux.send("Enter")
        try tmux.waitFor(#""tickets": {"#)
    }

    @Test("Edit through an EDITOR script: invalid JSON goes back, then diff, y writes")
    func edit() throws {
        let fixture = try BrowserFixture()
        try fixture.insert("dev:edit-me", completed: #"{"singer_state": {"page": 17}}"#)
        // First save breaks the JSON (trailing comma); the second run of the editor
        // sees the error comment and fixes it.
        let editor = try Tmux.script("""
            #!/bin/sh
            if grep -q "not valid JSON" "$1"; then
              sed -i -e 's/"page": 18,/"page": 18/' "$1"
            else
              sed -i -e 's/"page": 17/"page": 18,/' "$1"
            fi
            """)
        let tmux = try Tmux(fixture: fixture, environment: ["EDITOR": editor, "VISUAL": editor])
        defer { tmux.kill() }
        try tmux.waitFor(#""page": 17"#)
        tmux.send("e")
        try tmux.waitFor("Write the edited state of dev:edit-me?")
        try tmux.waitFor(#"+    "page": 18"#)
        tmux.send("y")
        try tmux.waitFor("Wrote the state of 'dev:edit-me'")
        let row = try fixture.admin.query("SELECT completed_state FROM \(quoteIdentifier(fixture.schema)).meltano_state WHERE state_id = 'dev:edit-me'").scalar
        #expect(row == #"{"singer_state": {"page": 18}}"#)
    }

    /// The editor has no use for the database's password, nor have its plugins or what
    /// they start: a password planted in each place a user puts one must not reach it.
    @Test("e: the editor's environment holds no password (PGPASSWORD, the password setting, the URI)")
    func editorGetsNoPassword() throws {
        let fixture = try BrowserFixture()
        try fixture.insert("dev:secret-check", completed: #"{"singer_state": {"page": 17}}"#)
        let record = NSTemporaryDirectory() + "meltano-state-e2e-env-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: record) }
        // Records the environment as the editor process itself has it, then cancels the
        // edit by leaving the file unchanged.
        let editor = try Tmux.script("#!/bin/sh\ncat /proc/$$/environ | tr '\\0' '\\n' > \(Tmux.shellQuote(record))\n")
        let configuration = try TestDatabase.configuration()
        let passwords = ["Pgpass-Env-S3cr3t-71", "Setting-S3cr3t-72", "Uri-S3cr3t-73"]
        // The test server trusts loopback, so any password connects; what matters is
        // where each one travels.
        let uri = "postgres://\(configuration.user ?? "postgres"):\(passwords[2])@\(configuration.host ?? "127.0.0.1"):\(configuration.port ?? 5432)/\(configuration.database ?? "postgres")"
        let tmux = try Tmux(fixture: fixture, environment: [
            "EDITOR": editor, "VISUAL": editor, "PGPASSWORD": passwords[0],
            "MELTANO_STATE_BACKEND_POSTGRES_PASSWORD": passwords[1], "MELTANO_STATE_BACKEND_URI": uri,
        ], connection: [])
        defer { tmux.kill() }
        try tmux.waitFor(#""page": 17"#)
        tmux.send("e")
        try tmux.waitFor("No changes")
        let environment = try String(contentsOfFile: record, encoding: .utf8)
        #expect(environment.contains("EDITOR=\(editor)"), "the record is the editor's environment:\n\(environment)")
        #expect(environment.contains("PATH="))
        for password in passwords {
            #expect(!environment.contains(password), "a password reached the editor's environment:\n\(environment)")
            #expect(!tmux.capture().contains(password), "a password is on the screen")
        }
        tmux.send("q")
        try tmux.waitFor("EXIT=0")
    }

    /// An editor is interactive: it reads the terminal (which only the foreground
    /// process group may do) and takes Ctrl-C for itself (vim leaves insert mode with
    /// it). The browser must run it in its own process group and live through the
    /// Ctrl-C; the first version did neither (Foundation's Process starts a new group).
    @Test("Edit in an editor that reads the terminal; Ctrl-C in it is the editor's")
    func editInteractively() throws {
        let fixture = try BrowserFixture()
        try fixture.insert("dev:ask-me", completed: #"{"singer_state": {"page": 17}}"#)
        let editor = try Tmux.script(#"""
            #!/bin/sh
            trap 'echo " (Ctrl-C caught by the editor)"' INT
            printf 'new page? '
            while ! read answer; do printf 'new page? '; done
            sed -i -e "s/: 17/: $answer/" "$1"
            """#)
        let tmux = try Tmux(fixture: fixture, environment: ["EDITOR": editor, "VISUAL": editor])
        defer { tmux.kill() }
        try tmux.waitFor(#""page": 17"#)
        tmux.send("e")
        try tmux.waitFor("new page?")
        tmux.send("C-c")
        try tmux.waitFor("(Ctrl-C caught by the editor)")
        tmux.type("18")
        tmux.send("Enter")
        try tmux.waitFor("Write the edited state of dev:ask-me?")
        try tmux.waitFor(#"+    "page": 18"#)
        tmux.send("y")
        try tmux.waitFor("Wrote the state of 'dev:ask-me'")
        let row = try fixture.admin.query("SELECT completed_state FROM \(quoteIdentifier(fixture.schema)).meltano_state WHERE state_id = 'dev:ask-me'").scalar
        #expect(row == #"{"singer_state": {"page": 18}}"#)
        tmux.send("q")
        try tmux.waitFor("EXIT=0")
    }

    @Test("Clear asks first (Enter keeps it), y clears")
    func clear() throws {
        let (fixture, tmux) = try Self.browserOnTwoStates()
        defer { tmux.kill() }
        tmux.send("d")
        try tmux.waitFor("Clear the state of")
        tmux.send("Enter")
        try tmux.waitFor("Cancelled: nothing was changed.")
        tmux.send("d")
        try tmux.waitFor("Clear the state of")
        tmux.send("y")
        try tmux.waitFor("Cleared 'dev:a'")
        try tmux.waitFor("1 of 1")
        let count = try fixture.admin.query("SELECT count(*) FROM \(quoteIdentifier(fixture.schema)).meltano_state").scalar
        #expect(count == "1")
    }

    /// The keys go after the shrink shows on screen (so they are read after it): `d`
    /// would open a Clear dialog nobody sees, and the `q` after it would only cancel
    /// that dialog; ignored, `q` quits at once and nothing was cleared.
    @Test("Too small: the screen says what it needs, d opens no hidden dialog, q quits")
    func tooSmall() throws {
        let (fixture, tmux) = try Self.browserOnTwoStates()
        defer { tmux.kill() }
        tmux.resize(20, 5)
        try tmux.waitFor("Terminal too small:")
        try tmux.waitFor("needs 40×10 or")
        try tmux.waitFor("q quits.")
        tmux.send("d")
        tmux.send("q")
        try tmux.waitFor("EXIT=0")
        let count = try fixture.admin.query("SELECT count(*) FROM \(quoteIdentifier(fixture.schema)).meltano_state").scalar
        #expect(count == "2")
    }

    /// The browser in tmux on two states, dev:a and dev:b, its list shown.
    static func browserOnTwoStates() throws -> (BrowserFixture, Tmux) {
        let fixture = try BrowserFixture()
        try fixture.insert("dev:a", completed: #"{"singer_state": {}}"#)
        try fixture.insert("dev:b", completed: #"{"singer_state": {}}"#)
        let tmux = try Tmux(fixture: fixture)
        do { try tmux.waitFor("1 of 2") } catch { tmux.kill(); throw error }
        return (fixture, tmux)
    }

    /// The reference implementation of the add-on takes the lock and exits without
    /// releasing it, as a killed `meltano run` does; the lock ID it left.
    static func crashLock(_ stateID: String, in fixture: BrowserFixture) throws -> String {
        let reference = ProcessInfo.processInfo.environment["MELTANO_STATE_REFERENCE"]
            ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("scripts/reference/meltano_backend_ref.py").path
        let taken = try runProcess("python3", [reference, "--dsn", try TestDatabase.dsn, "--schema", fixture.schema, "crash-lock", stateID])
        #expect(taken.status == 0, "\(taken.stderr)")
        return try #require(try fixture.admin.query("SELECT lock_id FROM \(quoteIdentifier(fixture.schema)).meltano_state_locks").scalar)
    }

    @Test("b: the Bookmarks view; r rewinds a stream by a day and x resets another, each through the diff, locked and journaled")
    func bookmarks() throws {
        let fixture = try BrowserFixture()
        let state = #"{"singer_state": {"bookmarks": {"public-orders": {"replication_key": "updated_at", "replication_key_value": "2026-11-30T12:34:56.123456+00:00"}, "public-customers": {"replication_key": "id", "replication_key_value": 4242}}, "currently_syncing": null}}"#
        try fixture.insert("prod:pg", completed: state)
        try fixture.insert("prod:other", completed: state)
        func stored(_ id: String) throws -> [String?] {
            try fixture.admin.query("SELECT partial_state, completed_state FROM \(quoteIdentifier(fixture.schema)).meltano_state WHERE state_id = $1", [id]).rows.first ?? []
        }
        let tmux = try Tmux(fixture: fixture, width: 120)
        defer { tmux.kill() }
        try tmux.waitFor("1 of 2")
        tmux.send("j")
        try tmux.waitFor("2 of 2")
        // prod:pg's own pane replaced prod:other's with the selection: its JSON is its state,
        // read (b before that says no state is shown, as it should).
        try tmux.waitFor(#""currently_syncing": null"#)
        tmux.send("b")
        try tmux.waitFor("Bookmarks of prod:pg")
        try tmux.waitFor("public-customers")
        tmux.send("r")
        tmux.type("-1d")
        tmux.send("Enter")
        try tmux.waitFor("Write this change to the bookmarks of prod:pg?")
        try tmux.waitFor("2026-11-29T12:34:56.123456+00:00")
        tmux.send("y")
        try tmux.waitFor("Rewound 'prod:pg' (journaled; H restores it): public-orders")
        let rewound = state.replacingOccurrences(of: "2026-11-30T12:34:56", with: "2026-11-29T12:34:56")
        #expect(try stored("prod:pg") == [nil, rewound])
        // As a user does: once the state shown is the rewound one.
        try tmux.waitFor(#""replication_key_value": "2026-11-29T12:34:56.123456+00:00""#)

        tmux.send("b")
        try tmux.waitFor("Bookmarks of prod:pg")
        tmux.send("j")
        tmux.send("x")
        try tmux.waitFor("Write this change to the bookmarks of prod:pg?")
        tmux.send("y")
        try tmux.waitFor("Reset 'prod:pg' (journaled; H restores it): removed bookmark of public-customers")
        #expect(try stored("prod:pg") == [nil, rewound.replacingOccurrences(of: #", "public-customers": {"replication_key": "id", "replication_key_value": 4242}"#, with: "")])
        #expect(try stored("prod:other") == [nil, state], "the other state ID is untouched")
        let journal = try Journal(path: fixture.journalPath).entries().entries
        #expect(journal.map(\.action) == ["rewind", "reset-stream"])
        #expect(journal.first?.before?.completedState == state)
        #expect(try fixture.admin.query("SELECT count(*) FROM \(quoteIdentifier(fixture.schema)).meltano_state_locks").scalar == "0", "no lock left")
        tmux.send("q")
        try tmux.waitFor("EXIT=0")
    }

    @Test("Release a lock left by a pipeline that died (Meltano's lock protocol, another process)")
    func releaseDeadLock() throws {
        let fixture = try BrowserFixture()
        try fixture.insert("prod:tap-x-to-y", completed: #"{"singer_state": {}}"#)
        let lockID = try Self.crashLock("prod:tap-x-to-y", in: fixture)
        let tmux = try Tmux(fixture: fixture)
        defer { tmux.kill() }
        try tmux.waitFor("locks 1")
        tmux.send("L", "u")
        try tmux.waitFor("Release the lock of")
        try tmux.waitFor(lockID)
        // Fresh, and nothing else to go by: doctor says RUNNING (by age), so it asks twice.
        try tmux.waitFor("RUNNING, DO NOT RELEASE")
        try tmux.waitFor("judged by age")
        tmux.send("y")
        try tmux.waitFor("Press y again only if you know this pipeline is dead.")
        #expect(try fixture.admin.query("SELECT count(*) FROM \(quoteIdentifier(fixture.schema)).meltano_state_locks").scalar == "1")
        tmux.send("y")
        try tmux.waitFor("Released lock \(lockID)")
        try tmux.waitFor("No locks held")
        let left = try fixture.admin.query("SELECT count(*) FROM \(quoteIdentifier(fixture.schema)).meltano_state_locks").scalar
        #expect(left == "0")
    }

    @Test("doctor: D diagnoses a killed run from its heartbeat in Meltano's system database; u releases its lock on one y")
    func doctorKilledRun() throws {
        let fixture = try BrowserFixture()
        let system = try TestDatabase.freshSchema("tuisys", on: fixture.admin)
        defer { TestDatabase.dropSchema(system, on: fixture.admin) }
        try MeltanoSystemDB.createTables(inSchema: system, on: fixture.admin)
        try fixture.insert("prod:tap-x-to-y", completed: #"{"singer_state": {}}"#)
        let lockID = try Self.crashLock("prod:tap-x-to-y", in: fixture)
        // Its run: RUNNING, no heartbeat for 10 minutes (the lock itself is seconds old).
        let run = try MeltanoSystemDB.insertRunningRun("prod:tap-x-to-y", inSchema: system, on: fixture.admin,
                                                       startedMinutesAgo: 30, heartbeatSecondsAgo: 600)
        let config = try TestDatabase.configuration()
        let tmux = try Tmux(fixture: fixture, height: 40, environment: [
            "MELTANO_DATABASE_URI": "postgresql+psycopg://\(config.user!)@\(config.host!):\(config.port!)/\(config.database!)?options=-csearch_path%3D\(system)",
        ])
        defer { tmux.kill() }
        try tmux.waitFor("locks 1, 1 stale")  // stale by heartbeat, though young
        tmux.send("D")
        try tmux.waitFor("doctor: prod:tap-x-to-y")
        try tmux.waitFor("verdict  SAFE TO RELEASE")
        try tmux.waitFor("run      \(run.id) RUNNING")
        try tmux.waitFor("next     meltano-state unlock prod:tap-x-to-y \(lockID)")
        tmux.send("Escape")
        tmux.send("L", "u")
        try tmux.waitFor("judged by heartbeat")
        try tmux.waitFor("[y] release it ")
        tmux.send("y")
        try tmux.waitFor("Released lock \(lockID)")
        #expect(try fixture.admin.query("SELECT count(*) FROM \(quoteIdentifier(fixture.schema)).meltano_state_locks").scalar == "0")
    }

    @Test("System database: a run left RUNNING by a dead pipeline is marked failed; a live one is refused")
    func failStaleRun() throws {
        let fixture = try BrowserFixture(layout: .systemDB)
        try fixture.insert("dev:stuck", completed: #"{"singer_state": {"page": 3}}"#)
        try fixture.insert("dev:alive", completed: #"{"singer_state": {"page": 9}}"#)
        let stuck = try fixture.insertRunningRun("dev:stuck", startedMinutesAgo: 60, heartbeatSecondsAgo: 20 * 60)
        let alive = try fixture.insertRunningRun("dev:alive", startedMinutesAgo: 1, heartbeatSecondsAgo: 2)
        // No --layout: the schema holds Meltano's state and runs, so the browser finds it.
        let tmux = try Tmux(fixture: fixture)
        defer { tmux.kill() }
        try tmux.waitFor("systemdb")
        try tmux.waitFor("Runs 2 running, 1 stale")
        try tmux.waitFor("runs 2, 1 stale")
        try tmux.waitFor("STALE")
        #expect(tmux.capture().contains("!  dev:stuck"))
        tmux.send("L", "u")
        try tmux.waitFor("Mark run \(stuck.id) failed")
        try tmux.waitFor(stuck.runID)
        try tmux.waitFor("last heartbeat")
        try tmux.waitFor("silent for      20 min")
        tmux.send("y")
        try tmux.waitFor("Marked run \(stuck.id) ('dev:stuck') failed")
        try tmux.waitFor("Runs 1 running ·")
        let failed = try fixture.runRow(stuck.id)
        #expect(failed.state == "FAIL")
        #expect(failed.ended)
        #expect(failed.payload == #"{"state": {}, "error": "No heartbeat recorded for 5 minutes. The process was likely killed unceremoniously."}"#)
        let entries = try fixture.journalEntries()
        #expect(entries.map(\.action) == ["fail-run"])
        #expect(entries.first?.stateID == "dev:stuck")
        #expect(entries.first?.run.map { String($0.id) } == stuck.id)
        #expect(entries.first?.run?.state == "RUNNING")

        // The live run is the one left: u says why not, and asks nothing.
        let before = try fixture.runRow(alive.id)
        tmux.send("u")
        try tmux.waitFor("sent a heartbeat")
        try tmux.waitFor("may still be running")
        #expect(!tmux.capture().contains("Mark run \(alive.id) failed"))
        let after = try fixture.runRow(alive.id)
        #expect(after.state == "RUNNING" && !after.ended && after.payload == before.payload)
        #expect(try fixture.journalEntries().count == 1)
        tmux.send("q")
        try tmux.waitFor("EXIT=0")
    }

    /// `y` and `Y` reach the terminal as OSC 52: the raw bytes the browser writes to the
    /// pane (recorded with pipe-pane) hold exactly one `ESC ] 52 ; c ; BASE64 BEL` for each
    /// key, followed (TMUX is set in the pane) by the same wrapped for tmux's passthrough,
    /// and the base64 decodes to the value, or the jq path, exactly. tmux itself, with
    /// set-clipboard on, takes the plain sequence into a paste buffer with that text.
    @Test("y and Y write OSC 52 with the value and the JSON path; tmux's clipboard gets them")
    func copyWritesOSC52() throws {
        let fixture = try BrowserFixture()
        let value = "2024-05-01T00:00:00Z ünï 😀 \"q\" \\ end"
        try fixture.insert("dev:copy-me", completed: #"{"singer_state": {"bm": {"tap-x/o": {"since": "2024-05-01T00:00:00Z ünï 😀 \"q\" \\ end"}}}}"#)
        let path = #".singer_state.bm["tap-x/o"].since"#
        let tmux = try Tmux(fixture: fixture)
        defer { tmux.kill() }
        try tmux.waitFor("1 of 1")
        try tmux.waitFor(#""since": "2024-05-01T00:00:00Z"#)
        let recording = NSTemporaryDirectory() + "meltano-state-e2e-\(UUID().uuidString.prefix(8)).bytes"
        defer { try? FileManager.default.removeItem(atPath: recording) }
        try tmux.recordOutput(to: recording)
        try tmux.setServerOption("set-clipboard", "on")

        // The detail pane, down to the "since" line: {, "singer_state", "bm", "tap-x/o", "since".
        tmux.send("Tab", "j", "j", "j", "j")
        try tmux.waitFor("Enter fold")
        var buffersBefore = tmux.bufferNames()
        tmux.send("y")
        try tmux.waitFor("Copied the value at \(path)")
        try expectOSC52(value, in: recording, after: 0, "y")
        try expectNewTmuxBuffer(tmux, holding: value, besides: buffersBefore, "y")

        let offset = (FileManager.default.contents(atPath: recording) ?? Data()).count
        buffersBefore = tmux.bufferNames()
        tmux.send("Y")
        try tmux.waitFor("Copied path \(path)")
        try expectOSC52(path, in: recording, after: offset, "Y")
        try expectNewTmuxBuffer(tmux, holding: path, besides: buffersBefore, "Y")
        tmux.send("q")
        try tmux.waitFor("EXIT=0")
    }

    /// The bytes recorded past `offset` hold exactly one OSC 52 for `text` as this test
    /// spells it out (plain, then wrapped for tmux), and no other OSC 52; its base64 decodes
    /// to `text`.
    func expectOSC52(_ text: String, in recording: String, after offset: Int, _ key: String,
                     sourceLocation: SourceLocation = #_sourceLocation) throws {
        let esc = "\u{1b}", bel = "\u{07}"
        let plain = esc + "]52;c;" + Data(text.utf8).base64EncodedString() + bel
        let wrapped = esc + "Ptmux;" + esc + esc + "]52;c;" + Data(text.utf8).base64EncodedString() + bel + esc + "\\"
        let expected = Array((plain + wrapped).utf8)
        var bytes: [UInt8] = []
        // The recording reaches the file through tmux and cat: wait for it, with a deadline.
        let arrived = waitUntil(timeout: 10) {
            bytes = Array((FileManager.default.contents(atPath: recording) ?? Data()).dropFirst(offset))
            return occurrences(of: expected, in: bytes) > 0
        }
        let shown = String(decoding: bytes.suffix(400), as: UTF8.self).debugDescription
        #expect(arrived, "\(key): the terminal never received \(String(decoding: expected, as: UTF8.self).debugDescription); the last bytes: \(shown)",
                sourceLocation: sourceLocation)
        guard arrived else { return }
        #expect(occurrences(of: expected, in: bytes) == 1, "\(key): the sequence was written more than once: \(shown)", sourceLocation: sourceLocation)
        // The plain one and the one inside the passthrough wrapper, nothing else.
        #expect(occurrences(of: Array("]52;".utf8), in: bytes) == 2, "\(key): other OSC 52 sequences: \(shown)", sourceLocation: sourceLocation)
        // Decoded from the bytes received, not from what this test built.
        let start = try #require(firstIndex(of: Array((esc + "]52;c;").utf8), in: bytes), sourceLocation: sourceLocation) + 7
        let end = try #require(bytes[start...].firstIndex(of: 0x07), sourceLocation: sourceLocation)
        let decoded = Data(base64Encoded: Data(bytes[start..<end])).map { String(decoding: $0, as: UTF8.self) }
        #expect(decoded == text, "\(key): the base64 decodes to \(decoded.debugDescription), not \(text.debugDescription)",
                sourceLocation: sourceLocation)
    }

    /// tmux (set-clipboard on) made a new paste buffer from the sequence, holding `text`.
    func expectNewTmuxBuffer(_ tmux: Tmux, holding text: String, besides before: Set<String>, _ key: String,
                             sourceLocation: SourceLocation = #_sourceLocation) throws {
        var added: Set<String> = []
        let appeared = waitUntil(timeout: 10) {
            added = tmux.bufferNames().subtracting(before)
            return !added.isEmpty
        }
        #expect(appeared, "\(key): tmux made no paste buffer from the OSC 52", sourceLocation: sourceLocation)
        #expect(added.count <= 1, "\(key): tmux made \(added.count) buffers: \(added)", sourceLocation: sourceLocation)
        guard let name = added.first else { return }
        #expect(tmux.showBuffer(name) == text, "\(key): tmux's buffer holds \(tmux.showBuffer(name).debugDescription)", sourceLocation: sourceLocation)
    }

    @Test("Resize reflows the layout")
    func resize() throws {
        let fixture = try BrowserFixture()
        try fixture.insert("dev:a-rather-long-state-id-for-a-narrow-terminal", completed: #"{"singer_state": {}}"#)
        let tmux = try Tmux(fixture: fixture, width: 160, height: 40)
        defer { tmux.kill() }
        try tmux.waitFor("dev:a-rather-long-state-id-for-a-narrow-terminal")
        tmux.resize(80, 24)
        try tmux.waitFor("   dev:a-rather-long-state…   ")
        let lines = tmux.capture().split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.allSatisfy { $0.count <= 80 })
        tmux.resize(200, 50)
        try tmux.waitFor("dev:a-rather-long-state-id-for-a-narrow-terminal")
    }

    @Test("Keys are answered while the server is stalled")
    func stalledServer() throws {
        let fixture = try BrowserFixture()
        try fixture.insert("dev:a", completed: #"{"singer_state": {}}"#)
        try fixture.insert("dev:b", completed: #"{"singer_state": {"b": 1}}"#)
        let tmux = try Tmux(fixture: fixture)
        defer { tmux.kill() }
        try tmux.waitFor("1 of 2")
        // Another session locks the table: every query of the browser waits.
        let blocker = try TestDatabase.connect()
        try blocker.query("BEGIN")
        try blocker.query("LOCK TABLE \(quoteIdentifier(fixture.schema)).meltano_state IN ACCESS EXCLUSIVE MODE")
        tmux.send("r")
        tmux.send("j")
        try tmux.waitFor("Loading dev:b…", timeout: 3)
        tmux.send("?")
        try tmux.waitFor("Keys", timeout: 2)  // help opens while the queries wait
        tmux.send("Escape")
        tmux.send("Tab")
        try tmux.waitFor("Enter fold", timeout: 2)  // the footer follows the focus
        try blocker.query("COMMIT")
        try tmux.waitFor(#""b": 1"#)
    }
}

@Suite("Terminal set-up in tmux", .serialized)
struct TerminalSetupTests {
    @Test("NO_COLOR: no colour reaches the terminal; marks and attributes still do")
    func noColor() throws {
        let fixture = try BrowserFixture()
        try fixture.insert("dev:a", completed: #"{"singer_state": {}}"#)
        try fixture.lock("dev:a", lockID: "aaaaaaaa-2222-4333-8444-555555555555", minutesAgo: 30)
        let tmux = try Tmux(fixture: fixture, environment: ["NO_COLOR": "1"])
        defer { tmux.kill() }
        try tmux.waitFor("STALE")
        // The list and the locks pane load on their own connections: the mark is there
        // once the list is.
        try tmux.waitFor("!  dev:a")
        let ansi = tmux.capture(escapes: true)
        #expect(ansi.range(of: #"\x1b\[[0-9;]*(3[0-7]|38;|4[0-7]|48;)"#, options: .regularExpression) == nil)
        #expect(ansi.contains("\u{1b}[1m") || ansi.contains(";1m") || ansi.contains("[1;"))  // bold is kept
    }

    @Test("Colour by default")
    func color() throws {
        let fixture = try BrowserFixture()
        try fixture.insert("dev:a", completed: #"{"singer_state": {"n": 1}}"#)
        let tmux = try Tmux(fixture: fixture)
        defer { tmux.kill() }
        try tmux.waitFor(#""n": 1"#)
        #expect(tmux.capture(escapes: true).range(of: #"\x1b\[[0-9;]*3[0-7]m"#, options: .regularExpression) != nil)
    }

    /// Under a TERM that is not the terminal's, keys its terminfo entry lacks arrive as
    /// raw sequences (`vt100` has no PgDn or Home; tmux sends `\e[6~`, `\e[1~`): they are
    /// read as their keys, not as an Esc that clears the filter and `[6~` typed after it.
    @Test("TERM=vt100: PgDn and Home work, never read as Esc")
    func sequencesTheTerminfoLacks() throws {
        let fixture = try BrowserFixture()
        for index in 0..<20 { try fixture.insert("dev:s\(index)", completed: #"{"singer_state": {"n": \#(index)}}"#) }
        let tmux = try Tmux(fixture: fixture, environment: ["TERM": "vt100"])
        defer { tmux.kill() }
        try tmux.waitFor("dev:s19")
        tmux.send("/")
        tmux.type("s1")
        tmux.send("Enter")
        try tmux.waitFor("*s1*")
        try tmux.waitFor(#""n": 1"#)
        try tmux.waitFor("1 of 11")
        tmux.send("NPage")
        try tmux.waitFor("11 of 11")
        try tmux.waitFor(#""n": 19"#)
        #expect(tmux.capture().contains("*s1*"), "the filter stays: \(tmux.capture())")
        tmux.send("Home")
        try tmux.waitFor("1 of 11")
        try tmux.waitFor("│dev:s1 ")
        #expect(!tmux.capture().contains("[6~") && !tmux.capture().contains("Filter:"), "\(tmux.capture())")
    }

    @Test("LC_ALL=C: ASCII stand-ins for box drawing")
    func asciiLocale() throws {
        let fixture = try BrowserFixture()
        try fixture.insert("dev:a", completed: #"{"singer_state": {}}"#)
        let tmux = try Tmux(fixture: fixture, environment: ["LC_ALL": "C", "LANG": "C"])
        defer { tmux.kill() }
        try tmux.waitFor("State IDs")
        try tmux.waitFor("-- Locks")
        #expect(tmux.capture().contains("|"))
        #expect(!tmux.capture().contains("│"))
    }

    @Test("No TERM: a message that says what to do, exit 1, no ncurses error")
    func noTerm() throws {
        let fixture = try BrowserFixture()
        let tmux = try Tmux(fixture: fixture, environment: ["TERM": ""])
        defer { tmux.kill() }
        try tmux.waitFor("EXIT=1")
        let screen = tmux.capture()
        #expect(screen.contains("TERM is not set"))
        #expect(!screen.contains("Error opening terminal"))
    }

    @Test("A 16 MB state opens with peak memory under 3.5 times its size above an empty browser's, and stays so on r")
    func bigStateMemory() throws {
        func firstPaintPeak(_ fixture: BrowserFixture) throws -> Int {
            let tmux = try Tmux(fixture: fixture, width: 120, height: 40, arguments: ["--exit-after-first-paint"])
            defer { tmux.kill() }
            try tmux.waitFor("EXIT=0", timeout: 60)
            let screen = tmux.capture()
            guard let range = screen.range(of: #"peak RSS \d+ MB"#, options: .regularExpression),
                  let megabytes = Int(screen[range].split(separator: " ")[2]) else {
                Issue.record("no peak RSS in: \(screen)")
                return 0
            }
            return megabytes << 20
        }
        let empty = try BrowserFixture()
        try empty.insert("dev:small", completed: #"{"singer_state": {}}"#)
        let base = try firstPaintPeak(empty)
        let fixture = try BrowserFixture()
        let text = BigState.text(streams: 140_000)
        try fixture.insert("dev:big", completed: text)
        let size = text.utf8.count
        let peak = try firstPaintPeak(fixture)
        #expect(base > 0 && peak > base)
        #expect(Double(peak - base) < 3.5 * Double(size), "peak \(peak >> 20) MB, empty \(base >> 20) MB, state \(size >> 20) MB")

        // Browsing: r reads it again without holding the old copy meanwhile.
        let tmux = try Tmux(fixture: fixture, width: 120, height: 40)
        defer { tmux.kill() }
        try tmux.waitFor(#""replication_key_value": "2024-05-01T00:00:00+00:00","#, timeout: 60)
        let shell = try #require(tmux.panePID())
        let children = try runProcess("pgrep", ["-P", String(shell)]).stdout.split(separator: "\n").compactMap { Int32($0) }
        let pid = try #require(children.first)
        func highWater() throws -> Int {
            let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
            let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") })
            return try #require(Int(line.split(separator: " ", omittingEmptySubsequences: true)[1])) * 1024
        }
        tmux.send("r")
        // The old layout goes at once ("Loading…", then "Laying out…"; brief), then the new one.
        let shown = #""replication_key_value": "2024-05-01T00:00:00+00:00","#
        let deadline = Date(timeIntervalSinceNow: 5)
        while tmux.capture().contains(shown), Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        try tmux.waitFor(shown, timeout: 60)
        let afterRefresh = try highWater()
        #expect(Double(afterRefresh - base) < 3.5 * Double(size), "after r: \(afterRefresh >> 20) MB")
    }

    @Test("SIGTERM restores the terminal and exits 143")
    func sigterm() throws {
        let fixture = try BrowserFixture()
        try fixture.insert("dev:a", completed: #"{"singer_state": {}}"#)
        let tmux = try Tmux(fixture: fixture)
        defer { tmux.kill() }
        try tmux.waitFor("1 of 1")
        // The browser is the only child of the pane's shell.
        let shell = try #require(tmux.panePID())
        let children = try runProcess("pgrep", ["-P", String(shell)]).stdout.split(separator: "\n").compactMap { Int32($0) }
        let pid = try #require(children.first)
        #expect(kill(pid, SIGTERM) == 0)
        try tmux.waitFor("EXIT=143")
        #expect(!tmux.capture().contains("State IDs"))
    }
}

/// One tmux session, running the browser, on a tmux server of its own: suites run in
/// parallel, and on a shared server one test killing the last session ends the server
/// while another's `new-session` is connecting to it ("server exited unexpectedly").
final class Tmux {
    let name: String
    let socket: String

    init(fixture: BrowserFixture, width: Int = 100, height: Int = 30, environment: [String: String] = [:],
         arguments extra: [String] = [], connection: [String]? = nil) throws {
        guard let binary = ProcessInfo.processInfo.environment["MELTANO_STATE_BIN"], !binary.isEmpty else {
            throw Missing(description: "MELTANO_STATE_BIN is not set: run the tests through scripts/test, which builds the binary and sets it.")
        }
        name = "e2e-\(UUID().uuidString.prefix(8))"
        socket = "meltano-state-\(name)"
        let configuration = try TestDatabase.configuration()
        // The connection: the test server by flags, unless the test gives it otherwise
        // (a URI in the environment, say).
        let connection = connection ?? ["--host", configuration.host ?? "127.0.0.1", "--port", String(configuration.port ?? 5432),
                                        "--user", configuration.user ?? "postgres", "--database", configuration.database ?? "postgres"]
        var arguments = ["tui"] + connection + ["--schema", fixture.schema] + extra
        arguments = [binary] + arguments
        var env = ["MELTANO_STATE_JOURNAL": fixture.journalPath, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
                   "NO_COLOR": "", "HOME": NSTemporaryDirectory()]
        for (key, value) in environment { env[key] = value }
        // An empty value removes the variable (TERM="" tests a missing TERM).
        let unset = env.filter { $0.value.isEmpty && $0.key != "NO_COLOR" }.keys.sorted().map { "-u \($0)" }.joined(separator: " ")
        let assignments = env.filter { !$0.value.isEmpty || $0.key == "NO_COLOR" }.sorted { $0.key < $1.key }
            .map { "\($0.key)=\(Tmux.shellQuote($0.value))" }.joined(separator: " ")
        let program = "env \(unset) \(assignments) \(arguments.map(Tmux.shellQuote).joined(separator: " "))"
        // The pane's shell catches SIGINT (a caught signal is reset for the programs it
        // starts), so that a Ctrl-C meant for an editor does not end the pane.
        let command = "trap true INT; \(program); echo EXIT=$?; sleep 600"
        let result = try runProcess("tmux", ["-L", socket, "new-session", "-d", "-s", name, "-x", String(width), "-y", String(height),
                                             "sh", "-c", command])
        guard result.status == 0 else { throw Missing(description: "tmux could not start: \(result.stderr)") }
    }

    struct Missing: Error, CustomStringConvertible { var description: String }

    static func shellQuote(_ word: String) -> String { "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'" }

    /// An executable script in a temporary file (an EDITOR for the test).
    static func script(_ text: String) throws -> String {
        let path = NSTemporaryDirectory() + "meltano-state-e2e-\(UUID().uuidString.prefix(8)).sh"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o755)
        return path
    }

    /// Keys by tmux's names ("Enter", "Tab", "Escape", "C-c") or literal text.
    func send(_ keys: String...) {
        _ = try? runProcess("tmux", ["-L", socket, "send-keys", "-t", name] + keys)
    }

    /// `--`: a text that starts with "-" ("-1d") is text, not options.
    func type(_ text: String) {
        _ = try? runProcess("tmux", ["-L", socket, "send-keys", "-t", name, "-l", "--", text])
    }

    /// The screen as text; with `escapes`, with tmux's SGR sequences for colours and
    /// attributes.
    func capture(escapes: Bool = false) -> String {
        (try? runProcess("tmux", ["-L", socket, "capture-pane", "-p"] + (escapes ? ["-e"] : []) + ["-t", name]))?.stdout ?? ""
    }

    func panePID() -> Int32? {
        let output = (try? runProcess("tmux", ["-L", socket, "display-message", "-p", "-t", name, "#{pane_pid}"]))?.stdout ?? ""
        return Int32(output.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    func resize(_ width: Int, _ height: Int) {
        _ = try? runProcess("tmux", ["-L", socket, "resize-window", "-t", name, "-x", String(width), "-y", String(height)])
    }

    /// Waits until the screen shows `text`; fails with the screen when it does not.
    func waitFor(_ text: String, timeout: Double = 10, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let deadline = Date(timeIntervalSinceNow: timeout)
        var screen = ""
        while Date() < deadline {
            screen = capture()
            if screen.contains(text) { return }
            Thread.sleep(forTimeInterval: 0.1)
        }
        Issue.record("Waited \(timeout) s for \"\(text)\"; the screen shows:\n\(screen)", sourceLocation: sourceLocation)
        throw Missing(description: "timed out waiting for \(text)")
    }

    func kill() {
        _ = try? runProcess("tmux", ["-L", socket, "kill-server"])
    }

    /// Appends every byte the program writes to the pane, raw, to `file` (pipe-pane -o).
    func recordOutput(to file: String) throws {
        let result = try runProcess("tmux", ["-L", socket, "pipe-pane", "-o", "-t", name, "cat >> " + Tmux.shellQuote(file)])
        guard result.status == 0 else { throw Missing(description: "tmux pipe-pane failed: \(result.stderr)") }
    }

    /// A server option (`set -s`) of this session's own server.
    func setServerOption(_ option: String, _ value: String) throws {
        let result = try runProcess("tmux", ["-L", socket, "set-option", "-s", option, value])
        guard result.status == 0 else { throw Missing(description: "tmux set-option -s \(option) \(value) failed: \(result.stderr)") }
    }

    /// The names of the server's paste buffers.
    func bufferNames() -> Set<String> {
        let output = (try? runProcess("tmux", ["-L", socket, "list-buffers", "-F", "#{buffer_name}"]))?.stdout ?? ""
        return Set(output.split(separator: "\n").map(String.init))
    }

    func showBuffer(_ name: String) -> String? {
        guard let result = try? runProcess("tmux", ["-L", socket, "show-buffer", "-b", name]), result.status == 0 else { return nil }
        return result.stdout
    }
}

/// How often `needle` occurs in `bytes` (non-overlapping).
func occurrences(of needle: [UInt8], in bytes: [UInt8]) -> Int {
    guard !needle.isEmpty, bytes.count >= needle.count else { return 0 }
    var count = 0, index = 0
    while index + needle.count <= bytes.count {
        if bytes[index..<index + needle.count].elementsEqual(needle) { count += 1; index += needle.count } else { index += 1 }
    }
    return count
}

func firstIndex(of needle: [UInt8], in bytes: [UInt8]) -> Int? {
    guard !needle.isEmpty, bytes.count >= needle.count else { return nil }
    for index in 0...(bytes.count - needle.count) where bytes[index..<index + needle.count].elementsEqual(needle) { return index }
    return nil
}
