import TestSupport
import StateJSON
import Testing

/// `JSONTape` reads a document without its tree: every answer it gives must be the
/// tree's (`JSONParser.parse`), every error the parser's, and it must refuse exactly the
/// documents in which an object repeats a key (which Python's dict resolves).
@Suite struct TapeTests {
    /// The tree as the tape's reading calls alone see it.
    func rebuilt(_ tape: JSONTape, _ node: JSONTape.Node) -> JSONValue {
        switch tape.kind(node) {
        case .null: return .null
        case .bool: return .bool(tape.bool(node)!)
        case .number: return .number(tape.number(node)!)
        case .string: return .string(tape.string(node)!)
        case .array:
            var elements: [JSONValue] = []
            tape.forEachElement(of: node) { elements.append(rebuilt(tape, $0)); return true }
            return .array(elements)
        case .object:
            var object = JSONObject()
            tape.forEachMember(of: node) { key, value in
                object[key] = rebuilt(tape, value)
                return true
            }
            return .object(object)
        }
    }

    /// Every subtree's own answers: its value, type, count, and each key looked up.
    func checkSubtrees(_ tape: JSONTape, _ node: JSONTape.Node, _ value: JSONValue, _ problems: inout [String], _ text: String) {
        if tape.value(node) != value { problems.append("value of a node of \(text.debugDescription)") }
        if tape.pythonTypeName(node) != value.pythonTypeName { problems.append("type \(tape.pythonTypeName(node)) of \(value.compactText)") }
        if tape.text(node, .meltano) != value.meltanoText { problems.append("meltano text of \(value.compactText)") }
        switch value {
        case let .object(object):
            if tape.count(node) != object.count { problems.append("count of \(value.compactText)") }
            for (key, member) in object {
                guard let found = tape[node, key: key] else {
                    problems.append("key \(key.debugDescription) not found in \(value.compactText)")
                    continue
                }
                checkSubtrees(tape, found, member, &problems, text)
            }
            for missing: JSONString in ["", "zz-not-a-key", JSONString(utf16CodeUnits: [0xD800])] where object[missing] == nil {
                if tape[node, key: missing] != nil { problems.append("found missing key \(missing.debugDescription)") }
            }
            if tape.elements(of: node) != nil { problems.append("an object has elements") }
        case let .array(items):
            if tape.count(node) != items.count { problems.append("count of \(value.compactText)") }
            let elements = tape.elements(of: node) ?? []
            if elements.count != items.count { problems.append("elements of \(value.compactText)") }
            for (element, item) in zip(elements, items) { checkSubtrees(tape, element, item, &problems, text) }
            if tape[node, key: "a"] != nil { problems.append("an array has a key") }
        default:
            if tape.count(node) != nil { problems.append("a scalar has a count") }
        }
    }

    @Test func sameAnswersAsTheTreeAndSameErrorsOnGeneratedDocuments() throws {
        var generator = DocumentGenerator(seed: 0x7A9E_0001)
        var texts = RewriterTests.corpus(&generator, documents: 2000, mutated: 1500)
        texts += DifferentialTests.largeContainers(&generator)
        texts += [
            "{\"singer\\u005fstate\": {\"bookmarks\": {}}}", "{\"\\ud800\": 1, \"\\udc00x\": [true, false, null]}",
            "{\"\u{10FFFF}start\": 1}", "  [NaN, Infinity, -Infinity, -0, 1E400, 1.10]  ", "\"caf\\u00e9\"", "0",
            "{\"a\": 1, \"\\u0061\": 2}", "{\"x\": {\"y\": 1, \"y\": 2}}", "[[], {}, [{}], {\"\": []}]",
            String(repeating: "[", count: 1000) + String(repeating: "]", count: 1000),
            "{\"big\": " + String(repeating: "9", count: 4300) + "}", "{\"big\": " + String(repeating: "9", count: 4301) + "}",
        ]
        var problems: [String] = []
        var taped = 0, refused = 0, errors = 0
        for text in texts {
            let parsed = Result { () throws(JSONParseError) in try JSONParser.parse(text) }
            let fromText = Result { () throws(JSONParseError) in try JSONTape(text) }
            let fromBytes = Result { () throws(JSONParseError) in try JSONTape(bytes: Array(text.utf8)) }
            switch (parsed, fromText, fromBytes) {
            case let (.failure(want), .failure(got), .failure(gotBytes)):
                errors += 1
                if got != want || gotBytes != want { problems.append("error for \(text.debugDescription): \(got) / \(gotBytes), parser \(want)") }
            case let (.success(value), .success(tape?), .success(tapeOfBytes?)):
                taped += 1
                if !isRewritable(text) { problems.append("a tape of a document with a repeated key: \(text.debugDescription)") }
                if rebuilt(tape, tape.root) != value || rebuilt(tapeOfBytes, tapeOfBytes.root) != value {
                    problems.append("rebuilt from the tape differs for \(text.debugDescription)")
                    continue
                }
                checkSubtrees(tape, tape.root, value, &problems, text)
                for options in RewriterTests.options.map(\.1) {
                    var out: [UInt8] = []
                    try tape.write(options, chunkSize: 64) { out.append(contentsOf: $0) }
                    if out != value.bytes(options) { problems.append("write of \(text.debugDescription)") }
                }
            case (.success, .success(nil), .success(nil)):
                refused += 1
                if isRewritable(text) { problems.append("no tape of a document without a repeated key: \(text.debugDescription)") }
            default:
                problems.append("parser and tape disagree on \(text.debugDescription): \(parsed) / \(fromText) / \(fromBytes)")
            }
        }
        #expect(problems.isEmpty, "\(problems.count) problems, first: \(problems.prefix(5).joined(separator: "\n"))")
        // The corpus reaches every path.
        #expect(taped > 1500 && refused > 3 && errors > 500, "\(taped) taped, \(refused) refused, \(errors) errors")
    }

    func isRewritable(_ text: String) -> Bool {
        Array(text.utf8).withUnsafeBytes(JSONParser.isRewritable)
    }

    @Test func keysWithEscapesAndSurrogatesAreFoundByTheirValue() throws {
        let tape = try #require(try JSONTape(#"{"singer\u005fstate": {"caf\u00e9": 1, "\ud83d\ude00": 2, "\ud800": 3, "é": 4}}"#))
        let inner = try #require(tape[tape.root, key: "singer_state"])
        #expect(tape[inner, key: "café"].flatMap(tape.number)?.literal == "1")
        #expect(tape[inner, key: "😀"].flatMap(tape.number)?.literal == "2")
        #expect(tape[inner, key: JSONString(utf16CodeUnits: [0xD800])].flatMap(tape.number)?.literal == "3")
        #expect(tape[inner, key: "é"].flatMap(tape.number)?.literal == "4")
        #expect(tape[inner, key: "e\u{301}"] == nil)  // code units, not canonical equivalence
        #expect(tape[tape.root, key: "singer_state\u{0}"] == nil)
    }

    @Test func aRepeatedKeyAnywhereMeansNoTape() throws {
        #expect(try JSONTape(#"{"a": [{"b": 1, "b": 2}]}"#) == nil)
        #expect(try JSONTape(#"{"a": 1, "\u0061": 2}"#) == nil)
        #expect(try JSONTape(#"[{"b": 1}, {"b": 2}]"#) != nil)
        // A repeated key, then text that is not JSON: the parser's error, not nil.
        #expect(throws: JSONParseError.self) { try JSONTape(#"{"a": 1, "a": {oops"#) }
    }

    /// A key that starts with U+10FFFF, which JSONString keeps in a private encoding,
    /// escaped or not; counts walk without decoding keys.
    @Test func keysStartingWithTheLastCodePoint() throws {
        let tape = try #require(try JSONTape("{\"\\udbff\\udfffx\": 1, \"\u{10FFFF}y\": 2, \"z\": [1, {\"a\": []}, 3]}"))
        #expect(tape[tape.root, key: "\u{10FFFF}x"].flatMap(tape.number)?.literal == "1")
        #expect(tape[tape.root, key: "\u{10FFFF}y"].flatMap(tape.number)?.literal == "2")
        #expect(tape[tape.root, key: "x"] == nil && tape.count(tape.root) == 3)
        #expect(tape[tape.root, key: "z"].flatMap(tape.count) == 3)
    }
}
