import Testing

@testable import StateBrowser

@Suite("Filter and search")
struct FilterSearchTests {
    @Test("/ filters on the server after a pause, with the count")
    func filter() {
        let backend = Samples.backend()
        var harness = Harness(backend: backend)
        harness.press(.character("/"))
        harness.type("git")
        // Debounced: nothing asked while typing.
        #expect(!backend.commandLog.contains("loadPage(first)") || backend.commandLog.filter { $0 == "loadPage(first)" }.count == 1)
        #expect(harness.timers.count >= 3)
        harness.fireFilterTimers()
        #expect(backend.commandLog.filter { $0 == "count(*git*)" }.count == 1)
        assertSnapshot(harness.screen, named: "filter-typing")
        harness.press(.enter)
        #expect(harness.model.mode == .browse)
        assertSnapshot(harness.screen, named: "filter-applied")
        harness.press(.escape)
        #expect(harness.model.list.filter.isEmpty)
        #expect(harness.text.contains("1 of 12"))
    }

    @Test("A glob is sent as typed: prod:*-postgres")
    func glob() {
        var harness = Harness(backend: Samples.backend())
        harness.press(.character("/"))
        harness.type("prod:*-postgres")
        harness.press(.enter)
        #expect(harness.model.list.appliedGlob == "prod:*-postgres")
        #expect(harness.model.list.rows.map(\.stateID) == ["prod:tap-github-to-target-postgres", "prod:tap-gitlab-to-target-postgres",
                                                            "prod:tap-stripe-to-target-postgres", "prod:tap-zendesk-to-target-postgres"])
    }

    @Test("What is typed shows as typed: one backslash is one")
    func typedBackslash() {
        var harness = Harness(backend: Samples.backend())
        harness.press(.character("/"))
        harness.type("a\\b")
        #expect(harness.text.contains("Filter: a\\b ") && !harness.text.contains("a\\\\b"), "\(harness.text)")
        harness.press(.escape, .tab, .character("/"))
        harness.type("C:\\")
        #expect(harness.text.contains("Search: C:\\ ") && !harness.text.contains("C:\\\\"), "\(harness.text)")
    }

    @Test("Esc while filtering puts the old filter back")
    func filterEscape() {
        var harness = Harness(backend: Samples.backend())
        harness.press(.character("/"))
        harness.type("jira")
        harness.press(.escape)
        #expect(harness.model.list.filter == "")
        #expect(harness.model.list.rows.count == 12)
    }

    @Test("/ in the JSON pane searches; n and N move between matches; folds open")
    func search() {
        var harness = Harness(backend: Samples.backend())
        harness.press(.tab)
        harness.press(.character("j"), .character("j"), .enter)  // fold "bookmarks"
        #expect(harness.model.detail.folds == [2])
        harness.press(.character("/"))
        harness.type("updated")
        assertSnapshot(harness.screen, named: "search-typing")
        harness.press(.enter)
        #expect(harness.model.detail.cursor == 4)
        #expect(harness.model.detail.folds.isEmpty)
        assertSnapshot(harness.screen, named: "search-match")
        harness.press(.character("n"))
        #expect(harness.model.detail.cursor == 8)
        harness.press(.character("n"))
        #expect(harness.model.detail.cursor == 4)  // wrapped
        harness.press(.character("N"))
        #expect(harness.model.detail.cursor == 8)
    }

    @Test("No match says so")
    func noMatch() {
        var harness = Harness(backend: Samples.backend())
        harness.press(.tab, .character("/"))
        harness.type("nowhere")
        harness.press(.enter)
        #expect(harness.text.contains("No match for 'nowhere'."))
        // The next question clears the old answer: it does not come back after a filter.
        harness.press(.backTab, .character("/"))
        harness.type("a")
        harness.press(.enter)
        #expect(!harness.text.contains("No match for 'nowhere'."))
        #expect(harness.model.status == nil)
    }

    @Test("r: 'Refreshing…' goes once the list is back, not 8 s later")
    func refreshingClears() {
        var harness = Harness(backend: Samples.backend())
        harness.press(.character("r"))
        #expect(harness.model.status == nil, "\(String(describing: harness.model.status))")
        #expect(!harness.text.contains("Refreshing"))
    }


    @Test("Search finds an escape as the pane shows it (\\u001b[31m) as well as the character")
    func searchEscapesAsShown() {
        let backend = FakeBackend()
        backend.add("dev:escape", completed: #"{"singer_state": {"a": "plain", "v": "\u001b[31mRED\u001b[0m\u0007bell"}}"#)
        var harness = Harness(backend: backend)
        harness.press(.tab, .character("/"))
        harness.type(#"\u001b[31m"#)
        harness.press(.enter)
        #expect(!harness.text.contains("No match"), "\(harness.text)")
        #expect(harness.model.detail.cursor == 3, "\(harness.model.detail.cursor)")
        harness.press(.character("/"))
        harness.type("RED")
        harness.press(.enter)
        #expect(harness.model.detail.cursor == 3)
    }

}
