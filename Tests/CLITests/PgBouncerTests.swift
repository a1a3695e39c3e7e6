import ChildProcess
import Foundation
import Postgres
import StateJSON
import TestSupport
import Testing

/// Issue 22: the state database behind PgBouncer (Debian's, started by the tests in front
/// of the test server), in session and in transaction pooling.
@Suite("Through PgBouncer")
struct PgBouncerTests {
    enum Pooling: String, CaseIterable, Sendable {
        case session, transaction
    }

    /// The CLI of `fixture` pointed at the test server through PgBouncer's `pooling` database.
    static func throughPgBouncer(_ fixture: CLIFixture, _ pooling: Pooling, scheme: String = "postgres") throws {
        let port = try TestDatabase.pgBouncerPort()
        let user = try TestDatabase.configuration().user!
        fixture.environment["MELTANO_STATE_BACKEND_URI"] = scheme == "postgres"
            ? "postgres://\(user):x@127.0.0.1:\(port)/\(pooling.rawValue)/\(fixture.schema)"
            : "postgresql://\(user):x@127.0.0.1:\(port)/\(pooling.rawValue)"
    }

    /// The add-on's first layout (a lock row per lock, each statement in autocommit) needs
    /// nothing of the session: every verb works through both pooling modes, and its locks
    /// exclude a writer that goes through the same pool.
    @Test(arguments: Pooling.allCases)
    func everyVerbOfTheFirstLayout(_ pooling: Pooling) throws {
        let fixture = try CLIFixture(schemaPrefix: "bouncer")
        try Self.throughPgBouncer(fixture, pooling)
        func run(_ arguments: [String], stdin: String? = nil, extra: [String: String] = [:]) throws -> ProcessOutput {
            let output = try fixture.run(arguments, stdin: stdin, extraEnvironment: extra)
            #expect(output.status == 0, "\(arguments.joined(separator: " ")): \(output.stderr)")
            return output
        }
        try run(["init"])
        try run(["set", "--force", "dev:a", #"{"singer_state": {"bookmarks": {"orders": {"updated_at": "2026-12-01T00:00:00+00:00"}}}}"#])
        try run(["merge", "dev:a", #"{"singer_state": {"bookmarks": {"items": {"id": 12345678901234567890}}}}"#])
        #expect(try run(["get", "dev:a"]).stdout
                == #"{"singer_state":{"bookmarks":{"orders":{"updated_at":"2026-12-01T00:00:00+00:00"},"items":{"id":12345678901234567890}}}}"# + "\n")
        try run(["copy", "--force", "dev:a", "dev:b"])
        try run(["move", "--force", "dev:b", "dev:c"])
        let editor = try Self.editor(writing: #"{"singer_state": {"edited": true}}"#, in: fixture.directory)
        try run(["edit", "--yes", "dev:c"], extra: ["EDITOR": editor])
        #expect(try run(["get", "dev:c"]).stdout == #"{"singer_state":{"edited":true}}"# + "\n")
        try run(["clear", "--force", "dev:c"])
        let export = try run(["export"]).stdout
        try run(["import", "-"], stdin: #"{"dev:d": {"completed": {"singer_state": {"d": 1}}, "partial": {}}}"#)
        #expect(try run(["list"]).stdout == "dev:a\ndev:d\n")
        #expect(try run(["check"]).stdout.contains("two-tables"))
        #expect(export.contains("dev:a"))

        // Meltano's lock, through the same pool: the reference model of the add-on takes
        // it and dies holding it (a row left behind); our write gives up naming it, our
        // unlock releases exactly it, and the write goes through.
        let port = try TestDatabase.pgBouncerPort()
        let crash = try runProcess(python3Executable, [Reference.script, "--dsn", "host=127.0.0.1 port=\(port) user=postgres password=x dbname=\(pooling.rawValue)",
                                                       "--schema", fixture.schema, "crash-lock", "dev:a"])
        try #require(crash.status == 0, "the reference model did not take the lock: \(crash.stderr)")
        let refused = try fixture.run(["set", "--force", "dev:a", #"{"singer_state": {}}"#])
        #expect(refused.status == 3 && refused.stderr.contains("Could not acquire lock for state_id: dev:a"), "\(refused.stderr)")
        let locks = try run(["locks", "--json"]).stdout
        guard case let .array(held) = try JSONParser.parse(locks), held.count == 1,
              case let .object(lock) = held[0], case let .string(lockID)? = lock["lock_id"] else {
            Issue.record("locks --json: \(locks)"); return
        }
        try run(["unlock", "--yes", "dev:a", lockID.text])
        try run(["set", "--force", "dev:a", #"{"singer_state": {"after": 1}}"#])

        // The journal has every change, and a restore goes through the pool too.
        let entry = try fixture.newestJournalEntryID(of: "dev:a")
        try run(["restore", "--yes", entry])
        #expect(try run(["get", "dev:a"]).stdout.contains("items"), "the value before the last set is back")
        try run(["clear", "--all", "--force"])
        #expect(try run(["list"]).stdout.isEmpty)
    }

    /// The later layout's lock is an advisory lock, held by one server session. Through
    /// transaction pooling it would be no lock at all: writes that take it are refused,
    /// naming the fix, with nothing written and no lock left behind; reading works, and
    /// the bulk writes (one transaction under a table lock) work. Through session pooling
    /// it is a real lock.
    @Test func advisoryLocksAreRefusedThroughTransactionPoolingAndHeldThroughSessionPooling() throws {
        let fixture = try CLIFixture(schemaPrefix: "bouncer")
        // Advisory locks are server-wide: an ID of this test's own, and its key's locks only.
        let id = "dev:\(fixture.schema)"
        let heldHere = """
            SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted
              AND ((classid::bigint << 32) | objid::bigint) = ('x' || substr(md5('\(id)'), 1, 16))::bit(64)::bigint
            """
        try fixture.admin.query("""
            CREATE TABLE \(quoteIdentifier(fixture.schema)).state (state_id VARCHAR(900) PRIMARY KEY, partial_state TEXT,
              completed_state TEXT, updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP)
            """)
        try fixture.admin.query("INSERT INTO \(quoteIdentifier(fixture.schema)).state VALUES ('\(id)', NULL, '{\"singer_state\": {\"a\": 1}}')")
        try Self.throughPgBouncer(fixture, .transaction, scheme: "postgresql")
        let schema = ["--schema", fixture.schema]

        let get = try fixture.run(["get", id] + schema)
        #expect(get.status == 0 && get.stdout == #"{"singer_state":{"a":1}}"# + "\n", "\(get.stderr)")
        for write in [["set", "--force", id, #"{"singer_state": {"b": 2}}"#], ["clear", "--force", id],
                      ["merge", id, #"{"singer_state": {"c": 3}}"#]] {
            let refused = try fixture.run(write + schema)
            #expect(refused.status == 1, "\(write[0]): \(refused.stderr)")
            #expect(refused.stderr.contains("pool_mode = transaction") && refused.stderr.contains("pool_mode = session")
                    && refused.stderr.contains("Nothing was changed"), "\(refused.stderr)")
        }
        #expect(try fixture.admin.query("SELECT completed_state FROM \(quoteIdentifier(fixture.schema)).state").scalar
                == #"{"singer_state": {"a": 1}}"#)
        #expect(try fixture.admin.query(heldHere).scalar == "0")
        let imported = try fixture.run(["import", "-"] + schema, stdin: #"{"dev:b": {"completed": {"singer_state": {"b": 1}}, "partial": {}}}"#)
        #expect(imported.status == 0, "\(imported.stderr)")

        // Session pooling: the lock is real. A pipeline (the reference model, directly on
        // the server) holds it; our write through the pool waits and gives up.
        try Self.throughPgBouncer(fixture, .session, scheme: "postgresql")
        let set = try fixture.run(["set", "--force", id, #"{"singer_state": {"b": 2}}"#] + schema)
        #expect(set.status == 0, "\(set.stderr)")
        let holder = try ChildProcess(python3Executable, [Reference.script, "--dsn", try TestDatabase.dsn, "--schema", fixture.schema,
                                                          "--layout", "single-table", "--table", "state", "crash-lock", id],
                                      standardInput: .null, standardOutput: .null, standardError: .null)
        defer { holder.signal(SIGKILL); holder.wait() }
        let held = try waitUntil(timeout: 30) {
            try fixture.admin.query(heldHere).scalar == "1" || !holder.isRunning
        }
        try #require(held && holder.isRunning, "the reference model did not take the advisory lock")
        let refused = try fixture.run(["set", "--force", id, #"{"singer_state": {"c": 3}}"#] + schema)
        #expect(refused.status == 3, "\(refused.stderr)")
        #expect(try fixture.admin.query("SELECT completed_state FROM \(quoteIdentifier(fixture.schema)).state WHERE state_id = '\(id)'").scalar
                == #"{"singer_state": {"b": 2}}"#)
    }

    /// The real Meltano with the add-on's first layout, through transaction pooling: its
    /// lock rows and writes work there, and our tool reads what it wrote.
    @Test func realMeltanoFirstLayoutThroughTransactionPooling() throws {
        let stack = ProcessInfo.processInfo.environment["MELTANO_STATE_REAL_MELTANO"] ?? ""
        let meltano = stack + "/first-layout/bin/meltano"
        try #require(FileManager.default.isExecutableFile(atPath: meltano), "no real Meltano + add-on at \(meltano): run the tests through scripts/test")
        let fixture = try CLIFixture(schemaPrefix: "bouncer")
        try Self.throughPgBouncer(fixture, .transaction)
        let uri = try #require(fixture.environment["MELTANO_STATE_BACKEND_URI"])
        try "default_environment: dev\nproject_id: bouncer\nenvironments:\n- name: dev\nstate_backend:\n  uri: \(uri)\n"
            .write(toFile: fixture.directory + "/meltano.yml", atomically: true, encoding: .utf8)
        let environment = realMeltanoEnvironment(home: fixture.directory + "/home")
        let set = try runProcess(meltano, ["state", "set", "--force", "dev:m", #"{"singer_state": {"via": "pgbouncer"}}"#],
                                 environment: environment, currentDirectory: fixture.directory)
        #expect(set.status == 0, "\(set.stderr.suffix(1500))")
        let ours = try fixture.run(["get", "dev:m"])
        #expect(ours.stdout == #"{"singer_state":{"via":"pgbouncer"}}"# + "\n", "\(ours.stderr)")
        try fixture.run(["merge", "dev:m", #"{"singer_state": {"ours": 1}}"#])
        let theirs = try runProcess(meltano, ["state", "get", "dev:m"], environment: environment, currentDirectory: fixture.directory)
        #expect(theirs.stdout == #"{"singer_state":{"via":"pgbouncer","ours":1}}"# + "\n", "\(theirs.stderr.suffix(1500))")
    }

    /// An EDITOR that replaces the file it is given with `text`.
    static func editor(writing text: String, in directory: String) throws -> String {
        let path = directory + "/editor.sh"
        try "#!/bin/sh\nprintf '%s' '\(text)' > \"$1\"\n".write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o755)
        return path
    }
}
