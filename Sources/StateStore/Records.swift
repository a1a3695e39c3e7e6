import StateJSON

/// One column of a state row as stored, and what it parses to.
public struct StatePart: Sendable {
    /// The column text exactly as stored; nil is SQL NULL.
    public let raw: String?
    /// The parsed value ({} for NULL), or the reason it does not parse.
    public let parsed: Result<JSONValue, JSONParseError>

    init(raw: String?) {
        self.raw = raw
        if let raw {
            do { parsed = .success(try JSONParser.parse(raw)) } catch { parsed = .failure(error) }
        } else {
            parsed = .success(.object(JSONObject()))
        }
    }

    public var value: JSONValue? { try? parsed.get() }
    public var error: JSONParseError? {
        if case let .failure(error) = parsed { return error }
        return nil
    }
}

/// A state ID's row: both parts raw and parsed, the merged view the next run will use,
/// and when it was last written.
public struct StateRecord: Sendable {
    public let stateID: String
    public let partial: StatePart
    public let completed: StatePart
    /// `updated_at` as stored (the writer's wall clock, no time zone).
    public let updatedAt: String?
    /// Computed on the server; negative when writer and reader zones differ.
    public let ageSeconds: Double?

    /// Partial deep-merged onto completed, as Meltano computes it, or why it cannot be.
    public var merged: Result<JSONValue, StoreError> {
        StateRecord.merged(stateID: stateID, partial: partial, completed: completed)
    }

    /// The merged view: the one implementation, for records and raw rows
    /// (`RowSnapshot.merged(stateID:)`). The partial part is reported first.
    static func merged(stateID: String, partial: StatePart, completed: StatePart) -> Result<JSONValue, StoreError> {
        guard let partialValue = partial.value else {
            return .failure(.unreadableState(stateID: stateID, part: "partial", error: partial.error!.description))
        }
        guard let completedValue = completed.value else {
            return .failure(.unreadableState(stateID: stateID, part: "completed", error: completed.error!.description))
        }
        do throws(MergeError) { return .success(try deepMerge(partialValue, onto: completedValue)) } catch {
            return .failure(.unmergeable(stateID: stateID, error))
        }
    }

    public var isReadable: Bool {
        if case .success = merged { return true }
        return false
    }

    var snapshot: RowSnapshot {
        RowSnapshot(partialState: partial.raw, completedState: completed.raw, updatedAt: updatedAt)
    }
}

extension RowSnapshot {
    /// Meltano's view of a row read raw (`getRaw`): partial deep-merged onto completed
    /// (NULL parts are {}), or why it cannot be, worded as `StateRecord.merged`.
    public func merged(stateID: String) -> Result<JSONValue, StoreError> {
        StateRecord.merged(stateID: stateID, partial: StatePart(raw: partialState), completed: StatePart(raw: completedState))
    }
}

extension StoreError {
    /// Why a row's parts cannot be merged as Meltano merges them (the one sentence,
    /// also for the browser's merge on the text).
    public static func unmergeable(stateID: String, _ error: MergeError) -> StoreError {
        .invalidState("The state of '\(stateID)' cannot be merged as Meltano merges it: \(error). Meltano's own `get` and `list` fail on it; fix it with `meltano-state set`.")
    }
}

/// A line of the state ID list.
public struct StateSummary: Sendable, Equatable {
    public let stateID: String
    public let updatedAt: String?
    public let ageSeconds: Double?
    /// A lock row (or advisory lock) exists for it right now.
    public let isLocked: Bool
    public let lockIsStale: Bool
    /// Either column is not valid JSON (checked on the server where it can be).
    public let isInvalidJSON: Bool
}

/// An export entry: both parts parsed, empty parts as {}.
public struct ExportedState: Sendable {
    public let stateID: String
    public let completed: JSONValue
    public let partial: JSONValue
}

extension JSONValue {
    /// Python truthiness, which decides whether Meltano stores a part or NULL.
    var isFalsy: Bool {
        switch self {
        case .null: return true
        case let .bool(value): return !value
        case let .number(number): return number.doubleValue == 0  // NaN is truthy, as in Python
        case let .string(string): return string.utf16CodeUnits.isEmpty
        case let .array(items): return items.isEmpty
        case let .object(object): return object.isEmpty
        }
    }

    static var emptyObject: JSONValue { .object(JSONObject()) }
}

/// A row's two texts as bytes, exactly as the columns' text form sends them; nil is SQL
/// NULL (`StateStore.readStoredBytes`).
public struct StoredBytes: Sendable {
    public let partial: [UInt8]?
    public let completed: [UInt8]?
    /// The row's `updated_at` as the server writes it (`getRaw`'s), read in the same
    /// statement.
    public var updatedAt: String? = nil
    /// Seconds since `updated_at` by the server's clock (`LOCALTIMESTAMP`, as Meltano
    /// writes it), read in the same statement.
    public var ageSeconds: Double? = nil
}

/// A row as `StateStore.readStoredSlices` reads it: its partial text's bytes (nil: SQL
/// NULL), its completed text's length (nil: NULL; the bytes went to the caller) and its
/// `updated_at`.
public struct StoredSlices: Sendable {
    public let partial: [UInt8]?
    public let completedLength: Int?
    public let updatedAt: String?
    /// Seconds since `updated_at`, by the server's clock.
    public let ageSeconds: Double?
}

/// The state Meltano's `get` prints for a row (partial merged onto completed), ready to
/// be written. It stays text where it can: the completed text's bytes with nothing
/// partial to merge, or their `json.dumps` form with the partial part merged into it
/// (`deepMergedMeltanoText`), written straight from them (`JSONParser.rewrite`): a
/// 100 MB state is never also a tree. Otherwise (a key repeated in the completed text)
/// it is the merged tree.
public struct MergedState: Sendable {
    enum Form: Sendable {
        case value(JSONValue)
        case text(RewritableDocument)
    }

    let form: Form

    /// Nil when a part is not JSON or the parts do not merge (as `StateRecord.merged` fails).
    /// A completed part the text paths take stays text: alone, or with the (parsed)
    /// partial part merged into its `json.dumps` form.
    init?(_ stored: StoredBytes) {
        guard case let .success(partial) = Self.part(stored.partial) else { return nil }
        if case let .object(object) = partial, let completed = stored.completed {
            if object.isEmpty, let document = RewritableDocument(completed) {
                form = .text(document)
                return
            }
            let merged: Result<RewritableDocument, MergeError>? = completed.withUnsafeBytes { bytes in
                switch JSONParser.rewritten(bytes, .meltano) {
                case nil: return nil  // not JSON, or a key repeats: parsed below
                case .same?: return Result { () throws(MergeError) in try deepMergedMeltanoText(partial, ontoMeltanoText: bytes) }
                case let .text(text)?:
                    return Array(text.utf8).withUnsafeBytes { canonical in
                        Result { () throws(MergeError) in try deepMergedMeltanoText(partial, ontoMeltanoText: canonical) }
                    }
                }
            }
            if let merged {
                guard case let .success(document) = merged else { return nil }
                form = .text(document)
                return
            }
        }
        guard case let .success(completed) = stored.completed.withRawBytes(Self.part),
              let merged = try? deepMerge(partial, onto: completed) else { return nil }
        form = .value(merged)
    }

    init(value: JSONValue) {
        form = .value(value)
    }

    /// `json.dumps` of the state, as bytes, when it is text (nil when it is a tree): the
    /// stored bytes themselves when they are that already.
    var meltanoBytes: [UInt8]? {
        guard case let .text(document) = form else { return nil }
        return Self.meltano(document.bytes)
    }

    /// `MergedState(stored)?.meltanoBytes`; with nothing partial to merge, from one walk
    /// of the completed text (not one to check it and one to rewrite it).
    static func meltanoBytes(of stored: StoredBytes) -> [UInt8]? {
        if case let .success(.object(partial)) = part(stored.partial), partial.isEmpty, let completed = stored.completed {
            return meltano(completed)
        }
        return MergedState(stored)?.meltanoBytes
    }

    /// `json.dumps` of a text the parser accepts with no key repeated (nil otherwise).
    private static func meltano(_ text: [UInt8]) -> [UInt8]? {
        text.withUnsafeBytes { bytes -> [UInt8]? in
            switch JSONParser.rewritten(bytes, .meltano) {
            case nil: return nil
            case .same?: return text
            case let .text(rewritten)?: return Array(rewritten.utf8)
            }
        }
    }

    /// A state given as JSON text (an argument, a file): kept as its text when the
    /// parser accepts it and no object in it repeats a key, so that `set` of a 100 MB
    /// file never builds its tree; otherwise its tree (a repeated key takes its last
    /// value, as in Python). Text that is not JSON throws the parser's error.
    public init(json bytes: [UInt8]) throws(JSONParseError) {
        if let document = RewritableDocument(bytes) {
            form = .text(document)
        } else {
            form = .value(try JSONParser.parse(bytes))
        }
    }

    /// A column as `StatePart` parses it (NULL is {}), from its bytes. Text that does not
    /// parse as UTF-8 bytes is parsed again as `StatePart` does, from a `String` with
    /// invalid bytes replaced, so the outcome is the same.
    static func part(_ bytes: UnsafeRawBufferPointer?) -> Result<JSONValue, JSONParseError> {
        guard let bytes else { return .success(.emptyObject) }
        if let value = try? JSONParser.parse(bytes) { return .success(value) }
        do { return .success(try JSONParser.parse(String(decoding: bytes, as: UTF8.self))) } catch { return .failure(error) }
    }

    static func part(_ bytes: [UInt8]?) -> Result<JSONValue, JSONParseError> {
        bytes.withRawBytes(part)
    }

    /// The merged value as a tree (parsed now when it is still text).
    public var value: JSONValue {
        switch form {
        case let .value(value): return value
        case let .text(document):
            // Checked when it was made: the parser accepts it.
            return (try? document.parsed()) ?? .emptyObject
        }
    }

    /// Writes the state as `options` says, in chunks of about `chunkSize` bytes. The
    /// first error the sink throws stops the writing and is rethrown.
    public func write(_ options: JSONWriteOptions, chunkSize: Int = 1 << 16,
                      to sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        switch form {
        case let .value(value): try value.write(options, chunkSize: chunkSize, to: sink)
        case let .text(document): try document.write(options, chunkSize: chunkSize, to: sink)
        }
    }
}

extension Optional where Wrapped == [UInt8] {
    func withRawBytes<R>(_ body: (UnsafeRawBufferPointer?) throws -> R) rethrows -> R {
        guard let self else { return try body(nil) }
        return try self.withUnsafeBytes { try body($0) }
    }
}

extension MergedState {
    /// `json.dumps` of the state — the text `set` stores for it — worked out from its text
    /// when it is still text and `set` would accept it (checked by `validateStateForSet`
    /// on the top object's keys alone, which is all that check looks at in an object, and
    /// by its depth, as `checkStorable`; the parser refuses an integer Python cannot read);
    /// nil otherwise (then the tree gives a refusal its words).
    func acceptedMeltanoText() -> String? {
        guard case let .text(document) = form, let (text, keys, depth) = document.textAndTopKeys(.meltano), let keys,
              depth <= JSONParser.maximumStoredDepth else { return nil }
        let topLevel = JSONValue.object(JSONObject(keys.map { ($0, JSONValue.null) }))
        guard (try? validateStateForSet(topLevel)) != nil else { return nil }
        return text
    }
}
