import Foundation
import Postgres
import Testing
import TestSupport

@Suite("Connection against the test server")
struct ConnectionTests {
    @Test func connectsAndDisconnects() throws {
        let connection = try TestDatabase.connect()
        #expect(connection.isConnected)
        #expect(connection.serverVersionNumber >= 100000)
        #expect(connection.backendPID > 0)
        let name = try connection.query("SELECT current_setting('application_name')").scalar
        #expect(name == "meltano-state-tests")
        connection.close()
        #expect(!connection.isConnected)
        #expect(throws: PostgresError.self) { try connection.query("SELECT 1") }
    }

    /// Planner settings for one read: in effect for it, gone after it (nothing left on a
    /// pooled session), and not applied inside a transaction the caller opened, where
    /// they would outlive the statement.
    @Test func settingsForOneReadEndWithIt() throws {
        let connection = try TestDatabase.connect()
        let before = try connection.query("SELECT current_setting('parallel_setup_cost')").scalar
        #expect(before != "0")
        let during = try connection.query("SELECT current_setting('parallel_setup_cost'), current_setting('min_parallel_index_scan_size'), $1::text",
                                          ["x"], settings: ["parallel_setup_cost": "0", "min_parallel_index_scan_size": "0"])
        #expect(during.rows.first == ["0", "0", "x"])
        #expect(try connection.query("SELECT current_setting('parallel_setup_cost')").scalar == before)
        #expect(try connection.query("SELECT current_setting('transaction_read_only')").scalar == "off")

        // A failing read rolls its transaction back: the connection is usable after it.
        #expect(throws: PostgresError.self) {
            try connection.query("SELECT 1 / 0", settings: ["parallel_setup_cost": "0"])
        }
        #expect(try connection.query("SELECT current_setting('parallel_setup_cost')").scalar == before)

        // Inside the caller's transaction: runs as it is, and the transaction stays open.
        try connection.query("BEGIN")
        #expect(try connection.query("SELECT current_setting('parallel_setup_cost')", settings: ["parallel_setup_cost": "0"]).scalar == before)
        #expect(try connection.query("SELECT count(*) FROM pg_stat_activity WHERE pid = pg_backend_pid() AND state = 'active' AND xact_start IS NOT NULL").scalar == "1")
        try connection.query("ROLLBACK")
    }

    @Test func parametersCarryAwkwardValuesUnchanged() throws {
        let connection = try TestDatabase.connect()
        let values = ["it's", "back\\slash", "\"double\"", "$1", "'; DROP TABLE x; --",
                      "日本語 ✓ 😀 \u{202E}rtl", "tab\tnew\nline", "", String(repeating: "é", count: 500_000)]
        for value in values {
            let back = try connection.query("SELECT $1::text", [value]).scalar
            #expect(back == value)
        }
        let megabyte = String(repeating: "abcdefgh", count: 131_072)
        #expect(try connection.query("SELECT length($1::text)", [megabyte]).scalar == "1048576")
        #expect(try connection.query("SELECT $1::text", [megabyte]).scalar == megabyte)
    }

    @Test func nullsAreNil() throws {
        let connection = try TestDatabase.connect()
        let result = try connection.query("SELECT NULL::text AS a, $1::text AS b, 'x' AS c", [nil])
        #expect(result.columns == ["a", "b", "c"])
        #expect(result.rows == [[nil, nil, "x"]])
        #expect(result.value(0, "c") == "x")
    }

    @Test func nulCharacterIsRefusedBeforeSending() throws {
        let connection = try TestDatabase.connect()
        let error = #expect(throws: PostgresError.self) { try connection.query("SELECT $1::text", ["a\u{0}b"]) }
        #expect(error?.kind == .invalidInput)
        #expect(connection.isConnected)
    }

    @Test func serverErrorsCarrySQLState() throws {
        try withScratchTable("(id text PRIMARY KEY)") { connection, table, schema throws in
            try connection.query("INSERT INTO \(table) VALUES ($1)", ["a"])
            let duplicate = #expect(throws: PostgresError.self) {
                try connection.query("INSERT INTO \(table) VALUES ($1)", ["a"])
            }
            #expect(duplicate?.sqlState == "23505")
            #expect(duplicate?.isUniqueViolation == true)
            #expect(duplicate?.detail?.contains("already exists") == true)
            let missing = #expect(throws: PostgresError.self) {
                try connection.query("SELECT * FROM \(quoteIdentifier(schema)).nope")
            }
            #expect(missing?.sqlState == "42P01")
            #expect(missing?.kind == .server)
            #expect(missing?.description.contains("does not exist") == true)
            // The connection is still usable after an error.
            #expect(try connection.query("SELECT 1").scalar == "1")
        }
    }

    @Test func affectedRowsAreCounted() throws {
        try withScratchTable("(id int)") { connection, table, _ throws in
            let inserted = try connection.query("INSERT INTO \(table) SELECT generate_series(1, 7)")
            #expect(inserted.affectedRows == 7)
            #expect(try connection.query("DELETE FROM \(table) WHERE id > 5").affectedRows == 2)
        }
    }

    @Test func identifiersWithQuotesAndSpacesAreQuoted() throws {
        #expect(quoteIdentifier("plain") == "\"plain\"")
        #expect(quoteIdentifier("a \"b\" c") == "\"a \"\"b\"\" c\"")
        let connection = try TestDatabase.connect()
        let schema = try TestDatabase.freshSchema("My \"odd\" schema; --", on: connection)
        defer { TestDatabase.dropSchema(schema, on: connection) }
        let table = "\(quoteIdentifier(schema)).\(quoteIdentifier("table \"x\" ☃"))"
        try connection.query("CREATE TABLE \(table) (v text)")
        try connection.query("INSERT INTO \(table) VALUES ($1)", ["ok"])
        #expect(try connection.query("SELECT v FROM \(table)").scalar == "ok")
        let found = try connection.query(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = $1 AND table_name = $2",
            [schema, "table \"x\" ☃"]).scalar
        #expect(found == "1")
    }

    @Test func transactionRollsBackOnError() throws {
        try withScratchTable("(id int PRIMARY KEY)") { connection, table, _ throws in
            #expect(throws: PostgresError.self) {
                try connection.transaction {
                    try connection.query("INSERT INTO \(table) VALUES (1)")
                    try connection.query("INSERT INTO \(table) VALUES (1)")
                }
            }
            #expect(try connection.query("SELECT count(*) FROM \(table)").scalar == "0")
            try connection.transaction { try connection.query("INSERT INTO \(table) VALUES (2)") }
            #expect(try connection.query("SELECT count(*) FROM \(table)").scalar == "1")
        }
    }

    @Test func wrongPasswordNamesTheProblemNotThePassword() throws {
        let admin = try TestDatabase.connect()
        let role = "pw_\(UUID().uuidString.prefix(8).lowercased())"
        try admin.query("CREATE ROLE \(quoteIdentifier(role)) LOGIN PASSWORD 'right-one' IN ROLE password_users")
        defer { _ = try? admin.query("DROP ROLE \(quoteIdentifier(role))") }
        var config = try TestDatabase.configuration()
        config.user = role
        let secret = "Sup3r-S3cret-Pa55word!"
        config.password = secret
        let error = #expect(throws: PostgresError.self) { try Connection(config) }
        #expect(error?.kind == .connectionFailed)
        #expect(error?.description.contains("password authentication failed") == true)
        #expect(error?.fix?.contains("password") == true)
        #expect(error?.description.contains(secret) == false)
        #expect(!config.description.contains(secret))
        config.password = "right-one"
        #expect(try Connection(config).query("SELECT current_user").scalar == role)
    }

    @Test func missingPasswordIsReportedAsSuch() throws {
        let admin = try TestDatabase.connect()
        let role = "pw_\(UUID().uuidString.prefix(8).lowercased())"
        try admin.query("CREATE ROLE \(quoteIdentifier(role)) LOGIN PASSWORD 'x' IN ROLE password_users")
        defer { _ = try? admin.query("DROP ROLE \(quoteIdentifier(role))") }
        var config = try TestDatabase.configuration()
        config.user = role
        config.extra["passfile"] = "/nonexistent"
        let error = #expect(throws: PostgresError.self) { try Connection(config) }
        #expect(error?.kind == .passwordRequired)
        #expect(error?.fix?.contains("PGPASSWORD") == true)
    }

    @Test func passwordInsideURIIsScrubbedFromErrors() throws {
        var config = try TestDatabase.configuration()
        let secret = "uri-s3cret-pw"
        config.uri = "postgresql://nobody:\(secret)@127.0.0.1:1/nodb"
        config.host = nil
        config.port = 1
        config.connectTimeout = 2
        let error = #expect(throws: PostgresError.self) { try Connection(config) }
        #expect(error?.kind == .connectionFailed)
        #expect(error?.fix?.contains("Nothing listens") == true)
        #expect(error?.description.contains(secret) == false)
        #expect(!config.description.contains(secret))
    }

    @Test func unixSocketWorks() throws {
        guard let socketDirectory = ProcessInfo.processInfo.environment["MELTANO_STATE_TEST_SOCKET_DIR"] else {
            Issue.record("MELTANO_STATE_TEST_SOCKET_DIR is not set: run through scripts/test")
            return
        }
        var config = try TestDatabase.configuration()
        config.host = socketDirectory
        #expect(try Connection(config).query("SELECT 1").scalar == "1")
    }

    @Test func missingDatabaseGetsAFix() throws {
        var config = try TestDatabase.configuration()
        config.database = "no_such_db_here"
        let error = #expect(throws: PostgresError.self) { try Connection(config) }
        #expect(error?.fix?.contains("database name") == true)
    }

    @Test func theConfigurationsWordingRewordsItsErrors() throws {
        var config = try TestDatabase.configuration()
        config.database = "no_such_db_here"
        config.fixWording = [.unknownDatabase: "Check the app's database setting."]
        let missing = #expect(throws: PostgresError.self) { try Connection(config) }
        #expect(missing?.problem == .unknownDatabase)
        #expect(missing?.fix == "Check the app's database setting.")
        var good = try TestDatabase.configuration()
        good.fixWording = [.unknownSchema: "Check the app's schema setting."]
        let connection = try Connection(good)
        let error = #expect(throws: PostgresError.self) { try connection.query("CREATE TABLE no_such_schema_here.t (a int)") }
        #expect(error?.sqlState == "3F000")
        #expect(error?.fix == "Check the app's schema setting.")
    }

    @Test func terminatedBackendIsDetectedAndReadsReconnect() throws {
        let admin = try TestDatabase.connect()
        let victim = try TestDatabase.connect()
        let pid = victim.backendPID
        try admin.query("SELECT pg_terminate_backend($1::int)", [String(pid)])
        #expect(try waitForBackendToExit(admin, pid: pid), "backend \(pid) still ran 10 s after pg_terminate_backend")
        // A write is never retried: its outcome would be unknown.
        let error = #expect(throws: PostgresError.self) { try victim.query("SELECT 1") }
        #expect(error?.kind == .connectionLost)
        #expect(error?.fix?.contains("read the state again") == true)
        // An idempotent read reconnects once, transparently.
        let second = victim.backendPID
        try admin.query("SELECT pg_terminate_backend($1::int)", [String(second)])
        #expect(try waitForBackendToExit(admin, pid: second), "backend \(second) still ran 10 s after pg_terminate_backend")
        #expect(try victim.query("SELECT 41 + 1", idempotent: true).scalar == "42")
        #expect(victim.backendPID != pid)
    }

    @Test func cancelStopsARunningStatement() throws {
        let connection = try TestDatabase.connect()
        let admin = try TestDatabase.connect()
        let pid = connection.backendPID
        let start = Date()
        // Cancel once the server is inside the statement's pg_sleep, not after a guess.
        let sleeping = Sleeping()
        Thread.detachNewThread {
            sleeping.seen = (try? waitForBackend(admin, pid: pid, running: "pg_sleep(20)", waitEvent: "PgSleep")) ?? false
            connection.cancel()
        }
        let error = #expect(throws: PostgresError.self) { try connection.query("SELECT pg_sleep(20)") }
        #expect(sleeping.seen, "backend \(pid) was never seen sleeping in pg_sleep(20) before the cancel")
        #expect(error?.kind == .cancelled)
        #expect(error?.sqlState == "57014")
        #expect(Date().timeIntervalSince(start) < 10)
        #expect(try connection.query("SELECT 1").scalar == "1")
    }
}

/// Set by the thread that watched for the statement, read once the statement ended.
private final class Sleeping: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var seen: Bool {
        get { lock.withLock { value } }
        set { lock.withLock { value = newValue } }
    }
}
