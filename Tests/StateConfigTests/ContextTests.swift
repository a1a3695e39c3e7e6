import Foundation
import Testing
@testable import StateConfig

/// Contexts: named backends in this tool's config file, selected with `--context` or
/// `MELTANO_STATE_CONTEXT`.
@Suite struct ContextTests {
    /// A config file with a URI context, a project context and a default backend.
    static func sandbox() -> Sandbox {
        let sandbox = Sandbox()
        sandbox.write(sandbox.configFile, """
            state_backend:
              uri: postgres://default@default-db:5432/meltano/public
            lock_timeout: 7
            contexts:
              prod:
                uri: postgres://meltano:pr0d-secret@prod-db:5432/meltano/public
                read_only: true
                color: red
              staging:
                project_dir: ../../../staging-project
                environment: staging
                color: yellow
              upgrade:
                uri: postgresql://meltano@upgrade-db/meltano
                password: ${UPGRADE_PASSWORD}
                layout: single-table
                table: new_state
                lock_timeout: 2
            """)
        sandbox.write("staging-project/meltano.yml", """
            default_environment: dev
            environments:
            - name: dev
            - name: staging
            state_backend:
              uri: postgres://stage@stage-db:5432/meltano/$MELTANO_ENVIRONMENT
            """)
        return sandbox
    }

    func resolve(_ sandbox: Sandbox, context: String?, flags: [String: String] = [:],
                 environment: [String: String] = [:]) throws -> ResolvedConfiguration {
        var inputs = sandbox.inputs(flags: flags, environment: environment)
        inputs.contextName = context
        return try ConfigurationResolver.resolve(inputs)
    }

    /// A context with a uri takes its connection from the context alone: the password
    /// help names the context's uri and password key, not the environment's variables.
    @Test func passwordHelpForAContextWithAURINamesTheContext() throws {
        let sandbox = Sandbox()
        sandbox.write(sandbox.configFile, "contexts:\n  prod:\n    uri: postgres://meltano@prod-db/meltano/public\n")
        let config = try resolve(sandbox, context: "prod", environment: ["MELTANO_STATE_BACKEND_POSTGRES_PASSWORD": "ignored-9"])
        let message = config.passwordRequiredMessage()
        #expect(message.contains("Context prod gives the connection"), "\(message)")
        #expect(message.contains("the context's password key"))
        #expect(!message.contains("the environment: MELTANO_STATE_BACKEND_POSTGRES_PASSWORD"), "\(message)")
        #expect(!message.contains("ignored-9"))
        // A wrong password's fix names the same places; without a context, the variables.
        let wrong = config.connection.fixWording[.wrongPassword] ?? ""
        #expect(wrong.contains("context prod's password key or its uri") && !wrong.contains("MELTANO_STATE_BACKEND"), "\(wrong)")
        #expect(config.connection.fixWording[.unknownDatabase] == "Check the database name in context prod's uri.")
        #expect(config.connection.fixWording[.unknownSchema]?.contains("context prod's uri (its last path segment) or its schema key") == true)
        let plain = try resolve(sandbox, context: nil, environment: ["MELTANO_STATE_BACKEND_URI": "postgres://u@h/db/public"])
        #expect(plain.connection.fixWording[.wrongPassword]?.contains("MELTANO_STATE_BACKEND_POSTGRES_PASSWORD") == true)
    }

    @Test func withoutAContextTheDefaultBackendApplies() throws {
        let config = try resolve(Self.sandbox(), context: nil)
        #expect(config.context == nil)
        #expect(config.connection.host == "default-db")
        #expect(config.readOnly == false)
        #expect(config.warnings.allSatisfy { !$0.contains("unknown setting") })
    }

    @Test func aURIContextReplacesTheConnectionAndSetsItsOwnSettings() throws {
        let sandbox = Self.sandbox()
        // A project around the working directory and MELTANO_STATE_BACKEND_* describe
        // another backend: a context with its own URI reads neither.
        sandbox.write("project/meltano.yml", "state_backend:\n  uri: postgres://dev@dev-db:5432/dev/public\n")
        let config = try resolve(sandbox, context: "prod", environment: [
            "MELTANO_STATE_BACKEND_POSTGRES_HOST": "env-host", "MELTANO_STATE_BACKEND_POSTGRES_PASSWORD": "env-password"])
        #expect(config.context == SelectedContext(name: "prod", color: .red, source: "--context"))
        #expect(config.connection.host == "prod-db")
        #expect(config.connection.password == "pr0d-secret")
        #expect(config.meltanoProjectRoot == nil)
        #expect(config.readOnly == true)
        #expect(config.lockTimeout == 7)  // own settings still come from the file
        #expect(config.source("state_backend.uri") == .context(name: "prod", path: sandbox.configFile, line: 6))
        #expect(config.source("read_only") == .context(name: "prod", path: sandbox.configFile, line: 7))
        let text = config.render()
        #expect(text.contains("Context          prod (from --context)"))
        #expect(!text.contains("pr0d-secret"))
        #expect(!config.renderJSON().contains("pr0d-secret"))
    }

    @Test func aFlagStillWinsOverTheContext() throws {
        let config = try resolve(Self.sandbox(), context: "prod", flags: ["host": "flag-host", "read_only": "false"])
        #expect(config.connection.host == "flag-host")
        #expect(config.readOnly == false)  // --writable
    }

    @Test func theEnvironmentVariableSelectsAContextAndTheFlagWins() throws {
        let sandbox = Self.sandbox()
        let byVariable = try resolve(sandbox, context: nil, environment: ["MELTANO_STATE_CONTEXT": "prod"])
        #expect(byVariable.context?.source == "env MELTANO_STATE_CONTEXT")
        #expect(byVariable.connection.host == "prod-db")
        let byFlag = try resolve(sandbox, context: "upgrade", environment: ["MELTANO_STATE_CONTEXT": "prod"])
        #expect(byFlag.context?.name == "upgrade")
        // An empty variable selects nothing.
        #expect(try resolve(sandbox, context: nil, environment: ["MELTANO_STATE_CONTEXT": ""]).context == nil)
    }

    @Test func aProjectContextReadsThatProjectInItsEnvironment() throws {
        let sandbox = Self.sandbox()
        let config = try resolve(sandbox, context: "staging")
        #expect(config.meltanoProjectRoot == sandbox.root + "/staging-project")
        #expect(config.meltanoEnvironment == "staging")
        #expect(config.meltanoEnvironmentSource == "context staging")
        #expect(config.connection.host == "stage-db")
        #expect(config.tableSchema == "staging")  // $MELTANO_ENVIRONMENT expanded in that project
        #expect(config.readOnly == false)
        #expect(config.context?.color == .yellow)
    }

    @Test func contextSettingsAndSecretsOfAPostgresqlContext() throws {
        let config = try resolve(Self.sandbox(), context: "upgrade", environment: ["UPGRADE_PASSWORD": "upgr4de-pw"])
        #expect(config.backend == .postgresql)
        #expect(config.layout == .singleTable)
        #expect(config.table == "new_state")
        #expect(config.lockTimeout == 2)
        #expect(config.connection.password == "upgr4de-pw")
        #expect(config.value("state_backend.postgresql.password") == "********")
        #expect(config.redactor.scrub("x upgr4de-pw y") == "x ******** y")
    }

    @Test func anUnknownContextListsTheKnownOnes() throws {
        let error = try #require(throws: ConfigurationError.self) { try resolve(Self.sandbox(), context: "prdo") }
        #expect(error.problem.contains("no context named prdo"))
        #expect(error.source == "--context")
        #expect(error.fix.contains("prod, staging, upgrade"))
        let none = Sandbox()
        let noneError = try #require(throws: ConfigurationError.self) {
            try resolve(none, context: nil, environment: ["MELTANO_STATE_CONTEXT": "prod"])
        }
        #expect(noneError.source == "env MELTANO_STATE_CONTEXT")
        #expect(noneError.fix.contains("Define it under contexts:"))
    }

    @Test func invalidContextsSayWhatIsWrongAndWhere() throws {
        let cases: [(String, String)] = [
            ("bad:\n    uri: postgres://u@h/d/s\n    project_dir: /x", "both a uri and a project_dir"),
            ("bad:\n    read_only: true", "neither a uri nor a project_dir"),
            ("bad:\n    uri: postgres://u@h/d/s\n    color: chartreuse", "not a colour"),
            ("bad:\n    uri: postgres://u@h/d/s\n    read_only: maybe", "not true or false"),
            ("bad: postgres://u@h/d/s", "not a mapping of settings"),
        ]
        for (body, problem) in cases {
            let sandbox = Sandbox()
            sandbox.write(sandbox.configFile, "contexts:\n  " + body + "\n")
            let error = try #require(throws: ConfigurationError.self) { try resolve(sandbox, context: "bad") }
            #expect(error.problem.contains(problem), "\(body): \(error.problem)")
        }
    }

    @Test func unknownKeysInAContextAreWarnedAbout() throws {
        let sandbox = Sandbox()
        sandbox.write(sandbox.configFile, "contexts:\n  x:\n    uri: postgres://u@h/d/s\n    colour: red\n")
        let config = try resolve(sandbox, context: "x")
        #expect(config.warnings.contains { $0.contains(":4: unknown setting colour in the context x") })
    }

    @Test func theCatalogListsContextsWithoutPasswords() throws {
        let sandbox = Self.sandbox()
        var inputs = sandbox.inputs(environment: ["MELTANO_STATE_CONTEXT": "staging"])
        let catalog = try ConfigurationResolver.contexts(inputs)
        #expect(catalog.contexts.map(\.name) == ["prod", "staging", "upgrade"])
        #expect(catalog.selected == "staging")
        #expect(catalog.contexts[0].location == "postgres://meltano:********@prod-db:5432/meltano/public")
        #expect(try catalog.contexts[0].readOnly())
        #expect(catalog.contexts[1].location == "project ../../../staging-project, environment staging")
        inputs.contextName = "upgrade"
        #expect(try ConfigurationResolver.contexts(inputs).selected == "upgrade")
    }
}

@Suite struct StateReferenceTests {
    @Test func onlyALeadingAtNamesAContext() throws {
        #expect(try StateReference.parse("prod:tap-x-to-y") == StateReference(context: nil, stateID: "prod:tap-x-to-y"))
        #expect(try StateReference.parse("@prod:prod:tap-x-to-y") == StateReference(context: "prod", stateID: "prod:tap-x-to-y"))
        #expect(try StateReference.parse("@:@odd:id") == StateReference(context: nil, stateID: "@odd:id"))
        #expect(try StateReference.parse("@staging:a:b:c").stateID == "a:b:c")
        for text in ["@prod:prod:x", "prod:x", "@:@odd"] {
            #expect(try StateReference.parse(text).description == text)
        }
    }

    @Test func malformedReferencesSayHowToWriteThem() {
        for text in ["", "@prod", "@prod:"] {
            let error = #expect(throws: ConfigurationError.self) { try StateReference.parse(text) }
            #expect(error?.fix.contains("@CONTEXT:ID") == true)
        }
    }
}
