import Foundation
import Postgres
import StateStore
import TestSupport
import Testing

extension TmuxEndToEndTests {
    @Test("Contexts: the header shows the context, : switches to another, a read-only prod context refuses writes")
    func switchContext() throws {
        let fixture = try BrowserFixture()
        try fixture.insert("dev:tap-a-to-b", completed: #"{"singer_state": {"where": "dev"}}"#)
        // The later add-on's single table in the same schema: context prod reads it.
        let table = quoteIdentifier(fixture.schema) + ".state"
        try fixture.admin.query("CREATE TABLE \(table) (state_id VARCHAR(900) PRIMARY KEY, partial_state TEXT, completed_state TEXT, updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP)")
        try fixture.admin.query("INSERT INTO \(table) (state_id, completed_state) VALUES ('prod:tap-c-to-d', '{\"singer_state\": {\"where\": \"prod\"}}')")
        try fixture.admin.query("INSERT INTO \(table) (state_id, completed_state) VALUES ('dev:tap-a-to-b', '{\"singer_state\": {\"where\": \"copied\"}}')")
        let configuration = try TestDatabase.configuration()
        let server = "\(configuration.user ?? "postgres")@\(configuration.host ?? "127.0.0.1"):\(configuration.port ?? 5432)/\(configuration.database ?? "postgres")"
        let config = NSTemporaryDirectory() + "meltano-state-contexts-\(UUID().uuidString.prefix(8)).yml"
        try """
            contexts:
              dev:
                uri: postgres://\(server)/\(fixture.schema)
                color: green
              prod:
                uri: postgresql://\(server)
                layout: single-table
                read_only: true
                color: red
            """.write(toFile: config, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: config) }

        let tmux = try Tmux(fixture: fixture, environment: ["MELTANO_STATE_CONFIG": config], arguments: ["--context", "dev"], connection: [])
        defer { tmux.kill() }
        try tmux.waitFor(#""where": "dev""#)
        #expect(tmux.capture().hasPrefix(" dev  "), "\(tmux.capture())")
        #expect(!tmux.capture().contains("READ-ONLY"))
        // =: the selected state against the same ID in prod.
        tmux.send("=")
        try tmux.waitFor("Compare with context")
        tmux.send("Enter")
        try tmux.waitFor(#"~ .singer_state.where: "dev" -> "copied""#)
        tmux.send("Escape")
        tmux.send(":")
        try tmux.waitFor("Switch context")
        #expect(tmux.capture().contains("read-only") && tmux.capture().contains("postgresql://"))
        tmux.send("j")
        tmux.send("Enter")
        try tmux.waitFor("1 of 2")
        let screen = tmux.capture()
        #expect(screen.hasPrefix(" prod  ") && screen.contains("READ-ONLY") && screen.contains("single-table"), "\(screen)")
        tmux.send("d")
        try tmux.waitFor("Read-only: clearing is disabled")
        #expect(try fixture.admin.query("SELECT count(*) FROM \(table)").scalar == "2")
        // And back to dev, where writes are allowed again.
        tmux.send(":")
        try tmux.waitFor("Switch context")
        tmux.send("k")
        tmux.send("Enter")
        try tmux.waitFor(#""where": "dev""#)
        tmux.send("d")  // the confirmation opens: dev is writable
        try tmux.waitFor("Clear the state of")
        tmux.send("n", "q")
        try tmux.waitFor("EXIT=0")
    }
}
