import Testing
@testable import Postgres

/// Postgres words its fixes in libpq's terms only; an application rewords them through
/// `ConnectionConfiguration.fixWording` (StateConfig's `ConnectionFixes`).
@Suite struct ErrorWordingTests {
    @Test func libpqFixesNameNoApplicationSetting() {
        for problem in PostgresError.Problem.allCases {
            let fix = PostgresError.libpqFix(problem)
            #expect(!fix.isEmpty)
            for word in ["MELTANO", "state_backend", "--read-only", "meltano"] {
                #expect(!fix.contains(word), "\(problem): \(fix)")
            }
        }
    }

    @Test func problemsAreRecognisedBySQLStateThenByLibpqText() {
        func problem(_ kind: PostgresError.Kind, _ sqlState: String? = nil, _ message: String = "x") -> PostgresError.Problem? {
            PostgresError(kind: kind, sqlState: sqlState, message: message).problem
        }
        #expect(problem(.server, "28P01") == .wrongPassword)
        #expect(problem(.server, "28000") == .noHBAEntry)
        #expect(problem(.server, "3D000") == .unknownDatabase)
        #expect(problem(.server, "42501") == .insufficientPrivilege)
        #expect(problem(.server, "3F000") == .unknownSchema)
        #expect(problem(.cancelled, "57014") == .cancelled)
        #expect(problem(.server, "53300") == .tooManyConnections)
        #expect(problem(.server, "25006") == .readOnlyServer)
        #expect(problem(.connectionLost, "57P01") == .serverUnavailable)
        #expect(problem(.server, "23505") == nil)
        #expect(problem(.passwordRequired) == .passwordRequired)
        #expect(problem(.connectionLost) == .connectionLost)
        #expect(problem(.connectionFailed, nil, "connection to server failed: Connection refused") == .connectionRefused)
        #expect(problem(.connectionFailed, nil, "could not translate host name \"x\" to address") == .unknownHost)
        #expect(problem(.connectionFailed, nil, "timeout expired") == .connectTimeout)
        #expect(problem(.connectionFailed, nil, "FATAL: password authentication failed for user \"u\"") == .wrongPassword)
        #expect(problem(.connectionFailed, nil, "FATAL: database \"d\" does not exist") == .unknownDatabase)
        #expect(problem(.connectionFailed, nil, "FATAL: no pg_hba.conf entry for host") == .noHBAEntry)
        #expect(problem(.connectionFailed, nil, "server certificate for \"a\" does not match host name \"b\"") == .sslHostMismatch)
        #expect(problem(.connectionFailed, nil, "SSL error: certificate verify failed") == .sslUntrustedCertificate)
        #expect(problem(.connectionFailed, nil, "root certificate file \"/r.crt\" does not exist") == .sslNoRootCertificate)
        #expect(problem(.connectionFailed, nil, "server does not support SSL, but SSL was required") == .sslUnsupported)
        #expect(problem(.connectionFailed, nil, "FATAL:  connection requires a valid client certificate") == .sslClientCertificateRequired)
        #expect(problem(.connectionFailed, nil, "SSL SYSCALL error") == .ssl)
        #expect(problem(.connectionFailed, nil, "could not connect: No such file or directory; Is the server running locally and accepting connections on that socket?") == .noSocket)
        #expect(problem(.connectionFailed, nil, "something else") == nil)
        #expect(problem(.invalidInput) == nil)
    }

    @Test func wordingReplacesTheFixOfItsProblemOnly() {
        let wording: [PostgresError.Problem: String] = [.unknownSchema: "Check the app's schema setting."]
        let schema = PostgresError(kind: .server, sqlState: "3F000", message: "schema \"s\" does not exist")
        #expect(schema.fix == PostgresError.libpqFix(.unknownSchema))
        let worded = schema.worded(wording)
        #expect(worded.fix == "Check the app's schema setting.")
        #expect(worded.description == "schema \"s\" does not exist (SQLSTATE 3F000)\nFix: Check the app's schema setting.")
        #expect(worded.message == schema.message && worded.sqlState == schema.sqlState && worded.problem == schema.problem)
        let other = PostgresError(kind: .server, sqlState: "42501", message: "permission denied")
        #expect(other.worded(wording) == other)
        let none = PostgresError(kind: .server, sqlState: "23505", message: "duplicate key")
        #expect(none.fix == nil && none.worded(wording) == none)
    }

    @Test func anExplicitFixIsKeptUntilWorded() {
        let error = PostgresError(kind: .server, sqlState: "42501", message: "m", fix: "Given.")
        #expect(error.fix == "Given.")
    }

    @Test func wordingIsNotPartOfTheConfigurationsEquality() {
        var worded = ConnectionConfiguration(host: "h", port: 1)
        worded.fixWording = [.wrongPassword: "x"]
        #expect(worded == ConnectionConfiguration(host: "h", port: 1))
        #expect(ConnectionConfiguration(host: "h", port: 2) != ConnectionConfiguration(host: "h", port: 1))
    }
}
