import StateConfig
import Testing

@testable import StateBrowser

@Suite("Contexts: the header and the picker")
struct ContextPickerTests {
    static var settings: BrowserSettings {
        var settings = Harness.settings
        let prod = ContextChoice(name: "prod", location: "postgres://meltano:********@prod-db:5432/meltano/public", readOnly: true, color: .red)
        settings.contexts = [
            prod,
            ContextChoice(name: "staging", location: "project ~/src/etl, environment staging", readOnly: false, color: .yellow),
            ContextChoice(name: "plain", location: "postgresql://meltano@db/meltano", readOnly: false, color: nil),
        ]
        settings.context = prod
        settings.readOnly = true
        return settings
    }

    @Test func theHeaderShowsTheContextInItsColourAndAReadOnlyContextRefusesWrites() {
        var harness = Harness(backend: Samples.backend(), settings: Self.settings)
        #expect(harness.text.hasPrefix(" prod  meltano@db.example:5432/warehouse"))
        #expect(harness.screen[1, 0].style.foreground == .red && harness.screen[1, 0].style.reverse)
        assertSnapshot(harness.screen, named: "context-header-read-only")
        harness.press(.character("d"))
        #expect(harness.model.mode == .browse)
        #expect(harness.model.status?.text.contains("read-only") == true, "\(String(describing: harness.model.status))")
        #expect(harness.backend.writes.isEmpty)
    }

    @Test func colonOpensThePickerAndEnterAsksTheHostToSwitch() {
        var harness = Harness(backend: Samples.backend(), settings: Self.settings)
        harness.press(.character(":"))
        #expect(harness.model.mode == .contexts(selected: 0))
        assertSnapshot(harness.screen, named: "context-picker")
        harness.press(.down, .down, .down, .up)
        #expect(harness.model.mode == .contexts(selected: 1))
        harness.press(.enter)
        #expect(harness.backend.commandLog.last == "switchContext(staging)")
        #expect(harness.quit && harness.model.quitting)
    }

    @Test func escapeAndTheCurrentContextLeaveThingsAsTheyAre() {
        var harness = Harness(backend: Samples.backend(), settings: Self.settings)
        harness.press(.character(":"), .escape)
        #expect(harness.model.mode == .browse && !harness.quit)
        harness.press(.character(":"), .enter)
        #expect(harness.model.mode == .browse && !harness.quit)
        #expect(harness.model.status?.text == "Already in context prod.")
    }

    @Test func withoutContextsThePickerSaysWhereToDefineThem() {
        var harness = Harness(backend: Samples.backend())
        harness.press(.character(":"))
        #expect(harness.model.mode == .browse)
        #expect(harness.model.status?.text.contains("contexts: in ~/.config/meltano-state/config.yml") == true)
        #expect(!harness.text.contains(" prod "))
    }

    @Test func equalsComparesTheSelectedStateWithAnotherContext() {
        let backend = Samples.backend()
        backend.contextDiffs["staging"] = [DiffLine(.hunk, #"~ .singer_state.bookmarks.issues.page: 17 -> 18"#),
                                           DiffLine(.added, #"+ .singer_state.bookmarks.pulls: {}"#)]
        var harness = Harness(backend: backend, settings: Self.settings)
        let id = harness.model.list.selectedRow!.stateID
        harness.press(.character("="))
        #expect(harness.model.mode == .contexts(selected: 1, forDiff: true), "starts on another context than this one")
        #expect(harness.text.contains("Compare with context"))
        harness.press(.enter)
        #expect(harness.backend.commandLog.last == "diffWithContext(\(id), staging)")
        assertSnapshot(harness.screen, named: "context-diff")
        #expect(harness.text.contains("~ .singer_state.bookmarks.issues.page: 17 -> 18"))
        harness.press(.escape)
        #expect(harness.model.mode == .browse && !harness.quit)
    }

    /// A line longer than the box scrolls sideways with ← → (h l) instead of closing it.
    @Test func theContextDiffScrollsSideways() {
        let backend = Samples.backend()
        let long = "~ .singer_state.bookmarks.issues.note: \"" + String(repeating: "x", count: 140) + "\" -> \"END\""
        backend.contextDiffs["staging"] = [DiffLine(.hunk, long)]
        var harness = Harness(backend: backend, settings: Self.settings)
        harness.press(.character("="), .enter)
        #expect(!harness.text.contains("END"))
        for _ in 0..<30 { harness.press(.right) }
        guard case let .contextDiff(view) = harness.model.mode else { Issue.record("→ closed the diff"); return }
        #expect(harness.text.contains("\"END\"") && view.left == TextWidth.width(of: long) - 8, "\(harness.text)")
        harness.press(.left, .left)
        guard case let .contextDiff(back) = harness.model.mode else { Issue.record("← closed the diff"); return }
        #expect(back.left == view.left - 16)
        harness.press(.character("q"))
        #expect(harness.model.mode == .browse)
    }
}
