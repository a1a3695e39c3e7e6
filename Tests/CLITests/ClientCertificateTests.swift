import Foundation
import Postgres
import TestSupport
import Testing

/// Issue 22, TLS: a server of its own with a throw-away CA (scripts/test-db --ssl), where
/// the role `certuser` logs in with a client certificate and nothing else.
@Suite("TLS with a client certificate")
struct ClientCertificateTests {
    @Test func verifyFullWithAClientCertificateWorksAndWithoutOneIsRefusedClearly() throws {
        let server = try ThrowawayServer(ssl: true, prefix: "clientcert")
        let ca = try #require(server.sslCA)
        let certificate = try #require(server.environment["MELTANO_STATE_TEST_SSL_CLIENT_CERT"])
        let key = try #require(server.environment["MELTANO_STATE_TEST_SSL_CLIENT_KEY"])
        try server.connect().query("CREATE SCHEMA tls AUTHORIZATION certuser")
        let fixture = try CLIFixture(schemaPrefix: "tls")
        let base = "postgresql://certuser@localhost:\(server.port)/postgres?sslmode=verify-full&sslrootcert=\(ca)"

        fixture.environment["MELTANO_STATE_BACKEND_URI"] = base + "&sslcert=\(certificate)&sslkey=\(key)"
        for arguments in [["init"], ["set", "--force", "dev:tls", #"{"singer_state": {"secure": true}}"#]] {
            let output = try fixture.run(arguments + ["--schema", "tls"])
            #expect(output.status == 0, "\(arguments[0]): \(output.stderr)")
        }
        let get = try fixture.run(["get", "dev:tls", "--schema", "tls"])
        #expect(get.stdout == #"{"singer_state":{"secure":true}}"# + "\n", "\(get.stderr)")
        // verify-full succeeded, so it was TLS with the server verified; and the role is certuser.
        let check = try fixture.run(["check", "--schema", "tls"])
        #expect(check.status == 0 && check.stdout.contains("as certuser"), "\(check.stdout)\(check.stderr)")

        // Without the certificate the server refuses; the message says so and names the fix.
        fixture.environment["MELTANO_STATE_BACKEND_URI"] = base
        let refused = try fixture.run(["get", "dev:tls", "--schema", "tls"])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("certificate"), "\(refused.stderr)")
        #expect(refused.stderr.contains("sslcert"), "the fix names the setting: \(refused.stderr)")
        // The wrong host name for the server's certificate: refused by verify-full.
        fixture.environment["MELTANO_STATE_BACKEND_URI"] = "postgresql://certuser@127.0.0.2:\(server.port)/postgres?sslmode=verify-full&sslrootcert=\(ca)&sslcert=\(certificate)&sslkey=\(key)&hostaddr=127.0.0.1"
        let misnamed = try fixture.run(["get", "dev:tls", "--schema", "tls"])
        #expect(misnamed.status == 1 && misnamed.stderr.contains("127.0.0.2"), "\(misnamed.stderr)")
    }
}
