import Foundation
import Postgres
import TestSupport
import Testing

/// Issue 22: the browser in tmux (the real binary) on servers of the test's own, which
/// it fails over or restarts: a primary with a hot standby reached through a multi-host
/// URI, and a single server restarted and stopped under the open browser.
@Suite("The browser through a failover and a server restart, end to end in tmux", .serialized)
struct FailoverEndToEndTests {
    @Test("After the primary goes away and the standby is promoted, the browser names the new primary and writes there")
    func failover() throws {
        let primary = try ThrowawayServer(prefix: "tui-primary")
        let standbyServer = try ThrowawayStandby(of: primary, prefix: "tui-standby")
        let standbyPort = standbyServer.port
        let standby = try Connection(standbyServer.configuration())

        let fixture = try BrowserFixture(server: primary.configuration())
        let table = "\(quoteIdentifier(fixture.schema)).meltano_state"
        try fixture.insert("dev:a", completed: #"{"singer_state": {"written": "before the failover"}}"#)
        try fixture.insert("dev:b", completed: #"{"singer_state": {}}"#)
        // Replicated to the standby (streaming; waited for, not assumed).
        #expect(waitUntil(timeout: 30) {
            (try? standby.query("SELECT count(*) FROM \(table)", idempotent: true).scalar) == "2"
        })

        // The primary first, as a URI of an HA pair lists it; libpq goes on to the
        // next host only when the first cannot take writes.
        let uri = "postgresql://postgres@127.0.0.1:\(primary.port),127.0.0.1:\(standbyPort)/postgres?target_session_attrs=read-write&connect_timeout=5"
        // The fixture's tables are the two-tables layout's, not the single table a
        // postgresql:// URI implies: named, so writes go there (auto would refuse them).
        let tmux = try Tmux(fixture: fixture, environment: ["MELTANO_STATE_BACKEND_URI": uri, "MELTANO_STATE_LAYOUT": "two-tables"], connection: [])
        defer { tmux.kill() }
        try tmux.waitFor("1 of 2")
        try tmux.waitFor("before the failover")
        try tmux.waitFor("● connected to 127.0.0.1:\(primary.port) (primary)")

        try primary.pause()
        // Neither server takes writes now: the browser says it is disconnected.
        try tmux.waitFor("DISCONNECTED", timeout: 20)
        try standbyServer.promote()

        try tmux.waitFor("Reconnected to 127.0.0.1:\(standbyPort) (primary; was 127.0.0.1:\(primary.port))", timeout: 40)
        try tmux.waitFor("● connected to 127.0.0.1:\(standbyPort) (primary)")
        try tmux.waitFor("1 of 2")
        try tmux.waitFor("before the failover")
        #expect(!tmux.capture().contains("DISCONNECTED"))

        // A write from the browser lands on the new primary.
        tmux.send("d")
        try tmux.waitFor("Clear the state of")
        tmux.send("y")
        try tmux.waitFor("Cleared 'dev:a'")
        try tmux.waitFor("1 of 1")
        #expect(try standby.query("SELECT state_id FROM \(table) ORDER BY state_id", idempotent: true).rows == [["dev:b"]])
        #expect(try standby.query("SELECT pg_is_in_recovery()", idempotent: true).scalar == "f")
        tmux.send("q")
        try tmux.waitFor("EXIT=0")
    }

    @Test("A server restarted, then stopped and started again, under the open browser: it says so and recovers")
    func restart() throws {
        let server = try ThrowawayServer(prefix: "tui-restart")
        let fixture = try BrowserFixture(server: server.configuration())
        try fixture.insert("dev:a", completed: #"{"singer_state": {"page": 17}}"#)
        try fixture.insert("dev:b", completed: #"{"singer_state": {}}"#)
        let tmux = try Tmux(fixture: fixture, connection: ["--host", "127.0.0.1", "--port", String(server.port),
                                                           "--user", "postgres", "--database", "postgres"])
        defer { tmux.kill() }
        try tmux.waitFor("1 of 2")
        try tmux.waitFor(#""page": 17"#)

        // A fast restart ends every session; the server is back within a second.
        try server.restart()
        try fixture.admin.reconnect()
        try fixture.insert("dev:c", completed: #"{"singer_state": {}}"#)
        tmux.send("r")
        try tmux.waitFor("1 of 3")
        try tmux.waitFor(#""page": 17"#)
        #expect(!tmux.capture().contains("EXIT="))

        // Down for longer: the header says so and when it tries again, the data stays.
        try fixture.insert("dev:d", completed: #"{"singer_state": {}}"#)
        try server.pause()
        try tmux.waitFor("✖ DISCONNECTED", timeout: 20)
        let down = tmux.capture()
        #expect(down.contains("retry in") || down.contains("retrying"), "\(down)")
        #expect(down.contains("1 of 3") && down.contains(#""page": 17"#), "\(down)")
        try server.resume()
        // Back: it reconnects by itself and reads everything again (dev:d was written
        // before the stop and not shown yet).
        try tmux.waitFor("Reconnected; refreshing.", timeout: 40)
        try tmux.waitFor("1 of 4")
        try tmux.waitFor("● connected to 127.0.0.1:\(server.port) (primary)")
        try tmux.waitFor(#""page": 17"#)
        tmux.send("q")
        try tmux.waitFor("EXIT=0")
    }
}
