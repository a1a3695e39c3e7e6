import StateJSON
/// JSON text laid out as pretty-printed lines, built once off the UI thread and then
/// only read: the right pane renders just the lines on screen from it.
///
/// The document keeps the text itself (the string the store read: no copy is made)
/// and, per line, 13 bytes: its kind (with key and comma bits), its parent, where it
/// starts in the text and its matching bracket. The rest is found when asked: a
/// line's depth (its chain of parents: what folding walks, so finding the fold that
/// hides a line costs its depth, not the number of folds), where a key ends and its
/// value starts (a scan of the key), a line's position among its siblings (a walk back
/// over them, each container skipped whole; for paths), a container's member count
/// (stored for big containers, counted for small ones). A
/// line's text is decoded only when it is drawn, so a 100 MB state costs its text plus
/// about 13 bytes a line, and drawing a screenful costs a screenful. Literals are shown
/// exactly as stored (`1e+16`, `100000.0`, `NaN` stay as written), strings decoded and
/// re-escaped only where showing them raw would be unsafe.
public final class JSONDocument: @unchecked Sendable {
    public enum LineKind: UInt8, Sendable {
        case scalar, openObject, openArray, closeObject, closeArray, emptyObject, emptyArray
    }

    /// The JSON text as given.
    public let text: String
    /// The kind (low bits), `keyBit` and `commaBit` of each line.
    private let kinds: [UInt8]
    /// The open line of the enclosing container (for a close line: its open line's
    /// parent); -1 at the top. A line's depth is the length of this chain.
    private let parents: [Int32]
    /// The byte where a line starts: its key's opening quote, else its value or bracket.
    private let starts: [Int32]
    /// open ↔ close line; -1 for other lines.
    private let partners: [Int32]
    /// Member counts of containers with at least `countedAbove` members; smaller ones
    /// are counted when asked (at most that many steps).
    private let largeCounts: [Int32: Int32]
    fileprivate static let countedAbove = 32
    /// The deepest nesting of arrays and objects (`{"a": [1]}`: 2).
    public let nesting: Int

    public var lineCount: Int { kinds.count }

    /// Bytes the layout itself holds (the text aside), for tests and benchmarks.
    var layoutBytes: Int {
        kinds.count + 4 * (parents.count + starts.count + partners.count) + 8 * largeCounts.count
    }

    fileprivate static let commaBit: UInt8 = 0x80
    fileprivate static let keyBit: UInt8 = 0x40
    private static let kindMask: UInt8 = 0x0F

    /// Lays out `text`; throws `JSONTextError` (with the byte offset) when it is not
    /// JSON. Accepts RFC 8259 plus `NaN`, `Infinity` and `-Infinity`, which Python's
    /// `json.dumps` writes and Meltano therefore stores.
    ///
    /// One pass over the bytes in place: the parser fills its own arrays (no access to
    /// this object per line), which the document then keeps.
    public convenience init(text: String) throws {
        var text = text
        text.makeContiguousUTF8()  // a no-op for the store's strings
        let count = text.utf8.count
        guard count < Int32.max else { throw JSONTextError(offset: 0, message: "text larger than 2 GiB") }
        let parser: LayoutParser
        do {
            parser = try JSONDocument.withBytes(of: text) { buffer in
                var parser = LayoutParser(bytes: buffer, builds: true)
                try parser.parse()
                return parser
            }
        } catch let error as JSONTextError {
            throw JSONDocument.reported(error, text: text)
        }
        self.init(text: text, layout: parser)
    }

    /// `text` with the layout a parser made of exactly its bytes.
    init(text: String, layout parser: LayoutParser) {
        self.text = text
        kinds = parser.kinds
        parents = parser.parents
        starts = parser.starts
        partners = parser.partners
        largeCounts = parser.largeCounts
        nesting = parser.nesting
    }

    /// Where and why a text is not JSON, as the rest of the tool and Python say it:
    /// StateJSON's parser (the grammar every write goes through, with Python's messages
    /// and positions) is asked again. The layout parser only decides *that* the text
    /// fails (LayoutParserDifferentialTests checks they agree on that); it stopped at
    /// a different byte for some texts, which marked the wrong character.
    static func reported(_ layoutError: JSONTextError, text: String) -> JSONTextError {
        do throws(JSONParseError) {
            _ = try JSONParser.parse(text)
            return layoutError
        } catch {
            return JSONTextError(offset: error.offset, message: error.message)
        }
    }

    /// Checks that `text` is JSON (as `init` would accept it) without laying it out:
    /// nil, or where and why not. For views that show text raw.
    public static func validate(_ text: String) -> JSONTextError? {
        withBytes(of: text) { buffer in
            var parser = LayoutParser(bytes: buffer, builds: false)
            do { try parser.parse() } catch let error as JSONTextError { return reported(error, text: text) } catch { return JSONTextError(offset: 0, message: "\(error)") }
            return nil
        }
    }

    /// The text's UTF-8 bytes, in place.
    @inline(__always)
    func withBytes<R>(_ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        try JSONDocument.withBytes(of: text, body)
    }

    @inline(__always)
    static func withBytes<R>(of text: String, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        if let result = try text.utf8.withContiguousStorageIfAvailable(body) { return result }
        return try Array(text.utf8).withUnsafeBufferPointer(body)
    }

    // MARK: - Reading lines

    public func kind(_ line: Int) -> LineKind { LineKind(rawValue: kinds[line] & Self.kindMask)! }
    /// How deep a line is nested (0 at the top): its chain of parents, walked.
    public func depth(_ line: Int) -> Int { depth(line, atMost: Int.max) }

    /// The depth, counted no further than `limit` (the indentation a pane can show).
    private func depth(_ line: Int, atMost limit: Int) -> Int {
        var depth = 0
        var current = parents[line]
        while current >= 0, depth < limit {
            depth += 1
            current = parents[Int(current)]
        }
        return depth
    }
    public func hasComma(_ line: Int) -> Bool { kinds[line] & Self.commaBit != 0 }
    func hasKey(_ line: Int) -> Bool { kinds[line] & Self.keyBit != 0 }
    /// For an open line, its close line; for a close line, its open line.
    public func partner(_ line: Int) -> Int? { partners[line] >= 0 ? Int(partners[line]) : nil }
    public func isOpen(_ line: Int) -> Bool {
        let raw = kinds[line] & Self.kindMask
        return raw == LineKind.openObject.rawValue || raw == LineKind.openArray.rawValue
    }
    public func isClose(_ line: Int) -> Bool {
        let raw = kinds[line] & Self.kindMask
        return raw == LineKind.closeObject.rawValue || raw == LineKind.closeArray.rawValue
    }

    /// The open line of the enclosing container (nil at the top).
    public func parent(_ line: Int) -> Int? { parents[line] >= 0 ? Int(parents[line]) : nil }

    /// The enclosing open line and the line's position among its members, found by
    /// walking back over the siblings before it (a container skipped whole by its
    /// partner): as many steps as there are earlier siblings. (For paths only.)
    private func walkBack(_ line: Int) -> (parent: Int?, position: Int) {
        var current = line
        if isClose(current), let open = partner(current) { current = open }
        var position = 0
        var index = current - 1
        while index >= 0 {
            switch kind(index) {
            case .closeObject, .closeArray:
                index = Int(partners[index]) - 1
                position += 1
            case .openObject, .openArray:
                return (index, position)
            default:
                index -= 1
                position += 1
            }
        }
        return (nil, position)
    }

    /// How many members an open line's container has.
    public func memberCount(_ line: Int) -> Int {
        guard isOpen(line), let close = partner(line) else { return 0 }
        if let count = largeCounts[Int32(line)] { return Int(count) }
        var count = 0
        var index = line + 1
        while index < close {
            count += 1
            index = isOpen(index) ? Int(partners[index]) + 1 : index + 1
        }
        return count
    }

    public func keyRange(_ line: Int) -> Range<Int>? {
        guard hasKey(line) else { return nil }
        let start = Int(starts[line])
        return withBytes { start..<JSONScan.stringEnd($0, from: start) }
    }

    /// Where a line's value (or bracket) starts: after its key and colon.
    private func valueStart(_ line: Int, _ bytes: UnsafeBufferPointer<UInt8>) -> Int {
        let start = Int(starts[line])
        guard hasKey(line) else { return start }
        var index = JSONScan.skipSpace(bytes, from: JSONScan.stringEnd(bytes, from: start))
        index += 1  // the colon
        return JSONScan.skipSpace(bytes, from: index)
    }

    /// The byte range of a line's value: the literal of a scalar, the whole container
    /// (brackets included) of an open line.
    public func valueRange(_ line: Int) -> Range<Int> {
        withBytes { bytes in
            let start = valueStart(line, bytes)
            switch kind(line) {
            case .scalar:
                let end = bytes[start] == UInt8(ascii: "\"") ? JSONScan.stringEnd(bytes, from: start) : JSONScan.literalEnd(bytes, from: start)
                return start..<end
            case .openObject, .openArray:
                return start..<(Int(starts[Int(partners[line])]) + 1)
            case .emptyObject, .emptyArray:
                return start..<(JSONScan.skipSpace(bytes, from: start + 1) + 1)
            case .closeObject, .closeArray:
                return start..<(start + 1)
            }
        }
    }

    /// The decoded key of a line (nil for array elements and close lines).
    public func key(_ line: Int) -> String? {
        guard hasKey(line) else { return nil }
        return withBytes { JSONStrings.decode($0, quote: Int(starts[line])) }
    }

    /// What `y` copies: a string's decoded text, a number or literal as stored, a
    /// container's JSON text as stored.
    public func valueText(_ line: Int) -> String {
        var l = line
        if isClose(l), let open = partner(l) { l = open }
        let range = valueRange(l)
        return withBytes { bytes in
            if kind(l) == .scalar, bytes[range.lowerBound] == UInt8(ascii: "\"") {
                return JSONStrings.decode(bytes, quote: range.lowerBound)
            }
            return String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self)
        }
    }

    /// The jq path of a line: `.singer_state.bookmarks["tap-x"][0]`.
    public func path(_ line: Int) -> String {
        var l = line
        if isClose(l), let open = partner(l) { l = open }
        var components: [String] = []
        var current = l
        while true {
            let (parent, position) = walkBack(current)
            guard let parent else { break }
            if let key = key(current) {
                components.append(JSONStrings.pathComponent(key))
            } else {
                components.append("[\(position)]")
            }
            current = parent
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

    /// The line's key and value as one text, for search (values cut at `limit` bytes):
    /// decoded, and a string value also as written (`\u001b[31m`, as the pane shows an
    /// escape), so either form is found.
    public func searchText(_ line: Int, limit: Int = 4096) -> String {
        withBytes { bytes in
            var text = hasKey(line) ? JSONStrings.decode(bytes, quote: Int(starts[line]), limit: limit) : ""
            if kind(line) == .scalar {
                let start = valueStart(line, bytes)
                if bytes[start] == UInt8(ascii: "\"") {
                    let decoded = JSONStrings.decode(bytes, quote: start, limit: limit)
                    text += "\u{0}" + decoded
                    // Inside the quotes, at most `limit` bytes (a 100 MB string stays cheap).
                    let end = JSONScan.stringEnd(bytes, from: start, limit: limit) - 1
                    let written = String(decoding: UnsafeBufferPointer(rebasing: bytes[(start + 1)..<end]), as: UTF8.self)
                    if written.utf8.contains(UInt8(ascii: "\\")) { text += "\u{0}" + written }
                } else {
                    let end = JSONScan.literalEnd(bytes, from: start, limit: limit)
                    text += "\u{0}" + String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self)
                }
            }
            return text
        }
    }

    // MARK: - Drawing

    /// The runs of one line as the pane shows it: indentation, key, value or bracket,
    /// comma; a folded container as `{…}` with its member count. At most about
    /// `columns` cells are produced (long strings are decoded only that far).
    public func runs(_ line: Int, folded: Bool, columns: Int, theme: Theme) -> [Run] {
        withBytes { bytes in runs(line, bytes, folded: folded, columns: columns, theme: theme) }
    }

    private func runs(_ line: Int, _ bytes: UnsafeBufferPointer<UInt8>, folded: Bool, columns: Int, theme: Theme) -> [Run] {
        var runs: [Run] = []
        let indent = min(depth(line, atMost: columns / 2 + 1) * 2, columns)
        if indent > 0 { runs.append(Run(String(repeating: " ", count: indent))) }
        var budget = columns - indent
        if hasKey(line) {
            let keyRuns = JSONStrings.displayRuns(bytes, quote: Int(starts[line]), budget: budget, style: theme.key, escapeStyle: theme.escape)
            budget -= keyRuns.reduce(0) { $0 + TextWidth.width(of: $1.text, escaping: .json) }
            runs += keyRuns
            runs.append(Run(": ", theme.punctuation))
            budget -= 2
        }
        let kind = self.kind(line)
        switch kind {
        case .scalar:
            let start = valueStart(line, bytes)
            let first = bytes[start]
            if first == UInt8(ascii: "\"") {
                runs += JSONStrings.displayRuns(bytes, quote: start, budget: max(budget, 0), style: theme.string, escapeStyle: theme.escape)
            } else {
                let end = JSONScan.literalEnd(bytes, from: start, limit: max(budget, 0) + 1)
                let literal = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self)
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

/// Finding the ends of tokens in text the layout parser has validated.
enum JSONScan {
    /// The index after the closing quote of the string literal whose opening quote is
    /// at `from`.
    static func stringEnd(_ bytes: UnsafeBufferPointer<UInt8>, from: Int, limit: Int = Int.max) -> Int {
        var index = from + 1
        let stop = limit == Int.max ? bytes.count : min(bytes.count, from + 1 + limit)
        while index < stop {
            switch bytes[index] {
            case UInt8(ascii: "\""): return index + 1
            case UInt8(ascii: "\\"): index += 2
            default: index += 1
            }
        }
        // Unterminated: the end of the bytes, as before; cut at `limit`: as if the closing
        // quote followed the limit's last byte.
        return limit == Int.max ? bytes.count : min(index, stop) + 1
    }

    /// The end of a number or of true, false, null, NaN, Infinity, -Infinity; at most
    /// `limit` bytes from `from`.
    static func literalEnd(_ bytes: UnsafeBufferPointer<UInt8>, from: Int, limit: Int = Int.max) -> Int {
        let stop = from + min(limit, bytes.count - from)
        var index = from
        while index < stop {
            switch bytes[index] {
            case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."):
                index += 1
            default:
                return index
            }
        }
        return index
    }

    static func skipSpace(_ bytes: UnsafeBufferPointer<UInt8>, from: Int) -> Int {
        var index = from
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return index
            }
        }
        return index
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

    /// 1-based line and column (in Unicode scalars, as Python counts) of the offset
    /// within `bytes`.
    public func lineAndColumn(in bytes: [UInt8]) -> (line: Int, column: Int) {
        bytes.withUnsafeBufferPointer { lineAndColumn(in: $0) }
    }

    /// The same for a string, read in place (no copy of a big text).
    public func lineAndColumn(in text: String) -> (line: Int, column: Int) {
        JSONDocument.withBytes(of: text) { lineAndColumn(in: $0) }
    }

    func lineAndColumn(in bytes: UnsafeBufferPointer<UInt8>) -> (line: Int, column: Int) {
        var line = 1
        var column = 1
        let end = min(offset, bytes.count)
        for index in 0..<end {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\n") {
                line += 1
                column = 1
            } else if byte & 0xC0 != 0x80 {
                column += 1
            }
        }
        return (line, column)
    }
}

// MARK: - The parser that lays a document out

/// An iterative (no recursion, so deep nesting cannot overflow the stack) validating
/// scanner that emits one line per value, bracket and close into the arrays the
/// document keeps.
struct LayoutParser {
    let bytes: UnsafeBufferPointer<UInt8>
    /// false: only validate (no lines are kept).
    let builds: Bool
    /// Set when the text is still arriving (`ArrivingLayout`): `bytes` is its whole
    /// buffer, of which only `available` bytes may be read yet.
    let arriving: ArrivingBytes?
    /// The bytes known to be there; every read is checked against it (`has`).
    var available: Int
    var index = 0
    var lastLine = -1
    /// The deepest nesting of containers seen.
    var nesting = 0
    // The layout, as `JSONDocument` keeps it.
    var kinds: [UInt8] = []
    var parents: [Int32] = []
    var starts: [Int32] = []
    var partners: [Int32] = []
    var largeCounts: [Int32: Int32] = [:]

    struct Frame {
        var open: Int
        var isObject: Bool
        var members: Int
    }

    init(bytes: UnsafeBufferPointer<UInt8>, builds: Bool, arriving: ArrivingBytes? = nil, lookahead: Int = defaultLookahead) {
        self.bytes = bytes
        self.builds = builds
        self.arriving = arriving
        self.lookahead = max(lookahead, 1)
        available = arriving == nil ? bytes.count : 0
        if builds {
            // Reserved address space is not memory until a line is written there.
            let estimate = min(bytes.count / 8 + 16, 1 << 25)
            kinds.reserveCapacity(estimate)
            parents.reserveCapacity(estimate)
            starts.reserveCapacity(estimate)
            partners.reserveCapacity(estimate)
        }
    }

    /// Whether the text has a byte at `position`: one comparison in every loop. While
    /// the text arrives, `available` is what has come; `refill` keeps it ahead of the
    /// parser by `lookahead` bytes (see `ArrivingLayout` for what happens to a token
    /// longer than that).
    @inline(__always)
    func has(_ position: Int) -> Bool {
        position < available
    }

    /// Bytes kept available past the start of each value while the text arrives.
    static let defaultLookahead = 1 << 20
    let lookahead: Int

    /// Before each value: while the text arrives, waits until `lookahead` bytes past
    /// the index (or all of them) have come.
    @inline(__always)
    mutating func refill() {
        if available < bytes.count && index &+ lookahead > available { waitForMore(through: index &+ lookahead) }
    }

    mutating func waitForMore(through position: Int) {
        guard let arriving else { return }
        available = min(arriving.wait(beyond: min(position, bytes.count) - 1), bytes.count)
    }

    mutating func markComma(line: Int) {
        if builds { kinds[line] |= JSONDocument.commaBit }
    }

    mutating func close(open: Int, closeLine: Int, members: Int) {
        guard builds else { return }
        partners[open] = Int32(truncatingIfNeeded: closeLine)
        partners[closeLine] = Int32(truncatingIfNeeded: open)
        if members >= JSONDocument.countedAbove { largeCounts[Int32(truncatingIfNeeded: open)] = Int32(truncatingIfNeeded: members) }
    }

    mutating func parse() throws {
        var stack: [Frame] = []
        refill()
        skipSpace()
        if !has(index) { throw JSONTextError(offset: index, message: "empty text, expected a JSON value") }
        var key: Range<Int>? = nil
        var needValue = true
        while true {
            refill()
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
            guard has(index) else {
                throw JSONTextError(offset: index, message: "unexpected end of text, expected \(frame.isObject ? "',' or '}'" : "',' or ']'")")
            }
            let byte = bytes[index]
            if byte == UInt8(ascii: ",") {
                markComma(line: lastLine)
                index += 1
                skipSpace()
                key = frame.isObject ? try objectKey() : nil
                frame.members += 1
                stack[stack.count - 1] = frame
                needValue = true
            } else if byte == UInt8(ascii: frame.isObject ? "}" : "]") {
                let closeLine = line(kind: frame.isObject ? .closeObject : .closeArray,
                                     parent: stack.count >= 2 ? stack[stack.count - 2].open : -1,
                                     key: nil, start: index)
                index += 1
                close(open: frame.open, closeLine: closeLine, members: frame.members + 1)
                stack.removeLast()
            } else {
                throw JSONTextError(offset: index, message: "expected \(frame.isObject ? "',' or '}'" : "',' or ']'")")
            }
        }
        // The value ended: whatever follows must be space, to the very end.
        waitForMore(through: bytes.count)
        skipSpace()
        if has(index) { throw JSONTextError(offset: index, message: "unexpected text after the JSON value") }
    }

    /// Reads `"key" :` and leaves the index at the value.
    mutating func objectKey() throws -> Range<Int> {
        guard has(index), bytes[index] == UInt8(ascii: "\"") else {
            throw JSONTextError(offset: index, message: "expected a key in double quotes")
        }
        let range = try string()
        skipSpace()
        guard has(index), bytes[index] == UInt8(ascii: ":") else {
            throw JSONTextError(offset: index, message: "expected ':' after the key")
        }
        index += 1
        skipSpace()
        return range
    }

    @discardableResult
    mutating func line(kind: JSONDocument.LineKind, parent: Int, key: Range<Int>?, start: Int) -> Int {
        lastLine += 1
        guard builds else { return lastLine }
        kinds.append(kind.rawValue | (key != nil ? JSONDocument.keyBit : 0))
        parents.append(Int32(truncatingIfNeeded: parent))
        starts.append(Int32(truncatingIfNeeded: key?.lowerBound ?? start))
        partners.append(-1)
        return lastLine
    }

    struct Opened {
        var memberKey: Range<Int>?
    }

    /// One value at the index: a scalar line, an empty container, or an open line
    /// pushed on the stack (then the first member's key is read and returned).
    mutating func value(key: Range<Int>?, stack: inout [Frame]) throws -> Opened? {
        let depth = stack.count
        let parent = stack.last?.open ?? -1
        guard has(index) else { throw JSONTextError(offset: index, message: "unexpected end of text, expected a value") }
        let start = index
        let byte = bytes[index]
        switch byte {
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            let isObject = byte == UInt8(ascii: "{")
            index += 1
            skipSpace()
            if has(index), bytes[index] == UInt8(ascii: isObject ? "}" : "]") {
                index += 1
                line(kind: isObject ? .emptyObject : .emptyArray, parent: parent, key: key, start: start)
                nesting = max(nesting, depth + 1)
                return nil
            }
            let open = line(kind: isObject ? .openObject : .openArray, parent: parent, key: key, start: start)
            stack.append(Frame(open: open, isObject: isObject, members: 0))
            nesting = max(nesting, stack.count)
            return Opened(memberKey: isObject ? try objectKey() : nil)
        case UInt8(ascii: "\""):
            _ = try string()
            line(kind: .scalar, parent: parent, key: key, start: start)
        default:
            _ = try literal()
            line(kind: .scalar, parent: parent, key: key, start: start)
        }
        return nil
    }

    /// A string literal, validated; returns its range including the quotes.
    mutating func string() throws -> Range<Int> {
        let start = index
        index += 1
        while has(index) {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                index += 1
                return start..<index
            }
            if byte == UInt8(ascii: "\\") {
                guard has(index + 1) else { break }
                switch bytes[index + 1] {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                     UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    index += 2
                case UInt8(ascii: "u"):
                    guard has(index + 5) else { index = bytes.count; break }
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
        // A word, told by its first bytes (a number starts with a digit or '-').
        let word: StaticString?
        switch bytes[index] {
        case UInt8(ascii: "t"): word = "true"
        case UInt8(ascii: "f"): word = "false"
        case UInt8(ascii: "n"): word = "null"
        case UInt8(ascii: "N"): word = "NaN"
        case UInt8(ascii: "I"): word = "Infinity"
        case UInt8(ascii: "-"): word = has(index + 1) && bytes[index + 1] == UInt8(ascii: "I") ? "-Infinity" : nil
        default: word = nil
        }
        if let word, matches(word) {
            index += word.utf8CodeUnitCount
            return start..<index
        }
        func digits() -> Int {
            let from = index
            while has(index), (0x30...0x39).contains(bytes[index]) { index += 1 }
            return index - from
        }
        if has(index), bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard has(index), (0x30...0x39).contains(bytes[index]) else {
            throw JSONTextError(offset: start, message: "expected a value")
        }
        var integerDigits = 1
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
            if has(index), (0x30...0x39).contains(bytes[index]) {
                throw JSONTextError(offset: index, message: "leading zero in a number")
            }
        } else {
            integerDigits = digits()
        }
        var isInteger = true
        if has(index), bytes[index] == UInt8(ascii: ".") {
            index += 1
            isInteger = false
            if digits() == 0 { throw JSONTextError(offset: index, message: "expected digits after '.'") }
        }
        if has(index), bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            isInteger = false
            if has(index), bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            if digits() == 0 { throw JSONTextError(offset: index, message: "expected digits in the exponent") }
        }
        // Python's json (and so Meltano) cannot read it; `reported` words it.
        if isInteger && integerDigits > JSONParser.maximumIntegerDigits {
            throw JSONTextError(offset: start, message: "integer too long for Python")
        }
        return start..<index
    }

    mutating func matches(_ word: StaticString) -> Bool {
        let count = word.utf8CodeUnitCount
        guard has(index + count - 1) else { return false }
        let utf8 = word.utf8Start
        for offset in 0..<count where bytes[index + offset] != utf8[offset] { return false }
        return true
    }

    mutating func skipSpace() {
        while has(index) {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }
}
