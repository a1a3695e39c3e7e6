import Foundation
import Testing
@testable import StateConfig

/// One value set at every level, then each level removed in turn, highest first.
@Suite struct PrecedenceTests {
    enum Level: Int, CaseIterable, Sendable {
        case flag, environment, dotenv, meltanoYML, configFile, none
    }

    /// Sets `key` at every level from `lowest` down; returns flags and environment.
    func prepare(_ sandbox: Sandbox, key: String, variable: String, value: (Level) -> String, from highest: Level,
                 meltano: Bool = true, environment base: [String: String] = [:]) -> ([String: String], [String: String]) {
        var flags: [String: String] = [:]
        var environment = base
        var dotenv = "OTHER=1\n"
        var meltanoFile = "version: 1\nlock_timeout: 99\n"
        var config = "# config\n"
        let path = key.split(separator: ".").map(String.init)
        func yaml(_ value: String) -> String {
            var text = ""
            for (depth, part) in path.enumerated() {
                text += String(repeating: "  ", count: depth) + part + ":" + (depth == path.count - 1 ? " \(value)\n" : "\n")
            }
            return text
        }
        for level in Level.allCases where level.rawValue >= highest.rawValue {
            switch level {
            case .flag: flags[key] = value(level)
            case .environment: environment[variable] = value(level)
            case .dotenv: dotenv += "\(variable)=\(value(level))\n"
            case .meltanoYML: if meltano { meltanoFile += yaml(value(level)) }
            case .configFile: config += yaml(value(level))
            case .none: break
            }
        }
        sandbox.write("project/meltano.yml", meltanoFile)
        sandbox.write("project/.env", dotenv)
        sandbox.write(sandbox.configFile, config)
        return (flags, environment)
    }

    func expectedSource(_ level: Level, _ sandbox: Sandbox, variable: String, yamlLine: Int) -> SettingSource {
        switch level {
        case .flag: return .flag
        case .environment: return .environment(variable: variable)
        case .dotenv: return .dotenv(path: sandbox.project + "/.env", line: 2, variable: variable)
        case .meltanoYML: return .meltanoYML(path: sandbox.project + "/meltano.yml", line: yamlLine + 2)
        case .configFile: return .configFile(path: sandbox.configFile, line: yamlLine + 1)
        case .none: return .default
        }
    }

    @Test(arguments: Level.allCases)
    func host(removingAbove highest: Level) throws {
        let sandbox = Sandbox()
        let variable = "MELTANO_STATE_BACKEND_POSTGRES_HOST"
        let (flags, environment) = prepare(sandbox, key: "state_backend.postgres.host", variable: variable,
                                           value: { "\($0)-host" }, from: highest,
                                           environment: ["MELTANO_STATE_BACKEND_URI": "postgres://u:pw@/db"])
        let config = try sandbox.resolve(flags: flags, environment: environment)
        let expected = highest == .none ? "localhost" : "\(highest)-host"
        #expect(config.connection.host == expected)
        #expect(config.value("state_backend.postgres.host") == expected)
        #expect(config.source("state_backend.postgres.host") == expectedSource(highest, sandbox, variable: variable, yamlLine: 3))
    }

    @Test(arguments: Level.allCases)
    func uri(removingAbove highest: Level) throws {
        let sandbox = Sandbox()
        let variable = "MELTANO_STATE_BACKEND_URI"
        let (flags, environment) = prepare(sandbox, key: "state_backend.uri", variable: variable,
                                           value: { "postgres://u:pw@\($0)-host/db/\($0)" }, from: highest)
        if highest == .none {
            // Meltano's default is systemdb, and without database_uri that is SQLite.
            #expect {
                try sandbox.resolve(flags: flags, environment: environment)
            } throws: { error in
                "\(error)".contains("system database") && "\(error)".contains("SQLite")
            }
            return
        }
        let config = try sandbox.resolve(flags: flags, environment: environment)
        #expect(config.connection.host == "\(highest)-host".lowercased())  // the add-on lower-cases the host
        #expect(config.tableSchema == "\(highest)".lowercased())
        #expect(config.value("state_backend.uri") == "postgres://u:********@\(highest)-host/db/\(highest)")
        let source = expectedSource(highest, sandbox, variable: variable, yamlLine: 2)
        #expect(config.source("state_backend.uri") == source)
        #expect(config.source("state_backend.postgres.host") == .uri(key: "state_backend.uri", from: source))
    }

    @Test(arguments: Level.allCases)
    func ownSetting(removingAbove highest: Level) throws {
        let sandbox = Sandbox()
        let variable = "MELTANO_STATE_LOCK_TIMEOUT"
        let seconds: [Level: String] = [.flag: "1", .environment: "2", .dotenv: "3", .meltanoYML: "4", .configFile: "5"]
        let (flags, environment) = prepare(sandbox, key: "lock_timeout", variable: variable, value: { seconds[$0]! },
                                           from: highest, meltano: false,
                                           environment: ["MELTANO_STATE_BACKEND_URI": "postgres://u@h/db"])
        let config = try sandbox.resolve(flags: flags, environment: environment)
        // meltano.yml holds only Meltano's settings: its lock_timeout: 99 is never read.
        switch highest {
        case .none, .meltanoYML:
            let fallsTo: Level = highest == .none ? .none : .configFile
            #expect(config.lockTimeout == (fallsTo == .none ? 30 : 5))
            #expect(config.source("lock_timeout") == expectedSource(fallsTo, sandbox, variable: variable, yamlLine: 1))
        default:
            #expect(config.lockTimeout == Double(seconds[highest]!))
            #expect(config.source("lock_timeout") == expectedSource(highest, sandbox, variable: variable, yamlLine: 1))
        }
    }

    @Test func meltanoYMLEnvBlockOverridesTheProcessEnvironment() throws {
        // ProjectSettingsService.env = {**os.environ, **project.env, **meltano.yml env:}
        let sandbox = Sandbox()
        sandbox.write("project/meltano.yml", """
            env:
              MELTANO_STATE_BACKEND_POSTGRES_HOST: from-env-block
            state_backend:
              uri: postgres://u@h/db
            """)
        let config = try sandbox.resolve(environment: ["MELTANO_STATE_BACKEND_POSTGRES_HOST": "from-process"])
        #expect(config.connection.host == "from-env-block")
        #expect(config.source("state_backend.postgres.host")
            == .meltanoYMLEnvironment(path: sandbox.project + "/meltano.yml", line: 2, variable: "MELTANO_STATE_BACKEND_POSTGRES_HOST"))
    }

    @Test func anEmptyValueStillWinsAndFallsBackToTheURI() throws {
        // Meltano stops at the first store that has the key; the add-on's `host or parsed.hostname`
        // then falls back to the URI.
        let sandbox = Sandbox()
        sandbox.write("project/meltano.yml", """
            state_backend:
              uri: postgres://u@uri-host/db
              postgres:
                host: yml-host
            """)
        let config = try sandbox.resolve(environment: ["MELTANO_STATE_BACKEND_POSTGRES_HOST": ""])
        #expect(config.connection.host == "uri-host")
        let entry = try #require(config.entry("state_backend.postgres.host"))
        #expect(entry.source == .uri(key: "state_backend.uri", from: .meltanoYML(path: sandbox.project + "/meltano.yml", line: 2)))
        #expect(entry.note?.contains("env MELTANO_STATE_BACKEND_POSTGRES_HOST is set but empty") == true)
    }

    @Test func yamlNullDoesNotCount() throws {
        let sandbox = Sandbox()
        sandbox.write("project/meltano.yml", """
            state_backend:
              uri: postgres://u@uri-host/db
              postgres:
                host:
            """)
        sandbox.write(sandbox.configFile, "state_backend.postgres.host: cfg-host\n")
        let config = try sandbox.resolve()
        #expect(config.connection.host == "cfg-host")
        #expect(config.source("state_backend.postgres.host") == .configFile(path: sandbox.configFile, line: 1))
    }
}
