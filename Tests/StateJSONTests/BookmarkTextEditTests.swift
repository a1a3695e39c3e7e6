import StateJSON
import Testing
import TestSupport

/// Rewind and reset-stream made on a state's `json.dumps` text (what the CLI does, so a
/// 100 MB state is never a tree) against the same edits of the tree, the oracle: the same
/// text out byte for byte (and so the same pretty text for the diff), the same values
/// moved, or the same refusal.
@Suite struct BookmarkTextEditTests {
    /// A Singer state of every shape this tool reads, with awkward names and values.
    static func randomState(_ random: inout SeededRandom) -> JSONValue {
        let names: [JSONString] = ["public-orders", "s", "", "é", "e\u{301}", "quote\"d", "tab\t", "\u{1B}[31m", "💥", "public-orders ", "singer_state", "bookmarks"]
        func timestamp() -> JSONValue {
            .string(JSONString(["2026-11-30T12:34:56.123456+00:00", "2024-05-01T00:00:00Z", "2024-05-01 00:00:00", "2026-01-01T00:00:00+02:00", "not a time"][random.int(0...4)]))
        }
        func position() -> JSONValue {
            switch random.int(0...4) {
            case 0: return timestamp()
            case 1: return .number(JSONNumber(random.int(0...9_999_999)))
            case 2: return .number(JSONNumber(Double(random.int(0...99_999)) / 8))
            case 3: return .number(JSONNumber(literal: "123456789012345678901234567890")!)
            default: return .string(JSONString(String(random.int(0...99_999))))
            }
        }
        func bookmark(partitioned: Bool) -> JSONValue {
            var b = JSONObject()
            switch random.int(0...6) {
            case 0: b["replication_key"] = "updated_at"; b["replication_key_value"] = position()
            case 1: b["lsn"] = .number(JSONNumber(random.int(1...999_999_999))); b["version"] = 1
            case 2: b["last_replication_method"] = "INCREMENTAL"; b["replication_key"] = "id"; b["version"] = 17; b["replication_key_value"] = position()
            case 3: b["updated"] = timestamp()
            case 4: b["a"] = 1; b["b"] = 2
            case 5:
                b["replication_key"] = "ts"; b["replication_key_value"] = position()
                b["progress_markers"] = .object(["replication_key_value": position()])
            default: break
            }
            if partitioned && random.chance(0.5) {
                var partitions: [JSONValue] = []
                for k in 0..<random.int(0...3) {
                    var p = bookmark(partitioned: false).objectValue ?? JSONObject()
                    p["context"] = random.chance(0.8) ? .object(["tenant": .string(JSONString(String(k)))]) : .null
                    partitions.append(.object(p))
                }
                b["partitions"] = .array(partitions)
            }
            return .object(b)
        }
        var bookmarks = JSONObject()
        for _ in 0..<random.int(0...6) { bookmarks[names[random.int(0...names.count - 1)]] = bookmark(partitioned: true) }
        var inner = JSONObject()
        if random.chance(0.5) { inner["currently_syncing"] = random.chance(0.5) ? .null : .string(names[random.int(0...names.count - 1)]) }
        switch random.int(0...19) {
        case 0: inner["bookmarks"] = .array([1])
        case 1: break
        default: inner["bookmarks"] = .object(bookmarks)
        }
        if random.chance(0.3) { inner["extra"] = .array([.null, .bool(true), .number(1.5), .string("\u{2028}")]) }
        switch random.int(0...19) {
        case 0: return .object(inner)  // a bare Singer state
        case 1: return .object(["singer_state": 5])
        default:
            var top = JSONObject()
            if random.chance(0.2) { top["other"] = "x" }
            top["singer_state"] = .object(inner)
            return .object(top)
        }
    }

    static func moves(_ random: inout SeededRandom) -> BookmarkMove {
        if random.chance(0.4) { return .by("1d") }
        return [BookmarkMove.by("1d"), .by("3d12h"), .by("5"), .value("4000"), .value("2024-01-01T00:00:00Z"), .to("2020-01-01T00:00:00Z"),
         .value("0/16B3748"), .by("bad"), .value("9" + String(repeating: "0", count: 30))][random.int(0...8)]
    }

    @Test func textEditsAreTheTreeEdits() throws {
        var random = SeededRandom(seed: 24)
        var written = 0, refused = 0, removed = 0
        for _ in 0..<6000 {
            let state = Self.randomState(&random)
            let text = state.meltanoText
            guard let tape = try JSONTape(text) else { Issue.record("no tape for \(text)"); continue }
            let streams = (state["singer_state"] ?? state)["bookmarks"]?.objectValue?.keys ?? []
            let stream = random.chance(0.85) && !streams.isEmpty ? streams[random.int(0...streams.count - 1)].text : "nope"
            // Mostly a partition the stream has (or none when it has none), sometimes any.
            let contexts = ((state["singer_state"] ?? state)["bookmarks"]?[stream]?["partitions"]?.arrayValue ?? []).map { $0["context"] ?? .null }
            // (JSONValue is ExpressibleByNilLiteral: `nil` alone would be JSON null here.)
            let partition: JSONValue? = random.chance(0.9) ? (contexts.isEmpty ? Optional<JSONValue>.none : contexts[random.int(0...contexts.count - 1)])
                : [Optional<JSONValue>.none, .null, ["tenant": "0"], ["tenant": "1"], ["tenant": "9"]][random.int(0...4)]
            let move = Self.moves(&random)
            let forward = random.chance(0.5)

            let tree = Result { () throws(BookmarkError) in try SingerState.rewind(state, stream: stream, partition: partition, move, allowForward: forward) }
            let onText = Result { () throws(BookmarkError) in try SingerState.rewind(meltanoText: tape, stream: stream, partition: partition, move, allowForward: forward) }
            switch (tree, onText) {
            case let (.success(edit), .success((textEdit, made))):
                written += 1
                #expect(textEdit.text.utf8.elementsEqual(edit.state.meltanoText.utf8), "\(text) \(stream) \(move)")
                #expect(made.old == edit.old && made.new == edit.new && made.change == edit.change && made.note == edit.note)
                #expect(textEdit.written.count == 1 && textEdit.written[0] == edit.new)
                // The diff's texts, written from the texts: the trees' pretty texts.
                let pretty = Array(textEdit.text.utf8).withUnsafeBytes { JSONParser.prettyText(ofMeltanoText: $0) }
                #expect(pretty.map { Array($0.utf8) } == Array(edit.state.prettyText(indent: 2).utf8), "\(textEdit.text)")
                let before = tape.withDocumentBytes { JSONParser.prettyText(ofMeltanoText: $0) }
                #expect(before.map { Array($0.utf8) } == Array(state.prettyText(indent: 2).utf8), "\(text)")
            case let (.failure(a), .failure(b)):
                refused += 1
                #expect(a == b, "\(text) \(stream)")
            default:
                Issue.record("one way refused, the other did not: \(text) \(stream) \(partition?.meltanoText ?? "-") \(move): \(tree) / \(onText)")
            }

            let treeRemoval = Result { () throws(BookmarkError) in try SingerState.removingStream(state, stream: stream).state }
            let textRemoval = Result { () throws(BookmarkError) in try SingerState.removingStream(meltanoText: tape, stream: stream) }
            switch (treeRemoval, textRemoval) {
            case let (.success(after), .success(textEdit)):
                removed += 1
                #expect(textEdit.text.utf8.elementsEqual(after.meltanoText.utf8), "\(text) -\(stream)")
                #expect(textEdit.written.isEmpty)
            case let (.failure(a), .failure(b)):
                #expect(a == b, "\(text) -\(stream)")
            default:
                Issue.record("one removal refused, the other did not: \(text) -\(stream): \(treeRemoval) / \(textRemoval)")
            }
        }
        print("text edits: \(written) written, \(refused) refused, \(removed) removed")
        // Every way is taken often enough to count.
        #expect(written > 500 && refused > 500 && removed > 1000, "\(written) written, \(refused) refused, \(removed) removed")
    }

    /// The diff's indented texts are written from `json.dumps` text, numbers copied: the
    /// tree's pretty text, for documents of every kind of number, string and nesting.
    @Test func prettyTextOfMeltanoTextIsTheTreesPrettyText() throws {
        var generator = DocumentGenerator(seed: 2424)
        var checked = 0
        for _ in 0..<3000 {
            guard let value = try? JSONParser.parse(generator.value(depth: 4)) else { continue }
            // Only texts without a repeated key have tapes (and reach the text edits).
            let meltano = value.meltanoText
            guard (try? JSONTape(meltano)) != nil else { continue }
            let pretty = Array(meltano.utf8).withUnsafeBytes { JSONParser.prettyText(ofMeltanoText: $0) }
            #expect(pretty.map { Array($0.utf8) } == Array(value.prettyText(indent: 2).utf8), "\(meltano)")
            checked += 1
        }
        #expect(checked > 2000, "\(checked)")
    }

    /// Removing the first, a middle, the last and the only member cuts exactly one
    /// separator, and a depth is what the tree says.
    @Test func removalCutsOneSeparatorAndDepthIsTheTrees() throws {
        let text = #"{"singer_state": {"bookmarks": {"a": {"x": 1}, "b": [2], "c": {}}}}"#
        let tape = try #require(try JSONTape(text))
        func without(_ stream: String) throws -> String { try SingerState.removingStream(meltanoText: tape, stream: stream).text }
        #expect(try without("a") == #"{"singer_state": {"bookmarks": {"b": [2], "c": {}}}}"#)
        #expect(try without("b") == #"{"singer_state": {"bookmarks": {"a": {"x": 1}, "c": {}}}}"#)
        #expect(try without("c") == #"{"singer_state": {"bookmarks": {"a": {"x": 1}, "b": [2]}}}"#)
        let one = try #require(try JSONTape(#"{"singer_state": {"bookmarks": {"only": 1}}}"#))
        #expect(try SingerState.removingStream(meltanoText: one, stream: "only").text == #"{"singer_state": {"bookmarks": {}}}"#)
        for document in ["1", "[]", "{}", #"[[[]], {"a": [{}]}]"#, text] {
            let tape = try #require(try JSONTape(document))
            #expect(tape.depth == (try JSONParser.parse(document)).depth, "\(document)")
        }
    }
}
