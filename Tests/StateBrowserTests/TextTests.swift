import Testing

@testable import StateBrowser

@Suite("Wide characters and escapes")
struct TextTests {
    @Test("Cell widths: ASCII 1, CJK and emoji 2, combining 0")
    func widths() {
        #expect(TextWidth.width(of: Character("a")) == 1)
        #expect(TextWidth.width(of: Character("漢")) == 2)
        #expect(TextWidth.width(of: Character("ｱ")) == 1)  // half-width katakana
        #expect(TextWidth.width(of: Character("Ａ")) == 2)  // fullwidth A
        #expect(TextWidth.width(of: Character("한")) == 2)
        #expect(TextWidth.width(of: Character("😀")) == 2)
        #expect(TextWidth.width(of: Character("👩‍💻")) == 2)  // ZWJ sequence
        #expect(TextWidth.width(of: Character("🇯🇵")) == 2)  // flag
        #expect(TextWidth.width(of: Character("❤️")) == 2)  // emoji presentation selector
        #expect(TextWidth.width(of: Character("é")) == 1)  // precomposed
        #expect(TextWidth.width(of: Character("e\u{301}")) == 1)  // combining acute
        #expect(TextWidth.width(of: "東京-tap-😀") == 11)
    }

    @Test("Control characters, ESC and bidi overrides become visible escapes")
    func escapes() {
        #expect(TextWidth.escaped("a\u{1b}[31mred") == "a\\x1b[31mred")
        #expect(TextWidth.escaped("evil\u{202e}gpj.exe") == "evil\\u202egpj.exe")
        #expect(TextWidth.escaped("tab\there") == "tab\\x09here")
        #expect(TextWidth.escaped("del\u{7f}") == "del\\x7f")
        #expect(TextWidth.escaped("csi\u{9b}") == "csi\\x9b")
        #expect(TextWidth.escaped("zero\u{200b}width") == "zero\\u200bwidth")
        #expect(TextWidth.escaped("\r\n") == "\\x0d\\x0a")
        #expect(TextWidth.escaped("\u{301}alone") == "\\u0301alone")
        #expect(TextWidth.escaped("bell\u{7}", mode: .json) == "bell\\u0007")
        #expect(TextWidth.escaped("nl\n", mode: .json) == "nl\\n")
        #expect(TextWidth.escaped("plain ünïcödé 漢字 👩‍💻") == "plain ünïcödé 漢字 👩‍💻")
    }

    @Test("A backslash in plain text is doubled, so a real ESC and the text \\x1b differ; JSON's own escapes stay")
    func backslashes() {
        #expect(TextWidth.escaped("a\u{1b}") == "a\\x1b")
        #expect(TextWidth.escaped("a\\x1b") == "a\\\\x1b")
        #expect(TextWidth.escaped("a\\b", mode: .json) == "a\\b")
        #expect(TextWidth.width(of: "a\\b") == 4)
        var screen = Screen(width: 20, height: 2)
        screen.put("id\u{1b}", x: 0, y: 0)
        screen.put("id\\x1b", x: 0, y: 1)
        #expect(screen.line(0) == "id\\x1b")
        #expect(screen.line(1) == "id\\\\x1b")
    }

    @Test("IDs with a real ESC and with the text \\x1b look different in the list and in the Clear dialog")
    func backslashIDs() {
        let backend = FakeBackend()
        backend.add("dev:a\u{1b}", completed: "{}")
        backend.add("dev:a\\x1b", completed: "{}")
        var harness = Harness(backend: backend)
        #expect(harness.model.list.rows.map(\.stateID) == ["dev:a\u{1b}", "dev:a\\x1b"])
        #expect(harness.text.contains("dev:a\\\\x1b"))
        harness.press(.character("d"))
        #expect(harness.text.contains("│   dev:a\\x1b "))
        harness.press(.escape, .character("j"), .character("d"))
        #expect(harness.text.contains("│   dev:a\\\\x1b "))
        #expect(!harness.text.contains("│   dev:a\\x1b "))
        harness.press(.escape)
    }

    @Test("A screen never holds an unsafe character")
    func screenIsSafe() {
        var screen = Screen(width: 40, height: 1)
        screen.put("x\u{1b}]52;c;AAAA\u{7}\u{202e}\u{9b}2J", x: 0, y: 0)
        for x in 0..<40 {
            #expect(!screen[x, 0].text.unicodeScalars.contains(where: TextWidth.isUnsafe))
        }
        #expect(screen.line(0) == "x\\x1b]52;c;AAAA\\x07\\u202e\\x9b2J")
        #expect(screen[1, 0].style.bold)  // the escape is styled apart from text
    }

    @Test("Wide characters take two cells; one that does not fit leaves a blank")
    func wideCells() {
        var screen = Screen(width: 5, height: 1)
        let end = screen.put("a漢字", x: 0, y: 0)
        #expect(end == 5)
        #expect(screen[1, 0].text == "漢" && screen[1, 0].width == 2)
        #expect(screen[2, 0].isContinuation)
        #expect(screen.line(0) == "a漢字")
        var narrow = Screen(width: 4, height: 1)
        narrow.put("ab漢字", x: 0, y: 0)
        #expect(narrow.line(0) == "ab漢")
        var cut = Screen(width: 3, height: 1)
        cut.put("ab漢", x: 0, y: 0)
        #expect(cut.line(0) == "ab")
        #expect(cut[2, 0].text == " ")
        // Overwriting half of a wide character blanks the other half.
        var over = Screen(width: 4, height: 1)
        over.put("漢字", x: 0, y: 0)
        over.put("x", x: 1, y: 0)
        #expect(over.line(0) == " x字")
        // A box filled over wide characters that straddle its edges, then bordered: both
        // borders show, and no half of a wide character is left outside it.
        var boxed = Screen(width: 8, height: 1)
        boxed.put("漢字漢字", x: 0, y: 0)
        boxed.fill(x: 1, y: 0, width: 6, height: 1)
        boxed.put("│", x: 1, y: 0)
        boxed.put("│", x: 6, y: 0)
        #expect(boxed.line(0) == " │    │")
        for column in 0..<8 {
            let cell = boxed[column, 0]
            #expect(!cell.isContinuation || (column > 0 && boxed[column - 1, 0].width == 2), "column \(column)")
            #expect(cell.width != 2 || (column + 1 < 8 && boxed[column + 1, 0].isContinuation), "column \(column)")
        }
    }

    @Test("Truncation counts cells")
    func truncation() {
        #expect(TextWidth.truncated("東京都-prod", toWidth: 6) == "東京…")
        #expect(TextWidth.truncated("short", toWidth: 10) == "short")
        #expect(TextWidth.truncated("a\u{1b}b", toWidth: 4) == "a…")
    }

    static func wideBackend() -> FakeBackend {
        let backend = FakeBackend()
        backend.add("東京:tap-注文-to-target-倉庫", completed: #"{"singer_state": {"bookmarks": {"注文": {"replication_key_value": "2023-11-14", "名前": "東京 👩‍💻 café"}}}}"#)
        backend.add("dev:tap-😀-emoji", completed: #"{"singer_state": {"flag": "🇯🇵", "heart": "❤️"}}"#)
        backend.add("evil\u{1b}[2J\u{1b}[31mred", completed: "{\"singer_state\": {\"k\u{202e}ey\": \"a\\u001b[0mb\\u202ec\\u0000d\"}}")
        backend.add("ascii:tap-x-to-y", completed: #"{"singer_state": {"e\u0301": "\ud83d\ude00 \u00e9"}}"#)
        return backend
    }

    @Test("Wide characters and escapes in IDs and JSON, 80×24")
    func wideScreen() {
        var harness = Harness(backend: Self.wideBackend())
        harness.press(.character("j"))
        assertSnapshot(harness.screen, named: "wide-80x24")
        harness.press(.character("j"))
        assertSnapshot(harness.screen, named: "wide-escapes-80x24")
        let screen = harness.screen
        for y in 0..<screen.height {
            for x in 0..<screen.width {
                #expect(!screen[x, y].text.unicodeScalars.contains(where: TextWidth.isUnsafe))
            }
        }
        harness.press(.character("j"))
        assertSnapshot(harness.screen, named: "wide-decoded-escapes")
    }

    @Test("Wide characters at 200×60")
    func wideLarge() {
        let harness = Harness(backend: Self.wideBackend(), size: Size(width: 200, height: 60))
        assertSnapshot(harness.screen, named: "wide-200x60")
    }
}
