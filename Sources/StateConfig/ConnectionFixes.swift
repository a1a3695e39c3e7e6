import Postgres

/// The fixes of the common connection failures in this tool's words: where Postgres
/// says what to check in libpq's terms, these name the settings that set it here
/// (`MELTANO_STATE_BACKEND_POSTGRES_PASSWORD`, `state_backend.postgres.schema`, …) and
/// `--read-only`. The resolver puts them in every connection configuration it makes,
/// so every error of those connections reads them.
public enum ConnectionFixes {
    /// The postgres:// add-on's settings, the sentences users have always read.
    public static let wording = wording(for: .postgres)

    /// The fixes in the names of `backend`'s own settings: a postgresql:// user has no
    /// `state_backend.postgres.*`, a system database user sets only `database_uri`.
    /// `context`: a context with a `uri`, which takes the connection from itself alone
    /// (the environment's MELTANO_STATE_BACKEND_* do not apply to it).
    public static func wording(for backend: Backend, context: String? = nil) -> [PostgresError.Problem: String] {
        let password, database, schema: String
        switch backend {
        case .postgres, .postgresql:
            password = context.map { "context \($0)'s password key or its uri" } ?? SettingKey.meltanoEnvVar(SettingKey.part(.password, backend))
            database = context.map { "context \($0)'s uri" } ?? "state_backend.uri or \(SettingKey.part(.database, backend))"
            if let context {
                schema = "context \(context)'s uri (\(backend == .postgres ? "its last path segment" : "options=-csearch_path%3DSCHEMA")) or its schema key"
            } else {
                schema = backend == .postgres ? "the schema setting (\(SettingKey.part(.schema, backend)))"
                    : "the schema setting (\(SettingKey.part(.schema, backend)), or options=-csearch_path%3DSCHEMA in the URI)"
            }
        case .systemdb:
            password = "the password in database_uri (MELTANO_DATABASE_URI)"
            database = "database_uri (MELTANO_DATABASE_URI)"
            schema = "the search_path in database_uri (MELTANO_DATABASE_URI)"
        }
        return [
            .wrongPassword: "Check the user and password (\(password), PGPASSWORD or ~/.pgpass).",
            .unknownDatabase: "Check the database name in \(database).",
            .insufficientPrivilege: "The database role lacks a privilege this action needs; grant it, or use --read-only to browse.",
            .unknownSchema: "Check \(schema); the schema must exist.",
            .passwordRequired: "Set \(password) or PGPASSWORD, add the password to ~/.pgpass, or run in a terminal to be asked for it.",
        ]
    }
}
