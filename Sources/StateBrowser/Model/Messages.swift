import StateStore

/// A key as the browser understands it; `Terminal` translates ncurses codes to these.
public enum Key: Sendable, Hashable {
    case character(Character)
    case up, down, left, right, pageUp, pageDown, home, end
    case enter, tab, backTab, escape, backspace, delete
    /// Ctrl with a letter, e.g. `.control("c")`.
    case control(Character)
    case function(Int)
}

/// Where a page of state IDs starts (keyset paging: by ID, never by offset).
public enum PageAnchor: Sendable, Equatable {
    case first
    case last
    case after(String)
    case before(String)
    /// A page that contains this ID (or where it would be), with up to `context` IDs
    /// before it.
    case around(String, context: Int)
}

public struct PageRequest: Sendable, Equatable {
    public var id: Int
    /// The list's generation when asked; older answers are dropped.
    public var generation: Int
    public var glob: String?
    public var anchor: PageAnchor
    public var limit: Int

    public init(id: Int, generation: Int, glob: String?, anchor: PageAnchor, limit: Int) {
        self.id = id
        self.generation = generation
        self.glob = glob
        self.anchor = anchor
        self.limit = limit
    }
}

public struct PageResult: Sendable, Equatable {
    public var request: PageRequest
    public var rows: [StateRow]
    /// For `.around`: the index in `rows` of the anchor ID (or the first after it).
    public var anchorIndex: Int
    /// For `.around`: whether there was nothing before / after the rows.
    public var reachedStart: Bool
    public var reachedEnd: Bool

    public init(request: PageRequest, rows: [StateRow], anchorIndex: Int = 0, reachedStart: Bool = false, reachedEnd: Bool = false) {
        self.request = request
        self.rows = rows
        self.anchorIndex = anchorIndex
        self.reachedStart = reachedStart
        self.reachedEnd = reachedEnd
    }
}

/// A change to the database, always confirmed first (or, for `set`, after a diff).
public enum WriteAction: Sendable, Equatable {
    /// From the editor: the new text, and the text the editor started from (to notice
    /// a pipeline writing the state meanwhile): the merged view, or with `unreadable`
    /// the raw text of a row that is not JSON.
    case set(stateID: String, text: String, original: String, unreadable: Bool = false)
    case clear(stateID: String)
    case copy(from: String, to: String)
    case move(from: String, to: String)
    case release(stateID: String, lockID: String)
    case restore(entryID: String, stateID: String)
    /// System database: mark a stale RUNNING run failed, as Meltano's `fail_stale`.
    case failRun(id: Int, jobName: String)
    /// From the Bookmarks view: `rewind` or `reset-stream` (`verb`, the journal's
    /// action), the merged view it was made from and the new state (Meltano texts),
    /// written as `e` writes, only if the state is still `original`.
    case bookmark(stateID: String, verb: String, original: String, text: String, note: String)

    /// The state ID the list should show afterwards.
    var focusStateID: String {
        switch self {
        case let .set(id, _, _, _), let .clear(id), let .release(id, _), let .restore(_, id), let .failRun(_, id),
             let .bookmark(id, _, _, _, _): return id
        case let .copy(_, to), let .move(_, to): return to
        }
    }

    /// "Clearing 'x'" for the status line while it runs.
    var progressText: String {
        switch self {
        case let .set(id, _, _, _), let .bookmark(id, _, _, _, _): return "Writing the state of \(quoted(id))"
        case let .clear(id): return "Clearing \(quoted(id))"
        case let .copy(from, to): return "Copying \(quoted(from)) to \(quoted(to))"
        case let .move(from, to): return "Moving \(quoted(from)) to \(quoted(to))"
        case let .release(id, _): return "Releasing the lock of \(quoted(id))"
        case let .restore(entry, id): return "Restoring \(quoted(id)) from journal entry \(entry)"
        case let .failRun(runID, job): return "Marking run \(runID) (\(quoted(job))) failed"
        }
    }
}

public enum WriteOutcome: Sendable, Equatable {
    /// Done; the sentence to show.
    case done(String)
    /// Refused or failed; nothing (or what is said) was changed.
    case failed(String)
    /// `set` only: the value was refused (validation): back to the editor with this.
    case rejected(String)
    /// `set` only: the stored state changed while the editor was open (checked under
    /// Meltano's lock); `current` is what the editor would open now.
    case conflict(current: EditSession)
}

/// What the editor's text turned out to be, checked off the UI thread (a big state's
/// text is parsed and compared there).
public enum EditCheck: Sendable, Equatable {
    /// Nothing but `//` lines and blanks: cancelled.
    case empty
    /// Not JSON (Meltano could not read it): why, as comment lines for the editor.
    case invalid([String])
    /// Equal to what was opened as Meltano compares states (parsed, Python's `==`).
    case unchanged
    /// A change: the diff to confirm.
    case changed([DiffLine])
}

/// A text handed to `$EDITOR`, and what it started from.
public struct EditSession: Sendable, Equatable {
    public var stateID: String
    /// The value when editing began (pretty JSON), for the diff and conflict check.
    public var original: String
    /// What the editor opens: the user's text, with any problem as `//` lines on top.
    public var text: String
    /// The stored state could not be read as JSON: `original` is the raw text of the
    /// part that is not (a repair writes it as `set` does).
    public var unreadable: Bool

    public init(stateID: String, original: String, text: String, unreadable: Bool = false) {
        self.stateID = stateID
        self.original = original
        self.text = text
        self.unreadable = unreadable
    }
}

/// What failed among reads, for the status line.
public enum ReadKind: String, Sendable {
    case page, count, state, locks, history, target, edit
}

public enum Message: Sendable {
    case key(Key)
    case resize(Size)
    /// The clock, about once a second (ages, retry countdowns, status expiry).
    case tick(Double)

    case pageLoaded(PageResult)
    case counted(generation: Int, total: Int)
    /// `position`: how many IDs (matching the list's glob) sort before `stateID`.
    case located(generation: Int, stateID: String, position: Int)
    case stateLoaded(requestID: Int, LoadedState)
    case documentBuilt(requestID: Int, mode: ViewMode, Document)
    case searchFinished(requestID: Int, line: Int?)
    case locksLoaded([LockRow], at: Double)
    /// What `loadLocks` brings in the system database layout: runs left RUNNING.
    case runsLoaded([RunRow], at: Double)
    case readFailed(ReadKind, requestID: Int, String)
    case connection(ConnectionStatus)
    /// The server the workers reached, when it is first known and whenever it changes
    /// (a failover to another of several hosts).
    case server(ConnectedServer)

    /// Timers the model set itself.
    case filterDebounced(generation: Int)
    case refreshLocksDue(generation: Int)

    case editPrepared(EditSession)
    /// The editor closed: the file's text, or why it could not run.
    case editorFinished(EditSession, text: String?, problem: String?)
    /// The editor's text after `checkEdit`: the text without its `//` lines, and what it is.
    case editChecked(requestID: Int, EditSession, body: String, EditCheck)
    case targetChecked(action: WriteAction, exists: Bool)
    case historyLoaded(stateID: String, [HistoryRow])
    /// `doctor`'s diagnosis for the panel, or why it could not be made.
    case diagnosed(stateID: String, DoctorReport?, error: String?)
    /// The selected state compared with the same ID in another context.
    case contextDiffLoaded(ContextDiff)
    case writeFinished(WriteAction, WriteOutcome)
    case clipboardWritten(description: String, problem: String?)
}

public struct DocumentRequest: Sendable {
    public var id: Int
    public var state: LoadedState
    public var mode: ViewMode
    public var wrapWidth: Int
}

public struct EditCheckRequest: Sendable {
    public var id: Int
    public var session: EditSession
    /// The file as the editor left it.
    public var text: String
}

public struct SearchRequest: Sendable {
    public var id: Int
    public var document: Document
    public var term: String
    public var from: Int
    public var forward: Bool
}

/// What `update` asks the outside world to do; results come back as messages.
public enum Command: Sendable {
    case loadPage(PageRequest)
    case count(generation: Int, glob: String?)
    /// The position of a listed ID in the whole (filtered) list, for "N of TOTAL"
    /// after a jump.
    case locate(generation: Int, stateID: String, glob: String?)
    case loadState(requestID: Int, stateID: String)
    case buildDocument(DocumentRequest)
    case search(SearchRequest)
    /// The bottom pane's refresh: locks, or in the system database layout, running runs.
    case loadLocks
    case prepareEdit(stateID: String)
    /// Run by the terminal host: suspend the screen, run `$EDITOR`, resume.
    case openEditor(EditSession)
    /// Off the UI thread: strip, parse and compare the editor's text (`editChecked`).
    case checkEdit(EditCheckRequest)
    case checkTarget(WriteAction)
    case loadHistory(stateID: String)
    /// `doctor` on one state ID, for the panel (`diagnosed`).
    case diagnose(stateID: String)
    case write(WriteAction)
    /// Stop waiting for a lock (the write fails with "cancelled").
    case cancelWrite
    /// Run by the terminal host: OSC 52.
    case copyToClipboard(text: String, description: String)
    /// Send `message` back after `seconds`.
    case after(seconds: Double, Message)
    case quit
    /// Run by the host: leave this browser and open it again in another context.
    case switchContext(String)
    /// Read the state ID here and in another context, and diff them (`contextDiffLoaded`).
    case diffWithContext(stateID: String, context: String)

    /// A short name, for tests and logs.
    public var name: String {
        switch self {
        case let .loadPage(request):
            switch request.anchor {
            case .first: return "loadPage(first)"
            case .last: return "loadPage(last)"
            case let .after(id): return "loadPage(after \(id))"
            case let .before(id): return "loadPage(before \(id))"
            case let .around(id, _): return "loadPage(around \(id))"
            }
        case let .count(_, glob): return "count(\(glob ?? "*"))"
        case let .locate(_, id, _): return "locate(\(id))"
        case let .loadState(_, id): return "loadState(\(id))"
        case let .buildDocument(request): return "buildDocument(\(request.state.stateID), \(request.mode.rawValue))"
        case let .search(request): return "search(\(request.term), from \(request.from), \(request.forward ? "forward" : "backward"))"
        case .loadLocks: return "loadLocks"
        case let .prepareEdit(id): return "prepareEdit(\(id))"
        case let .openEditor(session): return "openEditor(\(session.stateID))"
        case let .checkEdit(request): return "checkEdit(\(request.session.stateID))"
        case let .checkTarget(action): return "checkTarget(\(action.focusStateID))"
        case let .loadHistory(id): return "loadHistory(\(id))"
        case let .diagnose(id): return "diagnose(\(id))"
        case let .write(action): return "write(\(action))"
        case .cancelWrite: return "cancelWrite"
        case let .copyToClipboard(_, description): return "copyToClipboard(\(description))"
        case let .after(seconds, message): return "after(\(seconds), \(message))"
        case .quit: return "quit"
        case let .switchContext(name): return "switchContext(\(name))"
        case let .diffWithContext(id, name): return "diffWithContext(\(id), \(name))"
        }
    }
}

func quoted(_ text: String) -> String { quotedID(text) }

/// A state ID where the browser shows it on its own (the list, the titles, the locks
/// pane, a dialog's ID line): in quotes when a space at either end, or no character at
/// all, would not show, so `dev:a` and `dev:a ` read apart. (In a sentence, `quoted`
/// names it as the CLI's messages do: always in quotes, shell-quoted when it must be.)
func shownID(_ id: String) -> String { hasInvisibleEdges(id) ? "'" + id + "'" : id }
