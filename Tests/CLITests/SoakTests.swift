import ChildProcess
import Foundation
import Postgres
import StateJSON
import StateStore
import TestSupport
import Testing

/// A bounded soak: the add-on's reference model (`hammer`, Meltano's protocol: 30 tries
/// 1 s apart, read-increment-write under the lock), two threads of this store doing the
/// same increments, and the real CLI merging a key of its own, all on the same 50 state
/// IDs at once. Afterwards every increment and every merge must be there (no lost
/// update), no lock row left, every row valid JSON in Meltano's own form.
///
/// The suite runs it for a few seconds (MELTANO_STATE_SOAK_SECONDS, default 5);
/// `scripts/soak --seconds 60` runs the long one and prints the figures.
@Suite("Soak: this tool and a Meltano-protocol writer on the same 50 state IDs")
struct SoakTests {
    static let seconds: Double = Double(ProcessInfo.processInfo.environment["MELTANO_STATE_SOAK_SECONDS"] ?? "") ?? 5
    static let ids = (0..<50).map { String(format: "soak:tap-%02d-to-target-postgres", $0) }

    /// Thread-safe tallies of one writer.
    final class Tally: @unchecked Sendable {
        private let lock = NSLock()
        private var writes: [String: Int] = [:]
        private var timeouts = 0
        private var failures: [String] = []
        func wrote(_ id: String) { lock.lock(); writes[id, default: 0] += 1; lock.unlock() }
        func timedOut() { lock.lock(); timeouts += 1; lock.unlock() }
        func failed(_ message: String) { lock.lock(); if failures.count < 5 { failures.append(message) }; lock.unlock() }
        var snapshot: (writes: [String: Int], timeouts: Int, failures: [String]) {
            lock.lock(); defer { lock.unlock() }
            return (writes, timeouts, failures)
        }
    }

    static func int(_ value: JSONValue?) -> Int? {
        if case let .number(n)? = value { return Int(n.literal) }
        return nil
    }

    @Test func noLostUpdateNoLeftoverLockNoInvalidRow() throws {
        let fixture = try CLIFixture(schemaPrefix: "soak")
        fixture.environment["MELTANO_STATE_LOCK_TIMEOUT"] = "30"
        #expect(try fixture.run(["init"]).status == 0)
        let deadline = Date().addingTimeInterval(Self.seconds)
        let group = DispatchGroup()

        // The add-on's protocol, in a process of its own.
        let hammer = try ChildProcess(python3Executable, [Reference.script, "--dsn", try TestDatabase.dsn, "--schema", fixture.schema,
                                      "hammer"] + Self.ids + ["--seconds", String(Self.seconds), "--seed", String(Int.random(in: 0...1_000_000))],
                                      standardInput: .null, standardOutput: .pipe, standardError: .pipe)

        // This store: read-increment-write of the same counter, under Meltano's lock.
        let store = Tally()
        for thread in 0..<2 {
            let connection = try Connection(try TestDatabase.configuration())
            let writer = StateStore(connection: connection, options: StoreOptions(
                schema: fixture.schema, lockTimeout: 30, lockRetryInterval: 0.02,
                journal: Journal(path: fixture.directory + "/store-journal-\(thread).jsonl")))
            group.enter()
            Thread.detachNewThread {
                defer { group.leave() }
                var rng = SystemRandomNumberGenerator()
                while Date() < deadline {
                    let id = Self.ids.randomElement(using: &rng)!
                    do {
                        try writer.update(id, action: "soak") { view in
                            var state = JSONObject(), singer = JSONObject()
                            if case let .object(current) = view { state = current }
                            if case let .object(current)? = state["singer_state"] { singer = current }
                            singer["counter"] = .number(JSONNumber((Self.int(singer["counter"]) ?? 0) + 1))
                            state["singer_state"] = .object(singer)
                            return .object(state)
                        }
                        store.wrote(id)
                    } catch let error as StoreError {
                        if case .lockHeld = error { store.timedOut() } else { store.failed(error.description) }
                    } catch {
                        store.failed("\(error)")
                    }
                }
            }
        }

        // The CLI: `merge` of a key of its own, numbered per ID.
        let cli = Tally()
        group.enter()
        Thread.detachNewThread {
            defer { group.leave() }
            var count: [String: Int] = [:]
            var rng = SystemRandomNumberGenerator()
            while Date() < deadline {
                let id = Self.ids.randomElement(using: &rng)!
                let next = (count[id] ?? 0) + 1
                do {
                    let result = try fixture.run(["merge", id, #"{"singer_state": {"cli": \#(next)}}"#])
                    switch result.status {
                    case 0: count[id] = next; cli.wrote(id)
                    case 3: cli.timedOut()
                    default: cli.failed(result.stderr)
                    }
                } catch { cli.failed("\(error)") }
            }
        }

        group.wait()
        // Its report is a few hundred bytes: nothing fills the pipes before this read.
        let finished = hammer.communicate(timeout: Self.seconds + 120)
        let report = String(decoding: finished.standardOutput, as: UTF8.self)
        let hammerErrors = String(decoding: finished.standardError, as: UTF8.self)
        #expect(finished.termination == Termination(exitStatus: 0), "hammer: \(hammerErrors)")
        guard case let .object(result)? = try? JSONParser.parse(report.split(separator: "\n").last.map(String.init) ?? ""),
              case let .object(hammerWrites)? = result["writes"] else {
            Issue.record("no report from the hammer: \(report) \(hammerErrors)")
            return
        }
        let hammerTimeouts = Self.int(result["lock_timeouts"]) ?? -1

        // Every increment and every merge is in the final state.
        let (storeWrites, storeTimeouts, storeFailures) = store.snapshot
        let (cliWrites, cliTimeouts, cliFailures) = cli.snapshot
        let reader = try Connection(try TestDatabase.configuration())
        let check = StateStore(connection: reader, options: StoreOptions(schema: fixture.schema, readOnly: true))
        var lost = 0, invalid = 0
        for id in Self.ids {
            let expectedCounter = (Self.int(hammerWrites[id]) ?? 0) + (storeWrites[id] ?? 0)
            let expectedCLI = cliWrites[id] ?? 0
            guard let record = try check.get(id) else {
                lost += expectedCounter + expectedCLI
                continue
            }
            guard case let .success(view) = record.merged else { invalid += 1; continue }
            var singer = JSONObject()
            if case let .object(state) = view, case let .object(value)? = state["singer_state"] { singer = value }
            lost += abs(expectedCounter - (Self.int(singer["counter"]) ?? 0))
            lost += abs(expectedCLI - (Self.int(singer["cli"]) ?? 0))
        }
        // Each stored text is JSON in Meltano's byte form (json.dumps), empty parts NULL.
        for row in try fixture.rows() {
            for text in [row[1], row[2]] {
                guard let text else { continue }
                guard let value = try? JSONParser.parse(text), value.isObject, value.meltanoText == text else { invalid += 1; continue }
            }
        }
        let leftover = Int(try fixture.admin.query("SELECT count(*) FROM \(fixture.locksTable)").scalar ?? "-1") ?? -1
        let hammerTotal = hammerWrites.values.compactMap { Self.int($0) }.reduce(0, +)
        let storeTotal = storeWrites.values.reduce(0, +), cliTotal = cliWrites.values.reduce(0, +)
        print("""
            soak: \(Int(Self.seconds)) s on \(Self.ids.count) state IDs
            soak: writes: reference hammer (Meltano's protocol) \(hammerTotal), this store (2 threads) \(storeTotal), CLI merge \(cliTotal)
            soak: lock timeouts: hammer \(hammerTimeouts), store \(storeTimeouts), CLI \(cliTimeouts)
            soak: lost updates \(lost), leftover locks \(leftover), invalid rows \(invalid)
            """)
        #expect(lost == 0)
        #expect(leftover == 0)
        #expect(invalid == 0)
        #expect(storeFailures.isEmpty, "\(storeFailures)")
        #expect(cliFailures.isEmpty, "\(cliFailures)")
        #expect(hammerTotal > 0 && storeTotal > 0 && cliTotal > 0, "every side made progress")
        #expect(hammerTimeouts == 0 && storeTimeouts == 0 && cliTimeouts == 0)
    }
}
