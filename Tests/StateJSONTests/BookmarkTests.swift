import StateJSON
import Testing

/// The Singer state model: shapes real taps write, moving a bookmark without changing
/// its type or format, and edits that leave every byte outside the stream as it was.
@Suite struct BookmarkTests {
    /// As tap-postgres (MeltanoLabs, singer-sdk) writes it, wrapped by Meltano.
    static let singerSDK = #"{"singer_state": {"bookmarks": {"public-orders": {"replication_key": "updated_at", "replication_key_value": "2026-11-30T12:34:56.123456+00:00"}, "public-customers": {"replication_key": "id", "replication_key_value": 4242, "starting_replication_value": 4000, "progress_markers": {"Note": "Progress is not resumable if interrupted.", "replication_key": "id", "replication_key_value": 4300}}, "public-events": {"partitions": [{"context": {"tenant": "a"}, "replication_key": "ts", "replication_key_value": "2026-11-29T00:00:00Z"}, {"context": {"tenant": "b"}, "replication_key": "ts", "replication_key_value": "2026-11-28T06:00:00Z"}]}}}}"#
    /// As pipelinewise-tap-postgres writes it.
    static let pipelinewise = #"{"singer_state": {"bookmarks": {"public-orders": {"last_replication_method": "INCREMENTAL", "replication_key": "updated_at", "version": 1700000000000, "replication_key_value": "2026-11-30T12:34:56+00:00"}, "public-events": {"lsn": 123456789, "version": 1}, "public-legacy": {"updated": "2024-05-01 00:00:00"}, "public-weird": {"a": 1, "b": 2}}, "currently_syncing": "public-orders"}}"#

    func parse(_ text: String) throws -> JSONValue { try JSONParser.parse(text) }

    @Test func readsSingerSDKStreamsAndPartitions() throws {
        let model = SingerState(try parse(Self.singerSDK))
        #expect(model.wrapped && model.problem == nil)
        let lines = model.streams.map { "\($0.stream) \($0.partition?.meltanoText ?? "-") \($0.shape.rawValue) \($0.replicationKey?.text ?? "-") \($0.value?.meltanoText ?? "-") \($0.valueKind?.name ?? "-") \($0.progressMarkerValue?.meltanoText ?? "-")" }
        #expect(lines == [
            #"public-orders - singer-sdk updated_at "2026-11-30T12:34:56.123456+00:00" timestamp -"#,
            #"public-customers - singer-sdk id 4242 integer 4300"#,
            #"public-events {"tenant": "a"} singer-sdk ts "2026-11-29T00:00:00Z" timestamp -"#,
            #"public-events {"tenant": "b"} singer-sdk ts "2026-11-28T06:00:00Z" timestamp -"#,
        ])
    }

    @Test func readsPipelinewiseLogBasedLegacyAndUnknown() throws {
        let model = SingerState(try parse(Self.pipelinewise))
        #expect(model.currentlySyncing == "public-orders")
        let lines = model.streams.map { "\($0.stream) \($0.shape.rawValue) \($0.valueKey?.text ?? "-") \($0.value?.meltanoText ?? "-")" }
        #expect(lines == [
            #"public-orders pipelinewise replication_key_value "2026-11-30T12:34:56+00:00""#,
            "public-events log-based lsn 123456789",
            #"public-legacy legacy updated "2024-05-01 00:00:00""#,
            "public-weird unknown - -",
        ])
        // Not a Singer state at all: said, not guessed.
        #expect(SingerState(try parse(#"{"singer_state": {"v": 1}}"#)).problem == "no bookmarks")
        #expect(SingerState(try parse(#"{"singer_state": {"bookmarks": [1]}}"#)).problem == "bookmarks is a list, not an object")
        #expect(SingerState(try parse(#"{"singer_state": 5}"#)).problem == "singer_state is not an object")
    }

    @Test func timestampsKeepTheirStyle() throws {
        let cases: [(String, String, String)] = [
            ("2024-05-01T00:00:00+00:00", "3d", "2024-04-28T00:00:00+00:00"),
            ("2024-05-01T00:00:00Z", "1d12h", "2024-04-29T12:00:00Z"),
            ("2024-05-01 00:00:00", "1h", "2024-04-30 23:00:00"),
            ("2026-11-30T12:34:56.123456+00:00", "1d", "2026-11-29T12:34:56.123456+00:00"),
            ("2026-03-01T00:30:00.5-05:00", "1h", "2026-02-28T23:30:00.5-05:00"),
            ("2024-03-01T10:00:00+0530", "2w", "2024-02-16T10:00:00+0530"),
            ("2024-03-01", "1d", "2024-02-29"),
            ("2024-01-01t00:00:00.000000001z", "1s", "2023-12-31t23:59:59.000000001z"),
        ]
        for (old, by, expected) in cases {
            #expect(try movedBookmarkValue(.string(JSONString(old)), .by(by)) == .string(JSONString(expected)), "\(old) by \(by)")
        }
        // --to: the instant, written in the bookmark's zone and precision.
        #expect(try movedBookmarkValue("2026-11-30T12:34:56.123456+00:00", .to("2026-11-30T00:00:00Z")) == "2026-11-30T00:00:00.000000+00:00")
        #expect(try movedBookmarkValue("2026-11-30T12:34:56+02:00", .to("2026-11-30T00:00:00Z")) == "2026-11-30T02:00:00+02:00")
        #expect(try movedBookmarkValue("2026-11-30 12:34:56", .value("2026-11-29T01:02:03.999Z")) == "2026-11-29 01:02:03")
        #expect(try movedBookmarkValue("2026-11-30T12:34:56.12Z", .value("2026-11-29T01:02:03.999Z")) == "2026-11-29T01:02:03.99Z")
        // Round trip of every style without a change.
        for text in ["2024-05-01T00:00:00+00:00", "2024-05-01T00:00:00Z", "2024-05-01 00:00:00", "1999-12-31T23:59:59.123-0800", "2024-02-29", "2024-05-01T00:00:00+05"] {
            #expect(BookmarkTimestamp.parse(text)?.text == text, "\(text)")
        }
        for text in ["2024-13-01", "2024-02-30", "2024-05-01T25:00:00", "2024-05-01T00:00", "2024-05-01T00:00:00.Z", "2024-05-01T00:00:00+5", "yesterday", "2024-05-01T00:00:00.1234567890Z"] {
            #expect(BookmarkTimestamp.parse(text) == nil, "\(text)")
        }
        let early = try #require(BookmarkTimestamp.parse("1970-01-02T00:00:00+01:00"))
        #expect(early.epochSeconds == 82_800 && early.nanoseconds == 0)
    }

    /// Python's datetime, which taps read bookmarks with, holds years 1 to 9999: a move
    /// past either end is refused rather than written (`0000-12-30…` before), and a
    /// duration too big to compute is refused rather than trapping.
    @Test func timesOutsideYears1To9999AreRefused() throws {
        func refusal(_ current: String, _ move: BookmarkMove) -> BookmarkError? {
            do { _ = try movedBookmarkValue(.string(JSONString(current)), move); return nil } catch { return error }
        }
        #expect(try movedBookmarkValue("0001-01-02T00:00:00Z", .by("1d")) == "0001-01-01T00:00:00Z")
        #expect(refusal("0001-01-02T00:00:00Z", .by("3d"))?.message.contains("year 0,") == true)
        #expect(refusal("2024-05-01T00:00:00Z", .by("99999999999d"))?.kind == .badInput)
        #expect(refusal("2024-05-01T00:00:00Z", .by("9223372036854775807s"))?.kind == .badInput)
        #expect(refusal("2024-05-01T00:00:00Z", .by("9223372036854775807s1s"))?.kind == .badInput)
        // The year is the text's, in the bookmark's own offset.
        #expect(try movedBookmarkValue("2024-05-01T00:00:00+01:00", .to("0001-01-01T00:00:00Z")) == "0001-01-01T01:00:00+01:00")
        #expect(refusal("2024-05-01T00:00:00-01:00", .to("0001-01-01T00:00:00Z"))?.message.contains("year 0,") == true)
        #expect(refusal("2024-05-01T00:00:00Z", .to("0000-06-01T00:00:00Z"))?.message.contains("year 0,") == true)
    }

    @Test func numbersAndLSNsKeepTheirType() throws {
        #expect(try movedBookmarkValue(4242, .value("4000")) == 4000)
        #expect(try movedBookmarkValue(4242, .by("242")) == 4000)
        #expect(try movedBookmarkValue("4242", .by("42")) == "4200")
        #expect(try movedBookmarkValue(1.5, .by("0.5")) == 1.0)
        #expect(try movedBookmarkValue("16/B374D848", .value("16/B0000000")) == "16/B0000000")
        // Huge integers stay exact.
        #expect(try movedBookmarkValue(.number(JSONNumber(literal: "123456789012345678901234")!), .value("123456789012345678901233")).meltanoText == "123456789012345678901233")
        func refused(_ current: JSONValue, _ move: BookmarkMove) -> BookmarkError? {
            do { _ = try movedBookmarkValue(current, move); return nil } catch { return error }
        }
        // Text of digits keeps its width, zero-padded, so it moves back as text too.
        #expect(try movedBookmarkValue("000123", .by("100")) == "000023")
        #expect(try movedBookmarkValue("1000", .by("1")) == "0999")
        #expect(compareBookmarkValues("0999", "1000") == -1 && "0999" < "1000")
        #expect(try movedBookmarkValue("000123", .value("000100")) == "000100")
        #expect(refused("000123", .by("124"))?.message.contains("below zero") == true)
        #expect(refused("000123", .value("-1"))?.message.contains("is not digits") == true)
        // --by is exact at any size, as the integers are.
        #expect(try movedBookmarkValue(.number(JSONNumber(literal: "12345678901234567890")!), .by("1000")).meltanoText == "12345678901234566890")
        #expect(try movedBookmarkValue(.number(JSONNumber(literal: "-9223372036854775808")!), .by("1")).meltanoText == "-9223372036854775809")
        #expect(try movedBookmarkValue(5, .by("7")) == -2)
        #expect(try movedBookmarkValue("99999999999999999999999", .by("99999999999999999999999")) == "00000000000000000000000")
        for (a, b) in [(0, 1), (7, 7), (-3, 4), (123_456, 999), (1_000_000, 1)] {
            #expect(try movedBookmarkValue(.number(JSONNumber(a)), .by(String(b))) == .number(JSONNumber(a - b)), "\(a) - \(b)")
        }
        #expect(refused(4242, .value("4000.5"))?.kind == .badInput)
        #expect(refused(4242, .value("abc"))?.message.contains("'abc' is not a number") == true)
        #expect(refused("2024-05-01T00:00:00Z", .by("3"))?.message.contains("is not a duration") == true)
        #expect(refused("2024-05-01T00:00:00Z", .value("May 1"))?.message.contains("is not a time") == true)
        #expect(refused("16/B374D848", .by("3d"))?.message.contains("LSN cannot be moved back by an amount") == true)
        #expect(refused(.null, .value("1"))?.kind == .unsupported)
        #expect(refused(true, .value("1"))?.kind == .unsupported)
        #expect(parseBookmarkDuration("1d12h") == 129_600 && parseBookmarkDuration("0d") == nil && parseBookmarkDuration("d") == nil
                && parseBookmarkDuration("3") == nil && parseBookmarkDuration("99999999999999999999d") == nil)
    }

    @Test func ordering() throws {
        #expect(compareBookmarkValues("2024-05-01T00:00:00Z", "2024-05-01T01:00:00+02:00") == 1)
        #expect(compareBookmarkValues(.number(JSONNumber(literal: "99999999999999999999")!), .number(JSONNumber(literal: "100000000000000000000")!)) == -1)
        #expect(compareBookmarkValues(-5, -10) == 1)
        #expect(compareBookmarkValues("0/FF", "1/0") == -1)
        #expect(compareBookmarkValues("abc", "abd") == nil)
        #expect(compareBookmarkValues(1, "1") == nil)
    }

    /// The bytes of the state as Meltano stores it (json.dumps) are the same outside the
    /// stream's bookmark: before = P + member + Q and after = P + new member + Q (or, for a
    /// removal, P + Q with the member's ", " separator gone).
    func expectOnlyInside(_ before: JSONValue, _ after: JSONValue, stream: String, removed: Bool = false) {
        let old = Array(before.meltanoText.utf8), new = Array(after.meltanoText.utf8)
        guard let member = SingerState.findBookmarkText(before, stream: stream) else {
            Issue.record("no bookmark of \(stream)")
            return
        }
        if removed {
            let following = Array(old[member.upperBound...]).starts(with: Array(", ".utf8))
            let cut = following ? member.lowerBound..<member.upperBound + 2 : member.lowerBound - 2..<member.upperBound
            #expect(new == Array(old[..<cut.lowerBound]) + Array(old[cut.upperBound...]), "only the member was removed")
            return
        }
        guard let newMember = SingerState.findBookmarkText(after, stream: stream) else {
            Issue.record("no bookmark of \(stream) after")
            return
        }
        #expect(member.lowerBound == newMember.lowerBound && old[..<member.lowerBound] == new[..<newMember.lowerBound], "the bytes before it")
        #expect(old[member.upperBound...] == new[newMember.upperBound...], "the bytes after it")
        #expect(old[member] != new[newMember], "the member changed")
    }

    @Test func rewindChangesOnlyThatValue() throws {
        let state = try parse(Self.singerSDK)
        let edit = try SingerState.rewind(state, stream: "public-orders", partition: nil, .by("3d"))
        #expect(edit.old == "2026-11-30T12:34:56.123456+00:00" && edit.new == "2026-11-27T12:34:56.123456+00:00")
        #expect(edit.state.meltanoText == Self.singerSDK.replacingOccurrences(of: "2026-11-30T12:34:56.123456", with: "2026-11-27T12:34:56.123456"))
        expectOnlyInside(state, edit.state, stream: "public-orders")

        let partition = try SingerState.rewind(state, stream: "public-events", partition: ["tenant": "b"], .to("2026-11-01T00:00:00Z"))
        #expect(partition.state.meltanoText == Self.singerSDK.replacingOccurrences(of: "2026-11-28T06:00:00Z", with: "2026-11-01T00:00:00Z"))
        expectOnlyInside(state, partition.state, stream: "public-events")

        let customers = try SingerState.rewind(state, stream: "public-customers", partition: nil, .value("4000"))
        #expect(customers.state.meltanoText == Self.singerSDK.replacingOccurrences(of: #""replication_key_value": 4242"#, with: #""replication_key_value": 4000"#))

        let pw = try parse(Self.pipelinewise)
        let legacy = try SingerState.rewind(pw, stream: "public-legacy", partition: nil, .by("1d"))
        #expect(legacy.state.meltanoText == Self.pipelinewise.replacingOccurrences(of: "2024-05-01 00:00:00", with: "2024-04-30 00:00:00"))
        let lsn = try SingerState.rewind(pw, stream: "public-events", partition: nil, .value("123000000"))
        #expect(lsn.state.meltanoText == Self.pipelinewise.replacingOccurrences(of: "123456789", with: "123000000"))
        expectOnlyInside(pw, lsn.state, stream: "public-events")
    }

    @Test func rewindRefusals() throws {
        let state = try parse(Self.singerSDK)
        func refusal(_ stream: String, _ partition: JSONValue?, _ move: BookmarkMove) -> BookmarkError? {
            do { _ = try SingerState.rewind(state, stream: stream, partition: partition, move); return nil } catch { return error }
        }
        let ahead = refusal("public-customers", nil, .value("5000"))
        #expect(ahead?.kind == .ahead && ahead?.message.contains("Add --forward") == true)
        #expect(try SingerState.rewind(state, stream: "public-customers", partition: nil, .value("5000"), allowForward: true).new == 5000)
        let missing = refusal("public-nope", nil, .by("1d"))
        #expect(missing?.kind == .notFound)
        #expect(missing?.message == "The state has no bookmark of 'public-nope'; its streams: public-orders, public-customers, public-events.")
        let choose = refusal("public-events", nil, .by("1d"))
        #expect(choose?.kind == .badInput && choose?.message.contains(#"'{"tenant": "a"}', '{"tenant": "b"}'"#) == true)
        #expect(refusal("public-events", ["tenant": "c"], .by("1d"))?.kind == .notFound)
        #expect(refusal("public-orders", ["tenant": "a"], .by("1d"))?.message.contains("has no partitions") == true)
        let weird = try parse(Self.pipelinewise)
        do {
            _ = try SingerState.rewind(weird, stream: "public-weird", partition: nil, .value("1"))
            Issue.record("an unknown shape was rewritten")
        } catch {
            #expect(error.kind == .unsupported && error.message.contains(#"{"a": 1, "b": 2}"#))
        }
    }

    @Test func removingAStreamRemovesExactlyIt() throws {
        let state = try parse(Self.pipelinewise)
        let (after, removed) = try SingerState.removingStream(state, stream: "public-events")
        #expect(removed == ["lsn": 123456789, "version": 1])
        #expect(after.meltanoText == Self.pipelinewise.replacingOccurrences(of: #""public-events": {"lsn": 123456789, "version": 1}, "#, with: ""))
        expectOnlyInside(state, after, stream: "public-events", removed: true)
        // The unknown shape can still be removed as a whole; currently_syncing stays.
        let (noWeird, _) = try SingerState.removingStream(state, stream: "public-weird")
        #expect(SingerState(noWeird).currentlySyncing == "public-orders")
        #expect(throws: BookmarkError.self) { try SingerState.removingStream(state, stream: "nope") }
        // Unwrapped Singer state is read and edited in place too.
        let bare = try parse(#"{"bookmarks": {"s": {"replication_key_value": 3}}, "currently_syncing": null}"#)
        #expect(try SingerState.rewind(bare, stream: "s", partition: nil, .value("1")).state.meltanoText == #"{"bookmarks": {"s": {"replication_key_value": 1}}, "currently_syncing": null}"#)
    }
}

extension SingerState {
    /// Where `"stream": {...}` is in the Meltano text of `state` (UTF-8 offsets).
    static func findBookmarkText(_ state: JSONValue, stream: String) -> Range<Int>? {
        guard let inner = (state["singer_state"] ?? state)["bookmarks"]?[stream] else { return nil }
        let needle = Array((JSONValue.string(JSONString(stream)).meltanoText + ": " + inner.meltanoText).utf8)
        let text = Array(state.meltanoText.utf8)
        guard needle.count <= text.count else { return nil }
        for start in 0...(text.count - needle.count) where text[start] == needle[0] && Array(text[start..<start + needle.count]) == needle {
            return start..<start + needle.count
        }
        return nil
    }
}
