import Foundation
import Testing
@testable import StateConfig

@Suite struct BackendTests {
    /// As Meltano: in a Meltano project, without state_backend.uri, the state is in the
    /// system database whatever state_backend.postgres.* is set (said in a warning);
    /// outside one, or with --host and friends, the parts select the add-on.
    @Test func partsWithoutAURIFollowMeltano() throws {
        let sandbox = Sandbox()
        sandbox.write("project/meltano.yml", "version: 1\n")
        sandbox.write("project/.env", "MELTANO_STATE_BACKEND_POSTGRES_PASSWORD=leftover\nMELTANO_DATABASE_URI=postgresql+psycopg://m@sys.example.com/sysdb\n")
        let inProject = try sandbox.resolve()
        #expect(inProject.backend == .systemdb)
        #expect(inProject.target.description.contains("sys.example.com"))
        #expect(inProject.warnings.contains { $0.contains("state_backend.postgres.password is set but state_backend.uri is not") })
        let byFlag = try sandbox.resolve(flags: ["host": "db.example.com"])
        #expect(byFlag.backend == .postgres)
        let outside = Sandbox()
        let noProject = try outside.resolve(environment: ["MELTANO_STATE_BACKEND_POSTGRES_HOST": "db.example.com"], workingDirectory: outside.home)
        #expect(noProject.backend == .postgres)
    }

    /// A misspelt add-on setting in meltano.yml is named (Meltano ignores it silently);
    /// other backends' settings are left alone.
    @Test func aMisspeltAddOnSettingIsNamed() throws {
        let sandbox = Sandbox()
        sandbox.write("project/meltano.yml", "state_backend:\n  uri: postgres://u@h/db\n  postgres:\n    pasword: x\n  s3:\n    aws_access_key_id: k\n  lock_timeout_seconds: 5\n")
        let config = try sandbox.resolve()
        #expect(config.warnings.contains("meltano.yml:4: unknown setting state_backend.postgres.pasword (Meltano ignores it too); did you mean state_backend.postgres.password?"), "\(config.warnings)")
        #expect(!config.warnings.contains { $0.contains("s3") || $0.contains("lock_timeout_seconds") })
    }

    /// A list where a setting or a mapping of them belongs is refused, naming its line:
    /// read as "not set", it would quietly pick another backend (the system database).
    @Test func aListWhereASettingBelongsIsRefused() throws {
        for (yaml, listKey, line) in [("state_backend: [1, 2]\n", "state_backend", 1),
                                      ("state_backend:\n  uri:\n    - postgres://u@h/db\n", "state_backend.uri", 3),
                                      ("version: 1\nstate_backend:\n  uri: postgres://u@h/db\n  postgres: [a]\n", "state_backend.postgres", 4)] {
            let sandbox = Sandbox()
            sandbox.write("project/meltano.yml", yaml)
            #expect {
                _ = try sandbox.resolve()
            } throws: { error in
                let text = "\(error)"
                return text.contains("\(listKey) is a list") && text.contains("(meltano.yml:\(line))") && text.contains("Write \(listKey) as")
            }
        }
        let sandbox = Sandbox()
        sandbox.write("project/meltano.yml", "state_backend:\n  uri: postgres://u@h/db\nplugins:\n  extractors: [{name: tap-x}]\n")
        #expect(try sandbox.resolve().backend == .postgres)  // lists elsewhere are Meltano's business
    }

    /// The password in --uri is used, with a note that ps shows it.
    @Test func aPasswordInTheURIFlagIsNoted() throws {
        let sandbox = Sandbox()
        let config = try sandbox.resolve(flags: ["uri": "postgresql://u:hunter22@h/db"])
        #expect(config.connection.password == "hunter22" || config.connection.uri != nil)
        #expect(config.warnings.contains { $0.contains("the password in --uri shows in ps") && !$0.contains("hunter22") })
        #expect(!(try sandbox.resolve(flags: ["uri": "postgresql://u@h/db"])).warnings.contains { $0.contains("--uri") })
    }

    /// database_uri is in `config` beside another backend too: doctor and locks use it.
    @Test func databaseURIIsListedBesideAnotherBackend() throws {
        let sandbox = Sandbox()
        let config = try sandbox.resolve(environment: ["MELTANO_STATE_BACKEND_URI": "postgres://u@h/db", "MELTANO_DATABASE_URI": "postgresql://m:pw9secret@sys/meltano"])
        #expect(config.value("database_uri") == "postgresql://m:********@sys/meltano")
        #expect(config.entry("database_uri")?.note?.contains("heartbeats") == true)
        #expect(!config.render().contains("pw9secret"))
    }

    /// An empty MELTANO_STATE_BACKEND_URI is not "unset": Meltano stops on it.
    @Test func anEmptyURIIsRefusedAsMeltanoRefusesIt() {
        let sandbox = Sandbox()
        sandbox.write("project/meltano.yml", "state_backend:\n  uri: postgres://u@h/db\n")
        #expect {
            _ = try sandbox.resolve(environment: ["MELTANO_STATE_BACKEND_URI": ""])
        } throws: { error in
            "\(error)".contains("state_backend.uri is set but empty") && "\(error)".contains("env MELTANO_STATE_BACKEND_URI")
        }
    }

    @Test func postgresURIGivesTypedPartsAndSettingsOverrideThem() throws {
        let sandbox = Sandbox()
        sandbox.write("project/meltano.yml", """
            state_backend:
              uri: postgres://meltano:m3lt@no:pw@DB.example.com:6543/warehouse/State
              postgres:
                port: 7000
                sslmode: require
            """)
        let config = try sandbox.resolve()
        #expect(config.backend == .postgres)
        #expect(config.effectiveLayout == .twoTables)
        let uriSource = SettingSource.uri(key: "state_backend.uri", from: .meltanoYML(path: sandbox.project + "/meltano.yml", line: 2))
        #expect(config.connection == .init(host: "db.example.com", port: 7000, user: "meltano", password: "m3lt@no:pw",
                                           database: "warehouse", sslmode: "require"))
        #expect(config.connection.uri == nil)  // postgres:// is not a libpq URI: only typed parts
        #expect(config.source("state_backend.postgres.host") == uriSource)
        #expect(config.source("state_backend.postgres.port") == .meltanoYML(path: sandbox.project + "/meltano.yml", line: 4))
        #expect(config.source("state_backend.postgres.password") == uriSource)
        #expect(config.value("state_backend.postgres.password") == "********")
        #expect(config.schema == "State")
        #expect(config.tableSchema == "state")  // Meltano's unquoted SQL folds it
        #expect(config.entry("state_backend.postgres.schema")?.note?.contains("tables are in state") == true)
        #expect(config.target.description == "meltano@db.example.com:7000/warehouse")
    }

    @Test func postgresDefaults() throws {
        let sandbox = Sandbox()
        let config = try sandbox.resolve(environment: ["MELTANO_STATE_BACKEND_URI": "postgres://u@/db"])
        #expect(config.connection.host == "localhost")
        #expect(config.connection.port == 5432)
        #expect(config.connection.sslmode == "prefer")
        #expect(config.schema == "public")
        #expect(config.source("state_backend.postgres.schema") == .default)
        #expect(config.connection.password == nil)
        #expect(!config.hasPassword)
        #expect(config.entry("state_backend.postgres.password")?.note?.contains("libpq may still find one") == true)
    }

    @Test func queryStringOfPostgresURIIsIgnoredWithAWarning() throws {
        let sandbox = Sandbox()
        let config = try sandbox.resolve(environment: ["MELTANO_STATE_BACKEND_URI": "postgres://u:p@h/db?sslmode=require"])
        #expect(config.connection.sslmode == "prefer")
        #expect(config.warnings.contains { $0.contains("ignores the URI's query string") })
    }

    @Test func postgresqlURIGoesToLibpqAsIs() throws {
        let sandbox = Sandbox()
        let uri = "postgresql://me:p%40ss@db.example.com:6432/wh?sslmode=require&options=-csearch_path%3Dmeltano"
        sandbox.write("project/meltano.yml", """
            state_backend:
              uri: \(uri)
              postgresql:
                user: other
                table: my_state
              postgres:
                host: ignored-host
            """)
        let config = try sandbox.resolve()
        #expect(config.backend == .postgresql)
        #expect(config.effectiveLayout == .singleTable)
        #expect(config.connection.uri == uri)
        #expect(config.connection.user == "other")  // a set setting overrides the URI's part
        #expect(config.connection.host == nil)       // unset parts stay in the URI
        #expect(config.connection.password == nil)
        #expect(config.hasPassword)
        #expect(config.table == "my_state")
        #expect(config.schema == "meltano")
        #expect(config.value("state_backend.postgresql.host") == "db.example.com")
        #expect(config.value("state_backend.postgresql.sslmode") == "require")
        #expect(config.value("state_backend.uri") == "postgresql://me:********@db.example.com:6432/wh?sslmode=require&options=-csearch_path%3Dmeltano")
        #expect(config.target.description == "other@db.example.com:6432/wh")
        #expect(config.warnings.contains { $0.contains("state_backend.postgres.host is set") && $0.contains("ignored") })
        #expect(config.entry("state_backend.postgres.host") == nil)
    }

    /// The later add-on connects with `conninfo_to_dict(uri)`, the settings over it, and
    /// then `host=localhost` where still unset: PGHOST (and a service file's host) never
    /// applies. So it is here; the connection is still named by its URI (the journal's
    /// `database`, sync's same-tables check). Its sslmode prefer is not copied: a
    /// stricter PGSSLMODE still holds here.
    @Test func postgresqlURIWithoutHostGetsTheAddOnsLocalhost() throws {
        let bare = try Sandbox().resolve(environment: ["MELTANO_STATE_BACKEND_URI": "postgresql://u@:6543/db?service=svc"])
        #expect(bare.connection.host == nil && bare.connection.sslmode == nil)
        let pairs = bare.connection.keywordValues
        #expect(pairs.firstIndex { $0 == ("host", "localhost") }! > pairs.firstIndex { $0.0 == "dbname" }!)
        #expect(bare.connection.description == "URI postgresql://u@:6543/db?service=svc")
        #expect(bare.value("state_backend.postgresql.host") == "localhost" && bare.source("state_backend.postgresql.host") == .default)
        #expect(bare.entry("state_backend.postgresql.host")?.note?.contains("PGHOST is not used") == true)
        #expect(bare.entry("state_backend.postgresql.sslmode")?.note?.contains("the add-on ignores PGSSLMODE") == true)
        let servicePort = try Sandbox().resolve(environment: ["MELTANO_STATE_BACKEND_URI": "postgresql://u@/db?service=svc"])
        #expect(servicePort.entry("state_backend.postgresql.port")?.note?.contains("the service svc in pg_service.conf, or PGPORT") == true)
        #expect(bare.target.description == "u@localhost:6543/db")
        // Set in the URI (its authority or its query), they are the URI's, left to libpq.
        for uri in ["postgresql://u@h1/db?sslmode=disable", "postgresql:///db?host=/tmp/sock&port=6000&user=q&sslmode=disable"] {
            let config = try Sandbox().resolve(environment: ["MELTANO_STATE_BACKEND_URI": uri])
            #expect(config.connection.host == nil && config.connection.extra["host"] == nil && config.connection.sslmode == nil, "\(uri)")
            #expect(config.value("state_backend.postgresql.sslmode") == "disable", "\(uri)")
            #expect(config.source("state_backend.postgresql.host") != .default, "\(uri)")
        }
        let query = try Sandbox().resolve(environment: ["MELTANO_STATE_BACKEND_URI": "postgresql:///db?host=/tmp/sock&port=6000&user=q"])
        #expect(query.value("state_backend.postgresql.host") == "/tmp/sock" && query.value("state_backend.postgresql.port") == "6000")
        #expect(query.value("state_backend.postgresql.user") == "q" && query.target.description == "q@/tmp/sock:6000/db")
        // Several hosts each with its port, IPv6 in brackets, as a URI writes them.
        let hosts = try Sandbox().resolve(environment: ["MELTANO_STATE_BACKEND_URI": "postgresql://u@h1:5432,h2:5433/db"])
        #expect(hosts.target.description == "u@h1:5432,h2:5433/db")
        let six = try Sandbox().resolve(environment: ["MELTANO_STATE_BACKEND_URI": "postgresql://u@[::1]:6000/db"])
        #expect(six.target.description == "u@[::1]:6000/db")
        // A setting still wins.
        let set = try Sandbox().resolve(flags: ["host": "flag-host", "sslmode": "require"], environment: ["MELTANO_STATE_BACKEND_URI": "postgresql://u@/db"])
        #expect(set.connection.host == "flag-host" && set.connection.sslmode == "require")
    }

    @Test func postgresqlWithoutSchemaUsesSearchPath() throws {
        let sandbox = Sandbox()
        let config = try sandbox.resolve(environment: ["MELTANO_STATE_BACKEND_URI": "postgresql://h/db"])
        #expect(config.schema == nil)
        #expect(config.tableSchema == nil)
        #expect(config.table == "state")
        #expect(config.render().contains("schema from search_path"))
    }

    @Test func partsWithoutAURIConnectDirectly() throws {
        let sandbox = Sandbox()
        sandbox.write(sandbox.configFile, """
            state_backend:
              postgres:
                host: direct
                database: db
            """)
        let config = try sandbox.resolve()
        #expect(config.backend == .postgres)
        #expect(config.connection.host == "direct")
        #expect(config.value("state_backend.uri") == nil)

        let flagsOnly = try Sandbox().resolve(flags: ["host": "flag-host", "database": "d"])
        #expect(flagsOnly.connection.host == "flag-host")
        #expect(flagsOnly.source("state_backend.postgres.host") == .flag)
    }

    @Test func systemDatabase() throws {
        let sandbox = Sandbox()
        sandbox.write("project/meltano.yml", "database_uri: postgresql+psycopg://m:secretpw@sys.example.com/meltano?options=-csearch_path%3Dsys\n")
        let config = try sandbox.resolve()
        #expect(config.backend == .systemdb)
        #expect(config.effectiveLayout == .systemdb)
        #expect(config.connection.uri == "postgresql://m:secretpw@sys.example.com/meltano?options=-csearch_path%3Dsys")
        #expect(config.value("state_backend.uri") == "systemdb")
        #expect(config.source("state_backend.uri") == .default)
        #expect(config.value("database_uri") == "postgresql+psycopg://m:********@sys.example.com/meltano?options=-csearch_path%3Dsys")
        #expect(config.schema == "sys")
        #expect(config.target.description == "m@sys.example.com/meltano")
    }

    @Test func systemDatabaseOnSQLiteIsAClearError() {
        let sandbox = Sandbox()
        sandbox.write("project/meltano.yml", "state_backend:\n  uri: systemdb\n")
        #expect {
            try sandbox.resolve()
        } throws: { error in
            let text = "\(error)"
            return text.contains("SQLite") && text.contains("meltano.yml:2") && text.contains("Fix: ")
        }
    }

    @Test func nothingConfiguredOutsideAProject() {
        let sandbox = Sandbox()
        let elsewhere = sandbox.mkdir("elsewhere")
        #expect {
            try sandbox.resolve(workingDirectory: elsewhere)
        } throws: { error in
            let text = "\(error)"
            return text.contains("no state backend is configured") && text.contains("MELTANO_STATE_BACKEND_URI")
                && text.contains("~/.config/meltano-state/config.yml")
        }
    }

    @Test(arguments: [
        ("s3://bucket/state", "AWS S3"),
        ("file:///tmp/state", "local files"),
        ("mysql://u:p@h/db", "not a PostgreSQL state backend"),
        ("postgresql+psycopg://u:p@h/db", "driver suffix"),
        ("localhost/db", "not a URI"),
        ("postgres://u:p@h/db/s/x", "3 path segments"),
        ("postgres://u:p@h:x1/db", "port"),
        ("postgresql://u@h/db/schema", "no schema segment"),
    ])
    func uriErrorsNameTheSettingTheSourceAndTheFix(uri: String, mentions: String) {
        let sandbox = Sandbox()
        sandbox.write("project/meltano.yml", "version: 1\nstate_backend:\n  uri: '\(uri)'\n")
        #expect {
            try sandbox.resolve()
        } throws: { error in
            guard let error = error as? ConfigurationError else { return false }
            return error.description.contains(mentions) && error.description.contains("state_backend.uri")
                && error.source == "meltano.yml:3" && !error.fix.isEmpty
        }
    }

    @Test func badSettingValues() {
        let cases: [([String: String], String)] = [
            (["MELTANO_STATE_BACKEND_POSTGRES_PORT": "54x"], "not a port number"),
            (["MELTANO_STATE_BACKEND_POSTGRES_SSLMODE": "maybe"], "not an sslmode"),
            (["MELTANO_STATE_LAYOUT": "three-tables"], "two-tables, single-table, systemdb, auto"),
            (["MELTANO_STATE_LOCK_TIMEOUT": "soon"], "number of seconds"),
            (["MELTANO_STATE_REFRESH_INTERVAL": "0"], "positive number"),
            (["MELTANO_STATE_READ_ONLY": "perhaps"], "true or false"),
            (["MELTANO_STATE_COLOR": "sometimes"], "auto, always or never"),
        ]
        for (environment, mentions) in cases {
            let sandbox = Sandbox()
            var env = environment
            env["MELTANO_STATE_BACKEND_URI"] = "postgres://u@h/db"
            #expect {
                try sandbox.resolve(environment: env)
            } throws: { error in
                let text = "\(error)"
                return text.contains(mentions) && text.contains("(env \(environment.keys.first!))") && text.contains("Fix: ")
            }
        }
    }

    @Test func unknownFlagIsRefused() {
        #expect(throws: ConfigurationError.self) { try Sandbox().resolve(flags: ["hostname": "x"]) }
    }
}

@Suite struct ExpansionInMeltanoYMLTests {
    @Test func variablesFromTheEnvironmentAndDotenv() throws {
        let sandbox = Sandbox()
        sandbox.write("project/.env", "DB_HOST=from-dotenv\nDB_NAME=dotenv-db\nPASS=${SHELL_PASS}\n")
        sandbox.write("project/meltano.yml", """
            state_backend:
              uri: postgres://${DB_USER}@$DB_HOST/$DB_NAME/${MELTANO_ENVIRONMENT}
              postgres:
                password: $PASS
            environments:
              - name: prod
            default_environment: prod
            """)
        let config = try sandbox.resolve(environment: ["DB_HOST": "from-env", "DB_USER": "alice", "SHELL_PASS": "from-shell"])
        // The environment wins over .env for expansion; MELTANO_ENVIRONMENT is the active environment.
        #expect(config.connection.host == "from-env")
        #expect(config.connection.database == "dotenv-db")
        #expect(config.connection.user == "alice")
        #expect(config.schema == "prod")
        #expect(config.connection.password == "from-shell")
        #expect(config.entry("state_backend.postgres.password")?.note == "via $PASS")
    }

    @Test func unsetVariablesAreEmptyAndAWholeReferenceIsUnset() throws {
        let sandbox = Sandbox()
        sandbox.write("project/meltano.yml", """
            state_backend:
              uri: postgres://u@host/db-$SUFFIX
              postgres:
                host: $UNSET_HOST
            """)
        let config = try sandbox.resolve()
        #expect(config.connection.database == "db-")
        #expect(config.connection.host == "host")  // $UNSET_HOST expands to nothing: unset, so the URI's host
        #expect(config.warnings.contains { $0.contains("meltano.yml:2") && $0.contains("$SUFFIX") && $0.contains("not set") })
        #expect(config.warnings.contains { $0.contains("meltano.yml:4") && $0.contains("$UNSET_HOST") })
        #expect(config.entry("state_backend.postgres.host")?.note?.contains("expanded to nothing") == true)
    }

    @Test func strictModeMakesAnUnsetVariableAnError() {
        let sandbox = Sandbox()
        sandbox.write("project/meltano.yml", """
            ff:
              strict_env_var_mode: true
            state_backend:
              uri: postgres://u@$UNSET_HOST/db
            """)
        #expect {
            try sandbox.resolve()
        } throws: { error in
            let text = "\(error)"
            return text.contains("$UNSET_HOST") && text.contains("strict_env_var_mode") && text.contains("meltano.yml:4")
        }
    }

    @Test func escapedReferencesAndDotenvValuesAreNotExpanded() throws {
        let sandbox = Sandbox()
        sandbox.write("project/.env", "MELTANO_STATE_BACKEND_POSTGRES_USER=$NOT_EXPANDED\n")
        sandbox.write("project/meltano.yml", #"""
            state_backend:
              uri: postgres://u@h/db
              postgres:
                database: \$LITERAL
            """#)
        let config = try sandbox.resolve(environment: ["NOT_EXPANDED": "x", "LITERAL": "y"])
        #expect(config.connection.user == "$NOT_EXPANDED")
        #expect(config.connection.database == "$LITERAL")
    }

    @Test func configFileValuesAreExpandedToo() throws {
        let sandbox = Sandbox()
        sandbox.write(sandbox.configFile, "state_backend:\n  uri: postgres://u@${PGHOST_FOR_STATE}/db\n")
        let config = try sandbox.resolve(environment: ["PGHOST_FOR_STATE": "cfg-host"])
        #expect(config.connection.host == "cfg-host")
    }
}

@Suite struct ProjectDiscoveryTests {
    @Test func meltanoYMLInAParentDirectory() throws {
        let sandbox = Sandbox()
        sandbox.write("project/meltano.yml", "state_backend:\n  uri: postgres://u@parent-host/db\n")
        sandbox.write("project/.env", "MELTANO_STATE_BACKEND_POSTGRES_USER=dotenv-user\n")
        let deep = sandbox.mkdir("project/transform/models/staging")
        let config = try sandbox.resolve(workingDirectory: deep)
        #expect(config.meltanoProjectRoot == sandbox.project)
        #expect(config.connection.host == "parent-host")
        #expect(config.connection.user == "dotenv-user")
    }

    @Test func projectDirectoryFlagAndVariable() throws {
        let sandbox = Sandbox()
        sandbox.write("other/meltano.yml", "state_backend:\n  uri: postgres://u@other-host/db\n")
        sandbox.write("project/meltano.yml", "state_backend:\n  uri: postgres://u@project-host/db\n")
        let elsewhere = sandbox.mkdir("elsewhere")
        let byFlag = try sandbox.resolve(workingDirectory: elsewhere, projectDirectory: "../other")
        #expect(byFlag.connection.host == "other-host")
        #expect(byFlag.meltanoProjectRoot == sandbox.root + "/other")
        let byVariable = try sandbox.resolve(environment: ["MELTANO_PROJECT_ROOT": sandbox.root + "/other"])
        #expect(byVariable.connection.host == "other-host")
        let flagWins = try sandbox.resolve(environment: ["MELTANO_PROJECT_ROOT": sandbox.root + "/other"],
                                           projectDirectory: sandbox.project)
        #expect(flagWins.connection.host == "project-host")
    }

    @Test func projectDirectoryWithoutMeltanoYMLIsAnError() {
        let sandbox = Sandbox()
        let empty = sandbox.mkdir("empty")
        #expect {
            try sandbox.resolve(projectDirectory: empty)
        } throws: { error in
            "\(error)".contains("no meltano.yml in \(empty)") && "\(error)".contains("--project-dir")
        }
        #expect {
            try sandbox.resolve(environment: ["MELTANO_PROJECT_ROOT": empty])
        } throws: { error in
            "\(error)".contains("env MELTANO_PROJECT_ROOT")
        }
    }

    @Test func noProjectAndNoDotenvOutsideIt() throws {
        let sandbox = Sandbox()
        let elsewhere = sandbox.mkdir("elsewhere")
        sandbox.write("elsewhere/.env", "MELTANO_STATE_BACKEND_POSTGRES_HOST=should-not-be-read\n")
        let config = try sandbox.resolve(environment: ["MELTANO_STATE_BACKEND_URI": "postgres://u@h/db"],
                                         workingDirectory: elsewhere)
        #expect(config.meltanoProjectRoot == nil)
        #expect(config.connection.host == "h")
        #expect(config.render().contains("Meltano project  none found"))
    }

    @Test func invalidYAMLNamesTheLineButNotItsText() {
        let sandbox = Sandbox()
        sandbox.write("project/meltano.yml", "state_backend:\n  uri: postgres://u:Zx9-unique-pw@h/db\n   bad: [unclosed\n")
        #expect {
            try sandbox.resolve()
        } throws: { error in
            let text = "\(error)"
            return text.contains("could not be read as YAML") && text.contains("line") && !text.contains("Zx9-unique-pw")
        }
    }
}

@Suite struct EnvironmentTests {
    func project(_ sandbox: Sandbox) {
        sandbox.write("project/meltano.yml", """
            default_environment: dev
            state_backend:
              uri: postgres://u@top-host/db/${MELTANO_ENVIRONMENT}
            environments:
              - name: dev
              - name: prod
                config:
                  state_backend:
                    uri: postgres://u@prod-host/db
                  plugins:
                    extractors: []
                env:
                  MELTANO_STATE_BACKEND_POSTGRES_HOST: env-block-host
            """)
    }

    @Test func defaultEnvironmentThenVariableThenFlag() throws {
        let sandbox = Sandbox()
        project(sandbox)
        let byDefault = try sandbox.resolve()
        #expect(byDefault.meltanoEnvironment == "dev")
        #expect(byDefault.meltanoEnvironmentSource == "default_environment (meltano.yml:1)")
        #expect(byDefault.schema == "dev")
        let byVariable = try sandbox.resolve(environment: ["MELTANO_ENVIRONMENT": "prod"])
        #expect(byVariable.meltanoEnvironment == "prod")
        #expect(byVariable.meltanoEnvironmentSource == "env MELTANO_ENVIRONMENT")
        let byFlag = try sandbox.resolve(environment: ["MELTANO_ENVIRONMENT": "prod"], environmentName: "dev")
        #expect(byFlag.meltanoEnvironment == "dev")
        #expect(byFlag.meltanoEnvironmentSource == "flag")
        let none = try sandbox.resolve(environmentName: "null")
        #expect(none.meltanoEnvironment == nil)
        #expect(none.schema == "public")  // ${MELTANO_ENVIRONMENT} is empty, the path loses its segment
    }

    @Test func environmentsCannotSetMeltanoSettings() throws {
        // ProjectSettingsService.supports_environments = False: the prod environment's
        // state_backend.uri and its env: block do not reach Meltano's own settings.
        let sandbox = Sandbox()
        project(sandbox)
        let config = try sandbox.resolve(environmentName: "prod")
        #expect(config.connection.host == "top-host")
        #expect(config.schema == "prod")
        #expect(config.warnings.contains { $0.contains("meltano.yml:9") && $0.contains("environment prod sets state_backend.uri") })
    }

    /// `state_backend` beside an environment's name (not under its `config:`): Meltano
    /// fails every command ("Environment.__init__() got an unexpected keyword argument
    /// 'state_backend'"), so the tool refuses too, whichever environment is active,
    /// instead of quietly using the top level's backend.
    @Test func aSettingBesideAnEnvironmentsNameIsRefusedAsMeltanoRefusesIt() throws {
        let sandbox = Sandbox()
        sandbox.write("project/meltano.yml", """
            state_backend:
              uri: postgres://u@top-host/db/public
            environments:
            - name: dev
            - name: prod
              state_backend:
                uri: postgres://u@prod-host/db/public
            """)
        for name in ["prod", "dev", "null"] {
            let error = #expect(throws: ConfigurationError.self) { try sandbox.resolve(environmentName: name) }
            #expect(error?.source == "meltano.yml:6" && error?.problem.contains("environment prod sets state_backend directly") == true,
                    "\(name): \(String(describing: error))")
            #expect(error?.fix.contains("move state_backend to the top level") == true)
        }
        // --uri says where the state is: a repair from inside the broken project works, warned.
        let repair = try sandbox.resolve(flags: ["uri": "postgres://u@repair-host/db/public"], environmentName: "prod")
        #expect(repair.connection.host == "repair-host")
        #expect(repair.warnings.contains { $0.hasPrefix("meltano.yml:6: environment prod sets state_backend directly") }, "\(repair.warnings)")
        // Any key Meltano's Environment does not take fails Meltano the same way.
        sandbox.write("project/meltano.yml", """
            state_backend:
              uri: postgres://u@top-host/db/public
            environments:
            - name: dev
              description: the developers' environment
              state_id_suffix: dev
            """)
        let other = #expect(throws: ConfigurationError.self) { try sandbox.resolve(environmentName: "dev") }
        #expect(other?.source == "meltano.yml:5" && other?.fix.contains("Remove description") == true, "\(String(describing: other))")
        sandbox.write("project/meltano.yml", """
            state_backend:
              uri: postgres://u@top-host/db/public
            environments:
            - name: prod
              config:
                state_backend:
                  uri: postgres://u@prod-host/db/public
            """)
        #expect(try sandbox.resolve(environmentName: "prod").connection.host == "top-host")  // ignored, as Meltano ignores it (warned)
    }

    @Test func unknownEnvironmentIsAnError() {
        let sandbox = Sandbox()
        project(sandbox)
        #expect {
            try sandbox.resolve(environmentName: "staging")
        } throws: { error in
            let text = "\(error)"
            return text.contains("staging is not defined") && text.contains("dev, prod") && text.contains("(flag)")
        }
    }
}

@Suite struct ConfigFileTests {
    @Test func xdgConfigHomeAndExplicitPaths() throws {
        let sandbox = Sandbox()
        sandbox.write("xdg/meltano-state/config.yml", "state_backend:\n  uri: postgres://u@xdg-host/db\n")
        sandbox.write("custom.yml", "state_backend:\n  uri: postgres://u@custom-host/db\n")
        let xdg = try sandbox.resolve(environment: ["XDG_CONFIG_HOME": sandbox.root + "/xdg"])
        #expect(xdg.connection.host == "xdg-host")
        #expect(xdg.configFilePath == sandbox.root + "/xdg/meltano-state/config.yml")
        let byVariable = try sandbox.resolve(environment: ["MELTANO_STATE_CONFIG": sandbox.root + "/custom.yml"])
        #expect(byVariable.connection.host == "custom-host")
        let byFlag = try sandbox.resolve(environment: ["MELTANO_STATE_CONFIG": "/nonexistent.yml"],
                                         configFile: sandbox.root + "/custom.yml")
        #expect(byFlag.connection.host == "custom-host")
        #expect(byFlag.source("state_backend.postgres.host")?.label(home: sandbox.home) == "uri (\(sandbox.root)/custom.yml:2)")
    }

    @Test func explicitMissingFileIsAnErrorButTheDefaultMayBeAbsent() throws {
        let sandbox = Sandbox()
        #expect {
            try sandbox.resolve(environment: ["MELTANO_STATE_BACKEND_URI": "postgres://u@h/db"], configFile: "missing.yml")
        } throws: { error in
            "\(error)".contains("does not exist") && "\(error)".contains("--config")
        }
        let config = try sandbox.resolve(environment: ["MELTANO_STATE_BACKEND_URI": "postgres://u@h/db"])
        #expect(!config.configFileFound)
        #expect(config.render().contains("~/.config/meltano-state/config.yml (not found)"))
    }

    @Test func unknownKeysAreReported() throws {
        let sandbox = Sandbox()
        sandbox.write(sandbox.configFile, "state_backend:\n  uri: postgres://u@h/db\nlock_timout: 5\n")
        let config = try sandbox.resolve()
        #expect(config.warnings.contains("~/.config/meltano-state/config.yml:3: unknown setting lock_timout (ignored)"))
    }

    @Test func everyOwnSettingFromTheFile() throws {
        let sandbox = Sandbox()
        sandbox.write(sandbox.configFile, """
            state_backend:
              uri: postgres://u@h/db
            layout: single-table
            lock_timeout: 500ms
            stale_lock_after: 2m
            refresh_interval: 0.5
            connect_timeout: 3
            read_only: yes
            editor: nano -w
            color: always
            journal: journal/changes.jsonl
            """)
        let config = try sandbox.resolve(environment: ["NO_COLOR": "1", "VISUAL": "code"])
        #expect(config.layout == .singleTable)
        #expect(config.lockTimeout == 0.5)
        #expect(config.staleLockAfter == 120)
        #expect(config.refreshInterval == 0.5)
        #expect(config.connection.connectTimeout == 3)
        #expect(config.readOnly)
        #expect(config.editor == "nano -w")
        #expect(config.color == .always)  // an explicit setting beats NO_COLOR
        #expect(config.journalPath == sandbox.home + "/.config/meltano-state/journal/changes.jsonl")
        #expect(config.source("journal") == .configFile(path: sandbox.configFile, line: 11))
    }
}

@Suite struct OwnSettingDefaultsTests {
    let uri = ["MELTANO_STATE_BACKEND_URI": "postgres://u@h/db"]

    @Test func defaults() throws {
        let sandbox = Sandbox()
        let config = try sandbox.resolve(environment: uri)
        #expect(config.layout == .auto)
        #expect(config.lockTimeout == 30)
        #expect(config.staleLockAfter == 300)
        #expect(config.refreshInterval == 2)
        #expect(config.connection.connectTimeout == 10)
        #expect(config.readOnly == false)
        #expect(config.editor == "vi")
        #expect(config.color == .auto)
        #expect(config.journalPath == sandbox.home + "/.local/state/meltano-state/journal.jsonl")
        #expect(config.table == "state")
        for key in ["layout", "lock_timeout", "stale_lock_after", "refresh_interval", "connect_timeout", "read_only",
                    "editor", "color", "journal"] {
            #expect(config.source(key) == .default, "\(key)")
        }
    }

    @Test func editorColorAndJournalFromTheirUsualVariables() throws {
        let sandbox = Sandbox()
        var environment = uri
        environment["EDITOR"] = "nano"
        environment["NO_COLOR"] = "1"
        environment["XDG_STATE_HOME"] = sandbox.root + "/state"
        let config = try sandbox.resolve(environment: environment)
        #expect(config.editor == "nano")
        #expect(config.source("editor") == .environment(variable: "EDITOR"))
        #expect(config.color == .never)
        #expect(config.source("color") == .environment(variable: "NO_COLOR"))
        #expect(config.journalPath == sandbox.root + "/state/meltano-state/journal.jsonl")
        environment["VISUAL"] = "code -w"
        #expect(try sandbox.resolve(environment: environment).editor == "code -w")
        environment["MELTANO_STATE_EDITOR"] = "hx"
        #expect(try sandbox.resolve(environment: environment).editor == "hx")
        environment["NO_COLOR"] = ""
        #expect(try sandbox.resolve(environment: environment).color == .auto)
    }

    @Test func flagsForOwnSettings() throws {
        let config = try Sandbox().resolve(flags: ["read_only": "true", "layout": "two-tables", "journal": "/tmp/j.jsonl"],
                                           environment: uri)
        #expect(config.readOnly)
        #expect(config.layout == .twoTables)
        #expect(config.journalPath == "/tmp/j.jsonl")
        #expect(config.source("read_only") == .flag)
    }
}

@Suite struct RenderingTests {
    @Test func textShowsEverySettingWithItsSource() throws {
        let sandbox = Sandbox()
        sandbox.write("project/meltano.yml", """
            state_backend:
              uri: postgres://meltano@db.example.com/warehouse/state
            """)
        sandbox.write("project/.env", "MELTANO_STATE_BACKEND_POSTGRES_PASSWORD=hunter2-but-longer\n")
        let config = try sandbox.resolve(flags: ["port": "6000"], environment: ["MELTANO_STATE_LOCK_TIMEOUT": "12"])
        let text = config.render()
        let lines = text.split(separator: "\n").map(String.init)
        func line(_ key: String) -> String? { lines.first { $0.hasPrefix(key + " ") } }
        #expect(line("state_backend.uri")?.hasSuffix("meltano.yml:2") == true)
        #expect(line("state_backend.postgres.host")?.contains("db.example.com") == true)
        #expect(line("state_backend.postgres.host")?.hasSuffix("uri (meltano.yml:2)") == true)
        #expect(line("state_backend.postgres.port")?.contains("flag") == true)
        #expect(line("state_backend.postgres.password")?.contains("********") == true)
        #expect(line("state_backend.postgres.password")?.contains(".env:1 (MELTANO_STATE_BACKEND_POSTGRES_PASSWORD)") == true)
        #expect(line("lock_timeout")?.contains("12 s") == true)
        #expect(line("lock_timeout")?.hasSuffix("env MELTANO_STATE_LOCK_TIMEOUT") == true)
        #expect(line("stale_lock_after")?.hasSuffix("default") == true)
        #expect(text.contains("Connects to      meltano@db.example.com:6000/warehouse, schema state"))
        #expect(!text.contains("hunter2-but-longer"))
    }

    @Test func aReferenceIsShownButNotWhatItExpandsTo() throws {
        let sandbox = Sandbox()
        sandbox.write("project/meltano.yml", "state_backend:\n  uri: postgres://u@h/db\n  postgres:\n    password: ${STATE_DB_PASSWORD}\n")
        let config = try sandbox.resolve(environment: ["STATE_DB_PASSWORD": "expanded-secret-value"])
        let text = config.render()
        #expect(text.contains("meltano.yml:4; via ${STATE_DB_PASSWORD}"))
        #expect(!text.contains("expanded-secret-value"))
    }

    @Test func jsonCarriesTheSameFacts() throws {
        let sandbox = Sandbox()
        sandbox.write("project/meltano.yml", "state_backend:\n  uri: postgres://meltano:pw-in-uri-123@db/warehouse\n")
        let config = try sandbox.resolve()
        let json = config.renderJSON()
        #expect(!json.contains("pw-in-uri-123"))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        #expect(object["backend"] as? String == "postgres")
        #expect(object["meltano_project_root"] as? String == sandbox.project)
        let settings = try #require(object["settings"] as? [[String: Any]])
        let uri = try #require(settings.first { $0["key"] as? String == "state_backend.uri" })
        #expect(uri["value"] as? String == "postgres://meltano:********@db/warehouse")
        #expect(uri["source"] as? String == "meltano.yml:2")
        #expect(uri["source_kind"] as? String == "meltano_yml")
        #expect(uri["line"] as? Int == 2)
        #expect(uri["env"] as? String == "MELTANO_STATE_BACKEND_URI")
        let password = try #require(settings.first { $0["key"] as? String == "state_backend.postgres.password" })
        #expect(password["value"] as? String == "********")
        let sslmode = try #require(settings.first { $0["key"] as? String == "state_backend.postgres.sslmode" })
        #expect(sslmode["source"] as? String == "default")
    }
}

@Suite struct PasswordHelpTests {
    @Test func missingPasswordMessageNamesEveryPlace() throws {
        let sandbox = Sandbox()
        sandbox.write("project/meltano.yml", "state_backend:\n  uri: postgres://meltano@db/warehouse\n")
        let config = try sandbox.resolve()
        #expect(!config.hasPassword)
        let message = config.passwordRequiredMessage()
        for place in ["MELTANO_STATE_BACKEND_POSTGRES_PASSWORD", "/.env", "meltano.yml: state_backend.postgres.password",
                      "postgres://USER:PASSWORD@", "config.yml", "PGPASSWORD", "~/.pgpass", "in a terminal"] {
            #expect(message.contains(place), "\(place)")
        }
        #expect(message.contains("meltano@db:5432/warehouse"))
        #expect(config.passwordPrompt == "Password for meltano@db:5432/warehouse: ")
    }

    /// A variable set to nothing hides the .env one (as in Meltano): the message says so,
    /// rather than only telling the user to set it in .env, where it already is.
    @Test func anEmptyVariableHidingTheDotEnvOneIsNamed() throws {
        let sandbox = Sandbox()
        sandbox.write("project/meltano.yml", "state_backend:\n  uri: postgres://meltano@db/warehouse\n")
        sandbox.write("project/.env", "MELTANO_STATE_BACKEND_POSTGRES_PASSWORD=in-dotenv-7\n")
        let config = try sandbox.resolve(environment: ["MELTANO_STATE_BACKEND_POSTGRES_PASSWORD": ""])
        #expect(!config.hasPassword)
        let message = config.passwordRequiredMessage()
        #expect(message.contains("Note: env MELTANO_STATE_BACKEND_POSTGRES_PASSWORD is set but empty: as in Meltano, it counts as not set and hides the later sources"), "\(message)")
        #expect(!message.contains("in-dotenv-7"))
    }

    @Test func postgresqlAndSystemDatabaseMessages() throws {
        let later = try Sandbox().resolve(environment: ["MELTANO_STATE_BACKEND_URI": "postgresql://u@h/db"])
        #expect(later.passwordRequiredMessage().contains("MELTANO_STATE_BACKEND_POSTGRESQL_PASSWORD"))
        let sandbox = Sandbox()
        sandbox.write("project/meltano.yml", "database_uri: postgresql://u@h/meltano\n")
        #expect(try sandbox.resolve().passwordRequiredMessage().contains("database_uri"))
    }

    @Test func typedPasswordIsUsedAndNeverShown() throws {
        let config = try Sandbox().resolve(environment: ["MELTANO_STATE_BACKEND_URI": "postgres://u@h/db"])
        let typed = config.withPassword("typed-at-the-prompt")
        #expect(typed.connection.password == "typed-at-the-prompt")
        #expect(typed.hasPassword)
        #expect(typed.source("state_backend.postgres.password") == .prompt)
        #expect(!typed.render().contains("typed-at-the-prompt"))
        #expect(!typed.renderJSON().contains("typed-at-the-prompt"))
    }

    @Test func noTerminalNoPrompt() {
        if !TerminalPassword.isAvailable {
            #expect(TerminalPassword.read(prompt: "Password: ") == nil)
        }
    }
}
