import Foundation
import StateStore

/// Messages posted from background threads, waiting for the UI thread.
public final class Inbox: @unchecked Sendable {
    private let condition = NSCondition()
    private var messages: [Message] = []
    /// Called after each post, from the posting thread (the terminal writes to a
    /// self-pipe here so its `poll` wakes up).
    private let wake: @Sendable () -> Void

    public init(wake: @escaping @Sendable () -> Void = {}) {
        self.wake = wake
    }

    public func post(_ message: Message) {
        condition.lock()
        messages.append(message)
        condition.signal()
        condition.unlock()
        wake()
    }

    /// Everything posted so far, oldest first.
    public func takeAll() -> [Message] {
        condition.lock()
        defer { condition.unlock() }
        let taken = messages
        messages = []
        return taken
    }

    /// Waits until something is posted or `timeout` passes.
    @discardableResult
    public func wait(timeout: Double) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        let deadline = Date(timeIntervalSinceNow: timeout)
        while messages.isEmpty {
            if !condition.wait(until: deadline) { return !messages.isEmpty }
        }
        return true
    }
}

/// What only the terminal can do, supplied by the host (the real terminal, or a test).
public struct BrowserHost {
    /// Suspend the screen, run the editor on the text, resume; the result message.
    public var openEditor: (EditSession) -> Message
    /// Send OSC 52; the result message (or nil when nothing is to be said).
    public var copyToClipboard: (_ text: String, _ description: String) -> Message?

    public init(openEditor: @escaping (EditSession) -> Message,
                copyToClipboard: @escaping (_ text: String, _ description: String) -> Message?) {
        self.openEditor = openEditor
        self.copyToClipboard = copyToClipboard
    }
}

/// The running browser without a terminal: the model, `update`, and the runner that
/// executes commands in the background. The terminal loop (and the end-to-end tests
/// against PostgreSQL) drive it from one thread: `send` keys and resizes, call
/// `processPending` when the inbox has something, draw `view(model)`.
public final class BrowserProgram {
    public private(set) var model: Model
    public let inbox: Inbox
    public var host: BrowserHost
    public private(set) var quitRequested = false
    /// The context the user picked (`:`): the host opens the browser again in it.
    public private(set) var switchRequested: String?
    private let runner: CommandRunner
    private let clock: @Sendable () -> Double

    public init(settings: BrowserSettings, size: Size, makeStore: @escaping @Sendable () throws -> StateStore,
                host: BrowserHost, wake: @escaping @Sendable () -> Void = {},
                clock: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 },
                openContextStore: (@Sendable (String) throws -> StateStore)? = nil) {
        let inbox = Inbox(wake: wake)
        self.inbox = inbox
        self.host = host
        self.clock = clock
        runner = CommandRunner(makeStore: makeStore, clock: clock, bigStateBytes: settings.bigStateBytes,
                               openContextStore: openContextStore, post: { inbox.post($0) })
        let (model, commands) = StateBrowser.start(settings: settings, size: size, now: clock())
        self.model = model
        run(commands)
    }

    deinit { runner.stop() }

    public func stop() { runner.stop() }

    /// Handles one message now (a key, a resize, a tick).
    public func send(_ message: Message) {
        let (next, commands) = update(model, message)
        model = next
        run(commands)
    }

    /// Handles everything the background has posted; returns whether there was any.
    @discardableResult
    public func processPending() -> Bool {
        let messages = inbox.takeAll()
        for message in messages { send(message) }
        return !messages.isEmpty
    }

    /// Processes messages until `done(model)` or the timeout; for tests and for
    /// `--exit-after-first-paint`. Returns whether `done` became true.
    public func run(until done: (Model) -> Bool, timeout: Double) -> Bool {
        let deadline = Date(timeIntervalSinceNow: timeout)
        while !done(model) {
            let left = deadline.timeIntervalSinceNow
            if left <= 0 { return false }
            inbox.wait(timeout: min(left, 0.05))
            processPending()
            send(.tick(clock()))
        }
        return true
    }

    private func run(_ commands: [Command]) {
        for command in commands {
            switch command {
            case let .openEditor(session):
                send(host.openEditor(session))
            case let .copyToClipboard(text, description):
                if let message = host.copyToClipboard(text, description) { send(message) }
            case .quit:
                quitRequested = true
            case let .switchContext(name):
                switchRequested = name
                quitRequested = true
            default:
                runner.execute(command)
            }
        }
    }
}
