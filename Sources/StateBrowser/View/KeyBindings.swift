/// The keys, as `?` lists them and the footer hints them. One table, so help and
/// behaviour are reviewed together (the handlers are in `Update+Keys.swift`).
public enum KeyBindings {
    public struct Binding: Sendable {
        public var keys: String
        public var action: String
        /// Hidden in read-only mode.
        public var writes: Bool

        init(_ keys: String, _ action: String, writes: Bool = false) {
            self.keys = keys
            self.action = action
            self.writes = writes
        }
    }

    public static let sections: [(String, [Binding])] = [
        ("Moving", [
            Binding("↑ ↓  j k", "move up and down"),
            Binding("PgUp PgDn", "a page up and down (also Ctrl-B, Ctrl-F)"),
            Binding("g G  Home End", "first and last"),
            Binding("Tab  Shift-Tab", "next and previous pane: IDs, JSON, locks"),
            Binding("L", "the locks pane (oldest lock first)"),
            Binding("← →  h l", "scroll the JSON sideways"),
        ]),
        ("State IDs", [
            Binding("/", "filter IDs on the server: * ? are globs, else substring"),
            Binding("Esc", "clear the filter"),
            Binding("Enter", "open the state; on a lock: go to its state ID"),
            Binding("r  F5", "refresh the list, the state and the locks"),
            Binding("D", "doctor: why is it stuck, is it safe to release?"),
        ]),
        ("JSON", [
            Binding("v  1 2 3 4", "view: merged, completed, partial, raw text"),
            Binding("Enter  Space", "fold or unfold an object or array"),
            Binding("z  Z", "fold everything beside the cursor; unfold all"),
            Binding("/  n N", "search in the JSON; next and previous match"),
            Binding("y  Y", "copy the value; copy its JSON path (OSC 52)"),
        ]),
        ("Changes", [
            Binding("e", "edit in $EDITOR (then a diff to confirm)", writes: true),
            Binding("d", "clear the state (delete its row)", writes: true),
            Binding("c  m", "copy, move the state to another ID", writes: true),
            Binding("u", "release the selected lock", writes: true),
            Binding("b", "bookmarks of the state: rewind (r) or reset (x) a stream"),
            Binding("H", "history of the backup journal; restore from it"),
        ]),
        ("Other", [
            Binding("?  F1", "this help"),
            Binding(":", "switch context: a picker of the config file's contexts"),
            Binding("=", "diff the state with the same ID in another context"),
            Binding("Esc  Ctrl-C", "stop waiting for a lock"),
            Binding("q", "quit (while a write is in flight, a first q says so)"),
        ]),
    ]

    /// The same keys worded for Meltano's system database, where the bottom pane lists
    /// runs left RUNNING instead of locks and `u` marks a stale run failed.
    static let runsWording: [String: String] = [
        "Tab  Shift-Tab": "next and previous pane: IDs, JSON, runs",
        "L": "the runs pane (longest silent first)",
        "Enter": "open the state; on a run: go to its state ID",
        "r  F5": "refresh the list, the state and the runs",
        "u": "mark the selected stale run failed (as fail-run)",
    ]

    /// The key table as this layout's browser behaves: `sections`, or with `runs` the
    /// system database's wording.
    public static func sections(runs: Bool) -> [(String, [Binding])] {
        guard runs else { return sections }
        return sections.map { title, bindings in
            (title, bindings.map { binding in
                var binding = binding
                if let action = runsWording[binding.keys] { binding.action = action }
                return binding
            })
        }
    }

    /// Help text lines: section titles, then "keys  action" rows, then the legend.
    public static func helpLines(readOnly: Bool, runs: Bool = false) -> [[Run]] {
        let theme = Theme.standard
        var lines: [[Run]] = []
        for (title, bindings) in sections(runs: runs) {
            if !lines.isEmpty { lines.append([]) }
            lines.append([Run(title, theme.label)])
            for binding in bindings where !(readOnly && binding.writes) {
                let keys = binding.keys + String(repeating: " ", count: max(1, 16 - TextWidth.width(of: binding.keys)))
                lines.append([Run("  "), Run(keys, theme.hintKey), Run(binding.action)])
            }
        }
        if readOnly {
            let writes = runs ? "edit, clear, copy, move, fail-run and restore" : "edit, clear, copy, move, release and restore"
            lines.append([Run("  Read-only: \(writes) are off.", theme.hint)])
        }
        lines.append([])
        lines.append([Run("Marks", theme.label)])
        lines.append([Run("  "), Run("L", theme.lockMark), Run(runs ? " running  " : " locked   "), Run("!", theme.staleMark),
                      Run(runs ? " stale run   " : " stale lock   "),
                      Run("?", theme.invalidMark), Run(" not valid JSON   "), Run("\u{1b}", theme.escape), Run(" an escaped control character")])
        return lines
    }

    /// The footer: the most useful keys for where the user is.
    static func hints(focus: Focus, readOnly: Bool, runs: Bool = false) -> [(String, String)] {
        var hints: [(String, String)] = [("?", "help")]
        switch focus {
        case .list:
            hints += [("/", "filter"), ("Tab", "pane"), ("v", "view")]
        case .detail:
            hints += [("Enter", "fold"), ("/", "search"), ("n", "next"), ("v", "view"), ("y", "copy")]
        case .locks:
            hints += [("Enter", "go to"), ("y", "copy")]
        }
        if !readOnly {
            switch focus {
            case .locks: hints += [("u", runs ? "fail run" : "unlock")]
            default: hints += [("e", "edit"), ("d", "clear"), ("c", "copy"), ("m", "move"), ("u", runs ? "fail run" : "unlock")]
            }
        }
        hints += [("H", "history"), ("r", "refresh"), ("q", "quit")]
        return hints
    }
}
