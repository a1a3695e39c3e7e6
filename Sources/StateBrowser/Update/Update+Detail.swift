/// The right pane: loading a state, laying out its views off the UI thread, moving,
/// folding, searching and copying.
extension Model {
    mutating func stateLoaded(_ requestID: Int, _ state: LoadedState, _ commands: inout [Command]) {
        guard requestID == detail.loadingRequest else { return }
        // The same ID again (a refresh, a write): keep the cursor and folds. (Another ID
        // got a new pane when it was selected.)
        let sameState = detail.stateID == state.stateID
        detail.loadingRequest = nil
        detail.error = nil
        detail.loaded = state
        detail.documents = [:]
        detail.building = [:]
        if !sameState {
            detail.cursor = 0
            detail.top = 0
            detail.horizontal = 0
            detail.folds = []
        }
        requestDocument(&commands)
    }

    mutating func requestDocument(_ commands: inout [Command]) {
        guard let state = detail.loaded, detail.documents[detail.mode] == nil, detail.building[detail.mode] == nil else { return }
        // With no partial state the merged and completed views are one text: one
        // layout (and one copy of a big state's lines) serves both.
        if state.mergedIsCompleted, let shared = sharedLayout(for: detail.mode) {
            detail.documents[detail.mode] = shared
            return
        }
        let id = newRequestID()
        detail.building[detail.mode] = id
        commands.append(.buildDocument(DocumentRequest(id: id, state: state, mode: detail.mode, wrapWidth: layout.wrapWidth)))
    }

    /// The JSON layout already built for the other of merged and completed.
    func sharedLayout(for mode: ViewMode) -> Document? {
        switch mode {
        case .merged:
            guard let json = detail.documents[.completed]?.json, LocalWork.nestingProblem(json.nesting) == nil else { return nil }
            return .json(json)
        case .completed:
            return detail.documents[.merged]?.json.map(Document.json)
        case .partial, .raw:
            return nil
        }
    }

    mutating func documentBuilt(_ requestID: Int, _ mode: ViewMode, _ document: Document) {
        guard detail.building[mode] == requestID else { return }
        detail.building[mode] = nil
        detail.documents[mode] = document
        guard mode == detail.mode else { return }
        clampDetail()
        if let raw = document.raw, let errorRow = raw.errorRows.first, detail.cursor == 0 {
            detail.cursor = errorRow
            detail.top = errorRow < layout.detailRows ? 0 : errorRow - layout.detailRows / 2
        }
        ensureDetailVisible()
    }

    /// Keeps cursor and folds valid for the document shown (after a reload or switch).
    mutating func clampDetail() {
        guard let document = detail.document else { return }
        let count = document.lineCount
        if let json = document.json {
            detail.folds = detail.folds.filter { $0 < count && json.isOpen($0) }
        } else {
            detail.folds = []
        }
        detail.cursor = max(0, min(detail.cursor, count - 1))
        detail.cursor = document.visibleAncestor(detail.cursor, folds: detail.folds)
        detail.top = max(0, min(detail.top, detail.cursor))
        detail.top = document.visibleAncestor(detail.top, folds: detail.folds)
    }

    mutating func setViewMode(_ mode: ViewMode, _ commands: inout [Command]) {
        guard mode != detail.mode else { return }
        detail.mode = mode
        detail.cursor = 0
        detail.top = 0
        detail.horizontal = 0
        detail.folds = []
        requestDocument(&commands)
        clampDetail()
    }

    /// Scrolls so the cursor is on screen.
    mutating func ensureDetailVisible() {
        guard let document = detail.document, document.lineCount > 0 else { return }
        let rows = layout.detailRows
        // A fold may have just hidden the top line: the pane starts at the fold then.
        detail.top = document.visibleAncestor(detail.top, folds: detail.folds)
        if detail.cursor < detail.top {
            detail.top = detail.cursor
        } else if document.distance(from: detail.top, to: detail.cursor, folds: detail.folds, limit: rows - 1) == nil {
            detail.top = document.move(detail.cursor, by: -(rows - 1), folds: detail.folds)
        }
    }

    mutating func moveCursor(by delta: Int) {
        guard let document = detail.document else { return }
        detail.cursor = document.move(detail.cursor, by: delta, folds: detail.folds)
        ensureDetailVisible()
    }

    mutating func pageDetail(by pages: Int) {
        guard let document = detail.document else { return }
        let rows = max(1, layout.detailRows - 1)
        detail.cursor = document.move(detail.cursor, by: pages * rows, folds: detail.folds)
        detail.top = document.move(detail.top, by: pages * rows, folds: detail.folds)
        ensureDetailVisible()
    }

    mutating func cursorToEnd(_ end: Bool) {
        guard let document = detail.document else { return }
        detail.cursor = end ? document.lastVisible(folds: detail.folds) : 0
        ensureDetailVisible()
    }

    // MARK: - Folding

    /// Enter/Space: folds or unfolds the container at the cursor (on a member, its
    /// parent folds and the cursor moves to it).
    mutating func toggleFold() {
        guard let json = detail.document?.json, json.lineCount > 0 else { return }
        var line = detail.cursor
        if json.isClose(line), let open = json.partner(line) { line = open }
        if json.isOpen(line) {
            if detail.folds.contains(line) { detail.folds.remove(line) } else { detail.folds.insert(line) }
        } else if let parent = json.parent(line) {
            detail.folds.insert(parent)
            line = parent
        } else {
            return
        }
        detail.cursor = line
        ensureDetailVisible()
    }

    /// `z`: folds every container beside the cursor (the members of its parent).
    mutating func foldSiblings() {
        guard let json = detail.document?.json, json.lineCount > 0 else { return }
        let container = (detail.cursor == 0 && json.isOpen(0)) ? 0 : (json.parent(detail.cursor) ?? 0)
        guard json.isOpen(container), let end = json.partner(container) else { return }
        detail.folds.reserveCapacity(detail.folds.count + json.memberCount(container))
        var line = container + 1
        while line < end {
            if json.isOpen(line) {
                detail.folds.insert(line)
                line = (json.partner(line) ?? line) + 1
            } else {
                line += 1
            }
        }
        detail.cursor = detail.document!.visibleAncestor(detail.cursor, folds: detail.folds)
        ensureDetailVisible()
    }

    mutating func unfoldAll() {
        detail.folds = []
        ensureDetailVisible()
    }

    // MARK: - Search

    mutating func startSearch(forward: Bool, _ commands: inout [Command]) {
        guard !detail.searchTerm.isEmpty else {
            setStatus("No search yet: press / in the JSON pane to search.")
            return
        }
        guard let document = detail.document else { return }
        let id = newRequestID()
        detail.searchRequest = id
        if document.lineCount > 100_000 { setStatus("Searching \(Format.thousands(document.lineCount)) lines for \(quoted(detail.searchTerm))…") }
        commands.append(.search(SearchRequest(id: id, document: document, term: detail.searchTerm,
                                              from: detail.cursor, forward: forward)))
    }

    mutating func searchFinished(_ requestID: Int, _ line: Int?) {
        guard requestID == detail.searchRequest else { return }
        detail.searchRequest = nil
        if status?.text.hasPrefix("Searching") == true { status = nil }
        guard let line else {
            setStatus("No match for \(quoted(detail.searchTerm)).", error: true)
            return
        }
        if let json = detail.document?.json {
            for ancestor in json.ancestors(line) { detail.folds.remove(ancestor) }
        }
        detail.cursor = line
        let rows = layout.detailRows
        if let document = detail.document,
           document.distance(from: detail.top, to: line, folds: detail.folds, limit: rows - 1) == nil {
            detail.top = document.move(line, by: -(rows / 3), folds: detail.folds)
        }
        ensureDetailVisible()
    }

    // MARK: - Copy (OSC 52)

    static let clipboardLimit = 1_000_000

    mutating func copy(path: Bool, _ commands: inout [Command]) {
        let text: String
        let description: String
        switch focus {
        case .list:
            guard let row = list.selectedRow else { return }
            text = row.stateID
            description = "state ID \(quoted(TextWidth.truncated(row.stateID, toWidth: 40)))"
        case .locks where settings.showsRuns:
            guard let run = locks.selectedRun else { return }
            let runID = run.runID ?? String(run.id)
            text = path ? run.jobName : runID
            description = path ? "state ID \(quoted(run.jobName))" : run.runID != nil ? "run_id \(runID)" : "run id \(runID)"
        case .locks:
            guard let lock = locks.selectedRow else { return }
            text = path ? lock.stateID : lock.lockID
            description = path ? "state ID \(quoted(lock.stateID))" : "lock ID \(lock.lockID)"
        case .detail:
            guard let document = detail.document, document.lineCount > 0 else { return }
            switch document {
            case let .json(json):
                if path {
                    text = json.path(detail.cursor)
                    description = "path \(TextWidth.truncated(text, toWidth: 40))"
                } else {
                    text = json.valueText(detail.cursor)
                    description = "the value at \(TextWidth.truncated(json.path(detail.cursor), toWidth: 40)) (\(text.utf8.count) bytes)"
                }
            case let .raw(raw):
                // Sized before it is joined: a 100 MB text is not built just to refuse it.
                if raw.textByteCount > Model.clipboardLimit {
                    setStatus("Not copied: the raw text (\(raw.textByteCount) bytes) is over 1 MB, more than terminals accept over OSC 52.", error: true)
                    return
                }
                text = raw.allText
                description = "the raw text (\(text.utf8.count) bytes)"
            }
        }
        if text.utf8.count > Model.clipboardLimit {
            setStatus("Not copied: \(description) is over 1 MB, more than terminals accept over OSC 52.", error: true)
            return
        }
        commands.append(.copyToClipboard(text: text, description: description))
    }
}
