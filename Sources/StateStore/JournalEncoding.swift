import Foundation
import StateJSON

/// A journal line without `JSONEncoder`: an import or `clear --all` of 100 000 states
/// journals 100 000 entries, and `JSONEncoder` spent most of such an import's CPU time.
/// The bytes are exactly what `JSONEncoder` with `[.sortedKeys, .withoutEscapingSlashes]`
/// writes for the same entry (checked against it in the tests), so the journal reads
/// the same whichever wrote a line.
enum JournalEncoding {
    /// The entry as one journal line (no newline): written here for most entries, by
    /// `JSONEncoder` (`[.sortedKeys, .withoutEscapingSlashes]`, the same bytes) for
    /// entries with a lock or a run. The one writer of journal lines: the journal and
    /// `history --json` both write them with it.
    static func line(_ entry: JournalEntry) throws -> [UInt8] {
        var out: [UInt8] = []
        if append(entry, to: &out) { return out }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(entry))
    }

    /// Appends the entry's JSON (no newline) and returns true; returns false, having
    /// appended nothing, for entries with a lock or a run (rare; `JSONEncoder` writes them).
    static func append(_ entry: JournalEntry, to out: inout [UInt8]) -> Bool {
        guard entry.lock == nil, entry.run == nil else { return false }
        // Keys in sorted order: action, batch, before, database, host, id, layout, lock,
        // note, run, schema, server, state_id, table, time, user.
        key("action", first: true, &out); string(entry.action, &out)
        if let batch = entry.batch { key("batch", &out); string(batch, &out) }
        key("before", &out)
        if let before = entry.before {
            key("completed_state", first: true, &out); optional(before.completedState, &out)
            key("partial_state", &out); optional(before.partialState, &out)
            key("updated_at", &out); optional(before.updatedAt, &out)
            out.append(UInt8(ascii: "}"))
        } else {
            out.append(contentsOf: "null".utf8)
        }
        key("database", &out); string(entry.database, &out)
        key("host", &out); string(entry.host, &out)
        key("id", &out); string(entry.id, &out)
        key("layout", &out); string(entry.layout, &out)
        if let note = entry.note { key("note", &out); string(note, &out) }
        key("schema", &out); string(entry.schema, &out)
        if let server = entry.server { key("server", &out); string(server, &out) }
        key("state_id", &out); string(entry.stateID, &out)
        if let table = entry.table { key("table", &out); string(table, &out) }
        key("time", &out); string(entry.time, &out)
        key("user", &out); string(entry.user, &out)
        out.append(UInt8(ascii: "}"))
        return true
    }

    /// The bytes the entry's stored texts take in its line, escapes included: all but
    /// a few hundred bytes of a big entry's line.
    static func textBytes(_ entry: JournalEntry) -> Int {
        guard let before = entry.before else { return 0 }
        return [before.partialState, before.completedState].reduce(0) { $0 + ($1.map(escapedCount) ?? 0) }
    }

    /// The length of `string(value)`'s output without its quotes.
    static func escapedCount(_ value: String) -> Int {
        var value = value
        return value.withUTF8 { bytes in
            var extra = 0
            for byte in bytes where needsEscape(byte) { extra += shortEscape(byte) == nil ? 5 : 1 }
            return bytes.count + extra
        }
    }

    /// `{"name":` for the first key of an object, `,"name":` after it.
    private static func key(_ name: StaticString, first: Bool = false, _ out: inout [UInt8]) {
        out.append(first ? UInt8(ascii: "{") : UInt8(ascii: ","))
        out.append(UInt8(ascii: "\""))
        name.withUTF8Buffer { out.append(contentsOf: $0) }
        out.append(contentsOf: "\":".utf8)
    }

    private static func optional(_ value: String?, _ out: inout [UInt8]) {
        if let value { string(value, &out) } else { out.append(contentsOf: "null".utf8) }
    }

    /// `JSONEncoder`'s string: `"` and `\` escaped, \b \t \n \f \r, other C0 controls
    /// as \u00xx (lower-case hex); everything else, DEL and non-ASCII included, as UTF-8.
    static func string(_ value: String, _ out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var value = value
        value.withUTF8 { bytes in
            var start = 0
            for (index, byte) in bytes.enumerated() where needsEscape(byte) {
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<index]))
                start = index + 1
                out.append(UInt8(ascii: "\\"))
                if let letter = shortEscape(byte) {
                    out.append(letter)
                } else {
                    out.append(contentsOf: "u00".utf8)
                    hex(UInt32(byte), width: 2, &out)
                }
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start...]))
        }
        out.append(UInt8(ascii: "\""))
    }

    /// Appends `value` in decimal, zero-padded to `width` digits (as `%0Nd` does for
    /// values that are not negative).
    static func digits(_ value: Int, width: Int, _ out: inout [UInt8]) {
        var count = 1
        var power = 10
        while power <= value { count += 1; power *= 10 }
        out.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: max(count, width)))
        var index = out.count - 1
        var rest = max(value, 0)
        repeat {
            out[index] = UInt8(ascii: "0") + UInt8(rest % 10)
            rest /= 10
            index -= 1
        } while rest > 0
    }

    /// The bytes `string` escapes: `"`, `\` and the C0 controls.
    @inline(__always)
    static func needsEscape(_ byte: UInt8) -> Bool {
        byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\")
    }

    /// The character after the backslash of an escaped byte's two-character escape
    /// (`\"`, `\n`, …); nil for the others, written `\u00xx`.
    static func shortEscape(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"): return byte
        case 0x08: return UInt8(ascii: "b")
        case 0x09: return UInt8(ascii: "t")
        case 0x0A: return UInt8(ascii: "n")
        case 0x0C: return UInt8(ascii: "f")
        case 0x0D: return UInt8(ascii: "r")
        default: return nil
        }
    }

    /// Appends the low `width` hex digits of `value`, lower case (as `%0Nx`).
    static func hex(_ value: UInt32, width: Int, _ out: inout [UInt8]) {
        for shift in stride(from: (width - 1) * 4, through: 0, by: -4) {
            out.append(hexDigits[Int((value >> UInt32(shift)) & 0xF)])
        }
    }

    static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)
}

extension Journal {
    /// `count` entry IDs as `newID(date:)` makes them, their random parts drawn from one
    /// seed (`newID` asks the kernel once per ID: 100 000 system calls for an import).
    static func newIDs(count: Int, date: Date = Date()) -> [String] {
        guard count > 0 else { return [] }
        let prefix = newID(date: date).dropLast(6)
        // SplitMix64 from one system seed: these bits tell entries apart, they guard nothing.
        var seed = UInt64.random(in: .min ... .max)
        func next() -> UInt64 {
            seed &+= 0x9E37_79B9_7F4A_7C15
            var z = seed
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        var ids: [String] = []
        ids.reserveCapacity(count)
        var random: UInt64 = 0
        var left = 0
        var out: [UInt8] = []
        for _ in 0..<count {
            if left < 24 {
                random = next()
                left = 64
            }
            out.removeAll(keepingCapacity: true)
            JournalEncoding.hex(UInt32(random & 0xFFFFFF), width: 6, &out)
            random >>= 24
            left -= 24
            ids.append(prefix + String(decoding: out, as: UTF8.self))
        }
        return ids
    }
}

extension JournalEntry {
    /// This entry as the journal stores it: one line of JSON, without the newline.
    public func journalLine() throws -> [UInt8] { try JournalEncoding.line(self) }
}
