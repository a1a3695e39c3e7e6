import StateStore

/// The first model and what to load: the first page, the count and the locks.
public func start(settings: BrowserSettings, size: Size, now: Double) -> (Model, [Command]) {
    var model = Model(settings: settings, size: size, now: now)
    var commands: [Command] = []
    model.reloadList(.first, counting: true, &commands)
    model.locks.loading = true
    commands.append(.loadLocks)
    return (model, commands)
}

/// The Elm architecture's update: the next model and the commands to run. Pure: no
/// I/O, no clock, no threads; everything it needs arrives in the message.
public func update(_ model: Model, _ message: Message) -> (Model, [Command]) {
    var model = model
    var commands: [Command] = []
    model.handle(message, &commands)
    return (model, commands)
}

extension Model {
    mutating func handle(_ message: Message, _ commands: inout [Command]) {
        switch message {
        case let .key(key):
            handleKey(key, &commands)
        case let .resize(newSize):
            resize(to: newSize, &commands)
        case let .tick(time):
            now = time
            if let status, !status.isError, now - status.at > 8 { self.status = nil }
        case let .pageLoaded(result):
            pageLoaded(result, &commands)
        case let .counted(generation, total):
            if generation == list.generation {
                list.total = total
                fixOffset()
            }
        case let .located(generation, stateID, position):
            located(generation, stateID, position)
        case let .stateLoaded(requestID, state):
            stateLoaded(requestID, state, &commands)
        case let .documentBuilt(requestID, mode, document):
            documentBuilt(requestID, mode, document)
        case let .searchFinished(requestID, line):
            searchFinished(requestID, line)
        case let .locksLoaded(rows, at):
            locksLoaded(rows, at: at, &commands)
        case let .runsLoaded(runs, at):
            runsLoaded(runs, at: at, &commands)
        case let .readFailed(kind, requestID, text):
            readFailed(kind, requestID, text, &commands)
        case let .connection(newStatus):
            let wasDisconnected: Bool
            if case .disconnected = connection { wasDisconnected = true } else { wasDisconnected = false }
            connection = newStatus
            if newStatus == .connected && wasDisconnected {
                setStatus("Reconnected; refreshing.")
                refreshAll(&commands)
            }
        case let .server(newServer):
            serverReached(newServer, &commands)
        case let .filterDebounced(ticket):
            if ticket == filterTicket, list.glob != list.appliedGlob { reloadList(.first, counting: true, &commands) }
        case let .refreshLocksDue(generation):
            if generation == locks.timerGeneration, !locks.loading {
                locks.loading = true
                commands.append(.loadLocks)
            }
        case let .editPrepared(session):
            guard !settings.readOnly else { return }
            setStatus("Editing \(quoted(session.stateID)) in the editor…")
            commands.append(.openEditor(session))
        case let .editorFinished(session, text, problem):
            editorFinished(session, text: text, problem: problem, &commands)
        case let .editChecked(requestID, session, body, check):
            editChecked(requestID, session, body: body, check, &commands)
        case let .targetChecked(action, exists):
            targetChecked(action, exists: exists)
        case let .contextDiffLoaded(diff):
            if case var .contextDiff(view) = mode, sameText(view.stateID, diff.stateID), view.context == diff.context {
                view.diff = diff
                mode = .contextDiff(view)
            }
        case let .historyLoaded(stateID, rows):
            if case var .history(history) = mode, sameText(history.stateID, stateID) {
                history.rows = rows
                history.selected = min(history.selected, max(0, rows.count - 1))
                mode = .history(history)
            }
        case let .diagnosed(stateID, report, error):
            if case var .doctor(panel) = mode, sameText(panel.stateID, stateID) {
                panel.report = report
                panel.error = error
                mode = .doctor(panel)
            }
        case let .writeFinished(action, outcome):
            writeFinished(action, outcome, &commands)
        case let .clipboardWritten(description, problem):
            if let problem { setStatus("Could not copy \(description): \(problem)", error: true) } else {
                setStatus("Copied \(description) to the clipboard (OSC 52).")
            }
        }
    }

    /// The first server is only shown in the header; another one afterwards (a
    /// failover to another of several hosts) is said, naming both, and everything is
    /// read again from it.
    mutating func serverReached(_ newServer: ConnectedServer, _ commands: inout [Command]) {
        let previous = server
        server = newServer
        guard let previous, previous.address != newServer.address else { return }
        let role = newServer.role.map { $0 + "; " } ?? ""
        setStatus("Reconnected to \(newServer.address) (\(role)was \(previous.address)); refreshing.")
        refreshAll(&commands)
    }

    mutating func setStatus(_ text: String, error: Bool = false) {
        status = StatusMessage(text: text, isError: error, at: now)
    }

    var layout: Layout { Layout(size) }

    // MARK: - Resize

    mutating func resize(to newSize: Size, _ commands: inout [Command]) {
        let oldWrap = layout.wrapWidth
        size = newSize
        ensureListVisible()
        prefetch(&commands)
        if layout.wrapWidth != oldWrap {
            // Raw text is wrapped for a width: rebuild what is shown, drop the rest.
            for (mode, document) in detail.documents where document.raw != nil { detail.documents[mode] = nil }
            if detail.documents[detail.mode] == nil { requestDocument(&commands) }
        }
        ensureDetailVisible()
        ensureLocksVisible()
    }

    // MARK: - Refresh

    /// `r` and reconnection: the list around the selection, the count, the state and
    /// the locks.
    mutating func refreshAll(_ commands: inout [Command]) {
        if let row = list.selectedRow {
            reloadList(.around(row.stateID, context: layout.listRows), counting: true, &commands,
                       anchorOffset: list.offset.map { $0 + list.selected })
        } else {
            reloadList(.first, counting: true, &commands)
        }
        if let id = detail.stateID { reloadState(id, &commands) }
        refreshLocksNow(&commands)
    }

    mutating func refreshLocksNow(_ commands: inout [Command]) {
        locks.timerGeneration += 1
        if !locks.loading {
            locks.loading = true
            commands.append(.loadLocks)
        }
    }

    // MARK: - Locks

    mutating func locksLoaded(_ rows: [LockRow], at time: Double, _ commands: inout [Command]) {
        let previous = locks.selectedRow
        locks.rows = rows.sorted { ($0.ageSeconds ?? 0) > ($1.ageSeconds ?? 0) }
        if let previous, let index = locks.rows.firstIndex(where: { $0.stateID == previous.stateID && $0.lockID == previous.lockID }) {
            locks.selected = index
        }
        locks.selected = min(locks.selected, max(0, locks.rows.count - 1))
        bottomPaneRefreshed(at: time, &commands)
    }

    /// System database layout: the runs left RUNNING, longest silent first (as the
    /// store sorts them; kept so for any source). The selection stays on its run.
    mutating func runsLoaded(_ runs: [RunRow], at time: Double, _ commands: inout [Command]) {
        let previous = locks.selectedRun
        locks.runs = runs.enumerated().sorted { a, b in
            let silentA = a.element.silentForSeconds ?? 0, silentB = b.element.silentForSeconds ?? 0
            return silentA != silentB ? silentA > silentB : a.offset < b.offset
        }.map(\.element)
        if let previous, let index = locks.runs.firstIndex(where: { $0.id == previous.id }) {
            locks.selected = index
        }
        locks.selected = min(locks.selected, max(0, locks.runs.count - 1))
        bottomPaneRefreshed(at: time, &commands)
    }

    mutating func bottomPaneRefreshed(at time: Double, _ commands: inout [Command]) {
        locks.lastRefresh = time
        locks.loading = false
        locks.error = nil
        lastRefresh = time
        ensureLocksVisible()
        locks.timerGeneration += 1
        commands.append(.after(seconds: settings.refreshInterval, .refreshLocksDue(generation: locks.timerGeneration)))
    }

    /// Rows of the bottom pane: locks, or runs in the system database layout.
    var bottomRowCount: Int { settings.showsRuns ? locks.runs.count : locks.rows.count }

    mutating func ensureLocksVisible() {
        let rows = max(1, layout.lockRows)
        if locks.selected < locks.top { locks.top = locks.selected }
        if locks.selected >= locks.top + rows { locks.top = locks.selected - rows + 1 }
        locks.top = max(0, min(locks.top, max(0, bottomRowCount - rows)))
    }

    /// Live lock of a state ID, from the lock pane's last refresh.
    func liveLock(_ stateID: String) -> LockRow? {
        locks.rows.first { sameText($0.stateID, stateID) }
    }

    /// A RUNNING run of a state ID from the runs pane's last refresh; a stale one first
    /// (that is the one to repair when a newer run of the same job is alive).
    func liveRun(_ stateID: String) -> RunRow? {
        locks.runs.first { sameText($0.jobName, stateID) && $0.isStale } ?? locks.runs.first { sameText($0.jobName, stateID) }
    }

    // MARK: - Failures

    mutating func readFailed(_ kind: ReadKind, _ requestID: Int, _ text: String, _ commands: inout [Command]) {
        switch kind {
        case .page:
            guard requestID == list.generation else { return }
            list.reloading = false
            list.loadingNext = false
            list.loadingPrevious = false
            list.loaded = true
            list.error = text
            // A refresh that fails keeps its rows; rows of another filter are not shown
            // under this one's name: the pane shows the error instead.
            if list.rowsGlob != list.appliedGlob {
                list.rows = []
                list.selected = 0
                list.top = 0
                list.offset = nil
                list.total = nil
            }
            setStatus(text, error: true)
        case .count:
            return
        case .state:
            guard requestID == detail.loadingRequest else { return }
            detail.loadingRequest = nil
            detail.error = text
        case .locks:
            locks.loading = false
            locks.error = text
            if locks.lastRefresh == nil { locks.lastRefresh = now }
            locks.timerGeneration += 1
            commands.append(.after(seconds: settings.refreshInterval, .refreshLocksDue(generation: locks.timerGeneration)))
        case .history:
            if case var .history(history) = mode {
                history.rows = []
                mode = .history(history)
            }
            setStatus(text, error: true)
        case .target:
            if case .prompt = mode { mode = .browse }
            setStatus(text, error: true)
        case .edit:
            setStatus(text, error: true)
        }
    }
}
