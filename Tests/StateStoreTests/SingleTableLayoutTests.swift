import Foundation
import Postgres
import StateJSON
@testable import StateStore
import TestSupport
import Testing

@Suite("The later add-on's single table with advisory locks")
struct SingleTableLayoutTests {
    func fixture(lockTimeout: Double = 2) throws -> StoreFixture {
        let fixture = try StoreFixture(schemaPrefix: "single", layout: .singleTable, lockTimeout: lockTimeout)
        return fixture
    }

    @Test func advisoryKeyMatchesPostgresMD5() throws {
        let admin = try TestDatabase.connect()
        for id in ["dev:tap-a-to-b", "", "é😀", String(repeating: "x", count: 900), "a'b\"c"] {
            let server = try admin.query("SELECT ('x' || substr(md5($1), 1, 16))::bit(64)::bigint", [id]).scalar
            #expect(server == String(advisoryLockKey(id)), "key of \(id.prefix(20))")
        }
    }

    /// An advisory lock on an ID that has no row yet (a first run holding it) is seen by
    /// import, which refuses: the lock is on the ID, not on a row.
    @Test func importSeesALockOnAnIDWithoutARow() throws {
        let fixture = try fixture()
        let id = "brandnew-\(fixture.schema)"  // advisory locks are database-wide
        let holder = try Reference.start(["hold-lock", id, "20"], schema: fixture.schema, layout: "single-table")
        defer { holder.terminate() }
        #expect(holder.readLine().contains("\"locked\""))
        let error = #expect(throws: StoreError.self) {
            try fixture.store.importStates([ImportEntry(stateID: id, completed: ["singer_state": ["imported": 1]], partial: .null)])
        }
        #expect(error?.description.contains(id) == true, "\(String(describing: error))")
        #expect(try fixture.admin.query("SELECT count(*) FROM \(quoteIdentifier(fixture.schema)).state WHERE state_id = $1", [id]).scalar == "0")
    }

    /// A lock's state ID is found by hashing every state ID, once, then kept: the
    /// browser lists the locks every 2 s, and at a million rows each search took 0.8 s of
    /// the server. The key is the ID's hash, so a kept ID stays right: its row cleared
    /// while the lock is held, the lock is still listed under it.
    @Test func aLocksIDIsFoundOnceAndKept() throws {
        let fixture = try fixture()
        let id = "dev:kept-\(fixture.schema)"
        try fixture.store.set(id, to: json(#"{"singer_state": {}}"#))
        let holder = try Reference.start(["hold-lock", id, "20"], schema: fixture.schema, layout: "single-table")
        defer { holder.terminate() }
        #expect(holder.readLine().contains("\"locked\""))
        #expect(try fixture.store.locks().map(\.stateID) == [id])
        try fixture.admin.query("DELETE FROM \(quoteIdentifier(fixture.schema)).state WHERE state_id = $1", [id])
        #expect(try fixture.store.locks().map(\.stateID) == [id])
        // A store that has not seen the key cannot name it any more (no row has it).
        let fresh = StateStore(connection: try Connection(TestDatabase.configuration()), options: fixture.store.options)
        #expect(try fresh.locks().isEmpty)
        #expect(try fresh.advisoryLocks(of: [id]).map(\.stateID) == [id])  // by its ID, it is found
    }

    /// A first run locks its new ID, then writes the row while it holds the lock. The
    /// listing, which found no row for the key a moment ago, looks again only after
    /// 30 s; a verdict on the ID (doctor) and clear --all must see the lock at once.
    @Test func aVerdictSeesALockWhoseRowWasJustWritten() throws {
        let fixture = try fixture()
        let id = "dev:first-run-\(fixture.schema)"
        let holder = try Reference.start(["hold-lock", id, "20"], schema: fixture.schema, layout: "single-table")
        defer { holder.terminate() }
        #expect(holder.readLine().contains("\"locked\""))
        #expect(try fixture.store.locks().isEmpty)  // no row: no ID to name it by
        try fixture.admin.query("INSERT INTO \(quoteIdentifier(fixture.schema)).state (state_id, completed_state) VALUES ($1, '{\"singer_state\": {}}')", [id])
        #expect(try fixture.store.locks().isEmpty)  // the listing's next look is in 30 s
        #expect(try fixture.store.diagnose([id]).first?.evidence.lock?.stateID == id)
        #expect(throws: StoreError.self) { try fixture.store.clearAll() }
        #expect(try fixture.admin.query("SELECT count(*) FROM \(quoteIdentifier(fixture.schema)).state").scalar == "1")
    }

    @Test func aKeyNoRowHasIsLookedForAgainAfterAWhile() {
        let cache = AdvisoryKeyCache(retryAfter: 30)
        #expect(cache.unresolved([3, 1, 2, 1], now: 100) == [1, 2, 3])
        cache.record(looked: [1, 2, 3], found: [(2, "b")], now: 100)
        #expect(cache.stateID(of: 2) == "b" && cache.stateID(of: 1) == nil)
        #expect(cache.unresolved([1, 2, 3], now: 120).isEmpty)
        #expect(cache.unresolved([1, 2, 3, 4], now: 120) == [4])
        #expect(cache.unresolved([1, 2, 3], now: 131) == [1, 3])
        #expect(cache.unresolved([1, 2, 3], retryingMissing: true, now: 120) == [1, 3])
        cache.record(looked: [1, 3], found: [(1, "a")], now: 131)
        #expect(cache.stateID(of: 1) == "a" && cache.unresolved([1, 2, 3], now: 140).isEmpty)
    }

    @Test func verbsMatchTheReferenceInThisLayout() throws {
        let ours = try fixture()
        let theirs = try StoreFixture(schemaPrefix: "singleref", layout: .singleTable, createTables: false)
        try ours.store.set("a", to: json(#"{"singer_state": {"x": 1.10}}"#))
        try ours.store.merge("a", with: json(#"{"singer_state": {"y": "é"}}"#))
        try ours.store.set("b", to: json(#"{"singer_state": {}}"#))
        try ours.store.clear("b")
        for step in [["set", "a", #"{"singer_state": {"x": 1.10}}"#], ["merge", "a", #"{"singer_state": {"y": "é"}}"#],
                     ["set", "b", #"{"singer_state": {}}"#], ["clear", "b"]] {
            #expect(try Reference.run(step, schema: theirs.schema, layout: "single-table").status == 0)
        }
        let table = "\(quoteIdentifier(ours.schema)).state"
        let refTable = "\(quoteIdentifier(theirs.schema)).state"
        let mine = try ours.admin.query("SELECT state_id, partial_state, completed_state FROM \(table) ORDER BY 1").rows
        let reference = try ours.admin.query("SELECT state_id, partial_state, completed_state FROM \(refTable) ORDER BY 1").rows
        #expect(mine == reference)
        #expect(mine.count == 1)
        #expect(try ours.store.view("a").compactText == #"{"singer_state":{"x":1.1,"y":"\u00e9"}}"#)
    }

    @Test func heldAdvisoryLockIsListedWithHolderAndReleasedByTerminating() throws {
        let fixture = try fixture(lockTimeout: 0.5)
        try fixture.store.set("prod:x", to: json(#"{"singer_state": {}}"#))
        let holder = try Reference.start(["crash-lock", "prod:x"], schema: fixture.schema, layout: "single-table")
        defer { holder.terminate(); holder.waitUntilExit() }
        let event = try json(holder.readLine())
        guard case let .object(object) = event, case let .number(pid)? = object["pid"] else {
            Issue.record("no pid in \(event.compactText)"); return
        }
        let locks = try fixture.store.locks()
        #expect(locks.count == 1)
        let lock = try #require(locks.first)
        #expect(lock.stateID == "prod:x")
        #expect(lock.lockID == String(advisoryLockKey("prod:x")))
        #expect(lock.pid.map(String.init) == pid.literal)
        #expect(lock.user == "postgres")
        #expect(lock.clientAddress == "127.0.0.1/32")
        #expect(lock.backendStart != nil)
        #expect(try fixture.store.list().first?.isLocked == true)
        // Our write waits and fails with the holder named.
        let error = #expect(throws: StoreError.self) { try fixture.store.set("prod:x", to: json(#"{"singer_state": {"v": 1}}"#)) }
        #expect(error?.description.contains("Could not acquire lock for state_id: prod:x") == true)
        // Release = terminate the holder's backend.
        let outcome = try fixture.store.release(stateID: "prod:x", lockID: lock.lockID)
        guard case .terminated = outcome else { Issue.record("expected terminated, got \(outcome)"); return }
        #expect(try fixture.store.history().first?.action == "terminate")
        // The lock goes with the session.
        var gone = false
        for _ in 0..<50 where !gone { gone = try fixture.store.locks().isEmpty; if !gone { Thread.sleep(forTimeInterval: 0.1) } }
        #expect(gone)
        try fixture.store.set("prod:x", to: json(#"{"singer_state": {"v": 1}}"#))
    }

    @Test func concurrentWritersWithAdvisoryLocksLoseNoUpdate() throws {
        let fixture = try fixture(lockTimeout: 20)
        let ids = ["s:1", "s:2"]
        let hammer = try Reference.start(["hammer"] + ids + ["--seconds", "3", "--seed", "3"], schema: fixture.schema, layout: "single-table")
        var ours: [String: Int] = [:]
        let deadline = Date().addingTimeInterval(3)
        var i = 0
        while Date() < deadline {
            let id = ids[i % 2]; i += 1
            try fixture.store.update(id) { view in
                var counter = 0
                if case let .object(state) = view, case let .object(singer)? = state["singer_state"],
                   case let .number(n)? = singer["counter"] { counter = Int(n.literal) ?? 0 }
                return try json(#"{"singer_state": {"counter": \#(counter + 1)}}"#)
            }
            ours[id, default: 0] += 1
        }
        hammer.waitUntilExit()
        guard case let .object(result) = try json(hammer.readLine()), case let .object(writes)? = result["writes"] else {
            Issue.record("no hammer report"); return
        }
        for id in ids {
            var theirs = 0
            if case let .number(n)? = writes[id] { theirs = Int(n.literal) ?? 0 }
            let view = try fixture.store.view(id)
            guard case let .object(state) = view, case let .object(singer)? = state["singer_state"], case let .number(counter)? = singer["counter"] else {
                Issue.record("no counter for \(id)"); continue
            }
            #expect(Int(counter.literal) == theirs + (ours[id] ?? 0))
        }
        #expect(try fixture.store.locks().isEmpty)
    }

    @Test func layoutsAreDetected() throws {
        let fixture = try fixture()
        let found = try StateStore.detectLayouts(connection: fixture.admin, schema: fixture.schema, table: "state")
        #expect(found.map(\.layout) == [.singleTable])
        try fixture.admin.query("CREATE TABLE \(quoteIdentifier(fixture.schema)).runs (id int)")
        let withRuns = try StateStore.detectLayouts(connection: fixture.admin, schema: fixture.schema, table: "state")
        #expect(withRuns.map(\.layout) == [.systemDB])
        let chosen = try StateStore.chooseLayout(connection: fixture.admin, schema: fixture.schema, table: "state",
                                                 preference: .auto, implied: .twoTables)
        #expect(chosen.layout == .systemDB)
    }
}
