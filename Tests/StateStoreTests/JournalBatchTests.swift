import Foundation
import Testing
@testable import StateStore

/// `JournalBatch`: entries appended on a thread of their own, on disk when `finish`
/// returns; a journal that cannot be written makes `finish` throw and takes the batch's
/// lines back. Real files and devices, no database.
@Suite struct JournalBatchTests {
    static func entries(_ range: Range<Int>, batch: String = "b") -> [JournalEntry] {
        range.map { i in
            JournalEntry(id: "e\(i)", batch: batch, time: "2026-12-04T00:00:00.000Z", action: "import", stateID: "id-\(i)",
                         database: "u@h:1/db", schema: "s", layout: "two-tables", user: "u", host: "h",
                         before: i % 2 == 0 ? nil : RowSnapshot(partialState: nil, completedState: "{\"v\": \(i)}", updatedAt: "t"),
                         lock: nil, run: nil, note: nil)
        }
    }

    func scratch() throws -> String {
        let directory = NSTemporaryDirectory() + "meltano-state-jbatch-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return directory
    }

    @Test func everyEntryIsOnDiskInOrderAfterFinish() throws {
        let directory = try scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let journal = Journal(path: directory + "/journal.jsonl")
        try journal.append(Self.entries(0..<1, batch: "earlier"))
        let batch = journal.beginBatch(expectedEntries: 5000)
        for start in stride(from: 0, to: 5000, by: 700) { batch.submit(Self.entries(start..<min(start + 700, 5000))) }
        try batch.finish()
        try batch.finish()  // a second call only reports
        let (read, bad) = try journal.entries()
        #expect(bad == 0)
        #expect(read.map(\.id) == ["e0"] + (0..<5000).map { "e\($0)" })
        #expect(read.dropFirst() == Self.entries(0..<5000)[...])
        // The lock is released: a plain append goes on after the batch.
        try journal.append(Self.entries(9..<10))
        #expect(try journal.entries().entries.last?.id == "e9")
    }

    /// A batch that would take a non-empty file past the size rotates it first, as one
    /// append would; the batch itself stays in one file.
    @Test func aBatchRotatesAFileItWouldTakePastTheSize() throws {
        let directory = try scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let journal = Journal(path: directory + "/journal.jsonl", maxFileSize: 20_000)
        try journal.append(Self.entries(0..<10, batch: "earlier"))
        let batch = journal.beginBatch(expectedEntries: 400)
        for start in stride(from: 0, to: 400, by: 50) { batch.submit(Self.entries(start..<start + 50)) }
        try batch.finish()
        #expect(journal.rotatedFiles().map(\.number) == [1])
        let current = try String(contentsOfFile: journal.path, encoding: .utf8).split(separator: "\n")
        #expect(current.count == 400, "the whole batch in the new file")
        #expect(try journal.entries().entries.count == 410)
    }

    /// A full disk (/dev/full: every write fails with ENOSPC): `finish` throws the
    /// journal's error, and `submit` never blocks after the failure, however much is
    /// handed over.
    @Test func aFullDiskFailsTheBatchWithoutBlockingTheWriter() throws {
        let journal = Journal(path: "/dev/full")
        let batch = journal.beginBatch(expectedEntries: 60_000)
        for start in stride(from: 0, to: 60_000, by: 2000) {
            batch.submit(Self.entries(start..<start + 2000))
        }
        #expect(throws: StoreError.self) { try batch.finish() }
        do { try batch.finish() } catch {
            #expect("\(error)".contains("No space left on device"), "\(error)")
            #expect("\(error)".contains("/dev/full"), "\(error)")
        }
        #expect(batch.hasFailed)
    }
}
