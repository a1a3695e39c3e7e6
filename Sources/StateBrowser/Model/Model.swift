import StateConfig

/// Fixed for a session: what the header says and how the browser behaves.
public struct BrowserSettings: Sendable, Equatable {
    /// user@host:port/database, never a password.
    public var location: String
    public var schema: String
    public var layout: String
    public var readOnly: Bool
    /// Seconds between lock refreshes.
    public var refreshInterval: Double
    /// A lock older than this is stale.
    public var staleLockAfter: Double
    /// IDs per page, and the most kept in memory at once.
    public var pageSize: Int
    public var maxRows: Int
    public var filterDebounce: Double
    /// A state at least this big (bytes) is let go before it is read again, and the
    /// connection that read it is closed afterwards (libpq keeps a read's buffer).
    public var bigStateBytes: Int
    /// The context the browser is in (`--context`, `MELTANO_STATE_CONTEXT`, or the
    /// picker), shown first in the header, in its colour.
    public var context: ContextChoice?
    /// The config file's contexts, for the picker (`:`).
    public var contexts: [ContextChoice] = []

    public init(location: String = "", schema: String = "public", layout: String = "two-tables", readOnly: Bool = false,
                refreshInterval: Double = OwnSettings.defaultRefreshInterval,
                staleLockAfter: Double = OwnSettings.defaultStaleLockAfter, pageSize: Int = 200, maxRows: Int = 1000,
                filterDebounce: Double = 0.25, bigStateBytes: Int = 8 << 20) {
        self.location = location
        self.schema = schema
        self.layout = layout
        self.readOnly = readOnly
        self.refreshInterval = refreshInterval
        self.staleLockAfter = staleLockAfter
        self.pageSize = pageSize
        self.maxRows = maxRows
        self.filterDebounce = filterDebounce
        self.bigStateBytes = bigStateBytes
    }

    /// Meltano's system database has no lock table: its stuck pipelines are runs left
    /// RUNNING, and the bottom pane lists those instead of locks.
    public var showsRuns: Bool { layout == "systemdb" }
}

/// A context of the config file as the picker lists it: never a password.
public struct ContextChoice: Sendable, Equatable {
    public var name: String
    /// The URI without its password, or the project and environment.
    public var location: String
    public var readOnly: Bool
    public var color: ContextColor?

    public init(name: String, location: String, readOnly: Bool, color: ContextColor?) {
        self.name = name
        self.location = location
        self.readOnly = readOnly
        self.color = color
    }
}

/// The state ID list: a window of at most `maxRows` IDs somewhere in the (possibly
/// million-long) ordered list, grown and trimmed a page at a time.
public struct ListPane: Sendable {
    public var rows: [StateRow] = []
    /// Position of `rows[0]` in the whole list; nil when unknown (after a jump).
    public var offset: Int? = 0
    public var atStart = true
    public var atEnd = false
    public var selected = 0
    public var top = 0
    /// How many IDs match the filter; nil until counted.
    public var total: Int?
    /// The filter as typed (empty: none). `glob` is what the server is asked.
    public var filter = ""
    /// The glob the last reload asked for (the rows shown once it has answered).
    public var appliedGlob: String?
    /// The glob the rows shown were read with.
    public var rowsGlob: String?
    /// Bumped whenever the list is reloaded from scratch; older answers are dropped.
    public var generation = 0
    public var loadingNext = false
    public var loadingPrevious = false
    /// A reload (first page, filter, jump) is in flight.
    public var reloading = true
    /// The first page of this generation has arrived.
    public var loaded = false
    /// This generation's count is asked for once its first page has arrived: counting
    /// a filter reads every index entry (seconds at 10 M IDs), and started beside the
    /// page it would slow the page down on a busy machine.
    public var countAfterPage = false
    public var error: String?

    public var selectedRow: StateRow? { rows.indices.contains(selected) ? rows[selected] : nil }

    /// The glob sent to the server: the filter as typed when it has `*` or `?`, else
    /// `*filter*` (a substring match, as k9s and lazygit filter).
    public var glob: String? {
        if filter.isEmpty { return nil }
        if filter.contains("*") || filter.contains("?") { return filter }
        return "*" + filter + "*"
    }
}

/// The right pane: one state, its views, folds, cursor and search.
public struct DetailPane: Sendable {
    public var stateID: String?
    public var loaded: LoadedState?
    public var loadingRequest: Int?
    public var error: String?
    public var mode: ViewMode = .merged
    public var documents: [ViewMode: Document] = [:]
    public var building: [ViewMode: Int] = [:]
    public var cursor = 0
    public var top = 0
    public var horizontal = 0
    /// Open lines of folded containers (JSON documents only).
    public var folds: Set<Int> = []
    public var searchTerm = ""
    public var searchRequest: Int?

    public var document: Document? { documents[mode] }
}

/// The bottom pane: live locks, or (system database layout) runs left RUNNING. One
/// refresh chain and one selection serve both; a session shows only one of them.
public struct LocksPane: Sendable {
    public var rows: [LockRow] = []
    /// System database layout: the RUNNING runs, longest silent first.
    public var runs: [RunRow] = []
    public var selected = 0
    public var top = 0
    public var lastRefresh: Double?
    public var loading = false
    public var error: String?
    /// Bumped to cancel the pending refresh timer (a manual refresh starts a new chain).
    public var timerGeneration = 0

    public var selectedRow: LockRow? { rows.indices.contains(selected) ? rows[selected] : nil }
    public var staleCount: Int { rows.filter(\.isStale).count }
    public var selectedRun: RunRow? { runs.indices.contains(selected) ? runs[selected] : nil }
    public var staleRunCount: Int { runs.filter(\.isStale).count }
}

/// A dialog asking before anything is destroyed. Its lines name what will be; No is
/// the default (Enter, Esc and n all cancel; only y goes ahead).
public struct Confirmation: Sendable, Equatable {
    public var action: WriteAction
    public var title: String
    public var lines: [[Run]]
    public var yes: String
    /// A second, explicit confirmation after the first y (releasing the lock of a
    /// pipeline doctor says is RUNNING): its lines; nil for none.
    public var confirmAgain: [[Run]]?

    public init(action: WriteAction, title: String, lines: [[Run]], yes: String, confirmAgain: [[Run]]? = nil) {
        self.action = action
        self.title = title
        self.lines = lines
        self.yes = yes
        self.confirmAgain = confirmAgain
    }
}

/// The doctor panel (`D`): the diagnosis of one state ID, nil while it is read.
public struct DoctorPanel: Sendable, Equatable {
    public var stateID: String
    public var report: DoctorReport?
    public var error: String?
    public var top = 0
}

/// Asking for the target of a copy or move.
public struct Prompt: Sendable, Equatable {
    public enum Purpose: Sendable, Equatable { case copy, move }
    public var purpose: Purpose
    public var source: String
    public var input: LineInput
    public var text: String { input.text }
    /// The target is being checked (exists?) before the confirmation.
    public var checking = false
}

public struct HistoryView: Sendable, Equatable {
    public var stateID: String
    public var rows: [HistoryRow]?
    public var selected = 0
    public var top = 0
}

/// Sideways scrolling of diff lines: 8 columns a key, as the JSON pane, up to where the
/// longest line's last 8 columns still show.
func scrolledSideways(_ left: Int, _ key: Key, lines: [DiffLine], escaping mode: TextWidth.EscapeMode) -> Int? {
    switch key {
    case .left, .character("h"): return max(0, left - 8)
    case .right, .character("l"):
        let longest = lines.map { TextWidth.width(of: $0.text, escaping: mode) }.max() ?? 0
        return min(max(0, longest - 8), left + 8)
    default: return nil
    }
}

/// The edit confirmation: the diff between the stored value and the edited text.
public struct DiffView: Sendable, Equatable {
    public var session: EditSession
    public var newText: String
    public var lines: [DiffLine]
    public var top = 0
    /// Columns scrolled sideways (← →).
    public var left = 0
    /// A bookmark edit (rewind, reset-stream): what `y` writes instead of the editor's text.
    public var action: WriteAction? = nil
}

/// The Bookmarks view of the state shown: its streams (and partitions), as
/// `meltano-state bookmarks` lists them, and the rewind being typed.
public struct BookmarksView: Sendable, Equatable {
    public struct Target: Sendable, Equatable {
        public var stream: String
        /// The partition's context (Meltano text); nil for the stream itself.
        public var partition: String?
    }
    public var stateID: String
    /// The merged view the lines were read from (Meltano text): what an edit starts from.
    public var merged: String
    /// The table, the header first (texts as stored: escaped when drawn).
    public var cells: [[String]]
    public var targets: [Target]
    public var currentlySyncing: String?
    public var problem: String?
    public var selected = 0
    public var top = 0
    /// The rewind being typed: a value, or -3d / -1000 to move back by.
    public var input: LineInput?
}

public enum Mode: Sendable, Equatable {
    case browse
    /// Typing a filter; `previous` comes back on Esc.
    case filter(previous: String)
    /// Typing a search term for the JSON pane.
    case search(text: String)
    case help(top: Int)
    case confirm(Confirmation)
    case prompt(Prompt)
    case history(HistoryView)
    case diff(DiffView)
    case doctor(DoctorPanel)
    case bookmarks(BookmarksView)
    /// The context picker: `:` to switch, `=` to diff the selected state against.
    case contexts(selected: Int, forDiff: Bool = false)
    /// The selected state compared with another context's (`=`).
    case contextDiff(ContextDiffView)
}

/// The selected state in this context against the same ID in another, as `diff` prints
/// it: one line per change, or why it could not be read.
public struct ContextDiff: Sendable, Equatable {
    public var stateID: String
    public var context: String
    public var lines: [DiffLine]
    public var error: String?

    public init(stateID: String, context: String, lines: [DiffLine], error: String? = nil) {
        self.stateID = stateID
        self.context = context
        self.lines = lines
        self.error = error
    }
}

public struct ContextDiffView: Sendable, Equatable {
    public var diff: ContextDiff?
    public var stateID: String
    public var context: String
    public var top = 0
    /// Columns scrolled sideways (← →).
    public var left = 0
}

public struct StatusMessage: Sendable, Equatable {
    public var text: String
    public var isError: Bool
    public var at: Double
}

/// Everything the browser shows and knows, as one value: `update` makes the next one,
/// `view` draws it.
public struct Model: Sendable {
    public var settings: BrowserSettings
    public var size: Size
    public var now: Double
    public var focus: Focus = .list
    public var mode: Mode = .browse
    public var list = ListPane()
    public var detail = DetailPane()
    public var locks = LocksPane()
    public var connection: ConnectionStatus = .connecting
    /// The server connected to (nil until a worker has run something).
    public var server: ConnectedServer?
    public var status: StatusMessage?
    /// A write in flight (one at a time); Esc or Ctrl-C cancels a lock wait.
    public var writing: WriteAction?
    /// Set by `q`: the host leaves after drawing nothing more.
    public var quitting = false
    /// `q` was pressed while a write was in flight: said so; a second `q` quits.
    var quitAskedDuringWrite = false
    public var lastRefresh: Double?
    public var theme: Theme = .standard
    var nextRequestID = 1
    /// The editor's text being checked; an older check's answer is dropped.
    var editCheckRequest: Int?
    /// Bumped on every filter keystroke; only the last debounce timer reloads.
    var filterTicket = 0
    /// Where the list should put the anchor of an `.around` reload (its position in the
    /// whole list), when known.
    var pendingAnchorOffset: Int?
    /// The ID selected (or asked for) when the reload started.
    var reloadAnchorID: String?
    /// The ID Enter on a lock or run jumped to, while the list loads around it.
    var jumpTarget: String?
    /// The state ID the last clear or move deleted: its row is gone, so the selection
    /// has moved on to another ID. `H` finds it here (see `openHistory`).
    var removedStateID: String?
    /// True from that write's end until the next key: `H` as that key means the removed ID.
    var removedJustNow = false

    public init(settings: BrowserSettings, size: Size, now: Double) {
        self.settings = settings
        self.size = size
        self.now = now
    }

    mutating func newRequestID() -> Int {
        defer { nextRequestID += 1 }
        return nextRequestID
    }

    /// True once the first page, the first state and the locks have arrived (what
    /// `--exit-after-first-paint` waits for).
    public var initialLoadComplete: Bool {
        guard list.loaded, locks.lastRefresh != nil else { return false }
        if list.rows.isEmpty { return true }
        return detail.loaded != nil && detail.document != nil
    }

    func age(_ seconds: Double?, fetchedAt: Double) -> Double? {
        seconds.map { $0 + max(0, now - fetchedAt) }
    }

    /// How long ago a loaded state was written. The raw read has no age of its own
    /// (it is the server's clock against the writer's): the list's row gives it when
    /// it shows the same write.
    func stateAge(_ state: LoadedState) -> Double? {
        if let age = age(state.ageSeconds, fetchedAt: state.fetchedAt) { return age }
        let row = list.selectedRow?.stateID == state.stateID ? list.selectedRow : list.rows.first { $0.stateID == state.stateID }
        guard let row, row.updatedAt != nil, row.updatedAt == state.updatedAt else { return nil }
        return age(row.ageSeconds, fetchedAt: row.fetchedAt)
    }
}
