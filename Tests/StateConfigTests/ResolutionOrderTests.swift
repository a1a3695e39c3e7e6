import Testing
@testable import StateConfig

/// The resolver is split by job (project and files, lookup, backends, own settings);
/// `resolve()` runs them in one order, which `config` shows: the URI, the backend's
/// connection parts (and database_uri), the table, then this tool's own settings.
@Suite struct ResolutionOrderTests {
    @Test(arguments: ["postgres://u@h/db", "postgresql://u@h/db", "systemdb"])
    func entriesComeInConfigsOrder(uri: String) throws {
        let sandbox = Sandbox()
        sandbox.write("project/meltano.yml", "database_uri: postgresql://m@sys/meltano\nstate_backend:\n  uri: \(uri)\n")
        let keys = try sandbox.resolve().entries.map(\.key)
        #expect(keys.first == "state_backend.uri")
        let own = ["layout", "lock_timeout", "stale_lock_after", "refresh_interval", "connect_timeout", "read_only",
                   "editor", "color", "journal"]
        #expect(Array(keys.suffix(own.count)) == own, "\(keys)")
        #expect(keys[keys.count - own.count - 1] == "state_backend.postgresql.table", "\(keys)")
        let parts = keys.dropFirst().dropLast(own.count + 1)
        #expect(!parts.isEmpty, "\(keys)")
        #expect(parts.last == "database_uri" || uri == "systemdb", "\(keys)")
        #expect(Set(keys).count == keys.count, "each setting once: \(keys)")
    }

    @Test func aBadConnectTimeoutIsReportedBeforeABadURI() {
        // The connect timeout is resolved first: the connection needs it.
        let sandbox = Sandbox()
        sandbox.write("project/meltano.yml", "state_backend:\n  uri: s3://bucket/x\n")
        #expect {
            try sandbox.resolve(environment: ["MELTANO_STATE_CONNECT_TIMEOUT": "soon"])
        } throws: { "\($0)".contains("connect_timeout") }
    }
}
