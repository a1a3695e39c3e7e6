import Foundation
import Postgres
import StateJSON
import StateStore
import TestSupport
import Testing

/// `readStoredBytes` reads a row's texts in chunks (a 100 MB state held once in the
/// client); `readMerged` writes Meltano's `get` from them without a tree when nothing is
/// partial. Both must give exactly what a plain SELECT and the tree give.
@Suite struct StoredBytesTests {
    /// Multi-byte characters of 2, 3 and 4 bytes, so that chunk boundaries cut them.
    static let text = #"{"singer_state": {"bookmarks": {"événements": {"rk": "2024-05-01T00:00:00+00:00", "lsn": 100000000000000000000, "€": "😀\u00e9"}}}, "x": [1.50, -0, 1E3, "\ud800"]}"#

    func insert(_ fixture: StoreFixture, _ id: String, partial: String?, completed: String?, table: String? = nil) throws {
        try fixture.admin.query("INSERT INTO \(table ?? fixture.stateTable) (state_id, partial_state, completed_state) VALUES ($1, $2, $3)",
                                [id, partial, completed])
    }

    @Test(arguments: [1, 2, 3, 7, 64, 1 << 20])
    func chunksReassembleTheStoredBytes(chunk: Int) throws {
        let fixture = try StoreFixture(schemaPrefix: "bytes")
        try insert(fixture, "a", partial: #"{"p": "ü"}"#, completed: Self.text)
        try insert(fixture, "null-completed", partial: "{}", completed: nil)
        try insert(fixture, "null-both", partial: nil, completed: nil)
        try insert(fixture, "empty", partial: "", completed: "")
        let a = try #require(try fixture.store.readStoredBytes("a", chunkBytes: chunk))
        #expect(a.completed == Array(Self.text.utf8))
        // The row's updated_at, read in the same statement, as getRaw gives it.
        let raw = try #require(try fixture.store.getRaw("a"))
        #expect(a.updatedAt != nil)
        #expect(a.updatedAt == raw.updatedAt)
        #expect(a.partial == Array(#"{"p": "ü"}"#.utf8))
        let nullCompleted = try #require(try fixture.store.readStoredBytes("null-completed", chunkBytes: chunk))
        #expect(nullCompleted.completed == nil)
        #expect(nullCompleted.partial == Array("{}".utf8))
        let nullBoth = try #require(try fixture.store.readStoredBytes("null-both", chunkBytes: chunk))
        #expect(nullBoth.completed == nil && nullBoth.partial == nil)
        let empty = try #require(try fixture.store.readStoredBytes("empty", chunkBytes: chunk))
        #expect(empty.completed == [] && empty.partial == [])
        #expect(try fixture.store.readStoredBytes("no-such-id", chunkBytes: chunk) == nil)
    }

    @Test func aLargeStateInManyChunksIsTheSameBytes() throws {
        let fixture = try StoreFixture(schemaPrefix: "bytes")
        var text = #"{"singer_state": {"bookmarks": {"#
        for i in 0..<20000 { text += (i > 0 ? ", " : "") + "\"tenant_\(i)-é\": {\"lsn\": \(i * 7919), \"v\": \"日本\(i)\"}" }
        text += "}}}"
        try insert(fixture, "big", partial: nil, completed: text)
        let read = try #require(try fixture.store.readStoredBytes("big", chunkBytes: 4096))
        #expect(read.completed == Array(text.utf8))
        // Meltano's get of it, written straight from the bytes, is the tree's text.
        let merged = try #require(try fixture.store.readMerged("big").state)
        #expect(written(merged, .compact) == (try JSONParser.parse(text)).compactText)
    }

    func written(_ state: MergedState, _ options: JSONWriteOptions) -> String {
        var out: [UInt8] = []
        try? state.write(options, chunkSize: 100) { out.append(contentsOf: $0) }
        return String(decoding: out, as: UTF8.self)
    }

    @Test func mergedIsWhatTheRecordMerges() throws {
        let fixture = try StoreFixture(schemaPrefix: "merged")
        let cases: [(String, String?, String?)] = [
            ("plain", nil, Self.text),
            ("empty-partial", "{}", Self.text),
            ("partial", #"{"singer_state": {"bookmarks": {"événements": {"lsn": 5}}}}"#, Self.text),
            ("repeated-key", "{}", #"{"a": 1, "b": 2, "a": 3}"#),
            ("null-completed", #"{"x": 1}"#, nil),
            ("not-an-object", nil, "[1, 2]"),
        ]
        for (id, partial, completed) in cases { try insert(fixture, id, partial: partial, completed: completed) }
        for (id, _, _) in cases {
            let record = try #require(try fixture.store.get(id))
            let expected = try record.merged.get()
            let read = try fixture.store.readMerged(id)
            #expect(read.exists)
            let state = try #require(read.state, "\(id)")
            for options in [JSONWriteOptions.compact, .meltano, .pretty(indent: 2)] {
                #expect(written(state, options) == expected.text(options), "\(id)")
            }
            // The same value as Python reads it (a merged view is json.dumps form, so its
            // 1E3 is read back as 1000.0: equal, though not the same literal).
            #expect(state.value.isEquivalent(to: expected) && state.value.meltanoText == expected.meltanoText, "\(id)")
        }
    }

    @Test func unreadableStatesAreNotMerged() throws {
        let fixture = try StoreFixture(schemaPrefix: "merged")
        try insert(fixture, "not-json", partial: nil, completed: "{nope")
        try insert(fixture, "partial-not-object", partial: "[1]", completed: "{}")
        for id in ["not-json", "partial-not-object"] {
            let read = try fixture.store.readMerged(id)
            #expect(read.exists && read.state == nil, "\(id)")
            if case .success = try #require(try fixture.store.get(id)).merged { Issue.record("\(id) merged") }
        }
        let missing = try fixture.store.readMerged("missing")
        #expect(!missing.exists && missing.state == nil)
    }

    @Test func theOtherLayoutsReadAlike() throws {
        let single = try StoreFixture(schemaPrefix: "bytes1", layout: .singleTable)
        try insert(single, "a", partial: nil, completed: Self.text, table: quoteIdentifier(single.schema) + ".state")
        #expect(try single.store.readStoredBytes("a", chunkBytes: 5)?.completed == Array(Self.text.utf8))

        let systemdb = try StoreFixture(schemaPrefix: "bytes2", layout: .systemDB, createTables: false)
        try MeltanoSystemDB.createTables(inSchema: systemdb.schema, on: systemdb.admin)
        try insert(systemdb, "a", partial: "{}", completed: Self.text, table: quoteIdentifier(systemdb.schema) + ".state")
        let read = try #require(try systemdb.store.readStoredBytes("a", chunkBytes: 5))
        #expect(read.completed == Array(Self.text.utf8) && read.partial == Array("{}".utf8))
    }
}
