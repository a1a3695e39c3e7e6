// `json.dumps(json.loads(text), separators=(",", ":"))` without building the value: for
// `export` of ten million states, where parsing every state into a `JSONValue` and
// writing it again cost most of the time. Text Meltano stored (`json.dumps`: ASCII
// only, integers, canonical escapes) is already that output but for the spaces after
// `,` and `:`, so it is copied with the whitespace between tokens dropped. Anything
// whose written form could differ (a float, a non-ASCII character, an escape Python
// would write another way, a repeated key, deep nesting, anything invalid) is refused,
// and the caller parses and writes it as before: same bytes, whichever path.

/// Reusable scratch for `append`: one per export, not one allocation per state.
public struct CompactTranscoder {
    /// Open containers, `{` or `[`.
    private var stack: [UInt8] = []
    /// Start and end (in the output) of each key of the open objects, flattened.
    private var keys: [Int] = []
    /// For each open container, where its keys begin in `keys`.
    private var keyBase: [Int] = []

    /// Deeper text is left to the parser (its limit is `JSONParser.maximumDepth`).
    static let maximumDepth = 512
    /// Longer integers are left to the parser (Python limits the digits of an int).
    static let maximumIntegerLength = 18

    public init() {}

    /// Appends `JSONValue.string(JSONString(String(decoding: utf8, as: UTF8.self)))`
    /// written `.compact`: printable ASCII without `"` or `\` (nearly every state ID)
    /// is copied between quotes.
    public static func appendString(_ utf8: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        for c in utf8 where c < 0x20 || c >= 0x7F || c == 0x22 || c == 0x5C {
            JSONValue.string(JSONString(String(decoding: utf8, as: UTF8.self))).write(.compact, into: &out)
            return
        }
        out.append(0x22)
        out.append(contentsOf: utf8)
        out.append(0x22)
    }

    /// Appends what `JSONParser.parse(text)` then `write(.compact)` would give and
    /// returns true; or returns false with `out` as it was, when the text is outside
    /// what is copied here (then parse and write it).
    public mutating func append(_ text: UnsafeRawBufferPointer, to out: inout [UInt8]) -> Bool {
        let start = out.count
        stack.removeAll(keepingCapacity: true)
        keys.removeAll(keepingCapacity: true)
        keyBase.removeAll(keepingCapacity: true)
        if transcode(text, &out) { return true }
        out.removeSubrange(start...)
        return false
    }

    private mutating func transcode(_ text: UnsafeRawBufferPointer, _ out: inout [UInt8]) -> Bool {
        guard let base = text.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return false }
        var s = Scan(p: base, n: text.count)
        let p = base, n = text.count
        s.skipSpace()
        value: while true {
            s.skipSpace()
            guard s.i < n else { return false }
            let c = p[s.i]
            switch c {
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                guard stack.count < Self.maximumDepth else { return false }
                let close = c == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]")
                out.append(c)
                s.i += 1
                s.skipSpace()
                guard s.i < n else { return false }
                if p[s.i] == close {
                    out.append(close)
                    s.i += 1
                } else {
                    stack.append(c)
                    keyBase.append(keys.count)
                    if c == UInt8(ascii: "{") { guard key(&s, &out) else { return false } }
                    continue value
                }
            case 0x22:
                guard s.string(&out) else { return false }
            case UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "n"):
                let word: StaticString = c == UInt8(ascii: "t") ? "true" : c == UInt8(ascii: "f") ? "false" : "null"
                let length = word.utf8CodeUnitCount
                guard s.i + length <= n, compareBytes(p + s.i, word.utf8Start, length) == 0 else { return false }
                out.append(contentsOf: UnsafeBufferPointer(start: p + s.i, count: length))
                s.i += length
            case UInt8(ascii: "-"), 0x30...0x39:
                // Integers only, and not `-0` (written `0`); floats go to the parser.
                var i = s.i
                let begin = i
                if c == UInt8(ascii: "-") { i += 1 }
                guard i < n, p[i] >= 0x30 && p[i] <= 0x39 else { return false }
                if p[i] == 0x30 {
                    i += 1
                    if c == UInt8(ascii: "-") { return false }
                } else {
                    while i < n && p[i] >= 0x30 && p[i] <= 0x39 { i += 1 }
                }
                if i < n && (p[i] == UInt8(ascii: ".") || p[i] == UInt8(ascii: "e") || p[i] == UInt8(ascii: "E")) { return false }
                guard i - begin <= Self.maximumIntegerLength else { return false }
                out.append(contentsOf: UnsafeBufferPointer(start: p + begin, count: i - begin))
                s.i = i
            default:
                return false
            }
            // A value is written: a separator, or the end of containers.
            while true {
                s.skipSpace()
                guard let top = stack.last else { return s.i == n }
                guard s.i < n else { return false }
                let d = p[s.i]
                if d == UInt8(ascii: ",") {
                    out.append(d)
                    s.i += 1
                    s.skipSpace()
                    if top == UInt8(ascii: "{") { guard key(&s, &out) else { return false } }
                    continue value
                }
                if d == UInt8(ascii: "}") && top == UInt8(ascii: "{") {
                    guard keysDistinct(out) else { return false }
                } else if !(d == UInt8(ascii: "]") && top == UInt8(ascii: "[")) {
                    return false
                }
                keys.removeSubrange(keyBase.removeLast()...)
                stack.removeLast()
                out.append(d)
                s.i += 1
            }
        }
    }

    /// A key: the string, remembered for the repeated-key check, then `:`.
    private mutating func key(_ s: inout Scan, _ out: inout [UInt8]) -> Bool {
        guard s.i < s.n, s.p[s.i] == 0x22 else { return false }
        let keyStart = out.count
        guard s.string(&out) else { return false }
        keys.append(keyStart)
        keys.append(out.count)
        s.skipSpace()
        guard s.i < s.n, s.p[s.i] == UInt8(ascii: ":") else { return false }
        out.append(UInt8(ascii: ":"))
        s.i += 1
        return true
    }

    /// Whether the innermost object's keys are all different (Python keeps the last
    /// value of a repeated key at the first one's place: the parser does that).
    private func keysDistinct(_ out: [UInt8]) -> Bool {
        let first = keyBase.last!
        let count = (keys.count - first) / 2
        if count < 2 { return true }
        return out.withUnsafeBufferPointer { bytes -> Bool in
            func key(_ k: Int) -> UnsafeBufferPointer<UInt8> {
                let s = keys[first + 2 * k], e = keys[first + 2 * k + 1]
                return UnsafeBufferPointer(rebasing: bytes[s..<e])
            }
            func same(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Bool {
                a.count == b.count && compareBytes(a.baseAddress!, b.baseAddress!, a.count) == 0
            }
            if count <= 16 {
                for a in 0..<count {
                    for b in (a + 1)..<count where same(key(a), key(b)) { return false }
                }
                return true
            }
            let sorted = (0..<count).sorted { a, b in
                let x = key(a), y = key(b)
                let r = compareBytes(x.baseAddress!, y.baseAddress!, min(x.count, y.count))
                return r != 0 ? r < 0 : x.count < y.count
            }
            for k in 1..<sorted.count where same(key(sorted[k - 1]), key(sorted[k])) { return false }
            return true
        }
    }
}

/// memcmp's sign, without importing the C library into this module.
@inline(__always)
private func compareBytes(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ count: Int) -> Int {
    for k in 0..<count where a[k] != b[k] { return a[k] < b[k] ? -1 : 1 }
    return 0
}

/// The read position in the text.
private struct Scan {
    let p: UnsafePointer<UInt8>
    let n: Int
    var i = 0

    init(p: UnsafePointer<UInt8>, n: Int) {
        self.p = p
        self.n = n
    }

    @inline(__always)
    mutating func skipSpace() {
        while i < n {
            let c = p[i]
            guard c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 else { return }
            i += 1
        }
    }

    /// A string at `p[i] == "`, copied when every character is written as it is.
    mutating func string(_ out: inout [UInt8]) -> Bool {
        i += 1
        let run = i
        while i < n {
            let c = p[i]
            if c == 0x22 {
                out.append(0x22)
                out.append(contentsOf: UnsafeBufferPointer(start: p + run, count: i - run))
                out.append(0x22)
                i += 1
                return true
            }
            if c == 0x5C {
                guard i + 1 < n else { return false }
                switch p[i + 1] {
                case 0x22, 0x5C, UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"), UInt8(ascii: "b"), UInt8(ascii: "f"):
                    i += 2
                case UInt8(ascii: "u"):
                    guard i + 5 < n else { return false }
                    var code: UInt32 = 0
                    for k in 2...5 {
                        let h = p[i + k]
                        switch h {
                        case 0x30...0x39: code = code << 4 | UInt32(h - 0x30)
                        case 0x61...0x66: code = code << 4 | UInt32(h - 0x61 + 10)
                        default: return false  // upper-case hex: Python writes lower case
                        }
                    }
                    // Printable ASCII and the short escapes are written otherwise;
                    // surrogates are left to the parser (pairs, lone ones).
                    if (code >= 0x20 && code < 0x7F) || code == 0x08 || code == 0x09 || code == 0x0A
                        || code == 0x0C || code == 0x0D || (code >= 0xD800 && code < 0xE000) { return false }
                    i += 6
                default:
                    return false  // `\/` is written as `/`; anything else is invalid
                }
                continue
            }
            // Printable ASCII is copied; control characters and non-ASCII are not.
            guard c >= 0x20 && c < 0x7F else { return false }
            i += 1
        }
        return false
    }
}
