import Foundation
import StateStore
import Testing
import TestSupport

/// The backup journal cannot be written, and the database connection breaks, under
/// the real CLI: the write is refused or reported, rows and locks are left as they
/// were, and the exit code and message say so.
@Suite("CLI faults: the journal unwritable, the connection killed")
struct CLIFaultTests {
    func locks(_ fixture: CLIFixture) throws -> [[String?]] {
        try fixture.admin.query("SELECT state_id, lock_id FROM \(fixture.locksTable) ORDER BY state_id, lock_id").rows
    }

    /// A journal path that cannot be created: its parent is a regular file.
    static func parentIsAFile(_ fixture: CLIFixture) throws -> String {
        let file = fixture.directory + "/not-a-directory"
        try "x".write(toFile: file, atomically: true, encoding: .utf8)
        return file + "/journal.jsonl"
    }

    @Test(arguments: CLIWriteVerb.all.map(\.name))
    func journalUnwritableRefusesTheWrite(_ name: String) throws {
        let verb = try #require(CLIWriteVerb.all.first { $0.name == name })
        let fixture = try CLIFixture(schemaPrefix: "jfault")
        try verb.prepare(fixture)
        let arguments = try verb.arguments(fixture)
        let editor = verb.needsEditor ? try CLIWriteVerb.editor(in: fixture) : [:]
        let journalSize = (try? FileManager.default.attributesOfItem(atPath: fixture.journalPath)[.size] as? Int) ?? 0

        // Refused before the database is touched: a dead lock on what the verb would
        // lock would make it wait (or refuse with exit 3) if it got that far.
        let blocker = verb.waitsForLockOf ?? "a"
        if name != "unlock" {
            try fixture.admin.query("INSERT INTO \(fixture.locksTable) (state_id, lock_id) VALUES ($1, 'dead-holder')", [blocker])
        }
        let before = try fixture.rows(), locksBefore = try locks(fixture)
        var unwritable = [try CLIFaultTests.parentIsAFile(fixture), "/proc/meltano-state-journal.jsonl"]
        if name == "restore" { unwritable = [] }  // it must read its entry from the journal
        for journal in unwritable {
            let start = Date()
            let result = try fixture.run(arguments, stdin: verb.stdin,
                                         extraEnvironment: editor.merging(["MELTANO_STATE_LOCK_TIMEOUT": "30", "MELTANO_STATE_JOURNAL": journal]) { $1 })
            #expect(result.status == 1, "\(name), \(journal): \(result.status) \(result.stderr)")
            #expect(result.stderr.contains("Nothing was changed: the backup journal could not be written"), "\(name): \(result.stderr)")
            #expect(result.stderr.contains(journal), "\(name): the message names the journal: \(result.stderr)")
            #expect(Date().timeIntervalSince(start) < 10, "\(name): refused at once, not after waiting for the lock")
            #expect(try fixture.rows() == before, "\(name), \(journal)")
            #expect(try locks(fixture) == locksBefore, "\(name), \(journal)")
        }
        if name != "unlock" {
            try fixture.admin.query("DELETE FROM \(fixture.locksTable) WHERE lock_id = 'dead-holder'")
        }

        // The disk fills up (/dev/full: ENOSPC) or a file-size limit is reached (EFBIG)
        // while the entry is written: refused before the row is, and our lock released.
        var faults: [(environment: [String: String], limit: Int?)] = [(["MELTANO_STATE_JOURNAL": "/dev/full"], nil)]
        if name == "restore" { faults = [([:], journalSize)] }
        if name == "set" { faults.append(([:], journalSize)) }
        let rowsBefore = try fixture.rows(), locksNow = try locks(fixture)
        for fault in faults {
            var command = arguments
            var executable = CLIFixture.binary
            if let limit = fault.limit {
                command = ["--fsize=\(max(limit, 1))", "--", CLIFixture.binary] + arguments
                executable = "/usr/bin/prlimit"
            }
            let result = try runProcess(executable, command, stdin: verb.stdin.map { Data($0.utf8) },
                                        environment: fixture.environment.merging(editor) { $1 }.merging(fault.environment) { $1 },
                                        currentDirectory: fixture.directory)
            let what = "\(name), \(fault.environment["MELTANO_STATE_JOURNAL"] ?? "size limit")"
            #expect(result.status == 1, "\(what): \(result.status) \(result.stderr)")
            #expect(result.stderr.contains("backup journal could not be written"), "\(what): \(result.stderr)")
            #expect(result.stderr.contains("No space left on device") || result.stderr.contains("File too large"), "\(what): \(result.stderr)")
            #expect(try fixture.rows() == rowsBefore, "\(what)")
            #expect(try locks(fixture) == locksNow, "\(what): no lock of ours is left")
        }
        if let text = FileManager.default.contents(atPath: fixture.journalPath) {
            #expect(text.last == 0x0A || text.isEmpty, "\(name): no torn line left in the journal")
        }
    }

    /// A file-size limit (EFBIG) reached while `import`'s journal batch is being written,
    /// on its own thread while the rows go to the server: the lines written so far are
    /// taken back, the transaction is rolled back, and no lock is left.
    @Test func importJournalFullHalfWayImportsNothing() throws {
        let fixture = try CLIFixture(schemaPrefix: "jbatch")
        try CLIWriteVerb.setTwo(fixture)
        let journalBefore = try Data(contentsOf: URL(fileURLWithPath: fixture.journalPath))
        let rowsBefore = try fixture.rows(), locksBefore = try locks(fixture)
        // 5 000 states journal about 1.5 MB; the limit leaves room for 100 kB of it.
        let input = "{" + (0..<5000).map { #""s\#($0)": {"completed": {"singer_state": {"v": \#($0)}}, "partial": {}}"# }.joined(separator: ", ") + "}"
        let result = try runProcess("/usr/bin/prlimit", ["--fsize=\(journalBefore.count + 100_000)", "--", CLIFixture.binary, "import", "-"],
                                    stdin: Data(input.utf8), environment: fixture.environment, currentDirectory: fixture.directory)
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stderr.contains("backup journal could not be written"), "\(result.stderr)")
        #expect(result.stderr.contains("File too large"), "\(result.stderr)")
        #expect(try fixture.rows() == rowsBefore, "nothing imported")
        #expect(try locks(fixture) == locksBefore, "no lock of ours is left")
        #expect(try Data(contentsOf: URL(fileURLWithPath: fixture.journalPath)) == journalBefore, "the batch's lines were taken back")
    }

    /// The connection is killed while the CLI writes: exit 1, the message says the
    /// connection broke and what may have happened, no lock is left.
    @Test(arguments: ["set", "clear --all", "import", "unlock"])
    func connectionKilledMidWrite(_ name: String) throws {
        let verb = try #require(CLIWriteVerb.all.first { $0.name == name })
        let fixture = try CLIFixture(schemaPrefix: "kill")
        try verb.prepare(fixture)
        let before = try fixture.rows(), locksBefore = try locks(fixture)
        let table = name == "unlock" ? "meltano_state_locks" : "meltano_state"
        try installSlowTrigger(fixture.admin, schema: fixture.schema, table: table)
        let cli = try RunningCLI(fixture, try verb.arguments(fixture), stdin: verb.stdin)
        let backend = try #require(try waitForSleepingBackend(fixture.admin, marker: fixture.schema))
        _ = try fixture.admin.query("SELECT pg_terminate_backend($1::int)", [String(backend)])
        let result = cli.finish()
        #expect(result.status == 1, "\(name): \(result.stderr)")
        #expect(result.stderr.contains("The connection broke while trying to"), "\(name): \(result.stderr)")
        #expect(result.stderr.contains("terminating connection due to administrator command"), "\(name): \(result.stderr)")
        if name == "import" {
            // One transaction, killed before its COMMIT: known to be rolled back.
            #expect(result.stderr.contains("Nothing was imported") && result.stderr.contains("Run the import again"), "\(name): \(result.stderr)")
        } else {
            #expect(result.stderr.contains("may or may not") || result.stderr.contains("or none"), "\(name): \(result.stderr)")
        }
        #expect(!result.stderr.contains("CONTEXT"), "\(name): one readable message: \(result.stderr)")
        try dropSlowTrigger(fixture.admin, schema: fixture.schema, table: table)
        #expect(try fixture.rows() == before, "\(name): the killed statement was rolled back")
        #expect(try locks(fixture) == locksBefore, "\(name): our lock was released after reconnecting")
    }
}

/// The standard streams and input files as a shell can hand them over: stdout on a full
/// disk or a pipe nobody reads, 0, 1 or 2 closed, input from a FIFO, bytes that are not
/// UTF-8, and an editor that saves invalid JSON with no terminal to ask on.
@Suite("CLI faults: standard streams and input files")
struct StandardStreamTests {
    /// `script` run by bash with $BIN the binary, in the fixture's directory and environment.
    func bash(_ fixture: CLIFixture, _ script: String, stdin: String? = nil, extraEnvironment: [String: String] = [:],
              timeout: Double = 120) throws -> ProcessOutput {
        try runProcess("/bin/bash", ["-c", script], stdin: stdin.map { Data($0.utf8) },
                       environment: fixture.environment.merging(extraEnvironment.merging(["BIN": CLIFixture.binary]) { $1 }) { $1 },
                       currentDirectory: fixture.directory, timeout: timeout)
    }

    func journalSize(_ fixture: CLIFixture) -> Int {
        (try? FileManager.default.attributesOfItem(atPath: fixture.journalPath)[.size] as? Int) ?? 0
    }

    @Test func outputThatCannotBeWrittenIsOneLineAndExit1() throws {
        let fixture = try CLIFixture(schemaPrefix: "iofull")
        #expect(try fixture.run(["set", "--force", "dev:full", #"{"singer_state": {"page": 1}}"#]).status == 0)
        for command in ["export", "get dev:full", "list", "history", "config", "locks --json", "--help"] {
            let result = try bash(fixture, "\"$BIN\" \(command) >/dev/full")
            #expect(result.status == 1, "\(command): \(result.status) \(result.stderr)")
            #expect(result.stderr == "meltano-state: cannot write the output: No space left on device.\n", "\(command): \(result.stderr)")
        }
        // A reader that went away stays SIGPIPE's quiet end, SIGPIPE ignored or not.
        let python = """
            import os, signal, subprocess, sys
            r, w = os.pipe(); os.close(r)
            for ignore in (False, True):
                p = subprocess.run([os.environ["BIN"], "export"], stdout=w, stderr=subprocess.PIPE,
                                   preexec_fn=(lambda: signal.signal(signal.SIGPIPE, signal.SIG_IGN)) if ignore else None)
                print(p.returncode, repr(p.stderr.decode()))
            """
        let piped = try runProcess("python3", ["-c", python], environment: fixture.environment.merging(["BIN": CLIFixture.binary]) { $1 })
        #expect(piped.stdout == "-13 ''\n-13 ''\n", "\(piped.stdout) \(piped.stderr)")
    }

    @Test func closedStandardStreamsAreNeverTheDatabaseConnection() throws {
        let fixture = try CLIFixture(schemaPrefix: "ioclosed")
        #expect(try fixture.run(["set", "--force", "dev:closed", #"{"singer_state": {"page": 1}}"#]).status == 0)
        // The editor (a child, with our fds) says what fds 0, 1 and 2 are while our
        // connection is open; it leaves the text unchanged (nothing is written).
        let editor = fixture.directory + "/fds.sh"
        try """
            #!/bin/sh
            for fd in 0 1 2; do
              what=$(readlink /proc/$$/fd/$fd) || what=closed
              echo "$what" >> "$(dirname "$0")/fds"
            done
            """.write(toFile: editor, atomically: true, encoding: .utf8)
        chmod(editor, 0o755)
        for redirection in ["<&-", ">&-", "2>&-", "<&- >&- 2>&-"] {
            try? FileManager.default.removeItem(atPath: fixture.directory + "/fds")
            let result = try bash(fixture, "\"$BIN\" edit --yes dev:closed \(redirection)", extraEnvironment: ["EDITOR": editor])
            #expect(result.status == 0, "\(redirection): \(result.status) \(result.stderr)")
            let fds = (try? String(contentsOfFile: fixture.directory + "/fds", encoding: .utf8)) ?? ""
            let lines = fds.split(separator: "\n")
            #expect(lines.count == 3 && !lines.contains { $0.contains("socket") || $0 == "closed" }, "\(redirection): \(fds)")
            for (fd, word) in [(0, "<&-"), (1, ">&-"), (2, "2>&-")] where redirection.split(separator: " ").contains(Substring(word)) {
                #expect(lines.count == 3 && lines[fd] == "/dev/null", "\(redirection): fd \(fd) is \(fds)")
            }
        }
        // Output to a closed stdout or stderr goes nowhere; the command still works.
        let listed = try bash(fixture, "\"$BIN\" list >&-")
        #expect(listed.status == 0 && listed.stderr.isEmpty, "\(listed.status) \(listed.stderr)")
        let set = try bash(fixture, #""$BIN" set --force dev:closed '{"singer_state": {"page": 2}}' 2>&-; echo "status=$?""#)
        #expect(set.stdout == "status=0\n", "\(set.stdout)")
        #expect(try fixture.rows().first?[2] == #"{"singer_state": {"page": 2}}"#)
    }

    @Test func closedOrEmptyStdinIsAClearUsageError() throws {
        let fixture = try CLIFixture(schemaPrefix: "iostdin")
        #expect(try fixture.run(["set", "--force", "dev:s1", #"{"singer_state": {"page": 1}}"#]).status == 0)
        let rows = try fixture.rows()
        for command in ["set --force dev:s1 --input-file -", "merge dev:s1 --input-file -", "import --yes"] {
            for redirection in ["<&-", "</dev/null"] {
                let result = try bash(fixture, "\"$BIN\" \(command) \(redirection)")
                #expect(result.status == 2, "\(command) \(redirection): \(result.status) \(result.stderr)")
                #expect(result.stderr.hasPrefix("meltano-state: stdin is empty"), "\(command) \(redirection): \(result.stderr)")
                #expect(!result.stderr.contains("Fatal"), "\(result.stderr)")
            }
            let directory = try bash(fixture, "\"$BIN\" \(command) < /")
            #expect(directory.status == 2, "\(command) < /: \(directory.status) \(directory.stderr)")
            #expect(directory.stderr.hasPrefix("meltano-state: Cannot read stdin: Is a directory."), "\(command) < /: \(directory.stderr)")
        }
        #expect(try fixture.rows() == rows)
    }

    @Test func editWithoutATerminalStopsAtInvalidJSON() throws {
        let fixture = try CLIFixture(schemaPrefix: "ioedit")
        #expect(try fixture.run(["set", "--force", "dev:edit", #"{"singer_state": {"page": 1}}"#]).status == 0)
        let rows = try fixture.rows(), journal = journalSize(fixture)
        let editor = fixture.directory + "/bad.sh"
        try #"""
            #!/bin/sh
            echo run >> "$(dirname "$0")/runs"
            printf '{bad' > "$1"
            """#.write(toFile: editor, atomically: true, encoding: .utf8)
        chmod(editor, 0o755)
        let result = try bash(fixture, "\"$BIN\" edit --yes dev:edit </dev/null", extraEnvironment: ["EDITOR": editor], timeout: 30)
        #expect(result.status == 2, "\(result.status) \(result.stderr.suffix(300))")
        #expect(result.stderr.contains("The edited state is not valid JSON; nothing was written"), "\(result.stderr.suffix(300))")
        #expect((try? String(contentsOfFile: fixture.directory + "/runs", encoding: .utf8)) == "run\n", "the editor ran once")
        #expect(try fixture.rows() == rows)
        #expect(journalSize(fixture) == journal)
    }

    @Test func inputFilesThatArePipesAreReadAndOthersRefusedWithTheReason() throws {
        let fixture = try CLIFixture(schemaPrefix: "iofifo")
        let state = #"{"singer_state": {"page": 1}}"#
        let commands = [
            (#""$BIN" set --force dev:a --input-file <(echo '{"singer_state": {"page": 1}}')"#, "dev:a"),
            (#""$BIN" set --force dev:b --input-file /dev/stdin <<< '{"singer_state": {"page": 1}}'"#, "dev:b"),
            (#"mkfifo fifo && { echo '{"singer_state": {"page": 1}}' > fifo & } && "$BIN" set --force dev:c --input-file fifo"#, "dev:c"),
            (#""$BIN" import --yes <(echo '{"dev:d": {"completed": {"singer_state": {"page": 1}}, "partial": {}}}')"#, "dev:d"),
        ]
        for (script, stateID) in commands {
            let result = try bash(fixture, script)
            #expect(result.status == 0, "\(script): \(result.status) \(result.stderr)")
            #expect(try fixture.run(["get", stateID]).stdout == #"{"singer_state":{"page":1}}"# + "\n", "\(script)")
        }
        try FileManager.default.createDirectory(atPath: fixture.directory + "/folder", withIntermediateDirectories: true)
        var refusals = [("folder", "Cannot read folder: it is a directory."), ("missing.json", "Cannot read missing.json: No such file or directory.")]
        if geteuid() != 0 {  // root reads anything
            try state.write(toFile: fixture.directory + "/secret.json", atomically: true, encoding: .utf8)
            chmod(fixture.directory + "/secret.json", 0)
            refusals.append(("secret.json", "Cannot read secret.json: Permission denied."))
        }
        for (file, message) in refusals {
            for command in [["set", "--force", "dev:e", "--input-file", file], ["import", "--yes", file]] {
                let result = try fixture.run(command)
                #expect(result.status == 2, "\(command): \(result.status) \(result.stderr)")
                #expect(result.stderr.hasPrefix("meltano-state: " + message), "\(command): \(result.stderr)")
            }
        }
    }

    @Test func textThatIsNotUTF8IsRefusedNotRepaired() throws {
        let fixture = try CLIFixture(schemaPrefix: "ioutf8")
        #expect(try fixture.run(["set", "--force", "dev:x", #"{"singer_state": {"page": 1}}"#]).status == 0)
        let rows = try fixture.rows(), journal = journalSize(fixture)
        let latin1 = #"printf '{"singer_state":{"bookmarks":{"s":{"v":"caf\xe9"}}}}' > l1.json; "#
        let importFile = #"printf '{"dev:x":{"completed":{"singer_state":{"v":"caf\xe9"}},"partial":{}}}' > l1-import.json; "#
        for (script, offset) in [(latin1 + #""$BIN" set --force dev:x --input-file l1.json"#, 43),
                                 (latin1 + #""$BIN" merge dev:x --input-file l1.json"#, 43),
                                 (latin1 + #""$BIN" set --force dev:x --input-file - < l1.json"#, 43),
                                 (importFile + #""$BIN" import --yes l1-import.json"#, 47)] {
            let result = try bash(fixture, script)
            #expect(result.status == 2, "\(script): \(result.status) \(result.stderr)")
            #expect(result.stderr.contains("is not UTF-8: Invalid UTF-8 (byte 0xE9) at byte offset \(offset) "), "\(script): \(result.stderr)")
        }
        // Arguments: Swift would have made the byte U+FFFD; the raw argv is checked.
        for script in [#""$BIN" set --force "$(printf 'a\377b')" '{"singer_state": {}}'"#,
                       #""$BIN" set --force dev:x "$(printf '{"singer_state": {"v": "caf\351"}}')""#] {
            let result = try bash(fixture, script)
            #expect(result.status == 2, "\(script): \(result.status) \(result.stderr)")
            #expect(result.stderr.contains("is not UTF-8: Invalid UTF-8"), "\(script): \(result.stderr)")
        }
        // A lone surrogate escape in an import file's ID: the ID rule refuses it.
        let surrogate = try bash(fixture, #""$BIN" import --yes <<< '{"dev:\ud800": {"completed": {"singer_state": {}}, "partial": {}}}'"#)
        #expect(surrogate.status == 2, "\(surrogate.status) \(surrogate.stderr)")
        #expect(surrogate.stderr.contains("lone UTF-16 surrogate"), "\(surrogate.stderr)")
        #expect(try fixture.rows() == rows)
        #expect(journalSize(fixture) == journal)
    }
}
