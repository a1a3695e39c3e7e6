import Foundation
import Postgres
import StateJSON

/// What `sync` plans, or did, for one state ID.
public enum SyncAction: String, Sendable, Equatable {
    /// The target has no row: one is (to be) written.
    case create
    /// The target's row differs: it is (to be) overwritten, its old value journaled.
    case overwrite
    /// The target already holds exactly the bytes sync would write: nothing to do.
    case same
    /// Not written: the source row cannot be written as Meltano would (not JSON, parts
    /// that do not merge), a lock is held on either side, or it vanished meanwhile.
    case skip
}

/// One state ID of a sync.
public struct SyncItem: Sendable, Equatable {
    public let stateID: String
    public let action: SyncAction
    /// Why it is skipped.
    public let reason: String?
    /// Skipped because a lock was held (on either side): the one kind of skip that a
    /// later run may not meet.
    public let lockHeld: Bool

    public init(stateID: String, action: SyncAction, reason: String? = nil, lockHeld: Bool = false) {
        self.stateID = stateID
        self.action = action
        self.reason = reason
        self.lockHeld = lockHeld
    }
}

/// Copying states from one store to another, in any layout: the bytes written are those
/// Meltano writes in the target's layout (`json.dumps` of each part; an empty part NULL
/// in the add-ons' tables, `{}` in Meltano's system database), so a state synced there
/// and back is byte for byte what it was.
public enum StateSync {
    /// What a sync would do, per source state ID matching `glob`, in ID order. Reads only.
    public static func plan(from source: StateStore, to target: StateStore, matching glob: String? = nil) throws -> [SyncItem] {
        try requireDistinct(source, target)
        let sourceRows = try source.rawRows(matching: glob)
        var targetRows: [ExactID: RowSnapshot] = [:]
        let targetHasTables = try target.tablesExist()
        if target.layout == .systemDB || targetHasTables {
            for (id, row) in try target.rawRows(matching: glob) { targetRows[ExactID(id)] = row }
        }
        return sourceRows.map { id, row in
            switch target.syncTexts(id, from: row) {
            case let .failure(refusal):
                return SyncItem(stateID: id, action: .skip, reason: refusal.reason)
            case let .success(texts):
                guard let existing = targetRows[ExactID(id)] else { return SyncItem(stateID: id, action: .create) }
                return SyncItem(stateID: id, action: sameText(existing.partialState, texts.partial) && sameText(existing.completedState, texts.completed) ? .same : .overwrite)
            }
        }
    }

    /// Applies a plan: each ID to create or overwrite, under its lock on both sides
    /// (the source's first), reading both rows again under the locks; the target's
    /// previous row is journaled first (all entries share the returned batch ID). An ID
    /// whose lock is held on either side after the lock timeout is skipped; the others
    /// proceed. Other failures stop the sync and say how far it got.
    public static func apply(_ plan: [SyncItem], from source: StateStore, to target: StateStore,
                             progress: ((Int, Int) -> Void)? = nil) throws -> (items: [SyncItem], batch: String) {
        try requireDistinct(source, target)
        try target.requireWritable("sync")
        try target.createTablesIfMissing()
        if target.layout != .systemDB { try target.requireTables() }
        let batch = Journal.newID()
        let sharesLocks = try source.sharesAdvisoryLocks(with: target)
        let note = "synced from \(source.location), schema \(source.schema), layout \(source.layout.rawValue)"
        var done: [SyncItem] = []
        let work = plan.filter { $0.action == .create || $0.action == .overwrite }
        var finished = 0
        for item in plan {
            guard item.action == .create || item.action == .overwrite else { done.append(item); continue }
            if target.cancellation.isCancelled || source.cancellation.isCancelled {
                throw StoreError.cancelled("sync stopped before \(StoreError.quoted(item.stateID)); \(summary(done)) (journal batch \(batch)).")
            }
            do {
                done.append(try syncOne(item.stateID, from: source, to: target, sharesLocks: sharesLocks, batch: batch, note: note))
            } catch let held as SideLockHeld {
                done.append(SyncItem(stateID: item.stateID, action: .skip, reason: held.description, lockHeld: true))
            } catch {
                throw StoreError.adding("Sync stopped at \(StoreError.quoted(item.stateID)); before it: \(summary(done)) (journal batch \(batch)).", to: error)
            }
            finished += 1
            progress?(finished, work.count)
        }
        return (done, batch)
    }

    /// "2 created, 1 overwritten, …" of what is done so far.
    static func summary(_ items: [SyncItem]) -> String {
        let created = items.filter { $0.action == .create }.count, overwritten = items.filter { $0.action == .overwrite }.count
        return "\(created) created, \(overwritten) overwritten"
    }

    private static func syncOne(_ id: String, from source: StateStore, to target: StateStore, sharesLocks: Bool,
                                batch: String, note: String) throws -> SyncItem {
        try source.withLockNamingSide(id, side: "source") { _ in
            let write = { (lock: HeldLock) throws -> SyncItem in
                guard let row = try source.readRow(id)?.snapshot else {
                    return SyncItem(stateID: id, action: .skip, reason: "it is no longer in the source")
                }
                let texts: (partial: String?, completed: String?)
                switch target.syncTexts(id, from: row) {
                case let .failure(refusal): return SyncItem(stateID: id, action: .skip, reason: refusal.reason)
                case let .success(found): texts = found
                }
                let before = try target.readRow(id)
                if let before, sameText(before.partial.raw, texts.partial) && sameText(before.completed.raw, texts.completed) {
                    return SyncItem(stateID: id, action: .same)
                }
                try target.options.journal.append([target.journalEntry(action: "sync", stateID: id, before: before?.snapshot,
                                                                        batch: batch, note: note)])
                try target.checkCancelled("\(StoreError.quoted(id)) was not synced.")
                try target.writeStatement("sync '\(id)'", lock: lock) { try target.upsertRaw(id, texts.partial, texts.completed) }
                return SyncItem(stateID: id, action: before == nil ? .create : .overwrite)
            }
            // Both advisory in one database: the source's lock is the target's too (the
            // key is the state ID's), and a second session could never take it.
            if sharesLocks { return try write(HeldLock(stateID: id, lockID: String(advisoryLockKey(id)))) }
            return try target.withLockNamingSide(id, side: "target", write)
        }
    }

    /// Refuses a sync of a store's tables onto themselves.
    static func requireDistinct(_ source: StateStore, _ target: StateStore) throws {
        if source.location == target.location && source.tables.state == target.tables.state && source.layout == target.layout {
            throw StoreError.other("The source and the target are the same tables (\(source.tables.state) in \(source.location)); choose another context (--to) or layout (--layout-to).")
        }
    }
}

/// Why a row cannot be synced.
struct Unsyncable: Error {
    let reason: String
}

/// A lock held on one side of a sync: that ID is skipped, the rest go on.
struct SideLockHeld: Error, CustomStringConvertible {
    let side: String
    let error: StoreError
    var description: String { "the lock is held on the \(side) side: \(error.description)" }
}

extension StateStore {
    /// `withLock`, with its own lock held by someone else reported as `SideLockHeld`
    /// naming the side.
    func withLockNamingSide<T>(_ stateID: String, side: String, _ body: (HeldLock) throws -> T) throws -> T {
        var acquired = false
        do {
            return try withLock(stateID, action: "sync '\(stateID)'") { lock in
                acquired = true
                return try body(lock)
            }
        } catch let error as StoreError where !acquired {
            if case .lockHeld = error { throw SideLockHeld(side: side, error: error) }
            throw error
        }
    }

    /// The texts this store writes for a row read elsewhere, as Meltano would write its
    /// parts here; or why it cannot (not JSON, parts that do not merge).
    func syncTexts(_ stateID: String, from row: RowSnapshot) -> Result<(partial: String?, completed: String?), Unsyncable> {
        let partial = StatePart(raw: row.partialState), completed = StatePart(raw: row.completedState)
        if case let .failure(error) = StateRecord.merged(stateID: stateID, partial: partial, completed: completed) {
            return .failure(Unsyncable(reason: error.description))
        }
        return .success((storedText(partial.value!), storedText(completed.value!)))
    }

    /// Every row matching a glob, raw, in state ID order.
    func rawRows(matching glob: String?) throws -> [(String, RowSnapshot)] {
        try requireTables()
        return try database("read the states") {
            var parameters: [String?] = []
            let sql = orderedSelect(columns: "state_id, partial_state, completed_state, updated_at::text", glob: glob, after: nil, limit: nil) {
                parameters.append($0)
                return "$1"
            }
            let result = try connection.query(sql, parameters, idempotent: true)
            return result.rows.map { ($0[0] ?? "", RowSnapshot(partialState: $0[1], completedState: $0[2], updatedAt: $0[3])) }
        }
    }

    /// Whether this store's advisory locks are `other`'s: both layouts lock with advisory
    /// keys, in the same database of the same server (same postmaster start, and our
    /// session is one of its backends).
    func sharesAdvisoryLocks(with other: StateStore) throws -> Bool {
        guard case .advisory = tables.locking, case .advisory = other.tables.locking else { return false }
        let mine = try database("identify the server") {
            try connection.query("SELECT pg_backend_pid()::text, pg_postmaster_start_time()::text, current_database()",
                                 idempotent: true).rows.first
        }
        guard let mine else { return false }
        return try other.database("identify the server") {
            try other.connection.query("""
                SELECT 1 WHERE pg_postmaster_start_time()::text = $2 AND current_database() = $3
                  AND EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1::int)
                """, [mine[0], mine[1], mine[2]], idempotent: true).rows.count == 1
        }
    }
}

extension StateSync {
    /// The lines `sync` prints: one per state ID (`create  ID`, or after `--apply`
    /// `created  ID`; a skip with its reason), then a summary.
    public static func render(_ items: [SyncItem], applied: Bool) -> String {
        func word(_ action: SyncAction) -> String {
            switch (action, applied) {
            case (.create, false): return "create"
            case (.overwrite, false): return "overwrite"
            case (.skip, false): return "skip"
            case (.create, true): return "created"
            case (.overwrite, true): return "overwritten"
            case (.skip, true): return "skipped"
            case (.same, _): return "same"
            }
        }
        let width = applied ? 11 : 9
        var out = ""
        for item in items {
            let label = word(item.action)
            out += label + String(repeating: " ", count: width - label.count) + "  " + item.stateID
            if let reason = item.reason { out += "  (" + reason + ")" }
            out += "\n"
        }
        let count = { (action: SyncAction) in items.filter { $0.action == action }.count }
        let ids = items.count == 1 ? "1 state ID" : "\(items.count) state IDs"
        if applied {
            out += "\(ids): \(count(.create)) created, \(count(.overwrite)) overwritten, \(count(.same)) already the same, \(count(.skip)) skipped.\n"
        } else {
            out += "\(ids): \(count(.create)) to create, \(count(.overwrite)) to overwrite, \(count(.same)) the same, \(count(.skip)) to skip. Nothing was written; add --apply to sync.\n"
        }
        return out
    }
}
