import Foundation
import Postgres
import StateJSON
@testable import StateStore
import TestSupport
import Testing

@Suite("Meltano's lock protocol, with a separate process speaking it")
struct LockProtocolTests {
    @Test func writeWaitsForAHeldLockThenProceeds() throws {
        let fixture = try StoreFixture(lockTimeout: 10)
        try fixture.store.createTablesIfMissing()
        let holder = try Reference.start(["hold-lock", "a", "1.5"], schema: fixture.schema)
        defer { holder.terminate() }
        #expect(holder.readLine().contains("\"locked\""))
        let start = Date()
        try fixture.store.set("a", to: json(#"{"singer_state": {"after": true}}"#))
        let waited = Date().timeIntervalSince(start)
        #expect(waited > 0.8, "the write must wait for the holder (waited \(waited) s)")
        holder.waitUntilExit()
        #expect(try fixture.row("a")?[1] == #"{"singer_state": {"after": true}}"#)
        #expect(try fixture.lockRows().isEmpty)
    }

    @Test func deadHolderMakesWriteFailNamingItsLockThenUnlockByIDLetsItThrough() throws {
        let fixture = try StoreFixture(lockTimeout: 0.5)
        let crash = try Reference.run(["crash-lock", "prod:tap-x-to-y"], schema: fixture.schema)
        #expect(crash.status == 0)
        let event = try json(crash.stdout.split(separator: "\n").first.map(String.init) ?? "")
        guard case let .object(object) = event, case let .string(lockID)? = object["lock_id"] else {
            Issue.record("no lock_id in \(crash.stdout)"); return
        }
        let error = #expect(throws: StoreError.self) {
            try fixture.store.set("prod:tap-x-to-y", to: json(#"{"singer_state": {}}"#))
        }
        let message = error?.description ?? ""
        #expect(message.contains("Could not acquire lock for state_id: prod:tap-x-to-y"))
        #expect(message.contains(lockID.text))
        #expect(message.contains("meltano-state unlock prod:tap-x-to-y \(lockID.text)"))
        if case .lockHeld = error {} else { Issue.record("expected lockHeld, got \(String(describing: error))") }
        #expect(try fixture.row("prod:tap-x-to-y") == nil)

        let locks = try fixture.store.locks()
        #expect(locks.map(\.lockID) == [lockID.text])
        #expect(locks.first?.isStale == false)
        let outcome = try fixture.store.release(stateID: "prod:tap-x-to-y", lockID: lockID.text)
        if case .released = outcome {} else { Issue.record("expected released, got \(outcome)") }
        #expect(try fixture.lockRows().isEmpty)
        let entry = try #require(try fixture.store.history().first)
        #expect(entry.action == "unlock")
        #expect(entry.lock?.lockID == lockID.text)
        try fixture.store.set("prod:tap-x-to-y", to: json(#"{"singer_state": {}}"#))
        #expect(try fixture.row("prod:tap-x-to-y") != nil)
    }

    @Test func releasingAStaleLockIDAfterReTakeRemovesNothing() throws {
        let fixture = try StoreFixture()
        try fixture.admin.query("INSERT INTO \(fixture.locksTable) (state_id, lock_id) VALUES ('a', 'old-holder')")
        try fixture.admin.query("DELETE FROM \(fixture.locksTable) WHERE state_id = 'a'")
        try fixture.admin.query("INSERT INTO \(fixture.locksTable) (state_id, lock_id) VALUES ('a', 'new-holder')")
        let outcome = try fixture.store.release(stateID: "a", lockID: "old-holder")
        guard case let .retaken(by) = outcome else { Issue.record("expected retaken, got \(outcome)"); return }
        #expect(by.lockID == "new-holder")
        #expect(try fixture.lockRows() == [["a", "new-holder"]])
        #expect(try fixture.store.release(stateID: "b", lockID: "whatever") == .alreadyGone)
        #expect(try fixture.store.history().isEmpty)
    }

    @Test func staleFlagAndServerSideAge() throws {
        let fixture = try StoreFixture()
        try fixture.admin.query("INSERT INTO \(fixture.locksTable) (state_id, lock_id, locked_at) VALUES ('old', 'x', LOCALTIMESTAMP - interval '2 hours'), ('new', 'y', LOCALTIMESTAMP)")
        let locks = try fixture.store.locks()
        #expect(locks.map(\.stateID) == ["old", "new"])
        #expect(locks.map(\.isStale) == [true, false])
        #expect((locks[0].ageSeconds ?? 0) > 7000)
        let list = try fixture.store.list()
        #expect(list.isEmpty)  // locks on IDs without state are not states
    }

    /// A separate process speaking the add-on's protocol and this store write the same
    /// state IDs at the same time: no update lost, no lock left, every row valid JSON.
    @Test func interopUnderContentionLosesNoUpdate() throws {
        let fixture = try StoreFixture(lockTimeout: 20)
        let ids = ["c:1", "c:2", "c:3"]
        let hammer = try Reference.start(["hammer"] + ids + ["--seconds", "4", "--seed", "7"], schema: fixture.schema)
        var ourWrites: [String: Int] = [:]
        var generator = SystemRandomNumberGenerator()
        let deadline = Date().addingTimeInterval(4)
        while Date() < deadline {
            let id = ids.randomElement(using: &generator)!
            // Read-increment-write under the lock, as the hammer does.
            try fixture.store.update(id) { view in
                var counter = 0
                if case let .object(state) = view, case let .object(singer)? = state["singer_state"],
                   case let .number(n)? = singer["counter"] { counter = Int(n.literal) ?? 0 }
                return try json(#"{"singer_state": {"counter": \#(counter + 1)}}"#)
            }
            ourWrites[id, default: 0] += 1
        }
        hammer.waitUntilExit()
        let report = hammer.readLine()
        guard case let .object(result) = try json(report), case let .object(writes)? = result["writes"] else {
            Issue.record("no hammer report: \(report)"); return
        }
        #expect(result["lock_timeouts"] == .number(JSONNumber(0)))
        var total = 0
        for id in ids {
            let theirs = writes[id].flatMap { value -> Int? in if case let .number(n) = value { return Int(n.literal) }; return nil } ?? 0
            let expected = theirs + (ourWrites[id] ?? 0)
            total += expected
            let stored = try fixture.store.view(id)
            guard case let .object(state) = stored, case let .object(singer)? = state["singer_state"],
                  case let .number(counter)? = singer["counter"] else {
                Issue.record("no counter in \(stored.compactText)"); continue
            }
            #expect(Int(counter.literal) == expected, "\(id): counter \(counter.literal), writes \(expected)")
        }
        #expect(total > 20, "both sides made progress (\(total) writes)")
        #expect((ourWrites.values.reduce(0, +)) > 5)
        #expect(try fixture.lockRows().isEmpty)
        for row in try fixture.rows() {
            for text in [row[1], row[2]].compactMap({ $0 }) { #expect((try? JSONParser.parse(text)) != nil) }
        }
    }

    @Test func connectionKilledMidWriteLeavesOldOrNewAndNoLock() throws {
        let fixture = try StoreFixture(lockTimeout: 5)
        try fixture.store.set("a", to: json(#"{"singer_state": {"v": "old"}}"#))
        // Make the upsert slow so the backend can be terminated while it runs.
        try fixture.admin.query("""
            CREATE FUNCTION \(quoteIdentifier(fixture.schema)).slow() RETURNS trigger LANGUAGE plpgsql AS
            $$ BEGIN PERFORM pg_sleep(3); RETURN NEW; END $$
            """)
        try fixture.admin.query("CREATE TRIGGER slow BEFORE UPDATE ON \(fixture.stateTable) FOR EACH ROW EXECUTE FUNCTION \(quoteIdentifier(fixture.schema)).slow()")
        let pid = fixture.store.connection.backendPID
        // Terminate the backend once it sleeps in the trigger, i.e. inside the write.
        let watcher = Flag()
        let killer = try TestDatabase.connect()
        Thread.detachNewThread {
            watcher.value = (try? waitForBackend(killer, pid: pid, running: "meltano_state", waitEvent: "PgSleep")) ?? false
            _ = try? killer.query("SELECT pg_terminate_backend($1::int)", [String(pid)])
        }
        let error = #expect(throws: StoreError.self) {
            try fixture.store.set("a", to: json(#"{"singer_state": {"v": "new"}}"#))
        }
        #expect(watcher.value, "backend \(pid) was never seen in the slow trigger before it was terminated")
        let message = error?.description ?? ""
        #expect(message.contains("connection broke"))
        #expect(message.contains("may or may not have been applied"))
        let stored = try fixture.row("a")?[1]
        #expect(stored == #"{"singer_state": {"v": "old"}}"# || stored == #"{"singer_state": {"v": "new"}}"#)
        #expect(try fixture.lockRows().isEmpty, "our lock was released after reconnecting")
    }

    @Test func cancellationStopsALockWait() throws {
        let fixture = try StoreFixture(lockTimeout: 30)
        try fixture.admin.query("INSERT INTO \(fixture.locksTable) (state_id, lock_id) VALUES ('a', 'held')")
        // Cancel once the store has tried for the lock (and so is waiting), not after a guess.
        let pid = fixture.store.connection.backendPID
        let watcher = Flag()
        let observer = try TestDatabase.connect()
        Thread.detachNewThread {
            watcher.value = (try? waitForBackend(observer, pid: pid, running: "meltano_state_locks\" (state_id, lock_id)", active: false)) ?? false
            fixture.store.cancellation.cancel()
        }
        let start = Date()
        let error = #expect(throws: StoreError.self) { try fixture.store.set("a", to: json(#"{"singer_state": {}}"#)) }
        #expect(watcher.value, "backend \(pid) was never seen trying to insert the lock before the cancel")
        if case .cancelled = error {} else { Issue.record("expected cancelled, got \(String(describing: error))") }
        #expect(Date().timeIntervalSince(start) < 5)
        #expect(try fixture.lockRows() == [["a", "held"]])
    }
}

/// Set by a watching thread, read by the test once the call it watched returned.
private final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var stored = false
    var value: Bool {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}
