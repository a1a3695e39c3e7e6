import StateJSON
import StateStore
import TestSupport
import Testing

@testable import StateBrowser

/// The merged view of a row with a partial state is merged on the completed state's
/// text: it must read back as exactly what the store's deepMerge makes of the parsed
/// value (key order included), and fail where that fails, the same way.
@Suite("Deep merge on the text")
struct TextMergeTests {
    typealias Random = SeededRandom

    static func expected(_ partial: JSONValue, _ completed: String) -> Result<JSONValue, MergeError> {
        let target = try! JSONParser.parse(completed)
        do throws(MergeError) { return .success(try deepMerge(partial, onto: target)) } catch { return .failure(error) }
    }

    static func actual(_ partial: JSONValue, _ completed: String) -> Result<JSONValue, MergeError> {
        let document = try! JSONDocument(text: completed)
        do throws(MergeError) {
            let text = try TextMerge.merge(partial, onto: document)
            return .success(try! JSONParser.parse(text))
        } catch {
            return .failure(error)
        }
    }

    static func check(_ partial: JSONValue, _ completed: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let want = expected(partial, completed), got = actual(partial, completed)
        switch (want, got) {
        case let (.success(a), .success(b)):
            #expect(a == b, "partial \(partial.text(.compact)) onto \(completed)", sourceLocation: sourceLocation)
            // No key written twice where the stored text had none twice (a duplicate
            // would read back the same, but is not the replacement it should be).
            let stored = try! JSONDocument(text: completed)
            if stored.lineCount == CompactLayoutTests.walk(try! JSONParser.parse(completed)).count {
                let text = try! TextMerge.merge(partial, onto: stored)
                #expect(try! JSONDocument(text: text).lineCount == CompactLayoutTests.walk(a).count,
                        "partial \(partial.text(.compact)) onto \(completed) gave \(text)", sourceLocation: sourceLocation)
            }
        case let (.failure(a), .failure(b)):
            #expect(a == b, sourceLocation: sourceLocation)
        default:
            Issue.record("deepMerge: \(want), on the text: \(got); partial \(partial.text(.compact)) onto \(completed)", sourceLocation: sourceLocation)
        }
    }

    static func json(_ text: String) -> JSONValue { try! JSONParser.parse(text) }

    /// A partial state for a target: some of its keys replaced, merged into, emptied,
    /// some new keys; sometimes an object onto a value that is not one (an error).
    static func partial(for target: JSONValue?, _ random: inout Random, depth: Int) -> JSONValue {
        var object = JSONObject()
        let existing = target?.objectValue.map { Array($0) } ?? []
        for index in 0..<random.below(5) {
            if !existing.isEmpty, random.below(4) > 0 {
                let (key, value) = existing[random.below(existing.count)]
                switch random.below(5) {
                case 0: object[key] = CompactLayoutTests.value(&random, depth: 5)
                case 1, 2: object[key] = depth < 3 ? partial(for: value, &random, depth: depth + 1) : .object(JSONObject())
                case 3: object[key] = .object(JSONObject())
                default: object[key] = .array([.null, .number(JSONNumber(index))])
                }
            } else {
                object[JSONString("new\(index)-\(random.below(3))")] = CompactLayoutTests.value(&random, depth: 3)
            }
        }
        return .object(object)
    }

    @Test("Random states and partial states: the same value or the same error as deepMerge, in every stored form")
    func differential() {
        var random = SeededRandom(seed: 7_618)
        var merged = 0, failed = 0
        for _ in 0..<300 {
            var completed = CompactLayoutTests.value(&random, depth: 0)
            if random.below(6) > 0, completed.objectValue == nil { completed = .object(["singer_state": completed]) }
            let partial = random.below(25) == 0 ? CompactLayoutTests.value(&random, depth: 4) : Self.partial(for: completed, &random, depth: 0)
            for options in [JSONWriteOptions.meltano, .compact, .pretty(indent: 2)] {
                Self.check(partial, completed.text(options))
            }
            if case .success = Self.expected(partial, completed.text(.meltano)) { merged += 1 } else { failed += 1 }
        }
        // Both kinds were exercised.
        #expect(merged > 100 && failed > 10, "merged \(merged), failed \(failed)")
    }

    @Test("Duplicate keys: the last occurrence is merged into, as json.loads keeps it")
    func duplicates() {
        Self.check(Self.json(#"{"a": {"z": 3}}"#), #"{"a": 1, "b": {"x": 1}, "a": {"y": 2}}"#)
        Self.check(Self.json(#"{"a": {"y": 1}}"#), #"{"a": {"x": 1}, "a": 5}"#)
        Self.check(Self.json(#"{"a": 7, "c": 8}"#), #"{"a": 1, "a": 2}"#)
    }

    @Test("Keys match as Python compares them: escapes decoded, lone surrogates exact, no normalisation")
    func keys() {
        Self.check(Self.json(#"{"é": 2}"#), #"{"\u00e9": 1}"#)
        Self.check(Self.json(#"{"\u00e9": {"x": 1}}"#), #"{"é": {"y": 0}}"#)
        Self.check(Self.json(#"{"\ud800": 2}"#), #"{"\ud800": 1, "\ufffd": 0}"#)
        Self.check(Self.json(#"{"\ufffd": 2}"#), #"{"\ud800": 1}"#)
        Self.check(Self.json(#"{"e\u0301": 2}"#), #"{"é": 1}"#)
        Self.check(Self.json(#"{"q\"\\": {"n": [1]}}"#), #"{"q\"\\": {}, "other": 1}"#)
    }

    @Test("Where Meltano's merge fails: a partial that is not an object, a key into a value that is not one")
    func failures() {
        Self.check(Self.json("[1]"), #"{"a": 1}"#)
        Self.check(Self.json(#"{"a": 1}"#), "[1, 2]")
        Self.check(Self.json(#"{"a": 1}"#), "5")
        Self.check(Self.json("{}"), "5")
        Self.check(Self.json(#"{"a": {"b": {"c": 1}}}"#), #"{"a": {"b": "text"}}"#)
        Self.check(Self.json(#"{"a": {"b": {}}}"#), #"{"a": {"b": "text"}}"#)
    }

    @Test("The text outside what changes is copied as stored; new keys go before the closing brace")
    func textKept() throws {
        let completed = "{\n  \"singer_state\": {\"n\": 1e+16, \"m\": 100000.0},\n  \"x\": {}\n}"
        let document = try JSONDocument(text: completed)
        let text = try TextMerge.merge(Self.json(#"{"singer_state": {"m": 2.50, "new": [1]}, "x": {"k": {}}}"#), onto: document)
        #expect(text == "{\n  \"singer_state\": {\"n\": 1e+16, \"m\": 2.50, \"new\": [1]},\n  \"x\": {\"k\": {}}\n}")
        let unchanged = try TextMerge.merge(Self.json("{}"), onto: document)
        #expect(unchanged == completed)
    }

    @Test("A row with a partial state opens with its merged view, also when the completed state is big")
    func loadedState() throws {
        let big = BigState.text(streams: 20_000)
        let partial = #"{"singer_state": {"bookmarks": {"tenant_7-\u00e9v\u00e9nements": {"lsn": 1}, "brand_new": {"lsn": 2}}}}"#
        let row = RowSnapshot(partialState: partial, completedState: big, updatedAt: nil)
        let text = try TextMerge.mergedText(stateID: "big", partial: row.partialState, completed: row.completedState).get()
        let merged = try JSONParser.parse(text)
        let tree = try StoreReads.merged(row, "big").get()
        #expect(merged == tree)
        let bookmarks = merged["singer_state"]?["bookmarks"]
        #expect(bookmarks?["tenant_7-événements"]?["lsn"] == 1)
        #expect(bookmarks?["tenant_7-événements"]?["ratio"] == .number(JSONNumber(literal: "0.5")!))
        #expect(bookmarks?.objectValue?.last?.key == "brand_new")
        // Not JSON, or impossible to merge: the problem, worded as the store words it.
        let broken = RowSnapshot(partialState: partial, completedState: #"{"singer_state": "#, updatedAt: nil)
        #expect(TextMerge.mergedText(stateID: "b", partial: broken.partialState, completed: broken.completedState).failureText?.hasPrefix("The stored completed state of 'b' is not valid JSON") == true)
        let badPartial = RowSnapshot(partialState: "{", completedState: big, updatedAt: nil)
        #expect(TextMerge.mergedText(stateID: "b", partial: badPartial.partialState, completed: badPartial.completedState).failureText?.hasPrefix("The stored partial state of 'b' is not valid JSON") == true)
        let clash = RowSnapshot(partialState: #"{"singer_state": {"bookmarks": {"x": 1}}}"#, completedState: #"{"singer_state": 3}"#, updatedAt: nil)
        #expect(TextMerge.mergedText(stateID: "c", partial: clash.partialState, completed: clash.completedState).failureText?.contains("cannot be merged as Meltano merges it: cannot merge key 'bookmarks' into a int") == true)
        #expect(TextMerge.mergedText(stateID: "c", partial: clash.partialState, completed: clash.completedState).failureText == StoreReads.merged(clash, "c").failureText)
    }
}

extension Result {
    var failureText: String? {
        if case let .failure(error) = self { return "\(error)" }
        return nil
    }
}
