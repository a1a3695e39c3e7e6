import Foundation
import Postgres
import Testing
import TestSupport

/// A server of its own with SSL on and a throw-away CA (scripts/test-db --ssl): what
/// each sslmode does, and what the user is told when verification fails.
@Suite("TLS against a server with a self-signed CA", .serialized)
struct TLSTests {
    /// A second CA that signed nothing the server has.
    static func makeWrongCA(in directory: String) throws -> String {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let result = try runProcess("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                                                "-nodes", "-days", "1", "-subj", "/CN=not the test CA",
                                                "-keyout", directory + "/wrong.key", "-out", directory + "/wrong.crt"])
        guard result.status == 0 else { throw ThrowawayServer.Failure(description: "openssl: \(result.stderr)") }
        return directory + "/wrong.crt"
    }

    func sslInUse(_ connection: Connection) throws -> Bool {
        try connection.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").scalar == "t"
    }

    @Test func eachSSLModeAgainstASelfSignedCA() throws {
        let server = try ThrowawayServer(ssl: true, prefix: "tls")
        let ca = try #require(server.sslCA, "scripts/test-db --ssl printed no MELTANO_STATE_TEST_SSL_CA")
        let scratch = NSTemporaryDirectory() + "meltano-state-tls-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let wrongCA = try TLSTests.makeWrongCA(in: scratch)

        func configuration(host: String, sslmode: String, rootCert: String?, hostaddr: String? = nil) -> ConnectionConfiguration {
            var config = server.configuration(host: host)
            config.sslmode = sslmode
            if let rootCert { config.extra["sslrootcert"] = rootCert }
            if let hostaddr { config.extra["hostaddr"] = hostaddr }
            return config
        }

        // verify-full with the right CA, by name and by address (both in the SAN).
        for host in ["localhost", "127.0.0.1"] {
            let connection = try Connection(configuration(host: host, sslmode: "verify-full", rootCert: ca))
            #expect(try sslInUse(connection), "\(host)")
        }
        // require encrypts without verifying anything.
        #expect(try sslInUse(Connection(configuration(host: "127.0.0.1", sslmode: "require", rootCert: nil))))
        // verify-ca checks the CA only, so another name for the same address passes.
        #expect(try sslInUse(Connection(configuration(host: "db.example", sslmode: "verify-ca", rootCert: ca, hostaddr: "127.0.0.1"))))

        // The wrong CA: refused, with what to do about it.
        let wrong = #expect(throws: PostgresError.self) {
            try Connection(configuration(host: "localhost", sslmode: "verify-full", rootCert: wrongCA))
        }
        #expect(wrong?.kind == .connectionFailed)
        #expect(wrong?.message.contains("certificate verify failed") == true, "\(String(describing: wrong))")
        #expect(wrong?.fix?.contains("sslrootcert") == true, "\(String(describing: wrong?.fix))")
        #expect(wrong?.fix?.contains("not signed") == true, "\(String(describing: wrong?.fix))")

        // The right CA but a name the certificate does not list.
        let misnamed = #expect(throws: PostgresError.self) {
            try Connection(configuration(host: "db.example", sslmode: "verify-full", rootCert: ca, hostaddr: "127.0.0.1"))
        }
        #expect(misnamed?.message.contains("does not match host name") == true, "\(String(describing: misnamed))")
        #expect(misnamed?.fix?.contains("verify-ca") == true, "\(String(describing: misnamed?.fix))")
        #expect(misnamed?.fix?.contains("host name") == true, "\(String(describing: misnamed?.fix))")

        // No CA file at all.
        let missing = #expect(throws: PostgresError.self) {
            try Connection(configuration(host: "localhost", sslmode: "verify-full", rootCert: scratch + "/no-such-ca.crt"))
        }
        #expect(missing?.fix?.contains("PGSSLROOTCERT") == true, "\(String(describing: missing))")
    }

    @Test func sslRequiredOfAServerWithoutSSLSaysSo() throws {
        // The shared test server runs without SSL.
        var config = try TestDatabase.configuration()
        config.sslmode = "require"
        let error = #expect(throws: PostgresError.self) { try Connection(config) }
        #expect(error?.message.contains("SSL") == true, "\(String(describing: error))")
        #expect(error?.fix?.contains("does not accept SSL") == true, "\(String(describing: error?.fix))")
    }
}
