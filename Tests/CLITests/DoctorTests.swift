import ChildProcess
import Foundation
import Postgres
import StateJSON
import StateStore
import TestSupport
import Testing

/// `doctor` and staleness by evidence against the real server: the add-on's reference
/// model takes the locks as Meltano does (killed with its lock row left, or holding an
/// advisory lock in a live session), Meltano's system database sits beside the state
/// backend in a schema of its own, and a SELECT-only role looks at another role's holder.
@Suite("doctor: why is it stuck, and is it safe to release?")
struct DoctorTests {
    static let id = "prod:tap-x-to-target-y"

    /// A two-tables fixture with Meltano's system database beside it (MELTANO_DATABASE_URI
    /// as Meltano takes it, a SQLAlchemy URL, its schema through search_path).
    final class Beside {
        let fixture: CLIFixture
        let systemSchema: String

        init(systemDatabase: Bool = true) throws {
            fixture = try CLIFixture(schemaPrefix: "doc")
            systemSchema = try TestDatabase.freshSchema("docsys", on: fixture.admin)
            #expect(try fixture.run(["init"]).status == 0)
            #expect(try fixture.run(["set", "--force", DoctorTests.id, #"{"singer_state": {"bookmarks": {}}}"#]).status == 0)
            if systemDatabase {
                try MeltanoSystemDB.createTables(inSchema: systemSchema, on: fixture.admin)
                let config = try TestDatabase.configuration()
                fixture.environment["MELTANO_DATABASE_URI"] =
                    "postgresql+psycopg://\(config.user!)@\(config.host!):\(config.port!)/\(config.database!)?options=-csearch_path%3D\(systemSchema)"
            }
        }

        deinit { TestDatabase.dropSchema(systemSchema, on: fixture.admin) }

        /// The add-on's lock left behind by a run that was killed (`crash-lock`): its lock ID.
        func killedRunLock() throws -> String {
            let crashed = try Reference.run(["crash-lock", DoctorTests.id], schema: fixture.schema)
            #expect(crashed.status == 0, "\(crashed.stderr)")
            return try fixture.admin.query("SELECT lock_id FROM \(fixture.locksTable) WHERE state_id = $1", [DoctorTests.id]).scalar ?? ""
        }

        func lockCount() throws -> Int {
            Int(try fixture.admin.query("SELECT count(*) FROM \(fixture.locksTable)").scalar ?? "0") ?? 0
        }
    }

    static func diagnoses(_ output: ProcessOutput) throws -> [JSONObject] {
        guard case let .array(items) = try JSONParser.parse(output.stdout) else { throw StoreError.other("not an array: \(output.stdout)") }
        return items.compactMap { if case let .object(o) = $0 { return o }; return nil }
    }

    static func text(_ value: JSONValue?) -> String? {
        if case let .string(s)? = value { return s.text }
        return nil
    }

    @Test func aKilledRunIsSafeToReleaseWithTheExactCommand() throws {
        let beside = try Beside()
        let lockID = try beside.killedRunLock()
        // The run's heartbeat stopped 6 minutes ago: Meltano's own rule calls it stale,
        // though the lock row is only seconds old.
        try MeltanoSystemDB.insertRunningRun(Self.id, inSchema: beside.systemSchema, on: beside.fixture.admin,
                                             startedMinutesAgo: 30, heartbeatSecondsAgo: 360)
        let doctor = try beside.fixture.run(["doctor"])
        #expect(doctor.status == 1, "\(doctor.stdout) \(doctor.stderr)")
        #expect(doctor.stdout.contains("SAFE TO RELEASE"))
        let command = "meltano-state unlock \(shellQuote(Self.id)) \(lockID)"
        #expect(doctor.stdout.contains("next     \(command)"), "\(doctor.stdout)")
        #expect(doctor.stdout.contains("by heartbeat"))

        // The same evidence decides `locks --stale` and `unlock --stale`, and says so.
        let locks = try beside.fixture.run(["locks", "--stale"])
        #expect(locks.stdout.contains(lockID) && locks.stdout.contains("heartbeat") && locks.stdout.contains("STALE"), "\(locks.stdout)")
        let json = try beside.fixture.run(["locks", "--json"])
        #expect(json.stdout.contains(#""stale":true,"stale_evidence":"heartbeat""#), "\(json.stdout)")

        // The command doctor printed works as printed (plus --yes: no terminal here).
        let unlock = try beside.fixture.run(["unlock", Self.id, lockID, "--yes"])
        #expect(unlock.status == 0, "\(unlock.stderr)")
        #expect(try beside.lockCount() == 0)
        // Then only the run is left RUNNING: the next step is fail-run, in the system database.
        let after = try beside.fixture.run(["doctor", Self.id])
        #expect(after.status == 1 && after.stdout.contains("MELTANO_STATE_BACKEND_URI=systemdb meltano-state fail-run"), "\(after.stdout)")
    }

    /// Two jobs whose names differ only in how é is written are two pipelines: each lock
    /// is judged by its own job's runs. (Keyed by String, both took one job's latest run,
    /// so the live pipeline's lock was called stale, or the dead one's alive.)
    @Test func eachLockIsJudgedByItsOwnJobsRunsByBytes() throws {
        let beside = try Beside()
        let live = "prod:caf\u{E9}", dead = "prod:cafe\u{301}"
        for id in [live, dead] {
            try beside.fixture.admin.query("INSERT INTO \(beside.fixture.locksTable) (state_id, locked_at, lock_id) VALUES ($1, LOCALTIMESTAMP - interval '40 minutes', $2)",
                                           [id, sameText(id, live) ? "lock-live" : "lock-dead"])
        }
        try MeltanoSystemDB.insertRunningRun(live, inSchema: beside.systemSchema, on: beside.fixture.admin, startedMinutesAgo: 41, heartbeatSecondsAgo: 20)
        try MeltanoSystemDB.insertRunningRun(dead, inSchema: beside.systemSchema, on: beside.fixture.admin, startedMinutesAgo: 41, heartbeatSecondsAgo: 20)
        try beside.fixture.admin.query("UPDATE \(quoteIdentifier(beside.systemSchema)).runs SET state = 'SUCCESS', ended_at = now() AT TIME ZONE 'UTC' WHERE job_name = $1", [dead])
        let stale = try beside.fixture.run(["locks", "--stale"])
        #expect(stale.status == 0, "\(stale.stderr)")
        let all = try beside.fixture.run(["locks"]).stdout, told = try beside.fixture.run(["doctor", live, dead]).stdout
        #expect(stale.stdout.contains("lock-dead") && !stale.stdout.contains("lock-live"), "\(stale.stdout) \(stale.stderr) \(all) \(told)")
        let doctor = try beside.fixture.run(["doctor", "--json", live, dead])
        let items = try Self.diagnoses(doctor)
        #expect(items.map { Self.text($0["headline"]) } == ["RUNNING, DO NOT RELEASE", "SAFE TO RELEASE"], "\(doctor.stdout)")
    }

    @Test func aLiveSlowRunIsRunningThoughItsLockIsOld() throws {
        let beside = try Beside()
        let lockID = try beside.killedRunLock()
        try beside.fixture.admin.query("UPDATE \(beside.fixture.locksTable) SET locked_at = LOCALTIMESTAMP - interval '40 minutes'")
        try MeltanoSystemDB.insertRunningRun(Self.id, inSchema: beside.systemSchema, on: beside.fixture.admin,
                                             startedMinutesAgo: 41, heartbeatSecondsAgo: 20)
        let doctor = try beside.fixture.run(["doctor", "--json"])
        #expect(doctor.status == 3, "\(doctor.stdout) \(doctor.stderr)")
        let item = try #require(try Self.diagnoses(doctor).first)
        #expect(Self.text(item["headline"]) == "RUNNING, DO NOT RELEASE")
        #expect(item["next_command"] == .null)
        guard case let .object(lock)? = item["lock"], case let .object(system)? = item["system_database"],
              case let .object(latest)? = system["latest"] else { Issue.record("shape: \(doctor.stdout)"); return }
        #expect(Self.text(lock["lock_id"]) == lockID && lock["stale"] == .bool(false) && Self.text(lock["stale_evidence"]) == "heartbeat")
        #expect(latest["heartbeat_fresh"] == .bool(true) && Self.text(latest["state"]) == "RUNNING")

        // Age alone would call it stale; the heartbeat keeps both release paths off it.
        let stale = try beside.fixture.run(["locks", "--stale"])
        #expect(stale.status == 0 && stale.stdout.isEmpty && stale.stderr.contains("No stale locks."), "\(stale.stdout)")
        let unlock = try beside.fixture.run(["unlock", "--stale", "--yes"])
        #expect(unlock.status == 0 && unlock.stderr.contains("No stale locks."))
        #expect(try beside.lockCount() == 1)
        // And without the system database the same lock is stale by age, said so.
        let byAge = try beside.fixture.run(["locks", "--stale"], extraEnvironment: ["MELTANO_DATABASE_URI": ""])
        #expect(byAge.stdout.contains(lockID) && byAge.stdout.contains(" age ") && byAge.stdout.contains("STALE"), "\(byAge.stdout)")
        // But a system database that is configured and cannot be read (a wrong password, a
        // host down) is not the same as none: its heartbeat is unknown, so age does not
        // make the lock stale and `unlock --stale` leaves it alone.
        let unreadable = ["MELTANO_DATABASE_URI": "postgresql://nobody@127.0.0.1:1/none"]
        let notStale = try beside.fixture.run(["locks", "--stale"], extraEnvironment: unreadable)
        #expect(notStale.status == 0 && notStale.stdout.isEmpty && notStale.stderr.contains("No stale locks."), "\(notStale.stdout) \(notStale.stderr)")
        let kept = try beside.fixture.run(["unlock", "--stale", "--yes"], extraEnvironment: unreadable)
        #expect(kept.status == 0 && kept.stderr.contains("No stale locks."), "\(kept.stdout) \(kept.stderr)")
        #expect(try beside.lockCount() == 1)
        let listed = try beside.fixture.run(["locks", "--json"], extraEnvironment: unreadable)
        #expect(listed.stdout.contains(#""stale":false"#) && listed.stdout.contains("could not be read"), "\(listed.stdout)")
        // Monitoring does not go quiet with its evidence: the old lock still alerts.
        let health = try beside.fixture.run(["check-health"], extraEnvironment: unreadable)
        #expect(health.status == 2 && health.stdout.contains("CRITICAL") && health.stdout.contains("1 stale lock"), "\(health.stdout) \(health.stderr)")
        let unknown = try beside.fixture.run(["doctor", Self.id], extraEnvironment: unreadable)
        #expect(unknown.status == 5 && unknown.stdout.contains("UNKNOWN") && unknown.stdout.contains("cannot be reached"), "\(unknown.stdout)")
    }

    @Test func withoutTheSystemDatabaseAnOldLockIsUnknownAndSaysWhatIsMissing() throws {
        let beside = try Beside(systemDatabase: false)
        _ = try beside.killedRunLock()
        try beside.fixture.admin.query("UPDATE \(beside.fixture.locksTable) SET locked_at = LOCALTIMESTAMP - interval '10 minutes'")
        let doctor = try beside.fixture.run(["doctor", Self.id])
        #expect(doctor.status == 5, "\(doctor.stdout) \(doctor.stderr)")
        #expect(doctor.stdout.contains("UNKNOWN"))
        #expect(doctor.stdout.contains("missing  heartbeat:") && doctor.stdout.contains("database_uri (MELTANO_DATABASE_URI) is not set"), "\(doctor.stdout)")
        #expect(doctor.stdout.contains("missing  holder session:"))
    }

    /// A doctor that cannot judge (no connection) exits 5, UNKNOWN: never 1, which is
    /// SAFE TO RELEASE to a script.
    @Test func aFailureIsUnknownNotSafeToRelease() throws {
        let fixture = try CLIFixture(schemaPrefix: "docfail")
        for arguments in [["doctor"], ["doctor", "--json"], ["doctor", Self.id]] {
            let result = try fixture.run(arguments, extraEnvironment: ["MELTANO_STATE_BACKEND_URI": "postgresql://nobody@127.0.0.1:1/none"])
            #expect(result.status == 5, "\(arguments): \(result.stderr)")
            #expect(result.stderr.contains("Cannot connect") && result.stderr.contains("Nothing was judged"), "\(result.stderr)")
            #expect(result.stdout.isEmpty)
        }
    }

    /// Nothing held, but a state Meltano's next run cannot read (Meltano 4.4.1's `state
    /// get` fails on both: ValueError for the long integer, TypeError for the merge):
    /// not HEALTHY; the command to see it, exit 6, and the most cautious of several.
    @Test func aStateMeltanoCannotReadIsUnreadableNotHealthy() throws {
        let beside = try Beside()
        let fixture = beside.fixture
        try fixture.admin.query("INSERT INTO \(fixture.stateTable) (state_id, partial_state, completed_state) VALUES ($1, NULL, $2), ($3, $4, $5)",
                                ["big.toobig", #"{"singer_state": {"n": "# + String(repeating: "7", count: 4301) + "}}",
                                 "sp.nested", #"{"a": {"b": 1}}"#, #"{"a": 1.5, "singer_state": {}}"#])
        for (id, why) in [("big.toobig", "value has 4301 digits"), ("sp.nested", "does not merge onto the completed state")] {
            let result = try fixture.run(["doctor", id])
            #expect(result.status == 6 && result.stdout.contains("verdict  STATE UNREADABLE") && result.stdout.contains(why), "\(result.stdout)")
            #expect(result.stdout.contains("next     meltano-state get --raw \(id)"), "\(result.stdout)")
            #expect(!result.stdout.contains("^"), "the parse error's caret line: \(result.stdout)")
        }
        let json = try fixture.run(["doctor", "--json", "sp.nested", Self.id])
        #expect(json.status == 6 && json.stdout.contains(#""verdict":"unreadable""#) && json.stdout.contains(#""verdict":"healthy""#), "\(json.stdout)")
        #expect(json.stdout.contains(#""unreadable":"the partial state does not merge"#) && json.stdout.contains(#""unreadable":null"#))
    }

    @Test func healthyUnknownIDsAndUnreachableSystemDatabase() throws {
        let beside = try Beside()
        let nothing = try beside.fixture.run(["doctor"])
        #expect(nothing.status == 0 && nothing.stderr.contains("Nothing to diagnose"), "\(nothing.stdout) \(nothing.stderr)")
        let healthy = try beside.fixture.run(["doctor", Self.id])
        #expect(healthy.status == 0 && healthy.stdout.contains("HEALTHY"), "\(healthy.stdout)")
        let missing = try beside.fixture.run(["doctor", "prod:no-such-pipeline"])
        #expect(missing.status == 4 && missing.stderr.contains("'prod:no-such-pipeline'"), "\(missing.stderr)")
        // A partial state with nothing held: an interrupted run, listed without asking.
        try beside.fixture.admin.query("UPDATE \(beside.fixture.stateTable) SET partial_state = $1",
                                       [#"{"singer_state": {"currently_syncing": "public-orders"}}"#])
        let partial = try beside.fixture.run(["doctor", "--json"])
        let item = try #require(try Self.diagnoses(partial).first)
        guard case let .object(state)? = item["state"] else { Issue.record("\(partial.stdout)"); return }
        #expect(partial.status == 0 && state["interrupted_run"] == .bool(true) && Self.text(state["currently_syncing"]) == "public-orders")
        // A system database that cannot be reached is missing evidence, not a failure.
        let lockID = try beside.killedRunLock()
        let unreachable = try beside.fixture.run(["doctor", Self.id],
                                                 extraEnvironment: ["MELTANO_DATABASE_URI": "postgresql://nobody@127.0.0.1:1/none"])
        #expect(unreachable.status == 3 && unreachable.stdout.contains("cannot be reached"), "\(unreachable.stdout) \(unreachable.stderr)")
        #expect(unreachable.stdout.contains(lockID))
    }

    /// The later add-on's advisory lock, held by the reference in a live session.
    final class Advisory {
        let fixture: CLIFixture
        var holder: ChildProcess?
        /// Advisory locks are database-wide, so each test's state ID is its own: with one ID
        /// for all, one test found, and ended, another's holder.
        let id: String

        init() throws {
            fixture = try CLIFixture(schemaPrefix: "docadv")
            id = "prod:tap-x-to-target-y-\(fixture.schema)"
            let config = try TestDatabase.configuration()
            fixture.environment["MELTANO_STATE_BACKEND_URI"] =
                "postgresql://\(config.user!)@\(config.host!):\(config.port!)/\(config.database!)?options=-csearch_path%3D\(fixture.schema)"
            let set = try runProcess("python3", [Reference.script, "--dsn", try TestDatabase.dsn, "--schema", fixture.schema,
                                                 "--layout", "single-table", "set", "--force", id, #"{"singer_state": {}}"#])
            #expect(set.status == 0, "\(set.stderr)")
        }

        deinit { holder?.signal(SIGKILL); holder?.wait() }

        /// Starts the reference holding the lock; the pid of its backend once it holds it.
        func hold() throws -> Int32? {
            holder = try ChildProcess(python3Executable, [Reference.script, "--dsn", try TestDatabase.dsn, "--schema", fixture.schema,
                                                          "--layout", "single-table", "hold-lock", id, "600"],
                                      standardInput: .null, standardOutput: .null, standardError: .null)
            var pid: Int32?
            let key = String(advisoryLockKey(id))
            _ = try waitUntil(timeout: 30) {
                pid = try fixture.admin.query("""
                    SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted
                      AND ((classid::bigint << 32) | objid::bigint)::bit(64)::bigint = $1::bigint
                    """, [key]).scalar.flatMap { Int32($0) }
                return pid != nil
            }
            return pid
        }
    }

    @Test func anAdvisoryHolderAliveThenTerminated() throws {
        let advisory = try Advisory()
        let pid = try #require(try advisory.hold())
        let alive = try advisory.fixture.run(["doctor", "--json"])
        #expect(alive.status == 3, "\(alive.stdout) \(alive.stderr)")
        let item = try #require(try Self.diagnoses(alive).first)
        guard case let .object(lock)? = item["lock"], case let .object(holder)? = lock["holder"] else { Issue.record("\(alive.stdout)"); return }
        #expect(holder["pid"] == .number(JSONNumber(Int(pid))) && Self.text(holder["visibility"]) == "visible")
        #expect(Self.text(lock["stale_evidence"]) == "holder session" && lock["stale"] == .bool(false))
        #expect(holder["backend_start"] != .null && holder["query_age_seconds"] != .null && Self.text(holder["state"]) != nil)
        let text = try advisory.fixture.run(["doctor", advisory.id])
        #expect(text.stdout.contains("holder   pid \(pid)") && text.stdout.contains(": alive"), "\(text.stdout)")

        // The holder's session is terminated (as `unlock` does for advisory locks): the
        // lock went with it.
        #expect(try advisory.fixture.admin.query("SELECT pg_terminate_backend($1::int)", [String(pid)]).scalar == "t")
        #expect(try waitForBackendToExit(advisory.fixture.admin, pid: pid))
        let gone = try advisory.fixture.run(["doctor", advisory.id])
        #expect(gone.status == 0 && gone.stdout.contains("lock     none") && gone.stdout.contains("HEALTHY"), "\(gone.stdout)")
    }

    @Test func aSelectOnlyRoleSeesTheHolderAsNotVisibleNeverDead() throws {
        let advisory = try Advisory()
        let admin = advisory.fixture.admin
        let role = "doctor_ro_" + advisory.fixture.schema
        try admin.query("CREATE ROLE \(quoteIdentifier(role)) LOGIN")
        defer {
            _ = try? admin.query("DROP OWNED BY \(quoteIdentifier(role))")
            _ = try? admin.query("DROP ROLE \(quoteIdentifier(role))")
        }
        try admin.query("GRANT USAGE ON SCHEMA \(quoteIdentifier(advisory.fixture.schema)) TO \(quoteIdentifier(role))")
        try admin.query("GRANT SELECT ON ALL TABLES IN SCHEMA \(quoteIdentifier(advisory.fixture.schema)) TO \(quoteIdentifier(role))")
        let pid = try #require(try advisory.hold())
        let config = try TestDatabase.configuration()
        let asRole = ["MELTANO_STATE_BACKEND_URI":
            "postgresql://\(role)@\(config.host!):\(config.port!)/\(config.database!)?options=-csearch_path%3D\(advisory.fixture.schema)"]
        let doctor = try advisory.fixture.run(["doctor", "--json"], extraEnvironment: asRole)
        let item = try #require(try Self.diagnoses(doctor).first, "\(doctor.stdout) \(doctor.stderr)")
        guard case let .object(lock)? = item["lock"], case let .object(holder)? = lock["holder"] else { Issue.record("\(doctor.stdout)"); return }
        #expect(holder["pid"] == .number(JSONNumber(Int(pid))))
        #expect(Self.text(holder["visibility"]) == "not visible to this role")
        #expect(Self.text(item["verdict"]) != "safe-to-release", "\(doctor.stdout)")
        #expect(doctor.status == 3 || doctor.status == 5)
        let text = try advisory.fixture.run(["doctor", advisory.id], extraEnvironment: asRole)
        #expect(text.stdout.contains("not visible to this role") && !text.stdout.contains("gone"), "\(text.stdout)")
        // The same role, reading the same lock, as an administrator sees it: visible.
        let visible = try advisory.fixture.run(["doctor", "--json"])
        #expect(visible.stdout.contains(#""visibility":"visible""#), "\(visible.stdout)")
    }
}
