import StateJSON

// The decision logic of `doctor` and of lock staleness: pure functions over evidence the
// store gathered (no SQL here), so every combination is unit-tested without a database.

/// Which evidence decided whether a lock is stale, best first.
public enum StalenessEvidence: String, Sendable, Codable, Equatable {
    /// Meltano's run of the same job, RUNNING, and its heartbeat (Meltano's `Job.is_stale`).
    case heartbeat
    /// The advisory lock's holding session, connected and visible in `pg_stat_activity`.
    case holderSession = "holder session"
    /// Only the lock's age against `stale_lock_after`: the fallback.
    case age
}

/// Whether a lock is stale, and on what evidence: the one rule that `locks --stale`,
/// `unlock --stale`, the browser's `!` mark and `doctor` all use
/// (`LockStaleness.judge(lock:run:staleAfter:)`; the store fills `LockInfo.staleness`).
public struct LockStaleness: Sendable, Codable, Equatable {
    public var isStale: Bool
    public var evidence: StalenessEvidence
    /// One sentence: what was seen.
    public var reason: String

    public init(isStale: Bool, evidence: StalenessEvidence, reason: String) {
        self.isStale = isStale
        self.evidence = evidence
        self.reason = reason
    }

    /// The rule. `run` is the latest run of the lock's job (its state ID) in Meltano's
    /// system database, when that database could be read.
    ///
    /// 1. A RUNNING run: its heartbeat decides (stale as Meltano's `Job.is_stale`: no
    ///    heartbeat for 5 minutes, or none at all for 24 hours).
    /// 2. An advisory lock whose holder's session is visible: that session is connected
    ///    (an advisory lock dies with its session), so the lock is not stale.
    /// 3. Else the lock's age against `staleAfter`. A holder session this role may not
    ///    see is said so, never taken for dead.
    public static func judge(lock: LockInfo, run: RunInfo?, staleAfter: Double) -> LockStaleness {
        if let run, run.state == "RUNNING" {
            let silent = run.silentForSeconds.map(formatAge) ?? "?"
            if run.isStale {
                let what = run.lastHeartbeatAt == nil ? "no heartbeat at all since it started \(silent) ago" : "no heartbeat for \(silent)"
                return LockStaleness(isStale: true, evidence: .heartbeat, reason: "run \(run.id) of this job is RUNNING with \(what)")
            }
            let what = run.lastHeartbeatAt == nil ? "started \(silent) ago, no heartbeat yet" : "last heartbeat \(silent) ago"
            return LockStaleness(isStale: false, evidence: .heartbeat, reason: "run \(run.id) of this job is RUNNING, \(what)")
        }
        var prefix = ""
        if let pid = lock.pid {
            switch lock.sessionVisibility {
            case .visible?:
                return LockStaleness(isStale: false, evidence: .holderSession,
                                     reason: "held by session \(pid), connected\(lock.sessionState.map { " (\($0))" } ?? "")")
            case .hidden?:
                prefix = "the session of pid \(pid) is not visible to this role; "
            case .gone?, nil:
                break
            }
        }
        let age = lock.ageSeconds.map(formatAge) ?? "of unknown age"
        let stale = (lock.ageSeconds ?? 0) > staleAfter
        return LockStaleness(isStale: stale, evidence: .age,
                             reason: prefix + "locked \(lock.ageSeconds == nil ? age : age + " ago") (stale after \(formatAge(staleAfter)))")
    }
}

/// How `pg_stat_activity` shows an advisory lock's holder to this role.
public enum SessionVisibility: String, Sendable, Codable, Equatable {
    case visible
    /// The row exists but its columns are hidden: another role's session, and this role
    /// lacks `pg_read_all_stats`. Alive (it holds the lock), activity unknown.
    case hidden = "not visible to this role"
    /// No row: the session ended.
    case gone
}

/// Meltano's system database as `doctor` could reach it.
public enum RunEvidence: Sendable, Equatable {
    /// Read: the latest run of each job asked about (absent: the job never ran).
    case known([ExactID: RunInfo])
    /// Not configured (no PostgreSQL `database_uri`), and why: the lock's age decides.
    case unavailable(String)
    /// Configured, but it could not be read now (a wrong password, a host down, no runs
    /// table), and why: the heartbeat is unknown, so a lock's age alone never makes it
    /// stale, for fear of releasing the lock of a run that is alive.
    case unreadable(String)

    public func latest(_ jobName: String) -> RunInfo? {
        if case let .known(runs) = self { return runs[ExactID(jobName)] }
        return nil
    }

    public var isKnown: Bool {
        if case .known = self { return true }
        return false
    }
}

/// The state row as `doctor` reports it.
public struct StateEvidence: Sendable, Equatable {
    public var hasCompleted: Bool
    public var hasPartial: Bool
    public var updatedAt: String?
    public var ageSeconds: Double?
    /// `singer_state.currently_syncing` of the merged state (partial over completed).
    public var currentlySyncing: String?
    /// Why Meltano cannot read the state: a part that is not JSON (as Python's json
    /// reads it), with the parse error, or parts that do not merge.
    public var unreadable: String?

    public init(hasCompleted: Bool, hasPartial: Bool, updatedAt: String? = nil, ageSeconds: Double? = nil,
                currentlySyncing: String? = nil, unreadable: String? = nil) {
        self.hasCompleted = hasCompleted
        self.hasPartial = hasPartial
        self.updatedAt = updatedAt
        self.ageSeconds = ageSeconds
        self.currentlySyncing = currentlySyncing
        self.unreadable = unreadable
    }

    /// From a row's stored texts (`StateStore.readStoredBytes`): NULL and `{}` are empty
    /// parts (Meltano stores `{}` in its system database).
    ///
    /// The parts are read as tapes, not trees, from the bytes as they arrived: doctor
    /// looks at a few keys and checks the merge, and a 100 MB state then costs its text
    /// once plus the tape's words, not the text three times and a tree.
    public init(_ stored: StoredBytes) {
        let partial = InspectedPart(bytes: stored.partial), completed = InspectedPart(bytes: stored.completed)
        let syncing = partial.currentlySyncing ?? completed.currentlySyncing
        // One line: the parse error without its excerpt and caret.
        var unreadable = (partial.error ?? completed.error).map { "\(partial.error != nil ? "partial" : "completed") state is not JSON: \($0.pythonDescription)" }
        if unreadable == nil {
            do throws(MergeError) { try completed.checkMerge(of: partial) } catch {
                unreadable = "the partial state does not merge onto the completed state: \(error.message)"
            }
        }
        self.init(hasCompleted: completed.isPresent, hasPartial: partial.isPresent, updatedAt: stored.updatedAt,
                  ageSeconds: stored.ageSeconds, currentlySyncing: syncing, unreadable: unreadable)
    }

    /// From a row's texts as strings: `init(_: StoredBytes)` of their UTF-8.
    public init(_ row: RowSnapshot, ageSeconds: Double?) {
        self.init(StoredBytes(partial: row.partialState.map { Array($0.utf8) }, completed: row.completedState.map { Array($0.utf8) },
                              updatedAt: row.updatedAt, ageSeconds: ageSeconds))
    }
}

/// A stored part read to be looked at: as a tape when it can be one (no key repeats in
/// it), else as its tree; NULL is `{}`, as Meltano reads it.
private enum InspectedPart {
    case null
    case tape(JSONTape)
    case tree(JSONValue)
    case unreadable(JSONParseError)

    /// Bytes that are not UTF-8 are read as `MergedState.part` reads them: as the text
    /// they decode to, invalid bytes replaced (what a row read as text becomes).
    init(bytes: [UInt8]?) {
        guard let bytes else { self = .null; return }
        do {
            if let tape = try JSONTape(bytes: bytes) { self = .tape(tape) } else { self = .tree(try JSONParser.parse(bytes)) }
        } catch {
            guard bytes.withUnsafeBytes(JSONParser.invalidUTF8Error) != nil else { self = .unreadable(error); return }
            let text = String(decoding: bytes, as: UTF8.self)
            do {
                if let tape = try JSONTape(text) { self = .tape(tape) } else { self = .tree(try JSONParser.parse(text)) }
            } catch {
                self = .unreadable(error)
            }
        }
    }

    var error: JSONParseError? {
        if case let .unreadable(error) = self { return error }
        return nil
    }

    /// Stored, and not `{}` (Meltano stores `{}` in its system database for "none").
    var isPresent: Bool {
        switch self {
        case .null: return false
        case let .tape(tape): return tape.kind(tape.root) != .object || tape.count(tape.root) != 0
        case let .tree(value): return value.objectValue.map { !$0.isEmpty } ?? true
        case .unreadable: return true
        }
    }

    /// `singer_state.currently_syncing` when it is set (not null): a string as itself,
    /// anything else as compact JSON.
    var currentlySyncing: String? {
        switch self {
        case .null, .unreadable: return nil
        case let .tape(tape):
            guard let singer = tape[tape.root, key: "singer_state"], let value = tape[singer, key: "currently_syncing"],
                  !tape.isNull(value) else { return nil }
            return tape.string(value)?.text ?? tape.text(value, .compact)
        case let .tree(value):
            guard let syncing = value.objectValue?["singer_state"]?.objectValue?["currently_syncing"], syncing != .null else { return nil }
            return syncing.stringValue?.text ?? syncing.compactText
        }
    }

    /// What `deepMerge(partial, onto: self)` throws; the completed part's tree is not
    /// built when it is a tape (`checkDeepMerge` walks only what the partial reaches into).
    func checkMerge(of partial: InspectedPart) throws(MergeError) {
        let source: JSONValue
        switch partial {
        case .null: source = .object(JSONObject())
        case let .tape(tape): source = tape.value(tape.root)
        case let .tree(value): source = value
        case .unreadable: return
        }
        switch self {
        case .null: _ = try deepMerge(source, onto: .object(JSONObject()))
        case let .tape(tape):
            try tape.withDocumentBytes { bytes in Result { () throws(MergeError) in try checkDeepMerge(source, ontoText: bytes) } }.get()
        case let .tree(value): _ = try deepMerge(source, onto: value)
        case .unreadable: return
        }
    }
}

/// Everything `doctor` gathered about one state ID.
public struct DoctorEvidence: Sendable {
    public var stateID: String
    public var layout: StorageLayout
    public var lock: LockInfo?
    public var runs: RunEvidence
    /// nil: no state row.
    public var state: StateEvidence?
    public var staleAfter: Double

    public init(stateID: String, layout: StorageLayout, lock: LockInfo?, runs: RunEvidence, state: StateEvidence?, staleAfter: Double) {
        self.stateID = stateID
        self.layout = layout
        self.lock = lock
        self.runs = runs
        self.state = state
        self.staleAfter = staleAfter
    }
}

public enum Verdict: String, Sendable, Equatable, CaseIterable {
    case healthy
    case safeToRelease = "safe-to-release"
    case running
    /// Evidence disagrees (a silent heartbeat, a session busy right now): look first.
    case doNotRelease = "do-not-release"
    case unknown
    /// Nothing is held, but Meltano's next run cannot read the state (it fails at once).
    case unreadable

    public var headline: String {
        switch self {
        case .healthy: return "HEALTHY"
        case .safeToRelease: return "SAFE TO RELEASE"
        case .running: return "RUNNING, DO NOT RELEASE"
        case .doNotRelease: return "DO NOT RELEASE"
        case .unknown: return "UNKNOWN"
        case .unreadable: return "STATE UNREADABLE"
        }
    }

    /// `doctor`'s exit code: 0 healthy, 1 stuck and safe to release, 3 running (or do
    /// not release), 5 unknown, 6 a state Meltano cannot read.
    public var exitCode: Int32 {
        switch self {
        case .healthy: return 0
        case .safeToRelease: return 1
        case .running, .doNotRelease: return 3
        case .unknown: return 5
        case .unreadable: return 6
        }
    }

    /// Of several state IDs, the verdict the exit code reports: the most cautious.
    public static func overall(_ verdicts: [Verdict]) -> Verdict {
        for verdict in [Verdict.running, .doNotRelease, .unknown, .unreadable, .safeToRelease] where verdicts.contains(verdict) { return verdict }
        return .healthy
    }
}

/// A verdict, why, and the one command to run next.
public struct Diagnosis: Sendable {
    public var evidence: DoctorEvidence
    public var verdict: Verdict
    public var reason: String
    /// The exact command (nil: nothing to run; wait or look).
    public var nextCommand: String?
    /// Evidence that could not be had, each with why (for UNKNOWN, and as notes).
    public var missing: [String]
    /// The lock's staleness as everyone else judges it (nil without a lock).
    public var staleness: LockStaleness?

    public var stateID: String { evidence.stateID }

    /// The decision: see README "Why is this pipeline stuck? (doctor)".
    public static func diagnose(_ evidence: DoctorEvidence) -> Diagnosis {
        let run = evidence.runs.latest(evidence.stateID)
        let running = run.flatMap { $0.state == "RUNNING" ? $0 : nil }
        var missing: [String] = []
        switch evidence.runs {
        case let .unavailable(why), let .unreadable(why): missing.append("heartbeat: Meltano's system database: \(why)")
        case .known: break
        }
        func result(_ verdict: Verdict, _ reason: String, _ next: String? = nil, _ staleness: LockStaleness? = nil) -> Diagnosis {
            Diagnosis(evidence: evidence, verdict: verdict, reason: reason, nextCommand: next, missing: missing, staleness: staleness)
        }
        let failRun: (RunInfo) -> String = { run in
            evidence.layout == .systemDB ? "meltano-state fail-run \(run.id)" : "MELTANO_STATE_BACKEND_URI=systemdb meltano-state fail-run \(run.id)"
        }

        guard let lock = evidence.lock else {
            if let running {
                if running.isStale {
                    return result(.safeToRelease, "no lock is held, and run \(running.id) is still marked RUNNING with \(silence(running)): it was killed; Meltano refuses to start this job again until it is marked failed", failRun(running))
                }
                return result(.running, "run \(running.id) is RUNNING, \(heartbeat(running))")
            }
            if let state = evidence.state, let unreadable = state.unreadable {
                return result(.unreadable, "nothing is held, but Meltano's next run fails reading the state (\(unreadable)): repair it with `meltano-state set` (the browser's e opens the raw text), or clear it",
                              "meltano-state get --raw " + stateIDArgument(evidence.stateID))
            }
            if let state = evidence.state, state.hasPartial {
                return result(.healthy, "nothing is held; the partial state shows a run that was interrupted (the next run resumes from its bookmarks\(state.currentlySyncing.map { ", at stream \($0)" } ?? ""))")
            }
            return result(.healthy, "no lock is held and no run is RUNNING")
        }

        let staleness = LockStaleness.judge(lock: lock, run: run, staleAfter: evidence.staleAfter)
        let unlock = unlockCommand(stateID: evidence.stateID, lockID: lock.lockID)
        switch staleness.evidence {
        case .heartbeat:
            guard staleness.isStale else { return result(.running, staleness.reason, nil, staleness) }
            if lock.pid != nil, lock.sessionVisibility == .visible, lock.sessionState == "active" {
                return result(.doNotRelease, "\(staleness.reason), but the session holding the lock (pid \(lock.pid!)) is running a query right now (for \(lock.queryAgeSeconds.map(formatAge) ?? "?")): the process may be hung, not dead; look at it (client \(lock.clientAddress ?? "local socket")) before terminating it", nil, staleness)
            }
            let release = lock.pid != nil ? "releasing terminates its idle session \(lock.pid!)" : "its process stopped sending heartbeats, so nothing holds this lock any more"
            return result(.safeToRelease, "\(staleness.reason): \(release); afterwards mark the run failed with `\(failRun(running!))`", unlock, staleness)
        case .holderSession:
            return result(.running, "\(staleness.reason); no RUNNING run of this job proves otherwise\(evidence.runs.isKnown ? "" : " (no heartbeat to check)")", nil, staleness)
        case .age:
            if lock.pid != nil, lock.sessionVisibility == .hidden {
                missing.append("holder session: the pg_stat_activity row of pid \(lock.pid!) is not visible to this role (a member of pg_read_all_stats sees it); the session is alive, as it holds the lock")
            } else if lock.pid == nil {
                missing.append("holder session: a lock row names no database session")
            }
            guard staleness.isStale else {
                return result(.running, "\(staleness.reason): young enough to belong to a run or a `meltano state` command in progress (judged by age only)", nil, staleness)
            }
            if case .unreadable = evidence.runs {
                // The heartbeat that would decide is there but could not be read: old is
                // not stale (not for `locks --stale`, `unlock --stale`, the `!` mark).
                let unknown = LockStaleness(isStale: false, evidence: .age,
                                            reason: "\(staleness.reason), but Meltano's system database could not be read, so whether its run still sends heartbeats is unknown: not counted as stale")
                return result(.unknown, "\(unknown.reason) (see what is missing); if you know its pipeline is dead: \(unlock)", nil, unknown)
            }
            if evidence.runs.isKnown {
                let latest = run.map { "; its latest run \($0.id) is \($0.state)\($0.endedAt.map { ", ended \($0) UTC" } ?? "")" } ?? "; this job has no run"
                return result(.safeToRelease, "\(staleness.reason) and no run of this job is RUNNING in Meltano's system database\(latest)", unlock, staleness)
            }
            return result(.unknown, "\(staleness.reason), and no heartbeat or holder session tells whether its pipeline still runs (see what is missing); if you know it is dead: \(unlock)", nil, staleness)
        }
    }

    /// The job's latest run is RUNNING and still sends heartbeats.
    var runIsLive: Bool {
        guard let run = evidence.runs.latest(stateID) else { return false }
        return run.state == "RUNNING" && !run.isStale
    }

    /// The report, one line per kind of evidence: `doctor`'s text and the browser's panel.
    public var lines: [(label: String, text: String)] {
        var lines: [(String, String)] = []
        if let lock = evidence.lock {
            if let pid = lock.pid {
                lines.append(("lock", "advisory key \(lock.lockID), held by pid \(pid) since \(lock.lockedAt)\(lock.ageSeconds.map { " (\(formatAge($0)) ago)" } ?? "")"))
                switch lock.sessionVisibility {
                case .visible?:
                    var parts = ["pid \(pid)", "user \(lock.user ?? "?")", "application \(lock.applicationName.map { $0.isEmpty ? "(none)" : $0 } ?? "?")",
                                 "client \(lock.clientAddress ?? "local socket")", "backend start \(lock.backendStart ?? "?")",
                                 "state \(lock.sessionState ?? "?")"]
                    if let wait = lock.waitEvent { parts.append("waiting on \(wait)") }
                    if let age = lock.queryAgeSeconds { parts.append("current query \(formatAge(age)) old") }
                    lines.append(("holder", parts.joined(separator: ", ") + ": alive"))
                case .hidden?:
                    lines.append(("holder", "pid \(pid) (user \(lock.user ?? "?")): not visible to this role; alive, as it holds the lock"))
                case .gone?, nil:
                    lines.append(("holder", "pid \(pid): session gone"))
                }
            } else {
                lines.append(("lock", "row, lock ID \(lock.lockID), taken \(lock.lockedAt)\(lock.ageSeconds.map { " (\(formatAge($0)) ago)" } ?? "")"))
            }
        } else {
            lines.append(("lock", evidence.layout == .systemDB ? "none (Meltano's system database has no locks)" : "none"))
        }
        switch evidence.runs {
        case let .unavailable(why), let .unreadable(why):
            lines.append(("run", "unknown: \(why)"))
        case .known:
            if let run = evidence.runs.latest(evidence.stateID) {
                var text = "\(run.id) \(run.state), started \(run.startedAt ?? "?") UTC"
                if run.state == "RUNNING" {
                    text += ", last heartbeat \(run.lastHeartbeatAt.map { $0 + " UTC" } ?? "never"): " + (run.isStale ? "STALE (\(silence(run)))" : "fresh (\(heartbeat(run)))")
                } else if let ended = run.endedAt {
                    text += ", ended \(ended) UTC"
                }
                lines.append(("run", text))
            } else {
                lines.append(("run", "none of this job in Meltano's system database"))
            }
        }
        if let state = evidence.state {
            var text = [state.hasCompleted ? "completed" : nil, state.hasPartial ? "partial" : nil].compactMap { $0 }.joined(separator: " + ")
            if text.isEmpty { text = "empty" }
            text += ", updated \(state.updatedAt ?? "?")\(state.ageSeconds.map { " (\(formatAge($0)) ago)" } ?? "")"
            if state.hasPartial {
                text += runIsLive ? "; the partial state is the running run's progress" : "; the partial state shows an interrupted run"
            }
            if let syncing = state.currentlySyncing { text += "; currently_syncing \(syncing)" }
            if let unreadable = state.unreadable { text += "; " + unreadable }
            lines.append(("state", text))
        } else {
            lines.append(("state", "no row"))
        }
        if let staleness { lines.append(("stale?", "\(staleness.isStale ? "yes" : "no"), by \(staleness.evidence.rawValue): \(staleness.reason)")) }
        for item in missing { lines.append(("missing", item)) }
        lines.append(("verdict", "\(verdict.headline): \(reason)"))
        let nothing: String
        switch verdict {
        case .healthy: nothing = "nothing to do"
        case .unknown: nothing = "none that is known to be safe: find out whether the pipeline still runs (its host, its logs), or make Meltano's system database readable here (database_uri)"
        case .doNotRelease: nothing = "none: look at the holder's process first"
        default: nothing = "nothing to release: wait, then run doctor again"
        }
        lines.append(("next", nextCommand ?? nothing))
        return lines
    }

    /// `doctor --json`: one object per state ID (schema in the README).
    public var json: JSONValue {
        func string(_ text: String?) -> JSONValue { text.map { .string(JSONString($0)) } ?? .null }
        func number(_ value: Double?) -> JSONValue { value.map { .number(JSONNumber(($0 * 1000).rounded() / 1000)) } ?? .null }
        var object = JSONObject()
        object["state_id"] = string(stateID)
        object["verdict"] = string(verdict.rawValue)
        object["headline"] = string(verdict.headline)
        object["reason"] = string(reason)
        object["next_command"] = string(nextCommand)
        object["exit_code"] = .number(JSONNumber(Int(verdict.exitCode)))
        object["missing_evidence"] = .array(missing.map { string($0) })
        if let lock = evidence.lock {
            var value = JSONObject()
            value["kind"] = string(lock.pid == nil ? "row" : "advisory")
            value["lock_id"] = string(lock.lockID)
            value["locked_at"] = string(lock.lockedAt)
            value["age_seconds"] = number(lock.ageSeconds)
            if let staleness {
                value["stale"] = .bool(staleness.isStale)
                value["stale_evidence"] = string(staleness.evidence.rawValue)
                value["stale_reason"] = string(staleness.reason)
            }
            if let pid = lock.pid {
                var holder = JSONObject()
                holder["pid"] = .number(JSONNumber(Int(pid)))
                holder["visibility"] = string((lock.sessionVisibility ?? .gone).rawValue)
                holder["user"] = string(lock.user)
                holder["application_name"] = string(lock.applicationName)
                holder["client_addr"] = string(lock.clientAddress)
                holder["backend_start"] = string(lock.backendStart)
                holder["state"] = string(lock.sessionState)
                holder["wait_event"] = string(lock.waitEvent)
                holder["query_age_seconds"] = number(lock.queryAgeSeconds)
                value["holder"] = .object(holder)
            } else {
                value["holder"] = .null
            }
            object["lock"] = .object(value)
        } else {
            object["lock"] = .null
        }
        var runs = JSONObject()
        switch evidence.runs {
        case let .unavailable(why), let .unreadable(why):
            runs["available"] = .bool(false)
            runs["why"] = string(why)
            runs["latest"] = .null
        case .known:
            runs["available"] = .bool(true)
            if let run = evidence.runs.latest(stateID) {
                var value = JSONObject()
                value["id"] = .number(JSONNumber(run.id))
                value["state"] = string(run.state)
                value["started_at"] = string(run.startedAt)
                value["last_heartbeat_at"] = string(run.lastHeartbeatAt)
                value["ended_at"] = string(run.endedAt)
                value["silent_seconds"] = number(run.silentForSeconds)
                value["heartbeat_fresh"] = run.state == "RUNNING" ? .bool(!run.isStale) : .null
                runs["latest"] = .object(value)
            } else {
                runs["latest"] = .null
            }
        }
        object["system_database"] = .object(runs)
        if let state = evidence.state {
            var value = JSONObject()
            value["completed"] = .bool(state.hasCompleted)
            value["partial"] = .bool(state.hasPartial)
            value["updated_at"] = string(state.updatedAt)
            value["interrupted_run"] = .bool(state.hasPartial && !runIsLive)
            value["currently_syncing"] = string(state.currentlySyncing)
            value["unreadable"] = string(state.unreadable)
            object["state"] = .object(value)
        } else {
            object["state"] = .null
        }
        return .object(object)
    }
}

private func silence(_ run: RunInfo) -> String {
    let silent = run.silentForSeconds.map(formatAge) ?? "?"
    return run.lastHeartbeatAt == nil ? "no heartbeat at all in \(silent)" : "no heartbeat for \(silent)"
}

private func heartbeat(_ run: RunInfo) -> String {
    let silent = run.silentForSeconds.map(formatAge) ?? "?"
    return run.lastHeartbeatAt == nil ? "started \(silent) ago, no heartbeat yet" : "last heartbeat \(silent) ago"
}
