import Foundation
import Postgres
import StateStore
import TestSupport
import Testing

/// The password never leaves the process it was given to; TLS verifies what it should;
/// a role with fewer privileges gets clear answers; the journal is private.
@Suite("Security")
struct SecurityTests {
    /// A role that must log in with a password (pg_hba: group password_users, scram).
    static func passwordRole(_ admin: Connection, password: String) throws -> String {
        let role = "sec_\(UUID().uuidString.prefix(8).lowercased())"
        try admin.query("CREATE ROLE \(quoteIdentifier(role)) LOGIN PASSWORD '\(password)' IN ROLE password_users")
        return role
    }

    static func dropRole(_ role: String, _ admin: Connection) {
        _ = try? admin.query("DROP OWNED BY \(quoteIdentifier(role))")
        _ = try? admin.query("DROP ROLE IF EXISTS \(quoteIdentifier(role))")
    }

    /// A distinctive password, planted through MELTANO_STATE_BACKEND_POSTGRES_PASSWORD
    /// and through the URI, then searched for in everything the CLI and its editor
    /// leave behind: stdout, stderr, the journal, argument lists in /proc, the editor's
    /// environment, the server's log.
    @Test(arguments: ["environment", "uri"])
    func plantedPasswordIsFoundNowhere(_ via: String) throws {
        let secret = "Pw-\(UUID().uuidString.prefix(8))-s3cr3t!x"
        let fixture = try CLIFixture(schemaPrefix: "secret")
        let role = try Self.passwordRole(fixture.admin, password: secret)
        defer { Self.dropRole(role, fixture.admin) }
        try fixture.admin.query("GRANT ALL ON SCHEMA \(quoteIdentifier(fixture.schema)) TO \(quoteIdentifier(role))")
        let config = try TestDatabase.configuration()
        let place = "\(config.host!):\(config.port!)/\(config.database!)/\(fixture.schema)"
        if via == "uri" {
            fixture.environment["MELTANO_STATE_BACKEND_URI"] = "postgres://\(role):\(secret)@\(place)"
        } else {
            fixture.environment["MELTANO_STATE_BACKEND_URI"] = "postgres://\(role)@\(place)"
            fixture.environment["MELTANO_STATE_BACKEND_POSTGRES_PASSWORD"] = secret
        }
        let dumps = fixture.directory + "/editor-saw"
        let editor = fixture.directory + "/editor.sh"
        try """
            #!/bin/sh
            # The editor is exec'ed by the CLI's shell: its parent is the CLI itself.
            { tr '\\0' ' ' < /proc/$$/cmdline; echo; tr '\\0' ' ' < /proc/$PPID/cmdline; echo
              tr '\\0' '\\n' < /proc/$$/environ; } >> \(dumps)
            printf '{"singer_state": {"edited": true}}' > "$1"

            """.write(toFile: editor, atomically: true, encoding: .utf8)
        chmod(editor, 0o755)

        var seen: [(String, String)] = []
        func run(_ arguments: [String], stdin: String? = nil, environment: [String: String] = [:]) throws {
            let result = try fixture.run(arguments, stdin: stdin, extraEnvironment: environment)
            seen.append(("stdout of \(arguments)", result.stdout))
            seen.append(("stderr of \(arguments)", result.stderr))
        }
        try run(["init"])
        try run(["set", "--force", "a", #"{"singer_state": {"v": 1}}"#])
        try run(["merge", "a", #"{"singer_state": {"w": 2}}"#])
        try run(["copy", "--force", "a", "b"])
        try run(["edit", "--yes", "a"], environment: ["EDITOR": editor])
        for arguments in [["config"], ["config", "--json"], ["check"], ["list"], ["list", "--json"], ["get", "a"],
                          ["get", "--raw", "a"], ["export"], ["locks"], ["history"], ["history", "--json"],
                          ["clear", "--force", "b"], ["get", "--strict", "nope"], ["set", "--force", "a", "{broken"],
                          ["unlock", "--yes", "a", "no-such-lock"], ["list", "--schema", "no_such_schema"]] {
            try run(arguments)
        }
        try run(["import", "-"], stdin: #"{"c": {"completed": {"singer_state": {}}, "partial": {}}}"#)
        // Failures that go through libpq and the server: a wrong password, a wrong host.
        try run(["check"], environment: ["MELTANO_STATE_BACKEND_POSTGRES_PASSWORD": secret + "-wrong",
                                         "MELTANO_STATE_BACKEND_URI": "postgres://\(role)@\(place)"])
        try run(["check", "--port", "1"])
        // A lock held by a dead pipeline: the CLI waits; its argument list meanwhile.
        try fixture.admin.query("INSERT INTO \(fixture.locksTable) (state_id, lock_id) VALUES ('a', 'dead-holder')")
        let waiting = try RunningCLI(fixture, ["set", "--force", "a", #"{"singer_state": {}}"#], extraEnvironment: ["MELTANO_STATE_LOCK_TIMEOUT": "30"])
        _ = try waitForStatement(fixture.admin, marker: fixture.schema, containing: "meltano_state_locks\" (state_id, lock_id)")
        let cmdline = (try? String(contentsOfFile: "/proc/\(waiting.pid)/cmdline", encoding: .utf8)) ?? ""
        #expect(cmdline.contains("set"), "read the waiting CLI's argument list: \(cmdline.debugDescription)")
        seen.append(("/proc/\(waiting.pid)/cmdline", cmdline))
        waiting.signal(SIGINT)
        let stopped = waiting.finish()
        #expect(stopped.status == 130)
        seen.append(("stderr of the interrupted set", stopped.stderr))

        let editorSaw = (try? String(contentsOfFile: dumps, encoding: .utf8)) ?? ""
        #expect(editorSaw.contains("/state.json"), "the editor ran and recorded what it saw: \(editorSaw.prefix(300))")
        #expect(editorSaw.contains(" edit --yes a"), "the editor runs as a child of the CLI itself (exec'ed): \(editorSaw.prefix(600))")
        #expect(editorSaw.contains("MELTANO_STATE_JOURNAL="), "the editor keeps the rest of the environment")
        seen.append(("the editor's argument lists and environment", editorSaw))
        seen.append(("the journal", (try? String(contentsOfFile: fixture.journalPath, encoding: .utf8)) ?? ""))
        if let directory = ProcessInfo.processInfo.environment["MELTANO_STATE_TEST_DB_DIR"] {
            seen.append(("the server's log", (try? String(contentsOfFile: directory + "/server.log", encoding: .utf8)) ?? ""))
        }
        for (what, text) in seen {
            #expect(!text.contains(secret), "the password appears in \(what): \(text.prefix(500))")
        }
        #expect(seen.first { $0.0 == "stdout of [\"config\"]" }?.1.contains("********") == true, "config shows the password masked")
        #expect(seen.contains { $0.0.hasPrefix("stderr of [\"check\"]") && $0.1.contains("password authentication failed") })
        #expect(try fixture.rows().count == 2, "the writes went through: a, c")
    }

    /// A role that may only read (USAGE on the schema, SELECT on both tables) browses
    /// with list, get, locks and export; a write is refused with the privilege named,
    /// and nothing changes.
    @Test func selectOnlyRoleCanBrowse() throws {
        let fixture = try CLIFixture(schemaPrefix: "reader")
        #expect(try fixture.run(["set", "--force", "a", #"{"singer_state": {"v": 1}}"#]).status == 0)
        try fixture.admin.query("INSERT INTO \(fixture.locksTable) (state_id, lock_id) VALUES ('b', 'lock-b')")
        let role = "reader_\(UUID().uuidString.prefix(8).lowercased())"
        try fixture.admin.query("CREATE ROLE \(quoteIdentifier(role)) LOGIN")
        defer { Self.dropRole(role, fixture.admin) }
        try fixture.admin.query("GRANT USAGE ON SCHEMA \(quoteIdentifier(fixture.schema)) TO \(quoteIdentifier(role))")
        try fixture.admin.query("GRANT SELECT ON \(fixture.stateTable), \(fixture.locksTable) TO \(quoteIdentifier(role))")
        let config = try TestDatabase.configuration()
        fixture.environment["MELTANO_STATE_BACKEND_URI"] = "postgres://\(role)@\(config.host!):\(config.port!)/\(config.database!)/\(fixture.schema)"
        for arguments in [["list"], ["list", "--json"], ["get", "a"], ["get", "--raw", "a"], ["locks"], ["locks", "--json"], ["export"], ["check"]] {
            let result = try fixture.run(arguments)
            #expect(result.status == 0, "\(arguments) as a SELECT-only role: \(result.stderr)")
        }
        #expect(try fixture.run(["get", "a"]).stdout == #"{"singer_state":{"v":1}}"# + "\n")
        #expect(try fixture.run(["locks"]).stdout.contains("lock-b"))
        let rows = try fixture.rows()
        for arguments in [["set", "--force", "a", #"{"singer_state": {}}"#], ["clear", "--force", "a"], ["unlock", "--yes", "b", "lock-b"]] {
            let result = try fixture.run(arguments)
            #expect(result.status == 1, "\(arguments): \(result.stderr)")
            #expect(result.stderr.contains("permission denied") || result.stderr.contains("privilege"), "\(arguments): \(result.stderr)")
        }
        #expect(try fixture.rows() == rows)
        #expect(try fixture.admin.query("SELECT lock_id FROM \(fixture.locksTable)").rows == [["lock-b"]])
    }

    /// A role set up exactly as the add-on needs (INSERT and DELETE on the locks table,
    /// no UPDATE) releases locks; without DELETE it is told which grant it lacks, and
    /// neither the lock nor the journal changes.
    @Test func unlockWithAndWithoutDeletePrivilege() throws {
        let fixture = try CLIFixture(schemaPrefix: "nodelete")
        #expect(try fixture.run(["init"]).status == 0)
        let role = "pipeline_\(UUID().uuidString.prefix(8).lowercased())"
        try fixture.admin.query("CREATE ROLE \(quoteIdentifier(role)) LOGIN")
        defer { Self.dropRole(role, fixture.admin) }
        try fixture.admin.query("GRANT USAGE ON SCHEMA \(quoteIdentifier(fixture.schema)) TO \(quoteIdentifier(role))")
        try fixture.admin.query("GRANT SELECT, INSERT, UPDATE, DELETE ON \(fixture.stateTable) TO \(quoteIdentifier(role))")
        try fixture.admin.query("GRANT SELECT, INSERT, DELETE ON \(fixture.locksTable) TO \(quoteIdentifier(role))")
        let config = try TestDatabase.configuration()
        fixture.environment["MELTANO_STATE_BACKEND_URI"] = "postgres://\(role)@\(config.host!):\(config.port!)/\(config.database!)/\(fixture.schema)"
        try fixture.admin.query("INSERT INTO \(fixture.locksTable) (state_id, lock_id) VALUES ('a', 'lock-a'), ('b', 'lock-b')")

        // The add-on's privileges suffice: writes under the lock, and unlock.
        #expect(try fixture.run(["set", "--force", "c", #"{"singer_state": {}}"#]).status == 0)
        let released = try fixture.run(["unlock", "--yes", "a", "lock-a"])
        #expect(released.status == 0, "SELECT, INSERT and DELETE on the locks table are enough to unlock: \(released.stderr)")

        try fixture.admin.query("REVOKE DELETE ON \(fixture.locksTable) FROM \(quoteIdentifier(role))")
        let journalBefore = FileManager.default.contents(atPath: fixture.journalPath)
        let refused = try fixture.run(["unlock", "--yes", "b", "lock-b"])
        #expect(refused.status == 1, "\(refused.stderr)")
        #expect(refused.stderr.contains("lacks the DELETE privilege"), "\(refused.stderr)")
        #expect(refused.stderr.contains("GRANT DELETE ON"), "\(refused.stderr)")
        #expect(refused.stderr.contains("Nothing was changed"), "\(refused.stderr)")
        #expect(try fixture.admin.query("SELECT lock_id FROM \(fixture.locksTable)").rows == [["lock-b"]])
        #expect(FileManager.default.contents(atPath: fixture.journalPath) == journalBefore, "no journal entry for an unlock that did not happen")
    }

    /// The journal holds every previous value: created 0600, its directories 0700.
    @Test func journalIsPrivate() throws {
        let fixture = try CLIFixture(schemaPrefix: "journal")
        let nested = fixture.directory + "/state/meltano-state/journal.jsonl"
        fixture.environment["MELTANO_STATE_JOURNAL"] = nested
        #expect(try fixture.run(["set", "--force", "a", #"{"singer_state": {}}"#]).status == 0)
        #expect(try fixture.run(["set", "--force", "a", #"{"singer_state": {"v": 2}}"#]).status == 0)
        func mode(_ path: String) throws -> Int {
            (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int ?? -1) & 0o777
        }
        #expect(try mode(nested) == 0o600)
        #expect(try mode(fixture.directory + "/state/meltano-state") == 0o700)
        #expect(try mode(fixture.directory + "/state") == 0o700)
        // The default place, under $HOME, likewise.
        fixture.environment.removeValue(forKey: "MELTANO_STATE_JOURNAL")
        #expect(try fixture.run(["clear", "--force", "a"]).status == 0)
        let home = fixture.directory + "/home/.local/state/meltano-state"
        #expect(try mode(home + "/journal.jsonl") == 0o600)
        #expect(try mode(home) == 0o700)
    }

    /// The CLI against a server with SSL: verify-full with the right CA connects, a
    /// wrong CA is refused with what to do, require encrypts without a CA.
    @Test func tlsThroughTheCLI() throws {
        let server = try ThrowawayServer(ssl: true, prefix: "clitls")
        let ca = try #require(server.sslCA)
        let fixture = try CLIFixture(schemaPrefix: "tls")
        let wrongCA = fixture.directory + "/wrong-ca.crt"
        let made = try runProcess("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                                              "-days", "1", "-subj", "/CN=wrong", "-keyout", fixture.directory + "/wrong.key", "-out", wrongCA])
        #expect(made.status == 0, "\(made.stderr)")
        fixture.environment["MELTANO_STATE_BACKEND_URI"] = "postgres://postgres@localhost:\(server.port)/postgres/public"
        fixture.environment["MELTANO_STATE_BACKEND_POSTGRES_SSLMODE"] = "verify-full"
        let good = try fixture.run(["check"], extraEnvironment: ["PGSSLROOTCERT": ca])
        #expect(good.status == 0, "\(good.stderr)")
        let bad = try fixture.run(["check"], extraEnvironment: ["PGSSLROOTCERT": wrongCA])
        #expect(bad.status == 1)
        #expect(bad.stderr.contains("certificate verify failed"), "\(bad.stderr)")
        #expect(bad.stderr.contains("not signed by a CA in sslrootcert"), "\(bad.stderr)")
        let required = try fixture.run(["check"], extraEnvironment: ["MELTANO_STATE_BACKEND_POSTGRES_SSLMODE": "require"])
        #expect(required.status == 0, "\(required.stderr)")
        // A libpq URI carries its own sslrootcert.
        let uri = "postgresql://postgres@localhost:\(server.port)/postgres?sslmode=verify-full&sslrootcert=\(ca)"
        fixture.environment.removeValue(forKey: "MELTANO_STATE_BACKEND_POSTGRES_SSLMODE")
        let viaURI = try fixture.run(["check"], extraEnvironment: ["MELTANO_STATE_BACKEND_URI": uri])
        #expect(viaURI.status == 0, "\(viaURI.stderr)")
    }
}
