import Foundation
import Postgres

/// Polls `condition` (every `interval` seconds) until it holds or `timeout` seconds have
/// passed; whether it held. The way tests wait for something to have happened: on the
/// condition itself, with a deadline, never a bare sleep that assumes it.
public func waitUntil(timeout: Double = 10, interval: Double = 0.02, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while true {
        if try condition() { return true }
        if Date() >= deadline { return false }
        Thread.sleep(forTimeInterval: interval)
    }
}

/// Waits until the server backend `pid` has exited (it is gone from pg_stat_activity),
/// e.g. after `pg_terminate_backend`, which only sends the signal; whether it did.
public func waitForBackendToExit(_ admin: Connection, pid: Int32, timeout: Double = 10) throws -> Bool {
    try waitUntil(timeout: timeout) {
        try admin.query("SELECT count(*) FROM pg_stat_activity WHERE pid = $1::int", [String(pid)], idempotent: true).scalar == "0"
    }
}

/// Waits until the server backend `pid` is running (state active), or last ran, a
/// statement containing `fragment`, optionally while in `waitEvent` (e.g. PgSleep);
/// whether it did.
public func waitForBackend(_ admin: Connection, pid: Int32, running fragment: String, active: Bool = true,
                           waitEvent: String? = nil, timeout: Double = 10) throws -> Bool {
    try waitUntil(timeout: timeout) {
        try admin.query("""
            SELECT count(*) FROM pg_stat_activity
            WHERE pid = $1::int AND position($2 in query) > 0 AND (NOT $3::bool OR state = 'active')
              AND ($4::text IS NULL OR wait_event = $4::text)
            """, [String(pid), fragment, active ? "true" : "false", waitEvent], idempotent: true).scalar == "1"
    }
}
