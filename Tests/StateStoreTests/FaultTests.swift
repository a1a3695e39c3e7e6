import Foundation
import Postgres
import StateJSON
import StateStore
import TestSupport
import Testing

/// One write verb, set up so that a fault can hit the statement that changes the data:
/// a BEFORE trigger that sleeps on `slowTable` holds the statement open until the
/// connection is killed or the server restarts under it.
struct FaultCase: Sendable {
    let name: String
    var slowTable = "meltano_state"
    var slowEvents = "INSERT OR UPDATE OR DELETE"
    /// Whether the lock table is part of the data (unlock changes it); otherwise any
    /// lock row left must be named in the error.
    var locksAreData = false
    let prepare: @Sendable (StateStore, Connection, String) throws -> Void
    let operation: @Sendable (StateStore) throws -> Void

    static func value(_ text: String) -> JSONValue { try! JSONParser.parse(text) }

    static let all: [FaultCase] = [
        FaultCase(name: "set", prepare: { store, _, _ in
            try store.set("a", to: value(#"{"singer_state": {"v": "old"}}"#))
        }, operation: { try $0.set("a", to: value(#"{"singer_state": {"v": "new"}}"#)) }),
        FaultCase(name: "merge", prepare: { store, _, _ in
            try store.set("a", to: value(#"{"singer_state": {"k1": 1.10}}"#))
            try store.merge("a", with: value(#"{"singer_state": {"k2": 2}}"#))
        }, operation: { try $0.merge("a", with: value(#"{"singer_state": {"k3": 3}}"#)) }),
        FaultCase(name: "copy", prepare: { store, _, _ in
            try store.set("src", to: value(#"{"singer_state": {"from": "src"}}"#))
            try store.set("dst", to: value(#"{"singer_state": {"from": "dst"}}"#))
        }, operation: { try $0.copy(from: "src", to: "dst") }),
        FaultCase(name: "move (writing the destination)", slowEvents: "INSERT OR UPDATE", prepare: { store, _, _ in
            try store.set("src", to: value(#"{"singer_state": {"from": "src"}}"#))
            try store.set("dst", to: value(#"{"singer_state": {"from": "dst"}}"#))
        }, operation: { try $0.move(from: "src", to: "dst") }),
        FaultCase(name: "move (clearing the source)", slowEvents: "DELETE", prepare: { store, _, _ in
            try store.set("src", to: value(#"{"singer_state": {"from": "src"}}"#))
        }, operation: { try $0.move(from: "src", to: "dst") }),
        FaultCase(name: "clear", prepare: { store, _, _ in
            try store.set("a", to: value(#"{"singer_state": {"v": 1}}"#))
            try store.set("b", to: value(#"{"singer_state": {"v": 2}}"#))
        }, operation: { try $0.clear("a") }),
        FaultCase(name: "clear --all", prepare: { store, _, _ in
            for id in ["a", "b", "c"] { try store.set(id, to: value(#"{"singer_state": {"id": "\#(id)"}}"#)) }
        }, operation: { _ = try $0.clearAll() }),
        FaultCase(name: "import", prepare: { store, _, _ in
            try store.set("a", to: value(#"{"singer_state": {"v": "old"}}"#))
        }, operation: { store in
            _ = try store.importStates([
                ImportEntry(stateID: "a", completed: value(#"{"singer_state": {"v": "new"}}"#), partial: .null),
                ImportEntry(stateID: "b", completed: .null, partial: value(#"{"singer_state": {"p": 1}}"#)),
            ])
        }),
        FaultCase(name: "unlock", slowTable: "meltano_state_locks", slowEvents: "DELETE", locksAreData: true, prepare: { _, admin, schema in
            try admin.query("INSERT INTO \(quoteIdentifier(schema)).meltano_state_locks (state_id, lock_id) VALUES ('a', 'dead-holder')")
        }, operation: { store in
            let outcome = try store.release(stateID: "a", lockID: "dead-holder")
            guard case .released = outcome else { throw StoreError.other("unexpected outcome \(outcome)") }
        }),
        FaultCase(name: "restore", prepare: { store, _, _ in
            try store.set("a", to: value(#"{"singer_state": {"v": "first"}}"#))
            try store.set("a", to: value(#"{"singer_state": {"v": "second"}}"#))
        }, operation: { store in
            // The newest entry is the second set's: it saved the first value.
            guard let entry = try store.history(stateID: "a").first else { throw StoreError.other("no journal entry") }
            try store.restore(entryID: entry.id)
        }),
    ]
}

/// A store in a fresh schema of a given server, with its own journal.
final class FaultFixture: @unchecked Sendable {
    let admin: Connection
    let schema: String
    let store: StateStore
    let journalPath: String

    init(_ server: ConnectionConfiguration, prefix: String, releaseRetryDelays: [Double] = [0, 0.25, 0.5, 1, 1.5, 2]) throws {
        admin = try Connection(server)
        schema = try TestDatabase.freshSchema(prefix, on: admin)
        journalPath = NSTemporaryDirectory() + "meltano-state-fault-\(UUID().uuidString)/journal.jsonl"
        store = StateStore(connection: try Connection(server), options: StoreOptions(
            schema: schema, lockTimeout: 2, lockRetryInterval: 0.05, journal: Journal(path: journalPath),
            releaseRetryDelays: releaseRetryDelays))
        try store.createTablesIfMissing()
    }

    deinit {
        if !admin.isConnected { try? admin.reconnect() }
        TestDatabase.dropSchema(schema, on: admin)
        try? FileManager.default.removeItem(atPath: (journalPath as NSString).deletingLastPathComponent)
    }

    var stateTable: String { quoteIdentifier(schema) + ".meltano_state" }
    var locksTable: String { quoteIdentifier(schema) + ".meltano_state_locks" }

    func rows() throws -> [[String?]] {
        try admin.query("SELECT state_id, partial_state, completed_state FROM \(stateTable) ORDER BY state_id", idempotent: true).rows
    }

    func lockRows() throws -> [[String?]] {
        try admin.query("SELECT state_id, lock_id FROM \(locksTable) ORDER BY state_id", idempotent: true).rows
    }
}

/// What one case looked like before and (in a twin schema without the fault) after.
struct FaultRun {
    let fault: FaultCase
    let fixture: FaultFixture
    let before: [[String?]]
    let beforeLocks: [[String?]]
    let after: [[String?]]
    let afterLocks: [[String?]]

    init(_ fault: FaultCase, server: ConnectionConfiguration, releaseRetryDelays: [Double] = [0, 0.25, 0.5, 1, 1.5, 2]) throws {
        self.fault = fault
        let twin = try FaultFixture(server, prefix: "twin", releaseRetryDelays: releaseRetryDelays)
        try fault.prepare(twin.store, twin.admin, twin.schema)
        try fault.operation(twin.store)
        after = try twin.rows()
        afterLocks = try twin.lockRows()
        fixture = try FaultFixture(server, prefix: "fault", releaseRetryDelays: releaseRetryDelays)
        try fault.prepare(fixture.store, fixture.admin, fixture.schema)
        before = try fixture.rows()
        beforeLocks = try fixture.lockRows()
        #expect(before != after || beforeLocks != afterLocks, "\(fault.name): the operation must change something")
        try installSlowTrigger(fixture.admin, schema: fixture.schema, table: fault.slowTable, events: fault.slowEvents)
    }

    /// Runs the operation on a thread of its own; the result arrives through `wait()`.
    func start() -> @Sendable () -> Error? {
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var failure: Error? = nil
        let operation = fault.operation, store = fixture.store
        Thread.detachNewThread {
            do { try operation(store) } catch { failure = error }
            done.signal()
        }
        return {
            done.wait()
            return failure
        }
    }

    /// The checks every fault must pass: the data is as before or as after, never a
    /// mix; no lock row of ours is left unless the error names it; the error says the
    /// connection broke.
    func verify(_ error: Error?, expecting phrase: String = "connection broke") throws {
        let name = fault.name
        guard let error else {
            Issue.record("\(name): the operation succeeded although its connection was cut")
            return
        }
        let message = String(describing: error)
        #expect(error is StoreError, "\(name): \(type(of: error)) \(message)")
        #expect(message.contains(phrase), "\(name): \(message)")
        _ = try fixture.admin.query("SELECT 1", idempotent: true)  // reconnects after a restart
        try dropSlowTrigger(fixture.admin, schema: fixture.schema, table: fault.slowTable)
        let rows = try fixture.rows()
        // Each row is as it was or as the operation makes it, never a mix of the two.
        func byID(_ rows: [[String?]]) -> [String: [String?]] {
            Dictionary(uniqueKeysWithValues: rows.map { ($0[0] ?? "", $0) })
        }
        let now = byID(rows), old = byID(before), new = byID(after)
        for id in Set(now.keys).union(old.keys).union(new.keys) {
            #expect(now[id] == old[id] || now[id] == new[id],
                    "\(name): row '\(id)' is \(String(describing: now[id])), was \(String(describing: old[id])), would be \(String(describing: new[id]))")
        }
        // Only move is two steps (each under its own lock); every other verb changes
        // all its rows or none.
        if !name.hasPrefix("move") {
            #expect(rows == before || rows == after, "\(name): rows \(rows), before \(before), after \(after)")
        }
        let locks = try fixture.lockRows()
        if fault.locksAreData {
            #expect(locks == beforeLocks || locks == afterLocks, "\(name): locks \(locks)")
        } else {
            for lock in locks {
                #expect(message.contains(lock[1] ?? "?"), "\(name): lock \(lock) left and not named in: \(message)")
            }
        }
    }
}

@Suite("Write verbs with the connection killed mid-statement")
struct ConnectionKilledTests {
    /// Every write verb, its statement held open by a slow trigger, its backend
    /// terminated with pg_terminate_backend: the cases run side by side.
    @Test(arguments: FaultCase.all.map(\.name))
    func killedMidWrite(_ name: String) throws {
        let fault = try #require(FaultCase.all.first { $0.name == name })
        let run = try FaultRun(fault, server: try TestDatabase.configuration())
        let wait = run.start()
        let pid = try #require(try waitForSleepingBackend(run.fixture.admin, marker: run.fixture.schema),
                               "\(name): the statement never reached the slow trigger")
        #expect(try run.fixture.admin.query("SELECT pg_terminate_backend($1::int)", [String(pid)]).scalar == "t")
        try run.verify(wait())
        // The lock, if it was ours, was released after reconnecting: nothing is left.
        if !fault.locksAreData { #expect(try run.fixture.lockRows().isEmpty, "\(name)") }
    }
}

/// Restarting or stopping a server would break every other test using it: these run
/// against a server of their own, one test at a time.
@Suite("Write verbs with the server restarted or stopped mid-statement", .serialized)
struct ServerRestartTests {
    /// All verbs at once, each in its own schema and held in its slow trigger, then one
    /// fast restart (every session is ended, the server comes back within a second).
    @Test func restartMidWrite() throws {
        let server = try ThrowawayServer(prefix: "restart")
        let runs = try FaultCase.all.map { try FaultRun($0, server: server.configuration()) }
        let waits = runs.map { $0.start() }
        let admin = try server.connect()
        for run in runs {
            _ = try #require(try waitForSleepingBackend(admin, marker: run.fixture.schema), "\(run.fault.name) never reached its trigger")
        }
        try server.restart()
        for (run, wait) in zip(runs, waits) {
            let error = wait()
            try run.verify(error)
            // The server came back within the store's retry window: our locks are gone.
            if !run.fault.locksAreData {
                #expect(try run.fixture.lockRows().isEmpty, "\(run.fault.name): \(String(describing: error))")
            }
        }
    }

    /// The server goes down and stays down: the write fails, and the error names the
    /// lock it could not release and the command that releases it.
    @Test func serverDownLeavesTheLockNamed() throws {
        let server = try ThrowawayServer(prefix: "down")
        let fault = FaultCase.all[0]  // set
        let run = try FaultRun(fault, server: server.configuration(), releaseRetryDelays: [0, 0.1])
        let wait = run.start()
        let admin = try server.connect()
        _ = try #require(try waitForSleepingBackend(admin, marker: run.fixture.schema))
        let ourLock = try #require(try admin.query("SELECT lock_id FROM \(run.fixture.locksTable)").scalar)
        try server.pause()
        let error = wait()
        let message = error.map { String(describing: $0) } ?? "no error"
        #expect(message.contains("connection broke"), "\(message)")
        #expect(message.contains("lock ID \(ourLock)"), "\(message)")
        #expect(message.contains("meltano-state unlock a \(ourLock)"), "\(message)")
        try server.resume()
        try run.fixture.admin.reconnect()
        #expect(try run.fixture.lockRows() == [["a", ourLock]])
        try run.verify(error)
        // Releasing it as told puts everything right.
        let outcome = try run.fixture.store.release(stateID: "a", lockID: ourLock)
        #expect(outcome != .alreadyGone)
        #expect(try run.fixture.lockRows().isEmpty)
    }
}
