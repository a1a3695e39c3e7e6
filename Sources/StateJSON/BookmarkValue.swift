// Bookmark values as Singer taps write them, and how to move one back without changing
// its type or format: ISO timestamps (same precision, separator and zone style),
// integers, PostgreSQL LSNs ("16/B374D848"). Pure: the clock is passed in.

/// A timestamp as a tap wrote it: the instant, and the style to write a new one in.
public struct BookmarkTimestamp: Sendable, Equatable {
    /// Seconds since 1970-01-01T00:00:00Z (a text without a zone is read as UTC).
    public var epochSeconds: Int64
    /// Nanoseconds within the second (0..<1e9).
    public var nanoseconds: Int64

    /// How the zone was written.
    public enum Zone: Sendable, Equatable {
        /// No zone (`2024-05-01 00:00:00`): read and written as UTC.
        case none
        /// `Z` (or `z`).
        case z(lowercase: Bool)
        /// `+02:00`, `+0200` or `+02`, with that offset in seconds.
        case offset(seconds: Int, colon: Bool, minutes: Bool)
    }

    /// Only a date (`2024-05-01`).
    public var dateOnly: Bool
    /// `T`, `t` or a space.
    public var separator: Character
    /// Digits after the seconds' point (0: no point).
    public var fractionDigits: Int
    public var zone: Zone

    var offsetSeconds: Int {
        if case let .offset(seconds, _, _) = zone { return seconds }
        return 0
    }

    /// Parses `YYYY-MM-DD`, or `YYYY-MM-DD[T ]HH:MM[:SS[.f{1,9}]][Z|±HH[:MM]|±HHMM]`; nil for
    /// anything else (so a string that is not a time stays a plain string).
    public static func parse(_ text: String) -> BookmarkTimestamp? {
        let b = Array(text.utf8)
        var i = 0
        func digits(_ count: Int) -> Int? {
            guard i + count <= b.count else { return nil }
            var value = 0
            for k in 0..<count {
                let c = b[i + k]
                guard c >= 0x30 && c <= 0x39 else { return nil }
                value = value * 10 + Int(c - 0x30)
            }
            i += count
            return value
        }
        func expect(_ c: UInt8) -> Bool {
            guard i < b.count, b[i] == c else { return false }
            i += 1
            return true
        }
        guard let year = digits(4), expect(UInt8(ascii: "-")), let month = digits(2), expect(UInt8(ascii: "-")),
              let day = digits(2), (1...12).contains(month), day >= 1, day <= daysInMonth(year, month) else { return nil }
        var result = BookmarkTimestamp(epochSeconds: 0, nanoseconds: 0, dateOnly: true, separator: "T", fractionDigits: 0, zone: .none)
        var hour = 0, minute = 0, second = 0
        if i < b.count {
            guard b[i] == UInt8(ascii: "T") || b[i] == UInt8(ascii: "t") || b[i] == UInt8(ascii: " ") else { return nil }
            result.separator = Character(Unicode.Scalar(b[i]))
            result.dateOnly = false
            i += 1
            guard let h = digits(2), expect(UInt8(ascii: ":")), let m = digits(2), h < 24, m < 60 else { return nil }
            hour = h; minute = m
            guard expect(UInt8(ascii: ":")), let s = digits(2), s < 60 else { return nil }
            second = s
            if expect(UInt8(ascii: ".")) {
                var count = 0, nanos: Int64 = 0
                while i < b.count, b[i] >= 0x30, b[i] <= 0x39 {
                    guard count < 9 else { return nil }
                    nanos = nanos * 10 + Int64(b[i] - 0x30)
                    count += 1
                    i += 1
                }
                guard count > 0 else { return nil }
                for _ in count..<9 { nanos *= 10 }
                result.fractionDigits = count
                result.nanoseconds = nanos
            }
            if i < b.count {
                if b[i] == UInt8(ascii: "Z") || b[i] == UInt8(ascii: "z") {
                    result.zone = .z(lowercase: b[i] == UInt8(ascii: "z"))
                    i += 1
                } else if b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") {
                    let sign = b[i] == UInt8(ascii: "-") ? -1 : 1
                    i += 1
                    guard let oh = digits(2), oh < 24 else { return nil }
                    var om = 0, colon = false, hasMinutes = false
                    if expect(UInt8(ascii: ":")) {
                        colon = true
                        guard let m = digits(2), m < 60 else { return nil }
                        om = m; hasMinutes = true
                    } else if i < b.count {
                        guard let m = digits(2), m < 60 else { return nil }
                        om = m; hasMinutes = true
                    }
                    result.zone = .offset(seconds: sign * (oh * 3600 + om * 60), colon: colon, minutes: hasMinutes)
                } else {
                    return nil
                }
            }
            guard i == b.count else { return nil }
        }
        let local = Int64(daysFromCivil(year, month, day)) * 86_400 + Int64(hour * 3600 + minute * 60 + second)
        result.epochSeconds = local - Int64(result.offsetSeconds)
        return result
    }

    /// The same style, another instant (truncated to the precision the style can hold).
    public func with(epochSeconds: Int64, nanoseconds: Int64) -> BookmarkTimestamp {
        var copy = self
        copy.epochSeconds = epochSeconds
        copy.nanoseconds = nanoseconds
        if dateOnly {
            let local = epochSeconds + Int64(offsetSeconds)
            copy.epochSeconds = floorDiv(local, 86_400) * 86_400 - Int64(offsetSeconds)
            copy.nanoseconds = 0
        } else {
            var scale: Int64 = 1
            for _ in fractionDigits..<9 { scale *= 10 }
            copy.nanoseconds = nanoseconds / scale * scale
        }
        return copy
    }

    /// The year of the text (in its own offset).
    public var year: Int {
        civilFromDays(Int(floorDiv(epochSeconds + Int64(offsetSeconds), 86_400))).0
    }

    /// The text in the style it was read in.
    public var text: String {
        let local = epochSeconds + Int64(offsetSeconds)
        let days = floorDiv(local, 86_400)
        let secondOfDay = Int(local - days * 86_400)
        let (year, month, day) = civilFromDays(Int(days))
        func pad(_ value: Int, _ width: Int) -> String {
            let s = String(value)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        var out = "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))"
        if dateOnly { return out }
        out.append(separator)
        out += "\(pad(secondOfDay / 3600, 2)):\(pad(secondOfDay / 60 % 60, 2)):\(pad(secondOfDay % 60, 2))"
        if fractionDigits > 0 {
            out += "." + String(pad(Int(nanoseconds), 9).prefix(fractionDigits))
        }
        switch zone {
        case .none: break
        case let .z(lowercase): out += lowercase ? "z" : "Z"
        case let .offset(seconds, colon, minutes):
            out += seconds < 0 ? "-" : "+"
            out += pad(abs(seconds) / 3600, 2)
            if minutes { out += (colon ? ":" : "") + pad(abs(seconds) / 60 % 60, 2) }
        }
        return out
    }

    /// Seconds since the epoch, with the fraction.
    public var instant: Double { Double(epochSeconds) + Double(nanoseconds) / 1e9 }

    static func compare(_ a: BookmarkTimestamp, _ b: BookmarkTimestamp) -> Int {
        if a.epochSeconds != b.epochSeconds { return a.epochSeconds < b.epochSeconds ? -1 : 1 }
        if a.nanoseconds != b.nanoseconds { return a.nanoseconds < b.nanoseconds ? -1 : 1 }
        return 0
    }
}

// MARK: - Calendar (proleptic Gregorian, Howard Hinnant's algorithms)

func daysFromCivil(_ year: Int, _ month: Int, _ day: Int) -> Int {
    let y = month <= 2 ? year - 1 : year
    let era = (y >= 0 ? y : y - 399) / 400
    let yoe = y - era * 400
    let mp = (month + 9) % 12
    let doy = (153 * mp + 2) / 5 + day - 1
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
    return era * 146_097 + doe - 719_468
}

func civilFromDays(_ days: Int) -> (Int, Int, Int) {
    let z = days + 719_468
    let era = (z >= 0 ? z : z - 146_096) / 146_097
    let doe = z - era * 146_097
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
    let mp = (5 * doy + 2) / 153
    let day = doy - (153 * mp + 2) / 5 + 1
    let month = mp < 10 ? mp + 3 : mp - 9
    return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
}

func daysInMonth(_ year: Int, _ month: Int) -> Int {
    switch month {
    case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
    case 4, 6, 9, 11: return 30
    default: return 31
    }
}

func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
    let q = a / b
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
}

// MARK: - Durations

/// `--by`: "3d", "12h", "90m", "45s", "2w", or several ("1d12h"); seconds, or nil.
public func parseBookmarkDuration(_ text: String) -> Int64? {
    var total: Int64 = 0, number: Int64? = nil, sawUnit = false
    for c in text {
        if let d = c.wholeNumberValue, c.isASCII {
            let (m, o1) = (number ?? 0).multipliedReportingOverflow(by: 10)
            let (n, o2) = m.addingReportingOverflow(Int64(d))
            guard !o1, !o2 else { return nil }
            number = n
            continue
        }
        guard let n = number else { return nil }
        let unit: Int64
        switch c {
        case "s": unit = 1
        case "m": unit = 60
        case "h": unit = 3600
        case "d": unit = 86_400
        case "w": unit = 604_800
        default: return nil
        }
        let (product, overflow) = n.multipliedReportingOverflow(by: unit)
        let (sum, overflowToo) = total.addingReportingOverflow(product)
        guard !overflow, !overflowToo else { return nil }
        total = sum
        number = nil
        sawUnit = true
    }
    guard sawUnit, number == nil, total > 0 else { return nil }
    return total
}

// MARK: - Values

/// What a bookmark value is, as far as moving it goes.
public enum BookmarkValueKind: Sendable, Equatable {
    case timestamp(BookmarkTimestamp)
    /// A JSON integer (`4242`).
    case integer
    /// A JSON number with a fraction or exponent.
    case float
    /// A string of digits (`"4242"`): kept a string.
    case integerText
    /// A PostgreSQL LSN as text (`"16/B374D848"`), as its 64-bit position.
    case lsn(UInt64)
    /// Any other string: can be replaced, not moved by an amount or compared.
    case string
    /// null, true/false, an object or an array.
    case other

    public init(_ value: JSONValue) {
        switch value {
        case let .number(n):
            self = n.isInteger ? .integer : .float
        case let .string(s):
            let text = s.text
            if let t = BookmarkTimestamp.parse(text) {
                self = .timestamp(t)
            } else if !text.isEmpty, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) {
                self = .integerText
            } else if let l = parseLSN(text) {
                self = .lsn(l)
            } else {
                self = .string
            }
        default:
            self = .other
        }
    }

    /// A word for tables and `--json`.
    public var name: String {
        switch self {
        case .timestamp: return "timestamp"
        case .integer: return "integer"
        case .float: return "number"
        case .integerText: return "integer-text"
        case .lsn: return "lsn"
        case .string: return "string"
        case .other: return "other"
        }
    }
}

/// `16/B374D848` (two hex numbers): the 64-bit position, or nil.
func parseLSN(_ text: String) -> UInt64? {
    let parts = text.split(separator: "/", omittingEmptySubsequences: false)
    guard parts.count == 2, (1...8).contains(parts[0].count), (1...8).contains(parts[1].count),
          let high = UInt64(parts[0], radix: 16), let low = UInt64(parts[1], radix: 16),
          parts.allSatisfy({ $0.allSatisfy(\.isHexDigit) }) else { return nil }
    return high << 32 | low
}

/// The age of a bookmark value that is a time, in seconds at `now` (epoch seconds).
public func bookmarkAge(_ value: JSONValue, now: Double) -> Double? {
    guard case let .timestamp(t) = BookmarkValueKind(value) else { return nil }
    return now - t.instant
}

/// Order of two bookmark values of the same kind: -1, 0, 1, or nil when they cannot be
/// ordered (different kinds, or strings that are not times, LSNs or numbers).
public func compareBookmarkValues(_ a: JSONValue, _ b: JSONValue) -> Int? {
    switch (BookmarkValueKind(a), BookmarkValueKind(b)) {
    case let (.timestamp(x), .timestamp(y)):
        return BookmarkTimestamp.compare(x, y)
    case (.integer, .integer), (.integer, .float), (.float, .integer), (.float, .float):
        guard case let .number(x) = a, case let .number(y) = b else { return nil }
        if x.isInteger && y.isInteger { return compareIntegerText(x.literal, y.literal) }
        let dx = x.doubleValue, dy = y.doubleValue
        guard !dx.isNaN, !dy.isNaN else { return nil }
        return dx < dy ? -1 : (dx > dy ? 1 : 0)
    case (.integerText, .integerText):
        guard case let .string(x) = a, case let .string(y) = b else { return nil }
        return compareIntegerText(x.text, y.text)
    case let (.lsn(x), .lsn(y)):
        return x < y ? -1 : (x > y ? 1 : 0)
    default:
        return nil
    }
}

/// Compares integer literals of any size exactly ("-0" is 0).
/// `a - b` for integer literals (`a` may be negative, `b` is positive), exactly: the
/// digits of the result without leading zeros, `-` when negative.
func decimalDifference(_ a: String, _ b: String) -> String {
    func digits(_ s: Substring) -> [UInt8] {
        var d = Array(s.utf8).map { $0 - 0x30 }
        while d.count > 1, d.first == 0 { d.removeFirst() }
        return d
    }
    func add(_ x: [UInt8], _ y: [UInt8]) -> [UInt8] {
        var result: [UInt8] = [], carry: UInt8 = 0
        var i = x.count - 1, j = y.count - 1
        while i >= 0 || j >= 0 || carry > 0 {
            let sum = (i >= 0 ? x[i] : 0) + (j >= 0 ? y[j] : 0) + carry
            result.append(sum % 10)
            carry = sum / 10
            i -= 1; j -= 1
        }
        return result.reversed()
    }
    /// x - y with x >= y.
    func subtract(_ x: [UInt8], _ y: [UInt8]) -> [UInt8] {
        var result: [UInt8] = [], borrow: Int = 0
        var i = x.count - 1, j = y.count - 1
        while i >= 0 {
            var d = Int(x[i]) - borrow - (j >= 0 ? Int(y[j]) : 0)
            borrow = d < 0 ? 1 : 0
            if d < 0 { d += 10 }
            result.append(UInt8(d))
            i -= 1; j -= 1
        }
        while result.count > 1, result.last == 0 { result.removeLast() }
        return result.reversed()
    }
    func text(_ d: [UInt8], negative: Bool) -> String {
        let body = String(decoding: d.map { $0 + 0x30 }, as: UTF8.self)
        return negative && body != "0" ? "-" + body : body
    }
    let negative = a.hasPrefix("-")
    let x = digits(negative ? a.dropFirst() : Substring(a)), y = digits(Substring(b))
    if negative { return text(add(x, y), negative: true) }
    // Without leading zeros, the longer is the larger; of equal length, digit by digit.
    let xIsSmaller = x.count != y.count ? x.count < y.count : x.lexicographicallyPrecedes(y)
    return xIsSmaller ? text(subtract(y, x), negative: true) : text(subtract(x, y), negative: false)
}

func compareIntegerText(_ a: String, _ b: String) -> Int {
    func split(_ s: String) -> (negative: Bool, digits: Substring) {
        var digits = s.hasPrefix("-") ? s.dropFirst() : Substring(s)
        while digits.count > 1, digits.first == "0" { digits = digits.dropFirst() }
        return (s.hasPrefix("-") && digits != "0", digits)
    }
    let x = split(a), y = split(b)
    if x.negative != y.negative { return x.negative ? -1 : 1 }
    var order: Int
    if x.digits.count != y.digits.count {
        order = x.digits.count < y.digits.count ? -1 : 1
    } else {
        order = x.digits == y.digits ? 0 : (x.digits < y.digits ? -1 : 1)
    }
    if x.negative { order = -order }
    return order
}

/// How to move a bookmark: to a value, back by an amount, or to a time.
public enum BookmarkMove: Sendable, Equatable {
    /// `rewind ID STREAM VALUE`: a value of the bookmark's kind (a time for a time).
    case value(String)
    /// `--by 3d` (a duration for a time, a number for a number).
    case by(String)
    /// `--to 2026-11-30T00:00:00Z`.
    case to(String)
}

/// Why a bookmark cannot be moved or found, worded for the user with the fix.
public struct BookmarkError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The stream or partition is not in the state.
        case notFound
        /// The value given does not fit the bookmark.
        case badInput
        /// The new value is ahead of the current one (and `--forward` was not given).
        case ahead
        /// The bookmark's shape is not one this tool edits.
        case unsupported
    }
    public var kind: Kind
    public var message: String
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }
    public var description: String { message }
}

/// The new value for a bookmark that holds `current`, of the same type and format.
public func movedBookmarkValue(_ current: JSONValue, _ move: BookmarkMove) throws(BookmarkError) -> JSONValue {
    let kind = BookmarkValueKind(current)
    switch kind {
    case let .timestamp(style):
        let moved: BookmarkTimestamp
        switch move {
        case let .value(text), let .to(text):
            guard let target = BookmarkTimestamp.parse(text) else {
                throw BookmarkError(.badInput, "'\(text)' is not a time; give one as ISO 8601, e.g. \(style.text) or 2026-11-30T00:00:00Z.")
            }
            moved = style.with(epochSeconds: target.epochSeconds, nanoseconds: target.nanoseconds)
        case let .by(text):
            guard let seconds = parseBookmarkDuration(text) else {
                throw BookmarkError(.badInput, "'\(text)' is not a duration; give a number and a unit: 45s, 30m, 12h, 3d, 2w (or several, 1d12h).")
            }
            let (epochSeconds, overflow) = style.epochSeconds.subtractingReportingOverflow(seconds)
            guard !overflow else {
                throw BookmarkError(.badInput, "\(current.meltanoText) minus \(text) is out of range; give a smaller amount, or the time itself with --to.")
            }
            moved = style.with(epochSeconds: epochSeconds, nanoseconds: style.nanoseconds)
        }
        // Taps read bookmarks with Python's datetime, which holds years 1 to 9999 only.
        guard (1...9999).contains(moved.year) else {
            throw BookmarkError(.badInput, "That would move the bookmark to the year \(moved.year), which taps cannot read (Python's datetime holds years 1 to 9999); give a smaller amount, or the time itself with --to.")
        }
        return .string(JSONString(moved.text))
    case .integer, .float, .integerText:
        let isText = kind == .integerText
        let currentText: String
        switch current {
        case let .number(n): currentText = n.literal
        case let .string(s): currentText = s.text
        default: currentText = ""
        }
        switch move {
        case let .value(text), let .to(text):
            // Text of digits keeps its form: leading zeros are part of it ("000100").
            if isText {
                guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
                    throw BookmarkError(.badInput, "'\(text)' is not digits like the bookmark's \(kind.name) \(current.meltanoText).")
                }
                return .string(JSONString(text))
            }
            guard let number = JSONNumber(literal: text), number.doubleValue.isFinite else {
                throw BookmarkError(.badInput, "'\(text)' is not a number; the bookmark holds the \(kind.name) \(current.meltanoText).")
            }
            if kind != .float && !number.isInteger {
                throw BookmarkError(.badInput, "'\(text)' is not an integer of the bookmark's kind; it holds the \(kind.name) \(current.meltanoText).")
            }
            return .number(number)
        case let .by(text):
            guard let amount = JSONNumber(literal: text), amount.doubleValue.isFinite, amount.doubleValue > 0 else {
                throw BookmarkError(.badInput, "'\(text)' is not an amount to subtract from the \(kind.name) \(current.meltanoText); give a positive number, e.g. --by 1000.")
            }
            if kind == .float {
                return .number(JSONNumber(JSONNumber(literal: currentText)!.doubleValue - amount.doubleValue))
            }
            guard amount.isInteger else {
                throw BookmarkError(.badInput, "'\(text)' cannot be subtracted from \(current.meltanoText) exactly; give the new value instead.")
            }
            // Exact at any size, as the integers themselves are.
            let difference = decimalDifference(currentText, amount.literal)
            guard isText else { return .number(JSONNumber(uncheckedLiteral: difference)) }
            guard !difference.hasPrefix("-") else {
                throw BookmarkError(.badInput, "\(current.meltanoText) minus \(text) is below zero, which text of digits cannot hold; give the new value instead.")
            }
            // As wide as it was, zero-padded: "000123" by 100 is "000023", and "1000" by 1
            // is "0999", which sorts before "1000" as text too (a tap comparing the key as
            // text would otherwise see "999" as later, and skip rows).
            let width = currentText.utf8.count
            return .string(JSONString(String(repeating: "0", count: max(0, width - difference.utf8.count)) + difference))
        }
    case .lsn:
        switch move {
        case let .value(text), let .to(text):
            guard parseLSN(text) != nil else {
                throw BookmarkError(.badInput, "'\(text)' is not a PostgreSQL LSN like \(current.stringValue?.text ?? "0/0").")
            }
            return .string(JSONString(text))
        case .by:
            throw BookmarkError(.badInput, "An LSN cannot be moved back by an amount; give the LSN to start from (e.g. from pg_replication_slots).")
        }
    case .string:
        switch move {
        case let .value(text):
            return .string(JSONString(text))
        case .by, .to:
            throw BookmarkError(.badInput, "The bookmark holds the text \(current.meltanoText), which is neither a time nor a number; give the new value itself.")
        }
    case .other:
        throw BookmarkError(.unsupported, "The bookmark holds \(current.meltanoText), which this tool does not move; change it with `meltano-state edit`.")
    }
}
