import Foundation
import StateConfig
import StateStore

/// What a command works with: the resolved configuration and, when it needs the
/// database, a connected store in the right layout.
final class Context {
    let configuration: ResolvedConfiguration
    let global: GlobalOptions
    private var openedStore: StateStore?

    /// `contextName` (a context of the config file) overrides `--context`; `layout`
    /// overrides `--layout` (sync's `--layout-from`, `--layout-to`).
    init(_ global: GlobalOptions, connect: Bool = true, contextName: String? = nil, layout: String? = nil,
         contextSource: String? = nil) throws {
        self.global = global
        configuration = try ConfigurationResolver.resolve(global.inputs(context: contextName, layout: layout, source: contextSource))
        if !global.quiet {
            for warning in configuration.warnings { printNote("meltano-state: note: \(warning)") }
        }
        if connect {
            var factory = StoreFactory(configuration: configuration)
            openedStore = try factory.open(askingPassword: Context.terminalPassword)
        }
    }

    var store: StateStore { openedStore! }
    var journal: Journal { Journal(path: configuration.journalPath) }
    var editor: String { configuration.editor }

    /// Journal entries without connecting (history works with the database down).
    func history<T>(stateID: String?, limit: Int, _ transform: (JournalEntry) throws -> T?) throws -> [T] {
        try journal.history(stateID: stateID, limit: limit, transform)
    }

    /// The password prompt the store factory gets: on a terminal only, echo off.
    static func terminalPassword(_ prompt: String) -> String? {
        TerminalPassword.isAvailable ? TerminalPassword.read(prompt: prompt) : nil
    }

    /// Progress of long operations on stderr, one line rewritten in place on a terminal.
    var progressPrinter: ((String, Int, Int) -> Void)? {
        guard !global.quiet, isatty(STDERR_FILENO) == 1 else { return nil }
        return { phase, done, total in
            writeStandardError("\r\(phase) \(done)/\(total)\u{1B}[K")
            if done == total { writeStandardError("\n") }
        }
    }

    /// Runs a write with Ctrl-C (and SIGTERM) turned into a cancellation the store
    /// honours at its next safe point: a lock wait stops, a running statement is
    /// cancelled (and so rolled back), our lock is released, and the command exits
    /// with 130. A second signal exits at once (a server that does not answer the
    /// cancel request must not keep the user hostage), naming any lock left behind.
    ///
    /// `also`: other stores the body writes or locks with (sync's source), cancelled and
    /// reported the same way.
    func withInterruptHandler<T>(also others: [StateStore] = [], _ body: () throws -> T) throws -> T {
        let stores = [self.store] + others
        let quiet = global.quiet
        // A signal ignored when we started (`nohup`, a background job of a script) stays
        // ignored, as shells and Python do.
        let handled = [SIGINT, SIGTERM].filter { !isIgnored($0) }
        guard !handled.isEmpty else { return try body() }
        let watch = InterruptWatch(signals: handled) { count in
            if count >= 2 {
                var text = "meltano-state: interrupted again: exiting now, without waiting for the database."
                for held in stores.compactMap(\.heldLocksSummary) { text += " Warning: " + held + "." }
                writeToStandardError(terminalSafe(text) + "\n")
                _exit(Exit.interrupted)
            }
            for store in stores { store.cancellation.cancel() }
            if !quiet {
                writeToStandardError("meltano-state: interrupted: stopping safely (press Ctrl-C again to exit at once)…\n")
            }
            // PQcancel opens a connection of its own; off the watching thread, so a stalled
            // network cannot delay the handling of a second signal.
            Thread.detachNewThread { for store in stores { store.cancelRunningStatement() } }
        }
        defer { watch.stop() }
        return try body()
    }
}

/// The self-pipe a signal handler writes to; -1 when no watch is active.
nonisolated(unsafe) private var interruptPipe: Int32 = -1

/// Turns SIGINT/SIGTERM into calls of `onSignal(count)` on a thread of its own.
///
/// A plain handler (`sigaction`) writes a byte to a pipe that a watching thread reads:
/// this works whatever signal mask the process started with. (A DispatchSource signal
/// source did not: it depends on the signal being blocked in every thread, which held
/// only when a parent had left it blocked, so a second Ctrl-C could be lost.)
final class InterruptWatch: @unchecked Sendable {
    private let signals: [Int32]
    private var previous: [Int32: sigaction] = [:]
    private var previousMask = sigset_t()
    private let readEnd: Int32
    private let writeEnd: Int32
    private let finished = DispatchSemaphore(value: 0)

    init(signals: [Int32], onSignal: @escaping @Sendable (Int) -> Void) {
        self.signals = signals
        var ends: [Int32] = [-1, -1]
        _ = pipe(&ends)
        readEnd = ends[0]
        writeEnd = ends[1]
        for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        interruptPipe = writeEnd
        let readEnd = self.readEnd, finished = self.finished
        Thread.detachNewThread {
            var count = 0
            var byte: UInt8 = 0
            while true {
                let n = read(readEnd, &byte, 1)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 || byte == 0 { break }  // 0: stop() asks the thread to end
                count += 1
                onSignal(count)
            }
            finished.signal()
        }
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in
            var byte: UInt8 = 1
            let saved = errno
            _ = write(interruptPipe, &byte, 1)
            errno = saved
        }
        sigemptyset(&action.sa_mask)
        action.sa_flags = SA_RESTART
        var unblock = sigset_t()
        sigemptyset(&unblock)
        for number in signals {
            var old = sigaction()
            sigaction(number, &action, &old)
            previous[number] = old
            sigaddset(&unblock, number)
        }
        // A parent may have left them blocked; here they must arrive.
        pthread_sigmask(SIG_UNBLOCK, &unblock, &previousMask)
    }

    func stop() {
        for number in signals {
            var old = previous[number]!
            sigaction(number, &old, nil)
        }
        pthread_sigmask(SIG_SETMASK, &previousMask, nil)
        var stopByte: UInt8 = 0
        _ = write(writeEnd, &stopByte, 1)
        finished.wait()
        interruptPipe = -1
        close(writeEnd)
        close(readEnd)
    }
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
