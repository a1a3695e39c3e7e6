import Foundation
import Postgres
import StateJSON
import StateStore
import TestSupport
import Testing

@Suite("Store verbs against the add-on's reference model")
struct StoreVerbTests {
    /// The same sequence of verbs through this store (schema A) and through the
    /// reference model of the add-on (schema B): the tables end byte-identical.
    @Test func verbSequenceMatchesReferenceByteForByte() throws {
        let ours = try StoreFixture(schemaPrefix: "ours")
        let theirs = try StoreFixture(schemaPrefix: "ref", createTables: false)
        let steps: [(verb: [String], apply: (StateStore) throws -> Void)] = [
            (["set", "dev:tap-a-to-b", #"{"singer_state": {"bookmarks": {"users": {"updated_at": "2024-01-01T00:00:00+00:00", "id": 12345678901234567890}}}, "z": 1.10, "é": "ü😀"}"#],
             { try $0.set("dev:tap-a-to-b", to: json(#"{"singer_state": {"bookmarks": {"users": {"updated_at": "2024-01-01T00:00:00+00:00", "id": 12345678901234567890}}}, "z": 1.10, "é": "ü😀"}"#)) }),
            (["merge", "dev:tap-a-to-b", #"{"singer_state": {"bookmarks": {"orders": {"lsn": 1e5}}}}"#],
             { try $0.merge("dev:tap-a-to-b", with: json(#"{"singer_state": {"bookmarks": {"orders": {"lsn": 1e5}}}}"#)) }),
            (["merge", "dev:tap-a-to-b", #"{"singer_state": {"bookmarks": {"orders": {"lsn": 7, "arr": [1, {"a": null}]}}}}"#],
             { try $0.merge("dev:tap-a-to-b", with: json(#"{"singer_state": {"bookmarks": {"orders": {"lsn": 7, "arr": [1, {"a": null}]}}}}"#)) }),
            (["merge", "new:id", #"{"singer_state": {"x": -0.0, "big": -9223372036854775809}}"#],
             { try $0.merge("new:id", with: json(#"{"singer_state": {"x": -0.0, "big": -9223372036854775809}}"#)) }),
            (["copy", "dev:tap-a-to-b", "prod:tap-a-to-b"], { try $0.copy(from: "dev:tap-a-to-b", to: "prod:tap-a-to-b") }),
            (["move", "new:id", "moved:id"], { try $0.move(from: "new:id", to: "moved:id") }),
            (["set", "--no-validate", "empty:id", "{}"], { try $0.set("empty:id", to: json("{}"), validate: false) }),
            (["set", "--no-validate", "dev:tap-a-to-b", "{}"], { try $0.set("dev:tap-a-to-b", to: json("{}"), validate: false) }),
            (["merge", "moved:id", "--from-state-id", "prod:tap-a-to-b"], { try $0.merge("moved:id", fromStateID: "prod:tap-a-to-b") }),
            (["clear", "prod:tap-a-to-b"], { try $0.clear("prod:tap-a-to-b") }),
            (["set", "odd %_\\ 'quote' \"dq\" ☃", #"{"singer_state": {"NaN": NaN, "inf": 1e400, "tiny": 5e-324, "s": "\u0000\u001f\u007f</script>"}}"#],
             { try $0.set("odd %_\\ 'quote' \"dq\" ☃", to: json(#"{"singer_state": {"NaN": NaN, "inf": 1e400, "tiny": 5e-324, "s": "\u0000\u001f\u007f</script>"}}"#)) }),
        ]
        for step in steps {
            try step.apply(ours.store)
            let result = try Reference.run(step.verb, schema: theirs.schema)
            #expect(result.status == 0, "reference \(step.verb): \(result.stderr)")
        }
        let ourRows = try ours.rows()
        let referenceRows = try theirs.admin.query("SELECT state_id, partial_state, completed_state FROM \(theirs.stateTable) ORDER BY state_id").rows
        #expect(ourRows.count == 4)
        #expect(ourRows == referenceRows)
        #expect(try ours.lockRows().isEmpty)
        // And `get` prints what the reference prints.
        for row in ourRows {
            let id = row[0]!
            let reference = try Reference.run(["get", id], schema: theirs.schema)
            #expect(try ours.store.view(id).compactText + "\n" == reference.stdout)
        }
    }

    @Test func setRefusesWhatMeltanoRefuses() throws {
        let fixture = try StoreFixture()
        #expect(throws: StoreError.self) { try fixture.store.set("a", to: json(#"{"bookmarks": {}}"#)) }
        #expect(throws: StoreError.self) { try fixture.store.set("a", to: json(#"["singer_state"]"#)) }
        #expect(throws: StoreError.self) { try fixture.store.set("a", to: json(#"[1]"#), validate: false) }
        #expect(throws: StoreError.self) { try fixture.store.set("", to: json(#"{"singer_state": {}}"#)) }
        #expect(throws: StoreError.self) { try fixture.store.set(String(repeating: "x", count: 901), to: json(#"{"singer_state": {}}"#)) }
        #expect(try fixture.rows().isEmpty)
        #expect(try fixture.lockRows().isEmpty)
        // 900 characters (multi-byte ones too) are fine.
        let longest = String(repeating: "é", count: 900)
        try fixture.store.set(longest, to: json(#"{"singer_state": {}}"#))
        #expect(try fixture.row(longest) != nil)
    }

    /// A state nested deeper than Python's json reads back is never written (Meltano's
    /// list, get and export would fail for everyone); the deepest written is read by the
    /// add-on's reference model.
    @Test func tooDeepAStateIsNeverWritten() throws {
        let fixture = try StoreFixture()
        func nested(_ levels: Int) -> String { #"{"singer_state": "# + String(repeating: #"{"a":"#, count: levels - 1) + "1" + String(repeating: "}", count: levels) }
        try fixture.store.set("deepest", to: json(nested(JSONParser.maximumStoredDepth)))
        let read = try Reference.run(["get", "deepest"], schema: fixture.schema)
        #expect(read.status == 0, "\(read.stderr)")
        for write in [{ try fixture.store.set("too-deep", to: json(nested(JSONParser.maximumStoredDepth + 1))) },
                      { try fixture.store.merge("too-deep", with: json(nested(JSONParser.maximumStoredDepth + 1))) },
                      { _ = try fixture.store.importStates([ImportEntry(stateID: "too-deep", completed: json(nested(600)), partial: .null)]) }] {
            let error = #expect(throws: StoreError.self) { try write() }
            #expect(error?.description.contains("levels deep") == true, "\(String(describing: error))")
        }
        // A deep row written by someone else is not copied, by text or by tree.
        try fixture.admin.query("INSERT INTO \(fixture.stateTable) (state_id, completed_state) VALUES ('other', $1)", [nested(600)])
        #expect(throws: StoreError.self) { try fixture.store.copy(from: "other", to: "too-deep") }
        #expect(try fixture.row("too-deep") == nil)
    }

    /// Nor an integer longer than Python's `int` reads (4300 digits): the reference
    /// model (Python's json) refuses to set it and fails to read a row holding it; the
    /// longest accepted, and its negative, are written and read back.
    @Test func tooLongAnIntegerIsNeverWritten() throws {
        let fixture = try StoreFixture()
        let limit = JSONParser.maximumIntegerDigits
        func state(_ digits: Int, sign: String = "") -> String { #"{"singer_state": {"n": "# + sign + String(repeating: "9", count: digits) + "}}" }
        let longest = state(limit, sign: "-")
        try fixture.store.set("longest", to: json(longest))
        try fixture.store.set("longest-text", to: try MergedState(json: Array(state(limit).utf8)))
        for id in ["longest", "longest-text"] {
            let read = try Reference.run(["get", id], schema: fixture.schema)
            #expect(read.status == 0, "\(read.stderr.suffix(300))")
        }
        #expect(try Reference.run(["set", "x", state(limit + 1)], schema: fixture.schema).status != 0)
        // A text holding one is not JSON Python reads: refused as it is read, at the number.
        let tooLong = state(limit + 1)
        let parseError = #expect(throws: JSONParseError.self) { _ = try MergedState(json: Array(tooLong.utf8)) }
        #expect(parseError?.offset == 23 && parseError?.message.contains("value has \(limit + 1) digits") == true)
        // A tree can hold one (a bookmark moved by arithmetic): refused by every write.
        let tree: JSONValue = ["singer_state": ["n": .number(try #require(JSONNumber(literal: String(repeating: "9", count: limit + 1))))]]
        for write in [{ try fixture.store.set("too-long", to: tree) },
                      { try fixture.store.merge("too-long", with: tree) },
                      { _ = try fixture.store.importStates([ImportEntry(stateID: "too-long", completed: tree, partial: .null)]) }] {
            let error = #expect(throws: StoreError.self) { try write() }
            #expect(error?.description.contains("integer of \(limit + 1) digits") == true, "\(String(describing: error))")
        }
        // Floats of any length are read by Python: written.
        try fixture.store.set("long-float", to: json(#"{"singer_state": {"f": 1."# + String(repeating: "5", count: limit + 10) + "}}"))
        // A row holding one, written by someone else, is unreadable, as it is for Meltano:
        // `get` says why, it is not copied (by text or by tree), and a merge onto it is
        // refused (Meltano's merge fails reading it).
        try fixture.admin.query("INSERT INTO \(fixture.stateTable) (state_id, completed_state) VALUES ('other', $1)", [tooLong])
        let record = try #require(try fixture.store.get("other"))
        #expect(!record.isReadable && record.completed.error?.message.contains("value has \(limit + 1) digits") == true)
        #expect(throws: StoreError.self) { try fixture.store.copy(from: "other", to: "too-long") }
        #expect(try fixture.row("too-long") == nil)
        let mergeError = #expect(throws: StoreError.self) { try fixture.store.merge("other", with: json(#"{"singer_state": {"x": 1}}"#)) }
        #expect(mergeError?.description.contains("value has \(limit + 1) digits") == true, "\(String(describing: mergeError))")
        #expect(try fixture.row("other") == [nil, tooLong])
        let reference = try Reference.run(["get", "other"], schema: fixture.schema)
        #expect(reference.status != 0 && reference.stderr.contains("Exceeds the limit (4300 digits)"), "\(reference.stderr.suffix(300))")
    }

    @Test func mergeNeverWritesARowThatBreaksMeltano() throws {
        let fixture = try StoreFixture()
        try fixture.store.set("a", to: json(#"{"singer_state": {"bookmarks": 5}}"#))
        let error = #expect(throws: StoreError.self) {
            try fixture.store.merge("a", with: json(#"{"singer_state": {"bookmarks": {"x": 1}}}"#))
        }
        #expect(error?.description.contains("Refusing") == true)
        #expect(try fixture.row("a")?[1] == #"{"singer_state": {"bookmarks": 5}}"#)
        #expect(try fixture.lockRows().isEmpty)
    }

    @Test func copyAndMoveOfMissingSourceSayNotFound() throws {
        let fixture = try StoreFixture()
        let error = #expect(throws: StoreError.self) { try fixture.store.copy(from: "nope", to: "b") }
        if case .notFound = error {} else { Issue.record("expected notFound, got \(String(describing: error))") }
        #expect(try fixture.rows().isEmpty)
    }

    @Test func unreadableRowsAreShownNotFailed() throws {
        let fixture = try StoreFixture()
        try fixture.admin.query("INSERT INTO \(fixture.stateTable) (state_id, partial_state, completed_state) VALUES ('bad', NULL, $1)", [#"{"singer_state": {"a": 1"#])
        try fixture.admin.query("INSERT INTO \(fixture.stateTable) (state_id, partial_state, completed_state) VALUES ('good', NULL, $1)", [#"{"singer_state": {}}"#])
        let record = try #require(try fixture.store.get("bad"))
        #expect(record.completed.raw == #"{"singer_state": {"a": 1"#)
        #expect(record.completed.error != nil)
        #expect(!record.isReadable)
        let page = try fixture.store.list()
        #expect(page.map(\.stateID) == ["bad", "good"])
        #expect(page.map(\.isInvalidJSON) == [true, false])
        // Valid by Python's rules, not the server's: json.dumps writes NaN and Infinity
        // (PostgreSQL's json type refuses them); a broken partial part marks the row too.
        try fixture.admin.query("INSERT INTO \(fixture.stateTable) (state_id, partial_state, completed_state) VALUES ('nan', $1, $2)",
                                [#"{"singer_state": {"b": -Infinity}}"#, #"{"singer_state": {"a": NaN}}"#])
        try fixture.admin.query("INSERT INTO \(fixture.stateTable) (state_id, partial_state, completed_state) VALUES ('partial-bad', '{', NULL)")
        #expect(try fixture.store.list().map { [$0.stateID: $0.isInvalidJSON] }
                == [["bad": true], ["good": false], ["nan": false], ["partial-bad": true]])
        try fixture.admin.query("DELETE FROM \(fixture.stateTable) WHERE state_id IN ('nan', 'partial-bad')")
        let export = try fixture.store.exportAll()
        #expect(export.states.map(\.stateID) == ["good"])
        #expect(export.unreadable.map(\.0) == ["bad"])
        // A merge cannot build on it, and says why; set replaces it.
        #expect(throws: StoreError.self) { try fixture.store.merge("bad", with: json(#"{"singer_state": {}}"#)) }
        try fixture.store.set("bad", to: json(#"{"singer_state": {"fixed": true}}"#))
        #expect(try fixture.store.get("bad")?.isReadable == true)
    }

    @Test func globsMatchLikeAShellGlob() throws {
        let fixture = try StoreFixture()
        let ids = ["tap_x-a", "tapYx-b", "tap%x", "tap\\x", "prod:tap-github-to-pg", "prod:tap-github-to-pg:suffix", "dev:tap-github-to-pg"]
        for id in ids { try fixture.store.set(id, to: json(#"{"singer_state": {}}"#)) }
        #expect(try fixture.store.allStateIDs(matching: "tap_x*") == ["tap_x-a"])
        #expect(try fixture.store.allStateIDs(matching: "tap%*") == ["tap%x"])
        #expect(try fixture.store.allStateIDs(matching: "tap\\*") == ["tap\\x"])
        #expect(try fixture.store.allStateIDs(matching: "prod:*") == ["prod:tap-github-to-pg", "prod:tap-github-to-pg:suffix"])
        #expect(try fixture.store.allStateIDs(matching: "*:tap-github-to-pg") == ["dev:tap-github-to-pg", "prod:tap-github-to-pg"])
        #expect(try fixture.store.allStateIDs(matching: "tap?x*").sorted() == ["tap%x", "tap\\x", "tapYx-b", "tap_x-a"].sorted())
        #expect(try fixture.store.count(matching: "prod:*") == 2)
        #expect(try fixture.store.count() == ids.count)
    }

    @Test func keysetPagingWalksEveryIDOnce() throws {
        let fixture = try StoreFixture()
        try fixture.admin.query("""
            INSERT INTO \(fixture.stateTable) (state_id, completed_state)
            SELECT 'id-' || lpad(i::text, 5, '0'), '{"singer_state": {}}' FROM generate_series(1, 1234) i
            """)
        var seen: [String] = []
        var after: String? = nil
        while true {
            let page = try fixture.store.list(after: after, limit: 100)
            seen += page.map(\.stateID)
            guard page.count == 100 else { break }
            after = page.last?.stateID
        }
        #expect(seen.count == 1234)
        #expect(seen == seen.sorted())
        #expect(Set(seen).count == 1234)
        let back = try fixture.store.list(before: "id-00101", limit: 3)
        #expect(back.map(\.stateID) == ["id-00098", "id-00099", "id-00100"])
    }

    @Test func readersNeverCreateTables() throws {
        let fixture = try StoreFixture(createTables: false)
        let error = #expect(throws: StoreError.self) { try fixture.store.list() }
        #expect(error?.description.contains("No Meltano state tables") == true)
        #expect(error?.description.contains("meltano-state init") == true)
        #expect(try fixture.store.tablesExist() == false)
        let missing = try StoreFixture.makeStore(schema: "no_such_schema_x", journalPath: fixture.journalPath)
        let schemaError = #expect(throws: StoreError.self) { try missing.get("a") }
        #expect(schemaError?.description.contains("does not exist") == true)
    }

    @Test func mixedCaseSchemaIsFoldedAsMeltanoDoes() throws {
        let admin = try TestDatabase.connect()
        let lower = "mixedcase_\(UUID().uuidString.prefix(6).lowercased())"
        try admin.query("CREATE SCHEMA \(quoteIdentifier(lower))")
        defer { TestDatabase.dropSchema(lower, on: admin) }
        let store = try StoreFixture.makeStore(schema: lower.uppercased(), journalPath: NSTemporaryDirectory() + "j-\(UUID()).jsonl")
        #expect(store.schema == lower)
        try store.set("a", to: json(#"{"singer_state": {}}"#))
        let reference = try Reference.run(["get", "a"], schema: lower.uppercased())
        #expect(reference.stdout == #"{"singer_state":{}}"# + "\n")
    }

    @Test func importIsAllOrNothingAndMatchesReference() throws {
        let ours = try StoreFixture(schemaPrefix: "imp")
        let theirs = try StoreFixture(schemaPrefix: "impref", createTables: false)
        let document = #"{"a": {"completed": {"singer_state": {"x": 1.50}}, "partial": {}}, "b": {"completed": null, "partial": {"singer_state": {"y": "é"}}}, "c": {"partial": 0}}"#
        guard case let .object(object) = try json(document) else { Issue.record("not an object"); return }
        let entries = object.map { key, value -> ImportEntry in
            guard case let .object(entry) = value else { fatalError() }
            return ImportEntry(stateID: key.text, completed: entry["completed"] ?? .null, partial: entry["partial"] ?? .null)
        }
        #expect(try ours.store.importStates(entries) == 3)
        #expect(try Reference.run(["import", "-"], schema: theirs.schema, stdin: Data(document.utf8)).status == 0)
        let referenceRows = try theirs.admin.query("SELECT state_id, partial_state, completed_state FROM \(theirs.stateTable) ORDER BY state_id").rows
        #expect(try ours.rows() == referenceRows)
        // One bad entry: nothing at all is written (Meltano writes the ones before it).
        let bad = [ImportEntry(stateID: "d", completed: try json(#"{"singer_state": {}}"#), partial: .null),
                   ImportEntry(stateID: "e", completed: try json(#"[1]"#), partial: .null)]
        #expect(throws: StoreError.self) { try ours.store.importStates(bad) }
        #expect(try ours.row("d") == nil)
        #expect(try ours.lockRows().isEmpty)
    }

    @Test func clearAllJournalsEveryRowAndRestoreBringsThemBack() throws {
        let fixture = try StoreFixture()
        try fixture.store.set("a", to: json(#"{"singer_state": {"n": 1.10}}"#))
        try fixture.store.merge("b", with: json(#"{"singer_state": {"m": "\u00e9"}}"#))
        // A hand-written row that is not even JSON must come back byte for byte too.
        try fixture.admin.query("INSERT INTO \(fixture.stateTable) (state_id, partial_state, completed_state) VALUES ('c', 'not json', '{ \"x\" :1 }')")
        let before = try fixture.rows()
        #expect(try fixture.store.clearAll() == 3)
        #expect(try fixture.rows().isEmpty)
        #expect(try fixture.lockRows().isEmpty)
        let entries = try fixture.store.history().filter { $0.action == "clear-all" }
        #expect(entries.count == 3)
        let batch = try #require(entries.first?.batch)
        #expect(entries.allSatisfy { $0.batch == batch })
        try fixture.store.restore(entryID: batch)
        #expect(try fixture.rows() == before)
        // That restore is a batch of its own: one restore undoes it.
        let restores = try fixture.store.history().filter { $0.action == "restore" }
        #expect(restores.count == 3 && Set(restores.compactMap(\.batch)).count == 1, "\(restores.map(\.batch))")
        try fixture.store.restore(entryID: try #require(restores.first?.batch))
        #expect(try fixture.rows().isEmpty)
    }

    /// A batch restore is all or nothing: a lock held on one of its IDs refuses the
    /// whole of it (as a held lock refuses the import it undoes), naming the lock.
    @Test func aBatchRestoreIsAllOrNothing() throws {
        let fixture = try StoreFixture()
        try fixture.store.importStates(["ba", "bb", "bc"].map { ImportEntry(stateID: $0, completed: ["singer_state": ["v": 1]], partial: .null) })
        let batch = try #require(try fixture.store.history().first { $0.action == "import" }?.batch)
        try fixture.store.importStates(["ba", "bb", "bc"].map { ImportEntry(stateID: $0, completed: ["singer_state": ["v": 2]], partial: .null) })
        let second = try #require(try fixture.store.history().first { $0.action == "import" && $0.batch != batch }?.batch)
        let rows = try fixture.rows()
        try fixture.admin.query("INSERT INTO \(fixture.locksTable) (state_id, lock_id) VALUES ('bb', 'a-pipeline')")
        let error = #expect(throws: StoreError.self) { try fixture.store.restore(entryID: second) }
        guard case .locksHeld? = error else { Issue.record("not locksHeld: \(String(describing: error))"); return }
        #expect(error?.description.contains("a-pipeline") == true)
        #expect(try fixture.rows() == rows)
        try fixture.admin.query("DELETE FROM \(fixture.locksTable)")
        try fixture.store.restore(entryID: second)
        #expect(try fixture.rows().map { $0[2] } == Array(repeating: #"{"singer_state": {"v": 1}}"#, count: 3))
        #expect(try fixture.lockRows().isEmpty)
    }

    @Test func clearAllRefusesWhileALockIsHeld() throws {
        let fixture = try StoreFixture()
        try fixture.store.set("a", to: json(#"{"singer_state": {}}"#))
        try fixture.admin.query("INSERT INTO \(fixture.locksTable) (state_id, lock_id) VALUES ('a', 'someone-else')")
        let error = #expect(throws: StoreError.self) { try fixture.store.clearAll() }
        #expect(error?.description.contains("someone-else") == true)
        #expect(try fixture.rows().count == 1)
        #expect(try fixture.lockRows() == [["a", "someone-else"]])
    }
}

@Suite("Paging helpers for the browser")
struct PagingHelperTests {
    @Test func lastPagePositionAndRawRead() throws {
        let fixture = try StoreFixture()
        try fixture.admin.query("""
            INSERT INTO \(fixture.stateTable) (state_id, completed_state)
            SELECT 'id-' || lpad(i::text, 4, '0'), '{"singer_state": {"i": ' || i || '}}' FROM generate_series(1, 250) i
            """)
        let last = try fixture.store.list(fromEnd: true, limit: 3)
        #expect(last.map(\.stateID) == ["id-0248", "id-0249", "id-0250"])
        #expect(try fixture.store.position(of: "id-0001") == 0)
        #expect(try fixture.store.position(of: "id-0100") == 99)
        #expect(try fixture.store.position(of: "id-0100", matching: "id-00*") == 99)
        #expect(try fixture.store.position(of: "id-0100", matching: "id-01*") == 0)
        let raw = try #require(try fixture.store.getRaw("id-0007"))
        #expect(raw.completedState == #"{"singer_state": {"i": 7}}"#)
        #expect(raw.partialState == nil)
        #expect(try fixture.store.getRaw("nope") == nil)
    }
}

@Suite("copy and move of states stored in any form")
struct CopyOfStoredTextTests {
    /// Rows written by other writers (any spacing, escapes, repeated keys, a partial
    /// part, a refused shape): copy and move through this store and through the
    /// add-on's reference model leave byte-identical tables, and refuse the same ones.
    /// Copy reads a state with nothing partial as text and writes `json.dumps` of it
    /// without the tree; the rest goes through the tree.
    @Test func copyAndMoveMatchTheReferenceOnStoredText() throws {
        let ours = try StoreFixture(schemaPrefix: "cpo")
        let theirs = try StoreFixture(schemaPrefix: "cpr")
        let big = "{\"singer_state\":{\"bookmarks\":{" + (0..<20_000).map { "\"s\($0)\" :{ \"v\":\($0).50,\"t\":\"é\u{1F600}\\u00e9\"}" }.joined(separator: ",") + "}}}"
        let corpus: [(partial: String?, completed: String?)] = [
            (nil, #"{"singer_state":{"a":1}}"#),
            (nil, "{ \"singer_state\" :\n { \"é\": \"ü😀\", \"n\": 1.10, \"big\": 12345678901234567890, \"x\": NaN, \"e\": 1E5, \"neg\": -0 } , \"z\": [1 , 2] }"),
            (nil, #"{"singer\u005fstate": {"s": "\ud83d\ude00 \u00e9 \ud800 \u0000 </"}}"#),
            (nil, #"{"singer_state": {"a": 1}, "singer_state": {"b": 2}}"#),  // a repeated key: the tree
            (nil, #"{"singer_state": {"a": 1, "a": [2]}}"#),
            ("{}", #"{"singer_state": {"c": 1}}"#),
            (#"{"singer_state": {"p": 1}}"#, #"{"singer_state": {"c": 2}}"#),
            (#"{"singer_state": {"p": 1}}"#, nil),
            (nil, #"{"other": 1}"#),  // refused: no singer_state
            (nil, #"["singer_state"]"#),  // refused: not an object
            (nil, #"{"Singer_state": 1, "singer_state ": 2}"#),  // refused: near misses
            (nil, big),
        ]
        for fixture in [ours, theirs] {
            for (i, row) in corpus.enumerated() {
                try fixture.admin.query("INSERT INTO \(fixture.stateTable) (state_id, partial_state, completed_state) VALUES ($1, $2, $3)",
                                        ["src\(i)", row.partial, row.completed])
            }
            // An existing destination: its old row goes to the journal.
            try fixture.admin.query("INSERT INTO \(fixture.stateTable) (state_id, completed_state) VALUES ('dst1', '{\"singer_state\": {\"old\": true}}')")
        }
        for i in corpus.indices {
            for verb in ["copy", "move"] {
                let (source, destination) = verb == "copy" ? ("src\(i)", "dst\(i)") : ("dst\(i)", "moved\(i)")
                let reference = try Reference.run([verb, source, destination], schema: theirs.schema)
                var ourError: (any Error)? = nil
                do {
                    if verb == "copy" { try ours.store.copy(from: source, to: destination) } else { try ours.store.move(from: source, to: destination) }
                } catch { ourError = error }
                if verb == "copy" {
                    #expect((reference.status == 0) == (ourError == nil), "\(verb) \(i): reference \(reference.status) \(reference.stderr); ours \(String(describing: ourError))")
                } else if ourError != nil {
                    // Moving a destination that was never written: ours says "not found", the reference fails on {}.
                    #expect(reference.status != 0, "\(verb) \(i): \(String(describing: ourError))")
                }
            }
        }
        let ourRows = try ours.rows(), referenceRows = try theirs.rows()
        #expect(ourRows.count == referenceRows.count)
        for (a, b) in zip(ourRows, referenceRows) {
            let same = a == b  // not in #expect: it would print a 2 MB row
            #expect(same, "\(a[0] ?? "") differs: \(String(describing: a[2]?.prefix(200))) vs \(String(describing: b[2]?.prefix(200)))")
        }
        #expect(ourRows.contains { $0[0] == "moved11" && ($0[2]?.count ?? 0) > big.count })  // the big one went through
        #expect(try ours.lockRows().isEmpty)
        // The journal holds the destination's old row, before it was overwritten.
        let journal = try String(contentsOfFile: ours.journalPath, encoding: .utf8)
        let entry = journal.split(separator: "\n").first { $0.contains(#""action":"copy""#) && $0.contains(#""state_id":"dst1""#) }
        #expect(entry?.contains(#"{\"singer_state\": {\"old\": true}}"#) == true, "\(entry ?? "no entry")")
    }
}

@Suite(.serialized)
struct MergeOntoStoredTextTests {
    /// Rows written by other writers, merged into through this store and through the
    /// add-on's reference model: byte-identical tables, the same refusals. A merge keeps
    /// the completed part as text (checked by walking only what the new partial part
    /// reaches into, stored as `json.dumps` of it, or left as it is when it is that
    /// already); rows the walk cannot take (a repeated key, a part that is not JSON) go
    /// through the tree.
    @Test func mergeMatchesTheReferenceOnStoredText() throws {
        let ours = try StoreFixture(schemaPrefix: "mgo")
        let theirs = try StoreFixture(schemaPrefix: "mgr")
        let big = "{\"singer_state\": {\"bookmarks\": {" + (0..<20_000).map { "\"s\($0)\": {\"v\": \($0).5, \"t\": \"\u{e9}\"}" }.joined(separator: ", ") + "}}}"
        let corpus: [(partial: String?, completed: String?)] = [
            (nil, #"{"singer_state":{"a":1,"bookmarks":{"s1":{"v":1}}}}"#),  // compact: rewritten
            (nil, #"{"singer_state": {"a": 1, "bookmarks": {"s1": {"v": 1}}}}"#),  // json.dumps form: kept
            (nil, "{ \"singer_state\" :\n { \"a\": {\"deep\": 5}, \"n\": 1.10, \"big\": 12345678901234567890, \"x\": NaN, \"bookmarks\" : { \"s1\" : \"str\" } } }"),
            (nil, #"{"singer\u005fstate": {"bookmarks": {"\u0073\u0031": {"v": "\ud800"}}}, "z": [1]}"#),
            (nil, #"{"singer_state": {"a": 1}, "singer_state": {"a": {"deep": {}}, "bookmarks": {}}}"#),  // a repeated key: the tree
            (#"{"singer_state": {"p": 1, "bookmarks": {"s1": {"w": 2}}}}"#, #"{"singer_state": {"bookmarks": {"s1": {"v": 1}}}}"#),
            (#"{"singer_state": {"a": 5}}"#, #"{"singer_state": {"c": 2}}"#),
            ("not json", #"{"singer_state": {"c": 2}}"#),
            ("{}", "not json either"),
            (nil, "0.0000000000000000000"),  // falsy, and long: stored as NULL, which any partial merges onto
            (nil, "{                    }"),  // falsy, and long: stored as NULL again
            (nil, "[1, 2, 3, 4, 5, 6, 7, 8, 9]"),
            (nil, #"{"singer_state": {"bookmarks": [1, 2]}}"#),
            (nil, #"{"singer_state": 5}"#),
            (#"{"singer_state": {"x": 1}}"#, nil),
            (nil, big),
        ]
        let merges = [
            #"{"singer_state": {"bookmarks": {"s1": {"v": 2}}}}"#,
            #"{"singer_state": {"new": {"k": 1}}}"#,
            #"{"singer_state": {"a": {"deep": {"x": 1}}}}"#,
            #"{"singer_state": {}, "other": {"k": {}}}"#,
            #"{"singer_state": {"bookmarks": null}}"#,
        ]
        for fixture in [ours, theirs] {
            for (i, row) in corpus.enumerated() {
                for j in merges.indices {
                    try fixture.admin.query("INSERT INTO \(fixture.stateTable) (state_id, partial_state, completed_state) VALUES ($1, $2, $3)",
                                            ["r\(i)-m\(j)", row.partial, row.completed])
                }
            }
        }
        var refusals = 0
        // Rows the add-on writes but Meltano could then not read (its get fails): this
        // store refuses them, and leaves the row as it was.
        var breaking: [String: (partial: String?, completed: String?)] = [:]
        for (i, row) in corpus.enumerated() {
            for (j, json) in merges.enumerated() {
                let id = "r\(i)-m\(j)"
                let reference = try Reference.run(["merge", id, json], schema: theirs.schema)
                var ourError: (any Error)? = nil
                do { try ours.store.merge(id, with: try JSONParser.parse(json)) } catch { ourError = error }
                if ourError != nil { refusals += 1 }
                if reference.status == 0, let ourError, "\(ourError)".contains("would not merge onto its completed state") {
                    #expect(try Reference.run(["get", id], schema: theirs.schema).status != 0, "\(id): refused, but Meltano reads what the add-on wrote")
                    breaking[id] = row
                    continue
                }
                #expect((reference.status == 0) == (ourError == nil), "\(id): reference \(reference.status) \(reference.stderr); ours \(String(describing: ourError))")
            }
        }
        #expect(refusals >= 10 && refusals < corpus.count * merges.count / 2 && breaking.count >= 5, "\(refusals) refusals, \(breaking.count) breaking")
        let ourRows = try ours.rows(), referenceRows = try theirs.rows()
        #expect(ourRows.count == referenceRows.count)
        for (a, b) in zip(ourRows, referenceRows) {
            if let row = breaking[a[0] ?? ""] {
                #expect(a[1] == row.partial && a[2] == row.completed, "\(a[0] ?? "") changed")
                continue
            }
            let same = a == b  // not in #expect: it would print a 1 MB row
            #expect(same, "\(a[0] ?? "") differs: \(String(describing: a[1]?.prefix(200))) | \(String(describing: a[2]?.prefix(200))) vs \(String(describing: b[1]?.prefix(200))) | \(String(describing: b[2]?.prefix(200)))")
        }
        #expect(try ours.lockRows().isEmpty)
        // Every merge journaled the row as it was, the big one whole.
        let entries = try ours.store.history()
        #expect(entries.filter { $0.action == "merge" }.count == corpus.count * merges.count - refusals)
        let bigEntry = entries.first { $0.stateID == "r\(corpus.count - 1)-m0" }
        #expect(bigEntry?.before?.completedState == big)
    }
}
