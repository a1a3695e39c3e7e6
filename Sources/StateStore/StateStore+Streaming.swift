import Foundation
import Postgres
import StateJSON

/// Reads of every row, handed out one at a time as they arrive from the server, for the
/// CLI's `list` and `export` at a million state IDs: no array of rows, no copy of each
/// text into a `String` unless the caller asks.
extension StateStore {
    /// Every state ID matching a glob (all when nil), in order, as UTF-8 bytes valid only
    /// inside `body` — the same IDs, in the same order, as `allStateIDs(matching:)`.
    /// Returns how many there were.
    @discardableResult
    public func forEachStateID(matching glob: String? = nil, _ body: (UnsafeRawBufferPointer) throws -> Void) throws -> Int {
        try requireTables()
        return try database("list state IDs") {
            try streamInOrder(columns: "state_id", glob: glob, after: nil, limit: nil) { try body($0.bytes(0)) }.count
        }
    }

    /// Every state, in state ID order, parsed (empty parts as {}), for `export`: the
    /// states `exportAll()` returns, one at a time. Rows whose text is not JSON are not
    /// handed out; they are returned, with the reason, as `exportAll()` returns them.
    public func forEachExportedState(progress: ((Int) -> Void)? = nil,
                                     _ body: (_ stateID: String, _ completed: JSONValue, _ partial: JSONValue) throws -> Void) throws -> [(String, String)] {
        var unreadable: [(String, String)] = []
        try forEachExportRow(progress: progress) { row in
            let id = row.string(0) ?? ""
            switch (Self.exportPart(row, 1), Self.exportPart(row, 2)) {
            case let (.success(p), .success(c)):
                try body(id, c, p)
            case let (.failure(error), _), let (_, .failure(error)):
                unreadable.append((id, error.description))
            }
        }
        return unreadable
    }

    /// The states `forEachExportedState` hands out, as `export` writes them: the ID's
    /// stored bytes and each part's compact JSON text (`{}` when empty) — the bytes
    /// of `completed.write(.compact)` and `partial.write(.compact)` — copied from the
    /// stored text without building the value whenever `CompactTranscoder` can, so ten
    /// million states go by at the speed of the rows. The bytes are valid only inside
    /// `body`. Rows whose text is not JSON are returned as `forEachExportedState` does.
    public func forEachExportedStateText(progress: ((Int) -> Void)? = nil,
                                         _ body: (_ stateID: UnsafeRawBufferPointer, _ completed: UnsafeRawBufferPointer,
                                                  _ partial: UnsafeRawBufferPointer) throws -> Void) throws -> [(String, String)] {
        var unreadable: [(String, String)] = []
        var transcoder = CompactTranscoder()
        var completed: [UInt8] = [], partial: [UInt8] = []
        try forEachExportRow(progress: progress) { row in
            completed.removeAll(keepingCapacity: true)
            partial.removeAll(keepingCapacity: true)
            if let error = Self.exportText(row, 1, &transcoder, into: &partial) ?? Self.exportText(row, 2, &transcoder, into: &completed) {
                unreadable.append((row.string(0) ?? "", error.description))
                return
            }
            try completed.withUnsafeBytes { c in try partial.withUnsafeBytes { p in try body(row.bytes(0), c, p) } }
        }
        return unreadable
    }

    /// A column's compact JSON text (`{}` for NULL) appended to `out`: the stored text
    /// transcoded, else parsed as `exportPart` parses it and written; the parse error
    /// when it is not JSON.
    static func exportText(_ row: StreamedRow, _ column: Int, _ transcoder: inout CompactTranscoder,
                           into out: inout [UInt8]) -> JSONParseError? {
        if row.isNull(column) {
            out.append(contentsOf: "{}".utf8)
            return nil
        }
        if transcoder.append(row.bytes(column), to: &out) { return nil }
        switch exportPart(row, column) {
        case let .success(value):
            value.write(.compact, into: &out)
            return nil
        case let .failure(error):
            return error
        }
    }

    /// Every row of the state table in state ID order (ID, partial, completed), read a
    /// page at a time by keyset, each row streamed: memory does not grow with the rows.
    private func forEachExportRow(progress: ((Int) -> Void)?, _ body: (StreamedRow) throws -> Void) throws {
        try requireTables()
        var done = 0
        var after: String? = nil
        let chunk = 5000
        while true {
            if cancellation.isCancelled { throw StoreError.cancelled("export stopped after \(done) states; what was printed is incomplete.") }
            let page = try database("export states") {
                try streamInOrder(columns: "state_id, partial_state, completed_state", glob: nil, after: after, limit: chunk, body)
            }
            done += page.count
            progress?(done)
            guard page.count == chunk, let last = page.last else { break }
            after = last
        }
    }

    /// What `get(stateID)?.merged` gives when it succeeds — the state Meltano's next
    /// run sees — parsed straight from libpq's buffer, without a `String` copy of the
    /// stored texts (a 100 MB state is then held once less). `exists` is false when
    /// there is no row; `value` is nil when a part is not JSON or does not merge: ask
    /// `get(stateID)` for the texts and the reason.
    public func readMerged(_ stateID: String) throws -> (exists: Bool, value: JSONValue?) {
        try requireTables()
        var exists = false
        var value: JSONValue?
        try database("read the state of '\(stateID)'") {
            try connection.forEachRow("SELECT partial_state, completed_state FROM \(tables.state) WHERE state_id = $1", [stateID],
                                      idempotent: true) { row in
                exists = true
                guard case let .success(partial) = Self.exportPart(row, 0), case let .success(completed) = Self.exportPart(row, 1) else { return }
                value = try? deepMerge(partial, onto: completed)
            }
        }
        return (exists, value)
    }

    /// A column as `StatePart` parses it (NULL is {}), read from libpq's buffer. Text
    /// that does not parse as UTF-8 bytes is parsed again as `StatePart` does, from a
    /// `String` with invalid bytes replaced, so the outcome is the same.
    static func exportPart(_ row: StreamedRow, _ column: Int) -> Result<JSONValue, JSONParseError> {
        if row.isNull(column) { return .success(.emptyObject) }
        if let value = try? JSONParser.parse(row.bytes(column)) { return .success(value) }
        do { return .success(try JSONParser.parse(String(decoding: row.bytes(column), as: UTF8.self))) } catch { return .failure(error) }
    }

    /// Streams `SELECT columns FROM state [WHERE state_id LIKE glob AND state_id > after]
    /// ORDER BY state_id [LIMIT limit]`; the first column must be `state_id`. A
    /// connection lost half-way is reopened and the read carries on after the last ID
    /// handed out (keyset), once per point of progress, so no row is handed out twice.
    /// Returns how many rows were handed out and the last state ID.
    func streamInOrder(columns: String, glob: String?, after: String?, limit: Int?,
                       _ body: (StreamedRow) throws -> Void) throws -> (count: Int, last: String?) {
        var count = 0
        var lastID: [UInt8] = []
        var start = after
        var resumedAt = -1
        while true {
            var conditions: [String] = []
            var parameters: [String?] = []
            if let glob, glob != "*" {
                parameters.append(StateID.likePattern(forGlob: glob))
                conditions.append("state_id LIKE $\(parameters.count) ESCAPE '\\'")
            }
            if let start {
                parameters.append(start)
                conditions.append("state_id > $\(parameters.count)")
            }
            var sql = "SELECT \(columns) FROM \(tables.state)"
            if !conditions.isEmpty { sql += " WHERE " + conditions.joined(separator: " AND ") }
            sql += " ORDER BY state_id"
            if let limit { sql += " LIMIT \(limit - count)" }
            do {
                try connection.forEachRow(sql, parameters, idempotent: true) { row in
                    try body(row)
                    lastID.removeAll(keepingCapacity: true)
                    lastID.append(contentsOf: row.bytes(0))
                    count += 1
                }
                return (count, count == 0 ? nil : String(decoding: lastID, as: UTF8.self))
            } catch let error as PostgresError where error.kind == .connectionLost && count > 0 && count != resumedAt {
                resumedAt = count
                try connection.reconnect()
                start = String(decoding: lastID, as: UTF8.self)
            }
        }
    }
}
