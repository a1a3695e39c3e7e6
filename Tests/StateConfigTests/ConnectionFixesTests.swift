import Testing
import Postgres
@testable import StateConfig

/// The fixes that name this tool's settings live here, not in Postgres: the resolver
/// gives them to every connection, so the user reads the same sentences as before.
@Suite struct ConnectionFixesTests {
    /// The sentences users have always read, word for word.
    static let sentences: [PostgresError.Problem: String] = [
        .wrongPassword: "Check the user and password (MELTANO_STATE_BACKEND_POSTGRES_PASSWORD, PGPASSWORD or ~/.pgpass).",
        .unknownDatabase: "Check the database name in state_backend.uri or state_backend.postgres.database.",
        .insufficientPrivilege: "The database role lacks a privilege this action needs; grant it, or use --read-only to browse.",
        .unknownSchema: "Check the schema setting (state_backend.postgres.schema); the schema must exist.",
        .passwordRequired: "Set MELTANO_STATE_BACKEND_POSTGRES_PASSWORD or PGPASSWORD, add the password to ~/.pgpass, or run in a terminal to be asked for it.",
    ]

    @Test func theWordingIsTheSentencesUsersKnow() {
        #expect(ConnectionFixes.wording == Self.sentences)
    }

    /// Each backend's connections name that backend's settings: postgresql:// users have
    /// no state_backend.postgres.*, system database users only database_uri.
    @Test func everyResolvedConnectionCarriesItsBackendsWording() throws {
        let postgres = Sandbox()
        postgres.write("project/meltano.yml", "state_backend:\n  uri: postgres://u@h/db\n")
        #expect(try postgres.resolve().connection.fixWording == Self.sentences)

        let libpq = Sandbox()
        libpq.write("project/meltano.yml", "state_backend:\n  uri: postgresql://u@h/db\n")
        let libpqWording = try libpq.resolve().connection.fixWording
        #expect(libpqWording[.wrongPassword] == "Check the user and password (MELTANO_STATE_BACKEND_POSTGRESQL_PASSWORD, PGPASSWORD or ~/.pgpass).")
        #expect(libpqWording[.unknownSchema] == "Check the schema setting (state_backend.postgresql.schema, or options=-csearch_path%3DSCHEMA in the URI); the schema must exist.")
        #expect(libpqWording[.unknownDatabase] == "Check the database name in state_backend.uri or state_backend.postgresql.database.")

        let sandbox = Sandbox()
        sandbox.write("project/meltano.yml", "database_uri: postgresql+psycopg://m@sys.example.com/meltano\n")
        let systemdb = try sandbox.resolve()
        #expect(systemdb.backend == .systemdb)
        #expect(systemdb.connection.fixWording[.passwordRequired] == "Set the password in database_uri (MELTANO_DATABASE_URI) or PGPASSWORD, add the password to ~/.pgpass, or run in a terminal to be asked for it.")
        #expect(systemdb.connection.fixWording[.unknownSchema] == "Check the search_path in database_uri (MELTANO_DATABASE_URI); the schema must exist.")
        for wording in [libpqWording, systemdb.connection.fixWording] {
            #expect(!wording.values.contains { $0.contains("state_backend.postgres.") || $0.contains("_POSTGRES_") })
        }
    }

    @Test func anErrorReadsAsBefore() {
        let error = PostgresError(kind: .server, sqlState: "42501", message: "permission denied for table meltano_state")
            .worded(ConnectionFixes.wording)
        #expect(error.description == "permission denied for table meltano_state (SQLSTATE 42501)\nFix: The database role lacks a privilege this action needs; grant it, or use --read-only to browse.")
        let password = PostgresError(kind: .passwordRequired, message: "fe_sendauth: no password supplied").worded(ConnectionFixes.wording)
        #expect(password.fix == Self.sentences[.passwordRequired])
        let refused = PostgresError(kind: .connectionFailed, message: "Connection refused").worded(ConnectionFixes.wording)
        #expect(refused.fix == "Nothing listens at that host and port: check that PostgreSQL is running and the host and port settings.")
    }
}
