import Foundation
import Postgres

/// A lock this store holds; released exactly (state ID and lock ID, or the advisory key).
public struct HeldLock: Sendable {
    public let stateID: String
    /// The row's `lock_id` (two-tables) or the advisory key as text (single-table).
    public let lockID: String
}

/// The lock rows a store holds at this moment, readable from any thread: what a
/// process that must exit at once (a second Ctrl-C) can still tell the user.
final class HeldLockRegistry: @unchecked Sendable {
    private let lock = NSLock()
    /// By lock ID: the state ID (nil for a bulk lock) and how many rows it covers.
    private var entries: [(lockID: String, stateID: String?, count: Int)] = []

    func add(lockID: String, stateID: String?, count: Int = 1) {
        lock.lock(); defer { lock.unlock() }
        entries.append((lockID, stateID, count))
    }

    func remove(lockID: String) {
        lock.lock(); defer { lock.unlock() }
        entries.removeAll { $0.lockID == lockID }
    }

    var summary: String? {
        lock.lock(); defer { lock.unlock() }
        guard !entries.isEmpty else { return nil }
        return entries.map { entry in
            if let stateID = entry.stateID {
                return "the lock on \(StoreError.quoted(stateID)) (lock ID \(entry.lockID)) may remain; release it with: \(unlockCommand(stateID: stateID, lockID: entry.lockID))"
            }
            return "the locks on \(entry.count) state ID(s) (all with lock ID \(entry.lockID)) may remain; `meltano-state locks` lists them and `meltano-state unlock ID \(entry.lockID)` releases each"
        }.joined(separator: "; ")
    }
}

/// The state IDs of advisory lock keys, as found by hashing every state ID: an ID found
/// for a key stays right (the key is its hash), so each key is looked for once. A key no
/// row has (a first run's lock, or another program's) is looked for again after
/// `retryAfter` seconds: the row may be written meanwhile.
final class AdvisoryKeyCache: @unchecked Sendable {
    private let lock = NSLock()
    private var ids: [Int64: String] = [:]
    private var missing: [Int64: Double] = [:]
    let retryAfter: Double

    init(retryAfter: Double = 30) { self.retryAfter = retryAfter }

    /// The keys to look for now: not found yet, and not looked for lately (unless
    /// `retryingMissing`).
    func unresolved(_ keys: [Int64], retryingMissing: Bool = false, now: Double = monotonicSeconds()) -> [Int64] {
        lock.lock(); defer { lock.unlock() }
        return Array(Set(keys.filter { key in
            ids[key] == nil && (retryingMissing || missing[key].map { now - $0 >= retryAfter } ?? true)
        })).sorted()
    }

    func record(looked keys: [Int64], found: [(Int64, String)], now: Double = monotonicSeconds()) {
        lock.lock(); defer { lock.unlock() }
        for (key, id) in found { ids[key] = id }
        for key in keys where ids[key] == nil { missing[key] = now }
        // Only keys held lately are worth keeping.
        if ids.count > 10_000 { ids.removeAll() }
        if missing.count > 10_000 { missing.removeAll() }
    }

    func stateID(of key: Int64) -> String? {
        lock.lock(); defer { lock.unlock() }
        return ids[key]
    }
}

/// Seconds on a clock that only goes forward (for how long ago something was done).
func monotonicSeconds() -> Double { ProcessInfo.processInfo.systemUptime }

/// Set once the store's connection was seen to own its server session.
final class SessionPinning: @unchecked Sendable {
    private let lock = NSLock()
    private var pinned = false
    var isKnownPinned: Bool {
        get { lock.lock(); defer { lock.unlock() }; return pinned }
        set { lock.lock(); defer { lock.unlock() }; pinned = newValue }
    }
}

extension StateStore {
    /// What to tell the user about this store's lock rows if the process ended now
    /// (nil when it holds none). Safe from any thread, e.g. a signal handler's queue.
    public var heldLocksSummary: String? { heldLocks.summary }

    /// Stops at a safe point (before a change is made) when cancellation was asked for.
    func checkCancelled(_ what: String) throws {
        if cancellation.isCancelled { throw StoreError.cancelled(what) }
    }

    /// A statement cancelled on request (`Connection.cancel()` from a signal handler or
    /// a UI key) as the cancellation it is; anything else unchanged.
    func translatingCancellation(_ error: Error, _ what: String) -> Error {
        if let error = error as? PostgresError, error.kind == .cancelled, cancellation.isCancelled {
            return StoreError.cancelled(what)
        }
        return error
    }

    /// Takes the state ID's lock the way Meltano does, runs `body`, and releases
    /// exactly that lock, also when `body` throws.
    func withLock<T>(_ stateID: String, action: String, _ body: (HeldLock) throws -> T) throws -> T {
        let lock = try acquire(stateID, action: action)
        let value: T
        do {
            value = try body(lock)
        } catch {
            let error = translatingCancellation(error, "stopped while trying to \(action); the statement was rolled back, nothing was changed.")
            if let releaseProblem = releaseOwn(lock) {
                throw StoreError.adding(releaseProblem, to: error)
            }
            throw error
        }
        if let releaseProblem = releaseOwn(lock) { throw StoreError.lockNotReleased("The change was made, but \(releaseProblem)") }
        return value
    }

    /// Meltano's protocol: a fresh UUID4 inserted in autocommit (two-tables) or
    /// `pg_try_advisory_lock` (single-table); a refusal is retried until the timeout.
    func acquire(_ stateID: String, action: String) throws -> HeldLock {
        let start = Date()
        let lock: HeldLock
        switch tables.locking {
        case .rows:
            lock = HeldLock(stateID: stateID, lockID: UUID().uuidString.lowercased())
        case .advisory:
            try requireSessionPinnedConnection(stateID)
            lock = HeldLock(stateID: stateID, lockID: String(advisoryLockKey(stateID)))
        }
        while true {
            try checkCancelled("gave up waiting for the lock of \(StoreError.quoted(stateID)); nothing was changed.")
            if try tryLock(lock, action: action) {
                if case .rows = tables.locking { heldLocks.add(lockID: lock.lockID, stateID: stateID) }
                return lock
            }
            let waited = Date().timeIntervalSince(start)
            if waited >= options.lockTimeout {
                let holder = try? locks().first { sameText($0.stateID, stateID) }
                throw StoreError.lockHeld(stateID: stateID, holder: holder, waited: waited)
            }
            Thread.sleep(forTimeInterval: min(options.lockRetryInterval, max(0.01, options.lockTimeout - waited)))
        }
    }

    /// An advisory lock belongs to the server session that took it. Behind a pooler
    /// that gives each transaction whichever server session is free (PgBouncer's
    /// `pool_mode = transaction` or `statement`), the lock would be taken in one
    /// session and the write made in another: no lock at all, so a running pipeline
    /// could write at the same time. Such a connection is refused before anything is
    /// taken. (The bulk writes hold a table lock inside one transaction instead, which
    /// no pooler splits.)
    ///
    /// The test: on a direct connection, the process ID libpq was given at connect
    /// equals the server session's `pg_backend_pid()`; a pooler makes up the former.
    /// Then a second connection opens a transaction: if it is given the very server
    /// session this connection was just using, this connection does not own a session.
    /// (A pooler hands out its most recently used server session first, as PgBouncer
    /// does by default, so the test finds transaction pooling; it cannot mistake a
    /// direct or session-pooled connection for it.)
    func requireSessionPinnedConnection(_ stateID: String) throws {
        if sessionPinning.isKnownPinned { return }
        try database("check that the connection owns its server session") {
            func serverSession(_ connection: Connection) throws -> Int32? {
                try connection.query("SELECT pg_backend_pid()").scalar.flatMap { Int32($0) }
            }
            var ours = try serverSession(connection)
            if ours == connection.backendPID { sessionPinning.isKnownPinned = true; return }
            let probe = try Connection(connection.configuration)
            defer { probe.close() }
            for _ in 0..<2 {
                let theirs = try probe.transaction { try serverSession(probe) }
                if theirs == ours {
                    throw StoreError.other("""
                        Refusing to take the lock of \(StoreError.quoted(stateID)): this connection goes through a pooler \
                        that runs each transaction in whichever server session is free (PgBouncer's pool_mode = transaction \
                        or statement). The \(layout.rawValue) layout's lock is a PostgreSQL advisory lock, held by one server \
                        session, so through this pooler it would be no lock at all and a running pipeline could write at the \
                        same time. Nothing was changed. For writes, connect to PostgreSQL directly or through a PgBouncer \
                        database with pool_mode = session; reading works as it is. (Meltano's later add-on has the same \
                        problem behind such a pooler.)
                        """)
                }
                ours = try serverSession(connection)  // through a pooler, perhaps another session now
            }
            sessionPinning.isKnownPinned = true
        }
    }

    private func tryLock(_ lock: HeldLock, action: String) throws -> Bool {
        do {
            switch tables.locking {
            case let .rows(locksTable):
                try connection.query("INSERT INTO \(locksTable) (state_id, lock_id) VALUES ($1, $2)", [lock.stateID, lock.lockID])
                return true
            case .advisory:
                return try connection.query("SELECT pg_try_advisory_lock($1::bigint)", [lock.lockID]).scalar == "t"
            }
        } catch let error as PostgresError where error.isUniqueViolation {
            return false
        } catch let error as PostgresError where error.kind == .connectionLost {
            // The INSERT may have committed before the connection broke: clean up our
            // own row (it has our fresh lock_id) once reconnected, then fail.
            var outcome = "Nothing was changed."
            if case .rows = tables.locking {
                heldLocks.add(lockID: lock.lockID, stateID: lock.stateID)
                if let problem = releaseOwn(lock) { outcome += " But \(problem)" }
            } else {
                try? connection.reconnect()
            }
            throw StoreError.interrupted(action: action, outcome: outcome, error)
        } catch let error as PostgresError where error.kind == .cancelled && cancellation.isCancelled {
            throw StoreError.cancelled("gave up waiting for the lock of \(StoreError.quoted(lock.stateID)); nothing was changed.")
        } catch let error as PostgresError {
            throw StoreError.database(action: "take the lock for '\(lock.stateID)'", error)
        }
    }

    /// Releases our own lock; returns a sentence for the user when that failed.
    /// Deleting by state ID and lock ID is idempotent, so after a broken connection it
    /// is safe to reconnect and try again, for a few seconds (a server restart).
    func releaseOwn(_ lock: HeldLock) -> String? {
        switch tables.locking {
        case let .rows(locksTable):
            let released = releaseRows("DELETE FROM \(locksTable) WHERE state_id = $1 AND lock_id = $2", [lock.stateID, lock.lockID])
            if released { heldLocks.remove(lockID: lock.lockID); return nil }
            return "our lock on \(StoreError.quoted(lock.stateID)) may remain (lock ID \(lock.lockID)); once the server is reachable, release it with: \(unlockCommand(stateID: lock.stateID, lockID: lock.lockID))"
        case .advisory:
            // An advisory lock dies with its session: a broken connection released it.
            _ = try? connection.query("SELECT pg_advisory_unlock($1::bigint)", [lock.lockID])
            return nil
        }
    }

    /// Runs an idempotent DELETE of our own lock rows, reconnecting and retrying while
    /// the connection is broken (`releaseRetryDelays`). True when it ran.
    func releaseRows(_ sql: String, _ parameters: [String?]) -> Bool {
        do { try connection.query(sql, parameters); return true } catch {}
        return onceReconnected { try connection.query(sql, parameters) } != nil
    }

    /// Reconnects and runs `body`, retrying while the server is restarting or
    /// unreachable (`releaseRetryDelays`: long enough to outlast a server restart,
    /// about a second, short enough to give up on a server that is gone and say so).
    /// Nil when it never ran, or was refused for another reason (privilege, …).
    func onceReconnected<T>(_ body: () throws -> T) -> T? {
        for delay in options.releaseRetryDelays {
            if delay > 0 { Thread.sleep(forTimeInterval: delay) }
            do {
                try connection.reconnect()
                return try body()
            } catch let error as PostgresError where error.kind == .connectionFailed || error.kind == .connectionLost
                        || ["57P01", "57P02", "57P03"].contains(error.sqlState ?? "") {
                continue  // the server is restarting or unreachable: wait a little
            } catch {
                return nil  // retrying will not help
            }
        }
        return nil
    }

    // MARK: - Showing and releasing other holders' locks

    /// Every lock held right now, oldest first, each judged stale or not on the best
    /// evidence there is (`LockInfo.staleness`: heartbeat, holder session, else age).
    public func locks() throws -> [LockInfo] {
        judgingStaleness(try lockRows())
    }

    /// The locks, with `isStale` and `staleness` set by `LockStaleness.judge` from the
    /// runs of Meltano's system database when it can be read (one query for all).
    public func judgingStaleness(_ locks: [LockInfo]) -> [LockInfo] {
        guard !locks.isEmpty else { return locks }
        let runs = runEvidence(for: locks.map(\.stateID))
        return locks.map { lock in
            var lock = lock
            // The verdict on a held lock does not depend on the state row.
            let diagnosis = Diagnosis.diagnose(DoctorEvidence(stateID: lock.stateID, layout: layout, lock: lock, runs: runs,
                                                              state: nil, staleAfter: options.staleLockAfter))
            lock.staleness = diagnosis.staleness
            lock.isStale = diagnosis.staleness?.isStale ?? lock.isStale
            lock.releaseVerdict = diagnosis.verdict
            lock.releaseReason = diagnosis.reason
            return lock
        }
    }

    /// The locks as stored, stale by age alone; with `stateIDs`, only theirs, found by
    /// their IDs (never from `advisoryKeys`: a verdict on them must see a lock taken a
    /// moment ago).
    func lockRows(of stateIDs: [String]? = nil) throws -> [LockInfo] {
        try requireTables()
        switch tables.locking {
        case let .rows(locksTable):
            let all = try database("list locks") {
                try connection.query("""
                    SELECT state_id, lock_id, locked_at::text, EXTRACT(EPOCH FROM (LOCALTIMESTAMP - locked_at))::float8
                    FROM \(locksTable) ORDER BY locked_at, state_id
                    """, idempotent: true).rows.map { row in
                    let age = row[3].flatMap(Double.init)
                    return LockInfo(stateID: row[0] ?? "", lockID: row[1] ?? "", lockedAt: row[2] ?? "",
                                    ageSeconds: age, isStale: isStale(lockAge: age))
                }
            }
            guard let stateIDs else { return all }
            let wanted = Set(stateIDs.map(ExactID.init))
            return all.filter { wanted.contains(ExactID($0.stateID)) }
        case .advisory:
            return try advisoryLocks(of: stateIDs)
        }
    }

    /// Advisory locks on this table's state IDs (or on `stateIDs`, rows or not: an ID
    /// about to be written for the first time can be locked already), with what
    /// `pg_stat_activity` tells of each holder (empty columns when the role may not see
    /// other sessions).
    ///
    /// A lock's key is a hash of its state ID, so finding the ID of a key takes hashing
    /// every state ID (0.8 s at a million rows, the whole server's CPU meanwhile): done
    /// once per key (`advisoryKeys`), not on each refresh of the browser's locks pane.
    /// The held locks themselves are read from `pg_locks` each time. A lock on an ID
    /// that has no row is not listed (its ID cannot be known); `of:` finds it.
    ///
    /// `everyKey` looks again for the keys no row had lately too (`advisoryKeys` waits
    /// 30 s): for a decision on all the state IDs (`clear --all`), not for a listing.
    func advisoryLocks(of stateIDs: [String]? = nil, everyKey: Bool = false) throws -> [LockInfo] {
        try database("list advisory locks") {
            let held = try heldAdvisoryLocks(of: stateIDs)
            if stateIDs != nil { return held.map(\.lock) }
            let unknown = advisoryKeys.unresolved(held.map(\.key), retryingMissing: everyKey)
            if !unknown.isEmpty {
                let found = try connection.query("""
                    SELECT (('x' || substr(md5(state_id), 1, 16))::bit(64)::bigint)::text, state_id FROM \(tables.state)
                    WHERE (('x' || substr(md5(state_id), 1, 16))::bit(64)::bigint) = ANY($1::bigint[])
                    """, [arrayLiteral(unknown.map(String.init))], idempotent: true).rows
                advisoryKeys.record(looked: unknown, found: found.compactMap { row in
                    guard let key = row[0].flatMap({ Int64($0) }), let id = row[1] else { return nil }
                    return (key, id)
                })
            }
            return held.compactMap { entry -> LockInfo? in
                var lock = entry.lock
                guard let stateID = advisoryKeys.stateID(of: entry.key) else { return nil }
                lock.stateID = stateID
                return lock
            }.sorted { ($0.lockedAt.isEmpty ? 1 : 0, $0.lockedAt, $0.stateID) < ($1.lockedAt.isEmpty ? 1 : 0, $1.lockedAt, $1.stateID) }
        }
    }

    /// The advisory locks held in this database by other sessions (or those on the keys
    /// of `stateIDs`, with their IDs), each with its key and its holder; no state table
    /// is read.
    private func heldAdvisoryLocks(of stateIDs: [String]?) throws -> [(key: Int64, lock: LockInfo)] {
        let join = stateIDs == nil ? "LEFT JOIN (SELECT NULL::text AS state_id) s ON false"
            : "JOIN unnest($1::text[]) AS s(state_id) ON ((l.classid::bigint << 32) | l.objid::bigint) = (('x' || substr(md5(s.state_id), 1, 16))::bit(64)::bigint)"
        let parameters = stateIDs.map { [arrayLiteral($0)] } ?? []
        return try connection.query("""
            SELECT s.state_id, ((l.classid::bigint << 32) | l.objid::bigint)::text,
                   COALESCE(a.xact_start, a.backend_start)::text,
                   EXTRACT(EPOCH FROM (now() - COALESCE(a.xact_start, a.backend_start)))::float8,
                   l.pid, a.usename, a.client_addr::text, a.application_name, a.backend_start::text,
                   a.xact_start::text, a.query, a.state || COALESCE(' (' || a.wait_event_type || ')', ''),
                   CASE WHEN a.pid IS NULL THEN 'gone' WHEN a.backend_start IS NULL THEN 'hidden' ELSE 'visible' END,
                   a.state, a.wait_event_type || COALESCE(': ' || a.wait_event, ''),
                   EXTRACT(EPOCH FROM (now() - a.query_start))::float8
            FROM pg_locks l
            \(join)
            LEFT JOIN pg_stat_activity a ON a.pid = l.pid
            WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
              AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
              AND l.pid <> pg_backend_pid()
            ORDER BY 3 NULLS LAST, 1
            """, parameters, idempotent: true).rows.map { row in
            let age = row[3].flatMap(Double.init)
            // pg_locks shows classid/objid unsigned; the key is a signed 64-bit value.
            let key = UInt64(row[1] ?? "0").map { Int64(bitPattern: $0) } ?? Int64(row[1] ?? "0") ?? 0
            var lock = LockInfo(stateID: row[0] ?? "", lockID: String(key), lockedAt: row[2] ?? "",
                                ageSeconds: age, isStale: isStale(lockAge: age),
                                pid: row[4].flatMap { Int32($0) }, user: row[5], clientAddress: row[6],
                                applicationName: row[7], backendStart: row[8], transactionStart: row[9],
                                query: row[10], waitState: row[11])
            lock.sessionVisibility = SessionVisibility(rawValue: row[12] == "hidden" ? SessionVisibility.hidden.rawValue : row[12] ?? "gone")
            lock.sessionState = row[13]
            lock.waitEvent = row[14]
            lock.queryAgeSeconds = row[15].flatMap(Double.init)
            return (key, lock)
        }
    }

    /// The lock row of a state ID, if any.
    private func lockRow(_ stateID: String, in locksTable: String) throws -> LockInfo? {
        guard let row = try connection.query("""
            SELECT state_id, lock_id, locked_at::text, EXTRACT(EPOCH FROM (LOCALTIMESTAMP - locked_at))::float8
            FROM \(locksTable) WHERE state_id = $1
            """, [stateID], idempotent: true).rows.first else { return nil }
        let age = row[3].flatMap(Double.init)
        return LockInfo(stateID: stateID, lockID: row[1] ?? "", lockedAt: row[2] ?? "",
                        ageSeconds: age, isStale: isStale(lockAge: age))
    }

    /// Refuses a release the role may not make, before the journal is written, naming
    /// the missing privilege (the DELETE would fail with a bare "permission denied").
    private func requireLockDeletePrivilege(_ action: String, on locksTable: String) throws {
        let row = try database(action) {
            try connection.query("SELECT has_table_privilege($1, 'DELETE'), current_user", [locksTable], idempotent: true).rows.first
        }
        guard row?[0] == "f" else { return }
        let role = row?[1] ?? "?"
        throw StoreError.other("Cannot \(action): the database role \(StoreError.quoted(role)) lacks the DELETE privilege on \(locksTable). Nothing was changed. Ask the database administrator for: GRANT DELETE ON \(locksTable) TO \(quoteIdentifier(role));")
    }

    /// Removes exactly the lock the user was shown, journaled first. Another holder's
    /// lock taken since is left alone and reported.
    ///
    /// Advisory locks can be released only by their own session: releasing one means
    /// terminating the holding backend (`pg_terminate_backend`), which this does only
    /// when that pid still holds that key.
    public func release(stateID: String, lockID: String) throws -> ReleaseOutcome {
        try requireWritable("release a lock")
        try requireTables()
        switch tables.locking {
        case let .rows(locksTable):
            // No SELECT … FOR UPDATE: that needs the UPDATE privilege, which a role set up
            // for Meltano (SELECT, INSERT, DELETE on the locks table) does not have. The
            // DELETE by state ID *and* lock ID is what guarantees that only the lock shown
            // is removed, whatever happened in between.
            let action = "release the lock of \(StoreError.quoted(stateID))"
            guard let info = try database(action, { try lockRow(stateID, in: locksTable) }) else { return .alreadyGone }
            guard info.lockID == lockID else { return .retaken(by: info) }
            try requireLockDeletePrivilege(action, on: locksTable)
            try options.journal.append([journalEntry(action: "unlock", stateID: stateID, before: nil, lock: info)])
            let deleted: Int
            do {
                deleted = try connection.query("DELETE FROM \(locksTable) WHERE state_id = $1 AND lock_id = $2",
                                               [stateID, lockID]).affectedRows
            } catch let error as PostgresError where error.kind == .connectionLost {
                throw StoreError.interrupted(action: action, outcome: "The lock row may or may not have been removed (a single statement is applied whole or not at all): check with `meltano-state locks`.", error)
            } catch let error as PostgresError {
                if error.kind == .cancelled && cancellation.isCancelled {
                    throw StoreError.cancelled("the lock of \(StoreError.quoted(stateID)) was not released.")
                }
                throw StoreError.database(action: action, error)
            }
            if deleted == 0 {
                // Released, or released and re-taken, between our read and the DELETE.
                if let now = try database(action, { try lockRow(stateID, in: locksTable) }) { return .retaken(by: now) }
                return .alreadyGone
            }
            return .released(info)
        case .advisory:
            guard let held = try advisoryLocks(of: [stateID]).first else { return .alreadyGone }
            guard held.lockID == lockID || held.pid.map(String.init) == lockID else { return .retaken(by: held) }
            guard let pid = held.pid else { return .alreadyGone }
            try options.journal.append([journalEntry(action: "terminate", stateID: stateID, before: nil, lock: held,
                                                     note: "terminated backend pid \(pid)")])
            let terminated = try database("terminate backend \(pid)") {
                try connection.query("SELECT pg_terminate_backend($1::int)", [String(pid)]).scalar == "t"
            }
            if !terminated {
                throw StoreError.lockNotReleased("PostgreSQL did not terminate backend \(pid) (it had already ended, or this role may not signal it: it needs to be a superuser, the same role, or a member of pg_signal_backend).")
            }
            return .terminated(held)
        }
    }
}
