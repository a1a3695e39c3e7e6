import Foundation
import Postgres
import Testing
import TestSupport

@Suite("COPY … TO STDOUT against the test server")
struct CopyOutTests {
    /// Every escape COPY's text format writes, NULL, empty text, non-ASCII and a long value.
    static let values: [String?] = ["plain", "tab\there", "new\nline", "carriage\rreturn", "back\\slash", "\\N", "bell\u{8}form\u{c}vtab\u{b}",
                                    "other \u{1} control", "", nil, "日本語 😀 é", String(repeating: "abcdefgh\\", count: 20_000)]

    @Test func rowsComeUnescapedAsQueryReadsThem() throws {
        try withScratchTable("(n int, v text)") { connection, table, _ in
            for (index, value) in Self.values.enumerated() {
                try connection.query("INSERT INTO \(table) VALUES ($1, $2)", [String(index), value])
            }
            let expected = try connection.query("SELECT v FROM \(table) ORDER BY n").rows.map { $0[0] }
            var back: [String?] = []
            let count = try connection.copyOut("COPY (SELECT v FROM \(table) ORDER BY n) TO STDOUT") { field in
                back.append(field.map { String(decoding: $0, as: UTF8.self) })
            }
            #expect(count == Self.values.count)
            #expect(back == expected)
            #expect(back == Self.values)
            #expect(try connection.query("SELECT 1").scalar == "1")
        }
    }

    /// Several columns: split at the tabs COPY puts between them (a tab in a value is
    /// escaped), each unescaped, NULL told from the text "\N" and from empty text.
    @Test func rowsOfSeveralColumnsComeAsQueryReadsThem() throws {
        try withScratchTable("(n int, a text, b text, c text)") { connection, table, _ in
            let values = Self.values
            for index in values.indices {
                try connection.query("INSERT INTO \(table) VALUES ($1, $2, $3, $4)",
                                     [String(index), values[index], values[(index + 1) % values.count], values[(index + 5) % values.count]])
            }
            let expected = try connection.query("SELECT n::text AS number, a, b, c FROM \(table) ORDER BY n").rows
            var back: [[String?]] = []
            try connection.copyOutRows("COPY (SELECT n, a, b, c FROM \(table) ORDER BY n) TO STDOUT") { row in
                #expect(row.columnCount == 4)
                back.append((0..<4).map { row.string($0) })
                #expect(row.isNull(1) == (row.field(1) == nil))
            }
            #expect(back.count == expected.count)
            for (index, (got, want)) in zip(back, expected).enumerated() {
                for column in 0..<4 where got[column] != want[column] {
                    Issue.record("row \(index), column \(column): \(got[column].map { String($0.prefix(60)).debugDescription } ?? "NULL") instead of \(want[column].map { String($0.prefix(60)).debugDescription } ?? "NULL")")
                }
            }
            #expect(back.map { $0[1] } == values)
            #expect(back.contains { $0[1] == "\\N" } && back.contains { $0[1] == nil } && back.contains { $0[1] == "" })
        }
    }

    @Test func noRows() throws {
        let connection = try TestDatabase.connect()
        #expect(try connection.copyOut("COPY (SELECT 1 WHERE false) TO STDOUT") { _ in Issue.record("no row expected") } == 0)
    }

    @Test func serverErrorsAreThrownAndTheConnectionStaysUsable() throws {
        let connection = try TestDatabase.connect()
        var seen = 0
        let error = #expect(throws: PostgresError.self) {
            try connection.copyOut("COPY (SELECT 1 / (3 - i) FROM generate_series(1, 10) i) TO STDOUT") { _ in seen += 1 }
        }
        #expect(error?.sqlState == "22012")
        #expect(seen <= 2)
        #expect(try connection.query("SELECT 2").scalar == "2")
        let missing = #expect(throws: PostgresError.self) { try connection.copyOut("COPY (SELECT * FROM no_such_table_here) TO STDOUT") { _ in } }
        #expect(missing?.isUndefinedTable == true)
        #expect(try connection.query("SELECT 3").scalar == "3")
    }

    @Test func anErrorFromTheCallbackStopsTheCopy() throws {
        struct Stop: Error {}
        let connection = try TestDatabase.connect()
        var seen = 0
        let started = Date()
        #expect(throws: Stop.self) {
            // Would run for minutes if it were not cancelled.
            try connection.copyOut("COPY (SELECT i FROM generate_series(1, 100000) i, pg_sleep(CASE WHEN i > 3 THEN 0.01 ELSE 0 END)) TO STDOUT") { _ in
                seen += 1
                if seen == 3 { throw Stop() }
            }
        }
        #expect(seen == 3)
        #expect(Date().timeIntervalSince(started) < 30)
        #expect(try connection.query("SELECT 4").scalar == "4")
    }

    @Test func aLostConnectionReportsTheLastRowHandedOut() throws {
        let admin = try TestDatabase.connect()
        let victim = try TestDatabase.connect()
        let pid = victim.backendPID
        var seen: [String] = []
        var lastHandedOut: [UInt8]??
        let error = #expect(throws: PostgresError.self) {
            try victim.copyOut("COPY (SELECT 'row ' || i FROM generate_series(1, 100000) i, pg_sleep(CASE WHEN i > 3 THEN 0.01 ELSE 0 END)) TO STDOUT",
                               lost: { lastHandedOut = $0 }) { field in
                seen.append(String(decoding: field!, as: UTF8.self))
                if seen.count == 3 {
                    try admin.query("SELECT pg_terminate_backend($1::int)", [String(pid)])
                    #expect(try waitForBackendToExit(admin, pid: pid), "backend \(pid) still ran 10 s after pg_terminate_backend")
                }
            }
        }
        #expect(error?.kind == .connectionLost)
        #expect(seen.count >= 3 && seen.count < 100000)
        #expect(lastHandedOut == .some(Array(seen.last!.utf8)))
    }

    @Test func literalsReadBackAsTheirText() throws {
        let connection = try TestDatabase.connect()
        for text in ["", "it's", "back\\slash 'and' quote", "$1 $2", "日本語 😀", "E'x'", "%_\\%"] {
            let literal = try connection.literal(text)
            #expect(try connection.query("SELECT \(literal)").scalar == text, "literal \(literal)")
        }
        #expect(throws: PostgresError.self) { try connection.literal("nul\u{0}") }
    }
}
