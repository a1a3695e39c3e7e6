// A parsed document that is not a tree of values: the text itself, kept once, and one
// 8-byte word per value (and per container's end) saying what it is and where it is in
// the text. Reading a 100 MB state to look at a few keys (`doctor`'s
// `currently_syncing`, its merge check) then costs about 1.6x the text, where the tree
// of `JSONValue`s is 2.6x on top of the text (a value is 24 bytes, an object member 40,
// a string over 15 bytes an allocation of its own).
//
// It is made by the walk every rewrite uses (`Parser.walk`): the same grammar, the same
// errors at the same offsets, the same Python limits. Like `RewritableDocument`, it
// stands only for a document in which no object repeats a key: Python's dict keeps such
// a key's first position with its last value, which only the tree models. Then `init`
// returns nil and the caller parses the tree.

/// A JSON document read once into a flat index of its values, without building them.
/// Values are named by `JSONTape.Node`; `value(_:)` builds the `JSONValue` of one when
/// it is needed (what `JSONParser.parse` gives for that part of the text).
public final class JSONTape: @unchecked Sendable {
    /// A value in the document (an index into the tape).
    public struct Node: Hashable, Sendable {
        let index: Int
    }

    public enum Kind: Sendable, Equatable {
        case null, bool, number, string, array, object
    }

    private let source: JSONTapeSource
    private let words: TapeWords

    /// The document's top value.
    public let root = Node(index: 0)

    /// Reads `text`. Throws what `JSONParser.parse(text)` throws; nil when the document
    /// parses but an object in it repeats a key, or it is beyond what a word can say (a
    /// string or number over 256 MiB, 2^29 values, a text over 4 GiB): parse its tree
    /// instead.
    public convenience init?(_ text: String) throws(JSONParseError) {
        var text = text
        text.makeContiguousUTF8()  // (native strings are already: then nothing is copied)
        try self.init(source: .text(text))
    }

    /// Reads UTF-8 `bytes`, as `init(_: String)`.
    public convenience init?(bytes: [UInt8]) throws(JSONParseError) {
        try self.init(source: .bytes(bytes))
    }

    private init?(source: JSONTapeSource) throws(JSONParseError) {
        let builder = TapeWords.Builder()
        let result: Result<Bool, JSONParseError> = source.withBytes { buffer in
            Result { () throws(JSONParseError) -> Bool in
                guard let base = buffer.baseAddress, buffer.count > 0 else {
                    throw JSONParser.emptyDocumentError
                }
                guard buffer.count <= Int(UInt32.max) else { return false }
                var parser = Parser(base: base, count: buffer.count)
                var seen = KeySeen()
                if try parser.walk(writer: nil, options: .compact, checkingKeys: true, seen: &seen, tape: builder) { return true }
                // A repeated key stopped the walk: the text after it may still hold an
                // error, which is `parse`'s answer.
                var rest = Parser(base: base, count: buffer.count)
                _ = try rest.walk(writer: nil, options: .compact, checkingKeys: false)
                return false
            }
        }
        guard try result.get(), !builder.overflowed else { return nil }
        self.source = source
        self.words = builder.finish()
    }

    // MARK: Reading

    public func kind(_ node: Node) -> Kind {
        switch TapeWords.tag(words[node.index]) {
        case TapeWords.nullTag: return .null
        case TapeWords.falseTag, TapeWords.trueTag: return .bool
        case TapeWords.numberTag: return .number
        case TapeWords.stringTag: return .string
        case TapeWords.arrayTag: return .array
        default: return .object
        }
    }

    /// Python's type name (`dict`, `list`, `str`, `int`, `float`, `bool`, `NoneType`).
    public func pythonTypeName(_ node: Node) -> String {
        withText(node) { JSONParser.pythonTypeName(ofValueText: UnsafeRawBufferPointer($0)) }
    }

    public func isNull(_ node: Node) -> Bool { kind(node) == .null }

    public func bool(_ node: Node) -> Bool? {
        switch TapeWords.tag(words[node.index]) {
        case TapeWords.trueTag: return true
        case TapeWords.falseTag: return false
        default: return nil
        }
    }

    /// The string's value (escapes decoded), or nil when the node is not a string.
    public func string(_ node: Node) -> JSONString? {
        guard TapeWords.tag(words[node.index]) == TapeWords.stringTag else { return nil }
        return decodedString(node.index)
    }

    /// The number's literal, or nil when the node is not a number.
    public func number(_ node: Node) -> JSONNumber? {
        guard TapeWords.tag(words[node.index]) == TapeWords.numberTag else { return nil }
        return JSONNumber(uncheckedLiteral: withText(node) { String(decoding: $0, as: UTF8.self) })
    }

    /// The number of members of an object or elements of an array; nil for a scalar.
    public func count(_ node: Node) -> Int? {
        let word = words[node.index], tag = TapeWords.tag(word)
        guard tag == TapeWords.objectTag || tag == TapeWords.arrayTag else { return nil }
        // Walked, not decoded: a member is a key's word and its value.
        let end = TapeWords.end(word) - 1
        var count = 0, k = node.index + 1
        while k < end {
            k = next(tag == TapeWords.objectTag ? k + 1 : k)
            count += 1
        }
        return count
    }

    /// Hands `body` each member of an object, in order, until it returns false. Returns
    /// false when the node is not an object.
    @discardableResult
    public func forEachMember(of node: Node, _ body: (_ key: JSONString, _ value: Node) throws -> Bool) rethrows -> Bool {
        guard TapeWords.tag(words[node.index]) == TapeWords.objectTag else { return false }
        let end = TapeWords.end(words[node.index]) - 1  // its closing word
        var k = node.index + 1
        while k < end {
            guard try body(decodedString(k), Node(index: k + 1)) else { break }
            k = next(k + 1)
        }
        return true
    }

    /// Hands `body` each element of an array, in order, until it returns false. Returns
    /// false when the node is not an array.
    @discardableResult
    public func forEachElement(of node: Node, _ body: (_ element: Node) throws -> Bool) rethrows -> Bool {
        guard TapeWords.tag(words[node.index]) == TapeWords.arrayTag else { return false }
        let end = TapeWords.end(words[node.index]) - 1
        var k = node.index + 1
        while k < end {
            guard try body(Node(index: k)) else { break }
            k = next(k)
        }
        return true
    }

    /// The elements of an array (nil when the node is not one).
    public func elements(of node: Node) -> [Node]? {
        var elements: [Node] = []
        return forEachElement(of: node) { elements.append($0); return true } ? elements : nil
    }

    /// The value of `key` in an object (nil when it has none, or is not an object). No
    /// key repeats in a tape, so the first match is Python's value.
    public subscript(_ node: Node, key key: JSONString) -> Node? {
        guard TapeWords.tag(words[node.index]) == TapeWords.objectTag else { return nil }
        let end = TapeWords.end(words[node.index]) - 1
        // A key without escapes is well-formed text: compared with the key's UTF-8 (made
        // once); a key with escapes is decoded and compared as a JSONString.
        let wanted = key.string.map { Array($0.utf8) }
        var k = node.index + 1
        while k < end {
            if keyEquals(k, key, wanted) { return Node(index: k + 1) }
            k = next(k + 1)
        }
        return nil
    }

    /// The `JSONValue` of a node: what `JSONParser.parse` gives for its text, built from
    /// the words (no parser is set up: `bookmarks` builds one per stream of 900 000).
    public func value(_ node: Node) -> JSONValue {
        // An explicit stack (a state may nest 1000 levels); no key repeats in a tape.
        var frames: [(object: JSONObject?, elements: [JSONValue], key: JSONString?)] = []
        var k = node.index
        while true {
            let word = words[k]
            var value: JSONValue
            switch TapeWords.tag(word) {
            case TapeWords.objectTag, TapeWords.arrayTag:
                let isObject = TapeWords.tag(word) == TapeWords.objectTag
                frames.append((isObject ? JSONObject() : nil, [], nil))
                k += 1
                if isObject && TapeWords.tag(words[k]) != TapeWords.closeTag {
                    frames[frames.count - 1].key = decodedString(k)
                    k += 1
                }
                continue
            case TapeWords.closeTag:
                let frame = frames.removeLast()
                value = frame.object.map(JSONValue.object) ?? .array(frame.elements)
            case TapeWords.nullTag: value = .null
            case TapeWords.trueTag: value = .bool(true)
            case TapeWords.falseTag: value = .bool(false)
            case TapeWords.numberTag:
                value = .number(JSONNumber(uncheckedLiteral: withText(Node(index: k)) { String(decoding: $0, as: UTF8.self) }))
            default:
                value = .string(decodedString(k))
            }
            k += 1
            guard !frames.isEmpty else { return value }
            let t = frames.count - 1
            if frames[t].object != nil {
                frames[t].object!.appendNew(frames[t].key!, value)
                // The next member's key, unless the object ends here.
                if TapeWords.tag(words[k]) != TapeWords.closeTag {
                    frames[t].key = decodedString(k)
                    k += 1
                }
            } else {
                frames[t].elements.append(value)
            }
        }
    }

    /// The node's value written as `options` says (what `value(node).text(options)` gives).
    public func text(_ node: Node, _ options: JSONWriteOptions) -> String {
        // (Checked when it was read: the walk completes.)
        withText(node) { text in JSONParser.written(text, options, capacity: text.count + text.count / 8) ?? "" }
    }

    /// The whole document's text, as it was read.
    public func withDocumentBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try source.withBytes { try body(UnsafeRawBufferPointer($0)) }
    }

    /// Writes the document as `options` says, in chunks of about `chunkSize` bytes (what
    /// `value(root).write(options, …)` writes). The first error the sink throws stops the
    /// writing and is rethrown.
    public func write(_ options: JSONWriteOptions, chunkSize: Int = 1 << 16,
                      to sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        // Checked when it was read: no key repeats, so nothing is looked at twice.
        try source.withBytes { try JSONParser.rewrite(UnsafeRawBufferPointer($0), options, chunkSize: chunkSize, checkingKeys: false, to: sink) }
    }

    // MARK: Editing the text

    /// Where a node's text is in the document, in bytes.
    public func byteRange(_ node: Node) -> Range<Int> { range(node) }

    /// The bytes that removing the member `key` of `object` takes out of the text: the
    /// member and the separator before it, or (the first of several) the one after it,
    /// so that the rest reads as the object without it; nil when it has no such member
    /// (or is not an object). In `json.dumps` form the rest is `json.dumps` of the object
    /// without the member.
    public func removalRange(ofMember key: JSONString, in object: Node) -> Range<Int>? {
        guard TapeWords.tag(words[object.index]) == TapeWords.objectTag else { return nil }
        let end = TapeWords.end(words[object.index]) - 1
        let wanted = key.string.map { Array($0.utf8) }
        var k = object.index + 1
        var previousValueEnd: Int? = nil
        while k < end {
            let valueEnd = range(Node(index: k + 1)).upperBound
            let following = next(k + 1)
            if keyEquals(k, key, wanted) {
                if let previousValueEnd { return previousValueEnd..<valueEnd }
                let keyStart = TapeWords.offset(words[k])
                return keyStart..<(following < end ? TapeWords.offset(words[following]) : valueEnd)
            }
            previousValueEnd = valueEnd
            k = following
        }
        return nil
    }

    /// How deeply containers nest (what `value(root).depth` says: 0 for a scalar).
    public var depth: Int {
        let count = next(0)
        var open = 0, deepest = 0
        for k in 0..<count {
            switch TapeWords.tag(words[k]) {
            case TapeWords.arrayTag, TapeWords.objectTag:
                open += 1
                deepest = max(deepest, open)
            case TapeWords.closeTag:
                open -= 1
            default:
                break
            }
        }
        return deepest
    }

    // MARK: Internals

    /// The word after the value at `k` (and after its members, for a container).
    @inline(__always)
    private func next(_ k: Int) -> Int {
        let word = words[k]
        let tag = TapeWords.tag(word)
        return tag == TapeWords.arrayTag || tag == TapeWords.objectTag ? TapeWords.end(word) : k + 1
    }

    /// The byte range of the value at a node.
    private func range(_ node: Node) -> Range<Int> {
        let word = words[node.index]
        let start = TapeWords.offset(word)
        switch TapeWords.tag(word) {
        case TapeWords.arrayTag, TapeWords.objectTag:
            let close = words[TapeWords.end(word) - 1]
            return start..<(TapeWords.offset(close) + 1)
        case TapeWords.nullTag, TapeWords.trueTag: return start..<(start + 4)
        case TapeWords.falseTag: return start..<(start + 5)
        default: return start..<(start + TapeWords.length(word))
        }
    }

    private func withText<R>(_ node: Node, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        let range = range(node)
        return source.withBytes { body(UnsafeBufferPointer(rebasing: $0[range])) }
    }

    /// The string (or key) at word `k`.
    private func decodedString(_ k: Int) -> JSONString {
        let word = words[k]
        let start = TapeWords.offset(word), length = TapeWords.length(word)
        return source.withBytes { buffer in
            if !TapeWords.isEscaped(word) {
                return JSONString(makeUTF8String(buffer.baseAddress! + start + 1, length - 2))
            }
            var parser = Parser(base: buffer.baseAddress!, count: buffer.count)
            parser.i = start
            // It was scanned when the tape was made.
            guard let scanned = try? parser.scanStringParts() else { return JSONString("") }
            return parser.string(scanned)
        }
    }

    /// Whether the key at word `k` is `key` (`wanted`: its UTF-8, nil when it is not
    /// well-formed text).
    private func keyEquals(_ k: Int, _ key: JSONString, _ wanted: [UInt8]?) -> Bool {
        let word = words[k]
        if TapeWords.isEscaped(word) { return decodedString(k) == key }
        guard let wanted else { return false }  // a key without escapes is well-formed text
        let start = TapeWords.offset(word), length = TapeWords.length(word) - 2
        return wanted.count == length && source.withBytes { buffer in
            wanted.withUnsafeBufferPointer { length == 0 || memcmpEqual(buffer.baseAddress! + start + 1, $0.baseAddress!, length) }
        }
    }
}

/// The text a tape reads: kept as it was handed over (a `String` from a row is not copied).
private enum JSONTapeSource {
    case text(String)
    case bytes([UInt8])

    func withBytes<R>(_ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        switch self {
        case let .bytes(bytes):
            return try bytes.withUnsafeBufferPointer(body)
        case let .text(text):
            if let result = try text.utf8.withContiguousStorageIfAvailable(body) { return result }
            var copy = text
            return try copy.withUTF8(body)
        }
    }
}

/// The tape's words, in chunks (no doubling copies of a 100 MB document's index).
///
/// A word: the tag in the top 3 bits; the byte offset of the value in the text in the
/// low 32. A string or number adds its length in bytes (quotes included) in bits 32–59
/// and, for a string, bit 60 when it has escapes. An array or object adds the index of
/// the word after its end in bits 32–60; its members follow it (a key's word, then the
/// value's), then a closing word holding the offset of its `]` or `}`.
final class TapeWords: @unchecked Sendable {
    static let nullTag: UInt64 = 0, falseTag: UInt64 = 1, trueTag: UInt64 = 2, numberTag: UInt64 = 3
    static let stringTag: UInt64 = 4, arrayTag: UInt64 = 5, objectTag: UInt64 = 6, closeTag: UInt64 = 7
    /// 4096 words (32 KiB) a chunk: a small document costs little, a big one's index is
    /// a few thousand chunks.
    static let chunkShift = 12
    static let chunkSize = 1 << chunkShift
    static let maximumLength = (1 << 28) - 1
    static let maximumIndex = (1 << 29) - 1

    @inline(__always) static func tag(_ word: UInt64) -> UInt64 { word >> 61 }
    @inline(__always) static func offset(_ word: UInt64) -> Int { Int(word & 0xFFFF_FFFF) }
    @inline(__always) static func length(_ word: UInt64) -> Int { Int((word >> 32) & 0x0FFF_FFFF) }
    @inline(__always) static func end(_ word: UInt64) -> Int { Int((word >> 32) & 0x1FFF_FFFF) }
    @inline(__always) static func isEscaped(_ word: UInt64) -> Bool { word & (1 << 60) != 0 }

    private let chunks: [UnsafeMutablePointer<UInt64>]

    private init(chunks: [UnsafeMutablePointer<UInt64>]) {
        self.chunks = chunks
    }

    deinit {
        for chunk in chunks { chunk.deallocate() }
    }

    @inline(__always)
    subscript(_ k: Int) -> UInt64 {
        chunks[k >> TapeWords.chunkShift][k & (TapeWords.chunkSize - 1)]
    }

    /// Collects the words as the walk meets the values.
    final class Builder {
        private var chunks: [UnsafeMutablePointer<UInt64>] = []
        private var count = 0
        /// A builder never handed to a walk: the walk's stand-in when it makes no tape
        /// (so its calls need no optional), never written to.
        nonisolated(unsafe) static let unused = Builder()

        /// The open containers' words.
        private var open: [Int] = []
        /// Set when the document is beyond what a word can say (then no tape is made).
        private(set) var overflowed = false
        private var finished = false

        deinit {
            if !finished { for chunk in chunks { chunk.deallocate() } }
        }

        @inline(__always)
        private func append(_ word: UInt64) {
            if count & (TapeWords.chunkSize - 1) == 0 {
                if count > TapeWords.maximumIndex { overflowed = true; return }
                chunks.append(.allocate(capacity: TapeWords.chunkSize))
            }
            chunks[count >> TapeWords.chunkShift][count & (TapeWords.chunkSize - 1)] = word
            count += 1
        }

        @inline(__always)
        func scalar(_ tag: UInt64, at offset: Int, length: Int = 0, escaped: Bool = false) {
            guard length <= TapeWords.maximumLength else { overflowed = true; return }
            append(tag << 61 | (escaped ? 1 << 60 : 0) | UInt64(length) << 32 | UInt64(offset))
        }

        /// A string or key scanned at `start` (its opening quote), ending before `end`.
        @inline(__always)
        func string(_ scanned: Parser.ScannedString, at start: Int, end: Int) {
            if case .escaped = scanned {
                scalar(TapeWords.stringTag, at: start, length: end - start, escaped: true)
            } else {
                scalar(TapeWords.stringTag, at: start, length: end - start)
            }
        }

        /// `null`, `true`, `false`, or a number spelled as a word (`NaN`, `Infinity`).
        func word(_ word: Parser.Word, at start: Int, end: Int) {
            switch word {
            case .null: scalar(TapeWords.nullTag, at: start)
            case .true: scalar(TapeWords.trueTag, at: start)
            case .false: scalar(TapeWords.falseTag, at: start)
            case .nan, .infinity, .minusInfinity: scalar(TapeWords.numberTag, at: start, length: end - start)
            }
        }

        func openContainer(isObject: Bool, at offset: Int) {
            open.append(count)
            append((isObject ? TapeWords.objectTag : TapeWords.arrayTag) << 61 | UInt64(offset))
        }

        func closeContainer(at offset: Int) {
            let k = open.removeLast()
            append(TapeWords.closeTag << 61 | UInt64(offset))
            // The index after the container must fit the end field (29 bits), or it
            // would spill into the tag.
            if count > TapeWords.maximumIndex { overflowed = true }
            guard !overflowed else { return }
            chunks[k >> TapeWords.chunkShift][k & (TapeWords.chunkSize - 1)] |= UInt64(count) << 32
        }

        func finish() -> TapeWords {
            finished = true
            return TapeWords(chunks: chunks)
        }
    }
}
