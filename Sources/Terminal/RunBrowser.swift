import CNCurses
import Foundation
import StateBrowser
import StateConfig
import StateStore

/// How the CLI starts the browser.
public struct BrowserOptions: Sendable {
    /// Hide and refuse every write.
    public var readOnly: Bool
    /// Seconds between lock refreshes (default 2).
    public var refreshInterval: Double
    /// Shown in the release dialog; the store decides which locks are stale (default
    /// `OwnSettings.defaultStaleLockAfter`, Meltano's 5 min).
    public var staleLockAfter: Double
    public var colorMode: ColorMode
    /// The editor command for `e` (`$VISUAL`, else `$EDITOR`, else `vi`).
    public var editor: String
    /// The editor's environment, without the database's passwords: the caller decides
    /// it (`ResolvedConfiguration.environmentWithoutSecrets`), as the CLI's `edit` does.
    public var editorEnvironment: [String: String]
    /// For tests and benchmarks: draw once with the first page, the first state and
    /// the locks loaded, print the timing to standard error, exit 0.
    public var exitAfterFirstPaint: Bool
    /// Header: user@host:port/database (never a password), schema, layout name.
    public var location: String
    public var schema: String
    public var layout: String
    /// IDs per page.
    public var pageSize: Int
    /// The context it runs in, and the contexts the picker (`:`) offers.
    public var context: ContextChoice?
    public var contexts: [ContextChoice] = []
    /// Opens a store in another context, for `D` (on a background thread; never prompts).
    public var openContextStore: (@Sendable (String) throws -> StateStore)?

    public init(readOnly: Bool = false, refreshInterval: Double = OwnSettings.defaultRefreshInterval,
                staleLockAfter: Double = OwnSettings.defaultStaleLockAfter,
                colorMode: ColorMode = .auto, editor: String? = nil, editorEnvironment: [String: String],
                exitAfterFirstPaint: Bool = false,
                location: String, schema: String, layout: String, pageSize: Int = 200,
                environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.readOnly = readOnly
        self.refreshInterval = refreshInterval
        self.staleLockAfter = staleLockAfter
        self.colorMode = colorMode
        self.editor = editor ?? [environment["VISUAL"], environment["EDITOR"]].compactMap { $0 }.first { !$0.isEmpty } ?? "vi"
        self.editorEnvironment = editorEnvironment
        self.exitAfterFirstPaint = exitAfterFirstPaint
        self.location = location
        self.schema = schema
        self.layout = layout
        self.pageSize = pageSize
    }
}

/// The most memory this process has had resident (VmHWM), where /proc says.
func peakResidentBytes() -> Int? {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        let fields = line.split(separator: " ", omittingEmptySubsequences: true)
        if fields.count >= 2, let kilobytes = Int(fields[1]) { return kilobytes * 1024 }
    }
    return nil
}

/// Set from signal handlers (SIGTERM, SIGHUP, SIGINT when it arrives as a signal):
/// the loop sees it, restores the terminal and leaves.
nonisolated(unsafe) private var pendingSignal: Int32 = 0
nonisolated(unsafe) private var wakeDescriptor: Int32 = -1

/// Runs the browser until `q` (or a signal); returns the exit code. The terminal is
/// restored on every way out: `q`, Ctrl-C, SIGTERM, SIGHUP, and errors.
///
/// `makeStore` is called on background threads, once per worker (reads, lock
/// refresh, writes) and again to reconnect; it must not prompt.
public func runBrowser(makeStore: @escaping @Sendable () throws -> StateStore, options: BrowserOptions) throws -> Int32 {
    try runBrowserSession(makeStore: makeStore, options: options).code
}

/// `runBrowser`, also saying which context the user picked to switch to (`:`): the
/// caller opens the browser again there.
public func runBrowserSession(makeStore: @escaping @Sendable () throws -> StateStore,
                              options: BrowserOptions) throws -> (code: Int32, switchTo: String?) {
    let started = Date()
    let environment = ProcessInfo.processInfo.environment
    let timing = TimingLog(environment: environment, started: started)  // MELTANO_STATE_TIMING_LOG, for scripts/bench
    let terminal: CursesTerminal
    do {
        terminal = try CursesTerminal(colorMode: options.colorMode, environment: environment)
    } catch let error as TerminalUnavailable {
        FileHandle.standardError.write(Data(("meltano-state: " + error.description + "\n").utf8))
        return (1, nil)
    }
    defer { terminal.end() }

    // A self-pipe: background results and signals wake the loop's poll().
    var pipeEnds: [Int32] = [0, 0]
    guard pipe(&pipeEnds) == 0 else { throw TerminalUnavailable(description: "could not create a pipe") }
    defer { close(pipeEnds[0]); close(pipeEnds[1]) }
    for end in pipeEnds { _ = fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK) }
    wakeDescriptor = pipeEnds[1]
    let writeEnd = pipeEnds[1]
    let handler: @convention(c) (Int32) -> Void = { signal in
        pendingSignal = signal
        var byte: UInt8 = 1
        _ = write(wakeDescriptor, &byte, 1)
    }
    let previousHandlers = [SIGTERM, SIGHUP, SIGINT, SIGQUIT].map { ($0, signal($0, handler)) }
    // A crash cannot be cleaned up properly, but the terminal can still be put back
    // (best effort: endwin is not async-signal-safe) before the default action runs.
    let crash: @convention(c) (Int32) -> Void = { signal in
        endwin()
        _ = Glibc.signal(signal, SIG_DFL)
        raise(signal)
    }
    let previousCrashHandlers = [SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGABRT, SIGFPE].map { ($0, signal($0, crash)) }
    defer {
        for (number, previous) in previousHandlers + previousCrashHandlers { signal(number, previous) }
    }

    var settings = BrowserSettings(location: options.location, schema: options.schema, layout: options.layout,
                                   readOnly: options.readOnly, refreshInterval: options.refreshInterval,
                                   staleLockAfter: options.staleLockAfter, pageSize: options.pageSize)
    settings.context = options.context
    settings.contexts = options.contexts
    let host = BrowserHost(
        openEditor: { session in
            terminal.suspend()
            let (text, problem) = Editor.edit(session.text, command: options.editor, environment: options.editorEnvironment,
                                              stateID: session.stateID)
            terminal.resume()
            return .editorFinished(session, text: text, problem: problem)
        },
        copyToClipboard: { text, description in
            .clipboardWritten(description: description, problem: Clipboard.copy(text, environment: environment))
        })
    let program = BrowserProgram(settings: settings, size: terminal.size, makeStore: makeStore, host: host, wake: {
        var byte: UInt8 = 1
        _ = write(writeEnd, &byte, 1)
    }, openContextStore: options.openContextStore)
    defer { program.stop() }

    var lastTick = Date()
    var firstPaint: Date?
    var gaveUp = false
    terminal.draw(view(program.model))
    while true {
        if pendingSignal != 0 || program.quitRequested { break }
        var fds = [pollfd(fd: 0, events: Int16(POLLIN), revents: 0), pollfd(fd: pipeEnds[0], events: Int16(POLLIN), revents: 0)]
        _ = poll(&fds, 2, 250)
        let frameStart = Date()
        var keysRead = 0
        var drain = [UInt8](repeating: 0, count: 256)
        while read(pipeEnds[0], &drain, drain.count) > 0 {}
        while let input = terminal.read() {
            switch input {
            case let .key(key):
                if key == .control("z") {
                    terminal.suspend()
                    raise(SIGTSTP)
                    terminal.resume()
                    continue
                }
                timing?.key(key)
                keysRead += 1
                program.send(.key(key))
            case let .resize(size):
                program.send(.resize(size))
            }
        }
        let processed = program.processPending()
        if Date().timeIntervalSince(lastTick) >= 1 {
            lastTick = Date()
            program.send(.tick(lastTick.timeIntervalSince1970))
        }
        if program.quitRequested { break }
        terminal.draw(view(program.model))
        if let timing {
            if keysRead > 0 || processed {
                timing.frame(milliseconds: Date().timeIntervalSince(frameStart) * 1000, keys: keysRead, messages: processed)
            }
            timing.painted(program.model)
        }
        if options.exitAfterFirstPaint, firstPaint == nil {
            if program.model.initialLoadComplete {
                firstPaint = Date()
                break
            }
            if Date().timeIntervalSince(started) > 30 {
                gaveUp = true
                break
            }
        }
    }
    terminal.end()
    if let firstPaint {
        let model = program.model
        let milliseconds = Int(firstPaint.timeIntervalSince(started) * 1000)
        let peak = peakResidentBytes().map { ", peak RSS \(($0 + (1 << 19)) >> 20) MB" } ?? ""
        FileHandle.standardError.write(Data("meltano-state: first paint with data after \(milliseconds) ms (\(model.list.rows.count) IDs loaded of \(model.list.total.map(String.init) ?? "?"), \(model.locks.rows.count) locks, \(model.size.width)x\(model.size.height)\(peak))\n".utf8))
    }
    if gaveUp {
        let status = program.model.status?.text ?? program.model.list.error ?? "\(program.model.connection)"
        FileHandle.standardError.write(Data("meltano-state: no data within 30 s; \(status)\n".utf8))
        return (1, nil)
    }
    if pendingSignal != 0 {
        // The conventional status of a process ended by a signal.
        return (128 + pendingSignal, nil)
    }
    return (0, program.switchRequested)
}
