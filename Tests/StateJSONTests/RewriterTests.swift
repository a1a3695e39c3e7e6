import TestSupport
import Foundation
import StateJSON
import Testing

/// `JSONParser.rewrite` writes a document without its tree: it must give exactly what
/// the parser and writers give, which Python's json module checks; `isRewritable` must
/// refuse exactly the texts Python rejects and those with a repeated key.
@Suite struct RewriterTests {
    static let options: [(String, JSONWriteOptions)] = [
        ("meltano", .meltano), ("compact", .compact), ("pretty", .pretty(indent: 2)),
        ("literal numbers", JSONWriteOptions(layout: .indented(3), asciiOnly: true, preserveNumberLiterals: true)),
    ]

    /// The invalid corpus, generated documents, and generated documents mutated 1–3 times.
    static func corpus(_ generator: inout DocumentGenerator, documents: Int, mutated: Int) -> [String] {
        var texts: [String] = DifferentialTests.invalidCorpus
        for _ in 0..<documents { texts.append(generator.document()) }
        for _ in 0..<mutated {
            var text = generator.document()
            for _ in 0..<generator.rng.int(1...3) { text = generator.mutate(text) }
            texts.append(text)
        }
        return texts
    }

    func rewritten(_ text: String, _ options: JSONWriteOptions, chunkSize: Int = 64) throws -> String {
        var out: [UInt8] = []
        var bytes = Array(text.utf8)
        try bytes.withUnsafeMutableBytes { buffer in
            try JSONParser.rewrite(UnsafeRawBufferPointer(buffer), options, chunkSize: chunkSize) { out.append(contentsOf: $0) }
        }
        return String(decoding: out, as: UTF8.self)
    }

    func isRewritable(_ text: String) -> Bool {
        Array(text.utf8).withUnsafeBytes(JSONParser.isRewritable)
    }

    @Test func sameBytesAsTheTreeAndPythonOnGeneratedDocuments() throws {
        var generator = DocumentGenerator(seed: 0x5EED_0007)
        var texts = Self.corpus(&generator, documents: 3000, mutated: 2000)
        texts += DifferentialTests.largeContainers(&generator)
        texts += ["{\"a\": 1, \"\\u0061\": 2}", "{\"a\": {\"b\": 1}, \"c\": {\"b\": 2}}", "[{\"k\": 1}, {\"k\": 2}]",
                  "{\"\\ud800\": 1, \"\\ud800\": 2}", "{\"x\": 1, \"y\": {\"x\": 2, \"x\": 3}}", "  {\"é\": -0, \"f\": 1E400}  "]
        let oracle = try PythonOracle.run(texts)
        var mismatches: [String] = []
        var rewrote = 0, repeated = 0
        for (index, (text, expected)) in zip(texts, oracle.results).enumerated() {
            let parsed = Result { () throws(JSONParseError) in try JSONParser.parse(text) }
            let accepted: Bool
            if case .value = expected { accepted = true } else { accepted = false }
            let want = accepted && !oracle.repeatedKeys[index]
            if isRewritable(text) != want {
                mismatches.append("isRewritable \(!want) for \(text.debugDescription) (Python: \(expected), repeated key \(oracle.repeatedKeys[index]))")
                continue
            }
            switch parsed {
            case let .success(value) where want:
                rewrote += 1
                if case let .value(meltano, compact, pretty) = expected {
                    for (name, python) in [("meltano", meltano), ("compact", compact), ("pretty", pretty)] {
                        let options = Self.options.first { $0.0 == name }!.1
                        let ours = try rewritten(text, options)
                        if ours != python { mismatches.append("\(name) of \(text.debugDescription):\n ours   \(ours)\n python \(python)") }
                    }
                }
                let options = Self.options[3].1
                if try rewritten(text, options, chunkSize: 1 << 16) != value.text(options) {
                    mismatches.append("literal numbers of \(text.debugDescription) differ from the tree's")
                }
                // A checked document writes (without checking its keys again) the same bytes.
                if let document = RewritableDocument(Array(text.utf8)) {
                    var out: [UInt8] = []
                    try document.write(.meltano, chunkSize: 64) { out.append(contentsOf: $0) }
                    if out != Array(value.meltanoText.utf8) { mismatches.append("RewritableDocument of \(text.debugDescription) differs") }
                    if try document.parsed() != value { mismatches.append("RewritableDocument.parsed() of \(text.debugDescription) differs") }
                } else {
                    mismatches.append("RewritableDocument refused \(text.debugDescription)")
                }
            case .success:
                repeated += 1
                #expect(throws: JSONRewriteError.self) { try rewritten(text, .meltano) }
                #expect(RewritableDocument(Array(text.utf8)) == nil)
            case let .failure(error):
                // The rewriter stops with the parser's own error (or at a repeated key
                // seen before the error).
                do {
                    _ = try rewritten(text, .meltano)
                    mismatches.append("rewrite accepted \(text.debugDescription)")
                } catch let rewriteError as JSONParseError {
                    if rewriteError != error { mismatches.append("\(text.debugDescription): \(rewriteError) instead of \(error)") }
                } catch JSONRewriteError.repeatedKey {
                    repeated += 1
                }
            }
            if mismatches.count > 20 { break }
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) differences:\n\(mismatches.prefix(20).joined(separator: "\n"))")
        #expect(rewrote > 2500)
        #expect(repeated >= 12)
        print("RewriterTests: \(rewrote) documents rewritten as Python writes them; \(repeated) with a repeated key refused")
    }

    @Test func aRepeatedKeyAfterManyKeysIsFound() {
        // Past the small-object limit the keys move to a set: a repeat on either side of it.
        for count in [10, 24, 25, 26, 400] {
            let keys = (0..<count).map { "\"k\($0)\": \($0)" }.joined(separator: ", ")
            #expect(isRewritable("{\(keys)}"))
            #expect(!isRewritable("{\(keys), \"k0\": 1}"))
            #expect(!isRewritable("{\(keys), \"k\(count - 1)\": 1}"))
            #expect(isRewritable("{\(keys), \"k\(count)\": {\"k0\": 1}}"), "a key of a nested object is its own")
        }
    }

    @Test func deepNestingIsRefusedAsTheParserRefusesIt() {
        let deep = String(repeating: "[", count: JSONParser.maximumDepth + 1) + String(repeating: "]", count: JSONParser.maximumDepth + 1)
        #expect(!isRewritable(deep))
        let ok = String(repeating: "{\"a\":", count: JSONParser.maximumDepth) + "1" + String(repeating: "}", count: JSONParser.maximumDepth)
        #expect(isRewritable(ok))
    }
}

@Suite struct ReusedRewriterTests {
    @Test func oneRewriterForManyDocumentsGivesEachTheTreesBytes() throws {
        var generator = DocumentGenerator(seed: 0x5EED_0008)
        var rewriter = JSONRewriter(.compact)
        var out: [UInt8] = Array("prefix|".utf8)
        var expected = out
        var rewritten = 0, refused = 0
        for k in 0..<3000 {
            // Every fifth document a mutated one (often invalid) or one with a repeated key.
            var text = generator.document()
            if k % 5 == 1 { text = generator.mutate(text) }
            if k % 5 == 3 { text = "{\"a\": \(text), \"b\": 1, \"a\": 2}" }
            let ok = Array(text.utf8).withUnsafeBytes { rewriter.append($0, to: &out) }
            #expect(ok == Array(text.utf8).withUnsafeBytes(JSONParser.isRewritable), "\(text.debugDescription)")
            if ok {
                rewritten += 1
                expected += try JSONParser.parse(text).bytes(.compact)
            } else {
                refused += 1
            }
            out.append(0x7C)
            expected.append(0x7C)
        }
        #expect(out == expected, "a refused document left bytes behind, or a rewritten one differs")
        #expect(rewritten > 1200 && refused > 600, "\(rewritten) rewritten, \(refused) refused")
    }
}

/// `JSONParser.forEachMember` (how `import` reads a file of 100 000 states without its
/// tree) against the parser: the same members, the same errors at the same offsets.
@Suite struct ForEachMemberTests {
    func members(_ text: String) -> Result<(isObject: Bool, members: [(JSONString, JSONValue)]), any Error> {
        Result {
            var members: [(JSONString, JSONValue)] = []
            let isObject = try Array(text.utf8).withUnsafeBytes { bytes in
                try JSONParser.forEachMember(in: bytes) { key, value in members.append((key, try JSONParser.parse(value))) }
            }
            return (isObject, members)
        }
    }

    @Test func theParsersMembersAndErrorsOnGeneratedDocuments() {
        var generator = DocumentGenerator(seed: 0x5EED_0008)
        var texts = RewriterTests.corpus(&generator, documents: 2000, mutated: 2000)
        // Objects of objects, as `export` writes them, with what a file may hold besides.
        texts += ["{}", " { } ", "{\"a\": {\"completed\": {}, \"partial\": {}}}", "{\"a\": 1, \"a\": 2}", "{\"\\u0061\": [1, {\"b\": null}]}",
                  "{\"a\": {\"completed\": {\"x\": 1}}, \"b\": {\"partial\": {\"y\": [1, 2]}, \"completed\": null}}",
                  "{\"a\": 1,}", "{\"a\" 1}", "{\"a\": 1 \"b\": 2}", "{\"a\": }", "{\"a\": 1} x", "\u{FEFF}{\"a\": 1}", "[{\"a\": 1}]", "\"{\"", ""]
        var objects = 0, mismatches: [String] = []
        for text in texts {
            let parsed = Result { () throws(JSONParseError) in try JSONParser.parse(text) }
            switch (parsed, members(text)) {
            case let (.success(.object(object)), .success(read)):
                objects += 1
                var folded = JSONObject()
                for (key, value) in read.members { folded[key] = value }
                if !read.isObject || JSONValue.object(folded) != .object(object) { mismatches.append("members of \(text.debugDescription)") }
            case let (.success, .success(read)):
                if read.isObject || !read.members.isEmpty { mismatches.append("\(text.debugDescription) is not an object") }
            case let (.failure(error), .failure(ours)):
                if (ours as? JSONParseError) != error { mismatches.append("\(text.debugDescription): \(ours) instead of \(error)") }
            case let (.success, .failure(ours)):
                mismatches.append("\(text.debugDescription) refused: \(ours)")
            case let (.failure(error), .success):
                mismatches.append("\(text.debugDescription) accepted; the parser says \(error)")
            }
            if mismatches.count > 20 { break }
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) differences:\n\(mismatches.prefix(20).joined(separator: "\n"))")
        #expect(objects > 400)
    }

    struct Stop: Error, Equatable {}

    @Test func anErrorOfTheCallerStopsTheWalkThere() throws {
        var seen: [String] = []
        let text = #"{"a": {"x": [1]}, "b": 2, "c": 3}"#
        #expect(throws: Stop()) {
            _ = try Array(text.utf8).withUnsafeBytes { bytes in
                try JSONParser.forEachMember(in: bytes) { key, value in
                    seen.append("\(key)=\(String(decoding: value, as: UTF8.self))")
                    if seen.count == 2 { throw Stop() }
                }
            }
        }
        #expect(seen == [#"a={"x": [1]}"#, "b=2"])
    }

    /// `isValid` (a list page's `?` mark) is exactly whether `parse` accepts the text.
    @Test func isValidIsWhetherParseAccepts() throws {
        var generator = DocumentGenerator(seed: 0x5EED_0047)
        var texts = RewriterTests.corpus(&generator, documents: 600, mutated: 900)
        texts += ["", " ", "{\"a\": 1, \"a\": 2}", "[NaN, -Infinity]", "\u{FEFF}{}", "{\"a\": [" + String(repeating: "9", count: 4301) + "]}"]
        var valid = 0, invalid = 0
        for text in texts {
            let parsed = (try? JSONParser.parse(text)) != nil
            #expect(Array(text.utf8).withUnsafeBytes { JSONParser.isValid($0) } == parsed, "\(text.debugDescription)")
            if parsed { valid += 1 } else { invalid += 1 }
        }
        #expect(valid > 500 && invalid > 300, "\(valid) valid, \(invalid) invalid")
    }

    /// Python's json cannot read an integer over 4300 digits: no text walk hands one out
    /// as rewritten (the parser's error, at the number, is what the caller then meets).
    @Test func anIntegerPythonCannotReadIsRefusedByEveryWalk() throws {
        let limit = JSONParser.maximumIntegerDigits
        let longest = Array((#"{"a": ["# + String(repeating: "9", count: limit) + "]}").utf8)
        let tooLong = Array((#"{"a": ["# + String(repeating: "9", count: limit + 1) + "]}").utf8)
        #expect(RewritableDocument(longest) != nil)
        #expect(RewritableDocument(tooLong) == nil)
        var rewriter = JSONRewriter(.meltano)
        var out: [UInt8] = []
        #expect(longest.withUnsafeBytes { rewriter.append($0, to: &out) })
        #expect(!tooLong.withUnsafeBytes { rewriter.append($0, to: &out) })
        #expect(longest.withUnsafeBytes { JSONParser.rewritten($0, .meltano) } != nil)
        #expect(tooLong.withUnsafeBytes { JSONParser.rewritten($0, .meltano) } == nil)
        let error = #expect(throws: JSONParseError.self) {
            _ = try tooLong.withUnsafeBytes { try JSONParser.forEachMember(in: $0) { _, _ in } }
        }
        #expect(error?.message.contains("value has \(limit + 1) digits") == true && error?.offset == 7)
    }

    /// `textAndTopKeys` (copy and move of a state without its tree): the text is what the
    /// tree's writer gives, the keys are the top object's, decoded, in order (nothing for
    /// a top level that is not an object), and the depth is the tree's.
    @Test func textAndTopKeysAreTheTreesOnGeneratedDocuments() throws {
        var generator = DocumentGenerator(seed: 0x5EED_0011)
        var texts = RewriterTests.corpus(&generator, documents: 1500, mutated: 0)
        texts += ["{}", "  {\"singer\\u005fstate\": {\"singer_state\": 1}, \"b\": [\"singer_state\"]}  ", "[]", "\"singer_state\"",
                  "{\"\\ud800\": {}, \"é\": -0, \"f\": 1E400}", "\n\t{\"a\": {\"x\": {\"y\": 1}}, \"b\": null}"]
        var checked = 0, objects = 0
        for text in texts {
            guard let document = RewritableDocument(Array(text.utf8)), let value = try? document.parsed() else { continue }
            guard let (written, keys, depth) = document.textAndTopKeys(.meltano) else {
                Issue.record("no text for \(text.debugDescription)")
                continue
            }
            #expect(written == value.meltanoText, "\(text.debugDescription)")
            #expect(depth == value.depth, "\(text.debugDescription)")
            if case let .object(object) = value {
                #expect(keys == object.keys, "\(text.debugDescription)")
                objects += 1
            } else {
                #expect(keys == nil, "\(text.debugDescription)")
            }
            checked += 1
        }
        #expect(checked > 1000 && objects > 100, "\(checked) checked, \(objects) objects")
        let escaped = RewritableDocument(Array(#"{"singer\u005fstate": {"singer_state": 1}, "b": 2}"#.utf8))!.textAndTopKeys(.meltano)
        #expect(escaped?.topKeys == ["singer_state", "b"])
    }

}
