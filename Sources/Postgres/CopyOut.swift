import CLibPQ
import Foundation

extension Connection {
    /// Runs `COPY (…) TO STDOUT` (text format) of one column and hands each row's text
    /// to `body`, unescaped (nil for NULL), as the server sends it: one scan, no result
    /// object per row (single-row mode makes one, which at 10 M rows costs more than the
    /// rest of a reader's work). Returns the number of rows.
    ///
    /// COPY takes no parameters: values go into `sql` as literals (`literal(_:)`).
    /// Not retried: when the connection is lost, `lost` gets the last row handed out
    /// (nil before the first) and `.connectionLost` is thrown, so a caller reading in
    /// key order can reconnect and carry on after it. When `body` throws, the COPY is
    /// cancelled and the error rethrown.
    @discardableResult
    public func copyOut(_ sql: String, lost: ([UInt8]?) -> Void = { _ in },
                        _ body: (UnsafeRawBufferPointer?) throws -> Void) throws -> Int {
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
        var scratch: [UInt8] = []
        // The line handed out last is freed only when the next arrives: the row a broken
        // read carries on after, without a copy of every row.
        var previous: UnsafeMutablePointer<CChar>?
        var previousLength = 0
        defer { if let previous { PQfreemem(previous) } }
        var failure: (any Error)?
        while true {
            var line: UnsafeMutablePointer<CChar>?
            let length = PQgetCopyData(handle, &line, 0)
            guard length > 0, let line else { break }  // -1: done, -2: failed (read below)
            if let previous { PQfreemem(previous) }
            previous = line
            previousLength = Int(length)
            guard failure == nil else { continue }  // cancelled: drop what still comes
            do {
                try Self.withCopyField(UnsafeRawBufferPointer(start: line, count: Int(length)), scratch: &scratch, body)
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
            if count == 0 {
                lost(nil)
            } else if let previous {
                var last: [UInt8] = []
                try? Self.withCopyField(UnsafeRawBufferPointer(start: previous, count: previousLength), scratch: &scratch) { field in
                    last = field.map(Array.init) ?? []
                }
                lost(last)
            }
        }
        throw error
    }

    /// One line of COPY's text format (one column, with its newline): `\N` is NULL;
    /// the escapes the server writes (`\\`, `\b`, `\f`, `\n`, `\r`, `\t`, `\v`) are
    /// undone, in `scratch` when there are any, else the text is handed out in place.
    static func withCopyField(_ line: UnsafeRawBufferPointer, scratch: inout [UInt8],
                              _ body: (UnsafeRawBufferPointer?) throws -> Void) throws {
        var end = line.count
        if end > 0 && line[end - 1] == 0x0A { end -= 1 }
        let text = UnsafeRawBufferPointer(rebasing: line[0..<end])
        if text.count == 2 && text[0] == 0x5C && text[1] == 0x4E { return try body(nil) }
        guard text.contains(0x5C) else { return try body(text) }
        scratch.removeAll(keepingCapacity: true)
        var index = 0
        while index < text.count {
            let byte = text[index]
            if byte == 0x5C && index + 1 < text.count {
                let next = text[index + 1]
                switch next {
                case 0x62: scratch.append(0x08)  // \b
                case 0x66: scratch.append(0x0C)  // \f
                case 0x6E: scratch.append(0x0A)  // \n
                case 0x72: scratch.append(0x0D)  // \r
                case 0x74: scratch.append(0x09)  // \t
                case 0x76: scratch.append(0x0B)  // \v
                default: scratch.append(next)    // \\ (and any other escaped character itself)
                }
                index += 2
            } else {
                scratch.append(byte)
                index += 1
            }
        }
        try scratch.withUnsafeBytes { try body($0) }
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
