import Foundation
import Postgres
import StateJSON
import StateStore
import TestSupport
import Testing

/// Against a real Meltano from PyPI (scripts/test installs it into a virtual
/// environment and exports MELTANO_BIN), with its system database in the test server.
@Suite("A real Meltano 4.4.1 with a PostgreSQL system database")
struct RealMeltanoTests {
    final class Project: @unchecked Sendable {
        let cli: CLIFixture
        let database: String
        let meltano: String
        var meltanoEnvironment: [String: String]

        init() throws {
            guard let meltano = ProcessInfo.processInfo.environment["MELTANO_BIN"], FileManager.default.isExecutableFile(atPath: meltano) else {
                throw CommandMissing()
            }
            self.meltano = meltano
            cli = try CLIFixture(schemaPrefix: "mel")
            database = "meltano_\(UUID().uuidString.prefix(8).lowercased())"
            try cli.admin.query("CREATE DATABASE \(quoteIdentifier(database))")
            let config = try TestDatabase.configuration()
            try """
                version: 1
                default_environment: dev
                project_id: meltano-state-tests
                environments:
                - name: dev
                - name: prod

                """.write(toFile: cli.directory + "/meltano.yml", atomically: true, encoding: .utf8)
            meltanoEnvironment = realMeltanoEnvironment(home: cli.directory + "/home", [
                "MELTANO_DATABASE_URI": "postgresql+psycopg://\(config.user!)@\(config.host!):\(config.port!)/\(database)",
            ])
            // Our CLI finds the same system database through meltano.yml's project and
            // MELTANO_DATABASE_URI, as Meltano does.
            cli.environment["MELTANO_STATE_BACKEND_URI"] = nil
            cli.environment["MELTANO_DATABASE_URI"] = meltanoEnvironment["MELTANO_DATABASE_URI"]
        }

        deinit {
            _ = try? cli.admin.query("DROP DATABASE IF EXISTS \(quoteIdentifier(database)) WITH (FORCE)")
        }

        func meltano(_ arguments: [String]) throws -> ProcessOutput {
            try runProcess(meltano, arguments, environment: meltanoEnvironment, currentDirectory: cli.directory)
        }

        func systemDB() throws -> Connection {
            var config = try TestDatabase.configuration()
            config.database = database
            return try Connection(config)
        }
    }

    struct CommandMissing: Error, CustomStringConvertible {
        var description: String { "MELTANO_BIN is not set or not executable: run the tests through scripts/test, which installs Meltano 4.4.1 into a virtual environment." }
    }

    @Test func stateWrittenByMeltanoIsReadByteForByteAndOursIsReadByMeltano() throws {
        let project = try Project()
        let value = #"{"singer_state": {"bookmarks": {"注文": {"updated_at": "2024-05-01T00:00:00+00:00", "lsn": 123456789012345678901}}, "f": 1.10, "e": 1e-7}}"#
        let set = try project.meltano(["state", "set", "--force", "dev:tap-postgres-to-target-pg", value])
        #expect(set.status == 0, "meltano state set: \(set.stderr.suffix(800))")

        // What Meltano stored, read raw from its table, and through our CLI.
        let stored = try project.systemDB().query("SELECT partial_state, completed_state FROM state WHERE state_id = $1", ["dev:tap-postgres-to-target-pg"]).rows.first
        let raw = try project.cli.run(["get", "--raw", "dev:tap-postgres-to-target-pg"])
        #expect(raw.status == 0, "\(raw.stderr)")
        guard case let .object(rawObject) = try JSONParser.parse(raw.stdout),
              case let .string(completed)? = rawObject["completed_state"] else {
            Issue.record("no raw output: \(raw.stdout) \(raw.stderr)"); return
        }
        #expect(completed.text == stored?[1])
        let meltanoGet = try project.meltano(["state", "get", "dev:tap-postgres-to-target-pg"])
        let ourGet = try project.cli.run(["get", "dev:tap-postgres-to-target-pg"])
        #expect(ourGet.status == 0, "\(ourGet.stderr)")
        #expect(ourGet.stdout == meltanoGet.stdout)
        let check = try project.cli.run(["check"])
        #expect(check.stdout.contains("systemdb"), "\(check.stdout) \(check.stderr)")

        // Ours, read back by Meltano.
        let ours = #"{"singer_state": {"bookmarks": {"orders": {"id": 98765432109876543210}}, "x": "é😀"}}"#
        let ourSet = try project.cli.run(["set", "--force", "prod:tap-stripe-to-target-pg", ours])
        #expect(ourSet.status == 0, "\(ourSet.stderr)")
        let back = try project.meltano(["state", "get", "prod:tap-stripe-to-target-pg"])
        #expect(back.status == 0, "\(back.stderr.suffix(500))")
        #expect(try JSONParser.parse(back.stdout).isEquivalent(to: JSONParser.parse(ours)))
        #expect(back.stdout == (try project.cli.run(["get", "prod:tap-stripe-to-target-pg"])).stdout)
        let list = try project.meltano(["state", "list"])
        #expect(list.stdout.contains("prod:tap-stripe-to-target-pg"))
        // A merge by us, then by Meltano, composes.
        #expect(try project.cli.run(["merge", "prod:tap-stripe-to-target-pg", #"{"singer_state": {"y": 2}}"#]).status == 0)
        let merged = try project.meltano(["state", "get", "prod:tap-stripe-to-target-pg"])
        #expect(merged.stdout.contains("\"y\":2"))
        // Our merge (the completed part kept as stored, only the partial part sent) leaves
        // the row Meltano's own merge leaves.
        #expect(try project.meltano(["state", "set", "--force", "meltano:copy", ours]).status == 0)
        #expect(try project.meltano(["state", "merge", "meltano:copy", #"{"singer_state": {"y": 2}}"#]).status == 0)
        let rows = try project.systemDB().query("SELECT state_id, partial_state, completed_state FROM state WHERE state_id IN ('meltano:copy', 'prod:tap-stripe-to-target-pg') ORDER BY 1").rows
        #expect(rows.count == 2 && rows[0][1] == rows[1][1] && rows[0][2] == rows[1][2], "\(rows)")
    }

    @Test func aRunLeftRunningIsListedAsStuckAndFailedAsMeltanoWould() throws {
        let project = try Project()
        // Let Meltano create its tables, then leave a run RUNNING as a killed `meltano run` does.
        #expect(try project.meltano(["state", "set", "--force", "dev:tap-a-to-b", #"{"singer_state": {}}"#]).status == 0)
        let db = try project.systemDB()
        try db.query("""
            INSERT INTO runs (job_name, state, started_at, last_heartbeat_at, payload, payload_flags, run_id, trigger)
            VALUES ('dev:tap-a-to-b', 'RUNNING', (now() AT TIME ZONE 'UTC') - interval '1 hour',
                    (now() AT TIME ZONE 'UTC') - interval '20 minutes', '{}', 0, gen_random_uuid(), 'cli'),
                   ('dev:tap-c-to-d', 'RUNNING', (now() AT TIME ZONE 'UTC') - interval '1 minute',
                    (now() AT TIME ZONE 'UTC') - interval '2 seconds', '{}', 0, gen_random_uuid(), 'cli')
            """)
        let runs = try project.cli.run(["runs", "--json"])
        #expect(runs.status == 0, "\(runs.stderr)")
        guard case let .array(items) = try JSONParser.parse(runs.stdout) else { Issue.record("not an array"); return }
        #expect(items.count == 2)
        let stale = items.filter { if case let .object(o) = $0 { return o["stale"] == .bool(true) }; return false }
        #expect(stale.count == 1)
        guard case let .object(stuck)? = stale.first, case let .number(id)? = stuck["id"] else {
            Issue.record("no stale run with an id in `runs --json`: \(runs.stdout)"); return
        }
        #expect(stuck["job_name"] == .string("dev:tap-a-to-b"))
        let fresh = items.first { if case let .object(o) = $0 { return o["stale"] == .bool(false) }; return false }
        guard case let .object(freshObject)? = fresh, case let .number(freshID)? = freshObject["id"] else {
            Issue.record("no fresh run with an id in `runs --json`: \(runs.stdout)"); return
        }
        // doctor, on Meltano's own system database: the killed run is safe to fail (the
        // exact command), the one still heard from is running.
        let killed = try project.cli.run(["doctor", "dev:tap-a-to-b"])
        #expect(killed.status == 1 && killed.stdout.contains("SAFE TO RELEASE"), "\(killed.stdout) \(killed.stderr)")
        #expect(killed.stdout.contains("next     meltano-state fail-run \(id.literal)\n"), "\(killed.stdout)")
        let alive = try project.cli.run(["doctor", "dev:tap-c-to-d"])
        #expect(alive.status == 3 && alive.stdout.contains("RUNNING, DO NOT RELEASE"), "\(alive.stdout) \(alive.stderr)")
        // A run that is still heard from is refused.
        #expect(try project.cli.run(["fail-run", freshID.literal, "--yes"]).status == 1)
        let failed = try project.cli.run(["fail-run", id.literal, "--yes"])
        #expect(failed.status == 0, "\(failed.stderr)")
        let row = try db.query("SELECT state, payload, ended_at IS NOT NULL FROM runs WHERE id = $1", [id.literal]).rows.first
        #expect(row?[0] == "FAIL")
        #expect(row?[1] == #"{"error": "No heartbeat recorded for 5 minutes. The process was likely killed unceremoniously."}"#)
        #expect(row?[2] == "t")
        #expect(try project.cli.run(["history", "--json"]).stdout.contains("\"action\":\"fail-run\""))
    }
}
