import Foundation
import StateJSON
import StateStore
import Testing
import TestSupport

@testable import StateBrowser

/// A big state is laid out while its slices arrive (`ArrivingLayout`), by the parser
/// `JSONDocument(text:)` uses but reading only the bytes that have come. Whatever the
/// slices and wherever they cut the text (inside a string, an escape, a number, a
/// word, between a key and its colon), the layout must be the one the whole text gets,
/// and a text that is not JSON or not UTF-8 must get none (the view then lays it out
/// the usual way, which says why).
@Suite("A state laid out while it arrives")
struct ArrivingLayoutTests {
    /// `text` handed over in slices of `slice` bytes, in order or last first; each
    /// slice after the parser has read what came before it and waits for more, so
    /// every slice boundary cuts the text where the parser is.
    static func arrive(_ bytes: [UInt8], slice: Int, lookahead: Int, reversed: Bool = false) -> (text: String, document: JSONDocument?, again: Bool) {
        let layout = ArrivingLayout(count: bytes.count, lookahead: lookahead)
        var offsets = Array(stride(from: 0, to: bytes.count, by: slice))
        if reversed { offsets.reverse() }
        bytes.withUnsafeBytes { all in
            for offset in offsets {
                layout.untilParserWaits()
                layout.receive(offset: offset, UnsafeRawBufferPointer(rebasing: all[offset..<min(offset + slice, bytes.count)]))
            }
        }
        let (text, document) = layout.finish()
        return (text, document, layout.laidOutAgain)
    }

    /// Every line as the view reads it.
    static func lines(_ document: JSONDocument) -> [String] {
        (0..<document.lineCount).map { line in
            let isContainer = document.isOpen(line)
            return "\(document.kind(line)) parent \(document.parent(line) ?? -1) partner \(document.partner(line) ?? -1)"
                + " comma \(document.hasComma(line)) key \(String(describing: document.keyRange(line))) value \(document.valueRange(line))"
                + (isContainer ? " members \(document.memberCount(line))" : "")
        }
    }

    static func expectSameLayout(_ arrived: JSONDocument, _ whole: JSONDocument, _ text: String) {
        #expect(arrived.text == whole.text)
        #expect(arrived.nesting == whole.nesting)
        let (a, b) = (lines(arrived), lines(whole))
        #expect(a == b, "laid out differently while arriving: \(text.debugDescription)")
    }

    @Test("The layout of every text is the whole text's, wherever the slices cut it", arguments: [0x0A11_0001 as UInt64, 0x0A11_0002])
    func sameLayoutAsTheWholeText(seed: UInt64) throws {
        var generator = DocumentGenerator(seed: seed)
        var random = SeededRandom(seed: seed ^ 0x5EED)
        var laidOut = 0, refused = 0, whileArriving = 0
        for index in 0..<1500 {
            var text = generator.document()
            if index % 3 == 2 { text = generator.mutate(text) }
            let bytes = Array(text.utf8)
            let slice = 1 + Int(random.next() % 40)
            // A lookahead shorter than most tokens makes the parser fail at cut tokens
            // and lay the whole text out again; a long one never lets it.
            let lookahead = [1, 2, 7, 64, 1 << 20][Int(random.next() % 5)]
            let arrived = Self.arrive(bytes, slice: slice, lookahead: lookahead, reversed: index % 7 == 3)
            #expect(arrived.text == text)
            switch Result(catching: { try JSONDocument(text: text) }) {
            case let .success(whole):
                laidOut += 1
                guard let document = arrived.document else {
                    Issue.record("no layout while arriving (slices of \(slice), lookahead \(lookahead)) for \(text.debugDescription)")
                    continue
                }
                Self.expectSameLayout(document, whole, text)
                // Laid out from the bytes as they came, with a lookahead shorter than
                // the text: the path that must not be fooled by a cut.
                if !arrived.again && lookahead < bytes.count { whileArriving += 1 }
            case .failure:
                refused += 1
                #expect(arrived.document == nil, "laid out while arriving, but not JSON: \(text.debugDescription)")
            }
        }
        #expect(laidOut > 500 && refused > 200 && whileArriving > 200,
                "laid out \(laidOut) (\(whileArriving) while arriving), refused \(refused)")
    }

    @Test("Texts that end inside a token or right after one")
    func cutEnds() throws {
        for text in ["12345", "-0.5e10 ", "  true", "\"abc\"", "[1, 2]  ", "{\"a\": 1}", "1 2", "\"ab", "[1,", "tru", "{\"a\"", "", "   ",
                     "{\"k\": \"" + String(repeating: "x", count: 5000) + "\"}", "[" + String(repeating: "9", count: 3000) + "]"] {
            for slice in [1, 2, 3, 1000] {
                for lookahead in [1, 4, 1 << 20] {
                    let arrived = Self.arrive(Array(text.utf8), slice: slice, lookahead: lookahead)
                    if let whole = try? JSONDocument(text: text) {
                        let document = try #require(arrived.document, "\(text.debugDescription) slice \(slice) lookahead \(lookahead)")
                        Self.expectSameLayout(document, whole, text)
                    } else {
                        #expect(arrived.document == nil, "\(text.debugDescription) slice \(slice) lookahead \(lookahead)")
                    }
                }
            }
        }
    }

    @Test("Bytes that are not UTF-8: the text as the store's strings have it, and no layout")
    func invalidUTF8() {
        // Short texts are stored inline, long ones in the storage the slices went to:
        // both ways of telling that String replaced bytes.
        for padding in [0, 10000] {
            let bytes = Array(#"{"a": "x"#.utf8) + [0xFF, 0xC3] + Array((String(repeating: " ", count: padding) + #"y"}"#).utf8)
            let arrived = Self.arrive(bytes, slice: 3, lookahead: 2)
            #expect(arrived.text == String(decoding: bytes, as: UTF8.self))
            #expect(arrived.document == nil)
            // The same text with a valid character there is laid out.
            let valid = Array(#"{"a": "x"#.utf8) + [0xC3, 0xA9] + Array((String(repeating: " ", count: padding) + #"y"}"#).utf8)
            #expect(Self.arrive(valid, slice: 3, lookahead: 2).document != nil)
        }
    }

    @Test("A read cut short: the parsing thread stops when told, with what it has", .timeLimit(.minutes(1)))
    func readCutShort() {
        let text = Array(#"{"a": [1, 2, 3], "b": "#.utf8)
        let layout = ArrivingLayout(count: text.count + 100, lookahead: 4)
        text.withUnsafeBytes { layout.receive(offset: 0, $0) }
        layout.join()  // returns: the parser no longer waits for the 100 bytes that never come
        layout.join()  // and again is a no-op
    }

    @Test("The browser's read of a state over several slices comes with its layout, which the view uses")
    func storeReadLaysOut() throws {
        let fixture = try BrowserFixture()
        // About 1.4 MB: two slices of readStoredSlices' 1 MiB.
        var text = #"{"singer_state": {"bookmarks": {"#
        for i in 0..<20000 { text += (i > 0 ? ", " : "") + "\"tenant_\(i)-é\": {\"lsn\": \(i * 7919), \"v\": \"日本\(i)\"}" }
        text += "}}}"
        #expect(text.utf8.count > 1 << 20)
        try fixture.insert("big", completed: text)
        try fixture.insert("not-json", completed: String(repeating: "[1, ", count: 300000))
        let store = try fixture.makeStore()
        let state = try StoreReads.state(store, "big", clock: { 0 })
        #expect(state.completedRaw == text)
        let made = try #require(state.completedLayout)
        Self.expectSameLayout(made, try JSONDocument(text: text), "big")
        // The merged view (nothing partial) is that layout, not a second one.
        guard case let .json(shown) = LocalWork.document(for: state, mode: .merged, wrapWidth: 80) else {
            Issue.record("the merged view of a JSON state is not JSON"); return
        }
        #expect(shown === made)

        let broken = try StoreReads.state(store, "not-json", clock: { 0 })
        #expect(broken.completedLayout == nil)
        guard case .raw = LocalWork.document(for: broken, mode: .merged, wrapWidth: 80) else {
            Issue.record("a state that is not JSON is not shown raw"); return
        }
    }
}
