import Testing

@testable import StateBrowser

@Suite("Folding")
struct FoldTests {
    @Test("Enter folds an object and shows its member count; again unfolds")
    func foldUnfold() {
        var harness = Harness(backend: Samples.backend())
        harness.press(.tab, .character("j"), .character("j"), .character("j"))  // "issues": {
        harness.press(.enter)
        assertSnapshot(harness.screen, named: "fold-one")
        #expect(harness.text.contains(#""issues": {…},  2 keys"#))
        harness.press(.character("j"))
        #expect(harness.model.detail.cursor == 7)  // skipped the folded members
        harness.press(.character("k"), .character(" "))
        #expect(harness.model.detail.folds.isEmpty)
    }

    @Test("Enter on a member folds its parent; z folds the siblings; Z unfolds all")
    func foldParentAndSiblings() {
        var harness = Harness(backend: Samples.backend())
        harness.press(.tab)
        for _ in 0..<4 { harness.press(.character("j")) }  // "updated_at" inside issues
        harness.press(.enter)
        #expect(harness.model.detail.cursor == 3)
        #expect(harness.model.detail.folds == [3])
        harness.press(.character("z"))
        #expect(harness.model.detail.folds == [3, 7])
        assertSnapshot(harness.screen, named: "fold-siblings")
        harness.press(.character("G"))
        #expect(harness.model.detail.cursor == 14)
        harness.press(.character("Z"))
        #expect(harness.model.detail.folds.isEmpty)
    }

    /// Scrolled to the end, z folds the members the top lines belonged to: the pane
    /// starts at a line still shown (the fold), never at one now inside a fold.
    @Test("z near the end: the top of the pane is a line still shown")
    func foldSiblingsScrolledDown() {
        let backend = FakeBackend()
        let streams = (0..<60).map { #""stream-\#($0)": {"i": \#($0), "v": "x"}"# }.joined(separator: ", ")
        backend.add("dev:many", completed: #"{"singer_state": {"bookmarks": {"# + streams + "}}}")
        var harness = Harness(backend: backend)
        harness.press(.tab, .character("G"))
        for _ in 0..<6 { harness.press(.character("k")) }
        let json = harness.model.detail.document!
        #expect(json.visibleAncestor(harness.model.detail.top, folds: harness.model.detail.folds) == harness.model.detail.top)
        harness.press(.character("z"))
        #expect(!harness.model.detail.folds.isEmpty)
        let top = harness.model.detail.top
        #expect(json.visibleAncestor(top, folds: harness.model.detail.folds) == top, "top \(top) is inside a fold")
        #expect(!harness.text.contains(#""i": 5"#), "a folded member still shows")
    }

    @Test("y copies the value, Y the JSON path (OSC 52)")
    func copy() {
        let backend = Samples.backend()
        var harness = Harness(backend: backend)
        harness.press(.tab, .character("j"), .character("j"), .character("j"))
        harness.press(.character("Y"))
        #expect(backend.clipboard.last == ".singer_state.bookmarks.issues")
        harness.press(.character("y"))
        #expect(backend.clipboard.last == #"{"updated_at": "2023-11-14T21:00:00Z", "page": 17}"#)
        #expect(harness.text.contains("Copied the value at .singer_state.bookmarks.issues"))
        harness.press(.character("j"))
        harness.press(.character("y"))
        #expect(backend.clipboard.last == "2023-11-14T21:00:00Z")
        harness.press(.backTab)
        harness.press(.character("y"))
        #expect(backend.clipboard.last == "dev:tap-github-to-target-postgres")
    }

    @Test("Long lines scroll sideways")
    func horizontal() {
        let backend = FakeBackend()
        backend.add("dev:long", completed: #"{"singer_state": {"cursor": "\#(String(repeating: "abcdefghij", count: 20))"}}"#)
        var harness = Harness(backend: backend)
        harness.press(.tab, .character("j"), .character("j"))
        #expect(harness.screen.line(6).hasSuffix("…") || harness.screen.line(6).contains("abcdefghij"))
        harness.press(.right, .right, .right)
        #expect(harness.model.detail.horizontal == 24)
        assertSnapshot(harness.screen, named: "fold-horizontal-scroll")
    }
}
