import ChildProcess
import Foundation
import Postgres
import StateJSON
import StateStore
import TestSupport
import Testing

/// A CLI process started in the background, to be signalled or watched while it runs.
final class RunningCLI: @unchecked Sendable {
    let child: ChildProcess
    let arguments: [String]
    private let done = DispatchSemaphore(value: 0)
    nonisolated(unsafe) private var output: ChildProcess.Output?
    /// Where stderr goes when it is to be read while the CLI runs (nil: a pipe).
    let standardErrorFile: String?

    /// `liveStandardError`: stderr goes to a file, so that `waitForStandardError` can
    /// see a line as soon as the CLI writes it.
    init(_ fixture: CLIFixture, _ arguments: [String], stdin: String? = nil, extraEnvironment: [String: String] = [:],
         liveStandardError: Bool = false) throws {
        self.arguments = arguments
        var errorStream = ChildProcess.Stream.pipe
        var errorFD: Int32 = -1
        if liveStandardError {
            let path = fixture.directory + "/stderr-\(UUID().uuidString)"
            errorFD = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
            guard errorFD >= 0 else { throw StoreError.other("cannot create \(path): \(String(cString: strerror(errno)))") }
            errorStream = .descriptor(errorFD)
            standardErrorFile = path
        } else {
            standardErrorFile = nil
        }
        defer { if errorFD >= 0 { close(errorFD) } }
        child = try ChildProcess(CLIFixture.binary, arguments, environment: fixture.environment.merging(extraEnvironment) { $1 },
                                 currentDirectory: fixture.directory,
                                 standardInput: .pipe, standardOutput: .pipe, standardError: errorStream)
        // Output is collected from the start, so a chatty CLI never blocks on a full pipe.
        let input = stdin.map { Array($0.utf8) }
        Thread.detachNewThread { [child, done] in
            self.output = child.communicate(input: input, timeout: 600)
            done.signal()
        }
    }

    var pid: Int32 { child.pid }
    var isRunning: Bool { child.isRunning }

    func signal(_ number: Int32) { child.signal(number) }

    /// What the CLI has written to stderr so far (only with `liveStandardError`).
    var standardErrorSoFar: String {
        standardErrorFile.flatMap { FileManager.default.contents(atPath: $0) }.map { String(decoding: $0, as: UTF8.self) } ?? ""
    }

    /// Waits until the CLI's stderr contains `text` (only with `liveStandardError`);
    /// whether it did within `timeout` seconds.
    func waitForStandardError(containing text: String, timeout: Double = 10) -> Bool {
        precondition(standardErrorFile != nil, "waitForStandardError needs liveStandardError: true")
        return waitUntil(timeout: timeout) { standardErrorSoFar.contains(text) }
    }

    /// Waits for the exit (killing the process after `timeout` seconds, recorded as a
    /// failure); the exit status, or 128 + the signal that ended it.
    func finish(timeout: Double = 20) -> FinishedCLI {
        if done.wait(timeout: .now() + timeout) == .timedOut {
            Issue.record("meltano-state \(arguments) still ran after \(timeout) s")
            child.signal(SIGKILL)
            done.wait()
        }
        let output = self.output!
        return FinishedCLI(status: output.termination?.code ?? 137,
                           stdout: String(decoding: output.standardOutput, as: UTF8.self),
                           stderr: standardErrorFile == nil ? String(decoding: output.standardError, as: UTF8.self) : standardErrorSoFar)
    }
}

struct FinishedCLI {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Waits until a backend of the CLI (application_name meltano-state) runs, or last ran,
/// a statement mentioning `marker` and containing `fragment`: proof that the CLI got as
/// far as that statement (e.g. its first try at Meltano's lock).
func waitForStatement(_ admin: Connection, marker: String, containing fragment: String, timeout: Double = 10) throws -> Int32? {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        let pid = try admin.query("""
            SELECT pid FROM pg_stat_activity
            WHERE application_name = 'meltano-state' AND position($1 in query) > 0 AND position($2 in query) > 0
            LIMIT 1
            """, [marker, fragment], idempotent: true).scalar
        if let pid, let value = Int32(pid) { return value }
        Thread.sleep(forTimeInterval: 0.02)
    }
    return nil
}

/// Every write verb of the CLI, with what it needs before it runs.
struct CLIWriteVerb: Sendable, CustomStringConvertible {
    let name: String
    /// The state ID whose lock the verb waits for (nil: a bulk verb or unlock, which
    /// refuse instead of waiting).
    var waitsForLockOf: String?
    /// The state IDs the verb reads or writes (a dead lock on any of them blocks it).
    let arguments: @Sendable (CLIFixture) throws -> [String]
    var stdin: String? = nil
    var needsEditor = false
    let prepare: @Sendable (CLIFixture) throws -> Void

    var description: String { name }

    static func setTwo(_ fixture: CLIFixture) throws {
        for (id, v) in [("a", 1), ("b", 2)] {
            let result = try fixture.run(["set", "--force", id, #"{"singer_state": {"v": \#(v)}}"#])
            guard result.status == 0 else { throw StoreError.other("prepare: \(result.stderr)") }
        }
    }

    /// 'a' and 'b' with a Singer bookmark each, for rewind and reset-stream.
    static func setBookmarks(_ fixture: CLIFixture) throws {
        for (id, v) in [("a", 10), ("b", 20)] {
            let state = #"{"singer_state": {"bookmarks": {"s": {"replication_key": "id", "replication_key_value": \#(v)}, "t": {"lsn": 5}}}}"#
            let result = try fixture.run(["set", "--force", id, state])
            guard result.status == 0 else { throw StoreError.other("prepare: \(result.stderr)") }
        }
    }

    static let all: [CLIWriteVerb] = [
        CLIWriteVerb(name: "set", waitsForLockOf: "a", arguments: { _ in ["set", "--force", "a", #"{"singer_state": {"v": "new"}}"#] }, prepare: setTwo),
        CLIWriteVerb(name: "merge", waitsForLockOf: "a", arguments: { _ in ["merge", "a", #"{"singer_state": {"w": 1}}"#] }, prepare: setTwo),
        CLIWriteVerb(name: "copy", waitsForLockOf: "b", arguments: { _ in ["copy", "--force", "a", "b"] }, prepare: setTwo),
        CLIWriteVerb(name: "move", waitsForLockOf: "b", arguments: { _ in ["move", "--force", "a", "b"] }, prepare: setTwo),
        CLIWriteVerb(name: "edit", waitsForLockOf: "a", arguments: { _ in ["edit", "--yes", "a"] }, needsEditor: true, prepare: setTwo),
        CLIWriteVerb(name: "clear", waitsForLockOf: "a", arguments: { _ in ["clear", "--force", "a"] }, prepare: setTwo),
        CLIWriteVerb(name: "clear --all", arguments: { _ in ["clear", "--all", "--force"] }, prepare: setTwo),
        CLIWriteVerb(name: "import", arguments: { _ in ["import", "-"] },
                     stdin: #"{"a": {"completed": {"singer_state": {"v": "imported"}}, "partial": {}}, "c": {"completed": {}, "partial": {"singer_state": {}}}}"#,
                     prepare: setTwo),
        CLIWriteVerb(name: "rewind", waitsForLockOf: "a", arguments: { _ in ["rewind", "a", "s", "--by", "5", "--yes"] }, prepare: setBookmarks),
        CLIWriteVerb(name: "reset-stream", waitsForLockOf: "a", arguments: { _ in ["reset-stream", "a", "t", "--yes"] }, prepare: setBookmarks),
        CLIWriteVerb(name: "unlock", arguments: { _ in ["unlock", "--yes", "a", "dead-holder"] }, prepare: { fixture in
            try setTwo(fixture)
            try fixture.admin.query("INSERT INTO \(fixture.locksTable) (state_id, lock_id) VALUES ('a', 'dead-holder')")
        }),
        CLIWriteVerb(name: "restore", waitsForLockOf: "a", arguments: { fixture in
            // The newest entry of 'a' is the second set's, which saved the first value.
            return ["restore", "--yes", try fixture.newestJournalEntryID(of: "a")]
        }, prepare: { fixture in
            try setTwo(fixture)
            _ = try fixture.run(["set", "--force", "a", #"{"singer_state": {"v": "second"}}"#])
        }),
    ]

    /// An editor (a shell script) that writes a new state, for `edit`.
    static func editor(in fixture: CLIFixture) throws -> [String: String] {
        let path = fixture.directory + "/editor.sh"
        try "#!/bin/sh\nprintf '{\"singer_state\": {\"v\": \"edited\"}}' > \"$1\"\n".write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o755)
        return ["EDITOR": path]
    }
}
