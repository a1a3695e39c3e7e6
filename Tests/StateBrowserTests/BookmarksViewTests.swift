import StateJSON
import Testing

@testable import StateBrowser

/// `b`: the Bookmarks view of the state shown, and rewind (`r`) and reset (`x`) from
/// it, which end in the same diff and confirmation as `e`.
@Suite("Bookmarks view")
struct BookmarksViewTests {
    static let id = "prod:tap-postgres-to-target-snowflake"
    static let state = #"{"singer_state": {"bookmarks": {"public-orders": {"replication_key": "updated_at", "replication_key_value": "2023-11-14T12:34:56.123456+00:00"}, "public-customers": {"replication_key": "id", "replication_key_value": 4242, "starting_replication_value": 4000, "progress_markers": {"Note": "Progress is not resumable if interrupted.", "replication_key": "id", "replication_key_value": 4300}}, "public-events": {"partitions": [{"context": {"tenant": "a"}, "replication_key": "ts", "replication_key_value": "2023-11-10T00:00:00Z"}]}}, "currently_syncing": "public-orders"}}"#

    func harness(readOnly: Bool = false, partial: String? = nil) -> (Harness, FakeBackend) {
        let backend = FakeBackend()
        backend.add(Self.id, completed: Self.state, partial: partial)
        var settings = Harness.settings
        settings.readOnly = readOnly
        return (Harness(backend: backend, size: Size(width: 120, height: 24), settings: settings), backend)
    }

    @Test("b waits while the state shown is read again (after a write), so nothing is based on the old one")
    func notWhileTheStateIsReadAgain() throws {
        var (harness, _) = harness()
        harness.model.detail.loadingRequest = 9_999  // a reload under way, as just after a write
        harness.press(.character("b"))
        #expect(harness.model.mode == .browse, "\(harness.model.mode)")
        #expect(harness.text.contains("Reading the state again; press b once it is shown."))
        harness.model.detail.loadingRequest = nil
        harness.press(.character("b"))
        guard case .bookmarks = harness.model.mode else { Issue.record("no bookmarks view: \(harness.text)"); return }
    }

    @Test("b lists the streams; r rewinds the selected one through the diff; y writes it")
    func rewindFromTheView() throws {
        var (harness, backend) = harness()
        harness.press(.character("b"))
        guard case let .bookmarks(view) = harness.model.mode else { Issue.record("no bookmarks view"); return }
        #expect(view.targets.map(\.stream) == ["public-orders", "public-customers", "public-events"])
        assertSnapshot(harness.screen, named: "bookmarks")

        harness.press(.character("j"), .character("r"))
        harness.type("4000")
        assertSnapshot(harness.screen, named: "bookmarks-rewind-input")
        harness.press(.enter)
        guard case let .diff(diff) = harness.model.mode else { Issue.record("no diff: \(harness.text)"); return }
        #expect(diff.lines.contains(DiffLine(.removed, #"-        "replication_key_value": 4242,"#)))
        #expect(diff.lines.contains(DiffLine(.added, #"+        "replication_key_value": 4000,"#)))
        assertSnapshot(harness.screen, named: "bookmarks-rewind-diff")
        #expect(backend.writes.isEmpty, "nothing before y")
        harness.press(.character("y"))
        #expect(backend.writes.count == 1)
        guard case let .bookmark(stateID, verb, original, text, note) = backend.writes.first else { Issue.record("\(backend.writes)"); return }
        #expect(stateID == Self.id && verb == "rewind" && original == Self.state)
        #expect(text == Self.state.replacingOccurrences(of: #""replication_key_value": 4242"#, with: #""replication_key_value": 4000"#))
        #expect(note == "public-customers: replication_key_value 4242 → 4000")
    }

    @Test("-1d moves a time back by a day, in its own format; a bad value stays in the input with the reason")
    func rewindByAndRefusals() {
        var (harness, backend) = harness()
        harness.press(.character("b"), .character("r"))
        harness.type("-3")
        harness.press(.enter)
        #expect(harness.text.contains("'3' is not a duration"), "\(harness.text)")
        guard case let .bookmarks(view) = harness.model.mode else { Issue.record("left the view"); return }
        #expect(view.input?.text == "-3")
        harness.press(.backspace, .backspace)
        harness.type("-1d")
        harness.press(.enter, .character("y"))
        guard case let .bookmark(_, _, _, text, _) = backend.writes.first else { Issue.record("\(backend.writes)"); return }
        #expect(text == Self.state.replacingOccurrences(of: "2023-11-14T12:34:56.123456", with: "2023-11-13T12:34:56.123456"))

        // Ahead of the current value: refused, nothing written.
        harness.press(.character("b"), .character("j"), .character("r"))
        harness.type("5000")
        harness.press(.enter)
        #expect(harness.text.contains("is ahead of the current bookmark"), "\(harness.text)")
        #expect(backend.writes.count == 1)
    }

    @Test("x resets the selected stream through the diff; N writes nothing")
    func resetFromTheView() {
        var (harness, backend) = harness()
        harness.press(.character("b"), .character("j"), .character("x"))
        guard case .diff = harness.model.mode else { Issue.record("no diff"); return }
        harness.press(.character("n"))
        #expect(backend.writes.isEmpty)
        harness.press(.character("b"), .character("j"), .character("j"), .character("x"), .character("y"))
        guard case let .bookmark(_, verb, _, text, note) = backend.writes.first else { Issue.record("\(backend.writes)"); return }
        #expect(verb == "reset-stream" && note == "removed bookmark of public-events")
        #expect(text == Self.state.replacingOccurrences(of: #", "public-events": {"partitions": [{"context": {"tenant": "a"}, "replication_key": "ts", "replication_key_value": "2023-11-10T00:00:00Z"}]}"#, with: ""))
    }

    @Test("A partial state's newer progress is shown; read-only mode shows the view but refuses r and x")
    func partialAndReadOnly() {
        var (harness, backend) = harness(readOnly: true, partial: #"{"singer_state": {"bookmarks": {"public-orders": {"replication_key_value": "2023-11-14T20:00:00.000000+00:00"}}}}"#)
        harness.press(.character("b"))
        #expect(harness.text.contains(#"partial state "2023-11-14T20:00:00.000000+00:00""#), "\(harness.text)")
        #expect(harness.text.contains("read-only: no rewind or reset"))
        harness.press(.character("r"))
        #expect(harness.text.contains("Read-only: rewinding is disabled"), "\(harness.text)")
        harness.press(.character("x"))
        #expect(backend.writes.isEmpty)
        harness.press(.escape)
        #expect(harness.model.mode == .browse)
    }
}
