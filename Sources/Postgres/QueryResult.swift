import CLibPQ

/// The rows of one statement, text format, copied out of libpq's result so it can
/// outlive the connection and cross threads.
public struct QueryResult: Sendable {
    public let columns: [String]
    /// `rows[r][c]`; `nil` is SQL NULL.
    public let rows: [[String?]]
    /// Rows affected by INSERT/UPDATE/DELETE (0 for other statements).
    public let affectedRows: Int

    public init(columns: [String], rows: [[String?]], affectedRows: Int) {
        self.columns = columns
        self.rows = rows
        self.affectedRows = affectedRows
    }

    init(_ result: OpaquePointer) {
        defer { PQclear(result) }
        let columnCount = Int(PQnfields(result))
        let rowCount = Int(PQntuples(result))
        columns = (0..<columnCount).map { String(cString: PQfname(result, Int32($0))) }
        var rows: [[String?]] = []
        rows.reserveCapacity(rowCount)
        for r in 0..<rowCount {
            var row: [String?] = []
            row.reserveCapacity(columnCount)
            for c in 0..<columnCount {
                if PQgetisnull(result, Int32(r), Int32(c)) == 1 {
                    row.append(nil)
                } else {
                    let length = Int(PQgetlength(result, Int32(r), Int32(c)))
                    let pointer = UnsafeRawPointer(PQgetvalue(result, Int32(r), Int32(c))!)
                    let bytes = UnsafeRawBufferPointer(start: pointer, count: length)
                    // A server in SQL_ASCII can hand back bytes that are not UTF-8:
                    // decode with replacement characters rather than fail.
                    row.append(String(decoding: bytes, as: UTF8.self))
                }
            }
            rows.append(row)
        }
        self.rows = rows
        let affected = String(cString: PQcmdTuples(result))
        affectedRows = Int(affected) ?? 0
    }

    public var isEmpty: Bool { rows.isEmpty }

    /// The first column of the first row, or `nil`.
    public var scalar: String? { rows.first?.first ?? nil }

    /// The column `name` of row `row`.
    public func value(_ row: Int, _ name: String) -> String? {
        guard let index = columns.firstIndex(of: name) else { return nil }
        return rows[row][index]
    }
}
