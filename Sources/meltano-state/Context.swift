import Foundation
import StateStore

/// What a command works with: the resolved configuration and, when it needs the
/// database, a connected store in the right layout.
final class Context {
    let configuration: ResolvedConfiguration
    let global: GlobalOptions
    private var openedStore: StateStore?

    init(_ global: GlobalOptions, connect: Bool = true) throws {
        self.global = global
        let inputs = ConfigurationInputs.current(flags: global.flagSettings, projectDirectory: global.projectDir,
                                                 environmentName: global.environment, configFile: global.config)
        configuration = try ConfigurationResolver.resolve(inputs)
        if !global.quiet {
            for warning in configuration.warnings { printNote("meltano-state: note: \(warning)") }
        }
        if connect { openedStore = try Context.openStore(configuration) }
    }

    var store: StateStore { openedStore! }
    var journal: Journal { Journal(path: configuration.journalPath) }
    var editor: String { configuration.editor }

    /// Journal entries without connecting (history works with the database down).
    func history(stateID: String?) throws -> [JournalEntry] {
        let all = try journal.entries().entries
        return all.filter { stateID == nil || $0.stateID == stateID }.reversed()
    }

    /// Connects (asking for a password on a terminal when the server wants one and
    /// none was found) and opens the store in the configured or detected layout.
    static func openStore(_ configuration: ResolvedConfiguration) throws -> StateStore {
        var configuration = configuration
        let connection: Connection
        do {
            connection = try Connection(configuration.connection)
        } catch let error as PostgresError where error.kind == .passwordRequired {
            guard TerminalPassword.isAvailable, let password = TerminalPassword.read(prompt: configuration.passwordPrompt),
                  !password.isEmpty else {
                throw CommandFailure(configuration.passwordRequiredMessage())
            }
            configuration = configuration.withPassword(password)
            connection = try Connection(configuration.connection)
        } catch let error as PostgresError {
            throw CommandFailure("Cannot connect to \(configuration.target): \(configuration.redactor.scrub(error.description))")
        }
        let schema = try configuration.tableSchema
            ?? connection.query("SELECT current_schema()", idempotent: true).scalar
            ?? "public"
        let (layout, table) = try StateStore.chooseLayout(connection: connection, schema: schema, table: configuration.table,
                                                          preference: configuration.layout, implied: configuration.effectiveLayout)
        return StateStore(connection: connection, options: StoreOptions(
            schema: schema, layout: layout, table: table, lockTimeout: configuration.lockTimeout,
            staleLockAfter: configuration.staleLockAfter, readOnly: configuration.readOnly,
            journal: Journal(path: configuration.journalPath)))
    }

    /// Progress of long operations on stderr, one line rewritten in place on a terminal.
    var progressPrinter: ((String, Int, Int) -> Void)? {
        guard !global.quiet, isatty(STDERR_FILENO) == 1 else { return nil }
        return { phase, done, total in
            FileHandle.standardError.write(Data("\r\(phase) \(done)/\(total)\u{1B}[K".utf8))
            if done == total { FileHandle.standardError.write(Data("\n".utf8)) }
        }
    }

    /// Runs a write with Ctrl-C (and SIGTERM) turned into a cancellation the store
    /// honours at its next safe point: a lock wait stops, a running statement is
    /// cancelled (and so rolled back), our lock is released, and the command exits
    /// with 130. A second signal exits at once (a server that does not answer the
    /// cancel request must not keep the user hostage), naming any lock left behind.
    func withInterruptHandler<T>(_ body: () throws -> T) throws -> T {
        let store = self.store
        let quiet = global.quiet
        let count = InterruptCount()
        // A signal ignored when we started (`nohup`, a background job of a script) stays
        // ignored, as shells and Python do.
        let handled = [SIGINT, SIGTERM].filter { !isIgnored($0) }
        let sources = handled.map { signalNumber -> DispatchSourceSignal in
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler {
                // Signals that arrive together are coalesced into one event: count them.
                if count.add(max(1, Int(source.data))) >= 2 {
                    var text = "meltano-state: interrupted again: exiting now, without waiting for the database."
                    if let held = store.heldLocksSummary { text += " Warning: " + held + "." }
                    writeToStandardError(terminalSafe(text) + "\n")
                    _exit(Exit.interrupted)
                }
                store.cancellation.cancel()
                if !quiet {
                    writeToStandardError("meltano-state: interrupted: stopping safely (press Ctrl-C again to exit at once)…\n")
                }
                // PQcancel opens a connection of its own; off this queue, so a stalled
                // network cannot delay the handling of a second signal.
                Thread.detachNewThread { store.connection.cancel() }
            }
            source.resume()
            return source
        }
        defer {
            for source in sources { source.cancel() }
            for signalNumber in handled { signal(signalNumber, SIG_DFL) }
        }
        return try body()
    }
}

/// Signals received while a write runs; read and written from signal handlers' queue.
final class InterruptCount: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func add(_ n: Int) -> Int { lock.lock(); defer { lock.unlock() }; value += n; return value }
}

/// Whether a signal's disposition is SIG_IGN.
func isIgnored(_ signalNumber: Int32) -> Bool {
    var current = sigaction()
    guard sigaction(signalNumber, nil, &current) == 0 else { return false }
    return unsafeBitCast(current.__sigaction_handler.sa_handler, to: Int.self) == unsafeBitCast(SIG_IGN, to: Int.self)
}

/// Straight to file descriptor 2, unbuffered: usable just before `_exit`.
func writeToStandardError(_ text: String) {
    var bytes = Array(text.utf8)
    var offset = 0
    while offset < bytes.count {
        let n = bytes.withUnsafeMutableBytes { write(STDERR_FILENO, $0.baseAddress! + offset, $0.count - offset) }
        if n <= 0 { break }
        offset += n
    }
}
