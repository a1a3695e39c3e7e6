import Foundation
import StateStore

/// Totals over every state ID, and the per-ID series of at most `maxSeries` of the IDs
/// matching the pattern: the ones most in need of attention (a stale lock or run
/// first, then a held lock, a RUNNING run, then the longest without an update). Memory
/// is that of the kept IDs, whatever the number of rows streamed through `add`.
public struct MetricsCollector: Sendable {
    public let maxSeries: Int
    public private(set) var states = 0
    public private(set) var locksHeld = 0
    public private(set) var locksStale = 0
    public private(set) var runsRunning = 0
    public private(set) var runsStale = 0
    /// Seconds since the least recently updated state was written (nil: no state).
    public private(set) var oldestUpdateAge: Double?
    /// IDs matching the pattern (each would have its own series without a limit).
    public private(set) var matching = 0
    private var kept: MostUrgent

    public init(maxSeries: Int) {
        self.maxSeries = max(0, maxSeries)
        kept = MostUrgent(capacity: self.maxSeries)
    }

    public mutating func add(_ state: MonitoredState) {
        if state.hasState {
            states += 1
            if let age = state.updateAgeSeconds { oldestUpdateAge = max(oldestUpdateAge ?? age, age) }
        }
        if state.lockHeld { locksHeld += 1 }
        if state.lockIsStale { locksStale += 1 }
        runsRunning += state.runsRunning
        if state.runIsStale { runsStale += 1 }
        guard state.matchesPattern else { return }
        matching += 1
        kept.insert(state)
    }

    /// The kept IDs, in state ID order.
    public var series: [MonitoredState] { kept.states.sorted { $0.stateID < $1.stateID } }
    /// Matching IDs left without series by `maxSeries`.
    public var omitted: Int { matching - kept.states.count }
}

/// How much a state ID needs attention: a stale lock or run, a held lock, a RUNNING
/// run, nothing; then the time since its last update.
struct Urgency: Comparable {
    var level: Int
    var age: Double

    init(_ state: MonitoredState) {
        level = state.lockIsStale || state.runIsStale ? 3 : state.lockHeld ? 2 : state.runsRunning > 0 ? 1 : 0
        age = state.updateAgeSeconds ?? 0
    }

    static func < (a: Urgency, b: Urgency) -> Bool { a.level != b.level ? a.level < b.level : a.age < b.age }
}

/// The `capacity` most urgent states seen, in a min-heap (the least urgent at the
/// root): O(log capacity) an insert, memory O(capacity). The keys sit in an array of
/// their own, so ordering touches no state (a million rows stream through here);
/// equal urgency: the later state ID is the less urgent.
struct MostUrgent {
    let capacity: Int
    private var keys: [Urgency] = []
    private(set) var states: [MonitoredState] = []

    init(capacity: Int) { self.capacity = capacity }

    private func lessUrgent(_ i: Int, _ j: Int) -> Bool {
        if keys[i] != keys[j] { return keys[i] < keys[j] }
        return states[j].stateID < states[i].stateID
    }

    mutating func insert(_ state: MonitoredState) {
        guard capacity > 0 else { return }
        let key = Urgency(state)
        if keys.count < capacity {
            keys.append(key)
            states.append(state)
            var child = keys.count - 1
            while child > 0 {
                let parent = (child - 1) / 2
                guard lessUrgent(child, parent) else { break }
                keys.swapAt(child, parent)
                states.swapAt(child, parent)
                child = parent
            }
            return
        }
        // Not more urgent than the least urgent kept: dropped without touching the heap.
        if key < keys[0] { return }
        if key == keys[0] && !(state.stateID < states[0].stateID) { return }
        keys[0] = key
        states[0] = state
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < keys.count && lessUrgent(left, smallest) { smallest = left }
            if right < keys.count && lessUrgent(right, smallest) { smallest = right }
            if smallest == parent { break }
            keys.swapAt(parent, smallest)
            states.swapAt(parent, smallest)
            parent = smallest
        }
    }
}

/// The text formats Prometheus reads: the classic text format 0.0.4 (what
/// node_exporter's textfile collector reads), or OpenMetrics 1.0 (`# EOF` at the end,
/// and no comments other than HELP and TYPE).
public enum ExpositionFormat: String, Sendable, CaseIterable {
    case prometheus
    case openMetrics = "openmetrics"

    public var contentType: String {
        switch self {
        case .prometheus: return "text/plain; version=0.0.4; charset=utf-8"
        case .openMetrics: return "application/openmetrics-text; version=1.0.0; charset=utf-8"
        }
    }
}

/// Renders what a collector gathered as metrics. Every family is a gauge; names and
/// units follow Prometheus' conventions; label values are escaped as the format says
/// (backslash, double quote, line feed), so any state ID is one well-formed label.
public struct MetricsExposition: Sendable {
    public var format: ExpositionFormat
    public var layout: StorageLayout
    /// The `--pattern` given, named in the comment about omitted series.
    public var pattern: String?

    public init(format: ExpositionFormat, layout: StorageLayout, pattern: String? = nil) {
        self.format = format
        self.layout = layout
        self.pattern = pattern
    }

    /// The whole exposition; `up` false renders only `meltano_state_up 0` and the
    /// scrape duration (the database could not be read).
    public func render(_ collector: MetricsCollector?, scrapeDurationSeconds: Double) -> [UInt8] {
        var out: [UInt8] = []
        let series = collector?.series ?? []
        // Four families per ID, each line its name, the escaped ID and a value: grown once, not doubled.
        out.reserveCapacity(4096 + series.reduce(0) { $0 + 4 * (70 + $1.stateID.utf8.count + $1.stateID.utf8.count / 8) })
        family(&out, "meltano_state_up", "1 when the state tables could be read, 0 when not.") { line in
            line("", collector == nil ? 0 : 1)
        }
        if let collector {
            family(&out, "meltano_state_states", "State IDs with a row in the state table.") { $0("", Double(collector.states)) }
            if let oldest = collector.oldestUpdateAge {
                family(&out, "meltano_state_oldest_update_age_seconds", "Seconds since the least recently updated state was written.") { $0("", oldest) }
            }
            if layout.hasLocks {
                family(&out, "meltano_state_locks_held", "Locks held now.") { $0("", Double(collector.locksHeld)) }
                family(&out, "meltano_state_locks_stale", "Locks held longer than the stale-lock threshold.") { $0("", Double(collector.locksStale)) }
            }
            if layout.hasRuns {
                family(&out, "meltano_state_runs_running", "Runs marked RUNNING in Meltano's system database.") { $0("", Double(collector.runsRunning)) }
                family(&out, "meltano_state_jobs_stale", "State IDs (jobs) with a RUNNING run that is stale by Meltano's heartbeat rule.") { $0("", Double(collector.runsStale)) }
            }
            family(&out, "meltano_state_series_ids", "State IDs given per-ID series in this exposition.") { $0("", Double(series.count)) }
            family(&out, "meltano_state_series_omitted_ids", "State IDs matching the pattern left without per-ID series by --max-series.") { $0("", Double(collector.omitted)) }
            if collector.omitted > 0 && format == .prometheus {
                let what = pattern.map { "matching '\(oneLine($0))' " } ?? ""
                comment(&out, "\(collector.omitted) of \(collector.matching) state IDs \(what)have no per-ID series here (--max-series \(collector.maxSeries)); the kept ones are those with stale locks or runs, held locks, running runs, then the least recently updated.")
            }
            perID(&out, series, "meltano_state_update_age_seconds", "Seconds since the state was last written (updated_at).") {
                $0.hasState ? $0.updateAgeSeconds : nil
            }
            if layout.hasLocks {
                perID(&out, series, "meltano_state_lock_held", "1 when the state ID's lock is held.") { $0.lockHeld ? 1 : 0 }
                perID(&out, series, "meltano_state_lock_age_seconds", "Seconds since the held lock was taken.") { $0.lockHeld ? $0.lockAgeSeconds : nil }
                perID(&out, series, "meltano_state_lock_stale", "1 when the held lock is stale.") { $0.lockIsStale ? 1 : 0 }
            }
            if layout.hasRuns {
                perID(&out, series, "meltano_state_job_runs_running", "Runs of this job (state ID) marked RUNNING.") { Double($0.runsRunning) }
                perID(&out, series, "meltano_state_job_heartbeat_age_seconds", "Seconds since the last heartbeat of the job's most silent RUNNING run (since its start without one).") {
                    $0.runsRunning > 0 ? $0.heartbeatAgeSeconds : nil
                }
                perID(&out, series, "meltano_state_job_run_stale", "1 when a RUNNING run of this job is stale by Meltano's heartbeat rule.") { $0.runIsStale ? 1 : 0 }
            }
        }
        family(&out, "meltano_state_scrape_duration_seconds", "Seconds this exposition took to gather.") { $0("", scrapeDurationSeconds) }
        if format == .openMetrics { out.append(contentsOf: "# EOF\n".utf8) }
        return out
    }

    private func family(_ out: inout [UInt8], _ name: String, _ help: String, _ samples: ((String, Double) -> Void) -> Void) {
        out.append(contentsOf: "# HELP \(name) \(help)\n# TYPE \(name) gauge\n".utf8)
        samples { labels, value in
            out.append(contentsOf: name.utf8)
            out.append(contentsOf: labels.utf8)
            out.append(UInt8(ascii: " "))
            Self.appendValue(value, to: &out)
            out.append(UInt8(ascii: "\n"))
        }
    }

    private func perID(_ out: inout [UInt8], _ series: [MonitoredState], _ name: String, _ help: String,
                       _ value: (MonitoredState) -> Double?) {
        guard series.contains(where: { value($0) != nil }) else { return }
        out.append(contentsOf: "# HELP \(name) \(help)\n# TYPE \(name) gauge\n".utf8)
        for state in series {
            guard let sample = value(state) else { continue }
            out.append(contentsOf: name.utf8)
            out.append(contentsOf: #"{state_id=""#.utf8)
            Self.appendEscapedLabelValue(state.stateID, to: &out)
            out.append(contentsOf: #""} "#.utf8)
            Self.appendValue(sample, to: &out)
            out.append(UInt8(ascii: "\n"))
        }
    }

    private func comment(_ out: inout [UInt8], _ text: String) {
        out.append(contentsOf: "# \(text)\n".utf8)
    }

    /// A label value as both formats write it: `\` `"` and line feed escaped.
    public static func escapeLabelValue(_ text: String) -> String {
        var out: [UInt8] = []
        appendEscapedLabelValue(text, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    static func appendEscapedLabelValue(_ text: String, to out: inout [UInt8]) {
        let plain = text.utf8.withContiguousStorageIfAvailable { bytes in
            !bytes.contains { $0 == 0x5C || $0 == 0x22 || $0 == 0x0A }
        }
        if plain == true {
            out.append(contentsOf: text.utf8)
            return
        }
        for byte in text.utf8 {
            switch byte {
            case 0x5C: out.append(0x5C); out.append(0x5C)
            case 0x22: out.append(0x5C); out.append(0x22)
            case 0x0A: out.append(0x5C); out.append(UInt8(ascii: "n"))
            default: out.append(byte)
            }
        }
    }


    /// A sample value: integers without a fraction, else milliseconds' precision.
    public static func value(_ value: Double) -> String {
        var out: [UInt8] = []
        appendValue(value, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    static func appendValue(_ value: Double, to out: inout [UInt8]) {
        if value.isNaN { out.append(contentsOf: "NaN".utf8); return }
        if value.isInfinite { out.append(contentsOf: (value > 0 ? "+Inf" : "-Inf").utf8); return }
        guard abs(value) < 1e12 else { out.append(contentsOf: "\(value)".utf8); return }  // Swift's shortest round trip, e.g. 1e+20
        let millis = Int64((value * 1000).rounded())
        if millis < 0 { out.append(UInt8(ascii: "-")) }
        let magnitude = millis.magnitude
        out.append(contentsOf: String(magnitude / 1000).utf8)
        let fraction = magnitude % 1000
        if value != value.rounded() {
            out.append(UInt8(ascii: "."))
            out.append(UInt8(ascii: "0") + UInt8(fraction / 100))
            out.append(UInt8(ascii: "0") + UInt8(fraction / 10 % 10))
            out.append(UInt8(ascii: "0") + UInt8(fraction % 10))
        }
    }
}

/// Text made one line for a comment or a status line: control characters (and any of
/// `also`) shown as `?`.
public func oneLine(_ text: String, also: Set<Unicode.Scalar> = []) -> String {
    String(text.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F || also.contains($0) ? "?" : Character($0) })
}

