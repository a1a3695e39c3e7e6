import StateJSON
import Testing

@testable import StateBrowser

@Suite("Browsing")
struct BrowseTests {
    @Test("80×24: list, merged JSON, locks, header and hints")
    func browse80x24() {
        let harness = Harness(backend: Samples.backend())
        assertSnapshot(harness.screen, named: "browse-80x24")
        #expect(harness.model.initialLoadComplete)
    }

    @Test("200×60: the same, with room")
    func browse200x60() {
        let harness = Harness(backend: Samples.backend(), size: Size(width: 200, height: 60))
        assertSnapshot(harness.screen, named: "browse-200x60")
    }

    @Test("Moving down loads the selected state; Tab moves to the JSON")
    func moveAndOpen() {
        var harness = Harness(backend: Samples.backend())
        harness.press(.character("j"), .character("j"), .down)
        #expect(harness.model.list.selectedRow?.stateID == "prod:tap-github-to-target-postgres")
        #expect(harness.model.detail.stateID == "prod:tap-github-to-target-postgres")
        harness.press(.tab)
        #expect(harness.model.focus == .detail)
        harness.press(.character("j"), .character("j"))
        assertSnapshot(harness.screen, named: "browse-detail-focused")
    }

    @Test("View modes: partial, raw, back to merged")
    func viewModes() {
        let backend = Samples.backend()
        backend.add("dev:a", completed: #"{"singer_state": {"x": 1}}"#, partial: #"{"singer_state": {"y": 2}}"#)
        var harness = Harness(backend: backend)
        harness.press(.character("3"))
        assertSnapshot(harness.screen, named: "view-partial")
        harness.press(.character("4"))
        assertSnapshot(harness.screen, named: "view-raw")
        harness.press(.character("k"))  // back to dev:a (the first ID)
        harness.press(.character("g"))
        #expect(harness.model.detail.stateID == "dev:a")
        harness.press(.character("v"))  // raw → merged
        #expect(harness.model.detail.mode == .merged)
        // The partial state merged onto the completed one, as Meltano reads it.
        #expect(harness.model.detail.document?.json?.prettyText() == """
            {
              "singer_state": {
                "x": 1,
                "y": 2
              }
            }
            """)
    }

    @Test("Ages go on counting between refreshes")
    func agesTick() {
        var harness = Harness(backend: Samples.backend())
        harness.send(.tick(testNow + 3600))
        #expect(harness.screen.line(3).contains("1h│"))
        #expect(harness.text.contains("refreshed 1h ago"))
    }

    @Test("Resize reflows; too small says so")
    func resize() {
        var harness = Harness(backend: Samples.backend())
        harness.resize(120, 30)
        #expect(harness.screen.width == 120)
        assertSnapshot(harness.screen, named: "resize-120x30")
        harness.resize(30, 8)
        #expect(harness.text.contains("Terminal too small"))
    }

    @Test("Empty schema and empty filter result say so")
    func empty() {
        var harness = Harness(backend: FakeBackend())
        #expect(harness.text.contains("No state IDs in this schema."))
        #expect(harness.text.contains("0 of 0"))
        #expect(harness.model.initialLoadComplete)
        harness.press(.character("/"))
        harness.type("nothing")
        harness.fireFilterTimers()
        #expect(harness.text.contains("No state IDs match *nothing*."))
    }

    @Test("q quits")
    func quit() {
        var harness = Harness(backend: Samples.backend())
        harness.press(.character("q"))
        #expect(harness.quit)
        #expect(harness.model.quitting)
    }
}
