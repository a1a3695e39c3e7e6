/// Random JSON *texts* (not values), to exercise the parser's input forms as well as
/// the writers: random whitespace, escapes and raw characters, number literals at
/// Python's repr boundaries, duplicate keys, deep nesting.
/// Shared by the StateJSON parser's tests and the browser's layout parser's, so both
/// parsers are checked on the same corpus.
public struct DocumentGenerator {
    public var rng: SeededRandom

    public init(seed: UInt64) { rng = SeededRandom(seed: seed) }

    public static let boundaryNumbers = [
        "0", "-0", "1", "-1", "0.0", "-0.0", "1.0", "1.10", "2.50", "1e5", "1E5", "1e+5", "1e-5", "1e-05",
        "0.0001", "0.00001", "1e16", "1e15", "9999999999999998", "9999999999999998.0", "9.999999999999999e15",
        "1e+16", "1.5e300", "1e22", "1e-7", "5e-324", "4.9e-324", "2.4703282292062327e-324",
        "2.4703282292062328e-324", "1e-400", "-1e-400", "1.7976931348623157e308", "1.7976931348623158e308",
        "1.7976931348623159e308", "1e308", "1e309", "1e400", "-1e400", "123456789.123456789", "0.1", "0.2",
        "0.30000000000000004", "100000.0", "1234567890123456.7", "12345678901234567.0", "9007199254740993",
        "9007199254740993.0", "12345678901234567890", "-9223372036854775809", "18446744073709551616",
        "99999999999999999999999999999999999999999", "0.000000000000000000000000000001", "1.000000000000000000001",
        "123e-2", "0e0", "-0e-0", "0E+0", "10E-1", "0.1e1", "12e-1", "3.14159265358979323846264338327950288",
        "2.2250738585072014e-308", "2.2250738585072011e-308", "4.940656458412465441765687928682213723651e-324",
        "1e-323", "8.98846567431158e307", "1.0000000000000002", "0.9999999999999999", "100", "1e2", "1e0",
        "NaN", "Infinity", "-Infinity",
    ]

    public mutating func whitespace() -> String {
        rng.chance(0.6) ? "" : rng.pick([" ", "  ", "\n", "\t", "\r\n", " \n  ", "\r"])
    }

    public mutating func number() -> String {
        switch rng.int(0...9) {
        case 0...2:
            return rng.pick(DocumentGenerator.boundaryNumbers)
        case 3:
            // A random double, written the way Swift prints it (shortest digits).
            var d: Double
            repeat { d = Double(bitPattern: rng.next()) } while !d.isFinite
            return d.description
        case 4:
            // Random decimal digits, point and exponent: exercises rounding.
            var s = rng.chance(0.3) ? "-" : ""
            let digits = rng.int(1...25)
            let first = rng.int(0...9)
            s += String(first)
            if first != 0 { for _ in 1..<digits { s += String(rng.int(0...9)) } }
            if rng.chance(0.7) {
                s += "."
                for _ in 0..<rng.int(1...20) { s += String(rng.int(0...9)) }
            }
            if rng.chance(0.6) {
                s += rng.pick(["e", "E"]) + rng.pick(["", "+", "-"]) + String(rng.int(0...330))
            }
            return s
        case 5:
            // Huge integers.
            var s = rng.chance(0.3) ? "-" : ""
            s += String(rng.int(1...9))
            for _ in 0..<rng.int(0...60) { s += String(rng.int(0...9)) }
            return s
        case 6:
            // Doubles near the positional/exponent switch of repr.
            let e = rng.int(-8...20)
            let mantissa = rng.pick(["1", "9.999999999999999", "1.5", "2.2250738585072014", "5", "1.0000000000000002"])
            return "\(mantissa)e\(e)"
        default:
            return String(Int.random(in: -1_000_000...1_000_000, using: &rng))
        }
    }

    public mutating func hexEscape(_ unit: UInt16) -> String {
        let h = String(unit, radix: 16, uppercase: rng.chance(0.3))
        return "\\u" + String(repeating: "0", count: 4 - h.count) + h
    }

    public mutating func stringLiteral(maxLength: Int = 10) -> String {
        var s = "\""
        for _ in 0..<rng.int(0...maxLength) {
            switch rng.int(0...15) {
            case 0...5:
                let c = UInt8(rng.int(0x20...0x7E))
                if c == 0x22 { s += "\\\"" } else if c == 0x5C { s += "\\\\" } else { s.unicodeScalars.append(Unicode.Scalar(c)) }
            case 6:
                s += rng.pick(["\\n", "\\t", "\\r", "\\b", "\\f", "\\/", "\\\\", "\\\"", "/"])
            case 7:
                s += hexEscape(UInt16(rng.int(0...0x1F)))
            case 8:
                s += rng.pick(["é", "ü", "ß", "中", "文", "\u{2028}", "\u{FEFF}", "\u{7F}", "\u{85}", "\u{9F}", "\u{A0}",
                               "e\u{301}", "\u{FFFD}", "\u{FFFF}", "\u{E000}", "ﬃ"])
            case 9:
                s += rng.pick(["😀", "𝄞", "\u{10FFFF}", "\u{1F1EB}\u{1F1F7}", "\u{10000}"])
            case 10:
                var u: UInt16
                repeat { u = UInt16(truncatingIfNeeded: rng.next()) } while u & 0xF800 == 0xD800
                s += hexEscape(u)
            case 11:
                // A surrogate pair as escapes.
                let high = UInt16(rng.int(0xD800...0xDBFF)), low = UInt16(rng.int(0xDC00...0xDFFF))
                s += hexEscape(high) + hexEscape(low)
            case 12:
                // A lone surrogate (high, low, or reversed pair).
                switch rng.int(0...2) {
                case 0: s += hexEscape(UInt16(rng.int(0xD800...0xDBFF)))
                case 1: s += hexEscape(UInt16(rng.int(0xDC00...0xDFFF)))
                default: s += hexEscape(UInt16(rng.int(0xDC00...0xDFFF))) + hexEscape(UInt16(rng.int(0xD800...0xDBFF)))
                }
            case 13:
                s += "singer_state"
            default:
                s += hexEscape(UInt16(rng.int(0x7F...0xFF)))
            }
        }
        return s + "\""
    }

    public mutating func key() -> String {
        if rng.chance(0.5) {
            return rng.pick(["\"a\"", "\"b\"", "\"singer_state\"", "\"bookmarks\"", "\"replication_key_value\"",
                             "\"\\u0061\"", "\"\"", "\"\\ud800\"", "\"é\"", "\"e\\u0301\""])
        }
        return stringLiteral(maxLength: 6)
    }

    public mutating func value(depth: Int) -> String {
        let containerChance = depth > 6 ? 0.1 : 0.45
        if rng.chance(containerChance) {
            let count = rng.int(0...(depth > 3 ? 3 : 6))
            if rng.chance(0.5) {
                var s = "[" + whitespace()
                for i in 0..<count {
                    if i > 0 { s += whitespace() + "," + whitespace() }
                    s += value(depth: depth + 1)
                }
                return s + whitespace() + "]"
            } else {
                var s = "{" + whitespace()
                for i in 0..<count {
                    if i > 0 { s += whitespace() + "," + whitespace() }
                    s += key() + whitespace() + ":" + whitespace() + value(depth: depth + 1)
                }
                return s + whitespace() + "}"
            }
        }
        switch rng.int(0...9) {
        case 0: return rng.pick(["null", "true", "false"])
        case 1...4: return number()
        default: return stringLiteral()
        }
    }

    /// A deep chain of arrays and objects around a small value.
    public mutating func deepDocument(depth: Int) -> String {
        var open = "", close = ""
        for _ in 0..<depth {
            if rng.chance(0.5) {
                open += "["
                close = "]" + close
            } else {
                open += "{" + key() + ":"
                close = "}" + close
            }
        }
        return open + value(depth: 10) + close
    }

    public mutating func document() -> String {
        let roll = rng.int(0...99)
        let body: String
        if roll < 3 {
            body = deepDocument(depth: rng.int(20...400))
        } else if roll < 10 {
            body = value(depth: 7)  // often a scalar at the top
        } else {
            body = value(depth: 0)
        }
        return whitespace() + body + whitespace()
    }

    /// A random edit of a text (on characters, so it stays valid UTF-8).
    public mutating func mutate(_ text: String) -> String {
        var scalars = Array(text.unicodeScalars)
        let pieces: [String] = ["\"", "\\", ",", ":", "[", "]", "{", "}", " ", "\n", "0", "-", ".", "e", "+", "u",
                                "\\u", "\\ud800", "NaN", "Infinity", "tru", "nul", "\u{1}", "\u{1F}", "é", "😀",
                                "\u{FEFF}", "\t"]
        switch rng.int(0...5) {
        case 0 where !scalars.isEmpty:
            scalars.removeSubrange(rng.int(0...scalars.count - 1)...)  // truncate
        case 1 where !scalars.isEmpty:
            scalars.remove(at: rng.int(0...scalars.count - 1))
        case 2:
            scalars.insert(contentsOf: rng.pick(pieces).unicodeScalars, at: rng.int(0...scalars.count))
        case 3 where !scalars.isEmpty:
            let at = rng.int(0...scalars.count - 1)
            scalars.replaceSubrange(at...at, with: rng.pick(pieces).unicodeScalars)
        case 4 where scalars.count > 1:
            let a = rng.int(0...scalars.count - 1), b = rng.int(0...scalars.count - 1)
            scalars.swapAt(a, b)
        default:
            scalars.append(contentsOf: rng.pick(pieces).unicodeScalars)
        }
        var s = ""
        s.unicodeScalars.append(contentsOf: scalars)
        return s
    }
}
