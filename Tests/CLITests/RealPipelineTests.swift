import ChildProcess
import Foundation
import Postgres
import StateJSON
import TestSupport
import Testing

/// Issue 17: state written by real `meltano run` pipelines (tap-postgres → target-postgres)
/// on each layout, edited by our tool, and honoured by the next real run; and runs killed
/// with SIGKILL, repaired with our tool, followed by a real run that succeeds.
@Suite("Real meltano run pipelines on each layout")
struct RealPipelineTests {
    /// Run 1 loads orders 1…40 (one an hour) and customers 1…12; our tool reads the
    /// incremental state byte for byte as `meltano state get` prints it. `rewind … --by 1d`
    /// moves the orders bookmark back a day, with no byte of the customers' bookmark
    /// changed, and run 2 re-extracts exactly the orders of that day (singer-sdk starts at
    /// the bookmark, inclusive) and no customer but the bookmark's own. `reset-stream`
    /// removes the customers' bookmark only, and run 3 extracts every customer again.
    @Test(arguments: RealPipeline.Backend.allCases)
    func incrementalStateIsReadAsMeltanoPrintsItAndARewindIsHonoured(_ backend: RealPipeline.Backend) throws {
        let pipeline = try RealPipeline(backend, rows: 40)
        let id = RealPipeline.stateID, orders = RealPipeline.stream, customers = RealPipeline.customers
        let first = try pipeline.run(into: "run1")
        try #require(first.status == 0, "meltano run: \(first.stderr.suffix(3000))")
        #expect(try pipeline.loadedIDs(in: "run1") == Array(1...40))
        #expect(try pipeline.loadedIDs(in: "run1", table: "customers") == Array(1...12))

        let meltanoGet = try pipeline.meltano(["state", "get", id])
        try #require(meltanoGet.status == 0, "meltano state get: \(meltanoGet.stderr.suffix(2000))")
        let ours = try pipeline.cli.run(["get", id])
        try #require(ours.status == 0, "meltano-state get: \(ours.stderr)")
        #expect(ours.stdoutData == meltanoGet.stdoutData, "ours: \(ours.stdout) meltano: \(meltanoGet.stdout)")
        #expect(try RealPipeline.replicationKeyValue(in: ours.stdout) == RealPipeline.bookmark(ofRow: 40), "\(ours.stdout)")
        #expect(try RealPipeline.replicationKeyValue(in: ours.stdout, stream: customers) == "12", "\(ours.stdout)")
        // The layout our tool found is the one the pipeline wrote.
        let check = try pipeline.cli.run(["check"])
        #expect(check.status == 0, "\(check.stdout)\(check.stderr)")
        #expect(check.stdout.contains(backend == .systemDB ? "systemdb" : backend == .firstLayout ? "two-tables" : "single-table"),
                "\(check.stdout)")

        // Our tool's bookmarks view of the real state.
        let bookmarks = try pipeline.cli.run(["bookmarks", id])
        #expect(bookmarks.status == 0 && bookmarks.stdout.contains(orders) && bookmarks.stdout.contains(RealPipeline.bookmark(ofRow: 40)),
                "\(bookmarks.stdout)\(bookmarks.stderr)")

        // The rewind, one day back, with our tool; the other stream's bytes untouched.
        let rewind = try pipeline.cli.run(["rewind", id, orders, "--by", "1d", "--yes"])
        try #require(rewind.status == 0, "rewind: \(rewind.stderr)")
        let rewound = try pipeline.meltano(["state", "get", id])
        #expect(try RealPipeline.replicationKeyValue(in: rewound.stdout) == RealPipeline.bookmark(ofRow: 16), "Meltano reads our rewind: \(rewound.stdout)")
        #expect(try RealPipeline.bookmarkText(in: rewound.stdout, stream: customers) == RealPipeline.bookmarkText(in: ours.stdout, stream: customers))
        #expect(rewound.stdout == ours.stdout.replacingOccurrences(of: RealPipeline.bookmark(ofRow: 40), with: RealPipeline.bookmark(ofRow: 16)),
                "no byte changed but the orders bookmark: \(rewound.stdout)")

        let second = try pipeline.run(into: "run2")
        try #require(second.status == 0, "meltano run after the rewind: \(second.stderr.suffix(3000))")
        #expect(try pipeline.loadedIDs(in: "run2") == Array(16...40), "the orders of that day, and only those")
        #expect(try pipeline.loadedIDs(in: "run2", table: "customers") == [12], "customers go on from their own bookmark")
        let afterRun2 = try pipeline.cli.run(["get", id])
        #expect(try RealPipeline.replicationKeyValue(in: afterRun2.stdout) == RealPipeline.bookmark(ofRow: 40), "\(afterRun2.stdout)")

        // reset-stream: the customers' bookmark only.
        let reset = try pipeline.cli.run(["reset-stream", id, customers, "--yes"])
        try #require(reset.status == 0, "reset-stream: \(reset.stderr)")
        let afterReset = try pipeline.meltano(["state", "get", id])
        #expect(try RealPipeline.bookmarkText(in: afterReset.stdout, stream: customers) == nil, "\(afterReset.stdout)")
        #expect(try RealPipeline.bookmarkText(in: afterReset.stdout, stream: orders) == RealPipeline.bookmarkText(in: afterRun2.stdout, stream: orders))
        let third = try pipeline.run(into: "run3")
        try #require(third.status == 0, "meltano run after reset-stream: \(third.stderr.suffix(3000))")
        #expect(try pipeline.loadedIDs(in: "run3", table: "customers") == Array(1...12), "the whole stream again")
        #expect(try pipeline.loadedIDs(in: "run3") == [40], "orders go on from their bookmark")

        // Both edits are in our journal, so each can be undone.
        let history = try pipeline.cli.run(["history", "--json", id])
        #expect(history.status == 0 && history.stdout.contains("\"rewind\"") && history.stdout.contains("\"reset-stream\""),
                "\(history.stdout)\(history.stderr)")

        // An interrupted singer-sdk sync's partial state (progress markers, the starting
        // value, partitions), merged by Meltano itself over the real completed state: the
        // merged view reads byte for byte as Meltano prints it.
        let partial = #"{"singer_state": {"bookmarks": {"shop-orders": {"starting_replication_value": "2026-11-01T00:45:00.000000+00:00", "progress_markers": {"Note": "Progress is not resumable if interrupted.", "replication_key": "updated_at", "replication_key_value": "2026-11-01T00:50:00.123456+00:00"}, "partitions": [{"context": {"tenant": "é"}, "replication_key": "updated_at", "replication_key_value": 1.10}]}}}}"#
        let merge = try pipeline.meltano(["state", "merge", id, partial])
        try #require(merge.status == 0, "meltano state merge: \(merge.stderr.suffix(2000))")
        let meltanoMerged = try pipeline.meltano(["state", "get", id])
        let oursMerged = try pipeline.cli.run(["get", id])
        #expect(oursMerged.stdoutData == meltanoMerged.stdoutData, "ours: \(oursMerged.stdout) meltano: \(meltanoMerged.stdout)")
        #expect(oursMerged.stdout.contains("progress_markers") && oursMerged.stdout.contains(RealPipeline.bookmark(ofRow: 40)))
    }

    /// A run killed with SIGKILL while it is writing its state (the first layout's lock
    /// row is inserted, the state write waits on a table lock the test holds) leaves its
    /// lock row behind. Our tool shows it and releases exactly it; the run Meltano left
    /// RUNNING is failed with our tool; the next real run succeeds.
    @Test func firstLayoutKilledRunLeavesItsLockRowAndIsRepaired() throws {
        let pipeline = try RealPipeline(.firstLayout, rows: 20)
        try #require(try pipeline.run(into: "run1").status == 0)
        try pipeline.addRows(21...30)

        let stateDB = try pipeline.connection(to: pipeline.database)
        // Reads go on; the state write waits.
        let run = try startRun(pipeline, holding: "\(quoteIdentifier(pipeline.stateSchema)).meltano_state IN EXCLUSIVE MODE", on: stateDB,
                               until: "took its lock") {
            try stateDB.query("SELECT count(*) FROM \(quoteIdentifier(pipeline.stateSchema)).meltano_state_locks").scalar == "1"
        }
        // A live slow run: its lock made to look 10 minutes old, its heartbeat fresh.
        // doctor says RUNNING, DO NOT RELEASE, and the lock is not stale by evidence.
        try pipeline.connection(to: pipeline.database).query(
            "UPDATE \(quoteIdentifier(pipeline.stateSchema)).meltano_state_locks SET locked_at = locked_at - interval '10 minutes'")
        let alive = try Self.doctor(pipeline)
        #expect(alive.verdict == "running" && alive.exitCode == 3, "\(alive)")
        #expect(try pipeline.cli.run(["locks", "--stale", "--json"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "[]")

        run.signal(SIGKILL, group: true)
        #expect(run.wait(timeout: 30) != nil, "the killed run did not end")
        try stateDB.query("ROLLBACK")

        // What it left: a lock row, and a run Meltano still thinks is RUNNING.
        let locks = try pipeline.cli.run(["locks", "--json"])
        try #require(locks.status == 0, "\(locks.stderr)")
        guard case let .array(held) = try RealPipeline.json(locks, of: "locks --json"), held.count == 1,
              case let .object(lock) = held[0], case let .string(lockID)? = lock["lock_id"],
              case let .string(lockState)? = lock["state_id"] else {
            Issue.record("locks --json: \(locks.stdout)"); return
        }
        #expect(lockState.text == RealPipeline.stateID)
        #expect(try pipeline.runs().last?.state == "RUNNING")

        // Once its heartbeat is old, doctor says SAFE TO RELEASE and gives the command.
        try ageTheRunMeltanoLeftRunning(pipeline)
        let dead = try Self.doctor(pipeline)
        #expect(dead.verdict == "safe-to-release" && dead.exitCode == 1, "\(dead)")
        #expect(dead.nextCommand?.hasPrefix("meltano-state unlock ") == true && dead.nextCommand?.hasSuffix(lockID.text) == true, "\(dead)")

        // Repair with our tool: exactly that lock, then the run.
        let unlock = try pipeline.cli.run(["unlock", "--yes", RealPipeline.stateID, lockID.text])
        #expect(unlock.status == 0, "unlock: \(unlock.stderr)")
        #expect(try pipeline.cli.run(["locks", "--json"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "[]")
        try failTheStaleRun(pipeline)

        let next = try pipeline.run(into: "run3")
        #expect(next.status == 0, "the next meltano run: \(next.stderr.suffix(3000))")
        #expect(try pipeline.runs().last?.state == "SUCCESS")
        let state = try pipeline.cli.run(["get", RealPipeline.stateID])
        #expect(try RealPipeline.replicationKeyValue(in: state.stdout) == RealPipeline.bookmark(ofRow: 30), "\(state.stdout)")
    }

    /// The later layout's lock is an advisory lock of the writing session. A run killed
    /// while its state write waits leaves that session behind, still holding the lock (the
    /// server learns of the dead client only when it next writes to it). Our tool shows
    /// the holder and releases the lock by ending that session; then nothing is held, and
    /// after the RUNNING run is failed the next real run succeeds.
    @Test func laterLayoutKilledRunsSessionHoldsTheAdvisoryLockUntilOurUnlockEndsIt() throws {
        let pipeline = try RealPipeline(.laterLayout, rows: 20)
        try #require(try pipeline.run(into: "run1").status == 0)
        try pipeline.addRows(21...30)

        let stateDB = try pipeline.connection(to: pipeline.database)
        let holder = "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = $1)"
        let run = try startRun(pipeline, holding: "\(quoteIdentifier(pipeline.stateSchema)).state IN EXCLUSIVE MODE", on: stateDB,
                               until: "took its lock") {
            try !pipeline.admin.query(holder, [pipeline.database], idempotent: true).rows.isEmpty
        }
        run.signal(SIGKILL, group: true)
        #expect(run.wait(timeout: 30) != nil, "the killed run did not end")

        let locks = try pipeline.cli.run(["locks", "--json"])
        try #require(locks.status == 0, "locks: \(locks.stderr)")
        guard case let .array(held) = try RealPipeline.json(locks, of: "locks --json"), held.count == 1,
              case let .object(lock) = held[0], case let .number(pid)? = lock["pid"],
              case let .string(lockID)? = lock["lock_id"] else {
            Issue.record("locks --json: \(locks.stdout) \(locks.stderr)"); return
        }
        let holderPID = try #require(pipeline.admin.query(holder, [pipeline.database]).scalar)
        #expect(pid.literal == holderPID, "our tool names the session that holds it")
        // The holder's session is alive (it waits on the table): doctor will not call it safe.
        let alive = try Self.doctor(pipeline)
        #expect(alive.exitCode == 3 && alive.verdict != "safe-to-release", "\(alive)")

        let unlock = try pipeline.cli.run(["unlock", "--yes", RealPipeline.stateID, lockID.text])
        #expect(unlock.status == 0, "unlock: \(unlock.stdout)\(unlock.stderr)")
        #expect(try waitForBackendToExit(pipeline.admin, pid: Int32(holderPID)!, timeout: 30))
        try stateDB.query("ROLLBACK")
        #expect(try pipeline.admin.query(holder, [pipeline.database]).rows.isEmpty, "no advisory lock is left")
        #expect(try pipeline.cli.run(["locks", "--json"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "[]")

        // Holder gone, heartbeat old: doctor gives the fail-run command for the run left RUNNING.
        try ageTheRunMeltanoLeftRunning(pipeline)
        let stuck = try Self.doctor(pipeline)
        #expect(stuck.verdict == "safe-to-release" && stuck.exitCode == 1 && stuck.nextCommand?.contains("fail-run") == true, "\(stuck)")
        try failTheStaleRun(pipeline)
        let next = try pipeline.run(into: "run3")
        #expect(next.status == 0, "the next meltano run: \(next.stderr.suffix(3000))")
        #expect(try pipeline.loadedIDs(in: "run3") == Array(20...30), "the run goes on from run 1's bookmark")
        let state = try pipeline.cli.run(["get", RealPipeline.stateID])
        #expect(try RealPipeline.replicationKeyValue(in: state.stdout) == RealPipeline.bookmark(ofRow: 30), "\(state.stdout)")
    }

    /// In Meltano's system database a run killed mid-extract (its query waits on the
    /// source table, which the test holds) leaves a RUNNING row and no lock. Meltano
    /// refuses the next run ("already running") until the heartbeat is 5 minutes old; our
    /// tool shows the run and, once it is stale, fails it; the next real run succeeds.
    @Test func systemDBKilledRunLeavesARunningRowThatOurToolFails() throws {
        let pipeline = try RealPipeline(.systemDB, rows: 20)
        try #require(try pipeline.run(into: "run1").status == 0)
        try pipeline.addRows(21...30)

        let source = try pipeline.connection(to: pipeline.database)
        let run = try startRun(pipeline, holding: "shop.orders IN ACCESS EXCLUSIVE MODE", on: source, until: "started extracting") {
            try pipeline.admin.query("""
                SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'
                  AND query ILIKE '%orders%' AND pid <> pg_backend_pid()
                """, [pipeline.database], idempotent: true).scalar != "0"
        }
        run.signal(SIGKILL, group: true)
        #expect(run.wait(timeout: 30) != nil, "the killed run did not end")
        try source.query("ROLLBACK")

        #expect(try pipeline.runs().last?.state == "RUNNING")
        let runs = try pipeline.cli.run(["runs", "--json"])
        guard case let .array(running) = try RealPipeline.json(runs, of: "runs --json"), running.count == 1,
              case let .object(shown) = running[0], case let .bool(stale)? = shown["stale"] else {
            Issue.record("runs --json: \(runs.stdout) \(runs.stderr)"); return
        }
        #expect(!stale, "heard from seconds ago: not stale yet")
        // Meltano itself refuses to start the pipeline again…
        let refused = try pipeline.run(into: "run2b")
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("is already running") || refused.stdout.contains("is already running"),
                "\(refused.stderr.suffix(2000))")
        // …and so does our fail-run while the run may be alive.
        let early = try pipeline.cli.run(["fail-run", "--yes", String(try #require(pipeline.runs().last?.id))])
        #expect(early.status == 1 && early.stderr.contains("may still be running"), "\(early.stderr)")
        #expect(try pipeline.runs().last?.state == "RUNNING")

        try failTheRunMeltanoLeftRunning(pipeline)
        let next = try pipeline.run(into: "run3")
        #expect(next.status == 0, "the next meltano run: \(next.stderr.suffix(3000))")
        #expect(try pipeline.loadedIDs(in: "run3") == Array(20...30))
    }

    /// Starts run 2 while `connection` holds `LOCK TABLE <lock>` in an open transaction
    /// (rolled back by the test), and waits until the run got that far (`reached`).
    private func startRun(_ pipeline: RealPipeline, holding lock: String, on connection: Connection, until what: String,
                          _ reached: () throws -> Bool) throws -> ChildProcess {
        try connection.query("BEGIN")
        try connection.query("LOCK TABLE \(lock)")
        let run = try pipeline.startRun(into: "run2")
        let got = try waitUntil(timeout: 180, interval: 0.2) { try reached() || !run.isRunning }
        try #require(got && run.isRunning, "the run never \(what): \(pipeline.killedRunLog)")
        return run
    }

    /// The killed run's heartbeat stopped when it died; Meltano and our tool call a run
    /// stale 5 minutes after its last heartbeat. Rather than wait 5 minutes, the test moves
    /// that heartbeat (and the start) 6 minutes back, as waiting would have left them.
    /// Then our tool lists it as stale and fails it, journaled.
    private func failTheRunMeltanoLeftRunning(_ pipeline: RealPipeline) throws {
        try ageTheRunMeltanoLeftRunning(pipeline)
        try failTheStaleRun(pipeline)
    }

    private func ageTheRunMeltanoLeftRunning(_ pipeline: RealPipeline) throws {
        try pipeline.connection(to: pipeline.systemDatabase).query("""
            UPDATE runs SET last_heartbeat_at = last_heartbeat_at - interval '6 minutes',
                            started_at = started_at - interval '6 minutes'
            WHERE job_name = $1 AND state = 'RUNNING'
            """, [RealPipeline.stateID])
    }

    private func failTheStaleRun(_ pipeline: RealPipeline) throws {
        let stale = try pipeline.cliOnSystemDatabase(["runs", "--stale", "--json"])
        guard case let .array(runs) = try RealPipeline.json(stale, of: "runs --stale --json"), runs.count == 1,
              case let .object(run) = runs[0], case let .number(id)? = run["id"] else {
            Issue.record("runs --stale --json: \(stale.stdout) \(stale.stderr)"); return
        }
        let failed = try pipeline.cliOnSystemDatabase(["fail-run", "--yes", id.literal])
        #expect(failed.status == 0, "fail-run: \(failed.stderr)")
        #expect(try pipeline.runs().last?.state == "FAIL")
    }

    /// `doctor ID --json` on the pipeline's state ID, as the on-call engineer runs it in
    /// the project (Meltano's system database found through MELTANO_DATABASE_URI).
    static func doctor(_ pipeline: RealPipeline) throws -> (verdict: String?, exitCode: Int32, nextCommand: String?) {
        let output = try pipeline.cli.run(["doctor", "--json", RealPipeline.stateID])
        guard case let .array(items) = try RealPipeline.json(output, of: "doctor --json"), case let .object(item)? = items.first else {
            throw RealPipeline.UnexpectedOutput(description: "doctor --json: \(output.stdout) \(output.stderr)")
        }
        func text(_ value: JSONValue?) -> String? { if case let .string(s)? = value { return s.text } else { return nil } }
        return (text(item["verdict"]), output.status, text(item["next_command"]))
    }
}

/// Issue 20 with the real add-on: a real pipeline's state synced first layout → later
/// layout → Meltano's system database → first layout again is the same bytes in every
/// table, each real Meltano reads it as the first one does, and real runs on the later
/// layout and the system database go on from the synced bookmark.
@Suite("sync between layouts, read by the real add-on")
struct RealSyncTests {
    @Test func aRealStateSyncedAcrossTheThreeLayoutsAndBackIsTheSameBytesAndRealRunsGoOnFromIt() throws {
        let first = try RealPipeline(.firstLayout, rows: 20)
        let later = try RealPipeline(.laterLayout, rows: 20)
        let system = try RealPipeline(.systemDB, rows: 20)
        try #require(try first.run(into: "run1").status == 0)
        // Each target's tables, as its Meltano makes them on first use.
        for pipeline in [later, system] {
            let list = try pipeline.meltano(["state", "list"])
            try #require(list.status == 0, "meltano state list: \(list.stderr.suffix(1500))")
        }
        let back = "back_" + first.stateSchema
        try first.connection(to: first.database).query("CREATE SCHEMA \(quoteIdentifier(back))")

        let config = try TestDatabase.configuration()
        let server = "\(config.user!)@\(config.host!):\(config.port!)"
        let home = first.cli.environment["HOME"]! + "/.config/meltano-state"
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        try """
            contexts:
              first:
                uri: postgres://\(server)/\(first.database)/\(first.stateSchema)
              later:
                uri: postgresql://\(server)/\(later.database)?options=-csearch_path%3D\(later.stateSchema)
                layout: single-table
              system:
                uri: systemdb
                database_uri: postgresql://\(server)/\(system.database)
              back:
                uri: postgres://\(server)/\(first.database)/\(back)

            """.write(toFile: home + "/config.yml", atomically: true, encoding: .utf8)
        let created = try first.cli.run(["init", "--context", "back"])
        #expect(created.status == 0, "\(created.stderr)")
        for (from, to) in [("first", "later"), ("later", "system"), ("system", "back")] {
            let sync = try first.cli.run(["sync", "--from", from, "--to", to, "--apply"])
            try #require(sync.status == 0, "sync \(from) → \(to): \(sync.stdout)\(sync.stderr)")
        }

        // The same bytes in every layout (an empty part: NULL in the add-on's tables, {} in the system database).
        func row(_ pipeline: RealPipeline, _ table: String) throws -> [String?] {
            try pipeline.connection(to: pipeline.database).query(
                "SELECT partial_state, completed_state FROM \(table) WHERE state_id = $1", [RealPipeline.stateID]).rows.first ?? []
        }
        let original = try row(first, "\(quoteIdentifier(first.stateSchema)).meltano_state")
        try #require(original.count == 2 && original[1] != nil, "\(original)")
        #expect(try row(later, "\(quoteIdentifier(later.stateSchema)).state") == original)
        let inSystem = try row(system, "public.state")
        #expect(inSystem == [original[0] ?? "{}", original[1]], "\(inSystem)")
        #expect(try row(first, "\(quoteIdentifier(back)).meltano_state") == original, "and back again")

        // Each real Meltano reads it as the first one does.
        let expected = try first.meltano(["state", "get", RealPipeline.stateID])
        try #require(expected.status == 0)
        for pipeline in [later, system] {
            let get = try pipeline.meltano(["state", "get", RealPipeline.stateID])
            #expect(get.stdoutData == expected.stdoutData, "\(pipeline.backend): \(get.stdout) \(get.stderr.suffix(1000))")
        }
        // And their real runs go on from the synced bookmark: only the bookmark's own rows.
        for pipeline in [later, system] {
            let run = try pipeline.run(into: "after_sync")
            #expect(run.status == 0, "\(pipeline.backend): \(run.stderr.suffix(2000))")
            #expect(try pipeline.loadedIDs(in: "after_sync") == [20], "\(pipeline.backend)")
            #expect(try pipeline.loadedIDs(in: "after_sync", table: "customers") == [12], "\(pipeline.backend)")
        }
    }
}
