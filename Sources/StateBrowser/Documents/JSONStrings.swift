import StateJSON

/// Decoding JSON string literals straight from a document's bytes, only as far as
/// needed, and showing them safely. A literal is given by its opening quote; the text
/// has been validated, so the first unescaped quote after it ends it.
enum JSONStrings {
    /// The decoded text of the literal at `quote`, at most `limit` scalars of it. A
    /// lone surrogate escape decodes to U+FFFD.
    static func decode(_ bytes: UnsafeBufferPointer<UInt8>, quote: Int, limit: Int = Int.max) -> String {
        var scalars = String.UnicodeScalarView()
        var decoder = Decoder(bytes: bytes, quote: quote)
        var used = 0
        while let piece = decoder.next() {
            switch piece {
            case let .scalar(scalar): scalars.append(scalar)
            case let .loneSurrogate(value): _ = value; scalars.append("\u{FFFD}")
            }
            used += 1
            if used >= limit { break }
        }
        return String(scalars)
    }

    /// The UTF-16 code units of the literal at `quote`, lone surrogates kept (what
    /// Python's str holds), for exact comparison with a `JSONString`.
    static func codeUnits(_ bytes: UnsafeBufferPointer<UInt8>, quote: Int) -> [UInt16] {
        var units: [UInt16] = []
        var decoder = Decoder(bytes: bytes, quote: quote)
        while let piece = decoder.next() {
            switch piece {
            case let .scalar(scalar): units.append(contentsOf: UTF16.encode(scalar)!)
            case let .loneSurrogate(value): units.append(UInt16(value))
            }
        }
        return units
    }

    /// Runs that show a literal as JSON: in quotes, `"` and `\` escaped, and every
    /// scalar unsafe for a terminal as its JSON escape in `escapeStyle`. Decodes only
    /// enough for `budget` cells, then ends with `…`.
    static func displayRuns(_ bytes: UnsafeBufferPointer<UInt8>, quote: Int, budget: Int, style: Style, escapeStyle: Style) -> [Run] {
        var runs: [Run] = []
        var current = "\""
        var used = 1
        var decoder = Decoder(bytes: bytes, quote: quote)
        func flush() {
            if !current.isEmpty { runs.append(Run(current, style)) }
            current = ""
        }
        while let piece = decoder.next() {
            if used >= budget {
                current += "…"
                flush()
                return runs
            }
            switch piece {
            case let .scalar(scalar):
                if scalar == "\"" || scalar == "\\" {
                    current += "\\" + String(scalar)
                    used += 2
                } else if mustEscape(scalar) {
                    flush()
                    let escape = TextWidth.escape(scalar: scalar, mode: .json)
                    runs.append(Run(escape, escapeStyle))
                    used += escape.count
                } else {
                    current.unicodeScalars.append(scalar)
                    used += TextWidth.scalarWidth(scalar)
                }
            case let .loneSurrogate(value):
                flush()
                runs.append(Run("\\u" + TextWidth.hex(value, digits: 4), escapeStyle))
                used += 6
            }
        }
        current += "\""
        flush()
        return runs
    }

    /// Unsafe for the terminal, or invisible on its own (format characters other than
    /// the joiner that builds emoji sequences).
    static func mustEscape(_ scalar: Unicode.Scalar) -> Bool {
        if TextWidth.isUnsafe(scalar) { return true }
        if scalar.value < 0x300 { return scalar.value == 0xAD }
        if scalar.value == 0x200D { return false }
        return scalar.properties.generalCategory == .format
    }

    /// A key as a jq path component: `.name` when it is a plain identifier, else
    /// `["…"]` with JSON escapes.
    static func pathComponent(_ key: String) -> String {
        if JSONPathComponent.isPlainIdentifier(key) { return "." + key }
        var text = "[\""
        for scalar in key.unicodeScalars {
            switch scalar {
            case "\"": text += "\\\""
            case "\\": text += "\\\\"
            default:
                if mustEscape(scalar) { text += TextWidth.escape(scalar: scalar, mode: .json) } else { text.unicodeScalars.append(scalar) }
            }
        }
        return text + "\"]"
    }

    enum Piece {
        case scalar(Unicode.Scalar)
        case loneSurrogate(UInt32)
    }

    /// Walks a validated literal's bytes, yielding decoded scalars, up to its closing
    /// quote.
    struct Decoder {
        let bytes: UnsafeBufferPointer<UInt8>
        var index: Int
        let end: Int
        private var finished = false

        init(bytes: UnsafeBufferPointer<UInt8>, quote: Int) {
            self.bytes = bytes
            index = quote + 1
            end = bytes.count
        }

        mutating func next() -> Piece? {
            guard !finished, index < end else { return nil }
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                finished = true
                return nil
            }
            if byte == UInt8(ascii: "\\"), index + 1 < end {
                let escape = bytes[index + 1]
                index += 2
                switch escape {
                case UInt8(ascii: "b"): return .scalar("\u{8}")
                case UInt8(ascii: "f"): return .scalar("\u{C}")
                case UInt8(ascii: "n"): return .scalar("\n")
                case UInt8(ascii: "r"): return .scalar("\r")
                case UInt8(ascii: "t"): return .scalar("\t")
                case UInt8(ascii: "u"):
                    guard let high = hex4() else { return .scalar("\u{FFFD}") }
                    if (0xD800...0xDBFF).contains(high) {
                        if index + 1 < end, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") {
                            let saved = index
                            index += 2
                            if let low = hex4(), (0xDC00...0xDFFF).contains(low) {
                                let value = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
                                return .scalar(Unicode.Scalar(value)!)
                            }
                            index = saved
                        }
                        return .loneSurrogate(high)
                    }
                    if (0xDC00...0xDFFF).contains(high) { return .loneSurrogate(high) }
                    return .scalar(Unicode.Scalar(high)!)
                default: return .scalar(Unicode.Scalar(escape))
                }
            }
            // One UTF-8 sequence (the text came from a Swift String: valid UTF-8).
            let length: Int
            switch byte {
            case 0..<0x80: length = 1
            case 0xC0..<0xE0: length = 2
            case 0xE0..<0xF0: length = 3
            default: length = 4
            }
            var value: UInt32
            switch length {
            case 1: value = UInt32(byte)
            case 2: value = UInt32(byte & 0x1F)
            case 3: value = UInt32(byte & 0x0F)
            default: value = UInt32(byte & 0x07)
            }
            var i = 1
            while i < length, index + i < end {
                value = value << 6 | UInt32(bytes[index + i] & 0x3F)
                i += 1
            }
            index += length
            return .scalar(Unicode.Scalar(value) ?? "\u{FFFD}")
        }

        mutating func hex4() -> UInt32? {
            guard index + 4 <= end else { return nil }
            var value: UInt32 = 0
            for _ in 0..<4 {
                let byte = bytes[index]
                let digit: UInt32
                switch byte {
                case 0x30...0x39: digit = UInt32(byte - 0x30)
                case 0x41...0x46: digit = UInt32(byte - 0x41 + 10)
                case 0x61...0x66: digit = UInt32(byte - 0x61 + 10)
                default: return nil
                }
                value = value << 4 | digit
                index += 1
            }
            return value
        }
    }
}
