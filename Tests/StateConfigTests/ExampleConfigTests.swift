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
}
