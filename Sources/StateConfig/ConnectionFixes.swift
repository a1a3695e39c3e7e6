import Postgres

/// The fixes of the common connection failures in this tool's words: where Postgres
/// says what to check in libpq's terms, these name the settings that set it here
/// (`MELTANO_STATE_BACKEND_POSTGRES_PASSWORD`, `state_backend.postgres.schema`, …) and
/// `--read-only`. The resolver puts them in every connection configuration it makes,
/// so every error of those connections reads them.
public enum ConnectionFixes {
    public static let wording: [PostgresError.Problem: String] = [
        .wrongPassword: "Check the user and password (MELTANO_STATE_BACKEND_POSTGRES_PASSWORD, PGPASSWORD or ~/.pgpass).",
        .unknownDatabase: "Check the database name in state_backend.uri or state_backend.postgres.database.",
        .insufficientPrivilege: "The database role lacks a privilege this action needs; grant it, or use --read-only to browse.",
        .unknownSchema: "Check the schema setting (state_backend.postgres.schema); the schema must exist.",
        .passwordRequired: "Set MELTANO_STATE_BACKEND_POSTGRES_PASSWORD or PGPASSWORD, add the password to ~/.pgpass, or run in a terminal to be asked for it.",
    ]
}
