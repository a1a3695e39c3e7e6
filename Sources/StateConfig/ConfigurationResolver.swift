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
///    Then the selected **context** of this tool's config file (`ContextDefinition`): a
///    context with a URI replaces everything below for the connection settings.
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
    /// The context selected (`--context`, `MELTANO_STATE_CONTEXT`), if any.
    var context: ContextDefinition?
    var selectedContext: SelectedContext?

    init(inputs: ConfigurationInputs) { self.inputs = inputs }

    var home: String { inputs.homeDirectory }

    /// Secrets shorter than four characters are left out of the final scrub (they would
    /// garble unrelated text); the password itself is never put into any text anyway.
    var redactor: Redactor { Redactor(secrets: secrets.filter { $0.count >= 4 }) }

    // MARK: Resolving

    /// Every setting, in the order `config` lists them: the URI, the backend's connection
    /// parts, the table, this tool's own settings.
    mutating func resolve() throws -> ResolvedConfiguration {
        var entries: [ResolvedConfiguration.Entry] = []
        let connectTimeout = try resolveConnectTimeout()
        let (backend, uri, uriFound) = try chooseBackend(entries: &entries)
        let (connection, target, schema, tableSchema) = try resolveConnection(
            backend: backend, uri: uri, uriFound: uriFound, connectTimeout: connectTimeout.value, entries: &entries)
        // With the connection: Meltano's system database beside it (database_uri).
        let systemDatabase = resolveSystemDatabaseBeside(backend: backend, connectTimeout: connectTimeout.value, entries: &entries)
        warnIgnoredSettings(backend: backend)
        let table = try resolveTable(backend: backend, entries: &entries)
        let own = try resolveOwnSettings(backend: backend, connectTimeoutEntry: connectTimeout.entry, entries: &entries)
        let hints = libpqPasswordHints()

        var resolved = ResolvedConfiguration(
            connection: connection, backend: backend, target: target, schema: schema, tableSchema: tableSchema,
            layout: own.layout, table: table, lockTimeout: own.lockTimeout, staleLockAfter: own.staleLockAfter,
            refreshInterval: own.refreshInterval, readOnly: own.readOnly, editor: own.editor, color: own.color, journalPath: own.journalPath,
            meltanoProjectRoot: projectRoot, meltanoEnvironment: environmentName,
            meltanoEnvironmentSource: environmentSource, configFilePath: configFilePath,
            configFileFound: configFile != nil, entries: entries, warnings: warnings, redactor: redactor,
            systemDatabase: systemDatabase, homeDirectory: home, libpqPasswordHints: hints, context: selectedContext)
        if !resolved.hasPassword, let index = resolved.entries.firstIndex(where: { $0.key == resolved.passwordKey }) {
            var note = "not set: libpq may still find one (PGPASSWORD, ~/.pgpass) or need none (trust, peer)"
            if !hints.isEmpty { note += "; " + hints.joined(separator: ", ") }
            if let existing = resolved.entries[index].note { note = existing + "; " + note }
            resolved.entries[index].note = note
        }
        return resolved
    }

    /// What libpq may find a password in, for the password's note.
    func libpqPasswordHints() -> [String] {
        var hints: [String] = []
        if let password = inputs.environment["PGPASSWORD"], !password.isEmpty { hints.append("PGPASSWORD is set") }
        let passfile = inputs.environment["PGPASSFILE"].flatMap { $0.isEmpty ? nil : $0 } ?? home + "/.pgpass"
        if FileManager.default.fileExists(atPath: passfile) { hints.append("\(abbreviateHome(passfile, home: home)) exists") }
        return hints
    }

    func quoted(_ text: String) -> String { "'\(text)'" }
}
