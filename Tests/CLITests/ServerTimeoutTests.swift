import ChildProcess
import Foundation
import Postgres
import TestSupport
import Testing

/// Issue 22: timeouts a DBA sets on the server or the role. A role with a short
/// `statement_timeout`, `lock_timeout`, `idle_in_transaction_session_timeout` and
/// `idle_session_timeout` (which ends a session left idle, as while an editor is open).
@Suite("Server and role timeouts")
struct ServerTimeoutTests {
    final class TimeoutRole {
        let fixture: CLIFixture
        let role: String

        init() throws {
            fixture = try CLIFixture(schemaPrefix: "timeouts")
            role = "timeouts_\(UUID().uuidString.prefix(8).lowercased())"
            let admin = fixture.admin
            try admin.query("CREATE ROLE \(quoteIdentifier(role)) LOGIN")
            for setting in ["statement_timeout = '300ms'", "lock_timeout = '200ms'",
                            "idle_in_transaction_session_timeout = '200ms'", "idle_session_timeout = '500ms'"] {
                try admin.query("ALTER ROLE \(quoteIdentifier(role)) SET \(setting)")
            }
            try admin.query("ALTER SCHEMA \(quoteIdentifier(fixture.schema)) OWNER TO \(quoteIdentifier(role))")
            let config = try TestDatabase.configuration()
            fixture.environment["MELTANO_STATE_BACKEND_URI"] = "postgres://\(role):x@\(config.host!):\(config.port!)/\(config.database!)/\(fixture.schema)"
            fixture.environment["MELTANO_STATE_LOCK_TIMEOUT"] = "20"
            try #require(fixture.run(["init"]).status == 0)
        }

        deinit {
            TestDatabase.dropSchema(fixture.schema, on: fixture.admin)
            _ = try? fixture.admin.query("DROP ROLE IF EXISTS \(quoteIdentifier(role))")
        }

        /// An EDITOR that waits `seconds` (the session times out meanwhile), then writes `text`.
        func slowEditor(_ seconds: Double, writing text: String) throws -> String {
            let path = fixture.directory + "/slow-editor.sh"
            try "#!/bin/sh\nsleep \(seconds)\nprintf '%s' '\(text)' > \"$1\"\n".write(toFile: path, atomically: true, encoding: .utf8)
            chmod(path, 0o755)
            return path
        }
    }

    /// Meltano's lock held by a pipeline for 2 s: the wait (many short statements, each
    /// far under statement_timeout and lock_timeout) outlasts both and the write goes through.
    @Test func theLockWaitOutlastsStatementAndLockTimeouts() throws {
        let setup = try TimeoutRole()
        let fixture = setup.fixture
        try #require(fixture.run(["set", "--force", "dev:a", #"{"singer_state": {"before": 1}}"#]).status == 0)
        let holder = try ChildProcess(python3Executable, [Reference.script, "--dsn", try TestDatabase.dsn, "--schema", fixture.schema,
                                                          "hold-lock", "dev:a", "2"],
                                      standardInput: .null, standardOutput: .null, standardError: .null)
        defer { holder.signal(SIGKILL); holder.wait() }
        try #require(try waitUntil(timeout: 30) {
            try fixture.admin.query("SELECT count(*) FROM \(fixture.locksTable)").scalar == "1"
        }, "the reference model did not take the lock")
        let started = Date()
        let set = try fixture.run(["set", "--force", "dev:a", #"{"singer_state": {"after": 1}}"#])
        #expect(set.status == 0, "\(set.stderr)")
        #expect(Date().timeIntervalSince(started) > 0.5, "it waited for the pipeline's lock")
        #expect(try fixture.admin.query("SELECT completed_state FROM \(fixture.stateTable)").scalar == #"{"singer_state": {"after": 1}}"#)
    }

    /// The editor stays open past idle_session_timeout, which ends the tool's idle session:
    /// the edit is not lost. It is checked against the stored state and written under a
    /// fresh lock; and when a pipeline changed the state meanwhile it is refused, clearly,
    /// with nothing written.
    @Test func anEditorOpenPastTheIdleTimeoutLosesNothing() throws {
        let setup = try TimeoutRole()
        let fixture = setup.fixture
        try #require(fixture.run(["set", "--force", "dev:a", #"{"singer_state": {"x": 1}}"#]).status == 0)
        let edited = try fixture.run(["edit", "--yes", "dev:a"],
                                     extraEnvironment: ["EDITOR": try setup.slowEditor(1.5, writing: #"{"singer_state": {"x": 2}}"#)])
        #expect(edited.status == 0, "\(edited.stderr)")
        #expect(try fixture.admin.query("SELECT completed_state FROM \(fixture.stateTable)").scalar == #"{"singer_state": {"x": 2}}"#)
        #expect(try fixture.admin.query("SELECT count(*) FROM \(fixture.locksTable)").scalar == "0")

        // A pipeline writes while the editor is open (after the session timed out).
        let editor = try setup.slowEditor(1.5, writing: #"{"singer_state": {"x": 3}}"#)
        let running = try RunningCLI(fixture, ["edit", "--yes", "dev:a"], extraEnvironment: ["EDITOR": editor])
        try #require(try waitUntil(timeout: 10) {
            (try? runProcess("pgrep", ["-f", fixture.directory + "/slow-editor.sh"]))?.status == 0
        }, "the editor did not start")
        let pipeline = try Reference.run(["set", "dev:a", #"{"singer_state": {"pipeline": 1}}"#], schema: fixture.schema)
        #expect(pipeline.status == 0, "\(pipeline.stderr)")
        let result = running.finish(timeout: 30)
        #expect(result.status != 0, "the edit must not overwrite the pipeline's write: \(result.stderr)")
        #expect(result.stderr.contains("changed"), "\(result.stderr)")
        #expect(try fixture.admin.query("SELECT completed_state FROM \(fixture.stateTable)").scalar == #"{"singer_state": {"pipeline": 1}}"#)
    }
}
