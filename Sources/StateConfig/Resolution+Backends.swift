import Foundation
import Postgres

/// Which backend the settings select (`postgres://` for the add-on, `postgresql://` for
/// the later add-on, `systemdb` for Meltano's system database) and its connection.
extension Resolution {
    /// The backend, from state_backend.uri or else the parts that are set; appends the
    /// URI's entry.
    mutating func chooseBackend(entries: inout [ResolvedConfiguration.Entry]) throws -> (backend: Backend, uri: String?, uriFound: Found?) {
        let uriFound = try lookup(SettingKey.uri, secret: true)
        let uri = uriFound?.value
        let backend: Backend
        if let uri {
            if uri == "systemdb" {
                backend = .systemdb
            } else {
                switch uriScheme(uri) {
                case "postgres": backend = .postgres
                case "postgresql": backend = .postgresql
                case let scheme: throw wrongScheme(scheme, source: uriFound!.source)
                }
            }
        } else if let uriFound {
            // Set, but to nothing: Meltano stops here ("No state backend found for scheme ''")
            // rather than fall back to another source; so does this tool.
            throw ConfigurationError(problem: "state_backend.uri is \(uriFound.note ?? "set but empty"); Meltano stops on it (No state backend found for scheme '')",
                                     source: uriFound.source.label(home: home),
                                     fix: "Unset it, or set it to the state backend's URI (postgres://USER@HOST:5432/DATABASE/SCHEMA, postgresql://…, or systemdb).")
        } else if ConnectionPart.allCases.contains(where: { inputs.flags[$0.rawValue] != nil }) {
            backend = .postgres  // --host, --user, …: said on the command line, meant
        } else if let part = firstPartSet() {
            if projectRoot != nil {
                // In a Meltano project Meltano uses its system database unless
                // state_backend.uri says otherwise, whatever parts are set: so does this tool.
                backend = .systemdb
                warnings.append("\(SettingKey.part(part.1, part.0)) is set but state_backend.uri is not, so Meltano uses its system database (the default, systemdb) and ignores it; so does this tool. Set state_backend.uri to use the \(part.0.rawValue):// add-on")
            } else {
                backend = part.0
            }
        } else {
            backend = .systemdb
        }
        activeBackend = backend == .systemdb ? nil : backend

        let uriEntry = ResolvedConfiguration.Entry(
            key: SettingKey.uri, value: uri.map(redactURI) ?? (backend == .systemdb ? "systemdb" : nil),
            source: uriFound?.source ?? .default, environmentVariable: SettingKey.meltanoEnvVar(SettingKey.uri),
            note: uriFound?.note ?? (uri == nil && backend != .systemdb ? "not set: the connection comes from the settings below" : nil))
        entries.append(uriEntry)
        return (backend, uri, uriFound)
    }

    /// The first `state_backend.<backend>.<part>` set in any source, postgres first.
    func firstPartSet() -> (Backend, ConnectionPart)? {
        for backend in [Backend.postgres, .postgresql] {
            for part in ConnectionPart.allCases where firstSource(SettingKey.part(part, backend)) != nil { return (backend, part) }
        }
        return nil
    }

    /// The connection of `backend`, with its entries, the connect timeout and this
    /// tool's wording of connection failures.
    mutating func resolveConnection(backend: Backend, uri: String?, uriFound: Found?, connectTimeout: Int,
                                    entries: inout [ResolvedConfiguration.Entry]) throws -> Resolved {
        var connection: ConnectionConfiguration
        var target: ResolvedConfiguration.Target
        var schema: String?
        var tableSchema: String?
        switch backend {
        case .postgres:
            (connection, target, schema, tableSchema) = try resolveAddOn(uri: uri, uriFound: uriFound, entries: &entries)
        case .postgresql:
            (connection, target, schema, tableSchema) = try resolveLibpq(uri: uri, uriFound: uriFound, entries: &entries)
        case .systemdb:
            (connection, target, schema, tableSchema) = try resolveSystemDatabase(uriFound: uriFound, entries: &entries)
        }
        connection.connectTimeout = connectTimeout
        connection.fixWording = ConnectionFixes.wording(for: backend, context: context?.uri == nil ? nil : context?.name)
        if let uri, uriFound?.source == .flag, !passwordsInURI(uri).isEmpty {
            let variable = backend == .systemdb ? "PGPASSWORD" : SettingKey.meltanoEnvVar(SettingKey.part(.password, backend))
            warnings.append("the password in --uri shows in ps (and your shell's history) while this runs; give it in \(variable), PGPASSWORD or ~/.pgpass instead")
        }
        return (connection, target, schema, tableSchema)
    }

    /// Settings that are set but that Meltano (and so this tool) ignores.
    mutating func warnIgnoredSettings(backend: Backend) {
        if backend != .systemdb {
            let other: Backend = backend == .postgres ? .postgresql : .postgres
            for part in ConnectionPart.allCases {
                let key = SettingKey.part(part, other)
                if let source = firstSource(key) {
                    warnings.append("\(key) is set (\(source.label(home: home))) but ignored: the URI's scheme is \(backend.rawValue)://, so Meltano passes only state_backend.\(backend.rawValue).* to the add-on")
                }
            }
        }
        for environment in meltanoFile?.environments ?? [] {
            for (key, line) in environment.ignoredSettings where key.hasPrefix("state_backend") || key == SettingKey.databaseURI {
                warnings.append("meltano.yml:\(line): environment \(environment.name) sets \(key), which Meltano ignores (its own settings cannot be set per environment, only plugins can), and so does this tool; set it at the top level, or per environment through environment variables")
            }
        }
    }

    /// The single-table layout's table.
    mutating func resolveTable(backend: Backend, entries: inout [ResolvedConfiguration.Entry]) throws -> String {
        let tableFound = try lookup(SettingKey.table)
        let table = tableFound?.value ?? "state"
        entries.append(.init(key: SettingKey.table, value: table, source: tableFound?.value == nil ? .default : tableFound!.source,
                             environmentVariable: SettingKey.meltanoEnvVar(SettingKey.table),
                             note: tableFound?.note ?? (backend == .postgres ? "used only by the single-table layout" : nil)))
        return table
    }

    typealias Resolved = (ConnectionConfiguration, ResolvedConfiguration.Target, String?, String?)

    /// `postgres://`: every part typed, from the settings, else the URI, else the add-on's default.
    mutating func resolveAddOn(uri: String?, uriFound: Found?, entries: inout [ResolvedConfiguration.Entry]) throws -> Resolved {
        var parsed = AddOnURI()
        let uriSource = uriFound.map { SettingSource.uri(key: SettingKey.uri, from: $0.source) }
        if let uri, let uriFound {
            do throws(URIProblem) {
                parsed = try AddOnURI.parse(uri)
            } catch {
                throw ConfigurationError(problem: "state_backend.uri \(error.problem)", source: uriFound.source.label(home: home), fix: error.fix)
            }
            let label = uriFound.source.label(home: home)
            if let query = parsed.query, !query.isEmpty {
                warnings.append("\(label): the postgres:// add-on ignores the URI's query string (?…), and so does this tool; set state_backend.postgres.sslmode and the other parts as settings")
            }
            if let fragment = parsed.fragment, !fragment.isEmpty {
                warnings.append("\(label): the URI's #fragment is ignored")
            }
        }
        let backend = Backend.postgres
        func key(_ part: ConnectionPart) -> String { SettingKey.part(part, backend) }

        let hostFound = try lookup(key(.host))
        let host = hostFound?.value ?? parsed.hostname ?? "localhost"
        entries.append(partEntry(.host, backend, found: hostFound, fromURI: parsed.hostname, uriSource: uriSource, display: host))

        let portFound = try lookup(key(.port))
        let port = try portFound?.value.map { try parsePort($0, key: key(.port), source: portFound!.source) } ?? parsed.port ?? 5432
        entries.append(partEntry(.port, backend, found: portFound, fromURI: parsed.port.map(String.init), uriSource: uriSource, display: String(port)))

        let userFound = try lookup(key(.user))
        let user = userFound?.value ?? parsed.username.flatMap { $0.isEmpty ? nil : $0 }
        entries.append(partEntry(.user, backend, found: userFound, fromURI: parsed.username.flatMap { $0.isEmpty ? nil : $0 },
                                 uriSource: uriSource, display: user,
                                 defaultNote: "not set: libpq uses PGUSER or your login name (Meltano's add-on refuses to run without it)"))

        let passwordFound = try lookup(key(.password), secret: true)
        let password = passwordFound?.value ?? parsed.password.flatMap { $0.isEmpty ? nil : $0 }
        entries.append(partEntry(.password, backend, found: passwordFound, fromURI: parsed.password.flatMap { $0.isEmpty ? nil : $0 },
                                 uriSource: uriSource, display: password == nil ? nil : "********"))

        let databaseFound = try lookup(key(.database))
        let database = databaseFound?.value ?? parsed.database
        entries.append(partEntry(.database, backend, found: databaseFound, fromURI: parsed.database, uriSource: uriSource,
                                 display: database,
                                 defaultNote: "not set: libpq uses PGDATABASE or the user name (Meltano's add-on refuses to run without it)"))

        let schemaFound = try lookup(key(.schema))
        let schema = schemaFound?.value ?? parsed.schema.flatMap { $0.isEmpty ? nil : $0 } ?? "public"
        let folded = foldUnquoted(schema)
        entries.append(partEntry(.schema, backend, found: schemaFound, fromURI: parsed.schema.flatMap { $0.isEmpty ? nil : $0 },
                                 uriSource: uriSource, display: schema,
                                 extraNote: folded != schema ? "Meltano's add-on writes it unquoted, so its tables are in \(folded)" : nil))

        let sslFound = try lookup(key(.sslmode))
        let sslmode = try sslFound?.value.map { try validateSSLMode($0, key: key(.sslmode), source: sslFound!.source) } ?? "prefer"
        entries.append(partEntry(.sslmode, backend, found: sslFound, fromURI: nil, uriSource: nil, display: sslmode))

        if user == nil { warnings.append("no user is configured: Meltano's add-on would refuse this configuration; libpq will use PGUSER or your login name") }
        if database == nil { warnings.append("no database is configured: Meltano's add-on would refuse this configuration; libpq will use PGDATABASE or the user name") }

        let connection = ConnectionConfiguration(host: host, port: port, user: user, password: password, database: database,
                                                 sslmode: sslmode)
        let target = ResolvedConfiguration.Target(host: host, port: String(port), user: user, database: database)
        return (connection, target, schema, folded)
    }

    /// `postgresql://`: the URI goes to libpq as it is; settings that are set override its parts.
    mutating func resolveLibpq(uri: String?, uriFound: Found?, entries: inout [ResolvedConfiguration.Entry]) throws -> Resolved {
        let backend = Backend.postgresql
        func key(_ part: ConnectionPart) -> String { SettingKey.part(part, backend) }
        var parsed = LibpqURI()
        let uriSource = uriFound.map { SettingSource.uri(key: SettingKey.uri, from: $0.source) }
        if let uri, let uriFound {
            do throws(URIProblem) {
                parsed = try LibpqURI.parse(uri, settingPrefix: "state_backend.postgresql")
            } catch {
                throw ConfigurationError(problem: "state_backend.uri \(error.problem)", source: uriFound.source.label(home: home), fix: error.fix)
            }
        }
        var connection = ConnectionConfiguration(uri: uri)

        // The add-on builds its connection with `conninfo_to_dict(uri)`, the settings
        // over it, then `host` localhost where still unset: PGHOST (or a service file's
        // host) never applies to Meltano, nor here, or this would be another server.
        // Given as a libpq keyword of its own, so the URI still names the connection.
        let hostFound = try lookup(key(.host))
        connection.host = hostFound?.value
        let uriHost = parsed.hosts.isEmpty ? parsed.parameter("host") : parsed.hosts.joined(separator: ",")
        if hostFound?.value == nil && uriHost == nil { connection.extra["host"] = "localhost" }
        let host = hostFound?.value ?? uriHost ?? "localhost"
        entries.append(partEntry(.host, backend, found: hostFound, fromURI: uriHost, uriSource: uriSource, display: host,
                                 defaultNote: "the add-on's default when no host is set (PGHOST is not used, as in Meltano)"))

        let portFound = try lookup(key(.port))
        connection.port = try portFound?.value.map { try parsePort($0, key: key(.port), source: portFound!.source) }
        let uriPort = parsed.ports.isEmpty ? parsed.parameter("port") : parsed.ports.joined(separator: ",")
        let port = connection.port.map(String.init) ?? uriPort
        let service = parsed.parameter("service").map { "the service \($0) in pg_service.conf, or " } ?? ""
        entries.append(partEntry(.port, backend, found: portFound, fromURI: uriPort, uriSource: uriSource, display: port ?? "5432",
                                 defaultNote: "libpq's default (\(service)PGPORT may change it)"))

        let userFound = try lookup(key(.user))
        connection.user = userFound?.value
        let uriUser = parsed.user ?? parsed.parameter("user")
        let user = userFound?.value ?? uriUser
        entries.append(partEntry(.user, backend, found: userFound, fromURI: uriUser, uriSource: uriSource, display: user,
                                 defaultNote: "not set: libpq uses PGUSER or your login name"))

        let passwordFound = try lookup(key(.password), secret: true)
        connection.password = passwordFound?.value
        let uriPassword = parsed.password ?? parsed.parameter("password")
        entries.append(partEntry(.password, backend, found: passwordFound, fromURI: uriPassword, uriSource: uriSource,
                                 display: (passwordFound?.value ?? uriPassword) == nil ? nil : "********"))

        let databaseFound = try lookup(key(.database))
        connection.database = databaseFound?.value
        let database = databaseFound?.value ?? parsed.parameter("dbname") ?? parsed.database
        entries.append(partEntry(.database, backend, found: databaseFound, fromURI: parsed.parameter("dbname") ?? parsed.database,
                                 uriSource: uriSource, display: database,
                                 defaultNote: "not set: libpq uses PGDATABASE or the user name"))

        let schemaFound = try lookup(key(.schema))
        let schema = schemaFound?.value ?? parsed.searchPathSchema
        entries.append(partEntry(.schema, backend, found: schemaFound, fromURI: parsed.searchPathSchema, uriSource: uriSource,
                                 display: schema, defaultNote: "not set: the connection's search_path decides"))

        // The add-on also sets sslmode prefer where unset, so PGSSLMODE never applies to
        // Meltano. Here it does: a stricter PGSSLMODE (verify-full) is the user's demand on
        // this tool's connection, never quietly lowered; the server is the same either way.
        let sslFound = try lookup(key(.sslmode))
        connection.sslmode = try sslFound?.value.map { try validateSSLMode($0, key: key(.sslmode), source: sslFound!.source) }
        entries.append(partEntry(.sslmode, backend, found: sslFound, fromURI: parsed.parameter("sslmode"), uriSource: uriSource,
                                 display: connection.sslmode ?? parsed.parameter("sslmode") ?? "prefer",
                                 defaultNote: "libpq's default (PGSSLMODE may change it here; the add-on ignores PGSSLMODE and uses prefer)"))

        let target = ResolvedConfiguration.Target(host: host, port: port, user: user, database: database)
        return (connection, target, schema, schema)
    }

    /// `systemdb`: Meltano's system database, when `database_uri` is PostgreSQL.
    mutating func resolveSystemDatabase(uriFound: Found?, entries: inout [ResolvedConfiguration.Entry]) throws -> Resolved {
        let found = try lookup(SettingKey.databaseURI, secret: true)
        guard let raw = found?.value else {
            if projectRoot == nil && uriFound == nil {
                throw ConfigurationError(
                    problem: "no state backend is configured: state_backend.uri is not set (flag, MELTANO_STATE_BACKEND_URI, config file) and no Meltano project was found from \(absolutePath(inputs.workingDirectory, relativeTo: "/"))",
                    fix: "Run inside your Meltano project (or give --project-dir or MELTANO_PROJECT_ROOT), or set state_backend.uri, for example postgres://USER@HOST:5432/DATABASE/SCHEMA, with MELTANO_STATE_BACKEND_URI or in \(abbreviateHome(configFilePath, home: home)).")
            }
            throw ConfigurationError(
                problem: "Meltano keeps this project's state in its system database (state_backend.uri is systemdb\(uriFound == nil ? " by default" : "")), and database_uri is not set, so that is SQLite in .meltano/meltano.db; this tool reads PostgreSQL only",
                source: uriFound?.source.label(home: home),
                fix: "If the state is in PostgreSQL, set state_backend.uri to it (postgres://USER:PASSWORD@HOST:PORT/DATABASE/SCHEMA or postgresql://…), or set database_uri (MELTANO_DATABASE_URI) to Meltano's PostgreSQL system database.")
        }
        let label = found!.source.label(home: home)
        if let problem = Self.notPostgres(raw) {
            throw ConfigurationError(
                problem: "Meltano keeps this project's state in its system database (state_backend.uri is systemdb), and \(problem); this tool reads PostgreSQL only",
                source: label,
                fix: "If the state is in PostgreSQL, set state_backend.uri to it, or database_uri (MELTANO_DATABASE_URI) to a postgresql:// URL.")
        }
        let system = try systemDatabaseConnection(raw, label: label)
        entries.append(.init(key: SettingKey.databaseURI, value: redactURI(raw), source: found!.source,
                             environmentVariable: SettingKey.meltanoEnvVar(SettingKey.databaseURI), note: found?.note))
        return (system.0, system.1, system.2, system.2)
    }

    /// A PostgreSQL `database_uri` (SQLAlchemy's `postgresql+psycopg://…` included) as
    /// libpq takes it: the connection, its target and the schema of its search_path.
    func systemDatabaseConnection(_ raw: String, label: String) throws -> (ConnectionConfiguration, ResolvedConfiguration.Target, String?) {
        if let problem = Self.notPostgres(raw) {
            throw ConfigurationError(problem: problem, source: label, fix: "Set database_uri (MELTANO_DATABASE_URI) to a postgresql:// URL.")
        }
        let schemeEnd = raw.range(of: "://")!
        let libpqURI = "postgresql://" + raw[schemeEnd.upperBound...]
        let parsed: LibpqURI
        do throws(URIProblem) {
            parsed = try LibpqURI.parse(libpqURI, settingPrefix: "database_uri")
        } catch {
            throw ConfigurationError(problem: "database_uri \(error.problem)", source: label, fix: error.fix)
        }
        let target = ResolvedConfiguration.Target(
            host: parsed.hosts.isEmpty ? nil : parsed.hosts.joined(separator: ","),
            port: parsed.ports.isEmpty ? nil : parsed.ports.joined(separator: ","), user: parsed.user,
            database: parsed.database)
        return (ConnectionConfiguration(uri: libpqURI), target, parsed.searchPathSchema)
    }

    /// Why a `database_uri` is not PostgreSQL (nil when it is).
    static func notPostgres(_ raw: String) -> String? {
        let scheme = uriScheme(raw) ?? ""
        let baseScheme = scheme.split(separator: "+").first.map(String.init) ?? ""
        guard baseScheme == "postgresql" || baseScheme == "postgres", raw.range(of: "://") != nil else {
            return "database_uri is \(scheme.isEmpty ? "not a URI" : "a \(scheme) URI")"
        }
        return nil
    }

    /// Meltano's system database beside a state backend of its own (`postgres://`,
    /// `postgresql://`): where `doctor` and the staleness of locks find runs and
    /// heartbeats. Never fails: what is missing is said, for the verdicts.
    mutating func resolveSystemDatabaseBeside(backend: Backend, connectTimeout: Int,
                                              entries: inout [ResolvedConfiguration.Entry]) -> ResolvedConfiguration.SystemDatabase {
        guard backend != .systemdb else { return .sameAsState }
        let found: Found?, result: ResolvedConfiguration.SystemDatabase
        do {
            found = try lookup(SettingKey.databaseURI, secret: true)
            result = systemDatabaseBeside(found, connectTimeout: connectTimeout)
        } catch {
            found = nil
            result = .unavailable("database_uri (MELTANO_DATABASE_URI) cannot be read: \(error)")
        }
        // Shown by `config` too: doctor, locks and unlock --stale depend on it.
        let use = "Meltano's system database, for the runs and heartbeats that judge locks (doctor, locks, unlock --stale)"
        var note = use
        if case let .unavailable(why) = result { note = "\(why); \(use) are not read" }
        entries.append(.init(key: SettingKey.databaseURI, value: found?.value.map(redactURI), source: found?.source ?? .default,
                             environmentVariable: SettingKey.meltanoEnvVar(SettingKey.databaseURI), note: note))
        return result
    }

    private func systemDatabaseBeside(_ found: Found?, connectTimeout: Int) -> ResolvedConfiguration.SystemDatabase {
        guard let found, let raw = found.value else {
            return .unavailable(projectRoot == nil
                ? "no Meltano project was found and database_uri (MELTANO_DATABASE_URI) is not set"
                : "database_uri (MELTANO_DATABASE_URI) is not set, so Meltano's system database is SQLite in .meltano/meltano.db, which this tool does not read")
        }
        do {
            var (connection, target, schema) = try systemDatabaseConnection(raw, label: found.source.label(home: home))
            connection.connectTimeout = connectTimeout
            connection.fixWording = ConnectionFixes.wording(for: .systemdb)
            return .postgres(connection, target: target, schema: schema)
        } catch let error as ConfigurationError {
            return .unavailable("\(error.problem) (\(found.source.label(home: home))), which this tool does not read")
        } catch {
            return .unavailable("database_uri: \(error)")
        }
    }

    func partEntry(_ part: ConnectionPart, _ backend: Backend, found: Found?, fromURI: String?, uriSource: SettingSource?,
                   display: String?, defaultNote: String? = nil, extraNote: String? = nil) -> ResolvedConfiguration.Entry {
        let key = SettingKey.part(part, backend)
        var source = SettingSource.default
        var notes: [String] = []
        if let found, found.value != nil {
            source = found.source
            if let note = found.note { notes.append(note) }
        } else {
            if let found {
                notes.append("\(found.source.label(home: home)) is \(found.note ?? "set but empty"): as in Meltano, it counts as not set and hides the later sources (.env, meltano.yml, the config file); unset it for them to count")
            }
            if fromURI != nil, let uriSource {
                source = uriSource
            } else if let defaultNote {
                notes.append(defaultNote)
            }
        }
        if let extraNote { notes.append(extraNote) }
        return .init(key: key, value: display, source: source, environmentVariable: SettingKey.meltanoEnvVar(key),
                     note: notes.isEmpty ? nil : notes.joined(separator: "; "))
    }

    func parsePort(_ text: String, key: String, source: SettingSource) throws -> Int {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard trimmed.allSatisfy({ $0.isASCII && $0.isNumber }), let port = Int(trimmed), (1...65535).contains(port) else {
            throw ConfigurationError(problem: "\(key) is \(quoted(text)), which is not a port number from 1 to 65535",
                                     source: source.label(home: home), fix: "Set \(key) to a number such as 5432.")
        }
        return port
    }

    static let sslModes = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]

    func validateSSLMode(_ text: String, key: String, source: SettingSource) throws -> String {
        guard Self.sslModes.contains(text) else {
            throw ConfigurationError(problem: "\(key) is \(quoted(text)), which is not an sslmode libpq knows",
                                     source: source.label(home: home),
                                     fix: "Set \(key) to one of \(Self.sslModes.joined(separator: ", ")).")
        }
        return text
    }

    func wrongScheme(_ scheme: String?, source: SettingSource) -> ConfigurationError {
        let label = source.label(home: home)
        guard let scheme else {
            return ConfigurationError(problem: "state_backend.uri is not a URI", source: label,
                                      fix: "Write it as \(AddOnURI.form) (or a postgresql:// libpq URI).")
        }
        let elsewhere: [String: String] = ["s3": "AWS S3", "gs": "Google Cloud Storage", "gcs": "Google Cloud Storage",
                                           "azure": "Azure Blob Storage", "file": "local files"]
        if let place = elsewhere[scheme] {
            return ConfigurationError(
                problem: "state_backend.uri uses the \(scheme) scheme: Meltano keeps this project's state in \(place), not PostgreSQL",
                source: label, fix: "This tool reads PostgreSQL state backends only; use Meltano's `meltano state` commands for \(place).")
        }
        if scheme.hasPrefix("postgresql+") || scheme.hasPrefix("postgres+") {
            return ConfigurationError(
                problem: "state_backend.uri uses the \(scheme) scheme; Meltano has no state backend for it (a driver suffix belongs to SQLAlchemy URLs such as database_uri)",
                source: label, fix: "Write postgresql://… (the later add-on, a libpq URI) or \(AddOnURI.form) (the first add-on).")
        }
        return ConfigurationError(
            problem: "state_backend.uri uses the \(scheme) scheme, which is not a PostgreSQL state backend",
            source: label, fix: "Write it as \(AddOnURI.form), or as a postgresql:// libpq URI for the later add-on.")
    }
}
