import Foundation
import Testing
import TestSupport
import Postgres
@testable import StateStore

/// The journal rotates at `maxFileSize` (64 MiB by default; small here), keeps the old
/// files, and reads them all, oldest first, streaming.
@Suite("Journal rotation")
struct JournalRotationTests {
    static func directory() -> String {
        NSTemporaryDirectory() + "meltano-state-rotation-\(UUID().uuidString)"
    }

    static func entry(_ stateID: String, note: String? = nil) -> JournalEntry {
        JournalEntry(id: Journal.newID(), batch: nil, time: Journal.timestamp(), action: "set", stateID: stateID,
                     database: "u@h:5432/db", schema: "public", layout: "two-tables", user: "u", host: "h",
                     before: RowSnapshot(partialState: nil, completedState: #"{"singer_state": {"n": 1}}"#, updatedAt: nil),
                     note: note)
    }

    static func size(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? -1
    }

    @Test func rotatesAtTheSizeAndKeepsEveryFile() throws {
        let directory = Self.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let journal = Journal(path: directory + "/journal.jsonl", maxFileSize: 1000)
        #expect(Journal(path: "x").maxFileSize == 64 * 1024 * 1024)
        var written: [JournalEntry] = []
        for index in 0..<20 {
            let entry = Self.entry("id-\(index)")
            try journal.append([entry])
            written.append(entry)
        }
        let rotated = journal.rotatedFiles()
        #expect(rotated.count >= 4, "\(rotated)")
        #expect(rotated.map(\.number) == Array(1...rotated.count))
        for file in rotated.map(\.path) + [journal.path] {
            let size = Self.size(file)
            #expect(size > 0 && size <= 1000, "\(file): \(size)")
            let mode = (try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? NSNumber)?.intValue
            #expect(mode == 0o600, "\(file)")
        }
        let (entries, bad) = try journal.entries()
        #expect(bad == 0)
        #expect(entries == written)
        // Each file holds whole lines, the oldest in .1.
        let first = try String(contentsOfFile: rotated[0].path, encoding: .utf8)
        #expect(first.hasPrefix("{") && first.hasSuffix("\n") && first.contains(#""state_id":"id-0""#))
    }

    @Test func onlyNumberedFilesBesideItAreRotatedFiles() throws {
        let directory = Self.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for name in ["journal.jsonl.2", "journal.jsonl.10", "journal.jsonl.1", "journal.jsonl.bak", "journal.jsonl.+3",
                     "journal.jsonl.04", "journal.jsonl.", "journal.jsonl.٣", "other.jsonl.5", "journal.jsonl.0"] {
            #expect(FileManager.default.createFile(atPath: directory + "/" + name, contents: Data()))
        }
        let journal = Journal(path: directory + "/journal.jsonl", maxFileSize: 10)
        #expect(journal.rotatedFiles().map(\.number) == [1, 2, 10])
        try journal.append([Self.entry("a")])
        try journal.append([Self.entry("b")])  // rotates to .11, after the highest
        #expect(journal.rotatedFiles().map(\.number) == [1, 2, 10, 11])
        #expect(try journal.entries().entries.map(\.stateID) == ["a", "b"])
    }

    @Test func anAppendLargerThanTheSizeStaysInOneFile() throws {
        let directory = Self.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let journal = Journal(path: directory + "/journal.jsonl", maxFileSize: 500)
        let batch = (0..<10).map { Self.entry("batch-\($0)") }
        try journal.append(batch)  // into the empty file: no rotation
        #expect(journal.rotatedFiles().isEmpty)
        try journal.append([Self.entry("next")])  // the full file rotates first
        #expect(journal.rotatedFiles().count == 1)
        let rotatedText = try String(contentsOfFile: journal.rotatedFiles()[0].path, encoding: .utf8)
        #expect(rotatedText.split(separator: "\n").count == 10)
        #expect(try journal.entries().entries.map(\.stateID) == batch.map(\.stateID) + ["next"])
    }

    @Test func linesLongerThanAReadAreReadWhole() throws {
        let directory = Self.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let journal = Journal(path: directory + "/journal.jsonl")
        let long = String(repeating: "é", count: 600_000)  // 1.2 MB of UTF-8: over a 1 MiB read
        let entries = [Self.entry("a"), Self.entry("b", note: long), Self.entry("c")]
        try journal.append(entries)
        try FileHandle(forWritingAtPath: journal.path).map { handle in
            handle.seekToEndOfFile()
            handle.write(Data("not json\n\n".utf8))
            handle.write(try JSONEncoder().encode(Self.entry("last, no newline")))
            handle.closeFile()
        }
        let (read, bad) = try journal.entries()
        #expect(bad == 1)
        #expect(read.map(\.stateID) == ["a", "b", "c", "last, no newline"])
        #expect(read[1].note == long)
    }

    /// Lines are cut where the 1 MiB reads end: a newline as a block's last byte, as
    /// the next block's first, a line over three blocks, empty lines between.
    @Test func linesAreReadWholeWhereverTheReadsCutThem() throws {
        let directory = Self.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let block = 1 << 20
        let lines: [[UInt8]] = [
            Array(repeating: UInt8(ascii: "a"), count: block - 1),  // its newline ends the first block
            Array(repeating: UInt8(ascii: "b"), count: block),  // its newline is the third block's first byte
            Array(repeating: UInt8(ascii: "c"), count: 3 * block + 17),
            Array("short".utf8),
        ]
        var file: [UInt8] = []
        for (index, line) in lines.enumerated() {
            file += line + [0x0A]
            if index == 2 { file += [0x0A, 0x0A] }
        }
        let path = directory + "/lines"
        try Data(file).write(to: URL(fileURLWithPath: path))
        var read: [[UInt8]] = []
        try Journal.forEachLine(of: path) { read.append([UInt8]($0)) }
        #expect(read.count == lines.count)
        #expect(read == lines)
    }

    /// A writer killed half-way through a line leaves it torn: the next entry goes on a
    /// line of its own instead of being glued to it (and lost to history and restore).
    @Test func aTornLastLineDoesNotSwallowTheNextEntry() throws {
        let directory = Self.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let journal = Journal(path: directory + "/journal.jsonl")
        try journal.append([Self.entry("before")])
        let handle = try #require(FileHandle(forWritingAtPath: journal.path))
        handle.seekToEndOfFile()
        handle.write(Data(#"{"action":"set","id":"t"#.utf8))
        handle.closeFile()
        try journal.append([Self.entry("after")])
        let (read, bad) = try journal.entries()
        #expect(read.map(\.stateID) == ["before", "after"])
        #expect(bad == 1)
        try journal.append([Self.entry("again")])  // a file that ends well gets no empty line
        #expect(try String(contentsOfFile: journal.path, encoding: .utf8).components(separatedBy: "\n").filter(\.isEmpty).count == 1)
    }

    @Test func twoWritersRotatingAtOnceLoseNothing() throws {
        let directory = Self.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/journal.jsonl"
        let ids = UnsafeSendable(Array(repeating: [String](), count: 4))
        DispatchQueue.concurrentPerform(iterations: 4) { writer in
            let journal = Journal(path: path, maxFileSize: 2000)  // each its own, as separate processes
            var mine: [String] = []
            for index in 0..<40 {
                let entry = Self.entry("w\(writer)-\(index)")
                try! journal.append([entry])
                mine.append(entry.id)
            }
            ids.set(writer, mine)
        }
        let journal = Journal(path: path, maxFileSize: 2000)
        let (entries, bad) = try journal.entries()
        #expect(bad == 0)
        #expect(entries.count == 160)
        #expect(Set(entries.map(\.id)) == Set(ids.value.flatMap { $0 }))
        for writer in 0..<4 {
            // Each writer's entries in the order it wrote them.
            #expect(entries.filter { $0.stateID.hasPrefix("w\(writer)-") }.map(\.id) == ids.value[writer])
        }
        for file in journal.rotatedFiles().map(\.path) + [path] { #expect(Self.size(file) <= 2000, "\(file)") }
    }

    @Test func historyAndRestoreReadTheRotatedFiles() throws {
        let fixture = try StoreFixture()
        let journal = Journal(path: fixture.journalPath, maxFileSize: 1500)
        let store = StateStore(connection: try Connection(TestDatabase.configuration()), options: StoreOptions(
            schema: fixture.schema, layout: .twoTables, lockTimeout: 2, lockRetryInterval: 0.05, journal: journal))
        try store.set("a", to: json(#"{"singer_state": {"v": 1}}"#))
        try store.set("a", to: json(#"{"singer_state": {"v": 2}}"#))
        let second = try #require(store.history(stateID: "a").first)
        #expect(second.before?.completedState == #"{"singer_state": {"v": 1}}"#)
        for index in 0..<12 { try store.set("other-\(index)", to: json(#"{"singer_state": {}}"#)) }
        #expect(journal.rotatedFiles().count >= 2, "\(journal.rotatedFiles())")
        let current = try String(contentsOfFile: journal.path, encoding: .utf8)
        #expect(!current.contains(second.id), "the entry is in a rotated file now")

        let history = try store.history()
        #expect(history.count == 14)
        #expect(history.last?.stateID == "a" && history.first?.stateID == "other-11")  // newest first
        #expect(try store.history(stateID: "a").map(\.id) == [second.id, history.last!.id])

        try store.restore(entryID: second.id)
        #expect(try fixture.store.getRaw("a")?.completedState == #"{"singer_state": {"v": 1}}"#)
        #expect(try store.history(stateID: "a").first?.action == "restore")
    }

    /// The listing form (`history` and the browser): each entry made a row as it is
    /// read, the newest `limit` kept, newest first, across the rotated files.
    @Test func aListingKeepsTheNewestRowsNewestFirst() throws {
        let directory = Self.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let journal = Journal(path: directory + "/journal.jsonl", maxFileSize: 700)
        let entries = (0..<25).map { Self.entry($0 % 3 == 0 ? "a" : "b", note: "n\($0)") }
        for entry in entries { try journal.append([entry]) }
        #expect(journal.rotatedFiles().count >= 3)
        let all = entries.map { $0.note! }
        #expect(try journal.history { $0.note } == Array(all.reversed()))
        #expect(try journal.history(limit: 4) { $0.note } == ["n24", "n23", "n22", "n21"])
        for limit in [1, 2, 3, 5, 9, 24, 25, 26, 100, Int.max] {
            #expect(try journal.history(limit: limit) { $0.note } == Array(all.reversed().prefix(limit)), "limit \(limit)")
        }
        let ofA = entries.filter { $0.stateID == "a" }.map { $0.note! }
        #expect(try journal.history(stateID: "a", limit: 3) { $0.note } == Array(ofA.reversed().prefix(3)))
        // nil leaves an entry out before the limit counts.
        #expect(try journal.history(limit: 2) { $0.note == "n24" ? nil : $0.note } == ["n23", "n22"])
    }

    /// Only lines holding the state ID's JSON string are decoded: IDs with characters
    /// JSON escapes are found, an ID that only appears inside another's saved state is
    /// not taken for it, and a line spaced by hand is read too.
    @Test func historyOfOneIDFindsItsLinesAndOnlyThem() throws {
        let directory = Self.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let journal = Journal(path: directory + "/journal.jsonl")
        let odd = "prod:\"q\"\\b/\u{1}é😀"
        var inside = Self.entry("other", note: "holds it")
        inside.before = RowSnapshot(partialState: nil, completedState: "{\"singer_state\": {\"id\": \"\(odd)\"}}", updatedAt: nil)
        for entry in [Self.entry(odd, note: "1"), inside, Self.entry("prod:q", note: "2"), Self.entry(odd, note: "3")] {
            try journal.append([entry])
        }
        var handSpaced = Self.entry("by-hand", note: "4")
        handSpaced.id = "20260101T000000Z-abcdef"
        let line = String(decoding: try JournalEncoding.line(handSpaced), as: UTF8.self).replacingOccurrences(of: "\"state_id\":", with: "\"state_id\" :  ")
        let handle = try #require(FileHandle(forWritingAtPath: journal.path))
        handle.seekToEndOfFile()
        handle.write(Data((line + "\n").utf8))
        try handle.close()
        #expect(try journal.history(stateID: odd) { $0.note } == ["3", "1"])
        #expect(try journal.history(stateID: "by-hand") { $0.note } == ["4"])
        #expect(try journal.entries(idOrBatch: "20260101T000000Z-abcdef").map(\.note) == ["4"])
    }
}

extension JournalRotationTests {
    /// Lines written by other JSON writers (Python's json.dumps: é as \u00e9 and / as it
    /// is; jq: UTF-8 as it is; upper-case hex) are found by `history ID` too, and an ID
    /// written with é as one scalar is told apart from one with e + U+0301.
    @Test func historyFindsLinesOtherWritersEscapedDifferently() throws {
        let directory = Self.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let journal = Journal(path: directory + "/journal.jsonl")
        let id = "prod/caf\u{E9}:x", decomposed = "prod/cafe\u{301}:x"
        try journal.append([Self.entry(id, note: "ours"), Self.entry(decomposed, note: "decomposed")])
        let ours = String(decoding: try JournalEncoding.line(Self.entry(id, note: "template")), as: UTF8.self)
        var lines: [String] = []
        for (note, spelled) in [("python", #""prod/caf\u00e9:x""#), ("jq", "\"prod/caf\u{E9}:x\""), ("upper", #""prod\/caf\u00E9:x""#)] {
            var entry = Self.entry(id, note: note)
            entry.id = "20260101T00000\(lines.count)Z-abcdef"
            let line = String(decoding: try JournalEncoding.line(entry), as: UTF8.self)
            let encodedID = try #require(ours.firstMatch(of: /"state_id":("(?:[^"\\]|\\.)*")/)?.1)
            lines.append(line.replacingOccurrences(of: "\"state_id\":" + encodedID, with: "\"state_id\":" + spelled))
        }
        let handle = try #require(FileHandle(forWritingAtPath: journal.path))
        handle.seekToEndOfFile()
        handle.write(Data(lines.map { $0 + "\n" }.joined().utf8))
        try handle.close()
        #expect(try journal.history(stateID: id) { $0.note } == ["upper", "jq", "python", "ours"])
        #expect(try journal.history(stateID: decomposed) { $0.note } == ["decomposed"])
        // No run of 3 plain bytes: every line is read, and still only its own entries.
        try journal.append([Self.entry("é/é", note: "short")])
        #expect(try journal.history(stateID: "é/é") { $0.note } == ["short"])
    }
}

/// A box the concurrent writers fill, each its own slot.
final class UnsafeSendable<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value
    init(_ value: Value) { stored = value }
    var value: Value { lock.lock(); defer { lock.unlock() }; return stored }
    func set<Element>(_ index: Int, _ element: Element) where Value == [Element] {
        lock.lock(); stored[index] = element; lock.unlock()
    }
}
