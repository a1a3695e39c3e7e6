import Foundation
import Postgres
import StateJSON

/// One state to import, in `export`'s shape.
public struct ImportEntry: Sendable {
    /// A part as read from the file: a value, or a non-empty object already as the text
    /// Meltano stores for it (`JSONValue.meltanoText`), rewritten from the file's bytes
    /// without a tree (`import` of 100 000 states), at most
    /// `JSONParser.maximumStoredDepth` levels deep.
    public enum Part: Sendable {
        case value(JSONValue)
        case object(meltanoText: String)
    }

    public let stateID: String
    public let completed: Part
    public let partial: Part

    public init(stateID: String, completed: JSONValue, partial: JSONValue) {
        self.init(stateID: stateID, completed: .value(completed), partial: .value(partial))
    }

    public init(stateID: String, completed: Part, partial: Part) {
        self.stateID = stateID
        self.completed = completed
        self.partial = partial
    }
}

extension ImportEntry.Part {
    /// Python's truthiness, as Meltano tests a part: a text is a non-empty object.
    var isFalsy: Bool {
        if case let .value(value) = self { return value.isFalsy }
        return false
    }

    /// The value, parsed when it is a text (only for the merge check of a partial part).
    func value() throws(JSONParseError) -> JSONValue {
        switch self {
        case let .value(value): return value
        case let .object(text): return try JSONParser.parse(text)
        }
    }
}

extension StateStore {
    /// `clear --all`, made safe: refuses while any lock is held (naming them), takes
    /// every ID's lock, journals every row, then deletes exactly the rows it locked.
    /// Meltano's own version takes no lock and journals nothing.
    public func clearAll(progress: ((String, Int, Int) -> Void)? = nil) throws -> Int {
        try requireWritable("clear all states")
        try requireTables()
        let held = try locks()
        if !held.isEmpty { throw StoreError.locksHeld(held, action: "clear all states") }
        let batch = Journal.newID()
        return try withBulkLock(batch: batch) { lockedIDs in
            let journal = options.journal.beginBatch(expectedEntries: lockedIDs.count)
            do {
                try journalRows(lockedIDs, action: "clear-all", batch: batch, into: journal, progress: progress)
            } catch {
                try? journal.finish()
                throw error
            }
            try journal.finish()  // every row on disk before the DELETE
            if cancellation.isCancelled { throw StoreError.cancelled("nothing was deleted; the journal holds a copy of the rows.") }
            progress?("deleting", 0, lockedIDs.count)
            let deleted = try bulkStatement("clear all states", outcome: "The rows were deleted all or none (one statement): `meltano-state list` shows which. The journal holds every row (batch \(batch)); `meltano-state restore \(batch)` puts them back.") {
                try connection.query("DELETE FROM \(tables.state) WHERE state_id = ANY($1::text[])", [arrayLiteral(lockedIDs)]).affectedRows
            }
            progress?("deleting", deleted, lockedIDs.count)
            return deleted
        }
    }

    /// `import` of `export`'s format, made safe: every entry is checked before anything
    /// is written (Meltano writes entries one by one and stops half-way on a bad one),
    /// every ID's lock is taken, every row that will change is journaled, and the rows
    /// are written in one transaction.
    public func importStates(_ entries: [ImportEntry], progress: ((String, Int, Int) -> Void)? = nil) throws -> Int {
        try requireWritable("import states")
        var seen = Set<ExactID>(minimumCapacity: entries.count)
        var plan: [(String, ImportEntry.Part, ImportEntry.Part)] = []
        plan.reserveCapacity(entries.count)
        for entry in entries {
            try StateID.validate(entry.stateID)
            func check(_ part: ImportEntry.Part, _ name: String) throws {
                guard case let .value(value) = part else { return }
                if !value.isFalsy, !value.isObject {
                    throw StoreError.invalidState("Import entry '\(entry.stateID)': its \(name) part is a \(value.pythonTypeName), not an object; Meltano would store it and then fail to read it. Nothing was imported.")
                }
                try checkStorable(value, of: "Import entry '\(entry.stateID)': its \(name) part")
            }
            try check(entry.completed, "completed")
            try check(entry.partial, "partial")
            // An empty partial part merges onto anything: the trees are needed only when
            // there is something to merge (rare in an export).
            if !entry.partial.isFalsy {
                do {
                    let partial = try entry.partial.value()
                    switch entry.completed {
                    case let .object(meltanoText: text):
                        // The completed text is walked where the partial part reaches, not parsed.
                        try checkDeepMerge(partial, ontoText: text)
                    case let .value(completed):
                        _ = try deepMerge(partial, onto: completed.isFalsy ? .emptyObject : completed)
                    }
                } catch {
                    throw StoreError.invalidState("Import entry '\(entry.stateID)': its partial part does not merge onto its completed part (\(error)). Nothing was imported.")
                }
            }
            if !seen.insert(ExactID(entry.stateID)).inserted {
                plan.removeAll { sameText($0.0, entry.stateID) }  // a later duplicate wins, as in a JSON object
            }
            plan.append((entry.stateID, entry.partial, entry.completed))
        }
        if plan.isEmpty { return 0 }
        try createTablesIfMissing()
        let batch = Journal.newID()
        let ids = plan.map(\.0)
        return try withBulkLock(batch: batch, stateIDs: ids) { lockedIDs in
            // The journal is written and fsync'ed on its own thread while the rows go to
            // the server; the transaction commits only once every entry is on disk, and
            // rolls back if the journal cannot be written.
            let journal = options.journal.beginBatch(expectedEntries: lockedIDs.count)
            defer { try? journal.finish() }  // ends its thread on every path (a second call only reports)
            let existing = try journalRows(lockedIDs, action: "import", batch: batch, includeMissing: true, into: journal, progress: progress)
            if cancellation.isCancelled { throw StoreError.cancelled("nothing was imported.") }
            let end = try bulkStatement("import states", outcome: "The import is one transaction: every state was written or none was (`meltano-state list` shows which). The journal holds the rows as they were (batch \(batch)).") {
                try transactionTellingOutcome {
                    var written = 0
                    var upserts = plan
                    // IDs without a row (every one, importing into an empty table) are
                    // written by one COPY: no conflict to check, half the server time.
                    // Their locks are ours, but Meltano's own import takes no lock: if
                    // one was written meanwhile, the COPY fails and they are upserted.
                    if layout != .systemDB {
                        let fresh = plan.filter { !existing.contains(ExactID($0.0)) }
                        if !fresh.isEmpty {
                            try connection.query("SAVEPOINT meltano_state_import")
                            do {
                                written = try connection.copyIn("COPY \(tables.state) (state_id, partial_state, completed_state) FROM STDIN",
                                                                rows: fresh.lazy.map { [$0.0, self.storedText($0.1), self.storedText($0.2)] })
                                try connection.query("RELEASE SAVEPOINT meltano_state_import")
                                upserts = plan.filter { existing.contains(ExactID($0.0)) }
                                progress?("writing", written, plan.count)
                            } catch let error as PostgresError where error.isUniqueViolation {
                                try connection.query("ROLLBACK TO SAVEPOINT meltano_state_import")
                            }
                            if cancellation.isCancelled { throw StoreError.cancelled("the import was rolled back; nothing was imported.") }
                        }
                    }
                    let chunk = 5000
                    for start in stride(from: 0, to: upserts.count, by: chunk) {
                        let slice = upserts[start..<min(start + chunk, upserts.count)].map { ($0.0, storedText($0.1), storedText($0.2)) }
                        try upsertMany(slice)
                        written += slice.count
                        progress?("writing", written, plan.count)
                        if cancellation.isCancelled { throw StoreError.cancelled("the import was rolled back; nothing was imported.") }
                    }
                    // The previous values durably in the journal before the commit.
                    try journal.finish()
                    if cancellation.isCancelled { throw StoreError.cancelled("the import was rolled back; nothing was imported.") }
                    return written
                }
            }
            switch end {
            case let .committed(written):
                return written
            case let .rolledBack(error, duringCommit):
                let how = duringCommit ? "the connection broke during its COMMIT, and the server, asked once it was back, says it was rolled back"
                    : "it ended before it committed, so the server rolled it back"
                throw StoreError.interrupted(action: "import states", outcome: "Nothing was imported: the import is one transaction and \(how); no state was changed. (The journal's batch \(batch) holds the rows as they still are.) Run the import again once the server is back.", error)
            case let .unknown(error):
                throw StoreError.interrupted(action: "import states", outcome: "It broke during the COMMIT, and the server could not be reached since to ask how that ended: every state was written or none was (one transaction). Once the server is back, `meltano-state list` shows which; if they were written, `meltano-state restore \(batch)` puts back the rows as they were.", error)
            }
        }
    }

    /// How a transaction ended whose connection may have broken.
    enum TransactionEnd<T> {
        case committed(T)
        /// It never committed: nothing of it was written. `duringCommit`: the server
        /// was asked afterwards.
        case rolledBack(PostgresError, duringCommit: Bool)
        /// The connection broke during COMMIT and the server could not be asked since.
        case unknown(PostgresError)
    }

    /// Runs `body` in one transaction and, when the connection breaks, finds out
    /// whether it committed: broken before COMMIT was sent, the server rolled it back;
    /// broken during COMMIT, its transaction ID's status (`txid_status`) is asked once
    /// reconnected. Any other error rolls back and is thrown.
    func transactionTellingOutcome<T>(_ body: () throws -> T) throws -> TransactionEnd<T> {
        var xid: String?
        var value: T?
        do {
            try connection.query("BEGIN")
            xid = try connection.query("SELECT txid_current()::text").scalar
            value = try body()
            try connection.query("COMMIT")
            return .committed(value!)
        } catch let error as PostgresError where error.kind == .connectionLost || !connection.isConnected {
            guard let value, let xid else { return .rolledBack(error, duringCommit: false) }
            let status = onceReconnected { try connection.query("SELECT txid_status($1::bigint)", [xid]).scalar } ?? nil
            switch status {
            case "committed": return .committed(value)
            case "aborted": return .rolledBack(error, duringCommit: true)
            default: return .unknown(error)
            }
        } catch {
            if connection.isConnected { _ = try? connection.query("ROLLBACK") }
            throw error
        }
    }

    /// Runs the statement (or transaction) that changes many rows at once. A broken
    /// connection leaves the outcome unknown: the error says so and what to do.
    func bulkStatement<T>(_ action: String, outcome: String, _ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as PostgresError where error.kind == .connectionLost {
            throw StoreError.interrupted(action: action, outcome: outcome, error)
        } catch let error as PostgresError {
            return try database(action) { throw error }
        }
    }

    func upsertMany(_ rows: [(String, String?, String?)]) throws {
        guard layout != .systemDB else {
            for row in rows { try upsertSystemDB(row.0, row.1, row.2) }
            return
        }
        try connection.query("""
            INSERT INTO \(tables.state) (state_id, partial_state, completed_state)
            SELECT * FROM unnest($1::text[], $2::text[], $3::text[])
            ON CONFLICT (state_id) DO UPDATE SET partial_state = EXCLUDED.partial_state,
            completed_state = EXCLUDED.completed_state, updated_at = CURRENT_TIMESTAMP
            """, [arrayLiteral(rows.map(\.0)), arrayLiteral(rows.map(\.1)), arrayLiteral(rows.map(\.2))])
    }

    /// Journals the current rows of `ids` (read in chunks) as one batch, handed to
    /// `journal`'s writer: they are on disk once `journal.finish()` returns. With
    /// `includeMissing`, IDs without a row get an entry too (restore deletes them).
    /// Returns the IDs that had a row.
    @discardableResult
    func journalRows(_ ids: [String], action: String, batch: String, includeMissing: Bool = false,
                     into journal: JournalBatch, progress: ((String, Int, Int) -> Void)?) throws -> Set<ExactID> {
        let chunk = 10_000
        var done = 0
        var existing = Set<ExactID>()
        for start in stride(from: 0, to: ids.count, by: chunk) {
            let slice = Array(ids[start..<min(start + chunk, ids.count)])
            let rows = try database("read states for the journal") {
                try connection.query("""
                    SELECT state_id, partial_state, completed_state, updated_at::text FROM \(tables.state)
                    WHERE state_id = ANY($1::text[])
                    """, [arrayLiteral(slice)]).rows
            }
            var byID: [ExactID: RowSnapshot] = [:]
            for row in rows { byID[ExactID(row[0] ?? "")] = RowSnapshot(partialState: row[1], completedState: row[2], updatedAt: row[3]) }
            existing.formUnion(byID.keys)
            // What journalEntry(…) fills in, worked out once per chunk (an entry's ID still
            // its own): the chunk is written at once, so it has one time. The entries are
            // made on the journal's thread.
            let template = journalEntry(action: action, stateID: "", before: nil, batch: batch)
            let count = includeMissing ? slice.count : byID.count
            journal.submit(count: count) { [byID] in
                var entryIDs = Journal.newIDs(count: count).makeIterator()
                var entries: [JournalEntry] = []
                entries.reserveCapacity(count)
                for id in slice {
                    let snapshot = byID[ExactID(id)]
                    guard snapshot != nil || includeMissing else { continue }
                    var entry = template
                    entry.id = entryIDs.next()!
                    entry.stateID = id
                    entry.before = snapshot
                    entries.append(entry)
                }
                return entries
            }
            if journal.hasFailed { try journal.finish() }  // throws why: stop before writing anything
            done += slice.count
            progress?("journaling", done, ids.count)
            if cancellation.isCancelled { throw StoreError.cancelled("stopped while journaling; nothing was changed.") }
        }
        return existing
    }

    /// Takes the lock of every ID (all existing ones when `stateIDs` is nil) at once.
    /// Two-tables: one INSERT … SELECT of lock rows sharing one lock ID, so it takes
    /// all or none; the lock rows are removed afterwards by that lock ID.
    /// Single-table: a transaction-wide EXCLUSIVE table lock after checking that no
    /// advisory lock is held on any of them.
    func withBulkLock<T>(batch: String, stateIDs: [String]? = nil, _ body: ([String]) throws -> T) throws -> T {
        switch tables.locking {
        case let .rows(locksTable):
            let lockID = UUID().uuidString.lowercased()
            let release = "DELETE FROM \(locksTable) WHERE lock_id = $1"
            func leftOver(_ count: Int) -> String {
                "the locks this tool took on \(count) state ID(s) (all with lock ID \(lockID)) may remain; once the server is reachable, `meltano-state locks` lists them and `meltano-state unlock ID \(lockID)` releases each."
            }
            let inserted: [String] = try database("lock every state ID") {
                do {
                    if let stateIDs {
                        // Duplicates dropped here rather than by DISTINCT on the server
                        // (a sort of every ID: a tenth of a 100k-state import's lock time).
                        // One COPY (half the server time of an INSERT … SELECT unnest) takes
                        // every lock or none, so no RETURNING list is needed to know which:
                        // all of them, in this order.
                        var seen = Set<ExactID>(minimumCapacity: stateIDs.count)
                        let unique = stateIDs.filter { seen.insert(ExactID($0)).inserted }
                        let inserted = try connection.copyIn("COPY \(locksTable) (state_id, lock_id) FROM STDIN",
                                                             rows: unique.lazy.map { [$0, lockID] })
                        guard inserted != unique.count else { return unique }
                        return try connection.query("SELECT state_id FROM \(locksTable) WHERE lock_id = $1", [lockID]).rows.map { $0[0] ?? "" }
                    }
                    return try connection.query("""
                        INSERT INTO \(locksTable) (state_id, lock_id) SELECT state_id, $1 FROM \(tables.state) RETURNING state_id
                        """, [lockID]).rows.map { $0[0] ?? "" }
                } catch let error as PostgresError where error.isUniqueViolation {
                    let held = (try? locks()) ?? []
                    let wanted = stateIDs.map { Set($0.map(ExactID.init)) }
                    throw StoreError.locksHeld(held.filter { wanted?.contains(ExactID($0.stateID)) ?? true }, action: "change these states")
                } catch let error as PostgresError where error.kind == .connectionLost {
                    // The INSERT may have committed: remove whatever it took, by our lock ID.
                    let outcome = releaseRows(release, [lockID]) ? "Nothing was changed." : "Nothing was changed, but \(leftOver(stateIDs?.count ?? 0))"
                    throw StoreError.interrupted(action: "lock every state ID", outcome: outcome, error)
                }
            }
            heldLocks.add(lockID: lockID, stateID: nil, count: inserted.count)
            let value: T
            do {
                value = try body(inserted)
            } catch {
                let error = translatingCancellation(error, "stopped; the statement was rolled back, nothing was changed.")
                guard releaseRows(release, [lockID]) else { throw StoreError.adding("And \(leftOver(inserted.count))", to: error) }
                heldLocks.remove(lockID: lockID)
                throw error
            }
            guard releaseRows(release, [lockID]) else { throw StoreError.lockNotReleased("The change was made, but \(leftOver(inserted.count))") }
            heldLocks.remove(lockID: lockID)
            return value
        case .advisory:
            return try database("lock the state table") {
                try connection.transaction {
                    try connection.query("LOCK TABLE \(tables.state) IN EXCLUSIVE MODE")
                    // The IDs themselves, not the rows: an ID imported for the first time
                    // may be locked by a run that has not written it yet.
                    let held = try advisoryLocks(of: stateIDs, everyKey: true)
                    if !held.isEmpty { throw StoreError.locksHeld(held, action: "change these states") }
                    let ids = try stateIDs ?? connection.query("SELECT state_id FROM \(tables.state)").rows.map { $0[0] ?? "" }
                    return try body(ids)
                }
            }
        }
    }

    // MARK: - The journal

    /// Journal entries, newest first, optionally of one state ID.
    public func history(stateID: String? = nil) throws -> [JournalEntry] {
        try options.journal.history(stateID: stateID)
    }

    /// `Journal.history(stateID:limit:_:)`: entries newest first, each made a row as it
    /// is read, so the saved texts are not all held.
    public func history<T>(stateID: String? = nil, limit: Int = 0, _ transform: (JournalEntry) throws -> T?) throws -> [T] {
        try options.journal.history(stateID: stateID, limit: limit, transform)
    }

    /// Puts back the value an entry recorded (or the rows of a whole batch), itself
    /// journaled first so a restore can be undone too.
    @discardableResult
    public func restore(entryID: String) throws -> [JournalEntry] {
        try restore(try options.journal.entries(idOrBatch: entryID), entryID: entryID)
    }

    /// `restore(entryID:)` of the entries already read for it (`Journal.entries(idOrBatch:)`):
    /// a journal holding 100 MB states is not read twice, nor its saved texts held twice.
    public func restore(_ selected: [JournalEntry], entryID: String) throws -> [JournalEntry] {
        try requireWritable("restore from the journal")
        guard !selected.isEmpty else {
            throw StoreError.other("No journal entry or batch with id '\(entryID)' in \(options.journal.path). `meltano-state history` lists them.")
        }
        for entry in selected { try checkRecordedHere(entry) }
        try createTablesIfMissing()
        if selected.count > 1, selected.allSatisfy({ $0.lock == nil && $0.run == nil }) {
            try restoreRowsAtomically(selected, batchID: entryID)
            return selected
        }
        for (index, entry) in selected.enumerated() {
            do {
                try checkCancelled("nothing was restored.")
                try restoreOne(entry)
            } catch where selected.count > 1 {
                // Each entry is restored under its own lock: say how far a batch got.
                let done = selected[..<index].map { StoreError.quoted($0.stateID) }
                throw StoreError.adding("Restoring batch \(entryID) stopped at entry \(index + 1) of \(selected.count) (\(StoreError.quoted(entry.stateID))); "
                    + (done.isEmpty ? "none was restored before it." : "restored before it: \(done.prefix(10).joined(separator: ", "))\(done.count > 10 ? ", …" : "")."),
                    to: error)
            }
        }
        return selected
    }

    /// Whether `entry` was recorded in the tables this store works on: through the same
    /// connection, to the same database (its identity, where both say it), in the same
    /// layout, schema and table. One journal serves every context, server and project;
    /// putting another one's old state (or lock, or run) here would destroy this one's.
    /// The connection is compared too, not the identity alone: a clone of a database
    /// (pg_basebackup, a snapshot) shares its identity.
    public func isRecordedHere(_ entry: JournalEntry) -> Bool {
        recordedElsewhere(entry) == nil
    }

    /// Refuses an entry recorded elsewhere, naming where and how to get there.
    public func checkRecordedHere(_ entry: JournalEntry) throws {
        guard let elsewhere = recordedElsewhere(entry) else { return }
        throw StoreError.other("Journal entry \(entry.id) was recorded \(elsewhere): restoring it here would put what it saved into other "
            + "tables than its own. Nothing was changed. Connect as the entry was recorded (its --context, --uri or project, with the "
            + "same --schema, --layout and --table) to restore it there.")
    }

    /// Where `entry` was recorded, when not in this store's tables.
    private func recordedElsewhere(_ entry: JournalEntry) -> String? {
        if entry.database != location {
            return "through another connection (\(entry.database)), not the one in use (\(location)); if that is this same database reached another way, connect as the entry names it"
        }
        if let recorded = entry.server, let here = databaseIdentity, recorded != here {
            return "on another database at the same address (\(recorded); this one is \(here))"
        }
        if entry.layout != layout.rawValue { return "for the \(entry.layout) layout, not \(layout.rawValue)" }
        if entry.schema != tables.schema { return "for schema '\(entry.schema)', not '\(tables.schema)'" }
        if let table = entry.table, table != tables.stateName { return "for table '\(table)', not '\(tables.stateName)'" }
        return nil
    }

    /// A batch of state rows (an import, a `clear --all`) put back as the batch found
    /// them, as the batch itself was made: every ID's lock at once (refused, naming them,
    /// while any is held), the rows as they are now journaled as one batch of their own
    /// (so one `restore` undoes this one), and every row written in one transaction:
    /// all or nothing.
    private func restoreRowsAtomically(_ entries: [JournalEntry], batchID: String) throws {
        var seen = Set<ExactID>()
        let plan = entries.filter { seen.insert(ExactID($0.stateID)).inserted }  // the value before the batch
        let batch = Journal.newID()
        try withBulkLock(batch: batch, stateIDs: plan.map(\.stateID)) { lockedIDs in
            let journal = options.journal.beginBatch(expectedEntries: lockedIDs.count)
            defer { try? journal.finish() }
            _ = try journalRows(lockedIDs, action: "restore", batch: batch, includeMissing: true, into: journal, progress: nil)
            try checkCancelled("nothing was restored.")
            let end = try bulkStatement("restore batch \(batchID)", outcome: "The restore is one transaction: every state was put back or none was (`meltano-state list` shows which). The journal's batch \(batch) holds the rows as they were.") {
                try transactionTellingOutcome {
                    let deleted = plan.filter { $0.before == nil }.map(\.stateID)
                    if !deleted.isEmpty {
                        try connection.query("DELETE FROM \(tables.state) WHERE state_id = ANY($1::text[])", [arrayLiteral(deleted)])
                    }
                    let rows = plan.compactMap { entry in entry.before.map { (entry.stateID, $0.partialState, $0.completedState) } }
                    for start in stride(from: 0, to: rows.count, by: 5000) {
                        try upsertMany(Array(rows[start..<min(start + 5000, rows.count)]))
                        try checkCancelled("the restore was rolled back; nothing was restored.")
                    }
                    try journal.finish()  // the rows as they were, on disk before the commit
                    return rows.count + deleted.count
                }
            }
            switch end {
            case .committed:
                return
            case let .rolledBack(error, _):
                throw StoreError.interrupted(action: "restore batch \(batchID)", outcome: "Nothing was restored: the restore is one transaction, and the server rolled it back. Run it again once the server is back.", error)
            case let .unknown(error):
                throw StoreError.interrupted(action: "restore batch \(batchID)", outcome: "It broke during the COMMIT: every state was put back or none was. Once the server is back, `meltano-state list` shows which; `meltano-state restore \(batch)` undoes it if it was.", error)
            }
        }
    }

    private func restoreOne(_ entry: JournalEntry) throws {
        if let run = entry.run {
            return try restoreRun(run)
        }
        if let lock = entry.lock {
            return try restoreLock(lock, entry: entry)
        }
        try withLock(entry.stateID, action: "restore '\(entry.stateID)'") { held in
            let current = try readRow(entry.stateID)
            try options.journal.append([journalEntry(action: "restore", stateID: entry.stateID, before: current?.snapshot,
                                                     note: "restoring journal entry \(entry.id)")])
            try checkCancelled("\(StoreError.quoted(entry.stateID)) was not restored.")
            try writeStatement("restore '\(entry.stateID)'", lock: held) {
                if let before = entry.before {
                    try upsertRaw(entry.stateID, before.partialState, before.completedState)
                } else {
                    try connection.query("DELETE FROM \(tables.state) WHERE state_id = $1", [entry.stateID])
                }
            }
        }
    }

    /// Writes raw column texts back exactly as they were, byte for byte.
    func upsertRaw(_ stateID: String, _ partial: String?, _ completed: String?) throws {
        if layout == .systemDB { return try upsertSystemDB(stateID, partial, completed) }
        try connection.query("""
            INSERT INTO \(tables.state) (state_id, partial_state, completed_state) VALUES ($1, $2, $3)
            ON CONFLICT (state_id) DO UPDATE SET partial_state = EXCLUDED.partial_state,
            completed_state = EXCLUDED.completed_state, updated_at = CURRENT_TIMESTAMP
            """, [stateID, partial, completed])
    }

    /// Undoing a lock release puts the lock row back, only while no one else holds it.
    func restoreLock(_ lock: LockInfo, entry: JournalEntry) throws {
        guard case let .rows(locksTable) = tables.locking else {
            throw StoreError.other("Journal entry \(entry.id) terminated a backend; a terminated session cannot be brought back.")
        }
        do {
            try connection.query("INSERT INTO \(locksTable) (state_id, lock_id, locked_at) VALUES ($1, $2, $3::timestamp)",
                                 [lock.stateID, lock.lockID, lock.lockedAt])
        } catch let error as PostgresError where error.isUniqueViolation {
            throw StoreError.other("Cannot put back lock \(lock.lockID) on '\(lock.stateID)': another lock is held on it now.")
        } catch let error as PostgresError {
            throw StoreError.database(action: "restore the lock of '\(lock.stateID)'", error)
        }
    }

    /// Meltano's system database keeps empty parts as `{}` and stamps no updated_at of
    /// its own (its ORM replaces the row); we stamp UTC, as its other timestamps are.
    func upsertSystemDB(_ stateID: String, _ partial: String?, _ completed: String?) throws {
        try connection.query("""
            INSERT INTO \(tables.state) (state_id, partial_state, completed_state, updated_at)
            VALUES ($1, $2, $3, \(updatedAtNow))
            ON CONFLICT (state_id) DO UPDATE SET partial_state = EXCLUDED.partial_state,
            completed_state = EXCLUDED.completed_state, updated_at = EXCLUDED.updated_at
            """, [stateID, partial ?? emptyPart, completed ?? emptyPart])
    }
}
