import Testing

@testable import StateBrowser

@Suite("Text that is not JSON")
struct InvalidJSONTests {
    @Test("An invalid row is marked in the list and shown raw with the error position")
    func invalidRow() {
        let backend = FakeBackend()
        backend.add("dev:broken", completed: #"{"singer_state": {"bookmarks": {"issues": {"since": "2023-11-14"}, "pulls": {"since": "2023-"#)
        backend.add("dev:fine", completed: #"{"singer_state": {}}"#)
        let harness = Harness(backend: backend)
        assertSnapshot(harness.screen, named: "invalid-json-merged")
        #expect(harness.screen.line(3).hasPrefix(" ? dev:broken"))
        #expect(harness.text.contains("✗ not JSON: Unterminated string starting at:"))
    }

    @Test("The error character is marked in place")
    func marked() {
        let backend = FakeBackend()
        backend.add("dev:trailing", completed: #"{"singer_state": {"a": 1,}}"#)
        var harness = Harness(backend: backend)
        harness.press(.character("2"))
        let screen = harness.screen
        assertSnapshot(screen, named: "invalid-json-completed")
        // Find the marked cell: it is the '}' after the trailing comma.
        var marked: [String] = []
        for y in 0..<screen.height {
            for x in 0..<screen.width where screen[x, y].style.background == .red { marked.append(screen[x, y].text) }
        }
        #expect(marked == ["}"])
    }

    /// Python's messages and positions (json.loads gives the same for each text).
    @Test("Layout errors carry the byte offset")
    func errors() {
        func offset(_ text: String) -> Int? {
            do { _ = try JSONDocument(text: text); return nil } catch let error as JSONTextError { return error.offset } catch { return -1 }
        }
        #expect(offset(#"{"a": 1,}"#) == 8)
        #expect(offset(#"{"a" 1}"#) == 5)
        #expect(offset("[1, 2") == 5)
        #expect(offset("") == 0)
        #expect(offset("{} x") == 3)
        #expect(offset("01") == 1)
        #expect(offset(#"["\x"]"#) == 2)
        #expect(offset("[\"a\u{1}\"]") == 3)
        #expect(throws: JSONTextError(offset: 5, message: "Expecting ':' delimiter")) { try JSONDocument(text: #"{"a" 1}"#) }
        #expect(throws: JSONTextError(offset: 2, message: "Invalid \\escape")) { try JSONDocument(text: #"["\x"]"#) }
        #expect(offset(#"[NaN, Infinity, -Infinity, 1e+16, -0.0]"#) == nil)
        #expect(offset(#"{"big": 12345678901234567890123}"#) == nil)
    }
}

@Suite("Store errors in the pane")
struct ProblemTextTests {
    @Test("A parser excerpt with a caret is dropped; the rest reads as one line")
    func oneLine() {
        let text = "The stored completed state of 'dev:broken' is not valid JSON (Expecting value: line 1 column 38 (char 37)\n{\"singer_state\": {\"x\": \n                     ^); fix it with `meltano-state set` or `edit`, or clear it."
        #expect(LocalWork.oneLine(text) == "The stored completed state of 'dev:broken' is not valid JSON (Expecting value: line 1 column 38 (char 37)); fix it with `meltano-state set` or `edit`, or clear it.")
        #expect(LocalWork.oneLine("plain") == "plain")
    }
}
