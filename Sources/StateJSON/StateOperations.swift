// Meltano's state operations on JSON values: deep merge, the `singer_state` check of
// `set`/`merge`/`copy`, the payload type check, and Python's `==`.

// MARK: - Deep merge

/// Why a merge is impossible. Meltano fails the same way (a Python TypeError/
/// AttributeError, reported as "Failed to persist state to the configured state backend").
public struct MergeError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Reason: Sendable, Equatable {
        /// The source is not an object (`pythonType` is its Python type name).
        case sourceNotObject(pythonType: String)
        /// An object's key had to be written into a value that is not an object.
        case targetNotObject(key: JSONString, pythonType: String)
    }

    public var reason: Reason
    /// The keys from the top of the target down to the value that is not an object.
    public var path: [JSONString]

    public init(reason: Reason, path: [JSONString] = []) {
        self.reason = reason
        self.path = path
    }

    /// The reference model's wording: "cannot merge a list (only objects merge)",
    /// "cannot merge key 'x' into a int".
    public var message: String {
        switch reason {
        case .sourceNotObject(let type):
            return "cannot merge a \(type) (only objects merge)"
        case .targetNotObject(let key, let type):
            return "cannot merge key \(pythonRepr(key)) into a \(type)"
        }
    }

    /// The message, and where: "cannot merge key 'b' into a int (at 'singer_state' → 'a')".
    public var description: String {
        path.isEmpty ? message : message + " (at " + path.map { pythonRepr($0) }.joined(separator: " → ") + ")"
    }
}

/// Meltano's deep merge of `source` onto `target`: for each key of the source, an object
/// value merges recursively into the target's value at that key (which starts as `{}`
/// at the end when missing); any other value (arrays and null included) replaces the
/// target's value, keeping its position; new keys go at the end.
///
/// Throws where Meltano fails: a source that is not an object, or a key to be written
/// into a target that is not an object (`{}` merged onto `5` leaves `5`: no key to write).
public func deepMerge(_ source: JSONValue, onto target: JSONValue) throws(MergeError) -> JSONValue {
    guard case .object(let sourceObject) = source else {
        throw MergeError(reason: .sourceNotObject(pythonType: source.pythonTypeName))
    }
    guard let first = sourceObject.entries.first else { return target }
    guard case .object(let targetObject) = target else {
        throw MergeError(reason: .targetNotObject(key: first.key, pythonType: target.pythonTypeName))
    }

    // Iterative (an explicit stack of the objects being merged), so depth never matters.
    struct Frame {
        var source: JSONObject
        var result: JSONObject
        var next = 0
        /// Where the result goes back in the parent's result, and under which key.
        var slot = 0
        var key: JSONString = ""
    }
    var stack = [Frame(source: sourceObject, result: targetObject)]
    while true {
        let top = stack.count - 1
        if stack[top].next == stack[top].source.entries.count {
            let finished = stack.removeLast()
            if stack.isEmpty { return .object(finished.result) }
            stack[stack.count - 1].result.entries[finished.slot].value = .object(finished.result)
            continue
        }
        let (key, value) = stack[top].source.entries[stack[top].next]
        stack[top].next += 1
        guard case .object(let child) = value else {
            stack[top].result[key] = value  // replaces in place, or appends
            continue
        }
        if let slot = stack[top].result.index(forKey: key) {
            guard let childFirst = child.entries.first else { continue }  // {} changes nothing
            guard case .object(let existing) = stack[top].result.entries[slot].value else {
                let type = stack[top].result.entries[slot].value.pythonTypeName
                throw MergeError(reason: .targetNotObject(key: childFirst.key, pythonType: type),
                                 path: stack.dropFirst().map(\.key) + [key])
            }
            stack[top].result.entries[slot].value = .null  // moved into the frame: no copy on write
            stack.append(Frame(source: child, result: existing, slot: slot, key: key))
        } else {
            // Python's setdefault(key, {}): the new key takes its place at the end now.
            stack[top].result[key] = .object(JSONObject())
            if !child.isEmpty {
                stack.append(Frame(source: child, result: JSONObject(), slot: stack[top].result.count - 1, key: key))
            }
        }
    }
}

/// What `deepMerge(source, onto: JSONParser.parse(text))` throws, without the tree of
/// `text`: a 100 MB completed state is checked by walking only the members the source
/// reaches into. The first error in the same order as `deepMerge`'s (the source's keys
/// in order, depth first), with the same reason and path.
///
/// `text` must be a document `parse` accepts with no object repeating a key
/// (`JSONParser.isRewritable`): with a repeated key `parse` keeps the last value, and
/// this would look at the first.
public func checkDeepMerge(_ source: JSONValue, ontoText text: UnsafeRawBufferPointer) throws(MergeError) {
    var edits: [TextEdit]? = nil
    try walkDeepMerge(source, ontoText: text, edits: &edits)
}

/// `checkDeepMerge` of a text held as a `String` (a stored part).
public func checkDeepMerge(_ source: JSONValue, ontoText text: String) throws(MergeError) {
    var text = text
    let checked = text.withUTF8 { bytes in
        Result { () throws(MergeError) in try checkDeepMerge(source, ontoText: UnsafeRawBufferPointer(bytes)) }
    }
    try checked.get()
}

/// `json.dumps(deepMerge(source, json.loads(text)))`, the text Meltano stores for the
/// merged view (`deepMerge(source, onto: parse(text)).meltanoText`), without the tree of
/// `text`: the members the source reaches into are found as `checkDeepMerge` finds
/// them, the values it replaces and the keys it adds are written, and the rest of the
/// text is copied. Throws what `deepMerge` throws.
///
/// `text` must be `json.dumps` of what it holds already (`JSONParser.rewritten(text,
/// .meltano)` is `.same`): that is what lets its bytes stand for themselves.
public func deepMergedMeltanoText(_ source: JSONValue, ontoMeltanoText text: UnsafeRawBufferPointer) throws(MergeError) -> RewritableDocument {
    var found: [TextEdit]? = []
    try walkDeepMerge(source, ontoText: text, edits: &found)
    let edits = (found ?? []).sorted { $0.range.lowerBound < $1.range.lowerBound }
    var bytes: [UInt8] = []
    bytes.reserveCapacity(edits.reduce(text.count) { $0 + $1.text.utf8.count - $1.range.count })
    var position = 0
    for edit in edits {
        bytes.append(contentsOf: text[position..<edit.range.lowerBound])
        bytes.append(contentsOf: edit.text.utf8)
        position = edit.range.upperBound
    }
    bytes.append(contentsOf: text[position...])
    // The text was json.dumps form; what was put in is the writer's: the parser
    // accepts the result and no key repeats in it.
    return RewritableDocument(checked: bytes)
}

/// A piece of a text replaced: `range` (empty to insert) by `text`.
struct TextEdit {
    var range: Range<Int>
    var text: String
}

/// The walk behind `checkDeepMerge` (`edits` nil: only the members the source merges
/// objects into are looked for) and `deepMergedMeltanoText` (every source key is looked
/// for; the values replaced and the keys added at each object's end are collected).
private func walkDeepMerge(_ source: JSONValue, ontoText text: UnsafeRawBufferPointer, edits: inout [TextEdit]?) throws(MergeError) {
    guard case .object(let sourceObject) = source else {
        throw MergeError(reason: .sourceNotObject(pythonType: source.pythonTypeName))
    }
    guard let base = text.baseAddress else {
        // No text (outside the precondition): what `deepMerge` says of a value that is not an object.
        if let first = sourceObject.entries.first { throw MergeError(reason: .targetNotObject(key: first.key, pythonType: "NoneType")) }
        return
    }
    // An explicit stack of (source object, where the target's value is in `text`, its
    // path), children pushed last-first so that they are checked in order, each before
    // the next sibling: `deepMerge`'s depth-first order.
    var pending: [(source: JSONObject, target: Range<Int>, path: [JSONString])] = [(sourceObject, 0..<text.count, [])]
    while let (object, range, path) = pending.popLast() {
        guard let first = object.entries.first else { continue }  // {} changes nothing
        let target = UnsafeRawBufferPointer(rebasing: text[range])
        let kind = JSONParser.pythonTypeName(ofValueText: target)
        guard kind == "dict" else {
            throw MergeError(reason: .targetNotObject(key: first.key, pythonType: kind), path: path)
        }
        // The source keys looked for, and where their values are in the target's text:
        // for the check, those that reach into it (non-empty objects; a key the target
        // lacks becomes `{}`, which any object merges into); for the text, all.
        var wanted: [JSONString: Int] = [:]
        for (position, entry) in object.entries.enumerated() {
            if case .object(let child) = entry.value, !child.isEmpty {
                wanted[entry.key] = position
            } else if edits != nil {
                wanted[entry.key] = position
            }
        }
        guard !wanted.isEmpty else { continue }
        var found: [Int: Range<Int>] = [:]
        do {
            _ = try JSONParser.forEachMember(in: target) { key, value in
                guard let position = wanted.removeValue(forKey: key) else { return }
                let start = value.baseAddress! - base
                found[position] = start..<(start + value.count)
                if wanted.isEmpty { throw MemberWalkDone() }
            }
        } catch {
            // `MemberWalkDone`, or a text `parse` would refuse: the caller checked it.
        }
        if edits != nil {
            var added = ""
            for (position, entry) in object.entries.enumerated() {
                if let value = found[position] {
                    if case .object = entry.value { continue }  // merged below, or {} (nothing)
                    edits!.append(TextEdit(range: value, text: entry.value.meltanoText))
                } else {
                    // A new key, at the end: `setdefault(key, {})` then the merge into it
                    // gives the source's object itself.
                    added += (added.isEmpty && target.count == 2 ? "" : ", ") + JSONValue.string(entry.key).meltanoText + ": " + entry.value.meltanoText
                }
            }
            // json.dumps form: the object's last byte is its closing brace.
            if !added.isEmpty { edits!.append(TextEdit(range: (range.upperBound - 1)..<(range.upperBound - 1), text: added)) }
        }
        for (position, value) in found.sorted(by: { $0.key > $1.key }) {
            guard case .object(let child) = object.entries[position].value else { continue }
            pending.append((child, value, path + [object.entries[position].key]))
        }
    }
}

/// Stops `forEachMember` once every wanted member was seen.
private struct MemberWalkDone: Error {}

extension JSONParser {
    /// The Python type `json.loads` makes of a valid JSON value's text (leading
    /// whitespace allowed): `dict`, `list`, `str`, `bool`, `NoneType`, `int` or `float`.
    public static func pythonTypeName(ofValueText text: UnsafeRawBufferPointer) -> String {
        let bytes = text.bindMemory(to: UInt8.self)
        var start = 0
        while start < bytes.count, [0x20, 0x0A, 0x0D, 0x09].contains(bytes[start]) { start += 1 }
        guard start < bytes.count else { return "NoneType" }
        switch bytes[start] {
        case UInt8(ascii: "{"): return "dict"
        case UInt8(ascii: "["): return "list"
        case UInt8(ascii: "\""): return "str"
        case UInt8(ascii: "t"), UInt8(ascii: "f"): return "bool"
        case UInt8(ascii: "n"): return "NoneType"
        default:
            var end = start
            while end < bytes.count, ![0x20, 0x0A, 0x0D, 0x09].contains(bytes[end]) { end += 1 }
            let kind = JSONNumber.classify(UnsafeBufferPointer(rebasing: bytes[start..<end]))
            return kind == .integer ? "int" : "float"
        }
    }
}

// MARK: - Validation

/// Why `set` (or `merge`, `copy`) refuses a value, in Meltano's words (`message`), and
/// which of Meltano's checks refused it (`kind`), so a caller can add what was expected
/// without matching the words.
public struct StateValidationError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// `"singer_state" in value` raised: the value is a number, a boolean or null.
        case notIterable
        /// `"singer_state" in value` was false.
        case singerStateMissing
        /// The value passed the first check but is not an object or null.
        case notAPayload
    }

    public var kind: Kind
    public var message: String
    public init(_ kind: Kind, message: String) {
        self.kind = kind
        self.message = message
    }
    public var description: String { message }

    public static let singerStateMissing = StateValidationError(.singerStateMissing, message:
        "Invalid state format: singer_state not found in top level of provided state. "
        + "State must be valid JSON with a top-level 'singer_state' key.")
}

/// Meltano's check `"singer_state" in value`: passes for an object with that key, an
/// array with that string as an element, or a string containing it; a number, a boolean
/// or null makes Python raise "argument of type 'int' is not iterable".
public func validateSingerState(_ value: JSONValue) throws(StateValidationError) {
    let found: Bool
    switch value {
    case .object(let o):
        found = o.contains(key: "singer_state")
    case .array(let a):
        let needle = JSONString("singer_state")
        found = a.contains { if case .string(let s) = $0 { return s == needle } else { return false } }
    case .string(let s):
        found = s.contains("singer_state")
    case .null, .bool, .number:
        throw StateValidationError(.notIterable, message: "argument of type '\(value.pythonTypeName)' is not iterable")
    }
    if !found { throw StateValidationError.singerStateMissing }
}

/// Meltano's second check on a state to write: an object or null, nothing else.
public func validateStatePayload(_ value: JSONValue) throws(StateValidationError) {
    switch value {
    case .object, .null:
        return
    default:
        throw StateValidationError(.notAPayload, message:
            "Attribute 'payload' does not accept objects of type <class '\(value.pythonTypeName)'>")
    }
}

/// Both checks, in Meltano's order (`validate: false` is `--no-validate`).
public func validateStateForSet(_ value: JSONValue, validate: Bool = true) throws(StateValidationError) {
    if validate { try validateSingerState(value) }
    try validateStatePayload(value)
}

// MARK: - Python's ==

extension JSONValue {
    /// Python's `==` on what `json.loads` returns: object key order ignored; numbers by
    /// value (`1 == 1.0`, `-0 == 0`, huge ints exactly against floats); `true == 1`,
    /// `false == 0`. `NaN` is not equal to itself at the top, but is inside arrays and
    /// objects (json.loads returns one shared NaN object, and Python compares container
    /// elements by identity first). Iterative, safe for any depth.
    public func isEquivalent(to other: JSONValue) -> Bool {
        var pending: [(JSONValue, JSONValue, Bool)] = [(self, other, true)]
        while let (a, b, top) = pending.popLast() {
            switch (a, b) {
            case (.null, .null):
                continue
            case (.string(let x), .string(let y)):
                if x != y { return false }
            case (.array(let x), .array(let y)):
                if x.count != y.count { return false }
                for i in x.indices { pending.append((x[i], y[i], false)) }
            case (.object(let x), .object(let y)):
                if x.count != y.count { return false }
                for (key, value) in x.entries {
                    guard let otherValue = y[key] else { return false }
                    pending.append((value, otherValue, false))
                }
            default:
                guard let x = PythonNumber(a), let y = PythonNumber(b) else { return false }
                if case .float(let f) = x, case .float(let g) = y, f.isNaN && g.isNaN, !top { continue }
                if x != y { return false }
            }
        }
        return true
    }
}

/// An int (exact decimal text) or a float, as Python holds a JSON number or bool.
private enum PythonNumber: Equatable {
    case int(String)
    case float(Double)

    init?(_ value: JSONValue) {
        switch value {
        case .bool(let b): self = .int(b ? "1" : "0")
        case .number(let n):
            if n.isInteger {
                self = .int(n.literal == "-0" ? "0" : n.literal)
            } else {
                self = .float(n.doubleValue)
            }
        default: return nil
        }
    }

    static func == (a: PythonNumber, b: PythonNumber) -> Bool {
        switch (a, b) {
        case (.int(let x), .int(let y)): return x == y
        case (.float(let x), .float(let y)): return x == y
        case (.int(let i), .float(let f)), (.float(let f), .int(let i)):
            guard f.isFinite, f == f.rounded(.towardZero) else { return false }
            return exactIntegerText(f) == i
        }
    }

    /// The exact decimal text of an integral double.
    static func exactIntegerText(_ f: Double) -> String {
        if f == 0 { return "0" }
        if abs(f) < 9.0e18 { return String(Int64(f)) }
        // f = significand × 2^shift exactly; multiply out in base 10^9.
        var limbs: [UInt64] = []
        var m = (UInt64(1) << 52) | f.significandBitPattern
        while m > 0 { limbs.append(m % 1_000_000_000); m /= 1_000_000_000 }
        var shift = Int(f.exponent) - 52
        while shift > 0 {
            let step = min(shift, 30)
            var carry: UInt64 = 0
            for k in limbs.indices {
                let v = (limbs[k] << UInt64(step)) + carry
                limbs[k] = v % 1_000_000_000
                carry = v / 1_000_000_000
            }
            while carry > 0 { limbs.append(carry % 1_000_000_000); carry /= 1_000_000_000 }
            shift -= step
        }
        var text = f < 0 ? "-" : ""
        text += String(limbs.last!)
        for limb in limbs.dropLast().reversed() {
            let s = String(limb)
            text += String(repeating: "0", count: 9 - s.count) + s
        }
        return text
    }
}

// MARK: - Python's repr of a str (for messages)

/// Python's `repr()` of a string: single quotes unless it holds a single quote and no
/// double quote; `\\`, `\n`, `\r`, `\t` and non-printable characters escaped.
public func pythonRepr(_ s: JSONString) -> String {
    let units = s.utf16CodeUnits
    var scalars: [UInt32] = []
    var i = 0
    while i < units.count {
        let u = units[i]
        if u & 0xFC00 == 0xD800, i + 1 < units.count, units[i + 1] & 0xFC00 == 0xDC00 {
            scalars.append(0x10000 + ((UInt32(u) - 0xD800) << 10) + (UInt32(units[i + 1]) - 0xDC00))
            i += 2
        } else {
            scalars.append(UInt32(u))
            i += 1
        }
    }
    let hasSingle = scalars.contains(0x27), hasDouble = scalars.contains(0x22)
    let quote: UInt32 = hasSingle && !hasDouble ? 0x22 : 0x27
    var out = quote == 0x22 ? "\"" : "'"
    func hex(_ v: UInt32, _ width: Int) -> String {
        let h = String(v, radix: 16)
        return String(repeating: "0", count: max(0, width - h.count)) + h
    }
    for c in scalars {
        switch c {
        case quote: out += "\\" + (quote == 0x22 ? "\"" : "'")
        case 0x5C: out += "\\\\"
        case 0x0A: out += "\\n"
        case 0x0D: out += "\\r"
        case 0x09: out += "\\t"
        default:
            if let scalar = Unicode.Scalar(c), isPythonPrintable(scalar) {
                out.unicodeScalars.append(scalar)
            } else if c < 0x100 {
                out += "\\x" + hex(c, 2)
            } else if c < 0x10000 {
                out += "\\u" + hex(c, 4)
            } else {
                out += "\\U" + hex(c, 8)
            }
        }
    }
    return out + (quote == 0x22 ? "\"" : "'")
}

/// Python's `str.isprintable()` for one character: not in Cc, Cf, Cs, Co, Cn, Zl, Zp, Zs
/// (the space itself is printable).
private func isPythonPrintable(_ c: Unicode.Scalar) -> Bool {
    if c == " " { return true }
    switch c.properties.generalCategory {
    case .control, .format, .surrogate, .privateUse, .unassigned, .lineSeparator, .paragraphSeparator, .spaceSeparator:
        return false
    default:
        return true
    }
}
