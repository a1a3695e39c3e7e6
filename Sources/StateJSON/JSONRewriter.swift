// Rewriting a document without its tree: what `JSONParser.parse(bytes)` followed by a
// writer gives, straight from the bytes, for a 100 MB state that must not be held as a
// tree (about 4x its size) on its way to stdout.
//
// Same grammar and errors as the parser (it is the parser's scanning, walked without
// building values). One thing only the tree can do: an object that repeats a key keeps
// the key's first position with its last value (Python's dict). So a document is first
// checked (`isRewritable`): valid and no repeated key; anything else goes through the tree.

/// A document that can be written without its tree: valid JSON in which no object repeats
/// a key (checked once, when it is made). Writing it gives exactly what
/// `JSONParser.parse(bytes)` followed by a writer gives.
public struct RewritableDocument: Sendable {
    public let bytes: [UInt8]

    /// Nil when the parser would refuse `bytes` or an object in it repeats a key.
    public init?(_ bytes: [UInt8]) {
        guard bytes.withUnsafeBytes(JSONParser.isRewritable) else { return nil }
        self.bytes = bytes
    }

    /// Bytes made to be one (written by this module): not walked again.
    init(checked bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// Writes the document as `options` says, in chunks of about `chunkSize` bytes. The
    /// first error the sink throws stops the writing and is rethrown.
    public func write(_ options: JSONWriteOptions, chunkSize: Int = 1 << 16,
                      to sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        // The keys were checked when it was made.
        try bytes.withUnsafeBytes { try JSONParser.rewrite($0, options, chunkSize: chunkSize, checkingKeys: false, to: sink) }
    }

    /// The tree `JSONParser.parse` makes of it.
    public func parsed() throws(JSONParseError) -> JSONValue {
        try JSONParser.parse(bytes)
    }

    /// The document as `options` writes it (what `parsed().text(options)` gives), the
    /// keys of its top object in order (nil when it is not an object) and its nesting
    /// depth (`JSONValue.depth`'s measure), from one walk of
    /// the bytes, without the tree. Nil when the walk does not complete (never, for a
    /// document checked when it was made: but then nothing half-written is handed out).
    public func textAndTopKeys(_ options: JSONWriteOptions) -> (text: String, topKeys: [JSONString]?, depth: Int)? {
        bytes.withUnsafeBufferPointer { buffer -> (text: String, topKeys: [JSONString]?, depth: Int)? in
            guard let base = buffer.baseAddress else { return nil }
            var parser = Parser(base: base, count: buffer.count)
            parser.skipWhitespace()
            let isObject = parser.i < buffer.count && buffer[parser.i] == UInt8(ascii: "{")
            parser.i = 0
            let writer = ByteWriter(capacity: buffer.count + buffer.count / 8)
            var keys: [JSONString] = []
            var seen = KeySeen()
            guard (try? parser.walk(writer: writer, options: options, checkingKeys: false, seen: &seen, member: { key, _ in
                keys.append(key)
                return true
            })) == true else { return nil }
            writer.flush()
            return (writer.takeString(), isObject ? keys : nil, seen.deepest)
        }
    }
}

extension JSONParser {
    /// True when `parse` accepts `bytes`, found without building the tree (a list page's
    /// `?` marks: a row's texts are checked, not kept).
    public static func isValid(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let buffer = bytes.bindMemory(to: UInt8.self)
        guard let base = buffer.baseAddress, buffer.count > 0 else { return false }
        var parser = Parser(base: base, count: buffer.count)
        return (try? parser.walk(writer: nil, options: .compact, checkingKeys: false)) == true
    }

    /// True when `bytes` is a document `parse` accepts and no object in it repeats a key:
    /// then `rewrite` writes exactly what `parse(bytes)` and a writer would.
    public static func isRewritable(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let buffer = bytes.bindMemory(to: UInt8.self)
        guard let base = buffer.baseAddress, buffer.count > 0 else { return false }
        var parser = Parser(base: base, count: buffer.count)
        return (try? parser.walk(writer: nil, options: .compact, checkingKeys: true)) == true
    }

    /// Writes `parse(bytes)` as `options` says, in chunks of about `chunkSize` bytes,
    /// without building the value. A document that is not `isRewritable` stops with the
    /// parser's error, or `JSONRewriteError.repeatedKey`, part written (unless
    /// `checkingKeys` is false: then a repeated key is written twice; for documents
    /// already checked). The first error the sink throws stops the writing and is rethrown.
    public static func rewrite(_ bytes: UnsafeRawBufferPointer, _ options: JSONWriteOptions, chunkSize: Int = 1 << 16,
                               checkingKeys: Bool = true, to sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        let buffer = bytes.bindMemory(to: UInt8.self)
        guard let base = buffer.baseAddress, buffer.count > 0 else {
            throw emptyDocumentError
        }
        try withoutActuallyEscaping(sink) { sink in
            var failure: (any Error)?
            let writer = ByteWriter(capacity: max(chunkSize, 64))
            writer.sink = { chunk in
                guard failure == nil else { return }
                do { try sink(chunk) } catch { failure = error }
            }
            var parser = Parser(base: base, count: buffer.count)
            let complete = try parser.walk(writer: writer, options: options, checkingKeys: checkingKeys)
            writer.flush()
            writer.sink = nil
            if let failure { throw failure }
            if !complete { throw JSONRewriteError.repeatedKey }
        }
    }
}

/// What `JSONParser.rewritten` found.
public enum RewrittenText: Sendable {
    /// The text is written that way already.
    case same
    case text(String)
}

extension JSONParser {
    /// The text `rewrite(bytes, options)` writes, or `.same` when that is `bytes` itself
    /// (then nothing is allocated: a stored 100 MB state is usually in `json.dumps`
    /// form already); nil when `bytes` is not `isRewritable`.
    public static func rewritten(_ bytes: UnsafeRawBufferPointer, _ options: JSONWriteOptions) -> RewrittenText? {
        var offset = 0, same = true
        do {
            // One walk checks the text and compares what it writes with the text.
            try rewrite(bytes, options, checkingKeys: true) { chunk in
                guard same else { return }
                let end = offset + chunk.count
                same = end <= bytes.count && (chunk.isEmpty || memcmpEqual(chunk.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                                                           (bytes.baseAddress! + offset).assumingMemoryBound(to: UInt8.self), chunk.count))
                offset = end
            }
        } catch {
            return nil
        }
        if same && offset == bytes.count { return .same }
        let buffer = bytes.bindMemory(to: UInt8.self)
        return written(buffer, options, capacity: buffer.count + buffer.count / 8).map(RewrittenText.text)
    }

    /// A text already checked (its keys too) written as `options` says, into a `String`
    /// of about `capacity` bytes; nil when the walk does not complete (an empty text).
    static func written(_ text: UnsafeBufferPointer<UInt8>, _ options: JSONWriteOptions, capacity: Int) -> String? {
        guard let base = text.baseAddress, text.count > 0 else { return nil }
        var parser = Parser(base: base, count: text.count)
        let writer = ByteWriter(capacity: capacity)
        guard (try? parser.walk(writer: writer, options: options, checkingKeys: false)) == true else { return nil }
        writer.flush()
        return writer.takeString()
    }
}

extension JSONParser {
    /// `parse(text).prettyText(indent:)` of a text in `json.dumps` form in which no object
    /// repeats a key (`JSONValue.meltanoText`: what Meltano and this tool store), written
    /// from the text in one walk. Its numbers are in Python's form already, so they are
    /// copied as they are. Nil when the text is not JSON.
    public static func prettyText(ofMeltanoText bytes: UnsafeRawBufferPointer, indent: Int = 2) -> String? {
        let buffer = bytes.bindMemory(to: UInt8.self)
        var options = JSONWriteOptions.pretty(indent: indent)
        options.preserveNumberLiterals = true
        return written(buffer, options, capacity: buffer.count + buffer.count / 2)
    }
}

extension JSONParser {
    /// Hands `body` each member of the object `text` is, in order — its key, and the
    /// bytes of its value, checked against the grammar but not built — so a file of
    /// 100 000 states is read without a tree of it. A repeated key is handed out again
    /// (Python's dict keeps the first position and the last value: the caller decides).
    /// Text that is not JSON throws what `parse` throws, at the same offset; JSON that
    /// is not an object returns false, after `body` saw nothing.
    public static func forEachMember(in text: UnsafeRawBufferPointer,
                                     _ body: (_ key: JSONString, _ value: UnsafeRawBufferPointer) throws -> Void) throws -> Bool {
        let buffer = text.bindMemory(to: UInt8.self)
        guard let base = buffer.baseAddress, buffer.count > 0 else { return try isObjectAfterParsing(text) }
        var parser = Parser(base: base, count: buffer.count)
        var failure: (any Error)? = nil
        var seen = KeySeen()
        // One walk of the whole text, by the grammar every rewrite uses; it hands over
        // each member of the top object as its value ends.
        try withoutActuallyEscaping(body) { body in
            _ = try parser.walk(writer: nil, options: .compact, checkingKeys: false, seen: &seen) { key, value in
                do {
                    try body(key, UnsafeRawBufferPointer(rebasing: text[value]))
                    return true
                } catch {
                    failure = error
                    return false
                }
            }
        }
        if let failure { throw failure }
        parser.i = 0
        parser.skipWhitespace()
        return base[parser.i] == UInt8(ascii: "{")
    }

    /// Not an object (or not JSON): `parse`'s error, else false.
    private static func isObjectAfterParsing(_ text: UnsafeRawBufferPointer) throws(JSONParseError) -> Bool {
        if case .object = try parse(text) { return true }
        return false
    }
}

/// Rewrites many small documents one after the other (`export` of millions of states),
/// reusing its buffers: each is checked and written in one pass.
public struct JSONRewriter {
    private let writer = ByteWriter(capacity: 1 << 12)
    private var seen = KeySeen()
    public let options: JSONWriteOptions
    /// The nesting depth of the last text appended (`JSONValue.depth`'s measure).
    public var lastDepth: Int { seen.deepest }

    public init(_ options: JSONWriteOptions) {
        self.options = options
    }

    /// Appends what `JSONParser.parse(text)` and a writer give and returns true; or
    /// returns false, `out` unchanged, when the text is not `isRewritable` (then parse it
    /// and write the tree: same bytes, or the parser's error).
    public mutating func append(_ text: UnsafeRawBufferPointer, to out: inout [UInt8]) -> Bool {
        let buffer = text.bindMemory(to: UInt8.self)
        guard let base = buffer.baseAddress, buffer.count > 0 else { return false }
        writer.count = 0
        var parser = Parser(base: base, count: buffer.count)
        guard (try? parser.walk(writer: writer, options: options, checkingKeys: true, seen: &seen)) == true else { return false }
        writer.withBytes { out.append(contentsOf: $0) }
        return true
    }
}

extension JSONRewriter {
    /// Appends `JSONValue.string(JSONString(String(decoding: utf8, as: UTF8.self)))`
    /// written `.compact`: printable ASCII without `"` or `\\` (nearly every state ID)
    /// is copied between quotes.
    public static func appendCompactString(_ utf8: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        for c in utf8 where c < 0x20 || c >= 0x7F || c == 0x22 || c == 0x5C {
            JSONValue.string(JSONString(String(decoding: utf8, as: UTF8.self))).write(.compact, into: &out)
            return
        }
        out.append(0x22)
        out.append(contentsOf: utf8)
        out.append(0x22)
    }
}

public enum JSONRewriteError: Error, Sendable {
    /// An object repeats a key: only the parsed tree writes that as Python does.
    case repeatedKey
}

/// The key hashes of the open objects, to find a repeated key. Small objects keep theirs
/// on one shared stack (searched linearly); an object with many keys gets a set.
struct KeySeen {
    struct Frame {
        var isObject: Bool
        var base: Int
        var many: Set<UInt64>? = nil
    }

    var frames: [Frame] = []
    var small: [UInt64] = []
    /// The deepest nesting the last walk met (`JSONValue.depth`'s measure: `[]` is 1).
    var deepest = 0
    static let smallLimit = 24

    mutating func open(isObject: Bool) {
        frames.append(Frame(isObject: isObject, base: small.count))
    }

    mutating func close() {
        let frame = frames.removeLast()
        if frame.many == nil { small.removeLast(small.count - frame.base) }
    }

    /// Adds a key to the innermost object; false when it was there already.
    mutating func insert(_ hash: UInt64) -> Bool {
        let t = frames.count - 1
        if frames[t].many != nil {
            return frames[t].many!.insert(hash).inserted
        }
        let base = frames[t].base
        var k = base
        while k < small.count {
            if small[k] == hash { return false }
            k += 1
        }
        if small.count - base < KeySeen.smallLimit {
            small.append(hash)
        } else {
            var many = Set<UInt64>(small[base...])
            many.reserveCapacity(KeySeen.smallLimit * 4)
            many.insert(hash)
            small.removeLast(small.count - base)
            frames[t].many = many
        }
        return true
    }
}

extension Parser {
    /// Walks the document as `parseDocument` does (the same grammar, the same errors),
    /// writing it as `options` says when there is a writer. Returns false, as soon as it
    /// sees one, when an object repeats a key (by a 64-bit hash of the decoded key: a
    /// collision only sends a document the tree's way).
    mutating func walk(writer w: ByteWriter?, options: JSONWriteOptions, checkingKeys: Bool) throws(JSONParseError) -> Bool {
        var seen = KeySeen()
        return try walk(writer: w, options: options, checkingKeys: checkingKeys, seen: &seen)
    }

    /// The same, with the key sets' storage of the caller (reused from one document to
    /// the next). `member`, when given, is handed each member of the top object (when the
    /// text is one) as its value ends: its key and the byte range of its value; it
    /// returns false to stop the walk, which then returns false.
    ///
    /// `tape`, when given, is handed every value's place in the text (`JSONTape`).
    mutating func walk(writer w: ByteWriter?, options: JSONWriteOptions, checkingKeys: Bool, seen: inout KeySeen,
                       member: ((_ key: JSONString, _ value: Range<Int>) -> Bool)? = nil,
                       tape: TapeWords.Builder? = nil) throws(JSONParseError) -> Bool {
        seen.frames.removeAll(keepingCapacity: true)
        seen.small.removeAll(keepingCapacity: true)
        seen.deepest = 0
        if n >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF {
            throw error("Unexpected UTF-8 BOM (decode using utf-8-sig)", at: 0)
        }
        // A non-optional writer (`ByteWriter.unused` when only checking): the local
        // functions below then use it without retaining and releasing an optional per
        // call, which was a tenth of `export`'s CPU.
        let writes = w != nil
        let w = w ?? ByteWriter.unused
        let punctuation = options.layout.punctuation
        let asciiOnly = options.asciiOnly
        let literalNumbers = options.preserveNumberLiterals
        let taping = tape != nil
        let tape = tape ?? TapeWords.Builder.unused
        // The top object's member being read (`member`): its key, where its value starts.
        var memberKey: ScannedString? = nil
        var memberStart = 0
        /// After a value ends at `i`: whether the walk goes on. A member of the top object
        /// ends when the walk is back at depth 1 in it.
        func memberEnded() -> Bool {
            guard let member, seen.frames.count == 1, let key = memberKey else { return true }
            memberKey = nil
            return member(string(key), memberStart..<i)
        }

        func newline(_ depth: Int) {
            if writes { punctuation.newline(w, depth: depth) }
        }
        func itemSeparator() {
            if writes { punctuation.itemSeparator(w) }
        }
        func writeString(_ scanned: ScannedString) {
            guard writes else { return }
            switch scanned {
            case let .plain(start, length):
                w.writeUTF8String(UnsafeBufferPointer(start: p + start, count: length), asciiOnly: asciiOnly)
            case let .escaped(string):
                w.writeString(string, asciiOnly: asciiOnly)
            }
        }
        func literal(_ start: Int) {
            if writes { w.bytes(p + start, i - start) }
        }
        func number(_ start: Int) throws(JSONParseError) {
            _ = try scanNumberLiteral()
            if taping { tape.scalar(TapeWords.numberTag, at: start, length: i - start) }
            if writes {
                if literalNumbers {
                    literal(start)
                } else {
                    w.writePythonNumber(literal: UnsafeBufferPointer(start: p + start, count: i - start))
                }
            }
        }
        /// At a key's opening quote (after whitespace): the key, ':', whitespace. False
        /// when the object has that key already.
        func key() throws(JSONParseError) -> Bool {
            guard i < n && p[i] == UInt8(ascii: "\"") else {
                throw error("Expecting property name enclosed in double quotes", at: i)
            }
            let keyStart = i
            let scanned = try scanStringParts()
            if taping { tape.string(scanned, at: keyStart, end: i) }
            if checkingKeys {
                let hash: UInt64
                switch scanned {
                case let .plain(start, length): hash = KeyCache.hash(p + start, length)
                case .escaped: hash = scratch.withUnsafeBufferPointer { KeyCache.hash($0.baseAddress ?? p, $0.count) }
                }
                guard seen.insert(hash) else { return false }
            }
            writeString(scanned)
            skipWhitespace()
            guard i < n && p[i] == UInt8(ascii: ":") else { throw error("Expecting ':' delimiter", at: i) }
            i += 1
            skipWhitespace()
            if member != nil && seen.frames.count == 1 {
                memberKey = scanned
                memberStart = i
            }
            if writes { punctuation.keySeparator(w) }
            return true
        }

        skipWhitespace()
        value: while true {
            guard i < n else { throw error("Expecting value", at: i) }
            let start = i
            switch p[i] {
            case UInt8(ascii: "\""):
                let scanned = try scanStringParts()
                if taping { tape.string(scanned, at: start, end: i) }
                writeString(scanned)
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                let isObject = p[i] == UInt8(ascii: "{")
                guard seen.frames.count < JSONParser.maximumDepth else { throw depthError() }
                if seen.frames.count >= seen.deepest { seen.deepest = seen.frames.count + 1 }
                i += 1
                skipWhitespace()
                if taping { tape.openContainer(isObject: isObject, at: start) }
                if i < n && p[i] == (isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")) {
                    if taping { tape.closeContainer(at: i) }
                    i += 1
                    if writes { w.ascii(isObject ? "{}" : "[]") }
                } else {
                    if writes { w.byte(isObject ? UInt8(ascii: "{") : UInt8(ascii: "[")) }
                    seen.open(isObject: isObject)
                    newline(seen.frames.count)
                    if isObject { guard try key() else { return false } }
                    continue value
                }
            case UInt8(ascii: "n"), UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "N"), UInt8(ascii: "I"), UInt8(ascii: "-"):
                if let word = try scanWord() {
                    if taping { tape.word(word, at: start, end: i) }
                    literal(start)
                } else {
                    try number(start)
                }
            default:
                try number(start)
            }

            // A value is complete: go on in the open container, closing as many as end here.
            // (Only the flag is read: a copy of the frame would share its set, and the next
            // key inserted would copy the set.)
            if member != nil { guard memberEnded() else { return false } }
            while let isObject = seen.frames.last?.isObject {
                skipWhitespace()
                let close = isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")
                if i < n && p[i] == close {
                    if taping { tape.closeContainer(at: i) }
                    i += 1
                    seen.close()
                    newline(seen.frames.count)
                    if writes { w.byte(close) }
                    if member != nil { guard memberEnded() else { return false } }
                } else if i < n && p[i] == UInt8(ascii: ",") {
                    i += 1
                    skipWhitespace()
                    itemSeparator()
                    newline(seen.frames.count)
                    if isObject { guard try key() else { return false } }
                    continue value
                } else {
                    throw error("Expecting ',' delimiter", at: i)
                }
            }
            skipWhitespace()
            if i != n { throw error("Extra data", at: i) }
            return true
        }
    }
}
