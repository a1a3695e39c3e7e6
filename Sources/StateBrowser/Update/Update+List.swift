import StateStore

/// The state ID list: a bounded window over a keyset-paged list. Pages are fetched
/// ahead of the selection and the far end is trimmed, so scrolling a million IDs end
/// to end keeps at most `maxRows` in memory.
extension Model {
    /// Starts the list again from an anchor (first page, last page, around an ID).
    mutating func reloadList(_ anchor: PageAnchor, counting: Bool, _ commands: inout [Command], anchorOffset: Int? = nil) {
        list.generation += 1
        list.reloading = true
        list.loadingNext = false
        list.loadingPrevious = false
        list.appliedGlob = list.glob
        pendingAnchorOffset = anchorOffset
        if case let .around(id, _) = anchor { reloadAnchorID = id } else { reloadAnchorID = list.selectedRow?.stateID }
        if counting { list.total = nil }
        list.countAfterPage = counting
        commands.append(.loadPage(PageRequest(id: newRequestID(), generation: list.generation, glob: list.glob,
                                              anchor: anchor, limit: settings.pageSize)))
    }

    mutating func pageLoaded(_ result: PageResult, _ commands: inout [Command]) {
        let request = result.request
        guard request.generation == list.generation else { return }
        let rows = result.rows
        let full = rows.count >= request.limit
        let previousSelection = list.selectedRow?.stateID
        list.error = nil
        if status?.text == Model.refreshingStatus { status = nil }  // done: not 8 s more of it
        list.rowsGlob = request.glob
        switch request.anchor {
        case .first:
            list.rows = rows
            list.atStart = true
            list.atEnd = !full
            list.offset = 0
            list.selected = 0
            list.top = 0
            list.reloading = false
        case .last:
            list.rows = rows
            list.atEnd = true
            list.atStart = !full
            list.offset = list.atStart ? 0 : list.total.map { max(0, $0 - rows.count) }
            list.selected = max(0, rows.count - 1)
            list.top = max(0, rows.count - layout.listRows)
            list.reloading = false
        case let .around(anchorID, _):
            list.rows = rows
            list.atStart = result.reachedStart
            list.atEnd = result.reachedEnd
            list.selected = min(result.anchorIndex, max(0, rows.count - 1))
            // Enter on a lock whose ID has no state row (a first run holding it): say so,
            // rather than land silently on a neighbour.
            if jumpTarget == anchorID, list.selectedRow?.stateID != anchorID {
                setStatus("\(quoted(anchorID)) has no state stored, only its lock: a first run still writing it, or one that died before writing.")
            }
            jumpTarget = nil
            list.offset = list.atStart ? 0 : pendingAnchorOffset.map { max(0, $0 - result.anchorIndex) }
            // Keep the selection where it was on screen when possible.
            list.top = max(0, list.selected - layout.listRows / 3)
            list.reloading = false
            // Where the window is in the whole list: guessed (a refresh) or unknown (a
            // jump) until the store says; "?" meanwhile.
            if !list.atStart, list.rows.indices.contains(list.selected) {
                commands.append(.locate(generation: list.generation, stateID: list.rows[list.selected].stateID, glob: list.appliedGlob))
            }
        case .after:
            guard list.loadingNext else { return }
            list.loadingNext = false
            list.rows += rows
            list.atEnd = !full
            trimFront()
        case .before:
            guard list.loadingPrevious else { return }
            list.loadingPrevious = false
            list.rows.insert(contentsOf: rows, at: 0)
            list.selected += rows.count
            list.top += rows.count
            list.offset = list.offset.map { max(0, $0 - rows.count) }
            list.atStart = !full
            trimBack()
        }
        list.loaded = true
        if list.countAfterPage {
            list.countAfterPage = false
            commands.append(.count(generation: list.generation, glob: list.appliedGlob))
        }
        fixOffset()
        keepUserSelection(request.anchor, previous: previousSelection)
        ensureListVisible()
        prefetch(&commands)
        selectionChanged(&commands)
    }

    /// The user moved while a reload ran (keys are never blocked): stay on the row
    /// they moved to when the new page has it, instead of jumping back.
    mutating func keepUserSelection(_ anchor: PageAnchor, previous: String?) {
        switch anchor {
        case .first, .around: break
        default: return
        }
        guard let previous, !sameText(previous, reloadAnchorID),
              let index = list.rows.firstIndex(where: { sameText($0.stateID, previous) }) else { return }
        let delta = index - list.selected
        list.selected = index
        list.top = max(0, list.top + delta)
    }

    /// Drops rows far above the selection once the window is over its size.
    mutating func trimFront() {
        let excess = list.rows.count - settings.maxRows
        let removable = min(excess, list.top - layout.listRows)
        guard removable > 0 else { return }
        list.rows.removeFirst(removable)
        list.selected -= removable
        list.top -= removable
        list.offset = list.offset.map { $0 + removable }
        list.atStart = false
    }

    mutating func trimBack() {
        let excess = list.rows.count - settings.maxRows
        let keep = list.top + 2 * layout.listRows
        let removable = min(excess, list.rows.count - keep)
        guard removable > 0 else { return }
        list.rows.removeLast(removable)
        list.atEnd = false
    }

    /// The store counted the IDs before one of the window's: the window's real place.
    mutating func located(_ generation: Int, _ stateID: String, _ position: Int) {
        guard generation == list.generation, let index = list.rows.firstIndex(where: { $0.stateID == stateID }) else { return }
        list.offset = max(0, position - index)
    }

    /// The position is known when the window touches either end of the list.
    mutating func fixOffset() {
        if list.atStart { list.offset = 0 }
        if list.offset == nil, list.atEnd, let total = list.total { list.offset = max(0, total - list.rows.count) }
    }

    /// Asks for the next or previous page when the selection nears the window's edge.
    mutating func prefetch(_ commands: inout [Command]) {
        guard !list.reloading else { return }
        let margin = 2 * layout.listRows
        if !list.atEnd, !list.loadingNext, let last = list.rows.last, list.selected + margin >= list.rows.count {
            list.loadingNext = true
            commands.append(.loadPage(PageRequest(id: newRequestID(), generation: list.generation, glob: list.appliedGlob,
                                                  anchor: .after(last.stateID), limit: settings.pageSize)))
        }
        if !list.atStart, !list.loadingPrevious, let first = list.rows.first, list.selected < margin {
            list.loadingPrevious = true
            commands.append(.loadPage(PageRequest(id: newRequestID(), generation: list.generation, glob: list.appliedGlob,
                                                  anchor: .before(first.stateID), limit: settings.pageSize)))
        }
    }

    mutating func ensureListVisible() {
        let rows = layout.listRows
        if list.selected < list.top { list.top = list.selected }
        if list.selected >= list.top + rows { list.top = list.selected - rows + 1 }
        list.top = max(0, min(list.top, max(0, list.rows.count - rows)))
    }

    /// Moves the selection; past the loaded window it waits at the edge for the page
    /// that `prefetch` asked for.
    mutating func moveSelection(by delta: Int, _ commands: inout [Command]) {
        guard !list.rows.isEmpty else { return }
        list.selected = max(0, min(list.rows.count - 1, list.selected + delta))
        ensureListVisible()
        prefetch(&commands)
        selectionChanged(&commands)
    }

    mutating func selectFirst(_ commands: inout [Command]) {
        if list.atStart {
            list.selected = 0
            ensureListVisible()
            prefetch(&commands)
            selectionChanged(&commands)
        } else {
            reloadList(.first, counting: false, &commands)
        }
    }

    mutating func selectLast(_ commands: inout [Command]) {
        if list.atEnd {
            list.selected = max(0, list.rows.count - 1)
            ensureListVisible()
            prefetch(&commands)
            selectionChanged(&commands)
        } else {
            reloadList(.last, counting: false, &commands)
        }
    }

    /// Shows a state ID in the list (from the locks pane), wherever it is.
    mutating func jump(to stateID: String, _ commands: inout [Command]) {
        jumpTarget = nil
        if let index = list.rows.firstIndex(where: { sameText($0.stateID, stateID) }) {
            list.selected = index
            ensureListVisible()
            prefetch(&commands)
            selectionChanged(&commands)
        } else {
            jumpTarget = stateID
            if list.glob != nil {
                // The locked ID may not match the filter: drop it so the ID shows.
                list.filter = ""
                reloadList(.around(stateID, context: layout.listRows / 3), counting: true, &commands)
            } else {
                reloadList(.around(stateID, context: layout.listRows / 3), counting: false, &commands)
            }
        }
        focus = .list
    }

    /// Loads the selected state when the selection moved to another ID.
    mutating func selectionChanged(_ commands: inout [Command]) {
        guard let row = list.selectedRow else {
            if list.loaded && !list.reloading && detail.stateID != nil {
                detail = DetailPane(mode: detail.mode, searchTerm: detail.searchTerm)
            }
            return
        }
        if !sameText(row.stateID, detail.stateID) {
            detail = DetailPane(stateID: row.stateID, mode: detail.mode, searchTerm: detail.searchTerm)
            reloadState(row.stateID, &commands)
        }
    }

    mutating func reloadState(_ stateID: String, _ commands: inout [Command]) {
        // A big state is let go before it is read again: the old text and layout and
        // the new read never take memory at the same time. (The cursor and folds stay.)
        if let loaded = detail.loaded, loaded.stateID == stateID, loaded.byteCount >= settings.bigStateBytes {
            detail.loaded = nil
            detail.documents = [:]
            detail.building = [:]
        }
        let id = newRequestID()
        detail.loadingRequest = id
        commands.append(.loadState(requestID: id, stateID: stateID))
    }
}

extension DetailPane {
    init(stateID: String? = nil, mode: ViewMode, searchTerm: String) {
        self.init()
        self.stateID = stateID
        self.mode = mode
        self.searchTerm = searchTerm
    }
}
