import StateJSON
@testable import StateStore
import Testing

/// The bookmarks table and `--json` of states as tap-postgres (singer-sdk) and
/// pipelinewise write them, at a fixed clock: golden texts.
@Suite struct BookmarkReportTests {
    static let now = BookmarkTimestamp.parse("2026-12-04T00:00:00Z")!.instant

    func table(_ report: BookmarkReport) -> String {
        report.cells.map { $0.joined(separator: " | ") }.joined(separator: "\n")
    }

    @Test func singerSDKWithAPartialStateAndPartitions() throws {
        let completed = try JSONParser.parse(#"{"singer_state": {"bookmarks": {"public-orders": {"replication_key": "updated_at", "replication_key_value": "2026-11-30T12:34:56.123456+00:00"}, "public-customers": {"replication_key": "id", "replication_key_value": 4242, "starting_replication_value": 4000, "progress_markers": {"Note": "Progress is not resumable if interrupted.", "replication_key": "id", "replication_key_value": 4300}}, "public-events": {"partitions": [{"context": {"tenant": "a"}, "replication_key": "ts", "replication_key_value": "2026-11-29T00:00:00Z"}]}}}}"#)
        let partial = try JSONParser.parse(#"{"singer_state": {"bookmarks": {"public-orders": {"replication_key_value": "2026-12-01T00:00:00.000000+00:00"}}}}"#)
        let merged = try deepMerge(partial, onto: completed)
        let report = BookmarkReport(stateID: "prod:pg", merged: merged, partial: partial, completed: completed, now: Self.now)
        #expect(table(report) == """
            STREAM | PARTITION | KEY | VALUE | AGE | NEWER PROGRESS
            public-orders |  | updated_at | 2026-12-01T00:00:00.000000+00:00 | 3 d 0 h | partial state "2026-12-01T00:00:00.000000+00:00" (completed: "2026-11-30T12:34:56.123456+00:00")
            public-customers |  | id | 4242 |  | progress_markers 4300
            public-events | {"tenant": "a"} | ts | 2026-11-29T00:00:00Z | 5 d 0 h | 
            """)
        #expect(report.jsonText == #"{"state_id": "prod:pg", "currently_syncing": null, "problem": null, "streams": [{"stream": "public-orders", "partition": null, "shape": "singer-sdk", "replication_key": "updated_at", "value_key": "replication_key_value", "value": "2026-12-01T00:00:00.000000+00:00", "value_type": "timestamp", "age_seconds": 259200.0, "partial_value": "2026-12-01T00:00:00.000000+00:00", "completed_value": "2026-11-30T12:34:56.123456+00:00", "progress_marker_value": null, "bookmark": {"replication_key": "updated_at", "replication_key_value": "2026-12-01T00:00:00.000000+00:00"}}, {"stream": "public-customers", "partition": null, "shape": "singer-sdk", "replication_key": "id", "value_key": "replication_key_value", "value": 4242, "value_type": "integer", "age_seconds": null, "partial_value": null, "completed_value": null, "progress_marker_value": 4300, "bookmark": {"replication_key": "id", "replication_key_value": 4242, "starting_replication_value": 4000, "progress_markers": {"Note": "Progress is not resumable if interrupted.", "replication_key": "id", "replication_key_value": 4300}}}, {"stream": "public-events", "partition": {"tenant": "a"}, "shape": "singer-sdk", "replication_key": "ts", "value_key": "replication_key_value", "value": "2026-11-29T00:00:00Z", "value_type": "timestamp", "age_seconds": 432000.0, "partial_value": null, "completed_value": null, "progress_marker_value": null, "bookmark": {"context": {"tenant": "a"}, "replication_key": "ts", "replication_key_value": "2026-11-29T00:00:00Z"}}]}"#)
    }

    @Test func pipelinewiseAndUnknownShapes() throws {
        let state = try JSONParser.parse(#"{"singer_state": {"bookmarks": {"public-orders": {"last_replication_method": "INCREMENTAL", "replication_key": "updated_at", "version": 1700000000000, "replication_key_value": "2026-11-30T12:34:56+00:00"}, "public-events": {"lsn": 123456789, "version": 1}, "public-legacy": {"updated": "2026-12-03 18:00:00"}, "public-weird": {"a": 1, "b": 2}, "public-\u001b[2J": "x"}, "currently_syncing": "public-orders"}}"#)
        let report = BookmarkReport(stateID: "prod:pw", merged: state, partial: nil, completed: state, now: Self.now)
        #expect(report.currentlySyncing == "public-orders")
        #expect(table(report) == """
            STREAM | KEY | VALUE | AGE | NEWER PROGRESS
            public-orders | updated_at | 2026-11-30T12:34:56+00:00 | 3 d 11 h | 
            public-events | lsn | 123456789 |  | 
            public-legacy | updated | 2026-12-03 18:00:00 | 6 h 00 min | 
            public-weird |  | ({"a": 1, "b": 2}) |  | 
            public-\u{1b}[2J |  | ("x") |  | 
            """)
        // No bookmarks: said.
        let none = BookmarkReport(stateID: "x", merged: ["singer_state": ["v": 1]], partial: nil, completed: nil, now: Self.now)
        #expect(none.lines.isEmpty && none.problem == "no bookmarks")
    }

    /// A row's report from its stored texts (tapes, read a stream at a time) is the
    /// report of its trees: the same lines, cells and JSON, or the same error.
    @Test func storedTextsGiveTheTreesReport() throws {
        let completedParts: [String?] = [
            nil, "{}", "[]", "{oops",
            #"{"singer_state": {"bookmarks": {"public-orders": {"replication_key": "updated_at", "replication_key_value": "2026-11-30T12:34:56.123456+00:00"}, "public-customers": {"replication_key": "id", "replication_key_value": 4242, "progress_markers": {"replication_key_value": 4300}}, "public-events": {"partitions": [{"context": {"tenant": "a"}, "replication_key": "ts", "replication_key_value": "2026-11-29T00:00:00Z"}, {"context": {"tenant": "b"}, "replication_key_value": "2026-11-28T00:00:00Z"}]}}, "currently_syncing": "public-events"}}"#,
            #"{"singer_state": {"bookmarks": {"public-orders": {"lsn": 123, "version": 1}, "public-legacy": {"updated": "2026-12-03 18:00:00"}, "public-weird": {"a": 1, "b": 2}, "x\u001b": "x"}}}"#,
            #"{"bookmarks": {"bare": {"replication_key_value": 1}}, "currently_syncing": {"odd": [1]}}"#,
            #"{"singer_state": {"bookmarks": {"a": {"replication_key_value": 1}, "a": {"replication_key_value": 2}}}}"#,
            #"{"singer_state": {"bookmarks": [1]}}"#, #"{"singer_state": 5}"#, #"{"singer\u005fstate": {"bookmarks": {"e": {"lsn": 1}}}}"#,
            // Many streams, one named with an escape: the partial part below has more than
            // 16 of them, so the completed part is looked up through its index.
            #"{"singer_state": {"bookmarks": {"# + (0..<20).map { #""s\#($0)": {"replication_key_value": \#($0)}, "# }.joined()
                + #""caf\u00e9": {"replication_key_value": 1}, "gone": {"replication_key_value": 2}}}}"#,
        ]
        let partialParts: [String?] = [
            nil, "{}", "{oops",
            #"{"singer_state": {"bookmarks": {"public-orders": {"replication_key_value": "2026-12-01T00:00:00.000000+00:00"}}}}"#,
            #"{"singer_state": {"bookmarks": {"public-events": {"partitions": [{"context": {"tenant": "a"}, "replication_key_value": "2026-12-02T00:00:00Z"}]}, "new-stream": {"replication_key_value": 7}}}}"#,
            #"{"singer_state": {"bookmarks": {"public-orders": {"lsn": {"deep": 1}}}}}"#,
            #"{"singer_state": {"bookmarks": {"# + (0..<20).map { #""s\#($0)": {"replication_key_value": \#($0 % 3 == 0 ? $0 : $0 + 100)}, "# }.joined()
                + "\"café\": {\"replication_key_value\": 7}, \"new\": {\"replication_key_value\": 8}}}}",
        ]
        var compared = 0, failures = 0
        var differences: [String] = []
        for completed in completedParts {
            for partial in partialParts {
                let stored = StoredBytes(partial: partial.map { Array($0.utf8) }, completed: completed.map { Array($0.utf8) })
                let record = StateRecord(stateID: "s", partial: StatePart(raw: partial), completed: StatePart(raw: completed), updatedAt: nil, ageSeconds: nil)
                let tree = Result { try BookmarkReport(record: record, now: Self.now) }
                let tape = Result { try BookmarkReport(stateID: "s", stored: stored, now: Self.now) }
                switch (tree, tape) {
                case let (.success(want), .success(got)):
                    compared += 1
                    if got.cells != want.cells || got.jsonText != want.jsonText || got.problem != want.problem
                        || got.currentlySyncing != want.currentlySyncing {
                        differences.append("\(partial ?? "NULL") onto \(completed ?? "NULL"):\n tape \(got.jsonText)\n tree \(want.jsonText)")
                    }
                case let (.failure(want), .failure(got)):
                    failures += 1
                    if "\(got)" != "\(want)" { differences.append("error \(got) / \(want)") }
                default:
                    differences.append("\(partial ?? "NULL") onto \(completed ?? "NULL"): \(tape) / \(tree)")
                }
            }
        }
        #expect(differences.isEmpty, "\(differences.count) differ, first: \(differences.prefix(3).joined(separator: "\n"))")
        #expect(compared > 40 && failures > 10, "\(compared) compared, \(failures) failed alike")
    }
}
