import Postgres
import StateStore
import Testing

@testable import StateBrowser

/// Errors arrive from libpq and the server on several lines; the status line and the
/// header have one. IDs keep their escapes.
@Suite("Error texts read on one line")
struct StatusTextTests {
    /// As libpq words a refused connection.
    static let refused = PostgresError(kind: .connectionFailed, message: """
        connection to server at "127.0.0.1", port 1 failed: Connection refused
        \tIs the server running on that host and accepting TCP/IP connections?

        """)

    @Test("libpq's line break and tab become one space")
    func postgresOnOneLine() {
        let text = RunnerErrors.describe(Self.refused)
        #expect(text.hasPrefix(#"connection to server at "127.0.0.1", port 1 failed: Connection refused Is the server running on that host and accepting TCP/IP connections? "#), "\(text)")
        #expect(!text.contains("\n") && !text.contains("\t"))
    }

    @Test("A store error: the server's lines (Detail, Hint) joined, the state ID in the store's wording as it is")
    func storeErrorOnOneLine() {
        let server = PostgresError(kind: .server, sqlState: "XX000", message: "something broke\n\tbadly",
                                   detail: "line one\n  line two", hint: "try again")
        let text = RunnerErrors.describe(StoreError.database(action: "read 'dev:a\nb'", server))
        #expect(text == "Could not read 'dev:a\nb': something broke badly (SQLSTATE XX000) Detail: line one line two Hint: try again")
        let broken = RunnerErrors.describe(StoreError.interrupted(action: "clear 'x'", outcome: "Nothing was changed.", Self.refused))
        #expect(!broken.contains("\n") && broken.contains("Connection refused Is the server running"), "\(broken)")
    }

    @Test("On screen: the status line reads as one sentence; an ID in a status still shows its control characters")
    func onScreen() {
        let backend = Samples.backend()
        backend.failing[.page] = RunnerErrors.describe(Self.refused)
        let harness = Harness(backend: backend, size: Size(width: 200, height: 30))
        #expect(harness.text.contains("Connection refused Is the server running on that host"), "\(harness.text)")
        #expect(!harness.text.contains("\\x0a") && !harness.text.contains("\\x09"))

        let ids = FakeBackend()
        ids.add("dev:a\nb", completed: "{}")
        ids.add("dev:c", completed: "{}")
        var clearing = Harness(backend: ids)
        clearing.press(.character("d"), .character("y"))
        #expect(ids.writes == [.clear(stateID: "dev:a\nb")])
        #expect(clearing.text.contains("Cleared 'dev:a\\x0ab'"))
    }
}
