import Foundation
import Postgres
import TestSupport
import Testing

/// Issue 22: an HA pair. Two local servers, one a hot standby of the other
/// (`scripts/test-db standby`: pg_basebackup, streaming), reached with a multi-host
/// libpq URI as users of managed PostgreSQL write it.
@Suite("Multi-host URIs, a standby and a failover", .serialized)
struct MultiHostTests {
    @Test func readWriteTargetFindsThePrimaryAStandbyRefusesWritesNamingItsStateAndAFailoverIsFollowed() throws {
        let primary = try ThrowawayServer(prefix: "primary")
        let standbyServer = try ThrowawayStandby(of: primary)
        let standbyPort = standbyServer.port
        let standby = try Connection(standbyServer.configuration())
        #expect(try standby.query("SELECT pg_is_in_recovery()").scalar == "t")

        let fixture = try CLIFixture(schemaPrefix: "multihost")
        // The standby first: only target_session_attrs makes libpq go on to the primary.
        let both = "postgresql://postgres@127.0.0.1:\(standbyPort),127.0.0.1:\(primary.port)/postgres?target_session_attrs=read-write&connect_timeout=5"
        fixture.environment["MELTANO_STATE_BACKEND_URI"] = both
        for arguments in [["init"], ["set", "--force", "dev:ha", #"{"singer_state": {"written": "to the primary"}}"#]] {
            let result = try fixture.run(arguments)
            #expect(result.status == 0, "\(arguments[0]): \(result.stderr)")
        }
        let check = try fixture.run(["check"])
        #expect(check.stdout.contains("Server: 127.0.0.1:\(primary.port), primary"), "\(check.stdout)\(check.stderr)")
        #expect(try primary.connect().query("SELECT completed_state FROM public.state WHERE state_id = 'dev:ha'").scalar
                == #"{"singer_state": {"written": "to the primary"}}"#)
        // Replicated to the standby (streaming; waited for, not assumed).
        #expect(waitUntil(timeout: 30) {
            // The table itself may not have reached the standby yet.
            (try? standby.query("SELECT count(*) FROM public.state WHERE state_id = 'dev:ha'", idempotent: true).scalar) == "1"
        })

        // The standby alone: it is read, and a write is refused naming what the server is.
        fixture.environment["MELTANO_STATE_BACKEND_URI"] = "postgresql://postgres@127.0.0.1:\(standbyPort)/postgres"
        let get = try fixture.run(["get", "dev:ha"])
        #expect(get.stdout == #"{"singer_state":{"written":"to the primary"}}"# + "\n", "\(get.stderr)")
        let refused = try fixture.run(["set", "--force", "dev:ha", #"{"singer_state": {"written": "to the standby"}}"#])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("127.0.0.1:\(standbyPort)) is a standby (in recovery)")
                && refused.stderr.contains("target_session_attrs=read-write"), "\(refused.stderr)")
        #expect(try fixture.admin.query("SELECT 1").scalar == "1")
        let standbyCheck = try fixture.run(["check"])
        #expect(standbyCheck.stdout.contains("a standby in recovery"), "\(standbyCheck.stdout)")

        // Failover: the primary goes away, the standby is promoted; the same URI now
        // reaches the new primary, and writes go there.
        try primary.pause()
        try standbyServer.promote()
        #expect(try waitUntil(timeout: 30) { try standby.query("SELECT pg_is_in_recovery()", idempotent: true).scalar == "f" })
        fixture.environment["MELTANO_STATE_BACKEND_URI"] = both
        let after = try fixture.run(["set", "--force", "dev:ha", #"{"singer_state": {"written": "after the failover"}}"#])
        #expect(after.status == 0, "\(after.stderr)")
        #expect(try standby.query("SELECT completed_state FROM public.state WHERE state_id = 'dev:ha'", idempotent: true).scalar
                == #"{"singer_state": {"written": "after the failover"}}"#)
        let checkAfter = try fixture.run(["check"])
        #expect(checkAfter.stdout.contains("Server: 127.0.0.1:\(standbyPort), primary"), "\(checkAfter.stdout)\(checkAfter.stderr)")
    }
}
