import ChildProcess
import Foundation
import Postgres

/// The throwaway server that `scripts/test-db start` runs, found through
/// `MELTANO_STATE_TEST_DSN`. A test that needs it and cannot find it fails: a skipped
/// database test is not a passed one.
public enum TestDatabase {
    public struct Missing: Error, CustomStringConvertible {
        public var description: String {
            "MELTANO_STATE_TEST_DSN is not set: run the tests through scripts/test (or eval \"$(scripts/test-db start)\" first)."
        }
    }

    public static var dsn: String {
        get throws {
            guard let dsn = ProcessInfo.processInfo.environment["MELTANO_STATE_TEST_DSN"], !dsn.isEmpty else {
                throw Missing()
            }
            return dsn
        }
    }

    /// host/port/user/database of the test server, parsed from the DSN.
    public static func configuration() throws -> ConnectionConfiguration {
        var config = ConnectionConfiguration()
        for pair in try dsn.split(separator: " ") {
            let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { continue }
            switch parts[0] {
            case "host": config.host = parts[1]
            case "port": config.port = Int(parts[1])
            case "user": config.user = parts[1]
            case "dbname": config.database = parts[1]
            default: break
            }
        }
        config.applicationName = "meltano-state-tests"
        return config
    }

    /// The port of a PgBouncer in front of the test server (started on first use,
    /// stopped with the server): database `session` pooled by session, `transaction`
    /// by transaction.
    public static func pgBouncerPort() throws -> Int {
        guard let directory = ProcessInfo.processInfo.environment["MELTANO_STATE_TEST_DB_DIR"],
              let name = directory.split(separator: "/").last.map(String.init), name.hasPrefix("meltano-state-pg-") else {
            throw Missing()
        }
        return try PgBouncer.start(serverName: String(name.dropFirst("meltano-state-pg-".count)))
    }

    public static func connect() throws -> Connection {
        try Connection(configuration())
    }

    /// A second database on the test server, for tests about two databases: created
    /// once and never dropped (the server is thrown away after the run). DROP DATABASE
    /// waits for every backend of the server to take a signal barrier, so a backend
    /// stopped by another test stalls it; the SIGSTOP test failed twice beside such
    /// drops (its own server now keeps it apart). Tests work in fresh schemas of it
    /// (`freshSchema` on `connect(database:)`).
    public static func secondDatabase() throws -> String {
        let name = "meltano_state_second"
        do {
            try connect().query("CREATE DATABASE \(quoteIdentifier(name))")
        } catch let error as PostgresError where error.sqlState == "42P04" || error.sqlState == "23505" {
            // There already (42P04), or created by a test beside this one just now (23505).
        }
        return name
    }

    /// A connection to another database of the test server.
    public static func connect(database: String) throws -> Connection {
        var config = try configuration()
        config.database = database
        return try Connection(config)
    }

    /// A new, empty schema with a unique name (so tests run in parallel without seeing
    /// each other's rows). `prefix` may contain anything, quotes and spaces included.
    public static func freshSchema(_ prefix: String = "t", on connection: Connection) throws -> String {
        let name = "\(prefix)_\(UUID().uuidString.prefix(8).lowercased())"
        try connection.query("CREATE SCHEMA \(quoteIdentifier(name))")
        return name
    }

    public static func dropSchema(_ name: String, on connection: Connection) {
        _ = try? connection.query("DROP SCHEMA IF EXISTS \(quoteIdentifier(name)) CASCADE")
    }
}

/// Runs a program and collects its output; for oracles (python3) and CLI tests.
public struct ProcessOutput: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
    public var stdoutData: Data
}

public func runProcess(_ executable: String, _ arguments: [String], stdin: Data? = nil,
                       environment: [String: String]? = nil, currentDirectory: String? = nil,
                       timeout: Double = 300) throws -> ProcessOutput {
    // ChildProcess, not Foundation's Process: a daemon the program leaves behind (the
    // tmux server, a postmaster) must not keep this wait going (see ChildProcess).
    let output = try ChildProcess.run(executable, arguments, input: stdin.map { [UInt8]($0) },
                                      environment: environment, currentDirectory: currentDirectory, timeout: timeout)
    var stderr = String(decoding: output.standardError, as: UTF8.self)
    if output.timedOut {
        stderr += "\n[test support: \(executable) \(arguments.prefix(3).joined(separator: " ")) was killed after running \(Int(timeout)) s]"
    }
    return ProcessOutput(status: output.termination?.code ?? 137,
                         stdout: String(decoding: output.standardOutput, as: UTF8.self),
                         stderr: stderr,
                         stdoutData: Data(output.standardOutput))
}

/// The real Python interpreter behind `python3` on the PATH. A version manager's shim
/// (pyenv) may run Python as a child of its own, so a signal sent to a process started
/// as `python3` would reach the shim and leave Python running: tests that stop a
/// background Python process start this path directly.
public let python3Executable: String = {
    let output = try? runProcess("python3", ["-c", "import sys; print(sys.executable)"])
    let path = output?.stdout.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
    return path.isEmpty ? "/usr/bin/python3" : path
}()
