import ChildProcess
import Foundation
import Postgres

/// The repository's root, found from this file's place in it.
public enum Repository {
    public static var root: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
    }

    public static func script(_ name: String) -> String { root + "/scripts/" + name }
}

/// A PostgreSQL of its own (scripts/test-db with a unique name), for tests that must
/// restart or stop the server, or run it with SSL, without disturbing the shared test
/// server other tests use in parallel. Stopped and removed when released.
public final class ThrowawayServer: @unchecked Sendable {
    public let name: String
    /// The variables `scripts/test-db start` printed (PGPORT, MELTANO_STATE_TEST_DSN, …).
    public let environment: [String: String]

    public init(ssl: Bool = false, prefix: String = "throwaway") throws {
        name = "\(prefix)-\(UUID().uuidString.prefix(8).lowercased())"
        let output = try ThrowawayServer.testDB(["start", "--name", name] + (ssl ? ["--ssl"] : []))
        var environment: [String: String] = [:]
        for line in output.split(separator: "\n") where line.hasPrefix("export ") {
            let assignment = line.dropFirst("export ".count)
            guard let equals = assignment.firstIndex(of: "=") else { continue }
            var value = String(assignment[assignment.index(after: equals)...])
            if value.hasPrefix("'") && value.hasSuffix("'") && value.count >= 2 { value = String(value.dropFirst().dropLast()) }
            environment[String(assignment[..<equals])] = value
        }
        self.environment = environment
        guard environment["PGPORT"] != nil else {
            stop()
            throw Failure(description: "scripts/test-db start printed no PGPORT: \(output)")
        }
    }

    // Removing the data directory takes a couple of seconds on some disks: the test
    // that used the server need not wait for it.
    deinit { stopInBackground() }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
        public init(description: String) { self.description = description }
    }

    public var port: Int { Int(environment["PGPORT"] ?? "") ?? 0 }
    public var dsn: String { environment["MELTANO_STATE_TEST_DSN"] ?? "" }
    /// The CA certificate of a server started with `ssl: true`.
    public var sslCA: String? { environment["MELTANO_STATE_TEST_SSL_CA"] }
    /// The server's log (its messages, and every statement that failed).
    public var logPath: String { (environment["MELTANO_STATE_TEST_DB_DIR"] ?? "") + "/server.log" }

    public func configuration(host: String = "127.0.0.1") -> ConnectionConfiguration {
        var config = ConnectionConfiguration(host: host, port: port, user: "postgres", database: "postgres")
        config.applicationName = "meltano-state-tests"
        return config
    }

    public func connect() throws -> Connection { try Connection(configuration()) }

    /// Starts a PgBouncer in front of this server (see `TestDatabase.pgBouncerPort`).
    public func startPgBouncer() throws -> Int {
        try PgBouncer.start(serverName: name)
    }

    /// Fast shutdown (every session ended) and start again, same port and data.
    public func restart() throws { try ThrowawayServer.testDB(["restart", "--name", name]) }
    /// Fast shutdown, keeping port and data; `resume()` starts it again.
    public func pause() throws { try ThrowawayServer.testDB(["pause", "--name", name]) }
    public func resume() throws { try ThrowawayServer.testDB(["resume", "--name", name]) }

    public func stop() {
        _ = try? ThrowawayServer.testDB(["stop", "--name", name])
    }

    func stopInBackground() {
        guard let child = try? ChildProcess(Repository.script("test-db"), ["stop", "--name", name],
                                            standardInput: .null, standardOutput: .null, standardError: .null) else {
            return stop()
        }
        Thread.detachNewThread { child.wait() }  // reaped, never waited for by the test
    }

    @discardableResult
    static func testDB(_ arguments: [String]) throws -> String {
        let result = try runProcess(Repository.script("test-db"), arguments)
        guard result.status == 0 else {
            throw Failure(description: "scripts/test-db \(arguments.joined(separator: " ")) failed (\(result.status)): \(result.stderr)")
        }
        return result.stdout
    }
}

/// A hot standby of a throwaway server (`scripts/test-db standby`: pg_basebackup,
/// streaming), on a port of its own, for failover tests. Stopped and removed when
/// released.
public final class ThrowawayStandby: @unchecked Sendable {
    public let name: String
    public let port: Int
    private let primary: ThrowawayServer

    public init(of primary: ThrowawayServer, prefix: String = "standby") throws {
        self.primary = primary
        name = "\(prefix)-\(UUID().uuidString.prefix(8).lowercased())"
        let output = try ThrowawayServer.testDB(["standby", "--name", name, "--primary", primary.name])
        guard let port = output.split(separator: "\n").first(where: { $0.hasPrefix("export PGPORT=") })
            .flatMap({ Int($0.split(separator: "=").last ?? "") }) else {
            _ = try? ThrowawayServer.testDB(["stop", "--name", name])
            throw ThrowawayServer.Failure(description: "scripts/test-db standby printed no PGPORT: \(output)")
        }
        self.port = port
    }

    deinit { _ = try? ThrowawayServer.testDB(["stop", "--name", name]) }

    /// The primary's configuration, with this standby's port.
    public func configuration() -> ConnectionConfiguration {
        var configuration = primary.configuration()
        configuration.port = port
        return configuration
    }

    /// Promotes it to a primary (`pg_ctl promote`).
    public func promote() throws { try ThrowawayServer.testDB(["promote", "--name", name]) }
}

/// Waits until a backend sleeps in `pg_sleep` (a test's slow trigger) while running a
/// statement that mentions `marker` (a schema name); returns its pid.
public func waitForSleepingBackend(_ admin: Connection, marker: String, timeout: Double = 10) throws -> Int32? {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        let pid = try admin.query("""
            SELECT pid FROM pg_stat_activity
            WHERE wait_event = 'PgSleep' AND pid <> pg_backend_pid() AND position($1 in query) > 0
            LIMIT 1
            """, [marker], idempotent: true).scalar
        if let pid, let value = Int32(pid) { return value }
        Thread.sleep(forTimeInterval: 0.02)
    }
    return nil
}

/// A BEFORE trigger on `table` that sleeps in every row it fires for, widening the
/// window in which a fault can hit a statement that changes the table. With
/// `stateID`, only in the row of that state ID (a statement writing many rows sleeps
/// half-way); with `atCommit`, a deferred constraint trigger: the transaction's COMMIT
/// sleeps instead.
public func installSlowTrigger(_ admin: Connection, schema: String, table: String,
                               events: String = "INSERT OR UPDATE OR DELETE", seconds: Double = 30,
                               stateID: String? = nil, atCommit: Bool = false) throws {
    let function = quoteIdentifier(schema) + ".slow_for_tests"
    try admin.query("""
        CREATE OR REPLACE FUNCTION \(function)() RETURNS trigger LANGUAGE plpgsql AS
        $$ BEGIN PERFORM pg_sleep(\(seconds)); RETURN COALESCE(NEW, OLD); END $$
        """)
    let condition = stateID.map { "WHEN (NEW.state_id = '\($0.replacingOccurrences(of: "'", with: "''"))') " } ?? ""
    let target = "\(quoteIdentifier(schema)).\(quoteIdentifier(table))"
    if atCommit {
        try admin.query("CREATE CONSTRAINT TRIGGER slow_for_tests AFTER \(events) ON \(target) DEFERRABLE INITIALLY DEFERRED FOR EACH ROW \(condition)EXECUTE FUNCTION \(function)()")
    } else {
        try admin.query("CREATE TRIGGER slow_for_tests BEFORE \(events) ON \(target) FOR EACH ROW \(condition)EXECUTE FUNCTION \(function)()")
    }
}

public func dropSlowTrigger(_ admin: Connection, schema: String, table: String) throws {
    try admin.query("DROP TRIGGER IF EXISTS slow_for_tests ON \(quoteIdentifier(schema)).\(quoteIdentifier(table))")
}

/// A PgBouncer in front of a throwaway server (`scripts/test-db pgbouncer`), stopped with
/// it. Client database `session` is pooled by session, `transaction` by transaction,
/// both the server's `postgres`.
public enum PgBouncer {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var ports: [String: Int] = [:]

    /// Its port; started once per server, whichever test asks first.
    public static func start(serverName: String) throws -> Int {
        lock.lock(); defer { lock.unlock() }
        if let port = ports[serverName] { return port }
        let output = try ThrowawayServer.testDB(["pgbouncer", "--name", serverName])
        guard let line = output.split(separator: "\n").first(where: { $0.hasPrefix("export MELTANO_STATE_TEST_PGBOUNCER_PORT=") }),
              let port = Int(line.split(separator: "=").last ?? "") else {
            throw ThrowawayServer.Failure(description: "scripts/test-db pgbouncer printed no port: \(output)")
        }
        ports[serverName] = port
        return port
    }
}
