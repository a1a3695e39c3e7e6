import CSpawn
import Foundation

/// How a child process ended.
public struct Termination: Equatable, Sendable, CustomStringConvertible {
    /// The exit status, when it exited.
    public var exitStatus: Int32?
    /// The signal that ended it, when one did.
    public var signal: Int32?

    /// What a shell would report: the exit status, or 128 + the signal.
    public var code: Int32 { exitStatus ?? 128 + (signal ?? 0) }

    public var description: String {
        if let exitStatus { return "exit status \(exitStatus)" }
        return "signal \(signal ?? 0)"
    }

    public init(exitStatus: Int32? = nil, signal: Int32? = nil) {
        self.exitStatus = exitStatus
        self.signal = signal
    }

    init(waitStatus status: Int32) {
        if status & 0x7F == 0 {
            exitStatus = (status >> 8) & 0xFF
        } else {
            signal = status & 0x7F
        }
    }
}

/// The child could not be started.
public struct SpawnFailure: Error, CustomStringConvertible {
    public let executable: String
    public let code: Int32
    public var description: String { "cannot run \(executable): \(String(cString: strerror(code)))" }
}

/// A child process started with `posix_spawn`, waited for with `waitpid`.
///
/// Foundation's `Process` is not used anywhere in this project because on Linux it
/// learns of a child's exit through a socket the child inherits, so a daemon the
/// child leaves behind (tmux's server, an editor's server, `pg_ctl`'s postmaster)
/// makes `waitUntilExit()` wait for the daemon; and it puts every child in a process
/// group of its own, where an editor cannot read the terminal. Here the child gets
/// exactly descriptors 0, 1 and 2, an empty signal mask and default signal actions.
public final class ChildProcess: @unchecked Sendable {
    /// Where one of the child's standard streams goes.
    public enum Stream {
        /// The parent's own descriptor.
        case inherit
        /// `/dev/null`.
        case null
        /// A new pipe; the parent's end is in `standardInput`/`standardOutput`/`standardError`.
        case pipe
        /// A descriptor of the parent's (left open; the caller closes it).
        case descriptor(Int32)
    }

    public let pid: pid_t
    /// The parent's ends of the pipes asked for (close-on-exec; closed by `close()`,
    /// by `communicate` or when the value is released).
    public private(set) var standardInput: Int32?
    public private(set) var standardOutput: Int32?
    public private(set) var standardError: Int32?
    public let inNewProcessGroup: Bool

    private let lock = NSLock()
    private var termination: Termination?

    public init(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
                currentDirectory: String? = nil, standardInput: Stream = .inherit, standardOutput: Stream = .inherit,
                standardError: Stream = .inherit, newProcessGroup: Bool = false) throws {
        var parentEnds: [Int32?] = [nil, nil, nil]
        var childEnds: [Int32] = [-1, -1, -1]
        var toClose: [Int32] = []
        defer { for fd in toClose { Glibc.close(fd) } }
        func fail(_ code: Int32) -> SpawnFailure {
            for case let fd? in parentEnds { Glibc.close(fd) }
            return SpawnFailure(executable: executable, code: code)
        }
        for (index, stream) in [standardInput, standardOutput, standardError].enumerated() {
            switch stream {
            case .inherit:
                break
            case .null:
                let fd = open("/dev/null", O_RDWR | O_CLOEXEC)
                guard fd >= 0 else { throw fail(errno) }
                childEnds[index] = fd
                toClose.append(fd)
            case .pipe:
                var ends: [Int32] = [-1, -1]
                guard cspawn_pipe(&ends) == 0 else { throw fail(errno) }
                let (childEnd, parentEnd) = index == 0 ? (ends[0], ends[1]) : (ends[1], ends[0])
                childEnds[index] = childEnd
                toClose.append(childEnd)
                parentEnds[index] = parentEnd
            case let .descriptor(fd):
                childEnds[index] = fd
            }
        }

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { $0.map { strdup("\($0.key)=\($0.value)") } + [nil] }
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp ?? [] { free(pointer) }
        }
        var newPID: pid_t = 0
        let result = argv.withUnsafeBufferPointer { argvBuffer in
            executable.withCString { path in
                withOptionalCString(currentDirectory) { cwd in
                    func spawn(_ envpPointer: UnsafePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
                        var options = cspawn_options(
                            path: path, argv: argvBuffer.baseAddress, envp: envpPointer, cwd: cwd,
                            stdin_fd: childEnds[0], stdout_fd: childEnds[1], stderr_fd: childEnds[2],
                            search_path: executable.contains("/") ? 0 : 1, new_process_group: newProcessGroup ? 1 : 0)
                        return cspawn(&options, &newPID)
                    }
                    if let envp { return envp.withUnsafeBufferPointer { spawn($0.baseAddress) } }
                    return spawn(nil)
                }
            }
        }
        guard result == 0 else { throw fail(result) }
        pid = newPID
        inNewProcessGroup = newProcessGroup
        self.standardInput = parentEnds[0]
        self.standardOutput = parentEnds[1]
        self.standardError = parentEnds[2]
    }

    deinit {
        close()
    }

    /// Closes the parent's pipe ends that are still open.
    public func close() {
        lock.lock(); defer { lock.unlock() }
        for fd in [standardInput, standardOutput, standardError] { if let fd { Glibc.close(fd) } }
        standardInput = nil; standardOutput = nil; standardError = nil
    }

    /// Closes the child's standard input (it reads end of file).
    public func closeStandardInput() {
        lock.lock(); defer { lock.unlock() }
        if let fd = standardInput { Glibc.close(fd) }
        standardInput = nil
    }

    /// Sends a signal to the child (and to its group, when it leads one and `group`).
    public func signal(_ number: Int32, group: Bool = false) {
        // Under the lock, so the child cannot be reaped (and its pid reused) in between.
        lock.lock(); defer { lock.unlock() }
        guard termination == nil else { return }
        _ = kill(group && inNewProcessGroup ? -pid : pid, number)
    }

    /// Whether the child has ended (reaping it if so).
    public var isRunning: Bool { poll() == nil }

    /// The termination, if the child has ended; never blocks.
    public func poll() -> Termination? {
        lock.lock(); defer { lock.unlock() }
        if let termination { return termination }
        var status: Int32 = 0
        let result = waitpid(pid, &status, WNOHANG)
        if result == pid {
            termination = Termination(waitStatus: status)
        }
        return termination
    }

    /// Waits for the child to end.
    @discardableResult
    public func wait() -> Termination {
        if let done = poll() { return done }
        var status: Int32 = 0
        var result: pid_t
        repeat { result = waitpid(pid, &status, 0) } while result == -1 && errno == EINTR
        lock.lock(); defer { lock.unlock() }
        if termination == nil {
            // ECHILD: someone else reaped it; nothing better to report than a failure.
            termination = result == pid ? Termination(waitStatus: status) : Termination(waitStatus: 0xFF << 8)
        }
        return termination!
    }

    /// Waits up to `timeout` seconds; nil if the child still runs.
    public func wait(timeout: Double) -> Termination? {
        let deadline = Date().addingTimeInterval(timeout)
        var pause = 0.001
        while true {
            if let done = poll() { return done }
            if Date() >= deadline { return nil }
            Thread.sleep(forTimeInterval: pause)
            pause = min(pause * 2, 0.02)
        }
    }

    /// What a child wrote, and how it ended.
    public struct Output: Sendable {
        /// nil when the child was killed for running past the timeout.
        public var termination: Termination?
        public var standardOutput: [UInt8]
        public var standardError: [UInt8]
        public var timedOut: Bool { termination == nil }
    }

    /// Feeds `input` to the child's standard input (then closes it), collects its
    /// standard output and error, and waits for it to end. Past `timeout` the child
    /// (and its group, if it leads one) is killed and the output so far returned with
    /// no termination. A grandchild that keeps an output pipe open after the child
    /// ends is given `lingering` seconds before the pipes are abandoned. Feeding input
    /// sets SIGPIPE to be ignored in this process, so that a child that exits without
    /// reading it all cannot end the caller.
    public func communicate(input: [UInt8]? = nil, timeout: Double? = nil, lingering: Double = 2) -> Output {
        let deadline = timeout.map { Date().addingTimeInterval($0) }
        var out: [UInt8] = [], err: [UInt8] = []
        lock.lock()
        var inputFD = standardInput, outFD = standardOutput, errFD = standardError
        standardInput = nil; standardOutput = nil; standardError = nil
        lock.unlock()
        defer { for fd in [inputFD, outFD, errFD] { if let fd { Glibc.close(fd) } } }
        if let fd = inputFD, input == nil || input!.isEmpty { Glibc.close(fd); inputFD = nil }
        if let fd = inputFD {
            // A child that exits before reading all its input must not kill us with SIGPIPE.
            Glibc.signal(SIGPIPE, SIG_IGN)
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        }
        var written = 0
        var endedAt: Date?
        var killed = false
        var buffer = [UInt8](repeating: 0, count: 65536)
        while inputFD != nil || outFD != nil || errFD != nil || poll() == nil {
            if endedAt == nil, poll() != nil { endedAt = Date() }
            if let endedAt, Date().timeIntervalSince(endedAt) > lingering { break }
            if let deadline, Date() >= deadline, !killed {
                signal(SIGKILL, group: true)
                killed = true
                wait()
                break
            }
            var fds: [pollfd] = []
            if let fd = inputFD { fds.append(pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)) }
            if let fd = outFD { fds.append(pollfd(fd: fd, events: Int16(POLLIN), revents: 0)) }
            if let fd = errFD { fds.append(pollfd(fd: fd, events: Int16(POLLIN), revents: 0)) }
            if fds.isEmpty {
                // Only the exit is left to wait for.
                Thread.sleep(forTimeInterval: 0.005)
                continue
            }
            let ready = Glibc.poll(&fds, nfds_t(fds.count), 20)
            if ready <= 0 { continue }
            for entry in fds where entry.revents != 0 {
                if entry.fd == inputFD, let data = input {
                    let n = data[written...].withUnsafeBytes { Glibc.write(entry.fd, $0.baseAddress, $0.count) }
                    if n > 0 { written += n }
                    if (n < 0 && errno != EAGAIN && errno != EINTR) || written == data.count {
                        Glibc.close(entry.fd)
                        inputFD = nil
                    }
                } else {
                    let n = buffer.withUnsafeMutableBytes { Glibc.read(entry.fd, $0.baseAddress, $0.count) }
                    if n > 0 {
                        if entry.fd == outFD { out += buffer[..<n] } else { err += buffer[..<n] }
                    } else if n == 0 || (errno != EAGAIN && errno != EINTR) {
                        Glibc.close(entry.fd)
                        if entry.fd == outFD { outFD = nil } else { errFD = nil }
                    }
                }
            }
        }
        return Output(termination: killed ? nil : wait(), standardOutput: out, standardError: err)
    }

    /// Runs a program to completion, feeding it `input` and collecting what it writes.
    public static func run(_ executable: String, _ arguments: [String], input: [UInt8]? = nil,
                           environment: [String: String]? = nil, currentDirectory: String? = nil,
                           timeout: Double? = nil) throws -> Output {
        let child = try ChildProcess(executable, arguments, environment: environment, currentDirectory: currentDirectory,
                                     standardInput: .pipe, standardOutput: .pipe, standardError: .pipe,
                                     newProcessGroup: timeout != nil)
        return child.communicate(input: input, timeout: timeout)
    }

    /// Runs `command` through `/bin/sh` on the user's terminal, as `system()` does: in
    /// the foreground process group (so an editor can read the terminal), with SIGINT
    /// and SIGQUIT ignored by this process meanwhile (Ctrl-C belongs to the editor, and
    /// must not end the program that waits for it). `arguments` become "$1", "$2"….
    /// `commandName` is the shell's `$0`, which prefixes its own error messages.
    public static func runInForeground(shellCommand command: String, arguments: [String] = [], commandName: String = "sh",
                                       environment: [String: String]? = nil) throws -> Termination {
        var ignore = sigaction()
        ignore.__sigaction_handler.sa_handler = SIG_IGN
        sigemptyset(&ignore.sa_mask)
        var previousInterrupt = sigaction(), previousQuit = sigaction()
        sigaction(SIGINT, &ignore, &previousInterrupt)
        sigaction(SIGQUIT, &ignore, &previousQuit)
        defer {
            sigaction(SIGINT, &previousInterrupt, nil)
            sigaction(SIGQUIT, &previousQuit, nil)
        }
        let child = try ChildProcess("/bin/sh", ["-c", command, commandName] + arguments, environment: environment)
        return child.wait()
    }
}

private func withOptionalCString<R>(_ string: String?, _ body: (UnsafePointer<CChar>?) -> R) -> R {
    guard let string else { return body(nil) }
    return string.withCString { body($0) }
}

/// The shell command that runs an editor setting (`vim`, `code --wait`, `emacsclient -t`)
/// on the file "$1". A plain command is `exec`ed, so that no shell stays between us
/// and the editor: a shell waiting for it would die of the Ctrl-C that the editor
/// handles (ed, or any editor in line mode) and make us resume while it still runs.
/// A setting with shell syntax in it is run as written.
public func editorCommandLine(_ editor: String) -> String {
    let syntax = editor.contains { ";&|<>()`$\n\\".contains($0) }
    let firstWord = editor.split(separator: " ", maxSplits: 1).first ?? ""
    return (syntax || firstWord.contains("=") ? "" : "exec ") + editor + " \"$1\""
}
