@testable import StateStore
import StateJSON
import Testing

/// `doctor`'s decision and the one staleness rule, over combinations of evidence (pure:
/// no database; the gathering is tested against the real server in DoctorTests).
@Suite("doctor's verdicts from evidence")
struct DiagnosisTests {
    static let id = "prod:tap-x-to-target-y"

    func rowLock(age: Double) -> LockInfo {
        LockInfo(stateID: Self.id, lockID: "lock-1", lockedAt: "2026-12-04 10:00:00", ageSeconds: age, isStale: false)
    }

    func advisoryLock(age: Double, visibility: SessionVisibility, state: String? = "idle") -> LockInfo {
        var lock = LockInfo(stateID: Self.id, lockID: "-123", lockedAt: "2026-12-04 10:00:00", ageSeconds: age, isStale: false,
                            pid: 4242, user: "meltano", clientAddress: "10.0.0.5", applicationName: "meltano")
        lock.sessionVisibility = visibility
        lock.sessionState = visibility == .visible ? state : nil
        lock.queryAgeSeconds = visibility == .visible ? 3 : nil
        return lock
    }

    func run(_ state: String = "RUNNING", id: Int = 7, silent: Double, stale: Bool, heartbeat: Bool = true) -> RunInfo {
        RunInfo(id: id, jobName: Self.id, state: state, runID: nil, trigger: "cli", startedAt: "2026-12-04 09:00:00",
                lastHeartbeatAt: heartbeat ? "2026-12-04 10:00:00" : nil, endedAt: state == "RUNNING" ? nil : "2026-12-04 10:01:00",
                payload: nil, silentForSeconds: silent, isStale: stale)
    }

    func diagnose(lock: LockInfo? = nil, runs: RunEvidence = .unavailable("database_uri is not set"), state: StateEvidence? = nil,
                  layout: StorageLayout = .twoTables) -> Diagnosis {
        Diagnosis.diagnose(DoctorEvidence(stateID: Self.id, layout: layout, lock: lock, runs: runs, state: state, staleAfter: 300))
    }

    func known(_ run: RunInfo?) -> RunEvidence { .known(run.map { [ExactID(Self.id): $0] } ?? [:]) }

    var unlock: String { "meltano-state unlock \(shellQuote(Self.id)) lock-1" }

    @Test func nothingHeldIsHealthy() {
        let d = diagnose(runs: known(nil), state: StateEvidence(hasCompleted: true, hasPartial: false))
        #expect(d.verdict == .healthy && d.verdict.exitCode == 0 && d.nextCommand == nil)
    }

    @Test func aPartialStateWithNothingHeldIsAnInterruptedRun() {
        let d = diagnose(runs: known(run("FAIL", silent: 900, stale: false)),
                         state: StateEvidence(hasCompleted: true, hasPartial: true, currentlySyncing: "public-orders"))
        #expect(d.verdict == .healthy)
        #expect(d.reason.contains("interrupted") && d.reason.contains("public-orders"))
        #expect(d.lines.contains { $0.label == "state" && $0.text.contains("shows an interrupted run") })
    }

    /// A system database that is configured but cannot be read is not "none": the old
    /// lock is UNKNOWN and not stale, so no bulk release takes it.
    @Test func anOldLockRowWithAnUnreadableSystemDatabaseIsNotStale() {
        let d = diagnose(lock: rowLock(age: 3600), runs: .unreadable("Meltano's system database (u@h/db) cannot be reached: password authentication failed"))
        #expect(d.verdict == .unknown && d.nextCommand == nil)
        #expect(d.staleness?.isStale == false && d.staleness?.evidence == .age)
        #expect(d.staleness?.reason.contains("could not be read") == true)
        #expect(d.missing.contains { $0.contains("password authentication failed") })
        #expect(d.reason.contains(unlock))
        // Young, it is as without the database: in progress.
        #expect(diagnose(lock: rowLock(age: 10), runs: .unreadable("down")).verdict == .running)
    }

    @Test func anOldLockRowWithoutSystemDatabaseIsUnknownAndSaysWhatIsMissing() {
        let d = diagnose(lock: rowLock(age: 600))
        #expect(d.verdict == .unknown && d.verdict.exitCode == 5)
        #expect(d.nextCommand == nil)
        #expect(d.missing.count == 2)
        #expect(d.missing.contains { $0.hasPrefix("heartbeat:") && $0.contains("database_uri is not set") })
        #expect(d.missing.contains { $0.hasPrefix("holder session:") })
        #expect(d.staleness == LockStaleness(isStale: true, evidence: .age, reason: d.staleness!.reason))
    }

    @Test func aYoungLockRowWithoutEvidenceIsRunningByAge() {
        let d = diagnose(lock: rowLock(age: 20))
        #expect(d.verdict == .running && d.verdict.exitCode == 3)
        #expect(d.staleness?.evidence == .age && d.staleness?.isStale == false)
    }

    @Test func aFreshHeartbeatBeatsAnOldLock() {
        let d = diagnose(lock: rowLock(age: 3600), runs: known(run(silent: 30, stale: false)))
        #expect(d.verdict == .running)
        #expect(d.staleness?.evidence == .heartbeat && d.staleness?.isStale == false)
        #expect(d.nextCommand == nil)
    }

    @Test func aDeadHeartbeatMakesEvenAYoungLockSafe() {
        let d = diagnose(lock: rowLock(age: 60), runs: known(run(silent: 400, stale: true)))
        #expect(d.verdict == .safeToRelease && d.verdict.exitCode == 1)
        #expect(d.nextCommand == unlock)
        #expect(d.reason.contains("MELTANO_STATE_BACKEND_URI=systemdb meltano-state fail-run 7"))
        #expect(d.staleness?.evidence == .heartbeat && d.staleness?.isStale == true)
    }

    @Test func anOldLockWhoseJobHasNoRunningRunIsSafe() {
        let ended = diagnose(lock: rowLock(age: 900), runs: known(run("SUCCESS", silent: 800, stale: false)))
        #expect(ended.verdict == .safeToRelease && ended.nextCommand == unlock)
        #expect(ended.reason.contains("SUCCESS"))
        let never = diagnose(lock: rowLock(age: 900), runs: known(nil))
        #expect(never.verdict == .safeToRelease && never.reason.contains("has no run"))
        let young = diagnose(lock: rowLock(age: 10), runs: known(nil))
        #expect(young.verdict == .running)
    }

    @Test func aConnectedHolderSessionIsRunning() {
        let d = diagnose(lock: advisoryLock(age: 7200, visibility: .visible), layout: .singleTable)
        #expect(d.verdict == .running)
        #expect(d.staleness?.evidence == .holderSession && d.staleness?.isStale == false)
        #expect(d.lines.contains { $0.label == "holder" && $0.text.contains("pid 4242") && $0.text.contains("client 10.0.0.5") && $0.text.hasSuffix("alive") })
    }

    @Test func anIdleHolderOfARunWithoutHeartbeatIsSafeToTerminate() {
        let d = diagnose(lock: advisoryLock(age: 60, visibility: .visible, state: "idle"), runs: known(run(silent: 600, stale: true)), layout: .singleTable)
        #expect(d.verdict == .safeToRelease)
        #expect(d.nextCommand == "meltano-state unlock \(shellQuote(Self.id)) \(shellQuote("-123"))")
        #expect(d.reason.contains("terminates its idle session 4242"))
    }

    @Test func aBusyHolderOfASilentRunIsNotReleased() {
        let d = diagnose(lock: advisoryLock(age: 60, visibility: .visible, state: "active"), runs: known(run(silent: 600, stale: true)), layout: .singleTable)
        #expect(d.verdict == .doNotRelease && d.verdict.exitCode == 3 && d.nextCommand == nil)
    }

    @Test func aHiddenHolderIsNeverTakenForDead() {
        let d = diagnose(lock: advisoryLock(age: 900, visibility: .hidden), layout: .singleTable)
        #expect(d.verdict == .unknown)
        #expect(d.missing.contains { $0.contains("not visible to this role") })
        #expect(d.lines.contains { $0.label == "holder" && $0.text.contains("not visible to this role") && !$0.text.contains("gone") })
        let fresh = diagnose(lock: advisoryLock(age: 900, visibility: .hidden), runs: known(run(silent: 10, stale: false)), layout: .singleTable)
        #expect(fresh.verdict == .running)
    }

    @Test func aRunLeftRunningWithoutLockNeedsFailRun() {
        let systemDB = diagnose(runs: known(run(silent: 600, stale: true)), layout: .systemDB)
        #expect(systemDB.verdict == .safeToRelease && systemDB.nextCommand == "meltano-state fail-run 7")
        let beside = diagnose(runs: known(run(silent: 600, stale: true)))
        #expect(beside.nextCommand == "MELTANO_STATE_BACKEND_URI=systemdb meltano-state fail-run 7")
        let live = diagnose(runs: known(run(silent: 5, stale: false)), layout: .systemDB)
        #expect(live.verdict == .running && live.nextCommand == nil)
    }

    @Test func aRunThatNeverSentAHeartbeatIsFreshUntilMeltanoSaysOtherwise() {
        let staleness = LockStaleness.judge(lock: rowLock(age: 4000), run: run(silent: 3900, stale: false, heartbeat: false), staleAfter: 300)
        #expect(staleness.isStale == false && staleness.evidence == .heartbeat && staleness.reason.contains("no heartbeat yet"))
    }

    @Test func theMostCautiousVerdictSetsTheExitCode() {
        #expect(Verdict.overall([]) == .healthy)
        #expect(Verdict.overall([.healthy, .safeToRelease]) == .safeToRelease)
        #expect(Verdict.overall([.safeToRelease, .unknown]) == .unknown)
        #expect(Verdict.overall([.unknown, .doNotRelease, .safeToRelease]) == .doNotRelease)
        #expect(Verdict.overall([.doNotRelease, .running]) == .running)
    }

    @Test func jsonCarriesEveryPieceOfEvidence() throws {
        let d = diagnose(lock: advisoryLock(age: 60, visibility: .visible), runs: known(run(silent: 600, stale: true)),
                         state: StateEvidence(hasCompleted: true, hasPartial: true, updatedAt: "2026-12-04 10:00:00", currentlySyncing: "s"),
                         layout: .singleTable)
        guard case let .object(o) = d.json, case let .object(lock)? = o["lock"], case let .object(holder)? = lock["holder"],
              case let .object(system)? = o["system_database"], case let .object(latest)? = system["latest"],
              case let .object(state)? = o["state"] else { Issue.record("shape: \(d.json.compactText)"); return }
        #expect(Set(o.keys.map(\.text)) == ["state_id", "verdict", "headline", "reason", "next_command", "exit_code", "missing_evidence", "lock", "system_database", "state"])
        #expect(o["verdict"] == .string(JSONString("safe-to-release")) && o["exit_code"] == .number(JSONNumber(1)))
        #expect(lock["kind"] == .string(JSONString("advisory")) && lock["stale_evidence"] == .string(JSONString("heartbeat")))
        #expect(holder["pid"] == .number(JSONNumber(4242)) && holder["visibility"] == .string(JSONString("visible")))
        #expect(latest["heartbeat_fresh"] == .bool(false) && latest["id"] == .number(JSONNumber(7)))
        #expect(state["interrupted_run"] == .bool(true) && state["currently_syncing"] == .string(JSONString("s")))
    }

    @Test func stateEvidenceReadsTheRowAsMeltanoStoresIt() {
        let syncing = StateEvidence(RowSnapshot(partialState: #"{"singer_state": {"currently_syncing": "orders"}}"#, completedState: "{}", updatedAt: "t"), ageSeconds: 1)
        #expect(syncing.hasPartial && !syncing.hasCompleted && syncing.currentlySyncing == "orders")
        let empty = StateEvidence(RowSnapshot(partialState: "{}", completedState: nil, updatedAt: nil), ageSeconds: nil)
        #expect(!empty.hasPartial && empty.currentlySyncing == nil && empty.unreadable == nil)
        let broken = StateEvidence(RowSnapshot(partialState: "{oops", completedState: #"{"singer_state": {}}"#, updatedAt: nil), ageSeconds: nil)
        #expect(broken.hasPartial && broken.hasCompleted && broken.unreadable?.hasPrefix("partial state is not JSON") == true)
    }

    /// Bytes that are not UTF-8 (a SQL_ASCII database) read as the text a row read as
    /// text becomes, invalid bytes replaced, as every other read does: what doctor said
    /// when it read strings.
    @Test func stateEvidenceReadsInvalidUTF8AsTheReplacedText() {
        func evidence(_ partial: [UInt8]?, _ completed: [UInt8]?) -> StateEvidence {
            StateEvidence(StoredBytes(partial: partial, completed: completed, updatedAt: "t", ageSeconds: 5))
        }
        func text(_ bytes: [UInt8]?) -> String? { bytes.map { String(decoding: $0, as: UTF8.self) } }
        let syncing = Array(#"{"singer_state": {"currently_syncing": "a"#.utf8) + [0xFF] + Array(#""}}"#.utf8)
        let broken = Array(#"{"a": "#.utf8) + [0xC3]
        let repeated = Array(#"{"k"#.utf8) + [0xFE] + Array(#"": {"x": 1}, "k"#.utf8) + [0xFF] + Array(#"": 1}"#.utf8)
        let partialK = Array(#"{"k\ufffd": {"y": 1}}"#.utf8)
        let cases: [([UInt8]?, [UInt8]?)] = [(syncing, nil), (nil, syncing), (broken, Array("{}".utf8)), (partialK, repeated)]
        for (partial, completed) in cases {
            let fromBytes = evidence(partial, completed)
            let fromText = StateEvidence(RowSnapshot(partialState: text(partial), completedState: text(completed), updatedAt: "t"), ageSeconds: 5)
            #expect(fromBytes == fromText, "\(text(partial) ?? "NULL") / \(text(completed) ?? "NULL")")
        }
        #expect(evidence(syncing, nil).currentlySyncing == "a\u{FFFD}" && evidence(syncing, nil).unreadable == nil)
        #expect(evidence(broken, nil).unreadable?.hasPrefix("partial state is not JSON") == true)
        // The two keys become one ("k\u{FFFD}") and the last wins, a number: the partial part's object does not merge onto it
        // (read as two keys apart from the partial's, it would).
        #expect(evidence(partialK, repeated).unreadable?.hasPrefix("the partial state does not merge") == true, "\(evidence(partialK, repeated))")
        #expect(evidence(nil, nil).ageSeconds == 5 && evidence(nil, nil).updatedAt == "t")
    }

    /// A text edit is written only while the row reads as it did: bytes compared, and
    /// bytes that are not UTF-8 as the text they were read as (else a row holding such a
    /// byte would read as changed every time).
    @Test func aPartReadsAsItsBytes() {
        #expect(StateStore.reads(nil, as: nil) && !StateStore.reads("{}", as: nil) && !StateStore.reads(nil, as: Array("{}".utf8)))
        #expect(StateStore.reads(#"{"é": 1}"#, as: Array(#"{"é": 1}"#.utf8)))
        #expect(!StateStore.reads("{\"\u{E9}\": 1}", as: Array("{\"e\u{301}\": 1}".utf8)), "canonically equal, other bytes")
        let invalid = Array(#"{"a"#.utf8) + [0xFF] + Array(#"": 1}"#.utf8)
        #expect(StateStore.reads(String(decoding: invalid, as: UTF8.self), as: invalid))
        #expect(!StateStore.reads(#"{"a": 1}"#, as: invalid))
    }

    /// The parts are read as tapes where they can be: every pair of parts gives what their
    /// trees give (the tree-only reading doctor had before is the oracle here; the merge
    /// errors themselves are checked against `deepMerge` in StateOperationTests).
    @Test func stateEvidenceFromTapesIsWhatTheTreesSay() {
        let parts: [String?] = [
            nil, "{}", "[]", "null", "1", "{oops", #"{"a": 1, "a": {oops"#,
            #"{"singer_state": {"currently_syncing": "orders", "bookmarks": {"a": {"v": 1}}}}"#,
            #"{"singer_state": {"currently_syncing": null, "bookmarks": {"a": {"v": 2}, "b": {}}}}"#,
            #"{"singer_state": {"currently_syncing": {"x": [1, "\u00e9"]}}}"#,
            #"{"singer\u005fstate": {"currently_syncing": "e\u0073c\u00e9\u001b"}}"#,
            #"{"singer_state": {"currently_syncing": "a", "currently_syncing": "b"}}"#,
            #"{"singer_state": {"bookmarks": {"a": 1}}}"#, #"{"singer_state": []}"#,
            #"{"singer_state": {"bookmarks": {"a": {"v": 1}}}, "singer_state": {"bookmarks": {"a": 5}}}"#,
            #"{"singer_state": {"currently_syncing": 12.50, "bookmarks": {"a": {"v": {"w": 1}}}}}"#,
            #"{"other": {"x": [1]}, "singer_state": {"currently_syncing": "café"}}"#,
        ]
        func fromTrees(_ row: RowSnapshot) -> StateEvidence {
            func parse(_ raw: String?) -> Result<JSONValue, JSONParseError> {
                guard let raw else { return .success(.object(JSONObject())) }
                return Result { () throws(JSONParseError) in try JSONParser.parse(raw) }
            }
            let partial = parse(row.partialState), completed = parse(row.completedState)
            func present(_ raw: String?, _ part: Result<JSONValue, JSONParseError>) -> Bool {
                guard raw != nil else { return false }
                if case let .success(.object(object)) = part { return !object.isEmpty }
                return true
            }
            var syncing: String?
            for part in [partial, completed] {
                if case let .success(.object(top)) = part, case let .object(singer)? = top["singer_state"],
                   let value = singer["currently_syncing"], syncing == nil {
                    if case let .string(text) = value { syncing = text.text } else if value != .null { syncing = value.compactText }
                }
            }
            var unreadable: String?
            switch (partial, completed) {
            case let (.failure(error), _): unreadable = "partial state is not JSON: \(error.pythonDescription)"
            case let (_, .failure(error)): unreadable = "completed state is not JSON: \(error.pythonDescription)"
            case let (.success(p), .success(c)):
                do throws(MergeError) { _ = try deepMerge(p, onto: c) } catch {
                    unreadable = "the partial state does not merge onto the completed state: \(error.message)"
                }
            }
            return StateEvidence(hasCompleted: present(row.completedState, completed), hasPartial: present(row.partialState, partial),
                                 updatedAt: row.updatedAt, ageSeconds: 1, currentlySyncing: syncing, unreadable: unreadable)
        }
        var differences: [String] = []
        var unmergeable = 0
        for partial in parts {
            for completed in parts {
                let row = RowSnapshot(partialState: partial, completedState: completed, updatedAt: "t")
                let ours = StateEvidence(row, ageSeconds: 1), want = fromTrees(row)
                if ours != want { differences.append("\(partial ?? "NULL") onto \(completed ?? "NULL"):\n ours \(ours)\n want \(want)") }
                if want.unreadable?.contains("does not merge") == true { unmergeable += 1 }
            }
        }
        #expect(differences.isEmpty, "\(differences.count) differ, first: \(differences.prefix(3).joined(separator: "\n"))")
        #expect(unmergeable > 10)
    }

    /// A system database that could not be opened is not asked again at every refresh,
    /// but is again after `retryAfter`: a browser left open sees heartbeats once it is back.
    @Test func anUnreachableSystemDatabaseIsTriedAgainLater() throws {
        struct Down: Error {}
        var opens = 0
        func attempt(_ beside: BesideRuns) -> Bool {
            (try? beside.with({ opens += 1; throw Down() }, { _ in true })) ?? false
        }
        let patient = BesideRuns(retryAfter: 3600)
        #expect(!attempt(patient) && !attempt(patient) && opens == 1)
        opens = 0
        let eager = BesideRuns(retryAfter: 0)
        #expect(!attempt(eager) && !attempt(eager) && opens == 2)
    }

}
