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
        #expect(opened[1].hasPrefix("// meltano-state: this is not valid JSON, so nothing was written:\n// Expecting property name enclosed in double quotes: line 6, column 7 of the JSON below."))
        guard case let .diff(diff) = harness.model.mode else { Issue.record("no diff"); return }
        #expect(diff.lines.contains(DiffLine(.removed, #"-        "since": "2023-01-01""#)))
        #expect(diff.lines.contains(DiffLine(.added, #"+        "since": "2023-06-01""#)))
        assertSnapshot(harness.screen, named: "edit-diff")
        harness.press(.character("y"))
        #expect(backend.writes.count == 1)
        if case let .set(id, text, _, _) = backend.writes.first {
            #expect(id == "dev:tap-x-to-y")
            #expect(text.contains("2023-06-01"))
        }
    }

    @Test("← → scroll a long diff sideways instead of discarding the edit; other keys still discard")
    func diffScrollsSideways() {
        let backend = FakeBackend()
        let long = String(repeating: "a", count: 150)
        backend.add("dev:tap-x-to-y", completed: #"{"singer_state": {"bookmarks": {"orders": {"since": "2023-01-01"}}}}"#)
        backend.editor = { session in session.text.replacingOccurrences(of: "2023-01-01", with: long + "-END") }
        var harness = Harness(backend: backend)
        harness.press(.character("e"))
        guard case .diff = harness.model.mode else { Issue.record("no diff"); return }
        #expect(!harness.text.contains("-END"))
        for _ in 0..<20 { harness.press(.right) }  // past the end: stops with the end in view
        guard case let .diff(scrolled) = harness.model.mode else { Issue.record("→ left the diff"); return }
        #expect(scrolled.left > 100 && harness.text.contains("-END"), "\(harness.text)")
        harness.press(.character("h"))
        guard case let .diff(back) = harness.model.mode else { Issue.record("h left the diff"); return }
        #expect(back.left == scrolled.left - 8)
        harness.press(.character("n"))
        #expect(harness.model.mode == .browse && backend.writes.isEmpty)
        #expect(harness.model.status?.text == "Edit discarded: nothing was written.")
    }

    @Test("Invalid JSON saved again unchanged cancels instead of reopening the editor forever")
    func invalidTwiceCancels() {
        let backend = FakeBackend()
        backend.add("dev:a", completed: #"{"singer_state": {}}"#)
        var opened = 0
        backend.editor = { _ in
            opened += 1
            return #"{"a":1,,}"#  // the same broken text every time
        }
        var harness = Harness(backend: backend)
        harness.press(.character("e"))
        #expect(opened == 2, "opened \(opened) times")
        #expect(harness.text.contains("still not valid JSON: nothing was changed."))
        #expect(backend.writes.isEmpty)
        // An editor that only exits on the reopened text cancels too.
        opened = 0
        backend.editor = { session in
            opened += 1
            return opened == 1 ? #"{"a":1,,}"# : session.text
        }
        harness.press(.character("e"))
        #expect(opened == 2 && backend.writes.isEmpty)
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

    @Test("Comments at the top are stripped; unchanged means equal as Meltano compares states")
    func helpers() {
        #expect(Model.stripComments("// one\n// two\n{\"a\": 1}\n") == "{\"a\": 1}\n")
        let original = "{\n  \"singer_state\": {\n    \"a b\": [1, 2],\n    \"n\": 1,\n    \"s\": \"x\"\n  }\n}\n"
        let session = EditSession(stateID: "dev:a", original: original, text: original)
        func check(_ text: String) -> EditCheck { LocalWork.checkEdit(session, text: text).1 }
        // Whitespace, key order, 1 and 1.0 (Python's ==) do not count.
        #expect(check(#"{"singer_state":{"a b":[1,2],"n":1,"s":"x"}}"#) == .unchanged)
        #expect(check(#"{"singer_state": {"s": "x", "n": 1.0, "a b": [1, 2.0]}}"#) == .unchanged)
        #expect(check("// a comment\n" + original) == .unchanged)
        // What Meltano would store differently does.
        guard case let .changed(lines) = check(#"{"singer_state": {"a b": [2, 1], "n": 1, "s": "x"}}"#) else {
            Issue.record("a reordered array is a change"); return
        }
        #expect(lines.contains(DiffLine(.added, #"+{"singer_state": {"a b": [2, 1], "n": 1, "s": "x"}}"#)))
        #expect(check(#"{"singer_state": {"a b": [1, 2], "n": 1, "s": "x", "t": null}}"#) != .unchanged)
        #expect(check(#"{"singer_state": {"a b": [1, 2], "n": 1, "s": "X"}}"#) != .unchanged)
        #expect(check("// only a comment\n  \n") == .empty)
        #expect(check("") == .empty)
        #expect(check("{\"a\": 1,}") == .invalid(["meltano-state: this is not valid JSON, so nothing was written:",
                                                  "Expecting property name enclosed in double quotes: line 1, column 9 of the JSON below."]))
        // Valid JSON that Python's json cannot read (too deep) is refused too.
        let deep = String(repeating: "[", count: 1001) + String(repeating: "]", count: 1001)
        guard case let .invalid(comments) = check(deep) else { Issue.record("1001 levels accepted"); return }
        #expect(comments[0] == "meltano-state: Meltano could not read this JSON, so nothing was written:")
        // A row that was not JSON: its raw text back unchanged is no change.
        let raw = EditSession(stateID: "dev:b", original: #"{"singer_state": "#, text: "", unreadable: true)
        #expect(LocalWork.checkEdit(raw, text: #"{"singer_state": "#).1 == .invalid(["meltano-state: this is not valid JSON, so nothing was written:",
                                                                                   "Expecting value: line 1, column 18 of the JSON below."]))
        guard case .changed = LocalWork.checkEdit(raw, text: #"{"singer_state": {}}"#).1 else { Issue.record("a repair is a change"); return }
    }

    @Test("Reordered keys and 1.0 for 1 in the editor: no changes, nothing written")
    func noChangeAsMeltano() {
        let backend = FakeBackend()
        backend.add("dev:a", completed: #"{"singer_state": {"b": 1, "a": [1, 2]}}"#)
        backend.editor = { _ in #"{"singer_state": {"a": [1.0, 2], "b": 1}}"# }
        var harness = Harness(backend: backend)
        harness.press(.character("e"))
        #expect(harness.text.contains("No changes: nothing was written."))
        #expect(backend.writes.isEmpty)
        #expect(harness.model.mode == .browse)
    }

    @Test("The check runs off the UI thread: a late answer for an older edit is dropped")
    func checkedInBackground() {
        let backend = FakeBackend()
        backend.add("dev:a", completed: #"{"singer_state": {"n": 1}}"#)
        var saves = 0
        backend.editor = { _ in saves += 1; return #"{"singer_state": {"n": \#(saves + 1)}}"# }
        var harness = Harness(backend: backend)
        harness.hold = { if case .checkEdit = $0 { return true } else { return false } }
        harness.press(.character("e"))
        #expect(harness.model.mode == .browse)
        #expect(harness.held.map(\.name) == ["checkEdit(dev:a)"])
        let first = harness.held
        harness.held = []
        harness.press(.character("e"))
        let second = harness.held
        harness.hold = nil
        harness.held = first
        harness.releaseHeld()  // the first edit's answer comes late: dropped
        #expect(harness.model.mode == .browse)
        harness.held = second
        harness.releaseHeld()
        guard case let .diff(diff) = harness.model.mode else { Issue.record("no diff"); return }
        #expect(diff.newText.contains(#""n": 3"#))
    }

    @Test("Changed meanwhile: back to the editor with the current value as the new base; saving again writes")
    func conflict() {
        let backend = FakeBackend()
        backend.add("dev:a", completed: #"{"singer_state": {"n": 1}}"#)
        var opened: [EditSession] = []
        backend.editor = { session in
            opened.append(session)
            return session.text.replacingOccurrences(of: "\"n\": 1", with: "\"n\": 5").replacingOccurrences(of: "\"n\": 2", with: "\"n\": 5")
        }
        let current = "{\n  \"singer_state\": {\n    \"n\": 2\n  }\n}\n"
        backend.writeOutcome = { action in
            if backend.writes.count == 1 { return .conflict(current: EditSession(stateID: "dev:a", original: current, text: current)) }
            return .done("Wrote the state of 'dev:a'.")
        }
        var harness = Harness(backend: backend)
        harness.press(.character("e"), .character("y"))
        #expect(opened.count == 2)
        #expect(opened[1].original == current)
        #expect(opened[1].text.hasPrefix("// meltano-state: dev:a was changed by someone else while you were editing,"))
        #expect(harness.text.contains("Write the edited state of dev:a?"))
        guard case let .diff(diff) = harness.model.mode else { Issue.record("no diff"); return }
        #expect(diff.lines.contains(DiffLine(.removed, #"-    "n": 2"#)))
        harness.press(.character("y"))
        #expect(backend.writes.count == 2)
        if case let .set(_, _, original, unreadable) = backend.writes.last {
            #expect(original == current)
            #expect(!unreadable)
        }
    }

    @Test("Changed meanwhile, then given up: the pane shows the value as it is now")
    func conflictThenDiscard() {
        let backend = FakeBackend()
        backend.add("dev:a", completed: #"{"singer_state": {"n": 1}}"#)
        backend.editor = { $0.text.replacingOccurrences(of: "\"n\": 1", with: "\"n\": 5") }
        let current = "{\n  \"singer_state\": {\n    \"n\": 2\n  }\n}\n"
        backend.writeOutcome = { _ in
            backend.add("dev:a", completed: #"{"singer_state": {"n": 2}}"#)  // someone else's write
            return .conflict(current: EditSession(stateID: "dev:a", original: current, text: current))
        }
        var harness = Harness(backend: backend)
        #expect(harness.text.contains(#""n": 1"#))
        harness.press(.character("e"), .character("y"))
        harness.press(.character("n"))
        #expect(harness.text.contains("Edit discarded"))
        #expect(harness.text.contains(#""n": 2"#), "\(harness.text)")
        #expect(!harness.text.contains(#""n": 1"#))
    }
}
