// The JSON value model: what Python's `json.loads` produces, kept losslessly.
//
// - numbers keep their literal text (never stored as a Double);
// - strings may hold lone UTF-16 surrogates (Python's `"\ud800"`), which a Swift
//   `String` cannot;
// - objects keep their keys in insertion order, with Python's dict semantics.

/// A JSON value as Python's `json.loads` sees it.
///
/// `==` is structural: same cases, same key order, numbers compared by literal text,
/// strings compared code unit by code unit (not by Unicode canonical equivalence).
/// For Python's `==` (key order ignored, `1 == 1.0 == true`), use `isEquivalent(to:)`.
public enum JSONValue: Sendable {
    case null
    case bool(Bool)
    case number(JSONNumber)
    case string(JSONString)
    case array([JSONValue])
    case object(JSONObject)
}

// MARK: - JSONNumber

/// A JSON number, kept as the literal text it was written with ("1.10", "1e5", "-0",
/// "NaN", "Infinity", "12345678901234567890"). Writers normalise it as Python does.
public struct JSONNumber: Sendable, Hashable, CustomStringConvertible {
    /// The literal exactly as written.
    public let literal: String

    /// A number from literal text; nil unless it is a JSON number or one of Python's
    /// `NaN`, `Infinity`, `-Infinity`.
    public init?(literal: String) {
        var copy = literal
        let valid = copy.withUTF8 { JSONNumber.isValidLiteral($0) }
        guard valid else { return nil }
        self.literal = literal
    }

    /// Internal: the parser has already checked the grammar.
    init(uncheckedLiteral literal: String) {
        self.literal = literal
    }

    public init<T: BinaryInteger>(_ value: T) {
        self.literal = String(value)
    }

    /// A float, written as Python's `repr` (`1e+16`, `0.1`, `-0.0`, `NaN`, `Infinity`).
    public init(_ value: Double) {
        self.literal = JSONNumber.pythonRepr(value)
    }

    public var description: String { literal }

    /// True for an integer literal (no fraction, no exponent, not NaN/Infinity):
    /// Python reads it as an `int`.
    public var isInteger: Bool {
        var copy = literal
        return copy.withUTF8 { JSONNumber.classify($0) == .integer }
    }

    /// The value as a Double (rounded as Python's `float()` does; `1e400` is infinity).
    public var doubleValue: Double {
        switch literal {
        case "NaN": return .nan
        case "Infinity": return .infinity
        case "-Infinity": return -.infinity
        default: return Double(literal) ?? .nan
        }
    }

    /// The value as an Int64 when it is an integer literal that fits.
    public var int64Value: Int64? {
        isInteger ? Int64(literal) : nil
    }

    /// Python's type name for this number: `int` or `float`.
    public var pythonTypeName: String { isInteger ? "int" : "float" }

    /// The text Python's `json.dumps(json.loads(literal))` writes for it.
    public var pythonText: String {
        let writer = ByteWriter(capacity: 32)
        writer.writePythonNumber(self)
        return writer.takeString()
    }

    enum Kind: Equatable { case integer, float, nonFinite }

    /// Integer, float, or one of the NaN/Infinity names (assumes a valid literal).
    static func classify(_ bytes: UnsafeBufferPointer<UInt8>) -> Kind {
        for b in bytes {
            switch b {
            case UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E"): return .float
            case UInt8(ascii: "N"), UInt8(ascii: "I"): return .nonFinite
            default: continue
            }
        }
        return .integer
    }

    static func isValidLiteral(_ b: UnsafeBufferPointer<UInt8>) -> Bool {
        let n = b.count
        if n == 0 { return false }
        if b.elementsEqual("NaN".utf8) || b.elementsEqual("Infinity".utf8) || b.elementsEqual("-Infinity".utf8) {
            return true
        }
        var i = 0
        @inline(__always) func digit(_ i: Int) -> Bool { i < n && b[i] >= 0x30 && b[i] <= 0x39 }
        if b[i] == UInt8(ascii: "-") { i += 1 }
        guard digit(i) else { return false }
        if b[i] == UInt8(ascii: "0") { i += 1 } else { while digit(i) { i += 1 } }
        if i < n && b[i] == UInt8(ascii: ".") {
            i += 1
            guard digit(i) else { return false }
            while digit(i) { i += 1 }
        }
        if i < n && (b[i] == UInt8(ascii: "e") || b[i] == UInt8(ascii: "E")) {
            i += 1
            if i < n && (b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-")) { i += 1 }
            guard digit(i) else { return false }
            while digit(i) { i += 1 }
        }
        return i == n
    }
}

extension JSONNumber: ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral {
    public init(integerLiteral value: Int) { self.init(value) }
    public init(floatLiteral value: Double) { self.init(value) }
}

// MARK: - JSONString

/// A JSON string: a sequence of UTF-16 code units, as in Python (which allows lone
/// surrogates such as `"\ud800"`), in 16 bytes.
///
/// Storage is one Swift `String`: the text itself when it is well-formed (the usual
/// case), otherwise a private encoding (U+10FFFF, then one scalar per UTF-16 code unit,
/// surrogates moved to plane 15), also used for the rare text that itself starts with
/// U+10FFFF, so that every code-unit sequence has exactly one storage form.
///
/// Equality and hashing compare code units exactly (no Unicode normalisation:
/// "é" and "e\u{301}" are different keys, as in Python).
public struct JSONString: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible,
    ExpressibleByStringLiteral
{
    @usableFromInline
    var storage: String

    static let marker: Unicode.Scalar = "\u{10FFFF}"

    public init(_ text: String) {
        if JSONString.startsWithMarker(text) {
            storage = JSONString.encode(Array(text.utf16))
        } else {
            storage = text
        }
    }

    public init(stringLiteral value: String) {
        self.init(value)
    }

    /// From UTF-16 code units; lone surrogates are kept.
    public init<S: Sequence>(utf16CodeUnits units: S) where S.Element == UInt16 {
        let array = Array(units)
        let text = String(decoding: array, as: UTF16.self)
        if JSONString.isWellFormed(array) && !JSONString.startsWithMarker(text) {
            storage = text
        } else {
            storage = JSONString.encode(array)
        }
    }

    /// True when `storage` is the private encoding.
    @inline(__always)
    var isEncoded: Bool {
        storage.utf8.first == 0xF4 && JSONString.startsWithMarker(storage)
    }

    static func startsWithMarker(_ s: String) -> Bool {
        s.utf8.first == 0xF4 && s.unicodeScalars.first == marker
    }

    static func encode(_ units: [UInt16]) -> String {
        var scalars = String.UnicodeScalarView()
        scalars.append(marker)
        for u in units {
            scalars.append(Unicode.Scalar(u & 0xF800 == 0xD800 ? 0xF0000 + UInt32(u) - 0xD800 : UInt32(u))!)
        }
        return String(scalars)
    }

    /// The code units of an encoded storage.
    var decodedUnits: [UInt16] {
        storage.unicodeScalars.dropFirst().map { c in
            c.value >= 0xF0000 ? UInt16(c.value - 0xF0000 + 0xD800) : UInt16(c.value)
        }
    }

    /// The text; a lone surrogate becomes U+FFFD.
    public var text: String {
        isEncoded ? String(decoding: decodedUnits, as: UTF16.self) : storage
    }

    /// The text when it is well-formed Unicode, nil when it holds a lone surrogate.
    public var string: String? {
        isWellFormed ? text : nil
    }

    /// False when the string holds a lone surrogate.
    public var isWellFormed: Bool {
        isEncoded ? JSONString.isWellFormed(decodedUnits) : true
    }

    /// The UTF-16 code units (what Python's str holds).
    public var utf16CodeUnits: [UInt16] {
        isEncoded ? decodedUnits : Array(storage.utf16)
    }

    /// Python's `needle in self` (substring search over code points).
    public func contains(_ needle: String) -> Bool {
        if needle.isEmpty { return true }
        if !isEncoded { return JSONString.utf8Contains(storage, needle) }
        let units = decodedUnits
        let n = Array(needle.utf16)
        if n.count > units.count { return false }
        // Code-unit search is exact here: a well-formed needle cannot match half a pair.
        var i = 0
        while i + n.count <= units.count {
            if units[i] == n[0] && units[i..<i + n.count].elementsEqual(n) { return true }
            i += 1
        }
        return false
    }

    public var description: String { text }

    public var debugDescription: String {
        JSONValue.string(self).text(.compact)
    }

    public static func == (a: JSONString, b: JSONString) -> Bool {
        utf8Equal(a.storage, b.storage)  // one storage form per code-unit sequence
    }

    public func hash(into hasher: inout Hasher) {
        var s = storage
        s.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
    }

    @inline(__always)
    static func utf8Equal(_ x: String, _ y: String) -> Bool {
        let xu = x.utf8, yu = y.utf8
        if xu.count != yu.count { return false }
        if let r = xu.withContiguousStorageIfAvailable({ xp in
            yu.withContiguousStorageIfAvailable { yp in
                xp.count == 0 || memcmpEqual(xp.baseAddress!, yp.baseAddress!, xp.count)
            }
        }), let r { return r }
        return xu.elementsEqual(yu)
    }

    static func utf8Contains(_ haystack: String, _ needle: String) -> Bool {
        var h = haystack, n = needle
        return h.withUTF8 { hp in
            n.withUTF8 { np in
                let m = np.count
                if m > hp.count { return false }
                let first = np[0]
                var i = 0
                while i + m <= hp.count {
                    if hp[i] == first && memcmpEqual(hp.baseAddress! + i, np.baseAddress!, m) { return true }
                    i += 1
                }
                return false
            }
        }
    }

    static func isWellFormed(_ units: [UInt16]) -> Bool {
        var i = 0
        while i < units.count {
            let u = units[i]
            if u & 0xF800 == 0xD800 {
                guard u < 0xDC00, i + 1 < units.count, units[i + 1] & 0xFC00 == 0xDC00 else { return false }
                i += 2
            } else {
                i += 1
            }
        }
        return true
    }
}

@inline(__always)
func memcmpEqual(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ n: Int) -> Bool {
    var i = 0
    while i + 8 <= n {
        if UnsafeRawPointer(a + i).loadUnaligned(as: UInt64.self) != UnsafeRawPointer(b + i).loadUnaligned(as: UInt64.self) {
            return false
        }
        i += 8
    }
    while i < n {
        if a[i] != b[i] { return false }
        i += 1
    }
    return true
}

// MARK: - JSONObject

/// An ordered JSON object with Python dict semantics: keys unique, insertion order kept,
/// assigning an existing key keeps its position, a new key goes at the end.
public struct JSONObject: Sendable, RandomAccessCollection, ExpressibleByDictionaryLiteral {
    public typealias Element = (key: JSONString, value: JSONValue)
    public typealias Index = Int

    @usableFromInline
    var entries: ContiguousArray<Element>
    /// For objects with many keys, an open-addressing hash table of entry positions + 1
    /// (0 = empty slot), at most half full: 4 bytes a slot instead of a Dictionary's 24.
    /// Small objects have none and are scanned.
    @usableFromInline
    var index: [Int32]?

    static let indexThreshold = 12

    public init() {
        entries = []
        index = nil
    }

    /// From pairs in order; a repeated key keeps its first position and takes the last
    /// value (what Python's `dict` and `json.loads` do).
    public init<S: Sequence>(_ pairs: S) where S.Element == (JSONString, JSONValue) {
        self.init()
        for (k, v) in pairs { self[k] = v }
    }

    public init(dictionaryLiteral elements: (JSONString, JSONValue)...) {
        self.init(elements)
    }

    /// Entries whose keys are known to be distinct.
    init(uniqueEntries: ContiguousArray<Element>) {
        entries = uniqueEntries
        index = nil
        rebuildIndex()
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { entries.count }
    public var count: Int { entries.count }
    public var isEmpty: Bool { entries.isEmpty }

    public subscript(position: Int) -> Element {
        entries[position]
    }

    public var keys: [JSONString] { entries.map(\.key) }
    public var values: [JSONValue] { entries.map(\.value) }

    /// The position of `key`, if present.
    public func index(forKey key: JSONString) -> Int? {
        guard let index else {
            for i in entries.indices where entries[i].key == key { return i }
            return nil
        }
        return index.withUnsafeBufferPointer { table in
            let mask = table.count - 1
            var slot = key.hashValue & mask
            while true {
                let e = Int(table[slot])
                if e == 0 { return nil }
                if entries[e - 1].key == key { return e - 1 }
                slot = (slot + 1) & mask
            }
        }
    }

    public func index(forKey key: String) -> Int? {
        index(forKey: JSONString(key))
    }

    public func contains(key: String) -> Bool { index(forKey: key) != nil }
    public func contains(key: JSONString) -> Bool { index(forKey: key) != nil }

    public subscript(key: JSONString) -> JSONValue? {
        get {
            guard let i = index(forKey: key) else { return nil }
            return entries[i].value
        }
        set {
            if let i = index(forKey: key) {
                if let newValue {
                    entries[i].value = newValue
                } else {
                    entries.remove(at: i)
                    rebuildIndex()
                }
            } else if let newValue {
                appendNew(key, newValue)
            }
        }
    }

    public subscript(key: String) -> JSONValue? {
        get { self[JSONString(key)] }
        set { self[JSONString(key)] = newValue }
    }

    @discardableResult
    public mutating func removeValue(forKey key: JSONString) -> JSONValue? {
        let old = self[key]
        self[key] = nil
        return old
    }

    @discardableResult
    public mutating func removeValue(forKey key: String) -> JSONValue? {
        removeValue(forKey: JSONString(key))
    }

    /// `self[key] = value` for the parser (the last value wins at the first position).
    @inline(__always)
    mutating func setParsed(_ key: JSONString, _ value: JSONValue) {
        if let i = index(forKey: key) {
            entries[i].value = value
        } else {
            appendNew(key, value)
        }
    }

    /// Appends a key that is not present.
    mutating func appendNew(_ key: JSONString, _ value: JSONValue) {
        entries.append((key, value))
        if index == nil {
            if entries.count > JSONObject.indexThreshold { rebuildIndex() }
        } else if entries.count * 2 > index!.count {
            rebuildIndex()
        } else {
            JSONObject.insert(position: entries.count - 1, hash: key.hashValue, into: &index!)
        }
    }

    static func insert(position: Int, hash: Int, into table: inout [Int32]) {
        table.withUnsafeMutableBufferPointer { t in
            let mask = t.count - 1
            var slot = hash & mask
            while t[slot] != 0 { slot = (slot + 1) & mask }
            t[slot] = Int32(position + 1)
        }
    }

    mutating func rebuildIndex() {
        guard entries.count > JSONObject.indexThreshold else {
            index = nil
            return
        }
        var size = 32
        while size < entries.count * 3 { size <<= 1 }  // rebuilt again at half full
        var table = [Int32](repeating: 0, count: size)
        for i in entries.indices {
            JSONObject.insert(position: i, hash: entries[i].key.hashValue, into: &table)
        }
        index = table
    }
}

extension JSONObject: Equatable {
    /// Same keys in the same order with equal values (see `JSONValue.==`).
    public static func == (a: JSONObject, b: JSONObject) -> Bool {
        JSONValue.object(a) == JSONValue.object(b)
    }
}

// MARK: - Conveniences

extension JSONValue: Equatable {
    /// Structural equality, iterative (safe for any depth).
    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        var pending: [(JSONValue, JSONValue)] = [(lhs, rhs)]
        while let (a, b) = pending.popLast() {
            switch (a, b) {
            case (.null, .null):
                continue
            case (.bool(let x), .bool(let y)):
                if x != y { return false }
            case (.number(let x), .number(let y)):
                if x.literal != y.literal { return false }
            case (.string(let x), .string(let y)):
                if x != y { return false }
            case (.array(let x), .array(let y)):
                if x.count != y.count { return false }
                for i in x.indices { pending.append((x[i], y[i])) }
            case (.object(let x), .object(let y)):
                if x.count != y.count { return false }
                for i in x.entries.indices {
                    if x.entries[i].key != y.entries[i].key { return false }
                    pending.append((x.entries[i].value, y.entries[i].value))
                }
            default:
                return false
            }
        }
        return true
    }
}

extension JSONValue: ExpressibleByNilLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByStringLiteral, ExpressibleByArrayLiteral,
    ExpressibleByDictionaryLiteral
{
    public init(nilLiteral: ()) { self = .null }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int) { self = .number(JSONNumber(value)) }
    public init(floatLiteral value: Double) { self = .number(JSONNumber(value)) }
    public init(stringLiteral value: String) { self = .string(JSONString(value)) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (JSONString, JSONValue)...) { self = .object(JSONObject(elements)) }
}

extension JSONValue: CustomStringConvertible {
    /// The Meltano (json.dumps) text.
    public var description: String { meltanoText }
}

extension JSONValue {
    public var objectValue: JSONObject? {
        if case .object(let o) = self { return o }
        return nil
    }

    public var arrayValue: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    public var stringValue: JSONString? {
        if case .string(let s) = self { return s }
        return nil
    }

    public var numberValue: JSONNumber? {
        if case .number(let n) = self { return n }
        return nil
    }

    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    public var isObject: Bool { objectValue != nil }

    /// The value of `key` when this is an object that has it.
    public subscript(key: String) -> JSONValue? {
        objectValue?[key]
    }

    /// The element at `index` when this is an array that has it.
    public subscript(index: Int) -> JSONValue? {
        guard case .array(let a) = self, a.indices.contains(index) else { return nil }
        return a[index]
    }

    /// The name of the Python type `json.loads` makes for this value
    /// (`dict`, `list`, `str`, `int`, `float`, `bool`, `NoneType`).
    public var pythonTypeName: String {
        switch self {
        case .null: return "NoneType"
        case .bool: return "bool"
        case .number(let n): return n.pythonTypeName
        case .string: return "str"
        case .array: return "list"
        case .object: return "dict"
        }
    }

    /// The longest integer in it, in digits (its sign not counted); iterative.
    public var longestIntegerDigits: Int {
        var longest = 0
        var pending: [JSONValue] = [self]
        while let value = pending.popLast() {
            switch value {
            case .number(let number):
                var literal = number.literal
                if literal.utf8.count > longest {
                    longest = max(longest, literal.withUTF8 { JSONParser.integerDigits($0) })
                }
            case .array(let items): pending.append(contentsOf: items)
            case .object(let object): for entry in object.entries { pending.append(entry.value) }
            default: break
            }
        }
        return longest
    }

    /// The nesting depth (a scalar is 0, `[]` is 1); iterative.
    public var depth: Int {
        var maxDepth = 0
        var pending: [(JSONValue, Int)] = [(self, 0)]
        while let (v, d) = pending.popLast() {
            switch v {
            case .array(let a):
                maxDepth = max(maxDepth, d + 1)
                for e in a { pending.append((e, d + 1)) }
            case .object(let o):
                maxDepth = max(maxDepth, d + 1)
                for e in o.entries { pending.append((e.value, d + 1)) }
            default:
                maxDepth = max(maxDepth, d)
            }
        }
        return maxDepth
    }
}
