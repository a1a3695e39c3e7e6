import Foundation
import Postgres
import StateJSON
import StateStore
import TestSupport

/// Runs the real `meltano-state` binary (built by scripts/test, found through
/// MELTANO_STATE_BIN) in a scratch directory with its own HOME and journal, pointed
/// at a fresh schema of the test server through Meltano's own environment variables.
final class CLIFixture: @unchecked Sendable {
    let admin: Connection
    let schema: String
    let directory: String
    let journalPath: String
    var environment: [String: String]

    /// `server`: a server of the test's own (one it restarts), instead of the shared one.
    init(schemaPrefix: String = "cli", server: ConnectionConfiguration? = nil) throws {
        let config = try server ?? TestDatabase.configuration()
        admin = try Connection(config)
        schema = try TestDatabase.freshSchema(schemaPrefix, on: admin)
        directory = NSTemporaryDirectory() + "meltano-state-cli-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory + "/home", withIntermediateDirectories: true)
        journalPath = directory + "/journal.jsonl"
        environment = [
            "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin",
            "HOME": directory + "/home",
            "LANG": "C.UTF-8",
            "MELTANO_STATE_BACKEND_URI": "postgres://\(config.user!)@\(config.host!):\(config.port!)/\(config.database!)/\(schema)",
            "MELTANO_STATE_JOURNAL": journalPath,
            "MELTANO_STATE_LOCK_TIMEOUT": "1",
        ]
    }

    deinit {
        TestDatabase.dropSchema(schema, on: admin)
        try? FileManager.default.removeItem(atPath: directory)
    }

    static var binary: String {
        if let path = ProcessInfo.processInfo.environment["MELTANO_STATE_BIN"] { return path }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent(".build/debug/meltano-state").path
    }

    @discardableResult
    func run(_ arguments: [String], stdin: String? = nil, extraEnvironment: [String: String] = [:]) throws -> ProcessOutput {
        try runProcess(CLIFixture.binary, arguments, stdin: stdin.map { Data($0.utf8) },
                       environment: environment.merging(extraEnvironment) { $1 }, currentDirectory: directory)
    }

    /// The ID of the newest journal entry of `stateID`, as `history --json` lists it.
    func newestJournalEntryID(of stateID: String) throws -> String {
        let history = try run(["history", "--json", stateID])
        guard let line = history.stdout.split(separator: "\n").first,
              case let .object(entry) = try JSONParser.parse(String(line)), case let .string(id)? = entry["id"] else {
            throw StoreError.other("no journal entry: \(history.stdout) \(history.stderr)")
        }
        return id.text
    }

    var stateTable: String { quoteIdentifier(schema) + ".meltano_state" }
    var locksTable: String { quoteIdentifier(schema) + ".meltano_state_locks" }

    func rows() throws -> [[String?]] {
        try admin.query("SELECT state_id, partial_state, completed_state FROM \(stateTable) ORDER BY state_id").rows
    }
}

enum Reference {
    static var script: String {
        ProcessInfo.processInfo.environment["MELTANO_STATE_REFERENCE"]
            ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("scripts/reference/meltano_backend_ref.py").path
    }

    static func run(_ arguments: [String], schema: String, stdin: String? = nil) throws -> ProcessOutput {
        try runProcess("python3", [script, "--dsn", try TestDatabase.dsn, "--schema", schema, "--lock-tries", "2"] + arguments,
                       stdin: stdin.map { Data($0.utf8) })
    }
}
