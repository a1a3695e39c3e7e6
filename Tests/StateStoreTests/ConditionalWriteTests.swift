import Foundation
import StateJSON
import StateStore
import TestSupport
import Testing

/// The merged view (one implementation for records and raw rows) and "write only if
/// unchanged since the editor opened", which `edit` and the browser's `e` both use.
@Suite("Merged view and write-if-unchanged")
struct ConditionalWriteTests {
    @Test("A raw row merges as its record does, with the same sentences")
    func rawRowMergesAsRecord() throws {
        let merged = RowSnapshot(partialState: #"{"singer_state": {"b": 2}}"#, completedState: #"{"singer_state": {"a": 1}}"#, updatedAt: nil)
        #expect(try merged.merged(stateID: "m").get() == json(#"{"singer_state": {"a": 1, "b": 2}}"#))
        #expect(try RowSnapshot(partialState: nil, completedState: nil, updatedAt: nil).merged(stateID: "e").get() == json("{}"))
        let clash = RowSnapshot(partialState: #"{"singer_state": {"bookmarks": {"x": 1}}}"#, completedState: #"{"singer_state": 3}"#, updatedAt: nil)
        let clashText = failure(clash.merged(stateID: "c"))
        #expect(clashText?.hasPrefix("The state of 'c' cannot be merged as Meltano merges it: cannot merge key 'bookmarks' into a int") == true)
        // Both parts broken: the partial part is reported first.
        let broken = RowSnapshot(partialState: "{", completedState: "[", updatedAt: nil)
        #expect(failure(broken.merged(stateID: "b"))?.hasPrefix("The stored partial state of 'b' is not valid JSON") == true)
        let badCompleted = RowSnapshot(partialState: nil, completedState: "[", updatedAt: nil)
        #expect(failure(badCompleted.merged(stateID: "b"))?.hasPrefix("The stored completed state of 'b' is not valid JSON") == true)
    }

    @Test("Written when unchanged; the current value, nothing written and no lock left, when not")
    func writesOnlyIfUnchanged() throws {
        let fixture = try StoreFixture()
        let opened = try json(#"{"singer_state": {"n": 1}}"#)
        try fixture.store.set("a", to: opened)
        let edited = try json(#"{"singer_state": {"n": 2}}"#)
        // Equal as Meltano compares states: 1.0 == 1.
        #expect(try isWritten(fixture.store.setIfUnchanged("a", opened: json(#"{"singer_state": {"n": 1.0}}"#), to: edited)))
        #expect(try fixture.store.view("a") == edited)
        // Someone wrote it meanwhile.
        guard case let .changed(current) = try fixture.store.setIfUnchanged("a", opened: opened, to: json(#"{"singer_state": {"n": 3}}"#)) else {
            Issue.record("expected .changed"); return
        }
        #expect(current == edited)
        #expect(try fixture.store.view("a") == edited)
        // A missing row is {}.
        #expect(try isWritten(fixture.store.setIfUnchanged("new", opened: json("{}"), to: edited)))
        #expect(try fixture.store.view("new") == edited)
        // A row that stopped being readable.
        try fixture.admin.query("UPDATE \(fixture.stateTable) SET completed_state = '{' WHERE state_id = 'a'")
        guard case let .unreadable(error) = try fixture.store.setIfUnchanged("a", opened: edited, to: opened) else {
            Issue.record("expected .unreadable"); return
        }
        #expect(error.description.hasPrefix("The stored completed state of 'a' is not valid JSON"))
        #expect(try fixture.row("a")?[1] == "{")
        // A value the store refuses throws, as set does.
        #expect(throws: StoreError.self) { try fixture.store.setIfUnchanged("new", opened: edited, to: json(#"{"bookmarks": {}}"#)) }
        #expect(try fixture.store.view("new") == edited)
        #expect(try fixture.lockRows().isEmpty)
    }

    private func failure(_ result: Result<JSONValue, StoreError>) -> String? {
        if case let .failure(error) = result { return error.description }
        return nil
    }

    private func isWritten(_ outcome: ConditionalWrite) -> Bool {
        if case .written = outcome { return true }
        return false
    }
}
