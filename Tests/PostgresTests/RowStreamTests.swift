import Foundation
import Postgres
import Testing
import TestSupport

@Suite("Streaming rows (single-row mode) against the test server")
struct RowStreamTests {
    @Test func rowsArriveInOrderWithTheSameValuesAsQuery() throws {
        let connection = try TestDatabase.connect()
        let sql = "SELECT i, CASE WHEN i % 3 = 0 THEN NULL ELSE repeat('é', i % 7) || i END FROM generate_series(1, 5000) i ORDER BY i"
        let expected = try connection.query(sql).rows
        var rows: [[String?]] = []
        let count = try connection.forEachRow(sql) { row in
            #expect(row.columnCount == 2)
            rows.append((0..<row.columnCount).map { row.string($0) })
            if row.isNull(1) { #expect(row.bytes(1).isEmpty) }
        }
        #expect(count == 5000)
        #expect(rows == expected)
        // The connection is usable afterwards.
        #expect(try connection.query("SELECT 1").scalar == "1")
    }

    @Test func bytesAreTheTextAsSent() throws {
        let connection = try TestDatabase.connect()
        let values = ["tab\tnew\nline", "back\\slash", "日本語 😀", "", String(repeating: "abcdefgh", count: 131_072)]
        var back: [String] = []
        try connection.forEachRow("SELECT unnest($1::text[])", ["{" + values.map { "\"" + $0.replacingOccurrences(of: "\\", with: "\\\\") + "\"" }.joined(separator: ",") + "}"]) { row in
            back.append(String(decoding: row.bytes(0), as: UTF8.self))
        }
        #expect(back == values)
    }

    @Test func noRowsAndStatementsWithoutRows() throws {
        let connection = try TestDatabase.connect()
        #expect(try connection.forEachRow("SELECT 1 WHERE false") { _ in Issue.record("no row expected") } == 0)
        #expect(try connection.forEachRow("SET application_name = 'x'") { _ in Issue.record("no row expected") } == 0)
    }

    @Test func serverErrorsAreThrownAndTheConnectionStaysUsable() throws {
        let connection = try TestDatabase.connect()
        // Fails after some rows were already sent: a division by zero at row 3.
        var seen = 0
        let error = #expect(throws: PostgresError.self) {
            try connection.forEachRow("SELECT 1 / (3 - i) FROM generate_series(1, 10) i") { _ in seen += 1 }
        }
        #expect(error?.sqlState == "22012")
        #expect(seen == 2)
        #expect(try connection.query("SELECT 2").scalar == "2")
        let missing = #expect(throws: PostgresError.self) { try connection.forEachRow("SELECT * FROM no_such_table_here") { _ in } }
        #expect(missing?.isUndefinedTable == true)
    }

    @Test func anErrorFromTheCallbackStopsTheStatement() throws {
        struct Stop: Error {}
        let connection = try TestDatabase.connect()
        var seen = 0
        let started = Date()
        #expect(throws: Stop.self) {
            // Would run for minutes if it were not cancelled.
            try connection.forEachRow("SELECT i, pg_sleep(CASE WHEN i > 3 THEN 0.01 ELSE 0 END) FROM generate_series(1, 100000) i") { _ in
                seen += 1
                if seen == 3 { throw Stop() }
            }
        }
        #expect(seen == 3)
        #expect(Date().timeIntervalSince(started) < 30)
        #expect(try connection.query("SELECT 3").scalar == "3")
    }

    @Test func aBrokenConnectionIsReopenedForAnIdempotentRead() throws {
        let admin = try TestDatabase.connect()
        let victim = try TestDatabase.connect()
        let first = victim.backendPID
        try admin.query("SELECT pg_terminate_backend($1::int)", [String(first)])
        #expect(try waitForBackendToExit(admin, pid: first), "backend \(first) still ran 10 s after pg_terminate_backend")
        var values: [String?] = []
        try victim.forEachRow("SELECT 'again'", idempotent: true) { values.append($0.string(0)) }
        #expect(values == ["again"])

        let second = victim.backendPID
        #expect(second != first, "the read reconnected")
        try admin.query("SELECT pg_terminate_backend($1::int)", [String(second)])
        #expect(try waitForBackendToExit(admin, pid: second), "backend \(second) still ran 10 s after pg_terminate_backend")
        let error = #expect(throws: PostgresError.self) { try victim.forEachRow("SELECT 1") { _ in } }
        #expect(error?.kind == .connectionLost)
    }
}
