import Testing

@testable import StateBrowser

/// The browser's doctor: `D` shows the diagnosis of the selected ID in a panel, and a
/// lock's release confirmation carries doctor's verdict; RUNNING asks twice.
@Suite("doctor in the browser")
struct DoctorPanelTests {
    static let github = "prod:tap-github-to-target-postgres"
    static let stripe = "prod:tap-stripe-to-target-postgres"

    /// The sample locks with the verdicts the store gives them: the old one's run
    /// stopped sending heartbeats, the young one's still sends them.
    static func backendWithVerdicts() -> FakeBackend {
        let backend = Samples.backend()
        backend.locks[0].staleEvidence = "heartbeat"
        backend.locks[0].staleReason = "run 41 of this job is RUNNING with no heartbeat for 25 min 3 s"
        backend.locks[0].verdict = "SAFE TO RELEASE"
        backend.locks[0].verdictReason = "run 41 of this job is RUNNING with no heartbeat for 25 min 3 s: its process stopped sending heartbeats, so nothing holds this lock any more"
        backend.locks[1].staleEvidence = "heartbeat"
        backend.locks[1].staleReason = "run 42 of this job is RUNNING, last heartbeat 12 s ago"
        backend.locks[1].verdict = "RUNNING, DO NOT RELEASE"
        backend.locks[1].verdictReason = "run 42 of this job is RUNNING, last heartbeat 12 s ago"
        backend.locks[1].needsSecondConfirmation = true
        return backend
    }

    @Test("D: the diagnosis of the selected ID, line by line, as `doctor ID` prints it")
    func panel() {
        let backend = Self.backendWithVerdicts()
        backend.diagnoses[Self.github] = DoctorReport(stateID: Self.github, headline: "SAFE TO RELEASE", safe: true, lines: [
            DoctorLine(label: "lock", text: "row, lock ID 3f9a1c2e-5b7d-4e21-9c0a-8d6f4b2e1a37, taken 2023-11-14 21:41:02.123456 (32 min 18 s ago)"),
            DoctorLine(label: "run", text: "41 RUNNING, started 2023-11-14 21:40:00 UTC, last heartbeat 2023-11-14 21:48:10 UTC: STALE (no heartbeat for 25 min 3 s)"),
            DoctorLine(label: "state", text: "completed, updated 2023-11-14 22:12:20 (1 h 6 min ago)"),
            DoctorLine(label: "stale?", text: "yes, by heartbeat: run 41 of this job is RUNNING with no heartbeat for 25 min 3 s"),
            DoctorLine(label: "verdict", text: "SAFE TO RELEASE: run 41 of this job is RUNNING with no heartbeat for 25 min 3 s"),
            DoctorLine(label: "next", text: "meltano-state unlock prod:tap-github-to-target-postgres 3f9a1c2e-5b7d-4e21-9c0a-8d6f4b2e1a37"),
        ])
        var harness = Harness(backend: backend)
        harness.press(.character("j"), .character("j"), .character("j"))
        harness.press(.character("D"))
        #expect(backend.commandLog.contains("diagnose(\(Self.github))"))
        assertSnapshot(harness.screen, named: "doctor-panel")
        #expect(harness.text.contains("verdict  SAFE TO RELEASE"))
        #expect(harness.text.contains("next     meltano-state unlock prod:tap-github-to-target-postgres"))
        harness.press(.escape)
        #expect(harness.model.mode == .browse)
        // From the locks pane: the selected lock's state ID; a failed diagnosis says why.
        harness.press(.character("L"), .character("j"), .character("D"))
        #expect(backend.commandLog.last == "diagnose(\(Self.stripe))")
        #expect(harness.text.contains("Could not diagnose: no diagnosis in this test"))
    }

    /// A command to type is shown as it must be typed: `$'…\x1b…'` keeps one backslash
    /// (a state ID's own backslash is doubled, and so was the command's, which then named
    /// another ID), and a raw control is still shown escaped.
    @Test("Commands in the doctor panel and the release dialog read as they must be typed")
    func commandsAsTyped() {
        let backend = Self.backendWithVerdicts()
        let command = #"meltano-state unlock $'prod:ansi-\x1b[31mRED' 3f9a1c2e-5b7d-4e21-9c0a-8d6f4b2e1a37"#
        backend.diagnoses[Self.github] = DoctorReport(stateID: Self.github, headline: "UNKNOWN", safe: false, lines: [
            DoctorLine(label: "verdict", text: "UNKNOWN: no evidence; if you know it is dead: " + command),
            DoctorLine(label: "holder", text: "application_name a\u{1b}b"),
        ])
        backend.locks[0].verdictReason = "no evidence; if you know it is dead: " + command
        var harness = Harness(backend: backend, size: Size(width: 200, height: 40))
        harness.press(.character("j"), .character("j"), .character("j"), .character("D"))
        // (The command may be wrapped: its quoted ID is checked.)
        let quotedID = #"$'prod:ansi-\x1b[31mRED'"#
        #expect(harness.text.contains(quotedID) && !harness.text.contains(#"\\x1b"#), "\(harness.text)")
        #expect(harness.text.contains(#"application_name a\x1bb"#) && !harness.text.contains("\u{1b}"))
        harness.press(.escape, .character("L"), .character("u"))
        #expect(harness.text.contains(quotedID) && !harness.text.contains(#"\\x1b"#), "\(harness.text)")
    }

    @Test("u on a lock doctor calls SAFE TO RELEASE: the verdict, its evidence, one y")
    func releaseSafe() {
        let backend = Self.backendWithVerdicts()
        var harness = Harness(backend: backend)
        harness.press(.character("L"), .character("u"))
        assertSnapshot(harness.screen, named: "confirm-release-verdict-safe")
        #expect(harness.text.contains("SAFE TO RELEASE"))
        #expect(harness.text.contains("judged by heartbeat"))
        harness.press(.character("y"))
        #expect(backend.writes == [.release(stateID: Self.github, lockID: "3f9a1c2e-5b7d-4e21-9c0a-8d6f4b2e1a37")])
    }

    @Test("u on a lock doctor calls RUNNING: a second, explicit confirmation")
    func releaseRunningAsksTwice() {
        let backend = Self.backendWithVerdicts()
        var harness = Harness(backend: backend)
        harness.press(.character("L"), .character("j"), .character("u"))
        assertSnapshot(harness.screen, named: "confirm-release-verdict-running")
        harness.press(.character("y"))
        #expect(backend.writes.isEmpty, "one y is not enough")
        assertSnapshot(harness.screen, named: "confirm-release-verdict-running-again")
        #expect(harness.text.contains("Press y again only if you know this pipeline is dead."))
        // Anything but y at the second question cancels.
        harness.press(.enter)
        #expect(backend.writes.isEmpty)
        #expect(harness.text.contains("Cancelled: nothing was changed."))
        harness.press(.character("u"), .character("y"), .character("y"))
        #expect(backend.writes == [.release(stateID: Self.stripe, lockID: "b51e07d4-2c88-4f3e-a9d1-6e0c5f7a8b92")])
    }
}
