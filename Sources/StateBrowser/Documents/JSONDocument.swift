/// JSON text laid out as pretty-printed lines, built once off the UI thread and then
/// only read: the right pane renders just the lines on screen from it.
///
/// The document keeps the text's bytes and, per line, a few integers (kind, depth,
/// where the key and the value are in the bytes, the matching bracket, the parent);
/// a line's text is decoded only when it is drawn, so a 100 MB state costs its bytes
/// plus about 40 bytes a line, and drawing a screenful costs a screenful. Literals are
/// shown exactly as stored (`1e+16`, `100000.0`, `NaN` stay as written), strings
/// decoded and re-escaped only where showing them raw would be unsafe.
public final class JSONDocument: @unchecked Sendable {
    public enum LineKind: UInt8, Sendable {
        case scalar, openObject, openArray, closeObject, closeArray, emptyObject, emptyArray
    }

    public let bytes: [UInt8]
    private var kinds: [UInt8] = []
    private var depths: [Int32] = []
    private var keyStarts: [Int32] = []
    private var keyEnds: [Int32] = []
    private var valueStarts: [Int32] = []
    private var valueEnds: [Int32] = []
    /// open ↔ close line; -1 for other lines.
    private var partners: [Int32] = []
    /// The open line of the enclosing container; -1 at the top.
    private var parents: [Int32] = []
    /// Position among the parent's members; for open lines, the number of members.
    private var positions: [Int32] = []
    private var childCounts: [Int32] = []

    public var lineCount: Int { kinds.count }

    private static let commaBit: UInt8 = 0x80

    /// Lays out `text`; throws `JSONTextError` (with the byte offset) when it is not
    /// JSON. Accepts RFC 8259 plus `NaN`, `Infinity` and `-Infinity`, which Python's
    /// `json.dumps` writes and Meltano therefore stores.
    public convenience init(text: String) throws {
        try self.init(bytes: Array(text.utf8))
    }

    public init(bytes: [UInt8]) throws {
        self.bytes = bytes
        guard bytes.count < Int32.max else { throw JSONTextError(offset: 0, message: "text larger than 2 GiB") }
        let estimate = min(bytes.count / 6 + 16, 1 << 22)
        kinds.reserveCapacity(estimate)
        try bytes.withUnsafeBufferPointer { buffer in
            var parser = LayoutParser(bytes: buffer, document: self)
            try parser.parse()
        }
    }

    /// Checks that `text` is JSON (as `init` would accept it) without laying it out:
    /// nil, or where and why not. For views that show text raw.
    public static func validate(_ text: String) -> JSONTextError? {
        var text = text
        return text.withUTF8 { buffer in
            var parser = LayoutParser(bytes: buffer, document: nil)
            do { try parser.parse() } catch let error as JSONTextError { return error } catch { return JSONTextError(offset: 0, message: "\(error)") }
            return nil
        }
    }

    // MARK: - Building (used by LayoutParser only)

    fileprivate func appendLine(kind: LineKind, depth: Int, key: Range<Int>?, value: Range<Int>, parent: Int, position: Int) -> Int {
        kinds.append(kind.rawValue)
        depths.append(Int32(depth))
        keyStarts.append(Int32(key?.lowerBound ?? -1))
        keyEnds.append(Int32(key?.upperBound ?? -1))
        valueStarts.append(Int32(value.lowerBound))
        valueEnds.append(Int32(value.upperBound))
        partners.append(-1)
        parents.append(Int32(parent))
        positions.append(Int32(position))
        childCounts.append(0)
        return kinds.count - 1
    }

    fileprivate func close(open: Int, closeLine: Int, members: Int) {
        partners[open] = Int32(closeLine)
        partners[closeLine] = Int32(open)
        childCounts[open] = Int32(members)
        valueEnds[open] = valueEnds[closeLine]
    }

    fileprivate func markComma(line: Int) { kinds[line] |= Self.commaBit }

    // MARK: - Reading lines

    public func kind(_ line: Int) -> LineKind { LineKind(rawValue: kinds[line] & ~Self.commaBit)! }
    public func depth(_ line: Int) -> Int { Int(depths[line]) }
    public func hasComma(_ line: Int) -> Bool { kinds[line] & Self.commaBit != 0 }
    /// For an open line, its close line; for a close line, its open line.
    public func partner(_ line: Int) -> Int? { partners[line] >= 0 ? Int(partners[line]) : nil }
    public func parent(_ line: Int) -> Int? { parents[line] >= 0 ? Int(parents[line]) : nil }
    public func memberCount(_ line: Int) -> Int { Int(childCounts[line]) }
    public func isOpen(_ line: Int) -> Bool { [.openObject, .openArray].contains(kind(line)) }
    public func isClose(_ line: Int) -> Bool { [.closeObject, .closeArray].contains(kind(line)) }

    public func keyRange(_ line: Int) -> Range<Int>? {
        keyStarts[line] >= 0 ? Int(keyStarts[line])..<Int(keyEnds[line]) : nil
    }

    /// The byte range of a line's value: the literal of a scalar, the whole container
    /// (brackets included) of an open line.
    public func valueRange(_ line: Int) -> Range<Int> { Int(valueStarts[line])..<Int(valueEnds[line]) }

    /// The decoded key of a line (nil for array elements and close lines).
    public func key(_ line: Int) -> String? {
        keyRange(line).map { JSONStrings.decode(bytes, literal: $0) }
    }

    /// What `y` copies: a string's decoded text, a number or literal as stored, a
    /// container's JSON text as stored.
    public func valueText(_ line: Int) -> String {
        var l = line
        if isClose(l), let open = partner(l) { l = open }
        let range = valueRange(l)
        if kind(l) == .scalar, bytes[range.lowerBound] == UInt8(ascii: "\"") {
            return JSONStrings.decode(bytes, literal: range)
        }
        return String(decoding: bytes[range], as: UTF8.self)
    }

    /// The jq path of a line: `.singer_state.bookmarks["tap-x"][0]`.
    public func path(_ line: Int) -> String {
        var l = line
        if isClose(l), let open = partner(l) { l = open }
        var components: [String] = []
        var current: Int? = l
        while let c = current {
            if let parent = parent(c) {
                if let key = key(c) {
                    components.append(JSONStrings.pathComponent(key))
                } else {
                    components.append("[\(positions[c])]")
                }
                current = parent
            } else {
                current = nil
            }
        }
        let path = components.reversed().joined()
        return path.isEmpty ? "." : path
    }

    /// The open lines enclosing a line, innermost first.
    public func ancestors(_ line: Int) -> [Int] {
        var result: [Int] = []
        var current = parent(line)
        while let c = current {
            result.append(c)
            current = parent(c)
        }
        return result
    }

    /// The line's key and value as one text, for search (values cut at `limit` bytes).
    public func searchText(_ line: Int, limit: Int = 4096) -> String {
        var text = key(line) ?? ""
        if kind(line) == .scalar {
            var range = valueRange(line)
            if range.count > limit { range = range.lowerBound..<(range.lowerBound + limit) }
            if bytes[range.lowerBound] == UInt8(ascii: "\"") {
                text += "\u{0}" + JSONStrings.decode(bytes, literal: valueRange(line), limit: limit)
            } else {
                text += "\u{0}" + String(decoding: bytes[range], as: UTF8.self)
            }
        }
        return text
    }

    // MARK: - Drawing

    /// The runs of one line as the pane shows it: indentation, key, value or bracket,
    /// comma; a folded container as `{…}` with its member count. At most about
    /// `columns` cells are produced (long strings are decoded only that far).
    public func runs(_ line: Int, folded: Bool, columns: Int, theme: Theme) -> [Run] {
        var runs: [Run] = []
        let indent = min(depth(line) * 2, columns)
        if indent > 0 { runs.append(Run(String(repeating: " ", count: indent))) }
        var budget = columns - indent
        if let keyRange = keyRange(line) {
            let keyRuns = JSONStrings.displayRuns(bytes, literal: keyRange, budget: budget, style: theme.key, escapeStyle: theme.escape)
            budget -= keyRuns.reduce(0) { $0 + TextWidth.width(of: $1.text, escaping: .json) }
            runs += keyRuns
            runs.append(Run(": ", theme.punctuation))
            budget -= 2
        }
        let kind = self.kind(line)
        let range = valueRange(line)
        switch kind {
        case .scalar:
            let first = bytes[range.lowerBound]
            if first == UInt8(ascii: "\"") {
                runs += JSONStrings.displayRuns(bytes, literal: range, budget: max(budget, 0), style: theme.string, escapeStyle: theme.escape)
            } else {
                let shown = range.count > max(budget, 0) + 1 ? range.lowerBound..<(range.lowerBound + max(budget, 0) + 1) : range
                let literal = String(decoding: bytes[shown], as: UTF8.self)
                let style: Style
                switch first {
                case UInt8(ascii: "t"), UInt8(ascii: "f"): style = theme.bool
                case UInt8(ascii: "n"): style = theme.null
                case UInt8(ascii: "N"), UInt8(ascii: "I"): style = theme.nonFinite
                default: style = literal.hasPrefix("-I") ? theme.nonFinite : theme.number
                }
                runs.append(Run(literal, style))
            }
        case .openObject, .openArray:
            let (open, close) = kind == .openObject ? ("{", "}") : ("[", "]")
            if folded {
                runs.append(Run(open, theme.punctuation))
                runs.append(Run("…", theme.folded))
                runs.append(Run(close, theme.punctuation))
                if hasComma(partner(line)!) { runs.append(Run(",", theme.punctuation)) }
                let count = memberCount(line)
                let noun = kind == .openObject ? (count == 1 ? "key" : "keys") : (count == 1 ? "item" : "items")
                runs.append(Run("  \(count) \(noun)", theme.folded))
                return runs
            }
            runs.append(Run(open, theme.punctuation))
        case .closeObject: runs.append(Run("}", theme.punctuation))
        case .closeArray: runs.append(Run("]", theme.punctuation))
        case .emptyObject: runs.append(Run("{}", theme.punctuation))
        case .emptyArray: runs.append(Run("[]", theme.punctuation))
        }
        if hasComma(line) { runs.append(Run(",", theme.punctuation)) }
        return runs
    }

    /// The whole document as pretty text (indent 2), for tests and small documents.
    public func prettyText() -> String {
        let theme = Theme.monochrome
        return (0..<lineCount).map { line in
            runs(line, folded: false, columns: Int.max / 4, theme: theme).map(\.text).joined()
        }.joined(separator: "\n")
    }
}

/// Where a text stops being JSON: byte offset and what was expected there.
public struct JSONTextError: Error, Sendable, Equatable, CustomStringConvertible {
    public var offset: Int
    public var message: String

    public init(offset: Int, message: String) {
        self.offset = offset
        self.message = message
    }

    public var description: String { "\(message) at byte \(offset)" }

    /// 1-based line and column (in characters) of the offset within `bytes`.
    public func lineAndColumn(in bytes: [UInt8]) -> (line: Int, column: Int) {
        var line = 1
        var lineStart = 0
        let end = min(offset, bytes.count)
        for index in 0..<end where bytes[index] == UInt8(ascii: "\n") {
            line += 1
            lineStart = index + 1
        }
        let column = String(decoding: bytes[lineStart..<end], as: UTF8.self).count + 1
        return (line, column)
    }
}

// MARK: - The parser that lays a document out

/// An iterative (no recursion, so deep nesting cannot overflow the stack) validating
/// scanner that emits one line per value, bracket and close.
private struct LayoutParser {
    let bytes: UnsafeBufferPointer<UInt8>
    /// nil: only validate.
    let document: JSONDocument?
    var index = 0
    var lastLine = -1

    struct Frame {
        var open: Int
        var isObject: Bool
        var members: Int
    }

    init(bytes: UnsafeBufferPointer<UInt8>, document: JSONDocument?) {
        self.bytes = bytes
        self.document = document
    }

    mutating func parse() throws {
        var stack: [Frame] = []
        skipSpace()
        if index >= bytes.count { throw JSONTextError(offset: index, message: "empty text, expected a JSON value") }
        var key: Range<Int>? = nil
        var needValue = true
        while true {
            if needValue {
                needValue = false
                // A non-empty container was opened: its first member comes next.
                if let opened = try value(key: key, stack: &stack) {
                    key = opened.memberKey
                    needValue = true
                    continue
                }
            }
            skipSpace()
            guard var frame = stack.last else { break }
            guard index < bytes.count else {
                throw JSONTextError(offset: index, message: "unexpected end of text, expected \(frame.isObject ? "',' or '}'" : "',' or ']'")")
            }
            let byte = bytes[index]
            if byte == UInt8(ascii: ",") {
                document?.markComma(line: lastLine)
                index += 1
                skipSpace()
                key = frame.isObject ? try objectKey() : nil
                frame.members += 1
                stack[stack.count - 1] = frame
                needValue = true
            } else if byte == UInt8(ascii: frame.isObject ? "}" : "]") {
                let closeLine = line(kind: frame.isObject ? .closeObject : .closeArray, depth: stack.count - 1,
                                     key: nil, value: index..<(index + 1),
                                     parent: document?.parent(frame.open) ?? -1, position: 0)
                index += 1
                document?.close(open: frame.open, closeLine: closeLine, members: frame.members + 1)
                stack.removeLast()
            } else {
                throw JSONTextError(offset: index, message: "expected \(frame.isObject ? "',' or '}'" : "',' or ']'")")
            }
        }
        skipSpace()
        if index < bytes.count { throw JSONTextError(offset: index, message: "unexpected text after the JSON value") }
    }

    /// Reads `"key" :` and leaves the index at the value.
    mutating func objectKey() throws -> Range<Int> {
        guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else {
            throw JSONTextError(offset: index, message: "expected a key in double quotes")
        }
        let range = try string()
        skipSpace()
        guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else {
            throw JSONTextError(offset: index, message: "expected ':' after the key")
        }
        index += 1
        skipSpace()
        return range
    }

    @discardableResult
    mutating func line(kind: JSONDocument.LineKind, depth: Int, key: Range<Int>?, value: Range<Int>, parent: Int, position: Int) -> Int {
        lastLine += 1
        guard let document else { return lastLine }
        return document.appendLine(kind: kind, depth: depth, key: key, value: value, parent: parent, position: position)
    }

    struct Opened {
        var memberKey: Range<Int>?
    }

    /// One value at the index: a scalar line, an empty container, or an open line
    /// pushed on the stack (then the first member's key is read and returned).
    mutating func value(key: Range<Int>?, stack: inout [Frame]) throws -> Opened? {
        let depth = stack.count
        let parent = stack.last?.open ?? -1
        let position = stack.last?.members ?? 0
        guard index < bytes.count else { throw JSONTextError(offset: index, message: "unexpected end of text, expected a value") }
        let start = index
        let byte = bytes[index]
        switch byte {
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            let isObject = byte == UInt8(ascii: "{")
            index += 1
            skipSpace()
            if index < bytes.count, bytes[index] == UInt8(ascii: isObject ? "}" : "]") {
                index += 1
                line(kind: isObject ? .emptyObject : .emptyArray, depth: depth, key: key,
                     value: start..<index, parent: parent, position: position)
                return nil
            }
            let open = line(kind: isObject ? .openObject : .openArray, depth: depth, key: key,
                            value: start..<(start + 1), parent: parent, position: position)
            stack.append(Frame(open: open, isObject: isObject, members: 0))
            return Opened(memberKey: isObject ? try objectKey() : nil)
        case UInt8(ascii: "\""):
            let range = try string()
            line(kind: .scalar, depth: depth, key: key, value: range, parent: parent, position: position)
        default:
            let range = try literal()
            line(kind: .scalar, depth: depth, key: key, value: range, parent: parent, position: position)
        }
        return nil
    }

    /// A string literal, validated; returns its range including the quotes.
    mutating func string() throws -> Range<Int> {
        let start = index
        index += 1
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                index += 1
                return start..<index
            }
            if byte == UInt8(ascii: "\\") {
                guard index + 1 < bytes.count else { break }
                switch bytes[index + 1] {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                     UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    index += 2
                case UInt8(ascii: "u"):
                    guard index + 5 < bytes.count else { index = bytes.count; break }
                    for offset in 2...5 where !isHexDigit(bytes[index + offset]) {
                        throw JSONTextError(offset: index, message: "invalid \\u escape in a string")
                    }
                    index += 6
                default:
                    throw JSONTextError(offset: index, message: "invalid escape in a string")
                }
                continue
            }
            if byte < 0x20 {
                throw JSONTextError(offset: index, message: "control character (0x\(String(byte, radix: 16))) inside a string")
            }
            index += 1
        }
        throw JSONTextError(offset: start, message: "unterminated string")
    }

    func isHexDigit(_ byte: UInt8) -> Bool {
        (0x30...0x39).contains(byte) || (0x41...0x46).contains(byte) || (0x61...0x66).contains(byte)
    }

    /// A number or one of true, false, null, NaN, Infinity, -Infinity.
    mutating func literal() throws -> Range<Int> {
        let start = index
        for word in ["true", "false", "null", "NaN", "Infinity", "-Infinity"] where matches(word) {
            index += word.utf8.count
            return start..<index
        }
        func digits() -> Int {
            let from = index
            while index < bytes.count, (0x30...0x39).contains(bytes[index]) { index += 1 }
            return index - from
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard index < bytes.count, (0x30...0x39).contains(bytes[index]) else {
            throw JSONTextError(offset: start, message: "expected a value")
        }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
            if index < bytes.count, (0x30...0x39).contains(bytes[index]) {
                throw JSONTextError(offset: index, message: "leading zero in a number")
            }
        } else {
            _ = digits()
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            if digits() == 0 { throw JSONTextError(offset: index, message: "expected digits after '.'") }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            if digits() == 0 { throw JSONTextError(offset: index, message: "expected digits in the exponent") }
        }
        return start..<index
    }

    func matches(_ word: String) -> Bool {
        let utf8 = word.utf8
        guard index + utf8.count <= bytes.count else { return false }
        var i = index
        for byte in utf8 {
            if bytes[i] != byte { return false }
            i += 1
        }
        return true
    }

    mutating func skipSpace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }
}
