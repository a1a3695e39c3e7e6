import Foundation
import StateStore

/// Why `watch` speaks of a state ID.
public enum WatchReason: String, Sendable, CaseIterable, Comparable {
    /// Its lock is held past the stale-lock threshold.
    case lockStale = "lock-stale"
    /// Not written for `--stalled-after` (it stopped advancing).
    case stalled
    /// A run of it is RUNNING and stale by Meltano's heartbeat rule (system database).
    case runStale = "run-stale"

    public static func < (a: WatchReason, b: WatchReason) -> Bool { a.rawValue < b.rawValue }
}

/// A change `watch` reports: a problem that began, or one that ended.
public struct WatchEvent: Sendable, Equatable {
    public var stateID: String
    public var reason: WatchReason
    public var began: Bool
    /// What was seen, e.g. "lock held for 2 h 05 min".
    public var detail: String
}

/// Remembers which (state ID, reason) are bad, so that each transition is reported
/// exactly once: a problem when it begins (or is first seen), and again only after it
/// ended and began anew. Memory grows with the problems, not with the state IDs.
public struct WatchTracker: Sendable {
    public let stalledAfter: Double?
    // By the ID's bytes: "café" with é as one scalar or as two are two IDs.
    private var active: [ExactID: Set<WatchReason>] = [:]
    private var seen: [ExactID: Set<WatchReason>] = [:]

    /// `stalledAfter` nil: states are not checked for advancing.
    public init(stalledAfter: Double?) {
        self.stalledAfter = stalledAfter
    }

    public var activeProblems: Int { active.values.reduce(0) { $0 + $1.count } }

    /// The problems of one state in this check (call for every state, then `finish`).
    public func problems(of state: MonitoredState) -> [(WatchReason, String)] {
        guard state.matchesPattern else { return [] }
        var found: [(WatchReason, String)] = []
        if state.lockIsStale { found.append((.lockStale, "lock held for \(state.lockAgeSeconds.map(formatAge) ?? "an unknown time")")) }
        if let stalledAfter, state.hasState, let age = state.updateAgeSeconds, age >= stalledAfter {
            found.append((.stalled, "not updated for \(formatAge(age))"))
        }
        if state.runIsStale {
            found.append((.runStale, "RUNNING, no heartbeat for \(state.heartbeatAgeSeconds.map(formatAge) ?? "an unknown time")"))
        }
        return found
    }

    /// Notes one state of the current check; returns the problems that began.
    public mutating func observe(_ state: MonitoredState) -> [WatchEvent] {
        let found = problems(of: state)
        guard !found.isEmpty else { return [] }
        let id = ExactID(state.stateID)
        seen[id, default: []].formUnion(found.map(\.0))
        var events: [WatchEvent] = []
        for (reason, detail) in found where !(active[id]?.contains(reason) ?? false) {
            active[id, default: []].insert(reason)
            events.append(WatchEvent(stateID: state.stateID, reason: reason, began: true, detail: detail))
        }
        return events
    }

    /// Ends the current check: problems not seen in it are over (returned, in order).
    public mutating func finish() -> [WatchEvent] {
        var ended: [WatchEvent] = []
        for (id, reasons) in active {
            let still = seen[id] ?? []
            for reason in reasons.subtracting(still).sorted() {
                ended.append(WatchEvent(stateID: id.id, reason: reason, began: false, detail: "no longer"))
            }
            let remaining = reasons.intersection(still)
            active[id] = remaining.isEmpty ? nil : remaining
        }
        seen.removeAll(keepingCapacity: true)
        return ended.sorted { ($0.stateID, $0.reason) < ($1.stateID, $1.reason) }
    }

    /// Forgets the current check's observations (a check that failed half-way must not
    /// end the problems it did not get to).
    public mutating func abandon() {
        seen.removeAll(keepingCapacity: true)
    }
}
