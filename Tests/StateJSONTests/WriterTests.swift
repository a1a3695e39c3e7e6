import TestSupport
import Foundation
import StateJSON
import Testing

@Suite struct WriterTests {
    func value(_ text: String) throws -> JSONValue { try JSONParser.parse(text) }

    // Literal → Python's json.dumps(json.loads(literal)) (Python 3.11).
    static let numberCases: [(String, String)] = [
        ("1e16", "1e+16"), ("9.999999999999999e15", "1e+16"), ("9999999999999998.0", "9999999999999998.0"),
        ("1e-5", "1e-05"), ("0.0001", "0.0001"), ("0.00001", "1e-05"), ("5e-324", "5e-324"),
        ("1.7976931348623157e308", "1.7976931348623157e+308"), ("100000.0", "100000.0"), ("1e5", "100000.0"),
        ("123456789.123456789", "123456789.12345679"), ("1e22", "1e+22"), ("1e15", "1000000000000000.0"),
        ("1.5e300", "1.5e+300"), ("-1e-7", "-1e-07"), ("0.1", "0.1"), ("2.50", "2.5"), ("1.10", "1.1"),
        ("-0.0", "-0.0"), ("-0", "0"), ("0e0", "0.0"), ("1e400", "Infinity"), ("-1e400", "-Infinity"),
        ("1e-400", "0.0"), ("-1e-400", "-0.0"), ("4.9e-324", "5e-324"), ("2.4703282292062327e-324", "0.0"),
        ("12345678901234567.0", "1.2345678901234568e+16"), ("1234567890123456.7", "1234567890123456.8"),
        ("0.000123456789012345678", "0.00012345678901234567"), ("3.14159265358979323846", "3.141592653589793"),
        ("1E+2", "100.0"), ("1e-4", "0.0001"), ("123e-2", "1.23"), ("12345678901234567890", "12345678901234567890"),
        ("-9223372036854775809", "-9223372036854775809"), ("NaN", "NaN"), ("Infinity", "Infinity"),
        ("-Infinity", "-Infinity"), ("0", "0"), ("-1", "-1"), ("1.0", "1.0"), ("10E-1", "1.0"),
    ]

    @Test func numbersAsPythonWritesThem() throws {
        for (literal, expected) in Self.numberCases {
            let number = try #require(JSONNumber(literal: literal))
            #expect(number.pythonText == expected, "\(literal)")
            let v = JSONValue.number(number)
            #expect(v.meltanoText == expected && v.compactText == expected && v.prettyText() == expected, "\(literal)")
            // As written, on request.
            #expect(v.text(JSONWriteOptions(layout: .spaced, asciiOnly: true, preserveNumberLiterals: true)) == literal)
        }
    }

    @Test func numbersFromSwiftValues() {
        #expect(JSONNumber(42).literal == "42")
        #expect(JSONNumber(UInt64.max).literal == "18446744073709551615")
        #expect(JSONNumber(1e16).literal == "1e+16")
        #expect(JSONNumber(0.1).literal == "0.1")
        #expect(JSONNumber(-0.0).literal == "-0.0")
        #expect(JSONNumber(100000.0).literal == "100000.0")
        #expect(JSONNumber(Double.nan).literal == "NaN")
        #expect(JSONNumber(-Double.infinity).literal == "-Infinity")
        #expect(JSONNumber.pythonRepr(1e-5) == "1e-05")
        #expect(JSONNumber.pythonRepr(123456789.123456789) == "123456789.12345679")
        #expect(JSONNumber.pythonRepr(Double.leastNonzeroMagnitude) == "5e-324")
        #expect(JSONNumber.pythonRepr(Double.greatestFiniteMagnitude) == "1.7976931348623157e+308")
        let literals: JSONValue = [1, 2.5, "x", nil, true]
        #expect(literals.meltanoText == #"[1, 2.5, "x", null, true]"#)
    }

    @Test func stringsWithEnsureASCII() throws {
        let v = try value(#"["\" \\ / \b \f \n \r \t \u0000 \u001f \u007f \u0080 \u00ff \u0100 \u2028 \uffff \ud83d\ude00 <>&' \ud800 \udfff"]"#)
        #expect(v.meltanoText == #"["\" \\ / \b \f \n \r \t \u0000 \u001f \u007f \u0080 \u00ff \u0100 \u2028 \uffff \ud83d\ude00 <>&' \ud800 \udfff"]"#)
        #expect(JSONValue.string("é😀\u{1}").compactText == #""\u00e9\ud83d\ude00\u0001""#)
        #expect(JSONValue.string("").meltanoText == #""""#)
        #expect(JSONValue.string("plain / text").meltanoText == #""plain / text""#)
    }

    @Test func separators() throws {
        let v = try value(#"{ "a" :[1 ,{"b":[ ]}], "c":{ }, "d": "x" }"#)
        #expect(v.meltanoText == #"{"a": [1, {"b": []}], "c": {}, "d": "x"}"#)
        #expect(v.compactText == #"{"a":[1,{"b":[]}],"c":{},"d":"x"}"#)
    }

    @Test func prettyAsPythonIndentWithRealCharacters() throws {
        let v = try value(#"{"a": [1, {"b": []}], "c": {}}"#)
        #expect(v.prettyText() == "{\n  \"a\": [\n    1,\n    {\n      \"b\": []\n    }\n  ],\n  \"c\": {}\n}")
        #expect(v.prettyText(indent: 4) == "{\n    \"a\": [\n        1,\n        {\n            \"b\": []\n        }\n    ],\n    \"c\": {}\n}")
        #expect(v.prettyText(indent: 0) == "{\n\"a\": [\n1,\n{\n\"b\": []\n}\n],\n\"c\": {}\n}")
        #expect(JSONValue.array([]).prettyText() == "[]")
        #expect(JSONValue.null.prettyText() == "null")
        // Real characters, but controls (C0, DEL, C1) and lone surrogates stay escaped.
        let s = try value(#"["é中😀\u2028", "\n\t\u0001\u007f\u0085\u009f\u00a0", "\ud800x\udc00"]"#)
        #expect(s.prettyText() == "[\n  \"é中😀\u{2028}\",\n  \"\\n\\t\\u0001\\u007f\\u0085\\u009f\u{A0}\",\n  \"\\ud800x\\udc00\"\n]")
        // Pretty numbers are Python's unless asked otherwise.
        let n = try value("[1E5, -0, 1.10]")
        #expect(n.prettyText() == "[\n  100000.0,\n  0,\n  1.1\n]")
        var literal = JSONWriteOptions.pretty()
        literal.preserveNumberLiterals = true
        #expect(n.text(literal) == "[\n  1E5,\n  -0,\n  1.10\n]")
    }

    @Test func duplicateKeysAreWrittenOnce() throws {
        #expect(try value(#"{"a":1,"b":2,"a":3}"#).meltanoText == #"{"a": 3, "b": 2}"#)
    }

    @Test func bytesStreamingAndTextAgree() throws {
        var generator = DocumentGenerator(seed: 77)
        for _ in 0..<200 {
            let v = try JSONParser.parse(generator.document())
            for options in [JSONWriteOptions.meltano, .compact, .pretty(), .pretty(indent: 3)] {
                let text = v.text(options)
                #expect(v.bytes(options) == Array(text.utf8))
                var appended: [UInt8] = [0x41]
                v.write(options, into: &appended)
                #expect(appended == [0x41] + Array(text.utf8))
                var chunks: [[UInt8]] = []
                try v.write(options, chunkSize: 64) { chunks.append(Array($0)) }
                #expect(chunks.joined().elementsEqual(text.utf8))
                #expect(chunks.allSatisfy { !$0.isEmpty })
            }
        }
    }

    struct SinkFailure: Error {}

    @Test func streamingStopsAtTheSinksError() throws {
        let v = JSONValue.array(Array(repeating: "some text to fill the chunks", count: 1000))
        var calls = 0
        #expect(throws: SinkFailure.self) {
            try v.write(.meltano, chunkSize: 100) { _ in
                calls += 1
                throw SinkFailure()
            }
        }
        #expect(calls == 1)
    }

    @Test func wideDocumentsWrite() throws {
        // A large flat object and array (the bookmarks shape) and a long string.
        var object = JSONObject()
        for i in 0..<50_000 { object["stream_\(i)"] = ["replication_key_value": .string(JSONString("2024-01-01T00:00:\(i % 60)Z"))] }
        let v = JSONValue.object(object)
        let text = v.meltanoText
        #expect(try JSONParser.parse(text) == v)
        let long = JSONValue.string(JSONString(String(repeating: "ab\u{E9}", count: 200_000)))
        #expect(long.meltanoText.count == 200_000 * 8 + 2)
        #expect(try JSONParser.parse(long.prettyText()) == long)
    }
}
