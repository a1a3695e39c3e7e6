extension Painter {
    // MARK: - The state (right pane)

    func detailPane(_ screen: inout Screen) {
        let rect = layout.detail
        guard rect.height > 1, rect.width > 4 else { return }
        let detail = model.detail
        let focused = model.focus == .detail
        let right = rect.x + rect.width
        guard let stateID = detail.stateID else {
            screen.put("State", x: rect.x, y: rect.y, style: focused ? theme.titleFocused : theme.title)
            if model.list.loaded && model.list.rows.isEmpty == false {
                screen.put("Select a state ID on the left.", x: rect.x + 1, y: rect.y + 2, style: theme.hint, limit: right)
            }
            return
        }
        // Title: the ID, then when it was written and how big it is.
        var info = ""
        if let state = detail.loaded {
            if let age = model.stateAge(state) { info = "updated \(Format.shortAge(age)) ago · " }
            info += Format.bytes(state.byteCount)
        }
        let infoWidth = TextWidth.width(of: info)
        let idLimit = max(rect.x + 8, right - infoWidth - 1)
        screen.put(TextWidth.truncated(shownID(stateID), toWidth: idLimit - rect.x), x: rect.x, y: rect.y,
                   style: focused ? theme.titleFocused : theme.title, limit: idLimit)
        if idLimit + 1 + infoWidth <= right { screen.put(info, x: right - infoWidth, y: rect.y, style: theme.age) }

        // View tabs and the cursor's position.
        var x = rect.x
        for mode in ViewMode.allCases {
            let label = " \(mode.rawValue) "
            x = screen.put(label, x: x, y: rect.y + 1, style: mode == detail.mode ? theme.selection.with(bold: true) : theme.hint, limit: right)
        }
        if let document = detail.document, document.lineCount > 0 {
            let position = "\(Format.thousands(detail.cursor + 1))/\(Format.thousands(document.lineCount))"
            if x + 1 + position.count <= right { screen.put(position, x: right - position.count, y: rect.y + 1, style: theme.age) }
        }

        let body = Rect(x: rect.x, y: rect.y + 2, width: rect.width, height: layout.detailRows)
        if let error = detail.error, detail.document == nil {
            wrapped(error, into: Rect(x: body.x + 1, y: body.y, width: body.width - 2, height: body.height), style: theme.error, &screen)
            return
        }
        guard let document = detail.document else {
            let text: String
            if let state = detail.loaded {
                text = state.byteCount > 1_000_000 ? "Laying out \(Format.bytes(state.byteCount))…" : "Laying out…"
            } else {
                text = "Loading \(stateID)…"
            }
            screen.put(text, x: body.x + 1, y: body.y, style: theme.hint, limit: right)
            return
        }
        guard document.lineCount > 0 else { return }
        var line: Int? = detail.top
        for row in 0..<body.height {
            guard let current = line else { break }
            var lineScreen = Screen(width: body.width, height: 1)
            let runs = document.runs(current, folds: detail.folds, columns: detail.horizontal + body.width + 1, theme: theme)
            lineScreen.put(runs: runs, x: -detail.horizontal, y: 0, limit: body.width, escaping: .json)
            if !detail.searchTerm.isEmpty { highlight(detail.searchTerm, in: &lineScreen) }
            if current == detail.cursor {
                lineScreen.restyle(x: 0, y: 0, width: body.width) { style in
                    focused ? style.with(reverse: true) : style.with(underline: true)
                }
            }
            screen.blit(lineScreen, x: body.x, y: body.y + row)
            line = document.nextVisible(current, folds: detail.folds)
        }
    }

    /// Marks every occurrence of the search term in a drawn line (case-insensitive
    /// unless the term has capitals, as the search itself).
    func highlight(_ term: String, in line: inout Screen) {
        var cells: [(x: Int, text: String)] = []
        for x in 0..<line.width where !line[x, 0].isContinuation { cells.append((x, line[x, 0].text)) }
        let caseSensitive = term != term.lowercased()
        let needle = Array(caseSensitive ? term : term.lowercased())
        let haystack = cells.map { caseSensitive ? $0.text : $0.text.lowercased() }
        guard !needle.isEmpty, haystack.count >= needle.count else { return }
        let needleTexts = needle.map(String.init)
        var start = 0
        while start + needleTexts.count <= haystack.count {
            if Array(haystack[start..<(start + needleTexts.count)]) == needleTexts {
                let from = cells[start].x
                let to = cells[start + needleTexts.count - 1].x + max(1, Int(line[cells[start + needleTexts.count - 1].x, 0].width))
                line.restyle(x: from, y: 0, width: to - from) { _ in theme.match }
                start += needleTexts.count
            } else {
                start += 1
            }
        }
    }

    // MARK: - Locks (bottom pane)

    func locksPane(_ screen: inout Screen) {
        let rect = layout.locks
        guard rect.height > 0 else { return }
        if model.settings.showsRuns { return runsPane(&screen) }
        let locks = model.locks
        let focused = model.focus == .locks
        bottomPaneTitle(&screen, name: "Locks", count: "\(locks.rows.count) held", isEmpty: locks.rows.isEmpty,
                        stale: locks.staleCount)
        guard rect.height > 1 else { return }

        let columns = lockColumns(rect.width)
        let headerY = rect.y + 1
        // Advisory locks (single-table layout) have no lock ID worth reading: who holds
        // them (pid, user, client, application) is what decides whether to end it.
        let advisory = locks.rows.contains { $0.isAdvisory }
        let empty = locks.rows.isEmpty ? "No locks held: no pipeline is writing state right now." : nil
        guard bottomPaneHeader(&screen, [("STATE ID", columns.state.0), (advisory ? "HOLDER" : "LOCK ID", columns.lock.0)]
                                         + (columns.taken.1 > 0 ? [(advisory ? "SINCE" : "TAKEN AT", columns.taken.0)] : [])
                                         + [("AGE", columns.age.0), ("STATUS", columns.status.0)], emptyHint: empty) else { return }
        for row in 0..<layout.lockRows {
            let index = locks.top + row
            guard locks.rows.indices.contains(index) else { break }
            let lock = locks.rows[index]
            let y = headerY + 1 + row
            screen.put(TextWidth.truncated(shownID(lock.stateID), toWidth: columns.state.1), x: columns.state.0, y: y)
            let holder = lock.isAdvisory ? (lock.holder ?? "key \(lock.lockID)") : lock.lockID
            screen.put(TextWidth.truncated(holder, toWidth: columns.lock.1), x: columns.lock.0, y: y)
            if columns.taken.1 > 0 { screen.put(Format.timestamp(lock.lockedAt), x: columns.taken.0, y: y, limit: columns.taken.0 + columns.taken.1) }
            if let age = model.age(lock.ageSeconds, fetchedAt: lock.fetchedAt) {
                screen.put(Format.longAge(age), x: columns.age.0, y: y, style: lock.ageIsImplausible ? theme.error : .plain,
                           limit: columns.age.0 + columns.age.1)
            }
            let status = lock.isStale ? "STALE" : lock.ageIsImplausible ? "age?" : "held"
            screen.put(status, x: columns.status.0, y: y, style: lock.isStale ? theme.stale : lock.ageIsImplausible ? theme.error : theme.hint)
            styleBottomPaneRow(&screen, y: y, stale: lock.isStale, staleWidth: columns.status.0,
                               selected: index == locks.selected, focused: focused)
        }
    }

    /// (x, width) of each lock column for a screen width.
    /// On a narrow screen TAKEN AT goes first (AGE says as much): STATUS, what the pane
    /// is for, always shows. A width of 0 is a column not shown.
    func lockColumns(_ width: Int) -> (state: (Int, Int), lock: (Int, Int), taken: (Int, Int), age: (Int, Int), status: (Int, Int)) {
        let age = 12, status = 6
        let lockWidth = width >= 120 ? 36 : width >= 100 ? 24 : 13
        let taken = 2 + 10 + 1 + lockWidth + 1 + 19 + 1 + age + 1 + status <= width ? 19 : 0
        let stateWidth = max(10, width - 2 - lockWidth - taken - age - status - (taken > 0 ? 5 : 4))
        let stateX = 2
        let lockX = stateX + stateWidth + 1
        let takenX = lockX + lockWidth + 1
        let ageX = takenX + taken + (taken > 0 ? 1 : 0)
        let statusX = ageX + age + 1
        return ((stateX, stateWidth), (lockX, lockWidth), (takenX, taken), (ageX, age), (statusX, status))
    }

    var refreshEvery: String {
        let interval = model.settings.refreshInterval
        return interval < 1 ? "\(Int(interval * 1000)) ms" : Format.longAge(interval)
    }

    // MARK: - What the locks and runs panes share

    /// The pane's title on a rule across the screen: name, count, stale count, refresh.
    func bottomPaneTitle(_ screen: inout Screen, name: String, count: String, isEmpty: Bool, stale: Int) {
        let rect = layout.locks
        let pane = model.locks
        screen.put(String(repeating: "─", count: rect.width), x: rect.x, y: rect.y, style: theme.separator)
        var title: [Run] = [Run(" \(name) ", model.focus == .locks ? theme.titleFocused : theme.title)]
        if pane.lastRefresh == nil {
            title.append(Run("loading… ", theme.hint))
        } else {
            title.append(Run(count, isEmpty ? theme.hint : theme.lockMark))
            if stale > 0 { title += [Run(", "), Run("\(stale) stale", theme.stale)] }
            title.append(Run(" · oldest first · refreshed every \(refreshEvery) ", theme.hint))
        }
        if let error = pane.error { title.append(Run(" ✖ " + error + " ", theme.error)) }
        screen.put(runs: title, x: rect.x + 2, y: rect.y, limit: rect.width)
    }

    /// Column names under the title; with no rows, the hint (once loaded) instead of
    /// rows. False when there are no rows to draw.
    func bottomPaneHeader(_ screen: inout Screen, _ columns: [(String, Int)], emptyHint: String?) -> Bool {
        let rect = layout.locks
        let headerY = rect.y + 1
        for (name, x) in columns { screen.put(name, x: x, y: headerY, style: theme.label) }
        guard let emptyHint else { return true }
        if model.locks.lastRefresh != nil, rect.height > 2 {
            screen.put(emptyHint, x: rect.x + 2, y: headerY + 1, style: theme.hint)
        }
        return false
    }

    /// A stale row in the stale colour up to its status; the selected row highlighted.
    func styleBottomPaneRow(_ screen: inout Screen, y: Int, stale: Bool, staleWidth: Int, selected: Bool, focused: Bool) {
        let rect = layout.locks
        if stale {
            screen.restyle(x: rect.x, y: y, width: staleWidth) { $0.with(foreground: theme.stale.foreground) }
        }
        if selected {
            screen.restyle(x: rect.x, y: y, width: rect.width) { style in
                focused ? style.with(reverse: true) : style.with(bold: true, underline: true)
            }
        }
    }

    // MARK: - Runs (bottom pane, system database layout)

    /// Meltano's system database has no lock table: a stuck pipeline there is a run
    /// left RUNNING whose heartbeat stopped. Drawn like the locks, longest silent first.
    func runsPane(_ screen: inout Screen) {
        let rect = layout.locks
        let pane = model.locks
        let focused = model.focus == .locks
        bottomPaneTitle(&screen, name: "Runs", count: "\(pane.runs.count) running", isEmpty: pane.runs.isEmpty,
                        stale: pane.staleRunCount)
        guard rect.height > 1 else { return }

        let columns = runColumns(rect.width)
        let headerY = rect.y + 1
        let empty = pane.runs.isEmpty ? "No runs in RUNNING state: no pipeline is running, or stuck." : nil
        guard bottomPaneHeader(&screen, [("STATE ID", columns.state.0), ("RUN ID", columns.run.0), ("STARTED (UTC)", columns.started.0),
                                         ("SILENT FOR", columns.silent.0), ("STATUS", columns.status.0)], emptyHint: empty) else { return }
        for row in 0..<layout.lockRows {
            let index = pane.top + row
            guard pane.runs.indices.contains(index) else { break }
            let run = pane.runs[index]
            let y = headerY + 1 + row
            screen.put(TextWidth.truncated(run.jobName, toWidth: columns.state.1), x: columns.state.0, y: y)
            screen.put(TextWidth.truncated(String(run.id), toWidth: columns.run.1), x: columns.run.0, y: y)
            screen.put(Format.timestamp(run.startedAt), x: columns.started.0, y: y, limit: columns.started.0 + columns.started.1)
            if let silent = model.age(run.silentForSeconds, fetchedAt: run.fetchedAt) {
                screen.put(Format.longAge(silent), x: columns.silent.0, y: y, limit: columns.silent.0 + columns.silent.1)
            }
            screen.put(run.isStale ? "STALE" : "running", x: columns.status.0, y: y, style: run.isStale ? theme.stale : theme.hint)
            styleBottomPaneRow(&screen, y: y, stale: run.isStale, staleWidth: columns.status.0,
                               selected: index == pane.selected, focused: focused)
        }
    }

    /// (x, width) of each run column for a screen width.
    func runColumns(_ width: Int) -> (state: (Int, Int), run: (Int, Int), started: (Int, Int), silent: (Int, Int), status: (Int, Int)) {
        let run = 8, started = 19, silent = 12, status = 7
        let stateWidth = max(10, width - 2 - run - started - silent - status - 5)
        let stateX = 2
        let runX = stateX + stateWidth + 1
        let startedX = runX + run + 1
        let silentX = startedX + started + 1
        let statusX = silentX + silent + 1
        return ((stateX, stateWidth), (runX, run), (startedX, started), (silentX, silent), (statusX, status))
    }
}
