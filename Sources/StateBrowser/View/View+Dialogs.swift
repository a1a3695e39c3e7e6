/// Dialogs drawn over the panes: help, confirmations, the target prompt, the journal
/// history and the edit diff.
extension Painter {
    func overlay(_ screen: inout Screen) {
        switch model.mode {
        case .browse, .filter, .search: return
        case let .help(top): help(top: top, &screen)
        case let .confirm(confirmation): confirm(confirmation, &screen)
        case let .prompt(prompt): self.prompt(prompt, &screen)
        case let .history(history): self.history(history, &screen)
        case let .diff(diff): self.diff(diff, &screen)
        case let .doctor(panel): doctor(panel, &screen)
        case let .bookmarks(view): bookmarks(view, &screen)
        case let .contexts(selected, forDiff): contexts(selected: selected, forDiff: forDiff, &screen)
        case let .contextDiff(view): contextDiff(view, &screen)
        }
    }

    // MARK: - doctor

    /// The diagnosis of one state ID: a line per piece of evidence (label, then the
    /// text wrapped beside it), the verdict and the next command, as `doctor ID` prints.
    func doctor(_ panel: DoctorPanel, _ screen: inout Screen) {
        let width = min(screen.width - 2, 110)
        let inner = box(width: width, height: screen.height - 2, title: "doctor: \(shownID(panel.stateID))",
                        style: theme.dialogBorder, &screen)
        var lines: [[Run]] = []
        if let report = panel.report {
            let labelWidth = (report.lines.map { TextWidth.width(of: $0.label) }.max() ?? 0) + 2
            for line in report.lines {
                let style: Style
                switch line.label {
                case "verdict": style = report.safe ? theme.stale.with(bold: true) : theme.danger.with(bold: true)
                case "next": style = theme.label
                case "missing": style = theme.danger
                default: style = .plain
                }
                let wrapped = wrapRuns([Run(line.text, style)], width: max(10, inner.width - labelWidth))
                for (index, part) in wrapped.enumerated() {
                    let label = index == 0 ? line.label.padding(labelWidth) : String(repeating: " ", count: labelWidth)
                    lines.append([Run(label, theme.label)] + part)
                }
            }
        } else if let error = panel.error {
            lines = wrapRuns([Run("Could not diagnose: " + error, theme.error)], width: inner.width)
        } else {
            lines = [[Run("Reading the lock, the holder's session, Meltano's runs and the state…", theme.hint)]]
        }
        let visible = inner.height - 1
        let top = min(panel.top, max(0, lines.count - visible))
        // The commands to type are shell-quoted (`$'a\x1b…'`): shown as written.
        for (row, line) in lines.dropFirst(top).prefix(visible).enumerated() {
            screen.put(runs: line, x: inner.x, y: inner.y + row, limit: inner.x + inner.width, escaping: .typed)
        }
        let more = top + visible < lines.count ? "↓ more (j) · " : ""
        screen.put(more + "r diagnose again · any other key closes", x: inner.x, y: inner.y + inner.height - 1,
                   style: theme.hint, limit: inner.x + inner.width)
    }

    // MARK: - Context picker

    func contextDiff(_ view: ContextDiffView, _ screen: inout Screen) {
        let title = "\(shownID(view.stateID)): here → \(view.context)"
        let width = min(screen.width - 2, 100)
        let inner = box(width: width, height: screen.height - 2, title: title, style: theme.dialogBorder, &screen)
        guard let diff = view.diff else {
            screen.put("Reading it in \(view.context)…", x: inner.x, y: inner.y, style: theme.hint, limit: inner.x + inner.width)
            return
        }
        if let error = diff.error {
            for (row, line) in wrapRuns([Run(error, theme.error)], width: inner.width).prefix(inner.height - 1).enumerated() {
                screen.put(runs: line, x: inner.x, y: inner.y + row, limit: inner.x + inner.width)
            }
        } else {
            for (row, line) in diff.lines.dropFirst(view.top).prefix(inner.height - 1).enumerated() {
                let style: Style
                switch line.kind {
                case .added: style = theme.diffAdded
                case .removed: style = theme.diffRemoved
                case .hunk: style = theme.diffHunk
                case .context: style = theme.hint
                }
                screen.put(TextWidth.dropping(columns: view.left, of: line.text), x: inner.x, y: inner.y + row, style: style,
                           limit: inner.x + inner.width)
            }
        }
        screen.put("- only here · + only in \(view.context) · ~ changed · ↑↓←→ PgDn · other keys close",
                   x: inner.x, y: inner.y + inner.height - 1, style: theme.hint, limit: inner.x + inner.width)
    }

    func contexts(selected: Int, forDiff: Bool, _ screen: inout Screen) {
        let choices = model.settings.contexts
        let nameWidth = max(4, choices.map { TextWidth.width(of: $0.name) }.max() ?? 0)
        let lines: [[Run]] = choices.map { choice in
            let current = choice.name == model.settings.context?.name
            let pad = String(repeating: " ", count: max(0, nameWidth - TextWidth.width(of: choice.name)))
            return [Run(current ? "* " : "  "), Run(" \(choice.name) ", theme.contextBadge(choice.color)), Run(pad + "  "),
                    Run(choice.readOnly ? "read-only  " : "writable   ", choice.readOnly ? theme.stale : theme.hint),
                    Run(choice.location, theme.hint)]
        }
        let width = min(screen.width - 2, max(50, (lines.map(runsWidth).max() ?? 0) + 4))
        let title = forDiff ? "Compare with context" : "Switch context"
        let inner = box(width: width, height: min(screen.height - 2, lines.count + 4), title: title, style: theme.dialogBorder, &screen)
        let visible = max(1, inner.height - 2)
        let top = max(0, min(selected - visible + 1, lines.count - visible))
        for (row, line) in lines.enumerated().dropFirst(top).prefix(visible) {
            let y = inner.y + row - top
            if row == selected { screen.fill(x: inner.x, y: y, width: inner.width, height: 1, style: theme.selection) }
            screen.put(runs: line.map { row == selected ? Run($0.text, $0.style.with(reverse: true)) : $0 },
                       x: inner.x, y: y, limit: inner.x + inner.width)
        }
        screen.put(forDiff ? "Enter: compare · Esc: back · * the current one" : "Enter: switch · Esc: back · * the current one", x: inner.x, y: inner.y + inner.height - 1, style: theme.hint,
                   limit: inner.x + inner.width)
    }

    /// A centred box with a title in its top border; returns its inner rectangle.
    func box(width: Int, height: Int, title: String, style: Style, _ screen: inout Screen) -> Rect {
        let w = min(width, screen.width - 2), h = min(height, screen.height - 2)
        let x = (screen.width - w) / 2, y = max(1, (screen.height - h) / 2)
        screen.fill(x: x, y: y, width: w, height: h)
        screen.put("┌" + String(repeating: "─", count: w - 2) + "┐", x: x, y: y, style: style)
        for row in (y + 1)..<(y + h - 1) {
            screen.put("│", x: x, y: row, style: style)
            screen.put("│", x: x + w - 1, y: row, style: style)
        }
        screen.put("└" + String(repeating: "─", count: w - 2) + "┘", x: x, y: y + h - 1, style: style)
        screen.put(" " + TextWidth.truncated(title, toWidth: w - 6) + " ", x: x + 2, y: y, style: style.with(bold: true))
        return Rect(x: x + 2, y: y + 1, width: w - 4, height: h - 2)
    }

    func runsWidth(_ runs: [Run]) -> Int { runs.reduce(0) { $0 + TextWidth.width(of: $1.text) } }

    // MARK: - Help

    func help(top: Int, _ screen: inout Screen) {
        let lines = KeyBindings.helpLines(readOnly: model.settings.readOnly, runs: model.settings.showsRuns)
        let width = min(screen.width - 2, max(60, (lines.map(runsWidth).max() ?? 0) + 4))
        let inner = box(width: width, height: min(screen.height - 2, lines.count + 3), title: "Keys", style: theme.dialogBorder, &screen)
        let visible = inner.height - 1
        for (row, line) in lines.dropFirst(top).prefix(visible).enumerated() {
            screen.put(runs: line, x: inner.x, y: inner.y + row, limit: inner.x + inner.width)
        }
        let more = top + visible < lines.count ? "↓ more (j, PgDn) · " : ""
        screen.put(more + "any other key closes", x: inner.x, y: inner.y + inner.height - 1, style: theme.hint, limit: inner.x + inner.width)
    }

    // MARK: - Confirmation

    func confirm(_ confirmation: Confirmation, _ screen: inout Screen) {
        let buttons: [Run] = [Run("[y] ", theme.hintKey), Run(confirmation.yes, theme.danger), Run("    "),
                              Run("[N] ", theme.hintKey), Run("no, cancel (default)")]
        let available = min(screen.width - 6, 90)
        let lines = confirmation.lines.flatMap { wrapRuns($0, width: available) }
        let contentWidth = min(available, max(lines.map(runsWidth).max() ?? 0, runsWidth(buttons)))
        let inner = box(width: contentWidth + 4, height: lines.count + 4, title: confirmation.title,
                        style: theme.danger, &screen)
        for (row, line) in lines.enumerated() where row < inner.height - 2 {
            screen.put(runs: line, x: inner.x, y: inner.y + row, limit: inner.x + inner.width)
        }
        screen.put(runs: buttons, x: inner.x, y: inner.y + inner.height - 1, limit: inner.x + inner.width)
    }

    // MARK: - Target of copy / move

    func prompt(_ prompt: Prompt, _ screen: inout Screen) {
        let verb = prompt.purpose == .copy ? "Copy" : "Move"
        let inner = box(width: min(screen.width - 4, 76), height: 7, title: "\(verb) state", style: theme.dialogBorder, &screen)
        screen.put(runs: [Run("\(verb) "), Run(prompt.source, theme.label), Run(" to which state ID?")],
                   x: inner.x, y: inner.y, limit: inner.x + inner.width)
        screen.put(runs: [Run("> ", theme.label)] + inputRuns(prompt.input, width: inner.width - 2),
                   x: inner.x, y: inner.y + 2, limit: inner.x + inner.width, escaping: .typed)
        let hint = prompt.checking ? "Checking whether it exists…" : "Enter: continue (a confirmation follows) · Esc: cancel"
        screen.put(hint, x: inner.x, y: inner.y + 4, style: theme.hint, limit: inner.x + inner.width)
    }

    /// A typed line with its cursor (a cell in the selection colour), scrolled so that
    /// the cursor stays within `width` columns when the line is longer.
    func inputRuns(_ input: LineInput, width: Int) -> [Run] {
        var (before, at, after) = input.parts
        let cursor = at.map { String($0) } ?? " "
        while TextWidth.width(of: before, escaping: .typed) + TextWidth.width(of: cursor, escaping: .typed) > width, !before.isEmpty {
            before.removeFirst()
        }
        let typed = theme.label.with(underline: true)
        return [Run(before, typed), Run(cursor, theme.selection), Run(after, typed)]
    }

    // MARK: - Journal history

    func history(_ history: HistoryView, _ screen: inout Screen) {
        let width = min(screen.width - 4, 110)
        let height = screen.height - 4
        let inner = box(width: width, height: height, title: "History of \(shownID(history.stateID)) (backup journal)",
                        style: theme.dialogBorder, &screen)
        guard let rows = history.rows else {
            screen.put("Reading the journal…", x: inner.x, y: inner.y, style: theme.hint)
            return
        }
        if rows.isEmpty {
            screen.put("No journal entries for this state ID: nothing was changed through meltano-state.",
                       x: inner.x, y: inner.y, style: theme.hint, limit: inner.x + inner.width)
        } else {
            screen.put("WHEN (UTC)           ACTION    BEFORE     NOTE", x: inner.x, y: inner.y, style: theme.label, limit: inner.x + inner.width)
            let visible = inner.height - 3
            for row in 0..<visible {
                let index = history.top + row
                guard rows.indices.contains(index) else { break }
                let entry = rows[index]
                let y = inner.y + 1 + row
                let before = entry.isRun ? "run row" : entry.isLock ? "lock row" : entry.hadRow ? Format.bytes(entry.bytes) : "no row"
                let line = Format.timestamp(entry.time).padding(20) + entry.action.padding(10) + before.padding(11) + (entry.note ?? "")
                screen.put(line, x: inner.x, y: y, limit: inner.x + inner.width)
                if index == history.selected { screen.restyle(x: inner.x, y: y, width: inner.width) { $0.with(reverse: true) } }
            }
        }
        let hint = model.settings.readOnly ? "↑↓ choose · Esc close (read-only: no restore)" : "↑↓ choose · Enter restore (asks first) · Esc close"
        screen.put(hint, x: inner.x, y: inner.y + inner.height - 1, style: theme.hint, limit: inner.x + inner.width)
    }

    // MARK: - Edit diff

    func diff(_ diff: DiffView, _ screen: inout Screen) {
        let width = screen.width - 4
        let height = screen.height - 2
        let what = diff.action == nil ? "the edited state of" : "this change to the bookmarks of"
        let inner = box(width: width, height: height, title: "Write \(what) \(shownID(diff.session.stateID))?",
                        style: theme.danger, &screen)
        let visible = inner.height - 2
        for (row, line) in diff.lines.dropFirst(diff.top).prefix(visible).enumerated() {
            let style: Style
            switch line.kind {
            case .added: style = theme.diffAdded
            case .removed: style = theme.diffRemoved
            case .hunk: style = theme.diffHunk
            case .context: style = .plain
            }
            screen.put(TextWidth.dropping(columns: diff.left, of: line.text, mode: .json), x: inner.x, y: inner.y + row, style: style,
                       limit: inner.x + inner.width, escaping: .json)
        }
        let added = diff.lines.filter { $0.kind == .added }.count, removed = diff.lines.filter { $0.kind == .removed }.count
        let again: [Run] = diff.action == nil ? [Run("[e] ", theme.hintKey), Run("edit again"), Run("   ")] : []
        let buttons: [Run] = [Run("+\(added) -\(removed)  ", theme.hint), Run("[y] ", theme.hintKey), Run("write it", theme.danger),
                              Run("   ")] + again + [Run("[N] ", theme.hintKey), Run("discard (default)")]
        screen.put(runs: buttons, x: inner.x, y: inner.y + inner.height - 1, limit: inner.x + inner.width)
    }
}

extension String {
    /// Pads with spaces to `width` cells (or cuts, ending in "…").
    func padding(_ width: Int) -> String {
        let cut = TextWidth.truncated(self, toWidth: width - 1)
        return cut + String(repeating: " ", count: max(0, width - TextWidth.width(of: cut)))
    }
}

// MARK: - Bookmarks

extension Painter {
    /// The streams of the state, a line each: the table of `meltano-state bookmarks`.
    func bookmarks(_ view: BookmarksView, _ screen: inout Screen) {
        // Above the status line, where refusals are said.
        let inner = box(width: screen.width - 4, height: screen.height - 3, title: "Bookmarks of \(shownID(view.stateID))",
                        style: theme.dialogBorder, &screen)
        var y = inner.y
        if let syncing = view.currentlySyncing {
            screen.put(runs: [Run("currently_syncing: ", theme.label), Run(syncing)], x: inner.x, y: y, limit: inner.x + inner.width)
            y += 1
        }
        if view.targets.isEmpty {
            screen.put("No bookmarks\(view.problem.map { ": \($0)" } ?? "").", x: inner.x, y: y, style: theme.hint, limit: inner.x + inner.width)
        } else {
            let cells = view.cells
            let widths = (0..<cells[0].count).map { column in min(48, cells.map { TextWidth.width(of: $0[column]) }.max() ?? 0) }
            func line(_ row: [String]) -> String {
                row.enumerated().map { index, cell in
                    index == row.count - 1 ? cell : cell.padding(widths[index] + 2)
                }.joined()
            }
            screen.put(line(cells[0]), x: inner.x, y: y, style: theme.label, limit: inner.x + inner.width)
            y += 1
            let visible = max(1, inner.y + inner.height - 4 - y)
            for row in 0..<visible {
                let index = view.top + row
                guard view.targets.indices.contains(index) else { break }
                screen.put(line(cells[index + 1]), x: inner.x, y: y + row, limit: inner.x + inner.width)
                if index == view.selected { screen.restyle(x: inner.x, y: y + row, width: inner.width) { $0.with(reverse: true) } }
            }
        }
        let bottom = inner.y + inner.height - 1
        // The selected line's newer progress in full (the table's last column is cut to the box).
        if view.input == nil, view.cells.indices.contains(view.selected + 1), let note = view.cells[view.selected + 1].last, !note.isEmpty {
            screen.put(runs: [Run("Newer progress: ", theme.label), Run(note)], x: inner.x, y: bottom - 1, limit: inner.x + inner.width)
        }
        if let input = view.input, view.targets.indices.contains(view.selected) {
            let target = view.targets[view.selected]
            let name = target.stream + (target.partition.map { " " + $0 } ?? "")
            let x = screen.put(runs: [Run("Rewind "), Run(name, theme.label), Run(" to > ")], x: inner.x, y: bottom - 1, limit: inner.x + inner.width)
            screen.put(runs: inputRuns(input, width: max(1, inner.x + inner.width - x)), x: x, y: bottom - 1, limit: inner.x + inner.width,
                       escaping: .typed)
            screen.put("A value, or -3d / -12h / -1000 to move back by · Enter: the diff · Esc: cancel",
                       x: inner.x, y: bottom, style: theme.hint, limit: inner.x + inner.width)
        } else {
            let hint = model.settings.readOnly ? "↑↓ choose · Esc close (read-only: no rewind or reset)"
                                               : "↑↓ choose · r rewind · x reset the stream (both show the diff first) · Esc close"
            screen.put(hint, x: inner.x, y: bottom, style: theme.hint, limit: inner.x + inner.width)
        }
    }
}
