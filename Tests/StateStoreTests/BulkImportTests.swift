import Foundation
import Postgres
import StateJSON
import StateStore
import TestSupport
import Testing

/// `import` writes rows that do not exist yet with one COPY; these check that the rows,
/// the locks and the journal come out as with the upsert it replaces.
@Suite("Import by COPY")
struct BulkImportTests {
    static func entries(_ ids: [String], value: Int) -> [ImportEntry] {
        ids.map { ImportEntry(stateID: $0, completed: ["singer_state": ["v": .number(JSONNumber(value)), "id": .string(JSONString($0))]],
                              partial: .null) }
    }

    @Test func newAndExistingRowsTogether() throws {
        let fixture = try StoreFixture(schemaPrefix: "bulk")
        try fixture.store.set("old", to: ["singer_state": ["v": 0]])
        let awkward = ["new\ttab", "new\\back", "new\nline", "old", "new é 😀"]
        #expect(try fixture.store.importStates(Self.entries(awkward, value: 7)) == awkward.count)
        for id in awkward {
            let row = try #require(try fixture.row(id))
            #expect(row[0] == nil, "\(id): partial")
            #expect(row[1] == JSONValue.object(["singer_state": ["v": 7, "id": .string(JSONString(id))]]).meltanoText, "\(id)")
        }
        #expect(try fixture.lockRows().isEmpty, "every lock released")
        let journal = try fixture.store.history()
        #expect(Set(journal.map(\.stateID)) == Set(awkward))
        #expect(journal.first { $0.stateID == "old" }?.before?.completedState?.contains("\"v\": 0") == true)
        #expect(journal.filter { $0.stateID != "old" }.allSatisfy { $0.before == nil })
    }

    /// Meltano's own import takes no lock: a row written between our journal read and our
    /// COPY makes the COPY fail; the rows are then upserted, all in the same transaction.
    @Test func aRowWrittenMeanwhileFallsBackToTheUpsert() throws {
        let fixture = try StoreFixture(schemaPrefix: "bulkrace")
        // The trigger writes 'c' once (a sequence is not rolled back), while the COPY runs.
        try fixture.admin.query("CREATE SEQUENCE \(quoteIdentifier(fixture.schema)).once")
        try fixture.admin.query("""
            CREATE FUNCTION \(quoteIdentifier(fixture.schema)).sneak() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF NEW.state_id = 'a' AND nextval('\(quoteIdentifier(fixture.schema)).once') = 1 THEN
                INSERT INTO \(fixture.stateTable) (state_id, completed_state) VALUES ('c', '{"sneaked": true}') ON CONFLICT DO NOTHING;
              END IF;
              RETURN NEW;
            END $$
            """)
        try fixture.admin.query("""
            CREATE TRIGGER sneak BEFORE INSERT ON \(fixture.stateTable) FOR EACH ROW EXECUTE FUNCTION \(quoteIdentifier(fixture.schema)).sneak();
            """)
        #expect(try fixture.store.importStates(Self.entries(["a", "b", "c"], value: 1)) == 3)
        let rows = try fixture.rows()
        #expect(rows.map { $0[0] } == ["a", "b", "c"])
        #expect(rows.allSatisfy { $0[2]?.contains("\"v\": 1") == true }, "\(rows)")
        #expect(try fixture.lockRows().isEmpty)
    }

    @Test func aLockHeldByAnotherTakesNothing() throws {
        let fixture = try StoreFixture(schemaPrefix: "bulklock")
        try fixture.admin.query("INSERT INTO \(fixture.locksTable) (state_id, lock_id) VALUES ('b', 'someone-else')")
        #expect(throws: StoreError.self) { try fixture.store.importStates(Self.entries(["a", "b", "c"], value: 1)) }
        #expect(try fixture.rows().isEmpty)
        #expect(try fixture.lockRows() == [["b", "someone-else"]], "only the other holder's lock remains")
    }

    /// The journal is written on a thread of its own while the rows go to the server,
    /// and the commit waits for it. Here the journal is a FIFO that nobody reads: its
    /// writer blocks once the pipe is full, while the import's rows are already sent but
    /// not committed (its transaction holds the table; no new row is visible). Once the
    /// pipe is read, the journal's fsync fails (a pipe cannot be synced): a real failure
    /// of the journal write, after the rows were sent, and the import is rolled back.
    @Test func theCommitWaitsForTheJournalAndItsFailureRollsBack() throws {
        let directory = NSTemporaryDirectory() + "meltano-state-fifo-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let fifo = directory + "/journal.jsonl"
        try #require(mkfifo(fifo, 0o600) == 0)
        let reader = open(fifo, O_RDONLY | O_NONBLOCK)  // so the journal opens; nothing read yet
        try #require(reader >= 0)
        defer { close(reader) }

        let fixture = try StoreFixture(schemaPrefix: "bulkfifo")
        try fixture.store.set("old", to: ["singer_state": ["v": 0]])
        let before = try fixture.rows()
        let store = try StoreFixture.makeStore(schema: fixture.schema, journalPath: fifo)
        let entries = Self.entries((0..<3000).map { "id-\($0)" } + ["old"], value: 1)
        let outcome = ImportOutcome()
        let thread = Thread { outcome.set(Result { try store.importStates(entries) }) }
        thread.start()

        // The rows were sent in the import's transaction (it holds the table) …
        let holdsTable = try waitUntil(timeout: 60) {
            try fixture.admin.query("""
                SELECT count(*) FROM pg_locks WHERE relation = '\(fixture.stateTable)'::regclass AND mode = 'RowExclusiveLock' AND granted
                """, idempotent: true).scalar == "1"
        }
        #expect(holdsTable, "the import's transaction wrote the rows while the journal was still being written")
        // … but it waits for the journal: nothing is committed, the import goes on.
        #expect(try fixture.rows() == before)
        #expect(outcome.result == nil)

        // Read the pipe until the import ends.
        var journalBytes = 0
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        let ended = waitUntil(timeout: 60, interval: 0.005) {
            while true {
                let n = chunk.withUnsafeMutableBytes { read(reader, $0.baseAddress, $0.count) }
                if n <= 0 { break }
                journalBytes += n
            }
            return outcome.result != nil
        }
        try #require(ended)
        #expect(journalBytes > 1 << 16, "the entries went through the pipe")
        guard case let .failure(error)? = outcome.result else {
            Issue.record("the import succeeded although its journal could not be synced")
            return
        }
        #expect(String(describing: error).contains("backup journal could not be written"), "\(error)")
        #expect(try fixture.rows() == before, "rolled back: nothing imported")
        #expect(try fixture.lockRows().isEmpty, "every lock released")
    }
}

/// The result of an import run on another thread.
final class ImportOutcome: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Result<Int, any Error>?
    var result: Result<Int, any Error>? { lock.withLock { value } }
    func set(_ result: Result<Int, any Error>) { lock.withLock { value = result } }
}
