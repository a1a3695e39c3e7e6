import Foundation
import Postgres
import StateStore
import TestSupport
import Testing

@testable import StateBrowser

/// A schema of the test server with Meltano's tables, for the browser's runner.
final class BrowserFixture: @unchecked Sendable {
    let admin: Connection
    let schema: String
    let journalPath: String
    let layout: StorageLayout
    /// The server: the shared test server unless a test brings its own.
    let server: ConnectionConfiguration

    /// `layout: .systemDB` makes Meltano's own `state` and `runs` tables instead of the
    /// add-on's (see `MeltanoSystemDB`). `server`: a server of the test's own (one it
    /// restarts or fails over), instead of the shared one.
    init(layout: StorageLayout = .twoTables, server: ConnectionConfiguration? = nil) throws {
        self.server = try server ?? TestDatabase.configuration()
        admin = try Connection(self.server)
        schema = try TestDatabase.freshSchema("tui", on: admin)
        journalPath = NSTemporaryDirectory() + "meltano-state-tui-\(UUID().uuidString)/journal.jsonl"
        self.layout = layout
        if layout == .systemDB {
            try MeltanoSystemDB.createTables(inSchema: schema, on: admin)
        } else {
            try makeStore().createTablesIfMissing()
        }
    }

    deinit {
        TestDatabase.dropSchema(schema, on: admin)
        try? FileManager.default.removeItem(atPath: (journalPath as NSString).deletingLastPathComponent)
    }

    func makeStore(lockTimeout: Double = 5) throws -> StateStore {
        var configuration = server
        configuration.applicationName = "meltano-state-tui-\(schema)"
        return StateStore(connection: try Connection(configuration), options: StoreOptions(
            schema: schema, layout: layout, lockTimeout: lockTimeout, lockRetryInterval: 0.05, journal: Journal(path: journalPath)))
    }

    var makeStoreClosure: @Sendable () throws -> StateStore { { [self] in try self.makeStore() } }

    func insert(_ id: String, completed: String?, partial: String? = nil) throws {
        if layout == .systemDB {
            // Meltano stores an empty part as {}, never NULL.
            try admin.query("INSERT INTO \(quoteIdentifier(schema)).state (state_id, completed_state, partial_state, updated_at) VALUES ($1, $2, $3, now() AT TIME ZONE 'UTC')",
                            [id, completed ?? "{}", partial ?? "{}"])
            return
        }
        try admin.query("INSERT INTO \(quoteIdentifier(schema)).meltano_state (state_id, completed_state, partial_state) VALUES ($1, $2, $3)",
                        [id, completed, partial])
    }

    func insertMany(_ count: Int) throws {
        try admin.query("""
            INSERT INTO \(quoteIdentifier(schema)).meltano_state (state_id, completed_state)
            SELECT format('state-%s', lpad(n::text, 7, '0')), format('{"singer_state": {"n": %s}}', n) FROM generate_series(0, \(count - 1)) n
            """)
    }

    /// The browser's connections (all its workers share one application name).
    func backendPIDs() throws -> Set<String> {
        Set(try admin.query("SELECT pid::text FROM pg_stat_activity WHERE application_name = $1", ["meltano-state-tui-\(schema)"])
            .rows.compactMap { $0[0] })
    }

    /// The browser's backends once there are `count` of them and `done` holds (or the
    /// last seen at the deadline): a worker connects on its first job, and a closed
    /// connection's backend is still listed for a moment after the close.
    func backendPIDs(settledAt count: Int, until done: (Set<String>) -> Bool = { _ in true },
                     timeout: TimeInterval = 10) throws -> Set<String> {
        let deadline = Date(timeIntervalSinceNow: timeout)
        var pids = try backendPIDs()
        while !(pids.count == count && done(pids)), Date() < deadline {
            Thread.sleep(forTimeInterval: 0.05)
            pids = try backendPIDs()
        }
        return pids
    }

    func lock(_ id: String, lockID: String, minutesAgo: Int) throws {
        try admin.query("INSERT INTO \(quoteIdentifier(schema)).meltano_state_locks (state_id, lock_id, locked_at) VALUES ($1, $2, LOCALTIMESTAMP - make_interval(mins => $3::int))",
                        [id, lockID, String(minutesAgo)])
    }

    func program(settings: BrowserSettings = BrowserSettings(location: "test", refreshInterval: 0.3),
                 makeStore: (@Sendable () throws -> StateStore)? = nil) -> BrowserProgram {
        BrowserProgram(settings: settings, size: Size(width: 100, height: 30), makeStore: makeStore ?? makeStoreClosure,
                       host: BrowserHost(openEditor: { .editorFinished($0, text: nil, problem: "no editor") },
                                         copyToClipboard: { _, description in .clipboardWritten(description: description, problem: nil) }))
    }
}

@Suite("The runner against PostgreSQL", .serialized)
struct RunnerTests {
    @Test("Opens: first page, count, selected state laid out, locks")
    func opens() throws {
        let fixture = try BrowserFixture()
        try fixture.insert("dev:a", completed: #"{"singer_state": {"n": 1e+16}}"#)
        try fixture.insert("dev:b", completed: #"{"singer_state": {"x": 1}}"#, partial: #"{"singer_state": {"y": 2}}"#)
        try fixture.insert("dev:broken", completed: #"{"singer_state": "#)
        try fixture.lock("dev:b", lockID: "11111111-2222-4333-8444-555555555555", minutesAgo: 12)
        let program = fixture.program()
        // The count runs on a worker of its own: it may come after the first state.
        #expect(program.run(until: { $0.initialLoadComplete && $0.list.total != nil }, timeout: 10))
        let model = program.model
        #expect(model.list.rows.map(\.stateID) == ["dev:a", "dev:b", "dev:broken"])
        #expect(model.list.total == 3)
        #expect(model.list.rows[2].isInvalidJSON)
        #expect(model.connection == .connected)
        #expect(model.locks.rows.map(\.stateID) == ["dev:b"])
        #expect(model.locks.rows[0].isStale)
        let text = view(model).text
        #expect(text.contains(#""n": 1e+16"#))  // the stored literal, not re-formatted
        #expect(text.contains("!  dev:b"))
        #expect(text.contains(" ? dev:broken"))
        // The merged view of a row with a partial part.
        program.send(.key(.character("j")))
        #expect(program.run(until: { $0.detail.document != nil && $0.detail.stateID == "dev:b" }, timeout: 10))
        #expect(view(program.model).text.contains(#""y": 2"#))
        #expect(view(program.model).text.contains(#""x": 1"#))
    }

    @Test("A million-ID-style list opens with one page: 20,000 IDs, G, g")
    func paging() throws {
        let fixture = try BrowserFixture()
        try fixture.insertMany(20_000)
        let program = fixture.program()
        #expect(program.run(until: { $0.initialLoadComplete && $0.list.total != nil }, timeout: 20))
        #expect(program.model.list.rows.count == 200)
        #expect(view(program.model).text.contains("1 of 20,000"))
        program.send(.key(.character("G")))
        #expect(program.run(until: { $0.list.selectedRow?.stateID == "state-0019999" }, timeout: 20))
        #expect(view(program.model).text.contains("20,000 of 20,000"))
        program.send(.key(.character("g")))
        #expect(program.run(until: { $0.list.selectedRow?.stateID == "state-0000000" }, timeout: 20))
    }

    @Test("G asks the store for the last page (fromEnd): right even for IDs past any sentinel key")
    func lastPage() throws {
        let fixture = try BrowserFixture()
        try fixture.insertMany(30)
        // Sorted after "\u{10FFFD}" x 4, the key the browser used to page back from.
        for id in ["\u{10FFFD}\u{10FFFD}\u{10FFFD}\u{10FFFD}z", "\u{10FFFF}", "\u{10FFFF}\u{10FFFF}"] {
            try fixture.insert(id, completed: #"{"singer_state": {}}"#)
        }
        let store = try fixture.makeStore()
        let all = try store.allStateIDs()
        let request = PageRequest(id: 1, generation: 1, glob: nil, anchor: .last, limit: 10)
        let page = try StoreReads.page(store, request, clock: { testNow })
        #expect(page.rows.map(\.stateID) == Array(all.suffix(10)))
        // Fewer IDs than a page: all of them, in order.
        let filtered = try StoreReads.page(store, PageRequest(id: 2, generation: 1, glob: "state-000000?", anchor: .last, limit: 50),
                                           clock: { testNow })
        #expect(filtered.rows.map(\.stateID) == (0..<10).map { "state-000000\($0)" })
        let program = fixture.program()
        #expect(program.run(until: { $0.initialLoadComplete && $0.list.total != nil }, timeout: 10))
        program.send(.key(.character("G")))
        #expect(program.run(until: { $0.list.selectedRow?.stateID == all.last }, timeout: 10))
        #expect(program.model.list.atEnd)
        #expect(view(program.model).text.contains("33 of 33"))
    }

    @Test("A jump from the locks pane shows the real position (the store's position), with and without a filter")
    func positionAfterJump() throws {
        let fixture = try BrowserFixture()
        try fixture.insertMany(20_000)
        try fixture.lock("state-0012345", lockID: "12345678-2222-4333-8444-555555555555", minutesAgo: 1)
        let program = fixture.program()
        #expect(program.run(until: { $0.initialLoadComplete && $0.list.total != nil && !$0.locks.rows.isEmpty }, timeout: 20))
        program.send(.key(.character("L")))
        program.send(.key(.enter))
        #expect(program.run(until: { $0.list.selectedRow?.stateID == "state-0012345" && $0.list.offset != nil }, timeout: 20))
        #expect(view(program.model).text.contains("12,346 of 20,000"))
        // Under a filter that hides it, the jump drops the filter and still places it.
        program.send(.key(.character("/")))
        for character in "state-00000" { program.send(.key(.character(character))) }
        program.send(.key(.enter))
        #expect(program.run(until: { $0.list.total == 100 && !$0.list.reloading }, timeout: 20))
        program.send(.key(.character("L")))
        program.send(.key(.enter))
        #expect(program.run(until: { $0.list.selectedRow?.stateID == "state-0012345" && $0.list.offset != nil && $0.list.total != nil }, timeout: 20))
        #expect(view(program.model).text.contains("12,346 of 20,000"))
    }

    @Test("States are read raw: a big one laid out once for merged and completed, its connection renewed; partial and invalid rows as before")
    func rawReads() throws {
        let fixture = try BrowserFixture()
        try fixture.insert("a:small", completed: #"{"singer_state": {"n": 1e+16}}"#)
        let big = BigState.text(streams: 80_000)
        try fixture.insert("b:big", completed: big)
        try fixture.insert("c:partial", completed: #"{"singer_state": {"x": 1, "keep": [1, 2]}}"#, partial: #"{"singer_state": {"x": 2.50}}"#)
        try fixture.insert("d:broken", completed: #"{"singer_state": {"a": 1,}}"#)
        let program = fixture.program(settings: BrowserSettings(location: "test", refreshInterval: 0.3, bigStateBytes: 1 << 20))
        #expect(program.run(until: { $0.initialLoadComplete }, timeout: 10))
        #expect(view(program.model).text.contains(#""n": 1e+16"#))
        // The title's age comes from the list row (the raw read has none).
        #expect(view(program.model).line(2).contains("updated "))
        // One connection per worker (reads, counts, locks, writes), each opened as its
        // thread starts: on a busy machine some are still connecting at first paint.
        let before = try fixture.backendPIDs(settledAt: 4)
        #expect(before.count == 4)
        program.send(.key(.character("j")))
        #expect(program.run(until: { $0.detail.stateID == "b:big" && $0.detail.document != nil }, timeout: 30))
        let document = try #require(program.model.detail.document?.json)
        #expect(document.lineCount == 80_000 * 5 + 6)
        #expect(document.text == big)  // read in slices, exactly the stored text
        program.send(.key(.character("2")))
        #expect(program.model.detail.documents[.completed]?.json === document)
        program.send(.key(.character("4")))
        #expect(program.run(until: { $0.detail.document?.raw != nil }, timeout: 30))
        // libpq would keep a buffer as big as the state: the reads connection was renewed.
        let after = try fixture.backendPIDs(settledAt: 4, until: { $0 != before })
        #expect(after.count == 4)
        #expect(after.subtracting(before).count == 1)
        // A partial state: merged as Meltano merges (parsed with StateJSON).
        program.send(.key(.character("1")))
        program.send(.key(.character("j")))
        #expect(program.run(until: { $0.detail.stateID == "c:partial" && $0.detail.document != nil }, timeout: 10))
        var text = view(program.model).text
        #expect(text.contains(#""x": 2.50"#))
        #expect(text.contains(#""keep": ["#))
        // Not JSON: no merged view, the problem named, the raw text marked.
        program.send(.key(.character("j")))
        #expect(program.run(until: { $0.detail.stateID == "d:broken" && $0.detail.document != nil }, timeout: 10))
        text = view(program.model).text
        #expect(text.contains("No merged view: The stored completed state of 'd:broken'"))
        #expect(text.contains("is not valid JSON (Expecting property name enclosed in"))
        #expect(text.contains("column 26 (byte 25)"))
    }

    /// A row Meltano cannot read opens as the raw text of the part at fault; the write
    /// replaces both parts, so the other one is shown in the comments before it goes.
    @Test("Edit of an unreadable row: the part not opened is named, as stored, since it is replaced too")
    func editUnreadableNamesTheOtherPart() throws {
        let fixture = try BrowserFixture()
        try fixture.insert("u:list", completed: #"{"a": [1]}"#, partial: #"{"a": {"b": 1}}"#)
        try fixture.insert("u:bad", completed: "nope", partial: #"{"singer_state": {"x": 2}}"#)
        let store = try fixture.makeStore()
        defer { store.close() }
        let list = try StoreReads.editSession(store, "u:list")
        #expect(list.unreadable && list.original == #"{"a": {"b": 1}}"#)
        #expect(list.text.contains("The stored completed part is replaced too (the journal keeps it); as stored:") && list.text.contains(#"// {"a": [1]}"#),
                "\(list.text)")
        let bad = try StoreReads.editSession(store, "u:bad")
        #expect(bad.original == "nope" && bad.text.contains("The stored partial part is replaced too") && bad.text.contains(#"{"singer_state": {"x": 2}}"#),
                "\(bad.text)")
        // The comments are not part of what is written.
        #expect(Model.stripComments(list.text) == list.original + (list.text.hasSuffix("\n") ? "\n" : ""))
    }

    @Test("Filter on the server")
    func filter() throws {
        let fixture = try BrowserFixture()
        try fixture.insertMany(500)
        try fixture.insert("prod:tap_x%y", completed: #"{"singer_state": {}}"#)
        let program = fixture.program()
        #expect(program.run(until: { $0.initialLoadComplete }, timeout: 10))
        program.send(.key(.character("/")))
        for character in "x%y" { program.send(.key(.character(character))) }
        program.send(.key(.enter))
        #expect(program.run(until: { $0.list.total == 1 && $0.list.rows.count == 1 }, timeout: 10))
        #expect(program.model.list.rows.first?.stateID == "prod:tap_x%y")
    }

    @Test("Keys are answered while a write waits for a lock; Esc cancels the wait")
    func neverBlocks() throws {
        let fixture = try BrowserFixture()
        try fixture.insert("dev:held", completed: #"{"singer_state": {}}"#)
        try fixture.insert("dev:other", completed: #"{"singer_state": {"o": 1}}"#)
        try fixture.lock("dev:held", lockID: "99999999-2222-4333-8444-555555555555", minutesAgo: 0)
        let program = fixture.program()
        #expect(program.run(until: { $0.initialLoadComplete }, timeout: 10))
        program.send(.key(.character("d")))
        program.send(.key(.character("y")))
        #expect(program.model.writing != nil)
        // While the write waits (up to 5 s) for the lock, the list and the locks keep working.
        let started = Date()
        program.send(.key(.character("j")))
        #expect(program.run(until: { $0.detail.stateID == "dev:other" && $0.detail.document != nil }, timeout: 3))
        #expect(Date().timeIntervalSince(started) < 3)
        #expect(program.model.writing != nil)
        // q does not give the write up unseen: it says so first, again after another key.
        program.send(.key(.character("q")))
        #expect(!program.model.quitting && program.model.status?.text.contains("Clearing 'dev:held' is still in progress: Esc cancels it; q again quits") == true,
                "\(String(describing: program.model.status))")
        program.send(.key(.character("k")))
        program.send(.key(.character("q")))
        #expect(!program.model.quitting)
        program.send(.key(.escape))
        #expect(program.run(until: { $0.writing == nil }, timeout: 3))
        #expect(program.model.status?.text.contains("Cancelled") == true)
        let count = try fixture.admin.query("SELECT count(*) FROM \(quoteIdentifier(fixture.schema)).meltano_state").scalar
        #expect(count == "2")
    }

    @Test("Release a stale lock: exactly that lock row goes")
    func release() throws {
        let fixture = try BrowserFixture()
        try fixture.insert("dev:stuck", completed: #"{"singer_state": {}}"#)
        try fixture.lock("dev:stuck", lockID: "aaaaaaaa-2222-4333-8444-555555555555", minutesAgo: 45)
        let program = fixture.program()
        #expect(program.run(until: { $0.initialLoadComplete }, timeout: 10))
        program.send(.key(.character("u")))
        guard case .confirm = program.model.mode else { Issue.record("no confirmation"); return }
        program.send(.key(.character("y")))
        #expect(program.run(until: { $0.writing == nil && $0.locks.rows.isEmpty }, timeout: 10))
        #expect(program.model.status?.text.contains("Released lock aaaaaaaa") == true)
        let locks = try fixture.admin.query("SELECT count(*) FROM \(quoteIdentifier(fixture.schema)).meltano_state_locks").scalar
        #expect(locks == "0")
    }

    @Test("A clear says to press H next, and H then shows the cleared ID's journal, though the selection moved on")
    func historyAfterClear() throws {
        let fixture = try BrowserFixture()
        try fixture.insert("dev:a", completed: #"{"singer_state": {"a": 1}}"#)
        try fixture.insert("dev:b", completed: #"{"singer_state": {"b": 2}}"#)
        let program = fixture.program()
        #expect(program.run(until: { $0.initialLoadComplete }, timeout: 10))
        program.send(.key(.character("d")))
        program.send(.key(.character("y")))
        #expect(program.run(until: { $0.writing == nil && $0.list.selectedRow?.stateID == "dev:b" }, timeout: 10))
        #expect(program.model.status?.text == "Cleared 'dev:a' (saved to the journal first; press H next to restore it).")
        // What another database recorded for the same ID (one journal serves every
        // context and server) is not listed: it is never restored here.
        let journal = Journal(path: fixture.journalPath)
        var foreign = try #require(try journal.history(stateID: "dev:a").first)
        foreign.id = "20261201T000000Z-f0e1a1"
        foreign.action = "set"
        foreign.server = "7000000000000000001/staging"
        foreign.database = "postgres@staging.example.com:5432/staging"
        try journal.append([foreign])
        #expect(try journal.history(stateID: "dev:a").count == 2)
        program.send(.key(.character("H")))
        #expect(program.run(until: { if case let .history(history) = $0.mode { history.rows != nil } else { false } }, timeout: 10))
        guard case let .history(history) = program.model.mode else { Issue.record("no history"); return }
        #expect(history.stateID == "dev:a")
        #expect(history.rows?.map(\.action) == ["clear"])
        program.stop()
    }

    @Test("A refused connection reads on one line in the header: libpq's line break and tab become a space")
    func refusedOnOneLine() throws {
        let fixture = try BrowserFixture()
        let program = fixture.program(makeStore: { [fixture] in
            var configuration = try TestDatabase.configuration()
            // Nothing listens on port 1 (a port below 1024 takes root to open).
            configuration.host = "127.0.0.1"
            configuration.port = 1
            configuration.connectTimeout = 2
            return StateStore(connection: try Connection(configuration), options: StoreOptions(
                schema: fixture.schema, lockTimeout: 2, journal: Journal(path: fixture.journalPath)))
        })
        #expect(program.run(until: { if case .disconnected = $0.connection { true } else { false } }, timeout: 10))
        guard case let .disconnected(reason, _) = program.model.connection else { Issue.record("not disconnected"); return }
        #expect(reason.contains("Connection refused Is the server running"), "\(reason)")
        #expect(!reason.contains("\n") && !reason.contains("\t"))
        program.stop()
    }

    @Test("Edit through the host's editor, confirm the diff, written with set")
    func edit() throws {
        let fixture = try BrowserFixture()
        try fixture.insert("dev:e", completed: #"{"singer_state": {"since": "2023-01-01"}}"#)
        let program = fixture.program()
        program.host.openEditor = { session in
            .editorFinished(session, text: session.text.replacingOccurrences(of: "2023-01-01", with: "2024-02-02"), problem: nil)
        }
        #expect(program.run(until: { $0.initialLoadComplete }, timeout: 10))
        program.send(.key(.character("e")))
        #expect(program.run(until: { if case .diff = $0.mode { return true } else { return false } }, timeout: 10))
        program.send(.key(.character("y")))
        #expect(program.run(until: { $0.writing == nil && $0.status?.text.contains("Wrote") == true }, timeout: 10))
        let row = try fixture.admin.query("SELECT completed_state, partial_state FROM \(quoteIdentifier(fixture.schema)).meltano_state WHERE state_id = 'dev:e'").rows.first
        #expect(row?[0] == #"{"singer_state": {"since": "2024-02-02"}}"#)
        #expect(row?[1] == nil)
    }

    @Test("Edit: a state written while the editor was open is not overwritten (checked under the lock); saving again writes")
    func editConflict() throws {
        let fixture = try BrowserFixture()
        let table = "\(quoteIdentifier(fixture.schema)).meltano_state"
        try fixture.insert("dev:e", completed: #"{"singer_state": {"since": "2023-01-01"}}"#)
        let program = fixture.program()
        let opened = Counter()
        program.host.openEditor = { session in
            opened.increment()
            if opened.value == 1 {
                // A pipeline writes the state while the editor is open.
                _ = try? fixture.admin.query("UPDATE \(table) SET completed_state = $1 WHERE state_id = 'dev:e'",
                                             [#"{"singer_state": {"since": "2023-06-06"}}"#])
            }
            let edited = session.text.replacingOccurrences(of: "2023-01-01", with: "2024-02-02")
                .replacingOccurrences(of: "2023-06-06", with: "2024-02-02")
            return .editorFinished(session, text: edited, problem: nil)
        }
        #expect(program.run(until: { $0.initialLoadComplete }, timeout: 10))
        program.send(.key(.character("e")))
        #expect(program.run(until: { if case .diff = $0.mode { return true } else { return false } }, timeout: 10))
        program.send(.key(.character("y")))
        // Refused: back to the editor (opened a second time) with the new value as its base.
        #expect(program.run(until: { _ in opened.value == 2 }, timeout: 10))
        #expect(program.run(until: { if case .diff = $0.mode { return true } else { return false } }, timeout: 10))
        var stored = try fixture.admin.query("SELECT completed_state FROM \(table) WHERE state_id = 'dev:e'").scalar
        #expect(stored == #"{"singer_state": {"since": "2023-06-06"}}"#)
        guard case let .diff(diff) = program.model.mode else { return }
        #expect(diff.session.original.contains("2023-06-06"))
        program.send(.key(.character("y")))
        #expect(program.run(until: { $0.writing == nil && $0.status?.text.contains("Wrote") == true }, timeout: 10))
        stored = try fixture.admin.query("SELECT completed_state FROM \(table) WHERE state_id = 'dev:e'").scalar
        #expect(stored == #"{"singer_state": {"since": "2024-02-02"}}"#)
    }

    @Test("Edit: the same state in another form (key order, 1.0, spacing) writes nothing; a row that was not JSON is repaired")
    func editAsMeltanoCompares() throws {
        let fixture = try BrowserFixture()
        let table = "\(quoteIdentifier(fixture.schema)).meltano_state"
        try fixture.insert("dev:a", completed: #"{"singer_state": {"b": 1, "a": [1, 2]}}"#)
        try fixture.insert("dev:b", completed: #"{"singer_state": {"x": 1,}}"#)
        let program = fixture.program()
        program.host.openEditor = { session in
            if session.stateID == "dev:a" { return .editorFinished(session, text: #"{"singer_state":{"a":[1.0,2],"b":1}}"#, problem: nil) }
            #expect(session.unreadable)
            #expect(session.original == #"{"singer_state": {"x": 1,}}"#)
            return .editorFinished(session, text: #"{"singer_state": {"x": 1}}"#, problem: nil)
        }
        #expect(program.run(until: { $0.initialLoadComplete }, timeout: 10))
        program.send(.key(.character("e")))
        #expect(program.run(until: { $0.status?.text.contains("No changes") == true }, timeout: 10))
        #expect(try fixture.admin.query("SELECT completed_state FROM \(table) WHERE state_id = 'dev:a'").scalar
                == #"{"singer_state": {"b": 1, "a": [1, 2]}}"#)
        #expect(!FileManager.default.fileExists(atPath: fixture.journalPath))
        program.send(.key(.character("j")))
        #expect(program.run(until: { $0.detail.stateID == "dev:b" && $0.detail.document != nil }, timeout: 10))
        program.send(.key(.character("e")))
        #expect(program.run(until: { if case .diff = $0.mode { return true } else { return false } }, timeout: 10))
        program.send(.key(.character("y")))
        #expect(program.run(until: { $0.writing == nil && $0.status?.text.contains("Wrote") == true }, timeout: 10))
        #expect(try fixture.admin.query("SELECT completed_state FROM \(table) WHERE state_id = 'dev:b'").scalar == #"{"singer_state": {"x": 1}}"#)
    }

    /// The check must be made under the lock: a pipeline that holds the lock may repair
    /// the row before it lets go, and the edit, which waited, must not overwrite that.
    @Test("Edit of a row that was not JSON: repaired while the write waited for the lock, so not overwritten")
    func editUnreadableRepairedUnderTheLock() throws {
        let fixture = try BrowserFixture()
        let table = "\(quoteIdentifier(fixture.schema)).meltano_state"
        try fixture.insert("dev:b", completed: #"{"singer_state": {"x": 1,}}"#)
        let store = try fixture.makeStore(lockTimeout: 20)
        let session = try StoreReads.editSession(store, "dev:b")
        #expect(session.unreadable)
        try fixture.lock("dev:b", lockID: "pipeline-holds-it", minutesAgo: 0)
        let finished = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var outcome: WriteOutcome?
        Thread.detachNewThread {
            outcome = StoreWrites.perform(.set(stateID: "dev:b", text: #"{"singer_state": {"x": 1}}"#, original: session.original,
                                               unreadable: true), store)
            finished.signal()
        }
        // The write is trying for the lock: its connection's last statement inserts into the locks table.
        let waiting = try waitUntil(timeout: 10) {
            try fixture.admin.query("SELECT query FROM pg_stat_activity WHERE application_name = $1",
                                    ["meltano-state-tui-\(fixture.schema)"]).rows.contains { ($0[0] ?? "").contains("INSERT INTO") && ($0[0] ?? "").contains("meltano_state_locks") }
        }
        #expect(waiting, "the write never tried for the lock")
        // The pipeline repairs the row, then lets go of its lock.
        try fixture.admin.query("UPDATE \(table) SET completed_state = $1 WHERE state_id = 'dev:b'", [#"{"singer_state": {"x": 7}}"#])
        try fixture.admin.query("DELETE FROM \(quoteIdentifier(fixture.schema)).meltano_state_locks WHERE lock_id = 'pipeline-holds-it'")
        #expect(finished.wait(timeout: .now() + 30) == .success, "the write did not finish")
        guard case let .conflict(current)? = outcome else { Issue.record("written over: \(String(describing: outcome))"); return }
        #expect(current.original.contains(#""x": 7"#))
        #expect(try fixture.admin.query("SELECT completed_state FROM \(table) WHERE state_id = 'dev:b'").scalar == #"{"singer_state": {"x": 7}}"#)
        #expect(try fixture.admin.query("SELECT count(*) FROM \(quoteIdentifier(fixture.schema)).meltano_state_locks").scalar == "0")
    }

    @Test("Edit of a row that was not JSON: repaired by someone else meanwhile, so not overwritten")
    func editUnreadableConflict() throws {
        let fixture = try BrowserFixture()
        let table = "\(quoteIdentifier(fixture.schema)).meltano_state"
        try fixture.insert("dev:b", completed: #"{"singer_state": {"x": 1,}}"#)
        let store = try fixture.makeStore()
        let session = try StoreReads.editSession(store, "dev:b")
        #expect(session.unreadable)
        try fixture.admin.query("UPDATE \(table) SET completed_state = $1 WHERE state_id = 'dev:b'", [#"{"singer_state": {"x": 7}}"#])
        let outcome = StoreWrites.perform(.set(stateID: "dev:b", text: #"{"singer_state": {"x": 1}}"#, original: session.original,
                                               unreadable: true), store)
        guard case let .conflict(current) = outcome else { Issue.record("written over: \(outcome)"); return }
        #expect(!current.unreadable)
        #expect(current.original.contains(#""x": 7"#))
        #expect(try fixture.admin.query("SELECT completed_state FROM \(table) WHERE state_id = 'dev:b'").scalar == #"{"singer_state": {"x": 7}}"#)
        // And a readable state cleared meanwhile: not recreated behind the back of whoever cleared it.
        try fixture.insert("dev:c", completed: #"{"singer_state": {"y": 1}}"#)
        let readable = try StoreReads.editSession(store, "dev:c")
        try fixture.admin.query("DELETE FROM \(table) WHERE state_id = 'dev:c'")
        let cleared = StoreWrites.perform(.set(stateID: "dev:c", text: #"{"singer_state": {"y": 2}}"#, original: readable.original), store)
        guard case let .conflict(now) = cleared else { Issue.record("written over: \(cleared)"); return }
        #expect(now.original == "{}\n")
        #expect(try fixture.admin.query("SELECT count(*) FROM \(table) WHERE state_id = 'dev:c'").scalar == "0")
    }

    @Test("A bookmark edit of a state a pipeline wrote meanwhile is not written; otherwise it is, journaled as its verb")
    func bookmarkEditConflict() throws {
        let fixture = try BrowserFixture()
        let table = "\(quoteIdentifier(fixture.schema)).meltano_state"
        let read = #"{"singer_state": {"bookmarks": {"s": {"replication_key_value": 10}}}}"#
        try fixture.insert("dev:b", completed: read)
        let store = try fixture.makeStore()
        // A pipeline writes newer progress after the view read the state.
        let newer = #"{"singer_state": {"bookmarks": {"s": {"replication_key_value": 12}}}}"#
        try fixture.admin.query("UPDATE \(table) SET completed_state = $1 WHERE state_id = 'dev:b'", [newer])
        let rewound = #"{"singer_state": {"bookmarks": {"s": {"replication_key_value": 5}}}}"#
        let action = WriteAction.bookmark(stateID: "dev:b", verb: "rewind", original: read, text: rewound, note: "s: replication_key_value 10 → 5")
        guard case let .failed(text) = StoreWrites.perform(action, store) else { Issue.record("written over the pipeline's value"); return }
        #expect(text.contains("changed after the Bookmarks view read it"), "\(text)")
        #expect(try fixture.admin.query("SELECT completed_state FROM \(table) WHERE state_id = 'dev:b'").scalar == newer)
        #expect(try fixture.journalEntries().isEmpty)
        // Against the current value it is written, and journaled as `rewind` with its note.
        let again = WriteAction.bookmark(stateID: "dev:b", verb: "rewind", original: newer, text: rewound, note: "s: replication_key_value 12 → 5")
        guard case let .done(done) = StoreWrites.perform(again, store) else { Issue.record("not written"); return }
        #expect(done == "Rewound 'dev:b' (journaled; H restores it): s: replication_key_value 12 → 5.")
        #expect(try fixture.admin.query("SELECT completed_state FROM \(table) WHERE state_id = 'dev:b'").scalar == rewound)
        let entries = try fixture.journalEntries()
        #expect(entries.map(\.action) == ["rewind"] && entries.first?.before?.completedState == newer && entries.first?.note == "s: replication_key_value 12 → 5")
    }

    @Test("The workers say which server they are on, as check names it; the header shows it")
    func namesTheServer() throws {
        let fixture = try BrowserFixture()
        try fixture.insert("dev:a", completed: #"{"singer_state": {}}"#)
        let program = fixture.program()
        #expect(program.run(until: { $0.initialLoadComplete && $0.server != nil }, timeout: 10))
        let address = "\(fixture.server.host ?? "?"):\(fixture.server.port ?? 0)"
        #expect(program.model.server == ConnectedServer(address: address, inRecovery: false))
        #expect(view(program.model).text.contains("● connected to \(address) (primary)"))
        // The first server is shown, not announced.
        #expect(program.model.status == nil)
        program.stop()
    }

    @Test("A lost connection shows in the header, the data stays, and it reconnects")
    func reconnects() throws {
        let fixture = try BrowserFixture()
        try fixture.insert("dev:a", completed: #"{"singer_state": {}}"#)
        // A role of its own, so the test can refuse its logins like a server that is down.
        let role = "tui_\(UUID().uuidString.prefix(8).lowercased())"
        try fixture.admin.query("CREATE ROLE \(role) LOGIN SUPERUSER")
        defer { _ = try? fixture.admin.query("DROP ROLE IF EXISTS \(role)") }
        let program = fixture.program(makeStore: { [fixture] in
            var configuration = try TestDatabase.configuration()
            configuration.user = role
            configuration.connectTimeout = 2
            return StateStore(connection: try Connection(configuration), options: StoreOptions(
                schema: fixture.schema, lockTimeout: 2, journal: Journal(path: fixture.journalPath)))
        })
        #expect(program.run(until: { $0.initialLoadComplete }, timeout: 10))
        // Refuse new sessions, end the browser's: as a server restart looks.
        try fixture.admin.query("ALTER ROLE \(role) NOLOGIN")
        _ = try fixture.admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", [role])
        program.send(.key(.character("r")))
        #expect(program.run(until: { if case .disconnected = $0.connection { return true } else { return false } }, timeout: 10))
        let text = view(program.model).text
        #expect(text.contains("DISCONNECTED"))
        #expect(text.contains("dev:a"))
        program.send(.key(.tab))  // keys still work
        #expect(program.model.focus == .detail)
        try fixture.admin.query("ALTER ROLE \(role) LOGIN")
        #expect(program.run(until: { $0.connection == .connected }, timeout: 15))
        #expect(view(program.model).text.contains("● connected"))
        program.stop()
        Thread.sleep(forTimeInterval: 0.2)
        _ = try fixture.admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", [role])
    }
}

final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
    func set() { lock.lock(); value = true; lock.unlock() }
    func clear() { lock.lock(); value = false; lock.unlock() }
}

final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    var value: Int { lock.lock(); defer { lock.unlock() }; return count }
    func increment() { lock.lock(); count += 1; lock.unlock() }
}
