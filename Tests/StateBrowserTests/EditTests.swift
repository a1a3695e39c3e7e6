import Testing

@testable import StateBrowser

@Suite("Editing in $EDITOR")
struct EditTests {
    @Test("e: edit, invalid JSON goes back with the error on top, then diff and confirm")
    func editFlow() {
        let backend = FakeBackend()
        backend.add("dev:tap-x-to-y", completed: #"{"singer_state": {"bookmarks": {"orders": {"since": "2023-01-01"}}}}"#)
        var opened: [String] = []
        backend.editor = { session in
            opened.append(session.text)
            if opened.count == 1 { return session.text.replacingOccurrences(of: "2023-01-01\"", with: "2023-06-01\",") }
            // Second time: fix it (the comment lines stay, they are ignored).
            return session.text.replacingOccurrences(of: "2023-06-01\",", with: "2023-06-01\"")
        }
        var harness = Harness(backend: backend)
        harness.press(.character("e"))
        #expect(opened.count == 2)
        #expect(opened[1].hasPrefix("// meltano-state: this is not valid JSON, so nothing was written:\n// expected a key in double quotes at line 6, column 7 of the JSON below."))
        guard case let .diff(diff) = harness.model.mode else { Issue.record("no diff"); return }
        #expect(diff.lines.contains(DiffLine(.removed, #"-        "since": "2023-01-01""#)))
        #expect(diff.lines.contains(DiffLine(.added, #"+        "since": "2023-06-01""#)))
        assertSnapshot(harness.screen, named: "edit-diff")
        harness.press(.character("y"))
        #expect(backend.writes.count == 1)
        if case let .set(id, text, _) = backend.writes.first {
            #expect(id == "dev:tap-x-to-y")
            #expect(text.contains("2023-06-01"))
        }
    }

    @Test("No change and an empty file write nothing")
    func noChange() {
        let backend = FakeBackend()
        backend.add("dev:a", completed: #"{"singer_state": {}}"#)
        backend.editor = { $0.text }
        var harness = Harness(backend: backend)
        harness.press(.character("e"))
        #expect(harness.text.contains("No changes: nothing was written."))
        backend.editor = { _ in "   \n" }
        harness.press(.character("e"))
        #expect(harness.text.contains("Empty file: nothing was changed."))
        #expect(backend.writes.isEmpty)
    }

    @Test("The diff defaults to No; a refused value goes back to the editor")
    func refused() {
        let backend = FakeBackend()
        backend.add("dev:a", completed: #"{"singer_state": {}}"#)
        backend.editor = { session in session.text.contains("\"other\"") ? nil : #"{"other": 1}"# }
        var harness = Harness(backend: backend)
        harness.press(.character("e"), .enter)
        #expect(harness.text.contains("Edit discarded"))
        backend.writeOutcome = { _ in .rejected("Refusing to set 'dev:a': the value has no top-level \"singer_state\" key, which Meltano requires.") }
        harness.press(.character("e"), .character("y"))
        #expect(backend.commandLog.filter { $0.hasPrefix("openEditor") }.count == 3)
        #expect(harness.text.contains("Could not run the editor") || harness.text.contains("Refused"))
    }

    @Test("Comments at the top are stripped, JSON is compared without whitespace")
    func helpers() {
        #expect(Model.stripComments("// one\n// two\n{\"a\": 1}\n") == "{\"a\": 1}\n")
        #expect(JSONCanonical.compact("{ \"a b\" : [1, 2] }\n") == JSONCanonical.compact("{\"a b\":[1,2]}"))
        #expect(JSONCanonical.compact("{\"a b\": 1}") != JSONCanonical.compact("{\"ab\": 1}"))
    }
}
