import StateStore

/// The Elm architecture's view: the model drawn into a `Screen` of `size`. Pure; only
/// the lines on screen are produced, whatever the size of the list or the state.
public func view(_ model: Model, size: Size) -> Screen {
    var screen = Screen(width: size.width, height: size.height)
    guard size.width > 0, size.height > 0 else { return screen }
    if Layout.isTooSmall(size) {
        tooSmall(size, &screen)
        return screen
    }
    let layout = Layout(size)
    let painter = Painter(model: model, layout: layout, theme: model.theme)
    painter.header(&screen)
    painter.listPane(&screen)
    painter.separator(&screen)
    painter.detailPane(&screen)
    painter.locksPane(&screen)
    painter.statusLine(&screen)
    painter.footer(&screen)
    painter.overlay(&screen)
    return screen
}

public func view(_ model: Model) -> Screen { view(model, size: model.size) }

/// The whole screen of a terminal below `Layout.minimumSize`: what it needs, and that
/// `q` quits, word-wrapped; the longest wording that fits.
func tooSmall(_ size: Size, _ screen: inout Screen) {
    let need = "\(Layout.minimumSize.width)×\(Layout.minimumSize.height)"
    let wordings = ["Terminal too small: \(size.width)×\(size.height), needs \(need) or more. q quits.",
                    "Too small: need \(need). q quits.", "Too small: need \(need)", "Too small", need]
    let rect = Rect(x: 0, y: 0, width: size.width, height: size.height)
    let lines = wordings.lazy.map { Painter.wrap($0, width: rect.width) }
        .first { $0.count <= rect.height && $0.allSatisfy { TextWidth.width(of: $0) <= rect.width } }
        ?? Painter.wrap(wordings[wordings.count - 1], width: rect.width)
    for (index, line) in lines.prefix(rect.height).enumerated() {
        screen.put(line, x: 0, y: index, limit: rect.width)
    }
}

/// Draws the parts of the screen; a struct so each part reads as a function of the model.
struct Painter {
    let model: Model
    let layout: Layout
    let theme: Theme
    /// The status message's lines, worked out once a frame: the status line draws them
    /// and the footer gives way to a second one.
    let statusLines: [String]

    init(model: Model, layout: Layout, theme: Theme) {
        self.model = model
        self.layout = layout
        self.theme = theme
        statusLines = Painter.statusLines(model: model, layout: layout)
    }

    // MARK: - Header

    func header(_ screen: inout Screen) {
        let settings = model.settings
        var runs: [Run] = [Run(settings.location, theme.header), Run("  schema ", theme.headerDim), Run(settings.schema),
                           Run("  ", theme.headerDim), Run(settings.layout, theme.headerDim)]
        if let context = settings.context {
            runs.insert(contentsOf: [Run(" \(context.name) ", theme.contextBadge(context.color)), Run(" ")], at: 0)
        }
        var badge: [Run] = settings.readOnly ? [Run(" READ-ONLY ", theme.badge)] : []
        let name = " meltano-state"
        if runsWidth(runs) + runsWidth(badge) + name.count + 2 <= layout.header.width { badge.append(Run(name, theme.headerDim)) }
        let badgeX = layout.header.width - runsWidth(badge)
        screen.put(runs: runs, x: 0, y: 0, limit: badgeX - 1)
        screen.put(runs: badge, x: badgeX, y: 0)

        var status: [Run]
        switch model.connection {
        case .connecting:
            status = [Run("… connecting", theme.headerDim)]
        case .connected:
            status = [Run("● connected", theme.connected)]
        case let .disconnected(reason, retryAt):
            status = [Run("✖ DISCONNECTED", theme.disconnected)]
            if let retryAt {
                let seconds = max(0, Int((retryAt - model.now).rounded(.up)))
                status.append(Run(seconds > 0 ? " retry in \(seconds) s" : " retrying…", theme.disconnected))
            }
            status.append(Run(": " + reason, theme.error))
        }
        var right: [Run] = []
        if model.locks.lastRefresh != nil {
            let runs = model.settings.showsRuns
            let count = runs ? model.locks.runs.count : model.locks.rows.count
            let stale = runs ? model.locks.staleRunCount : model.locks.staleCount
            right.append(Run(runs ? "  runs " : "  locks ", theme.headerDim))
            right.append(Run("\(count)", count > 0 ? theme.lockMark : theme.header))
            if stale > 0 {
                right.append(Run(", ", theme.headerDim))
                right.append(Run("\(stale) stale", theme.stale))
            }
        }
        // What the timer refreshes: the locks (or runs); the list and the state are read
        // again on `r`, after every change made here, and on reconnecting.
        if let refreshed = model.lastRefresh {
            right.append(Run(" · refreshed \(Format.shortAge(max(0, model.now - refreshed))) ago", theme.headerDim))
        }
        // The connection status wins: the server it is on, the refresh time, then the
        // lock count, give way.
        let width = layout.header.width
        if model.connection == .connected, let server = model.server {
            let named = Run(" to \(server.address)" + (server.role.map { " (\($0))" } ?? ""), theme.connected)
            if runsWidth(status + [named]) + runsWidth(right) + 2 <= width { status.append(named) }
        }
        if runsWidth(status) + runsWidth(right) + 2 > width, !right.isEmpty, model.lastRefresh != nil { right.removeLast() }
        if runsWidth(status) + runsWidth(right) + 2 > width { right = [] }
        let rightX = width - runsWidth(right)
        let statusText = status.map(\.text).joined()
        if runsWidth(status) > rightX - 1 {
            status = [Run(TextWidth.truncated(statusText, toWidth: rightX - 1), status.count > 1 ? theme.error : status[0].style)]
        }
        screen.put(runs: status, x: 0, y: 1, limit: rightX - 1)
        screen.put(runs: right, x: rightX, y: 1)
    }

    // MARK: - List

    func listPane(_ screen: inout Screen) {
        let rect = layout.list
        guard rect.height > 0 else { return }
        let list = model.list
        let focused = model.focus == .list
        var title: [Run] = [Run("State IDs", focused ? theme.titleFocused : theme.title)]
        if let glob = list.appliedGlob ?? list.glob { title.append(Run("  " + glob, theme.label)) }
        // The filter as typed (`.typed`): a backslash in it is one.
        let titleEnd = screen.put(runs: title, x: rect.x, y: rect.y, limit: rect.x + rect.width, escaping: .typed)
        let position: String
        if list.reloading && !list.loaded {
            position = "loading…"
        } else {
            let total = list.total.map(Format.thousands) ?? "…"
            let index = list.rows.isEmpty ? "0" : list.offset.map { Format.thousands($0 + list.selected + 1) } ?? "?"
            position = (list.reloading ? "… " : "") + "\(index) of \(total)"
        }
        let positionX = rect.x + rect.width - TextWidth.width(of: position)
        screen.put(position, x: max(titleEnd + 1, positionX), y: rect.y, style: theme.age, limit: rect.x + rect.width)

        let rows = layout.listRows
        if list.rows.isEmpty {
            let message: String
            if let error = list.error {
                message = error
            } else if !list.loaded {
                message = "Loading state IDs…"
            } else if let glob = list.appliedGlob {
                message = "No state IDs match \(glob)."
            } else {
                message = "No state IDs in this schema."
            }
            wrapped(message, into: Rect(x: rect.x + 1, y: rect.y + 2, width: rect.width - 2, height: rows - 1),
                    style: list.error != nil ? theme.error : theme.hint, &screen)
            return
        }
        let lockedIDs = liveLocks()
        for row in 0..<rows {
            let index = list.top + row
            guard list.rows.indices.contains(index) else { break }
            let item = list.rows[index]
            let y = rect.y + 1 + row
            var lockMark = " ", lockStyle = Style.plain
            if let stale = lockedIDs.map({ $0[ExactID(item.stateID)] }) ?? (item.isLocked ? item.lockIsStale : nil) {
                lockMark = stale ? "!" : "L"
                lockStyle = stale ? theme.staleMark : theme.lockMark
            }
            screen.put(lockMark, x: rect.x, y: y, style: lockStyle)
            screen.put(item.isInvalidJSON ? "?" : " ", x: rect.x + 1, y: y, style: item.isInvalidJSON ? theme.invalidMark : .plain)
            let age = model.age(item.ageSeconds, fetchedAt: item.fetchedAt).map(Format.shortAge) ?? ""
            let ageWidth = 4
            let idLimit = rect.x + rect.width - ageWidth - 1
            let idWidth = idLimit - (rect.x + 3)
            screen.put(TextWidth.truncated(shownID(item.stateID), toWidth: idWidth), x: rect.x + 3, y: y, limit: idLimit)
            screen.put(age, x: rect.x + rect.width - TextWidth.width(of: age), y: y,
                       style: (item.ageSeconds ?? 0) < 0 ? theme.error : theme.age)
            if index == list.selected {
                screen.restyle(x: rect.x, y: y, width: rect.width) { style in
                    focused ? style.with(reverse: true) : style.with(bold: true, underline: true)
                }
            }
        }
    }

    /// State ID → stale, from the locks pane once it has loaded (fresher than the list);
    /// in the system database layout, from its runs left RUNNING.
    func liveLocks() -> [ExactID: Bool]? {
        guard model.locks.lastRefresh != nil else { return nil }
        var result: [ExactID: Bool] = [:]
        for lock in model.locks.rows { result[ExactID(lock.stateID)] = (result[ExactID(lock.stateID)] ?? false) || lock.isStale }
        if model.settings.showsRuns {
            for run in model.locks.runs { result[ExactID(run.jobName)] = (result[ExactID(run.jobName)] ?? false) || run.isStale }
        }
        return result
    }

    func separator(_ screen: inout Screen) {
        for y in layout.list.y..<(layout.list.y + layout.list.height) {
            screen.put("│", x: layout.separatorX, y: y, style: theme.separator)
        }
    }

    /// Word-wraps a message into a rectangle.
    func wrapped(_ text: String, into rect: Rect, style: Style, _ screen: inout Screen) {
        for (index, line) in Painter.wrap(text, width: rect.width).prefix(rect.height).enumerated() {
            screen.put(line, x: rect.x, y: rect.y + index, style: style, limit: rect.x + rect.width)
        }
    }

    /// The lines of a word-wrapped message; a word wider than `width` keeps a line of
    /// its own (and is cut where it is drawn).
    static func wrap(_ text: String, width: Int) -> [String] {
        var lines: [String] = []
        var current = ""
        for word in text.split(whereSeparator: { $0 == " " || $0 == "\n" }) {
            let candidate = current.isEmpty ? String(word) : current + " " + word
            if TextWidth.width(of: candidate) > width, !current.isEmpty {
                lines.append(current)
                current = String(word)
            } else {
                current = candidate
            }
        }
        if !current.isEmpty { lines.append(current) }
        return lines
    }

    // MARK: - Status and footer

    func statusLine(_ screen: inout Screen) {
        let rect = layout.status
        guard rect.height > 0 else { return }
        switch model.mode {
        case .filter:
            var typed = [Run(model.list.filter), Run(" ", theme.selection)]
            var info = "  Enter: keep · Esc: undo"
            if let glob = model.list.glob { info = "  → \(glob)" + (model.list.appliedGlob == glob ? model.list.total.map { " · \(Format.thousands($0)) match\($0 == 1 ? "" : "es")" } ?? " · counting…" : " · …") + info }
            let x = screen.put(runs: [Run("Filter: ", theme.label)], x: rect.x, y: rect.y, limit: rect.width)
            typed.append(Run(info, theme.hint))
            screen.put(runs: typed, x: x, y: rect.y, limit: rect.width, escaping: .typed)
            return
        case let .search(text):
            let x = screen.put(runs: [Run("Search: ", theme.label)], x: rect.x, y: rect.y, limit: rect.width)
            screen.put(runs: [Run(text), Run(" ", theme.selection), Run("  Enter: find · Esc: cancel", theme.hint)],
                       x: x, y: rect.y, limit: rect.width, escaping: .typed)
            return
        default:
            break
        }
        if let status = model.status {
            let style = status.isError ? theme.error : theme.info
            // A message longer than its line takes the key hints' line too: the end of
            // it is often the fix (the unlock command after "held by lock …").
            let lines = statusLines
            // Beyond its line and the key hints', a long message rises over the panes'
            // last rows (gone with it): the fix at its end is never cut off.
            let above = max(0, lines.count - 2)
            // Our own words, with commands to type (`unlock $'a\x1b…'`): a backslash
            // shows as written, not doubled as in a state ID; controls are still escaped.
            for (index, line) in lines.enumerated() {
                let y = rect.y + index - above
                let text = index == lines.count - 1 ? TextWidth.truncated(line, toWidth: rect.width, mode: .typed) : line
                if index < above { screen.fill(x: 0, y: y, width: screen.width, height: 1) }
                screen.put(text, x: rect.x, y: y, style: style, escaping: .typed)
            }
        } else if let writing = model.writing {
            screen.put(writing.progressText + "…", x: rect.x, y: rect.y, style: theme.info, escaping: .typed)
        }
    }

    /// The status message's lines: one, or two (word-wrapped, over the footer's line)
    /// when it is too long for one and the footer is there to give way.
    static func statusLines(model: Model, layout: Layout) -> [String] {
        guard let text = model.status?.text else { return [] }
        let width = layout.status.width
        guard TextWidth.width(of: text) > width, layout.footer.height > 0, modeShowsStatus(model.mode) else { return [text] }
        let wrapped = Painter.wrap(text, width: width)
        guard wrapped.count > 1 else { return [text] }
        // Up to a quarter of the screen (at least 2 lines); the last holds the rest (cut
        // with "…" by the caller if still too long).
        let most = max(2, min(8, (layout.footer.y + 1) / 4))  // the footer is the last row
        guard wrapped.count > most else { return wrapped }
        return Array(wrapped.prefix(most - 1)) + [wrapped.dropFirst(most - 1).joined(separator: " ")]
    }

    /// The status message is what the status line shows (not the filter or search input).
    static func modeShowsStatus(_ mode: Mode) -> Bool {
        switch mode {
        case .filter, .search: return false
        default: return true
        }
    }

    func footer(_ screen: inout Screen) {
        let rect = layout.footer
        guard rect.height > 0, statusLines.count < 2 else { return }
        var runs: [Run] = []
        var used = 0
        // Whole hints only, as many as fit; `?` (first) always does.
        for (key, action) in KeyBindings.hints(focus: model.focus, readOnly: model.settings.readOnly, runs: model.settings.showsRuns) {
            let gap = runs.isEmpty ? "" : "  "
            let width = gap.count + TextWidth.width(of: key) + 1 + TextWidth.width(of: action)
            if used + width > rect.width { continue }
            used += width
            runs += [Run(gap), Run(key, theme.hintKey), Run(" " + action, theme.hint)]
        }
        screen.put(runs: runs, x: rect.x, y: rect.y, limit: rect.width)
    }
}
