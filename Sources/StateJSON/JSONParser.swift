// A JSON parser that accepts what Python's `json.loads` accepts (RFC 8259, plus NaN,
// Infinity, -Infinity and lone surrogate escapes) and reports errors with Python's
// wording and positions. It is iterative (an explicit stack), so nesting never
// touches the call stack; nesting deeper than `JSONParser.maximumDepth` is an error.

/// Why a text is not JSON, and where.
public struct JSONParseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong, in Python's words where Python has them ("Expecting value",
    /// "Expecting ',' delimiter", "Unterminated string starting at", ...).
    public var message: String
    /// Position in bytes from the start of the UTF-8 text (0-based).
    public var offset: Int
    /// Line, 1-based (lines end at "\n", as Python counts them).
    public var line: Int
    /// Column, 1-based, in characters (Unicode scalars) as Python counts them.
    public var column: Int
    /// Position in characters from the start (Python's "char").
    public var characterOffset: Int
    /// The line around the position and, below it, a caret under the position.
    public var excerpt: String

    /// `message: line L column C (char N)`, exactly Python's `str(JSONDecodeError)`
    /// for the errors Python has.
    public var pythonDescription: String {
        "\(message): line \(line) column \(column) (char \(characterOffset))"
    }

    public var description: String {
        "\(pythonDescription)\n\(excerpt)"
    }

    public init(message: String, offset: Int, line: Int, column: Int, characterOffset: Int, excerpt: String) {
        self.message = message
        self.offset = offset
        self.line = line
        self.column = column
        self.characterOffset = characterOffset
        self.excerpt = excerpt
    }
}

public enum JSONParser {
    /// Arrays and objects nested deeper than this are an error. Python's `json.loads`
    /// fails near 1000 levels (its recursion limit), so nothing Meltano can read is
    /// refused; and every operation in this module stays well inside a 512 KiB stack.
    public static let maximumDepth = 1000

    /// The deepest state written (`JSONValue.depth`). Python's json, and so Meltano,
    /// recurses once per level and gives up near 1000 levels less its own call depth
    /// (a bare `json.loads` stops at 995; the add-on's reference model under 990): a row
    /// nested deeper would break Meltano's own `list`, `get` and `export` for everyone.
    public static let maximumStoredDepth = 500

    /// The longest integer read or written, in digits (its sign not counted). Python's
    /// `int` refuses a longer one ("Exceeds the limit (4300 digits) for integer string
    /// conversion", Python 3.11 and the patch releases of 3.8–3.10 since 2022), so its
    /// `json.loads` does, and Meltano's list, get, merge and export of such a row fail.
    /// The parsers refuse it as Python does; `StateStore` never writes a tree holding one.
    public static let maximumIntegerDigits = 4300

    /// Python's words for an integer over `maximumIntegerDigits` (its ValueError, which
    /// has no position; ours gets one), and what they mean here.
    static func tooLongAnIntegerMessage(digits: Int) -> String {
        "Exceeds the limit (\(maximumIntegerDigits) digits) for integer string conversion: value has \(digits) digits"
            + " (Python's json, and so Meltano, cannot read it)"
    }

    /// The digits of an integer literal (its sign not counted); 0 for any other number.
    static func integerDigits(_ literal: UnsafeBufferPointer<UInt8>) -> Int {
        guard JSONNumber.classify(literal) == .integer else { return 0 }
        return literal.first == UInt8(ascii: "-") ? literal.count - 1 : literal.count
    }

    /// Parses JSON text.
    public static func parse(_ text: String) throws(JSONParseError) -> JSONValue {
        var text = text
        let result: Result<JSONValue, JSONParseError> = text.withUTF8 { buffer in
            Result { () throws(JSONParseError) -> JSONValue in try parse(buffer) }
        }
        return try result.get()
    }

    /// Parses UTF-8 bytes (`[UInt8]`, `Data`, `ArraySlice`, ...). Invalid UTF-8 is an error.
    public static func parse<C: Collection>(_ bytes: C) throws(JSONParseError) -> JSONValue where C.Element == UInt8 {
        let contiguous: Result<JSONValue, JSONParseError>? = bytes.withContiguousStorageIfAvailable { buffer in
            Result { () throws(JSONParseError) -> JSONValue in try parse(buffer) }
        }
        if let contiguous { return try contiguous.get() }
        let array = Array(bytes)
        let result: Result<JSONValue, JSONParseError> = array.withUnsafeBufferPointer { buffer in
            Result { () throws(JSONParseError) -> JSONValue in try parse(buffer) }
        }
        return try result.get()
    }

    /// What every reader says of an empty text (Python: "Expecting value" at 0).
    static var emptyDocumentError: JSONParseError {
        makeError("Expecting value", at: 0, in: UnsafeBufferPointer(start: nil, count: 0))
    }

    /// Parses UTF-8 bytes in memory.
    public static func parse(_ buffer: UnsafeBufferPointer<UInt8>) throws(JSONParseError) -> JSONValue {
        guard let base = buffer.baseAddress, buffer.count > 0 else {
            throw emptyDocumentError
        }
        var parser = Parser(base: base, count: buffer.count)
        return try parser.parseDocument()
    }

    /// Parses UTF-8 bytes in memory.
    public static func parse(_ buffer: UnsafeRawBufferPointer) throws(JSONParseError) -> JSONValue {
        try parse(buffer.bindMemory(to: UInt8.self))
    }

    /// Nil when `bytes` are UTF-8, else the error `parse` gives for them (the first bad
    /// byte's offset, line and column). For text read as UTF-8 before it is parsed
    /// (input files, stdin), refused as Python refuses it: never repaired with U+FFFD.
    public static func invalidUTF8Error(_ bytes: UnsafeRawBufferPointer) -> JSONParseError? {
        let buffer = bytes.bindMemory(to: UInt8.self)
        guard buffer.count > 0, let bad = firstInvalidUTF8(buffer, from: 0) else { return nil }
        return makeError(invalidUTF8Message(buffer, at: bad), at: bad, in: buffer, checkEncoding: false)
    }

    /// Just the check: nil when `text` is JSON, else why not.
    public static func validate(_ text: String) -> JSONParseError? {
        do { _ = try parse(text) } catch { return error }
        return nil
    }

    // MARK: - Errors

    static func makeError(_ message: String, at offset: Int, in buffer: UnsafeBufferPointer<UInt8>,
                          checkEncoding: Bool = true) -> JSONParseError {
        // Python decodes the whole text before parsing it, so invalid UTF-8 anywhere wins.
        if checkEncoding, let bad = firstInvalidUTF8(buffer, from: 0) {
            return makeError(invalidUTF8Message(buffer, at: bad), at: bad, in: buffer, checkEncoding: false)
        }
        let n = buffer.count
        let offset = min(max(offset, 0), n)
        var line = 1
        var lineStart = 0
        var chars = 0
        var i = 0
        while i < offset {
            let b = buffer[i]
            if b == 0x0A { line += 1; lineStart = i + 1 }
            if b & 0xC0 != 0x80 { chars += 1 }
            i += 1
        }
        var column = 1
        i = lineStart
        while i < offset {
            if buffer[i] & 0xC0 != 0x80 { column += 1 }
            i += 1
        }
        var lineEnd = offset
        while lineEnd < n && buffer[lineEnd] != 0x0A { lineEnd += 1 }
        let excerpt = makeExcerpt(buffer, lineStart: lineStart, lineEnd: lineEnd, position: offset)
        return JSONParseError(message: message, offset: offset, line: line, column: column,
                              characterOffset: chars, excerpt: excerpt)
    }

    /// At most `radius` characters each side of the position, controls shown as spaces
    /// or `?`, and a caret line below.
    static func makeExcerpt(_ buffer: UnsafeBufferPointer<UInt8>, lineStart: Int, lineEnd: Int, position: Int) -> String {
        let radius = 40
        // Walk back `radius` characters.
        var start = position
        var count = 0
        while start > lineStart && count < radius {
            start -= 1
            while start > lineStart && buffer[start] & 0xC0 == 0x80 { start -= 1 }
            count += 1
        }
        var end = position
        count = 0
        while end < lineEnd && count < radius {
            end += 1
            while end < lineEnd && buffer[end] & 0xC0 == 0x80 { end += 1 }
            count += 1
        }
        var text = ""
        var caretColumn = 0
        if start > lineStart { text += "…"; caretColumn += 1 }
        let before = String(decoding: UnsafeBufferPointer(rebasing: buffer[start..<position]), as: UTF8.self)
        let after = String(decoding: UnsafeBufferPointer(rebasing: buffer[position..<end]), as: UTF8.self)
        func visible(_ s: String) -> String {
            String(String.UnicodeScalarView(s.unicodeScalars.map { c -> Unicode.Scalar in
                if c == "\t" { return " " }
                if c.value < 0x20 || c.value == 0x7F || (c.value >= 0x80 && c.value < 0xA0) { return "?" }
                return c
            }))
        }
        let shownBefore = visible(before)
        text += shownBefore
        caretColumn += shownBefore.unicodeScalars.count
        text += visible(after)
        if end < lineEnd { text += "…" }
        return text + "\n" + String(repeating: " ", count: caretColumn) + "^"
    }

    static func invalidUTF8Message(_ buffer: UnsafeBufferPointer<UInt8>, at offset: Int) -> String {
        if offset < buffer.count {
            let hex = String(buffer[offset], radix: 16, uppercase: true)
            return "Invalid UTF-8 (byte 0x\(hex.count == 1 ? "0" + hex : hex))"
        }
        return "Invalid UTF-8 (truncated sequence)"
    }

    /// The offset of the first byte that does not start a valid UTF-8 sequence
    /// (overlong forms, surrogates and values above U+10FFFF are invalid).
    static func firstInvalidUTF8(_ b: UnsafeBufferPointer<UInt8>, from start: Int, to endIndex: Int? = nil) -> Int? {
        let n = endIndex ?? b.count
        var i = start
        while i < n {
            // Fast path: 8 ASCII bytes at a time.
            if i + 8 <= n, UnsafeRawPointer(b.baseAddress! + i).loadUnaligned(as: UInt64.self) & 0x8080_8080_8080_8080 == 0 {
                i += 8
                continue
            }
            let c = b[i]
            if c < 0x80 { i += 1; continue }
            @inline(__always) func cont(_ k: Int) -> Bool { k < n && b[k] & 0xC0 == 0x80 }
            if c >= 0xC2 && c <= 0xDF {
                guard cont(i + 1) else { return i }
                i += 2
            } else if c >= 0xE0 && c <= 0xEF {
                guard i + 1 < n else { return i }
                let c1 = b[i + 1]
                let lo: UInt8 = c == 0xE0 ? 0xA0 : 0x80
                let hi: UInt8 = c == 0xED ? 0x9F : 0xBF
                guard c1 >= lo && c1 <= hi, cont(i + 2) else { return i }
                i += 3
            } else if c >= 0xF0 && c <= 0xF4 {
                guard i + 1 < n else { return i }
                let c1 = b[i + 1]
                let lo: UInt8 = c == 0xF0 ? 0x90 : 0x80
                let hi: UInt8 = c == 0xF4 ? 0x8F : 0xBF
                guard c1 >= lo && c1 <= hi, cont(i + 2), cont(i + 3) else { return i }
                i += 4
            } else {
                return i
            }
        }
        return nil
    }
}

// MARK: - The parser

/// A String from bytes already known to be valid UTF-8 (may be empty).
@inline(__always)
func makeUTF8String(_ base: UnsafePointer<UInt8>, _ length: Int) -> String {
    if length == 0 { return "" }
    return String(unsafeUninitializedCapacity: length) { out in
        out.baseAddress!.update(from: base, count: length)
        return length
    }
}

/// An open array or object. Its elements sit on the parser's shared stacks (so small
/// containers are built with exact capacity) until there are many of them: then the
/// frame takes them over and grows them itself ("direct"), so a huge container is not
/// held twice (on the stacks and in the result) at its close.
struct ParseFrame {
    var isObject: Bool
    var valueBase: Int
    var keyBase: Int
    var direct = false
    var object = JSONObject()
    var elements: [JSONValue] = []

    init(isObject: Bool, valueBase: Int, keyBase: Int) {
        self.isObject = isObject
        self.valueBase = valueBase
        self.keyBase = keyBase
    }
}

/// Interns object keys longer than the small-string size, so the thousands of
/// "replication_key_value" keys of a state document share one allocation. Allocated on
/// the first such key; a slot keeps the last key that hashed to it.
struct KeyCache {
    var slots: [(hash: UInt64, key: JSONString)?] = []

    @inline(__always)
    static func hash(_ p: UnsafePointer<UInt8>, _ n: Int) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for i in 0..<n { h = (h ^ UInt64(p[i])) &* 0x100_0000_01b3 }
        return h
    }

    mutating func lookup(_ p: UnsafePointer<UInt8>, _ n: Int, make: () -> JSONString) -> JSONString {
        if slots.isEmpty { slots = Array(repeating: nil, count: 256) }
        let h = KeyCache.hash(p, n)
        let slot = Int(truncatingIfNeeded: h >> 7) & (slots.count - 1)
        if let entry = slots[slot], entry.hash == h {
            let utf8 = entry.key.storage.utf8
            if utf8.count == n, utf8.withContiguousStorageIfAvailable({ memcmpEqual($0.baseAddress!, p, n) }) == true {
                return entry.key
            }
        }
        let key = make()
        slots[slot] = (h, key)
        return key
    }
}

struct Parser {
    let p: UnsafePointer<UInt8>
    let n: Int
    var i = 0
    var values: [JSONValue] = []
    var keys: [JSONString] = []
    var frames: [ParseFrame] = []
    var scratch: [UInt8] = []
    var keyCache = KeyCache()

    init(base: UnsafePointer<UInt8>, count: Int) {
        p = base
        n = count
    }

    var buffer: UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(start: p, count: n) }

    func error(_ message: String, at offset: Int) -> JSONParseError {
        JSONParser.makeError(message, at: offset, in: buffer)
    }

    @inline(__always)
    mutating func skipWhitespace() {
        while i < n {
            let b = p[i]
            if b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 { i += 1 } else { return }
        }
    }

    @inline(__always)
    func matches(_ word: StaticString, at k: Int) -> Bool {
        let len = word.utf8CodeUnitCount
        guard k + len <= n else { return false }
        return memcmpEqual(p + k, word.utf8Start, len)
    }

    /// The words JSON (and Python's `json`) reads as values.
    enum Word {
        case null, `true`, `false`, nan, infinity, minusInfinity
    }

    /// At a value starting with one of `ntfNI-`: the word there, with `i` after it; nil
    /// for a number (`-` not followed by `Infinity`), `i` unchanged; Python's error for
    /// anything else.
    @inline(__always)
    mutating func scanWord() throws(JSONParseError) -> Word? {
        let (word, text): (Word, StaticString)
        switch p[i] {
        case UInt8(ascii: "n"): (word, text) = (.null, "null")
        case UInt8(ascii: "t"): (word, text) = (.true, "true")
        case UInt8(ascii: "f"): (word, text) = (.false, "false")
        case UInt8(ascii: "N"): (word, text) = (.nan, "NaN")
        case UInt8(ascii: "I"): (word, text) = (.infinity, "Infinity")
        default:
            guard matches("-Infinity", at: i) else { return nil }
            i += 9
            return .minusInfinity
        }
        guard matches(text, at: i) else { throw error("Expecting value", at: i) }
        i += text.utf8CodeUnitCount
        return word
    }

    mutating func parseDocument() throws(JSONParseError) -> JSONValue {
        values.reserveCapacity(64)  // (a walk without a tree needs none of them)
        keys.reserveCapacity(64)
        frames.reserveCapacity(16)
        if n >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF {
            throw error("Unexpected UTF-8 BOM (decode using utf-8-sig)", at: 0)
        }
        skipWhitespace()
        var value: JSONValue
        parseValue: while true {
            // A value is expected at i (whitespace already skipped).
            guard i < n else { throw error("Expecting value", at: i) }
            switch p[i] {
            case UInt8(ascii: "\""):
                value = .string(try scanString(isKey: false))
            case UInt8(ascii: "{"):
                guard frames.count < JSONParser.maximumDepth else { throw depthError() }
                i += 1
                skipWhitespace()
                if i < n && p[i] == UInt8(ascii: "}") {
                    i += 1
                    value = .object(JSONObject())
                } else {
                    frames.append(ParseFrame(isObject: true, valueBase: values.count, keyBase: keys.count))
                    try scanKeyAndColon()
                    continue parseValue
                }
            case UInt8(ascii: "["):
                guard frames.count < JSONParser.maximumDepth else { throw depthError() }
                i += 1
                skipWhitespace()
                if i < n && p[i] == UInt8(ascii: "]") {
                    i += 1
                    value = .array([])
                } else {
                    frames.append(ParseFrame(isObject: false, valueBase: values.count, keyBase: keys.count))
                    continue parseValue
                }
            case UInt8(ascii: "n"), UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "N"), UInt8(ascii: "I"), UInt8(ascii: "-"):
                switch try scanWord() {
                case .null: value = .null
                case .true: value = .bool(true)
                case .false: value = .bool(false)
                case .nan: value = .number(JSONNumber(uncheckedLiteral: "NaN"))
                case .infinity: value = .number(JSONNumber(uncheckedLiteral: "Infinity"))
                case .minusInfinity: value = .number(JSONNumber(uncheckedLiteral: "-Infinity"))
                case nil: value = .number(try scanNumber())
                }
            default:
                value = .number(try scanNumber())
            }

            // A value is complete: attach it to the open container, closing as many as end here.
            while true {
                guard !frames.isEmpty else {
                    skipWhitespace()
                    if i != n { throw error("Extra data", at: i) }
                    return value
                }
                // Only plain fields are read from the frame: a copy of it would share (and
                // so copy on write) a direct container's storage.
                let t = frames.count - 1
                let isObject = frames[t].isObject
                if frames[t].direct {
                    if isObject {
                        frames[t].object.setParsed(keys.removeLast(), value)
                    } else {
                        frames[t].elements.append(value)
                    }
                } else {
                    values.append(value)
                    if values.count - frames[t].valueBase >= Parser.directThreshold { goDirect(t) }
                }
                skipWhitespace()
                if isObject {
                    if i < n && p[i] == UInt8(ascii: "}") {
                        i += 1
                        if frames[t].direct {
                            value = .object(frames[t].object)
                        } else {
                            value = .object(closeObject(valueBase: frames[t].valueBase, keyBase: frames[t].keyBase))
                        }
                        frames.removeLast()
                    } else if i < n && p[i] == UInt8(ascii: ",") {
                        i += 1
                        skipWhitespace()
                        try scanKeyAndColon()
                        continue parseValue
                    } else {
                        throw error("Expecting ',' delimiter", at: i)
                    }
                } else {
                    if i < n && p[i] == UInt8(ascii: "]") {
                        i += 1
                        if frames[t].direct {
                            value = .array(frames[t].elements)
                        } else {
                            value = .array(closeArray(valueBase: frames[t].valueBase))
                        }
                        frames.removeLast()
                    } else if i < n && p[i] == UInt8(ascii: ",") {
                        i += 1
                        skipWhitespace()
                        continue parseValue
                    } else {
                        throw error("Expecting ',' delimiter", at: i)
                    }
                }
            }
        }
    }

    func depthError() -> JSONParseError {
        error("Too deeply nested: more than \(JSONParser.maximumDepth) levels of arrays and objects", at: i)
    }

    /// At a key's opening quote (after whitespace): the key, whitespace, ':', whitespace.
    mutating func scanKeyAndColon() throws(JSONParseError) {
        guard i < n && p[i] == UInt8(ascii: "\"") else {
            throw error("Expecting property name enclosed in double quotes", at: i)
        }
        keys.append(try scanString(isKey: true))
        skipWhitespace()
        guard i < n && p[i] == UInt8(ascii: ":") else { throw error("Expecting ':' delimiter", at: i) }
        i += 1
        skipWhitespace()
    }

    /// Moves the open array's elements off the value stack.
    mutating func closeArray(valueBase base: Int) -> [JSONValue] {
        let count = values.count - base
        let result = [JSONValue](unsafeUninitializedCapacity: count) { out, initialized in
            values.withUnsafeMutableBufferPointer { stack in
                let src = stack.baseAddress! + base
                out.baseAddress!.moveInitialize(from: src, count: count)
                src.initialize(repeating: .null, count: count)  // trivial placeholders
            }
            initialized = count
        }
        values.removeLast(count)
        return result
    }

    /// Moves the open object's keys and values off the stacks; a repeated key keeps its
    /// first position and takes the last value (Python's dict).
    mutating func closeObject(valueBase: Int, keyBase: Int) -> JSONObject {
        var object = JSONObject()
        moveObjectEntries(valueBase: valueBase, keyBase: keyBase, into: &object)
        return object
    }

    mutating func moveObjectEntries(valueBase vb: Int, keyBase kb: Int, into object: inout JSONObject) {
        let count = values.count - vb
        object.entries.reserveCapacity(object.entries.count + count)
        keys.withUnsafeMutableBufferPointer { keyStack in
            values.withUnsafeMutableBufferPointer { valueStack in
                let kp = keyStack.baseAddress! + kb
                let vp = valueStack.baseAddress! + vb
                for j in 0..<count {
                    object.setParsed((kp + j).move(), (vp + j).move())
                }
                kp.initialize(repeating: JSONString(""), count: count)  // trivial placeholders
                vp.initialize(repeating: .null, count: count)
            }
        }
        keys.removeLast(count)
        values.removeLast(count)
    }

    static let directThreshold = 512

    /// The container at `t` takes its elements off the shared stacks.
    mutating func goDirect(_ t: Int) {
        let vb = frames[t].valueBase, kb = frames[t].keyBase
        frames[t].direct = true
        if frames[t].isObject {
            var object = JSONObject()
            moveObjectEntries(valueBase: vb, keyBase: kb, into: &object)
            frames[t].object = object
        } else {
            var elements = closeArray(valueBase: vb)
            elements.reserveCapacity(elements.count * 2)
            frames[t].elements = elements
        }
    }

    // MARK: Numbers

    /// Python's number grammar: the longest prefix matching
    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?`; nothing at all is "Expecting value".
    mutating func scanNumber() throws(JSONParseError) -> JSONNumber {
        let start = try scanNumberLiteral()
        let literal = String(decoding: UnsafeBufferPointer(start: p + start, count: i - start), as: UTF8.self)
        return JSONNumber(uncheckedLiteral: literal)
    }

    /// The number grammar above: `i` moves past the literal; returns where it starts.
    mutating func scanNumberLiteral() throws(JSONParseError) -> Int {
        let start = i
        @inline(__always) func isDigit(_ k: Int) -> Bool { k < n && p[k] &- 0x30 < 10 }
        if p[i] == UInt8(ascii: "-") {
            i += 1
        }
        guard i < n else { throw error("Expecting value", at: start) }
        let integerStart = i
        if p[i] == UInt8(ascii: "0") {
            i += 1
        } else if p[i] >= UInt8(ascii: "1") && p[i] <= UInt8(ascii: "9") {
            i += 1
            while isDigit(i) { i += 1 }
        } else {
            throw error("Expecting value", at: start)
        }
        let integerEnd = i
        if i + 1 < n && p[i] == UInt8(ascii: ".") && isDigit(i + 1) {
            i += 2
            while isDigit(i) { i += 1 }
        }
        if i + 1 < n && (p[i] == UInt8(ascii: "e") || p[i] == UInt8(ascii: "E")) {
            let eStart = i
            i += 1
            if i + 1 < n && (p[i] == UInt8(ascii: "-") || p[i] == UInt8(ascii: "+")) { i += 1 }
            let digitsStart = i
            while isDigit(i) { i += 1 }
            if i == digitsStart { i = eStart }
        }
        // A fraction or exponent makes it a float, which Python reads at any length.
        if i == integerEnd && integerEnd - integerStart > JSONParser.maximumIntegerDigits {
            throw error(JSONParser.tooLongAnIntegerMessage(digits: integerEnd - integerStart), at: start)
        }
        return start
    }

    // MARK: Strings

    /// At the opening quote: the string, with `i` after the closing quote.
    mutating func scanString(isKey: Bool) throws(JSONParseError) -> JSONString {
        let scanned = try scanStringParts()
        if isKey, case let .plain(start, length) = scanned, length > 15 {
            let base = p + start
            return keyCache.lookup(base, length) { JSONString(makeUTF8String(base, length)) }
        }
        return string(scanned)
    }

    /// A scanned string as a value.
    func string(_ scanned: ScannedString) -> JSONString {
        switch scanned {
        case let .plain(start, length): return JSONString(makeUTF8String(p + start, length))
        case let .escaped(string): return string
        }
    }

    enum ScannedString {
        /// No escapes: the string is the valid UTF-8 at `start..<start + length`.
        case plain(start: Int, length: Int)
        /// Decoded from escapes; `scratch` holds it as WTF-8.
        case escaped(JSONString)
    }

    /// At the opening quote: the string, with `i` after the closing quote, copied only
    /// when it has escapes.
    mutating func scanStringParts() throws(JSONParseError) -> ScannedString {
        let quote = i
        i += 1
        let start = i
        var high: UInt8 = 0
        while i < n {
            // 8 bytes at a time while none is '"', '\\' or a control character.
            while i + 8 <= n {
                let w = UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self)
                let ones: UInt64 = 0x0101_0101_0101_0101
                let highs: UInt64 = 0x8080_8080_8080_8080
                let q = w ^ (ones &* 0x22)
                let s = w ^ (ones &* 0x5C)
                // A byte is "interesting" if it is 0x22, 0x5C or < 0x20.
                let hasQuote = (q &- ones) & ~q & highs
                let hasSlash = (s &- ones) & ~s & highs
                let hasControl = (w &- ones &* 0x20) & ~w & highs
                if (hasQuote | hasSlash | hasControl) != 0 { break }
                high |= UInt8(truncatingIfNeeded: (w & highs) != 0 ? 0x80 : 0)
                i += 8
            }
            guard i < n else { break }
            let b = p[i]
            if b == UInt8(ascii: "\"") {
                let length = i - start
                i += 1
                if high & 0x80 != 0, let bad = JSONParser.firstInvalidUTF8(buffer, from: start, to: start + length) {
                    throw JSONParser.makeError(JSONParser.invalidUTF8Message(buffer, at: bad), at: bad, in: buffer,
                                               checkEncoding: false)
                }
                return .plain(start: start, length: length)
            }
            if b == UInt8(ascii: "\\") {
                return .escaped(try scanEscapedString(quote: quote, start: start, high: high))
            }
            if b < 0x20 {
                throw error("Invalid control character at", at: i)
            }
            high |= b
            i += 1
        }
        throw error("Unterminated string starting at", at: quote)
    }

    /// The slow path: the string has escapes. Decodes into `scratch` as WTF-8
    /// (UTF-8 that may hold lone surrogates); a lone surrogate makes a UTF-16 string.
    mutating func scanEscapedString(quote: Int, start: Int, high: UInt8) throws(JSONParseError) -> JSONString {
        scratch.removeAll(keepingCapacity: true)
        var loneSurrogate = false
        var runStart = start
        var runHigh = high  // what the fast scan saw of [start, i)

        func hex4(_ k: Int) -> UInt32? {
            var v: UInt32 = 0
            for j in k..<k + 4 {
                let c = p[j]
                let d: UInt8
                switch c {
                case 0x30...0x39: d = c - 0x30
                case 0x61...0x66: d = c - 0x61 + 10
                case 0x41...0x46: d = c - 0x41 + 10
                default: return nil
                }
                v = v << 4 | UInt32(d)
            }
            return v
        }

        while true {
            guard i < n else { throw error("Unterminated string starting at", at: quote) }
            let b = p[i]
            if b != UInt8(ascii: "\"") && b != UInt8(ascii: "\\") {
                if b < 0x20 { throw error("Invalid control character at", at: i) }
                runHigh |= b
                i += 1
                continue
            }
            // Flush the raw run [runStart, i).
            if runHigh & 0x80 != 0, let bad = JSONParser.firstInvalidUTF8(buffer, from: runStart, to: i) {
                throw JSONParser.makeError(JSONParser.invalidUTF8Message(buffer, at: bad), at: bad, in: buffer,
                                           checkEncoding: false)
            }
            scratch.append(contentsOf: UnsafeBufferPointer(start: p + runStart, count: i - runStart))
            runHigh = 0
            if b == UInt8(ascii: "\"") {
                i += 1
                break
            }
            // An escape: i at the backslash.
            let backslash = i
            i += 1
            guard i < n else { throw error("Unterminated string starting at", at: quote) }
            let c = p[i]
            if c != UInt8(ascii: "u") {
                let decoded: UInt8
                switch c {
                case UInt8(ascii: "\""): decoded = 0x22
                case UInt8(ascii: "\\"): decoded = 0x5C
                case UInt8(ascii: "/"): decoded = 0x2F
                case UInt8(ascii: "b"): decoded = 0x08
                case UInt8(ascii: "f"): decoded = 0x0C
                case UInt8(ascii: "n"): decoded = 0x0A
                case UInt8(ascii: "r"): decoded = 0x0D
                case UInt8(ascii: "t"): decoded = 0x09
                default: throw error("Invalid \\escape", at: backslash)
                }
                scratch.append(decoded)
                i += 1
            } else {
                let u = i
                let end = u + 5  // after the 4 hex digits
                // Python: `end >= len` (a \uXXXX must be followed by something).
                guard end < n, var code = hex4(u + 1) else { throw error("Invalid \\uXXXX escape", at: u) }
                i = end
                if code >= 0xD800 && code <= 0xDBFF && end + 6 < n
                    && p[end] == UInt8(ascii: "\\") && p[end + 1] == UInt8(ascii: "u") {
                    guard let low = hex4(end + 2) else { throw error("Invalid \\uXXXX escape", at: end + 1) }
                    if low >= 0xDC00 && low <= 0xDFFF {
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                        i = end + 6
                    }
                }
                if code >= 0xD800 && code <= 0xDFFF { loneSurrogate = true }
                appendWTF8(code)
            }
            runStart = i
        }

        if loneSurrogate {
            return JSONString(wtf8: scratch)
        }
        if scratch.isEmpty { return JSONString("") }
        return JSONString(scratch.withUnsafeBufferPointer { makeUTF8String($0.baseAddress!, $0.count) })
    }

    @inline(__always)
    mutating func appendWTF8(_ code: UInt32) {
        switch code {
        case 0..<0x80:
            scratch.append(UInt8(code))
        case 0x80..<0x800:
            scratch.append(UInt8(0xC0 | (code >> 6)))
            scratch.append(UInt8(0x80 | (code & 0x3F)))
        case 0x800..<0x10000:
            scratch.append(UInt8(0xE0 | (code >> 12)))
            scratch.append(UInt8(0x80 | ((code >> 6) & 0x3F)))
            scratch.append(UInt8(0x80 | (code & 0x3F)))
        default:
            scratch.append(UInt8(0xF0 | (code >> 18)))
            scratch.append(UInt8(0x80 | ((code >> 12) & 0x3F)))
            scratch.append(UInt8(0x80 | ((code >> 6) & 0x3F)))
            scratch.append(UInt8(0x80 | (code & 0x3F)))
        }
    }
}

extension JSONString {
    /// From WTF-8 (valid UTF-8 except that surrogates may be encoded on their own).
    init(wtf8 bytes: [UInt8]) {
        var units: [UInt16] = []
        units.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            var code: UInt32
            if b < 0x80 {
                code = UInt32(b); i += 1
            } else if b < 0xE0 {
                code = UInt32(b & 0x1F) << 6 | UInt32(bytes[i + 1] & 0x3F); i += 2
            } else if b < 0xF0 {
                code = UInt32(b & 0x0F) << 12 | UInt32(bytes[i + 1] & 0x3F) << 6 | UInt32(bytes[i + 2] & 0x3F); i += 3
            } else {
                code = UInt32(b & 0x07) << 18 | UInt32(bytes[i + 1] & 0x3F) << 12
                    | UInt32(bytes[i + 2] & 0x3F) << 6 | UInt32(bytes[i + 3] & 0x3F)
                i += 4
            }
            if code >= 0x10000 {
                code -= 0x10000
                units.append(UInt16(0xD800 + (code >> 10)))
                units.append(UInt16(0xDC00 + (code & 0x3FF)))
            } else {
                units.append(UInt16(code))
            }
        }
        self.init(utf16CodeUnits: units)
    }
}
