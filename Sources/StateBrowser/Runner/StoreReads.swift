import Foundation
import StateJSON
import StateStore

/// Reads against the store, turned into the browser's plain values.
enum StoreReads {
    /// A page of state IDs for an anchor, by keyset (never OFFSET).
    static func page(_ store: StateStore, _ request: PageRequest, clock: () -> Double) throws -> PageResult {
        let glob = request.glob
        let limit = request.limit
        var rows: [StateSummary]
        var anchorIndex = 0, reachedStart = false, reachedEnd = false
        switch request.anchor {
        case .first:
            rows = try store.list(matching: glob, limit: limit)
        case let .after(id):
            rows = try store.list(matching: glob, after: id, limit: limit)
        case let .before(id):
            rows = try store.list(matching: glob, before: id, limit: limit)
        case .last:
            rows = try store.list(matching: glob, fromEnd: true, limit: limit)
        case let .around(id, context):
            let before = try store.list(matching: glob, before: id, limit: context)
            let after = try store.list(matching: glob, after: before.last?.stateID, limit: limit)
            rows = before + after
            anchorIndex = before.count
            reachedStart = before.count < context
            reachedEnd = after.count < limit
        }
        let now = clock()
        return PageResult(request: request, rows: rows.map { row($0, fetchedAt: now) }, anchorIndex: anchorIndex,
                          reachedStart: reachedStart, reachedEnd: reachedEnd)
    }

    static func row(_ summary: StateSummary, fetchedAt: Double) -> StateRow {
        StateRow(stateID: summary.stateID, updatedAt: summary.updatedAt, ageSeconds: summary.ageSeconds, fetchedAt: fetchedAt,
                 isLocked: summary.isLocked, lockIsStale: summary.lockIsStale, isInvalidJSON: summary.isInvalidJSON)
    }

    static func lockRow(_ lock: LockInfo, fetchedAt: Double) -> LockRow {
        var holder: [String] = []
        if let pid = lock.pid { holder.append("pid \(pid)") }
        if let user = lock.user { holder.append("user \(user)") }
        if let client = lock.clientAddress { holder.append("from \(client)") }
        if let application = lock.applicationName, !application.isEmpty { holder.append(application) }
        var row = LockRow(stateID: lock.stateID, lockID: lock.lockID, lockedAt: lock.lockedAt, ageSeconds: lock.ageSeconds,
                          fetchedAt: fetchedAt, isStale: lock.isStale, ageIsImplausible: lock.ageIsImplausible,
                          holder: holder.isEmpty ? nil : holder.joined(separator: ", "), isAdvisory: lock.pid != nil)
        row.staleEvidence = lock.staleness?.evidence.rawValue
        row.staleReason = lock.staleness?.reason
        row.verdict = lock.releaseVerdict?.headline
        row.verdictReason = lock.releaseReason
        row.needsSecondConfirmation = lock.releaseVerdict == .running || lock.releaseVerdict == .doNotRelease
        return row
    }

    static func runRow(_ run: RunInfo, fetchedAt: Double) -> RunRow {
        RunRow(id: run.id, jobName: run.jobName, runID: run.runID, startedAt: run.startedAt, lastHeartbeatAt: run.lastHeartbeatAt,
               silentForSeconds: run.silentForSeconds, fetchedAt: fetchedAt, isStale: run.isStale, staleReason: run.staleReason)
    }

    /// Text for the browser to show and lay out, read in slices (`readStoredSlices`:
    /// libpq never holds a 100 MB text twice, as a plain SELECT's input buffer and
    /// result do). The completed text is laid out as it arrives (`ArrivingLayout`), on a
    /// thread of its own, so a big state's layout ends soon after its last slice. The
    /// merged view is the stored completed text itself when there is no partial state
    /// (the common case: Meltano's `set` stores completed only), so literals show
    /// exactly as stored. A row with a partial state is merged as Meltano merges it when
    /// its merged view is laid out (`TextMerge.mergedText`).
    static func state(_ store: StateStore, _ stateID: String, clock: () -> Double) throws -> LoadedState {
        let now = clock()
        var layout: ArrivingLayout? = nil
        defer { layout?.join() }  // a read that failed half-way: stop the parsing thread
        guard let head = try store.readStoredSlices(stateID, completed: { total, offset, slice in
            if layout == nil { layout = ArrivingLayout(count: total) }
            layout!.receive(offset: offset, slice)
        }) else {
            return LoadedState(stateID: stateID, exists: false, fetchedAt: now, completedRaw: nil, partialRaw: nil, mergedText: nil)
        }
        let completed = layout?.finish()
        // Invalid UTF-8 is replaced, as `QueryResult` does.
        let partialRaw = head.partial.map { String(decoding: $0, as: UTF8.self) }
        let completedRaw = head.completedLength == nil ? nil : completed?.text ?? ""
        var state = LoadedState(stateID: stateID, exists: true, updatedAt: head.updatedAt, fetchedAt: now,
                                completedRaw: completedRaw, partialRaw: partialRaw, mergedText: nil)
        state.completedLayout = completed?.document
        if partialIsEmpty(partialRaw) {
            state.mergedText = completedRaw ?? "{}"
            state.mergedIsCompleted = completedRaw != nil
        }
        // Else the merged view is merged when it is laid out (TextMerge, on the compute
        // queue): this worker's connection lets go of a big read sooner.
        return state
    }

    /// NULL, or a partial state that is the empty object: Meltano merges nothing. (A
    /// partial state is small, or it is parsed for the merge anyway.)
    static func partialIsEmpty(_ partial: String?) -> Bool {
        guard let partial else { return true }
        if partial.utf8.count > 4096 { return false }
        if case let .object(object)? = try? JSONParser.parse(partial), object.isEmpty { return true }
        return false
    }

    /// Meltano's view of a row, as the store computes it (`RowSnapshot.merged`).
    static func merged(_ row: RowSnapshot, _ stateID: String) -> Result<JSONValue, StoreError> {
        row.merged(stateID: stateID)
    }

    /// What `$EDITOR` opens: the merged view, indented by 2 (as Meltano's `edit`). A
    /// row whose text is not JSON opens as its raw text under a comment saying why, so
    /// it can be repaired here.
    static func editSession(_ store: StateStore, _ stateID: String) throws -> EditSession {
        guard let row = try store.getRaw(stateID) else {
            throw StoreError.notFound(stateID: stateID)
        }
        switch merged(row, stateID) {
        case let .success(value):
            let text = value.prettyText(indent: 2) + "\n"
            return EditSession(stateID: stateID, original: text, text: text)
        case let .failure(error):
            let raw = unreadableText(row)
            var comments = ["meltano-state: Meltano cannot read the stored state; the raw text of the part at fault is below.",
                            "Fix it and save to write it back (as Meltano's set: completed = it, partial = empty)."]
                + Model.wrapComment(error.description)
            // The write replaces both parts: the one not shown is named here, before it goes.
            let shownIsCompleted = raw == (row.completedState ?? "") && row.completedState != nil
            if let other = shownIsCompleted ? row.partialState : row.completedState, !other.isEmpty, other != "{}" {
                // Counted no further than the cut: the other part may be a 100 MB state.
                let prefix = other.prefix(2000)
                let cut = prefix.endIndex < other.endIndex ? String(prefix) + "…" : other
                comments += ["The stored \(shownIsCompleted ? "partial" : "completed") part is replaced too (the journal keeps it); as stored:"]
                    + Model.wrapComment(cut)
            }
            return EditSession(stateID: stateID, original: raw, text: Model.withComments(comments, raw), unreadable: true)
        }
    }

    /// What the editor opens for a row that is not JSON: the raw text of the part
    /// that is not (the completed part if it is broken, else the partial).
    static func unreadableText(_ row: RowSnapshot) -> String {
        let completedIsJSON = row.completedState.map { JSONParser.validate($0) == nil } ?? true
        return completedIsJSON ? row.partialState ?? "" : row.completedState ?? ""
    }

    static func historyRow(_ entry: JournalEntry) -> HistoryRow {
        let bytes = (entry.before?.completedState?.utf8.count ?? 0) + (entry.before?.partialState?.utf8.count ?? 0)
        var note = entry.note
        if let lock = entry.lock { note = "lock \(lock.lockID)" + (note.map { "; " + $0 } ?? "") }
        if let batch = entry.batch { note = (note.map { $0 + "; " } ?? "") + "batch \(batch)" }
        return HistoryRow(id: entry.id, time: entry.time, action: entry.action, stateID: entry.stateID, note: note,
                          hadRow: entry.before != nil, isLock: entry.lock != nil, isRun: entry.run != nil, bytes: bytes)
    }
}

/// Writes, each worded for the status line.
enum StoreWrites {
    static func perform(_ action: WriteAction, _ store: StateStore) -> WriteOutcome {
        do {
            switch action {
            case let .set(stateID, text, original, unreadable):
                let value: JSONValue
                do { value = try JSONParser.parse(text) } catch { return .rejected(error.description) }
                if let changed = try writeEdit(store, stateID, value, original: original, unreadable: unreadable) {
                    return .conflict(current: changed)
                }
                return .done("Wrote the state of \(quoted(stateID)) (the previous value is in the journal; H restores it).")
            case let .bookmark(stateID, verb, original, text, note):
                let opened = try JSONParser.parse(original), value = try JSONParser.parse(text)
                switch try store.setIfUnchanged(stateID, opened: opened, to: value, action: verb, note: note) {
                case .written:
                    return .done("\(verb == "rewind" ? "Rewound" : "Reset") \(quoted(stateID)) (journaled; H restores it): \(note).")
                case .changed:
                    return .failed("\(quoted(stateID)) changed after the Bookmarks view read it (a pipeline wrote it?); nothing was written. Open the bookmarks again (b).")
                case let .unreadable(error):
                    return .failed(error.description)
                }
            case let .clear(stateID):
                let existed = try store.clear(stateID)
                return .done(existed ? "Cleared \(quoted(stateID)) (saved to the journal first; press H next to restore it)."
                                     : "\(quoted(stateID)) had no row any more: nothing to clear.")
            case let .copy(from, to):
                try store.copy(from: from, to: to)
                return .done("Copied the state of \(quoted(from)) to \(quoted(to)).")
            case let .move(from, to):
                try store.move(from: from, to: to)
                return .done("Moved the state of \(quoted(from)) to \(quoted(to)); \(quoted(from)) was cleared.")
            case let .release(stateID, lockID):
                switch try store.release(stateID: stateID, lockID: lockID) {
                case .released:
                    return .done("Released lock \(lockID) of \(quoted(stateID)) (journaled).")
                case .alreadyGone:
                    return .done("The lock of \(quoted(stateID)) was already gone: nothing was removed.")
                case let .retaken(by):
                    return .failed("\(quoted(stateID)) is locked again, by another holder (lock \(by.lockID) since \(by.lockedAt)); it was left alone.")
                case let .terminated(info):
                    return .done("Ended the session\(info.pid.map { " (pid \($0))" } ?? "") that held the advisory lock of \(quoted(stateID)).")
                }
            case let .failRun(id, jobName):
                let run = try store.failStaleRun(id: id)
                return .done("Marked run \(id) (\(quoted(run.jobName.isEmpty ? jobName : run.jobName))) failed: state FAIL, as Meltano would (journaled; H restores it).")
            case let .restore(entryID, stateID):
                let entries = try store.restore(entryID: entryID)
                return .done("Restored \(quoted(stateID)) from journal entry \(entryID)\(entries.count > 1 ? " (\(entries.count) rows of its batch)" : "").")
            }
        } catch let rejected as Rejected {
            return .rejected(rejected.message)
        } catch {
            return .failed(RunnerErrors.describe(error))
        }
    }

    /// Writes an edit only if the state is still what the editor opened; else returns
    /// what the editor would open now. A readable state is compared under Meltano's
    /// lock (the store's `setIfUnchanged`), as Meltano compares states: parsed,
    /// Python's `==`. A row that was not JSON when opened cannot be read that way: under
    /// the lock too, it must still be unreadable with the raw text the editor opened.
    static func writeEdit(_ store: StateStore, _ stateID: String, _ value: JSONValue, original: String,
                          unreadable: Bool) throws -> EditSession? {
        if unreadable {
            let written = try rejecting {
                try store.setIfRowUnchanged(stateID, to: value, action: "edit", note: "edited in the browser") { row in
                    guard let row, case .failure = StoreReads.merged(row, stateID) else { return false }
                    return sameText(StoreReads.unreadableText(row), original)
                }
            }
            if written { return nil }
            do { return try StoreReads.editSession(store, stateID) } catch StoreError.notFound {
                return EditSession(stateID: stateID, original: "{}\n", text: "{}\n")
            }
        }
        let opened = try JSONParser.parse(original)
        switch try rejecting({ try store.setIfUnchanged(stateID, opened: opened, to: value) }) {
        case .written:
            return nil
        case let .changed(current):
            let text = current.prettyText(indent: 2) + "\n"
            return EditSession(stateID: stateID, original: text, text: text)
        case .unreadable:
            // It stopped being readable while the editor was open.
            return try StoreReads.editSession(store, stateID)
        }
    }

    /// A value the store refuses (no singer_state, not an object) goes back to the editor.
    static func rejecting<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as StoreError {
            if case .invalidState = error { throw Rejected(message: error.description) }
            throw error
        }
    }

    struct Rejected: Error {
        var message: String
    }
}

extension StoreReads {
    /// `doctor`'s diagnosis of one state ID, as the browser's panel shows it.
    static func doctor(_ store: StateStore, _ stateID: String) throws -> DoctorReport {
        guard let diagnosis = try store.diagnose([stateID]).first else { throw StoreError.other("no diagnosis of '\(stateID)'") }
        return DoctorReport(stateID: stateID, headline: diagnosis.verdict.headline,
                            safe: diagnosis.verdict == .safeToRelease || diagnosis.verdict == .healthy,
                            lines: diagnosis.lines.map { DoctorLine(label: $0.label, text: $0.text) })
    }

    /// A state ID's merged state here against there, as `diff` prints it (a missing
    /// row is {}, as Meltano's get prints it; a row that is not JSON is an error).
    static func contextDiff(_ stateID: String, here: StateStore, there: StateStore, context: String) throws -> ContextDiff {
        func merged(_ store: StateStore) throws -> JSONValue? {
            guard let record = try store.get(stateID) else { return nil }
            return try record.merged.get()
        }
        let mine = try merged(here), theirs = try merged(there)
        var lines: [DiffLine] = []
        for (value, name) in [(mine, "here"), (theirs, "in \(context)")] where value == nil {
            lines.append(DiffLine(.context, "(no state \(name): compared as {})"))
        }
        let changes = JSONDiff.changes(from: mine ?? .object(JSONObject()), to: theirs ?? .object(JSONObject()))
        for change in changes {
            let kind: DiffLine.Kind = change.kind == .added ? .added : change.kind == .removed ? .removed : .hunk
            lines.append(DiffLine(kind, JSONDiff.line(change)))
        }
        if changes.isEmpty { lines.append(DiffLine(.context, "The same in both.")) }
        return ContextDiff(stateID: stateID, context: context, lines: lines)
    }
}
