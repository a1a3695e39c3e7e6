import Foundation
import Postgres

/// Finds the settings Meltano itself would use for its PostgreSQL state backend, plus this
/// tool's own, and says where each one came from.
///
/// ## Precedence, highest first
///
/// Meltano reads a setting from the first of these stores that has it
/// (`SettingValueStore` in `meltano/core/settings_store.py`: CONFIG_OVERRIDE, ENV, DOTENV,
/// MELTANO_ENV, MELTANO_YML, DB, INHERITED, DEFAULT, in declaration order), and this
/// resolver does the same, with this tool's config file slotted in just above the defaults:
///
/// 1. **Command-line flags** (Meltano: config override, "a command line flag").
/// 2. **The environment**: `MELTANO_STATE_BACKEND_URI`,
///    `MELTANO_STATE_BACKEND_POSTGRES_*` / `…_POSTGRESQL_*` (Meltano's names: `MELTANO_`
///    plus the setting name upper-cased, dots as underscores) and `MELTANO_STATE_*` for
///    this tool's own settings. As in Meltano (`ProjectSettingsService.env_override`),
///    the variables under the top-level `env:` key of `meltano.yml` are laid *over* the
///    process environment here.
/// 3. **`.env` beside `meltano.yml`**, read as python-dotenv's `dotenv_values` reads it
///    (`DotEnvFile`): same variable names. Its values get python-dotenv's own `${VAR}`
///    interpolation and nothing else.
/// 4. **`meltano.yml`** (found in the working directory or a parent, or at `--project-dir`
///    / `MELTANO_PROJECT_ROOT`, as `Project.find` does), top-level keys only. Meltano's
///    own settings (`state_backend.*`, `database_uri`) can *not* be set per environment:
///    `ProjectSettingsService.supports_environments = False`, so the MELTANO_ENV store is
///    skipped for them (meltano#6846, #8806). The active environment (`--environment`,
///    else `MELTANO_ENVIRONMENT`, else `default_environment`; `null` for none) therefore
///    changes only `$MELTANO_ENVIRONMENT` in expansions; an environment's `config:` that
///    sets `state_backend` is reported as ignored, as Meltano ignores it. Values are
///    expanded by `MeltanoExpansion` (Meltano's `expand_env_vars`) against `.env`
///    overlaid by the environment: an unset variable becomes empty (an error under
///    `ff.strict_env_var_mode`), and a value that expands to nothing counts as unset.
///    Meltano's next store, settings saved in its system database, is not read.
/// 5. **This tool's config file**, `~/.config/meltano-state/config.yml` (or
///    `$XDG_CONFIG_HOME/meltano-state/config.yml`, `--config`, `MELTANO_STATE_CONFIG`):
///    same keys as `meltano.yml`, plus this tool's own settings, expanded the same way.
///    It sits below everything Meltano reads so that whenever Meltano would find a value
///    this tool finds the same one; it fills the gaps (outside a project, own settings).
/// 6. **Defaults**: host `localhost`, port 5432, schema `public`, sslmode `prefer` for
///    `postgres://` (the add-on's `or` fallbacks); for `postgresql://` unset parts are
///    left to libpq; own settings as `OwnSettings` says.
///
/// As in Meltano, the first source that *has* a key wins even when its value is empty
/// (an empty variable, or a `meltano.yml` value whose variables are all unset): the part
/// then falls back to the URI and the default, as the add-on's `x or fallback` does. A
/// YAML null, or a `.env` key without `=`, does not count as set.
///
/// ## Which names are read
///
/// Meltano hands an add-on only `state_backend.<scheme>.*` for the URI's scheme, so
/// `postgres://` reads `state_backend.postgres.*` and `postgresql://` reads
/// `state_backend.postgresql.*` (the other family is reported as ignored). With no URI:
/// if any part of one family is set, that family is used directly; otherwise Meltano's
/// default `systemdb` applies and the state is in Meltano's system database
/// (`database_uri`), readable here when that is PostgreSQL.
public enum ConfigurationResolver {
    /// Every key `ConfigurationInputs.flags` accepts.
    public static var flagKeys: [String] {
        ["uri", "host", "port", "user", "password", "database", "schema", "sslmode", "table"]
            + SettingKey.meltanoKeys.sorted() + OwnSettings.all.map(\.key)
    }

    /// Every key `ConfigurationInputs.flagSeconds` accepts: the settings in seconds.
    public static var secondsFlagKeys: [String] {
        [OwnSettings.lockTimeout, OwnSettings.staleLockAfter, OwnSettings.refreshInterval].map(\.key)
    }

    public static func resolve(_ inputs: ConfigurationInputs) throws -> ResolvedConfiguration {
        var resolution = Resolution(inputs: inputs)
        do {
            try resolution.load()
            resolution.collectSecrets()
            return try resolution.resolve()
        } catch let error as ConfigurationError {
            throw error.scrubbed(by: resolution.redactor)
        }
    }
}

/// The value a source gave a setting.
struct Found {
    /// nil: set but empty (or expanded to nothing).
    var value: String?
    var source: SettingSource
    var note: String?
}

struct Resolution {
    let inputs: ConfigurationInputs
    var projectRoot: String?
    var meltanoFile: YAMLSettings?
    var dotenv: DotEnvFile?
    var configFile: YAMLSettings?
    var configFilePath = ""
    var environmentName: String?
    var environmentSource: String?
    var environmentLayer: [String: (value: String, source: SettingSource)] = [:]
    var expansionEnvironment: [String: String] = [:]
    var strictEnvVarMode = false
    var warnings: [String] = []
    var secrets: [String] = []
    /// The backend whose short flag names (`host`, …) apply.
    var activeBackend: Backend?

    init(inputs: ConfigurationInputs) { self.inputs = inputs }

    var home: String { inputs.homeDirectory }

    /// Secrets shorter than four characters are left out of the final scrub (they would
    /// garble unrelated text); the password itself is never put into any text anyway.
    var redactor: Redactor { Redactor(secrets: secrets.filter { $0.count >= 4 }) }

    // MARK: Loading

    mutating func load() throws {
        let environment = inputs.environment
        let unknownFlags = inputs.flags.keys.filter { !ConfigurationResolver.flagKeys.contains($0) }.sorted()
        if let unknown = unknownFlags.first {
            throw ConfigurationError(problem: "unknown setting \(unknown) given as a flag", source: "flag",
                                     fix: "Use one of: \(ConfigurationResolver.flagKeys.joined(separator: ", ")).")
        }
        let unknownSeconds = inputs.flagSeconds.keys.filter { !ConfigurationResolver.secondsFlagKeys.contains($0) }.sorted()
        if let unknown = unknownSeconds.first {
            throw ConfigurationError(problem: "unknown setting \(unknown) given as a flag in seconds", source: "flag",
                                     fix: "Use one of: \(ConfigurationResolver.secondsFlagKeys.joined(separator: ", ")).")
        }

        // The Meltano project, as Project.find: explicit root, else the working directory or a parent.
        var explicitRoot: (path: String, origin: String)?
        if let directory = inputs.projectDirectory, !directory.isEmpty {
            explicitRoot = (directory, "--project-dir")
        } else if let directory = environment["MELTANO_PROJECT_ROOT"], !directory.isEmpty {
            explicitRoot = (directory, "env MELTANO_PROJECT_ROOT")
        }
        let workingDirectory = absolutePath(inputs.workingDirectory, relativeTo: "/")
        if let explicitRoot {
            let root = absolutePath(explicitRoot.path, relativeTo: workingDirectory)
            guard FileManager.default.fileExists(atPath: root + "/meltano.yml") else {
                throw ConfigurationError(problem: "there is no meltano.yml in \(root)", source: explicitRoot.origin,
                                         fix: "Point \(explicitRoot.origin) at the directory that holds your project's meltano.yml, or leave it unset to search from the working directory.")
            }
            projectRoot = root
        } else {
            var directory = workingDirectory
            while true {
                if FileManager.default.fileExists(atPath: (directory == "/" ? "" : directory) + "/meltano.yml") {
                    projectRoot = directory
                    break
                }
                let parent = (directory as NSString).deletingLastPathComponent
                if parent == directory || parent.isEmpty { break }
                directory = parent
            }
        }
        if let root = projectRoot {
            let base = root == "/" ? "" : root
            meltanoFile = try YAMLSettings.load(path: base + "/meltano.yml", isMeltanoFile: true)
            dotenv = try DotEnvFile.load(path: base + "/.env", environment: environment)
            for line in dotenv?.unparsedLines ?? [] {
                warnings.append(".env:\(line) could not be parsed; python-dotenv (and so Meltano) skips it")
            }
        }

        // The active environment, as Meltano's CLI picks it.
        if let name = inputs.environmentName, !name.isEmpty {
            (environmentName, environmentSource) = (name, "flag")
        } else if let name = environment["MELTANO_ENVIRONMENT"], !name.isEmpty {
            (environmentName, environmentSource) = (name, "env MELTANO_ENVIRONMENT")
        } else if let value = meltanoFile?.defaultEnvironment, let name = value.text, !name.isEmpty {
            (environmentName, environmentSource) = (name, "default_environment (meltano.yml:\(value.line))")
        }
        if environmentName?.lowercased() == "null" { (environmentName, environmentSource) = (nil, nil) }
        if projectRoot == nil {
            (environmentName, environmentSource) = (nil, nil)
        } else if let name = environmentName, let meltanoFile,
                  !meltanoFile.environments.contains(where: { $0.name == name }) {
            let known = meltanoFile.environments.map(\.name)
            throw ConfigurationError(
                problem: "the Meltano environment \(name) is not defined in meltano.yml", source: environmentSource,
                fix: known.isEmpty
                    ? "Add it under environments: in meltano.yml, or choose none with --environment null."
                    : "Use one of \(known.joined(separator: ", ")), or none with --environment null.")
        }

        // The environment as Meltano's settings see it: the process, then meltano.yml's env:.
        for (name, value) in environment { environmentLayer[name] = (value, .environment(variable: name)) }
        if let meltanoFile {
            for (name, value) in meltanoFile.env {
                guard let text = value.text else { continue }
                environmentLayer[name] = (text, .meltanoYMLEnvironment(path: meltanoFile.path, line: value.line, variable: name))
            }
        }
        // What $VAR in meltano.yml sees: {**.env, **os.environ, **project.env, **meltano.yml env}.
        for (name, value) in dotenv?.values ?? [:] { if let text = value.value { expansionEnvironment[name] = text } }
        for (name, value) in environment { expansionEnvironment[name] = value }
        if let root = projectRoot {
            expansionEnvironment["MELTANO_PROJECT_ROOT"] = root
            expansionEnvironment["MELTANO_ENVIRONMENT"] = environmentName ?? ""
            expansionEnvironment["MELTANO_SYS_DIR_ROOT"] = absolutePath(
                environment["MELTANO_SYS_DIR_ROOT"] ?? (root == "/" ? "/.meltano" : root + "/.meltano"), relativeTo: workingDirectory)
        }
        for (name, value) in meltanoFile?.env ?? [:] { if let text = value.text { expansionEnvironment[name] = text } }

        // This tool's config file.
        var explicitConfig: String?
        var configPath: String
        if let path = inputs.configFile, !path.isEmpty {
            (explicitConfig, configPath) = ("--config", path)
        } else if let path = environment[OwnSettings.configFileVariable], !path.isEmpty {
            (explicitConfig, configPath) = ("env \(OwnSettings.configFileVariable)", path)
        } else {
            let xdg = environment["XDG_CONFIG_HOME"].flatMap { $0.hasPrefix("/") ? $0 : nil } ?? home + "/.config"
            configPath = xdg + "/meltano-state/config.yml"
        }
        configFilePath = absolutePath(configPath, relativeTo: workingDirectory)
        configFile = try YAMLSettings.load(path: configFilePath, isMeltanoFile: false)
        if configFile == nil, let explicitConfig {
            throw ConfigurationError(problem: "the config file \(configFilePath) does not exist", source: explicitConfig,
                                     fix: "Create it (config.example.yml lists every setting), or point \(explicitConfig) at an existing file.")
        }
        let known = SettingKey.meltanoKeys.union(OwnSettings.all.map(\.key))
        for (key, value) in (configFile?.values ?? [:]).sorted(by: { $0.value.line < $1.value.line }) where !known.contains(key) {
            warnings.append("\(abbreviateHome(configFilePath, home: home)):\(value.line): unknown setting \(key) (ignored)")
        }

        // ff.strict_env_var_mode decides what an unset $VAR does (read without expansion).
        let strictVariable = SettingKey.meltanoEnvVar(SettingKey.strictEnvVarMode)
        let strictText = environmentLayer[strictVariable]?.value ?? dotenv?[strictVariable]?.value
            ?? meltanoFile?[SettingKey.strictEnvVarMode]?.text
        strictEnvVarMode = strictText.flatMap(parseBool) ?? false
    }

    // MARK: Looking settings up

    /// The flag for `key`, under its full name or, for the active backend, its short one.
    func flag(_ key: String) -> String? {
        if let value = inputs.flags[key] { return value }
        if key == SettingKey.uri { return inputs.flags["uri"] }
        if key == SettingKey.table { return inputs.flags["table"] }
        if let activeBackend {
            for part in ConnectionPart.allCases where SettingKey.part(part, activeBackend) == key {
                return inputs.flags[part.rawValue]
            }
        }
        return nil
    }

    /// The first source that has `key`. `meltano` says whether `meltano.yml` is read (it
    /// holds only Meltano's settings); `variable` is the setting's environment variable.
    mutating func lookup(_ key: String, variable: String? = nil, meltano: Bool = true, secret: Bool = false) throws -> Found? {
        let variable = variable ?? SettingKey.meltanoEnvVar(key)
        if let value = flag(key) {
            return Found(value: value.isEmpty ? nil : value, source: .flag, note: value.isEmpty ? "set but empty" : nil)
        }
        if let entry = environmentLayer[variable] {
            return Found(value: entry.value.isEmpty ? nil : entry.value, source: entry.source,
                         note: entry.value.isEmpty ? "set but empty" : nil)
        }
        if let dotenv, let entry = dotenv[variable], let value = entry.value {
            return Found(value: value.isEmpty ? nil : value,
                         source: .dotenv(path: dotenv.path, line: entry.line, variable: variable),
                         note: value.isEmpty ? "set but empty" : nil)
        }
        if meltano, let meltanoFile, let entry = meltanoFile[key], let raw = entry.text {
            return try expand(raw, key: key, source: .meltanoYML(path: meltanoFile.path, line: entry.line), secret: secret)
        }
        if let configFile, let entry = configFile[key], let raw = entry.text {
            return try expand(raw, key: key, source: .configFile(path: configFile.path, line: entry.line), secret: secret)
        }
        return nil
    }

    /// Where `key` is set, if anywhere, without expanding anything.
    func firstSource(_ key: String) -> SettingSource? {
        let variable = SettingKey.meltanoEnvVar(key)
        if inputs.flags[key] != nil { return .flag }
        if let entry = environmentLayer[variable], !entry.value.isEmpty { return entry.source }
        if let dotenv, let entry = dotenv[variable], let value = entry.value, !value.isEmpty {
            return .dotenv(path: dotenv.path, line: entry.line, variable: variable)
        }
        if let meltanoFile, let entry = meltanoFile[key], entry.text != nil {
            return .meltanoYML(path: meltanoFile.path, line: entry.line)
        }
        if let configFile, let entry = configFile[key], entry.text != nil {
            return .configFile(path: configFile.path, line: entry.line)
        }
        return nil
    }

    mutating func expand(_ raw: String, key: String, source: SettingSource, secret: Bool) throws -> Found {
        let label = source.label(home: home)
        do throws(MeltanoExpansion.MissingVariable) {
            let result = try MeltanoExpansion.expand(raw, environment: expansionEnvironment, strict: strictEnvVarMode)
            var notes: [String] = []
            if result.wholeReference != nil { notes.append("via \(raw)") }
            for name in Set(result.missing).sorted() {
                let what = canName(name, in: raw, key: key, secret: secret) ? "$\(name)" : "a variable"
                warnings.append("\(label): \(key) refers to \(what), which is not set; Meltano reads it as an empty string")
            }
            if result.value == nil { notes.append("expanded to nothing, so unset") }
            let value = result.value.flatMap { $0.isEmpty ? nil : $0 }
            if value == nil && result.value != nil { notes.append("set but empty") }
            return Found(value: value, source: source, note: notes.isEmpty ? nil : notes.joined(separator: ", "))
        } catch {
            let named = canName(error.name, in: raw, key: key, secret: secret) ? "$\(error.name)" : "a variable"
            throw ConfigurationError(
                problem: "\(key) refers to \(named), which is not set, and Meltano's ff.strict_env_var_mode is on",
                source: label,
                fix: "Set \(named == "a variable" ? "the variable" : error.name) in the environment or in the project's .env, or turn ff.strict_env_var_mode off.")
        }
    }

    /// Whether naming the variable `name` could show part of a password: a password value
    /// may only be named when it is nothing but the reference; in a URI, a reference may
    /// be named when it is outside the password.
    private func canName(_ name: String, in raw: String, key: String, secret: Bool) -> Bool {
        guard secret else { return true }
        if key == SettingKey.uri || key == SettingKey.databaseURI {
            return !passwordsInURI(raw).contains { $0.contains(name) }
        }
        return raw == "$\(name)" || raw == "${\(name)}"
    }

    /// Every value any source gives `key`, expanded where that source expands. A YAML
    /// value that is nothing but a reference (`${STATE_DB_PASSWORD}`) is not itself a
    /// secret, so only its expansion is returned.
    func allValues(_ key: String, shortFlag: String?) -> [String] {
        var values: [String] = []
        let variable = SettingKey.meltanoEnvVar(key)
        if let value = inputs.flags[key] { values.append(value) }
        if let shortFlag, let value = inputs.flags[shortFlag] { values.append(value) }
        if let entry = environmentLayer[variable] { values.append(entry.value) }
        if let value = dotenv?[variable]?.value { values.append(value) }
        for file in [meltanoFile, configFile].compactMap({ $0 }) {
            guard let raw = file[key]?.text else { continue }
            let expansion = try? MeltanoExpansion.expand(raw, environment: expansionEnvironment, strict: false)
            if expansion?.wholeReference == nil { values.append(raw) }
            if let expanded = expansion?.value { values.append(expanded) }
        }
        return values
    }

    /// Every password in every source (overridden ones too), for the redactor.
    mutating func collectSecrets() {
        var found: [String] = []
        for backend in [Backend.postgres, .postgresql] {
            found += allValues(SettingKey.part(.password, backend), shortFlag: "password")
        }
        for key in [SettingKey.uri, SettingKey.databaseURI] {
            for value in allValues(key, shortFlag: key == SettingKey.uri ? "uri" : nil) { found += passwordsInURI(value) }
        }
        if let password = inputs.environment["PGPASSWORD"] { found.append(password) }
        var seen = Set<String>()
        secrets = found.filter { !$0.isEmpty && seen.insert($0).inserted }
    }

    // MARK: Resolving

    mutating func resolve() throws -> ResolvedConfiguration {
        var entries: [ResolvedConfiguration.Entry] = []
        let connectTimeout = try resolveConnectTimeout()

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
        } else if ConnectionPart.allCases.contains(where: { inputs.flags[$0.rawValue] != nil || firstSource(SettingKey.part($0, .postgres)) != nil }) {
            backend = .postgres
        } else if ConnectionPart.allCases.contains(where: { firstSource(SettingKey.part($0, .postgresql)) != nil }) {
            backend = .postgresql
        } else {
            backend = .systemdb
        }
        activeBackend = backend == .systemdb ? nil : backend

        let uriEntry = ResolvedConfiguration.Entry(
            key: SettingKey.uri, value: uri.map(redactURI) ?? (backend == .systemdb ? "systemdb" : nil),
            source: uriFound?.source ?? .default, environmentVariable: SettingKey.meltanoEnvVar(SettingKey.uri),
            note: uriFound?.note ?? (uri == nil && backend != .systemdb ? "not set: the connection comes from the settings below" : nil))
        entries.append(uriEntry)

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
        connection.connectTimeout = connectTimeout.value
        connection.fixWording = ConnectionFixes.wording

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

        // The single-table layout's table.
        let tableFound = try lookup(SettingKey.table)
        let table = tableFound?.value ?? "state"
        entries.append(.init(key: SettingKey.table, value: table, source: tableFound?.value == nil ? .default : tableFound!.source,
                             environmentVariable: SettingKey.meltanoEnvVar(SettingKey.table),
                             note: tableFound?.note ?? (backend == .postgres ? "used only by the single-table layout" : nil)))

        // This tool's own settings.
        let layoutFound = try own(OwnSettings.layout)
        var layout = LayoutPreference.auto
        if let text = layoutFound?.value {
            guard let parsed = LayoutPreference(rawValue: text.lowercased()) else {
                throw invalid(OwnSettings.layout, found: layoutFound!, expected: LayoutPreference.allCases.map(\.rawValue).joined(separator: ", "))
            }
            layout = parsed
        }
        entries.append(ownEntry(OwnSettings.layout, found: layoutFound, display: layout.rawValue,
                                note: layout == .auto ? "starts from \(backend.impliedLayout.rawValue)" : nil))

        let lockTimeout = try seconds(OwnSettings.lockTimeout, default: 30, allowZero: true, entries: &entries)
        let staleLockAfter = try seconds(OwnSettings.staleLockAfter, default: 300, allowZero: false, entries: &entries)
        let refreshInterval = try seconds(OwnSettings.refreshInterval, default: 2, allowZero: false, entries: &entries)
        entries.append(connectTimeout.entry)

        let readOnlyFound = try own(OwnSettings.readOnly)
        var readOnly = false
        if let text = readOnlyFound?.value {
            guard let parsed = parseBool(text) else {
                throw invalid(OwnSettings.readOnly, found: readOnlyFound!, expected: "true or false")
            }
            readOnly = parsed
        }
        entries.append(ownEntry(OwnSettings.readOnly, found: readOnlyFound, display: readOnly ? "true" : "false"))

        let editorFound = try own(OwnSettings.editor)
        let editor: String
        if let value = editorFound?.value {
            editor = value
            entries.append(ownEntry(OwnSettings.editor, found: editorFound, display: value))
        } else if let visual = inputs.environment["VISUAL"], !visual.isEmpty {
            editor = visual
            entries.append(.init(key: OwnSettings.editor.key, value: visual, source: .environment(variable: "VISUAL"),
                                 environmentVariable: OwnSettings.editor.environmentVariable, note: editorFound?.note))
        } else if let fallback = inputs.environment["EDITOR"], !fallback.isEmpty {
            editor = fallback
            entries.append(.init(key: OwnSettings.editor.key, value: fallback, source: .environment(variable: "EDITOR"),
                                 environmentVariable: OwnSettings.editor.environmentVariable, note: editorFound?.note))
        } else {
            editor = "vi"
            entries.append(ownEntry(OwnSettings.editor, found: editorFound, display: "vi"))
        }

        let colorFound = try own(OwnSettings.color)
        var color = ColorChoice.auto
        if let text = colorFound?.value {
            guard let parsed = ColorChoice(rawValue: text.lowercased()) else {
                throw invalid(OwnSettings.color, found: colorFound!, expected: "auto, always or never")
            }
            color = parsed
            entries.append(ownEntry(OwnSettings.color, found: colorFound, display: color.rawValue))
        } else if let noColor = inputs.environment["NO_COLOR"], !noColor.isEmpty {
            color = .never
            entries.append(.init(key: OwnSettings.color.key, value: "never", source: .environment(variable: "NO_COLOR"),
                                 environmentVariable: OwnSettings.color.environmentVariable, note: "NO_COLOR is set"))
        } else {
            entries.append(ownEntry(OwnSettings.color, found: colorFound, display: "auto"))
        }

        let journalFound = try own(OwnSettings.journal)
        let journalPath: String
        if let value = journalFound?.value {
            let base: String
            if case .configFile(let path, _) = journalFound!.source {
                base = (path as NSString).deletingLastPathComponent
            } else {
                base = absolutePath(inputs.workingDirectory, relativeTo: "/")
            }
            journalPath = absolutePath(value, relativeTo: base)
            entries.append(ownEntry(OwnSettings.journal, found: journalFound, display: abbreviateHome(journalPath, home: home)))
        } else {
            let stateHome = inputs.environment["XDG_STATE_HOME"].flatMap { $0.hasPrefix("/") ? $0 : nil }
            journalPath = (stateHome ?? home + "/.local/state") + "/meltano-state/journal.jsonl"
            entries.append(ownEntry(OwnSettings.journal, found: journalFound, display: abbreviateHome(journalPath, home: home),
                                    note: stateHome != nil ? "under XDG_STATE_HOME" : nil))
        }

        var hints: [String] = []
        if let password = inputs.environment["PGPASSWORD"], !password.isEmpty { hints.append("PGPASSWORD is set") }
        let passfile = inputs.environment["PGPASSFILE"].flatMap { $0.isEmpty ? nil : $0 } ?? home + "/.pgpass"
        if FileManager.default.fileExists(atPath: passfile) { hints.append("\(abbreviateHome(passfile, home: home)) exists") }

        var resolved = ResolvedConfiguration(
            connection: connection, backend: backend, target: target, schema: schema, tableSchema: tableSchema,
            layout: layout, table: table, lockTimeout: lockTimeout, staleLockAfter: staleLockAfter,
            refreshInterval: refreshInterval, readOnly: readOnly, editor: editor, color: color, journalPath: journalPath,
            meltanoProjectRoot: projectRoot, meltanoEnvironment: environmentName,
            meltanoEnvironmentSource: environmentSource, configFilePath: configFilePath,
            configFileFound: configFile != nil, entries: entries, warnings: warnings, redactor: redactor,
            homeDirectory: home, libpqPasswordHints: hints)
        if !resolved.hasPassword, let index = resolved.entries.firstIndex(where: { $0.key == resolved.passwordKey }) {
            var note = "not set: libpq may still find one (PGPASSWORD, ~/.pgpass) or need none (trust, peer)"
            if !hints.isEmpty { note += "; " + hints.joined(separator: ", ") }
            if let existing = resolved.entries[index].note { note = existing + "; " + note }
            resolved.entries[index].note = note
        }
        return resolved
    }

    // MARK: The three backends

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

        let hostFound = try lookup(key(.host))
        connection.host = hostFound?.value
        let uriHost = parsed.hosts.isEmpty ? nil : parsed.hosts.joined(separator: ",")
        let host = hostFound?.value ?? uriHost
        entries.append(partEntry(.host, backend, found: hostFound, fromURI: uriHost, uriSource: uriSource, display: host,
                                 defaultNote: "not set: libpq uses PGHOST, else the local socket"))

        let portFound = try lookup(key(.port))
        connection.port = try portFound?.value.map { try parsePort($0, key: key(.port), source: portFound!.source) }
        let uriPort = parsed.ports.isEmpty ? nil : parsed.ports.joined(separator: ",")
        let port = connection.port.map(String.init) ?? uriPort
        entries.append(partEntry(.port, backend, found: portFound, fromURI: uriPort, uriSource: uriSource, display: port ?? "5432",
                                 defaultNote: "libpq's default (PGPORT may change it)"))

        let userFound = try lookup(key(.user))
        connection.user = userFound?.value
        let user = userFound?.value ?? parsed.user
        entries.append(partEntry(.user, backend, found: userFound, fromURI: parsed.user, uriSource: uriSource, display: user,
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

        let sslFound = try lookup(key(.sslmode))
        connection.sslmode = try sslFound?.value.map { try validateSSLMode($0, key: key(.sslmode), source: sslFound!.source) }
        entries.append(partEntry(.sslmode, backend, found: sslFound, fromURI: parsed.parameter("sslmode"), uriSource: uriSource,
                                 display: connection.sslmode ?? parsed.parameter("sslmode") ?? "prefer",
                                 defaultNote: "libpq's default (PGSSLMODE may change it)"))

        let target = ResolvedConfiguration.Target(host: host ?? parsed.parameter("host"), port: port ?? parsed.parameter("port"),
                                                  user: user, database: database)
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
        let scheme = uriScheme(raw) ?? ""
        let baseScheme = scheme.split(separator: "+").first.map(String.init) ?? ""
        guard baseScheme == "postgresql" || baseScheme == "postgres", let schemeEnd = raw.range(of: "://") else {
            throw ConfigurationError(
                problem: "Meltano keeps this project's state in its system database (state_backend.uri is systemdb), and database_uri is \(scheme.isEmpty ? "not a URI" : "a \(scheme) URI"); this tool reads PostgreSQL only",
                source: label,
                fix: "If the state is in PostgreSQL, set state_backend.uri to it, or database_uri (MELTANO_DATABASE_URI) to a postgresql:// URL.")
        }
        let libpqURI = "postgresql://" + raw[schemeEnd.upperBound...]
        let parsed: LibpqURI
        do throws(URIProblem) {
            parsed = try LibpqURI.parse(libpqURI, settingPrefix: "database_uri")
        } catch {
            throw ConfigurationError(problem: "database_uri \(error.problem)", source: label, fix: error.fix)
        }
        entries.append(.init(key: SettingKey.databaseURI, value: redactURI(raw), source: found!.source,
                             environmentVariable: SettingKey.meltanoEnvVar(SettingKey.databaseURI), note: found?.note))
        let schema = parsed.searchPathSchema
        let target = ResolvedConfiguration.Target(
            host: parsed.hosts.isEmpty ? nil : parsed.hosts.joined(separator: ","),
            port: parsed.ports.isEmpty ? nil : parsed.ports.joined(separator: ","), user: parsed.user,
            database: parsed.database)
        return (ConnectionConfiguration(uri: libpqURI), target, schema, schema)
    }

    // MARK: Helpers

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
                notes.append("\(found.source.label(home: home)) is \(found.note ?? "set but empty"), so it does not count")
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

    mutating func own(_ setting: OwnSetting) throws -> Found? {
        try lookup(setting.key, variable: setting.environmentVariable, meltano: false)
    }

    func ownEntry(_ setting: OwnSetting, found: Found?, display: String, note: String? = nil) -> ResolvedConfiguration.Entry {
        var notes: [String] = []
        var source = SettingSource.default
        if let found {
            if found.value != nil {
                source = found.source
                if let note = found.note { notes.append(note) }
            } else {
                notes.append("\(found.source.label(home: home)) is \(found.note ?? "set but empty"), so the default applies")
            }
        }
        if let note { notes.append(note) }
        return .init(key: setting.key, value: display, source: source, environmentVariable: setting.environmentVariable,
                     note: notes.isEmpty ? nil : notes.joined(separator: "; "))
    }

    func invalid(_ setting: OwnSetting, found: Found, expected: String) -> ConfigurationError {
        ConfigurationError(problem: "\(setting.key) is \(quoted(found.value ?? "")), which is not \(expected)",
                           source: found.source.label(home: home),
                           fix: "Set \(setting.key) (\(setting.environmentVariable)) to \(expected).")
    }

    mutating func seconds(_ setting: OwnSetting, default defaultValue: Double, allowZero: Bool,
                          entries: inout [ResolvedConfiguration.Entry]) throws -> Double {
        let expected = allowZero ? "a number of seconds (30, 1.5, 500ms, 2m)" : "a positive number of seconds (30, 1.5, 500ms, 2m)"
        if let typed = inputs.flagSeconds[setting.key] {
            // The command line's number as it is; text only to name it in an error.
            let given = Found(value: String(typed), source: .flag, note: nil)
            guard typed.isFinite, typed >= 0, allowZero || typed > 0 else { throw invalid(setting, found: given, expected: expected) }
            entries.append(ownEntry(setting, found: given, display: formatSeconds(typed)))
            return typed
        }
        let found = try own(setting)
        var value = defaultValue
        if let text = found?.value {
            guard let parsed = parseSeconds(text), allowZero || parsed > 0 else {
                throw invalid(setting, found: found!, expected: expected)
            }
            value = parsed
        }
        entries.append(ownEntry(setting, found: found, display: formatSeconds(value)))
        return value
    }

    mutating func resolveConnectTimeout() throws -> (value: Int, entry: ResolvedConfiguration.Entry) {
        let found = try own(OwnSettings.connectTimeout)
        var value = 10
        if let text = found?.value {
            guard let parsed = parseSeconds(text), parsed >= 1 else {
                throw invalid(OwnSettings.connectTimeout, found: found!, expected: "a number of seconds, at least 1")
            }
            value = Int(parsed.rounded(.up))
        }
        return (value, ownEntry(OwnSettings.connectTimeout, found: found, display: "\(value) s"))
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

    func quoted(_ text: String) -> String { "'\(text)'" }

    func absolutePath(_ path: String, relativeTo base: String) -> String {
        var expanded = path
        if path == "~" { expanded = home } else if path.hasPrefix("~/") { expanded = home + path.dropFirst(1) }
        if !expanded.hasPrefix("/") { expanded = (base as NSString).appendingPathComponent(expanded) }
        let standardized = (expanded as NSString).standardizingPath
        return standardized.isEmpty ? "/" : standardized
    }
}

/// Meltano's boolean words (`strtobool`): y, yes, t, true, on, 1 and n, no, f, false, off, 0.
func parseBool(_ text: String) -> Bool? {
    switch text.trimmingCharacters(in: .whitespaces).lowercased() {
    case "y", "yes", "t", "true", "on", "1": return true
    case "n", "no", "f", "false", "off", "0": return false
    default: return nil
    }
}

/// `30`, `1.5`, `30s`, `500ms`, `2m` as seconds.
func parseSeconds(_ text: String) -> Double? {
    var number = text.trimmingCharacters(in: .whitespaces).lowercased()
    var scale = 1.0
    if number.hasSuffix("ms") {
        number.removeLast(2)
        scale = 0.001
    } else if number.hasSuffix("s") {
        number.removeLast()
    } else if number.hasSuffix("m") {
        number.removeLast()
        scale = 60
    }
    guard let value = Double(number.trimmingCharacters(in: .whitespaces)), value.isFinite, value >= 0 else { return nil }
    return value * scale
}

func formatSeconds(_ value: Double) -> String {
    value == value.rounded() && abs(value) < 1e15 ? "\(Int(value)) s" : "\(value) s"
}
