import Foundation
import Postgres
import StateJSON
import StateStore
import TestSupport
import Testing

@Suite("The CLI as a real process")
struct CLIVerbTests {
    /// The same script of `meltano state` verbs run through this CLI and through the
    /// add-on's reference model: same stdout, same exit codes, byte-identical tables.
    @Test func parityWithMeltanoStateVerbs() throws {
        let ours = try CLIFixture(schemaPrefix: "par")
        let admin = try TestDatabase.connect()
        let refSchema = try TestDatabase.freshSchema("parref", on: admin)
        defer { TestDatabase.dropSchema(refSchema, on: admin) }
        let script: [[String]] = [
            ["set", "--force", "dev:tap-github-to-target-pg", #"{"singer_state": {"bookmarks": {"repo/a": {"since": "2024-05-01T00:00:00Z"}}}, "n": 1E5}"#],
            ["merge", "dev:tap-github-to-target-pg", #"{"singer_state": {"bookmarks": {"repo/b": {"since": "2024-06-01"}}}}"#],
            ["get", "dev:tap-github-to-target-pg"],
            ["get", "missing"],
            ["copy", "--force", "dev:tap-github-to-target-pg", "prod:tap-github-to-target-pg"],
            ["move", "--force", "prod:tap-github-to-target-pg", "prod:tap-github-to-target-pg:v2"],
            ["set", "--force", "tap_x-1", #"{"singer_state": {"ünï": "\ud83d\ude00", "big": 123456789012345678901234567890}}"#],
            ["set", "--force", "tapYx-2", #"{"singer_state": {}}"#],
            // Kept as text on the way (no tree), unless a key repeats.
            ["set", "--force", "odd", "{ \"singer_state\" :{\"a\" : [1 ,2.50, -0, 1e400, NaN],\"s\":\"\\u00e9\\ud800\\/\"} , \"z\": {} }"],
            ["set", "--force", "repeated", #"{"singer_state": {"a": 1}, "singer_state": {"b": 2}}"#],
            ["set", "--force", "unvalidated", #"{"x" :  [1]}"#, "--no-validate"],
            ["list"],
            ["list", "--pattern", "prod:*"],
            ["export"],
            ["clear", "--force", "tapYx-2"],
            ["set", "--force", "bad", #"{"no_singer": 1}"#],
            ["set", "--force", "bad", #"[1, 2]"#],
            ["set", "--force", "bad", #"{"singer_state": "#],
            ["copy", "--force", "never-there", "x"],
            ["clear"],
            ["export"],
        ]
        for step in script {
            let mine = try ours.run(step)
            let theirs = try Reference.run(step, schema: refSchema)
            // Meltano's list has no ORDER BY; compare as sets there.
            if step.first == "list" {
                #expect(Set(mine.stdout.split(separator: "\n")) == Set(theirs.stdout.split(separator: "\n")), "\(step)")
            } else if step.first == "export" {
                // Same object; key order is the table's physical order in Meltano.
                let a = try JSONParser.parse(mine.stdout), b = try JSONParser.parse(theirs.stdout)
                #expect(a.isEquivalent(to: b), "export: \(mine.stdout) vs \(theirs.stdout)")
            } else {
                #expect(mine.stdout == theirs.stdout, "stdout of \(step)")
            }
            let expectedStatus: Int32 = (step.first == "copy" && step[2] == "never-there") ? 4 : theirs.status
            #expect(mine.status == expectedStatus, "exit of \(step): \(mine.stderr)")
            if mine.status != 0 { #expect(!mine.stderr.isEmpty, "a failure says why: \(step)") }
        }
        let referenceRows = try admin.query("SELECT state_id, partial_state, completed_state FROM \(quoteIdentifier(refSchema)).meltano_state ORDER BY state_id").rows
        #expect(try ours.rows() == referenceRows)
        #expect(try ours.rows().count == 6)
    }

    /// `import` rewrites each part from the file's text (no tree of the file): the rows
    /// are the add-on's (its reference model importing the same file), byte for byte,
    /// for what a hand-edited file may hold — a repeated ID or part (the last wins), a
    /// key repeated inside a part, escapes, non-ASCII, floats, extra keys, null parts.
    @Test func importWritesTheRowsTheAddOnWrites() throws {
        let ours = try CLIFixture(schemaPrefix: "imp")
        let admin = try TestDatabase.connect()
        let refSchema = try TestDatabase.freshSchema("impref", on: admin)
        defer { TestDatabase.dropSchema(refSchema, on: admin) }
        let file = #"""
            {"a": {"completed": {"singer_state": {"first": true}}, "partial": {}},
             "b": {"completed": {"singer_state": {"n": 1}}, "partial": {"singer_state": {"p": [1, {"q": null}]}}, "completed": {"singer_state": {"n": 2, "f": 1.0, "g": 1e5, "h": -0.0}}},
             "a": {"completed": {"singer_state": {"é": "\u00e9\ud83d\ude00 ü", "big": 123456789012345678901234567890}}, "partial": null},
             "c\u0041": {"completed": null, "partial": {"singer_state": {}}},
             "d": {"partial": {}, "extra": [1, 2], "completed": {"singer_state": {"s": "tab\there \"q\" \\ \/", "k": 1, "k": 2}}},
             "e": {"completed": {  "singer_state" :{ "spaced" : [ 1 , 2 ] } }   , "partial": {"x": {"y": 1}}},
             "f": {"completed": {}, "partial": {}}}
            """#
        let referenceRows = try Self.importBoth(file, ours: ours, reference: refSchema, on: admin)
        #expect(referenceRows.count == 6)
    }

    /// Imports `file` with this tool and with the add-on's reference model (into
    /// `reference`), expects the same rows byte for byte, and returns the reference's.
    static func importBoth(_ file: String, ours: CLIFixture, reference: String, on admin: Connection) throws -> [[String?]] {
        let mine = try ours.run(["import", "--yes", "-"], stdin: file)
        #expect(mine.status == 0, "\(mine.stderr)")
        let theirs = try Reference.run(["import", "-"], schema: reference, stdin: file)
        #expect(theirs.status == 0, "\(theirs.stderr)")
        let referenceRows = try admin.query("SELECT state_id, partial_state, completed_state FROM \(quoteIdentifier(reference)).meltano_state ORDER BY state_id").rows
        #expect(try ours.rows() == referenceRows)
        return referenceRows
    }

    /// IDs that differ only in how é is written (one scalar, or e and a combining
    /// accent) are two IDs to Python and PostgreSQL: two rows, as the add-on writes, in
    /// file order or not, each journaled with its own previous row, each put back by
    /// `restore`. (Swift's String takes them for one: keyed by it, the import wrote one
    /// row, and a re-import journaled one's row as the other's.)
    @Test func importKeepsIDsThatDifferOnlyInTheirBytesApart() throws {
        let ours = try CLIFixture(schemaPrefix: "impnfc")
        let admin = try TestDatabase.connect()
        let refSchema = try TestDatabase.freshSchema("impnfcref", on: admin)
        defer { TestDatabase.dropSchema(refSchema, on: admin) }
        let composed = "caf\u{E9}", decomposed = "cafe\u{301}"
        for file in [#"{"caf\u00e9": {"completed": {"singer_state": {"n": 1}}}, "cafe\u0301": {"completed": {"singer_state": {"n": 2}}}}"#,
                     #"{"z": {"completed": {"singer_state": {"n": 0}}}, "cafe\u0301": {"completed": {"singer_state": {"n": 4}}}, "caf\u00e9": {"completed": {"singer_state": {"n": 3}}}, "cafe\u0301": {"completed": {"singer_state": {"n": 5}}}}"#] {
            _ = try Self.importBoth(file, ours: ours, reference: refSchema, on: admin)
        }
        func completed(_ id: String) throws -> String? {
            try ours.admin.query("SELECT completed_state FROM \(ours.stateTable) WHERE state_id = $1", [id]).scalar
        }
        #expect(try completed(composed) == #"{"singer_state": {"n": 3}}"# && completed(decomposed) == #"{"singer_state": {"n": 5}}"#)
        // The second import's journal: each ID with its own row from the first.
        let batch = try #require(try Journal(path: ours.journalPath).entries().entries.last?.batch)
        let entries = try Journal(path: ours.journalPath).entries().entries.filter { $0.batch == batch }
        #expect(entries.count == 3)
        for (id, before) in [(composed, #"{"singer_state": {"n": 1}}"#), (decomposed, #"{"singer_state": {"n": 2}}"#)] {
            #expect(entries.filter { $0.stateID.utf8.elementsEqual(id.utf8) }.map { $0.before?.completedState } == [before], "\(id.unicodeScalars.map(\.value))")
        }
        let restored = try ours.run(["restore", "--yes", batch])
        #expect(restored.status == 0, "\(restored.stderr)")
        #expect(try completed(composed) == #"{"singer_state": {"n": 1}}"# && completed(decomposed) == #"{"singer_state": {"n": 2}}"#)
        #expect(try completed("z") == nil)
    }

    /// A move between two IDs that differ only in how é is written is a move, not "onto
    /// itself"; an ID starting with "-" and a combining mark is still an option to the
    /// shell's argument parser, so the printed command puts it after "--".
    @Test func moveBetweenTwinsAndADashWithACombiningMark() throws {
        let fixture = try CLIFixture(schemaPrefix: "twins")
        let composed = "caf\u{E9}", decomposed = "cafe\u{301}"
        #expect(try fixture.run(["set", "--force", composed, #"{"singer_state": {"n": 1}}"#]).status == 0)
        let moved = try fixture.run(["move", "--force", composed, decomposed])
        #expect(moved.status == 0, "\(moved.stderr)")
        #expect(try fixture.rows().map { $0[0].map { Array($0.utf8) } } == [Array(decomposed.utf8)])
        #expect(unlockCommand(stateID: "-\u{301}x", lockID: "l").hasPrefix("meltano-state unlock -- "))
    }

    /// An import entry holding an integer Python's json cannot read (over 4300 digits)
    /// is refused, and so the whole import, as the add-on's import fails on it.
    @Test func importRefusesAnIntegerPythonCannotRead() throws {
        let ours = try CLIFixture(schemaPrefix: "impint")
        let file = #"{"ok": {"completed": {"singer_state": {"n": 1}}, "partial": {}}, "long": {"completed": {"singer_state": {"n": "#
            + String(repeating: "7", count: 4301) + "}}, \"partial\": {}}}"
        #expect(try ours.run(["init"]).status == 0)
        let mine = try ours.run(["import", "--yes", "-"], stdin: file)
        #expect(mine.status != 0 && mine.stderr.contains("value has 4301 digits"), "\(mine.stderr.prefix(400))")
        #expect(try ours.rows().isEmpty)
    }

    /// `get` of a row that is not JSON: the reason once (with its caret), each broken
    /// part's stored text, and how to see them whole; exit 1.
    @Test func getOfAnUnreadableRowSaysWhyOnce() throws {
        let fixture = try CLIFixture(schemaPrefix: "getbad")
        #expect(try fixture.run(["init"]).status == 0)
        try fixture.admin.query("INSERT INTO \(fixture.stateTable) (state_id, partial_state, completed_state) VALUES ('bad', '[1,', $1)",
                                [#"{"singer_state": {"a": 1,}}"#])
        let got = try fixture.run(["get", "bad"])
        #expect(got.status == 1 && got.stdout.isEmpty)
        let parts = got.stderr.components(separatedBy: "Expecting property name enclosed in double quotes")
        #expect(parts.count == 2, "\(got.stderr)")  // the completed part's error, once
        #expect(got.stderr.contains("completed_state as stored (27 bytes)") && got.stderr.contains("partial_state as stored (3 bytes)"))
        #expect(got.stderr.contains("Expecting value"), "\(got.stderr)")  // the partial part's own, not in the message
        #expect(got.stderr.contains("meltano-state get --raw bad"))
    }

    /// Messages name an ID holding a control character (a newline, ESC) as the shell's
    /// `$'…'`: one line, nothing raw, and apart from an ID holding the text `\x1b`.
    @Test func messagesNameIDsWithControlsAsTheShellWould() throws {
        let fixture = try CLIFixture(schemaPrefix: "ctlid")
        #expect(try fixture.run(["init"]).status == 0)
        // An ID whose combining marks another ID spells composed (é as e and U+0301, beside
        // é as one scalar), or that starts with one (it would combine with the quote):
        // its marks as escapes, so it reads apart and pastes back as itself.
        for (id, named) in [("nl\nid", #"$'nl\x0aid'"#), ("lit\u{1b}back", #"$'lit\x1bback'"#), (#"lit\x1bback"#, #"'lit\x1bback'"#),
                            ("x' and 'y", #"'x'\'' and '\''y'"#), ("cafe\u{301}", #"$'cafe\xcc\x81'"#), ("caf\u{E9}", "'caf\u{E9}'"),
                            ("\u{301}x", #"$'\xcc\x81x'"#)] {
            let set = try fixture.run(["set", "--force", "--", id, #"{"singer_state": {}}"#])
            #expect(set.status == 0 && set.stderr == "State of \(named) set.\n", "\(set.stderr.debugDescription)")
            let cleared = try fixture.run(["clear", "--force", "--", id])
            #expect(cleared.stderr == "State of \(named) cleared.\n", "\(cleared.stderr.debugDescription)")
            // Pasted into bash, the name is the ID, byte for byte.
            let pasted = try runProcess("bash", ["-c", "printf %s " + named])
            #expect(pasted.stdout.utf8.elementsEqual(id.utf8), "\(named) -> \(pasted.stdout.debugDescription)")
        }
    }

    @Test func importAllOrNothing() throws {
        let fixture = try CLIFixture()
        let good = #"{"a": {"completed": {"singer_state": {"x": 1}}, "partial": {}}, "b": {"completed": {}, "partial": {"singer_state": {"y": 2}}}}"#
        let result = try fixture.run(["import", "-"], stdin: good)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("Successfully imported 2 state(s)."))
        #expect(try fixture.rows().count == 2)
        let bad = #"{"c": {"completed": {"singer_state": {}}}, "d": 5}"#
        let refused = try fixture.run(["import", "-"], stdin: bad)
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("'d'"))
        #expect(try fixture.rows().count == 2)
        let notObject = try fixture.run(["import", "-"], stdin: "[1]")
        #expect(notObject.status == 2)
    }

    @Test func unlockRemovesOnlyTheLockShown() throws {
        let fixture = try CLIFixture()
        #expect(try fixture.run(["init"]).status == 0)
        try fixture.admin.query("INSERT INTO \(fixture.locksTable) (state_id, lock_id, locked_at) VALUES ('a', 'lock-a', LOCALTIMESTAMP - interval '1 hour'), ('b', 'lock-b', LOCALTIMESTAMP)")
        let locks = try fixture.run(["locks"])
        #expect(locks.status == 0)
        #expect(locks.stdout.contains("lock-a") && locks.stdout.contains("lock-b") && locks.stdout.contains("STALE"))
        let json = try fixture.run(["locks", "--stale", "--json"])
        #expect(json.stdout.contains("\"lock_id\":\"lock-a\"") && !json.stdout.contains("lock-b"))

        let wrong = try fixture.run(["unlock", "a", "not-the-id", "--yes"])
        #expect(wrong.status == 3)
        #expect(wrong.stderr.contains("Nothing was removed"))
        let gone = try fixture.run(["unlock", "zzz", "lock-z", "--yes"])
        #expect(gone.status == 4)
        let noTTY = try fixture.run(["unlock", "a", "lock-a"])
        #expect(noTTY.status == 2)
        #expect(noTTY.stderr.contains("--yes"))
        #expect(try fixture.admin.query("SELECT count(*) FROM \(fixture.locksTable)").scalar == "2")

        let released = try fixture.run(["unlock", "a", "lock-a", "--yes"])
        #expect(released.status == 0, "\(released.stderr)")
        #expect(try fixture.admin.query("SELECT lock_id FROM \(fixture.locksTable)").rows == [["lock-b"]])
        let again = try fixture.run(["unlock", "a", "lock-a", "--yes"])
        #expect(again.status == 4)
        let history = try fixture.run(["history", "--json"])
        #expect(history.stdout.contains("\"action\":\"unlock\""))
        #expect(history.stdout.contains("lock-a"))
        // The lines as stored, byte for byte (one writer for both), newest first.
        let stored = try String(contentsOfFile: fixture.journalPath, encoding: .utf8).split(separator: "\n")
        let all = try fixture.run(["history", "--json", "--limit", "0"]).stdout.split(separator: "\n")
        #expect(all == Array(stored.reversed()))
    }

    /// `unlock --stale --yes` releases every lock older than stale_lock_after (300 s),
    /// each by its own lock ID and each journaled, and leaves the fresh ones: one taken
    /// now and one 4 minutes old, under the threshold.
    @Test func unlockStaleReleasesExactlyTheStaleLocks() throws {
        let fixture = try CLIFixture(schemaPrefix: "stale")
        #expect(try fixture.run(["init"]).status == 0)
        try CLIWriteVerb.setTwo(fixture)
        let stale = [("a", "stale-a", "6 minutes"), ("b", "stale-b", "1 hour"), ("dev:tap-x-to-y", "stale-c", "3 days")]
        for (stateID, lockID, age) in stale {
            try fixture.admin.query("INSERT INTO \(fixture.locksTable) (state_id, lock_id, locked_at) VALUES ($1, $2, LOCALTIMESTAMP - $3::interval)",
                                    [stateID, lockID, age])
        }
        try fixture.admin.query("""
            INSERT INTO \(fixture.locksTable) (state_id, lock_id, locked_at)
            VALUES ('fresh', 'fresh-lock', LOCALTIMESTAMP), ('nearly', 'nearly-stale', LOCALTIMESTAMP - interval '4 minutes')
            """)
        let rows = try fixture.rows()
        let journalBefore = try Journal(path: fixture.journalPath).entries().entries

        let result = try fixture.run(["unlock", "--stale", "--yes"])
        #expect(result.status == 0, "\(result.stderr)")
        for (stateID, lockID, _) in stale {
            #expect(result.stderr.contains("Released lock \(lockID) on '\(stateID)'"), "\(lockID): \(result.stderr)")
        }
        #expect(!result.stderr.contains("fresh-lock") && !result.stderr.contains("nearly-stale"), "only stale locks are listed: \(result.stderr)")
        #expect(try fixture.admin.query("SELECT state_id, lock_id FROM \(fixture.locksTable) ORDER BY state_id").rows
                == [["fresh", "fresh-lock"], ["nearly", "nearly-stale"]])
        #expect(try fixture.rows() == rows, "no state row changed")

        // One journal entry per released lock, naming it; none for the fresh ones.
        let added = try Journal(path: fixture.journalPath).entries().entries.dropFirst(journalBefore.count)
        #expect(added.allSatisfy { $0.action == "unlock" }, "\(added.map(\.action))")
        #expect(Set(added.map { "\($0.stateID) \($0.lock?.lockID ?? "-")" }) == Set(stale.map { "\($0.0) \($0.1)" }),
                "\(added.map { "\($0.stateID) \($0.lock?.lockID ?? "-")" })")
        #expect(added.count == stale.count)

        // Nothing stale is left: a second run releases nothing and changes nothing.
        let again = try fixture.run(["unlock", "--stale", "--yes"])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stderr.contains("No stale locks."), "\(again.stderr)")
        #expect(try Journal(path: fixture.journalPath).entries().entries.count == journalBefore.count + stale.count)
        #expect(try fixture.admin.query("SELECT count(*) FROM \(fixture.locksTable)").scalar == "2")
    }

    @Test func writeBlockedByALockExitsThreeWithTheUnlockCommand() throws {
        let fixture = try CLIFixture()
        #expect(try fixture.run(["init"]).status == 0)
        try fixture.admin.query("INSERT INTO \(fixture.locksTable) (state_id, lock_id) VALUES ('a', 'dead-holder')")
        let result = try fixture.run(["set", "--force", "a", #"{"singer_state": {}}"#])
        #expect(result.status == 3)
        #expect(result.stderr.contains("Could not acquire lock for state_id: a"))
        #expect(result.stderr.contains("meltano-state unlock a dead-holder"))
        #expect(try fixture.rows().isEmpty)
    }

    /// Meltano's move onto itself (copy, then clear the source) leaves nothing: refused,
    /// nothing written, nothing journaled. A copy onto itself is harmless and allowed.
    @Test func aMoveOntoItselfIsRefused() throws {
        let fixture = try CLIFixture()
        #expect(try fixture.run(["set", "--force", "a", #"{"singer_state": {"v": 1}}"#]).status == 0)
        let rows = try fixture.rows()
        let state = try fixture.run(["get", "a"]).stdout
        let entries = try Journal(path: fixture.journalPath).entries().entries.count
        let moved = try fixture.run(["move", "--force", "a", "a"])
        #expect(moved.status == 2, "\(moved.stderr)")
        #expect(moved.stderr.contains("a move onto itself would only clear it"), "\(moved.stderr)")
        #expect(try fixture.rows() == rows)
        #expect(try Journal(path: fixture.journalPath).entries().entries.count == entries)
        #expect(try fixture.run(["copy", "--force", "a", "a"]).status == 0)
        #expect(try fixture.run(["get", "a"]).stdout == state)
        #expect(state.contains(#""v":1"#))
    }

    /// A setting's bad value (from a flag or the environment) is bad input: exit 2, as
    /// --help says. Text that is not JSON, or JSON that is not a state, exits 1 as
    /// `meltano state set` does (parityWithMeltanoStateVerbs), and the latter says what
    /// was expected after Meltano's own (Python's) words.
    @Test func badInputExitsTwoAndSaysWhatWasExpected() throws {
        let fixture = try CLIFixture()
        #expect(try fixture.run(["init"]).status == 0)
        let port = try fixture.run(["get", "a", "--port", "99999"])
        #expect(port.status == 2, "\(port.stderr)")
        #expect(port.stderr.contains("not a port number from 1 to 65535"), "\(port.stderr)")
        let layout = try fixture.run(["list"], extraEnvironment: ["MELTANO_STATE_LOCK_TIMEOUT": "soon"])
        #expect(layout.status == 2, "\(layout.stderr)")
        // A negative number is a value refused with its fix, not "Missing value".
        let negative = try fixture.run(["set", "--force", "a", #"{"singer_state": {}}"#, "--lock-timeout", "-1"])
        #expect(negative.status == 2, "\(negative.stderr)")
        #expect(negative.stderr.contains("lock_timeout is '-1.0', which is not a number of seconds"), "\(negative.stderr)")
        #expect(negative.stderr.contains("Fix: Give --lock-timeout a number of seconds"), "\(negative.stderr)")
        let negativePort = try fixture.run(["get", "a", "--port", "-1"])
        #expect(negativePort.status == 2 && negativePort.stderr.contains("is '-1', which is not a port number"), "\(negativePort.stderr)")
        let notJSON = try fixture.run(["set", "--force", "a", "{bad"])
        #expect(notJSON.status == 1, "\(notJSON.stderr)")
        // Falsy values too (0, false, null): Python's words, then what was expected.
        for (value, words, kind) in [("5", "argument of type 'int' is not iterable", "a number (5)"),
                                     ("0", "argument of type 'int' is not iterable", "a number (0)"),
                                     ("false", "argument of type 'bool' is not iterable", "the boolean false"),
                                     ("null", "argument of type 'NoneType' is not iterable", "null")] {
            let refused = try fixture.run(["set", "--force", "a", value])
            #expect(refused.status == 1, "\(value): \(refused.stderr)")
            #expect(refused.stderr.contains("\(words): the state must be a JSON object with a top-level 'singer_state' key"), "\(refused.stderr)")
            #expect(refused.stderr.contains("this is \(kind)."), "\(refused.stderr)")
        }
        // --no-validate skips the singer_state check only: the hint does not ask for it.
        let list = try fixture.run(["set", "--force", "a", "[1]", "--no-validate"])
        #expect(list.status == 1, "\(list.stderr)")
        #expect(list.stderr.contains("Attribute 'payload' does not accept objects of type <class 'list'>: the state must be a JSON object; this is an array."), "\(list.stderr)")
        #expect(try fixture.rows().isEmpty)
    }

    /// A missing schema or table names the setting that chose it and where it was set
    /// (a flag, the URI's search_path, nothing at all), not a setting of another backend.
    @Test func missingSchemaOrTableNamesTheSettingThatChoseIt() throws {
        let fixture = try CLIFixture()
        let config = try TestDatabase.configuration()
        let libpqURI = "postgresql://\(config.user!)@\(config.host!):\(config.port!)/\(config.database!)"
        let cases: [(arguments: [String], uri: String, expected: [String])] = [
            (["list", "--schema", "nosuch_\(fixture.schema)"], fixture.environment["MELTANO_STATE_BACKEND_URI"]!,
             ["Schema 'nosuch_\(fixture.schema)' does not exist (state_backend.postgres.schema = nosuch_\(fixture.schema), from flag)", "CREATE SCHEMA"]),
            (["list"], libpqURI + "?options=-csearch_path%3Dnosuch_\(fixture.schema)",
             ["does not exist (state_backend.postgresql.schema = nosuch_\(fixture.schema), from uri (env MELTANO_STATE_BACKEND_URI))"]),
            (["list", "--table", "bogus"], libpqURI + "?options=-csearch_path%3D\(fixture.schema)",
             ["No Meltano state tables (table 'bogus', with advisory locks) in schema '\(fixture.schema)'",
              "check the table (state_backend.postgresql.table = bogus, from flag) and the schema (state_backend.postgresql.schema = \(fixture.schema), from uri (env MELTANO_STATE_BACKEND_URI))"]),
            (["list"], libpqURI,
             ["No Meltano state tables (table 'state', with advisory locks) in schema",
              "the table (state_backend.postgresql.table is not set) and the schema (state_backend.postgresql.schema is not set: the connection's search_path chose it)"]),
            // postgres:// without a schema: the add-on's default, not the search_path.
            (["list"], "postgres://\(config.user!)@\(config.host!):\(config.port!)/\(config.database!)",
             ["in schema 'public'", "check the schema (state_backend.postgres.schema is not set: the add-on's default, public)"]),
        ]
        for test in cases {
            let result = try fixture.run(test.arguments, extraEnvironment: ["MELTANO_STATE_BACKEND_URI": test.uri])
            #expect(result.status == 1, "\(test.arguments): \(result.stderr)")
            for text in test.expected {
                #expect(result.stderr.contains(text), "\(test.arguments): \(result.stderr)")
            }
        }
    }

    /// A postgresql:// URI whose schema holds only the old add-on's tables: they are read
    /// (with a note in `check`), but writes are refused, since Meltano (the later add-on)
    /// would never read them; --layout says where to write instead.
    @Test func aLayoutOtherThanTheBackendsIsReadButNotWritten() throws {
        let fixture = try CLIFixture()  // the two-tables layout, postgres://
        #expect(try fixture.run(["set", "--force", "old:one", #"{"singer_state": {"v": 1}}"#]).status == 0)
        let config = try TestDatabase.configuration()
        let later = ["MELTANO_STATE_BACKEND_URI": "postgresql://\(config.user!)@\(config.host!):\(config.port!)/\(config.database!)?options=-csearch_path%3D\(fixture.schema)"]
        #expect(try fixture.run(["list"], extraEnvironment: later).stdout == "old:one\n")
        let check = try fixture.run(["check"], extraEnvironment: later)
        #expect(check.status == 0 && check.stdout.contains("Writes are refused: the tables found are the two-tables layout's"), "\(check.stdout)")
        let rows = try fixture.rows()
        for arguments in [["set", "--force", "old:one", #"{"singer_state": {"v": 2}}"#], ["clear", "--force", "old:one"], ["init"]] {
            let refused = try fixture.run(arguments, extraEnvironment: later)
            #expect(refused.status == 1 && refused.stderr.contains("so Meltano would never read a change made here"), "\(arguments): \(refused.stderr)")
            #expect(refused.stderr.contains("--layout single-table"), "\(refused.stderr)")
        }
        #expect(try fixture.rows() == rows)
        // Asked for by name, the layout is written.
        #expect(try fixture.run(["set", "--force", "--layout", "two-tables", "old:one", #"{"singer_state": {"v": 3}}"#], extraEnvironment: later).status == 0)
        #expect(try fixture.rows()[0][2] == #"{"singer_state": {"v": 3}}"#)
    }

    /// `check` on a schema that does not exist fails, naming what chose the schema: it
    /// does not suggest `init`, which cannot create it.
    @Test func checkOfAMissingSchemaFails() throws {
        let fixture = try CLIFixture()
        let config = try TestDatabase.configuration()
        let uri = "postgres://\(config.user!)@\(config.host!):\(config.port!)/\(config.database!)/nosuch_\(fixture.schema)"
        let check = try fixture.run(["check"], extraEnvironment: ["MELTANO_STATE_BACKEND_URI": uri])
        #expect(check.status == 1, "\(check.stdout) \(check.stderr)")
        #expect(check.stderr.contains("Schema 'nosuch_\(fixture.schema)' does not exist") && !check.stdout.contains("meltano-state init"), "\(check.stdout) \(check.stderr)")
    }

    /// A source that is not there is "not found" (exit 4) for merge --from-state-id, as
    /// for copy and move, not Meltano's "singer_state not found" about `{}`.
    @Test func mergeFromAMissingIDIsNotFound() throws {
        let fixture = try CLIFixture()
        #expect(try fixture.run(["set", "--force", "a", #"{"singer_state": {"v": 1}}"#]).status == 0)
        let rows = try fixture.rows()
        for arguments in [["merge", "a", "--from-state-id", "nosuch"], ["copy", "--force", "nosuch", "a"], ["move", "--force", "nosuch", "a"]] {
            let result = try fixture.run(arguments)
            #expect(result.status == 4, "\(arguments): \(result.stderr)")
            #expect(result.stderr.contains("No state stored for state ID 'nosuch'"), "\(arguments): \(result.stderr)")
        }
        #expect(try fixture.rows() == rows)
    }

    /// An ID that starts with `-`: the unlock command the refusal prints has `--` before
    /// it, and that command, run as printed, releases the lock.
    @Test func theUnlockCommandPrintedForADashIDWorks() throws {
        let fixture = try CLIFixture()
        #expect(try fixture.run(["init"]).status == 0)
        try fixture.admin.query("INSERT INTO \(fixture.locksTable) (state_id, lock_id) VALUES ('-dash', 'dead-holder')")
        let blocked = try fixture.run(["set", "--force", "--", "-dash", #"{"singer_state": {}}"#])
        #expect(blocked.status == 3, "\(blocked.stderr)")
        let printed = try #require(blocked.stderr.range(of: "meltano-state unlock ").map { String(blocked.stderr[$0.upperBound...]) })
        let words = printed.split(whereSeparator: \.isWhitespace).prefix(3).map(String.init)
        #expect(words == ["--", "-dash", "dead-holder"], "\(blocked.stderr)")
        let bare = try fixture.run(["unlock", "-dash", "dead-holder", "--yes"])
        #expect(bare.status == 2)
        #expect(bare.stderr.contains("unlock -- -dash"), "\(bare.stderr)")
        let released = try fixture.run(["unlock", "--yes"] + words)
        #expect(released.status == 0, "\(released.stderr)")
        #expect(try fixture.admin.query("SELECT count(*) FROM \(fixture.locksTable)").scalar == "0")
        // Restoring that entry takes the lock again, and its question says so.
        let entry = try #require(try Journal(path: fixture.journalPath).entries().entries.last?.id)
        let asked = try fixture.run(["restore", entry])
        #expect(asked.status == 2)
        #expect(asked.stderr.contains("1 released lock(s) ('-dash'), taken again as they were"), "\(asked.stderr)")
        #expect(!asked.stderr.contains("to the value saved"), "\(asked.stderr)")
    }

    /// An ID holding control and invisible characters: the printed unlock command is
    /// shown terminal-safe yet, pasted into bash as printed, names that very ID.
    @Test func theUnlockCommandPrintedForAControlCharacterIDWorksInBash() throws {
        let fixture = try CLIFixture()
        #expect(try fixture.run(["init"]).status == 0)
        let id = "dev:ctl-\u{1b}[2J\nline\u{202e}'q\\b\u{85}é"
        try fixture.admin.query("INSERT INTO \(fixture.locksTable) (state_id, lock_id) VALUES ($1, 'dead-holder')", [id])
        let blocked = try fixture.run(["set", "--force", id, #"{"singer_state": {}}"#])
        #expect(blocked.status == 3, "\(blocked.stderr)")
        let line = try #require(blocked.stderr.split(separator: "\n").first { $0.contains("meltano-state unlock ") })
        let command = try #require(line.range(of: "meltano-state unlock ").map { String(line[$0.lowerBound...]) })
        #expect(command.hasPrefix("meltano-state unlock $'dev:ctl-\\x1b[2J\\x0aline\\xe2\\x80\\xae\\'q\\\\b\\xc2\\x85é' dead-holder"), "\(command)")
        // Run as printed, by bash, with the binary for the program name; in the C locale
        // of many containers (bash reads \u escapes only in a UTF-8 one).
        let script = "meltano-state() { \(shellQuote(CLIFixture.binary)) \"$@\"; }; " + command.replacingOccurrences(of: "unlock ", with: "unlock --yes ")
        let released = try runProcess("bash", ["-c", script], environment: fixture.environment.merging(["LC_ALL": "C"]) { $1 },
                                      currentDirectory: fixture.directory)
        #expect(released.status == 0, "\(released.stdout) \(released.stderr)")
        #expect(try fixture.admin.query("SELECT count(*) FROM \(fixture.locksTable)").scalar == "0")
    }

    /// `locks` lines its columns up in terminal cells: a CJK ID takes two per character.
    @Test func locksAlignsWideCharacters() throws {
        let fixture = try CLIFixture()
        #expect(try fixture.run(["init"]).status == 0)
        for (id, lock) in [("東京:tap-注文", "lock-wide"), ("dev:a", "lock-narrow")] {
            try fixture.admin.query("INSERT INTO \(fixture.locksTable) (state_id, lock_id) VALUES ($1, $2)", [id, lock])
        }
        let listed = try fixture.run(["locks"])
        #expect(listed.status == 0, "\(listed.stderr)")
        func cells(_ text: Substring) -> Int { text.unicodeScalars.reduce(0) { $0 + (($1.value >= 0x3000 && $1.value < 0xA000) ? 2 : 1) } }
        let columns = listed.stdout.split(separator: "\n").compactMap { line -> Int? in
            guard let range = line.range(of: "lock-") else { return nil }
            return cells(line[..<range.lowerBound])
        }
        #expect(columns.count == 2 && Set(columns).count == 1, "\(listed.stdout)")
    }

    /// IDs that would read alike, or not at all, in a table: an ID of spaces, a trailing
    /// space, a literal backslash, an ESC and the text `\x1b`. Each shows apart from the
    /// others (shell-quoted where bare would be ambiguous) and the columns line up.
    @Test func locksShowsAwkwardIDsApartAndAligned() throws {
        let fixture = try CLIFixture()
        #expect(try fixture.run(["init"]).status == 0)
        let ids = [("   ", "'   '"), ("dev:a ", "'dev:a '"), (#"back\slash"#, #"back\slash"#), ("lit\u{1b}back", #"$'lit\x1bback'"#),
                   (#"lit\x1bback"#, #"lit\x1bback"#), ("dev:a", "dev:a"), ("cafe\u{301}", #"$'cafe\xcc\x81'"#), ("caf\u{E9}", "caf\u{E9}")]
        for (index, (id, _)) in ids.enumerated() {
            try fixture.admin.query("INSERT INTO \(fixture.locksTable) (state_id, lock_id) VALUES ($1, $2)", [id, "lock-\(index)"])
        }
        let listed = try fixture.run(["locks"])
        #expect(listed.status == 0, "\(listed.stderr)")
        let lines = listed.stdout.split(separator: "\n")
        for (index, (_, shown)) in ids.enumerated() {
            let line = try #require(lines.first { $0.contains("lock-\(index) ") }, "\(listed.stdout)")
            #expect(line.hasPrefix(shown + " "), "\(line)")
            #expect(line.range(of: "lock-")!.lowerBound.utf16Offset(in: line) == lines[0].range(of: "LOCK ID")!.lowerBound.utf16Offset(in: lines[0]), "\(listed.stdout)")
        }
    }

    /// An edit that only respells a key (é as one scalar, then as e and a combining
    /// accent) is a change: Python's json reads two different keys. Compared as Swift
    /// strings, which are equal by canonical equivalence, it was dropped as "no changes".
    @Test func editThatRespellsAKeyIsWritten() throws {
        let fixture = try CLIFixture()
        #expect(try fixture.run(["set", "--force", "a", #"{"singer_state": {"caf\u00e9": 1}}"#]).status == 0)
        let editor = fixture.directory + "/respell.sh"
        try "#!/bin/sh\nsed -i 's/\\xc3\\xa9/e\\xcc\\x81/' \"$1\"\n".write(toFile: editor, atomically: true, encoding: .utf8)
        chmod(editor, 0o755)
        let result = try fixture.run(["edit", "a", "--yes"], extraEnvironment: ["EDITOR": editor])
        #expect(result.status == 0 && !result.stderr.contains("no changes"), "\(result.stderr)")
        #expect(try fixture.rows().first?[2] == #"{"singer_state": {"cafe\u0301": 1}}"#)
    }

    @Test func editThroughAnEditorScript() throws {
        let fixture = try CLIFixture()
        #expect(try fixture.run(["set", "--force", "a", #"{"singer_state": {"v": 1}}"#]).status == 0)
        let editor = fixture.directory + "/editor.sh"
        func useEditor(_ body: String) throws {
            try ("#!/bin/sh\n" + body).write(toFile: editor, atomically: true, encoding: .utf8)
            chmod(editor, 0o755)
        }
        // Valid: rewrites the value.
        try useEditor(#"printf '{"singer_state": {"v": 2}}' > "$1""# + "\n")
        var result = try fixture.run(["edit", "a", "--yes"], extraEnvironment: ["EDITOR": editor])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("-  \"v\": 1") || result.stderr.contains("-    \"v\": 1"))
        #expect(try fixture.rows().first?[2] == #"{"singer_state": {"v": 2}}"#)
        // Unchanged: nothing written, no journal entry.
        try useEditor("true\n")
        let entriesBefore = try fixture.run(["history", "--json", "--limit", "0"]).stdout.split(separator: "\n").count
        result = try fixture.run(["edit", "a", "--yes"], extraEnvironment: ["EDITOR": editor])
        #expect(result.status == 0)
        #expect(result.stderr.contains("nothing was written"))
        #expect(try fixture.run(["history", "--json", "--limit", "0"]).stdout.split(separator: "\n").count == entriesBefore)
        // Emptied: cancelled.
        try useEditor(#": > "$1""# + "\n")
        result = try fixture.run(["edit", "a", "--yes"], extraEnvironment: ["EDITOR": editor])
        #expect(result.status == 0)
        #expect(try fixture.rows().first?[2] == #"{"singer_state": {"v": 2}}"#)
        // Invalid, then valid: on a terminal the editor is opened again with the error at
        // the top; without one it stops at the error (nobody to fix it: it would loop).
        let marker = fixture.directory + "/opened-once"
        try useEditor("""
            if [ -f \(marker) ]; then
              grep -q '^# meltano-state:' "$1" || exit 9
              printf '{"singer_state": {"v": 3}}' > "$1"
            else
              touch \(marker); printf '{"singer_state": ' > "$1"
            fi

            """)
        result = try fixture.run(["edit", "a", "--yes"], extraEnvironment: ["EDITOR": editor])
        #expect(result.status == 2, "\(result.stderr)")
        #expect(result.stderr.contains("The edited state is not valid JSON; nothing was written"), "\(result.stderr)")
        #expect(try fixture.rows().first?[2] == #"{"singer_state": {"v": 2}}"#)
        try FileManager.default.removeItem(atPath: marker)
        fixture.environment["EDITOR"] = editor
        let onTerminal = try HostileInputTests.onTerminal(fixture, ["edit", "a", "--yes"])
        #expect(onTerminal.status == 0, "\(String(decoding: onTerminal.output, as: UTF8.self))")
        #expect(try fixture.rows().first?[2] == #"{"singer_state": {"v": 3}}"#)
    }

    @Test func historyAndRestoreRoundTrip() throws {
        let fixture = try CLIFixture()
        let original = #"{"singer_state": {"keep": "me", "f": 1.10}}"#
        #expect(try fixture.run(["set", "--force", "a", original]).status == 0)
        let storedBefore = try fixture.rows()
        #expect(try fixture.run(["clear", "--force", "a"]).status == 0)
        #expect(try fixture.rows().isEmpty)
        let history = try fixture.run(["history", "a", "--json"])
        let lines = history.stdout.split(separator: "\n")
        let clearEntry = try #require(lines.first { $0.contains("\"action\":\"clear\"") })
        guard case let .object(entry) = try JSONParser.parse(String(clearEntry)), case let .string(id)? = entry["id"] else {
            Issue.record("no id"); return
        }
        let restored = try fixture.run(["restore", id.text, "--yes"])
        #expect(restored.status == 0, "\(restored.stderr)")
        #expect(try fixture.rows() == storedBefore)
        #expect(try fixture.run(["restore", "no-such-entry", "--yes"]).status == 4)
    }

    @Test func usageErrorsExitTwoAndHelpListsEveryVerb() throws {
        let fixture = try CLIFixture()
        #expect(try fixture.run(["set"]).status == 2)
        #expect(try fixture.run(["no-such-verb"]).status == 2)
        #expect(try fixture.run(["clear", "a", "--all"]).status == 2)
        let help = try fixture.run(["--help"])
        #expect(help.status == 0)
        for verb in ["list", "get", "set", "merge", "copy", "move", "edit", "clear", "export", "import", "locks", "unlock", "history", "restore", "config", "check", "init", "tui"] {
            #expect(help.stdout.contains("  \(verb)"), "help lists \(verb)")
        }
        #expect(help.stdout.contains("Exit codes"))
        let version = try fixture.run(["--version"])
        #expect(version.status == 0 && !version.stdout.isEmpty)
    }

    @Test func checkReportsServerAndTables() throws {
        let fixture = try CLIFixture()
        let before = try fixture.run(["check"])
        #expect(before.stdout.contains("PostgreSQL 1"))
        #expect(before.stdout.contains("missing"))
        #expect(try fixture.run(["init"]).status == 0)
        let after = try fixture.run(["check"])
        #expect(after.status == 0, "\(after.stderr)")
        #expect(after.stdout.contains("meltano_state"))
        #expect(!after.stdout.contains("missing"))
    }

    @Test func passwordNeverShown() throws {
        let fixture = try CLIFixture()
        let secret = "Pl4nted-Secr3t-xyzzy"
        let admin = fixture.admin
        let role = "cli_pw_\(UUID().uuidString.prefix(6).lowercased())"
        try admin.query("CREATE ROLE \(quoteIdentifier(role)) LOGIN PASSWORD 'the-right-one' IN ROLE password_users")
        defer { _ = try? admin.query("DROP ROLE \(quoteIdentifier(role))") }
        let config = try TestDatabase.configuration()
        let env = ["MELTANO_STATE_BACKEND_URI": "postgres://\(role):\(secret)@\(config.host!):\(config.port!)/\(config.database!)/\(fixture.schema)"]
        var outputs: [ProcessOutput] = []
        for args in [["config"], ["config", "--json"], ["check"], ["list"], ["get", "a"], ["set", "--force", "a", #"{"singer_state": {}}"#]] {
            outputs.append(try fixture.run(args, extraEnvironment: env))
        }
        outputs.append(try fixture.run(["check"], extraEnvironment: ["MELTANO_STATE_BACKEND_POSTGRES_PASSWORD": secret, "MELTANO_STATE_BACKEND_URI": "postgres://\(role)@\(config.host!):\(config.port!)/\(config.database!)/\(fixture.schema)"]))
        #expect(outputs[0].stdout.contains("********"))
        #expect(outputs[2].status == 1)
        #expect(outputs[2].stderr.contains("password authentication failed"))
        for output in outputs {
            #expect(!output.stdout.contains(secret))
            #expect(!output.stderr.contains(secret))
        }
        if let journal = FileManager.default.contents(atPath: fixture.journalPath) {
            #expect(!String(decoding: journal, as: UTF8.self).contains(secret))
        }
    }
}

@Suite("edit and concurrent writers")
struct EditConcurrencyTests {
    @Test func editRefusesWhenTheStateChangedWhileTheEditorWasOpen() throws {
        let fixture = try CLIFixture()
        #expect(try fixture.run(["set", "--force", "a", #"{"singer_state": {"v": 1}}"#]).status == 0)
        let editor = fixture.directory + "/editor.sh"
        // The "pipeline" writes while the editor is open; then the editor saves its change.
        let config = try TestDatabase.configuration()
        try """
            #!/bin/sh
            psql -X -q -h \(config.host!) -p \(config.port!) -U \(config.user!) -d \(config.database!) \\
              -c "UPDATE \(fixture.stateTable.replacingOccurrences(of: "\"", with: "\\\""))  SET completed_state = '{\\"singer_state\\": {\\"v\\": 99}}'" >/dev/null
            printf '{"singer_state": {"v": 2}}' > "$1"

            """.write(toFile: editor, atomically: true, encoding: .utf8)
        chmod(editor, 0o755)
        let result = try fixture.run(["edit", "a", "--yes"], extraEnvironment: ["EDITOR": editor])
        #expect(result.status == 1)
        #expect(result.stderr.contains("changed while it was being edited"), "\(result.stderr)")
        #expect(try fixture.rows().first?[2] == #"{"singer_state": {"v": 99}}"#)
        // Equal as parsed JSON (1.0 == 1, other spacing) counts as unchanged.
        try "#!/bin/sh\nprintf '{ \"singer_state\" : { \"v\" : 99.0 } }' > \"$1\"\n".write(toFile: editor, atomically: true, encoding: .utf8)
        chmod(editor, 0o755)
        let unchanged = try fixture.run(["edit", "a", "--yes"], extraEnvironment: ["EDITOR": editor])
        #expect(unchanged.status == 0)
        #expect(unchanged.stderr.contains("No changes"), "\(unchanged.stderr)")
    }
}
