import CLibPQ
import Foundation

/// One row of a streamed result (`Connection.forEachRow`), read in place from libpq's
/// buffer: nothing is copied unless asked for. Valid only inside the callback that
/// received it; do not keep it or the buffers it hands out.
public struct StreamedRow {
    private let result: OpaquePointer
    private let row: Int32
    public let columnCount: Int

    init(_ result: OpaquePointer, row: Int32) {
        self.result = result
        self.row = row
        columnCount = Int(PQnfields(result))
    }

    public func isNull(_ column: Int) -> Bool {
        PQgetisnull(result, row, Int32(column)) == 1
    }

    /// The text of a column as bytes (empty for NULL; ask `isNull`), pointing into
    /// libpq's buffer: valid only inside the callback.
    public func bytes(_ column: Int) -> UnsafeRawBufferPointer {
        let length = Int(PQgetlength(result, row, Int32(column)))
        guard let pointer = PQgetvalue(result, row, Int32(column)) else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(start: pointer, count: length)
    }

    /// A binary-form (`binaryResults`) integer column: `int2`, `int4` or `int8`, big-endian
    /// on the wire; nil for NULL or another width.
    public func integer(_ column: Int) -> Int64? {
        if isNull(column) { return nil }
        let raw = bytes(column)
        guard [2, 4, 8].contains(raw.count) else { return nil }
        var value: Int64 = raw[0] & 0x80 != 0 ? -1 : 0  // sign-extended
        for byte in raw { value = value << 8 | Int64(byte) }
        return value
    }

    /// The text of a column as a `String` (a copy; invalid UTF-8 replaced, as
    /// `QueryResult` does), nil for NULL.
    public func string(_ column: Int) -> String? {
        if isNull(column) { return nil }
        return String(decoding: bytes(column), as: UTF8.self)
    }
}

extension Connection {
    /// Runs one statement and hands each row to `body` as it arrives from the server
    /// (libpq's single-row mode), so a million rows never sit in memory at once and
    /// the caller works while the server still sends. Returns the number of rows.
    ///
    /// The connection stays busy until the last row: `body` must not use this
    /// connection. When `body` throws, the statement is cancelled, the rest of the
    /// result is discarded and the error is rethrown.
    ///
    /// - Parameters:
    ///   - idempotent: a read that may be re-run: if the connection is found broken
    ///     before the first row was handed out, it reconnects once and runs it again.
    ///     After a row was handed out, a lost connection is an error.
    ///   - binaryResults: every column in PostgreSQL's binary form (a `bytea` as its
    ///     raw bytes, not hex; `text` as the bytes the text form has; integers big-endian).
    @discardableResult
    public func forEachRow(_ sql: String, _ parameters: [String?] = [], idempotent: Bool = false, binaryResults: Bool = false,
                           _ body: (StreamedRow) throws -> Void) throws -> Int {
        lock.lock()
        defer { lock.unlock() }
        var delivered = 0
        do {
            return try stream(sql, parameters, binaryResults, delivered: &delivered, body)
        } catch let error as PostgresError where error.kind == .connectionLost && idempotent && delivered == 0 {
            try reconnectLocked()
            return try stream(sql, parameters, binaryResults, delivered: &delivered, body)
        }
    }

    private func stream(_ sql: String, _ parameters: [String?], _ binaryResults: Bool, delivered: inout Int,
                        _ body: (StreamedRow) throws -> Void) throws -> Int {
        let handle = try usableHandle()
        let sent = try withParameterPointers(parameters) { values in
            PQsendQueryParams(handle, sql, Int32(parameters.count), nil, values, nil, nil, binaryResults ? 1 : 0)
        }
        guard sent == 1 else { throw connectionFailure(handle, otherwise: "The statement could not be sent.") }
        // Without single-row mode (it cannot fail right after a send, but if it did)
        // the rows arrive in one result, which the loop below handles as well.
        _ = PQsetSingleRowMode(handle)
        var failure: (any Error)?
        // The server's error is read once the result is drained: only then does libpq
        // know whether the connection died with it (a terminated backend).
        var errorResult: OpaquePointer?
        var count = 0
        while let result = PQgetResult(handle) {
            let status = PQresultStatus(result)
            if status != PGRES_SINGLE_TUPLE && status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK
                && status != PGRES_EMPTY_QUERY && failure == nil && errorResult == nil {
                errorResult = result
                continue
            }
            defer { PQclear(result) }
            switch status {
            case PGRES_SINGLE_TUPLE, PGRES_TUPLES_OK:
                guard failure == nil else { continue }
                let rows = PQntuples(result)
                var row: Int32 = 0
                while row < rows {
                    do {
                        try body(StreamedRow(result, row: row))
                    } catch {
                        failure = error
                        cancel()  // stop the server sending the rest; what still comes is dropped
                        break
                    }
                    count += 1
                    delivered += 1
                    row += 1
                }
            case PGRES_COMMAND_OK, PGRES_EMPTY_QUERY:
                break
            default:
                break
            }
        }
        if let errorResult {
            failure = makeError(errorResult, handle)
            PQclear(errorResult)
        }
        if let failure { throw failure }
        return count
    }
}
