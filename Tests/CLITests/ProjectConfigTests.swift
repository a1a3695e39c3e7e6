import Foundation
import Postgres
import StateStore
import TestSupport
import Testing

/// A Meltano project as users have it: meltano.yml with `$VAR` references, the password
/// in `.env`, `meltano-state` run from a subdirectory.
@Suite("A Meltano project directory")
struct ProjectConfigTests {
    /// A `postgresql://` URI without a host: Meltano's later add-on connects to localhost
    /// (its `conninfo_from_params`), whatever PGHOST says; so does the tool. Here PGHOST
    /// names a socket directory that does not exist: libpq alone would fail there, or
    /// reach another server.
    @Test func hostlessPostgresqlURIConnectsToLocalhostAsTheAddOnDoes() throws {
        let fixture = try CLIFixture(schemaPrefix: "nohost")
        let config = try TestDatabase.configuration()
        let environment = [
            "MELTANO_STATE_BACKEND_URI": "postgresql://\(config.user!)@:\(config.port!)/\(config.database!)?options=-csearch_path%3D\(fixture.schema)",
            "PGHOST": fixture.directory + "/no-such-socket-dir",
        ]
        let check = try fixture.run(["check"], extraEnvironment: environment)
        #expect(check.status == 0, "\(check.stdout)\(check.stderr)")
        #expect(check.stdout.contains("localhost:\(config.port!)"), "\(check.stdout)")
        let shown = try fixture.run(["config"], extraEnvironment: environment)
        #expect(shown.stdout.contains("PGHOST is not used"), "\(shown.stdout)")
        // What libpq alone does with the same settings: refused.
        let plain = try runProcess("psql", ["-X", "-c", "SELECT 1", "postgresql://\(config.user!)@:\(config.port!)/\(config.database!)"],
                                   environment: fixture.environment.merging(environment) { $1 })
        #expect(plain.status != 0)
    }

    /// What the configuration leaves to libpq (here PGHOST and PGPORT, for a system
    /// database URI without them) is named by `check` as libpq chose it.
    @Test func checkNamesTheServerLibpqChose() throws {
        let fixture = try CLIFixture(schemaPrefix: "chosen")
        let config = try TestDatabase.configuration()
        let project = fixture.directory + "/project"
        try FileManager.default.createDirectory(atPath: project, withIntermediateDirectories: true)
        try "version: 1\nproject_id: chosen\n".write(toFile: project + "/meltano.yml", atomically: true, encoding: .utf8)
        var environment = fixture.environment
        environment["MELTANO_STATE_BACKEND_URI"] = nil
        environment.merge(["MELTANO_DATABASE_URI": "postgresql:///\(config.database!)?options=-csearch_path%3D\(fixture.schema)",
                           "PGHOST": config.host!, "PGPORT": String(config.port!), "PGUSER": config.user!]) { $1 }
        let check = try runProcess(CLIFixture.binary, ["check"], environment: environment, currentDirectory: project)
        #expect(check.stdout.hasPrefix("Connected to \(config.host!):\(config.port!)/\(config.database!) as \(config.user!)"),
                "\(check.stdout)\(check.stderr)")
    }

    @Test func checkConnectsWithMeltanoYMLAndDotEnvFromASubdirectory() throws {
        let fixture = try CLIFixture(schemaPrefix: "proj")
        let role = "proj_\(UUID().uuidString.prefix(6).lowercased())"
        let password = "Dot-Env-P4ss-\(UUID().uuidString.prefix(4))"
        try fixture.admin.query("CREATE ROLE \(quoteIdentifier(role)) LOGIN PASSWORD '\(password)' IN ROLE password_users")
        defer { _ = try? fixture.admin.query("DROP OWNED BY \(quoteIdentifier(role))"); _ = try? fixture.admin.query("DROP ROLE \(quoteIdentifier(role))") }
        try fixture.admin.query("GRANT ALL ON SCHEMA \(quoteIdentifier(fixture.schema)) TO \(quoteIdentifier(role))")
        let config = try TestDatabase.configuration()
        let project = fixture.directory + "/project"
        try FileManager.default.createDirectory(atPath: project + "/transform/models", withIntermediateDirectories: true)
        try """
            version: 1
            default_environment: dev
            project_id: proj
            state_backend:
              uri: postgres://${STATE_USER}@\(config.host!):\(config.port!)/\(config.database!)/\(fixture.schema)
            environments:
            - name: dev

            """.write(toFile: project + "/meltano.yml", atomically: true, encoding: .utf8)
        try """
            # the state backend's credentials
            STATE_USER=\(role)
            export MELTANO_STATE_BACKEND_POSTGRES_PASSWORD="\(password)"

            """.write(toFile: project + "/.env", atomically: true, encoding: .utf8)
        var environment = fixture.environment
        environment["MELTANO_STATE_BACKEND_URI"] = nil
        let check = try runProcess(CLIFixture.binary, ["check"], environment: environment, currentDirectory: project + "/transform/models")
        #expect(check.status == 0, "\(check.stderr)")
        #expect(check.stdout.contains("as \(role)"), "\(check.stdout)")
        #expect(!check.stdout.contains(password) && !check.stderr.contains(password))
        let init_ = try runProcess(CLIFixture.binary, ["init"], environment: environment, currentDirectory: project)
        #expect(init_.status == 0, "\(init_.stderr)")
        let shown = try runProcess(CLIFixture.binary, ["config"], environment: environment, currentDirectory: project + "/transform")
        #expect(shown.stdout.contains("meltano.yml:5"), "\(shown.stdout)")
        #expect(shown.stdout.contains(".env:3"), "\(shown.stdout)")
        #expect(shown.stdout.contains("********"))
        #expect(!shown.stdout.contains(password))
    }
}
