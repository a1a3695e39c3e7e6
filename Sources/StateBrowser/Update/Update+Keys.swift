/// Keys, by mode. Every binding here is listed by `?` (see `KeyBindings`).
extension Model {
    mutating func handleKey(_ key: Key, _ commands: inout [Command]) {
        // `H` right after a clear or move is the removed ID's (see `openHistory`); any
        // key, once handled, hands `H` back to the selection.
        defer { removedJustNow = false }
        // `q` quits a write in flight only when pressed right after its warning.
        if key != .character("q") { quitAskedDuringWrite = false }
        // Ctrl-C always works: it stops a lock wait, or leaves.
        if key == .control("c") {
            if writing != nil {
                commands.append(.cancelWrite)
                setStatus("Cancelling: giving up the lock wait…")
            } else {
                quit(&commands)
            }
            return
        }
        // Too small, the screen shows only that (see `view`): no key may act on a
        // dialog or a selection that cannot be seen. Only leaving works (q, Ctrl-C
        // above); a resize is a message of its own.
        if Layout.isTooSmall(size) {
            if key == .character("q") { quitUnlessWriting(&commands) }
            return
        }
        switch mode {
        case .browse: browseKey(key, &commands)
        case let .filter(previous): filterKey(key, previous: previous, &commands)
        case let .search(text): searchKey(key, text: text, &commands)
        case let .help(top): helpKey(key, top: top)
        case let .confirm(confirmation): confirmKey(key, confirmation, &commands)
        case let .prompt(prompt): promptKey(key, prompt, &commands)
        case let .history(history): historyKey(key, history, &commands)
        case let .diff(diff): diffKey(key, diff, &commands)
        case let .doctor(panel): doctorKey(key, panel, &commands)
        case let .bookmarks(view): bookmarksKey(key, view, &commands)
        case let .contexts(selected, forDiff): contextsKey(key, selected: selected, forDiff: forDiff, &commands)
        case let .contextDiff(view): contextDiffKey(key, view)
        }
    }

    // MARK: - Contexts

    mutating func openContextPicker(forDiff: Bool = false) {
        guard !settings.contexts.isEmpty else {
            setStatus("No contexts to \(forDiff ? "compare with" : "switch to"): define them under contexts: in ~/.config/meltano-state/config.yml.", error: true)
            return
        }
        let current = settings.contexts.firstIndex { $0.name == settings.context?.name }
        // To compare, start on another context than this one.
        let start = forDiff ? settings.contexts.indices.first { $0 != current } ?? 0 : current ?? 0
        mode = .contexts(selected: start, forDiff: forDiff)
    }

    mutating func contextsKey(_ key: Key, selected: Int, forDiff: Bool, _ commands: inout [Command]) {
        let last = settings.contexts.count - 1
        switch key {
        case .up, .character("k"): mode = .contexts(selected: max(0, selected - 1), forDiff: forDiff)
        case .down, .character("j"): mode = .contexts(selected: min(last, selected + 1), forDiff: forDiff)
        case .home, .character("g"): mode = .contexts(selected: 0, forDiff: forDiff)
        case .end, .character("G"): mode = .contexts(selected: last, forDiff: forDiff)
        case .enter where forDiff:
            let chosen = settings.contexts[min(max(0, selected), last)]
            guard let stateID = actionStateID else { mode = .browse; return }
            mode = .contextDiff(ContextDiffView(diff: nil, stateID: stateID, context: chosen.name))
            commands.append(.diffWithContext(stateID: stateID, context: chosen.name))
        case .enter:
            mode = .browse
            let chosen = settings.contexts[min(max(0, selected), last)]
            if chosen.name == settings.context?.name {
                setStatus("Already in context \(chosen.name).")
            } else if writing != nil {
                setStatus("A change is still being written; switch once it is done.", error: true)
            } else {
                quitting = true
                commands.append(.switchContext(chosen.name))
            }
        case .escape, .character("q"), .character(":"): mode = .browse
        default: break
        }
    }

    mutating func contextDiffKey(_ key: Key, _ view: ContextDiffView) {
        var view = view
        let count = view.diff?.lines.count ?? 0
        let page = max(1, size.height - 8)
        switch key {
        case .up, .character("k"): view.top = max(0, view.top - 1)
        case .down, .character("j"): view.top = max(0, min(count - 1, view.top + 1))
        case .pageUp: view.top = max(0, view.top - page)
        case .pageDown, .character(" "): view.top = max(0, min(count - 1, view.top + page))
        default:
            guard let left = scrolledSideways(view.left, key, lines: view.diff?.lines ?? [], escaping: .plain) else {
                mode = .browse
                return
            }
            view.left = left
        }
        mode = .contextDiff(view)
    }

    mutating func quit(_ commands: inout [Command]) {
        quitting = true
        commands.append(.quit)
    }

    /// `q`: quits, unless a write is in flight (an edit waiting for its lock after y,
    /// say), which would be given up unseen: that is said first, and q right after quits.
    mutating func quitUnlessWriting(_ commands: inout [Command]) {
        if let writing, !quitAskedDuringWrite {
            quitAskedDuringWrite = true
            setStatus("\(writing.progressText) is still in progress: Esc cancels it; q again quits (a write still waiting for its lock is then not made).", error: true)
            return
        }
        quit(&commands)
    }

    // MARK: - Browsing

    mutating func browseKey(_ key: Key, _ commands: inout [Command]) {
        switch key {
        case .character("q"): quitUnlessWriting(&commands)
        case .character("?"), .function(1): mode = .help(top: 0)
        case .tab: cycleFocus(forward: true)
        case .backTab: cycleFocus(forward: false)
        case .character("L"):
            if layout.locks.height > 0 { focus = .locks }
        case .character("r"), .function(5):
            setStatus(Model.refreshingStatus)
            refreshAll(&commands)
        case .character("/"):
            // A new filter or search is a new question: the last answer ("No match for …",
            // a refused write) would come back under it when the prompt closes.
            status = nil
            if focus == .detail {
                mode = .search(text: "")
            } else {
                focus = .list
                mode = .filter(previous: list.filter)
            }
        case .character("n"): startSearch(forward: true, &commands)
        case .character("N"): startSearch(forward: false, &commands)
        case .character("v"):
            let all = ViewMode.allCases
            setViewMode(all[(all.firstIndex(of: detail.mode)! + 1) % all.count], &commands)
        case .character("1"): setViewMode(.merged, &commands)
        case .character("2"): setViewMode(.completed, &commands)
        case .character("3"): setViewMode(.partial, &commands)
        case .character("4"): setViewMode(.raw, &commands)
        case .character("y"): copy(path: false, &commands)
        case .character("Y"): copy(path: true, &commands)
        case .character("e"): requireWritable("Editing") { $0.startEdit(&commands) }
        case .character("b"): openBookmarks()
        case .character("d"): requireWritable("Clearing") { $0.confirmClear() }
        case .character("c"): requireWritable("Copying") { $0.askTarget(.copy) }
        case .character("m"): requireWritable("Moving") { $0.askTarget(.move) }
        case .character("u"):
            if settings.showsRuns {
                requireWritable("Marking runs failed") { $0.confirmFailRun() }
            } else {
                requireWritable("Releasing locks") { $0.confirmRelease() }
            }
        case .character("H"): openHistory(&commands)
        case .character("D"): openDoctor(&commands)
        case .character(":"): openContextPicker()
        case .character("="):
            if targetStateID(for: "compare") != nil {
                openContextPicker(forDiff: true)
            }
        case .escape:
            if writing != nil {
                commands.append(.cancelWrite)
                setStatus("Cancelling: giving up the lock wait…")
            } else if focus == .detail, !detail.searchTerm.isEmpty {
                detail.searchTerm = ""
            } else if !list.filter.isEmpty {
                list.filter = ""
                reloadList(.first, counting: true, &commands)
            } else {
                status = nil
            }
        default:
            switch focus {
            case .list: listKey(key, &commands)
            case .detail: detailKey(key, &commands)
            case .locks: locksKey(key, &commands)
            }
        }
    }

    /// Runs a write key's action unless the browser is read-only, in which case it
    /// says so (the hints for those keys are hidden as well).
    mutating func requireWritable(_ action: String, _ body: (inout Model) -> Void) {
        if settings.readOnly {
            setStatus("Read-only: \(action.lowercased()) is disabled (--read-only). Nothing was changed.", error: true)
            return
        }
        if let writing {
            setStatus("Busy: \(writing.progressText.lowercased()); wait for it or press Esc to cancel.", error: true)
            return
        }
        body(&self)
    }

    mutating func cycleFocus(forward: Bool) {
        var order: [Focus] = [.list, .detail]
        if layout.locks.height > 0 { order.append(.locks) }
        let index = order.firstIndex(of: focus) ?? 0
        focus = order[(index + (forward ? 1 : order.count - 1)) % order.count]
    }

    mutating func listKey(_ key: Key, _ commands: inout [Command]) {
        let page = layout.listRows
        switch key {
        case .up, .character("k"): moveSelection(by: -1, &commands)
        case .down, .character("j"): moveSelection(by: 1, &commands)
        case .pageUp, .control("b"): moveSelection(by: -page, &commands)
        case .pageDown, .control("f"), .character(" "): moveSelection(by: page, &commands)
        case .home, .character("g"): selectFirst(&commands)
        case .end, .character("G"): selectLast(&commands)
        case .enter, .right, .character("l"):
            if list.selectedRow != nil { focus = .detail }
        default: break
        }
    }

    mutating func detailKey(_ key: Key, _ commands: inout [Command]) {
        switch key {
        case .up, .character("k"): moveCursor(by: -1)
        case .down, .character("j"): moveCursor(by: 1)
        case .pageUp, .control("b"): pageDetail(by: -1)
        case .pageDown, .control("f"): pageDetail(by: 1)
        case .home, .character("g"): cursorToEnd(false)
        case .end, .character("G"): cursorToEnd(true)
        case .left, .character("h"):
            if detail.horizontal == 0 { focus = .list } else { detail.horizontal = max(0, detail.horizontal - 8) }
        case .right, .character("l"): detail.horizontal += 8
        case .enter, .character(" "): toggleFold()
        case .character("z"): foldSiblings()
        case .character("Z"): unfoldAll()
        default: break
        }
    }

    mutating func locksKey(_ key: Key, _ commands: inout [Command]) {
        let count = bottomRowCount
        guard count > 0 else { return }
        switch key {
        case .up, .character("k"): locks.selected = max(0, locks.selected - 1)
        case .down, .character("j"): locks.selected = min(count - 1, locks.selected + 1)
        case .pageUp: locks.selected = max(0, locks.selected - max(1, layout.lockRows))
        case .pageDown: locks.selected = min(count - 1, locks.selected + max(1, layout.lockRows))
        case .home, .character("g"): locks.selected = 0
        case .end, .character("G"): locks.selected = count - 1
        case .enter:
            if settings.showsRuns {
                if let run = locks.selectedRun { jump(to: run.jobName, &commands) }
            } else if let lock = locks.selectedRow {
                jump(to: lock.stateID, &commands)
            }
        default: break
        }
        ensureLocksVisible()
    }

    // MARK: - Typing a filter or a search

    mutating func filterKey(_ key: Key, previous: String, _ commands: inout [Command]) {
        switch key {
        case .enter:
            mode = .browse
            if list.glob != list.appliedGlob { reloadList(.first, counting: true, &commands) }
        case .escape:
            mode = .browse
            list.filter = previous
            if list.glob != list.appliedGlob { reloadList(.first, counting: true, &commands) }
        case .up: moveSelection(by: -1, &commands)
        case .down: moveSelection(by: 1, &commands)
        default:
            guard edit(&list.filter, with: key) else { return }
            filterTicket += 1
            commands.append(.after(seconds: settings.filterDebounce, .filterDebounced(generation: filterTicket)))
        }
    }

    mutating func searchKey(_ key: Key, text: String, _ commands: inout [Command]) {
        var text = text
        switch key {
        case .enter:
            mode = .browse
            detail.searchTerm = text
            if !text.isEmpty { startSearch(forward: true, &commands) }
        case .escape:
            mode = .browse
        default:
            if edit(&text, with: key) { mode = .search(text: text) }
        }
    }

    /// Line editing for the filter and the search (`LineInput`, typing at the end).
    /// Returns whether the text changed.
    func edit(_ text: inout String, with key: Key) -> Bool {
        var line = LineInput(text)
        guard line.apply(key), line.text != text else { return false }
        text = line.text
        return true
    }

    // MARK: - Help

    mutating func helpKey(_ key: Key, top: Int) {
        let lines = KeyBindings.helpLines(readOnly: settings.readOnly, runs: settings.showsRuns).count
        let page = max(1, size.height - 4)
        let maxTop = max(0, lines - page)
        switch key {
        case .up, .character("k"): mode = .help(top: max(0, top - 1))
        case .down, .character("j"): mode = .help(top: min(maxTop, top + 1))
        case .pageUp: mode = .help(top: max(0, top - page))
        case .pageDown, .character(" "): mode = .help(top: min(maxTop, top + page))
        default: mode = .browse
        }
    }
}

extension Model {
    /// Shown from `r` until the list's first page is back.
    static let refreshingStatus = "Refreshing…"
}
