import StateJSON
import Testing
import TestSupport

@testable import StateBrowser

/// The browser lays out a state with a parser of its own (`JSONDocument`: lines, depths
/// and partners in flat arrays, for 100 MB states), beside StateJSON's, which every
/// write goes through. Two grammars may drift apart: here both read the same corpus
/// (StateJSON's generated documents and random edits of them), and must accept the same
/// texts, report the same error at the same byte (the browser asks StateJSON for it),
/// and lay out the same values: the pretty text, read back by StateJSON, is the value
/// StateJSON read. (Number literals are shown as stored, `1e16` stays `1e16`, where
/// StateJSON's writer would write Python's `1e+16`.)
@Suite("The browser's JSON layout parser against StateJSON's")
struct LayoutParserDifferentialTests {
    @Test("Same texts accepted, same errors, same values laid out", arguments: [0x1A70_0001 as UInt64, 0x1A70_0002])
    func sameGrammar(seed: UInt64) throws {
        var generator = DocumentGenerator(seed: seed)
        var accepted = 0, rejected = 0
        for index in 0..<4000 {
            var text = generator.document()
            if index % 2 == 1 { text = generator.mutate(text) }
            let ours: Result<JSONDocument, Error> = Result { try JSONDocument(text: text) }
            let reference: Result<JSONValue, Error> = Result { try JSONParser.parse(text) }
            switch (ours, reference) {
            case let (.success(document), .success(value)):
                accepted += 1
                let shown = document.prettyText()
                let readBack = try JSONParser.parse(shown)
                // Compared as StateJSON writes both (NaN is not equal to itself as a value).
                #expect(readBack.prettyText(indent: 2) == value.prettyText(indent: 2),
                        "the layout's text \(shown.debugDescription) is not the value of \(text.debugDescription)")
            case let (.failure(ourError), .failure(referenceError)):
                rejected += 1
                let ourOffset = (ourError as? JSONTextError)?.offset
                let referenceOffset = (referenceError as? JSONParseError)?.offset
                #expect(ourOffset == referenceOffset && (ourError as? JSONTextError)?.message == (referenceError as? JSONParseError)?.message,
                        "errors differ for \(text.debugDescription): layout \(ourError), StateJSON \(referenceError)")
            case (.success, .failure(let error)):
                Issue.record("the browser accepts what StateJSON rejects (\(error)): \(text.debugDescription)")
            case (.failure(let error), .success):
                Issue.record("the browser rejects what StateJSON accepts (\(error)): \(text.debugDescription)")
            }
        }
        // Both kinds are well represented, or the comparison says little.
        #expect(accepted > 1000 && rejected > 1000, "accepted \(accepted), rejected \(rejected)")
    }

    /// Python's `int` reads at most 4300 digits, so its json refuses a longer integer
    /// (a float of any length is read): both parsers stop at the same number, and the
    /// browser reports it in Python's words.
    @Test("An integer over 4300 digits is refused by both, at the same byte; a float of any length is not")
    func integerDigitLimit() throws {
        let limit = JSONParser.maximumIntegerDigits
        let digits = { (count: Int) in String(repeating: "7", count: count) }
        // The text, and the byte where the too-long integer starts (nil: read).
        for (text, refusedAt) in [("[" + digits(limit) + "]", nil), ("[-" + digits(limit) + "]", nil),
                                  ("[1, " + digits(limit + 1) + "]", 4), (#"{"n": -"# + digits(limit + 1) + "}", 6),
                                  ("[" + digits(limit + 1) + ".5]", nil), ("[" + digits(limit + 1) + "e2]", nil),
                                  (digits(limit + 1), 0)] as [(String, Int?)] {
            let ours = Result { try JSONDocument(text: text) }
            let reference = Result { () throws(JSONParseError) in try JSONParser.parse(text) }
            switch (ours, reference) {
            case (.success, .success):
                #expect(refusedAt == nil, "accepted: \(text.prefix(12))…")
            case let (.failure(ourError), .failure(referenceError)):
                let shown = try #require(ourError as? JSONTextError)
                #expect(shown.offset == refusedAt && referenceError.offset == refusedAt, "\(text.prefix(12))…: \(shown.offset), \(referenceError.offset)")
                #expect(shown.message == referenceError.message)
                #expect(referenceError.message.hasPrefix("Exceeds the limit (4300 digits) for integer string conversion: value has \(limit + 1) digits"))
            default:
                Issue.record("the parsers disagree on \(text.prefix(12))…: layout \(ours), StateJSON \(reference)")
            }
        }
    }
}
