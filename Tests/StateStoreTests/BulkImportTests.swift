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
}
