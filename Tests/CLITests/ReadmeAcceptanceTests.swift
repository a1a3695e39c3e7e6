import Foundation
import Postgres
import StateJSON
import StateStore
import Testing
import TestSupport

/// Issue 16, "test the path the user takes": every command of the README's shell
/// blocks runs, as written (placeholders given values), against a schema of the test
/// server seeded for it, with the effect the README describes. A command added to the
/// README without an entry in `effects` fails, and so does an entry whose command the
/// README no longer shows. The only commands not run are those whose comment in the
/// README says "(not run by the tests)".
@Suite("README commands, run")
struct ReadmeAcceptanceTests {
    static let commands: [ReadmeCommand] = Readme.commands(in: (try? Readme.text()) ?? "")

    @Test func everyReadmeCommandHasAnEffectHereAndEveryEffectACommand() throws {
        let readme = try Readme.text()
        #expect(Readme.fencesThatAreNotShell(in: readme).isEmpty, "every code block is ```sh")
        let commands = Readme.commands(in: readme)
        #expect(commands.count >= 47, "found \(commands.count) commands")
        let keys = commands.map(\.key)
        #expect(Set(keys).count == keys.count, "a command twice in one section: \(keys)")
        for command in commands where command.notRun {
            #expect(Self.effects[command.key] == nil, "`\(command.form)` is marked \(Readme.notRunMarker) but has an effect here")
        }
        for command in commands where !command.notRun {
            #expect(Self.effects[command.key] != nil, "the README shows `\(command.form)` (\(command.section)), and nothing here runs it")
        }
        for key in Self.effects.keys where !keys.contains(key) {
            Issue.record("an effect for `\(key)`, which the README no longer shows")
        }
        // The marked ones are exactly these, each for the reason the README gives.
        #expect(commands.filter(\.notRun).map(\.form) == ["make test", "make bench", "scripts/bench --quick"])
        #expect(readme.contains("whose comment says *\(Readme.notRunMarker)*"), "the README says which commands the tests leave out")
    }

    @Test(arguments: commands.filter { !$0.notRun })
    func readmeCommandDoesWhatTheReadmeSays(_ command: ReadmeCommand) throws {
        switch try #require(Self.effects[command.key], "no effect for `\(command.key)`") {
        case let .run(check):
            try check(ReadmeSandbox(), command)
        case let .ranBy(test, commandLine):
            // Run in full by another test (which starts a server of its own): the
            // command it runs is this one.
            #expect(commandLine == command.form, "\(test) runs `\(commandLine)`, the README shows `\(command.form)`")
        }
    }

    enum Effect: Sendable {
        case run(@Sendable (ReadmeSandbox, ReadmeCommand) throws -> Void)
        case ranBy(String, command: String)
    }

    static let github = "prod:tap-github-to-target-postgres"

    /// The README commands (section: form) and what each must do.
    static let effects: [String: Effect] = [
        "meltano-state: make demo": .ranBy("FirstCommandsTests", command: FirstCommandsTests.readmeCommand),

        // MARK: Using it on your Meltano project

        "Using it on your Meltano project: cd ~/my-meltano-project": .run { sandbox, command in
            let project = try sandbox.makeProject()
            let result = try sandbox.run(command, probe: "pwd")
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout == project + "\n")
        },
        "Using it on your Meltano project: meltano-state config": .run { sandbox, command in
            let project = try sandbox.makeProject()
            sandbox.workingDirectory = project
            let password = "Readme-\(UUID().uuidString.prefix(8))"
            try "MELTANO_STATE_BACKEND_POSTGRES_PASSWORD=\(password)\n".write(toFile: project + "/.env", atomically: true, encoding: .utf8)
            let result = try sandbox.run(command)
            #expect(result.status == 0, "\(result.stderr)")
            #expect(!result.stdout.contains(password) && !result.stderr.contains(password), "the password as ********")
            let passwordLine = result.stdout.split(separator: "\n").first { $0.contains("password") && $0.contains(".env:1") }
            #expect(passwordLine?.contains("********") == true, "\(result.stdout)")
            // Every effective setting and where it came from: the URI from meltano.yml.
            let uriLine = result.stdout.split(separator: "\n").first { $0.contains("state_backend.uri") }
            #expect(uriLine?.contains(sandbox.schema) == true && uriLine?.contains("meltano.yml:5") == true, "\(result.stdout)")
            #expect(result.stdout.contains("lock_timeout"), "this tool's own settings too: \(result.stdout)")
        },
        "Using it on your Meltano project: meltano-state check": .run { sandbox, command in
            sandbox.workingDirectory = try sandbox.makeProject()
            try sandbox.createStateTables()
            try sandbox.insertState(github, completed: #"{"singer_state": {}}"#)
            let result = try sandbox.run(command)
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.contains("Connected to"))
            #expect(result.stdout.contains("Schema: \(sandbox.schema)"))
            #expect(result.stdout.contains("Found: two-tables, table \(sandbox.schema).meltano_state (in use)")
                    || result.stdout.contains("Found: two-tables"), "says which tables it found: \(result.stdout)")
            #expect(result.stdout.contains("States: 1; locks held: 0"), "\(result.stdout)")
        },
        "Using it on your Meltano project: meltano-state": .run { sandbox, command in
            sandbox.workingDirectory = try sandbox.makeProject()
            try sandbox.createStateTables()
            try sandbox.insertState(github, completed: #"{"singer_state": {"bookmarks": {"issues": {"since": "2024-05-01"}}}}"#)
            try sandbox.insertLock(github, lockID: "lock-of-a-dead-run", minutesAgo: 90)
            // On a terminal: the browser, on the project's state.
            let (status, screen) = try sandbox.runOnTerminal(command, steps: [
                (waitFor: "lock-of-a-dead-run", keys: ["q"]),
            ])
            #expect(status == 0, "\(screen)")
            #expect(try sandbox.rows().count == 1)
        },

        // MARK: The CLI

        "The CLI: meltano-state list": .run { sandbox, command in
            try sandbox.createStateTables()
            let ids = [github, "prod:tap-stripe-to-target-postgres", "dev:tap-github-to-target-postgres", "prod_x"]
            for id in ids { try sandbox.insertState(id, completed: #"{"singer_state": {}}"#) }
            let result = try sandbox.run(command)
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.hasSuffix("\n"))
            #expect(result.stdout.split(separator: "\n").map(String.init).sorted() == ids.sorted(), "one ID per line: \(result.stdout)")
        },
        "The CLI: meltano-state list --pattern 'prod:*'": .run { sandbox, command in
            try sandbox.createStateTables()
            for id in [github, "prod:tap-stripe-to-target-postgres", "dev:tap-github-to-target-postgres", "prod_x", "dev:prod:x", "prod:"] {
                try sandbox.insertState(id, completed: #"{"singer_state": {}}"#)
            }
            let result = try sandbox.run(command)
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init).sorted()
                    == ["", "prod:", github, "prod:tap-stripe-to-target-postgres"], "exactly the matching IDs: \(result.stdout)")
        },
        "The CLI: meltano-state get prod:tap-github-to-target-postgres": .run { sandbox, command in
            try sandbox.createStateTables()
            let absent = try sandbox.run(command)
            #expect(absent.status == 0, "\(absent.stderr)")
            #expect(absent.stdout == "{}\n", "{} when absent")
            try sandbox.insertState(github, completed: #"{"singer_state": {"bookmarks": {"issues": {"since": "2024-05-01T00:00:00Z"}}}}"#,
                                    partial: #"{"singer_state": {"bookmarks": {"pulls": {"since": "2024-06-01"}}}}"#)
            let result = try sandbox.run(command)
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout == #"{"singer_state":{"bookmarks":{"issues":{"since":"2024-05-01T00:00:00Z"},"pulls":{"since":"2024-06-01"}}}}"# + "\n",
                    "compact JSON, partial merged onto completed")
        },
        #"The CLI: meltano-state set --force ID '{"singer_state": {...}}'"#: .run { sandbox, command in
            try sandbox.createStateTables()
            try sandbox.insertState("dev:tap-x-to-y", completed: #"{"singer_state": {"v": 1}}"#, partial: #"{"singer_state": {"p": 1}}"#)
            let result = try sandbox.run(command, ["ID": "dev:tap-x-to-y", "{...}": #"{"bookmarks": {"t": {"v": 2}}}"#])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(try sandbox.rows() == ["dev:tap-x-to-y": [nil, #"{"singer_state": {"bookmarks": {"t": {"v": 2}}}}"#]],
                    "completed = the value, partial cleared")
            let entry = try sandbox.journal().first
            #expect(entry?["action"] as? String == "set" && entry?["state_id"] as? String == "dev:tap-x-to-y")
            // The comment's alternatives: --input-file F; --no-validate for a state without singer_state.
            try #"{"singer_state": {"from": "file"}}"#.write(toFile: sandbox.workingDirectory + "/F", atomically: true, encoding: .utf8)
            #expect(try sandbox.cli.run(["set", "--force", "dev:f", "--input-file", "F"]).status == 0)
            #expect(try sandbox.rows()["dev:f"] == [nil, #"{"singer_state": {"from": "file"}}"#])
            #expect(try sandbox.cli.run(["set", "--force", "dev:n", #"{"other": 1}"#]).status != 0)
            #expect(try sandbox.cli.run(["set", "--force", "dev:n", #"{"other": 1}"#, "--no-validate"]).status == 0)
            #expect(try sandbox.rows()["dev:n"] == [nil, #"{"other": 1}"#])
        },
        #"The CLI: meltano-state merge ID '{"singer_state": {...}}'"#: .run { sandbox, command in
            try sandbox.createStateTables()
            try sandbox.insertState("dev:tap-x-to-y", completed: #"{"singer_state": {"bookmarks": {"a": 1}}}"#)
            let result = try sandbox.run(command, ["ID": "dev:tap-x-to-y", "{...}": #"{"bookmarks": {"b": 2}}"#])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(try sandbox.rows()["dev:tap-x-to-y"]?[1] == #"{"singer_state": {"bookmarks": {"a": 1}}}"#, "completed left as it was")
            #expect(try sandbox.cli.run(["get", "dev:tap-x-to-y"]).stdout == #"{"singer_state":{"bookmarks":{"a":1,"b":2}}}"# + "\n",
                    "the next run sees both")
            // The comment's alternatives: --input-file F, --from-state-id SRC.
            try #"{"singer_state": {"bookmarks": {"c": 3}}}"#.write(toFile: sandbox.workingDirectory + "/F", atomically: true, encoding: .utf8)
            #expect(try sandbox.cli.run(["merge", "dev:tap-x-to-y", "--input-file", "F"]).status == 0)
            try sandbox.insertState("dev:src", completed: #"{"singer_state": {"bookmarks": {"d": 4}}}"#)
            #expect(try sandbox.cli.run(["merge", "dev:tap-x-to-y", "--from-state-id", "dev:src"]).status == 0)
            #expect(try sandbox.cli.run(["get", "dev:tap-x-to-y"]).stdout == #"{"singer_state":{"bookmarks":{"a":1,"b":2,"c":3,"d":4}}}"# + "\n")
        },
        "The CLI: meltano-state copy --force SRC DST": .run { sandbox, command in
            try sandbox.createStateTables()
            try sandbox.insertState("dev:src", completed: #"{"singer_state": {"a": 1}}"#, partial: #"{"singer_state": {"b": 2}}"#)
            try sandbox.insertState("dev:dst", completed: #"{"singer_state": {"old": true}}"#)
            let result = try sandbox.run(command, ["SRC": "dev:src", "DST": "dev:dst"])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(try sandbox.rows() == [
                "dev:src": [#"{"singer_state": {"b": 2}}"#, #"{"singer_state": {"a": 1}}"#],
                "dev:dst": [nil, #"{"singer_state": {"a": 1, "b": 2}}"#],
            ])
        },
        "The CLI: meltano-state move --force SRC DST": .run { sandbox, command in
            try sandbox.createStateTables()
            try sandbox.insertState("dev:src", completed: #"{"singer_state": {"a": 1}}"#, partial: #"{"singer_state": {"b": 2}}"#)
            let result = try sandbox.run(command, ["SRC": "dev:src", "DST": "prod:dst"])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(try sandbox.rows() == ["prod:dst": [nil, #"{"singer_state": {"a": 1, "b": 2}}"#]])
        },
        "The CLI: meltano-state edit ID": .run { sandbox, command in
            try sandbox.createStateTables()
            try sandbox.insertState("dev:tap-x-to-y", completed: #"{"singer_state": {"page": 17}}"#)
            let editor = sandbox.cli.directory + "/editor.sh"
            try "#!/bin/sh\nsed -i -e 's/\"page\": 17/\"page\": 18/' \"$1\"\n".write(toFile: editor, atomically: true, encoding: .utf8)
            chmod(editor, 0o755)
            // $VISUAL first, as git does; $EDITOR only without it.
            sandbox.environment["VISUAL"] = editor
            sandbox.environment["EDITOR"] = "/bin/false"
            let (status, screen) = try sandbox.runOnTerminal(command, ["ID": "dev:tap-x-to-y"], steps: [
                (waitFor: "Write this state to 'dev:tap-x-to-y'? [y/N]", keys: ["y", "Enter"]),
            ])
            #expect(status == 0, "\(screen)")
            #expect(screen.contains("17") && screen.contains("18"), "the diff is shown before writing: \(screen)")
            #expect(try sandbox.rows() == ["dev:tap-x-to-y": [nil, #"{"singer_state": {"page": 18}}"#]])
        },
        "The CLI: meltano-state clear --force ID": .run { sandbox, command in
            try sandbox.createStateTables()
            try sandbox.insertState("dev:a", completed: #"{"singer_state": {"a": 1}}"#)
            try sandbox.insertState("dev:b", completed: #"{"singer_state": {"b": 1}}"#)
            let result = try sandbox.run(command, ["ID": "dev:a"])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(try sandbox.rows() == ["dev:b": [nil, #"{"singer_state": {"b": 1}}"#]])
            #expect(try sandbox.journal().first?["action"] as? String == "clear")
        },
        "The CLI: meltano-state clear --all --force": .run { sandbox, command in
            try sandbox.createStateTables()
            for id in ["dev:a", "dev:b", "prod:c"] { try sandbox.insertState(id, completed: #"{"singer_state": {}}"#) }
            try sandbox.insertLock("prod:c", lockID: "a-running-pipeline", minutesAgo: 0)
            let refused = try sandbox.run(command)
            #expect(refused.status == 3, "refused while any lock is held: \(refused.stderr)")
            #expect(refused.stderr.contains("a-running-pipeline"), "\(refused.stderr)")
            #expect(try sandbox.rows().count == 3)
            try sandbox.admin.query("DELETE FROM \(sandbox.cli.locksTable)")
            let cleared = try sandbox.run(command)
            #expect(cleared.status == 0, "\(cleared.stderr)")
            #expect(try sandbox.rows().isEmpty)
            let journaled = try sandbox.journal().filter { $0["action"] as? String == "clear-all" }
            #expect(Set(journaled.compactMap { $0["state_id"] as? String }) == ["dev:a", "dev:b", "prod:c"], "each journaled first")
            #expect(Set(journaled.compactMap { $0["batch"] as? String }).count == 1, "as one batch, for `restore`")
        },
        "The CLI: meltano-state export > states.json": .run { sandbox, command in
            try sandbox.createStateTables()
            try sandbox.insertState("dev:a", completed: #"{"singer_state": {"a": 1}}"#)
            try sandbox.insertState("dev:b", completed: #"{"singer_state": {"b": 1}}"#, partial: #"{"singer_state": {"c": 2}}"#)
            let result = try sandbox.run(command)
            #expect(result.status == 0, "\(result.stderr)")
            let written = try String(contentsOfFile: sandbox.workingDirectory + "/states.json", encoding: .utf8)
            let expected = #"{"dev:a": {"completed": {"singer_state": {"a": 1}}, "partial": {}}, "dev:b": {"completed": {"singer_state": {"b": 1}}, "partial": {"singer_state": {"c": 2}}}}"#
            #expect(try JSONParser.parse(written).isEquivalent(to: try JSONParser.parse(expected)), "\(written)")
        },
        "The CLI: meltano-state import states.json": .run { sandbox, command in
            try sandbox.createStateTables()
            try sandbox.insertState("dev:a", completed: #"{"singer_state": {"a": 1, "x": 1.5e+30, "big": 123456789012345678901234567890}}"#)
            try sandbox.insertState("dev:b", completed: #"{"singer_state": {"b": "\u00e9"}}"#, partial: #"{"singer_state": {"c": 2}}"#)
            let before = try sandbox.rows()
            // export/import round-trip: what `export > states.json` wrote comes back byte for byte.
            let exported = try sandbox.cli.run(["export"])
            #expect(exported.status == 0)
            let file = sandbox.workingDirectory + "/states.json"
            try exported.stdout.write(toFile: file, atomically: true, encoding: .utf8)
            try sandbox.admin.query("DELETE FROM \(sandbox.cli.stateTable)")
            let result = try sandbox.run(command)
            #expect(result.status == 0, "\(result.stderr)")
            #expect(try sandbox.rows() == before)
            // All or nothing: a file with one entry that cannot be imported writes none.
            for bad in [#"{"dev:new": {"completed": {"singer_state": {}}, "partial": {}}, "dev:a": 5}"#,
                        #"{"dev:new": {"completed": {"singer_state": {}}, "partial": {}}, "dev:a": {"completed": {"singer_state": {"a": 2}}, "partial": "not an object"}}"#] {
                try bad.write(toFile: file, atomically: true, encoding: .utf8)
                let refused = try sandbox.run(command)
                #expect(refused.status != 0, "\(bad)")
                #expect(!refused.stderr.isEmpty)
                #expect(try sandbox.rows() == before, "nothing was imported from \(bad)")
            }
        },

        // MARK: Plus what Meltano lacks

        "The CLI: meltano-state locks": .run { sandbox, command in
            try seedLocks(sandbox)
            let result = try sandbox.run(command)
            #expect(result.status == 0, "\(result.stderr)")
            let lines = result.stdout.split(separator: "\n")
            #expect(lines.first?.contains("LOCK ID") == true, "\(result.stdout)")
            #expect(lines.contains { $0.contains("prod:dead") && $0.contains("lock-of-a-dead-run") && $0.hasSuffix("STALE") }, "\(result.stdout)")
            #expect(lines.contains { $0.contains("prod:live") && $0.contains("lock-of-a-live-run") && !$0.contains("STALE") }, "\(result.stdout)")
        },
        "The CLI: meltano-state locks --stale": .run { sandbox, command in
            try seedLocks(sandbox)
            let result = try sandbox.run(command)
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.contains("lock-of-a-dead-run") && !result.stdout.contains("lock-of-a-live-run"), "\(result.stdout)")
        },
        "The CLI: meltano-state locks --json": .run { sandbox, command in
            try seedLocks(sandbox)
            let result = try sandbox.run(command)
            #expect(result.status == 0, "\(result.stderr)")
            let locks = jsonArray(result.stdout)
            #expect(Set(locks.compactMap { $0["lock_id"] as? String }) == ["lock-of-a-dead-run", "lock-of-a-live-run"], "\(result.stdout)")
            #expect(locks.first { $0["state_id"] as? String == "prod:dead" }?["stale"] as? Bool == true)
            #expect(locks.first { $0["state_id"] as? String == "prod:live" }?["stale"] as? Bool == false)
        },
        "The CLI: meltano-state locks --stale --json": .run { sandbox, command in
            try seedLocks(sandbox)
            let result = try sandbox.run(command)
            #expect(result.status == 0, "\(result.stderr)")
            let locks = jsonArray(result.stdout)
            #expect(locks.count == 1, "\(result.stdout)")
            #expect(locks.first?["lock_id"] as? String == "lock-of-a-dead-run" && locks.first?["stale"] as? Bool == true)
            #expect((locks.first?["age_seconds"] as? Double ?? 0) >= 3600)
        },
        "The CLI: meltano-state unlock STATE_ID LOCK_ID": .run { sandbox, command in
            try seedLocks(sandbox)
            try sandbox.insertLock("prod:also-dead", lockID: "another-dead-run", minutesAgo: 60)
            let (status, screen) = try sandbox.runOnTerminal(command, ["STATE_ID": "prod:dead", "LOCK_ID": "lock-of-a-dead-run"], steps: [
                (waitFor: "Release the lock on 'prod:dead'? [y/N]", keys: ["y", "Enter"]),
            ])
            #expect(status == 0, "\(screen)")
            #expect(try sandbox.lockIDs() == ["another-dead-run", "lock-of-a-live-run"], "exactly that lock")
            #expect(try sandbox.journal().first?["action"] as? String == "unlock")
            // A lock ID that is not the one held is refused, and nothing is removed.
            let wrong = try sandbox.run(command, ["STATE_ID": "prod:also-dead", "LOCK_ID": "not-its-lock-id"])
            #expect(wrong.status == 3, "\(wrong.stderr)")
            #expect(try sandbox.lockIDs() == ["another-dead-run", "lock-of-a-live-run"])
        },
        "The CLI: meltano-state unlock --stale --yes": .run { sandbox, command in
            try seedLocks(sandbox)
            try sandbox.insertLock("prod:also-dead", lockID: "another-dead-run", minutesAgo: 600)
            let result = try sandbox.run(command)
            #expect(result.status == 0, "\(result.stderr)")
            #expect(try sandbox.lockIDs() == ["lock-of-a-live-run"], "every stale lock, and only those")
            #expect(try sandbox.journal().filter { $0["action"] as? String == "unlock" }.count == 2, "each by its own ID")
        },
        "The CLI: meltano-state history": .run { sandbox, command in
            try seedJournal(sandbox)
            let result = try sandbox.run(command)
            #expect(result.status == 0, "\(result.stderr)")
            let lines = result.stdout.split(separator: "\n")
            #expect(lines.count == 3, "\(result.stdout)")
            #expect(lines.first?.contains("clear") == true && lines.first?.contains("dev:b") == true, "newest first: \(result.stdout)")
            #expect(lines.last?.contains("set") == true && lines.last?.contains("dev:a") == true, "\(result.stdout)")
        },
        "The CLI: meltano-state history --json": .run { sandbox, command in
            try seedJournal(sandbox)
            let result = try sandbox.run(command)
            #expect(result.status == 0, "\(result.stderr)")
            let entries = result.stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            #expect(entries.map { $0["action"] as? String ?? "?" } == ["clear", "set", "set"], "\(result.stdout)")
            #expect(entries.map { $0["state_id"] as? String ?? "?" } == ["dev:b", "dev:a", "dev:a"])
        },
        "The CLI: meltano-state history ID": .run { sandbox, command in
            try seedJournal(sandbox)
            let result = try sandbox.run(command, ["ID": "dev:a"])
            #expect(result.status == 0, "\(result.stderr)")
            let lines = result.stdout.split(separator: "\n")
            #expect(lines.count == 2 && lines.allSatisfy { $0.contains("dev:a") && $0.contains("set") }, "\(result.stdout)")
        },
        "The CLI: meltano-state history ID --json": .run { sandbox, command in
            try seedJournal(sandbox)
            let result = try sandbox.run(command, ["ID": "dev:b"])
            #expect(result.status == 0, "\(result.stderr)")
            let entries = result.stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            #expect(entries.count == 1 && entries.first?["action"] as? String == "clear", "\(result.stdout)")
        },
        "The CLI: meltano-state restore ENTRY_OR_BATCH": .run { sandbox, command in
            try seedJournal(sandbox)
            // The entry of the first `set`, which saved dev:a's value as the add-on wrote it.
            let journal = try sandbox.journal()
            let entry = try #require(journal.last?["id"] as? String)
            let (status, screen) = try sandbox.runOnTerminal(command, ["ENTRY_OR_BATCH": entry], steps: [
                (waitFor: "[y/N]", keys: ["y", "Enter"]),
            ])
            #expect(status == 0, "\(screen)")
            #expect(try sandbox.rows()["dev:a"] == [#"{"singer_state": {"p": 0}}"#, #"{"singer_state":{"v":1}}"#], "the previous value, byte for byte")
            #expect(try sandbox.journal().count == journal.count + 1, "the value it replaced is journaled")
            // A batch: every state `clear --all` removed comes back.
            let before = try sandbox.rows()
            #expect(try sandbox.cli.run(["clear", "--all", "--force"]).status == 0)
            #expect(try sandbox.rows().isEmpty)
            let batch = try #require(sandbox.journal().first?["batch"] as? String)
            let (batchStatus, batchScreen) = try sandbox.runOnTerminal(command, ["ENTRY_OR_BATCH": batch], steps: [
                (waitFor: "[y/N]", keys: ["y", "Enter"]),
            ])
            #expect(batchStatus == 0, "\(batchScreen)")
            #expect(try sandbox.rows() == before)
        },
        "The CLI: meltano-state doctor": .run { sandbox, command in
            try seedDoctor(sandbox)
            let result = try sandbox.run(command)
            #expect(result.status == 3, "the most cautious verdict: \(result.stdout) \(result.stderr)")
            let blocks = result.stdout.components(separatedBy: "\n\n")
            let dead = blocks.first { $0.hasPrefix("prod:dead\n") } ?? ""
            #expect(dead.contains("verdict  SAFE TO RELEASE") && dead.hasSuffix("next     meltano-state unlock prod:dead lock-of-a-dead-run"), "\(result.stdout)")
            let live = blocks.first { $0.hasPrefix("prod:live\n") } ?? ""
            #expect(live.contains("verdict  RUNNING, DO NOT RELEASE") && live.contains("by heartbeat"), "\(result.stdout)")
        },
        "The CLI: meltano-state doctor --json": .run { sandbox, command in
            try seedDoctor(sandbox)
            let result = try sandbox.run(command)
            #expect(result.status == 3, "\(result.stderr)")
            let items = jsonArray(result.stdout)
            #expect(items.map { $0["state_id"] as? String ?? "?" } == ["prod:dead", "prod:live"], "\(result.stdout)")
            #expect(items.map { $0["verdict"] as? String ?? "?" } == ["safe-to-release", "running"])
            #expect(items.first?["next_command"] as? String == "meltano-state unlock prod:dead lock-of-a-dead-run")
            let system = items.first?["system_database"] as? [String: Any]
            #expect(system?["available"] as? Bool == true && (system?["latest"] as? [String: Any])?["heartbeat_fresh"] as? Bool == false)
        },
        "The CLI: meltano-state doctor STATE_ID": .run { sandbox, command in
            try seedDoctor(sandbox)
            let result = try sandbox.run(command, ["STATE_ID": "prod:dead"])
            #expect(result.status == 1, "stuck and safe: \(result.stdout) \(result.stderr)")
            #expect(!result.stdout.contains("prod:live"))
            // The command it names releases that lock, and only it.
            #expect(try sandbox.cli.run(["unlock", "prod:dead", "lock-of-a-dead-run", "--yes"]).status == 0)
            #expect(try sandbox.lockIDs() == ["lock-of-a-live-run"])
        },
        "The CLI: meltano-state doctor STATE_ID --json": .run { sandbox, command in
            try seedDoctor(sandbox)
            let result = try sandbox.run(command, ["STATE_ID": "prod:live"])
            #expect(result.status == 3, "\(result.stderr)")
            let items = jsonArray(result.stdout)
            #expect(items.count == 1 && items.first?["headline"] as? String == "RUNNING, DO NOT RELEASE", "\(result.stdout)")
            #expect((items.first?["lock"] as? [String: Any])?["stale_evidence"] as? String == "heartbeat")
        },
        "The CLI: meltano-state runs": .run { sandbox, command in
            try seedRuns(sandbox)
            let result = try sandbox.run(command)
            #expect(result.status == 0, "\(result.stderr)")
            let lines = result.stdout.split(separator: "\n").dropFirst()
            #expect(lines.count == 2, "only the RUNNING runs: \(result.stdout)")
            #expect(lines.contains { $0.contains("dev:tap-dead-to-target") && $0.hasSuffix("STALE") }, "\(result.stdout)")
            #expect(lines.contains { $0.contains("dev:tap-alive-to-target") && !$0.contains("STALE") }, "\(result.stdout)")
            // A table: each row's values start under their column's title.
            let header = String(result.stdout.split(separator: "\n").first ?? "")
            for title in ["JOB", "STARTED (UTC)", "LAST HEARTBEAT (UTC)", "SILENT FOR"] {
                let column = header.range(of: title).map { header.distance(from: header.startIndex, to: $0.lowerBound) } ?? -1
                for line in lines {
                    let row = Array(line)
                    #expect(column > 0 && column < row.count && row[column - 1] == " " && row[column] != " ",
                            "`\(title)` at column \(column), and a value under it in: \(line)\n\(result.stdout)")
                }
            }
        },
        "The CLI: meltano-state runs --stale": .run { sandbox, command in
            try seedRuns(sandbox)
            let result = try sandbox.run(command)
            #expect(result.status == 0, "\(result.stderr)")
            let lines = result.stdout.split(separator: "\n").dropFirst()
            #expect(lines.count == 1 && lines.first?.contains("dev:tap-dead-to-target") == true, "\(result.stdout)")
        },
        "The CLI: meltano-state fail-run RUN_ID": .run { sandbox, command in
            let (dead, alive, _) = try seedRuns(sandbox)
            let (status, screen) = try sandbox.runOnTerminal(command, ["RUN_ID": dead], steps: [
                (waitFor: "as FAIL? [y/N]", keys: ["y", "Enter"]),
            ])
            #expect(status == 0, "\(screen)")
            #expect(try sandbox.run(id: dead) == ("FAIL", true), "marked failed, as Meltano would")
            let payload = try sandbox.admin.query("SELECT payload FROM \(quoteIdentifier(sandbox.schema)).runs WHERE id = $1::int", [dead]).scalar
            #expect(payload?.contains("No heartbeat recorded for 5 minutes. The process was likely killed unceremoniously.") == true,
                    "with Meltano's own reason: \(payload ?? "nil")")
            #expect(try sandbox.run(id: alive) == ("RUNNING", false))
            // A run that still sends heartbeats is refused.
            let refused = try sandbox.run(command, ["RUN_ID": alive])
            #expect(refused.status == 1, "\(refused.stderr)")
            #expect(try sandbox.run(id: alive) == ("RUNNING", false))
        },
        "The CLI: meltano-state config": .run { sandbox, command in
            let result = try sandbox.run(command)
            #expect(result.status == 0, "\(result.stderr)")
            let uriLine = result.stdout.split(separator: "\n").first { $0.contains("state_backend.uri") }
            #expect(uriLine?.contains(sandbox.schema) == true && uriLine?.contains("MELTANO_STATE_BACKEND_URI") == true, "\(result.stdout)")
        },
        "The CLI: meltano-state config --json": .run { sandbox, command in
            sandbox.environment["MELTANO_STATE_LOCK_TIMEOUT"] = "7"
            let result = try sandbox.run(command)
            #expect(result.status == 0, "\(result.stderr)")
            let parsed = try JSONParser.parse(result.stdout)
            #expect(parsed.compactText.contains(sandbox.schema), "\(result.stdout)")
            #expect(result.stdout.contains("MELTANO_STATE_LOCK_TIMEOUT"), "where each setting came from: \(result.stdout)")
        },
        "The CLI: meltano-state check": .run { sandbox, command in
            let missing = try sandbox.run(command)
            #expect(missing.status == 0, "\(missing.stderr)")
            #expect(missing.stdout.contains("State tables: missing"), "\(missing.stdout)")
            try sandbox.createStateTables()
            try seedLocks(sandbox)
            let result = try sandbox.run(command)
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.contains("Found: two-tables"), "\(result.stdout)")
            #expect(result.stdout.contains("States: 0; locks held: 2"), "\(result.stdout)")
        },
        "The CLI: meltano-state init": .run { sandbox, command in
            let result = try sandbox.run(command)
            #expect(result.status == 0, "\(result.stderr)")
            let tables = try sandbox.admin.query("SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1", [sandbox.schema])
            #expect(tables.rows == [["meltano_state"], ["meltano_state_locks"]])
            try sandbox.insertState("dev:a", completed: #"{"singer_state": {}}"#)
            let again = try sandbox.run(command)
            #expect(again.status == 0, "\(again.stderr)")
            #expect(again.stderr.contains("already exist"), "\(again.stderr)")
            #expect(try sandbox.rows().count == 1, "never touches existing tables")
        },

        // MARK: Monitoring

        "Monitoring: meltano-state metrics": .run { sandbox, command in
            try seedMonitoring(sandbox)
            let result = try sandbox.run(command)
            #expect(result.status == 0, "\(result.stderr)")
            let samples = try MonitoringCLITests.parse(result.stdout, sandbox.cli)
            #expect(MonitoringCLITests.value(samples, "meltano_state_states") == 2)
            #expect(MonitoringCLITests.value(samples, "meltano_state_lock_stale", "prod:dead") == 1)
            #expect((MonitoringCLITests.value(samples, "meltano_state_update_age_seconds", "prod:slow") ?? 0) >= 45 * 60)
        },
        "Monitoring: meltano-state metrics --output \"$TEXTFILE_DIR\"/meltano_state.prom": .run { sandbox, command in
            try seedMonitoring(sandbox)
            let directory = sandbox.home + "/textfile"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            sandbox.environment["TEXTFILE_DIR"] = directory
            let result = try sandbox.run(command)
            #expect(result.status == 0 && result.stdout.isEmpty, "\(result.stderr)")
            let text = try String(contentsOfFile: directory + "/meltano_state.prom", encoding: .utf8)
            #expect(MonitoringCLITests.value(try MonitoringCLITests.parse(text, sandbox.cli), "meltano_state_locks_stale") == 1)
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["meltano_state.prom"], "no temporary file left")
        },
        "Monitoring: meltano-state metrics --listen 127.0.0.1:9479": .run { sandbox, command in
            try seedMonitoring(sandbox)
            // The README's port may be taken on the machine running the tests: the same
            // command, on a port the system picks (port 0), which it says it serves.
            try #require(command.form.contains("127.0.0.1:9479"))
            var anyPort = command
            anyPort.form = command.form.replacingOccurrences(of: "127.0.0.1:9479", with: "127.0.0.1:0")
            let server = try MonitoringCLITests.background(sandbox, anyPort)
            var url = ""
            #expect(waitUntil(timeout: 20) {
                let said = server.stderr()
                guard let found = said.range(of: #"serving metrics at http://127\.0\.0\.1:[1-9][0-9]*/metrics"#, options: .regularExpression) else { return false }
                url = String(said[found].dropFirst("serving metrics at ".count))
                return true
            }, "\(server.stderr())")
            let scraped = try runProcess("python3", ["-c", "import urllib.request,sys; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=30).read().decode())", url])
            #expect(scraped.status == 0, "\(scraped.stderr)")
            #expect(MonitoringCLITests.value(try MonitoringCLITests.parse(scraped.stdout, sandbox.cli), "meltano_state_states") == 2)
            #expect(server.stop() == 0, "until SIGTERM: \(server.stderr())")
        },
        "Monitoring: meltano-state watch --interval 60 --exec ~/bin/page-oncall": .run { sandbox, command in
            try seedMonitoring(sandbox)
            try FileManager.default.createDirectory(atPath: sandbox.home + "/bin", withIntermediateDirectories: true)
            let paged = sandbox.home + "/paged"
            try "#!/bin/sh\nprintf '%s %s\\n' \"$MELTANO_STATE_ID\" \"$MELTANO_STATE_REASON\" >> \(shellQuoted(paged))\n"
                .write(toFile: sandbox.home + "/bin/page-oncall", atomically: true, encoding: .utf8)
            chmod(sandbox.home + "/bin/page-oncall", 0o755)
            let watch = try MonitoringCLITests.background(sandbox, command)
            func pages() -> String { (try? String(contentsOfFile: paged, encoding: .utf8)) ?? "" }
            #expect(waitUntil(timeout: 20) { pages() == "prod:dead lock-stale\n" }, "\(pages()) \(watch.stderr())")
            #expect(watch.stop() == 0, "\(watch.stderr())")
            #expect(pages() == "prod:dead lock-stale\n", "the stale lock only (prod:slow is 45 minutes old, not 24 hours)")
        },
        "Monitoring: meltano-state check-health --warn 30m --crit 2h": .run { sandbox, command in
            try seedMonitoring(sandbox)
            try sandbox.admin.query("DELETE FROM \(sandbox.cli.locksTable)")
            let warning = try sandbox.run(command)
            #expect(warning.status == 1, "\(warning.stdout) \(warning.stderr)")
            #expect(warning.stdout.hasPrefix("MELTANO-STATE WARNING - 1 of 2 states not updated for 30m (prod:slow)"), "\(warning.stdout)")
            try seedMonitoringLock(sandbox)
            let critical = try sandbox.run(command)
            #expect(critical.status == 2 && critical.stdout.hasPrefix("MELTANO-STATE CRITICAL - 1 stale lock"), "\(critical.stdout)")
        },

        // MARK: Bookmarks: rewind or reset one stream

        "Bookmarks: rewind or reset one stream: meltano-state bookmarks ID": .run { sandbox, command in
            try seedBookmarks(sandbox)
            let result = try sandbox.run(command, ["ID": pg])
            #expect(result.status == 0, "\(result.stderr)")
            let lines = result.stdout.split(separator: "\n").map { $0.split(separator: " ").joined(separator: " ") }
            #expect(lines.first == "STREAM KEY VALUE AGE NEWER PROGRESS", "\(result.stdout)")
            #expect(lines.count == 3, "one line per stream: \(result.stdout)")
            #expect(lines[1].hasPrefix("public-orders updated_at 2026-11-30T12:34:56.123456+00:00 "), "with its age: \(lines[1])")
            #expect(lines[2] == "public-customers id 4242 progress_markers 4300", "newer progress: \(lines[2])")
        },
        "Bookmarks: rewind or reset one stream: meltano-state bookmarks ID --json": .run { sandbox, command in
            try seedBookmarks(sandbox)
            let result = try sandbox.run(command, ["ID": pg])
            #expect(result.status == 0, "\(result.stderr)")
            let streams = try #require(try JSONParser.parse(result.stdout)["streams"]?.arrayValue)
            #expect(streams.map { $0["stream"]?.stringValue?.text } == ["public-orders", "public-customers"])
            #expect(streams.map { $0["value"] } == ["2026-11-30T12:34:56.123456+00:00", 4242])
            #expect(streams[0]["value_type"] == "timestamp" && streams[0]["age_seconds"]?.numberValue != nil)
        },
        "Bookmarks: rewind or reset one stream: meltano-state rewind ID public-orders --by 3d": .run { sandbox, command in
            try seedBookmarks(sandbox)
            let (status, screen) = try sandbox.runOnTerminal(command, ["ID": pg], steps: [
                (waitFor: "[y/N]", keys: ["y", "Enter"]),
            ])
            #expect(status == 0, "\(screen)")
            #expect(screen.contains("-        \"replication_key_value\": \"2026-11-30T12:34:56.123456+00:00\""), "the diff first: \(screen)")
            #expect(try sandbox.rows()[pg] == [nil, pgState.replacingOccurrences(of: "2026-11-30T12:34:56", with: "2026-11-27T12:34:56")])
            #expect(try sandbox.journal().first?["action"] as? String == "rewind")
        },
        "Bookmarks: rewind or reset one stream: meltano-state rewind ID public-orders --to 2026-11-30T00:00:00Z --yes": .run { sandbox, command in
            try seedBookmarks(sandbox)
            let result = try sandbox.run(command, ["ID": pg])
            #expect(result.status == 0, "\(result.stderr)")
            // In the bookmark's own format: six fractional digits, +00:00.
            #expect(try sandbox.rows()[pg] == [nil, pgState.replacingOccurrences(of: "2026-11-30T12:34:56.123456", with: "2026-11-30T00:00:00.000000")])
        },
        "Bookmarks: rewind or reset one stream: meltano-state rewind ID public-customers 4000 --yes": .run { sandbox, command in
            try seedBookmarks(sandbox)
            let result = try sandbox.run(command, ["ID": pg])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(try sandbox.rows()[pg] == [nil, pgState.replacingOccurrences(of: #""replication_key_value": 4242"#, with: #""replication_key_value": 4000"#)])
        },
        "Bookmarks: rewind or reset one stream: meltano-state reset-stream ID public-customers --yes": .run { sandbox, command in
            try seedBookmarks(sandbox)
            let result = try sandbox.run(command, ["ID": pg])
            #expect(result.status == 0, "\(result.stderr)")
            let customers = #", "public-customers": {"replication_key": "id", "replication_key_value": 4242, "starting_replication_value": 4000, "progress_markers": {"Note": "Progress is not resumable if interrupted.", "replication_key": "id", "replication_key_value": 4300}}"#
            #expect(pgState.contains(customers))
            #expect(try sandbox.rows()[pg] == [nil, pgState.replacingOccurrences(of: customers, with: "")])
            #expect(try sandbox.journal().first?["action"] as? String == "reset-stream")
        },

        // MARK: Contexts, diff and sync

        "Contexts, diff and sync: meltano-state contexts": .run { sandbox, command in
            let staging = try seedContexts(sandbox)
            defer { TestDatabase.dropSchema(staging, on: sandbox.admin) }
            sandbox.environment["MELTANO_STATE_CONTEXT"] = "staging"
            let result = try sandbox.run(command)
            #expect(result.status == 0, "\(result.stderr)")
            let lines = result.stdout.split(separator: "\n").map(String.init)
            #expect(lines.count == 3 && lines[1].hasPrefix("  prod ") && lines[2].hasPrefix("* staging "), "\(result.stdout)")
            #expect(lines[1].contains("red") && lines[2].contains("yellow") && lines[2].contains(staging))
        },
        "Contexts, diff and sync: meltano-state --context staging list": .run { sandbox, command in
            let staging = try seedContexts(sandbox)
            defer { TestDatabase.dropSchema(staging, on: sandbox.admin) }
            try sandbox.insertState("prod:only-in-prod", completed: #"{"singer_state": {}}"#)
            #expect(try sandbox.cli.run(["set", "--force", "--context", "staging", "dev:only-in-staging", #"{"singer_state": {}}"#]).status == 0)
            let result = try sandbox.run(command)
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout == "dev:only-in-staging\n")
        },
        "Contexts, diff and sync: meltano-state diff @prod:dev:tap-x-to-y @staging:dev:tap-x-to-y": .run { sandbox, command in
            let staging = try seedContexts(sandbox)
            defer { TestDatabase.dropSchema(staging, on: sandbox.admin) }
            try sandbox.insertState("dev:tap-x-to-y", completed: #"{"singer_state": {"bookmarks": {"t": {"since": "2024-01-01"}}}}"#)
            #expect(try sandbox.cli.run(["set", "--force", "--context", "staging", "dev:tap-x-to-y", #"{"singer_state": {"bookmarks": {"t": {"since": "2024-03-01"}}}}"#]).status == 0)
            let result = try sandbox.run(command)
            #expect(result.status == 1, "different: \(result.stderr)")
            #expect(result.stdout.hasSuffix(#"~ .singer_state.bookmarks.t.since: "2024-01-01" -> "2024-03-01""# + "\n"), "\(result.stdout)")
            #expect(try sandbox.cli.run(["sync", "--from", "prod", "--to", "staging", "--apply"]).status == 0)
            let same = try sandbox.run(command)
            #expect(same.status == 0 && same.stdout.isEmpty, "the same: \(same.stdout) \(same.stderr)")
        },
        "Contexts, diff and sync: meltano-state diff @prod:dev:tap-x-to-y @staging:dev:tap-x-to-y --json": .run { sandbox, command in
            let staging = try seedContexts(sandbox)
            defer { TestDatabase.dropSchema(staging, on: sandbox.admin) }
            try sandbox.insertState("dev:tap-x-to-y", completed: #"{"singer_state": {"a": 1}}"#)
            #expect(try sandbox.cli.run(["set", "--force", "--context", "staging", "dev:tap-x-to-y", #"{"singer_state": {"b": 1}}"#]).status == 0)
            let result = try sandbox.run(command)
            #expect(result.status == 1, "\(result.stderr)")
            let changes = jsonArray(result.stdout)
            #expect(changes.map { "\($0["change"] as? String ?? "?") \($0["path"] as? String ?? "?")" } == ["removed .singer_state.a", "added .singer_state.b"], "\(result.stdout)")
        },
        "Contexts, diff and sync: meltano-state diff SRC DST": .run { sandbox, command in
            try sandbox.createStateTables()
            try sandbox.insertState("dev:tap-x-to-y", completed: #"{"singer_state": {"n": 1}}"#, partial: #"{"singer_state": {"p": [1]}}"#)
            try sandbox.insertState("prod:tap-x-to-y", completed: #"{"singer_state": {"n": 1, "p": [1, 2]}}"#)
            let result = try sandbox.run(command, ["SRC": "dev:tap-x-to-y", "DST": "prod:tap-x-to-y"])
            #expect(result.status == 1, "\(result.stderr)")
            #expect(result.stdout == "--- dev:tap-x-to-y\n+++ prod:tap-x-to-y\n+ .singer_state.p[1]: 2\n", "merged views compared: \(result.stdout)")
        },
        "Contexts, diff and sync: meltano-state sync --from prod --to staging": .run { sandbox, command in
            try syncPlan(sandbox, command, expected: "create     dev:a\ncreate     prod:b\n2 state IDs: 2 to create, 0 to overwrite, 0 the same, 0 to skip. Nothing was written; add --apply to sync.\n")
        },
        "Contexts, diff and sync: meltano-state sync --from prod --to staging --pattern 'dev:*'": .run { sandbox, command in
            try syncPlan(sandbox, command, expected: "create     dev:a\n1 state ID: 1 to create, 0 to overwrite, 0 the same, 0 to skip. Nothing was written; add --apply to sync.\n")
        },
        "Contexts, diff and sync: meltano-state sync --from prod --to staging --apply": .run { sandbox, command in
            let staging = try seedContexts(sandbox)
            defer { TestDatabase.dropSchema(staging, on: sandbox.admin) }
            try sandbox.insertState("dev:a", completed: #"{"singer_state": {"a": 1}}"#, partial: #"{"singer_state": {"p": 2}}"#)
            try sandbox.insertState("prod:b", completed: #"{"singer_state": {"b": 1}}"#)
            let result = try sandbox.run(command)
            #expect(result.status == 0, "\(result.stderr)")
            #expect(try rows(sandbox, schema: staging) == rows(sandbox, schema: sandbox.schema), "byte for byte")
            let again = try sandbox.run(command)
            #expect(again.stdout.hasSuffix("2 state IDs: 0 created, 0 overwritten, 2 already the same, 0 skipped.\n"), "re-runnable: \(again.stdout)")
        },
        "Contexts, diff and sync: meltano-state sync --layout-from two-tables --layout-to single-table --apply": .run { sandbox, command in
            try sandbox.createStateTables()
            try sandbox.insertState("dev:a", completed: #"{"singer_state": {"a": 1}}"#, partial: #"{"singer_state": {"p": 2}}"#)
            try sandbox.insertState("prod:b", completed: #"{"singer_state": {"b": "\u00e9"}}"#)
            let result = try sandbox.run(command)
            #expect(result.status == 0, "\(result.stderr)")
            let single = try sandbox.admin.query("SELECT state_id, partial_state, completed_state FROM \(quoteIdentifier(sandbox.schema)).state ORDER BY state_id").rows
            #expect(single == (try rows(sandbox, schema: sandbox.schema)), "the later add-on's table, same bytes")
            #expect(try sandbox.cli.run(["get", "--layout", "single-table", "dev:a"]).stdout == #"{"singer_state":{"a":1,"p":2}}"# + "\n")
        },
    ]

    /// Two states (one written 45 minutes ago) and a lock left by a dead run an hour ago.
    static func seedMonitoring(_ sandbox: ReadmeSandbox) throws {
        try sandbox.createStateTables()
        try sandbox.insertState("prod:dead", completed: #"{"singer_state": {}}"#)
        try sandbox.insertState("prod:slow", completed: #"{"singer_state": {}}"#)
        try sandbox.admin.query("UPDATE \(sandbox.cli.stateTable) SET updated_at = LOCALTIMESTAMP - interval '45 minutes' WHERE state_id = 'prod:slow'")
        try seedMonitoringLock(sandbox)
    }

    static func seedMonitoringLock(_ sandbox: ReadmeSandbox) throws {
        try sandbox.insertLock("prod:dead", lockID: "lock-of-a-dead-run", minutesAgo: 60)
    }


    static let pg = "prod:tap-postgres-to-target-snowflake"
    /// As tap-postgres (singer-sdk) leaves it, stored by the add-on.
    static let pgState = #"{"singer_state": {"bookmarks": {"public-orders": {"replication_key": "updated_at", "replication_key_value": "2026-11-30T12:34:56.123456+00:00"}, "public-customers": {"replication_key": "id", "replication_key_value": 4242, "starting_replication_value": 4000, "progress_markers": {"Note": "Progress is not resumable if interrupted.", "replication_key": "id", "replication_key_value": 4300}}}}}"#

    static func seedBookmarks(_ sandbox: ReadmeSandbox) throws {
        try sandbox.createStateTables()
        try sandbox.insertState(pg, completed: pgState)
        try sandbox.insertState("prod:other", completed: #"{"singer_state": {"bookmarks": {"public-orders": {"replication_key_value": 1}}}}"#)
    }


    /// Contexts `prod` (the sandbox's schema) and `staging` (a second schema, returned:
    /// the caller drops it), both with the add-on's tables.
    static func seedContexts(_ sandbox: ReadmeSandbox) throws -> String {
        try sandbox.createStateTables()
        let staging = try TestDatabase.freshSchema("readmestaging", on: sandbox.admin)
        try sandbox.cli.writeConfig("""
            contexts:
              prod:
                uri: \(try sandbox.cli.uri(schema: sandbox.schema))
                color: red
              staging:
                uri: \(try sandbox.cli.uri(schema: staging))
                color: yellow
            """)
        #expect(try sandbox.cli.run(["init", "--context", "staging"]).status == 0)
        return staging
    }

    /// A sync plan from prod (dev:a, prod:b) to an empty staging: exactly `expected`, nothing written.
    static func syncPlan(_ sandbox: ReadmeSandbox, _ command: ReadmeCommand, expected: String) throws {
        let staging = try seedContexts(sandbox)
        defer { TestDatabase.dropSchema(staging, on: sandbox.admin) }
        try sandbox.insertState("dev:a", completed: #"{"singer_state": {"a": 1}}"#)
        try sandbox.insertState("prod:b", completed: #"{"singer_state": {"b": 1}}"#)
        let result = try sandbox.run(command)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == expected)
        #expect(try rows(sandbox, schema: staging).isEmpty, "only the plan")
    }

    static func rows(_ sandbox: ReadmeSandbox, schema: String) throws -> [[String?]] {
        try sandbox.admin.query("SELECT state_id, partial_state, completed_state FROM \(quoteIdentifier(schema)).meltano_state ORDER BY state_id").rows
    }

    /// Two locks left in the add-on's table: one by a run that died an hour ago, one just taken.
    static func seedLocks(_ sandbox: ReadmeSandbox) throws {
        if try sandbox.admin.query("SELECT to_regclass($1)", [sandbox.cli.locksTable]).scalar == nil {
            try sandbox.createStateTables()
        }
        try sandbox.insertLock("prod:dead", lockID: "lock-of-a-dead-run", minutesAgo: 60)
        try sandbox.insertLock("prod:live", lockID: "lock-of-a-live-run", minutesAgo: 0)
    }

    /// Three journal entries, oldest first: set dev:a, set dev:a, clear dev:b.
    static func seedJournal(_ sandbox: ReadmeSandbox) throws {
        try sandbox.createStateTables()
        try sandbox.insertState("dev:a", completed: #"{"singer_state":{"v":1}}"#, partial: #"{"singer_state": {"p": 0}}"#)
        try sandbox.insertState("dev:b", completed: #"{"singer_state": {"b": 1}}"#)
        for arguments in [["set", "--force", "dev:a", #"{"singer_state": {"v": 2}}"#],
                          ["set", "--force", "dev:a", #"{"singer_state": {"v": 3}}"#],
                          ["clear", "--force", "dev:b"]] {
            let result = try sandbox.cli.run(arguments)
            try #require(result.status == 0, "\(arguments): \(result.stderr)")
        }
    }

    /// Meltano's system database with a run left RUNNING by a dead pipeline (no heartbeat
    /// for 20 minutes), a live one, and a finished one.
    @discardableResult
    /// Two locks of the two-tables layout, both an hour old, with Meltano's system
    /// database beside them (MELTANO_DATABASE_URI): prod:dead's run stopped sending
    /// heartbeats 20 minutes ago, prod:live's sent one 5 s ago.
    static func seedDoctor(_ sandbox: ReadmeSandbox) throws {
        try seedLocks(sandbox)
        try sandbox.admin.query("UPDATE \(sandbox.cli.locksTable) SET locked_at = LOCALTIMESTAMP - interval '1 hour'")
        try MeltanoSystemDB.createTables(inSchema: sandbox.schema, on: sandbox.admin)
        let config = try TestDatabase.configuration()
        sandbox.environment["MELTANO_DATABASE_URI"] = "postgresql+psycopg://\(config.user!)@\(config.host!):\(config.port!)/\(config.database!)?options=-csearch_path%3D\(sandbox.schema)"
        _ = try sandbox.insertRun("prod:dead", heartbeatSecondsAgo: 1200)
        _ = try sandbox.insertRun("prod:live", heartbeatSecondsAgo: 5)
    }

    static func seedRuns(_ sandbox: ReadmeSandbox) throws -> (dead: String, alive: String, done: String) {
        try sandbox.useSystemDatabase()
        let dead = try sandbox.insertRun("dev:tap-dead-to-target", heartbeatSecondsAgo: 1200)
        let alive = try sandbox.insertRun("dev:tap-alive-to-target", heartbeatSecondsAgo: 5)
        let done = try sandbox.insertRun("dev:tap-done-to-target", state: "SUCCESS", heartbeatSecondsAgo: 3000)
        return (dead, alive, done)
    }
}
