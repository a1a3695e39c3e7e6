import Foundation
import Postgres
import StateStore
import Testing
import TestSupport

extension CLIFixture {
    /// This fixture's backend URI in a given schema (the test server, no password).
    func uri(schema: String) throws -> String {
        let config = try TestDatabase.configuration()
        return "postgres://\(config.user!)@\(config.host!):\(config.port!)/\(config.database!)/\(schema)"
    }

    /// Writes the config file of this fixture's HOME.
    func writeConfig(_ text: String) throws {
        let directory = environment["HOME"]! + "/.config/meltano-state"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try text.write(toFile: directory + "/config.yml", atomically: true, encoding: .utf8)
    }
}

/// `--context`, `MELTANO_STATE_CONTEXT` and `contexts` with the real binary and server.
@Suite("Contexts (CLI)")
struct ContextCLITests {
    /// Two contexts share one journal: `history` says which database an entry of the
    /// other one was recorded on, and `restore` refuses it before asking anything.
    @Test func anEntryOfAnotherContextsDatabaseIsMarkedAndNeverRestored() throws {
        let fixture = try CLIFixture(schemaPrefix: "ctxj")
        let config = try TestDatabase.configuration()
        let staging = try TestDatabase.secondDatabase()
        let stagingAdmin = try TestDatabase.connect(database: staging)
        let stagingSchema = try TestDatabase.freshSchema("ctxj", on: stagingAdmin)
        defer { TestDatabase.dropSchema(stagingSchema, on: stagingAdmin) }
        try fixture.writeConfig("""
            contexts:
              prod:
                uri: \(try fixture.uri(schema: fixture.schema))
              staging:
                uri: postgres://\(config.user!)@\(config.host!):\(config.port!)/\(staging)/\(stagingSchema)
              prod-by-name:
                uri: postgres://\(config.user!)@localhost:\(config.port!)/\(config.database!)/\(fixture.schema)
            """)
        #expect(try fixture.run(["--context", "staging", "init"]).status == 0)
        #expect(try fixture.run(["--context", "prod", "set", "--force", "dev:shared", #"{"singer_state": {"prod": "precious"}}"#]).status == 0)
        #expect(try fixture.run(["--context", "staging", "set", "--force", "dev:shared", #"{"singer_state": {"staging": 1}}"#]).status == 0)
        let stagingEntry = try fixture.newestJournalEntryID(of: "dev:shared")
        let history = try fixture.run(["--context", "prod", "history", "dev:shared"])
        let lines = history.stdout.split(separator: "\n")
        #expect(lines.count == 2 && lines[0].contains(stagingEntry) && lines[0].contains("[on \(config.user!)@\(config.host!):\(config.port!)/\(staging)]")
                && !lines[1].contains("[on "), "\(history.stdout)")
        for arguments in [["--yes"], []] {
            let restore = try fixture.run(["--context", "prod", "restore", stagingEntry] + arguments)
            #expect(restore.status == 1 && restore.stderr.contains("was recorded through another connection") && restore.stderr.contains("Nothing was changed"), "\(restore.stderr)")
        }
        #expect(try fixture.rows() == [["dev:shared", nil, #"{"singer_state": {"prod": "precious"}}"#]])
        #expect(try fixture.run(["--context", "staging", "restore", stagingEntry, "--yes"]).status == 0)
        // The same database through another address (or a clone of it, which shares its
        // identity): refused too, with how to connect as the entry was recorded.
        let history2 = try fixture.run(["--context", "prod", "history", "--json", "dev:shared"])
        let prodEntry = try #require(history2.stdout.split(separator: "\n").first { !$0.contains(staging) && $0.contains(#""action":"set""#) })
        let prodID = try #require(prodEntry.components(separatedBy: #""id":""#).last?.components(separatedBy: "\"").first)
        let elsewhere = try fixture.run(["--context", "prod-by-name", "restore", prodID, "--yes"])
        #expect(elsewhere.status == 1 && elsewhere.stderr.contains("through another connection (\(config.user!)@\(config.host!):\(config.port!)/\(config.database!))"),
                "\(elsewhere.stderr)")
        #expect(try fixture.run(["--context", "prod", "restore", prodID, "--yes"]).status == 0)
    }

    /// Two contexts on this fixture's schema, one read-only; the environment's own URI
    /// points at a server that does not exist, so only a context can reach the data.
    static func fixture() throws -> CLIFixture {
        let fixture = try CLIFixture(schemaPrefix: "ctx")
        let uri = try fixture.uri(schema: fixture.schema)
        let set = try fixture.run(["set", "--force", "prod:tap-a-to-b", #"{"singer_state": {"v": 1}}"#])
        #expect(set.status == 0, "\(set.stderr)")
        try fixture.writeConfig("""
            contexts:
              work:
                uri: \(uri)
                color: green
              prod:
                uri: \(uri)
                password: ${NOT_SET_ANYWHERE}
                read_only: true
                color: red
            """)
        fixture.environment["MELTANO_STATE_BACKEND_URI"] = "postgres://nobody@127.0.0.1:1/none/public"
        return fixture
    }

    @Test func contextsListsThemAndMarksTheSelectedOne() throws {
        let fixture = try Self.fixture()
        let listed = try fixture.run(["contexts"], extraEnvironment: ["MELTANO_STATE_CONTEXT": "prod"])
        #expect(listed.status == 0, "\(listed.stderr)")
        let lines = listed.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 3)
        #expect(lines[1].hasPrefix("  work ") && lines[1].contains("writable") && lines[1].contains("green"))
        #expect(lines[2].hasPrefix("* prod ") && lines[2].contains("read-only") && lines[2].contains("red"))
        let json = try fixture.run(["contexts", "--json", "--context", "work"])
        #expect(json.status == 0)
        #expect(json.stdout.contains(#""selected": true"#) && json.stdout.contains(#""name": "work""#))
    }

    /// A context that cannot be used is listed as BROKEN with its problem and fix,
    /// not as writable (it was refused only once selected).
    @Test func contextsMarksABrokenContext() throws {
        let fixture = try Self.fixture()
        try fixture.writeConfig("""
            contexts:
              good:
                uri: \(try fixture.uri(schema: fixture.schema))
              badro:
                uri: \(try fixture.uri(schema: fixture.schema))
                read_only: maybe
            """)
        let listed = try fixture.run(["contexts"])
        #expect(listed.status == 0)
        let lines = listed.stdout.split(separator: "\n").map(String.init)
        #expect(lines[1].contains("good") && lines[1].contains("writable"), "\(listed.stdout)")
        #expect(lines[2].contains("badro") && lines[2].contains("BROKEN"), "\(listed.stdout)")
        #expect(listed.stdout.contains("Context badro is broken: the context badro has read_only 'maybe'") && listed.stdout.contains("Fix: Set read_only"))
        let json = try fixture.run(["contexts", "--json"])
        #expect(json.stdout.contains(#""problem": null"#) && json.stdout.contains("read_only 'maybe'"), "\(json.stdout)")
    }

    @Test func aContextReachesItsBackendWhateverTheEnvironmentSays() throws {
        let fixture = try Self.fixture()
        let withoutContext = try fixture.run(["list"])
        #expect(withoutContext.status != 0)  // the environment's URI goes nowhere
        for arguments in [["list", "--context", "work"], ["--context", "work", "list"]] {
            let listed = try fixture.run(arguments)
            #expect(listed.status == 0, "\(listed.stderr)")
            #expect(listed.stdout == "prod:tap-a-to-b\n")
        }
        // Options alone are the browser's, as no arguments are (here without a terminal,
        // the browser says what it needs; ArgumentParser said "Unknown option").
        let browser = try fixture.run(["--context", "work"])
        #expect(browser.status == 1 && browser.stderr.contains("The browser needs a terminal"), "\(browser.stderr)")
        let byVariable = try fixture.run(["get", "prod:tap-a-to-b"], extraEnvironment: ["MELTANO_STATE_CONTEXT": "work"])
        #expect(byVariable.stdout == #"{"singer_state":{"v":1}}"# + "\n")
        let config = try fixture.run(["config", "--context", "prod"])
        #expect(config.stdout.contains("Context          prod (from --context)"))
    }

    @Test func aReadOnlyContextRefusesWritesUnlessToldWritable() throws {
        let fixture = try Self.fixture()
        let refused = try fixture.run(["set", "--force", "--context", "prod", "prod:tap-a-to-b", #"{"singer_state": {"v": 2}}"#])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("read-only"), "\(refused.stderr)")
        #expect(try fixture.rows().first?[2] == #"{"singer_state": {"v": 1}}"#)
        let writable = try fixture.run(["set", "--force", "--context", "prod", "--writable", "prod:tap-a-to-b", #"{"singer_state": {"v": 2}}"#])
        #expect(writable.status == 0, "\(writable.stderr)")
        #expect(try fixture.rows().first?[2] == #"{"singer_state": {"v": 2}}"#)
        let both = try fixture.run(["set", "--force", "--context", "work", "--writable", "--read-only", "prod:tap-a-to-b", "{}"])
        #expect(both.status != 0 && both.stderr.contains("read-only"))
    }

    @Test func anUnknownContextNamesTheKnownOnes() throws {
        let fixture = try Self.fixture()
        let result = try fixture.run(["list", "--context", "staging"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("no context named staging"))
        #expect(result.stderr.contains("Use one of: work, prod"))
    }
}
