import Foundation
import Postgres
import StateJSON
import StateStore
import Testing
import TestSupport

/// Read-only mode, however it is turned on (the flag, MELTANO_STATE_READ_ONLY, read_only
/// in the config file), refuses every write verb of the real CLI: a non-zero exit, a
/// message that says read-only mode is why, and not one row, table or journal byte
/// changed. Each case then runs the same command without read-only mode and sees it
/// change something: the refusal, not a broken set-up, is what kept things as they were.
@Suite("Read-only mode refuses every write verb")
struct ReadOnlyTests {
    /// A write verb, with the state it needs.
    struct Case: Sendable, CustomStringConvertible {
        let name: String
        /// Meltano's system database (tables state and runs) instead of the add-on's.
        var systemDB = false
        /// Whether the add-on's tables exist before the verb runs (not for `init`).
        var tables = true
        let arguments: @Sendable (CLIFixture) throws -> [String]
        var stdin: String? = nil
        /// Runs an editor that changes the state and leaves a mark that it ran.
        var editor = false
        var prepare: @Sendable (CLIFixture) throws -> Void = { _ in }

        var description: String { name }
    }

    static let cases: [Case] = [
        Case(name: "set", arguments: { _ in ["set", "--force", "a", #"{"singer_state": {"v": "new"}}"#] }, prepare: CLIWriteVerb.setTwo),
        Case(name: "merge", arguments: { _ in ["merge", "a", #"{"singer_state": {"w": 1}}"#] }, prepare: CLIWriteVerb.setTwo),
        Case(name: "copy", arguments: { _ in ["copy", "--force", "a", "c"] }, prepare: CLIWriteVerb.setTwo),
        Case(name: "move", arguments: { _ in ["move", "--force", "a", "c"] }, prepare: CLIWriteVerb.setTwo),
        Case(name: "edit", arguments: { _ in ["edit", "--yes", "a"] }, editor: true, prepare: CLIWriteVerb.setTwo),
        Case(name: "rewind", arguments: { _ in ["rewind", "a", "s", "--by", "5", "--yes"] }, prepare: CLIWriteVerb.setBookmarks),
        Case(name: "reset-stream", arguments: { _ in ["reset-stream", "a", "t", "--yes"] }, prepare: CLIWriteVerb.setBookmarks),
        Case(name: "clear", arguments: { _ in ["clear", "--force", "a"] }, prepare: CLIWriteVerb.setTwo),
        Case(name: "clear --all", arguments: { _ in ["clear", "--all", "--force"] }, prepare: CLIWriteVerb.setTwo),
        Case(name: "import", arguments: { _ in ["import", "-"] },
             stdin: #"{"a": {"completed": {"singer_state": {"v": "imported"}}, "partial": {}}, "c": {"completed": {}, "partial": {"singer_state": {}}}}"#,
             prepare: CLIWriteVerb.setTwo),
        Case(name: "unlock", arguments: { _ in ["unlock", "--yes", "a", "dead-holder"] }, prepare: { fixture in
            try CLIWriteVerb.setTwo(fixture)
            try fixture.admin.query("INSERT INTO \(fixture.locksTable) (state_id, lock_id) VALUES ('a', 'dead-holder')")
        }),
        Case(name: "unlock --stale", arguments: { _ in ["unlock", "--stale", "--yes"] }, prepare: { fixture in
            try CLIWriteVerb.setTwo(fixture)
            try fixture.admin.query("""
                INSERT INTO \(fixture.locksTable) (state_id, lock_id, locked_at)
                VALUES ('a', 'stale-a', LOCALTIMESTAMP - interval '1 hour'), ('b', 'fresh-b', LOCALTIMESTAMP)
                """)
        }),
        Case(name: "restore", arguments: { fixture in
            return ["restore", "--yes", try fixture.newestJournalEntryID(of: "a")]
        }, prepare: { fixture in
            try CLIWriteVerb.setTwo(fixture)
            let second = try fixture.run(["set", "--force", "a", #"{"singer_state": {"v": "second"}}"#])
            guard second.status == 0 else { throw StoreError.other("prepare: \(second.stderr)") }
        }),
        Case(name: "fail-run", systemDB: true, arguments: { fixture in
            let id = try fixture.admin.query("SELECT id::text FROM \(quoteIdentifier(fixture.schema)).runs WHERE job_name = 'dev:stuck'").scalar
            return ["fail-run", "--yes", try #require(id)]
        }, prepare: { fixture in
            try MeltanoSystemDB.insertRunningRun("dev:stuck", inSchema: fixture.schema, on: fixture.admin,
                                                 startedMinutesAgo: 60, heartbeatSecondsAgo: 20 * 60)
        }),
        Case(name: "init", tables: false, arguments: { _ in ["init"] }),
        // The add-on upgrade in one schema: would create the single table and copy into it.
        Case(name: "sync --apply", arguments: { _ in ["sync", "--layout-to", "single-table", "--apply"] }, prepare: CLIWriteVerb.setTwo),
    ]

    /// How read-only mode is turned on: arguments before the verb's, environment.
    enum Way: String, CaseIterable, Sendable {
        case flag = "--read-only"
        case environment = "MELTANO_STATE_READ_ONLY=true"
        case configFile = "read_only: true in the config file"

        func apply(_ fixture: CLIFixture) throws -> (arguments: [String], environment: [String: String]) {
            switch self {
            case .flag:
                return (["--read-only"], [:])
            case .environment:
                return ([], ["MELTANO_STATE_READ_ONLY": "true"])
            case .configFile:
                let path = fixture.directory + "/read-only-config.yml"
                try "read_only: true\n".write(toFile: path, atomically: true, encoding: .utf8)
                return ([], ["MELTANO_STATE_CONFIG": path])
            }
        }
    }

    /// Every table of the fixture's schema, each row as text (sorted), and the journal's
    /// bytes: what a refused write must leave exactly as it was.
    struct Snapshot: Equatable, CustomStringConvertible {
        var tables: [String: [String]]
        var journal: Data?

        init(_ fixture: CLIFixture) throws {
            tables = [:]
            let names = try fixture.admin.query("SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1",
                                                [fixture.schema]).rows.compactMap { $0[0] }
            for name in names {
                let table = quoteIdentifier(fixture.schema) + "." + quoteIdentifier(name)
                tables[name] = try fixture.admin.query("SELECT t::text FROM \(table) t ORDER BY 1").rows.map { $0[0] ?? "NULL" }
            }
            journal = FileManager.default.contents(atPath: fixture.journalPath)
        }

        var description: String {
            let rows = tables.keys.sorted().map { "\($0): \(tables[$0]!)" }.joined(separator: "; ")
            return "\(rows); journal: \(journal.map { "\($0.count) bytes" } ?? "none")"
        }
    }

    static func fixture(for verb: Case) throws -> CLIFixture {
        let fixture = try CLIFixture(schemaPrefix: "ro")
        if verb.systemDB {
            try MeltanoSystemDB.createTables(inSchema: fixture.schema, on: fixture.admin)
            let config = try TestDatabase.configuration()
            fixture.environment["MELTANO_STATE_BACKEND_URI"] = "systemdb"
            fixture.environment["MELTANO_DATABASE_URI"] =
                "postgresql://\(config.user!)@\(config.host!):\(config.port!)/\(config.database!)?options=-csearch_path%3D\(fixture.schema)"
        } else if verb.tables {
            let created = try fixture.run(["init"])
            guard created.status == 0 else { throw StoreError.other("init: \(created.stderr)") }
        }
        try verb.prepare(fixture)
        return fixture
    }

    @Test(arguments: cases, Way.allCases)
    func refusesAndChangesNothing(_ verb: Case, _ way: Way) throws {
        let fixture = try Self.fixture(for: verb)
        let arguments = try verb.arguments(fixture)
        let marker = fixture.directory + "/editor-ran"
        var editorEnvironment: [String: String] = [:]
        if verb.editor {
            let path = fixture.directory + "/editor.sh"
            try "#!/bin/sh\ntouch \(marker)\nprintf '{\"singer_state\": {\"v\": \"edited\"}}' > \"$1\"\n"
                .write(toFile: path, atomically: true, encoding: .utf8)
            chmod(path, 0o755)
            editorEnvironment = ["EDITOR": path]
        }
        let before = try Snapshot(fixture)
        let (extraArguments, environment) = try way.apply(fixture)

        let refused = try fixture.run(extraArguments + arguments, stdin: verb.stdin,
                                      extraEnvironment: environment.merging(editorEnvironment) { $1 })
        #expect(refused.status == 1, "\(verb) with \(way.rawValue): exit \(refused.status), stderr: \(refused.stderr)")
        #expect(refused.stderr.contains("Refusing to ") && refused.stderr.contains("read-only mode is on (read_only = true, from "),
                "\(verb) with \(way.rawValue) says read-only mode is why, and where it was turned on: \(refused.stderr)")
        #expect(refused.stderr.contains("to write, "), "\(verb) with \(way.rawValue) says how to write: \(refused.stderr)")
        #expect(refused.stdout.isEmpty, "\(verb) with \(way.rawValue) printed: \(refused.stdout)")
        let after = try Snapshot(fixture)
        #expect(after == before, "\(verb) with \(way.rawValue) changed something:\n before \(before)\n after  \(after)")
        if verb.editor {
            #expect(!FileManager.default.fileExists(atPath: marker), "edit with \(way.rawValue) opened the editor")
        }

        // The same command without read-only mode does change something.
        let allowed = try fixture.run(arguments, stdin: verb.stdin, extraEnvironment: editorEnvironment)
        #expect(allowed.status == 0, "\(verb) without read-only mode: exit \(allowed.status), stderr: \(allowed.stderr)")
        #expect(try Snapshot(fixture) != before, "\(verb) without read-only mode changed nothing: the case does not test the refusal")
    }

    /// With the journal in its default place (under $HOME), a refused write does not
    /// create it, nor its directories. (Not restore: its entry is in the fixture's journal,
    /// and another journal has no such entry, exit 4.)
    @Test(arguments: cases.filter { $0.name != "restore" })
    func refusesWithoutCreatingTheDefaultJournal(_ verb: Case) throws {
        let fixture = try Self.fixture(for: verb)
        let arguments = try verb.arguments(fixture)
        fixture.environment["MELTANO_STATE_JOURNAL"] = nil
        let state = fixture.directory + "/home/.local/state"
        #expect(!FileManager.default.fileExists(atPath: state))
        let before = try Snapshot(fixture)
        let refused = try fixture.run(["--read-only"] + arguments, stdin: verb.stdin, extraEnvironment: ["EDITOR": "false"])
        #expect(refused.status == 1, "\(verb): exit \(refused.status), stderr: \(refused.stderr)")
        #expect(refused.stderr.contains("read-only mode is on"), "\(verb): \(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: state), "\(verb) in read-only mode created \(state)")
        #expect(try Snapshot(fixture) == before)
    }

    /// Reading stays possible in read-only mode, whichever way it is on.
    @Test(arguments: Way.allCases)
    func readsStillWork(_ way: Way) throws {
        let fixture = try CLIFixture(schemaPrefix: "ro")
        try CLIWriteVerb.setTwo(fixture)
        try fixture.admin.query("INSERT INTO \(fixture.locksTable) (state_id, lock_id) VALUES ('a', 'held')")
        let (extraArguments, environment) = try way.apply(fixture)
        for arguments in [["get", "a"], ["list"], ["locks"], ["export"], ["history"], ["check"], ["metrics"], ["check-health"]] {
            let result = try fixture.run(extraArguments + arguments, extraEnvironment: environment)
            #expect(result.status == 0, "\(arguments) with \(way.rawValue): \(result.stderr)")
        }
        #expect(try fixture.run(extraArguments + ["get", "a"], extraEnvironment: environment).stdout == #"{"singer_state":{"v":1}}"# + "\n")
        // `config` shows the setting on, from where it was set.
        let config = try fixture.run(extraArguments + ["config"], extraEnvironment: environment)
        let line = config.stdout.split(separator: "\n").first { $0.hasPrefix("read_only ") }.map(String.init) ?? ""
        let words = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        #expect(words.count >= 3 && words[1] == "true", "config: \(line.debugDescription)")
        let source = words.dropFirst(2).joined(separator: " ")
        switch way {
        case .flag: #expect(source == "flag", "\(line)")
        case .environment: #expect(source == "env MELTANO_STATE_READ_ONLY", "\(line)")
        case .configFile: #expect(source.contains("read-only-config.yml"), "\(line)")
        }
    }
}
