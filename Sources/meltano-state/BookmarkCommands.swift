import ArgumentParser
import Foundation
import StateJSON
import StateStore

struct BookmarksCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bookmarks", abstract: "Show a state ID's Singer bookmarks, one line per stream (and partition).",
        discussion: """
            Each line: the stream, its replication key, the value the next run starts from (Meltano's merged \
            view), its age when it is a time, and newer progress: a partial state left by an unfinished run \
            (its value wins in the merged view) or singer-sdk progress_markers. Shapes it does not know are \
            shown as stored.

            Examples:
              meltano-state bookmarks prod:tap-postgres-to-target-snowflake
              meltano-state bookmarks prod:tap-postgres-to-target-snowflake --json
            """)
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The state ID.") var stateID: String
    @Flag(name: .long, help: "One JSON object: state_id, currently_syncing, streams[] (stream, partition, replication_key, value, value_type, age_seconds, partial_value, progress_marker_value, bookmark, …).")
    var json = false

    func run() throws {
        let context = try Context(global)
        try StateID.validate(stateID)
        // The row's texts, read as tapes: a 100 MB state's lines are made one stream at
        // a time and written as they are made.
        guard let stored = try context.store.readStoredBytes(stateID) else { throw StoreError.notFound(stateID: stateID) }
        let report = try BookmarkReport(stateID: stateID, stored: stored, now: Date().timeIntervalSince1970)
        if json {
            var pending = ""
            report.writeJSON { piece in
                pending += piece
                if pending.utf8.count >= 1 << 20 { writeData(pending, json: true); pending = "" }
            }
            writeData(pending + "\n", json: true)
            return
        }
        writeBookmarkTable(report, to: writeOut)
    }
}

/// The bookmarks table for people: every cell escaped for the terminal, then aligned;
/// measured in one pass over the lines and handed to `write` in pieces in a second.
func writeBookmarkTable(_ report: BookmarkReport, to write: (String) -> Void) {
    if let syncing = report.currentlySyncing, !syncing.isNull {
        write(terminalSafe("currently_syncing: \(syncing.stringValue?.text ?? syncing.meltanoText)\n"))
    }
    // One pass measures the cells with a PARTITION column and finds whether any line
    // needs it; the table drops it when none does (the other cells are the same).
    func shown(_ cells: [String]) -> [String] { cells.map { terminalSafe(displayExcerpt($0), keepingLineBreaks: false) } }
    var measured = AlignedTable(columns: BookmarkReport.header(partitions: true).count)
    measured.measure(shown(BookmarkReport.header(partitions: true)))
    var partitions = false, empty = true
    report.forEachLine { line in
        empty = false
        if line.bookmark.partition != nil { partitions = true }
        measured.measure(shown(BookmarkReport.cells(line, partitions: true)))
    }
    if empty {
        write(terminalSafe("No bookmarks in \(quotedID(report.stateID))\(report.problem.map { ": \($0)" } ?? "").") + "\n")
        return
    }
    let table = partitions ? measured : measured.removingColumn(1)
    let header = shown(BookmarkReport.header(partitions: partitions))
    var pending = table.line(header)
    report.forEachLine { line in
        pending += table.line(shown(BookmarkReport.cells(line, partitions: partitions)))
        if pending.utf8.count >= 1 << 20 { write(pending); pending = "" }
    }
    write(pending)
}

/// What the bookmark edits share: read the merged view, change one stream, show the
/// diff, confirm, and write it as `set` does (completed = the edited merged view,
/// partial cleared) under Meltano's lock, only if the state is still what was read.
struct BookmarkWrite {
    let context: Context
    let stateID: String
    let action: String

    /// Connects; refuses at once in read-only mode (before reading anything).
    init(_ global: GlobalOptions, stateID: String, action: String) throws {
        context = try Context(global)
        try StateID.validate(stateID)
        if context.store.options.readOnly { throw context.store.readOnlyRefusal(action) }
        self.stateID = stateID
        self.action = action
    }

    /// The edit to show and write: made on the row's text when the store can
    /// (`planTextEdit`: a 100 MB state is never a tree), else on its tree.
    enum Pending {
        case text(StateTextEdit)
        case tree(from: JSONValue, to: JSONValue)
    }

    /// `text` on the merged view's `json.dumps` text, or `tree` on its tree when the
    /// text cannot stand for it; a bookmark error (a stream not there, a value ahead…)
    /// becomes the command's failure. Exit 4 when the ID has no row.
    func prepare<Made>(text: (JSONTape) throws -> (BookmarkTextEdit, Made),
                       tree: (JSONValue) throws -> (JSONValue, Made)) throws -> (Pending, Made) {
        do {
            if let (plan, made) = try context.store.planTextEdit(stateID, text) { return (.text(plan), made) }
            guard let record = try context.store.get(stateID) else { throw StoreError.notFound(stateID: stateID) }
            let current = try record.merged.get()
            let (edited, edit) = try tree(current)
            // What the write would refuse is said before the diff and the question.
            try context.store.checkStorable(edited, of: "The state")
            return (.tree(from: current, to: edited), edit)
        } catch let error as BookmarkError {
            throw commandFailure(error)
        }
    }

    func write(_ pending: Pending, question: String, assumeYes: Bool, note: String) throws {
        let diff: String
        switch pending {
        case let .text(plan):
            // Both texts are in json.dumps form: written indented straight from the text.
            var edited = plan.edit.text
            // (Both parse: the plan checked what the edit wrote. A wrong diff is never shown.)
            guard let old = plan.before.withDocumentBytes({ JSONParser.prettyText(ofMeltanoText: $0) }),
                  let new = edited.withUTF8({ JSONParser.prettyText(ofMeltanoText: UnsafeRawBufferPointer($0)) }) else {
                throw CommandFailure("Cannot show the change to \(quotedID(stateID)): the edited state does not read back as JSON. Nothing was written; this is a bug of meltano-state, please report it.")
            }
            diff = unifiedDiff(old: old + "\n", new: new + "\n", oldName: "\(stateID) (stored)", newName: "\(stateID) (\(action))")
        case let .tree(current, edited):
            diff = unifiedDiff(old: current.prettyText(indent: 2) + "\n", new: edited.prettyText(indent: 2) + "\n",
                               oldName: "\(stateID) (stored)", newName: "\(stateID) (\(action))")
        }
        writeStandardError(terminalSafe(diff))
        try confirm(question, assumeYes: assumeYes, flagHint: "--yes")
        let changed = "The state of \(quotedID(stateID)) changed since it was read (a pipeline wrote it?); nothing was written. Run the command again to see the new bookmarks."
        switch pending {
        case let .text(plan):
            guard try context.withInterruptHandler({ try context.store.write(plan, action: action, note: note) }) else { throw CommandFailure(changed) }
        case let .tree(current, edited):
            switch try context.withInterruptHandler({ try context.store.setIfUnchanged(stateID, opened: current, to: edited, action: action, note: note) }) {
            case .written:
                break
            case .changed:
                throw CommandFailure(changed)
            case let .unreadable(error):
                throw error
            }
        }
    }
}

extension BookmarkError.Kind {
    var exitCode: Int32 {
        switch self {
        case .notFound: return Exit.notFound
        case .badInput: return Exit.usage
        case .ahead, .unsupported: return Exit.failure
        }
    }
}

func commandFailure(_ error: BookmarkError) -> CommandFailure {
    CommandFailure(error.message, code: error.kind.exitCode)
}

struct RewindCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rewind", abstract: "Move one stream's bookmark back, keeping the value's type and format, so the next run re-extracts from there.",
        discussion: """
            Give the new value, or --by (3d, 12h, 1d12h for a time; a number for a number), or --to (a time). \
            A time is written with the bookmark's own precision and zone style (2024-05-01T00:00:00+00:00, …Z, \
            2024-05-01 00:00:00), an integer as an integer, an LSN as an LSN. A value ahead of the current one \
            is refused unless --forward. For a partitioned stream, --partition names the partition by its context.

            The state written is Meltano's merged view with only that value changed, stored as `meltano state set` \
            stores it (partial state cleared), so a partial state's newer progress cannot win over the rewind. \
            The difference is shown and confirmed; Meltano's lock is taken and the previous row journaled.

            Examples:
              meltano-state rewind prod:tap-postgres-to-target-snowflake public-orders --by 3d --yes
              meltano-state rewind prod:tap-postgres-to-target-snowflake public-orders --to 2026-11-30T00:00:00Z
              meltano-state rewind prod:tap-postgres-to-target-snowflake public-customers 4000
            """)
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The state ID.") var stateID: String
    @Argument(help: "The stream (its key under bookmarks).") var stream: String
    @Argument(help: "The new value (a time, a number, an LSN).") var value: String?
    @Option(name: .long, help: "Move back by this much: 3d, 12h, 30m, 2w, 1d12h; for a number, a number.") var by: String?
    @Option(name: .long, help: "Move to this time (ISO 8601, e.g. 2026-11-30T00:00:00Z).") var to: String?
    @Option(name: .long, help: "The partition's context as JSON, e.g. '{\"tenant\": \"a\"}'.") var partition: String?
    @Flag(name: .long, help: "Allow a value ahead of the current one (skips data).") var forward = false
    @Flag(name: [.long, .short], help: "Do not ask for confirmation before writing.") var yes = false

    func validate() throws {
        if [value, by, to].compactMap({ $0 }).count != 1 {
            throw ValidationError("Give exactly one of VALUE, --by or --to.")
        }
    }

    func run() throws {
        let move: BookmarkMove = value.map(BookmarkMove.value) ?? by.map(BookmarkMove.by) ?? .to(to!)
        var context: JSONValue? = nil
        if let partition {
            do { context = try JSONParser.parse(partition) } catch {
                throw CommandFailure("--partition is not JSON (\(error)); give the partition's context, e.g. '{\"tenant\": \"a\"}' as `meltano-state bookmarks ID --json` shows it.", code: Exit.usage)
            }
        }
        let writer = try BookmarkWrite(global, stateID: stateID, action: "rewind")
        let (pending, edit) = try writer.prepare(text: { tape in
            try SingerState.rewind(meltanoText: tape, stream: stream, partition: context, move, allowForward: forward)
        }, tree: { current in
            let edit = try SingerState.rewind(current, stream: stream, partition: context, move, allowForward: forward)
            return (edit.state, edit)
        })
        let what = "\(quotedID(stream))\(context.map { " (partition \($0.meltanoText))" } ?? "")"
        if edit.new.isEquivalent(to: edit.old) {
            printNote("The bookmark of \(what) is already \(edit.old.meltanoText); nothing was written.", quiet: global.quiet)
            return
        }
        try writer.write(pending, question: "Rewind \(what) of \(quotedID(stateID)): \(edit.change)?",
                         assumeYes: yes, note: edit.note)
        printNote("Rewound \(what) of \(quotedID(stateID)): \(edit.change).", quiet: global.quiet)
    }
}

struct ResetStreamCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "reset-stream", abstract: "Remove one stream's bookmark, so the next run extracts that stream from the start.",
        discussion: """
            Removes bookmarks.STREAM (all its partitions) and nothing else; currently_syncing and the other \
            streams stay as they are. Written as `rewind` writes: the merged view without that stream, stored \
            as `meltano state set` stores it, after the difference is shown and confirmed, under Meltano's lock, \
            with the previous row journaled.

            Example:
              meltano-state reset-stream prod:tap-postgres-to-target-snowflake public-customers --yes
            """)
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The state ID.") var stateID: String
    @Argument(help: "The stream (its key under bookmarks).") var stream: String
    @Flag(name: [.long, .short], help: "Do not ask for confirmation before writing.") var yes = false

    func run() throws {
        let writer = try BookmarkWrite(global, stateID: stateID, action: "reset-stream")
        let (pending, _) = try writer.prepare(text: { tape in (try SingerState.removingStream(meltanoText: tape, stream: stream), ()) },
                                              tree: { current in (try SingerState.removingStream(current, stream: stream).state, ()) })
        try writer.write(pending, question: "Remove the bookmark of \(quotedID(stream)) from \(quotedID(stateID)) (the next run extracts it from the start)?",
                         assumeYes: yes, note: SingerState.resetNote(stream: stream))
        printNote("Removed the bookmark of \(quotedID(stream)) from \(quotedID(stateID)).", quiet: global.quiet)
    }
}
