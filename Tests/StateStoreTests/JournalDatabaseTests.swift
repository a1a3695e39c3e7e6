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
        let other = "jdb_\(UUID().uuidString.prefix(8).lowercased())"
        try fixture.admin.query("CREATE DATABASE \(quoteIdentifier(other))")
        defer { _ = try? fixture.admin.query("DROP DATABASE IF EXISTS \(quoteIdentifier(other)) WITH (FORCE)") }
        var otherConfiguration = try TestDatabase.configuration()
        otherConfiguration.database = other
        try Connection(otherConfiguration).query("CREATE SCHEMA \(quoteIdentifier(fixture.schema))")
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
        #expect(error?.description.contains("was recorded on") == true && error?.description.contains(other) == true,
                "\(String(describing: error))")
        #expect(try fixture.row("dev:shared")?[1] == #"{"singer_state": {"prod": "precious"}}"#)
        // Its own database takes it back (no row then: the row is deleted).
        try staging.restore(entryID: stagingEntry.id)

        // The same database reached another way (localhost, not 127.0.0.1): its entries
        // are its own, whatever the address.
        let prodEntry = try #require(try fixture.store.history(stateID: "dev:shared").first { $0.server == identity })
        var byName = try TestDatabase.configuration()
        byName.host = "localhost"
        let sameDatabase = try StoreFixture.makeStore(schema: fixture.schema, journalPath: fixture.journalPath, configuration: byName)
        defer { sameDatabase.close() }
        #expect(sameDatabase.location != fixture.store.location && sameDatabase.isRecordedHere(prodEntry))
        try sameDatabase.restore(entryID: prodEntry.id)
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
}
