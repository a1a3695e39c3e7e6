import Foundation
import Postgres
import Testing
import TestSupport

@Suite("COPY FROM STDIN against the test server")
struct CopyInTests {
    static let awkward: [String?] = ["plain", "", nil, "\\N", "\\.", "tab\there", "new\nline", "cr\rlf\r\n", "back\\slash\\",
                                     "日本語 😀 é", "\u{1}\u{7f}\u{9b}", "{\"singer_state\": {\"a\": \"\\\"x\\\"\"}}",
                                     String(repeating: "abcdefgh\t", count: 20_000)]

    @Test func everyValueArrivesAsSent() throws {
        try withScratchTable("(n int PRIMARY KEY, a text, b text)") { connection, table, _ throws in
            var rows: [[String?]] = []
            for (index, value) in Self.awkward.enumerated() {
                rows.append([String(index), value, Self.awkward[(index + 3) % Self.awkward.count]])
            }
            // Enough rows to need several buffers.
            for index in Self.awkward.count..<5000 { rows.append([String(index), "row \(index)", nil]) }
            #expect(try connection.copyIn("COPY \(table) (n, a, b) FROM STDIN", rows: rows) == rows.count)
            let back = try connection.query("SELECT t.n::text AS k, t.a, t.b FROM \(table) t ORDER BY t.n").rows
            #expect(back.count == rows.count)
            let wrong = zip(back, rows).enumerated().filter { $0.element.0 != $0.element.1 }.map(\.offset)
            #expect(wrong.isEmpty, "rows that differ: \(wrong.prefix(5)), e.g. \(wrong.first.map { "\(back[$0]) vs \(rows[$0])".prefix(300) } ?? "")")
        }
    }

    @Test func aUniqueViolationWritesNothing() throws {
        try withScratchTable("(id text PRIMARY KEY)") { connection, table, _ throws in
            try connection.query("INSERT INTO \(table) VALUES ('taken')")
            let rows: [[String?]] = (0..<3000).map { ["id \($0)"] } + [["taken"]]
            let error = #expect(throws: PostgresError.self) { try connection.copyIn("COPY \(table) (id) FROM STDIN", rows: rows) }
            #expect(error?.isUniqueViolation == true)
            #expect(try connection.query("SELECT count(*) FROM \(table)").scalar == "1")
            #expect(try connection.copyIn("COPY \(table) (id) FROM STDIN", rows: [["free"]]) == 1)
        }
    }

    @Test func aNULIsRefusedAndNothingIsWritten() throws {
        try withScratchTable("(id text)") { connection, table, _ throws in
            let rows: [[String?]] = (0..<10_000).map { ["id \($0)"] } + [["a\u{0}b"]]
            let error = #expect(throws: PostgresError.self) { try connection.copyIn("COPY \(table) (id) FROM STDIN", rows: rows) }
            #expect(error?.kind == .invalidInput)
            #expect(try connection.query("SELECT count(*) FROM \(table)").scalar == "0")
            #expect(connection.isConnected)
        }
    }

    @Test func aStatementThatIsNotACopyFails() throws {
        let connection = try TestDatabase.connect()
        let missing = #expect(throws: PostgresError.self) { try connection.copyIn("COPY no_such_table_here FROM STDIN", rows: [["x"]]) }
        #expect(missing?.isUndefinedTable == true)
        #expect(try connection.query("SELECT 4").scalar == "4")
    }

    @Test func insideATransactionARollbackUndoesIt() throws {
        try withScratchTable("(id text)") { connection, table, _ throws in
            struct Stop: Error {}
            #expect(throws: Stop.self) {
                try connection.transaction {
                    try connection.copyIn("COPY \(table) (id) FROM STDIN", rows: [["a"], ["b"]])
                    throw Stop()
                }
            }
            #expect(try connection.query("SELECT count(*) FROM \(table)").scalar == "0")
        }
    }
}
