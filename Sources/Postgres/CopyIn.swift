import CLibPQ
import Foundation

extension Connection {
    /// Runs `COPY … FROM STDIN` (text format) with `rows`, each a row's columns in the
    /// statement's order (`nil` is SQL NULL), and returns how many rows were copied.
    /// One statement: every row is written or none is. For bulk writes it is about twice
    /// as fast on the server as an `INSERT … SELECT unnest(…)` of the same rows.
    ///
    /// A value with a NUL character is refused (`.invalidInput`) and the COPY abandoned;
    /// the server's errors (a unique violation, …) come as from `query`. Never retried.
    @discardableResult
    public func copyIn<S: Sequence>(_ sql: String, rows: S) throws -> Int where S.Element == [String?] {
        lock.lock()
        defer { lock.unlock() }
        let handle = try usableHandle()
        guard let start = PQexec(handle, sql) else { throw connectionFailure(handle, otherwise: "The server returned no result.") }
        guard PQresultStatus(start) == PGRES_COPY_IN else {
            let error = makeError(start, handle)
            PQclear(start)
            while let rest = PQgetResult(handle) { PQclear(rest) }
            throw error
        }
        PQclear(start)

        var buffer: [UInt8] = []
        buffer.reserveCapacity(1 << 17)
        var refused: PostgresError?
        var sendFailed = false
        func flush() {
            guard !buffer.isEmpty, !sendFailed else { return }
            let sent = buffer.withUnsafeBytes { bytes in
                PQputCopyData(handle, bytes.baseAddress!.assumingMemoryBound(to: CChar.self), Int32(bytes.count))
            }
            buffer.removeAll(keepingCapacity: true)
            if sent != 1 { sendFailed = true }
        }
        rowLoop: for row in rows {
            for (index, field) in row.enumerated() {
                if index > 0 { buffer.append(0x09) }
                guard var text = field else {
                    buffer.append(contentsOf: [0x5C, 0x4E])  // \N
                    continue
                }
                let ok = text.withUTF8 { bytes -> Bool in Self.appendCopyText(bytes, to: &buffer) }
                if !ok {
                    refused = PostgresError(kind: .invalidInput,
                                            message: "A value contains a NUL character, which PostgreSQL text cannot hold.")
                    break rowLoop
                }
            }
            buffer.append(0x0A)
            if buffer.count >= 1 << 16 { flush() }
            if sendFailed { break }
        }
        if refused == nil { flush() }
        // Abandoning the COPY (an error message to PQputCopyEnd) makes the server fail
        // the statement, so nothing of it is written.
        let ended = refused != nil || sendFailed
            ? PQputCopyEnd(handle, "meltano-state: the copy was abandoned")
            : PQputCopyEnd(handle, nil)
        var copied = 0
        var errorResult: OpaquePointer?
        while let result = PQgetResult(handle) {
            let status = PQresultStatus(result)
            if status == PGRES_COMMAND_OK {
                copied = Int(String(cString: PQcmdTuples(result))) ?? 0
            } else if errorResult == nil {
                errorResult = result
                continue
            }
            PQclear(result)
        }
        if let refused {
            if let errorResult { PQclear(errorResult) }
            throw refused
        }
        if let errorResult {
            let error = makeError(errorResult, handle)
            PQclear(errorResult)
            throw error
        }
        if sendFailed || ended != 1 {
            throw connectionFailure(handle, otherwise: "The connection to the server was lost during a COPY.")
        }
        return copied
    }

    /// COPY's text format: backslash, tab, newline and carriage return escaped; runs
    /// between them copied whole. False for a NUL byte.
    static func appendCopyText(_ bytes: UnsafeBufferPointer<UInt8>, to buffer: inout [UInt8]) -> Bool {
        var start = 0
        for index in bytes.indices {
            let byte = bytes[index]
            guard byte == 0x5C || byte < 0x20 else { continue }
            let escaped: UInt8
            switch byte {
            case 0x5C: escaped = 0x5C  // \\
            case 0x09: escaped = 0x74  // \t
            case 0x0A: escaped = 0x6E  // \n
            case 0x0D: escaped = 0x72  // \r
            case 0x00: return false
            default: continue  // other control characters go as they are
            }
            buffer.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<index]))
            buffer.append(0x5C)
            buffer.append(escaped)
            start = index + 1
        }
        buffer.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start...]))
        return true
    }
}
