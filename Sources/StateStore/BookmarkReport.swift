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
    public let lines: [Line]
    /// Why there are no lines, when the state has no bookmarks object.
    public let problem: String?

    /// The report of a state: `merged` is what the next run uses, `partial` and
    /// `completed` the two stored parts (to tell where the value comes from).
    public init(stateID: String, merged: JSONValue, partial: JSONValue?, completed: JSONValue?, now: Double) {
        self.stateID = stateID
        let model = SingerState(merged)
        let partialModel = partial.map(SingerState.init), completedModel = completed.map(SingerState.init)
        currentlySyncing = model.currentlySyncing
        problem = model.problem
        lines = model.streams.map { row in
            var partialValue: JSONValue? = nil, completedValue: JSONValue? = nil
            if let inPartial = partialModel?.find(stream: row.stream, partition: row.partition)?.value {
                let inCompleted = completedModel?.find(stream: row.stream, partition: row.partition)?.value
                if !(inCompleted.map { inPartial.isEquivalent(to: $0) } ?? false) {
                    partialValue = inPartial
                    completedValue = inCompleted
                }
            }
            return Line(bookmark: row, ageSeconds: row.value.flatMap { bookmarkAge($0, now: now) },
                        partialValue: partialValue, completedValue: completedValue)
        }
    }

    /// The report of a stored row (its parts must parse and merge).
    public init(record: StateRecord, now: Double) throws {
        let merged = try record.merged.get()
        self.init(stateID: record.stateID, merged: merged, partial: record.partial.value, completed: record.completed.value, now: now)
    }

    /// Whether any line is a partition (the table then has a PARTITION column).
    public var hasPartitions: Bool { lines.contains { $0.bookmark.partition != nil } }

    /// The table's cells, the header first: STREAM, [PARTITION,] KEY, VALUE, AGE, NEWER PROGRESS.
    /// Texts are as stored: the caller escapes them for a terminal.
    public var cells: [[String]] {
        let partitions = hasPartitions
        var rows: [[String]] = [["STREAM"] + (partitions ? ["PARTITION"] : []) + ["KEY", "VALUE", "AGE", "NEWER PROGRESS"]]
        for line in lines {
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
            rows.append(row)
        }
        return rows
    }

    /// `bookmarks --json`: one object, stable keys, every line's bookmark as stored.
    public var json: JSONValue {
        var top = JSONObject()
        top["state_id"] = .string(JSONString(stateID))
        top["currently_syncing"] = currentlySyncing ?? .null
        top["problem"] = problem.map { .string(JSONString($0)) } ?? .null
        top["streams"] = .array(lines.map { line in
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
        })
        return .object(top)
    }
}
