import Foundation
import Postgres
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

    /// A role that must log in with a password (the test server's group
    /// `password_users`, scram over TCP), and no password configured: the factory asks.
    @Test("Asks for the password the server wants; a wrong one is the same sentence as any failure, the right one is kept for later opens")
    func asksForThePassword() throws {
        let admin = try TestDatabase.connect()
        let role = "factory_\(UUID().uuidString.prefix(8).lowercased())"
        let password = "Typed-\(UUID().uuidString.prefix(8))"
        _ = try admin.query("CREATE ROLE \(quoteIdentifier(role)) LOGIN PASSWORD '\(password)' IN ROLE password_users")
        defer { _ = try? admin.query("DROP ROLE IF EXISTS \(quoteIdentifier(role))") }
        let db = try TestDatabase.configuration()
        let uri = "postgres://\(role)@\(db.host!):\(db.port!)/\(db.database!)/public"

        var wrong = StoreFactory(configuration: try configuration(uri: uri))
        var asked: [String] = []
        do {
            _ = try wrong.open(askingPassword: { prompt in asked.append(prompt); return password + "-wrong" })
            Issue.record("opened a store with a wrong password")
        } catch let error as StoreError {
            #expect(error.description.hasPrefix("Cannot connect to "), "\(error)")
            #expect(error.description.contains("password authentication failed"), "\(error)")
            #expect(!error.description.contains(password), "the typed password is in the error")
        }
        #expect(asked.count == 1 && asked[0].hasPrefix("Password for "), "\(asked)")
        // No terminal to ask on (nil), or nothing typed at the prompt (Enter, Ctrl-D):
        // where to set it; only the first says to run in a terminal.
        for (answer, inVain) in [(nil, false), ("", true)] as [(String?, Bool)] {
            var factory = StoreFactory(configuration: try configuration(uri: uri))
            let error = #expect(throws: StoreError.self) { _ = try factory.open(askingPassword: { _ in answer }) }
            let text = error?.description ?? ""
            #expect(text.contains("and none was configured") && text.contains("PGPASSWORD"), "\(text)")
            #expect(text.contains("Nothing was typed at the prompt") == inVain && text.contains("run meltano-state in a terminal") == !inVain, "\(text)")
        }

        var right = StoreFactory(configuration: try configuration(uri: uri))
        let store = try right.open(askingPassword: { _ in password })
        store.close()
        // The browser's workers open theirs without a prompt, with the password typed once.
        let worker = try right.open()
        worker.close()
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

/// Layout detection reads the catalog; when it cannot, opening fails and says so,
/// instead of guessing the backend's default layout (which, on a schema holding another
/// layout, shows no states). Revoking catalog access is server-wide: a server of its own.
@Suite("Layout detection that fails", .serialized)
struct LayoutDetectionFailureTests {
    @Test("A catalog the role may not read: the error names the look-up and the setting that skips it; an explicit layout still opens")
    func failedLookUpIsAnError() throws {
        let server = try ThrowawayServer(prefix: "detect")
        defer { server.stop() }
        let admin = try server.connect()
        let role = "detect_\(UUID().uuidString.prefix(8).lowercased())"
        _ = try admin.query("CREATE ROLE \(quoteIdentifier(role)) LOGIN")
        _ = try admin.query("CREATE SCHEMA meltano AUTHORIZATION \(quoteIdentifier(role))")
        _ = try admin.query("REVOKE SELECT ON pg_catalog.pg_class FROM PUBLIC")
        let base = server.configuration()
        let uri = "postgres://\(role)@\(base.host ?? "127.0.0.1"):\(server.port)/\(base.database ?? "postgres")/meltano"
        let home = NSTemporaryDirectory() + "meltano-state-detect-\(UUID().uuidString)"
        func factory(_ flags: [String: String]) throws -> StoreFactory {
            StoreFactory(configuration: try ConfigurationResolver.resolve(ConfigurationInputs(
                flags: flags, environment: ["MELTANO_STATE_BACKEND_URI": uri, "MELTANO_STATE_JOURNAL": home + "/journal.jsonl"],
                workingDirectory: home, homeDirectory: home)))
        }
        do {
            let store = try factory([:]).open()
            store.close()
            Issue.record("opened a store with layout \(store.layout) although the catalog could not be read")
        } catch let error as StoreError {
            let text = error.description
            #expect(text.hasPrefix("Could not look for Meltano's tables in schema 'meltano' to choose the layout: "), "\(text)")
            #expect(text.contains("permission denied for table pg_class"), "\(text)")
            #expect(text.contains("Setting the layout"), "\(text)")
        }
        let store = try factory(["layout": "two-tables"]).open()
        defer { store.close() }
        #expect(store.layout == .twoTables)
    }
}
