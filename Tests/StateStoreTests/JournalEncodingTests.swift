import Foundation
@testable import StateStore
import Testing

/// The journal's hand-written encoder writes exactly what `JSONEncoder` writes.
@Suite("Journal encoding without JSONEncoder")
struct JournalEncodingTests {
    static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    static let awkward: [String] = {
        var values = ["", "plain", "dev:tap-github-to-target-postgres", "quote\"back\\slash/slash", "日本語 😀 é e\u{301}",
                      "\u{7f}\u{80}\u{9b}\u{2028}\u{2029}\u{feff}\u{ffff}", "{\"singer_state\": {\"a\": 1}}", "\u{10FFFD}"]
        values.append(String((0..<0x80).map { Character(Unicode.Scalar(UInt8($0))) }))
        return values
    }()

    static func randomString(_ generator: inout SystemRandomNumberGenerator) -> String {
        let pool: [Unicode.Scalar] = (0..<0x80).map { Unicode.Scalar(UInt8($0)) } + ["é", "\u{2028}", "😀", "\u{9b}", "\u{fffd}"]
        let length = Int.random(in: 0..<12, using: &generator)
        return String(String.UnicodeScalarView((0..<length).map { _ in pool.randomElement(using: &generator)! }))
    }

    @Test func sameBytesAsJSONEncoder() throws {
        var generator = SystemRandomNumberGenerator()
        var entries: [JournalEntry] = []
        for value in Self.awkward {
            for before in [nil, RowSnapshot(partialState: nil, completedState: value, updatedAt: "2026-11-25 01:02:03.456"),
                           RowSnapshot(partialState: value, completedState: nil, updatedAt: nil)] {
                entries.append(JournalEntry(id: Journal.newID(), batch: value.isEmpty ? nil : value, time: Journal.timestamp(),
                                            action: "import", stateID: value, database: "u@h:5432/\(value)", schema: value,
                                            layout: "two-tables", user: value, host: value, before: before, note: value.isEmpty ? nil : value,
                                            server: value.isEmpty ? nil : value, table: value.isEmpty ? nil : value))
            }
        }
        for _ in 0..<2000 {
            func r() -> String { Self.randomString(&generator) }
            let before = Bool.random(using: &generator) ? nil : RowSnapshot(partialState: Bool.random() ? nil : r(), completedState: Bool.random() ? nil : r(),
                                                                             updatedAt: Bool.random() ? nil : r())
            entries.append(JournalEntry(id: r(), batch: Bool.random() ? nil : r(), time: r(), action: r(), stateID: r(), database: r(),
                                        schema: r(), layout: r(), user: r(), host: r(), before: before, note: Bool.random() ? nil : r(),
                                        server: Bool.random() ? nil : r(), table: Bool.random() ? nil : r()))
        }
        let encoder = Self.encoder()
        for entry in entries {
            var mine: [UInt8] = []
            #expect(JournalEncoding.append(entry, to: &mine))
            let theirs = Array(try encoder.encode(entry))
            #expect(mine == theirs, "\(String(decoding: mine, as: UTF8.self)) vs \(String(decoding: theirs, as: UTF8.self))")
            #expect(try JSONDecoder().decode(JournalEntry.self, from: Data(mine)) == entry)
        }
    }

    @Test func entriesWithALockOrARunAreLeftToJSONEncoder() throws {
        let lock = LockInfo(stateID: "a", lockID: "l", lockedAt: "2026-11-25 01:02:03", ageSeconds: 1, isStale: false)
        let entry = JournalEntry(id: "x", batch: nil, time: "t", action: "unlock", stateID: "a", database: "d", schema: "s",
                                 layout: "two-tables", user: "u", host: "h", before: nil, lock: lock, run: nil, note: nil)
        var out: [UInt8] = []
        #expect(!JournalEncoding.append(entry, to: &out))
        #expect(out.isEmpty)
    }

    @Test func oneLineWriterForTheJournalAndHistoryJSON() throws {
        let lock = LockInfo(stateID: "a\u{7F}\u{85}", lockID: "l/1", lockedAt: "2026-11-25 01:02:03", ageSeconds: 1.5, isStale: true)
        let plain = JournalEntry(id: "x", batch: "b", time: "t", action: "set", stateID: "é\u{7F}\u{85}\u{1}/\"", database: "d",
                                 schema: "s", layout: "two-tables", user: "u", host: "h",
                                 before: RowSnapshot(partialState: nil, completedState: "{\"a\": 1}", updatedAt: nil), note: "n")
        let locked = JournalEntry(id: "y", batch: nil, time: "t", action: "unlock", stateID: "a", database: "d", schema: "s",
                                  layout: "two-tables", user: "u", host: "h", before: nil, lock: lock, run: nil, note: nil)
        let encoder = Self.encoder()
        let directory = NSTemporaryDirectory() + "meltano-state-line-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let journal = Journal(path: directory + "/journal.jsonl")
        try journal.append([plain, locked])
        let stored = try Data(contentsOf: URL(fileURLWithPath: journal.path))
        #expect(Array(stored) == (try plain.journalLine()) + [0x0A] + (try locked.journalLine()) + [0x0A])
        for entry in [plain, locked] {
            #expect(try entry.journalLine() == Array(try encoder.encode(entry)))
            #expect(try JSONDecoder().decode(JournalEntry.self, from: Data(try entry.journalLine())) == entry)
        }
    }

    @Test func idsAndTimestampsAsStringFormatWroteThem() {
        for seconds in [0.0, 1.999, 951_782_400.5, 1_795_568_693.561996, 4_102_444_799.9995, Date().timeIntervalSince1970] {
            let date = Date(timeIntervalSince1970: seconds)
            let seconds = date.timeIntervalSince1970  // as Date stores it
            var t = time_t(seconds.rounded(.down))
            var parts = tm()
            gmtime_r(&t, &parts)
            let millis = Int((seconds - seconds.rounded(.down)) * 1000)
            let timestamp = String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
                                   parts.tm_hour, parts.tm_min, parts.tm_sec, millis)
            #expect(Journal.timestamp(date) == timestamp)
            let id = Journal.newID(date: date)
            let prefix = String(format: "%04d%02d%02dT%02d%02d%02dZ-", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
                                parts.tm_hour, parts.tm_min, parts.tm_sec)
            #expect(id.hasPrefix(prefix), "\(id)")
            #expect(id.count == prefix.count + 6 && id.suffix(6).allSatisfy { "0123456789abcdef".contains($0) }, "\(id)")
        }
    }

    @Test func idsInBulkLookLikeSingleOnes() {
        let date = Date(timeIntervalSince1970: 1_795_568_693.5)
        let single = Journal.newID(date: date)
        let many = Journal.newIDs(count: 1000, date: date)
        #expect(many.count == 1000)
        for id in many {
            #expect(id.count == single.count && id.dropLast(6) == single.dropLast(6), "\(id) vs \(single)")
            #expect(id.suffix(6).allSatisfy { "0123456789abcdef".contains($0) }, "\(id)")
        }
        #expect(Set(many).count > 990, "random parts")
        #expect(Journal.newIDs(count: 0).isEmpty)
    }
}
