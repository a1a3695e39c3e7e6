import Foundation
import StateJSON
import Testing

@Suite struct ParserTests {
    func parse(_ text: String) throws -> JSONValue { try JSONParser.parse(text) }

    func parseError(_ text: String) -> JSONParseError? {
        do {
            _ = try JSONParser.parse(text)
            return nil
        } catch {
            return error
        }
    }

    func parseError(bytes: [UInt8]) -> JSONParseError? {
        do {
            _ = try JSONParser.parse(bytes)
            return nil
        } catch {
            return error
        }
    }

    // MARK: Accepted forms

    @Test func scalars() throws {
        #expect(try parse("null") == .null)
        #expect(try parse("true") == .bool(true))
        #expect(try parse("false") == .bool(false))
        #expect(try parse("\"x\"") == .string("x"))
        #expect(try parse("0") == .number(JSONNumber(literal: "0")!))
        #expect(try parse(" \t\r\n 1 \n\t\r ") == .number(JSONNumber(literal: "1")!))
    }

    @Test(arguments: ["0", "-0", "1.10", "1e5", "1E+05", "-0.0e-0", "12345678901234567890", "1e400", "NaN",
                      "Infinity", "-Infinity", "123456789.123456789", "0.1e1"])
    func numbersKeepTheirLiteral(_ literal: String) throws {
        #expect(try parse(literal) == .number(JSONNumber(literal: literal)!))
        #expect(try parse("[\(literal)]")[0]?.numberValue?.literal == literal)
    }

    @Test func numberAccessors() throws {
        let big = JSONNumber(literal: "12345678901234567890")!
        #expect(big.isInteger && big.int64Value == nil && big.pythonTypeName == "int")
        #expect(JSONNumber(literal: "-42")!.int64Value == -42)
        #expect(JSONNumber(literal: "1.5")!.doubleValue == 1.5)
        #expect(JSONNumber(literal: "1e400")!.doubleValue == .infinity)
        #expect(JSONNumber(literal: "NaN")!.doubleValue.isNaN)
        #expect(JSONNumber(literal: "NaN")!.pythonTypeName == "float")
        #expect(JSONNumber(literal: "1.0")!.pythonTypeName == "float")
        for bad in ["", "01", "1.", ".5", "+1", "1e", "-", "nan", "inf", "0x1", " 1", "1 "] {
            #expect(JSONNumber(literal: bad) == nil, "\(bad)")
        }
    }

    @Test func stringsAndEscapes() throws {
        #expect(try parse(#""\" \\ \/ \b \f \n \r \t""#) == .string("\" \\ / \u{8} \u{C} \n \r \t"))
        #expect(try parse(#""\u0041\u00e9\u00E9\u4e2d""#) == .string("Aéé中"))
        #expect(try parse(#""\ud83d\ude00""#) == .string("😀"))
        #expect(try parse("\"😀 raw é \u{7F} \u{85}\"") == .string("😀 raw é \u{7F} \u{85}"))
        #expect(try parse(#""\u0000""#) == .string("\u{0}"))
    }

    @Test func loneSurrogatesRoundTrip() throws {
        let value = try parse(#"["\ud800", "a\udc00b", "\udc00\ud800", "\ud83d\u0041"]"#)
        let strings = try #require(value.arrayValue).map { $0.stringValue! }
        #expect(strings[0].utf16CodeUnits == [0xD800])
        #expect(strings[1].utf16CodeUnits == [0x61, 0xDC00, 0x62])
        #expect(strings[2].utf16CodeUnits == [0xDC00, 0xD800])
        #expect(strings[3].utf16CodeUnits == [0xD83D, 0x41])
        #expect(strings.allSatisfy { !$0.isWellFormed })
        #expect(strings[1].text == "a\u{FFFD}b")
        #expect(strings[1].string == nil)
        #expect(value.meltanoText == #"["\ud800", "a\udc00b", "\udc00\ud800", "\ud83dA"]"#)
        #expect(try parse(value.meltanoText) == value)
    }

    @Test func duplicateKeysLastValueWinsAtFirstPosition() throws {
        let value = try parse(#"{"a": 1, "b": 2, "a": 3, "c": 4, "b": {"x": 1}}"#)
        #expect(value.meltanoText == #"{"a": 3, "b": {"x": 1}, "c": 4}"#)
        // Same with many keys (the indexed path).
        var text = "{"
        for i in 0..<40 { text += "\"k\(i)\": \(i), " }
        text += "\"k5\": \"five\", \"k39\": null, \"new\": 1}"
        let big = try #require(try parse(text).objectValue)
        #expect(big.count == 41)
        #expect(big["k5"] == "five")
        #expect(big.index(forKey: "k5") == 5)
        #expect(big[39].key == "k39" && big[39].value == .null)
        #expect(big[40].key == "new")
        // Escaped and raw spellings of one key are the same key; NFC and NFD are not.
        #expect(try parse(#"{"a": 1, "\u0061": 2}"#).meltanoText == #"{"a": 2}"#)
        #expect(try parse("{\"\u{E9}\": 1, \"e\u{301}\": 2}").objectValue?.count == 2)
    }

    @Test func bytesDataAndStringAgree() throws {
        let text = "{\"k\": [1, 2.5, \"é😀\", null]}"
        let fromString = try JSONParser.parse(text)
        #expect(try JSONParser.parse(Array(text.utf8)) == fromString)
        #expect(try JSONParser.parse(Data(text.utf8)) == fromString)
        #expect(try JSONParser.parse(Array(text.utf8)[...]) == fromString)
        #expect(try JSONParser.parse(text.utf8) == fromString)
    }

    // MARK: Errors: Python's message and position, plus an excerpt

    struct ErrorCase: Sendable, CustomStringConvertible {
        var text: String
        var message: String
        var line: Int
        var column: Int
        var char: Int
        var description: String { text.debugDescription }
    }

    // Expected values are Python 3.11's json.loads.
    static let errorCases: [ErrorCase] = [
        .init(text: "", message: "Expecting value", line: 1, column: 1, char: 0),
        .init(text: "   ", message: "Expecting value", line: 1, column: 4, char: 3),
        .init(text: "[1,]", message: "Expecting value", line: 1, column: 4, char: 3),
        .init(text: "{\"a\":1,}", message: "Expecting property name enclosed in double quotes", line: 1, column: 8, char: 7),
        .init(text: "[", message: "Expecting value", line: 1, column: 2, char: 1),
        .init(text: "{", message: "Expecting property name enclosed in double quotes", line: 1, column: 2, char: 1),
        .init(text: "{\"a\"", message: "Expecting ':' delimiter", line: 1, column: 5, char: 4),
        .init(text: "{\"a\":", message: "Expecting value", line: 1, column: 6, char: 5),
        .init(text: "\"abc", message: "Unterminated string starting at", line: 1, column: 1, char: 0),
        .init(text: "\"a\u{1}b\"", message: "Invalid control character at", line: 1, column: 3, char: 2),
        .init(text: "\"\\x\"", message: "Invalid \\escape", line: 1, column: 2, char: 1),
        .init(text: "\"\\u12\"", message: "Invalid \\uXXXX escape", line: 1, column: 3, char: 2),
        .init(text: "\"\\u1234", message: "Invalid \\uXXXX escape", line: 1, column: 3, char: 2),
        .init(text: "\"\\u12G4\"", message: "Invalid \\uXXXX escape", line: 1, column: 3, char: 2),
        .init(text: "\"\\ud800\\udc0Z\"", message: "Invalid \\uXXXX escape", line: 1, column: 9, char: 8),
        .init(text: "\"\\ud800\\udc00", message: "Invalid \\uXXXX escape", line: 1, column: 9, char: 8),
        .init(text: "01", message: "Extra data", line: 1, column: 2, char: 1),
        .init(text: "[01]", message: "Expecting ',' delimiter", line: 1, column: 3, char: 2),
        .init(text: "1.", message: "Extra data", line: 1, column: 2, char: 1),
        .init(text: "1e", message: "Extra data", line: 1, column: 2, char: 1),
        .init(text: "1e+", message: "Extra data", line: 1, column: 2, char: 1),
        .init(text: "-", message: "Expecting value", line: 1, column: 1, char: 0),
        .init(text: "-Inf", message: "Expecting value", line: 1, column: 1, char: 0),
        .init(text: "nul", message: "Expecting value", line: 1, column: 1, char: 0),
        .init(text: "tru", message: "Expecting value", line: 1, column: 1, char: 0),
        .init(text: "Nan", message: "Expecting value", line: 1, column: 1, char: 0),
        .init(text: "infinity", message: "Expecting value", line: 1, column: 1, char: 0),
        .init(text: "\u{FEFF}{}", message: "Unexpected UTF-8 BOM (decode using utf-8-sig)", line: 1, column: 1, char: 0),
        .init(text: "[1 2]", message: "Expecting ',' delimiter", line: 1, column: 4, char: 3),
        .init(text: "{\"a\" 1}", message: "Expecting ':' delimiter", line: 1, column: 6, char: 5),
        .init(text: "{1:2}", message: "Expecting property name enclosed in double quotes", line: 1, column: 2, char: 1),
        .init(text: "[1]x", message: "Extra data", line: 1, column: 4, char: 3),
        .init(text: "{\"a\":1}}", message: "Extra data", line: 1, column: 8, char: 7),
        .init(text: "\"\\", message: "Unterminated string starting at", line: 1, column: 1, char: 0),
        .init(text: "\"abc\\", message: "Unterminated string starting at", line: 1, column: 1, char: 0),
        .init(text: "[\n  1,\n  2\n  3]", message: "Expecting ',' delimiter", line: 4, column: 3, char: 13),
        .init(text: "{\"é\": \"ü\" x}", message: "Expecting ',' delimiter", line: 1, column: 11, char: 10),
        .init(text: "[1,\n\"\t\"]", message: "Invalid control character at", line: 2, column: 2, char: 5),
        .init(text: "'a'", message: "Expecting value", line: 1, column: 1, char: 0),
        .init(text: "[+1]", message: "Expecting value", line: 1, column: 2, char: 1),
        .init(text: "[0x10]", message: "Expecting ',' delimiter", line: 1, column: 3, char: 2),
        .init(text: "[1,,2]", message: "Expecting value", line: 1, column: 4, char: 3),
        .init(text: "{,}", message: "Expecting property name enclosed in double quotes", line: 1, column: 2, char: 1),
        .init(text: "[1}", message: "Expecting ',' delimiter", line: 1, column: 3, char: 2),
        .init(text: "{\"a\":1]", message: "Expecting ',' delimiter", line: 1, column: 7, char: 6),
        .init(text: "\"\n\"", message: "Invalid control character at", line: 1, column: 2, char: 1),
        .init(text: "\u{0}", message: "Expecting value", line: 1, column: 1, char: 0),
        .init(text: "[1] [2]", message: "Extra data", line: 1, column: 5, char: 4),
        .init(text: "{\"a\":\n\n  nope}", message: "Expecting value", line: 3, column: 3, char: 9),
    ]

    @Test(arguments: errorCases)
    func errorMatchesPython(_ c: ErrorCase) throws {
        let error = try #require(parseError(c.text))
        #expect(error.message == c.message)
        #expect(error.line == c.line)
        #expect(error.column == c.column)
        #expect(error.characterOffset == c.char)
        #expect(error.pythonDescription == "\(c.message): line \(c.line) column \(c.column) (char \(c.char))")
        #expect(error.description.hasPrefix(error.pythonDescription + "\n"))
        // The same error through the bytes entry point, with the byte offset.
        let fromBytes = try #require(parseError(bytes: Array(c.text.utf8)))
        #expect(fromBytes == error)
        let prefix = String(c.text.unicodeScalars.prefix(c.char))
        #expect(error.offset == prefix.utf8.count)
    }

    @Test func excerptPointsAtTheError() throws {
        let error = try #require(parseError("{\"a\" 1}"))
        #expect(error.excerpt == "{\"a\" 1}\n     ^")
        let multiline = try #require(parseError("[\n  1,\n  2\n  3]"))
        #expect(multiline.excerpt == "  3]\n  ^")
        #expect(multiline.description == "Expecting ',' delimiter: line 4 column 3 (char 13)\n  3]\n  ^")
        // Long lines are cut around the position; tabs and controls stay one column wide.
        let long = "[" + String(repeating: "1, ", count: 100) + "x" + String(repeating: ", 1", count: 100) + "]"
        let cut = try #require(parseError(long))
        let lines = cut.excerpt.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 2)
        #expect(lines[0].hasPrefix("…") && lines[0].hasSuffix("…"))
        let caret = lines[1].count - 1
        #expect(Array(lines[0])[caret] == "x")
        let tabbed = try #require(parseError("[\t\"é\",\tx]"))
        #expect(tabbed.excerpt == "[ \"é\", x]\n       ^")
    }

    @Test func invalidUTF8IsAnError() throws {
        let cases: [([UInt8], Int)] = [
            ([0x22, 0xFF, 0x22], 1),                          // not a UTF-8 byte
            ([0x22, 0x61, 0xC3, 0x22], 2),                    // truncated sequence
            ([0x22, 0xC0, 0xAF, 0x22], 1),                    // overlong '/'
            ([0x22, 0xED, 0xA0, 0x80, 0x22], 1),              // an encoded surrogate
            ([0x22, 0xF4, 0x90, 0x80, 0x80, 0x22], 1),        // above U+10FFFF
            ([0x5B, 0x31, 0x2C, 0xFF, 0x5D], 3),              // outside a string
            ([0x5B, 0x31, 0x2C, 0x7B, 0x7D, 0x5D, 0x80], 6),  // after the document
            ([0x5B, 0x22, 0x5C, 0x6E, 0xE9, 0x22, 0x5D], 4),  // after an escape (Latin-1 'é')
            ([0x5B, 0x5D, 0x20, 0x78, 0xFF], 4),              // invalid UTF-8 wins over the earlier "Extra data"
            ([0x22, 0xE2, 0xE2, 0x5C, 0x6E, 0x22], 1),        // before an escape (found by libFuzzer)
            ([0x22] + Array(repeating: 0x61, count: 20) + [0xE2, 0xE2] + Array(repeating: 0x61, count: 20)
                + Array(#"\ud800""#.utf8), 21),                // the same past the 8-byte scan, with a lone surrogate
        ]
        for (bytes, offset) in cases {
            let error = try #require(parseError(bytes: bytes), "\(bytes)")
            #expect(error.message.hasPrefix("Invalid UTF-8"), "\(bytes): \(error)")
            #expect(error.offset == offset, "\(bytes): \(error)")
        }
        #expect(parseError(bytes: [0xEF, 0xBB, 0xBF, 0x7B, 0x7D])?.message == "Unexpected UTF-8 BOM (decode using utf-8-sig)")
        #expect(parseError(bytes: [0xFF])?.message == "Invalid UTF-8 (byte 0xFF)")
        #expect(parseError(bytes: [0x22, 0xE2, 0x82])?.message == "Invalid UTF-8 (byte 0xE2)")
    }

    @Test func truncatedDocumentsAreErrors() throws {
        let text = #"{"singer_state": {"bookmarks": {"s": {"v": [1, 2.5e3, "x\u00e9", true, null]}}}}"#
        let scalars = Array(text.unicodeScalars)
        for length in 0..<scalars.count {
            var prefix = ""
            prefix.unicodeScalars.append(contentsOf: scalars[..<length])
            #expect(parseError(prefix) != nil, "\(prefix)")
        }
        #expect(parseError(text) == nil)
    }

    // MARK: Depth

    @Test func depthLimit() throws {
        let limit = JSONParser.maximumDepth
        #expect(limit == 1000)
        let ok = String(repeating: "[", count: limit) + String(repeating: "]", count: limit)
        #expect(try parse(ok).depth == limit)
        let objects = String(repeating: "{\"a\":", count: limit) + "1" + String(repeating: "}", count: limit)
        #expect(try parse(objects).depth == limit)
        let over = "[" + ok + "]"
        let error = try #require(parseError(over))
        #expect(error.message == "Too deeply nested: more than 1000 levels of arrays and objects")
        #expect(error.offset == limit)
    }

    @Test func hundredThousandLevelsIsACleanError() throws {
        let n = 100_000
        for text in [String(repeating: "[", count: n) + String(repeating: "]", count: n),
                     String(repeating: "{\"k\":", count: n) + "0" + String(repeating: "}", count: n),
                     String(repeating: "[", count: n)] {
            let error = try #require(parseError(text))
            #expect(error.message.hasPrefix("Too deeply nested"))
        }
    }

    /// Everything the parser accepts, at the depth limit, on a thread with a 512 KiB stack
    /// (what Swift concurrency gives a task): parse, write, compare, merge, free.
    @Test func maximumDepthIsSafeOnASmallStack() throws {
        let n = JSONParser.maximumDepth
        let arrays = String(repeating: "[", count: n) + String(repeating: "]", count: n)
        let objects = String(repeating: "{\"a\": ", count: n - 1) + "{}" + String(repeating: "}", count: n - 1)
        let mixed = String(repeating: "[{\"k\": ", count: n / 2) + "\"\\ud800\"" + String(repeating: "}]", count: n / 2)
        let results = Mutex()
        onThread {
            for text in [arrays, objects, mixed] {
                do {
                    let value = try JSONParser.parse(text)
                    let again = try JSONParser.parse(Array(text.utf8))
                    var ok = value == again && value.isEquivalent(to: again) && value.depth == n
                    ok = ok && value.meltanoText == text
                    let pretty = try JSONParser.parse(value.prettyText())
                    let compact = try JSONParser.parse(value.compactText)
                    ok = ok && pretty == value && compact == value
                    if value.isObject {
                        let merged = try deepMerge(value, onto: value)
                        ok = ok && merged == value
                        let fresh = try deepMerge(value, onto: [:])
                        ok = ok && fresh == value
                    }
                    _ = try? JSONParser.parse("[" + text + "]")
                    results.append(ok ? "ok" : "mismatch")
                } catch {
                    results.append("\(error)")
                }
            }
        }
        #expect(results.values == ["ok", "ok", "ok"])
    }
}

/// A tiny lock-protected list for results computed on another thread.
final class Mutex: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [String] = []
    func append(_ s: String) { lock.lock(); items.append(s); lock.unlock() }
    var values: [String] { lock.lock(); defer { lock.unlock() }; return items }
}
