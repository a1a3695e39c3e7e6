import ChildProcess
import Foundation
import Postgres
import StateJSON
import TestSupport
import Testing

/// The environment a real Meltano runs with in the tests: the PATH, a HOME of the test's
/// own, UTF-8, no usage statistics or tracking (there is no network to send them to),
/// plus `extra`.
func realMeltanoEnvironment(home: String, _ extra: [String: String] = [:]) -> [String: String] {
    ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "HOME": home, "LANG": "C.UTF-8",
     "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false", "MELTANO_DISABLE_TRACKING": "true"].merging(extra) { $1 }
}

/// A real Meltano project: `tap-postgres` → `target-postgres` (meltanolabs, from PyPI),
/// both on the test server, run by a real Meltano 4.4.1 whose state backend is one of the
/// three layouts: the add-on's first layout, its later layout (both the unmodified add-on
/// from shared/), or Meltano's own system database. Everything is installed once by
/// `scripts/real-meltano` (scripts/test runs it) under `MELTANO_STATE_REAL_MELTANO`.
///
/// Meltano's system database is always in PostgreSQL here (a database of its own, or the
/// state's for `systemdb`), so the runs a killed pipeline leaves are where our tool reads them.
final class RealPipeline: @unchecked Sendable {
    enum Backend: String, CaseIterable, Sendable, CustomTestStringConvertible {
        case firstLayout = "first-layout"
        case laterLayout = "later-layout"
        case systemDB = "meltano"
        var testDescription: String { self == .systemDB ? "systemdb" : rawValue }
    }

    struct StackMissing: Error, CustomStringConvertible {
        let path: String
        var description: String {
            "The real pipeline stack is not at \(path): run the tests through scripts/test, which runs scripts/real-meltano install."
        }
    }

    static let stateID = "dev:tap-postgres-to-target-postgres"
    static let stream = "shop-orders"
    /// A second stream, its own bookmark (an integer replication key).
    static let customers = "shop-customers"
    /// Source rows: order N was updated at base + N hours; customer N has version N.
    static let base = "2026-11-01 00:00:00+00"

    let backend: Backend
    let cli: CLIFixture
    let admin: Connection
    /// Source, target and (for the add-on layouts) state live here; Meltano's system database beside it.
    let database: String
    let systemDatabase: String
    let stateSchema: String
    let stack: String
    var meltanoEnvironment: [String: String]

    init(_ backend: Backend, rows: Int) throws {
        stack = ProcessInfo.processInfo.environment["MELTANO_STATE_REAL_MELTANO"] ?? ""
        guard !stack.isEmpty, FileManager.default.isExecutableFile(atPath: stack + "/\(backend.rawValue)/bin/meltano") else {
            throw StackMissing(path: stack.isEmpty ? "(MELTANO_STATE_REAL_MELTANO unset)" : stack)
        }
        self.backend = backend
        cli = try CLIFixture(schemaPrefix: "pipe")
        admin = cli.admin
        let suffix = UUID().uuidString.prefix(8).lowercased()
        database = "pipeline_\(suffix)"
        systemDatabase = backend == .systemDB ? database : "pipeline_sys_\(suffix)"
        stateSchema = "state_\(suffix)"
        try admin.query("CREATE DATABASE \(quoteIdentifier(database))")
        if systemDatabase != database { try admin.query("CREATE DATABASE \(quoteIdentifier(systemDatabase))") }
        let config = try TestDatabase.configuration()
        let (host, port, user) = (config.host!, config.port!, config.user!)
        meltanoEnvironment = realMeltanoEnvironment(home: cli.directory + "/home", [
            "MELTANO_DATABASE_URI": "postgresql+psycopg://\(user)@\(host):\(port)/\(systemDatabase)",
        ])
        let source = try connection(to: database)
        try source.query("CREATE SCHEMA shop")
        try source.query("CREATE SCHEMA \(quoteIdentifier(stateSchema))")
        try source.query("CREATE TABLE shop.orders (id int PRIMARY KEY, updated_at timestamptz NOT NULL, amount int NOT NULL)")
        try source.query("CREATE TABLE shop.customers (id int PRIMARY KEY, version int NOT NULL)")
        try source.query("INSERT INTO shop.customers SELECT g, g FROM generate_series(1, 12) g")
        try addRows(1...rows)

        // The add-ons insist on a password; the test server trusts loopback, so any will do.
        let stateBackend: String
        switch backend {
        case .firstLayout:
            stateBackend = "state_backend:\n  uri: postgres://\(user):x@\(host):\(port)/\(database)/\(stateSchema)\n"
        case .laterLayout:
            stateBackend = "state_backend:\n  uri: postgresql://\(user):x@\(host):\(port)/\(database)\n  postgresql:\n    schema: \(stateSchema)\n"
        case .systemDB:
            stateBackend = ""
        }
        let tap = stack + "/tap-postgres/bin/tap-postgres", target = stack + "/target-postgres/bin/target-postgres"
        try """
            default_environment: dev
            project_id: meltano-state-real-pipelines
            environments:
            - name: dev
            \(stateBackend)plugins:
              extractors:
              - name: tap-postgres
                namespace: tap_postgres
                executable: \(tap)
                capabilities: [catalog, discover, state, about]
                settings:
                - {name: host}
                - {name: port, kind: integer}
                - {name: user}
                - {name: password, kind: password}
                - {name: database}
                - {name: filter_schemas, kind: array}
                config:
                  host: \(host)
                  port: \(port)
                  user: \(user)
                  password: x
                  database: \(database)
                  filter_schemas: [shop]
                select:
                - \(Self.stream).*
                - \(Self.customers).*
                metadata:
                  \(Self.stream):
                    replication-method: INCREMENTAL
                    replication-key: updated_at
                  \(Self.customers):
                    replication-method: INCREMENTAL
                    replication-key: version
              loaders:
              - name: target-postgres
                namespace: target_postgres
                executable: \(target)
                settings:
                - {name: host}
                - {name: port, kind: integer}
                - {name: user}
                - {name: password, kind: password}
                - {name: database}
                - {name: default_target_schema}
                config:
                  host: \(host)
                  port: \(port)
                  user: \(user)
                  password: x
                  database: \(database)
                  default_target_schema: loaded

            """.write(toFile: cli.directory + "/meltano.yml", atomically: true, encoding: .utf8)
        // Our CLI runs in the same project with the same variables, as a user's shell has them:
        // it finds the state backend in meltano.yml (or the system database) as Meltano does.
        cli.environment["MELTANO_STATE_BACKEND_URI"] = nil
        cli.environment["MELTANO_DATABASE_URI"] = meltanoEnvironment["MELTANO_DATABASE_URI"]
    }

    deinit {
        for name in Set([database, systemDatabase]) {
            _ = try? admin.query("DROP DATABASE IF EXISTS \(quoteIdentifier(name)) WITH (FORCE)")
        }
    }

    var meltanoBinary: String { stack + "/\(backend.rawValue)/bin/meltano" }

    func connection(to name: String) throws -> Connection {
        var config = try TestDatabase.configuration()
        config.database = name
        return try Connection(config)
    }

    /// Source rows `ids`, each updated at base + id hours.
    func addRows(_ ids: ClosedRange<Int>) throws {
        try connection(to: database).query("""
            INSERT INTO shop.orders SELECT g, timestamptz '\(Self.base)' + g * interval '1 hour', g % 97
            FROM generate_series(\(ids.lowerBound), \(ids.upperBound)) g
            """)
    }

    /// The replication key value tap-postgres writes for row `id` (its format, seen in its state).
    static func bookmark(ofRow id: Int) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let start = calendar.date(from: DateComponents(year: 2026, month: 11, day: 1))!
        let date = start.addingTimeInterval(Double(id) * 3600)
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.000000+00:00", parts.year!, parts.month!, parts.day!,
                      parts.hour!, parts.minute!, parts.second!)
    }

    func meltano(_ arguments: [String], extraEnvironment: [String: String] = [:], timeout: Double = 240) throws -> ProcessOutput {
        try runProcess(meltanoBinary, arguments, environment: meltanoEnvironment.merging(extraEnvironment) { $1 },
                       currentDirectory: cli.directory, timeout: timeout)
    }

    /// `meltano run tap-postgres target-postgres`, loading into `targetSchema`.
    func run(into targetSchema: String) throws -> ProcessOutput {
        try meltano(["run", "tap-postgres", "target-postgres"],
                    extraEnvironment: ["TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA": targetSchema])
    }

    /// The same run in the background, in a process group of its own (Meltano, tap and target).
    func startRun(into targetSchema: String) throws -> ChildProcess {
        let log = open(cli.directory + "/killed-run.log", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        defer { close(log) }
        return try ChildProcess(meltanoBinary, ["run", "tap-postgres", "target-postgres"],
                                environment: meltanoEnvironment.merging(["TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA": targetSchema]) { $1 },
                                currentDirectory: cli.directory, standardInput: .null, standardOutput: .descriptor(log),
                                standardError: .descriptor(log), newProcessGroup: true)
    }

    var killedRunLog: String {
        (try? String(contentsOfFile: cli.directory + "/killed-run.log", encoding: .utf8)).map { String($0.suffix(3000)) } ?? ""
    }

    /// The ids a run loaded into `targetSchema`'s `table`, in order ([] when it loaded nothing).
    func loadedIDs(in targetSchema: String, table: String = "orders") throws -> [Int] {
        let target = try connection(to: database)
        let name = "\(quoteIdentifier(targetSchema)).\(quoteIdentifier(table))"
        guard try target.query("SELECT to_regclass($1) IS NOT NULL", [name]).scalar == "t" else { return [] }
        return try target.query("SELECT id FROM \(name) ORDER BY id").rows.compactMap { $0[0].flatMap { Int($0) } }
    }

    /// The runs Meltano recorded for the pipeline, oldest first: (id, state).
    func runs() throws -> [(id: Int, state: String)] {
        try connection(to: systemDatabase).query("SELECT id, state FROM runs WHERE job_name = $1 ORDER BY id", [Self.stateID]).rows
            .map { (Int($0[0]!)!, $0[1]!) }
    }

    /// Our CLI pointed at Meltano's system database, for the runs a killed pipeline leaves
    /// (in the add-on layouts the state backend is elsewhere). Its tables are in `public`;
    /// the flag overrides the state backend's schema setting that meltano.yml gives.
    func cliOnSystemDatabase(_ arguments: [String]) throws -> ProcessOutput {
        guard backend != .systemDB else { return try cli.run(arguments) }
        let config = try TestDatabase.configuration()
        return try cli.run(arguments + ["--uri", "postgresql://\(config.user!)@\(config.host!):\(config.port!)/\(systemDatabase)", "--layout", "systemdb",
                                       "--schema", "public"])
    }

    /// A stream's bookmark in a state's JSON text, as tap-postgres writes it (the
    /// value's literal: a time's text, a number's digits); nil when it has none.
    static func replicationKeyValue(in text: String, stream name: String = stream) throws -> String? {
        guard case let .object(top) = try JSONParser.parse(text), case let .object(singer)? = top["singer_state"],
              case let .object(bookmarks)? = singer["bookmarks"], case let .object(stream)? = bookmarks[name] else { return nil }
        switch stream["replication_key_value"] {
        case let .string(value)?: return value.text
        case let .number(value)?: return value.literal
        default: return nil
        }
    }

    /// A stream's whole bookmark object as the state's compact text shows it.
    static func bookmarkText(in text: String, stream name: String) throws -> String? {
        guard case let .object(top) = try JSONParser.parse(text), case let .object(singer)? = top["singer_state"],
              case let .object(bookmarks)? = singer["bookmarks"], let stream = bookmarks[name] else { return nil }
        return stream.compactText
    }

    struct UnexpectedOutput: Error, CustomStringConvertible {
        let description: String
    }

    /// A command's stdout as JSON; a failure names the command's output, not only the parser's complaint.
    static func json(_ output: ProcessOutput, of command: String) throws -> JSONValue {
        do {
            return try JSONParser.parse(output.stdout)
        } catch {
            throw UnexpectedOutput(description: "\(command) (exit \(output.status)) printed no JSON: stdout \(output.stdout.debugDescription), stderr \(output.stderr.suffix(1500))")
        }
    }
}
