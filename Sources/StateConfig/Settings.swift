import Foundation

/// Which of Meltano's state backends the settings describe. It decides which add-on's
/// setting names are read: Meltano hands an add-on only `state_backend.<scheme>.*` for
/// the scheme of `state_backend.uri` (`meltano/core/state_store/__init__.py`,
/// `_settings_to_manager_kwargs`), so a `postgres://` URI reads `state_backend.postgres.*`
/// and a `postgresql://` URI reads `state_backend.postgresql.*`.
public enum Backend: String, Sendable, Codable, CaseIterable {
    /// `postgres://…/DATABASE/SCHEMA`: the first add-on (`meltano-state-backend-postgres`),
    /// tables `meltano_state` and `meltano_state_locks`.
    case postgres
    /// `postgresql://…` (a libpq URI): the later add-on (`meltano-state-backend-postgresql`),
    /// one table (setting `table`, default `state`) with advisory locks.
    case postgresql
    /// `systemdb`, Meltano's default: state in Meltano's own system database
    /// (`database_uri`), read here only when that is PostgreSQL.
    case systemdb

    /// The storage layout this backend writes, for `layout: auto`.
    public var impliedLayout: LayoutPreference {
        switch self {
        case .postgres: return .twoTables
        case .postgresql: return .singleTable
        case .systemdb: return .systemdb
        }
    }
}

/// The `layout` setting (this tool's own): which tables to read. Raw values match
/// `StateStore.StorageLayout`; `auto` lets the store recognise what it finds, starting
/// from `Backend.impliedLayout`.
public enum LayoutPreference: String, Sendable, Codable, CaseIterable {
    case twoTables = "two-tables"
    case singleTable = "single-table"
    case systemdb
    case auto
}

/// The `color` setting. `auto` colours only a terminal; `NO_COLOR` (any non-empty value,
/// https://no-color.org) turns the default into `never`, while an explicit setting wins.
public enum ColorChoice: String, Sendable, Codable, CaseIterable {
    case auto, always, never
}

/// The parts of a connection that `state_backend.<backend>.*` settings give.
enum ConnectionPart: String, CaseIterable, Sendable {
    case host, port, user, password, database, schema, sslmode
}

/// Names of the settings Meltano defines, as they appear in `meltano.yml`, in this tool's
/// config file and as flag keys.
enum SettingKey {
    static let uri = "state_backend.uri"
    static let databaseURI = "database_uri"
    static let table = "state_backend.postgresql.table"
    static let strictEnvVarMode = "ff.strict_env_var_mode"

    static func part(_ part: ConnectionPart, _ backend: Backend) -> String {
        "state_backend.\(backend.rawValue).\(part.rawValue)"
    }

    /// Meltano's environment variable for one of its settings: `MELTANO_` and the name
    /// upper-cased, every character other than A-Z, a-z, 0-9 replaced by `_`
    /// (`meltano.core.utils.to_env_var`): `state_backend.postgres.host` is
    /// `MELTANO_STATE_BACKEND_POSTGRES_HOST`.
    static func meltanoEnvVar(_ key: String) -> String {
        let body = String(String.UnicodeScalarView(key.unicodeScalars.map { scalar in
            (scalar.isASCII && (CharacterSet.alphanumerics.contains(scalar))) ? scalar : "_"
        }))
        return "MELTANO_" + body.uppercased()
    }

    /// Every Meltano setting this tool reads from `meltano.yml` and the config file.
    static var meltanoKeys: Set<String> {
        var keys: Set<String> = [uri, databaseURI, table, strictEnvVarMode]
        for backend in [Backend.postgres, .postgresql] {
            for part in ConnectionPart.allCases { keys.insert(SettingKey.part(part, backend)) }
        }
        return keys
    }
}

/// One of this tool's own settings: config-file key, environment variable, default.
public struct OwnSetting: Sendable, Equatable {
    /// Key in `~/.config/meltano-state/config.yml` and in `ConfigurationInputs.flags`.
    public let key: String
    public let environmentVariable: String
    /// The default as a person reads it.
    public let defaultDescription: String
    public let summary: String
}

/// This tool's own settings. Their variables start with `MELTANO_STATE_` and none of them
/// starts with `MELTANO_STATE_BACKEND_`, which is Meltano's.
public enum OwnSettings {
    /// The defaults that are numbers, written once: the resolver, the store's and the
    /// browser's options and the settings' descriptions all use these.
    public static let defaultLockTimeout: Double = 30
    public static let defaultStaleLockAfter: Double = 300
    public static let defaultRefreshInterval: Double = 2

    public static let layout = OwnSetting(
        key: "layout", environmentVariable: "MELTANO_STATE_LAYOUT", defaultDescription: "auto",
        summary: "which tables to read: two-tables, single-table, systemdb or auto")
    public static let lockTimeout = OwnSetting(
        key: "lock_timeout", environmentVariable: "MELTANO_STATE_LOCK_TIMEOUT", defaultDescription: described(defaultLockTimeout),
        summary: "seconds a write waits for a lock someone else holds")
    public static let staleLockAfter = OwnSetting(
        key: "stale_lock_after", environmentVariable: "MELTANO_STATE_STALE_LOCK_AFTER", defaultDescription: described(defaultStaleLockAfter),
        summary: "seconds after which a held lock is flagged as stale")
    public static let refreshInterval = OwnSetting(
        key: "refresh_interval", environmentVariable: "MELTANO_STATE_REFRESH_INTERVAL", defaultDescription: described(defaultRefreshInterval),
        summary: "seconds between refreshes of the terminal UI's locks (or runs) pane")
    public static let connectTimeout = OwnSetting(
        key: "connect_timeout", environmentVariable: "MELTANO_STATE_CONNECT_TIMEOUT", defaultDescription: "10",
        summary: "seconds to wait for the server when connecting")
    public static let readOnly = OwnSetting(
        key: "read_only", environmentVariable: "MELTANO_STATE_READ_ONLY", defaultDescription: "false",
        summary: "refuse every change (browse only)")
    public static let editor = OwnSetting(
        key: "editor", environmentVariable: "MELTANO_STATE_EDITOR", defaultDescription: "$VISUAL, else $EDITOR, else vi",
        summary: "the editor for `edit`")
    public static let color = OwnSetting(
        key: "color", environmentVariable: "MELTANO_STATE_COLOR", defaultDescription: "auto (never when NO_COLOR is set)",
        summary: "auto, always or never")
    public static let journal = OwnSetting(
        key: "journal", environmentVariable: "MELTANO_STATE_JOURNAL",
        defaultDescription: "$XDG_STATE_HOME/meltano-state/journal.jsonl (~/.local/state/meltano-state/journal.jsonl)",
        summary: "where every destructive change is journalled first")

    /// A whole number of seconds as a person writes it ("30", not "30.0").
    private static func described(_ seconds: Double) -> String { String(Int(seconds)) }

    public static let all: [OwnSetting] = [
        layout, lockTimeout, staleLockAfter, refreshInterval, connectTimeout, readOnly, editor, color, journal,
    ]

    /// `MELTANO_STATE_CONFIG`: the path of this tool's config file.
    public static let configFileVariable = "MELTANO_STATE_CONFIG"
}
