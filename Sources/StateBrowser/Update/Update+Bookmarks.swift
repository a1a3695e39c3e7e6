import StateJSON
import StateStore

/// The Bookmarks view (`b`): the streams of the state shown, and from there the two
/// on-call edits, rewind (`r`) and reset-stream (`x`). Each ends in the same diff and
/// confirmation as `e`, and is written as `e` writes (Meltano's lock, the journal,
/// only if the state is still what the view read).
extension Model {
    mutating func openBookmarks() {
        // The view is read from the state shown; in the locks pane, only the highlighted
        // lock's own state will do.
        if focus == .locks {
            guard let id = targetStateID(for: "show the bookmarks of") else { return }
            guard sameText(id, detail.stateID) else {
                setStatus("b shows the bookmarks of the state shown: press Enter to open \(quoted(id)) first.", error: true)
                return
            }
        }
        // Just after a write (or a refresh) the shown state is being read again: a view
        // of the old one would only lead to a change refused as "changed meanwhile".
        if detail.loadingRequest != nil, detail.loaded != nil {
            setStatus("Reading the state again; press b once it is shown.", error: true)
            return
        }
        guard let state = detail.loaded, state.exists, sameText(state.stateID, detail.stateID) else {
            setStatus("No state is shown: open one (Enter) to see its bookmarks.", error: true)
            return
        }
        if let problem = state.mergedProblem {
            setStatus("No bookmarks to show: \(problem)", error: true)
            return
        }
        let partial: JSONValue?, completed: JSONValue?, merged: JSONValue
        do {
            partial = try state.partialRaw.map { try JSONParser.parse($0) }
            completed = try state.completedRaw.map { try JSONParser.parse($0) }
            if let text = state.mergedText {
                merged = try JSONParser.parse(text)
            } else {
                merged = try deepMerge(partial ?? .object(JSONObject()), onto: completed ?? .object(JSONObject()))
            }
        } catch {
            setStatus("No bookmarks to show: the state cannot be read as Meltano reads it (\(error)).", error: true)
            return
        }
        let report = BookmarkReport(stateID: state.stateID, merged: merged, partial: partial, completed: completed, now: now)
        let lines = report.lines  // made once: both the cells and the targets come from them
        mode = .bookmarks(BookmarksView(
            stateID: state.stateID, merged: merged.meltanoText, cells: BookmarkReport.cells(of: lines),
            targets: lines.map { BookmarksView.Target(stream: $0.bookmark.stream.text, partition: $0.bookmark.partition?.meltanoText) },
            currentlySyncing: report.currentlySyncing.flatMap { $0.isNull ? nil : ($0.stringValue?.text ?? $0.meltanoText) },
            problem: report.problem))
    }

    mutating func bookmarksKey(_ key: Key, _ view: BookmarksView, _ commands: inout [Command]) {
        var view = view
        if var input = view.input {
            switch key {
            case .escape: view.input = nil
            case .enter:
                rewind(view, input.text)
                return
            default:
                guard input.apply(key) else { return }
                view.input = input
            }
            mode = .bookmarks(view)
            return
        }
        let visible = max(1, size.height - 10)
        switch key {
        case .up, .character("k"): view.selected = max(0, view.selected - 1)
        case .down, .character("j"): view.selected = min(max(0, view.targets.count - 1), view.selected + 1)
        case .character("r"):
            guard !view.targets.isEmpty else { return }
            requireWritable("Rewinding") { _ in view.input = LineInput() }
        case .character("x"):
            guard view.targets.indices.contains(view.selected) else { return }
            requireWritable("Resetting a stream") { $0.resetStream(view) }
            return
        case .escape, .character("q"), .character("b"):
            mode = .browse
            return
        default:
            return
        }
        if view.selected < view.top { view.top = view.selected }
        if view.selected >= view.top + visible { view.top = view.selected - visible + 1 }
        mode = .bookmarks(view)
    }

    /// `input`: "-3d" / "-1000" moves back by that much; anything else is the new value.
    mutating func rewind(_ view: BookmarksView, _ input: String) {
        let target = view.targets[view.selected]
        let text = String(input.drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
        let move: BookmarkMove = text.hasPrefix("-") ? .by(String(text.dropFirst())) : .value(text)
        do {
            let merged = try JSONParser.parse(view.merged)
            let partition = try target.partition.map { try JSONParser.parse($0) }
            let edit = try SingerState.rewind(merged, stream: target.stream, partition: partition, move)
            if edit.new.isEquivalent(to: edit.old) {
                mode = .bookmarks(view)
                setStatus("The bookmark is already \(edit.old.meltanoText): nothing to change.")
                return
            }
            showBookmarkDiff(view, merged: merged, edited: edit.state, verb: "rewind", note: edit.note)
        } catch let error as BookmarkError {
            mode = .bookmarks(view)  // the input stays, to be fixed
            setStatus(error.message, error: true)
        } catch {
            mode = .bookmarks(view)
            setStatus("\(error)", error: true)
        }
    }

    mutating func resetStream(_ view: BookmarksView) {
        let target = view.targets[view.selected]
        do {
            let merged = try JSONParser.parse(view.merged)
            let edited = try SingerState.removingStream(merged, stream: target.stream).state
            showBookmarkDiff(view, merged: merged, edited: edited, verb: "reset-stream", note: SingerState.resetNote(stream: target.stream))
        } catch {
            mode = .bookmarks(view)
            setStatus("\(error)", error: true)
        }
    }

    /// The same diff and confirmation as `e`; `y` writes the bookmark action.
    mutating func showBookmarkDiff(_ view: BookmarksView, merged: JSONValue, edited: JSONValue, verb: String, note: String) {
        let old = merged.prettyText(indent: 2) + "\n", new = edited.prettyText(indent: 2) + "\n"
        let action = WriteAction.bookmark(stateID: view.stateID, verb: verb, original: view.merged, text: edited.meltanoText, note: note)
        mode = .diff(DiffView(session: EditSession(stateID: view.stateID, original: old, text: new), newText: new,
                              lines: Diff.lines(old: old, new: new), action: action))
    }
}
