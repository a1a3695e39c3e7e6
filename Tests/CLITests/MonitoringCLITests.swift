import ChildProcess
import Foundation
import Postgres
import StateJSON
import StateStore
import Testing
import TestSupport

/// Issue 21: `metrics` read by the reference parser (prometheus_client from PyPI, as
/// Prometheus' own client library parses), served over loopback, `watch --exec` once per
/// transition, `check-health` as a Nagios plugin. Values are planted with SQL and read
/// back through the parser.
@Suite("Monitoring: metrics, --listen, watch, check-health", .serialized)
struct MonitoringCLITests {
    /// IDs that break naive exposition code: quotes, backslashes, line breaks, a
    /// comment's start, braces and commas, escapes for the terminal, non-ASCII.
    static let hostileIDs = [
        #"prod:"quoted""#, #"back\slash"#, "new\nline", "tab\tand\rcr", "ünïcødé 🚀 中文", #"{a="b",c}"#,
        #"ends with \"#, "# HELP meltano_state_up fake", "\u{1B}[2Jescape", #"\n literally"#,
    ]

    /// Parses the exposition on stdin with prometheus_client's parser (the text format's
    /// or, with `openmetrics`, OpenMetrics'); prints one sample a line: name, the labels
    /// as JSON, the value. A parse error fails with Python's message.
    static let parser = #"""
        import json, sys
        from prometheus_client.parser import text_string_to_metric_families as text_parser
        from prometheus_client.openmetrics.parser import text_string_to_metric_families as om_parser
        parse = om_parser if sys.argv[1:] == ["openmetrics"] else text_parser
        data = sys.stdin.buffer.read().decode("utf-8")
        out = []
        for family in parse(data):
            if family.type != "gauge":
                raise SystemExit(f"{family.name} is a {family.type}, not a gauge")
            for sample in family.samples:
                out.append(f"{sample.name}\t{json.dumps(sample.labels, sort_keys=True)}\t{sample.value!r}")
        sys.stdout.write("\n".join(out) + "\n")
        """#

    struct Sample: Hashable {
        var name: String
        var stateID: String?
        var value: Double
    }

    static func parse(_ exposition: String, _ fixture: CLIFixture, format: String = "prometheus") throws -> [Sample] {
        let script = fixture.directory + "/parse_metrics.py"
        try parser.write(toFile: script, atomically: true, encoding: .utf8)
        let result = try runProcess("python3", [script, format], stdin: Data(exposition.utf8))
        try #require(result.status == 0, "prometheus_client's parser refused the exposition: \(result.stderr)")
        return try result.stdout.split(separator: "\n").map { line in
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            try #require(fields.count == 3, "\(line)")
            guard case let .object(labels) = try JSONParser.parse(String(fields[1])) else { throw StoreError.other("labels: \(line)") }
            var stateID: String?
            if case let .string(id)? = labels["state_id"] { stateID = id.text }
            return Sample(name: String(fields[0]), stateID: stateID, value: try #require(Double(String(fields[2]))))
        }
    }

    static func value(_ samples: [Sample], _ name: String, _ stateID: String? = nil) -> Double? {
        samples.first { $0.name == name && $0.stateID == stateID }?.value
    }

    /// Seconds since the test began, as a bound on how much older a planted age can be
    /// when it is read.
    struct Clock {
        let start = Date()
        var elapsed: Double { Date().timeIntervalSince(start) + 1 }
    }

    static func plantTwoTables(_ fixture: CLIFixture) throws {
        let result = try fixture.run(["init", "-q"])
        try #require(result.status == 0, "\(result.stderr)")
    }

    /// A README command started through /bin/sh (exec'ed, so signals reach it) in the
    /// sandbox, its stderr going to a file that can be read while it runs.
    struct Background {
        let child: ChildProcess
        let stderrPath: String
        func stderr() -> String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }
        /// SIGTERM, then the exit status; killed (and nil) if it has not exited within 20 s.
        func stop() -> Int32? {
            child.signal(SIGTERM)
            if let end = child.wait(timeout: 20) { return end.code }
            child.signal(SIGKILL)
            _ = child.wait()
            return nil
        }
    }

    static func background(_ sandbox: ReadmeSandbox, _ command: ReadmeCommand) throws -> Background {
        let path = sandbox.cli.directory + "/stderr-\(UUID().uuidString)"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw StoreError.other("cannot create \(path)") }
        defer { close(fd) }
        let child = try ChildProcess("/bin/sh", ["-c", "exec " + sandbox.shellLine(command, [:])], environment: sandbox.environment,
                                     currentDirectory: sandbox.workingDirectory, standardInput: .null, standardOutput: .null,
                                     standardError: .descriptor(fd))
        return Background(child: child, stderrPath: path)
    }

    // MARK: - metrics

    @Test func tenIDsParseWithBothParsersAndCarryWhatWasPlanted() throws {
        let fixture = try CLIFixture(schemaPrefix: "metrics10")
        try Self.plantTwoTables(fixture)
        let clock = Clock()
        // ID i: written i*100+50 s ago; even IDs locked i*60 s ago (stale past 300 s).
        for (i, id) in Self.hostileIDs.enumerated() {
            try fixture.admin.query("INSERT INTO \(fixture.stateTable) VALUES ($1, NULL, '{}', LOCALTIMESTAMP - make_interval(secs => $2::int))",
                                    [id, String(i * 100 + 50)])
            if i % 2 == 0 {
                try fixture.admin.query("INSERT INTO \(fixture.locksTable) VALUES ($1, LOCALTIMESTAMP - make_interval(secs => $2::int), 'lock-\(i)')",
                                        [id, String(i * 60)])
            }
        }
        // A lock taken before the first state was written (a first run): no state row.
        try fixture.admin.query("INSERT INTO \(fixture.locksTable) VALUES ('first-run', LOCALTIMESTAMP - interval '1 hour', 'lock-x')")
        for format in ["prometheus", "openmetrics"] {
            let result = try fixture.run(["metrics", "--format", format])
            #expect(result.status == 0, "\(result.stderr)")
            let samples = try Self.parse(result.stdout, fixture, format: format)
            #expect(Self.value(samples, "meltano_state_up") == 1)
            #expect(Self.value(samples, "meltano_state_states") == 10)
            #expect(Self.value(samples, "meltano_state_locks_held") == 6)
            #expect(Self.value(samples, "meltano_state_locks_stale") == 3, "locks 360, 480 s old and the first run's hour: \(result.stdout)")
            #expect(Self.value(samples, "meltano_state_series_ids") == 11)
            #expect(Self.value(samples, "meltano_state_series_omitted_ids") == 0)
            let oldest = try #require(Self.value(samples, "meltano_state_oldest_update_age_seconds"))
            #expect(oldest >= 950 && oldest <= 950 + clock.elapsed)
            for (i, id) in Self.hostileIDs.enumerated() {
                let age = try #require(Self.value(samples, "meltano_state_update_age_seconds", id), "no age for \(id.debugDescription)")
                #expect(age >= Double(i * 100 + 50) && age <= Double(i * 100 + 50) + clock.elapsed, "\(id.debugDescription): \(age)")
                #expect(Self.value(samples, "meltano_state_lock_held", id) == (i % 2 == 0 ? 1 : 0), "\(id.debugDescription)")
                #expect(Self.value(samples, "meltano_state_lock_stale", id) == (i % 2 == 0 && i * 60 > 300 ? 1 : 0), "\(id.debugDescription)")
                if i % 2 == 0 {
                    let lockAge = try #require(Self.value(samples, "meltano_state_lock_age_seconds", id))
                    #expect(lockAge >= Double(i * 60) && lockAge <= Double(i * 60) + clock.elapsed)
                } else {
                    #expect(Self.value(samples, "meltano_state_lock_age_seconds", id) == nil, "no lock, no lock age")
                }
            }
            #expect(Self.value(samples, "meltano_state_lock_stale", "first-run") == 1)
            #expect(Self.value(samples, "meltano_state_update_age_seconds", "first-run") == nil, "no state row, no age")
            #expect(samples.filter { $0.stateID != nil }.count == 10 * 3 + 5 + 3, "\(samples.count) samples")
            #expect(Self.value(samples, "meltano_state_scrape_duration_seconds").map { $0 >= 0 && $0 < 60 } == true)
        }
    }

    @Test func aHundredThousandIDsParseAndMatch() throws {
        let fixture = try CLIFixture(schemaPrefix: "metrics100k")
        try Self.plantTwoTables(fixture)
        let clock = Clock()
        let n = 100_000
        // ID i (0-based, zero-padded) written i seconds ago; every 1000th also locked i seconds ago.
        try fixture.admin.query("""
            INSERT INTO \(fixture.stateTable)
            SELECT 'prod:tap-' || lpad(i::text, 6, '0'), NULL, '{"singer_state": {}}', LOCALTIMESTAMP - make_interval(secs => i)
            FROM generate_series(0, \(n - 1 - Self.hostileIDs.count)) i
            """)
        for (i, id) in Self.hostileIDs.enumerated() {
            try fixture.admin.query("INSERT INTO \(fixture.stateTable) VALUES ($1, NULL, '{}', LOCALTIMESTAMP - make_interval(secs => $2::int))",
                                    [id, String(200_000 + i)])
        }
        try fixture.admin.query("""
            INSERT INTO \(fixture.locksTable)
            SELECT 'prod:tap-' || lpad(i::text, 6, '0'), LOCALTIMESTAMP - make_interval(secs => i), 'lock-' || i
            FROM generate_series(0, \(n - 1 - Self.hostileIDs.count), 1000) i
            """)
        let result = try fixture.run(["metrics", "--max-series", String(n)])
        #expect(result.status == 0, "\(result.stderr)")
        let samples = try Self.parse(result.stdout, fixture)
        #expect(Self.value(samples, "meltano_state_states") == Double(n))
        #expect(Self.value(samples, "meltano_state_locks_held") == 100)
        #expect(Self.value(samples, "meltano_state_locks_stale") == 99, "all but the lock taken 0 s ago")
        #expect(Self.value(samples, "meltano_state_series_ids") == Double(n))
        var ages: [String: Double] = [:]
        var lockAges: [String: Double] = [:]
        for sample in samples {
            guard let id = sample.stateID else { continue }
            if sample.name == "meltano_state_update_age_seconds" { ages[id] = sample.value }
            if sample.name == "meltano_state_lock_age_seconds" { lockAges[id] = sample.value }
        }
        #expect(ages.count == n)
        var wrong: [String] = []
        for i in 0..<(n - Self.hostileIDs.count) {
            let id = "prod:tap-" + String(repeating: "0", count: 6 - String(i).count) + String(i)
            guard let age = ages[id], age >= Double(i), age <= Double(i) + clock.elapsed else { wrong.append("\(id)=\(ages[id] ?? -1)"); continue }
            if i % 1000 == 0 {
                guard let lockAge = lockAges[id], lockAge >= Double(i), lockAge <= Double(i) + clock.elapsed else { wrong.append("lock \(id)"); continue }
            }
        }
        for (i, id) in Self.hostileIDs.enumerated() {
            if !(ages[id].map { $0 >= Double(200_000 + i) && $0 <= Double(200_000 + i) + clock.elapsed } ?? false) { wrong.append(id.debugDescription) }
        }
        #expect(wrong.isEmpty, "\(wrong.count) wrong, e.g. \(wrong.prefix(5))")
        #expect(lockAges.count == 100)

        // The default limit: 1000 IDs, the locked ones first, then the oldest; the rest counted and named.
        let limited = try fixture.run(["metrics", "--pattern", "prod:*"])
        #expect(limited.status == 0, "\(limited.stderr)")
        let kept = try Self.parse(limited.stdout, fixture)
        let keptIDs = Set(kept.compactMap(\.stateID))
        #expect(keptIDs.count == 1000)
        #expect(Self.value(kept, "meltano_state_series_omitted_ids") == Double(n - Self.hostileIDs.count - 1000 + 1), "prod:\"quoted\" matches too")
        #expect(limited.stdout.contains("# \(n - Self.hostileIDs.count + 1 - 1000) of \(n - Self.hostileIDs.count + 1) state IDs matching 'prod:*' have no per-ID series here (--max-series 1000)"))
        let locked = (0..<(n - Self.hostileIDs.count)).filter { $0 % 1000 == 0 }.map { "prod:tap-" + String(repeating: "0", count: 6 - String($0).count) + String($0) }
        #expect(Set(locked).isSubset(of: keptIDs), "every ID with a lock is kept")
        #expect(keptIDs.contains("prod:tap-099989") && !keptIDs.contains("prod:tap-000001"), "then the least recently updated")
        #expect(Self.value(kept, "meltano_state_states") == Double(n), "totals are of every ID")
    }

    @Test func systemDatabaseRunsAndHeartbeats() throws {
        let fixture = try CLIFixture(schemaPrefix: "metricssys")
        try MeltanoSystemDB.createTables(inSchema: fixture.schema, on: fixture.admin)
        let config = try TestDatabase.configuration()
        fixture.environment["MELTANO_STATE_BACKEND_URI"] = nil
        fixture.environment["MELTANO_DATABASE_URI"] = "postgresql+psycopg://\(config.user!)@\(config.host!):\(config.port!)/\(config.database!)?options=-csearch_path%3D\(fixture.schema)"
        let clock = Clock()
        let state = quoteIdentifier(fixture.schema) + ".state"
        for (id, age) in [("dev:dead", 4000), ("dev:alive", 100), ("dev:idle", 50)] {
            try fixture.admin.query("INSERT INTO \(state) VALUES ($1, '{}', '{\"singer_state\": {}}', LOCALTIMESTAMP - make_interval(secs => $2::int))", [id, String(age)])
        }
        try MeltanoSystemDB.insertRunningRun("dev:dead", inSchema: fixture.schema, on: fixture.admin, startedMinutesAgo: 90, heartbeatSecondsAgo: 1200)
        try MeltanoSystemDB.insertRunningRun("dev:alive", inSchema: fixture.schema, on: fixture.admin, startedMinutesAgo: 5, heartbeatSecondsAgo: 3)
        try MeltanoSystemDB.insertRunningRun("dev:first", inSchema: fixture.schema, on: fixture.admin, startedMinutesAgo: 2, heartbeatSecondsAgo: 30)
        let result = try fixture.run(["metrics", "--format", "openmetrics"])
        #expect(result.status == 0, "\(result.stderr)")
        let samples = try Self.parse(result.stdout, fixture, format: "openmetrics")
        #expect(Self.value(samples, "meltano_state_runs_running") == 3)
        #expect(Self.value(samples, "meltano_state_jobs_stale") == 1)
        #expect(Self.value(samples, "meltano_state_locks_held") == nil, "no locks in the system database")
        #expect(Self.value(samples, "meltano_state_job_runs_running", "dev:dead") == 1)
        #expect(Self.value(samples, "meltano_state_job_run_stale", "dev:dead") == 1)
        #expect(Self.value(samples, "meltano_state_job_run_stale", "dev:alive") == 0)
        #expect(Self.value(samples, "meltano_state_job_runs_running", "dev:idle") == 0)
        #expect(Self.value(samples, "meltano_state_job_runs_running", "dev:first") == 1, "a first run, before any state")
        let dead = try #require(Self.value(samples, "meltano_state_job_heartbeat_age_seconds", "dev:dead"))
        #expect(dead >= 1200 && dead <= 1200 + clock.elapsed)
        let alive = try #require(Self.value(samples, "meltano_state_job_heartbeat_age_seconds", "dev:alive"))
        #expect(alive >= 3 && alive <= 3 + clock.elapsed)
        #expect(Self.value(samples, "meltano_state_job_heartbeat_age_seconds", "dev:idle") == nil)
        let age = try #require(Self.value(samples, "meltano_state_update_age_seconds", "dev:dead"))
        #expect(age >= 4000 && age <= 4000 + clock.elapsed)
    }

    @Test func outputFileIsReplacedWhole() throws {
        let fixture = try CLIFixture(schemaPrefix: "metricsfile")
        try Self.plantTwoTables(fixture)
        let path = fixture.directory + "/meltano_state.prom"
        try "old\n".write(toFile: path, atomically: true, encoding: .utf8)
        let result = try fixture.run(["metrics", "--output", path])
        #expect(result.status == 0 && result.stdout.isEmpty, "\(result.stderr)")
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(Self.value(try Self.parse(text, fixture), "meltano_state_states") == 0)
        #expect(try FileManager.default.contentsOfDirectory(atPath: fixture.directory).filter { $0.contains(".tmp.") }.isEmpty)
        let unlimited = try fixture.run(["metrics", "--max-series", "999999999999999"])
        #expect(unlimited.status == 0 && unlimited.stdout.contains("meltano_state_states 0\n"), "\(unlimited.stderr)")
        // The database unreachable: the file says so (meltano_state_up 0) instead of going on showing old values.
        let down = try fixture.run(["metrics", "--output", path], extraEnvironment: ["MELTANO_STATE_BACKEND_URI": "postgres://postgres@127.0.0.1:1/postgres/x"])
        #expect(down.status == 1, "\(down.stderr)")
        let downText = try String(contentsOfFile: path, encoding: .utf8)
        #expect(Self.value(try Self.parse(downText, fixture), "meltano_state_up") == 0 && !downText.contains("meltano_state_states"), "\(downText)")
        let bad = try fixture.run(["metrics", "--output", fixture.directory + "/no/such/dir/m.prom"])
        #expect(bad.status == 1 && bad.stderr.contains("Cannot write"), "\(bad.stderr)")
    }

    // MARK: - --listen

    /// Scrapes over loopback with Python's urllib (as a scraper would), several at
    /// once, plus HEAD, a 404, a POST and a request that is not HTTP.
    static let scraper = #"""
        import json, socket, sys, threading, urllib.request, urllib.error
        from prometheus_client.parser import text_string_to_metric_families
        base = sys.argv[1]
        host, port = base.split("//")[1].split("/")[0].rsplit(":", 1)
        results = {}
        def scrape(i):
            with urllib.request.urlopen(base + "/metrics", timeout=30) as r:
                body = r.read().decode()
                families = {f.name: f for f in text_string_to_metric_families(body)}
                results[i] = (r.status, r.headers["Content-Type"], families["meltano_state_states"].samples[0].value)
        threads = [threading.Thread(target=scrape, args=(i,)) for i in range(12)]
        for t in threads: t.start()
        for t in threads: t.join()
        out = {"scrapes": sorted(set(results.values())), "count": len(results)}
        head = urllib.request.Request(base + "/metrics", method="HEAD")
        with urllib.request.urlopen(head, timeout=30) as r:
            out["head"] = [r.status, len(r.read()), int(r.headers["Content-Length"]) > 0]
        om = urllib.request.Request(base + "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
        with urllib.request.urlopen(om, timeout=30) as r:
            out["openmetrics"] = [r.headers["Content-Type"], r.read().decode().endswith("# EOF\n")]
        for path, method in (("/nothing", "GET"), ("/metrics", "POST")):
            try:
                urllib.request.urlopen(urllib.request.Request(base + path, method=method, data=b"" if method == "POST" else None), timeout=30)
                out[method] = 200
            except urllib.error.HTTPError as e:
                out[method] = e.code
        s = socket.create_connection((host, int(port)), timeout=30)
        s.sendall(b"\x16\x03\x01 not http at all\r\n\r\n")
        out["garbage"] = s.recv(100).decode(errors="replace").split("\r\n")[0]
        s.close()
        print(json.dumps(out))
        """#

    @Test func listenServesScrapesOverLoopback() throws {
        let fixture = try CLIFixture(schemaPrefix: "listen")
        try Self.plantTwoTables(fixture)
        for id in ["a", "b", "c"] { try fixture.admin.query("INSERT INTO \(fixture.stateTable) VALUES ($1, NULL, '{}', LOCALTIMESTAMP)", [id]) }
        let server = try RunningCLI(fixture, ["metrics", "--listen", "127.0.0.1:0"], liveStandardError: true)
        #expect(server.waitForStandardError(containing: "/metrics (Ctrl-C"), "\(server.standardErrorSoFar)")
        let line = server.standardErrorSoFar
        let url = try #require(line.range(of: #"http://127\.0\.0\.1:[0-9]+"#, options: .regularExpression).map { String(line[$0]) })
        let script = fixture.directory + "/scrape.py"
        try Self.scraper.write(toFile: script, atomically: true, encoding: .utf8)
        let scraped = try runProcess("python3", [script, url], timeout: 120)
        #expect(scraped.status == 0, "\(scraped.stderr)")
        let out = try #require(try JSONSerialization.jsonObject(with: Data(scraped.stdout.utf8)) as? [String: Any])
        #expect(out["count"] as? Int == 12, "every concurrent scrape answered: \(scraped.stdout)")
        let scrapes = out["scrapes"] as? [[Any]]
        #expect(scrapes?.count == 1 && scrapes?.first?[0] as? Int == 200 && scrapes?.first?[2] as? Double == 3
                && (scrapes?.first?[1] as? String)?.hasPrefix("text/plain; version=0.0.4") == true, "\(scraped.stdout)")
        let head = out["head"] as? [Any]
        #expect(head?.count == 3 && head?[0] as? Int == 200 && head?[1] as? Int == 0 && head?[2] as? Bool == true, "HEAD: the head alone: \(scraped.stdout)")
        let om = out["openmetrics"] as? [Any]
        #expect((om?.first as? String)?.hasPrefix("application/openmetrics-text") == true && om?.last as? Bool == true, "\(scraped.stdout)")
        #expect(out["GET"] as? Int == 404 && out["POST"] as? Int == 405, "\(scraped.stdout)")
        #expect(out["garbage"] as? String == "HTTP/1.1 400 Bad Request", "\(scraped.stdout)")
        // The database gone mid-way: a scrape still answers, with meltano_state_up 0.
        try fixture.admin.query("ALTER TABLE \(fixture.stateTable) RENAME TO gone")
        let down = try runProcess("python3", ["-c", "import urllib.request,sys; sys.stdout.write(urllib.request.urlopen(sys.argv[1] + '/metrics', timeout=30).read().decode())", url])
        #expect(down.status == 0, "\(down.stderr)")
        #expect(down.stdout.contains("\nmeltano_state_up 0\n") && !down.stdout.contains("meltano_state_states"), "\(down.stdout)")
        server.signal(SIGTERM)
        let end = server.finish()
        #expect(end.status == 0, "stops cleanly on SIGTERM: \(end.stderr)")
        #expect(end.stderr.contains("stopped serving metrics"), "\(end.stderr)")
    }

    @Test func listenRefusesAddressesBeyondThisMachine() throws {
        let fixture = try CLIFixture(schemaPrefix: "listenremote")
        let refused = try fixture.run(["metrics", "--listen", "0.0.0.0:0"])
        #expect(refused.status == 1 && refused.stderr.contains("not a loopback address") && refused.stderr.contains("--allow-remote"), "\(refused.stderr)")
        let bad = try fixture.run(["metrics", "--listen", "example.com:9187"])
        #expect(bad.status == 1 && bad.stderr.contains("is not an IP address"), "\(bad.stderr)")
        let usage = try fixture.run(["metrics", "--allow-remote"])
        #expect(usage.status == 2, "\(usage.stderr)")
    }

    // MARK: - watch

    @Test func watchExecFiresOncePerTransition() throws {
        let fixture = try CLIFixture(schemaPrefix: "watch")
        try Self.plantTwoTables(fixture)
        let password = "Watch-Secret-\(UUID().uuidString.prefix(8))"
        fixture.environment["MELTANO_STATE_BACKEND_POSTGRES_PASSWORD"] = password
        let firings = fixture.directory + "/firings"
        let environments = fixture.directory + "/environments"
        try fixture.admin.query("INSERT INTO \(fixture.stateTable) VALUES ('prod:a', NULL, '{}', LOCALTIMESTAMP), ('prod:b', NULL, '{}', LOCALTIMESTAMP)")
        let command = #"printf '%s|%s\n' "$MELTANO_STATE_ID" "$MELTANO_STATE_REASON" >> "#
            + shellQuoted(firings) + " && env >> " + shellQuoted(environments)
        let watch = try RunningCLI(fixture, ["watch", "--interval", "0.1", "--stalled-after", "1h", "--exec", command], liveStandardError: true)
        #expect(watch.waitForStandardError(containing: "watching every state ID"), "\(watch.standardErrorSoFar)")
        func fired() -> [String] {
            ((try? String(contentsOfFile: firings, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        }
        // A lock left behind by a dead run: stale at once (10 minutes old).
        try fixture.admin.query("INSERT INTO \(fixture.locksTable) VALUES ('prod:a', LOCALTIMESTAMP - interval '10 minutes', 'dead-1')")
        #expect(waitUntil(timeout: 30) { fired().count == 1 }, "\(fired()) \(watch.standardErrorSoFar)")
        // A second problem elsewhere: its firing proves later checks ran while prod:a stayed stale.
        try fixture.admin.query("UPDATE \(fixture.stateTable) SET updated_at = LOCALTIMESTAMP - interval '2 hours' WHERE state_id = 'prod:b'")
        #expect(waitUntil(timeout: 30) { fired().count == 2 }, "\(fired())")
        #expect(fired() == ["prod:a|lock-stale", "prod:b|stalled"])
        // prod:a recovers (its lock released), prod:b advances (a real write); then prod:a's lock is left behind again.
        #expect(try fixture.run(["unlock", "prod:a", "dead-1", "--yes"]).status == 0)
        #expect(try fixture.run(["set", "--force", "prod:b", #"{"singer_state": {"n": 2}}"#]).status == 0)
        try fixture.admin.query("INSERT INTO \(fixture.locksTable) VALUES ('prod:c', LOCALTIMESTAMP - interval '1 hour', 'dead-c')")
        #expect(waitUntil(timeout: 30) { fired().count == 3 }, "\(fired())")
        // Only now prod:a's lock is stale again: recovered before, so it fires again.
        try fixture.admin.query("INSERT INTO \(fixture.locksTable) VALUES ('prod:a', LOCALTIMESTAMP - interval '10 minutes', 'dead-2')")
        #expect(waitUntil(timeout: 30) { fired().count == 4 }, "\(fired())")
        watch.signal(SIGINT)
        let end = watch.finish()
        #expect(end.status == 0, "Ctrl-C stops the watch cleanly: \(end.stderr)")
        #expect(fired() == ["prod:a|lock-stale", "prod:b|stalled", "prod:c|lock-stale", "prod:a|lock-stale"], "exactly once per transition")
        // Stdout: one line per transition (time, kind, reason, ID, detail); the order within one check may vary.
        let lines = end.stdout.split(separator: "\n").map { line in
            String(line.split(separator: " ", maxSplits: 1).last ?? "").split(separator: ":", maxSplits: 1).first.map(String.init) ?? ""
        }
        #expect(lines.sorted() == ["PROBLEM lock-stale 'prod", "PROBLEM lock-stale 'prod", "PROBLEM lock-stale 'prod", "PROBLEM stalled 'prod",
                                   "RECOVERED lock-stale 'prod", "RECOVERED stalled 'prod"], "\(end.stdout)")
        #expect(end.stdout.contains("PROBLEM stalled 'prod:b': not updated for 2 h 00 min\n") && end.stdout.contains("RECOVERED lock-stale 'prod:a'\n")
                && end.stdout.contains("PROBLEM lock-stale 'prod:c': lock held for 1 h 00 min\n"), "\(end.stdout)")
        let environment = try String(contentsOfFile: environments, encoding: .utf8)
        #expect(environment.contains("MELTANO_STATE_DETAIL=lock held for"), "the detail is given")
        #expect(!environment.contains(password), "never the password")
        #expect(!environment.contains("MELTANO_STATE_BACKEND_POSTGRES_PASSWORD"))
    }

    /// What each firing of `command` below wrote: its ID when it started, "done" when it
    /// ran to its end (30 s later: only a command that was not stopped does).
    static func slowCommand(_ fixture: CLIFixture) -> (command: String, started: () -> [String], finished: String) {
        let started = fixture.directory + "/started", finished = fixture.directory + "/finished"
        let command = #"printf '%s\n' "$MELTANO_STATE_ID" >> "# + shellQuoted(started) + "; sleep 30; echo done >> " + shellQuoted(finished)
        return (command, { ((try? String(contentsOfFile: started, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init) }, finished)
    }

    /// An ID holding an ESC and one holding the four characters `\x1b` are named apart
    /// (`$'…\x1b…'` against `'…\x1b…'`), as every other message names them, and the
    /// terminal never gets the ESC; `--exec` gets the ID as stored.
    @Test func watchNamesAControlCharacterApartFromItsEscapedText() throws {
        let fixture = try CLIFixture(schemaPrefix: "watchesc")
        try Self.plantTwoTables(fixture)
        let withEscape = "prod:\u{1B}[31mred", withText = #"prod:\x1b[31mred"#
        let started = fixture.directory + "/started"
        let command = #"printf '%s\n' "$MELTANO_STATE_ID" >> "# + shellQuoted(started)
        let watch = try RunningCLI(fixture, ["watch", "--interval", "0.1", "--stalled-after", "1h", "--exec", command], liveStandardError: true)
        #expect(watch.waitForStandardError(containing: "watching every state ID"), "\(watch.standardErrorSoFar)")
        try fixture.admin.query("INSERT INTO \(fixture.locksTable) VALUES ($1, LOCALTIMESTAMP - interval '10 minutes', 'dead-1'), ($2, LOCALTIMESTAMP - interval '10 minutes', 'dead-2')",
                                [withEscape, withText])
        func startedIDs() -> [String] {
            ((try? String(contentsOfFile: started, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        }
        #expect(waitUntil(timeout: 30) { startedIDs().count == 2 }, "\(startedIDs()) \(watch.standardErrorSoFar)")
        watch.signal(SIGINT)
        let end = watch.finish()
        #expect(end.status == 0, "\(end.stderr)")
        #expect(startedIDs().sorted() == [withEscape, withText].sorted(), "--exec gets the ID as stored")
        #expect(end.stdout.contains(#" PROBLEM lock-stale $'prod:\x1b[31mred': lock held for 10 min"#), "\(end.stdout.debugDescription)")
        #expect(end.stdout.contains(#" PROBLEM lock-stale 'prod:\x1b[31mred': lock held for 10 min"#), "\(end.stdout.debugDescription)")
        #expect(!end.stdout.contains("\u{1B}"), "no control character reaches the terminal: \(end.stdout.debugDescription)")
    }

    @Test func watchExecPastItsTimeoutIsStoppedAndTheWatchGoesOn() throws {
        let fixture = try CLIFixture(schemaPrefix: "watchlimit")
        try Self.plantTwoTables(fixture)
        let slow = Self.slowCommand(fixture)
        let watch = try RunningCLI(fixture, ["watch", "--interval", "0.1", "--stalled-after", "1h", "--exec", slow.command, "--exec-timeout", "1"],
                                   liveStandardError: true)
        #expect(watch.waitForStandardError(containing: "watching every state ID"), "\(watch.standardErrorSoFar)")
        try fixture.admin.query("INSERT INTO \(fixture.locksTable) VALUES ('prod:a', LOCALTIMESTAMP - interval '10 minutes', 'dead-a')")
        #expect(watch.waitForStandardError(containing: "watch: --exec ran past 1 s for 'prod:a' (lock-stale) and was stopped; give it longer with --exec-timeout."),
                "\(watch.standardErrorSoFar)")
        // The watch went on: the next problem runs its own command.
        try fixture.admin.query("INSERT INTO \(fixture.locksTable) VALUES ('prod:b', LOCALTIMESTAMP - interval '10 minutes', 'dead-b')")
        #expect(watch.waitForStandardError(containing: "for 'prod:b' (lock-stale) and was stopped"), "\(watch.standardErrorSoFar)")
        watch.signal(SIGINT)
        let end = watch.finish()
        #expect(end.status == 0, "\(end.stderr)")
        #expect(slow.started() == ["prod:a", "prod:b"])
        #expect(!FileManager.default.fileExists(atPath: slow.finished), "a stopped command does not run on: its process group was stopped")
    }

    @Test func ctrlCStopsARunningExecToo() throws {
        let fixture = try CLIFixture(schemaPrefix: "watchstop")
        try Self.plantTwoTables(fixture)
        let slow = Self.slowCommand(fixture)
        let watch = try RunningCLI(fixture, ["watch", "--interval", "0.1", "--stalled-after", "1h", "--exec", slow.command], liveStandardError: true)
        #expect(watch.waitForStandardError(containing: "watching every state ID"), "\(watch.standardErrorSoFar)")
        try fixture.admin.query("INSERT INTO \(fixture.locksTable) VALUES ('prod:a', LOCALTIMESTAMP - interval '10 minutes', 'dead-a')")
        #expect(waitUntil(timeout: 30) { slow.started() == ["prod:a"] }, "\(watch.standardErrorSoFar)")
        // Within the default 60 s limit: only Ctrl-C stops it (a watch that waited for it
        // would end after the command's 30 s, with "done" written).
        watch.signal(SIGINT)
        let end = watch.finish()
        #expect(end.status == 0 && end.stderr.contains("watch stopped"), "\(end.stderr)")
        #expect(!end.stderr.contains("ran past"), "stopping the watch is not the command's fault: \(end.stderr)")
        #expect(!FileManager.default.fileExists(atPath: slow.finished), "the running command was stopped with the watch")
    }

    // MARK: - check-health

    @Test func checkHealthExitCodesAndStatusLine() throws {
        let fixture = try CLIFixture(schemaPrefix: "health")
        try Self.plantTwoTables(fixture)
        func check(_ extra: [String] = []) throws -> (Int32, String) {
            let result = try fixture.run(["check-health", "--warn", "30m", "--crit", "2h"] + extra)
            #expect(result.stdout.split(separator: "\n").count == 1 && result.stdout.hasSuffix("\n"), "one line: \(result.stdout)")
            let parts = result.stdout.split(separator: "|")
            if result.status == 3 { return (result.status, String(result.stdout.dropLast())) }  // UNKNOWN: no perfdata
            #expect(parts.count == 2, "one perfdata separator: \(result.stdout)")
            // Perfdata: 'label'=value[UOM];[warn];[crit];[min];[max], space-separated.
            for item in (parts.last ?? "").trimmingCharacters(in: .whitespacesAndNewlines).split(separator: " ") {
                #expect(item.range(of: #"^[a-z_]+=-?[0-9.]+(s|%|B|c)?;[0-9.]*;[0-9.]*;[0-9.]*;[0-9.]*$"#, options: .regularExpression) != nil, "perfdata \(item)")
            }
            return (result.status, String(result.stdout.dropLast()))
        }
        try fixture.admin.query("INSERT INTO \(fixture.stateTable) VALUES ('prod:fresh', NULL, '{}', LOCALTIMESTAMP - interval '5 minutes')")
        let (ok, okLine) = try check()
        #expect(ok == 0 && okLine.hasPrefix("MELTANO-STATE OK - 1 states, none older than 30m"), "\(okLine)")
        #expect(okLine.contains(" states=1;;;0; "), "\(okLine)")

        try fixture.admin.query("INSERT INTO \(fixture.stateTable) VALUES ('prod:slow|x', NULL, '{}', LOCALTIMESTAMP - interval '45 minutes')")
        let (warning, warningLine) = try check()
        #expect(warning == 1 && warningLine.hasPrefix("MELTANO-STATE WARNING - 1 of 2 states not updated for 30m (prod:slow?x)"), "\(warningLine)")
        #expect(warningLine.contains(" stale_states_warn=1;;;0; "), "\(warningLine)")
        let (narrowed, _) = try check(["--pattern", "prod:f*"])
        #expect(narrowed == 0, "--pattern leaves the slow one out")

        try fixture.admin.query("INSERT INTO \(fixture.stateTable) VALUES ('prod:dead', NULL, '{}', LOCALTIMESTAMP - interval '3 hours')")
        let (critical, criticalLine) = try check()
        #expect(critical == 2 && criticalLine.hasPrefix("MELTANO-STATE CRITICAL - 1 of 3 states not updated for 2h, 1 of 3 states not updated for 30m"), "\(criticalLine)")
        #expect(criticalLine.contains("oldest_update_age=108"), "\(criticalLine)")

        try fixture.admin.query("DELETE FROM \(fixture.stateTable) WHERE state_id <> 'prod:fresh'")
        try fixture.admin.query("INSERT INTO \(fixture.locksTable) VALUES ('prod:fresh', LOCALTIMESTAMP - interval '20 minutes', 'dead')")
        let (stale, staleLine) = try check()
        #expect(stale == 2 && staleLine.hasPrefix("MELTANO-STATE CRITICAL - 1 stale lock (prod:fresh)"), "\(staleLine)")
        #expect(staleLine.contains(" stale_locks=1;;1;0;"), "\(staleLine)")

        // Nothing listens there: UNKNOWN, exit 3, still one line on stdout.
        fixture.environment["MELTANO_STATE_BACKEND_URI"] = "postgres://postgres@127.0.0.1:1/postgres/x"
        let (unknown, unknownLine) = try check()
        #expect(unknown == 3 && unknownLine.hasPrefix("MELTANO-STATE UNKNOWN - "), "\(unknownLine)")
        let badOption = try fixture.run(["check-health", "--warn", "soon"])
        #expect(badOption.status == 3 && badOption.stdout.hasPrefix("MELTANO-STATE UNKNOWN - --warn 'soon' is not a duration"), "\(badOption.stdout)")
        let huge = try fixture.run(["check-health", "--warn", "1e300", "--crit", "1e301"])
        #expect(huge.status == 3 && huge.stdout.contains("up to 100 years"), "\(huge.stdout) \(huge.stderr)")
        let inverted = try fixture.run(["check-health", "--warn", "3h", "--crit", "2h"])
        #expect(inverted.status == 3, "\(inverted.stdout)")
    }
}
