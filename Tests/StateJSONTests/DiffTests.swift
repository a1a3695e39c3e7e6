import Testing
@testable import StateJSON

@Suite struct JSONDiffTests {
    func parse(_ text: String) throws -> JSONValue { try JSONParser.parse(text) }

    @Test func identicalValuesHaveNoChangesWhateverTheKeyOrder() throws {
        let a = try parse(#"{"singer_state": {"bookmarks": {"a": 1, "b": [1, 2]}}}"#)
        let b = try parse(#"{"singer_state": {"bookmarks": {"b": [1, 2], "a": 1}}}"#)
        #expect(JSONDiff.changes(from: a, to: b).isEmpty)
        #expect(JSONDiff.changes(from: a, to: a).isEmpty)
    }

    @Test func changesComeInDocumentOrderWithTheirPaths() throws {
        let a = try parse(#"{"singer_state": {"bookmarks": {"users": {"v": "2024-01-01"}, "old": {"x": 1}, "list": [1, 2, 3]}}, "z": true}"#)
        let b = try parse(#"{"singer_state": {"bookmarks": {"users": {"v": "2024-02-01"}, "list": [1, 5], "tap-x": {}}}, "z": 1}"#)
        let changes = JSONDiff.changes(from: a, to: b)
        #expect(changes.map { "\($0.kind.rawValue) \($0.jqPath)" } == [
            "changed .singer_state.bookmarks.users.v",
            "removed .singer_state.bookmarks.old",
            "changed .singer_state.bookmarks.list[1]",
            "removed .singer_state.bookmarks.list[2]",
            #"added .singer_state.bookmarks["tap-x"]"#,
            "changed .z",
        ])
        #expect(changes[0].old == .string("2024-01-01") && changes[0].new == .string("2024-02-01"))
        let x = try parse(#"{"x": 1}"#), empty = try parse("{}")
        #expect(changes[1].old == x && changes[1].new == nil)
        #expect(changes[4].old == nil && changes[4].new == empty)
        #expect(changes[5].old == .bool(true) && changes[5].new == .number(1))  // Python's True == 1, but a different value here
    }

    @Test func numbersAreComparedLosslessly() throws {
        let changes = JSONDiff.changes(from: try parse(#"{"n": 1, "big": 12345678901234567890123}"#),
                                       to: try parse(#"{"n": 1.0, "big": 12345678901234567890124}"#))
        #expect(changes.map(\.jqPath) == [".n", ".big"])
        #expect(changes[1].new?.meltanoText == "12345678901234567890124")
    }

    @Test func aTypeChangeIsOneChangeAndTheRootHasPathDot() throws {
        #expect(JSONDiff.changes(from: try parse("[1]"), to: try parse(#"{"a": 1}"#)).map(\.jqPath) == ["."])
        let changes = JSONDiff.changes(from: try parse(#"{"a": {"b": 1}}"#), to: try parse(#"{"a": [1]}"#))
        #expect(changes.count == 1 && changes[0].kind == .changed && changes[0].jqPath == ".a")
    }

    @Test func oddKeysAreQuotedAsJSONStrings() {
        let path: [JSONPathComponent] = [.key("singer_state"), .key("tap-x"), .key("1st"), .key("é\u{1b}\"q"), .index(3), .key("")]
        #expect(JSONPathComponent.jqPath(path) == #".singer_state["tap-x"]["1st"]["\u00e9\u001b\"q"][3][""]"#)
    }

    @Test func deepValuesDoNotExhaustTheStack() throws {
        let depth = 1000  // the parser's limit, as Python's
        let a = try parse(String(repeating: "[", count: depth) + "1" + String(repeating: "]", count: depth))
        let b = try parse(String(repeating: "[", count: depth) + "2" + String(repeating: "]", count: depth))
        let changes = JSONDiff.changes(from: a, to: b)
        #expect(changes.count == 1 && changes[0].path.count == depth)
    }
}

@Suite struct JSONDiffOutputTests {
    @Test func linesAndJSON() throws {
        let changes = JSONDiff.changes(from: try JSONParser.parse(#"{"a": {"b": 1, "gone": [1]}, "long": "x"}"#),
                                       to: try JSONParser.parse(#"{"a": {"b": 2, "new": "é"}, "long": "\#(String(repeating: "y", count: 200))"}"#))
        #expect(changes.map { JSONDiff.line($0, limit: 10) } == [
            "~ .a.b: 1 -> 2", "- .a.gone: [1]", #"+ .a.new: "\u00e9""#, #"~ .long: "x" -> "yyyyyyyyy…"#,
        ])
        #expect(JSONDiff.json(Array(changes.prefix(3))).meltanoText == #"[{"change": "changed", "path": ".a.b", "keys": ["a", "b"], "old": 1, "new": 2}, {"change": "removed", "path": ".a.gone", "keys": ["a", "gone"], "old": [1]}, {"change": "added", "path": ".a.new", "keys": ["a", "new"], "new": "\u00e9"}]"#)
    }
}
