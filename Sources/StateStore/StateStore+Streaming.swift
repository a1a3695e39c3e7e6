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
            try copyStateIDs(glob: glob, body)
        }
    }

    /// Streams `SELECT state_id … ORDER BY state_id` as `COPY (…) TO STDOUT`: one
    /// index-only scan, the rows handed out as they arrive, without the result object per
    /// row that single-row mode makes (at 10 M IDs that cost more than the rest of the
    /// client's work) and without the whole result in memory. A connection lost half-way
    /// is reopened and the read carries on after the last ID handed out (keyset), once
    /// per point of progress, so no ID is handed out twice.
    func copyStateIDs(glob: String?, _ body: (UnsafeRawBufferPointer) throws -> Void) throws -> Int {
        var count = 0
        var lastID: String? = nil
        var resumedAt = -1
        while true {
            // COPY takes no parameters: the pattern and the key go in as literals.
            let sql = try orderedSelect(columns: "state_id", glob: glob, after: lastID, limit: nil, value: connection.literal)
            var lostAfter: [UInt8]??
            do {
                try connection.copyOut("COPY (\(sql)) TO STDOUT", lost: { lostAfter = $0 }) { id in
                    try body(id ?? UnsafeRawBufferPointer(start: nil, count: 0))
                    count += 1
                }
                return count
            } catch let error as PostgresError where error.kind == .connectionLost && count != resumedAt {
                resumedAt = count
                try connection.reconnect()
                if case let last?? = lostAfter { lastID = String(decoding: last, as: UTF8.self) }
            }
        }
    }

    /// `SELECT columns FROM state [WHERE state_id LIKE glob AND state_id > after] ORDER BY
    /// state_id [LIMIT limit]`, each value placed in the SQL by `value` (a parameter's
    /// `$n`, or a literal).
    func orderedSelect(columns: String, glob: String?, after: String?, limit: Int?,
                       value: (String) throws -> String) rethrows -> String {
        var conditions: [String] = []
        if let glob, glob != "*" {
            conditions.append("state_id LIKE \(try value(StateID.likePattern(forGlob: glob))) ESCAPE '\\'")
        }
        if let after {
            conditions.append("state_id > \(try value(after))")
        }
        var sql = "SELECT \(columns) FROM \(tables.state)"
        if !conditions.isEmpty { sql += " WHERE " + conditions.joined(separator: " AND ") }
        sql += " ORDER BY state_id"
        if let limit { sql += " LIMIT \(limit)" }
        return sql
    }

    /// Every state, in state ID order, parsed (empty parts as {}), for `export`: the
    /// states `exportAll()` returns, one at a time. Rows whose text is not JSON are not
    /// handed out; they are returned, with the reason, as `exportAll()` returns them.
    public func forEachExportedState(progress: ((Int) -> Void)? = nil,
                                     _ body: (_ stateID: String, _ completed: JSONValue, _ partial: JSONValue) throws -> Void) throws -> [(String, String)] {
        try requireTables()
        var unreadable: [(String, String)] = []
        var done = 0
        var after: String? = nil
        let chunk = 5000
        while true {
            if cancellation.isCancelled { throw StoreError.cancelled("export stopped after \(done) states; nothing was written.") }
            let page = try database("export states") {
                try streamInOrder(columns: "state_id, partial_state, completed_state", glob: nil, after: after, limit: chunk) { row in
                    let id = row.string(0) ?? ""
                    let partial = Self.exportPart(row, 1), completed = Self.exportPart(row, 2)
                    switch (partial, completed) {
                    case let (.success(p), .success(c)):
                        try body(id, c, p)
                    case let (.failure(error), _), let (_, .failure(error)):
                        unreadable.append((id, error.description))
                    }
                }
            }
            done += page.count
            progress?(done)
            guard page.count == chunk, let last = page.last else { break }
            after = last
        }
        return unreadable
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
    /// ORDER BY state_id [LIMIT limit]` row by row (single-row mode: a row may hold a
    /// 100 MB state); the first column must be `state_id`. A
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
            var parameters: [String?] = []
            let sql = orderedSelect(columns: columns, glob: glob, after: start, limit: limit.map { $0 - count }) {
                parameters.append($0)
                return "$\(parameters.count)"
            }
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
