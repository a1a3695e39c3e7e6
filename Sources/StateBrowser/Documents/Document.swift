import Foundation
import StateJSON
import StateStore

/// What the right pane shows: a JSON layout (foldable) or wrapped raw text.
public enum Document: Sendable {
    case json(JSONDocument)
    case raw(RawDocument)

    public var lineCount: Int {
        switch self {
        case let .json(document): return document.lineCount
        case let .raw(document): return document.rowCount
        }
    }

    public var json: JSONDocument? {
        if case let .json(document) = self { return document }
        return nil
    }

    public var raw: RawDocument? {
        if case let .raw(document) = self { return document }
        return nil
    }

    // MARK: - Walking visible lines (folded containers hide their members)

    /// The line after `line` on screen, or nil at the end.
    public func nextVisible(_ line: Int, folds: Set<Int>) -> Int? {
        var next = line + 1
        if case let .json(document) = self, folds.contains(line), let close = document.partner(line) { next = close + 1 }
        return next < lineCount ? next : nil
    }

    /// The line before `line` on screen, or nil at the start.
    public func previousVisible(_ line: Int, folds: Set<Int>) -> Int? {
        guard line > 0 else { return nil }
        return visibleAncestor(line - 1, folds: folds)
    }

    /// The line itself, or the outermost folded container hiding it: its chain of
    /// parents is walked (a close line's own open line first), so the cost is its
    /// depth, whatever the number of folds (`z` in a big object folds every member).
    public func visibleAncestor(_ line: Int, folds: Set<Int>) -> Int {
        guard case let .json(document) = self, !folds.isEmpty else { return line }
        var result = line
        var container = document.parent(line)
        if document.isClose(line), let open = document.partner(line) {
            if folds.contains(open) { result = open }
            container = document.parent(open)
        }
        while let open = container {
            if folds.contains(open) { result = open }
            container = document.parent(open)
        }
        return result
    }

    public func lastVisible(folds: Set<Int>) -> Int {
        lineCount == 0 ? 0 : visibleAncestor(lineCount - 1, folds: folds)
    }

    /// Moves `count` visible lines from `line` (negative: up), stopping at the ends.
    public func move(_ line: Int, by count: Int, folds: Set<Int>) -> Int {
        var current = line
        if count > 0 {
            for _ in 0..<count {
                guard let next = nextVisible(current, folds: folds) else { break }
                current = next
            }
        } else {
            for _ in 0..<(-count) {
                guard let previous = previousVisible(current, folds: folds) else { break }
                current = previous
            }
        }
        return current
    }

    /// Visible lines from `from` to `to` (0 when `to` is before `from`), stopping after `limit`.
    public func distance(from: Int, to: Int, folds: Set<Int>, limit: Int) -> Int? {
        if to < from { return nil }
        var current = from
        var count = 0
        while current < to {
            guard let next = nextVisible(current, folds: folds) else { return nil }
            current = next
            count += 1
            if count > limit { return nil }
        }
        return current == to ? count : nil
    }

    // MARK: - Drawing and searching

    public func runs(_ line: Int, folds: Set<Int>, columns: Int, theme: Theme) -> [Run] {
        switch self {
        case let .json(document): return document.runs(line, folded: folds.contains(line), columns: columns, theme: theme)
        case let .raw(document): return document.runs(line, theme: theme)
        }
    }

    public func searchText(_ line: Int) -> String {
        switch self {
        case let .json(document): return document.searchText(line)
        case let .raw(document): return document.rowText(line)
        }
    }
}

/// Work that needs no database and may take long on big states: laying a state out
/// and searching it. The runner calls these on a background queue; tests call them
/// directly.
public enum LocalWork {
    /// The document for one view of a state. Text that is not JSON becomes a raw
    /// document with the parse error in words and its position marked.
    public static func document(for state: LoadedState, mode: ViewMode, wrapWidth: Int) -> Document {
        let theme = Theme.standard
        func title(_ name: String, _ text: String?) -> [Run] {
            let size = text.map { "\($0.utf8.count) bytes" } ?? "NULL"
            return [Run(name, theme.label), Run("  (\(size))", theme.age)]
        }
        func section(_ name: String, _ text: String?) -> RawDocument.Section {
            guard let text else { return RawDocument.Section(title: title(name, nil), text: nil) }
            guard let error = JSONDocument.validate(text) else { return RawDocument.Section(title: title(name, text), text: text) }
            return RawDocument.Section(title: title(name, text), text: text, errorOffset: error.offset,
                                       notes: [errorNote(error, in: text, theme: theme)])
        }
        func jsonOrRaw(_ name: String, _ text: String?) -> Document {
            guard let text else {
                return .raw(RawDocument(sections: [RawDocument.Section(
                    title: title(name, nil), text: nil,
                    notes: [[Run("The column is NULL: this part of the state is empty ({}).", theme.folded)]])], wrapWidth: wrapWidth))
            }
            do { return .json(try layout(text)) } catch let error as JSONTextError {
                return .raw(RawDocument(sections: [RawDocument.Section(title: title(name, text), text: text, errorOffset: error.offset,
                                                                       notes: [errorNote(error, in: text, theme: theme)])],
                                        wrapWidth: wrapWidth))
            } catch {
                return .raw(RawDocument(sections: [section(name, text)], wrapWidth: wrapWidth))
            }
        }
        /// The completed text's layout made while it was read, else a new one.
        func layout(_ text: String) throws -> JSONDocument {
            if let made = state.completedLayout, made.text == text { return made }
            return try JSONDocument(text: text)
        }
        if !state.exists {
            return .raw(RawDocument(sections: [RawDocument.Section(
                title: [Run("No row", theme.label)], text: nil,
                notes: [[Run("There is no state stored for this ID (it was cleared since the list was loaded).", theme.folded)]])],
                wrapWidth: wrapWidth))
        }
        switch mode {
        case .merged:
            var problem = state.mergedProblem
            var mergedText = state.mergedText
            if mergedText == nil, problem == nil, state.partialRaw != nil {
                // A partial state: merged now, off the UI thread, as Meltano merges it.
                switch TextMerge.mergedText(stateID: state.stateID, partial: state.partialRaw, completed: state.completedRaw, layOut: layout) {
                case let .success(text): mergedText = text
                case let .failure(error): problem = error.description
                }
            }
            if let merged = mergedText {
                do {
                    let document = try layout(merged)
                    if let tooDeep = nestingProblem(document.nesting) { problem = tooDeep } else { return .json(document) }
                } catch let error as JSONTextError where state.mergedIsCompleted {
                    // Meltano reads the completed state as it is: not JSON, no merged view.
                    let (line, column) = error.lineAndColumn(in: merged)
                    problem = StoreError.unreadableState(stateID: state.stateID, part: "completed",
                                                         error: "\(error.message): line \(line), column \(column)").description
                } catch {}
            }
            // No merged view: say why, then both columns with their errors marked.
            let why = oneLine(problem ?? "The merged view cannot be computed.")
            let sections = [section("completed_state", state.completedRaw), section("partial_state", state.partialRaw)]
            return .raw(RawDocument(sections: sections, wrapWidth: wrapWidth,
                                    preamble: [[Run("✗ No merged view: ", theme.error), Run(why, theme.error)]]))
        case .completed:
            return jsonOrRaw("completed_state", state.completedRaw)
        case .partial:
            return jsonOrRaw("partial_state", state.partialRaw)
        case .raw:
            return .raw(RawDocument(sections: [section("completed_state", state.completedRaw),
                                               section("partial_state", state.partialRaw)], wrapWidth: wrapWidth))
        }
    }

    /// A multi-line error as one line: an excerpt with a caret under it (the parser's
    /// way of pointing) is dropped, since the raw text below marks the position.
    static func oneLine(_ text: String) -> String {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var kept: [String] = []
        for (index, line) in lines.enumerated() {
            let isCaret = line.trimmingCharacters(in: .whitespaces).hasPrefix("^")
            let beforeCaret = index + 1 < lines.count && lines[index + 1].trimmingCharacters(in: .whitespaces).hasPrefix("^")
            if isCaret {
                let rest = line.trimmingCharacters(in: .whitespaces).dropFirst()
                if !rest.isEmpty { kept.append(String(rest)) }
                continue
            }
            if beforeCaret { continue }
            kept.append(line)
        }
        return kept.joined(separator: " ").replacingOccurrences(of: " )", with: ")")
    }

    /// Python's json (so Meltano) gives up on arrays and objects nested deeper than
    /// this; the store's parser refuses them too, so there is no merged view.
    static func nestingProblem(_ nesting: Int) -> String? {
        guard nesting > JSONParser.maximumDepth else { return nil }
        return "The state nests arrays and objects \(nesting) levels deep, more than the \(JSONParser.maximumDepth) Meltano (Python's json) can read."
    }

    static func errorNote(_ error: JSONTextError, in text: String, theme: Theme) -> [Run] {
        let (line, column) = error.lineAndColumn(in: text)
        return [Run("✗ not JSON: ", theme.error),
                Run("\(error.message): line \(line), column \(column) (byte \(error.offset))", theme.error)]
    }

    /// What the editor's text is: its `//` lines at the top removed, then nothing
    /// (cancelled), not JSON (as the layout reports it, or as Meltano's parser does),
    /// unchanged as Meltano compares states (parsed, Python's `==`: key order, `1` and
    /// `1.0`, whitespace do not count), or a change with its diff.
    public static func checkEdit(_ session: EditSession, text: String) -> (body: String, EditCheck) {
        let body = Model.stripComments(text)
        if body.utf8.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }) { return (body, .empty) }
        if let error = JSONDocument.validate(body) {
            let (line, column) = error.lineAndColumn(in: body)
            return (body, .invalid(["meltano-state: this is not valid JSON, so nothing was written:",
                                    "\(error.message): line \(line), column \(column) of the JSON below."]))
        }
        let edited: JSONValue
        do { edited = try JSONParser.parse(body) } catch {
            return (body, .invalid(["meltano-state: Meltano could not read this JSON, so nothing was written:"]
                                   + Model.wrapComment(oneLine(error.description))))
        }
        if !session.unreadable, let original = try? JSONParser.parse(session.original), edited.isEquivalent(to: original) {
            return (body, .unchanged)
        }
        // Bytes, not Swift's `==`: a key respelled (é as one scalar or two) is a change.
        if session.unreadable, body.utf8.elementsEqual(session.original.utf8) { return (body, .unchanged) }
        return (body, .changed(Diff.lines(old: session.original, new: body)))
    }

    /// The next line (after `from`, or before it when `forward` is false) whose text
    /// contains `term`, wrapping around; case-insensitive unless the term has capitals.
    public static func search(_ document: Document, term: String, from: Int, forward: Bool) -> Int? {
        let count = document.lineCount
        guard count > 0, !term.isEmpty else { return nil }
        let caseSensitive = term != term.lowercased()
        let needle = caseSensitive ? term : term.lowercased()
        for step in 1...count {
            let line = ((forward ? from + step : from - step) % count + count) % count
            let text = document.searchText(line)
            if (caseSensitive ? text : text.lowercased()).contains(needle) { return line }
        }
        return nil
    }
}
