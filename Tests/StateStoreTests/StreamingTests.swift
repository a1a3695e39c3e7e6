import Foundation
import Postgres
import StateStore
import TestSupport
import Testing

@Suite("forEachStateID (COPY of the state IDs) against the test server")
struct StreamingTests {
    static let ids = ["prod:tap-a", "prod:tap-b", "dev:tap-a", "back\\slash:x", "tab\there", "new\nline", "quote's", "100%_sure",
                      "日本語:😀", "prod:tap-%", "prod\\:tap", "bell\u{7}", "E'x'"]

    @Test func theSameIDsInTheSameOrderAsAllStateIDs() throws {
        let fixture = try StoreFixture(schemaPrefix: "stream")
        for id in Self.ids {
            try fixture.admin.query("INSERT INTO \(fixture.stateTable) (state_id, completed_state) VALUES ($1, '{}')", [id])
        }
        for glob in [nil, "*", "prod:*", "*a", "*\\*", "*'*", "100%_*", "*%", "E'*", "nothing*", "?ab\there"] as [String?] {
            var streamed: [String] = []
            let count = try fixture.store.forEachStateID(matching: glob) { streamed.append(String(decoding: $0, as: UTF8.self)) }
            let expected = try fixture.store.allStateIDs(matching: glob)
            #expect(streamed == expected, "glob \(glob ?? "nil")")
            #expect(count == expected.count)
        }
        #expect(try fixture.store.allStateIDs(matching: nil).count == Self.ids.count)
        #expect(try fixture.store.allStateIDs(matching: "prod:*") == ["prod:tap-%", "prod:tap-a", "prod:tap-b"])
    }

    /// `%` and `_` are literal in a glob also when a combining mark follows them (one
    /// Swift Character with it, but two scalars to PostgreSQL).
    @Test func aWildcardOfLikeFollowedByACombiningMarkStaysLiteral() throws {
        let fixture = try StoreFixture(schemaPrefix: "stream")
        for id in ["prod:%\u{301}x", "prod:ab\u{301}x", "prod:_\u{301}y", "prod:c\u{301}y"] {
            try fixture.admin.query("INSERT INTO \(fixture.stateTable) (state_id, completed_state) VALUES ($1, '{}')", [id])
        }
        #expect(try fixture.store.allStateIDs(matching: "prod:%\u{301}*").map { Array($0.utf8) } == [Array("prod:%\u{301}x".utf8)])
        #expect(try fixture.store.allStateIDs(matching: "*_\u{301}*").map { Array($0.utf8) } == [Array("prod:_\u{301}y".utf8)])
        #expect(try fixture.store.count(matching: "prod:_\u{301}?") == 1)
    }

    /// A substring (`*text*`) is matched with strpos, other globs with LIKE: every read
    /// that filters (list, the browser's pages, count, position) gives the rows the
    /// glob's LIKE pattern gives, asked of the server directly.
    @Test func substringFiltersMatchWhatTheirLikePatternMatches() throws {
        let fixture = try StoreFixture(schemaPrefix: "stream")
        for id in Self.ids {
            try fixture.admin.query("INSERT INTO \(fixture.stateTable) (state_id, completed_state) VALUES ($1, '{}')", [id])
        }
        let globs = ["*a*", "*tap-*", "*%*", "*_*", "*\\*", "*'*", "*日本*", "*\t*", "*\n*", "**", "***", "*:*", "*a?*", "*nothing*", "*E'x'*"]
        for glob in globs {
            let expected = try fixture.admin.query("SELECT state_id FROM \(fixture.stateTable) WHERE state_id LIKE $1 ESCAPE '\\' ORDER BY state_id",
                                                   [StateID.likePattern(forGlob: glob)]).rows.map { $0[0] ?? "" }
            #expect(try fixture.store.allStateIDs(matching: glob) == expected, "list, glob \(glob)")
            #expect(try fixture.store.list(matching: glob, limit: 100).map(\.stateID) == expected, "browser page, glob \(glob)")
            #expect(try fixture.store.count(matching: glob) == expected.count, "count, glob \(glob)")
            if let last = expected.last {
                #expect(try fixture.store.position(of: last, matching: glob) == expected.count - 1, "position, glob \(glob)")
            }
            var streamed: [String] = []
            try fixture.store.forEachStateID(matching: glob) { streamed.append(String(decoding: $0, as: UTF8.self)) }
            #expect(streamed == expected, "COPY, glob \(glob)")
        }
        // The substring ones are not all empty: the check above compared something.
        #expect(try fixture.store.count(matching: "*tap-*") == 4)
    }

    @Test func aConnectionLostHalfWayCarriesOnAfterTheLastIDWithoutRepeats() throws {
        let fixture = try StoreFixture(schemaPrefix: "stream")
        // Long IDs, so the server is still sending when its backend is terminated.
        try fixture.admin.query("""
            INSERT INTO \(fixture.stateTable) (state_id) SELECT lpad(i::text, 7, '0') || ':' || repeat('x', 200)
            FROM generate_series(1, 100000) i
            """)
        var streamed: [String] = []
        var terminated = false
        let count = try fixture.store.forEachStateID { id in
            streamed.append(String(decoding: id, as: UTF8.self))
            if streamed.count == 2 {
                let pids = try fixture.admin.query("""
                    SELECT pid FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
                      AND query LIKE 'COPY (SELECT state_id FROM "\(fixture.schema)".%'
                    """).rows.compactMap { $0[0] }
                #expect(pids.count == 1)
                for pid in pids {
                    terminated = try fixture.admin.query("SELECT pg_terminate_backend($1::int)", [pid]).scalar == "t"
                    #expect(try waitForBackendToExit(fixture.admin, pid: Int32(pid)!))
                }
            }
        }
        #expect(terminated)
        #expect(count == 100000)
        #expect(streamed.count == 100000)
        #expect(streamed == (1...100000).map { String(repeating: "0", count: 7 - String($0).count) + String($0) + ":" + String(repeating: "x", count: 200) })
    }
}
