import Testing

@testable import StateBrowser

@Suite("Confirmations name what is destroyed and default to No")
struct ConfirmationTests {
    @Test("d: clear asks, names the ID, and Enter cancels")
    func clearDefaultNo() {
        let backend = Samples.backend()
        var harness = Harness(backend: backend)
        harness.press(.character("d"))
        assertSnapshot(harness.screen, named: "confirm-clear")
        harness.press(.enter)
        #expect(backend.writes.isEmpty)
        #expect(harness.text.contains("Cancelled: nothing was changed."))
        harness.press(.character("d"), .character("n"))
        harness.press(.character("d"), .escape)
        #expect(backend.writes.isEmpty)
    }

    @Test("A long state ID is shown whole in the confirmation, broken across lines, at 80 columns")
    func longIDShownWhole() {
        let backend = FakeBackend()
        let suffix = String(repeating: "-warehouse", count: 18)
        backend.add("prod:tap-salesforce\(suffix)-region-eu", completed: #"{"singer_state": {}}"#)
        backend.add("prod:tap-salesforce\(suffix)-region-us", completed: #"{"singer_state": {}}"#)
        var harness = Harness(backend: backend, size: Size(width: 80, height: 24))
        harness.press(.character("j"), .character("d"))
        // The dialog's lines, borders and indent taken off, joined: the whole ID.
        let inside = harness.text.split(separator: "\n").compactMap { line -> String? in
            guard let open = line.firstIndex(of: "│"), let close = line.lastIndex(of: "│"), open < close else { return nil }
            return line[line.index(after: open)..<close].trimmingCharacters(in: .whitespaces)
        }.joined()
        #expect(inside.contains("prod:tap-salesforce\(suffix)-region-us"), "\(harness.text)")
        harness.press(.escape)
        #expect(backend.writes.isEmpty)
    }

    @Test("d then y clears, reports it and reloads around the place")
    func clearYes() {
        let backend = Samples.backend()
        var harness = Harness(backend: backend)
        harness.press(.character("j"), .character("d"), .character("y"))
        #expect(backend.writes == [.clear(stateID: "dev:tap-gitlab-to-target-postgres")])
        #expect(harness.text.contains("Cleared 'dev:tap-gitlab-to-target-postgres' (journaled)."))
        #expect(harness.model.list.selectedRow?.stateID == "dev:tap-jira-to-target-snowflake")
        #expect(harness.text.contains("2 of 11"))
    }

    @Test("Clearing a locked state warns about the lock")
    func clearLocked() {
        var harness = Harness(backend: Samples.backend())
        for _ in 0..<10 { harness.press(.character("j")) }
        #expect(harness.model.list.selectedRow?.stateID == "prod:tap-stripe-to-target-postgres")
        harness.press(.character("d"))
        #expect(harness.text.contains("It is locked now"))
    }

    @Test("u on a stale lock: lock ID, taken at, age, STALE")
    func releaseStale() {
        let backend = Samples.backend()
        var harness = Harness(backend: backend)
        harness.press(.character("L"), .character("u"))
        assertSnapshot(harness.screen, named: "confirm-release-stale")
        harness.press(.character("y"))
        #expect(backend.writes == [.release(stateID: "prod:tap-github-to-target-postgres", lockID: "3f9a1c2e-5b7d-4e21-9c0a-8d6f4b2e1a37")])
        #expect(harness.model.locks.rows.count == 1)
        #expect(harness.text.contains("Released lock 3f9a1c2e"))
    }

    @Test("u on a fresh lock says it may belong to a running pipeline")
    func releaseFresh() {
        var harness = Harness(backend: Samples.backend())
        harness.press(.character("L"), .character("j"), .character("u"))
        assertSnapshot(harness.screen, named: "confirm-release-running")
        #expect(harness.text.contains("may belong to a running pipeline"))
    }

    @Test("u in the list acts on the selected state's lock, or says it has none")
    func releaseFromList() {
        var harness = Harness(backend: Samples.backend())
        harness.press(.character("u"))
        #expect(harness.text.contains("is not locked"))
        #expect(harness.model.mode == .browse)
        harness.press(.character("j"), .character("j"), .character("j"), .character("u"))
        guard case let .confirm(confirmation) = harness.model.mode else { Issue.record("no confirmation"); return }
        #expect(confirmation.action == .release(stateID: "prod:tap-github-to-target-postgres", lockID: "3f9a1c2e-5b7d-4e21-9c0a-8d6f4b2e1a37"))
    }

    @Test("c: prompt for the target, then a confirmation that says it overwrites")
    func copyOverwrite() {
        let backend = Samples.backend()
        var harness = Harness(backend: backend)
        harness.press(.character("c"))
        assertSnapshot(harness.screen, named: "prompt-copy")
        harness.press(.control("u"))
        harness.type("prod:tap-github-to-target-postgres")
        harness.press(.enter)
        assertSnapshot(harness.screen, named: "confirm-copy-overwrite")
        // The target's lock is said before y, as clear says it.
        #expect(harness.text.contains("'prod:tap-github-to-target-postgres' is locked now"), "\(harness.text)")
        harness.press(.character("y"))
        #expect(backend.writes == [.copy(from: "dev:tap-github-to-target-postgres", to: "prod:tap-github-to-target-postgres")])
    }

    /// An ID holding ESC and one holding the text `\x1b` read apart in the dialog's
    /// words, as they paste into a shell: `$'a\x1b'` and `'a\x1b'`.
    @Test("m of an ID with a control character: the dialog names it as the shell would, apart from the literal one")
    func moveNamesIDsApart() {
        let backend = FakeBackend()
        backend.add("a\u{1b}", completed: #"{"singer_state": {}}"#)
        backend.add(#"a\x1b"#, completed: #"{"singer_state": {}}"#)
        var harness = Harness(backend: backend, size: Size(width: 120, height: 30))
        var shown: [String] = []
        for _ in 0..<2 {
            harness.press(.character("m"), .control("u"))
            harness.type("x")
            harness.press(.enter)
            shown.append(harness.text)
            harness.press(.escape, .character("j"))
        }
        #expect(shown.contains { $0.contains(#"Then $'a\x1b' is cleared"#) }, "\(shown)")
        #expect(shown.contains { $0.contains(#"Then 'a\x1b' is cleared"#) }, "\(shown)")
    }

    /// IDs that differ only by spaces at their ends read apart in the list: quoted.
    @Test("The list quotes an ID with a space at either end")
    func listQuotesEdgeSpaces() {
        let backend = FakeBackend()
        backend.add("dev:a", completed: #"{"singer_state": {}}"#)
        backend.add("dev:a ", completed: #"{"singer_state": {}}"#)
        let harness = Harness(backend: backend)
        #expect(harness.text.contains("   dev:a ") && harness.text.contains("'dev:a '"), "\(harness.text)")
    }

    /// Where the chosen ID is named on its own (the detail's title, a dialog's ID line,
    /// the locks pane) it is quoted the same way, so a clear or a release says which of
    /// the two it acts on.
    @Test("Title, dialogs and locks quote an ID with a space at either end")
    func dialogsQuoteEdgeSpaces() {
        let backend = FakeBackend()
        backend.add("dev:a", completed: #"{"singer_state": {}}"#)
        backend.add("dev:a ", completed: #"{"singer_state": {}}"#)
        backend.locks = [LockRow(stateID: "dev:a ", lockID: "3f9a1c2e-5b7d-4e21-9c0a-8d6f4b2e1a37",
                                 lockedAt: "2023-11-14 21:41:02.123456", ageSeconds: 1938, fetchedAt: testNow, isStale: true)]
        var harness = Harness(backend: backend)
        // The ID without the space is shown bare.
        #expect(harness.text.split(separator: "\n").contains { $0.contains("│dev:a ") }, "\(harness.text)")
        harness.press(.character("D"))
        #expect(harness.text.contains("doctor: dev:a "), "\(harness.text)")
        harness.press(.escape, .character("j"))
        #expect(harness.model.list.selectedRow?.stateID == "dev:a ")
        harness.press(.character("D"))
        #expect(harness.text.contains("doctor: 'dev:a '"), "\(harness.text)")
        harness.press(.escape)
        let lines = harness.text.split(separator: "\n")
        #expect(lines.contains { $0.contains("│'dev:a '") }, "the title: \(harness.text)")
        #expect(lines.filter { $0.contains("'dev:a '") }.count >= 3, "list, title and locks pane: \(harness.text)")
        harness.press(.character("d"))
        guard case let .confirm(clear) = harness.model.mode else { Issue.record("no confirmation"); return }
        #expect(clear.lines.contains { $0.map(\.text).joined() == "  'dev:a '" }, "\(clear.lines)")
        harness.press(.escape, .character("u"))
        guard case let .confirm(release) = harness.model.mode else { Issue.record("no release dialog"); return }
        #expect(release.lines.contains { $0.map(\.text).joined() == "  'dev:a '" }, "\(release.lines)")
        harness.press(.escape, .character("c"), .control("u"))
        harness.type("dev:b")
        harness.press(.enter)
        guard case let .confirm(copy) = harness.model.mode else { Issue.record("no copy dialog"); return }
        #expect(copy.lines.contains { $0.map(\.text).joined() == "  'dev:a '" }, "\(copy.lines)")
    }

    @Test("m: move to a new ID says it is created and the source cleared")
    func moveNew() {
        let backend = Samples.backend()
        var harness = Harness(backend: backend)
        harness.press(.character("m"))
        harness.press(.control("w"))
        harness.type("dev:tap-github-to-target-duckdb")
        harness.press(.enter)
        assertSnapshot(harness.screen, named: "confirm-move-new")
        harness.press(.character("y"))
        #expect(backend.writes == [.move(from: "dev:tap-github-to-target-postgres", to: "dev:tap-github-to-target-duckdb")])
        #expect(harness.model.list.rows.contains { $0.stateID == "dev:tap-github-to-target-duckdb" })
    }

    @Test("The prompt refuses an empty or unchanged target")
    func promptRefuses() {
        var harness = Harness(backend: Samples.backend())
        harness.press(.character("c"), .enter)
        #expect(harness.text.contains("same state ID"))
        harness.press(.control("u"), .enter)
        #expect(harness.text.contains("cannot be empty"))
        harness.press(.escape)
        #expect(harness.model.mode == .browse)
    }

    @Test("H: journal history, Enter asks before restoring")
    func historyRestore() {
        let backend = Samples.backend()
        backend.history["dev:tap-github-to-target-postgres"] = [
            HistoryRow(id: "20231114T221000Z-3f9a1c", time: "2023-11-14T22:10:00Z", action: "edit", stateID: "dev:tap-github-to-target-postgres",
                       note: nil, hadRow: true, bytes: 180),
            HistoryRow(id: "20231113T080000Z-77aa01", time: "2023-11-13T08:00:00Z", action: "clear", stateID: "dev:tap-github-to-target-postgres",
                       note: nil, hadRow: true, bytes: 2048),
            HistoryRow(id: "20231112T080000Z-0000aa", time: "2023-11-12T08:00:00Z", action: "copy", stateID: "dev:tap-github-to-target-postgres",
                       note: "from prod:tap-github-to-target-postgres", hadRow: false),
        ]
        var harness = Harness(backend: backend)
        harness.press(.character("H"))
        assertSnapshot(harness.screen, named: "history")
        harness.press(.character("j"), .enter)
        assertSnapshot(harness.screen, named: "confirm-restore")
        harness.press(.character("y"))
        #expect(backend.writes == [.restore(entryID: "20231113T080000Z-77aa01", stateID: "dev:tap-github-to-target-postgres")])
    }

    @Test("Only one write at a time; Esc cancels a lock wait")
    func oneWriteAtATime() {
        let backend = Samples.backend()
        var harness = Harness(backend: backend)
        // Hold the write: the fake answers nothing until told.
        var held: [Message] = []
        backend.writeOutcome = { _ in .failed("Cancelled: gave up waiting for the lock of 'x'; nothing was changed.") }
        let (model, commands) = update(harness.model, .key(.character("d")))
        harness.model = model
        harness.run(commands)
        let (model2, commands2) = update(harness.model, .key(.character("y")))
        harness.model = model2
        #expect(commands2.map(\.name) == ["write(clear(stateID: \"dev:tap-github-to-target-postgres\"))"])
        held.append(.writeFinished(.clear(stateID: "dev:tap-github-to-target-postgres"), .failed("Cancelled: gave up waiting.")))
        harness.press(.character("d"))
        #expect(harness.text.contains("Busy: clearing"))
        let (model3, commands3) = update(harness.model, .key(.escape))
        harness.model = model3
        #expect(commands3.map(\.name) == ["cancelWrite"])
        for message in held { harness.send(message) }
        #expect(harness.model.writing == nil)
        #expect(harness.text.contains("Cancelled: gave up waiting."))
    }
}

@Suite("Advisory locks")
struct AdvisoryLockTests {
    @Test("Releasing an advisory lock says it ends the holder's session")
    func advisory() {
        let backend = Samples.backend()
        backend.locks = [LockRow(stateID: "prod:tap-github-to-target-postgres", lockID: "-3872158263847155034", lockedAt: "2023-11-14 21:41:02",
                                 ageSeconds: 1938, fetchedAt: testNow, isStale: true, holder: "pid 4242, user meltano, from 10.0.0.7",
                                 isAdvisory: true)]
        var harness = Harness(backend: backend)
        // The locks pane names the holder, not the numeric key.
        #expect(harness.text.contains("HOLDER"))
        #expect(harness.text.contains("pid 4242"))
        harness.press(.character("L"), .character("u"))
        assertSnapshot(harness.screen, named: "confirm-release-advisory")
        #expect(harness.text.contains("pid 4242"))
        #expect(harness.text.contains("pg_terminate_backend"))
    }
}

@Suite struct LineInputTests {
    func typed(_ start: String, _ keys: [Key]) -> LineInput {
        var line = LineInput(start)
        for key in keys { _ = line.apply(key) }
        return line
    }

    @Test func readlineKeysEditAtTheCursor() {
        #expect(typed("prod:tap", [.home, .character("x"), .character("-")]).text == "x-prod:tap")
        #expect(typed("prod:tap", [.left, .left, .left, .backspace]).text == "prodtap")
        #expect(typed("prod:tap", [.control("a"), .delete, .delete]).text == "od:tap")
        #expect(typed("prod:tap", [.home, .right, .right, .right, .right, .control("k")]).text == "prod")
        #expect(typed("prod:tap", [.left, .left, .left, .control("u")]).text == "tap")
        #expect(typed("a bc def", [.left, .control("w")]).text == "a bc f")
        #expect(typed("a bc  ", [.control("w")]).text == "a ")
        #expect(typed("ab", [.left, .left, .left, .backspace, .right, .right, .right, .delete, .character("c")]).text == "abc")
        #expect(typed("é😀x", [.left, .backspace, .character("y")]).text == "éyx")
        // Marks and the halves of a flag or an emoji join the character before them: the
        // cursor stays after what they joined (it went past the end, which crashed).
        let accent = typed("", [.character("e"), .character("\u{301}"), .character("x")])
        #expect(accent.text == "e\u{301}x" && accent.cursor == 2 && accent.text.count == 2)
        let flag = typed("ab", [.left, .character("\u{1F1FA}"), .character("\u{1F1F8}")])
        #expect(flag.text == "a\u{1F1FA}\u{1F1F8}b" && flag.cursor == 2 && flag.parts.at == "b")
        #expect(typed("ab", [.left, .character("\u{1F1FA}"), .character("\u{1F1F8}"), .backspace]).text == "ab")
        let tone = typed("👍", [.character("\u{1F3FD}"), .left, .character("<"), .end, .character(">")])
        #expect(tone.text == "<👍\u{1F3FD}>" && tone.cursor == 3)
        #expect(typed("ab", [.home, .character("\u{301}")]).text == "\u{301}ab")  // nothing before it to join
        let moved = typed("abc", [.left, .control("b"), .control("f"), .control("e"), .control("a")])
        #expect(moved.cursor == 0 && moved.parts.at == "a" && moved.parts.after == "bc")
        #expect(typed("abc", []).parts.at == nil)
        var line = LineInput("x")
        #expect(!line.apply(.up) && !line.apply(.enter) && !line.apply(.tab) && line == LineInput("x"))
    }

    /// The copy/move target is prefilled with the source ID: the cursor keys change its
    /// middle without retyping it, and the cursor shows where typing goes.
    @Test func theCopyPromptEditsInTheMiddle() {
        var harness = Harness(backend: Samples.backend())
        harness.press(.character("c"))
        for _ in 0..<"postgres".count { harness.press(.left) }
        for _ in 0..<"target-".count { harness.press(.backspace) }
        harness.type("target-duckdb-was-")
        guard case let .prompt(prompt) = harness.model.mode else { Issue.record("no prompt"); return }
        #expect(prompt.text == "dev:tap-github-to-target-duckdb-was-postgres", "\(prompt.text)")
        assertSnapshot(harness.screen, named: "prompt-copy-cursor")
        harness.press(.end, .backspace, .backspace, .backspace, .backspace, .backspace, .backspace, .backspace, .backspace, .backspace)
        guard case let .prompt(edited) = harness.model.mode else { Issue.record("no prompt"); return }
        #expect(edited.text == "dev:tap-github-to-target-duckdb-was")
        // Longer than the box: the part around the cursor shows.
        harness.type(String(repeating: "x", count: 60) + "END")
        #expect(harness.text.contains("xxxEND") && !harness.text.contains("> dev:tap"), "\(harness.text)")
        harness.press(.home)
        #expect(harness.text.contains("> dev:tap-github-to-target-duckdb-was") && !harness.text.contains("xxxEND"), "\(harness.text)")
    }
}
