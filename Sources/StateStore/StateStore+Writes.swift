import Foundation
import Postgres
import StateJSON

extension StateStore {
    // MARK: - Meltano's verbs

    /// `meltano state set`: completed = value, partial = NULL, under the lock.
    /// `{}` or `null` (only with `validate: false`) behave as Meltano's merge of nothing.
    public func set(_ stateID: String, to value: JSONValue, validate: Bool = true, action: String = "set", note: String? = nil) throws {
        try requireWritable(action)
        try StateID.validate(stateID)
        try checkAccepted(value, validate: validate)
        try write(stateID, partial: .emptyObject, completed: value, action: action, note: note)
    }

    /// `meltano state merge`: the value deep-merged onto the partial state, under the lock.
    public func merge(_ stateID: String, with value: JSONValue, note: String? = nil) throws {
        try requireWritable("merge")
        try StateID.validate(stateID)
        try checkAccepted(value, validate: true)
        try write(stateID, partial: value, completed: .emptyObject, action: "merge", note: note)
    }

    /// `meltano state merge --from-state-id SRC DST`.
    public func merge(_ stateID: String, fromStateID source: String) throws {
        // Meltano merges `{}` from a missing ID and then fails its validation (no
        // singer_state); saying the ID is not there is the fix's half.
        try merge(stateID, with: try sourceView(from: source, to: stateID, action: "merge").value, note: "from \(source)")
    }

    /// `meltano state copy`: DST set to SRC's merged view. Refused (as Meltano) when
    /// that view has no top-level `singer_state`.
    public func copy(from source: String, to destination: String) throws {
        try set(destination, to: try sourceView(from: source, to: destination, action: "copy"), action: "copy", note: "from \(source)")
    }

    /// SRC's merged view, for copy, move and merge --from-state-id: both IDs checked
    /// first; a missing SRC is "not found" rather than Meltano's validation error on `{}`.
    /// Read as `readMerged` reads it, so a big state stays text.
    private func sourceView(from source: String, to destination: String, action: String) throws -> MergedState {
        try requireWritable(action)
        try StateID.validate(source)
        try StateID.validate(destination)
        let (exists, state) = try readMerged(source)
        guard exists else { throw StoreError.notFound(stateID: source) }
        if let state { return state }
        // A part that is not JSON, or parts that do not merge: the reason, as `get` gives it.
        guard let record = try get(source) else { throw StoreError.notFound(stateID: source) }
        return MergedState(value: try record.merged.get())
    }

    /// `set` of a state still in text form where it can be (read by `readMerged`, for
    /// copy and move, or given as text, `MergedState(json:)`): it is written as `set`
    /// would write its tree — `json.dumps` of it, checked as `set` checks — from the
    /// text, so a 100 MB state is never built as a tree.
    public func set(_ stateID: String, to state: consuming MergedState, validate: Bool = true, action: String = "set",
                    note: String? = nil) throws {
        guard validate, let text = state.acceptedMeltanoText() else {
            // A tree, text `set` would refuse (the tree gives the refusal its words), or
            // no check wanted (then `{}` and null are written as `set` writes them).
            return try set(stateID, to: state.value, validate: validate, action: action, note: note)
        }
        _ = consume state  // the source's bytes are not held while the copy is sent
        try requireWritable(action)
        try StateID.validate(stateID)
        try replaceRow(stateID, partialText: storedText(JSONValue.emptyObject), completedText: text, action: action, note: note)
    }

    /// `meltano state move`: copy, then clear SRC, each under its own lock.
    public func move(from source: String, to destination: String) throws {
        // Meltano's move (copy, then clear the source) would leave nothing at all.
        guard !sameText(source, destination) else {
            throw StoreError.invalidStateID(destination, reason: "it is the state ID being moved: a move onto itself would only clear it. Nothing was changed; give a different destination.")
        }
        let state = try sourceView(from: source, to: destination, action: "move")
        do {
            try set(destination, to: consume state, action: "move", note: "from \(source)")
        } catch {
            // A refusal (lock held, invalid state, cancelled) already says nothing changed
            // and keeps its own exit code; a broken write gets told what was not touched.
            switch error as? StoreError {
            case .interrupted?, .database?, .other?, nil:
                throw StoreError.adding("Moving stopped at its first step (writing \(StoreError.quoted(destination))); \(StoreError.quoted(source)) was left as it is.", to: error)
            default:
                throw error
            }
        }
        do {
            try clear(source, action: "move", note: "moved to \(destination)")
        } catch {
            throw StoreError.adding("Moving stopped at its second step: \(StoreError.quoted(destination)) already holds the state of \(StoreError.quoted(source)), but \(StoreError.quoted(source)) was not cleared; clear it to finish the move.", to: error)
        }
    }

    /// `meltano state clear ID`: deletes the row under the lock. Returns whether a row
    /// was there.
    @discardableResult
    public func clear(_ stateID: String, action: String = "clear", note: String? = nil) throws -> Bool {
        try requireWritable("clear")
        try StateID.validate(stateID)
        try requireTables()
        return try withLock(stateID, action: "clear '\(stateID)'") { lock in
            guard let before = try readSnapshot(stateID) else { return false }
            try options.journal.append([journalEntry(action: action, stateID: stateID, before: before, note: note)])
            try checkCancelled("\(StoreError.quoted(stateID)) was not cleared.")
            try writeStatement("clear '\(stateID)'", lock: lock) {
                try connection.query("DELETE FROM \(tables.state) WHERE state_id = $1", [stateID])
            }
            return true
        }
    }

    /// Read-modify-write under the lock: `transform` gets the merged view as it is
    /// while the lock is held and returns the new state, which is written as `set`
    /// writes it. Nothing another writer does can slip in between (`setIfUnchanged`,
    /// for `edit`, is built on it).
    public func update(_ stateID: String, action: String = "update", validate: Bool = true,
                       _ transform: (JSONValue) throws -> JSONValue) throws {
        try update(stateID, action: action, validate: validate, readFailure: { $0 }, transform)
    }

    /// `update`, with what to throw when the row read under the lock cannot be merged.
    func update(_ stateID: String, action: String, validate: Bool = true, note: String? = nil, readFailure: (StoreError) -> Error,
                _ transform: (JSONValue) throws -> JSONValue) throws {
        try requireWritable(action)
        try StateID.validate(stateID)
        try createTablesIfMissing()
        try withLock(stateID, action: "\(action) '\(stateID)'") { lock in
            let before = try readRow(stateID)
            let current: JSONValue
            switch before?.merged ?? .success(.emptyObject) {
            case let .success(value): current = value
            case let .failure(error): throw readFailure(error)
            }
            let value = try transform(current)
            try checkAccepted(value, validate: validate)
            try writeLocked(stateID, before: before, partial: .emptyObject, completed: value, action: action, note: note, lock: lock)
        }
    }

    /// "Write only if unchanged since the editor opened" (`edit`, the browser's `e`):
    /// under the lock, compares the merged view with `opened` as Meltano compares
    /// states (parsed, Python's `==`) and writes `value` as `set` writes it only when
    /// they are equal. A missing row is `{}`. Nothing is written unless it returns
    /// `.written`; a value the store refuses throws, as `set` does.
    public func setIfUnchanged(_ stateID: String, opened: JSONValue, to value: JSONValue,
                               action: String = "edit", note: String? = nil) throws -> ConditionalWrite {
        do {
            try update(stateID, action: action, note: note, readFailure: { UnreadableNow(error: $0) }) { current in
                guard current.isEquivalent(to: opened) else { throw ChangedMeanwhile(current: current) }
                return value
            }
        } catch let changed as ChangedMeanwhile {
            return .changed(current: changed.current)
        } catch let unreadable as UnreadableNow {
            return .unreadable(unreadable.error)
        }
        return .written
    }

    /// `setIfUnchanged` for a row that was not JSON when the editor opened it, so has
    /// no value to compare: under the lock, `stillAsOpened` is asked about the row as it
    /// is stored now (nil when it is gone), and `value` is written as `set` writes it
    /// only when it says yes. Returns whether it wrote.
    public func setIfRowUnchanged(_ stateID: String, to value: JSONValue, action: String = "edit", note: String? = nil,
                                  stillAsOpened: (RowSnapshot?) -> Bool) throws -> Bool {
        try requireWritable(action)
        try StateID.validate(stateID)
        try checkAccepted(value, validate: true)
        try createTablesIfMissing()
        return try withLock(stateID, action: "\(action) '\(stateID)'") { lock in
            let before = try readRow(stateID)
            let row = before.map { RowSnapshot(partialState: $0.partial.raw, completedState: $0.completed.raw, updatedAt: $0.updatedAt) }
            guard stillAsOpened(row) else { return false }
            try writeLocked(stateID, before: before, partial: .emptyObject, completed: value, action: action, note: note, lock: lock)
            return true
        }
    }

    /// Checks Meltano applies before a state write: `"singer_state" in value` (unless
    /// told not to), then object-or-null for the job payload. Meltano's words come
    /// first; where they are Python's ("argument of type 'int' is not iterable"), what
    /// was expected follows.
    func checkAccepted(_ value: JSONValue, validate: Bool) throws {
        try checkStorable(value, of: "The state")
        do throws(StateValidationError) {
            try validateStateForSet(value, validate: validate)
        } catch {
            switch error.kind {
            case .singerStateMissing:
                throw StoreError.invalidState(error.message)
            case .notIterable, .notAPayload:
                let expected = validate ? "a JSON object with a top-level 'singer_state' key, e.g. {\"singer_state\": {\"bookmarks\": {}}}"
                    : "a JSON object"
                throw StoreError.invalidState("\(error.message): the state must be \(expected); this is \(value.jsonKindPhrase).")
            }
        }
    }

    /// Refuses what Meltano's Python could not read back: nesting deeper than
    /// `JSONParser.maximumStoredDepth`, an integer longer than
    /// `JSONParser.maximumIntegerDigits` (which no parsed text holds, but arithmetic on
    /// a bookmark can make). This project never writes such a row.
    public func checkStorable(_ value: JSONValue, of what: String) throws {
        let depth = value.depth
        if depth > JSONParser.maximumStoredDepth {
            throw StoreError.invalidState("\(what) is nested \(depth) levels deep; Meltano's Python json reader gives up near 1000 levels less its own call depth, so Meltano's list, get and export would then fail for everyone. At most \(JSONParser.maximumStoredDepth) levels are written; nothing was changed.")
        }
        let digits = value.longestIntegerDigits
        if digits > JSONParser.maximumIntegerDigits {
            let limit = JSONParser.maximumIntegerDigits
            throw StoreError.invalidState("\(what) holds an integer of \(digits) digits; Python's json reader refuses integers over \(limit) digits (\"Exceeds the limit (\(limit) digits) for integer string conversion\"), so Meltano's list, get and export would then fail for everyone. Nothing was changed; write such a number as a string.")
        }
    }

    /// Meltano's state write: an empty completed part means "merge the partial onto
    /// the row"; otherwise both parts are replaced. Refuses what would leave a row that
    /// breaks Meltano (an object merged over a non-object anywhere in the view).
    func write(_ stateID: String, partial: JSONValue, completed: JSONValue, action: String, note: String?) throws {
        guard completed.isFalsy else {
            try checkViewMerges(stateID, partial, onto: completed)
            return try replaceRow(stateID, partialText: storedText(partial), completedText: storedText(completed), action: action, note: note)
        }
        try createTablesIfMissing()
        try withLock(stateID, action: "\(action) '\(stateID)'") { lock in
            try mergeLocked(stateID, partial: partial, action: action, note: note, lock: lock)
        }
    }

    /// Both parts replaced under the lock; the row as it was is only journaled, so it is
    /// read as text, never parsed (`set` of a tree or of a text, copy, move).
    private func replaceRow(_ stateID: String, partialText: String?, completedText: String?, action: String, note: String?) throws {
        try createTablesIfMissing()
        try withLock(stateID, action: "\(action) '\(stateID)'") { lock in
            try commitWrite(stateID, before: try readSnapshot(stateID), partialText: partialText, completedText: completedText,
                            action: action, note: note, lock: lock)
        }
    }

    /// `writeLocked` for a row read as `readRow` reads it (parsed), by the writes that
    /// need its value anyway (`update`, `setIfRowUnchanged`).
    func writeLocked(_ stateID: String, before: StateRecord?, partial: JSONValue, completed: JSONValue,
                     action: String, note: String?, lock: HeldLock) throws {
        var newPartial = partial, newCompleted = completed
        if completed.isFalsy, let before {
            guard let currentPartial = before.partial.value else {
                throw StoreError.unreadableState(stateID: stateID, part: "partial", error: before.partial.error!.description)
            }
            guard let currentCompleted = before.completed.value else {
                throw StoreError.unreadableState(stateID: stateID, part: "completed", error: before.completed.error!.description)
            }
            newPartial = try mergedPartial(stateID, partial, onto: currentPartial)
            newCompleted = currentCompleted
        }
        try checkViewMerges(stateID, newPartial, onto: newCompleted)
        try commitWrite(stateID, before: before?.snapshot, partialText: storedText(newPartial), completedText: storedText(newCompleted),
                        action: action, note: note, lock: lock)
    }

    /// Meltano's merge under the lock: `partial` deep-merged onto the row's partial part,
    /// the completed part kept. Only the partial part becomes a tree: the completed part
    /// stays text, checked by walking just the members the new partial part reaches into
    /// (`checkDeepMerge`) and stored again as `json.dumps` of it — the stored text itself
    /// when it is that already — so a merge into a 100 MB state never builds its tree. A
    /// row the walk cannot take (a part that is not JSON, a repeated key) is read as
    /// `readRow` reads it, and `writeLocked` gives the refusal its words.
    func mergeLocked(_ stateID: String, partial: JSONValue, action: String, note: String?, lock: HeldLock) throws {
        let before = try readSnapshot(stateID)
        guard let before, let completedText = before.completedState,
              case let .success(currentPartial) = StatePart(raw: before.partialState).parsed,
              let storedCompleted = Self.meltanoTextKeepingStored(completedText) else {
            let record = before.map {
                StateRecord(stateID: stateID, partial: StatePart(raw: $0.partialState), completed: StatePart(raw: $0.completedState),
                            updatedAt: $0.updatedAt, ageSeconds: nil)
            }
            return try writeLocked(stateID, before: record, partial: partial, completed: .emptyObject, action: action, note: note, lock: lock)
        }
        let newPartial = try mergedPartial(stateID, partial, onto: currentPartial)
        let newCompleted: String?
        switch storedCompleted {
        case .stored: newCompleted = completedText
        case let .rewritten(text): newCompleted = text
        case let .short(value):
            try checkViewMerges(stateID, newPartial, onto: value)
            newCompleted = storedText(value)
        }
        if !storedCompleted.isShort && !newPartial.isFalsy {
            do throws(MergeError) { try checkDeepMerge(newPartial, ontoText: completedText) } catch {
                throw viewMergeRefusal(stateID, error)
            }
        }
        try commitWrite(stateID, before: before, partialText: storedText(newPartial), completedText: newCompleted,
                        keepingStoredCompleted: storedCompleted.isStored, action: action, note: note, lock: lock)
    }

    /// `json.dumps(json.loads(text))`, worked out without the tree.
    enum MeltanoText {
        /// The stored text is that already (what Meltano and this tool store).
        case stored
        case rewritten(String)
        /// A short text, as a value: it may be falsy, which is stored as NULL.
        case short(JSONValue)

        var isStored: Bool {
            if case .stored = self { return true }
            return false
        }

        var isShort: Bool {
            if case .short = self { return true }
            return false
        }
    }

    /// Nil when `text` is not a document the rewriter takes (not JSON, a repeated key).
    static func meltanoTextKeepingStored(_ text: String) -> MeltanoText? {
        var text = text
        return text.withUTF8 { stored -> MeltanoText? in
            let bytes = UnsafeRawBufferPointer(stored)
            // Python's falsy values are all under 16 bytes written (`{}`, `0.0`, `""`).
            if stored.count < 16 {
                guard JSONParser.isRewritable(bytes), let value = try? JSONParser.parse(bytes) else { return nil }
                return .short(value)
            }
            switch JSONParser.rewritten(bytes, .meltano) {
            case nil: return nil
            case .same?: return .stored
            case let .text(rewritten)?:
                guard rewritten.utf8.count < 16 else { return .rewritten(rewritten) }
                guard let value = try? JSONParser.parse(rewritten) else { return nil }
                return .short(value)
            }
        }
    }

    /// The row's partial part with `partial` deep-merged onto it, or the refusal.
    private func mergedPartial(_ stateID: String, _ partial: JSONValue, onto current: JSONValue) throws -> JSONValue {
        do { return try deepMerge(partial, onto: current) } catch {
            throw StoreError.invalidState("Cannot merge into the partial state of '\(stateID)': \(error)")
        }
    }

    /// Refuses parts whose merged view Meltano could not compute once they are stored:
    /// a falsy part is stored as NULL (`{}` in Meltano's system database), which Meltano
    /// reads as `{}`, and always merges.
    private func checkViewMerges(_ stateID: String, _ partial: JSONValue, onto completed: JSONValue) throws {
        guard !partial.isFalsy, !completed.isFalsy else { return }
        do { _ = try deepMerge(partial, onto: completed) } catch { throw viewMergeRefusal(stateID, error) }
    }

    private func viewMergeRefusal(_ stateID: String, _ error: MergeError) -> StoreError {
        StoreError.invalidState("Refusing to write '\(stateID)': its partial state would not merge onto its completed state (\(error)), and Meltano's own get and list would then fail. Use set to replace the whole state instead.")
    }

    /// The end of every state write, under the lock: the row as it was goes to the
    /// journal, then the new texts are stored. `keepingStoredCompleted` says that
    /// `completedText` is the stored text itself: then only the partial part and
    /// `updated_at` are sent (the same row as a whole write; the server neither gets
    /// nor checks and compresses a 100 MB text again).
    func commitWrite(_ stateID: String, before: RowSnapshot?, partialText: String?, completedText: String?,
                     keepingStoredCompleted: Bool = false, action: String, note: String?, lock: HeldLock) throws {
        try options.journal.append([journalEntry(action: action, stateID: stateID, before: before, note: note)])
        try checkCancelled("the state of \(StoreError.quoted(stateID)) was not changed.")
        try writeStatement("\(action) '\(stateID)'", lock: lock) {
            // A row deleted or rewritten meanwhile by a writer that ignores the lock: written whole.
            if keepingStoredCompleted, try updatePartial(stateID, partialText, readAt: before?.updatedAt) { return }
            try upsert(stateID, partialText, completedText)
        }
    }

    /// A part as the add-on stores it: `json.dumps(part)`, an empty (falsy) part NULL.
    /// Meltano's system database stores `{}` instead of NULL.
    func storedText(_ part: JSONValue) -> String? {
        if part.isFalsy { return emptyPart }
        return part.meltanoText
    }

    func storedText(_ part: ImportEntry.Part) -> String? {
        switch part {
        case let .value(value): return storedText(value)
        case let .object(text): return text
        }
    }

    /// Sets the row's partial part and `updated_at` as `upsert` does, leaving its
    /// completed part, on the row as it was read: false (nothing written) when it is gone
    /// or was written since (its `updated_at` moved), by a writer that ignores the lock.
    func updatePartial(_ stateID: String, _ partial: String?, readAt updatedAt: String?) throws -> Bool {
        try connection.query("""
            UPDATE \(tables.state) SET partial_state = $2, updated_at = \(updatedAtNow)
            WHERE state_id = $1 AND updated_at::text IS NOT DISTINCT FROM $3
            """, [stateID, partial ?? emptyPart, updatedAt]).affectedRows == 1
    }

    /// `updated_at` of a write, as each layout's writer sets it: the add-on's
    /// CURRENT_TIMESTAMP, Meltano's UTC clock in its system database.
    var updatedAtNow: String {
        layout == .systemDB ? "now() AT TIME ZONE 'UTC'" : "CURRENT_TIMESTAMP"
    }

    /// An empty part as stored: NULL for the add-on, `{}` in Meltano's system database.
    var emptyPart: String? {
        layout == .systemDB ? "{}" : nil
    }

    func upsert(_ stateID: String, _ partial: String?, _ completed: String?) throws {
        switch layout {
        case .twoTables, .singleTable:
            try connection.query("""
                INSERT INTO \(tables.state) (state_id, partial_state, completed_state) VALUES ($1, $2, $3)
                ON CONFLICT (state_id) DO UPDATE SET partial_state = EXCLUDED.partial_state,
                completed_state = EXCLUDED.completed_state, updated_at = \(updatedAtNow)
                """, [stateID, partial, completed])
        case .systemDB:
            try upsertSystemDB(stateID, partial, completed)
        }
    }

    /// Runs the statement that changes a row. A broken connection there leaves the
    /// outcome unknown: the error says so, and what became of our lock.
    func writeStatement(_ action: String, lock: HeldLock, _ body: () throws -> Void) throws {
        do { try body() } catch let error as PostgresError where error.kind == .connectionLost {
            throw StoreError.interrupted(action: action, outcome: "The change may or may not have been applied (PostgreSQL commits a single statement whole or not at all): read the state again before retrying.", error)
        } catch let error as PostgresError where error.kind == .cancelled && cancellation.isCancelled {
            throw StoreError.cancelled("stopped while trying to \(action); the statement was rolled back, nothing was changed.")
        } catch let error as PostgresError {
            throw StoreError.database(action: action, error)
        }
    }

    func journalEntry(action: String, stateID: String, before: RowSnapshot?, batch: String? = nil,
                      lock: LockInfo? = nil, note: String? = nil) -> JournalEntry {
        JournalEntry(id: Journal.newID(), batch: batch, time: Journal.timestamp(), action: action, stateID: stateID,
                     database: location, schema: tables.schema, layout: layout.rawValue,
                     user: Actor.user, host: Actor.host, before: before, lock: lock, run: nil, note: note, server: databaseIdentity,
                     table: tables.stateName)
    }
}

extension JSONValue {
    /// What kind of JSON this is, for an error: "a number (5)", "an array", "null".
    var jsonKindPhrase: String {
        switch self {
        case .null: return "null"
        case let .bool(value): return "the boolean \(value)"
        case let .number(number): return "a number (\(number.literal.count > 20 ? number.literal.prefix(20) + "…" : Substring(number.literal)))"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }
}

/// What `setIfUnchanged` did.
public enum ConditionalWrite: Sendable {
    case written
    /// The state is no longer what the editor opened: nothing was written.
    case changed(current: JSONValue)
    /// The row can no longer be read as Meltano reads it: nothing was written.
    case unreadable(StoreError)
}

/// Thrown inside the lock so that it is released before `setIfUnchanged` returns.
private struct ChangedMeanwhile: Error, CustomStringConvertible {
    let current: JSONValue
    var description: String { "The state changed while it was being edited; nothing was written." }
}

private struct UnreadableNow: Error, CustomStringConvertible {
    let error: StoreError
    var description: String { error.description }
}
