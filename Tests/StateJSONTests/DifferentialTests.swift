import TestSupport
import Foundation
import StateJSON
import Testing

/// Python's json module is the reference: for thousands of generated texts, our parser
/// must accept exactly what Python accepts, and our writers must produce its bytes.
@Suite struct DifferentialTests {
    static let validCount = 6000
    static let mutatedCount = 4000

    @Test func writersMatchPythonOnGeneratedDocuments() throws {
        var generator = DocumentGenerator(seed: 0x5EED_0001)
        var texts: [String] = []
        for _ in 0..<Self.validCount { texts.append(generator.document()) }
        // Every boundary literal alone and inside an array, whatever the dice said.
        for n in DocumentGenerator.boundaryNumbers { texts.append(n); texts.append("[\(n), -\(n)]") }
        texts += Self.largeContainers(&generator)
        let oracle = try PythonOracle.run(texts)
        var compared = 0
        var mismatches: [String] = []
        for (text, expected) in zip(texts, oracle.results) {
            let ours: JSONValue
            do {
                ours = try JSONParser.parse(text)
            } catch {
                if case .value = expected { mismatches.append("we reject what Python accepts: \(text.debugDescription): \(error)") }
                continue
            }
            guard case .value(let meltano, let compact, let pretty) = expected else {
                mismatches.append("we accept what Python rejects (\(expected)): \(text.debugDescription)")
                continue
            }
            compared += 1
            if ours.meltanoText != meltano {
                mismatches.append("meltanoText of \(text.debugDescription):\n ours   \(ours.meltanoText)\n python \(meltano)")
            }
            if ours.compactText != compact {
                mismatches.append("compactText of \(text.debugDescription):\n ours   \(ours.compactText)\n python \(compact)")
            }
            if ours.prettyText() != pretty {
                mismatches.append("prettyText of \(text.debugDescription):\n ours   \(ours.prettyText())\n python \(pretty)")
            }
            // The byte parser agrees with the String parser, and our own output reads back
            // to the same Meltano text (pretty is lossless too).
            let again = try JSONParser.parse(Array(text.utf8))
            if again != ours { mismatches.append("bytes parser differs on \(text.debugDescription)") }
            for written in [meltano, compact, ours.prettyText()] {
                let reread = try JSONParser.parse(written)
                if reread.meltanoText != meltano { mismatches.append("re-reading \(written.debugDescription) changes it") }
            }
            if mismatches.count > 20 { break }
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) differences:\n\(mismatches.prefix(20).joined(separator: "\n"))")
        #expect(compared > Self.validCount * 9 / 10, "only \(compared) documents compared")
        print("DifferentialTests: \(compared) documents compared byte for byte with Python \(oracle.version.0).\(oracle.version.1) (meltano, compact, pretty)")
    }

    @Test func acceptanceAndErrorsMatchPython() throws {
        var generator = DocumentGenerator(seed: 0x5EED_0002)
        var texts: [String] = Self.invalidCorpus
        for _ in 0..<Self.mutatedCount {
            var text = generator.document()
            for _ in 0..<generator.rng.int(1...3) { text = generator.mutate(text) }
            texts.append(text)
        }
        let oracle = try PythonOracle.run(texts)
        var mismatches: [String] = []
        var rejected = 0
        for (text, expected) in zip(texts, oracle.results) {
            let outcome: Result<JSONValue, JSONParseError> = Result { () throws(JSONParseError) in try JSONParser.parse(text) }
            switch (outcome, expected) {
            case (.success(let value), .value(let meltano, _, _)):
                if value.meltanoText != meltano { mismatches.append("meltanoText of \(text.debugDescription)") }
            case (.failure(let error), .decodeError(let message, let line, let column, let position)):
                rejected += 1
                let want = PythonOracle.expected(for: text, message: message, line: line, column: column, position: position)
                if error.message != want.message || error.line != want.line || error.column != want.column || error.characterOffset != want.position {
                    mismatches.append("\(text.debugDescription):\n ours   \(error.pythonDescription)\n python \(oracle.versionText) \(message): line \(line) column \(column) (char \(position))"
                                      + (want.message != message ? "\n (read as 3.8-3.12's \(want.message): line \(want.line) column \(want.column) (char \(want.position)))" : ""))
                }
            case (.failure, .otherError):
                rejected += 1  // RecursionError: we refuse deep nesting too
            case (.success, _):
                mismatches.append("we accept what Python rejects (\(expected)): \(text.debugDescription)")
            case (.failure(let error), .value):
                mismatches.append("we reject what Python accepts: \(text.debugDescription): \(error)")
            }
            if mismatches.count > 20 { break }
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) differences with Python \(oracle.versionText):\n\(mismatches.prefix(20).joined(separator: "\n"))")
        #expect(rejected > texts.count / 3)
        print("DifferentialTests: \(texts.count) texts (\(rejected) invalid) agree with Python \(oracle.versionText) on accept/reject, message and position")
    }

    /// Containers past the parser's switch to building them in place (512 elements),
    /// with duplicate keys on both sides of it.
    static func largeContainers(_ generator: inout DocumentGenerator) -> [String] {
        var docs: [String] = []
        for size in [511, 512, 513, 3000] {
            var object = "{"
            for i in 0..<size {
                let key = i % 7 == 3 ? i / 2 : i  // repeats of earlier keys, before and after 512
                object += (i > 0 ? ", " : "") + "\"k\(key)\": " + generator.value(depth: 5)
            }
            docs.append(object + ", \"k1\": \"last\", \"k2999\": 0}")
            var array = "["
            for i in 0..<size { array += (i > 0 ? "," : "") + generator.value(depth: 5) }
            docs.append(array + "]")
            docs.append("[" + array + "], " + object + "}]")
        }
        return docs
    }

    static let invalidCorpus: [String] = [
        "", " ", "\n", "[1,]", "{\"a\":1,}", "[", "{", "]", "}", "{\"a\"", "{\"a\":", "\"abc", "\"a\u{1}b\"", "\"\\x\"",
        "\"\\u12\"", "\"\\u1234", "\"\\u12G4\"", "\"\\ud800\\udc0Z\"", "\"\\ud800\\udc00", "\"\\ud800\\u", "\"\\ud800\\",
        "01", "[01]", "1.", "1e", "1e+", "1.e5", ".5", "-", "--1", "-Inf", "-NaN", "+1", "+Infinity", "nul", "tru",
        "fals", "Nan", "NAN", "infinity", "inf", "nan", "\u{FEFF}{}", "\u{FEFF}", "[1 2]", "{\"a\" 1}", "{1:2}",
        "[1]x", "{\"a\":1}}", "\"\\", "\"abc\\", "[\n  1,\n  2\n  3]", "{\"é\": \"ü\" x}", "[1,\n\"\t\"]", "'a'",
        "[-]", "[.5]", "[+1]", "[0x10]", "[1,,2]", "{\"a\":1 \"b\":2}", "{,}", "[1}", "{\"a\":1]", "\"\n\"",
        "\u{0}", "[1] [2]", "{\"a\":\n\n  nope}", "[\"\u{1F}\"]", "[\"\u{7F}\"]", "\"😀\\u\"", "[1e400", "[1e-",
        "{\"a\":b}", "[true false]", "[null,]", "[,1]", "{\"a\":1,,\"b\":2}", "\u{A0}1", "\u{2028}[]", "[]\u{0}",
        "[\"\\U0041\"]", "[\"\\u00\"]", "\"\\uD800\\uDBFF\"", "[1.5e]", "[1.5e+]", "[0.]", "[00]", "[-01]",
        "[1E]", "{\"\\ud800\": 1", "[\"a\" \"b\"]", "{\"a\": 1 // c\n}", "/* */ 1", "1 /", "[Infinity, -Infinityx]",
        "[NaNa]", "[nulll]", "\"\\u0000\" x", "\r\n\t {\r\n\t \"a\"\r\n\t :\r\n\t 1\r\n\t ,\r\n\t }",
        String(repeating: "[", count: 990) + String(repeating: "]", count: 989),
    ]
}
