import CLibPQ
import Foundation

/// One row of `COPY … TO STDOUT` (text format), its fields unescaped, pointing into
/// libpq's buffer for the row: valid only inside the callback it is handed to.
public struct CopyRow {
    fileprivate var base: UnsafeMutableRawPointer?
    /// Each field's start and length in `base`; length -1 for NULL.
    fileprivate var fields: [(start: Int, count: Int)] = []

    public var columnCount: Int { fields.count }

    public func isNull(_ column: Int) -> Bool { column >= fields.count || fields[column].count < 0 }

    /// The field's bytes (empty for NULL, and for a column the row does not have).
    public func bytes(_ column: Int) -> UnsafeRawBufferPointer {
        guard column < fields.count, fields[column].count >= 0, let base else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(start: base + fields[column].start, count: fields[column].count)
    }

    /// The field, or nil for NULL.
    public func field(_ column: Int) -> UnsafeRawBufferPointer? { isNull(column) ? nil : bytes(column) }

    public func string(_ column: Int) -> String? { field(column).map { String(decoding: $0, as: UTF8.self) } }

    /// Splits a line of COPY's text format (with its newline) at its tabs and undoes, in
    /// place, the escapes the server writes (`\\`, `\b`, `\f`, `\n`, `\r`, `\t`, `\v`): an
    /// unescaped field is never longer than its text. `\N` alone is NULL.
    fileprivate mutating func parse(_ line: UnsafeMutableRawPointer, count: Int) {
        base = line
        fields.removeAll(keepingCapacity: true)
        let bytes = line.assumingMemoryBound(to: UInt8.self)
        var end = count
        if end > 0 && bytes[end - 1] == 0x0A { end -= 1 }
        var start = 0
        while true {
            // A raw tab only ever ends a field (one in the data is written `\t`).
            let tab = memchr(bytes + start, 0x09, end - start).map { UnsafeMutableRawPointer($0) - line } ?? end
            if tab - start == 2 && bytes[start] == 0x5C && bytes[start + 1] == 0x4E {
                fields.append((start, -1))  // `\N`: NULL
            } else if let slash = memchr(bytes + start, 0x5C, tab - start) {
                var read = UnsafeMutableRawPointer(slash) - line
                var write = read
                while read < tab {
                    var byte = bytes[read]
                    if byte == 0x5C && read + 1 < tab {
                        read += 1
                        switch bytes[read] {
                        case 0x62: byte = 0x08  // \b
                        case 0x66: byte = 0x0C  // \f
                        case 0x6E: byte = 0x0A  // \n
                        case 0x72: byte = 0x0D  // \r
                        case 0x74: byte = 0x09  // \t
                        case 0x76: byte = 0x0B  // \v
                        default: byte = bytes[read]  // \\ (and any other escaped character itself)
                        }
                    }
                    bytes[write] = byte
                    write += 1
                    read += 1
                }
                fields.append((start, write - start))
            } else {
                fields.append((start, tab - start))
            }
            if tab >= end { return }
            start = tab + 1
        }
    }
}

extension Connection {
    /// Runs `COPY (…) TO STDOUT` (text format) and hands each row to `body`, its fields
    /// unescaped, as the server sends it: one scan, no result object per row (single-row
    /// mode makes one, which at 10 M rows costs more than the rest of a reader's work).
    /// Returns the number of rows.
    ///
    /// COPY takes no parameters: values go into `sql` as literals (`literal(_:)`).
    /// Not retried: when the connection is lost, `lost` gets the first field of the last
    /// row handed out (nil before the first) and `.connectionLost` is thrown, so a caller
    /// reading in key order can reconnect and carry on after it. When `body` throws, the
    /// COPY is cancelled and the error rethrown.
    @discardableResult
    public func copyOutRows(_ sql: String, lost: ([UInt8]?) -> Void = { _ in },
                            _ body: (CopyRow) throws -> Void) throws -> Int {
        lock.lock()
        defer { lock.unlock() }
        let handle = try usableHandle()
        guard let start = PQexec(handle, sql) else { throw connectionFailure(handle, otherwise: "The server returned no result.") }
        guard PQresultStatus(start) == PGRES_COPY_OUT else {
            let error = makeError(start, handle)
            PQclear(start)
            while let rest = PQgetResult(handle) { PQclear(rest) }
            throw error
        }
        PQclear(start)
        var count = 0
        var row = CopyRow()
        // The line handed out last (unescaped in place) is freed only when the next
        // arrives: the key a broken read carries on after, without a copy of every row.
        var previous: UnsafeMutablePointer<CChar>?
        var previousKey: UnsafeRawBufferPointer?
        defer { if let previous { PQfreemem(previous) } }
        var failure: (any Error)?
        while true {
            var line: UnsafeMutablePointer<CChar>?
            let length = PQgetCopyData(handle, &line, 0)
            guard length > 0, let line else { break }  // -1: done, -2: failed (read below)
            if let previous { PQfreemem(previous) }
            previous = line
            previousKey = nil
            guard failure == nil else { continue }  // cancelled: drop what still comes
            row.parse(UnsafeMutableRawPointer(line), count: Int(length))
            previousKey = row.bytes(0)
            do {
                try body(row)
                count += 1
            } catch {
                failure = error
                cancel()
            }
        }
        var errorResult: OpaquePointer?
        while let result = PQgetResult(handle) {
            if PQresultStatus(result) != PGRES_COMMAND_OK && errorResult == nil {
                errorResult = result
                continue
            }
            PQclear(result)
        }
        if let failure {
            if let errorResult { PQclear(errorResult) }
            throw failure
        }
        var error: PostgresError?
        if let errorResult {
            error = makeError(errorResult, handle)
            PQclear(errorResult)
        } else if PQstatus(handle) != CONNECTION_OK {
            error = connectionFailure(handle, otherwise: "The connection to the server was lost during a COPY.")
        }
        guard let error else { return count }
        if error.kind == .connectionLost {
            lost(count == 0 ? nil : previousKey.map(Array.init))
        }
        throw error
    }

    /// `copyOutRows` of a query with one column: each row's text (nil for NULL).
    @discardableResult
    public func copyOut(_ sql: String, lost: ([UInt8]?) -> Void = { _ in },
                        _ body: (UnsafeRawBufferPointer?) throws -> Void) throws -> Int {
        try copyOutRows(sql, lost: lost) { row in try body(row.field(0)) }
    }

    /// `text` as an SQL string literal for this connection (libpq's `PQescapeLiteral`),
    /// for statements that take no parameters (COPY). Refuses NUL, as parameters do.
    public func literal(_ text: String) throws -> String {
        lock.lock()
        defer { lock.unlock() }
        if text.utf8.contains(0) {
            throw PostgresError(kind: .invalidInput, message: "A value contains a NUL character, which PostgreSQL text cannot hold.")
        }
        let handle = try usableHandle()
        if text.isEmpty { return "''" }
        let utf8 = Array(text.utf8)
        let escaped = utf8.withUnsafeBufferPointer { bytes in
            bytes.withMemoryRebound(to: CChar.self) { PQescapeLiteral(handle, $0.baseAddress, $0.count) }
        }
        guard let escaped else { throw connectionFailure(handle, otherwise: "The value could not be quoted.") }
        defer { PQfreemem(escaped) }
        return String(cString: escaped)
    }
}
