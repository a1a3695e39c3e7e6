import Foundation
import Monitoring
import StateStore
import Testing

@Suite("Monitoring: exposition, selection, health, watch transitions, HTTP parsing")
struct MonitoringUnitTests {
    @Test func labelValuesAreEscapedAsTheFormatSays() {
        #expect(MetricsExposition.escapeLabelValue(#"a"b\c"#) == #"a\"b\\c"#)
        #expect(MetricsExposition.escapeLabelValue("x\ny") == #"x\ny"#)
        #expect(MetricsExposition.escapeLabelValue("tab\there é 🚀") == "tab\there é 🚀", "other characters stay as they are (UTF-8)")
    }

    @Test func valuesAreIntegersOrMilliseconds() {
        #expect(MetricsExposition.value(3) == "3")
        #expect(MetricsExposition.value(-2) == "-2")
        #expect(MetricsExposition.value(1.23456) == "1.235")
        #expect(MetricsExposition.value(.infinity) == "+Inf")
        #expect(MetricsExposition.value(.nan) == "NaN")
    }

    @Test func theMostUrgentIDsAreKeptAndTheRestCounted() {
        var collector = MetricsCollector(maxSeries: 3)
        for i in 0..<100 { collector.add(MonitoredState(stateID: "ok-\(i)", updateAgeSeconds: Double(i))) }
        collector.add(MonitoredState(stateID: "stale-lock", updateAgeSeconds: 1, lockHeld: true, lockAgeSeconds: 900, lockIsStale: true))
        collector.add(MonitoredState(stateID: "held", updateAgeSeconds: 1, lockHeld: true, lockAgeSeconds: 5))
        collector.add(MonitoredState(stateID: "other", updateAgeSeconds: 1e6, matchesPattern: false))
        #expect(collector.series.map(\.stateID) == ["held", "ok-99", "stale-lock"], "stale first, then held, then the oldest; sorted by ID")
        #expect(collector.omitted == 99)
        #expect(collector.matching == 102)
        #expect(collector.states == 103 && collector.locksHeld == 2 && collector.locksStale == 1)
        #expect(collector.oldestUpdateAge == 1e6, "totals are of every ID, matching or not")
    }

    @Test func equalUrgencyKeepsTheFirstIDs() {
        var collector = MetricsCollector(maxSeries: 2)
        for id in ["d", "c", "a", "e", "b"] { collector.add(MonitoredState(stateID: id, updateAgeSeconds: 7)) }
        #expect(collector.series.map(\.stateID) == ["a", "b"])
        var ascending = MetricsCollector(maxSeries: 3)
        for i in 0..<1000 { ascending.add(MonitoredState(stateID: "id-\(i)", updateAgeSeconds: Double(i))) }
        #expect(ascending.series.map(\.stateID) == ["id-997", "id-998", "id-999"], "rows arriving oldest last")
    }

    @Test func zeroSeriesGivesTotalsOnly() {
        var collector = MetricsCollector(maxSeries: 0)
        collector.add(MonitoredState(stateID: "a", updateAgeSeconds: 5))
        let text = String(decoding: MetricsExposition(format: .prometheus, layout: .twoTables).render(collector, scrapeDurationSeconds: 0.5), as: UTF8.self)
        #expect(!text.contains("state_id="))
        #expect(text.contains("meltano_state_series_omitted_ids 1\n"))
        #expect(text.contains("# 1 of 1 state IDs have no per-ID series here"))
        #expect(text.contains("meltano_state_scrape_duration_seconds 0.500\n"))
    }

    @Test func openMetricsEndsWithEOFAndHasNoFreeComments() {
        var collector = MetricsCollector(maxSeries: 0)
        collector.add(MonitoredState(stateID: "a", updateAgeSeconds: 5))
        let text = String(decoding: MetricsExposition(format: .openMetrics, layout: .systemDB).render(collector, scrapeDurationSeconds: 0), as: UTF8.self)
        #expect(text.hasSuffix("# EOF\n"))
        let comments = text.split(separator: "\n").filter { $0.hasPrefix("#") && !$0.hasPrefix("# HELP ") && !$0.hasPrefix("# TYPE ") && $0 != "# EOF" }
        #expect(comments.isEmpty, "\(comments)")
        #expect(text.contains("meltano_state_runs_running 0\n") && !text.contains("meltano_state_locks_held"), "runs for the system database, no locks")
    }

    @Test func healthVerdicts() {
        var check = HealthCheck(warn: 1800, crit: 7200)
        check.add(MonitoredState(stateID: "fresh", updateAgeSeconds: 60))
        #expect(check.status == .ok)
        #expect(check.statusLine(hasLocks: true, hasRuns: false).hasPrefix("MELTANO-STATE OK - 1 states, none older than 30m; oldest fresh 1 min 0 s | states=1;;;0; "))
        check.add(MonitoredState(stateID: "slow|x\n", updateAgeSeconds: 3600))
        #expect(check.status == .warning)
        let line = check.statusLine(hasLocks: true, hasRuns: false)
        #expect(line.hasPrefix("MELTANO-STATE WARNING - 1 of 2 states not updated for 30m (slow?x?); oldest slow?x? 1 h 00 min | "), "\(line)")
        #expect(line.split(separator: "|").count == 2 && !line.contains("\n"))
        #expect(line.contains(" oldest_update_age=3600s;1800;7200;0; "), "\(line)")
        check.add(MonitoredState(stateID: "dead", updateAgeSeconds: 10, lockHeld: true, lockAgeSeconds: 900, lockIsStale: true))
        #expect(check.status == .critical)
        #expect(check.statusLine(hasLocks: true, hasRuns: false).contains("1 stale lock, 1 of 3 states not updated for 30m"))
        #expect(HealthStatus.unknown.rawValue == 3)
    }

    /// Two IDs that differ only in how é is written are two IDs: each problem begins
    /// and ends on its own (keyed by String, the second one never fired).
    @Test func watchTellsIDsApartByTheirBytes() {
        var tracker = WatchTracker(stalledAfter: 3600)
        let composed = "caf\u{E9}", decomposed = "cafe\u{301}"
        let one = MonitoredState(stateID: composed, updateAgeSeconds: 10, lockHeld: true, lockAgeSeconds: 600, lockIsStale: true)
        var two = one
        two.stateID = decomposed
        let began = [one, two].flatMap { tracker.observe($0) } + tracker.finish()
        #expect(began.map { Array($0.stateID.utf8) } == [Array(composed.utf8), Array(decomposed.utf8)] && began.allSatisfy(\.began))
        let ended = tracker.observe(two) + tracker.finish()
        #expect(ended.map { Array($0.stateID.utf8) } == [Array(composed.utf8)] && ended.allSatisfy { !$0.began })
    }

    @Test func watchReportsEachTransitionOnce() {
        var tracker = WatchTracker(stalledAfter: 3600)
        func check(_ states: [MonitoredState]) -> [String] {
            var events = states.flatMap { tracker.observe($0) }
            events += tracker.finish()
            return events.map { "\($0.began ? "+" : "-")\($0.stateID) \($0.reason.rawValue)" }
        }
        let stale = MonitoredState(stateID: "a", updateAgeSeconds: 10, lockHeld: true, lockAgeSeconds: 600, lockIsStale: true)
        let fine = MonitoredState(stateID: "a", updateAgeSeconds: 10)
        #expect(check([fine]) == [])
        #expect(check([stale]) == ["+a lock-stale"])
        #expect(check([stale]) == [], "once per transition")
        #expect(check([fine]) == ["-a lock-stale"])
        #expect(check([fine]) == [])
        #expect(check([stale]) == ["+a lock-stale"], "again after a recovery")
        var old = stale
        old.updateAgeSeconds = 7200
        #expect(check([old]) == ["+a stalled"])
        #expect(check([]) == ["-a lock-stale", "-a stalled"], "a state that is gone is no longer a problem")
    }

    @Test func requestsAreParsedAndRouted() {
        let get = HTTPRequest.parse(Array("GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\nAccept: application/openmetrics-text\r\n".utf8))
        #expect(get == HTTPRequest(method: "GET", path: "/metrics", accept: "application/openmetrics-text"))
        #expect(HTTPRequest.parse(Array("garbage".utf8)) == nil)
        #expect(HTTPRequest.parse([0xFF, 0xFE]) == nil)
        let scrape: (HTTPRequest) -> HTTPResponse = { _ in HTTPResponse(status: 200, reason: "OK", body: Array("m 1\n".utf8)) }
        #expect(route(get, scrape: scrape).status == 200)
        #expect(route(HTTPRequest(method: "GET", path: "/nope", accept: ""), scrape: scrape).status == 404)
        #expect(route(HTTPRequest(method: "POST", path: "/metrics", accept: ""), scrape: scrape).status == 405)
        #expect(route(nil, scrape: scrape).status == 400)
    }

    @Test func listenAddresses() throws {
        #expect(try ListenAddress.parse("127.0.0.1:9187") == ListenAddress(host: "127.0.0.1", port: 9187, isIPv6: false))
        #expect(try ListenAddress.parse("localhost:0").isLoopback)
        #expect(try ListenAddress.parse("[::1]:80").isLoopback)
        #expect(try !ListenAddress.parse("0.0.0.0:80").isLoopback)
        #expect(try !ListenAddress.parse("[::]:80").isLoopback)
        #expect(throws: MetricsServerError.self) { try ListenAddress.parse("example.com:80") }
        #expect(throws: MetricsServerError.self) { try ListenAddress.parse("127.0.0.1") }
        #expect(throws: MetricsServerError.self) { try ListenAddress.parse("127.0.0.1:70000") }
        #expect(throws: MetricsServerError.self) { try MetricsServer(ListenAddress.parse("0.0.0.0:0"), allowRemote: false) }
    }
}
