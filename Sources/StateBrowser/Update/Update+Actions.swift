import StateStore

/// Everything that changes the database: asked for, confirmed (naming what will be
/// destroyed, No by default), run by the runner, and reported.
extension Model {
    /// The state ID the focused pane points at, which every key that acts on a state
    /// uses: in the locks pane the highlighted lock's (or run's), else the selected
    /// row's, or the one shown. Nil when there is none (an empty locks pane does not
    /// fall back to the list: a key there must not act on an ID the user is not on).
    var actionStateID: String? {
        if focus == .locks { return settings.showsRuns ? locks.selectedRun?.jobName : locks.selectedRow?.stateID }
        return list.selectedRow?.stateID ?? detail.stateID
    }

    /// `actionStateID`, or nil after saying on the status line that there is none.
    mutating func targetStateID(for action: String) -> String? {
        if let id = actionStateID { return id }
        setStatus("\(nothingSelected): nothing to \(action).", error: true)
        return nil
    }

    /// What is missing when `actionStateID` is nil, for the focused pane.
    var nothingSelected: String {
        focus != .locks ? "No state ID is selected" : settings.showsRuns ? "No run is selected" : "No lock is selected"
    }

    // MARK: - Edit

    mutating func startEdit(_ commands: inout [Command]) {
        guard let id = targetStateID(for: "edit") else { return }
        setStatus("Reading \(quoted(id)) for the editor…")
        commands.append(.prepareEdit(stateID: id))
    }

    static let commentPrefix = "// "

    /// The editor's text with `//` lines at the top removed.
    static func stripComments(_ text: String) -> String {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        while let first = lines.first, first.hasPrefix("//") { lines.removeFirst() }
        return lines.joined(separator: "\n")
    }

    /// `lines` as `//` comments above `body`, for sending a text back to the editor.
    static func withComments(_ lines: [String], _ body: String) -> String {
        var text = lines.map { commentPrefix + $0 }.joined(separator: "\n")
        text += "\n" + commentPrefix + "Save an empty file to cancel; these // lines at the top are ignored.\n"
        return text + body
    }

    mutating func editorFinished(_ session: EditSession, text: String?, problem: String?, _ commands: inout [Command]) {
        if let problem {
            setStatus("Could not run the editor: \(problem)", error: true)
            return
        }
        // Parsed and compared off the UI thread: a big state's text takes a while.
        let id = newRequestID()
        editCheckRequest = id
        if (text?.utf8.count ?? 0) > 1_000_000 { setStatus("Checking the edited state…") }
        commands.append(.checkEdit(EditCheckRequest(id: id, session: session, text: text ?? "")))
    }

    mutating func editChecked(_ requestID: Int, _ session: EditSession, body: String, _ check: EditCheck, _ commands: inout [Command]) {
        guard requestID == editCheckRequest else { return }
        editCheckRequest = nil
        switch check {
        case .empty:
            setStatus("Empty file: nothing was changed.")
        case let .invalid(comments):
            // Saved as it was handed over (an editor that only exits, a script that writes
            // the same broken text): reopening would loop; kubectl edit cancels too.
            if body == Model.stripComments(session.text) {
                setStatus("The editor left the text as it was, still not valid JSON: nothing was changed.", error: true)
                return
            }
            var again = session
            again.text = Model.withComments(comments, body)
            setStatus("Not valid JSON: back to the editor.", error: true)
            commands.append(.openEditor(again))
        case .unchanged:
            setStatus("No changes: nothing was written.")
        case let .changed(lines):
            if status?.text.hasPrefix("Checking the edited state") == true { status = nil }
            var edited = session
            edited.text = body
            mode = .diff(DiffView(session: edited, newText: body, lines: lines))
        }
    }

    mutating func diffKey(_ key: Key, _ diff: DiffView, _ commands: inout [Command]) {
        var diff = diff
        let page = max(1, size.height - 8)
        let maxTop = max(0, diff.lines.count - page)
        switch key {
        case .character("y"), .character("Y"):
            mode = .browse
            run(diff.action ?? .set(stateID: diff.session.stateID, text: diff.newText, original: diff.session.original,
                                    unreadable: diff.session.unreadable), &commands)
        case .character("e") where diff.action != nil:
            return  // a bookmark edit has no editor text to go back to
        case .character("e"):
            mode = .browse
            commands.append(.openEditor(diff.session))
        case .up, .character("k"): diff.top = max(0, diff.top - 1); mode = .diff(diff)
        case .down, .character("j"): diff.top = min(maxTop, diff.top + 1); mode = .diff(diff)
        case .pageUp: diff.top = max(0, diff.top - page); mode = .diff(diff)
        case .pageDown, .character(" "): diff.top = min(maxTop, diff.top + page); mode = .diff(diff)
        default:
            // Sideways (← →, which discarded the edit before), or any other key: discard.
            if let left = scrolledSideways(diff.left, key, lines: diff.lines, escaping: .json) {
                diff.left = left
                mode = .diff(diff)
                return
            }
            mode = .browse
            setStatus("Edit discarded: nothing was written.")
        }
    }

    // MARK: - Clear

    mutating func confirmClear() {
        guard let id = targetStateID(for: "clear") else { return }
        let theme = self.theme
        var lines: [[Run]] = [
            [Run("Clear the state of")],
            [Run("  "), Run(shownID(id), theme.danger)],
            [],
            [Run("Its row is deleted: completed and partial state. The next run of this")],
            [Run("pipeline starts with no bookmark (a full sync).")],
            [Run("The row is saved to the backup journal first (H restores it).", theme.hint)],
        ]
        if let lock = liveLock(id) {
            lines.append([])
            lines.append([Run("⚠ ", theme.danger), Run("It is locked now (\(lockAgeText(lock))); clearing waits for that lock.", theme.danger)])
        }
        if let run = liveRun(id) {
            // Meltano's system database: the run writes this state when it ends.
            let silent = age(run.silentForSeconds, fetchedAt: run.fetchedAt).map { ", silent for " + Format.longAge($0) } ?? ""
            lines.append([])
            lines.append([Run("⚠ ", theme.danger), Run("Run \(run.id) of this pipeline is RUNNING\(run.isStale ? " (STALE" + silent + ")" : silent);", theme.danger)])
            lines.append([Run("  if it is alive, it writes its state again when it finishes.", theme.danger)])
        }
        mode = .confirm(Confirmation(action: .clear(stateID: id), title: "Clear state", lines: lines, yes: "clear it"))
    }

    // MARK: - Copy and move

    mutating func askTarget(_ purpose: Prompt.Purpose) {
        guard let id = targetStateID(for: purpose == .copy ? "copy" : "move") else { return }
        mode = .prompt(Prompt(purpose: purpose, source: id, input: LineInput(id)))
    }

    mutating func promptKey(_ key: Key, _ prompt: Prompt, _ commands: inout [Command]) {
        var prompt = prompt
        guard !prompt.checking else {
            if key == .escape { mode = .browse }
            return
        }
        switch key {
        case .escape:
            mode = .browse
            setStatus("Cancelled: nothing was changed.")
        case .enter:
            let target = prompt.text
            if let problem = Model.stateIDProblem(target) {
                setStatus(problem, error: true)
                return
            }
            if sameText(target, prompt.source) {
                setStatus("The target is the same state ID; type another one.", error: true)
                return
            }
            prompt.checking = true
            mode = .prompt(prompt)
            let action: WriteAction = prompt.purpose == .copy ? .copy(from: prompt.source, to: target) : .move(from: prompt.source, to: target)
            commands.append(.checkTarget(action))
        default:
            if prompt.input.apply(key) { mode = .prompt(prompt) }
        }
    }

    /// The store's own rules for an ID, checked before asking anything.
    static func stateIDProblem(_ id: String) -> String? {
        if id.isEmpty { return "A state ID cannot be empty." }
        if id.unicodeScalars.count > 900 { return "A state ID holds at most 900 characters (this one has \(id.unicodeScalars.count))." }
        if id.unicodeScalars.contains("\u{0}") { return "A state ID cannot contain a NUL character." }
        return nil
    }

    mutating func targetChecked(_ action: WriteAction, exists: Bool) {
        guard case let .prompt(prompt) = mode, prompt.checking else { return }
        let theme = self.theme
        let (source, target, isMove): (String, String, Bool)
        switch action {
        case let .copy(from, to): (source, target, isMove) = (from, to, false)
        case let .move(from, to): (source, target, isMove) = (from, to, true)
        default: return
        }
        _ = prompt
        var lines: [[Run]] = [
            [Run(isMove ? "Move the state of" : "Copy the state of")],
            [Run("  "), Run(shownID(source), theme.label)],
            [Run("to")],
            [Run("  "), Run(shownID(target), exists ? theme.danger : theme.label)],
            [],
        ]
        if exists {
            lines.append([Run("⚠ ", theme.danger), Run.prose("\(quoted(target)) exists: its state is overwritten", theme.danger)])
            lines.append([Run("  (journaled first; H on it restores).", theme.danger)])
        } else {
            lines.append([Run.prose("\(quoted(target)) has no state yet; it is created.")])
        }
        if let lock = liveLock(target) {
            lines.append([Run("⚠ ", theme.danger), Run.prose("\(quoted(target)) is locked now (\(lockAgeText(lock))); writing it waits for that lock.", theme.danger)])
        }
        if isMove {
            lines.append([Run("Then "), Run.prose(quoted(source), theme.danger), Run(" is cleared (its row deleted, journaled).")])
            if let lock = liveLock(source) {
                lines.append([Run("⚠ ", theme.danger), Run.prose("\(quoted(source)) is locked now (\(lockAgeText(lock))); clearing it waits for that lock.", theme.danger)])
            }
        }
        lines.append([Run("Refused if the state has no top-level singer_state, as by Meltano.", theme.hint)])
        mode = .confirm(Confirmation(action: action, title: isMove ? "Move state" : "Copy state", lines: lines,
                                     yes: isMove ? "move it" : "copy it"))
    }

    // MARK: - Release a lock

    func lockAgeText(_ lock: LockRow) -> String {
        var text = "lock \(lock.lockID.prefix(8))…"
        if let age = age(lock.ageSeconds, fetchedAt: lock.fetchedAt) { text += ", \(Format.longAge(age)) old" }
        return text
    }

    mutating func confirmRelease() {
        let lock: LockRow?
        if focus == .locks {
            lock = locks.selectedRow
        } else {
            lock = actionStateID.flatMap(liveLock)
        }
        guard let lock else {
            setStatus(focus == .locks ? "No lock is selected." : "\(quoted(actionStateID ?? "")) is not locked (as of the last refresh).", error: true)
            return
        }
        let theme = self.theme
        var lines: [[Run]] = [
            [Run("Release the lock of")],
            [Run("  "), Run(shownID(lock.stateID), theme.danger)],
            [],
            [Run("lock ID   ", theme.label), Run(lock.lockID)],
            [Run("taken at  ", theme.label), Run(lock.lockedAt)],
        ]
        if let age = age(lock.ageSeconds, fetchedAt: lock.fetchedAt) {
            lines.append([Run("age       ", theme.label), Run(Format.longAge(age)),
                          lock.ageIsImplausible ? Run("  (implausible: writer in another time zone?)", theme.danger) : Run("")])
        }
        if let holder = lock.holder { lines.append([Run("held by   ", theme.label), Run(holder)]) }
        lines.append([])
        var again: [[Run]]?
        if let verdict = lock.verdict {
            // doctor's verdict, from the same evidence as the `!` mark.
            lines.append([Run(verdict, lock.needsSecondConfirmation ? theme.danger : theme.stale),
                          Run.prose(": " + (lock.verdictReason ?? ""), lock.needsSecondConfirmation ? theme.danger : .plain)])
            if let evidence = lock.staleEvidence {
                lines.append([Run("judged by ", theme.label), Run.prose(evidence + (lock.staleReason.map { ": " + $0 } ?? ""), theme.hint)])
            }
            if lock.needsSecondConfirmation {
                again = [
                    [Run(verdict, theme.danger), Run(" — the lock of")],
                    [Run("  "), Run(shownID(lock.stateID), theme.danger)],
                    [],
                    [Run.prose(lock.verdictReason ?? "", theme.danger)],
                    [],
                    [Run("Releasing it lets another run write this state at the same time.")],
                    [Run("Press y again only if you know this pipeline is dead.")],
                ]
            }
        } else if lock.isStale {
            lines.append([Run("STALE", theme.stale), Run(": older than \(Format.longAge(settings.staleLockAfter)); its pipeline has most likely died.")])
        } else {
            lines.append([Run("NOT STALE", theme.danger), Run(": it may belong to a running pipeline. Releasing it", theme.danger)])
            lines.append([Run("lets another run write this state at the same time.", theme.danger)])
        }
        if lock.isAdvisory {
            lines.append([Run("An advisory lock is freed only by ending the session that holds it:", theme.danger)])
            lines.append([Run("that backend is terminated (pg_terminate_backend), if it still holds this key.", theme.danger)])
        } else {
            lines.append([Run("Only this lock (state ID and lock ID) is removed; it is journaled.", theme.hint)])
        }
        mode = .confirm(Confirmation(action: .release(stateID: lock.stateID, lockID: lock.lockID), title: "Release lock",
                                     lines: lines, yes: again == nil ? "release it" : "continue (asks again)", confirmAgain: again))
    }

    // MARK: - doctor

    /// `D`: the diagnosis of the selected state ID (or the selected lock's, or run's).
    mutating func openDoctor(_ commands: inout [Command]) {
        guard let stateID = targetStateID(for: "diagnose") else { return }
        mode = .doctor(DoctorPanel(stateID: stateID))
        commands.append(.diagnose(stateID: stateID))
    }

    mutating func doctorKey(_ key: Key, _ panel: DoctorPanel, _ commands: inout [Command]) {
        var panel = panel
        switch key {
        case .up, .character("k"): panel.top = max(0, panel.top - 1)
        case .down, .character("j"): panel.top += 1
        case .character("r"):
            panel.report = nil
            panel.error = nil
            commands.append(.diagnose(stateID: panel.stateID))
        default:
            mode = .browse
            return
        }
        mode = .doctor(panel)
    }

    // MARK: - Mark a stale run failed (system database)

    /// `u` in the system database layout: the run selected in the runs pane, or a
    /// RUNNING run of the selected state ID. Only a stale run gets a confirmation; one
    /// that is still heard from is refused here (the store refuses it too).
    mutating func confirmFailRun() {
        let run: RunRow?
        if focus == .locks {
            run = locks.selectedRun
        } else {
            run = actionStateID.flatMap(liveRun)
        }
        guard let run else {
            setStatus(focus == .locks ? "No run is selected."
                      : "\(quoted(actionStateID ?? "")) has no run in RUNNING state (as of the last refresh).", error: true)
            return
        }
        let silent = age(run.silentForSeconds, fetchedAt: run.fetchedAt)
        guard run.isStale else {
            let heard: String
            if run.lastHeartbeatAt != nil {
                heard = "sent a heartbeat \(silent.map(Format.longAge) ?? "recently") ago"
            } else {
                heard = "started \(silent.map(Format.longAge) ?? "recently") ago and sends no heartbeat (stale only after 24 h)"
            }
            setStatus("Run \(run.id) (\(quoted(run.jobName))) \(heard): it may still be running. Nothing was changed.", error: true)
            return
        }
        let theme = self.theme
        var lines: [[Run]] = [
            [Run("Mark run \(run.id) failed")],
            [Run("  "), Run(run.jobName, theme.danger)],
            [],
            [Run("run_id          ", theme.label), Run(run.runID ?? "—")],
            // Meltano stores these in UTC, without a time zone.
            [Run("started         ", theme.label), Run(run.startedAt.map { $0 + " UTC" } ?? "—")],
            [Run("last heartbeat  ", theme.label), Run(run.lastHeartbeatAt.map { $0 + " UTC" } ?? "never")],
        ]
        if let silent { lines.append([Run("silent for      ", theme.label), Run(Format.longAge(silent))]) }
        lines.append([])
        let why = run.lastHeartbeatAt != nil ? "no heartbeat for over 5 minutes" : "running for over 24 hours without a heartbeat"
        lines.append([Run("STALE", theme.stale), Run(": \(why); its process has most likely died.")])
        lines.append([Run("Its runs row becomes state FAIL, ended_at now, and payload.error is set", theme.danger)])
        lines.append([Run("to Meltano's reason, as Meltano's own stale-run handling does:", theme.danger)])
        if let reason = run.staleReason { lines.append([Run("  \"\(reason)\"")]) }
        lines.append([Run("The run row is saved to the backup journal first (H restores it).", theme.hint)])
        mode = .confirm(Confirmation(action: .failRun(id: run.id, jobName: run.jobName), title: "Mark run failed",
                                     lines: lines, yes: "mark it failed"))
    }

    // MARK: - History and restore

    /// `H`: the journal of the ID the focused pane points at. A clear (or the move of a
    /// state away) deletes the row, so the selection moves on to the next ID while the
    /// status line says "press H next to restore it": `H` as the very next key shows
    /// the removed ID's history, and so does `H` with no ID selected at all (a filter
    /// that matches nothing). Any other key first gives `H` back to the selection. That
    /// is the simplest rule that keeps the message true without a timeout to reason
    /// about, and the history's title (and the restore's confirmation) name the ID.
    mutating func openHistory(_ commands: inout [Command]) {
        let id = (removedJustNow ? removedStateID : nil) ?? actionStateID ?? removedStateID
        guard let id else {
            setStatus("\(nothingSelected): no history to show (`meltano-state history` lists the whole journal).", error: true)
            return
        }
        mode = .history(HistoryView(stateID: id, rows: nil))
        commands.append(.loadHistory(stateID: id))
    }

    mutating func historyKey(_ key: Key, _ history: HistoryView, _ commands: inout [Command]) {
        var history = history
        let count = history.rows?.count ?? 0
        switch key {
        case .up, .character("k"): history.selected = max(0, history.selected - 1)
        case .down, .character("j"): history.selected = min(max(0, count - 1), history.selected + 1)
        case .home, .character("g"): history.selected = 0
        case .end, .character("G"): history.selected = max(0, count - 1)
        case .enter, .character("r"):
            guard let rows = history.rows, rows.indices.contains(history.selected) else { return }
            if settings.readOnly {
                setStatus("Read-only: restoring is disabled (--read-only). Nothing was changed.", error: true)
                return
            }
            confirmRestore(rows[history.selected])
            return
        case .escape, .character("q"), .character("H"):
            mode = .browse
            return
        default: return
        }
        let rows = max(1, size.height - 10)
        if history.selected < history.top { history.top = history.selected }
        if history.selected >= history.top + rows { history.top = history.selected - rows + 1 }
        mode = .history(history)
    }

    mutating func confirmRestore(_ entry: HistoryRow) {
        let theme = self.theme
        var lines: [[Run]] = [
            [Run(entry.isRun ? "Put back the run of" : entry.isLock ? "Put back the lock row of" : "Restore the state of")],
            [Run("  "), Run(shownID(entry.stateID), theme.danger)],
            [Run("to what it was before "), Run(entry.action, theme.label), Run(" at \(entry.time)")],
            [],
        ]
        if entry.isRun {
            lines.append([Run("Its runs row gets back its state (RUNNING), ended_at and payload: Meltano sees", theme.danger)])
            lines.append([Run("that pipeline running again, until it is found stale again.", theme.danger)])
        } else if entry.isLock {
            lines.append([Run("The released lock is inserted again: writes of this ID wait for it.", theme.danger)])
        } else if entry.hadRow {
            lines.append([Run("The current state is overwritten (journaled first, so this can be undone).", theme.danger)])
        } else {
            lines.append([Run("There was no row then: the current row is deleted (journaled first).", theme.danger)])
        }
        mode = .confirm(Confirmation(action: .restore(entryID: entry.id, stateID: entry.stateID), title: "Restore from journal",
                                     lines: lines, yes: "restore it"))
    }

    // MARK: - Confirming and running

    mutating func confirmKey(_ key: Key, _ confirmation: Confirmation, _ commands: inout [Command]) {
        if key == .character("y") || key == .character("Y") {
            if let again = confirmation.confirmAgain {
                mode = .confirm(Confirmation(action: confirmation.action, title: "Really release it?", lines: again,
                                             yes: "release it anyway"))
                return
            }
            mode = .browse
            run(confirmation.action, &commands)
        } else {
            mode = .browse
            setStatus("Cancelled: nothing was changed.")
        }
    }

    mutating func run(_ action: WriteAction, _ commands: inout [Command]) {
        guard !settings.readOnly else {
            setStatus("Read-only: nothing was changed.", error: true)
            return
        }
        writing = action
        if case .failRun = action {
            setStatus("\(action.progressText)…")  // takes no state lock: nothing to wait for
        } else {
            setStatus("\(action.progressText)… (Esc cancels while it waits for a lock)")
        }
        commands.append(.write(action))
    }

    mutating func writeFinished(_ action: WriteAction, _ outcome: WriteOutcome, _ commands: inout [Command]) {
        writing = nil
        switch outcome {
        case let .done(text):
            setStatus(text)
            switch action {
            case let .clear(id), let .move(id, _):
                removedStateID = id
                removedJustNow = true
            default: break
            }
            // Show the result: the list around the ID that changed, its state, the locks.
            let focusID: String
            switch action {
            case let .move(from, _): focusID = from
            default: focusID = action.focusStateID
            }
            switch action {
            case .release, .failRun: break  // no state changed: the list and the state stay
            default:
                // The old position is a fair guess only for the row that was selected.
                let guess = list.selectedRow?.stateID == focusID ? list.offset.map { $0 + list.selected } : nil
                reloadList(.around(focusID, context: layout.listRows / 3), counting: true, &commands, anchorOffset: guess)
                if detail.stateID == focusID {
                    reloadState(focusID, &commands)
                } else {
                    detail = DetailPane(mode: detail.mode, searchTerm: detail.searchTerm)
                }
            }
            refreshLocksNow(&commands)
        case let .failed(text):
            setStatus(text, error: true)
            refreshLocksNow(&commands)
        case let .rejected(text):
            guard case let .set(id, edited, original, unreadable) = action else { setStatus(text, error: true); return }
            let comments = ["meltano-state: the value was refused, nothing was written:"] + Model.wrapComment(text)
            setStatus("Refused: back to the editor.", error: true)
            commands.append(.openEditor(EditSession(stateID: id, original: original, text: Model.withComments(comments, edited),
                                                    unreadable: unreadable)))
        case let .conflict(current):
            guard case let .set(id, edited, _, _) = action else { return }
            let comments = ["meltano-state: \(id) was changed by someone else while you were editing,",
                            "so nothing was written. Saving again overwrites that change (see the diff next)."]
            setStatus("Changed meanwhile: back to the editor.", error: true)
            // The pane shows the value as it is now, also if the edit is then given up.
            if detail.stateID == id { reloadState(id, &commands) }
            // From now on the edit is against the current value.
            var again = current
            again.text = Model.withComments(comments, edited)
            commands.append(.openEditor(again))
        }
    }

    static func wrapComment(_ text: String, width: Int = 76) -> [String] {
        var lines: [String] = []
        var current = ""
        for word in text.split(whereSeparator: { $0 == " " || $0 == "\n" }) {
            if !current.isEmpty, current.count + word.count + 1 > width {
                lines.append(current)
                current = ""
            }
            current += current.isEmpty ? String(word) : " " + word
        }
        if !current.isEmpty { lines.append(current) }
        return lines
    }
}
