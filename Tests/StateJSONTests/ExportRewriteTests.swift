import Foundation
import StateJSON
import TestSupport
import Testing

/// `export` writes each stored text in compact form with a `JSONRewriter` (no tree);
/// whatever it accepts must come out byte for byte as the parser and the compact
/// writer make it, and what it refuses (not JSON, a repeated key) the caller parses.
@Suite struct ExportRewriteTests {
    /// The transcoder's answer: the bytes it appended, or nil when it refused. Checks
    /// that a refusal leaves the output as it was.
    func transcode(_ text: [UInt8], _ transcoder: inout JSONRewriter) -> [UInt8]? {
        var out: [UInt8] = Array("prefix".utf8)
        let accepted = text.withUnsafeBytes { transcoder.append($0, to: &out) }
        guard accepted else {
            #expect(out == Array("prefix".utf8), "a refusal appends nothing")
            return nil
        }
        return Array(out.dropFirst(6))
    }

    /// nil when the transcoder is right about `text`, else what went wrong.
    func problem(_ text: [UInt8], _ transcoder: inout JSONRewriter) -> String? {
        guard let copied = transcode(text, &transcoder) else { return nil }
        guard let value = try? JSONParser.parse(text) else { return "accepted text the parser refuses: \(String(decoding: text, as: UTF8.self).debugDescription)" }
        let written = value.bytes(.compact)
        return copied == written ? nil
            : "\(String(decoding: text, as: UTF8.self).debugDescription): copied \(String(decoding: copied, as: UTF8.self).debugDescription), the writer gives \(String(decoding: written, as: UTF8.self).debugDescription)"
    }

    @Test func whatMeltanoStoresIsCopiedWithoutTheSpaces() {
        var transcoder = JSONRewriter(.compact)
        let cases: [(String, String)] = [
            (#"{"singer_state": {"bookmarks": {"orders": {"replication_key": "updated_at", "replication_key_value": "2024-05-01T00:00:00+00:00", "id": 42}, "customers": {"lsn": -104729}}}}"#,
             #"{"singer_state":{"bookmarks":{"orders":{"replication_key":"updated_at","replication_key_value":"2024-05-01T00:00:00+00:00","id":42},"customers":{"lsn":-104729}}}}"#),
            (#"{"a": [1, [], {}, [true, false, null]], "b": "\"q\" \\ \n\r\t\b\f \u00e9 \u0001 \u007f \u2028"}"#,
             #"{"a":[1,[],{},[true,false,null]],"b":"\"q\" \\ \n\r\t\b\f \u00e9 \u0001 \u007f \u2028"}"#),
            (" \n\t{ \"x\" :\r\n0 } \n", #"{"x":0}"#),
            ("[]", "[]"), ("{}", "{}"), (#""s""#, #""s""#), ("7", "7"), ("null", "null"),
        ]
        for (stored, compact) in cases {
            #expect(transcode(Array(stored.utf8), &transcoder) == Array(compact.utf8), "\(stored)")
            #expect(problem(Array(stored.utf8), &transcoder) == nil)
        }
    }

    /// What is written otherwise than stored is rewritten as Python writes it; only text
    /// that is not JSON, or repeats a key, is refused.
    @Test func onlyInvalidTextAndRepeatedKeysAreRefused() {
        var transcoder = JSONRewriter(.compact)
        let rewritten: [(String, String)] = [
            (#"{"f": 1.10}"#, #"{"f":1.1}"#), (#"{"f": 1e5}"#, #"{"f":100000.0}"#), ("-0", "0"), (#"{"n": NaN}"#, #"{"n":NaN}"#),
            ("12345678901234567890", "12345678901234567890"), (#""a\/b""#, #""a/b""#), (#""\u00E9""#, #""\u00e9""#),
            (#""\u0041""#, #""A""#), ("\"é\"", #""\u00e9""#), (#""\ud83d\ude00""#, #""\ud83d\ude00""#), (#""\udc00""#, #""\udc00""#),
        ]
        for (text, compact) in rewritten {
            #expect(transcode(Array(text.utf8), &transcoder) == Array(compact.utf8), "\(text)")
            #expect(problem(Array(text.utf8), &transcoder) == nil)
        }
        let refused = [
            #"{"a": 1, "a": 2}"#,
            "{" + (0..<40).map { "\"k\($0 % 39)\": \($0)" }.joined(separator: ", ") + "}",  // a repeat among many keys
            String(repeating: "[", count: 1001) + String(repeating: "]", count: 1001),
            "", " ", "{", "[1,]", #"{"a":1,}"#, "[1 2]", #"{"a" 1}"#, "01", "-", "tru", "nul", "{} {}", "\"open", #"{1: 2}"#, "[1}", #"{"a": 1]"#,
            "\"a\u{01}b\"",
        ]
        for text in refused {
            #expect(transcode(Array(text.utf8), &transcoder) == nil, "\(text.prefix(80))")
        }
        // The same keys without a repeat, and nesting inside the limit, are rewritten.
        let many = "{" + (0..<40).map { "\"k\($0)\": \($0)" }.joined(separator: ", ") + "}"
        #expect(transcode(Array(many.utf8), &transcoder) != nil)
        #expect(problem(Array(many.utf8), &transcoder) == nil)
        let deep = String(repeating: "[", count: 1000) + String(repeating: "]", count: 1000)
        #expect(transcode(Array(deep.utf8), &transcoder) == Array(deep.utf8))
    }

    @Test func stateIDsAreWrittenAsTheWriterWritesStrings() {
        for id in ["prod:tap-x-to-y", "", "with \"quote\" and \\", "tab\there", "é 😀", "\u{7F}"] {
            var out: [UInt8] = []
            Array(id.utf8).withUnsafeBytes { JSONRewriter.appendCompactString($0, to: &out) }
            #expect(out == JSONValue.string(JSONString(id)).bytes(.compact), "\(id)")
        }
        var out: [UInt8] = []
        ([0x61, 0xFF, 0x62] as [UInt8]).withUnsafeBytes { JSONRewriter.appendCompactString($0, to: &out) }  // not UTF-8: replaced, as String(decoding:) does
        #expect(out == JSONValue.string(JSONString("a\u{FFFD}b")).bytes(.compact))
    }

    /// Random documents, as written by Meltano and mutated: whatever is accepted is
    /// exactly the writer's output; much of what Meltano writes is accepted.
    @Test func randomDocumentsAgreeWithTheParserAndWriter() {
        var rng = SeededRandom(seed: UInt64(Date().timeIntervalSince1970 * 1000))
        let seed = rng.state
        var generator = DocumentGenerator(seed: seed)
        var transcoder = JSONRewriter(.compact)
        let alphabet = Array("{}[],:\"\\ 0123456789.eE+-tfnulrsaINy\n\t/".utf8) + [0x00, 0x1F, 0x7F, 0x80, 0xC3, 0xE2]
        var problems: [String] = []
        var acceptedStored = 0, stored = 0
        for round in 0..<6000 where problems.count < 5 {
            var bytes = Array(generator.document().utf8)
            if round % 3 == 0, let value = try? JSONParser.parse(bytes) {
                bytes = Array(value.meltanoText.utf8)  // as Meltano stores it
                stored += 1
                if transcode(bytes, &transcoder) != nil { acceptedStored += 1 }
            } else if round % 3 == 1 {
                for _ in 0..<rng.int(1...3) where !bytes.isEmpty {
                    let at = rng.int(0...bytes.count - 1)
                    switch rng.int(0...2) {
                    case 0: bytes.remove(at: at)
                    case 1: bytes.insert(rng.pick(alphabet), at: at)
                    default: bytes.insert(contentsOf: bytes[at...].prefix(rng.int(1...8)), at: at)
                    }
                }
            }
            if let problem = problem(bytes, &transcoder) { problems.append(problem) }
        }
        #expect(problems.isEmpty, "seed \(seed): \(problems.joined(separator: "\n"))")
        // Meltano's stored text comes from a dict: no repeated key, so every one is rewritten.
        #expect(stored > 100 && acceptedStored == stored, "seed \(seed): \(acceptedStored) of \(stored) stored documents rewritten")
    }
}
