import StateJSON

/// The bookmarks of a state ID, line by line, as `bookmarks` and the browser's
/// Bookmarks view show them: the value the next run starts from (the merged view),
/// its age when it is a time, and progress that is newer than the finished runs'.
public struct BookmarkReport: Sendable {
    public struct Line: Sendable {
        public let bookmark: StreamBookmark
        /// Seconds between the value (a time) and `now`; nil when it is not a time.
        public let ageSeconds: Double?
        /// The value in the partial part (an unfinished run) when it differs from the
        /// completed part's: it is the one the next run uses.
        public let partialValue: JSONValue?
        /// The completed part's value, when `partialValue` is set.
        public let completedValue: JSONValue?

        /// The note for the last column: where newer progress is, or nothing.
        public var progressNote: String {
            var notes: [String] = []
            if let partialValue {
                notes.append("partial state \(partialValue.meltanoText) (completed: \(completedValue?.meltanoText ?? "none"))")
            }
            if let marker = bookmark.progressMarkerValue, !(bookmark.value.map { marker.isEquivalent(to: $0) } ?? false) {
                notes.append("progress_markers \(marker.meltanoText)")
            }
            return notes.joined(separator: "; ")
        }
    }

    public let stateID: String
    public let currentlySyncing: JSONValue?
    /// Why there are no lines, when the state has no bookmarks object.
    public let problem: String?
    private let merged: Streams
    /// The partial part's lines by stream (it is small: what one run left).
    private let partialRows: [JSONString: [StreamBookmark]]
    private let completed: CompletedRows?
    private let now: Double

    /// The completed part's lines, looked up by stream (only for streams the partial
    /// part has a value in).
    enum CompletedRows: Sendable {
        case tree([JSONString: [StreamBookmark]])
        case tape(SingerStateStreams)

        init(_ state: SingerState) { self = .tree(Dictionary(grouping: state.streams, by: \.stream)) }

        func rows(of stream: JSONString) -> [StreamBookmark] {
            switch self {
            case let .tree(byStream): return byStream[stream] ?? []
            case let .tape(streams): return streams.rows(of: stream)
            }
        }
    }

    /// Where a state's lines come from: the rows of its tree, or its tape read stream
    /// by stream.
    enum Streams: Sendable {
        case tree(SingerState)
        case tape(SingerStateStreams)

        func forEachStream(_ body: ([StreamBookmark]) throws -> Void) rethrows {
            switch self {
            case let .tree(state):
                var k = 0
                while k < state.streams.count {
                    var end = k + 1
                    while end < state.streams.count && state.streams[end].stream == state.streams[k].stream { end += 1 }
                    try body(Array(state.streams[k..<end]))
                    k = end
                }
            case let .tape(streams):
                try streams.forEachStream(body)
            }
        }
    }

    /// The report of a state: `merged` is what the next run uses, `partial` and
    /// `completed` the two stored parts (to tell where the value comes from).
    public init(stateID: String, merged: JSONValue, partial: JSONValue?, completed: JSONValue?, now: Double) {
        let model = SingerState(merged)
        self.init(stateID: stateID, merged: .tree(model), currentlySyncing: model.currentlySyncing, problem: model.problem,
                  partial: partial.map(SingerState.init), completed: completed.map { CompletedRows(SingerState($0)) }, now: now)
    }

    private init(stateID: String, merged: Streams, currentlySyncing: JSONValue?, problem: String?, partial: SingerState?,
                 completed: CompletedRows?, now: Double) {
        self.stateID = stateID
        self.merged = merged
        self.currentlySyncing = currentlySyncing
        self.problem = problem
        partialRows = Dictionary(grouping: partial?.streams ?? [], by: \.stream)
        self.completed = completed
        self.now = now
    }

    /// The report of a stored row (its parts must parse and merge).
    public init(record: StateRecord, now: Double) throws {
        let merged = try record.merged.get()
        self.init(stateID: record.stateID, merged: merged, partial: record.partial.value, completed: record.completed.value, now: now)
    }

    /// The report of a row's stored texts (`StateStore.readStoredBytes`), read as tapes
    /// where they can be: the merged view's streams are then read one at a time, and a
    /// 100 MB state is never a tree. Throws what `StateRecord.merged` fails with.
    public init(stateID: String, stored: StoredBytes, now: Double) throws {
        guard let state = MergedState(stored) else {
            // Not JSON, or parts that do not merge: the record's words for it.
            func part(_ bytes: [UInt8]?) -> StatePart { StatePart(raw: bytes.map { String(decoding: $0, as: UTF8.self) }) }
            let partial = part(stored.partial), completed = part(stored.completed)
            let merged = try StateRecord.merged(stateID: stateID, partial: partial, completed: completed).get()
            self.init(stateID: stateID, merged: merged, partial: partial.value, completed: completed.value, now: now)
            return
        }
        guard case let .text(document) = state.form, let tape = try? JSONTape(bytes: document.bytes) else {
            // A key repeats in the completed text: its tree decides, as in Python.
            self.init(stateID: stateID, merged: state.value, partial: try? MergedState.part(stored.partial).get(),
                      completed: try? stored.completed.withRawBytes(MergedState.part).get(), now: now)
            return
        }
        let streams = SingerStateStreams(tape)
        let partial = try? MergedState.part(stored.partial).get()
        // The completed part is looked at only for the streams the partial part has.
        var completed: CompletedRows? = nil
        let partialModel = partial.map(SingerState.init)
        if let partialModel, !partialModel.streams.isEmpty {
            if let bytes = stored.completed, let completedTape = try? JSONTape(bytes: bytes) {
                completed = .tape(SingerStateStreams(completedTape, indexed: partialModel.streams.count > 16))
            } else if case let .success(value) = stored.completed.withRawBytes(MergedState.part) {
                completed = CompletedRows(SingerState(value))
            }
        }
        self.init(stateID: stateID, merged: .tape(streams), currentlySyncing: streams.currentlySyncing, problem: streams.problem,
                  partial: partialModel, completed: completed, now: now)
    }

    /// Hands `body` each line, in order, built as it is handed out.
    public func forEachLine(_ body: (Line) throws -> Void) rethrows {
        try merged.forEachStream { rows in
            // The completed part's lines of this stream, read once when a line asks (a
            // stream of 20 000 partitions is then not built again for each of them).
            var completedRows: [StreamBookmark]? = nil
            for row in rows { try body(line(row, &completedRows)) }
        }
    }

    /// Every line (`forEachLine`, collected).
    public var lines: [Line] {
        var lines: [Line] = []
        forEachLine { lines.append($0) }
        return lines
    }

    private func line(_ row: StreamBookmark, _ completedRows: inout [StreamBookmark]?) -> Line {
        var partialValue: JSONValue? = nil, completedValue: JSONValue? = nil
        if let inPartial = partialRows[row.stream]?.first(where: { SingerState.samePartition($0.partition, row.partition) })?.value {
            if completedRows == nil { completedRows = completed?.rows(of: row.stream) ?? [] }
            let inCompleted = completedRows?.first { SingerState.samePartition($0.partition, row.partition) }?.value
            if !(inCompleted.map { inPartial.isEquivalent(to: $0) } ?? false) {
                partialValue = inPartial
                completedValue = inCompleted
            }
        }
        return Line(bookmark: row, ageSeconds: row.value.flatMap { bookmarkAge($0, now: now) },
                    partialValue: partialValue, completedValue: completedValue)
    }

    /// The table's header: STREAM, [PARTITION,] KEY, VALUE, AGE, NEWER PROGRESS.
    public static func header(partitions: Bool) -> [String] {
        ["STREAM"] + (partitions ? ["PARTITION"] : []) + ["KEY", "VALUE", "AGE", "NEWER PROGRESS"]
    }

    /// A line's cells under `header(partitions:)`. Texts are as stored: the caller
    /// escapes them for a terminal.
    public static func cells(_ line: Line, partitions: Bool) -> [String] {
        let b = line.bookmark
        var row = [b.stream.text]
        if partitions { row.append(b.partition.map(\.meltanoText) ?? "") }
        row.append(b.replicationKey?.text ?? "")
        if let value = b.value {
            row.append(value.stringValue?.text ?? value.meltanoText)
        } else {
            row.append(b.shape == .unknown ? "(\(b.bookmark.meltanoText))" : "-")
        }
        row.append(line.ageSeconds.map(formatAge) ?? "")
        row.append(line.progressNote)
        return row
    }

    /// The table's cells, the header first (a PARTITION column when a line is a
    /// partition).
    public var cells: [[String]] { Self.cells(of: lines) }

    /// The cells of lines already made (`lines`, which builds them anew each time).
    public static func cells(of lines: [Line]) -> [[String]] {
        let partitions = lines.contains { $0.bookmark.partition != nil }
        return [header(partitions: partitions)] + lines.map { cells($0, partitions: partitions) }
    }

    /// `bookmarks --json`: one object, stable keys, every line's bookmark as stored,
    /// handed to `write` in pieces (a line at a time) that make its `json.dumps` text.
    public func writeJSON(_ write: (String) throws -> Void) rethrows {
        var top = JSONObject()
        top["state_id"] = .string(JSONString(stateID))
        top["currently_syncing"] = currentlySyncing ?? .null
        top["problem"] = problem.map { .string(JSONString($0)) } ?? .null
        top["streams"] = .array([])
        // `{…, "streams": []}` without its `]}`: the lines go between.
        let opening = JSONValue.object(top).meltanoText
        assert(opening.hasSuffix(", \"streams\": []}"), "the opening is json.dumps of the object")
        try write(String(opening.dropLast(2)))
        var first = true
        try forEachLine { line in
            try write((first ? "" : ", ") + Self.json(line).meltanoText)
            first = false
        }
        try write("]}")
    }

    /// The whole `--json` text.
    public var jsonText: String {
        var text = ""
        writeJSON { text += $0 }
        return text
    }

    static func json(_ line: Line) -> JSONValue {
        let b = line.bookmark
        var o = JSONObject()
        o["stream"] = .string(b.stream)
        o["partition"] = b.partition ?? .null
        o["shape"] = .string(JSONString(b.shape.rawValue))
        o["replication_key"] = b.replicationKey.map(JSONValue.string) ?? .null
        o["value_key"] = b.valueKey.map(JSONValue.string) ?? .null
        o["value"] = b.value ?? .null
        o["value_type"] = b.valueKind.map { .string(JSONString($0.name)) } ?? .null
        o["age_seconds"] = line.ageSeconds.map { .number(JSONNumber(($0 * 1000).rounded() / 1000)) } ?? .null
        o["partial_value"] = line.partialValue ?? .null
        o["completed_value"] = line.completedValue ?? .null
        o["progress_marker_value"] = b.progressMarkerValue ?? .null
        o["bookmark"] = b.bookmark
        return .object(o)
    }
}
