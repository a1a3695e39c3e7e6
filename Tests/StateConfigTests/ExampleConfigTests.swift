import Foundation
import Testing
@testable import StateConfig

/// `config.example.yml` at the repository root lists every setting, and the values it
/// shows, uncommented, are accepted.
@Suite struct ExampleConfigTests {
    static var text: String {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return (try? String(contentsOf: root.appendingPathComponent("config.example.yml"), encoding: .utf8)) ?? ""
    }

    @Test func listsEverySettingWithItsVariable() {
        let text = Self.text
        #expect(!text.isEmpty)
        for setting in OwnSettings.all {
            #expect(text.contains("# \(setting.key): "), "\(setting.key)")
            #expect(text.contains("Env: \(setting.environmentVariable)"), "\(setting.environmentVariable)")
        }
        for key in SettingKey.meltanoKeys where key != SettingKey.strictEnvVarMode {
            #expect(text.contains(SettingKey.meltanoEnvVar(key)), "\(key)")
        }
        #expect(text.contains(OwnSettings.configFileVariable))
    }

    @Test func uncommentedItResolves() throws {
        // "    # host: localhost   # …" becomes "    host: localhost"
        let lines = Self.text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            guard let match = line.firstMatch(of: /^(\s*)# ([a-z_]+): (\S+)/) else { return String(line) }
            return match.1 + match.2 + ": " + match.3
        }
        let sandbox = Sandbox()
        sandbox.write(sandbox.configFile, lines.joined(separator: "\n"))
        let config = try sandbox.resolve(environment: ["STATE_DB_PASSWORD": "example-password"])
        #expect(config.configFileFound)
        #expect(config.backend == .postgres)
        #expect(config.connection.host == "localhost")
        #expect(config.connection.password == "example-password")
        #expect(config.layout == .auto)
        #expect(config.lockTimeout == 30)
        #expect(config.staleLockAfter == 300)
        #expect(config.refreshInterval == 2)
        #expect(config.readOnly == false)
        #expect(config.editor == "vi")
        #expect(config.color == .auto)
        #expect(config.journalPath == sandbox.home + "/.local/state/meltano-state/journal.jsonl")
        #expect(config.warnings.allSatisfy { !$0.contains("unknown setting") })
    }

    @Test func itsContextsExampleResolves() throws {
        // The block from "# contexts:" to the end, with "# " taken off each line.
        let text = Self.text
        let start = try #require(text.range(of: "\n# contexts:\n"))
        let block = text[start.upperBound...].split(separator: "\n").map { $0.hasPrefix("# ") ? String($0.dropFirst(2)) : String($0) }
        let sandbox = Sandbox()
        sandbox.write(sandbox.configFile, "contexts:\n" + block.joined(separator: "\n") + "\n")
        sandbox.write("home/src/etl/meltano.yml", "environments:\n- name: staging\nstate_backend:\n  uri: postgres://u@h:5432/d/s\n")
        var inputs = sandbox.inputs(environment: ["PROD_STATE_PASSWORD": "example-password"])
        let catalog = try ConfigurationResolver.contexts(inputs)
        #expect(catalog.contexts.map(\.name) == ["prod", "staging", "new-addon"])
        inputs.contextName = "prod"
        let prod = try ConfigurationResolver.resolve(inputs)
        #expect(prod.readOnly && prod.context?.color == .red && prod.connection.password == "example-password")
        inputs.contextName = "staging"
        let staging = try ConfigurationResolver.resolve(inputs)
        #expect(staging.meltanoProjectRoot == sandbox.home + "/src/etl" && staging.meltanoEnvironment == "staging")
        inputs.contextName = "new-addon"
        let addon = try ConfigurationResolver.resolve(inputs)
        #expect(addon.layout == .singleTable && addon.backend == .postgresql)
        for config in [prod, staging, addon] { #expect(config.warnings.allSatisfy { !$0.contains("unknown setting") }) }
    }
}
