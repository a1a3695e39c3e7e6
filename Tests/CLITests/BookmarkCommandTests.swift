import Foundation
import Postgres
import StateJSON
import StateStore
import Testing
import TestSupport

/// `bookmarks`, `rewind` and `reset-stream` through the real CLI on the test server:
/// the table and `--json`, the diff and messages (golden), the stored bytes outside the
/// stream unchanged (as Meltano stores them: Python's json.dumps), refusals with their
/// exit codes, Meltano's lock, the journal and `restore`.
@Suite("Bookmarks: bookmarks, rewind, reset-stream")
struct BookmarkCommandTests {
    /// As tap-postgres (MeltanoLabs, singer-sdk) leaves it, stored by the add-on.
    static let singerSDK = #"{"singer_state": {"bookmarks": {"public-orders": {"replication_key": "updated_at", "replication_key_value": "2026-11-30T12:34:56.123456+00:00"}, "public-customers": {"replication_key": "id", "replication_key_value": 4242, "starting_replication_value": 4000, "progress_markers": {"Note": "Progress is not resumable if interrupted.", "replication_key": "id", "replication_key_value": 4300}}, "public-events": {"partitions": [{"context": {"tenant": "a"}, "replication_key": "ts", "replication_key_value": "2026-11-29T00:00:00Z"}, {"context": {"tenant": "b"}, "replication_key": "ts", "replication_key_value": "2026-11-28T06:00:00Z"}]}}}}"#
    /// As pipelinewise-tap-postgres leaves it.
    static let pipelinewise = #"{"singer_state": {"bookmarks": {"public-orders": {"last_replication_method": "INCREMENTAL", "replication_key": "updated_at", "version": 1700000000000, "replication_key_value": "2026-11-30T12:34:56+00:00"}, "public-events": {"lsn": 123456789, "version": 1}}, "currently_syncing": "public-orders"}}"#

    func fixture(_ rows: [(String, partial: String?, completed: String?)]) throws -> CLIFixture {
        let fixture = try CLIFixture(schemaPrefix: "bm")
        #expect(try fixture.run(["init"]).status == 0)
        for (id, partial, completed) in rows {
            try fixture.admin.query("INSERT INTO \(fixture.stateTable) (state_id, partial_state, completed_state) VALUES ($1, $2, $3)", [id, partial, completed])
        }
        return fixture
    }

    func row(_ fixture: CLIFixture, _ id: String) throws -> [String?] {
        try fixture.admin.query("SELECT partial_state, completed_state FROM \(fixture.stateTable) WHERE state_id = $1", [id]).rows.first ?? []
    }

    /// The text is what Python's json.dumps writes for it (as Meltano stores states).
    func expectPythonText(_ text: String?) throws {
        let text = try #require(text)
        let python = try runProcess("python3", ["-c", "import json, sys; sys.stdout.write(json.dumps(json.loads(sys.stdin.read())))"], stdin: Data(text.utf8))
        #expect(python.status == 0 && python.stdout == text, "not json.dumps' text: \(text)")
    }

    @Test func bookmarksTableAndJSON() throws {
        let fixture = try fixture([("prod:pg", nil, Self.singerSDK), ("prod:pw", nil, Self.pipelinewise), ("prod:none", nil, #"{"singer_state": {"v": 1}}"#)])
        let table = try fixture.run(["bookmarks", "prod:pw"])
        #expect(table.status == 0, "\(table.stderr)")
        let lines = table.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 4, "\(table.stdout)")
        #expect(lines[0] == "currently_syncing: public-orders")
        #expect(lines[1].split(separator: " ", omittingEmptySubsequences: true) == ["STREAM", "KEY", "VALUE", "AGE", "NEWER", "PROGRESS"])
        #expect(lines[2].hasPrefix("public-orders  updated_at  2026-11-30T12:34:56+00:00  "), "\(lines[2])")
        #expect(lines[2].hasSuffix(" h") && lines[2].contains(" d "), "its age: \(lines[2])")
        #expect(lines[3].split(separator: " ", omittingEmptySubsequences: true) == ["public-events", "lsn", "123456789"], "\(lines[3])")

        let json = try fixture.run(["bookmarks", "prod:pg", "--json"])
        #expect(json.status == 0, "\(json.stderr)")
        let parsed = try JSONParser.parse(json.stdout)
        let streams = try #require(parsed["streams"]?.arrayValue)
        #expect(streams.map { "\($0["stream"]!.meltanoText) \($0["partition"]!.meltanoText) \($0["value"]!.meltanoText)" } == [
            #""public-orders" null "2026-11-30T12:34:56.123456+00:00""#, #""public-customers" null 4242"#,
            #""public-events" {"tenant": "a"} "2026-11-29T00:00:00Z""#, #""public-events" {"tenant": "b"} "2026-11-28T06:00:00Z""#,
        ])
        #expect(streams[1]["progress_marker_value"] == 4300 && streams[1]["age_seconds"] == .null)
        // The age is the clock's: between what it was before and after the command ran.
        let age = try #require(streams[0]["age_seconds"]?.numberValue?.doubleValue)
        let value = BookmarkTimestamp.parse("2026-11-30T12:34:56.123456+00:00")!.instant
        #expect(abs(Date().timeIntervalSince1970 - value - age) < 60, "\(age)")

        let none = try fixture.run(["bookmarks", "prod:none"])
        #expect(none.status == 0 && none.stdout == "No bookmarks in 'prod:none': no bookmarks.\n", "\(none.stdout) \(none.stderr)")
        let missing = try fixture.run(["bookmarks", "prod:missing"])
        #expect(missing.status == 4, "\(missing.stderr)")

        // Escape sequences in a stream name or a value are shown escaped, never sent.
        try fixture.admin.query("INSERT INTO \(fixture.stateTable) (state_id, completed_state) VALUES ('prod:hostile', $1)",
                                [#"{"singer_state": {"bookmarks": {"s\u001b[2J": {"replication_key_value": "\u001b]52;c;aGk=\u0007"}, "c1\u009b31m \u00e9": {"replication_key_value": "x\u0085y"}}}}"#])
        let hostile = try fixture.run(["bookmarks", "prod:hostile"])
        #expect(hostile.status == 0 && !hostile.stdout.contains("\u{1b}") && !hostile.stdout.contains("\u{07}"), "\(hostile.stdout.debugDescription)")
        #expect(hostile.stdout.contains(#"s\x1b[2J"#) && hostile.stdout.contains(#"\x1b]52;c;aGk=\x07"#), "\(hostile.stdout)")
        // C1 controls (two bytes in UTF-8) too, beside a letter that is not ASCII.
        #expect(!hostile.stdout.contains("\u{9B}") && !hostile.stdout.contains("\u{85}"), "\(hostile.stdout.debugDescription)")
        #expect(hostile.stdout.contains(#"c1\x9b31m é"#) && hostile.stdout.contains(#"x\x85y"#), "\(hostile.stdout)")
    }

    @Test func rewindByThreeDaysGolden() throws {
        let fixture = try fixture([("prod:pg", nil, Self.singerSDK), ("prod:other", nil, Self.pipelinewise)])
        let result = try fixture.run(["rewind", "prod:pg", "public-orders", "--by", "3d", "--yes"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.isEmpty)
        #expect(result.stderr == """
            --- prod:pg (stored)
            +++ prod:pg (rewind)
            @@ -3,7 +3,7 @@
                 "bookmarks": {
                   "public-orders": {
                     "replication_key": "updated_at",
            -        "replication_key_value": "2026-11-30T12:34:56.123456+00:00"
            +        "replication_key_value": "2026-11-27T12:34:56.123456+00:00"
                   },
                   "public-customers": {
                     "replication_key": "id",
            Rewound 'public-orders' of 'prod:pg': replication_key_value "2026-11-30T12:34:56.123456+00:00" → "2026-11-27T12:34:56.123456+00:00".

            """)
        // Every stored byte outside the value is as it was; the other ID is untouched.
        let after = try row(fixture, "prod:pg")
        #expect(after == [nil, Self.singerSDK.replacingOccurrences(of: "2026-11-30T12:34:56.123456", with: "2026-11-27T12:34:56.123456")])
        try expectPythonText(after[1])
        #expect(try row(fixture, "prod:other") == [nil, Self.pipelinewise])

        // Journaled; `restore` puts the previous row back byte for byte.
        let entry = try Journal(path: fixture.journalPath).entries().entries.last
        #expect(entry?.action == "rewind" && entry?.stateID == "prod:pg" && entry?.before?.completedState == Self.singerSDK)
        #expect(entry?.note == #"public-orders: replication_key_value "2026-11-30T12:34:56.123456+00:00" → "2026-11-27T12:34:56.123456+00:00""#)
        let restored = try fixture.run(["restore", "--yes", try fixture.newestJournalEntryID(of: "prod:pg")])
        #expect(restored.status == 0, "\(restored.stderr)")
        #expect(try row(fixture, "prod:pg") == [nil, Self.singerSDK])
    }

    @Test func rewindOtherValueKindsAndPartitions() throws {
        let fixture = try fixture([("prod:pg", nil, Self.singerSDK), ("prod:pw", nil, Self.pipelinewise)])
        var result = try fixture.run(["rewind", "prod:pg", "public-customers", "4000", "--yes"])
        #expect(result.status == 0, "\(result.stderr)")
        var expected = Self.singerSDK.replacingOccurrences(of: #""replication_key_value": 4242"#, with: #""replication_key_value": 4000"#)
        #expect(try row(fixture, "prod:pg") == [nil, expected])

        result = try fixture.run(["rewind", "prod:pg", "public-events", "--partition", #"{"tenant":"b"}"#, "--to", "2026-11-01T00:00:00+01:00", "--yes"])
        #expect(result.status == 0, "\(result.stderr)")
        expected = expected.replacingOccurrences(of: "2026-11-28T06:00:00Z", with: "2026-10-31T23:00:00Z")
        #expect(try row(fixture, "prod:pg") == [nil, expected])

        result = try fixture.run(["rewind", "prod:pw", "public-events", "--by", "456789", "--yes"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try row(fixture, "prod:pw") == [nil, Self.pipelinewise.replacingOccurrences(of: "123456789", with: "123000000")])
        try expectPythonText(try row(fixture, "prod:pw")[1])
    }

    /// A partial state with newer progress for the stream: the rewind wins. The row
    /// becomes the merged view with the value changed, stored as `set` stores it.
    @Test func rewindOverAPartialStateWritesTheMergedView() throws {
        let partial = #"{"singer_state": {"bookmarks": {"public-orders": {"replication_key_value": "2026-12-01T00:00:00.000000+00:00"}, "public-customers": {"replication_key_value": 4300}}}}"#
        let fixture = try fixture([("prod:pg", partial, Self.singerSDK)])
        let merged = try JSONParser.parse(try fixture.run(["get", "prod:pg"]).stdout)
        let table = try fixture.run(["bookmarks", "prod:pg"])
        #expect(table.stdout.contains(#"partial state "2026-12-01T00:00:00.000000+00:00" (completed: "2026-11-30T12:34:56.123456+00:00")"#), "\(table.stdout)")

        let result = try fixture.run(["rewind", "prod:pg", "public-orders", "--by", "1d", "--yes"])
        #expect(result.status == 0, "\(result.stderr)")
        let after = try row(fixture, "prod:pg")
        #expect(after[0] == nil, "the partial state is cleared, as `set` clears it")
        // The merged view as it was, but for the one value.
        #expect(after[1] == merged.meltanoText.replacingOccurrences(of: "2026-12-01T00:00:00.000000", with: "2026-11-30T00:00:00.000000"))
        #expect(after[1]?.contains(#""replication_key_value": 4300"#) == true, "the other stream's partial progress is kept")
        try expectPythonText(after[1])
        #expect(try fixture.run(["bookmarks", "prod:pg", "--json"]).stdout.contains(#""partial_value": null"#))
    }

    @Test func resetStreamRemovesExactlyThatStream() throws {
        let fixture = try fixture([("prod:pw", nil, Self.pipelinewise), ("prod:pg", nil, Self.singerSDK)])
        let result = try fixture.run(["reset-stream", "prod:pw", "public-events", "--yes"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr == """
            --- prod:pw (stored)
            +++ prod:pw (reset-stream)
            @@ -6,10 +6,6 @@
                     "replication_key": "updated_at",
                     "version": 1700000000000,
                     "replication_key_value": "2026-11-30T12:34:56+00:00"
            -      },
            -      "public-events": {
            -        "lsn": 123456789,
            -        "version": 1
                   }
                 },
                 "currently_syncing": "public-orders"
            Removed the bookmark of 'public-events' from 'prod:pw'.

            """)
        #expect(try row(fixture, "prod:pw") == [nil, Self.pipelinewise.replacingOccurrences(of: #", "public-events": {"lsn": 123456789, "version": 1}"#, with: "")])
        #expect(try row(fixture, "prod:pg") == [nil, Self.singerSDK])
        let entry = try Journal(path: fixture.journalPath).entries().entries.last
        #expect(entry?.action == "reset-stream" && entry?.before?.completedState == Self.pipelinewise)

        // A partitioned stream goes whole.
        #expect(try fixture.run(["reset-stream", "prod:pg", "public-events", "--yes"]).status == 0)
        #expect(try row(fixture, "prod:pg")[1] == Self.singerSDK.replacingOccurrences(of: #", "public-events": {"partitions": [{"context": {"tenant": "a"}, "replication_key": "ts", "replication_key_value": "2026-11-29T00:00:00Z"}, {"context": {"tenant": "b"}, "replication_key": "ts", "replication_key_value": "2026-11-28T06:00:00Z"}]}"#, with: ""))
    }

    @Test func refusalsChangeNothing() throws {
        let fixture = try fixture([("prod:pg", nil, Self.singerSDK), ("prod:broken", nil, "{not json")])
        let before = try fixture.rows()
        let cases: [([String], Int32, String)] = [
            (["rewind", "prod:pg", "public-customers", "5000", "--yes"], 1, "5000 is ahead of the current bookmark 4242 of 'public-customers': moving it forward skips data. Add --forward if that is what you want."),
            (["rewind", "prod:pg", "public-nope", "--by", "1d", "--yes"], 4, "The state has no bookmark of 'public-nope'; its streams: public-orders, public-customers, public-events."),
            (["rewind", "prod:missing", "public-orders", "--by", "1d", "--yes"], 4, "'prod:missing'"),
            (["rewind", "prod:pg", "public-orders", "--by", "3", "--yes"], 2, "'3' is not a duration"),
            (["rewind", "prod:pg", "public-orders", "yesterday", "--yes"], 2, "'yesterday' is not a time"),
            (["rewind", "prod:pg", "public-events", "--by", "1d", "--yes"], 2, #"'public-events' is partitioned; choose a partition with --partition: '{"tenant": "a"}', '{"tenant": "b"}'."#),
            (["rewind", "prod:pg", "public-events", "--partition", "{tenant", "--by", "1d", "--yes"], 2, "--partition is not JSON"),
            (["rewind", "prod:pg", "public-orders", "--yes"], 2, "Give exactly one of VALUE, --by or --to."),
            (["rewind", "prod:pg", "public-orders", "--by", "1d"], 2, "Not confirmed: no terminal to ask on. Add --yes to proceed."),
            (["reset-stream", "prod:pg", "public-nope", "--yes"], 4, "The state has no bookmark of 'public-nope'"),
            (["reset-stream", "prod:broken", "public-orders", "--yes"], 1, "not valid JSON"),
        ]
        for (arguments, status, message) in cases {
            let result = try fixture.run(arguments)
            #expect(result.status == status, "\(arguments): \(result.status) \(result.stderr)")
            #expect(result.stderr.contains(message), "\(arguments): \(result.stderr)")
            #expect(result.stdout.isEmpty, "\(arguments): \(result.stdout)")
        }
        #expect(try fixture.rows() == before)
        #expect(FileManager.default.contents(atPath: fixture.journalPath) == nil, "nothing journaled")
        // --forward allows it.
        let forward = try fixture.run(["rewind", "prod:pg", "public-customers", "5000", "--forward", "--yes"])
        #expect(forward.status == 0, "\(forward.stderr)")
        #expect(try row(fixture, "prod:pg")[1]?.contains(#""replication_key_value": 5000, "starting_replication_value""#) == true)
    }

    /// A rewind whose new value Python could not read back (an integer of 4301 digits)
    /// is refused before any diff or question, on the text's way and on the tree's (a
    /// repeated key); nothing is written or journaled. (On the text's way the diff once
    /// showed the whole state removed: the new text did not parse.)
    @Test func aRewindToAnIntegerPythonCannotReadIsRefusedBeforeTheDiff() throws {
        let nines = String(repeating: "9", count: 4300)
        let text = #"{"singer_state": {"bookmarks": {"orders": {"replication_key": "id", "replication_key_value": -"# + nines + "}}}}"
        let repeated = #"{"singer_state": {"x": 1}, "# + String(text.dropFirst())  // the last singer_state wins
        let fixture = try fixture([("prod:text", nil, text), ("prod:tree", nil, repeated)])
        for id in ["prod:text", "prod:tree"] {
            let before = try row(fixture, id)
            let result = try fixture.run(["rewind", id, "orders", "--by", "1", "--yes"])
            #expect(result.status == 1, "\(id): \(result.stderr.prefix(300))")
            #expect(result.stderr.contains("The state holds an integer of 4301 digits") && !result.stderr.contains("@@"), "\(id): \(result.stderr.prefix(300))")
            #expect(try row(fixture, id) == before)
        }
        #expect(try Journal(path: fixture.journalPath).entries().entries.isEmpty, "nothing journaled")
    }

    /// A state in which a key repeats: Python's dict keeps the last value, which only the
    /// tree models, so the edit is made on the tree (the text's way stands aside).
    static let repeatedKey = #"{"singer_state": {"bookmarks": {"public-orders": {"replication_key_value": "2026-01-01T00:00:00Z"}}}, "singer_state": {"bookmarks": {"public-orders": {"replication_key_value": "2026-11-30T12:34:56.123456+00:00"}}}}"#

    /// The row is written only while it is what was read: a write that slipped in while
    /// the rewind waited for Meltano's lock (by a writer that ignores it) stays, and the
    /// rewind says so; a write of the same text (only updated_at moved) does not stop it.
    /// Both ways: on the text (bytes compared) and on the tree (a repeated key; values compared).
    @Test(arguments: [(false, false), (false, true), (true, false), (true, true)])
    func aRowWrittenWhileTheRewindWaitsForTheLockIsNotOverwritten(repeatedKey: Bool, changed: Bool) throws {
        let stored = repeatedKey ? Self.repeatedKey : Self.singerSDK
        let fixture = try fixture([("prod:pg", nil, stored)])
        try fixture.admin.query("INSERT INTO \(fixture.locksTable) (state_id, lock_id) VALUES ('prod:pg', 'holder')")
        let rewind = try RunningCLI(fixture, ["rewind", "prod:pg", "public-orders", "--by", "1d", "--yes", "--lock-timeout", "60"])
        // Its first try at the lock: the row was read before it.
        #expect(try waitForStatement(fixture.admin, marker: fixture.schema, containing: "meltano_state_locks\" (state_id, lock_id)") != nil, "the rewind tries the lock")
        let meanwhile = changed ? stored.replacingOccurrences(of: "2026-11-30T12:34:56.123456", with: "2026-11-30T13:00:00.000000") : stored
        try fixture.admin.query("UPDATE \(fixture.stateTable) SET completed_state = $1, updated_at = LOCALTIMESTAMP + interval '1 second' WHERE state_id = 'prod:pg'",
                                [meanwhile])
        try fixture.admin.query("DELETE FROM \(fixture.locksTable) WHERE lock_id = 'holder'")
        let end = rewind.finish(timeout: 60)
        if changed {
            #expect(end.status == 1 && end.stderr.contains("The state of 'prod:pg' changed since it was read (a pipeline wrote it?); nothing was written."), "\(end.stderr)")
            #expect(try row(fixture, "prod:pg") == [nil, meanwhile])
            #expect(try Journal(path: fixture.journalPath).entries().entries.isEmpty, "nothing journaled")
        } else {
            #expect(end.status == 0, "\(end.stderr)")
            let rewound = repeatedKey ? #"{"singer_state": {"bookmarks": {"public-orders": {"replication_key_value": "2026-11-29T12:34:56.123456+00:00"}}}}"#
                : Self.singerSDK.replacingOccurrences(of: "2026-11-30T12:34:56.123456", with: "2026-11-29T12:34:56.123456")
            #expect(try row(fixture, "prod:pg") == [nil, rewound])
            #expect(try Journal(path: fixture.journalPath).entries().entries.last?.before?.completedState == stored)
        }
        #expect(try fixture.admin.query("SELECT count(*) FROM \(fixture.locksTable)").scalar == "0", "its own lock released")
    }

    @Test(arguments: [["rewind", "prod:pg", "public-orders", "--by", "1d", "--yes"], ["reset-stream", "prod:pg", "public-orders", "--yes"]])
    func aHeldLockExitsThree(_ arguments: [String]) throws {
        let fixture = try fixture([("prod:pg", nil, Self.singerSDK)])
        try fixture.admin.query("INSERT INTO \(fixture.locksTable) (state_id, lock_id) VALUES ('prod:pg', 'dead-holder')")
        let result = try fixture.run(arguments)
        #expect(result.status == 3, "\(result.stderr)")
        #expect(result.stderr.contains("Could not acquire lock for state_id: prod:pg") && result.stderr.contains("meltano-state unlock prod:pg dead-holder"), "\(result.stderr)")
        #expect(try row(fixture, "prod:pg") == [nil, Self.singerSDK])
        #expect(try fixture.admin.query("SELECT lock_id FROM \(fixture.locksTable)").rows == [["dead-holder"]])
    }
}
