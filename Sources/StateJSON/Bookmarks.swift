// Singer state as taps write it, read stream by stream, and the two on-call edits
// (rewind a stream's bookmark, remove a stream's bookmark) that change nothing else.
//
// Shapes understood (Meltano wraps them as {"singer_state": {...}}; a bare one is read too):
// - singer-sdk: bookmarks.<stream>.{replication_key, replication_key_value,
//   starting_replication_value, progress_markers, partitions[{context, …the same keys}]};
// - pipelinewise: bookmarks.<stream>.{replication_key, replication_key_value, version,
//   last_replication_method}, or {lsn, version} for log-based replication;
// - legacy Singer taps: bookmarks.<stream>.{<replication key>: value};
// - currently_syncing.
// Anything else is listed as it is (shape "unknown") and never rewritten.

/// One line of the bookmarks table: a stream, or one partition of it.
public struct StreamBookmark: Sendable {
    public enum Shape: String, Sendable {
        case singerSDK = "singer-sdk"
        case pipelinewise
        case logBased = "log-based"
        case legacy
        case unknown
    }

    public let stream: JSONString
    /// The partition's `context` (singer-sdk partitions); nil for the stream itself.
    public let partition: JSONValue?
    public let shape: Shape
    /// The replication key's name, when the state says it.
    public let replicationKey: JSONString?
    /// The key in the bookmark object that holds the value (`replication_key_value`,
    /// `lsn`, or a legacy tap's own key); nil when none was recognised.
    public let valueKey: JSONString?
    /// The value the next run starts from (Meltano's merged view).
    public let value: JSONValue?
    /// singer-sdk's `progress_markers.replication_key_value`: progress of a run that did
    /// not finish the stream (the SDK discards it when the next sync of the stream starts).
    public let progressMarkerValue: JSONValue?
    /// The bookmark (or partition) object as stored.
    public let bookmark: JSONValue

    public var valueKind: BookmarkValueKind? { value.map(BookmarkValueKind.init) }
}

/// Why a state has no bookmarks to show: said, not guessed around.
public struct SingerState: Sendable {
    /// The state had the `singer_state` wrapper.
    public let wrapped: Bool
    public let currentlySyncing: JSONValue?
    public let streams: [StreamBookmark]
    /// Set when `bookmarks` is missing or not an object (then `streams` is empty).
    public let problem: String?

    public init(_ state: JSONValue) {
        let header = SingerStateHeader(TreeNodes(), state)
        wrapped = header.wrapped
        currentlySyncing = header.currentlySyncing
        problem = header.problem
        var rows: [StreamBookmark] = []
        if case let .object(byStream)? = header.bookmarks {
            for (stream, bookmark) in byStream.entries { rows += SingerState.rows(stream: stream, bookmark: bookmark) }
        }
        streams = rows
    }

    /// The lines of one stream: the stream itself, or its partitions (and the stream too
    /// when it has a value of its own beside them).
    static func rows(stream: JSONString, bookmark: JSONValue) -> [StreamBookmark] {
        let partitions = bookmark["partitions"]?.arrayValue
        let own = SingerState.read(stream: stream, partition: nil, bookmark)
        guard let partitions, !partitions.isEmpty else { return [own] }
        var rows: [StreamBookmark] = own.value != nil ? [own] : []
        for partition in partitions {
            rows.append(SingerState.read(stream: stream, partition: partition["context"] ?? .null, partition))
        }
        return rows
    }

    /// Keys that describe a bookmark rather than hold its position.
    static let metadataKeys: Set<JSONString> = [
        "version", "last_replication_method", "replication_key", "xmin", "initial_full_table_complete",
        "progress_markers", "starting_replication_value", "partitions", "context", "last_pk_fetched",
        "max_pk_values", "replication_key_signpost", "signpost", "is_sorted",
    ]

    static func read(stream: JSONString, partition: JSONValue?, _ bookmark: JSONValue) -> StreamBookmark {
        let progress = bookmark["progress_markers"]?["replication_key_value"]
        guard case let .object(b) = bookmark else {
            return StreamBookmark(stream: stream, partition: partition, shape: .unknown, replicationKey: nil, valueKey: nil,
                                  value: nil, progressMarkerValue: nil, bookmark: bookmark)
        }
        let key = b["replication_key"]?.stringValue
        let pipelinewise = b.contains(key: "version") || b.contains(key: "last_replication_method")
        func row(_ shape: StreamBookmark.Shape, _ replicationKey: JSONString?, _ valueKey: JSONString?) -> StreamBookmark {
            StreamBookmark(stream: stream, partition: partition, shape: shape, replicationKey: replicationKey, valueKey: valueKey,
                           value: valueKey.flatMap { b[$0] }, progressMarkerValue: progress, bookmark: bookmark)
        }
        if b.contains(key: "replication_key_value") {
            return row(pipelinewise ? .pipelinewise : .singerSDK, key, "replication_key_value")
        }
        if b.contains(key: "lsn") {
            return row(.logBased, "lsn", "lsn")
        }
        if let key, let value = b[key], SingerState.isPosition(value) {
            return row(.legacy, key, key)
        }
        let candidates = b.entries.filter { !metadataKeys.contains($0.key) && SingerState.isPosition($0.value) }
        if candidates.count == 1 {
            return row(.legacy, candidates[0].key, candidates[0].key)
        }
        if partition == nil, b.contains(key: "partitions") || b.contains(key: "replication_key") || b.contains(key: "progress_markers") {
            return row(.singerSDK, key, nil)
        }
        return row(.unknown, key, nil)
    }

    static func isPosition(_ value: JSONValue) -> Bool {
        switch value {
        case .string, .number: return true
        default: return false
        }
    }

    /// The row of `stream` (and `partition`, matched by Python's `==` on the context).
    public func find(stream: JSONString, partition: JSONValue?) -> StreamBookmark? {
        streams.first { $0.stream == stream && SingerState.samePartition($0.partition, partition) }
    }

    /// Whether two partitions are the same one: contexts compared by Python's `==`.
    public static func samePartition(_ a: JSONValue?, _ b: JSONValue?) -> Bool {
        switch (a, b) {
        case (nil, nil): return true
        case let (x?, y?): return x.isEquivalent(to: y)
        default: return false
        }
    }
}

// MARK: - Reading a tape

/// What the state's header says, read the same way from a tree and from a tape: the
/// Singer state inside Meltano's wrapper, `currently_syncing`, and the bookmarks object
/// (or why there is none).
struct SingerStateHeader<Reader: StateNodes> {
    let wrapped: Bool
    let currentlySyncing: JSONValue?
    let problem: String?
    /// The bookmarks object; nil when `problem` says why there is none.
    let bookmarks: Reader.Node?

    init(_ reader: Reader, _ root: Reader.Node) {
        // Meltano's wrapper, or a bare Singer state.
        var inner: Reader.Node? = nil
        if reader.isObject(root) {
            if let wrapped = reader.member(root, "singer_state") {
                self.wrapped = true
                if reader.isObject(wrapped) { inner = wrapped }
            } else {
                self.wrapped = false
                inner = root
            }
        } else {
            self.wrapped = false
        }
        currentlySyncing = inner.flatMap { reader.member($0, "currently_syncing") }.map(reader.value)
        guard let inner else {
            problem = wrapped ? "singer_state is not an object" : "the state is not an object"
            bookmarks = nil
            return
        }
        guard let bookmarks = reader.member(inner, "bookmarks") else {
            problem = "no bookmarks"
            self.bookmarks = nil
            return
        }
        guard reader.isObject(bookmarks) else {
            problem = "bookmarks is a \(reader.pythonTypeName(bookmarks)), not an object"
            self.bookmarks = nil
            return
        }
        problem = nil
        self.bookmarks = bookmarks
    }
}

/// What `SingerStateHeader` reads of a document.
protocol StateNodes {
    associatedtype Node
    func isObject(_ node: Node) -> Bool
    func member(_ node: Node, _ key: JSONString) -> Node?
    func pythonTypeName(_ node: Node) -> String
    func value(_ node: Node) -> JSONValue
}

struct TreeNodes: StateNodes {
    func isObject(_ node: JSONValue) -> Bool { node.isObject }
    func member(_ node: JSONValue, _ key: JSONString) -> JSONValue? { node.objectValue?[key] }
    func pythonTypeName(_ node: JSONValue) -> String { node.pythonTypeName }
    func value(_ node: JSONValue) -> JSONValue { node }
}

extension JSONTape: StateNodes {
    func isObject(_ node: Node) -> Bool { kind(node) == .object }
    func member(_ node: Node, _ key: JSONString) -> Node? { self[node, key: key] }
}

/// A state's bookmarks read from its tape: the same lines as `SingerState`, handed out
/// one stream at a time, each stream's bookmark built only while it is read. The lines
/// of a 100 MB state (900 000 streams) are then never all held.
public struct SingerStateStreams: Sendable {
    public let wrapped: Bool
    public let currentlySyncing: JSONValue?
    public let problem: String?
    private let tape: JSONTape
    private let bookmarks: JSONTape.Node?
    /// The bookmarks object (nil when `problem` says why there is none).
    public var bookmarksNode: JSONTape.Node? { bookmarks }
    /// The streams by name, for many lookups (`find`); without it each is a walk of the
    /// bookmarks' keys.
    private let index: [JSONString: JSONTape.Node]?

    /// `indexed` when many streams will be looked up by name.
    public init(_ tape: JSONTape, indexed: Bool = false) {
        let header = SingerStateHeader(tape, tape.root)
        wrapped = header.wrapped
        currentlySyncing = header.currentlySyncing
        problem = header.problem
        bookmarks = header.bookmarks
        self.tape = tape
        var index: [JSONString: JSONTape.Node]? = nil
        if indexed, let bookmarks = header.bookmarks {
            var byName: [JSONString: JSONTape.Node] = [:]
            tape.forEachMember(of: bookmarks) { byName[$0] = $1; return true }
            index = byName
        }
        self.index = index
    }

    /// Hands `body` the lines of each stream in order (as `SingerState.streams` lists them).
    public func forEachStream(_ body: (_ rows: [StreamBookmark]) throws -> Void) rethrows {
        guard let bookmarks else { return }
        try tape.forEachMember(of: bookmarks) { stream, bookmark in
            try body(SingerState.rows(stream: stream, bookmark: tape.value(bookmark)))
            return true
        }
    }

    /// The bookmark of `stream` in the tape, or nil when the state has none.
    public func node(of stream: JSONString) -> JSONTape.Node? {
        guard let bookmarks else { return nil }
        return index.map { $0[stream] } ?? tape[bookmarks, key: stream]
    }

    /// `SingerState.notFound`, from the tape: the header's problem, or the streams' names.
    func notFound(_ stream: String) -> BookmarkError {
        var names: [String] = []
        if problem == nil, let bookmarks { tape.forEachMember(of: bookmarks) { key, _ in names.append(key.text); return true } }
        return SingerState.notFound(stream, problem: problem, streams: names)
    }

    /// The lines of `stream` (none when the state has no such stream), built from its
    /// bookmark: a caller looking up several partitions asks once.
    public func rows(of stream: JSONString) -> [StreamBookmark] {
        // With an index, its answer (nil too: the stream is not there); else the walk.
        guard let node = node(of: stream) else { return [] }
        return SingerState.rows(stream: stream, bookmark: tape.value(node))
    }
}

// MARK: - Edits

/// A bookmark edit's result: the whole new state, and the value before and after.
public struct BookmarkEdit: Sendable {
    public let state: JSONValue
    public let stream: JSONString
    public let partition: JSONValue?
    public let valueKey: JSONString
    public let old: JSONValue
    public let new: JSONValue

    /// `replication_key_value "2026-11-30…" → "2026-11-27…"`.
    public var change: String { "\(valueKey.text) \(old.meltanoText) → \(new.meltanoText)" }
    /// The journal's note of a rewind: `stream [partition]: change`.
    public var note: String { "\(stream.text)\(partition.map { " " + $0.meltanoText } ?? ""): \(change)" }
}

extension SingerState {
    /// The journal's note of a reset-stream.
    public static func resetNote(stream: String) -> String { "removed bookmark of \(stream)" }
}

extension SingerState {
    /// `state` with the bookmark of `stream` (or its `partition`) moved, every other key
    /// and value (and their order) as it was. Refuses a value ahead of the current one
    /// unless `allowForward`, and shapes it does not know.
    public static func rewind(_ state: JSONValue, stream: String, partition: JSONValue?, _ move: BookmarkMove,
                              allowForward: Bool = false) throws(BookmarkError) -> BookmarkEdit {
        let model = SingerState(state)
        let name = JSONString(stream)
        let row = try model.locate(name, partition: partition)
        guard let valueKey = row.valueKey, let old = row.value else {
            throw BookmarkError(.unsupported, "The bookmark of '\(stream)'\(describe(partition)) is \(row.bookmark.meltanoText), in no shape this tool edits (no replication_key_value, lsn or single replication key); change it with `meltano-state edit`.")
        }
        let new = try movedBookmarkValue(old, move)
        if !allowForward, let order = compareBookmarkValues(new, old), order > 0 {
            throw BookmarkError(.ahead, "\(new.meltanoText) is ahead of the current bookmark \(old.meltanoText) of '\(stream)'\(describe(partition)): moving it forward skips data. Add --forward if that is what you want.")
        }
        let edited = try replacing(in: state, stream: name, partition: partition) { bookmark throws(BookmarkError) in
            guard case var .object(b) = bookmark else { throw BookmarkError(.unsupported, "not an object") }
            b[valueKey] = new  // in place: the key keeps its position
            return .object(b)
        }
        return BookmarkEdit(state: edited, stream: name, partition: partition, valueKey: valueKey, old: old, new: new)
    }

    /// `state` without `bookmarks.<stream>` (the whole stream, partitions included);
    /// everything else as it was.
    public static func removingStream(_ state: JSONValue, stream: String) throws(BookmarkError) -> (state: JSONValue, removed: JSONValue) {
        let model = SingerState(state)
        let name = JSONString(stream)
        guard model.problem == nil, case var (top, inner)? = splitState(state), var bookmarks = inner["bookmarks"]?.objectValue,
              let removed = bookmarks[name] else {
            throw model.notFound(stream)
        }
        bookmarks[name] = nil
        inner["bookmarks"] = .object(bookmarks)
        if model.wrapped {
            top["singer_state"] = .object(inner)
            return (.object(top), removed)
        }
        return (.object(inner), removed)
    }

    /// The row to edit, or why there is none (partitions named when one must be chosen).
    func locate(_ stream: JSONString, partition: JSONValue?) throws(BookmarkError) -> StreamBookmark {
        let rows = streams.filter { $0.stream == stream }
        guard !rows.isEmpty else { throw notFound(stream.text) }
        if let row = find(stream: stream, partition: partition) { return row }
        let partitions = rows.compactMap(\.partition)
        if partition == nil {
            throw BookmarkError(.badInput, "'\(stream.text)' is partitioned; choose a partition with --partition: \(partitions.map { "'\($0.meltanoText)'" }.joined(separator: ", ")).")
        }
        if partitions.isEmpty {
            throw BookmarkError(.badInput, "'\(stream.text)' has no partitions; leave out --partition.")
        }
        throw BookmarkError(.notFound, "'\(stream.text)' has no partition \(partition!.meltanoText); its partitions: \(partitions.map(\.meltanoText).joined(separator: ", ")).")
    }

    func notFound(_ stream: String) -> BookmarkError {
        // One name per stream (its partitions' lines follow one another); streams compared
        // as keys, exactly: "é" and "e\u{301}" are two.
        Self.notFound(stream, problem: problem, streams: streams.map(\.stream).reduce(into: [JSONString]()) { if $0.last != $1 { $0.append($1) } }.map(\.text))
    }

    /// Why a state has no bookmark of `stream`: what its header lacks, or the streams it has.
    static func notFound(_ stream: String, problem: String?, streams names: [String]) -> BookmarkError {
        if let problem { return BookmarkError(.notFound, "The state has no bookmark of '\(stream)': \(problem).") }
        return BookmarkError(.notFound, "The state has no bookmark of '\(stream)'; its streams: \(names.isEmpty ? "none" : names.joined(separator: ", ")).")
    }

    static func describe(_ partition: JSONValue?) -> String {
        partition.map { " (partition \($0.meltanoText))" } ?? ""
    }

    /// The top object and the Singer state object inside it (the same when unwrapped).
    static func splitState(_ state: JSONValue) -> (JSONObject, JSONObject)? {
        guard case let .object(top) = state else { return nil }
        if let inner = top["singer_state"] {
            guard case let .object(o) = inner else { return nil }
            return (top, o)
        }
        return (top, top)
    }

    /// `state` with the bookmark object of `stream` (or of its partition) replaced by
    /// what `change` makes of it; in place, so every other key keeps its position.
    static func replacing(in state: JSONValue, stream: JSONString, partition: JSONValue?,
                          _ change: (JSONValue) throws(BookmarkError) -> JSONValue) throws(BookmarkError) -> JSONValue {
        let wrapped = SingerState(state).wrapped
        guard case var (top, inner)? = splitState(state), var bookmarks = inner["bookmarks"]?.objectValue,
              var bookmark = bookmarks[stream] else {
            throw SingerState(state).notFound(stream.text)
        }
        if let partition {
            guard case var .object(b) = bookmark, var partitions = b["partitions"]?.arrayValue,
                  let index = partitions.firstIndex(where: { ($0["context"] ?? .null).isEquivalent(to: partition) }) else {
                throw BookmarkError(.notFound, "'\(stream.text)' has no partition \(partition.meltanoText).")
            }
            partitions[index] = try change(partitions[index])
            b["partitions"] = .array(partitions)
            bookmark = .object(b)
        } else {
            bookmark = try change(bookmark)
        }
        bookmarks[stream] = bookmark
        inner["bookmarks"] = .object(bookmarks)
        if wrapped {
            top["singer_state"] = .object(inner)
            return .object(top)
        }
        return .object(inner)
    }
}

// MARK: - Edits of a state's text

/// A bookmark edit made on a state's text in `json.dumps` form: the edited state's text,
/// `json.dumps` of the state the same edit of the tree gives.
public struct BookmarkTextEdit: Sendable {
    public let text: String
    /// The values the edit wrote into the state (a rewind's new value; none for a
    /// removal): all that a write has to check, the rest having been read.
    public let written: [JSONValue]
}

extension SingerState {
    /// `rewind(state, …)` of the state whose `json.dumps` text `tape` holds, made on the
    /// text: the stream's bookmark is built, moved by `rewind` itself (whose rules look at
    /// that stream alone) and written back in place of its old text. Everything else is
    /// the text as it was, so a 100 MB state is never a tree. The errors are `rewind`'s;
    /// the `BookmarkEdit`'s state is the stream's bookmark in a state of its own.
    public static func rewind(meltanoText tape: JSONTape, stream: String, partition: JSONValue?, _ move: BookmarkMove,
                              allowForward: Bool = false) throws(BookmarkError) -> (BookmarkTextEdit, BookmarkEdit) {
        let streams = SingerStateStreams(tape)
        let name = JSONString(stream)
        guard let node = streams.node(of: name) else { throw streams.notFound(stream) }
        var alone = JSONObject()
        alone[name] = tape.value(node)
        let edit = try rewind(.object(["bookmarks": .object(alone)]), stream: stream, partition: partition, move, allowForward: allowForward)
        let bookmark = edit.state["bookmarks"]?.objectValue?[name] ?? .null
        return (BookmarkTextEdit(text: tape.text(replacing: tape.byteRange(node), with: bookmark.meltanoText), written: [edit.new]), edit)
    }

    /// `removingStream(state, stream:)` of the state whose `json.dumps` text `tape` holds,
    /// made on the text: the stream's member is cut out, separator included. The errors
    /// are `removingStream`'s.
    public static func removingStream(meltanoText tape: JSONTape, stream: String) throws(BookmarkError) -> BookmarkTextEdit {
        let streams = SingerStateStreams(tape)
        guard streams.problem == nil, let bookmarks = streams.bookmarksNode,
              let cut = tape.removalRange(ofMember: JSONString(stream), in: bookmarks) else {
            throw streams.notFound(stream)
        }
        return BookmarkTextEdit(text: tape.text(replacing: cut, with: ""), written: [])
    }
}

extension JSONTape {
    /// The document's text with the bytes `range` replaced by `replacement`.
    func text(replacing range: Range<Int>, with replacement: String) -> String {
        withDocumentBytes { bytes in
            var replacement = replacement
            return replacement.withUTF8 { middle in
                let count = bytes.count - range.count + middle.count
                return String(unsafeUninitializedCapacity: count) { out in
                    let base = out.baseAddress!
                    if range.lowerBound > 0 { (base).update(from: bytes.baseAddress!.assumingMemoryBound(to: UInt8.self), count: range.lowerBound) }
                    if middle.count > 0 { (base + range.lowerBound).update(from: middle.baseAddress!, count: middle.count) }
                    let rest = bytes.count - range.upperBound
                    if rest > 0 {
                        (base + range.lowerBound + middle.count).update(from: bytes.baseAddress!.assumingMemoryBound(to: UInt8.self) + range.upperBound, count: rest)
                    }
                    return count
                }
            }
        }
    }
}
