import Foundation
import StateJSON
import StateStore
import Testing

@testable import StateBrowser

/// The fixed clock of every test (2023-11-14 22:13:20 UTC).
let testNow: Double = 1_700_000_000

/// An in-memory stand-in for the runner: answers each command at once from plain
/// data, so a test is a script of messages and assertions on the screen. (The real
/// runner against PostgreSQL is tested separately.)
/// Values by state ID, compared by bytes as the store compares them ("café" with é as
/// one scalar or as two are two IDs), not by Swift's `String` equality.
struct ByStateID<Value> {
    private var values: [ExactID: Value] = [:]
    subscript(_ id: String) -> Value? {
        get { values[ExactID(id)] }
        set { values[ExactID(id)] = newValue }
    }
    var keys: [String] { values.keys.map(\.id) }
}

final class FakeBackend {
    var states = ByStateID<LoadedState>()
    var locks: [LockRow] = []
    /// System database layout: `loadLocks` answers with these runs left RUNNING.
    var runs: [RunRow]?
    var history: [String: [HistoryRow]] = [:]
    var invalid: Set<ExactID> = []
    /// States read as `getRaw` reads them: without an age (the list row has it).
    var readsWithoutAge = false
    /// Fails reads of these kinds with this text.
    var failing: [ReadKind: String] = [:]
    /// Answers writes; default: succeed and apply to `states`.
    var writeOutcome: ((WriteAction) -> WriteOutcome)?
    /// The editor: gets the session text, returns the saved file.
    var editor: ((EditSession) -> String?)?
    var writes: [WriteAction] = []
    var clipboard: [String] = []
    /// What `D` finds in each other context.
    var contextDiffs: [String: [DiffLine]] = [:]
    var commandLog: [String] = []
    /// `diagnose` answers with these (the store's diagnosis is tested against PostgreSQL).
    var diagnoses: [String: DoctorReport] = [:]

    var sortedIDs: [String] { states.keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) } }

    func add(_ id: String, completed: String?, partial: String? = nil, age: Double = 60, updatedAt: String = "2023-11-14 22:12:20") {
        let merged: String?
        if partial == nil { merged = completed ?? "{}" } else { merged = nil }
        states[id] = LoadedState(stateID: id, updatedAt: updatedAt, ageSeconds: age, fetchedAt: testNow,
                                 completedRaw: completed, partialRaw: partial, mergedText: merged,
                                 mergedIsCompleted: partial == nil && completed != nil)
        if let completed, (try? JSONDocument(text: completed)) == nil { invalid.insert(ExactID(id)) }
    }

    func matches(_ id: String, glob: String?) -> Bool {
        guard let glob else { return true }
        return Self.globMatch(Array(glob), Array(id))
    }

    static func globMatch(_ pattern: [Character], _ text: [Character]) -> Bool {
        if pattern.isEmpty { return text.isEmpty }
        if pattern[0] == "*" {
            for i in 0...text.count where globMatch(Array(pattern.dropFirst()), Array(text[i...])) { return true }
            return false
        }
        guard let first = text.first else { return false }
        if pattern[0] == "?" || pattern[0] == first { return globMatch(Array(pattern.dropFirst()), Array(text.dropFirst())) }
        return false
    }

    func row(_ id: String) -> StateRow {
        let state = states[id]!
        let lock = locks.first { sameText($0.stateID, id) }
        return StateRow(stateID: id, updatedAt: state.updatedAt, ageSeconds: state.ageSeconds, fetchedAt: testNow,
                        isLocked: lock != nil, lockIsStale: lock?.isStale ?? false, isInvalidJSON: invalid.contains(ExactID(id)))
    }

    /// Executes one command; returns the messages it produces and the timers it set.
    func execute(_ command: Command) -> (messages: [Message], timers: [Message], quit: Bool) {
        commandLog.append(command.name)
        switch command {
        case let .loadPage(request):
            if let failure = failing[.page] { return ([.readFailed(.page, requestID: request.generation, failure)], [], false) }
            let ids = sortedIDs.filter { matches($0, glob: request.glob) }
            var rows: [String]
            var anchorIndex = 0, reachedStart = false, reachedEnd = false
            func less(_ a: String, _ b: String) -> Bool { Array(a.utf8).lexicographicallyPrecedes(Array(b.utf8)) }
            switch request.anchor {
            case .first: rows = Array(ids.prefix(request.limit))
            case .last: rows = Array(ids.suffix(request.limit))
            case let .after(id): rows = Array(ids.filter { less(id, $0) }.prefix(request.limit))
            case let .before(id): rows = Array(ids.filter { less($0, id) }.suffix(request.limit))
            case let .around(id, context):
                let before = ids.filter { less($0, id) }.suffix(context)
                let after = ids.filter { !less($0, id) }.prefix(request.limit)
                rows = Array(before) + Array(after)
                anchorIndex = before.count
                reachedStart = before.count < context
                reachedEnd = after.count < request.limit
            }
            return ([.pageLoaded(PageResult(request: request, rows: rows.map(row), anchorIndex: anchorIndex,
                                            reachedStart: reachedStart, reachedEnd: reachedEnd))], [], false)
        case let .count(generation, glob):
            return ([.counted(generation: generation, total: sortedIDs.filter { matches($0, glob: glob) }.count)], [], false)
        case let .locate(generation, id, glob):
            if failing[.count] != nil { return ([], [], false) }
            func less(_ a: String, _ b: String) -> Bool { Array(a.utf8).lexicographicallyPrecedes(Array(b.utf8)) }
            let position = sortedIDs.filter { matches($0, glob: glob) && less($0, id) }.count
            return ([.located(generation: generation, stateID: id, position: position)], [], false)
        case let .loadState(requestID, id):
            if let failure = failing[.state] { return ([.readFailed(.state, requestID: requestID, failure)], [], false) }
            var state = states[id] ?? LoadedState(stateID: id, exists: false, completedRaw: nil, partialRaw: nil, mergedText: nil)
            if readsWithoutAge { state.ageSeconds = nil }
            return ([.stateLoaded(requestID: requestID, state)], [], false)
        case let .buildDocument(request):
            let document = LocalWork.document(for: request.state, mode: request.mode, wrapWidth: request.wrapWidth)
            return ([.documentBuilt(requestID: request.id, mode: request.mode, document)], [], false)
        case let .search(request):
            let line = LocalWork.search(request.document, term: request.term, from: request.from, forward: request.forward)
            return ([.searchFinished(requestID: request.id, line: line)], [], false)
        case .loadLocks:
            if let failure = failing[.locks] { return ([.readFailed(.locks, requestID: 0, failure)], [], false) }
            if let runs { return ([.runsLoaded(runs, at: testNow)], [], false) }
            return ([.locksLoaded(locks, at: testNow)], [], false)
        case let .prepareEdit(id):
            let text = states[id]?.mergedText ?? "{}"
            let pretty = ((try? JSONDocument(text: text))?.prettyText() ?? text) + "\n"
            return ([.editPrepared(EditSession(stateID: id, original: pretty, text: pretty))], [], false)
        case let .openEditor(session):
            let saved = editor?(session)
            return ([.editorFinished(session, text: saved, problem: saved == nil ? "no editor in this test" : nil)], [], false)
        case let .checkEdit(request):
            let (body, check) = LocalWork.checkEdit(request.session, text: request.text)
            return ([.editChecked(requestID: request.id, request.session, body: body, check)], [], false)
        case let .checkTarget(action):
            return ([.targetChecked(action: action, exists: states[action.focusStateID] != nil)], [], false)
        case let .loadHistory(id):
            return ([.historyLoaded(stateID: id, history[id] ?? [])], [], false)
        case let .diagnose(id):
            return ([.diagnosed(stateID: id, diagnoses[id], error: diagnoses[id] == nil ? "no diagnosis in this test" : nil)], [], false)
        case let .write(action):
            writes.append(action)
            let outcome = writeOutcome?(action) ?? apply(action)
            return ([.writeFinished(action, outcome)], [], false)
        case .cancelWrite:
            return ([], [], false)
        case let .copyToClipboard(text, description):
            clipboard.append(text)
            return ([.clipboardWritten(description: description, problem: nil)], [], false)
        case let .after(_, message):
            return ([], [message], false)
        case .quit, .switchContext:
            return ([], [], true)
        case let .diffWithContext(id, context):
            let lines = contextDiffs[context] ?? [DiffLine(.context, "The same in both.")]
            return ([.contextDiffLoaded(ContextDiff(stateID: id, context: context, lines: lines))], [], false)
        }
    }

    func apply(_ action: WriteAction) -> WriteOutcome {
        switch action {
        case let .set(id, text, _, _):
            add(id, completed: try! JSONDocument(text: text).prettyText())
            return .done("Wrote the state of '\(id)'.")
        case let .bookmark(id, verb, _, text, _):
            add(id, completed: text)
            return .done("Wrote the \(verb) of '\(id)'.")
        case let .clear(id):
            states[id] = nil
            return .done("Cleared '\(id)' (journaled).")
        case let .copy(from, to):
            states[to] = states[from].map { var s = $0; s.stateID = to; return s }
            return .done("Copied '\(from)' to '\(to)'.")
        case let .move(from, to):
            states[to] = states[from].map { var s = $0; s.stateID = to; return s }
            states[from] = nil
            return .done("Moved '\(from)' to '\(to)'.")
        case let .release(id, lockID):
            locks.removeAll { $0.stateID == id && $0.lockID == lockID }
            return .done("Released lock \(lockID) of '\(id)'.")
        case let .restore(entry, id):
            return .done("Restored '\(id)' from \(entry).")
        case let .failRun(id, job):
            guard let index = runs?.firstIndex(where: { $0.id == id }), runs![index].isStale else {
                return .failed("Run \(id) is not stale; nothing was changed.")
            }
            runs!.remove(at: index)
            return .done("Marked run \(id) ('\(job)') failed.")
        }
    }
}

/// A browser session in a test: the model, the fake backend, and pending timers.
struct Harness {
    var model: Model
    let backend: FakeBackend
    var timers: [Message] = []
    var quit = false
    /// Commands this says yes to are kept in `held` instead of run (answers that
    /// arrive late); `releaseHeld` runs them.
    var hold: ((Command) -> Bool)?
    var held: [Command] = []

    init(backend: FakeBackend, size: Size = Size(width: 80, height: 24), settings: BrowserSettings = Harness.settings) {
        self.backend = backend
        let (model, commands) = start(settings: settings, size: size, now: testNow)
        self.model = model
        run(commands)
        send(.connection(.connected))
    }

    static let settings = BrowserSettings(location: "meltano@db.example:5432/warehouse", schema: "public", layout: "two-tables",
                                          readOnly: false, refreshInterval: 2, staleLockAfter: 300)

    mutating func send(_ message: Message) {
        let (next, commands) = update(model, message)
        model = next
        run(commands)
    }

    mutating func run(_ commands: [Command]) {
        var queue = commands
        while !queue.isEmpty {
            let command = queue.removeFirst()
            if hold?(command) == true {
                held.append(command)
                continue
            }
            let (messages, newTimers, quits) = backend.execute(command)
            timers += newTimers
            if quits { quit = true }
            for message in messages {
                let (next, more) = update(model, message)
                model = next
                queue += more
            }
        }
    }

    mutating func releaseHeld() {
        let commands = held
        held = []
        run(commands)
    }

    mutating func press(_ keys: Key...) {
        for key in keys { send(.key(key)) }
    }

    /// Types characters one key at a time.
    mutating func type(_ text: String) {
        for character in text { send(.key(.character(character))) }
    }

    /// Fires the pending timers of one kind (debounce, lock refresh).
    mutating func fireFilterTimers() {
        let due = timers.filter { if case .filterDebounced = $0 { return true } else { return false } }
        timers.removeAll { if case .filterDebounced = $0 { return true } else { return false } }
        for message in due { send(message) }
    }

    mutating func resize(_ width: Int, _ height: Int) { send(.resize(Size(width: width, height: height))) }

    var screen: Screen { view(model) }
    var text: String { screen.text }
}

// MARK: - Golden snapshots

/// Compares a screen with `Snapshots/<name>.txt`; with `SNAPSHOT_RECORD=1` in the
/// environment it writes the file instead (then review the diff and commit it).
func assertSnapshot(_ screen: Screen, named name: String, sourceLocation: SourceLocation = #_sourceLocation,
                    filePath: String = #filePath) {
    let directory = URL(fileURLWithPath: filePath).deletingLastPathComponent().appendingPathComponent("Snapshots")
    let file = directory.appendingPathComponent(name + ".txt")
    let width = screen.width
    let border = "+" + String(repeating: "-", count: width) + "+"
    var lines = [border]
    for y in 0..<screen.height {
        let line = screen.line(y)
        // The line is what the cells show (escapes already spelled out): measured a
        // grapheme at a time, not escaped again (a shown `\\` is two cells, not four).
        let cells = line.reduce(0) { $0 + TextWidth.width(of: $1) }
        var row = "|" + line + String(repeating: " ", count: max(0, width - cells)) + "|"
        // Where the row is in reverse video (selection bars, the cursor), since plain
        // text cannot show it.
        var ranges: [String] = []
        var x = 0
        while x < width {
            guard screen[x, y].style.reverse else { x += 1; continue }
            let start = x
            while x < width, screen[x, y].style.reverse { x += 1 }
            ranges.append(start == x - 1 ? "\(start)" : "\(start)-\(x - 1)")
        }
        if !ranges.isEmpty { row += " reverse " + ranges.joined(separator: ",") }
        lines.append(row)
    }
    lines.append(border)
    let actual = lines.joined(separator: "\n") + "\n"
    let record = ProcessInfo.processInfo.environment["SNAPSHOT_RECORD"] == "1"
    if record || !FileManager.default.fileExists(atPath: file.path) {
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try? actual.write(to: file, atomically: true, encoding: .utf8)
        if !record {
            Issue.record("Recorded a new snapshot \(name).txt; check it and run again.", sourceLocation: sourceLocation)
        }
        return
    }
    let expected = (try? String(contentsOf: file, encoding: .utf8)) ?? ""
    if expected != actual {
        Issue.record("Snapshot \(name) differs (SNAPSHOT_RECORD=1 re-records):\n--- expected\n\(expected)--- actual\n\(actual)",
                     sourceLocation: sourceLocation)
    }
}

// MARK: - Sample data

enum Samples {
    static let bookmark = #"{"singer_state": {"bookmarks": {"issues": {"updated_at": "2023-11-14T21:00:00Z", "page": 17}, "pull_requests": {"updated_at": "2023-11-13T08:30:00Z"}, "stargazers": {}}, "currently_syncing": null}}"#

    /// A small project: a dozen IDs, two locks (one stale).
    static func backend() -> FakeBackend {
        let backend = FakeBackend()
        let ids = ["dev:tap-github-to-target-postgres", "dev:tap-gitlab-to-target-postgres", "dev:tap-jira-to-target-snowflake",
                   "prod:tap-github-to-target-postgres", "prod:tap-gitlab-to-target-postgres", "prod:tap-hubspot-to-target-bigquery",
                   "prod:tap-jira-to-target-snowflake", "prod:tap-postgres-to-target-snowflake", "prod:tap-salesforce-to-target-snowflake",
                   "prod:tap-shopify-to-target-bigquery", "prod:tap-stripe-to-target-postgres", "prod:tap-zendesk-to-target-postgres"]
        for (index, id) in ids.enumerated() {
            backend.add(id, completed: bookmark, age: Double(30 + index * 997))
        }
        backend.locks = [
            LockRow(stateID: "prod:tap-github-to-target-postgres", lockID: "3f9a1c2e-5b7d-4e21-9c0a-8d6f4b2e1a37",
                    lockedAt: "2023-11-14 21:41:02.123456", ageSeconds: 1938, fetchedAt: testNow, isStale: true),
            LockRow(stateID: "prod:tap-stripe-to-target-postgres", lockID: "b51e07d4-2c88-4f3e-a9d1-6e0c5f7a8b92",
                    lockedAt: "2023-11-14 22:12:48.000001", ageSeconds: 32, fetchedAt: testNow, isStale: false),
        ]
        return backend
    }

    /// `count` IDs `state-000000`…, for paging.
    static func manyIDs(_ count: Int) -> FakeBackend {
        let backend = FakeBackend()
        for index in 0..<count {
            backend.add(String(format: "state-%06d", index), completed: #"{"singer_state": {"n": \#(index)}}"#, age: 5)
        }
        return backend
    }
}
