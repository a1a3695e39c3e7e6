import Foundation
import StateJSON
import Testing
import TestSupport

@testable import StateBrowser

@Suite("JSON and raw documents")
struct DocumentTests {
    @Test("Pretty layout keeps literals exactly as stored")
    func layout() throws {
        let document = try JSONDocument(text: #"{"a": [1, 1e+16, -0.0, 100000.0, NaN, -Infinity], "b": {}, "c": [], "d": {"e": null, "f": true}, "big": 12345678901234567890}"#)
        #expect(document.prettyText() == """
            {
              "a": [
                1,
                1e+16,
                -0.0,
                100000.0,
                NaN,
                -Infinity
              ],
              "b": {},
              "c": [],
              "d": {
                "e": null,
                "f": true
              },
              "big": 12345678901234567890
            }
            """)
        #expect(document.lineCount == 17)
        #expect(document.partner(0) == 16)
        #expect(document.partner(1) == 8)
        #expect(document.memberCount(0) == 5)
        #expect(document.memberCount(1) == 6)
    }

    @Test("Paths and values")
    func paths() throws {
        let document = try JSONDocument(text: #"{"singer_state": {"bookmarks": {"tap-x:stream": [{"k": "v\n\u00e9"}]}}, "9lives": 1}"#)
        #expect(document.path(0) == ".")
        #expect(document.path(3) == #".singer_state.bookmarks["tap-x:stream"]"#)
        #expect(document.path(5) == #".singer_state.bookmarks["tap-x:stream"][0].k"#)
        #expect(document.valueText(5) == "v\né")
        #expect(document.path(10) == #"["9lives"]"#)
        #expect(document.valueText(3) == #"[{"k": "v\n\u00e9"}]"#)
        #expect(document.ancestors(5) == [4, 3, 2, 1, 0])
    }

    @Test("Strings: escapes decoded, unsafe ones shown as JSON escapes, surrogates paired")
    func strings() throws {
        let document = try JSONDocument(text: #"["\ud83d\ude00 \u00e9 \u001b \"q\" \\ \ud800 \/"]"#)
        let runs = document.runs(1, folded: false, columns: 80, theme: .standard)
        #expect(runs.map(\.text).joined() == #"  "😀 é \u001b \"q\" \\ \ud800 /""#)
    }

    @Test("Deep nesting does not overflow the stack")
    func deep() throws {
        let depth = 100_000
        let text = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
        let document = try JSONDocument(text: text)
        #expect(document.lineCount == 2 * depth - 1)
        #expect(document.depth(depth - 1) == depth - 1)
    }

    @Test("Folding walks visible lines")
    func visible() throws {
        let document = Document.json(try JSONDocument(text: #"{"a": {"b": 1, "c": 2}, "d": [3]}"#))
        // 0 {  1 "a": {  2 b  3 c  4 }  5 "d": [  6 3  7 ]  8 }
        let folds: Set<Int> = [1]
        #expect(document.nextVisible(1, folds: folds) == 5)
        #expect(document.previousVisible(5, folds: folds) == 1)
        #expect(document.visibleAncestor(3, folds: folds) == 1)
        #expect(document.lastVisible(folds: [0]) == 0)
        #expect(document.move(0, by: 3, folds: folds) == 6)
        #expect(document.distance(from: 0, to: 6, folds: folds, limit: 10) == 3)
    }

    /// What `visibleAncestor` means, checked against every fold (the way it was found
    /// before it walked the parent chain).
    static func outermostFoldHiding(_ line: Int, in document: JSONDocument, folds: Set<Int>) -> Int {
        var result = line
        for open in folds where open < line {
            if let close = document.partner(open), line <= close, open < result { result = open }
        }
        return result
    }

    @Test("The fold hiding a line is found by its parents, as by checking every fold", arguments: [0x7F01_D001 as UInt64, 0x7F01_D002])
    func visibleAncestorMatchesEveryFold(seed: UInt64) throws {
        var random = SeededRandom(seed: seed)
        for _ in 0..<60 {
            let value = CompactLayoutTests.value(&random, depth: 0)
            let json = try JSONDocument(text: value.text(.meltano))
            let document = Document.json(json)
            let opens = (0..<json.lineCount).filter { json.isOpen($0) }
            for _ in 0..<5 {
                // Nested and side-by-side folds, some of them.
                let folds = Set(opens.filter { _ in random.below(3) == 0 })
                for line in 0..<json.lineCount {
                    #expect(document.visibleAncestor(line, folds: folds) == Self.outermostFoldHiding(line, in: json, folds: folds),
                            "line \(line) of \(json.lineCount), folds \(folds.sorted())")
                }
                let last = json.lineCount - 1
                #expect(document.lastVisible(folds: folds) == Self.outermostFoldHiding(last, in: json, folds: folds))
            }
        }
    }

    @Test("z in a big object folds every member; moving over them stays correct")
    func foldEveryMember() throws {
        let streams = 5_000
        let json = try JSONDocument(text: BigState.text(streams: streams))
        let document = Document.json(json)
        // 0 {  1 "singer_state": {  2 "bookmarks": {  3 first member {  …
        var harness = Harness(backend: {
            let backend = FakeBackend()
            backend.add("big", completed: json.text)
            return backend
        }())
        harness.press(.tab, .character("j"), .character("j"), .character("j"))
        #expect(harness.model.detail.cursor == 3)
        harness.press(.character("z"))
        #expect(harness.model.detail.folds.count == streams)
        harness.press(.character("G"))
        // The last member's open line, then bookmarks' close, singer_state's, the top's.
        #expect(harness.model.detail.cursor == json.lineCount - 1)
        #expect(document.move(json.lineCount - 1, by: -3, folds: harness.model.detail.folds) == json.lineCount - 8)
        #expect(document.visibleAncestor(json.lineCount - 5, folds: harness.model.detail.folds) == json.lineCount - 8)
        // A page up: three closes, then one folded member (5 lines) a row.
        harness.press(.pageUp)
        let steps = max(1, harness.model.layout.detailRows - 1)
        #expect(steps > 3)
        #expect(harness.model.detail.cursor == json.lineCount - 8 - 5 * (steps - 3))
        harness.press(.character("Z"))
        #expect(harness.model.detail.folds.isEmpty)
    }

    @Test("Words are told from numbers by their first bytes, as StateJSON tells them")
    func literalWords() throws {
        for text in ["[true]", "[false]", "[null]", "[NaN]", "[Infinity]", "[-Infinity]", "[-1]", "[-0.5e-3]",
                     "[tru]", "[truex]", "[fals]", "[nul]", "[Nan]", "[Inf]", "[-Inf]", "[-Infinityx]", "[-]", "[-x]",
                     "[t]", "[f1]", "true", "-Infinity", "-", "n", "[1, nulll]"] {
            let ours = Result { try JSONDocument(text: text) }
            let reference = Result { try JSONParser.parse(text) }
            switch (ours, reference) {
            case let (.success(document), .success(value)):
                #expect(try JSONParser.parse(document.prettyText()).prettyText(indent: 2) == value.prettyText(indent: 2), "\(text)")
            case let (.failure(ourError), .failure(referenceError)):
                #expect((ourError as? JSONTextError)?.offset == (referenceError as? JSONParseError)?.offset, "\(text)")
            default:
                Issue.record("\(text): layout \(ours), StateJSON \(reference)")
            }
        }
    }

    @Test("Raw text wraps by cells, breaks at line feeds, and marks an error")
    func raw() {
        let raw = RawDocument(sections: [RawDocument.Section(title: [Run("t")], text: "漢字漢字漢\nabc\u{1b}def", errorOffset: 19)], wrapWidth: 8)
        let texts = (0..<raw.rowCount).map { raw.rowText($0) }
        #expect(texts == ["t", "漢字漢字", "漢", "abc\u{1b}d", "ef"])
        #expect(raw.errorRows == [3])
        let marked = raw.runs(3, theme: .standard)
        #expect(marked.map(\.text) == ["abc", "\u{1b}", "d"])
    }

    @Test("Search is case-insensitive unless the term has capitals, and wraps")
    func search() throws {
        let document = Document.json(try JSONDocument(text: #"{"Alpha": "x", "beta": "ALPHA", "gamma": 1}"#))
        #expect(LocalWork.search(document, term: "alpha", from: 0, forward: true) == 1)
        #expect(LocalWork.search(document, term: "alpha", from: 1, forward: true) == 2)
        #expect(LocalWork.search(document, term: "alpha", from: 2, forward: true) == 1)
        #expect(LocalWork.search(document, term: "ALPHA", from: 0, forward: true) == 2)
        #expect(LocalWork.search(document, term: "alpha", from: 1, forward: false) == 2)
        #expect(LocalWork.search(document, term: "zzz", from: 0, forward: true) == nil)
    }

    @Test("A large state: laid out once, then each screen costs a screenful")
    func large() throws {
        // About 8 MB: 100k streams of bookmarks.
        var text = #"{"singer_state": {"bookmarks": {"#
        for index in 0..<100_000 {
            if index > 0 { text += ", " }
            text += #""stream_\#(index)": {"replication_key": "updated_at", "replication_key_value": "2023-11-14T21:00:00.\#(index)Z", "version": \#(1_700_000_000_000 + index)}"#
        }
        text += "}}}"
        let clock = ContinuousClock()
        var document: Document?
        let build = clock.measure {
            document = LocalWork.document(for: LoadedState(stateID: "big", completedRaw: text, partialRaw: nil, mergedText: text),
                                          mode: .merged, wrapWidth: 80)
        }
        #expect(document?.lineCount == 500_006)
        var model = Model(settings: BrowserSettings(), size: Size(width: 200, height: 60), now: testNow)
        model.list.rows = [StateRow(stateID: "big")]
        model.list.loaded = true
        model.list.reloading = false
        model.detail.stateID = "big"
        model.detail.loaded = LoadedState(stateID: "big", completedRaw: text, partialRaw: nil, mergedText: text)
        model.detail.documents[.merged] = document
        model.focus = .detail
        var screen = Screen(width: 0, height: 0)
        let draw = clock.measure {
            for _ in 0..<10 {
                (model, _) = update(model, .key(.pageDown))
                screen = view(model)
            }
        }
        (model, _) = update(model, .key(.end))
        screen = view(model)
        #expect(screen.text.contains("}"))
        // Generous bounds for a debug build on a small machine.
        #expect(build < .seconds(30))
        #expect(draw < .seconds(2), "ten page-downs of an 8 MB state took \(draw)")
    }
}

@Suite("Diff")
struct DiffTests {
    @Test("Unified hunks with context")
    func hunks() {
        let old = (1...20).map { "line \($0)" }.joined(separator: "\n") + "\n"
        var lines = (1...20).map { "line \($0)" }
        lines[4] = "changed 5"
        lines.insert("new", at: 15)
        let new = lines.joined(separator: "\n") + "\n"
        let diff = Diff.lines(old: old, new: new, context: 1)
        #expect(diff.map(\.text) == ["@@ -4,3 +4,3 @@", " line 4", "-line 5", "+changed 5", " line 6",
                                     "@@ -15,2 +15,3 @@", " line 15", "+new", " line 16"])
    }

    /// On random texts: the lines give back both texts, and in each run of changes
    /// every removed line comes before the added ones (as `diff -u` and git show them).
    @Test("Both texts come back; removals before additions")
    func property() {
        var seed: UInt64 = 7
        func next(_ n: Int) -> Int {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return Int((seed >> 33) % UInt64(n))
        }
        for _ in 0..<500 {
            let old = (0..<next(12)).map { _ in "l\(next(5))" }
            let new = (0..<next(12)).map { _ in "l\(next(5))" }
            let diff = Diff.lines(old: old.map { $0 + "\n" }.joined(), new: new.map { $0 + "\n" }.joined(), context: 100)
            let body = diff.filter { $0.kind != .hunk }
            if old == new { #expect(diff.isEmpty); continue }
            #expect(body.filter { $0.kind != .added }.map { String($0.text.dropFirst()) } == old)
            #expect(body.filter { $0.kind != .removed }.map { String($0.text.dropFirst()) } == new)
            for (a, b) in zip(body, body.dropFirst()) {
                #expect(!(a.kind == .added && b.kind == .removed), "\(old) → \(new): \(diff.map(\.text))")
            }
        }
    }

    /// The diff walks the texts instead of splitting them: on random texts (lines drawn
    /// from a few, with and without a last newline, empty lines, `é` in two spellings)
    /// it gives what splitting them and comparing every line gives.
    @Test("The same hunks as a diff of the split texts")
    func sameAsSplitting() {
        var random = SeededRandom(seed: 11)
        func next(_ n: Int) -> Int { random.below(n) }
        // "\r": a text with CRLF line ends is split at each LF, its CR kept at the end of
        // the line (String.split, before, kept "\r\n" as one character: no split at all).
        let pool = ["a", "b", "", "  \"k\": 1,", "caf\u{E9}", "cafe\u{301}", "}", "\r", "a\r"]
        var compared = 0
        for _ in 0..<3000 {
            var old = (0..<next(30)).map { _ in pool[next(pool.count)] }
            var new = old
            for _ in 0..<next(4) {
                switch next(3) {
                case 0 where !new.isEmpty: new.remove(at: next(new.count))
                case 1: new.insert(pool[next(pool.count)], at: next(new.count + 1))
                default: if !new.isEmpty { new[next(new.count)] = pool[next(pool.count)] }
                }
            }
            if next(5) == 0 { old = (0..<next(8)).map { _ in pool[next(pool.count)] } }
            let oldText = old.joined(separator: "\n") + (next(2) == 0 ? "\n" : "")
            let newText = new.joined(separator: "\n") + (next(2) == 0 ? "\n" : "")
            let context = next(4)
            #expect(Diff.lines(old: oldText, new: newText, context: context) == Self.splitDiff(oldText, newText, context: context),
                    "\(oldText.debugDescription) → \(newText.debugDescription), context \(context)")
            compared += 1
        }
        #expect(compared == 3000)
        // A change of spelling alone is a change.
        #expect(Diff.lines(old: "caf\u{E9}\n", new: "cafe\u{301}\n").map(\.text) == ["@@ -1,1 +1,1 @@", "-caf\u{E9}", "+cafe\u{301}"])
    }

    /// The oracle: both texts split into every line, then the whole edit script (made into
    /// hunks by the diff's own rule: what is checked here is the walk, not the hunks).
    static func splitDiff(_ old: String, _ new: String, context: Int) -> [DiffLine] {
        func split(_ text: String) -> [[UInt8]] {
            var lines = Array(text.utf8).split(separator: 0x0A, omittingEmptySubsequences: false).map(Array.init)
            if lines.last == [] { lines.removeLast() }
            return lines
        }
        let a = split(old), b = split(new)
        let n = a.count, m = b.count
        // Common prefix and suffix first, as the diff does (the LCS of the rest can
        // then differ from the LCS of the whole only in which equal lines it pairs).
        var prefix = 0
        while prefix < n, prefix < m, a[prefix] == b[prefix] { prefix += 1 }
        var suffix = 0
        while suffix < n - prefix, suffix < m - prefix, a[n - 1 - suffix] == b[m - 1 - suffix] { suffix += 1 }
        let midA = Array(a[prefix..<(n - suffix)]), midB = Array(b[prefix..<(m - suffix)])
        let p = midA.count, q = midB.count
        var mid = [[Int]](repeating: [Int](repeating: 0, count: q + 1), count: p + 1)
        for i in stride(from: p - 1, through: 0, by: -1) {
            for j in stride(from: q - 1, through: 0, by: -1) {
                mid[i][j] = midA[i] == midB[j] ? mid[i + 1][j + 1] + 1 : max(mid[i + 1][j], mid[i][j + 1])
            }
        }
        func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }
        var script: [(DiffLine.Kind, String, Int, Int)] = (0..<prefix).map { (.context, text(a[$0]), $0, $0) }
        var i = 0, j = 0
        while i < p || j < q {
            if i < p, j < q, midA[i] == midB[j] {
                script.append((.context, text(midA[i]), prefix + i, prefix + j)); i += 1; j += 1
            } else if i < p, j == q || mid[i + 1][j] >= mid[i][j + 1] {
                script.append((.removed, text(midA[i]), prefix + i, prefix + j)); i += 1
            } else {
                script.append((.added, text(midB[j]), prefix + i, prefix + j)); j += 1
            }
        }
        for k in 0..<suffix { script.append((.context, text(a[n - suffix + k]), n - suffix + k, m - suffix + k)) }
        return Diff.hunks(of: script, context: context)
    }

    @Test("No difference, no lines")
    func same() {
        #expect(Diff.lines(old: "a\nb\n", new: "a\nb\n").isEmpty)
    }
}
