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

    func copyStateIDs(glob: String?, _ body: (UnsafeRawBufferPointer) throws -> Void) throws -> Int {
        try copyInOrder(columns: "state_id", glob: glob) { row in try body(row.bytes(0)) }
    }

    /// Streams `SELECT columns … ORDER BY state_id` (the first column `state_id`) as
    /// `COPY (…) TO STDOUT`: one scan, the rows handed out as they arrive, without the
    /// result object per row that single-row mode makes (at 10 M rows that cost more than
    /// the rest of the client's work) and without the whole result in memory. A
    /// connection lost half-way is reopened and the read carries on after the last ID
    /// handed out (keyset), once per point of progress, so no row is handed out twice.
    /// Returns how many rows there were.
    func copyInOrder(columns: String, glob: String?, _ body: (CopyRow) throws -> Void) throws -> Int {
        var count = 0
        var lastID: String? = nil
        var resumedAt = -1
        while true {
            // COPY takes no parameters: the pattern and the key go in as literals.
            let sql = try orderedSelect(columns: columns, glob: glob, after: lastID, limit: nil, value: connection.literal)
            var lostAfter: [UInt8]??
            do {
                try connection.copyOutRows("COPY (\(sql)) TO STDOUT", lost: { lostAfter = $0 }) { row in
                    try body(row)
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
        if let condition = try StateID.matchCondition("state_id", glob: glob, value: value) {
            conditions.append(condition)
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
    /// stored text without building the value (`JSONRewriter`) unless an object in it
    /// repeats a key, so ten million states go by at about the speed of the rows. The bytes are valid only inside
    /// `body`. Rows whose text is not JSON are returned as `forEachExportedState` does.
    public func forEachExportedStateText(progress: ((Int) -> Void)? = nil,
                                         _ body: (_ stateID: UnsafeRawBufferPointer, _ completed: UnsafeRawBufferPointer,
                                                  _ partial: UnsafeRawBufferPointer) throws -> Void) throws -> [(String, String)] {
        var unreadable: [(String, String)] = []
        var rewriter = JSONRewriter(.compact)
        var completed: [UInt8] = [], partial: [UInt8] = []
        try forEachExportRow(progress: progress) { row in
            completed.removeAll(keepingCapacity: true)
            partial.removeAll(keepingCapacity: true)
            if let error = Self.exportText(row, 1, &rewriter, into: &partial) ?? Self.exportText(row, 2, &rewriter, into: &completed) {
                unreadable.append((row.string(0) ?? "", error.description))
                return
            }
            try completed.withUnsafeBytes { c in try partial.withUnsafeBytes { p in try body(row.bytes(0), c, p) } }
        }
        return unreadable
    }

    /// A column's compact JSON text (`{}` for NULL) appended to `out`: the stored text
    /// rewritten, else parsed as `exportPart` parses it and written; the parse error
    /// when it is not JSON.
    static func exportText(_ row: CopyRow, _ column: Int, _ rewriter: inout JSONRewriter,
                           into out: inout [UInt8]) -> JSONParseError? {
        if row.isNull(column) {
            out.append(contentsOf: "{}".utf8)
            return nil
        }
        if rewriter.append(row.bytes(column), to: &out) { return nil }
        switch exportPart(row, column) {
        case let .success(value):
            value.write(.compact, into: &out)
            return nil
        case let .failure(error):
            return error
        }
    }

    /// Every row of the state table in state ID order (ID, partial, completed), streamed
    /// by one COPY: memory does not grow with the rows. `progress` gets the count every
    /// 5 000 rows and at the end; a cancellation stops the COPY.
    private func forEachExportRow(progress: ((Int) -> Void)?, _ body: (CopyRow) throws -> Void) throws {
        try requireTables()
        var done = 0
        try database("export states") {
            _ = try copyInOrder(columns: "state_id, partial_state, completed_state", glob: nil) { row in
                try body(row)
                done += 1
                if done % 5000 == 0 {
                    progress?(done)
                    if cancellation.isCancelled { throw StoreError.cancelled("export stopped after \(done) states; what was printed is incomplete.") }
                }
            }
        }
        progress?(done)
    }

    /// What `get(stateID)?.merged` gives when it succeeds — the state Meltano's next
    /// run sees — ready to be written. `exists` is false when there is no row; `state` is
    /// nil when a part is not JSON or does not merge: ask `get(stateID)` for the texts
    /// and the reason. The texts are read with `readStoredBytes` (held once), and the
    /// state is written from its bytes (its partial part, if any, merged into their
    /// `json.dumps` form): a 100 MB state never becomes a tree or a `String`.
    public func readMerged(_ stateID: String) throws -> (exists: Bool, state: MergedState?) {
        guard let stored = try readStoredBytes(stateID) else { return (false, nil) }
        return (true, MergedState(stored))
    }

    /// A row's two texts as bytes, exactly the bytes the columns' text form sends (nil:
    /// SQL NULL), or nil when there is no row.
    ///
    /// Read in chunks of `chunkBytes` (`readStoredSlices`), copied into one array of the
    /// exact size, so the client holds the text once plus one chunk.
    public func readStoredBytes(_ stateID: String, chunkBytes: Int = 1 << 20) throws -> StoredBytes? {
        var completed: [UInt8]? = nil
        guard let head = try readStoredSlices(stateID, chunkBytes: chunkBytes, completed: { total, offset, slice in
            if completed == nil { completed = [UInt8](repeating: 0, count: total) }
            completed!.withUnsafeMutableBytes { out in
                if let base = slice.baseAddress, slice.count > 0 { (out.baseAddress! + offset).copyMemory(from: base, byteCount: slice.count) }
            }
        }) else { return nil }
        return StoredBytes(partial: head.partial, completed: head.completedLength == nil ? nil : completed ?? [], updatedAt: head.updatedAt,
                           ageSeconds: head.ageSeconds)
    }

    /// A row's partial text and `updated_at`, with its completed text handed to
    /// `completed` slice by slice as it arrives: `(total, offset, bytes)`, where `total`
    /// is the completed text's length in bytes and every slice fits inside it. Nil when
    /// there is no row; `completedLength` is nil when completed_state is NULL (and
    /// `completed` is never called). When it returns, every byte of the completed text
    /// has been handed over exactly once; a read cut short throws.
    ///
    /// A plain SELECT of a 100 MB text holds it twice in the client (libpq's input
    /// buffer and its result), and the input buffer keeps that size until the
    /// connection closes. Here the server converts the text once (`convert_to` in the
    /// client encoding, in a subquery evaluated once) and sends slices of it as `bytea`
    /// in binary form, one row each, so the client holds one chunk at a time and the
    /// caller can work on the text while the rest is still coming (the browser lays a
    /// big state out as it arrives).
    public func readStoredSlices(_ stateID: String, chunkBytes: Int = 1 << 20,
                                 completed: (_ total: Int, _ offset: Int, _ slice: UnsafeRawBufferPointer) throws -> Void) throws -> StoredSlices? {
        try requireTables()
        return try database("read the state of '\(stateID)'") {
            try readSlices(stateID, chunkBytes: chunkBytes, idempotent: true, completed: completed)
        }
    }

    /// `readStoredSlices` inside a `database` call (under a write's lock, say).
    func readSlices(_ stateID: String, chunkBytes: Int = 1 << 20, idempotent: Bool,
                    completed: (_ total: Int, _ offset: Int, _ slice: UnsafeRawBufferPointer) throws -> Void) throws -> StoredSlices? {
        precondition(chunkBytes > 0)
        var partial: [UInt8]? = nil
        var updatedAt: String? = nil
        var ageSeconds: Double? = nil
        var total: Int? = nil
        var received = 0, rows = 0
        try connection.forEachRow("""
            SELECT g, octet_length(s.c), substring(s.c FROM g * $2::int4 + 1 FOR $2::int4), CASE WHEN g = 0 THEN s.p END,
                   CASE WHEN g = 0 THEN s.u END, CASE WHEN g = 0 THEN s.a END
            FROM (SELECT convert_to(partial_state::text, pg_client_encoding()) AS p, convert_to(completed_state::text, pg_client_encoding()) AS c,
                         updated_at::text AS u, EXTRACT(EPOCH FROM (LOCALTIMESTAMP - updated_at))::float8::text AS a
                  FROM \(tables.state) WHERE state_id = $1 OFFSET 0) s
            CROSS JOIN LATERAL generate_series(0, GREATEST(0, (octet_length(s.c) - 1) / $2::int4)) g
            """, [stateID, String(chunkBytes)], idempotent: idempotent, binaryResults: true) { row in
            rows += 1
            guard let index = row.integer(0).map(Int.init) else { return }
            if index == 0 {
                partial = row.isNull(3) ? nil : [UInt8](row.bytes(3))
                updatedAt = row.string(4)
                ageSeconds = row.string(5).flatMap(Double.init)
            }
            guard let length = row.integer(1).map(Int.init) else { return }  // completed_state is NULL
            if total == nil { total = length }
            let slice = row.bytes(2)
            let offset = index * chunkBytes
            guard length == total, offset + slice.count <= length else {
                throw StoreError.other("Reading the state of '\(stateID)' failed: the server sent a slice that does not fit it (\(offset)+\(slice.count) of \(length) bytes). Nothing was changed; run the command again.")
            }
            try completed(length, offset, slice)
            received += slice.count
        }
        guard rows > 0 else { return nil }
        if let total, received != total {
            throw StoreError.other("Reading the state of '\(stateID)' failed: the server sent \(received) of its \(total) bytes. Nothing was changed; run the command again.")
        }
        return StoredSlices(partial: partial, completedLength: total, updatedAt: updatedAt, ageSeconds: ageSeconds)
    }

    /// A column as `StatePart` parses it (NULL is {}), read from libpq's buffer. Text
    /// that does not parse as UTF-8 bytes is parsed again as `StatePart` does, from a
    /// `String` with invalid bytes replaced, so the outcome is the same.
    static func exportPart(_ row: CopyRow, _ column: Int) -> Result<JSONValue, JSONParseError> {
        MergedState.part(row.field(column))
    }
}
