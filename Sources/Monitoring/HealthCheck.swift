import Foundation
import StateStore

/// A Nagios/Icinga plugin's verdict, with its exit code.
public enum HealthStatus: Int32, Sendable, Comparable {
    case ok = 0, warning = 1, critical = 2, unknown = 3

    public var word: String {
        switch self {
        case .ok: return "OK"
        case .warning: return "WARNING"
        case .critical: return "CRITICAL"
        case .unknown: return "UNKNOWN"
        }
    }

    public static func < (a: HealthStatus, b: HealthStatus) -> Bool { a.rawValue < b.rawValue }
}

/// `check-health`: what is measured, over the state IDs matching the pattern.
///
/// - a state not written for `warn` seconds is WARNING, for `crit` seconds CRITICAL;
/// - a stale lock (held past the stale-lock threshold: the pipeline that took it is
///   gone, and every run of that ID will fail until it is released) is CRITICAL;
/// - a stale RUNNING run (system database; Meltano's heartbeat rule) is CRITICAL;
/// - nothing else (a lock held or a run RUNNING that is not stale is a pipeline at work).
public struct HealthCheck: Sendable {
    public let warn: Double
    public let crit: Double
    public private(set) var checked = 0
    public private(set) var warning = 0
    public private(set) var critical = 0
    public private(set) var staleLocks = 0
    public private(set) var staleRuns = 0
    public private(set) var locksHeld = 0
    public private(set) var oldest: (stateID: String, age: Double)?
    /// The first state IDs with a problem, for the status line.
    public private(set) var examples: [String] = []

    public init(warn: Double, crit: Double) {
        self.warn = warn
        self.crit = crit
    }

    public mutating func add(_ state: MonitoredState) {
        guard state.matchesPattern else { return }
        var problem = false
        if state.hasState {
            checked += 1
            if let age = state.updateAgeSeconds {
                if oldest == nil || age > oldest!.age { oldest = (state.stateID, age) }
                if age >= crit { critical += 1; problem = true } else if age >= warn { warning += 1; problem = true }
            }
        }
        if state.lockHeld { locksHeld += 1 }
        if state.lockIsStale { staleLocks += 1; problem = true }
        if state.runIsStale { staleRuns += 1; problem = true }
        if problem && examples.count < 3 { examples.append(state.stateID) }
    }

    public var status: HealthStatus {
        if critical > 0 || staleLocks > 0 || staleRuns > 0 { return .critical }
        return warning > 0 ? .warning : .ok
    }

    /// The plugin's one line: `MELTANO-STATE STATUS - text | perfdata`. State IDs in the
    /// text are made one line without `|` (which starts the perfdata).
    public func statusLine(hasLocks: Bool, hasRuns: Bool) -> String {
        var parts: [String] = []
        if staleLocks > 0 { parts.append("\(staleLocks) stale lock\(staleLocks == 1 ? "" : "s")") }
        if staleRuns > 0 { parts.append("\(staleRuns) job\(staleRuns == 1 ? "" : "s") with a stale run") }
        if critical > 0 { parts.append("\(critical) of \(checked) states not updated for \(Self.duration(crit))") }
        if warning > 0 { parts.append("\(warning) of \(checked) states not updated for \(Self.duration(warn))") }
        var text = parts.isEmpty ? "\(checked) states, none older than \(Self.duration(warn))" : parts.joined(separator: ", ")
        if !examples.isEmpty { text += " (" + examples.map(Self.plain).joined(separator: ", ") + (examples.count < problems ? ", …" : "") + ")" }
        if let oldest { text += "; oldest \(Self.plain(oldest.stateID)) \(formatAge(oldest.age))" }
        var perf = [
            Self.perf("states", Double(checked), unit: "", warn: nil, crit: nil),
            Self.perf("stale_states_warn", Double(warning), unit: "", warn: nil, crit: nil),
            Self.perf("stale_states_crit", Double(critical), unit: "", warn: nil, crit: nil),
            Self.perf("oldest_update_age", oldest?.age ?? 0, unit: "s", warn: warn, crit: crit),
        ]
        if hasLocks {
            perf.append(Self.perf("locks_held", Double(locksHeld), unit: "", warn: nil, crit: nil))
            perf.append(Self.perf("stale_locks", Double(staleLocks), unit: "", warn: nil, crit: 1))
        }
        if hasRuns { perf.append(Self.perf("stale_runs", Double(staleRuns), unit: "", warn: nil, crit: 1)) }
        return "MELTANO-STATE \(status.word) - \(text) | \(perf.joined(separator: " "))"
    }

    private var problems: Int { warning + critical + staleLocks + staleRuns }

    /// `label=value[UOM];[warn];[crit];[min];[max]` (Nagios plugin guidelines).
    static func perf(_ label: String, _ value: Double, unit: String, warn: Double?, crit: Double?) -> String {
        func number(_ v: Double) -> String { MetricsExposition.value(v) }
        return "\(label)=\(number(value))\(unit);\(warn.map(number) ?? "");\(crit.map(number) ?? "");0;"
    }

    /// One line without the perfdata separator.
    static func plain(_ text: String) -> String { oneLine(text, also: ["|"]) }

    /// 1800 → "30m", 7200 → "2h", 90 → "90s".
    public static func duration(_ seconds: Double) -> String {
        guard seconds.rounded() == seconds, abs(seconds) < 1e15 else { return MetricsExposition.value(seconds) + "s" }
        let s = Int(seconds)
        if s > 0 && s % 86_400 == 0 { return "\(s / 86_400)d" }
        if s > 0 && s % 3600 == 0 { return "\(s / 3600)h" }
        if s > 0 && s % 60 == 0 { return "\(s / 60)m" }
        return "\(s)s"
    }
}
