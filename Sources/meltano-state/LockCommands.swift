import ArgumentParser
import Foundation
import StateBrowser
import StateJSON
import StateStore

struct LocksCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "locks", abstract: "Show every held lock: state ID, lock ID, when taken, age, stale or not.")
    @OptionGroup var global: GlobalOptions
    @Flag(name: .long, help: "Only stale locks: by the heartbeat of the job's RUNNING run or the holder's session where known (Meltano's system database, pg_stat_activity), else older than the stale threshold (default 5 min). Column JUDGED BY says which.") var stale = false
    @Flag(name: .long, help: "JSON array instead of a table.") var json = false

    func run() throws {
        let context = try Context(global)
        var locks = try context.store.locks()
        if stale { locks = locks.filter(\.isStale) }
        if json {
            writeData(JSONValue.array(locks.map(lockJSON)).compactText + "\n", json: true)
            return
        }
        if locks.isEmpty {
            printNote(stale ? "No stale locks." : "No locks are held.", quiet: global.quiet)
            return
        }
        writeHuman(lockTable(locks))
    }
}

func lockJSON(_ lock: LockInfo) -> JSONValue {
    var object = JSONObject()
    object["state_id"] = .string(JSONString(lock.stateID))
    object["lock_id"] = .string(JSONString(lock.lockID))
    object["locked_at"] = .string(JSONString(lock.lockedAt))
    object["age_seconds"] = lock.ageSeconds.map { .number(JSONNumber(($0 * 1000).rounded() / 1000)) } ?? .null
    object["stale"] = .bool(lock.isStale)
    if let staleness = lock.staleness {
        object["stale_evidence"] = .string(JSONString(staleness.evidence.rawValue))
        object["stale_reason"] = .string(JSONString(staleness.reason))
    }
    if let pid = lock.pid { object["pid"] = .number(JSONNumber(Int(pid))) }
    for (key, value) in [("user", lock.user), ("client_addr", lock.clientAddress), ("application_name", lock.applicationName),
                         ("backend_start", lock.backendStart), ("xact_start", lock.transactionStart), ("state", lock.waitState)] {
        if let value { object[key] = .string(JSONString(value)) }
    }
    return .object(object)
}

func lockTable(_ locks: [LockInfo]) -> String {
    let advisory = locks.contains { $0.pid != nil }
    var rows: [[String]] = [advisory ? ["STATE ID", "KEY", "PID", "CLIENT", "APPLICATION", "SINCE", "AGE", "JUDGED BY", ""]
                                     : ["STATE ID", "LOCK ID", "LOCKED AT", "AGE", "JUDGED BY", ""]]
    for lock in locks {
        let age = lock.ageSeconds.map(formatAge) ?? "?"
        var flag = lock.isStale ? "STALE" : ""
        let evidence = lock.staleness?.evidence.rawValue ?? "age"
        if lock.ageIsImplausible { flag += (flag.isEmpty ? "" : ", ") + "age implausible: writer in another time zone?" }
        if advisory {
            rows.append([displayedID(lock.stateID), lock.lockID, lock.pid.map(String.init) ?? "", lock.clientAddress ?? "",
                         lock.applicationName ?? "", lock.lockedAt, age, evidence, flag])
        } else {
            rows.append([displayedID(lock.stateID), lock.lockID, lock.lockedAt, age, evidence, flag])
        }
    }
    return alignedTable(rows)
}

/// Rows of cells (the first the header) as columns two spaces apart, each as wide as
/// its widest cell in terminal cells (a CJK character takes two); the last column is
/// not padded.
func alignedTable(_ rows: [[String]]) -> String {
    var table = AlignedTable(columns: rows[0].count)
    for row in rows { table.measure(row) }
    return rows.map { table.line($0) }.joined()
}

/// Columns as wide as their widest cell, two spaces apart: measured in one pass over the
/// rows, printed in a second, so a table of 900 000 bookmarks need not be held whole.
/// Cells are printed as they are (a backslash once), so measured so.
struct AlignedTable {
    private(set) var widths: [Int]

    init(columns: Int) {
        widths = Array(repeating: 0, count: columns)
    }

    /// The same widths without `column` (for rows that leave it out).
    func removingColumn(_ column: Int) -> AlignedTable {
        var table = self
        table.widths.remove(at: column)
        return table
    }

    mutating func measure(_ row: [String]) {
        for (column, cell) in row.enumerated() { widths[column] = max(widths[column], TextWidth.width(of: cell, escaping: .typed)) }
    }

    /// The row padded to the widths measured, and a newline. Spaces and tabs at the end
    /// go (the padding of empty last cells); at the start they are a cell's own.
    func line(_ cells: [String]) -> String {
        var line = ""
        for (index, cell) in cells.enumerated() {
            if index > 0 { line += "  " }
            line += cell
            if index < cells.count - 1 {
                line += String(repeating: " ", count: max(0, widths[index] - TextWidth.width(of: cell, escaping: .typed)))
            }
        }
        var trimmed = Substring(line)
        while let last = trimmed.last, last.isWhitespace, !last.isNewline { trimmed.removeLast() }
        return trimmed + "\n"
    }
}

struct UnlockCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "unlock", abstract: "Release a lock left by a dead pipeline, by its lock ID (as `terraform force-unlock`).",
        discussion: """
            Removes exactly the lock you name: if the state ID has since been locked again by another holder, \
            nothing is removed and you are told. The removed lock goes to the backup journal. For the \
            single-table layout (advisory locks) releasing means terminating the holding database session.

            Examples:
              meltano-state locks
              meltano-state unlock prod:tap-github-to-target-postgres 9b2e6f0c-…
              meltano-state unlock --stale --yes
            """)
    @OptionGroup var global: GlobalOptions
    // One array rather than two arguments, so that an advisory lock's key, which is
    // negative half the time (-3677392304200889941), is taken as the lock ID it is
    // and not refused as an unknown option.
    @Argument(parsing: .allUnrecognized,
              help: ArgumentHelp("The state ID whose lock to release, then the lock ID shown by `locks` (for advisory locks: the key, or the holder's pid).",
                                 valueName: "state-id lock-id"))
    var ids: [String] = []
    /// The arguments, options aside: after `--` (as for every other verb) all are taken
    /// as given, so a state ID that starts with `-` can be named.
    var words: [String] {
        guard let end = ids.firstIndex(of: "--") else { return ids }
        return Array(ids[..<end]) + ids[(end + 1)...]
    }
    var stateID: String? { words.first }
    var lockID: String? { words.count > 1 ? words[1] : nil }
    @Flag(name: .long, help: "Release every stale lock (judged as `locks --stale` judges them), each by its own lock ID, after listing them.") var stale = false
    @Flag(name: [.long, .short], help: "Do not ask for confirmation.") var yes = false

    func validate() throws {
        let options = ids.prefix { $0 != "--" }
        if let option = options.first(where: { $0.utf8.first == UInt8(ascii: "-") && Int64($0) == nil }) {
            throw ValidationError("Unknown option '\(option)'. A state ID that starts with '-' goes after '--': unlock -- \(option) LOCK_ID")
        }
        if words.count > 2 { throw ValidationError("Unexpected argument '\(words[2])': give STATE_ID LOCK_ID.") }
    }

    func run() throws {
        let context = try Context(global)
        if context.store.options.readOnly { throw context.store.readOnlyRefusal("release a lock") }
        if stale {
            guard stateID == nil else { throw CommandFailure("Give either STATE_ID LOCK_ID or --stale, not both.", code: Exit.usage) }
            let locks = try context.store.locks().filter(\.isStale)
            if locks.isEmpty { printNote("No stale locks.", quiet: global.quiet); return }
            writeStandardError(terminalSafe(lockTable(locks)))
            try confirm("Release these \(locks.count) stale lock(s)?", assumeYes: yes)
            var failures = 0
            try context.withInterruptHandler {
                for lock in locks {
                    if context.store.cancellation.isCancelled {
                        throw StoreError.cancelled("stopped before releasing the lock on \(quotedID(lock.stateID)) (those before it are reported above).")
                    }
                    failures += report(try context.store.release(stateID: lock.stateID, lockID: lock.lockID), expected: lock.lockID) ? 0 : 1
                }
            }
            if failures > 0 { throw CommandFailure("\(failures) lock(s) were not released (see above).") }
            return
        }
        guard let stateID, let lockID else {
            throw CommandFailure("Give the state ID and the lock ID to release (see `meltano-state locks`), or --stale.", code: Exit.usage)
        }
        guard let lock = try context.store.locks().first(where: { sameText($0.stateID, stateID) }) else {
            throw CommandFailure("No lock is held on \(quotedID(stateID)) (already released?). Nothing was removed.", code: Exit.notFound)
        }
        guard lock.lockID == lockID || lock.pid.map(String.init) == lockID else {
            throw CommandFailure("The lock on \(quotedID(stateID)) is \(lock.lockID), not \(lockID): it was re-taken or the ID is wrong. Nothing was removed. Check `meltano-state locks`.", code: Exit.lockHeld)
        }
        writeStandardError(terminalSafe(lockTable([lock])))
        let warning: String
        if let pid = lock.pid {
            warning = "This terminates database session \(pid) (\(lock.applicationName ?? "?") from \(lock.clientAddress ?? "local socket")), which holds the lock; its open transaction is rolled back."
        } else if lock.isStale {
            warning = "The lock is stale (by \(lock.staleness?.evidence.rawValue ?? "age"): \(lock.staleness?.reason ?? "older than \(formatAge(context.store.options.staleLockAfter))"))."
        } else if let staleness = lock.staleness, staleness.evidence != .age {
            warning = "The lock is not stale (by \(staleness.evidence.rawValue): \(staleness.reason)): it belongs to a running pipeline."
        } else {
            warning = "The lock is only \(lock.ageSeconds.map(formatAge) ?? "?") old: it may belong to a running pipeline."
        }
        try confirm("\(warning) Release the lock on \(quotedID(stateID))?", assumeYes: yes)
        if !report(try context.withInterruptHandler { try context.store.release(stateID: stateID, lockID: lock.lockID) }, expected: lock.lockID) {
            throw CommandFailure("Nothing was removed.", code: Exit.lockHeld)
        }
    }

    /// Says what happened; true when the lock shown was released.
    func report(_ outcome: ReleaseOutcome, expected: String) -> Bool {
        switch outcome {
        case let .released(lock):
            printNote("Released lock \(lock.lockID) on \(quotedID(lock.stateID)) (taken \(lock.lockedAt)).", quiet: global.quiet)
            return true
        case let .terminated(lock):
            printNote("Terminated session \(lock.pid.map(String.init) ?? "?"); its lock on \(quotedID(lock.stateID)) is gone.", quiet: global.quiet)
            return true
        case .alreadyGone:
            printError("The lock \(expected) is already gone; nothing was removed.")
            return false
        case let .retaken(other):
            printError("\(quotedID(other.stateID)) is now locked by \(other.lockID) (taken \(other.lockedAt)), not \(expected): left alone.")
            return false
        }
    }
}

struct HistoryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "history", abstract: "List the backup journal's entries, newest first.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Only entries of this state ID.") var stateID: String?
    @Flag(name: .long, help: "JSON lines, one entry each, as stored.") var json = false
    @Option(name: .long, help: "At most this many entries (default 50; 0 = all).") var limit: Int = 50

    func run() throws {
        let context = try Context(global, connect: false)
        if json {
            // The journal's own line writer: the bytes as stored.
            let lines = try context.history(stateID: stateID, limit: max(limit, 0)) { String(decoding: try $0.journalLine(), as: UTF8.self) }
            writeData(lines.map { $0 + "\n" }.joined(), json: true)
            return
        }
        // One journal serves every context: an entry of another database says which.
        let here = context.configuration.connection.description
        let lines = try context.history(stateID: stateID, limit: max(limit, 0)) { Self.line($0, here: here) }
        if lines.isEmpty {
            printNote("The backup journal (\(context.journal.path)) has no entries\(stateID.map { " for \(quotedID($0))" } ?? "").", quiet: global.quiet)
            return
        }
        writeHuman(lines.joined())
    }

    /// An entry as `history` lists it: the saved value's size, not the value.
    static func line(_ entry: JournalEntry, here: String) -> String {
        let before: String
        if let lock = entry.lock { before = "lock \(lock.lockID) taken \(lock.lockedAt)" } else if let snapshot = entry.before {
            let size = (snapshot.partialState?.utf8.count ?? 0) + (snapshot.completedState?.utf8.count ?? 0)
            before = "previous value \(size) bytes, updated \(snapshot.updatedAt ?? "?")"
        } else { before = "no previous row" }
        return "\(entry.id)  \(entry.time)  \(entry.action.padding(toLength: max(9, entry.action.count), withPad: " ", startingAt: 0))  \(displayedID(entry.stateID))  (\(before); \(entry.user)@\(entry.host))\(entry.note.map { "  " + $0 } ?? "")\(entry.database == here ? "" : "  [on \(entry.database)]")\n"
    }
}

struct RestoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "restore", abstract: "Put back the value a journal entry saved (or every entry of a batch); itself journaled.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The entry or batch id from `history`.") var entryID: String
    @Flag(name: [.long, .short], help: "Do not ask for confirmation.") var yes = false

    func run() throws {
        let context = try Context(global)
        // Refused before the question: an entry of another database is never put here.
        let entries = try context.journal.entries(idOrBatch: entryID)
        let matching = try entries.map { entry in
            try context.store.checkRecordedHere(entry)
            return Target(entry)
        }
        guard !matching.isEmpty else {
            throw CommandFailure("No journal entry or batch '\(entryID)' in \(context.journal.path); `meltano-state history` lists them.", code: Exit.notFound)
        }
        try confirm(Self.question(matching, entryID: entryID), assumeYes: yes)
        let restored = try context.withInterruptHandler { try context.store.restore(entries, entryID: entryID) }
        printNote("Restored \(restored.count) entr\(restored.count == 1 ? "y" : "ies") from \(entryID).", quiet: global.quiet)
    }

    /// What restoring puts back, by kind of entry: a state, a released lock (taken again,
    /// as it was), or a run marked failed (RUNNING again).
    static func question(_ entries: [Target], entryID: String) -> String {
        func named(_ some: [Target]) -> String {
            some.prefix(5).map { quotedID($0.stateID) }.joined(separator: ", ") + (some.count > 5 ? ", …" : "")
        }
        var parts: [String] = []
        let states = entries.filter { !$0.isLock && !$0.isRun }
        let locks = entries.filter(\.isLock)
        let runs = entries.filter(\.isRun)
        if !states.isEmpty { parts.append("\(states.count) state(s) (\(named(states))) to the value saved (their current values go to the journal first)") }
        if !locks.isEmpty { parts.append("\(locks.count) released lock(s) (\(named(locks))), taken again as they were: runs of those IDs wait until they are released") }
        if !runs.isEmpty { parts.append("\(runs.count) run(s) (\(named(runs))) to RUNNING, as they were before being marked failed") }
        return "Restore from \(entryID): " + parts.joined(separator: "; ") + "?"
    }

    /// What the question names of an entry (its saved texts are not kept).
    struct Target {
        let stateID: String
        let isLock: Bool
        let isRun: Bool

        init(_ entry: JournalEntry) {
            stateID = entry.stateID
            isLock = entry.lock != nil
            isRun = entry.run != nil
        }
    }
}
