import ChildProcess
import Foundation
import Postgres
import StateJSON
import StateStore
import TestSupport
import Testing

/// A store in a fresh schema of the test server, with its own journal file.
final class StoreFixture: @unchecked Sendable {
    let admin: Connection
    let schema: String
    let store: StateStore
    let journalPath: String

    init(schemaPrefix: String = "st", layout: StorageLayout = .twoTables, lockTimeout: Double = 2,
         readOnly: Bool = false, createTables: Bool = true) throws {
        admin = try TestDatabase.connect()
        schema = try TestDatabase.freshSchema(schemaPrefix, on: admin)
        journalPath = NSTemporaryDirectory() + "meltano-state-journal-\(UUID().uuidString)/journal.jsonl"
        store = try StoreFixture.makeStore(schema: schema, layout: layout, lockTimeout: lockTimeout,
                                           readOnly: readOnly, journalPath: journalPath)
        if createTables { try store.createTablesIfMissing() }
    }

    static func makeStore(schema: String, layout: StorageLayout = .twoTables, lockTimeout: Double = 2,
                          readOnly: Bool = false, journalPath: String,
                          configuration: ConnectionConfiguration? = nil) throws -> StateStore {
        let connection = try Connection(configuration ?? TestDatabase.configuration())
        return StateStore(connection: connection, options: StoreOptions(
            schema: schema, layout: layout, lockTimeout: lockTimeout, lockRetryInterval: 0.05,
            readOnly: readOnly, journal: Journal(path: journalPath)))
    }

    deinit {
        TestDatabase.dropSchema(schema, on: admin)
        try? FileManager.default.removeItem(atPath: (journalPath as NSString).deletingLastPathComponent)
    }

    var stateTable: String { quoteIdentifier(schema) + ".meltano_state" }
    var locksTable: String { quoteIdentifier(schema) + ".meltano_state_locks" }

    /// Every row as (id, partial, completed), ordered.
    func rows() throws -> [[String?]] {
        try admin.query("SELECT state_id, partial_state, completed_state FROM \(stateTable) ORDER BY state_id").rows
    }

    func lockRows() throws -> [[String?]] {
        try admin.query("SELECT state_id, lock_id FROM \(locksTable) ORDER BY state_id").rows
    }

    func row(_ id: String) throws -> [String?]? {
        try admin.query("SELECT partial_state, completed_state FROM \(stateTable) WHERE state_id = $1", [id]).rows.first
    }
}

/// The add-on's reference model (scripts/reference/meltano_backend_ref.py), run as a
/// separate process: it takes locks and writes rows exactly as Meltano does.
enum Reference {
    static var script: String {
        ProcessInfo.processInfo.environment["MELTANO_STATE_REFERENCE"]
            ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("scripts/reference/meltano_backend_ref.py").path
    }

    static func run(_ arguments: [String], schema: String, layout: String = "two-tables", table: String? = nil,
                    lockTries: Int = 30, stdin: Data? = nil) throws -> ProcessOutput {
        var args = [script, "--dsn", try TestDatabase.dsn, "--schema", schema, "--layout", layout, "--lock-tries", String(lockTries)]
        if let table { args += ["--table", table] }
        return try runProcess("python3", args + arguments, stdin: stdin)
    }

    /// Starts the reference in the background (for hold-lock, crash-lock, hammer).
    static func start(_ arguments: [String], schema: String, layout: String = "two-tables") throws -> BackgroundReference {
        try BackgroundReference(ChildProcess(python3Executable, [script, "--dsn", try TestDatabase.dsn, "--schema", schema, "--layout", layout] + arguments,
                                             standardInput: .null, standardOutput: .pipe, standardError: .null))
    }
}

/// The reference running in the background; its JSON events are read line by line.
final class BackgroundReference {
    let child: ChildProcess
    private var buffered: [UInt8] = []
    private var ended = false

    init(_ child: ChildProcess) { self.child = child }
    deinit { child.signal(SIGKILL); child.wait() }

    var pid: Int32 { child.pid }

    /// The next line it prints ("" at its end, or after `timeout` seconds of silence).
    func readLine(timeout: Double = 60) -> String {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if let newline = buffered.firstIndex(of: 0x0A) {
                defer { buffered.removeSubrange(...newline) }
                return String(decoding: buffered[..<newline], as: UTF8.self)
            }
            guard !ended, let fd = child.standardOutput, Date() < deadline else {
                defer { buffered.removeAll() }
                return String(decoding: buffered, as: UTF8.self)
            }
            var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&entry, 1, 100) > 0 else { continue }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n > 0 { buffered += chunk[..<n] } else if n == 0 || errno != EINTR { ended = true }
        }
    }

    func terminate() { child.signal(SIGTERM) }

    /// Waits for it to end on its own (killed, and recorded as a failure, after `timeout`).
    func waitUntilExit(timeout: Double = 120) {
        if child.wait(timeout: timeout) == nil {
            Issue.record("the reference \(child.pid) still ran after \(timeout) s")
            child.signal(SIGKILL)
            child.wait()
        }
    }
}

func json(_ text: String) throws -> JSONValue { try JSONParser.parse(text) }

/// Python's json.dumps(json.loads(text)) for each text: the oracle for stored bytes.
func pythonDumps(_ texts: [String]) throws -> [String] {
    let input = texts.map { text -> String in
        // One JSON string per line carries any text safely.
        let escaped = JSONValue.string(JSONString(text)).compactText
        return escaped
    }.joined(separator: "\n") + "\n"
    let output = try runProcess("python3", ["-c", "import json,sys\nfor line in sys.stdin:\n    print(json.dumps(json.dumps(json.loads(json.loads(line)))))"], stdin: Data(input.utf8))
    return output.stdout.split(separator: "\n").map { line in
        if case let .string(s) = try! JSONParser.parse(String(line)) { return s.text }
        return ""
    }
}
