import Foundation
import Postgres
import StateStore
import Testing
import TestSupport

/// `sync` with the real binary between the three layouts, each in a schema of its own:
/// context `two` (the add-on's two tables; the fixture's schema), `single` (the later
/// add-on's one table), `sysdb` (Meltano's system database tables), `back` (two tables
/// again, for the way back).
@Suite("sync (CLI)")
struct SyncCLITests {
    final class Layouts: @unchecked Sendable {
        let fixture: CLIFixture
        let single: String, sysdb: String, back: String
        /// Environment prefixes of the state IDs, unique to this test: advisory locks are
        /// per database, shared by every test's schema.
        let dev: String, prod: String

        init() throws {
            let tag = String(UUID().uuidString.prefix(6)).lowercased()
            dev = "dev" + tag
            prod = "prod" + tag
            fixture = try CLIFixture(schemaPrefix: "synctwo")
            single = try TestDatabase.freshSchema("syncone", on: fixture.admin)
            sysdb = try TestDatabase.freshSchema("syncsys", on: fixture.admin)
            back = try TestDatabase.freshSchema("syncback", on: fixture.admin)
            try MeltanoSystemDB.createTables(inSchema: sysdb, on: fixture.admin)
            let config = try TestDatabase.configuration()
            let libpq = "postgresql://\(config.user!)@\(config.host!):\(config.port!)/\(config.database!)?options=-csearch_path%3D"
            try fixture.writeConfig("""
                contexts:
                  two:
                    uri: \(try fixture.uri(schema: fixture.schema))
                  single:
                    uri: \(libpq)\(single)
                    layout: single-table
                  sysdb:
                    uri: systemdb
                    database_uri: \(libpq)\(sysdb)
                  back:
                    uri: \(try fixture.uri(schema: back))
                  frozen:
                    uri: \(try fixture.uri(schema: back))
                    read_only: true
                """)
            for (id, verb, json) in [
                ("\(dev):a", "set", #"{"singer_state": {"bookmarks": {"users": {"updated_at": "2024-01-01"}}}}"#),
                ("\(dev):b", "merge", #"{"singer_state": {"partial": true}}"#),
                ("\(dev):c", "set", #"{"singer_state": {"big": 123456789012345678901234567890, "f": 1.5e300, "s": "é\u2028✓"}}"#),
                ("\(dev):c", "merge", #"{"singer_state": {"more": [1, 2.50, null]}}"#),
                ("\(prod):d", "set", #"{"singer_state": {}, "x": ""}"#),
            ] {
                let result = try fixture.run([verb] + (verb == "set" ? ["--force"] : []) + ["--context", "two", id, json])
                #expect(result.status == 0, "\(result.stderr)")
            }
        }

        deinit { for schema in [single, sysdb, back] { TestDatabase.dropSchema(schema, on: fixture.admin) } }

        func rows(_ schema: String, _ table: String) throws -> [[String?]] {
            try fixture.admin.query("SELECT state_id, partial_state, completed_state FROM \(quoteIdentifier(schema)).\(quoteIdentifier(table)) ORDER BY state_id").rows
        }

        func sync(_ arguments: [String]) throws -> ProcessOutput { try fixture.run(["sync"] + arguments) }
    }

    @Test func twoTablesToSingleTableToSystemDBAndBackIsByteIdentical() throws {
        let layouts = try Layouts()
        let original = try layouts.rows(layouts.fixture.schema, "meltano_state")
        #expect(original.count == 4 && original[0][1] == nil && original[1][2] == nil && original[2][1] != nil)  // NULL parts present

        // The plan (golden): the single table does not exist yet, so every ID is created.
        let plan = try layouts.sync(["--from", "two", "--to", "single"])
        #expect(plan.status == 0, "\(plan.stderr)")
        #expect(plan.stdout == """
            create     \(layouts.dev):a
            create     \(layouts.dev):b
            create     \(layouts.dev):c
            create     \(layouts.prod):d
            4 state IDs: 4 to create, 0 to overwrite, 0 the same, 0 to skip. Nothing was written; add --apply to sync.

            """)
        #expect(try layouts.fixture.admin.query("SELECT to_regclass($1)", [layouts.single + ".state"]).scalar == nil)

        let applied = try layouts.sync(["--from", "two", "--to", "single", "--apply"])
        #expect(applied.status == 0, "\(applied.stderr)")
        #expect(applied.stdout.hasSuffix("4 state IDs: 4 created, 0 overwritten, 0 already the same, 0 skipped.\n"))
        #expect(try layouts.rows(layouts.single, "state").map { $0.map { $0 } } == original)

        // Meltano's system database keeps an empty part as {}, not NULL.
        #expect(try layouts.sync(["--from", "single", "--to", "sysdb", "--apply"]).status == 0)
        let system = try layouts.rows(layouts.sysdb, "state")
        #expect(system == original.map { [$0[0], $0[1] ?? "{}", $0[2] ?? "{}"] })

        // And back: the same bytes, NULLs included.
        let back = try layouts.sync(["--from", "sysdb", "--to", "back", "--apply"])
        #expect(back.status == 0, "\(back.stderr)")
        #expect(try layouts.rows(layouts.back, "meltano_state") == original)
        let again = try layouts.sync(["--from", "sysdb", "--to", "single"])
        #expect(again.stdout.hasSuffix("4 state IDs: 0 to create, 0 to overwrite, 4 the same, 0 to skip. Nothing was written; add --apply to sync.\n"))

        // Every synced state reads back as Meltano's get prints it, in every layout.
        for context in ["two", "single", "sysdb", "back"] {
            let got = try layouts.fixture.run(["get", "--context", context, "\(layouts.dev):c"])
            #expect(got.stdout == #"{"singer_state":{"big":123456789012345678901234567890,"f":1.5e+300,"s":"\u00e9\u2028\u2713","more":[1,2.5,null]}}"# + "\n", "\(context): \(got.stderr)")
        }
    }

    /// An ID on the source that differs from one on the target only in how é is written
    /// is another ID: created, not taken for the target's and called the same.
    @Test func anIDThatDiffersOnlyInItsBytesIsCreated() throws {
        let layouts = try Layouts()
        let state = #"{"singer_state": {"n": 1}}"#
        let composed = "\(layouts.dev)x:caf\u{E9}", decomposed = "\(layouts.dev)x:cafe\u{301}"
        #expect(try layouts.fixture.run(["set", "--force", "--context", "two", composed, state]).status == 0)
        #expect(try layouts.fixture.run(["set", "--force", "--context", "back", decomposed, state]).status == 0)
        let plan = try layouts.sync(["--from", "two", "--to", "back", "--pattern", "\(layouts.dev)x:*"])
        #expect(plan.status == 0, "\(plan.stderr)")
        #expect(plan.stdout.hasSuffix("1 state ID: 1 to create, 0 to overwrite, 0 the same, 0 to skip. Nothing was written; add --apply to sync.\n"), "\(plan.stdout)")
        #expect(try layouts.sync(["--from", "two", "--to", "back", "--pattern", "\(layouts.dev)x:*", "--apply"]).status == 0)
        let ids = try layouts.rows(layouts.back, "meltano_state").compactMap { $0[0] }.filter { $0.hasPrefix("\(layouts.dev)x:") }
        #expect(ids.map { Array($0.utf8) }.sorted { $0.lexicographicallyPrecedes($1) } == [Array(composed.utf8), Array(decomposed.utf8)].sorted { $0.lexicographicallyPrecedes($1) })
    }

    @Test func rerunsSkipWhatIsTheSameAndOverwritesAreJournaled() throws {
        let layouts = try Layouts()
        #expect(try layouts.sync(["--from", "two", "--to", "back", "--apply"]).status == 0)
        let rerun = try layouts.sync(["--from", "two", "--to", "back", "--apply"])
        #expect(rerun.status == 0)
        #expect(rerun.stdout.hasSuffix("4 state IDs: 0 created, 0 overwritten, 4 already the same, 0 skipped.\n"))
        #expect(!rerun.stderr.contains("journal batch"))

        let changed = try layouts.fixture.run(["set", "--force", "--context", "two", "\(layouts.dev):a", #"{"singer_state": {"v": 2}}"#])
        #expect(changed.status == 0)
        let plan = try layouts.sync(["--from", "two", "--to", "back", "--pattern", "\(layouts.dev):*"])
        #expect(plan.stdout == """
            overwrite  \(layouts.dev):a
            same       \(layouts.dev):b
            same       \(layouts.dev):c
            3 state IDs: 0 to create, 1 to overwrite, 2 the same, 0 to skip. Nothing was written; add --apply to sync.

            """)
        let previous = try layouts.rows(layouts.back, "meltano_state")[0][2]
        let applied = try layouts.sync(["--from", "two", "--to", "back", "--pattern", "\(layouts.dev):*", "--apply"])
        #expect(applied.status == 0)
        #expect(applied.stdout.hasPrefix("overwritten  \(layouts.dev):a\nsame         \(layouts.dev):b\n"))
        let batch = try #require(applied.stderr.firstMatch(of: /journal batch (\S+);/)?.1).description
        #expect(applied.stderr.contains("`meltano-state restore --context back \(batch)`"))
        let history = try layouts.fixture.run(["history", "--json", "\(layouts.dev):a"])
        #expect(history.stdout.split(separator: "\n").first?.contains(#""action":"sync""#) == true, "\(history.stdout)")
        // The journal's batch puts the previous row back.
        let restored = try layouts.fixture.run(["restore", "--yes", "--context", "back", batch])
        #expect(restored.status == 0, "\(restored.stderr)")
        #expect(try layouts.rows(layouts.back, "meltano_state")[0][2] == previous)
    }

    @Test func aHeldLockOnEitherSideStopsThatIDOnly() throws {
        let layouts = try Layouts()
        // Source side: a lock row on dev:a in the add-on's locks table.
        try layouts.fixture.admin.query("INSERT INTO \(layouts.fixture.locksTable) (state_id, lock_id) VALUES ('\(layouts.dev):a', 'pipeline-1')")
        // Target side: an advisory lock on dev:c held by another session, as the later add-on takes it.
        let holder = try TestDatabase.connect()
        defer { holder.close() }
        #expect(try holder.query("SELECT pg_try_advisory_lock($1::bigint)", [String(advisoryLockKey("\(layouts.dev):c"))]).scalar == "t")

        let result = try layouts.sync(["--from", "two", "--to", "single", "--apply"])
        #expect(result.status == 3, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines[0].hasPrefix("skipped      \(layouts.dev):a  (the lock is held on the source side: Could not acquire lock for state_id: \(layouts.dev):a"))
        #expect(lines[0].contains("pipeline-1"))
        #expect(lines[1] == "created      \(layouts.dev):b")
        #expect(lines[2].hasPrefix("skipped      \(layouts.dev):c  (the lock is held on the target side: Could not acquire lock for state_id: \(layouts.dev):c"))
        #expect(lines[3] == "created      \(layouts.prod):d")
        #expect(lines[4] == "4 state IDs: 2 created, 0 overwritten, 0 already the same, 2 skipped.")
        #expect(try layouts.rows(layouts.single, "state").map { $0[0] } == ["\(layouts.dev):b", "\(layouts.prod):d"])
        // Our own locks are gone, the pipeline's is still there.
        #expect(try layouts.fixture.admin.query("SELECT lock_id FROM \(layouts.fixture.locksTable)").rows == [["pipeline-1"]])

        // Once the locks are gone, a re-run finishes the job.
        try layouts.fixture.admin.query("DELETE FROM \(layouts.fixture.locksTable)")
        _ = try holder.query("SELECT pg_advisory_unlock_all()")
        let rerun = try layouts.sync(["--from", "two", "--to", "single", "--apply"])
        #expect(rerun.status == 0, "\(rerun.stderr)")
        #expect(rerun.stdout.hasSuffix("4 state IDs: 2 created, 0 overwritten, 2 already the same, 0 skipped.\n"))
    }

    @Test func oneDatabaseFromTheAddOnsTablesToItsSingleTable() throws {
        let layouts = try Layouts()
        let original = try layouts.rows(layouts.fixture.schema, "meltano_state")
        // The current configuration (the fixture's URI), two layouts of one schema.
        let result = try layouts.sync(["--layout-to", "single-table", "--apply"])
        #expect(result.status == 0, "\(result.stdout) \(result.stderr)")
        #expect(try layouts.rows(layouts.fixture.schema, "state") == original)
        let same = try layouts.sync(["--layout-to", "two-tables"])
        #expect(same.status == 2 || same.status == 1)
        #expect(same.stderr.contains("the same tables"))
    }

    @Test func refusalsAndSkips() throws {
        let layouts = try Layouts()
        let readOnly = try layouts.sync(["--from", "two", "--to", "frozen", "--apply"])
        #expect(readOnly.status == 1)
        #expect(readOnly.stderr.contains("read-only mode is on"))
        #expect(try layouts.fixture.admin.query("SELECT to_regclass($1)", [layouts.back + ".meltano_state"]).scalar == nil)
        // A row that is not JSON is skipped with the reason; the rest are synced.
        try layouts.fixture.admin.query("INSERT INTO \(layouts.fixture.stateTable) (state_id, completed_state) VALUES ('\(layouts.dev):broken', '{nope')")
        let skipped = try layouts.sync(["--from", "two", "--to", "back", "--apply"])
        #expect(skipped.status == 1)
        #expect(skipped.stdout.contains("skipped      \(layouts.dev):broken  (") && skipped.stdout.contains("created      \(layouts.prod):d"))
        let unknown = try layouts.sync(["--from", "nope", "--to", "back"])
        #expect(unknown.status == 2 && unknown.stderr.contains("Use one of: two, single, sysdb, back, frozen"), "\(unknown.stderr)")
    }
}
