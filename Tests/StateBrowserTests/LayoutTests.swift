import Foundation
import StateJSON
import StateStore
import TestSupport
import Testing

@testable import StateBrowser

/// The layout keeps 13 bytes a line and finds the rest in the text when asked: these
/// check what it finds against a plain walk of the value, over random documents.
@Suite("Compact layout")
struct CompactLayoutTests {
    /// One line as a straightforward recursive walk of the value sees it.
    struct Line: Equatable, CustomStringConvertible {
        var kind: JSONDocument.LineKind
        var depth: Int
        var key: String?
        var path: String
        var parent: Int?
        var members: Int
        /// Scalars: the decoded string, or the literal as written.
        var value: String?

        var description: String { "\(kind) depth \(depth) key \(key ?? "-") \(path) parent \(parent.map(String.init) ?? "-") members \(members) value \(value ?? "-")" }
    }

    static func walk(_ value: JSONValue) -> [Line] {
        var lines: [Line] = []
        func visit(_ value: JSONValue, key: String?, depth: Int, path: String, parent: Int?) {
            switch value {
            case let .object(object) where !object.isEmpty:
                let open = lines.count
                lines.append(Line(kind: .openObject, depth: depth, key: key, path: path, parent: parent, members: object.count))
                for (memberKey, member) in object {
                    let name = memberKey.text
                    visit(member, key: name, depth: depth + 1, path: (path == "." ? "" : path) + JSONStrings.pathComponent(name), parent: open)
                }
                lines.append(Line(kind: .closeObject, depth: depth, key: nil, path: path, parent: parent, members: 0))
            case let .array(array) where !array.isEmpty:
                let open = lines.count
                lines.append(Line(kind: .openArray, depth: depth, key: key, path: path, parent: parent, members: array.count))
                for (index, member) in array.enumerated() {
                    visit(member, key: nil, depth: depth + 1, path: (path == "." ? "" : path) + "[\(index)]", parent: open)
                }
                lines.append(Line(kind: .closeArray, depth: depth, key: nil, path: path, parent: parent, members: 0))
            case .object:
                lines.append(Line(kind: .emptyObject, depth: depth, key: key, path: path, parent: parent, members: 0))
            case .array:
                lines.append(Line(kind: .emptyArray, depth: depth, key: key, path: path, parent: parent, members: 0))
            case let .string(string):
                lines.append(Line(kind: .scalar, depth: depth, key: key, path: path, parent: parent, members: 0, value: string.text))
            case let .number(number):
                lines.append(Line(kind: .scalar, depth: depth, key: key, path: path, parent: parent, members: 0, value: number.literal))
            case let .bool(flag):
                lines.append(Line(kind: .scalar, depth: depth, key: key, path: path, parent: parent, members: 0, value: flag ? "true" : "false"))
            case .null:
                lines.append(Line(kind: .scalar, depth: depth, key: key, path: path, parent: parent, members: 0, value: "null"))
            }
        }
        visit(value, key: nil, depth: 0, path: ".", parent: nil)
        return lines
    }

    static func lines(of document: JSONDocument) -> [Line] {
        (0..<document.lineCount).map { line in
            let kind = document.kind(line)
            return Line(kind: kind, depth: document.depth(line), key: document.key(line), path: document.path(line),
                        parent: document.parent(line), members: document.memberCount(line),
                        value: kind == .scalar ? document.valueText(line) : nil)
        }
    }

    static let pieces = ["a", "bookmark", "\"", "\\", "é", "😀", "漢", "\u{1}", "\n", " ", "tap-x:stream", "/", "0"]

    static func string(_ random: inout SeededRandom) -> String {
        (0..<random.below(5)).map { _ in pieces[random.below(pieces.count)] }.joined()
    }

    static func value(_ random: inout SeededRandom, depth: Int) -> JSONValue {
        switch depth > 3 ? random.below(4) : random.below(9) {
        case 0: return .string(JSONString(string(&random)))
        case 1: return .number(JSONNumber(literal: ["0", "-1", "1e+16", "2.5", "-0.125", "12345678901234567890", "NaN", "-Infinity"][random.below(8)])!)
        case 2: return [.bool(true), .bool(false), .null][random.below(3)]
        case 3: return .number(JSONNumber(random.below(100_000)))
        case 4, 5, 6:
            // Some objects pass the size above which member counts are stored.
            let count = depth < 2 && random.below(4) == 0 ? 30 + random.below(10) : random.below(5)
            var object = JSONObject()
            for index in 0..<count { object[JSONString(string(&random) + "\(index)")] = value(&random, depth: depth + 1) }
            return .object(object)
        default:
            let count = depth < 2 && random.below(4) == 0 ? 30 + random.below(10) : random.below(5)
            return .array((0..<count).map { _ in value(&random, depth: depth + 1) })
        }
    }

    @Test("Keys, values, paths, parents and member counts match a walk of the value, compact and indented")
    func randomDocuments() throws {
        var random = SeededRandom(seed: 20_261_125)
        for round in 0..<150 {
            let value = Self.value(&random, depth: 0)
            let expected = Self.walk(value)
            for options in [JSONWriteOptions.meltano, .compact, .pretty(indent: 2), .pretty(indent: 0),
                            JSONWriteOptions(layout: .spaced, asciiOnly: false, preserveNumberLiterals: true)] {
                let text = value.text(options)
                let document = try JSONDocument(text: text)
                let actual = Self.lines(of: document)
                if actual != expected {
                    let index = (0..<min(actual.count, expected.count)).first { actual[$0] != expected[$0] } ?? min(actual.count, expected.count)
                    Issue.record("round \(round), \(options.layout), line \(index) of \(expected.count): \(index < actual.count ? actual[index].description : "-") != \(index < expected.count ? expected[index].description : "-")")
                    return
                }
                // Open and close lines are partners; ancestors are the parent chain.
                for line in 0..<document.lineCount where document.isOpen(line) {
                    let close = try #require(document.partner(line))
                    #expect(document.partner(close) == line)
                    #expect(document.valueText(close) == document.valueText(line))
                }
                if document.lineCount > 2 {
                    let last = document.lineCount - 2
                    var chain: [Int] = []
                    var current = expected[last].parent
                    while let c = current { chain.append(c); current = expected[c].parent }
                    #expect(document.ancestors(last) == chain)
                }
            }
        }
    }

    @Test("A container's text is found from its brackets; a key with quotes and escapes ends where it ends")
    func ranges() throws {
        let text = #"{ "a\"b\\" :  "x\"y" , "c" : [ 1 , { } , [ ] , -Infinity ] , "d":{"e":true}}"#
        let document = try JSONDocument(text: text)
        #expect(document.key(1) == #"a"b\"#)
        #expect(document.valueText(1) == #"x"y"#)
        let bytes = Array(text.utf8)
        func slice(_ range: Range<Int>?) -> String { range.map { String(decoding: bytes[$0], as: UTF8.self) } ?? "-" }
        #expect(slice(document.keyRange(1)) == #""a\"b\\""#)
        #expect(slice(document.valueRange(1)) == #""x\"y""#)
        #expect(slice(document.valueRange(2)) == "[ 1 , { } , [ ] , -Infinity ]")
        #expect(slice(document.valueRange(4)) == "{ }")
        #expect(slice(document.valueRange(5)) == "[ ]")
        #expect(slice(document.valueRange(6)) == "-Infinity")
        #expect(slice(document.valueRange(0)) == text)
        #expect(document.prettyText() == """
            {
              "a\\"b\\\\": "x\\"y",
              "c": [
                1,
                {},
                [],
                -Infinity
              ],
              "d": {
                "e": true
              }
            }
            """)
    }

    @Test("The text is kept, not copied; the layout costs 13 bytes a line")
    func footprint() throws {
        let text = BigState.text(streams: 20_000)
        let document = try JSONDocument(text: text)
        func address(_ string: String) -> UnsafeRawPointer? {
            string.utf8.withContiguousStorageIfAvailable { UnsafeRawPointer($0.baseAddress) } ?? nil
        }
        #expect(address(document.text) == address(text))
        #expect(document.lineCount == 100_006)
        #expect(document.layoutBytes <= 13 * document.lineCount + 64)
        // The big object's member count is stored, a small one's counted.
        #expect(document.memberCount(2) == 20_000)
        #expect(document.memberCount(3) == 3)
        #expect(document.path(document.lineCount - 7) == #".singer_state.bookmarks["tenant_19999-événements"].replication_key_value"#)
        #expect(document.key(document.lineCount - 8) == "tenant_19999-événements")
    }

    @Test("Nesting: counted while laying out; over Meltano's limit there is no merged view, the completed view still opens")
    func nesting() throws {
        func nested(_ depth: Int) -> String {
            #"{"singer_state": "# + String(repeating: "[", count: depth - 1) + String(repeating: "]", count: depth - 1) + "}"
        }
        #expect(try JSONDocument(text: nested(3)).nesting == 3)
        #expect(try JSONDocument(text: "[]").nesting == 1)
        #expect(try JSONDocument(text: "1").nesting == 0)
        #expect(try JSONDocument(text: nested(7)).nesting == 7)
        for (levels, readable) in [(JSONParser.maximumDepth, true), (JSONParser.maximumDepth + 1, false)] {
            let text = nested(levels)
            // The store's parser draws the line at the same place.
            #expect((JSONParser.validate(text) == nil) == readable)
            let state = LoadedState(stateID: "deep", completedRaw: text, partialRaw: nil, mergedText: text, mergedIsCompleted: true)
            let merged = LocalWork.document(for: state, mode: .merged, wrapWidth: 80)
            #expect((merged.json != nil) == readable)
            if !readable {
                #expect(merged.raw?.rowText(0).contains("1001 levels deep") == true)
            }
            #expect(LocalWork.document(for: state, mode: .completed, wrapWidth: 80).json != nil)
        }
    }

    @Test("Error positions: line and column in scalars, read in place")
    func errorPosition() {
        let text = "{\n  \"é😀\": tru\n}"
        let error = JSONDocument.validate(text)
        let inPlace = error?.lineAndColumn(in: text)
        let fromBytes = error?.lineAndColumn(in: Array(text.utf8))
        #expect(inPlace?.line == 2 && inPlace?.column == 9)
        #expect(fromBytes?.line == 2 && fromBytes?.column == 9)
    }
}

@Suite("Big states")
struct BigStateTests {
    @Test("Merged and completed are one text when there is no partial state: laid out once, shared")
    func sharedLayout() {
        let backend = FakeBackend()
        backend.add("dev:a", completed: Samples.bookmark)
        backend.add("dev:b", completed: #"{"singer_state": {"x": 1}}"#, partial: #"{"singer_state": {"y": 2}}"#)
        var harness = Harness(backend: backend)
        #expect(backend.commandLog.filter { $0.hasPrefix("buildDocument") } == ["buildDocument(dev:a, merged)"])
        harness.press(.character("2"))
        #expect(backend.commandLog.filter { $0.hasPrefix("buildDocument") } == ["buildDocument(dev:a, merged)"])
        let merged = harness.model.detail.documents[.merged]?.json
        #expect(merged != nil && merged === harness.model.detail.documents[.completed]?.json)
        #expect(harness.text.contains(#""issues": {"#))
        // With a partial state they differ and are laid out each.
        harness.press(.character("j"), .character("1"))
        #expect(backend.commandLog.filter { $0.hasPrefix("buildDocument(dev:b") } == ["buildDocument(dev:b, completed)", "buildDocument(dev:b, merged)"])
        #expect(harness.model.detail.documents[.merged]?.json !== harness.model.detail.documents[.completed]?.json)
    }

    @Test("r on a big state lets the old one go before reading it again; cursor and folds stay")
    func reloadBig() {
        let backend = FakeBackend()
        backend.add("dev:big", completed: Samples.bookmark)
        var harness = Harness(backend: backend, settings: BrowserSettings(location: "u@h:5432/db", bigStateBytes: 100))
        harness.press(.tab, .character("j"), .character("j"), .enter)
        let folds = harness.model.detail.folds
        #expect(!folds.isEmpty)
        harness.hold = { if case .loadState = $0 { return true } else { return false } }
        harness.press(.character("r"))
        #expect(harness.model.detail.loaded == nil)
        #expect(harness.model.detail.documents.isEmpty)
        #expect(harness.text.contains("Loading dev:big…"))
        harness.hold = nil
        harness.releaseHeld()
        #expect(harness.model.detail.document != nil)
        #expect(harness.model.detail.cursor == 2)
        #expect(harness.model.detail.folds == folds)
        // A small state keeps showing while it is read again.
        var small = Harness(backend: backend)
        small.hold = { if case .loadState = $0 { return true } else { return false } }
        small.press(.character("r"))
        #expect(small.model.detail.document != nil)
    }

    @Test("The title's age comes from the list row when it shows the same write")
    func ageFromList() {
        let backend = FakeBackend()
        backend.add("dev:a", completed: #"{"singer_state": {}}"#, age: 120, updatedAt: "2023-11-14 22:11:20")
        // The raw read has no age of its own.
        backend.readsWithoutAge = true
        var harness = Harness(backend: backend)
        #expect(harness.screen.line(2).contains("updated 2m ago"))
        // Written again since the list was read: no age rather than a wrong one.
        backend.states["dev:a"]?.updatedAt = "2023-11-14 22:13:19"
        harness.hold = { if case .loadPage = $0 { return true } else { return false } }
        harness.press(.character("r"))
        #expect(!harness.screen.line(2).contains("updated"))
        #expect(harness.screen.line(2).contains("20 B"))
    }

    @Test("Raw view: both columns without a copy, an error marked in the second")
    func rawSections() {
        let completed = #"{"singer_state": {"a": 1}}"#
        let partial = #"{"singer_state": {"b": 2,}}"#
        let raw = RawDocument(sections: [RawDocument.Section(title: [Run("completed")], text: completed),
                                         RawDocument.Section(title: [Run("partial")], text: partial, errorOffset: 25)],
                              wrapWidth: 12)
        #expect((0..<raw.rowCount).map { raw.rowText($0) } == ["completed", #"{"singer_sta"#, #"te": {"a": 1"#, "}}", "",
                                                               "partial", #"{"singer_sta"#, #"te": {"b": 2"#, ",}}"])
        #expect(raw.errorRows == [8])
        #expect(raw.runs(8, theme: .standard).map(\.text) == [",", "}", "}"])
        #expect(raw.runs(3, theme: .standard).map(\.text) == ["}}"])
        #expect(raw.textByteCount == completed.utf8.count + partial.utf8.count)
        #expect(raw.allText == completed + "\n" + partial)
    }
}

/// A state like the benchmark's: `streams` bookmarks of about 115 bytes each.
enum BigState {
    static func text(streams: Int) -> String {
        var text = #"{"singer_state": {"bookmarks": {"#
        text.reserveCapacity(streams * 128 + 64)
        for index in 0..<streams {
            if index > 0 { text += ", " }
            text += #""tenant_\#(index)-\u00e9v\u00e9nements": {"replication_key_value": "2024-05-01T00:00:00+00:00", "lsn": 100000000000000000000, "ratio": 0.5}"#
        }
        return text + "}}}"
    }
}
