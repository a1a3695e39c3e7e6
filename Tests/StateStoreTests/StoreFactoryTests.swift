import Foundation
import StateConfig
import StateStore
import Testing
import TestSupport

/// `StoreFactory`: the one way the CLI and the browser open a store.
@Suite("Opening a store from the resolved configuration")
struct StoreFactoryTests {
    /// The configuration the CLI would resolve for `uri`, with nothing else around it.
    func configuration(uri: String, flags: [String: String] = [:]) throws -> ResolvedConfiguration {
        let home = NSTemporaryDirectory() + "meltano-state-factory-\(UUID().uuidString)"
        return try ConfigurationResolver.resolve(ConfigurationInputs(
            flags: flags, environment: ["MELTANO_STATE_BACKEND_URI": uri, "MELTANO_STATE_JOURNAL": home + "/journal.jsonl"],
            workingDirectory: home, homeDirectory: home))
    }

    func uri(schema: String, port: Int? = nil) throws -> String {
        let db = try TestDatabase.configuration()
        return "postgres://\(db.user!)@\(db.host!):\(port ?? db.port!)/\(db.database!)/\(schema)"
    }

    @Test("Opens in the configured schema and the detected layout, with the configured options; no prompt when none is needed")
    func opens() throws {
        let fixture = try StoreFixture(schemaPrefix: "factory")
        var factory = StoreFactory(configuration: try configuration(uri: uri(schema: fixture.schema), flags: ["lock_timeout": "7"]))
        let store = try factory.open(askingPassword: { _ in
            Issue.record("asked for a password the server did not want")
            return nil
        })
        defer { store.close() }
        #expect(store.layout == .twoTables)
        #expect(store.schema == fixture.schema)
        #expect(store.options.lockTimeout == 7)
        #expect(store.options.staleLockAfter == OwnSettings.defaultStaleLockAfter)
        #expect(try store.tablesExist())
        // A second store from the same factory, as the browser's workers open theirs.
        let again = try factory.open()
        defer { again.close() }
        #expect(again.layout == .twoTables && again.schema == fixture.schema)
    }

    @Test("A server that cannot be reached: the CLI's sentence, naming the target")
    func cannotConnect() throws {
        let factory = StoreFactory(configuration: try configuration(uri: uri(schema: "public", port: 1)))
        do {
            _ = try factory.open()
            Issue.record("opened a store on port 1")
        } catch let error as StoreError {
            #expect(error.description.hasPrefix("Cannot connect to "))
        }
    }
}
