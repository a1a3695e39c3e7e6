import Foundation
import Postgres
import StateJSON
import StateStore
import TestSupport
import Testing

/// One journal serves every context and server (`~/.local/state/meltano-state`): an
/// entry is restored only into the database it was recorded on. A black-box tester
/// restored a staging entry with a prod context, and prod's row was deleted.
@Suite("Journal entries stay with their database")
struct JournalDatabaseTests {
    @Test func anEntryOfAnotherDatabaseIsNeverRestoredHere() throws {
        let fixture = try StoreFixture(schemaPrefix: "jdb")
        let identity = try #require(fixture.store.databaseIdentity)
        let name = try #require(try fixture.admin.query("SELECT current_database()").scalar)
        #expect(identity.hasSuffix("/" + name) && identity.count > name.count + 5, "\(identity)")

        // A second database on the same server, the same schema name, the same journal.
        let other = try TestDatabase.secondDatabase()
        var otherConfiguration = try TestDatabase.configuration()
        otherConfiguration.database = other
        let otherAdmin = try TestDatabase.connect(database: other)
        try otherAdmin.query("CREATE SCHEMA \(quoteIdentifier(fixture.schema))")
        defer { TestDatabase.dropSchema(fixture.schema, on: otherAdmin) }
        let staging = try StoreFixture.makeStore(schema: fixture.schema, journalPath: fixture.journalPath, configuration: otherConfiguration)
        defer { staging.close() }
        try staging.createTablesIfMissing()
        #expect(staging.databaseIdentity == identity.dropLast(name.count) + other)

        try fixture.store.set("dev:shared", to: json(#"{"singer_state": {"prod": "precious"}}"#))
        try staging.set("dev:shared", to: json(#"{"singer_state": {"staging": 1}}"#))
        let stagingEntry = try #require(try staging.history(stateID: "dev:shared").first)
        #expect(stagingEntry.server == staging.databaseIdentity && stagingEntry.before == nil)
        #expect(!fixture.store.isRecordedHere(stagingEntry) && staging.isRecordedHere(stagingEntry))
        let error = #expect(throws: StoreError.self) { try fixture.store.restore(entryID: stagingEntry.id) }
        #expect(error?.description.contains("was recorded through another connection") == true && error?.description.contains(other) == true,
                "\(String(describing: error))")
        #expect(try fixture.row("dev:shared")?[1] == #"{"singer_state": {"prod": "precious"}}"#)
        // Its own database takes it back (no row then: the row is deleted).
        try staging.restore(entryID: stagingEntry.id)

        // The same database reached another way (localhost, not 127.0.0.1): refused too,
        // since a clone of it (pg_basebackup) would share its identity; the connection
        // the entry names restores it.
        let prodEntry = try #require(try fixture.store.history(stateID: "dev:shared").first { $0.server == identity })
        #expect(prodEntry.table == "meltano_state" && prodEntry.layout == "two-tables")
        var byName = try TestDatabase.configuration()
        byName.host = "localhost"
        let sameDatabase = try StoreFixture.makeStore(schema: fixture.schema, journalPath: fixture.journalPath, configuration: byName)
        defer { sameDatabase.close() }
        #expect(sameDatabase.databaseIdentity == identity && !sameDatabase.isRecordedHere(prodEntry))
        let another = #expect(throws: StoreError.self) { try sameDatabase.restore(entryID: prodEntry.id) }
        #expect(another?.description.contains("through another connection") == true, "\(String(describing: another))")
        try fixture.store.restore(entryID: prodEntry.id)
        #expect(try fixture.row("dev:shared") == nil)  // the set found no row: restored as none

        // An entry of an earlier version names only the connection: restored where the
        // connection is the one it names, refused elsewhere.
        var old = prodEntry
        old.server = nil
        old.id = "20261201T000000Z-0ld001"
        try Journal(path: fixture.journalPath).append([old])
        #expect(fixture.store.isRecordedHere(old) && !sameDatabase.isRecordedHere(old))
        #expect(throws: StoreError.self) { try sameDatabase.restore(entryID: old.id) }
    }

    /// In one database: an entry goes back only into the tables it was recorded for,
    /// the layout, the schema and the single-table layout's table; a released lock too
    /// (put back elsewhere, it would be a dead lock in another project's tables).
    @Test func anEntryOfOtherTablesIsNeverRestoredHere() throws {
        let fixture = try StoreFixture(schemaPrefix: "jtb")
        func store(layout: StorageLayout, table: String = "state", schema: String? = nil) throws -> StateStore {
            let connection = try Connection(TestDatabase.configuration())
            let made = StateStore(connection: connection, options: StoreOptions(
                schema: schema ?? fixture.schema, layout: layout, table: table, lockTimeout: 2, lockRetryInterval: 0.05,
                journal: Journal(path: fixture.journalPath)))
            try made.createTablesIfMissing()
            return made
        }
        let tableA = try store(layout: .singleTable, table: "ta"), tableB = try store(layout: .singleTable, table: "tb")
        defer { tableA.close(); tableB.close() }
        try tableA.set("job", to: json(#"{"singer_state": {"proj": "A", "v": 1}}"#))
        try tableA.set("job", to: json(#"{"singer_state": {"proj": "A", "v": 2}}"#))
        try tableB.set("job", to: json(#"{"singer_state": {"proj": "B", "v": 9}}"#))
        let entryA = try #require(try tableA.history(stateID: "job").first { $0.table == "ta" && $0.before != nil })
        func refusal(_ target: StateStore, _ entry: JournalEntry) -> String {
            let error = #expect(throws: StoreError.self) { try target.restore(entryID: entry.id) }
            return error?.description ?? ""
        }
        #expect(refusal(tableB, entryA).contains("for table 'ta', not 'tb'"))
        #expect(refusal(fixture.store, entryA).contains("for the single-table layout, not two-tables"))
        let otherSchema = try TestDatabase.freshSchema("jtb", on: fixture.admin)
        defer { TestDatabase.dropSchema(otherSchema, on: fixture.admin) }
        let elsewhere = try store(layout: .twoTables, schema: otherSchema)
        defer { elsewhere.close() }
        // A released lock of this schema is not put back into another schema's lock table.
        try fixture.admin.query("INSERT INTO \(fixture.locksTable) (state_id, lock_id) VALUES ('lk', '9295f5b2-c972-4535-b362-1d33e509c603')")
        _ = try fixture.store.release(stateID: "lk", lockID: "9295f5b2-c972-4535-b362-1d33e509c603")
        let unlockEntry = try #require(try fixture.store.history(stateID: "lk").first { $0.lock != nil })
        #expect(refusal(elsewhere, unlockEntry).contains("for schema '\(fixture.schema)', not '\(otherSchema)'"))
        #expect(try fixture.admin.query("SELECT count(*) FROM \(quoteIdentifier(otherSchema)).meltano_state_locks").scalar == "0")
        // Each in its own tables: restored.
        try tableA.restore(entryID: entryA.id)
        try fixture.store.restore(entryID: unlockEntry.id)
        #expect(try fixture.lockRows() == [["lk", "9295f5b2-c972-4535-b362-1d33e509c603"]])
        #expect(try fixture.admin.query("SELECT completed_state FROM \(quoteIdentifier(fixture.schema)).tb WHERE state_id = 'job'").scalar
                == #"{"singer_state": {"proj": "B", "v": 9}}"#)
    }
}
