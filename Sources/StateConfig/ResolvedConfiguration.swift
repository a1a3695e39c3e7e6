import Foundation
import Postgres

/// The effective configuration: how to connect, where the state is, this tool's own
/// settings, and for each setting the source it came from.
///
/// Nothing in it prints a password: `entries` hold `********` for it, the URI is shown
/// redacted, and `render()`, `renderJSON()` and `description` run through a redactor
/// that knows every password the resolver saw, in every source.
public struct ResolvedConfiguration: Sendable {
    /// One effective setting as `meltano-state config` shows it.
    public struct Entry: Sendable, Equatable {
        /// The setting's name (`state_backend.postgres.host`, `lock_timeout`).
        public var key: String
        /// For display: redacted (`********`, URIs without their password); nil when unset.
        public var value: String?
        public var source: SettingSource
        /// The environment variable that sets it.
        public var environmentVariable: String?
        /// Extra context: `via ${PGPASS}`, a default libpq may change, Meltano's folding.
        public var note: String?
    }

    /// Host, port, user and database as they will be used, for headers and messages
    /// (nil: left to libpq's defaults).
    public struct Target: Sendable, Equatable, CustomStringConvertible {
        public var host: String?
        public var port: String?
        public var user: String?
        public var database: String?

        public var description: String {
            var text = ""
            if let user { text += user + "@" }
            text += servers ?? "(libpq default host)"
            text += "/" + (database ?? "(libpq default database)")
            return text
        }

        /// Each host with its port, as a URI names them: `h1:5432,h2:5433` for several
        /// hosts (libpq pairs the lists; one port serves all), `[::1]:5432` for IPv6.
        var servers: String? {
            guard let host else { return port.map { "(libpq default host):" + $0 } }
            let hosts = host.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            let ports = port?.split(separator: ",", omittingEmptySubsequences: false).map(String.init) ?? []
            return hosts.enumerated().map { index, name in
                let shown = name.contains(":") && !name.hasPrefix("/") && !name.hasPrefix("[") ? "[" + name + "]" : name
                let port = ports.count == hosts.count ? ports[index] : ports.count == 1 ? ports[0] : nil
                return port.map { shown + ":" + $0 } ?? shown
            }.joined(separator: ",")
        }
    }

    /// Handed to `Connection`. For `postgres://` it holds typed fields only (the add-on's
    /// URI is not a libpq URI); for `postgresql://` and the system database it carries the
    /// URI itself, with typed fields for the settings that override it.
    public var connection: ConnectionConfiguration
    public var backend: Backend
    public var target: Target
    /// The schema as configured; nil means the connection's `search_path`.
    public var schema: String?
    /// The schema the state tables are really in: for `postgres://` the configured name
    /// folded to lower case as PostgreSQL folds Meltano's unquoted SQL; nil means
    /// `current_schema()`.
    public var tableSchema: String?
    /// The `layout` setting; `.auto` means start from `backend.impliedLayout`.
    public var layout: LayoutPreference
    /// The single-table layout's table (`state_backend.postgresql.table`).
    public var table: String
    public var lockTimeout: Double
    public var staleLockAfter: Double
    public var refreshInterval: Double
    public var readOnly: Bool
    /// A command line; it may carry arguments (`code -w`).
    public var editor: String
    public var color: ColorChoice
    public var journalPath: String
    public var meltanoProjectRoot: String?
    /// The active Meltano environment, if any.
    public var meltanoEnvironment: String?
    /// Where `meltanoEnvironment` came from (`flag`, `env MELTANO_ENVIRONMENT`,
    /// `default_environment (meltano.yml:3)`).
    public var meltanoEnvironmentSource: String?
    public var configFilePath: String
    public var configFileFound: Bool
    public var entries: [Entry]
    /// Things that work here but deserve attention: settings Meltano ignores, variables
    /// that are not set, configurations Meltano's add-on would refuse.
    public var warnings: [String]
    /// Scrubs every password the resolver saw (in any source) from a text.
    public var redactor: Redactor

    /// Meltano's system database (runs and their heartbeats), as Meltano resolves
    /// `database_uri`: the state's own connection for the `systemdb` backend.
    public enum SystemDatabase: Sendable, Equatable {
        case sameAsState
        case postgres(ConnectionConfiguration, target: Target, schema: String?)
        /// Not reachable from here, and why (not set, SQLite, not a URI).
        case unavailable(String)
    }

    public var systemDatabase: SystemDatabase = .sameAsState

    var homeDirectory: String
    /// Variables that tell where libpq may find a password, for the messages.
    var libpqPasswordHints: [String]
    /// The context it was resolved in (`--context`, `MELTANO_STATE_CONTEXT`), if any.
    public var context: SelectedContext?

    /// The layout to start from: the `layout` setting, or what the backend writes.
    public var effectiveLayout: LayoutPreference { layout == .auto ? backend.impliedLayout : layout }

    public func entry(_ key: String) -> Entry? { entries.first { $0.key == key } }

    /// What chose the schema of the state tables, for messages: the setting as set
    /// (`state_backend.postgresql.schema = foo, from uri (env …)`), or how it was left
    /// to a default. Never a password: only the schema's value is shown.
    public var schemaOrigin: String {
        switch backend {
        case .postgres, .postgresql:
            let key = SettingKey.part(.schema, backend)
            if let entry = entry(key), entry.source != .default, let value = entry.value {
                return "\(key) = \(value), from \(entry.source.label(home: homeDirectory))"
            }
            return backend == .postgres ? "\(key) is not set: the add-on's default, public"
                : "\(key) is not set: the connection's search_path chose it"
        case .systemdb:
            if tableSchema != nil, let entry = entry(SettingKey.databaseURI) {
                return "the search_path in database_uri, from \(entry.source.label(home: homeDirectory))"
            }
            return "database_uri sets no search_path: the connection's search_path chose it"
        }
    }

    /// Where a setting's value came from, as `config` shows it (`flag`, `context prod
    /// (~/.config/meltano-state/config.yml:4)`); nil when it is the default.
    public func settingSourceLabel(_ key: String) -> String? {
        guard let entry = entry(key), entry.source != .default else { return nil }
        return entry.source.label(home: homeDirectory)
    }

    /// What chose the single-table layout's table, for messages.
    public var tableOrigin: String {
        guard let entry = entry(SettingKey.table), entry.source != .default, let value = entry.value else {
            return "\(SettingKey.table) is not set"
        }
        return "\(SettingKey.table) = \(value), from \(entry.source.label(home: homeDirectory))"
    }

    /// Whether a password is configured (a setting, or inside the URI). When it is not,
    /// libpq may still find one (`PGPASSWORD`, `~/.pgpass`) or need none.
    public var hasPassword: Bool {
        if let password = connection.password, !password.isEmpty { return true }
        guard let uri = connection.uri else { return false }
        return !passwordsInURI(uri).isEmpty
    }

    /// The setting that holds the password for this backend (`password` for the system
    /// database, whose password can only be in `database_uri`).
    public var passwordKey: String {
        backend == .systemdb ? "password" : SettingKey.part(.password, backend)
    }

    /// The same configuration with a password typed at the prompt.
    public func withPassword(_ password: String) -> ResolvedConfiguration {
        var copy = self
        copy.connection.password = password
        copy.redactor = Redactor(secrets: redactor.secrets + [password])
        let entry = Entry(key: passwordKey, value: "********", source: .prompt,
                          environmentVariable: backend == .systemdb ? nil : SettingKey.meltanoEnvVar(passwordKey),
                          note: nil)
        if let index = copy.entries.firstIndex(where: { $0.key == entry.key }) {
            copy.entries[index] = entry
        } else {
            copy.entries.append(entry)
        }
        return copy
    }
}

// MARK: - Rendering

extension ResolvedConfiguration: CustomStringConvertible {
    public var description: String { render() }

    /// The text of `meltano-state config`: a short header, then one line per setting with
    /// its value and source, then warnings.
    public func render() -> String {
        var lines: [String] = []
        if let root = meltanoProjectRoot {
            var project = "Meltano project  \(abbreviateHome(root, home: homeDirectory))"
            if let environment = meltanoEnvironment {
                project += " (environment \(environment) from \(meltanoEnvironmentSource ?? "?"))"
            } else {
                project += " (no environment)"
            }
            lines.append(project)
        } else {
            lines.append("Meltano project  none found")
        }
        lines.append("Config file      \(abbreviateHome(configFilePath, home: homeDirectory))" + (configFileFound ? "" : " (not found)"))
        if let context { lines.append("Context          \(context.name) (from \(context.source))") }
        lines.append("Backend          \(backendDescription)")
        var connects = "Connects to      \(target)"
        if let tableSchema { connects += ", schema \(tableSchema)" } else { connects += ", schema from search_path" }
        lines.append(connects)
        lines.append("")

        let keyWidth = max(7, entries.map(\.key.count).max() ?? 0)
        let valueWidth = min(60, max(5, entries.map { ($0.value ?? "(not set)").count }.max() ?? 0))
        func pad(_ text: String, _ width: Int) -> String {
            text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
        }
        lines.append(pad("SETTING", keyWidth) + "  " + pad("VALUE", valueWidth) + "  SOURCE")
        for entry in entries {
            var line = pad(entry.key, keyWidth) + "  " + pad(entry.value ?? "(not set)", valueWidth) + "  "
                + entry.source.label(home: homeDirectory)
            if let note = entry.note { line += "; " + note }
            lines.append(line)
        }
        if !warnings.isEmpty {
            lines.append("")
            lines.append("Warnings:")
            for warning in warnings { lines.append("  - " + warning) }
        }
        return redactor.scrub(lines.joined(separator: "\n") + "\n")
    }

    var backendDescription: String {
        switch backend {
        case .postgres: return "postgres:// (meltano-state-backend-postgres: tables meltano_state and meltano_state_locks); layout \(layout.rawValue)"
        case .postgresql: return "postgresql:// (meltano-state-backend-postgresql: table \(table), advisory locks); layout \(layout.rawValue)"
        case .systemdb: return "systemdb (Meltano's system database, database_uri); layout \(layout.rawValue)"
        }
    }

    private struct JSONDocument: Encodable {
        struct Setting: Encodable {
            var key: String
            var value: String?
            var source: String
            var sourceKind: String
            var path: String?
            var line: Int?
            var env: String?
            var note: String?

            enum CodingKeys: String, CodingKey {
                case key, value, source, path, line, env, note
                case sourceKind = "source_kind"
            }

            func encode(to encoder: Encoder) throws {
                var container = encoder.container(keyedBy: CodingKeys.self)
                try container.encode(key, forKey: .key)
                try container.encode(value, forKey: .value)  // null when unset
                try container.encode(source, forKey: .source)
                try container.encode(sourceKind, forKey: .sourceKind)
                try container.encodeIfPresent(path, forKey: .path)
                try container.encodeIfPresent(line, forKey: .line)
                try container.encodeIfPresent(env, forKey: .env)
                try container.encodeIfPresent(note, forKey: .note)
            }
        }
        var backend: String
        var layout: String
        var connection: String
        var schema: String?
        var meltanoProjectRoot: String?
        var meltanoEnvironment: String?
        var configFile: String
        var configFileFound: Bool
        var settings: [Setting]
        var warnings: [String]

        enum CodingKeys: String, CodingKey {
            case backend, layout, connection, schema, settings, warnings
            case meltanoProjectRoot = "meltano_project_root"
            case meltanoEnvironment = "meltano_environment"
            case configFile = "config_file"
            case configFileFound = "config_file_found"
        }

        func encode(to encoder: Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(backend, forKey: .backend)
            try container.encode(layout, forKey: .layout)
            try container.encode(connection, forKey: .connection)
            try container.encode(schema, forKey: .schema)
            try container.encode(meltanoProjectRoot, forKey: .meltanoProjectRoot)
            try container.encode(meltanoEnvironment, forKey: .meltanoEnvironment)
            try container.encode(configFile, forKey: .configFile)
            try container.encode(configFileFound, forKey: .configFileFound)
            try container.encode(settings, forKey: .settings)
            try container.encode(warnings, forKey: .warnings)
        }
    }

    /// `meltano-state config --json`: the same facts as `render()`, one object, keys sorted,
    /// settings in display order; unset values are `null`.
    public func renderJSON() -> String {
        let document = JSONDocument(
            backend: backend.rawValue, layout: layout.rawValue, connection: target.description,
            schema: tableSchema, meltanoProjectRoot: meltanoProjectRoot, meltanoEnvironment: meltanoEnvironment,
            configFile: configFilePath, configFileFound: configFileFound,
            settings: entries.map { entry in
                JSONDocument.Setting(key: entry.key, value: entry.value, source: entry.source.label(home: homeDirectory),
                                     sourceKind: entry.source.kind, path: entry.source.path, line: entry.source.line,
                                     env: entry.environmentVariable, note: entry.note)
            },
            warnings: warnings)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let text = (try? encoder.encode(document)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        // Scrub the secrets as written and as JSON escapes them.
        var secrets = redactor.secrets
        for secret in redactor.secrets {
            if let data = try? JSONEncoder().encode(secret), let quoted = String(data: data, encoding: .utf8) {
                let escaped = String(quoted.dropFirst().dropLast()).replacingOccurrences(of: "\\/", with: "/")
                if escaped != secret { secrets.append(escaped) }
            }
        }
        return Redactor(secrets: secrets).scrub(text) + "\n"
    }
}
