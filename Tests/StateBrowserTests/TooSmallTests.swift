import Testing

@testable import StateBrowser

/// Below `Layout.minimumSize` the screen only says it is too small, so no key may act
/// on a dialog or a selection that cannot be seen; only leaving (q, Ctrl-C) works.
@Suite("A terminal too small to draw the browser")
struct TooSmallTests {
    @Test("d then y clears nothing while the screen is too small; no key moves or opens anything")
    func keysIgnored() {
        let backend = Samples.backend()
        var harness = Harness(backend: backend)
        harness.resize(20, 5)
        harness.press(.character("d"), .character("y"))
        #expect(backend.writes.isEmpty)
        #expect(harness.model.mode == .browse)
        harness.press(.character("j"), .character("G"), .tab, .character("L"), .character("e"), .character("c"), .character("m"),
                      .character("u"), .character("H"), .character("D"), .character("b"), .character("/"), .character("?"),
                      .character(":"), .character("="), .enter, .escape, .character("r"))
        #expect(backend.writes.isEmpty)
        #expect(harness.model.mode == .browse)
        #expect(harness.model.focus == .list)
        #expect(harness.model.list.selected == 0)
        #expect(!harness.quit)
        // Big enough again: nothing happened meanwhile.
        harness.resize(80, 24)
        #expect(harness.text.contains("1 of 12"))
        #expect(!harness.text.contains("Clear the state of"))
    }

    @Test("A dialog open when the terminal shrinks takes no y it cannot show")
    func dialogOpenBeforeShrinking() {
        let backend = Samples.backend()
        var harness = Harness(backend: backend)
        harness.press(.character("d"))
        #expect(harness.text.contains("Clear the state of"))
        harness.resize(39, 24)
        harness.press(.character("y"))
        #expect(backend.writes.isEmpty)
        harness.resize(80, 24)
        #expect(harness.text.contains("Clear the state of"))
        harness.press(.character("y"))
        #expect(backend.writes == [.clear(stateID: "dev:tap-github-to-target-postgres")])
    }

    @Test("q and Ctrl-C still quit")
    func quitting() {
        var harness = Harness(backend: Samples.backend())
        harness.resize(20, 5)
        harness.press(.character("q"))
        #expect(harness.quit)
        var again = Harness(backend: Samples.backend())
        again.resize(80, 9)
        again.press(.control("c"))
        #expect(again.quit)
    }

    @Test("The message fits: what it needs and that q quits, cut nowhere", arguments: [
        (20, 5), (39, 24), (80, 9), (12, 4), (30, 2), (5, 1),
    ])
    func messageFits(width: Int, height: Int) {
        var harness = Harness(backend: Samples.backend())
        harness.resize(width, height)
        let text = harness.text
        let shown = text.split(separator: "\n").joined(separator: " ")
        #expect(!shown.isEmpty)
        // Whole words only: every word shown is a word of one of the wordings.
        let words = Set("Terminal too small: \(width)×\(height), needs 40×10 or more. q quits. Too small: need 40×10. 40×10".split(separator: " "))
        for word in shown.split(separator: " ") { #expect(words.contains(word), "cut word \(word) in \(text)") }
        if width >= 20, height >= 3 {
            #expect(shown == "Terminal too small: \(width)×\(height), needs 40×10 or more. q quits.")
        }
    }
}
