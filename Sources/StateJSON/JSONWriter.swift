// Writers: byte for byte what Python's `json.dumps` writes (Meltano's stored text and
// `meltano state get`), and an indented form for people. Iterative, so any depth is safe.

/// How to write a value.
public struct JSONWriteOptions: Sendable, Equatable {
    public enum Layout: Sendable, Equatable {
        /// `", "` and `": "` on one line (Python's default separators).
        case spaced
        /// `","` and `":"` on one line.
        case compact
        /// One item per line, indented by this many spaces per level; `","` and `": "`.
        case indented(Int)
    }

    public var layout: Layout
    /// Python's `ensure_ascii`: every character outside printable ASCII as `\uXXXX`.
    /// When false, only `"`, `\`, control characters (C0, DEL, C1) and lone surrogates
    /// are escaped; everything else is written as UTF-8.
    public var asciiOnly: Bool
    /// Write each number's literal exactly as it was parsed instead of Python's form.
    public var preserveNumberLiterals: Bool

    public init(layout: Layout, asciiOnly: Bool, preserveNumberLiterals: Bool = false) {
        self.layout = layout
        self.asciiOnly = asciiOnly
        self.preserveNumberLiterals = preserveNumberLiterals
    }

    /// `json.dumps(value)`: what Meltano stores.
    public static let meltano = JSONWriteOptions(layout: .spaced, asciiOnly: true)
    /// `json.dumps(value, separators=(",", ":"))`: what `meltano state get` prints.
    public static let compact = JSONWriteOptions(layout: .compact, asciiOnly: true)
    /// For people: indented, real Unicode characters, Python's numbers.
    public static func pretty(indent: Int = 2) -> JSONWriteOptions {
        JSONWriteOptions(layout: .indented(max(0, indent)), asciiOnly: false)
    }
}

extension JSONValue {
    /// Exactly Python's `json.dumps(value)` (separators `", "` and `": "`, ensure_ascii).
    public var meltanoText: String { text(.meltano) }

    /// Exactly Python's `json.dumps(value, separators=(",", ":"))`: what
    /// `meltano state get` prints (without its newline).
    public var compactText: String { text(.compact) }

    /// Indented text for people: real Unicode characters (control characters, DEL, C1
    /// controls and lone surrogates escaped), Python's number forms. With only ASCII
    /// printable text it equals `json.dumps(value, indent=indent, ensure_ascii=False)`.
    public func prettyText(indent: Int = 2) -> String { text(.pretty(indent: indent)) }

    public func text(_ options: JSONWriteOptions) -> String {
        let writer = ByteWriter(capacity: 256)
        writer.writeValue(self, options)
        return writer.takeString()
    }

    /// The UTF-8 bytes of `text(options)`.
    public func bytes(_ options: JSONWriteOptions) -> [UInt8] {
        let writer = ByteWriter(capacity: 256)
        writer.writeValue(self, options)
        return writer.takeBytes()
    }

    /// Appends the UTF-8 bytes of `text(options)`.
    public func write(_ options: JSONWriteOptions, into output: inout [UInt8]) {
        let writer = ByteWriter(capacity: 256)
        writer.writeValue(self, options)
        writer.withBytes { output.append(contentsOf: $0) }
    }

    /// Streams the UTF-8 bytes of `text(options)` to `sink` in chunks of about
    /// `chunkSize` bytes, without holding the whole text in memory. The first error
    /// the sink throws stops the writing and is rethrown.
    public func write(_ options: JSONWriteOptions, chunkSize: Int = 1 << 16,
                      to sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        try withoutActuallyEscaping(sink) { sink in
            var failure: (any Error)?
            let writer = ByteWriter(capacity: max(chunkSize, 64))
            writer.sink = { chunk in
                guard failure == nil else { return }
                do { try sink(chunk) } catch { failure = error }
            }
            writer.writeValue(self, options)
            writer.flush()
            writer.sink = nil
            if let failure { throw failure }
        }
    }
}

// MARK: - The byte writer

final class ByteWriter {
    var base: UnsafeMutablePointer<UInt8>
    var count = 0
    var capacity: Int
    /// When set, a full buffer is handed to the sink instead of growing.
    var sink: ((UnsafeRawBufferPointer) -> Void)?

    /// Stands in for "no writer" where a non-optional one is wanted and nothing is ever
    /// written to it (a walk that only checks, once per member of a 100 000-state file):
    /// never mutated, so one instance serves every thread.
    nonisolated(unsafe) static let unused = ByteWriter(capacity: 64)

    init(capacity: Int) {
        self.capacity = max(capacity, 64)
        base = .allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }

    @inline(__always)
    func ensure(_ k: Int) {
        if _slowPath(count + k > capacity) { makeRoom(k) }
    }

    @inline(never)
    func makeRoom(_ k: Int) {
        if sink != nil {
            flush()
            if k <= capacity { return }
        }
        var newCapacity = capacity * 2
        while newCapacity < count + k { newCapacity *= 2 }
        let newBase = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        newBase.update(from: base, count: count)
        base.deallocate()
        base = newBase
        capacity = newCapacity
    }

    func flush() {
        if let sink, count > 0 {
            sink(UnsafeRawBufferPointer(start: base, count: count))
            count = 0
        }
    }

    @inline(__always)
    func byte(_ b: UInt8) {
        ensure(1)
        base[count] = b
        count += 1
    }

    @inline(__always)
    func bytes(_ p: UnsafePointer<UInt8>, _ n: Int) {
        ensure(n)
        (base + count).update(from: p, count: n)
        count += n
    }

    @inline(__always)
    func ascii(_ s: StaticString) {
        bytes(s.utf8Start, s.utf8CodeUnitCount)
    }

    func spaces(_ n: Int) {
        guard n > 0 else { return }
        ensure(n)
        (base + count).update(repeating: 0x20, count: n)
        count += n
    }

    func takeString() -> String {
        if count == 0 { return "" }
        return String(unsafeUninitializedCapacity: count) { out in
            out.baseAddress!.update(from: base, count: count)
            return count
        }
    }

    func takeBytes() -> [UInt8] {
        Array(UnsafeBufferPointer(start: base, count: count))
    }

    func withBytes<R>(_ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        body(UnsafeBufferPointer(start: base, count: count))
    }
}

// MARK: - Values

private enum WriteFrame {
    case array([JSONValue])
    case object(JSONObject)
}

extension JSONWriteOptions.Layout {
    /// The line breaks and separators of this layout, as Python's `json.dumps` writes
    /// them: what both writers (the tree's and the rewriter's) put between items.
    struct Punctuation {
        let indent: Int
        let indented: Bool
        let compact: Bool

        /// Before an item or a closing bracket at `depth` (nothing unless indented).
        @inline(__always) func newline(_ w: ByteWriter, depth: Int) {
            if indented {
                w.byte(0x0A)
                w.spaces(indent * depth)
            }
        }

        @inline(__always) func itemSeparator(_ w: ByteWriter) {
            if compact || indented { w.byte(UInt8(ascii: ",")) } else { w.ascii(", ") }
        }

        @inline(__always) func keySeparator(_ w: ByteWriter) {
            if compact { w.byte(UInt8(ascii: ":")) } else { w.ascii(": ") }
        }
    }

    var punctuation: Punctuation {
        switch self {
        case .indented(let n): return Punctuation(indent: n, indented: true, compact: false)
        case .compact: return Punctuation(indent: 0, indented: false, compact: true)
        case .spaced: return Punctuation(indent: 0, indented: false, compact: false)
        }
    }
}

extension ByteWriter {
    func writeValue(_ root: JSONValue, _ options: JSONWriteOptions) {
        let punctuation = options.layout.punctuation
        let asciiOnly = options.asciiOnly
        let literalNumbers = options.preserveNumberLiterals

        @inline(__always) func newline(_ depth: Int) { punctuation.newline(self, depth: depth) }
        @inline(__always) func itemSeparator() { punctuation.itemSeparator(self) }
        @inline(__always) func keySeparator() { punctuation.keySeparator(self) }

        var frames: [WriteFrame] = []
        var positions: [Int] = []
        var value = root
        emit: while true {
            switch value {
            case .null:
                ascii("null")
            case .bool(let b):
                if b { ascii("true") } else { ascii("false") }
            case .number(let number):
                if literalNumbers { writeLiteral(number) } else { writePythonNumber(number) }
            case .string(let s):
                writeString(s, asciiOnly: asciiOnly)
            case .array(let a):
                if a.isEmpty {
                    ascii("[]")
                } else {
                    byte(UInt8(ascii: "["))
                    frames.append(.array(a))
                    positions.append(0)
                    newline(frames.count)
                    value = a[0]
                    continue emit
                }
            case .object(let o):
                if o.isEmpty {
                    ascii("{}")
                } else {
                    byte(UInt8(ascii: "{"))
                    frames.append(.object(o))
                    positions.append(0)
                    newline(frames.count)
                    writeString(o.entries[0].key, asciiOnly: asciiOnly)
                    keySeparator()
                    value = o.entries[0].value
                    continue emit
                }
            }
            // The value is written: move to the next one, closing finished containers.
            while let frame = frames.last {
                let next = positions[positions.count - 1] + 1
                switch frame {
                case .array(let a):
                    if next < a.count {
                        positions[positions.count - 1] = next
                        itemSeparator()
                        newline(frames.count)
                        value = a[next]
                        continue emit
                    }
                    frames.removeLast()
                    positions.removeLast()
                    newline(frames.count)
                    byte(UInt8(ascii: "]"))
                case .object(let o):
                    if next < o.entries.count {
                        positions[positions.count - 1] = next
                        itemSeparator()
                        newline(frames.count)
                        writeString(o.entries[next].key, asciiOnly: asciiOnly)
                        keySeparator()
                        value = o.entries[next].value
                        continue emit
                    }
                    frames.removeLast()
                    positions.removeLast()
                    newline(frames.count)
                    byte(UInt8(ascii: "}"))
                }
            }
            return
        }
    }

    // MARK: Strings

    static let hexDigits: StaticString = "0123456789abcdef"

    @inline(__always)
    func unicodeEscape(_ u: UInt32) {
        ensure(6)
        let hex = ByteWriter.hexDigits.utf8Start
        base[count] = 0x5C
        base[count + 1] = UInt8(ascii: "u")
        base[count + 2] = hex[Int((u >> 12) & 0xF)]
        base[count + 3] = hex[Int((u >> 8) & 0xF)]
        base[count + 4] = hex[Int((u >> 4) & 0xF)]
        base[count + 5] = hex[Int(u & 0xF)]
        count += 6
    }

    /// An ASCII character that needs escaping (`"`, `\`, below 0x20, DEL).
    @inline(__always)
    func asciiEscape(_ c: UInt8) {
        switch c {
        case 0x22: ascii("\\\"")
        case 0x5C: ascii("\\\\")
        case 0x0A: ascii("\\n")
        case 0x0D: ascii("\\r")
        case 0x09: ascii("\\t")
        case 0x08: ascii("\\b")
        case 0x0C: ascii("\\f")
        default: unicodeEscape(UInt32(c))
        }
    }

    func writeString(_ s: JSONString, asciiOnly: Bool) {
        if s.isEncoded {
            writeUTF16String(s.decodedUnits, asciiOnly: asciiOnly)
        } else {
            var text = s.storage
            text.withUTF8 { writeUTF8String($0, asciiOnly: asciiOnly) }
        }
    }

    func writeUTF8String(_ b: UnsafeBufferPointer<UInt8>, asciiOnly: Bool) {
        let n = b.count
        ensure(n + 2)
        byte(0x22)
        guard let p = b.baseAddress else { byte(0x22); return }
        var i = 0
        var run = 0
        while i < n {
            let c = p[i]
            // Printable ASCII other than '"' and '\' passes through.
            if c &- 0x20 < 0x5F && c != 0x22 && c != 0x5C {
                i += 1
                continue
            }
            if c >= 0x80 && !asciiOnly && !(c == 0xC2 && p[i + 1] < 0xA0) {
                i += 1  // UTF-8 passes through, except C1 controls (C2 80..C2 9F)
                continue
            }
            if run < i { bytes(p + run, i - run) }
            if c < 0x80 {
                asciiEscape(c)
                i += 1
            } else {
                var code: UInt32
                if c < 0xE0 {
                    code = UInt32(c & 0x1F) << 6 | UInt32(p[i + 1] & 0x3F)
                    i += 2
                } else if c < 0xF0 {
                    code = UInt32(c & 0x0F) << 12 | UInt32(p[i + 1] & 0x3F) << 6 | UInt32(p[i + 2] & 0x3F)
                    i += 3
                } else {
                    code = UInt32(c & 0x07) << 18 | UInt32(p[i + 1] & 0x3F) << 12
                        | UInt32(p[i + 2] & 0x3F) << 6 | UInt32(p[i + 3] & 0x3F)
                    i += 4
                }
                if code >= 0x10000 {
                    code -= 0x10000
                    unicodeEscape(0xD800 + (code >> 10))
                    unicodeEscape(0xDC00 + (code & 0x3FF))
                } else {
                    unicodeEscape(code)
                }
            }
            run = i
        }
        if run < n { bytes(p + run, n - run) }
        byte(0x22)
    }

    func writeUTF16String(_ units: [UInt16], asciiOnly: Bool) {
        byte(0x22)
        var i = 0
        while i < units.count {
            let u = units[i]
            i += 1
            if u < 0x80 {
                if u >= 0x20 && u < 0x7F && u != 0x22 && u != 0x5C { byte(UInt8(u)) } else { asciiEscape(UInt8(u)) }
                continue
            }
            if asciiOnly {
                unicodeEscape(UInt32(u))
                continue
            }
            var code = UInt32(u)
            if u & 0xFC00 == 0xD800, i < units.count, units[i] & 0xFC00 == 0xDC00 {
                code = 0x10000 + ((code - 0xD800) << 10) + (UInt32(units[i]) - 0xDC00)
                i += 1
            } else if u & 0xF800 == 0xD800 || u < 0xA0 {
                unicodeEscape(code)  // a lone surrogate, or a C1 control
                continue
            }
            appendUTF8(code)
        }
        byte(0x22)
    }

    func appendUTF8(_ code: UInt32) {
        ensure(4)
        switch code {
        case 0..<0x80:
            base[count] = UInt8(code); count += 1
        case 0x80..<0x800:
            base[count] = UInt8(0xC0 | (code >> 6))
            base[count + 1] = UInt8(0x80 | (code & 0x3F))
            count += 2
        case 0x800..<0x10000:
            base[count] = UInt8(0xE0 | (code >> 12))
            base[count + 1] = UInt8(0x80 | ((code >> 6) & 0x3F))
            base[count + 2] = UInt8(0x80 | (code & 0x3F))
            count += 3
        default:
            base[count] = UInt8(0xF0 | (code >> 18))
            base[count + 1] = UInt8(0x80 | ((code >> 12) & 0x3F))
            base[count + 2] = UInt8(0x80 | ((code >> 6) & 0x3F))
            base[count + 3] = UInt8(0x80 | (code & 0x3F))
            count += 4
        }
    }

    // MARK: Numbers

    func writeLiteral(_ number: JSONNumber) {
        var literal = number.literal
        literal.withUTF8 { bytes($0.baseAddress!, $0.count) }
    }

    /// Python's `json.dumps(json.loads(literal))`: an int exactly (`-0` is `0`); a float
    /// through an IEEE double in `repr` form; NaN and the infinities by name.
    func writePythonNumber(_ number: JSONNumber) {
        var literal = number.literal
        literal.withUTF8 { writePythonNumber(literal: $0) }
    }

    /// The same, from the literal's bytes (a valid number literal).
    func writePythonNumber(literal b: UnsafeBufferPointer<UInt8>) {
        switch JSONNumber.classify(b) {
        case .integer:
            if b.count == 2 && b[0] == UInt8(ascii: "-") && b[1] == UInt8(ascii: "0") {
                byte(UInt8(ascii: "0"))
            } else {
                bytes(b.baseAddress!, b.count)
            }
        case .nonFinite:
            bytes(b.baseAddress!, b.count)
        case .float:
            writePythonFloat(literal: b)
        }
    }

    func writePythonFloat(literal b: UnsafeBufferPointer<UInt8>) {
        // Up to 15 significant digits in the normal range, a decimal reads back as the
        // double whose shortest representation it is (DBL_DIG = 15): format it directly.
        let handled = withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 24) { digits -> Bool in
            guard let d = DecimalDigits(b, into: digits), d.count <= 15, d.decimalPoint >= -300, d.decimalPoint <= 300 else {
                return false
            }
            writeRepr(negative: d.negative, digits: UnsafeBufferPointer(rebasing: digits[0..<d.count]),
                      decimalPoint: d.decimalPoint)
            return true
        }
        if handled { return }
        let value = Double(String(decoding: b, as: UTF8.self)) ?? .nan
        writeRepr(value)
    }

    /// Python's `repr(float)`.
    func writeRepr(_ value: Double) {
        if value.isNaN { ascii("NaN"); return }
        if value.isInfinite { if value < 0 { ascii("-Infinity") } else { ascii("Infinity") }; return }
        if value == 0 { if value.sign == .minus { ascii("-0.0") } else { ascii("0.0") }; return }
        // Swift's description has the shortest round-trip digits too, in its own layout.
        var description = value.description
        description.withUTF8 { text in
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 32) { digits in
                let d = DecimalDigits(text, into: digits)!
                writeRepr(negative: d.negative, digits: UnsafeBufferPointer(rebasing: digits[0..<d.count]),
                          decimalPoint: d.decimalPoint)
            }
        }
    }

    /// Python's float_repr_style 'short' layout of 0.DIGITS × 10^decimalPoint.
    func writeRepr(negative: Bool, digits: UnsafeBufferPointer<UInt8>, decimalPoint: Int) {
        let n = digits.count
        if n == 0 {
            if negative { ascii("-0.0") } else { ascii("0.0") }
            return
        }
        ensure(n + 32)
        if negative { byte(UInt8(ascii: "-")) }
        let p = digits.baseAddress!
        if decimalPoint <= -4 || decimalPoint > 16 {
            byte(p[0])
            if n > 1 {
                byte(UInt8(ascii: "."))
                bytes(p + 1, n - 1)
            }
            let exponent = decimalPoint - 1
            byte(UInt8(ascii: "e"))
            byte(exponent < 0 ? UInt8(ascii: "-") : UInt8(ascii: "+"))
            let magnitude = abs(exponent)
            if magnitude < 10 { byte(UInt8(ascii: "0")) }
            var text = String(magnitude)
            text.withUTF8 { bytes($0.baseAddress!, $0.count) }
        } else if decimalPoint <= 0 {
            ascii("0.")
            spacesOfZeros(-decimalPoint)
            bytes(p, n)
        } else if decimalPoint < n {
            bytes(p, decimalPoint)
            byte(UInt8(ascii: "."))
            bytes(p + decimalPoint, n - decimalPoint)
        } else {
            bytes(p, n)
            spacesOfZeros(decimalPoint - n)
            ascii(".0")
        }
    }

    private func spacesOfZeros(_ k: Int) {
        guard k > 0 else { return }
        ensure(k)
        (base + count).update(repeating: UInt8(ascii: "0"), count: k)
        count += k
    }
}

/// The significant digits of a decimal literal (`-12.50e3`, `1e+16`, `0.001`) as
/// 0.DIGITS × 10^decimalPoint, without leading or trailing zeros.
struct DecimalDigits {
    var negative = false
    var count = 0
    var decimalPoint = 0

    /// nil when there are more significant digits than `out` holds.
    init?(_ b: UnsafeBufferPointer<UInt8>, into out: UnsafeMutableBufferPointer<UInt8>) {
        var i = 0
        let n = b.count
        if i < n && b[i] == UInt8(ascii: "-") { negative = true; i += 1 }
        var seenPoint = false
        var integerDigits = 0  // digits before the point, leading zeros included
        var leadingZeros = 0
        var stored = 0
        var trailingZeros = 0  // zeros after the last nonzero stored digit
        while i < n {
            let c = b[i]
            if c == UInt8(ascii: ".") {
                seenPoint = true
            } else if c &- 0x30 < 10 {
                if !seenPoint { integerDigits += 1 }
                if stored == 0 && c == UInt8(ascii: "0") {
                    leadingZeros += 1
                } else if c == UInt8(ascii: "0") {
                    trailingZeros += 1
                } else {
                    // Commit the zeros seen since the last nonzero digit.
                    if stored + trailingZeros + 1 > out.count { return nil }
                    for _ in 0..<trailingZeros { out[stored] = UInt8(ascii: "0"); stored += 1 }
                    trailingZeros = 0
                    out[stored] = c
                    stored += 1
                }
            } else {
                break  // 'e' or 'E'
            }
            i += 1
        }
        var exponent = 0
        if i < n && (b[i] == UInt8(ascii: "e") || b[i] == UInt8(ascii: "E")) {
            i += 1
            var negativeExponent = false
            if i < n && (b[i] == UInt8(ascii: "-") || b[i] == UInt8(ascii: "+")) {
                negativeExponent = b[i] == UInt8(ascii: "-")
                i += 1
            }
            while i < n && b[i] &- 0x30 < 10 {
                if exponent < 100_000_000 { exponent = exponent * 10 + Int(b[i] &- 0x30) }
                i += 1
            }
            if negativeExponent { exponent = -exponent }
        }
        count = stored
        decimalPoint = stored == 0 ? 0 : integerDigits - leadingZeros + exponent
    }
}

extension JSONNumber {
    /// Python's `repr(float(value))`, with `NaN`, `Infinity`, `-Infinity` as json.dumps writes them.
    public static func pythonRepr(_ value: Double) -> String {
        let writer = ByteWriter(capacity: 32)
        writer.writeRepr(value)
        return writer.takeString()
    }
}
