import Foundation
import Postgres
import StateConfig
import StateStore
import TestSupport
import Testing

@testable import StateBrowser

/// A worker whose server goes away and comes back, opening its stores as the browser
/// does (`StoreFactory`, whose failure to connect is worded "Cannot connect to …"): the
/// read is retried until the server is back and the header's status ends connected.
/// It used to fail the read at its first reconnection and leave the header saying
/// DISCONNECTED for good (the other workers were connected again).
@Suite("A browser worker through an outage", .serialized)
struct WorkerReconnectTests {
    @Test("A read whose reconnection fails is retried, and the status comes back to connected")
    func reconnects() throws {
        let server = try ThrowawayServer(prefix: "worker")
        let home = NSTemporaryDirectory() + "meltano-state-worker-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: home) }
        let configuration = try ConfigurationResolver.resolve(ConfigurationInputs(
            flags: [:], environment: ["MELTANO_STATE_BACKEND_URI": "postgres://postgres@127.0.0.1:\(server.port)/postgres",
                                      "MELTANO_STATE_JOURNAL": home + "/journal.jsonl"],
            workingDirectory: home, homeDirectory: home))
        let factory = StoreFactory(configuration: configuration)
        try factory.open().createTablesIfMissing()

        let posted = Posted()
        let monitor = ConnectionMonitor { posted.add($0) }
        let worker = Worker(name: "reads", makeStore: { try factory.open() }, monitor: monitor,
                            clock: { Date().timeIntervalSince1970 }, post: { posted.add($0) })
        defer { worker.stop() }
        let read = Worker.Job(key: "list", retries: true, run: { store in _ = try store.list(); return nil },
                              failed: { _ in posted.failed(); return nil })
        func connections(_ messages: [Message]) -> [ConnectionStatus] {
            messages.compactMap { if case let .connection(status) = $0 { return status }; return nil }
        }
        worker.enqueue(read)
        #expect(posted.waitFor(timeout: 20) { connections($0).last == .connected })

        try server.pause()
        worker.enqueue(read)
        // Down across two tries: the second opens a new store, which cannot connect.
        #expect(posted.waitFor(timeout: 20) { messages in
            connections(messages).filter { if case .disconnected = $0 { return true } else { return false } }.count >= 2
        }, "\(connections(posted.messages))")
        // Said on one line, as the header shows it (libpq's message has a newline and a tab).
        let reasons = connections(posted.messages).compactMap { status -> String? in
            if case let .disconnected(reason, _) = status { return reason } else { return nil }
        }
        #expect(reasons.contains { $0.hasPrefix("Cannot connect to postgres@127.0.0.1:\(server.port)/postgres: ") }, "\(reasons)")
        #expect(reasons.allSatisfy { !$0.contains("\n") && !$0.contains("\t") }, "\(reasons)")
        try server.resume()
        #expect(posted.waitFor(timeout: 60) { connections($0).last == .connected }, "\(connections(posted.messages))")
        #expect(!posted.readFailed, "the read was given up instead of retried")
    }
}

/// What the worker and its monitor posted, waited on.
private final class Posted: @unchecked Sendable {
    private let condition = NSCondition()
    private var stored: [Message] = []
    private var failedReads = 0

    func add(_ message: Message) {
        condition.lock(); stored.append(message); condition.broadcast(); condition.unlock()
    }

    func failed() {
        condition.lock(); failedReads += 1; condition.unlock()
    }

    var messages: [Message] { condition.lock(); defer { condition.unlock() }; return stored }
    var readFailed: Bool { condition.lock(); defer { condition.unlock() }; return failedReads > 0 }

    /// Waits until `done` holds for what was posted, or `timeout` seconds pass.
    func waitFor(timeout: Double, _ done: ([Message]) -> Bool) -> Bool {
        let deadline = Date(timeIntervalSinceNow: timeout)
        condition.lock()
        defer { condition.unlock() }
        while !done(stored) {
            if !condition.wait(until: deadline) { return done(stored) }
        }
        return true
    }
}
