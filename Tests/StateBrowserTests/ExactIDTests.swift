import StateStore
import Testing

@testable import StateBrowser

/// Two state IDs that differ only in how é is written (one scalar, or e and a combining
/// accent) are two rows to PostgreSQL and two IDs to Meltano; to Swift's `String ==`
/// they are one. Keys act on the row selected, by its bytes.
@Suite("State IDs told apart by their bytes")
struct ExactIDTests {
    static let composed = "prod:caf\u{E9}", decomposed = "prod:cafe\u{301}"

    func harness() -> (FakeBackend, Harness) {
        let backend = FakeBackend()
        backend.add(Self.composed, completed: #"{"singer_state": {"bookmarks": {"s": {"replication_key_value": 1}}}}"#)
        backend.add(Self.decomposed, completed: #"{"singer_state": {"bookmarks": {"s": {"replication_key_value": 2}}}}"#)
        backend.locks = [LockRow(stateID: Self.decomposed, lockID: "lock-of-the-decomposed-one", lockedAt: "2023-11-14 21:41:02.123456",
                                 ageSeconds: 1938, fetchedAt: testNow, isStale: true)]
        return (backend, Harness(backend: backend))
    }

    @Test func theDetailAndTheLockAreTheSelectedRows() {
        var (backend, harness) = harness()
        // By bytes, e (0x65) sorts before é (0xC3): the decomposed ID is first.
        #expect(harness.model.list.rows.map { Array($0.stateID.utf8) } == [Array(Self.decomposed.utf8), Array(Self.composed.utf8)])
        harness.press(.character("j"))
        #expect(sameText(harness.model.list.selectedRow?.stateID, Self.composed))
        #expect(sameText(harness.model.detail.stateID, Self.composed), "the detail pane shows the row selected")
        #expect(harness.text.contains(#""replication_key_value": 1"#), "\(harness.text)")
        // Its twin's lock is not its own.
        harness.press(.character("u"))
        #expect(harness.text.contains("is not locked"), "\(harness.text)")
        #expect(harness.model.mode == .browse)
        #expect(backend.writes.isEmpty)
        // The list marks only the locked one.
        #expect(harness.model.list.rows.map(\.isLocked) == [true, false])
    }
}
