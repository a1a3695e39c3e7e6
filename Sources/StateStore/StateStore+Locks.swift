import Foundation

/// A lock this store holds; released exactly (state ID and lock ID, or the advisory key).
public struct HeldLock: Sendable {
    public let stateID: String
    /// The row's `lock_id` (two-tables) or the advisory key as text (single-table).
    public let lockID: String
}

extension StateStore {
    /// Takes the state ID's lock the way Meltano does, runs `body`, and releases
    /// exactly that lock, also when `body` throws.
    func withLock<T>(_ stateID: String, action: String, _ body: (HeldLock) throws -> T) throws -> T {
        let lock = try acquire(stateID, action: action)
        let value: T
        do {
            value = try body(lock)
        } catch {
            if let releaseProblem = releaseOwn(lock) {
                throw StoreError.other("\(error) \(releaseProblem)")
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
        switch layout {
        case .twoTables:
            lock = HeldLock(stateID: stateID, lockID: UUID().uuidString.lowercased())
        case .singleTable, .systemDB:
            lock = HeldLock(stateID: stateID, lockID: String(advisoryLockKey(stateID)))
        }
        while true {
            if cancellation.isCancelled {
                throw StoreError.cancelled("gave up waiting for the lock of '\(stateID)'; nothing was changed.")
            }
            if try tryLock(lock, action: action) { return lock }
            let waited = Date().timeIntervalSince(start)
            if waited >= options.lockTimeout {
                let holder = try? locks().first { $0.stateID == stateID }
                throw StoreError.lockHeld(stateID: stateID, holder: holder, waited: waited)
            }
            Thread.sleep(forTimeInterval: min(options.lockRetryInterval, max(0.01, options.lockTimeout - waited)))
        }
    }

    private func tryLock(_ lock: HeldLock, action: String) throws -> Bool {
        do {
            switch layout {
            case .twoTables:
                try connection.query("INSERT INTO \(tables.locks!) (state_id, lock_id) VALUES ($1, $2)", [lock.stateID, lock.lockID])
                return true
            case .singleTable, .systemDB:
                return try connection.query("SELECT pg_try_advisory_lock($1::bigint)", [lock.lockID]).scalar == "t"
            }
        } catch let error as PostgresError where error.isUniqueViolation {
            return false
        } catch let error as PostgresError where error.kind == .connectionLost {
            // The INSERT may have committed before the connection broke: clean up our
            // own row (it has our fresh lock_id) once reconnected, then fail.
            try? connection.reconnect()
            if layout == .twoTables {
                _ = try? connection.query("DELETE FROM \(tables.locks!) WHERE state_id = $1 AND lock_id = $2", [lock.stateID, lock.lockID])
            }
            throw StoreError.interrupted(action: action, outcome: "Nothing was changed.", error)
        } catch let error as PostgresError {
            throw StoreError.database(action: "take the lock for '\(lock.stateID)'", error)
        }
    }

    /// Releases our own lock; returns a sentence for the user when that failed.
    /// Deleting by state ID and lock ID is idempotent, so after a broken connection it
    /// is safe to reconnect and try again.
    func releaseOwn(_ lock: HeldLock) -> String? {
        func attempt() throws {
            switch layout {
            case .twoTables:
                try connection.query("DELETE FROM \(tables.locks!) WHERE state_id = $1 AND lock_id = $2", [lock.stateID, lock.lockID])
            case .singleTable, .systemDB:
                try connection.query("SELECT pg_advisory_unlock($1::bigint)", [lock.lockID])
            }
        }
        do { try attempt(); return nil } catch {
            if layout == .twoTables {
                if (try? connection.reconnect()) != nil, (try? attempt()) != nil { return nil }
                return "Our lock on '\(lock.stateID)' may remain (lock ID \(lock.lockID)); once the server is reachable, release it with: meltano-state unlock \(shellQuote(lock.stateID)) \(lock.lockID)"
            }
            // An advisory lock dies with its session.
            return nil
        }
    }

    // MARK: - Showing and releasing other holders' locks

    /// Every lock held right now, oldest first.
    public func locks() throws -> [LockInfo] {
        try requireTables()
        switch layout {
        case .twoTables:
            return try database("list locks") {
                try connection.query("""
                    SELECT state_id, lock_id, locked_at::text, EXTRACT(EPOCH FROM (LOCALTIMESTAMP - locked_at))::float8
                    FROM \(tables.locks!) ORDER BY locked_at, state_id
                    """, idempotent: true).rows.map { row in
                    let age = row[3].flatMap(Double.init)
                    return LockInfo(stateID: row[0] ?? "", lockID: row[1] ?? "", lockedAt: row[2] ?? "",
                                    ageSeconds: age, isStale: (age ?? 0) > options.staleLockAfter)
                }
            }
        case .singleTable, .systemDB:
            return try advisoryLocks()
        }
    }

    /// Advisory locks on this table's state IDs, with what `pg_stat_activity` tells
    /// of each holder (empty columns when the role may not see other sessions).
    func advisoryLocks() throws -> [LockInfo] {
        try database("list advisory locks") {
            try connection.query("""
                SELECT s.state_id, ((l.classid::bigint << 32) | l.objid::bigint)::text,
                       COALESCE(a.xact_start, a.backend_start)::text,
                       EXTRACT(EPOCH FROM (now() - COALESCE(a.xact_start, a.backend_start)))::float8,
                       l.pid, a.usename, a.client_addr::text, a.application_name, a.backend_start::text,
                       a.xact_start::text, a.query, a.state || COALESCE(' (' || a.wait_event_type || ')', '')
                FROM pg_locks l
                JOIN \(tables.state) s
                  ON ((l.classid::bigint << 32) | l.objid::bigint) = (('x' || substr(md5(s.state_id), 1, 16))::bit(64)::bigint)
                LEFT JOIN pg_stat_activity a ON a.pid = l.pid
                WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
                  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                  AND l.pid <> pg_backend_pid()
                ORDER BY 3 NULLS LAST, 1
                """, idempotent: true).rows.map { row in
                let age = row[3].flatMap(Double.init)
                // pg_locks shows classid/objid unsigned; the key is a signed 64-bit value.
                let unsigned = UInt64(row[1] ?? "0").map { Int64(bitPattern: $0) } ?? Int64(row[1] ?? "0") ?? 0
                return LockInfo(stateID: row[0] ?? "", lockID: String(unsigned), lockedAt: row[2] ?? "",
                                ageSeconds: age, isStale: (age ?? 0) > options.staleLockAfter,
                                pid: row[4].flatMap { Int32($0) }, user: row[5], clientAddress: row[6],
                                applicationName: row[7], backendStart: row[8], transactionStart: row[9],
                                query: row[10], waitState: row[11])
            }
        }
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
        switch layout {
        case .twoTables:
            return try database("release the lock of '\(stateID)'") {
                try connection.transaction {
                    let rows = try connection.query("""
                        SELECT state_id, lock_id, locked_at::text, EXTRACT(EPOCH FROM (LOCALTIMESTAMP - locked_at))::float8
                        FROM \(tables.locks!) WHERE state_id = $1 FOR UPDATE
                        """, [stateID]).rows
                    guard let row = rows.first else { return .alreadyGone }
                    let age = row[3].flatMap(Double.init)
                    let info = LockInfo(stateID: stateID, lockID: row[1] ?? "", lockedAt: row[2] ?? "",
                                        ageSeconds: age, isStale: (age ?? 0) > options.staleLockAfter)
                    guard info.lockID == lockID else { return .retaken(by: info) }
                    try options.journal.append([journalEntry(action: "unlock", stateID: stateID, before: nil, lock: info)])
                    try connection.query("DELETE FROM \(tables.locks!) WHERE state_id = $1 AND lock_id = $2", [stateID, lockID])
                    return .released(info)
                }
            }
        case .singleTable, .systemDB:
            guard let held = try advisoryLocks().first(where: { $0.stateID == stateID }) else { return .alreadyGone }
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
