import Foundation
import Postgres
import StateJSON
import StateStore
import Testing
import TestSupport

/// One command of the README's shell blocks, in one of its forms: `list [--pattern 'prod:*']`
/// is the two forms `list` and `list --pattern 'prod:*'`; `config [--json] | check | init`
/// is `config`, `config --json`, `check` and `init`.
struct ReadmeCommand: Sendable, Hashable, CustomTestStringConvertible {
    /// The heading above the block (the same command may appear in two sections).
    var section: String
    /// The command with one choice of its optional `[parts]`, spaces collapsed.
    var form: String
    /// The README line as written, comment included.
    var line: String
    /// The line's comment carries `Readme.notRunMarker`.
    var notRun: Bool

    var key: String { "\(section): \(form)" }
    var testDescription: String { key }
}

enum Readme {
    /// What a README command's comment says when the tests do not run it (and the
    /// README says why, beside it or in its "Tests" section).
    static let notRunMarker = "not run by the tests"
    /// The README's placeholders: an argument the reader replaces with a value of their own.
    static let placeholders: Set<String> = ["ID", "SRC", "DST", "STATE_ID", "LOCK_ID", "ENTRY_OR_BATCH", "RUN_ID"]
    /// The state in `'{"singer_state": {...}}'`.
    static let elidedJSON = "{...}"

    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    static func text() throws -> String {
        try String(contentsOfFile: root + "/README.md", encoding: .utf8)
    }

    /// Every command of every fenced block, each optional part expanded.
    static func commands(in readme: String) -> [ReadmeCommand] {
        var section = ""
        var inBlock = false
        var commands: [ReadmeCommand] = []
        for raw in readme.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = String(raw)
            if line.hasPrefix("```") { inBlock.toggle(); continue }
            guard inBlock else {
                if line.hasPrefix("#") { section = String(line.drop { $0 == "#" }).trimmingCharacters(in: .whitespaces) }
                continue
            }
            let parts = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)
            let code = parts[0].trimmingCharacters(in: .whitespaces)
            guard !code.isEmpty else { continue }
            let notRun = parts.count > 1 && parts[1].contains(notRunMarker)
            for form in forms(of: code) {
                commands.append(ReadmeCommand(section: section, form: form, line: line, notRun: notRun))
            }
        }
        return commands
    }

    /// The code blocks' opening fences that are not ```sh (their commands would be
    /// read as shell all the same).
    static func fencesThatAreNotShell(in readme: String) -> [String] {
        var inBlock = false
        var found: [String] = []
        for line in readme.split(separator: "\n") where line.hasPrefix("```") {
            if !inBlock && line != "```sh" { found.append(String(line)) }
            inBlock.toggle()
        }
        return found
    }

    /// `a [b] | c | d`: alternatives (later ones single words, sharing the first's
    /// program), each with and without each optional part.
    static func forms(of code: String) -> [String] {
        let alternatives = code.components(separatedBy: " | ").map { $0.trimmingCharacters(in: .whitespaces) }
        guard alternatives.count > 1, alternatives.dropFirst().allSatisfy({ !$0.contains(" ") }) else {
            return expandingOptionalParts(code)
        }
        let program = alternatives[0].split(separator: " ").first.map(String.init) ?? ""
        return alternatives.enumerated().flatMap { index, alternative in
            expandingOptionalParts(index == 0 ? alternative : program + " " + alternative)
        }
    }

    static func expandingOptionalParts(_ text: String) -> [String] {
        guard let open = text.firstIndex(of: "["), let close = text[open...].firstIndex(of: "]") else {
            return [text.split(separator: " ").joined(separator: " ")]
        }
        let before = text[..<open], inside = text[text.index(after: open)..<close], after = text[text.index(after: close)...]
        return expandingOptionalParts(String(before + after)) + expandingOptionalParts(String(before + inside + after))
    }
}

/// A scratch world for one README command: its own schema on the test server, HOME,
/// journal and working directory, and `meltano-state` on the PATH as the built binary,
/// so each command runs through /bin/sh exactly as written (quotes, redirections and
/// all) once its placeholders are given values.
final class ReadmeSandbox: @unchecked Sendable {
    let cli: CLIFixture
    var workingDirectory: String
    var environment: [String: String]

    init() throws {
        cli = try CLIFixture(schemaPrefix: "readme")
        let bin = cli.directory + "/bin"
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: bin + "/meltano-state", withDestinationPath: CLIFixture.binary)
        environment = cli.environment
        environment["PATH"] = bin + ":" + (cli.environment["PATH"] ?? "/usr/bin:/bin")
        workingDirectory = cli.directory
    }

    var home: String { environment["HOME"]! }
    var schema: String { cli.schema }
    var admin: Connection { cli.admin }

    /// The command as the shell runs it: each placeholder word replaced by its value
    /// (quoted for the shell when it needs it), `{...}` by JSON. A placeholder left
    /// without a value, or a value for a placeholder the command does not have, is a
    /// failure: the README changed under the test.
    func shellLine(_ command: ReadmeCommand, _ values: [String: String]) -> String {
        var used: Set<String> = []
        var words: [String] = []
        for word in command.form.split(separator: " ").map(String.init) {
            if let value = values[word], Readme.placeholders.contains(word) {
                words.append(shellWord(value))
                used.insert(word)
            } else if word.contains(Readme.elidedJSON), let json = values[Readme.elidedJSON] {
                words.append(word.replacingOccurrences(of: Readme.elidedJSON, with: json))
                used.insert(Readme.elidedJSON)
            } else {
                if Readme.placeholders.contains(word) || word.contains(Readme.elidedJSON) {
                    Issue.record("`\(command.form)`: no value for \(word)")
                }
                words.append(word)
            }
        }
        for unused in Set(values.keys).subtracting(used) {
            Issue.record("`\(command.form)` has no placeholder \(unused) any more")
        }
        return words.joined(separator: " ")
    }

    /// Runs the command through /bin/sh without a terminal; `probe` (shell text run
    /// after it in the same shell) observes what a command like `cd` did.
    @discardableResult
    func run(_ command: ReadmeCommand, _ values: [String: String] = [:], probe: String? = nil) throws -> ProcessOutput {
        let line = shellLine(command, values) + (probe.map { "\n" + $0 } ?? "")
        return try runProcess("/bin/sh", ["-c", line], environment: environment, currentDirectory: workingDirectory, timeout: 60)
    }

    /// Runs the command on a terminal (a private tmux server): for each step, waits
    /// until the screen shows `waitFor`, then types `keys`. Returns the exit status and
    /// the last screen.
    func runOnTerminal(_ command: ReadmeCommand, _ values: [String: String] = [:],
                       steps: [(waitFor: String, keys: [String])]) throws -> (status: Int32?, screen: String) {
        let line = shellLine(command, values)
        var terminalEnvironment = environment
        terminalEnvironment["TERM"] = "screen"
        let assignments = terminalEnvironment.sorted { $0.key < $1.key }.map { "\($0.key)=\(shellQuoted($0.value))" }.joined(separator: " ")
        // A tmux server of its own, its socket in the sandbox (removed with it), so
        // parallel cases never race to start a shared one.
        let socket = cli.directory + "/tmux-\(UUID().uuidString.prefix(8))"
        let session = "readme"
        // When the command ends: its status on the screen, then a wake-up on the channel
        // `exited` (remembered if nobody waits yet); `exec cat` keeps the pane and its last
        // screen until the server is killed.
        let script = "cd \(shellQuoted(workingDirectory)) && env -i \(assignments) /bin/sh -c \(shellQuoted(line)); echo \"EXIT=$?.\"; tmux -S \(shellQuoted(socket)) wait-for -S exited; exec cat"
        let started = try runProcess("tmux", ["-S", socket, "new-session", "-d", "-s", session, "-x", "120", "-y", "35", script])
        try #require(started.status == 0, "tmux: \(started.stderr)")
        defer { _ = try? runProcess("tmux", ["-S", socket, "kill-server"]) }
        func screen() -> String {
            (try? runProcess("tmux", ["-S", socket, "capture-pane", "-p", "-J", "-t", session]))?.stdout ?? ""
        }
        func waitFor(_ text: String) throws -> String {
            var shown = ""
            let deadline = Date().addingTimeInterval(20)
            while Date() < deadline {
                shown = screen()
                if shown.contains(text) { return shown }
                Thread.sleep(forTimeInterval: 0.1)  // polling interval of a wait for the screen, bounded by the deadline
            }
            Issue.record("`\(line)`: waited for \"\(text)\"; the screen shows:\n\(shown)")
            throw CancellationError()
        }
        for step in steps {
            _ = try waitFor(step.waitFor)
            _ = try runProcess("tmux", ["-S", socket, "send-keys", "-t", session] + step.keys)
        }
        let exited = try runProcess("tmux", ["-S", socket, "wait-for", "exited"], timeout: 30)
        let last = screen()
        #expect(exited.status == 0 && last.contains("EXIT="), "`\(line)` did not end; the screen shows:\n\(last)")
        let status = last.components(separatedBy: "EXIT=").last?.split(separator: ".").first.flatMap { Int32($0) }
        return (status, last)
    }

    // MARK: Seeding, through SQL (not the program under test)

    /// The add-on's two tables (its exact DDL, as `init` creates them).
    func createStateTables() throws {
        try admin.query("CREATE TABLE \(cli.stateTable) (state_id VARCHAR(900) PRIMARY KEY, partial_state TEXT, completed_state TEXT, updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP)")
        try admin.query("CREATE TABLE \(cli.locksTable) (state_id VARCHAR(900) PRIMARY KEY, locked_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, lock_id VARCHAR(255))")
    }

    /// A row as the add-on writes it (json.dumps text; an empty part is NULL).
    func insertState(_ stateID: String, completed: String? = nil, partial: String? = nil) throws {
        try admin.query("INSERT INTO \(cli.stateTable) (state_id, partial_state, completed_state) VALUES ($1, $2, $3)",
                        [stateID, partial, completed])
    }

    /// A lock row as a pipeline leaves it, taken `minutesAgo`.
    func insertLock(_ stateID: String, lockID: String, minutesAgo: Int) throws {
        try admin.query("INSERT INTO \(cli.locksTable) (state_id, lock_id, locked_at) VALUES ($1, $2, LOCALTIMESTAMP - make_interval(mins => $3::int))",
                        [stateID, lockID, String(minutesAgo)])
    }

    /// [state_id: (partial, completed)] of every row.
    func rows() throws -> [String: [String?]] {
        var out: [String: [String?]] = [:]
        for row in try cli.rows() { out[row[0]!] = [row[1], row[2]] }
        return out
    }

    func lockIDs() throws -> [String] {
        try admin.query("SELECT lock_id FROM \(cli.locksTable) ORDER BY lock_id").rows.map { $0[0] ?? "" }
    }

    /// The journal as `history --json` prints it (newest first), for checks.
    func journal() throws -> [[String: Any]] {
        let output = try cli.run(["history", "--json", "--limit", "0"])
        return output.stdout.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    /// A Meltano project at ~/my-meltano-project whose meltano.yml names this schema;
    /// the environment no longer does.
    @discardableResult
    func makeProject() throws -> String {
        let config = try TestDatabase.configuration()
        let project = home + "/my-meltano-project"
        try FileManager.default.createDirectory(atPath: project, withIntermediateDirectories: true)
        try """
            version: 1
            default_environment: dev
            project_id: readme
            state_backend:
              uri: postgres://\(config.user!)@\(config.host!):\(config.port!)/\(config.database!)/\(schema)
            environments:
            - name: dev

            """.write(toFile: project + "/meltano.yml", atomically: true, encoding: .utf8)
        environment["MELTANO_STATE_BACKEND_URI"] = nil
        return project
    }

    /// Meltano's system database tables in this schema, reached as a user does:
    /// MELTANO_DATABASE_URI (its search_path naming the schema), no state backend URI.
    func useSystemDatabase() throws {
        let config = try TestDatabase.configuration()
        let schemaTables = quoteIdentifier(schema)
        try admin.query("""
            CREATE TABLE \(schemaTables).runs (id SERIAL PRIMARY KEY, job_name VARCHAR, state VARCHAR,
                started_at TIMESTAMP WITHOUT TIME ZONE, ended_at TIMESTAMP WITHOUT TIME ZONE, payload VARCHAR,
                payload_flags INTEGER, run_id UUID, trigger VARCHAR, last_heartbeat_at TIMESTAMP WITHOUT TIME ZONE)
            """)
        try admin.query("""
            CREATE TABLE \(schemaTables).state (state_id VARCHAR(900) NOT NULL, partial_state VARCHAR, completed_state VARCHAR,
                updated_at TIMESTAMP WITHOUT TIME ZONE, PRIMARY KEY (state_id), UNIQUE (state_id))
            """)
        environment["MELTANO_STATE_BACKEND_URI"] = nil
        environment["MELTANO_DATABASE_URI"] = "postgresql+psycopg://\(config.user!)@\(config.host!):\(config.port!)/\(config.database!)?options=-csearch_path%3D\(schema)"
    }

    /// A `runs` row as `meltano run` writes it (UTC times); returns its id.
    func insertRun(_ jobName: String, state: String = "RUNNING", heartbeatSecondsAgo: Int) throws -> String {
        try admin.query("""
            INSERT INTO \(quoteIdentifier(schema)).runs (job_name, state, started_at, last_heartbeat_at, payload, payload_flags, run_id, trigger)
            VALUES ($1, $2, (now() AT TIME ZONE 'UTC') - interval '2 hours',
                    (now() AT TIME ZONE 'UTC') - make_interval(secs => $3::int), '{"state": {}}', 0, gen_random_uuid(), 'cli')
            RETURNING id::text
            """, [jobName, state, String(heartbeatSecondsAgo)]).rows.first?.first.flatMap { $0 } ?? ""
    }

    func run(id: String) throws -> (state: String?, ended: Bool) {
        let row = try admin.query("SELECT state, ended_at IS NOT NULL FROM \(quoteIdentifier(schema)).runs WHERE id = $1::int", [id]).rows.first
        return (row?[0], row?[1] == "t")
    }
}

func shellQuoted(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'" }

/// A value as one shell word: as it is when it needs no quoting.
func shellWord(_ text: String) -> String {
    let plain = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:_./-")
    return !text.isEmpty && text.unicodeScalars.allSatisfy(plain.contains) ? text : shellQuoted(text)
}

/// Lines of a JSON-lines or JSON-array output, parsed with Foundation (for checks).
func jsonArray(_ text: String) -> [[String: Any]] {
    (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [[String: Any]] ?? []
}
