import ArgumentParser
import ChildProcess
import Foundation
import Monitoring
import StateConfig
import StateStore

// `metrics`, `watch` and `check-health`: the logic is in the Monitoring module (what
// is measured, the exposition, the Nagios verdict, the watch's transitions, the HTTP
// server); here only arguments, the store and the process around them.

/// A duration option (`30m`, `2h`, `90s`, `1d`, plain seconds), or a usage error naming it.
func durationOption(_ text: String, _ option: String, allowZero: Bool = false) throws -> Double {
    guard let seconds = parseSeconds(text), allowZero || seconds > 0, seconds <= 100 * 365 * 86_400 else {
        throw CommandFailure("\(option) '\(text)' is not a duration: give seconds or a number with s, m, h or d (e.g. 90s, 30m, 2h, 1d)\(allowZero ? "" : ", above zero"), up to 100 years.", code: Exit.usage)
    }
    return seconds
}

/// One pass over every state ID the store knows of.
func collectMetrics(_ store: StateStore, pattern: String?, maxSeries: Int) throws -> MetricsCollector {
    var collector = MetricsCollector(maxSeries: maxSeries)
    try store.forEachMonitoredState(pattern: pattern) { collector.add($0) }
    return collector
}

struct MetricsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "metrics",
        abstract: "Prometheus/OpenMetrics text of state ages, locks and runs (for node_exporter's textfile collector, or --listen for scrapes).",
        discussion: """
            Per state ID (label state_id): seconds since the state was written, lock held, lock age and stale \
            (two-tables and single-table), RUNNING runs and seconds since their last heartbeat (system database). \
            Totals over every state ID, and the scrape's duration. All are gauges.

            Per-ID series are given for at most --max-series state IDs matching --pattern: those with a stale \
            lock or run first, then held locks, running runs, then the least recently updated. \
            meltano_state_series_omitted_ids counts the rest (and a comment says so, in the Prometheus format).

            --output FILE writes the file atomically (a temporary file renamed over it), as the textfile \
            collector needs. --listen 127.0.0.1:9187 serves /metrics over HTTP until Ctrl-C or SIGTERM (port 0: \
            any free port, printed on stderr); only loopback addresses unless --allow-remote, since the metrics \
            name every state ID and the server has no TLS or authentication. A scraper that asks for OpenMetrics \
            (Accept: application/openmetrics-text) gets it. If the database cannot be read, a scrape answers \
            meltano_state_up 0.

            Examples:
              meltano-state metrics --output /var/lib/node_exporter/textfile/meltano_state.prom
              meltano-state metrics --pattern 'prod:*' --max-series 200
              meltano-state metrics --listen 127.0.0.1:9187
            """)
    @OptionGroup var global: GlobalOptions
    @Option(name: .long, help: "Per-ID series only for state IDs matching this glob (totals are of all).") var pattern: String?
    @Option(name: .long, help: "At most this many state IDs get per-ID series (0: totals only).") var maxSeries = 1000
    @Option(name: .long, help: "prometheus (text format 0.0.4, the default) or openmetrics.") var format = "prometheus"
    @Option(name: .long, help: "Write to this file atomically instead of stdout.") var output: String?
    @Option(name: .long, help: ArgumentHelp("Serve /metrics over HTTP at this address.", valueName: "host:port")) var listen: String?
    @Flag(name: .long, help: "Let --listen use an address that is not loopback.") var allowRemote = false

    func validate() throws {
        guard ExpositionFormat(rawValue: format) != nil else {
            throw ValidationError("--format '\(format)': say prometheus or openmetrics.")
        }
        guard maxSeries >= 0 else { throw ValidationError("--max-series must be 0 or more.") }
        if listen != nil && output != nil { throw ValidationError("--listen and --output do not go together.") }
        if allowRemote && listen == nil { throw ValidationError("--allow-remote is for --listen.") }
    }

    func run() throws {
        let format = ExpositionFormat(rawValue: self.format)!
        if let listen {
            let server = try MetricsServer(try ListenAddress.parse(listen), allowRemote: allowRemote)
            let store = try Context(global).store
            try serve(server, store: store, exposition: MetricsExposition(format: format, layout: store.layout, pattern: pattern))
            return
        }
        let started = Date()
        var layout = StorageLayout.twoTables
        do {
            let store = try Context(global).store
            layout = store.layout
            let collector = try collectMetrics(store, pattern: pattern, maxSeries: maxSeries)
            let bytes = MetricsExposition(format: format, layout: layout, pattern: pattern)
                .render(collector, scrapeDurationSeconds: Date().timeIntervalSince(started))
            if let output {
                try writeAtomically(bytes, to: output)
            } else if isatty(STDOUT_FILENO) == 1 {
                // State IDs may hold escape sequences: shown escaped on a terminal, byte for byte in a pipe.
                writeOut(terminalSafe(String(decoding: bytes, as: UTF8.self)))
            } else {
                writeOut(bytes: bytes)
            }
        } catch {
            // The textfile collector would go on serving the last good file as if it were
            // current: replace it with meltano_state_up 0 (and still fail).
            if let output, !(error is CommandFailure) {
                let down = MetricsExposition(format: format, layout: layout, pattern: pattern)
                    .render(nil, scrapeDurationSeconds: Date().timeIntervalSince(started))
                try? writeAtomically(down, to: output)
            }
            throw error
        }
    }

    private func serve(_ server: MetricsServer, store: StateStore, exposition: MetricsExposition) throws {
        let scrapes = NSLock()  // one store, one statement at a time: concurrent scrapes queue here
        let pattern = self.pattern, maxSeries = self.maxSeries, quiet = global.quiet
        var stopEnds: [Int32] = [-1, -1]
        guard pipe(&stopEnds) == 0 else { throw CommandFailure("cannot create a pipe: \(String(cString: strerror(errno)))") }
        defer { close(stopEnds[0]); close(stopEnds[1]) }
        let stopWrite = stopEnds[1]
        let watch = InterruptWatch(signals: [SIGINT, SIGTERM].filter { !isIgnored($0) }) { _ in
            var byte: UInt8 = 1
            _ = write(stopWrite, &byte, 1)
        }
        defer { watch.stop() }
        printNote("meltano-state: serving metrics at http://\(server.address)/metrics (Ctrl-C or SIGTERM stops)", quiet: quiet)
        server.serve(until: stopEnds[0]) { request in
            route(request) { request in
                var chosen = exposition
                if request.accept.contains("application/openmetrics-text") { chosen.format = .openMetrics }
                scrapes.lock()
                defer { scrapes.unlock() }
                let started = Date()
                var collector: MetricsCollector?
                do {
                    collector = try collectMetrics(store, pattern: pattern, maxSeries: maxSeries)
                } catch {
                    printError("scrape failed (answered meltano_state_up 0): \(error)")
                }
                let body = chosen.render(collector, scrapeDurationSeconds: Date().timeIntervalSince(started))
                return HTTPResponse(status: 200, reason: "OK", contentType: chosen.format.contentType, body: body)
            }
        }
        printNote("meltano-state: stopped serving metrics.", quiet: quiet)
    }
}

/// Writes `bytes` to a temporary file beside `path`, flushes it and renames it over
/// `path`: a reader (node_exporter) sees the old file or the new one, never half.
func writeAtomically(_ bytes: [UInt8], to path: String) throws {
    let temporary = path + ".tmp.\(getpid())"
    let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw CommandFailure("Cannot write \(temporary): \(String(cString: strerror(errno))). Check that the directory exists and is writable.") }
    var offset = 0
    var failure: Int32 = 0
    while offset < bytes.count {
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { failure = errno; break }
        offset += n
    }
    if failure == 0 && fsync(fd) != 0 { failure = errno }
    close(fd)
    if failure == 0 && rename(temporary, path) != 0 { failure = errno }
    if failure != 0 {
        unlink(temporary)
        throw CommandFailure("Cannot write \(path): \(String(cString: strerror(failure))); the previous file is left as it was.")
    }
}

struct CheckHealthCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-health",
        abstract: "A Nagios/Icinga check: states not updated, stale locks, stuck runs (exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN).",
        discussion: """
            Prints one line, `MELTANO-STATE STATUS - summary | perfdata`, and exits with the plugin's code. Over \
            the state IDs matching --pattern (all by default):
              WARNING   a state not written for --warn (default 30m)
              CRITICAL  a state not written for --crit (default 2h); a stale lock (held past stale_lock_after, \
            default 5 min: every run of that ID fails until it is released); a RUNNING run without a heartbeat \
            for 5 minutes (system database, Meltano's rule)
              UNKNOWN   the database cannot be reached or read, or an option is wrong
            A lock held or a run RUNNING that is not stale is a pipeline at work: not a problem. \
            (This check's exit 3 is UNKNOWN, not "lock held" as for the other commands.)

            Examples:
              meltano-state check-health --warn 30m --crit 2h
              meltano-state check-health --pattern 'prod:*' --warn 1d --crit 2d
            """)
    @OptionGroup var global: GlobalOptions
    @Option(name: .long, help: "WARNING when a state was not written for this long (30m, 2h, 1d, seconds).") var warn = "30m"
    @Option(name: .long, help: "CRITICAL when a state was not written for this long.") var crit = "2h"
    @Option(name: .long, help: "Only state IDs matching this glob.") var pattern: String?

    func run() throws {
        let line: String, status: HealthStatus
        do {
            let warnSeconds = try durationOption(warn, "--warn")
            let critSeconds = try durationOption(crit, "--crit")
            guard warnSeconds <= critSeconds else { throw CommandFailure("--warn (\(warn)) is longer than --crit (\(crit)).", code: Exit.usage) }
            let context = try Context(global)
            var check = HealthCheck(warn: warnSeconds, crit: critSeconds)
            try context.store.forEachMonitoredState(pattern: pattern) { check.add($0) }
            line = check.statusLine(hasLocks: context.store.layout.hasLocks, hasRuns: context.store.layout.hasRuns)
            status = check.status
        } catch {
            let message = (error as? CommandFailure)?.message ?? "\(error)"
            line = "MELTANO-STATE UNKNOWN - " + oneLine(message, also: ["|"])
            status = .unknown
        }
        // State IDs in the summary: escape sequences, C1 and bidi controls shown escaped, as everywhere.
        writeOut(terminalSafe(line, keepingLineBreaks: false) + "\n")
        throw ExitCode(status.rawValue)
    }
}

struct WatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Re-check every N seconds; print a line (and run --exec) when a lock turns stale, a state stops advancing or a run goes silent.",
        discussion: """
            Each problem is reported once when it begins (or, at the first check, when it is first seen), \
            and its end once as RECOVERED; it is reported again only after it ended and began anew. Problems:
              lock-stale  the lock is held past stale_lock_after (default 5 min)
              stalled     the state was not written for --stalled-after (default 24h; 0 turns this off)
              run-stale   a RUNNING run without a heartbeat for 5 minutes (system database)
            Lines go to stdout: `TIME PROBLEM reason 'ID': detail` and `TIME RECOVERED reason 'ID'`.

            --exec CMD runs through /bin/sh for each PROBLEM, one at a time, with MELTANO_STATE_ID, \
            MELTANO_STATE_REASON and MELTANO_STATE_DETAIL in its environment (and never a password: the \
            environment is this process's without any secret setting). The watch waits for it, up to \
            --exec-timeout (60s): a command still running then is stopped (SIGTERM to its process group, \
            SIGKILL 5 s later), reported on stderr, and the watch goes on. Ctrl-C stops a running one too.

            A check that fails (the database went away) is reported on stderr and retried at the next \
            interval. Ctrl-C or SIGTERM stops the watch (exit 0).

            Examples:
              meltano-state watch --interval 60 --exec 'notify-send "$MELTANO_STATE_ID: $MELTANO_STATE_REASON"'
              meltano-state watch --pattern 'prod:*' --stalled-after 6h
            """)
    @OptionGroup var global: GlobalOptions
    @Option(name: .long, help: "Seconds between checks (also 30s, 5m).") var interval = "60"
    @Option(name: .long, help: "A state not written for this long has stopped advancing (24h; 0: do not check).") var stalledAfter = "24h"
    @Option(name: .long, help: "Only state IDs matching this glob.") var pattern: String?
    @Option(name: .long, help: ArgumentHelp("Shell command run for each problem (MELTANO_STATE_ID, MELTANO_STATE_REASON, MELTANO_STATE_DETAIL set).", valueName: "cmd")) var exec: String?
    @Option(name: .long, help: "How long an --exec command may run before it is stopped (also 30s, 5m; 0: no limit).") var execTimeout = "60"

    func run() throws {
        let intervalSeconds = try durationOption(interval, "--interval")
        let execLimit = try durationOption(execTimeout, "--exec-timeout", allowZero: true)
        let stalled = try durationOption(stalledAfter, "--stalled-after", allowZero: true)
        let context = try Context(global)
        let store = context.store
        let baseEnvironment = context.configuration.environmentWithoutSecrets(ProcessInfo.processInfo.environment)
        let wake = DispatchSemaphore(value: 0)
        let stopped = CancellationFlag()
        let watch = InterruptWatch(signals: [SIGINT, SIGTERM].filter { !isIgnored($0) }) { _ in
            stopped.cancel()
            store.cancellation.cancel()
            wake.signal()
            Thread.detachNewThread { store.cancelRunningStatement() }
        }
        defer { watch.stop() }
        var tracker = WatchTracker(stalledAfter: stalled > 0 ? stalled : nil)
        printNote("meltano-state: watching \(pattern.map { "state IDs matching '\($0)'" } ?? "every state ID") every \(formatAge(intervalSeconds)) (Ctrl-C stops)", quiet: global.quiet)
        while !stopped.isCancelled {
            var began: [WatchEvent] = []
            do {
                try store.forEachMonitoredState(pattern: pattern) { state in began += tracker.observe(state) }
                let ended = tracker.finish()
                for event in began { report(event, environment: baseEnvironment, limit: execLimit, stopped: stopped) }
                for event in ended { report(event, environment: baseEnvironment, limit: execLimit, stopped: stopped) }
            } catch {
                tracker.abandon()
                if stopped.isCancelled { break }
                printError("watch: this check failed, trying again in \(formatAge(intervalSeconds)): \(error)")
                // Problems the failed check did see are reported; their ends wait for a whole check.
                for event in began { report(event, environment: baseEnvironment, limit: execLimit, stopped: stopped) }
            }
            if stopped.isCancelled { break }
            _ = wake.wait(timeout: .now() + intervalSeconds)
        }
        printNote("meltano-state: watch stopped.", quiet: global.quiet)
    }

    private func report(_ event: WatchEvent, environment: [String: String], limit: Double, stopped: CancellationFlag) {
        let time = ISO8601DateFormatter().string(from: Date())
        // quotedID of the ID as stored: its output is terminal-safe already, and it shows a
        // control character as $'\x1b', apart from an ID holding the text \x1b.
        let id = quotedID(event.stateID)
        let line = event.began ? "\(time) PROBLEM \(event.reason.rawValue) \(id): \(event.detail)\n"
                               : "\(time) RECOVERED \(event.reason.rawValue) \(id)\n"
        writeOut(line)
        guard event.began, let exec else { return }
        var childEnvironment = environment
        childEnvironment["MELTANO_STATE_ID"] = event.stateID
        childEnvironment["MELTANO_STATE_REASON"] = event.reason.rawValue
        childEnvironment["MELTANO_STATE_DETAIL"] = event.detail
        if stopped.isCancelled { return }
        do {
            // A process group of its own, so that stopping it stops what it started.
            let child = try ChildProcess("/bin/sh", ["-c", exec], environment: childEnvironment, standardInput: .null, newProcessGroup: true)
            let deadline = limit > 0 ? Date().addingTimeInterval(limit) : Date.distantFuture
            var end: Termination? = nil
            // Waited for in short steps, so that Ctrl-C (the watch's stop) is seen at once.
            while end == nil && !stopped.isCancelled && Date() < deadline {
                end = child.wait(timeout: min(0.2, max(0, deadline.timeIntervalSinceNow)))
            }
            if let end {
                if end.code != 0 { printError("watch: --exec ended with \(end) for \(id) (\(event.reason.rawValue)).") }
                return
            }
            child.signal(SIGTERM, group: true)
            if child.wait(timeout: 5) == nil {
                child.signal(SIGKILL, group: true)
                child.wait()
            }
            if !stopped.isCancelled {
                printError("watch: --exec ran past \(formatAge(limit)) for \(id) (\(event.reason.rawValue)) and was stopped; give it longer with --exec-timeout.")
            }
        } catch {
            printError("watch: cannot run --exec: \(error)")
        }
    }
}
