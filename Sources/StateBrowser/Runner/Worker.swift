import Foundation
import Postgres
import StateJSON
import StateStore

/// One background thread with its own `StateStore` (so its own connection): the
/// browser has one for reads, one for counts, one for the lock refresh and one for
/// writes, so a write waiting 30 s for a lock never delays the list, a slow count
/// never delays a page, and the lock pane keeps refreshing while a big state loads.
///
/// Jobs with the same key replace each other while waiting (holding `j` asks for
/// many states; only the last is read). A read that loses the connection waits with
/// backoff, reconnects and runs again; a write never runs twice.
final class Worker: @unchecked Sendable {
    struct Job: Sendable {
        /// Jobs with the same key replace a waiting one.
        var key: String?
        /// Reads retry after reconnecting; writes report and stop.
        var retries: Bool
        var run: @Sendable (StateStore) throws -> Message?
        var failed: @Sendable (String) -> Message?
        /// After this answer, close the connection and open a new one: libpq keeps a
        /// connection's input buffer as big as the biggest row it read (a 100 MB state
        /// would stay in memory for the whole session otherwise).
        var reconnectAfter: @Sendable (Message) -> Bool = { _ in false }
    }

    let name: String
    private let condition = NSCondition()
    private var jobs: [Job] = []
    private var stopped = false
    private var store: StateStore?
    /// The server `store` is connected to, as last asked (worker thread only).
    private var server: ConnectedServer?
    /// Esc arrived while a job was queued or connecting: cancel it once it runs.
    private var cancelPending = false
    private var busy = false
    private let makeStore: @Sendable () throws -> StateStore
    private let post: @Sendable (Message) -> Void
    private let monitor: ConnectionMonitor
    private let clock: @Sendable () -> Double

    init(name: String, makeStore: @escaping @Sendable () throws -> StateStore, monitor: ConnectionMonitor,
         clock: @escaping @Sendable () -> Double, post: @escaping @Sendable (Message) -> Void) {
        self.name = name
        self.makeStore = makeStore
        self.monitor = monitor
        self.clock = clock
        self.post = post
        let thread = Thread { [self] in self.loop() }
        thread.name = "meltano-state.\(name)"
        thread.stackSize = 4 << 20
        thread.start()
    }

    func enqueue(_ job: Job) {
        condition.lock()
        if let key = job.key { jobs.removeAll { $0.key == key } }
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    /// Asks the running (or next) job to stop at its next safe point (a lock wait).
    func cancelCurrent() {
        condition.lock()
        let store = self.store
        if busy || !jobs.isEmpty { cancelPending = true }
        condition.unlock()
        store?.cancellation.cancel()
    }

    func stop() {
        condition.lock()
        stopped = true
        jobs.removeAll()
        condition.broadcast()
        condition.unlock()
    }

    private func hasNewer(key: String?) -> Bool {
        guard let key else { return false }
        condition.lock()
        defer { condition.unlock() }
        return jobs.contains { $0.key == key }
    }

    /// Sleeps up to `seconds`, waking early when stopped. Returns false when stopped.
    private func sleep(_ seconds: Double) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        let deadline = Date(timeIntervalSinceNow: seconds)
        while !stopped, Date() < deadline { _ = condition.wait(until: deadline) }
        return !stopped
    }

    private func loop() {
        // Connect ahead of the first job; a failure here is reported by that job.
        _ = try? connectedStore()
        while true {
            condition.lock()
            while jobs.isEmpty && !stopped { condition.wait() }
            if stopped {
                condition.unlock()
                store?.close()
                return
            }
            let job = jobs.removeFirst()
            busy = true
            condition.unlock()
            run(job)
            condition.lock()
            busy = false
            cancelPending = false
            condition.unlock()
        }
    }

    private func run(_ job: Job) {
        var attempt = 0
        while true {
            do {
                let store: StateStore
                do {
                    store = try connectedStore()
                } catch {
                    // Opening a store wraps libpq's failure in the store's own wording
                    // ("Cannot connect to …"); whatever stops a new connection is still
                    // the connection being down: retried, and the header says so.
                    throw ConnectFailure(underlying: error)
                }
                condition.lock()
                store.cancellation.reset()
                if cancelPending { store.cancellation.cancel() }
                condition.unlock()
                let message = try job.run(store)
                monitor.report(worker: name, .connected, server: currentServer(of: store))
                if let message { post(message) }
                if let message, job.reconnectAfter(message) {
                    dropStore()
                    _ = try? connectedStore()  // ready for the next job; a failure is that job's to report
                }
                return
            } catch where RunnerErrors.isConnectionProblem(error) {
                dropStore()
                let reason = RunnerErrors.describe(error)
                guard job.retries else {
                    // A write is never re-run; its failure says what happened. The
                    // readers notice the outage (or not) on their own next query.
                    monitor.forget(worker: name)
                    if let message = job.failed(reason) { post(message) }
                    return
                }
                attempt += 1
                // 1, 2, 4, 8, 16, 30, 30 … seconds.
                let delay = min(30, pow(2, Double(attempt - 1)))
                monitor.report(worker: name, .disconnected(reason: reason, retryAt: clock() + delay))
                guard sleep(delay) else { return }
                if hasNewer(key: job.key) { return }  // a newer request will run instead
            } catch {
                // A query that failed for its own reason reached the server: this worker
                // no longer counts as disconnected (else the header says so for good).
                monitor.forget(worker: name)
                if let message = job.failed(RunnerErrors.describe(error)) { post(message) }
                return
            }
        }
    }

    /// The server the store is on now. A read that found its connection broken
    /// reconnects inside the store, perhaps to another of several hosts (a failover):
    /// whether it is a standby is asked again only when the host:port changed.
    private func currentServer(of store: StateStore) -> ConnectedServer? {
        guard let address = store.connectedServer else { return nil }
        if let server, server.address == address { return server }
        let info = try? store.serverInfo()
        let found = ConnectedServer(address: info?.server ?? address, inRecovery: info?.inRecovery)
        server = found
        return found
    }

    private func connectedStore() throws -> StateStore {
        condition.lock()
        let existing = store
        condition.unlock()
        if let existing { return existing }
        let made = try makeStore()
        condition.lock()
        store = made
        condition.unlock()
        return made
    }

    private func dropStore() {
        condition.lock()
        let old = store
        store = nil
        server = nil
        condition.unlock()
        old?.close()
    }
}

/// The header shows one connection status for all the workers: disconnected while
/// any of them is, connected once all that have run something are; and the server
/// the last of them to run something is on, posted when it changes (a failover).
final class ConnectionMonitor: @unchecked Sendable {
    private let lock = NSLock()
    private var states: [String: ConnectionStatus] = [:]
    private var last: ConnectionStatus = .connecting
    private var lastServer: ConnectedServer?
    private let post: @Sendable (Message) -> Void

    init(post: @escaping @Sendable (Message) -> Void) {
        self.post = post
    }

    func forget(worker: String) {
        lock.lock()
        states[worker] = nil
        lock.unlock()
    }

    func report(worker: String, _ status: ConnectionStatus, server: ConnectedServer? = nil) {
        lock.lock()
        states[worker] = status
        var combined: ConnectionStatus = .connected
        for state in states.values {
            if case .disconnected = state { combined = state }
        }
        let changed = combined != last
        last = combined
        let newServer = server.flatMap { $0 != lastServer ? $0 : nil }
        if let newServer { lastServer = newServer }
        // Posted under the lock, so two workers' messages arrive in the order decided
        // here: the status first, then the server (whose change says more).
        if changed { post(.connection(combined)) }
        if let newServer { post(.server(newServer)) }
        lock.unlock()
    }
}

/// A new connection could not be opened (see `Worker.run`).
struct ConnectFailure: Error {
    var underlying: Error
}

/// Sorting errors into "the connection is gone" (retry) and everything else (say it).
enum RunnerErrors {
    static func isConnectionProblem(_ error: Error) -> Bool {
        if error is ConnectFailure { return true }
        if let error = error as? PostgresError { return isConnectionProblem(error) }
        if let error = error as? StoreError {
            switch error {
            case let .database(_, postgres): return isConnectionProblem(postgres)
            case .interrupted: return true
            default: return false
            }
        }
        return false
    }

    static func isConnectionProblem(_ error: PostgresError) -> Bool {
        switch error.kind {
        case .connectionLost, .connectionFailed, .passwordRequired: return true
        default: return ["57P01", "57P02", "57P03", "08000", "08003", "08006"].contains(error.sqlState ?? "")
        }
    }

    /// The sentence to show: the store's own wording, which never holds a password, on
    /// one line. libpq and the server write over several lines ("Connection refused\n\t
    /// Is the server running…"; Detail and Hint on lines of their own), and the status
    /// line and the header have one: there those breaks would only show as `\x0a\x09`.
    /// Only the server's and libpq's text is joined up; state IDs in the store's own
    /// wording stay as they are, so the screen still shows their control characters.
    static func describe(_ error: Error) -> String {
        // "Cannot connect to user@host:port/db: " and libpq's lines: no state ID in it.
        if let error = error as? ConnectFailure { return oneLine(describe(error.underlying)) }
        if let error = error as? StoreError {
            switch error {
            case let .database(action, postgres):
                return StoreError.database(action: action, oneLine(postgres, detailed: true)).description
            case let .interrupted(action, outcome, postgres):
                return StoreError.interrupted(action: action, outcome: outcome, oneLine(postgres, detailed: false)).description
            default:
                return error.description
            }
        }
        if let error = error as? PostgresError {
            return oneLine(error.message) + (error.fix.map { " " + oneLine($0) } ?? "")
        }
        if let error = error as? JSONParseError { return error.description }
        return String(describing: error)
    }

    /// Lines joined with one space, the blanks around each break (libpq indents with a
    /// tab) and at the ends dropped; a tab inside a line becomes a space.
    static func oneLine(_ text: String) -> String {
        text.split(whereSeparator: \.isNewline)
            .map { $0.replacingOccurrences(of: "\t", with: " ").trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
            .joined(separator: " ")
    }

    /// The error with its texts on one line: with `detailed`, all of its description
    /// (SQLSTATE, Detail, Hint, Fix) as its message, as `StoreError.database` shows it;
    /// else only its message, as `StoreError.interrupted` shows it.
    static func oneLine(_ error: PostgresError, detailed: Bool) -> PostgresError {
        var flat = error
        guard detailed else {
            flat.message = oneLine(error.message)
            return flat
        }
        flat.message = oneLine(error.description)
        flat.sqlState = nil
        flat.detail = nil
        flat.hint = nil
        flat.fix = nil
        return flat
    }
}
