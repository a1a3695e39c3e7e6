import Foundation
import StateJSON

// The one home of this process's standard streams and input files: every write to
// stdout and stderr and every read of stdin or an input file goes through here, as
// POSIX calls whose errors are reported (Foundation's `FileHandle.write` is a `try!`
// that crashes on ENOSPC or EBADF; `FileManager.contents` says nothing of why).

/// Makes sure fds 0, 1 and 2 are open, before anything else opens a file. A closed one
/// would be the number the next `open` or `socket` gets: libpq's connection would become
/// "stdout", and our output would be written into the database connection. A closed one
/// is opened on /dev/null, as daemons and sudo do: output to a closed stdout is thrown
/// away (there is nobody to tell), a closed stdin reads as empty (and an input read from
/// it is refused as empty, with the usual message).
func ensureStandardDescriptorsOpen() {
    for fd in [STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO] where fcntl(fd, F_GETFD) == -1 && errno == EBADF {
        // open returns the lowest free number, which is this one: the lower ones are open.
        let opened = open("/dev/null", O_RDWR)
        if opened != fd {
            // No /dev/null (a broken chroot): refuse rather than talk to the database on fd 1.
            if opened >= 0 { close(opened) }
            _exit(Exit.failure)
        }
    }
}

/// Writes all of `bytes` to `fd`; nil when done, else the errno that stopped it.
private func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Int32? {
    guard var next = bytes.baseAddress else { return nil }
    var left = bytes.count
    while left > 0 {
        let written = write(fd, next, left)
        if written >= 0 {
            next += written
            left -= written
        } else if errno != EINTR {
            return errno
        }
    }
    return nil
}

/// Bytes to stdout: every write to stdout ends here. A failed write ends the process,
/// as a closed pipe always has: a reader that went away (EPIPE) is SIGPIPE's quiet
/// exit (141 in a shell), any other error (a full disk, a bad descriptor) one line
/// on stderr and exit 1. Output is written after a command's database writes, and the
/// connection (and any lock of its session) closes with the process.
func writeStandardOutput(_ bytes: UnsafeRawBufferPointer) {
    guard let error = writeAll(STDOUT_FILENO, bytes) else { return }
    if error == EPIPE {
        // SIGPIPE may be ignored (inherited, or by ChildProcess): end as it would have.
        signal(SIGPIPE, SIG_DFL)
        var pipe = sigset_t()
        sigemptyset(&pipe)
        sigaddset(&pipe, SIGPIPE)
        sigprocmask(SIG_UNBLOCK, &pipe, nil)
        raise(SIGPIPE)
        _exit(128 + SIGPIPE)
    }
    printError("cannot write the output: \(String(cString: strerror(error))).")
    exit(Exit.failure)
}

/// Text to stderr. Errors are ignored: there is nowhere left to report them.
func writeStandardError(_ text: String) {
    var text = text
    text.withUTF8 { _ = writeAll(STDERR_FILENO, UnsafeRawBufferPointer($0)) }
}

/// Everything `fd` holds up to its end; `size` is a hint (a regular file's length).
private func readAll(_ fd: Int32, size: Int = 0) -> Result<[UInt8], IOFailure> {
    var bytes = [UInt8](repeating: 0, count: max(size + 1, 1 << 16))
    var count = 0
    while true {
        if count == bytes.count { bytes.append(contentsOf: repeatElement(0, count: bytes.count)) }
        let got = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + count, $0.count - count) }
        if got > 0 {
            count += got
        } else if got == 0 {
            break
        } else if errno != EINTR {
            return .failure(IOFailure(errno))
        }
    }
    bytes.removeSubrange(count...)
    return .success(bytes)
}

struct IOFailure: Error {
    var code: Int32
    init(_ code: Int32) { self.code = code }
    var text: String { String(cString: strerror(code)) }
}

/// An input file's bytes (`-` is stdin; pipes, FIFOs and devices such as /dev/stdin
/// or `<(…)` are read as stdin is), refused unless they are UTF-8: Meltano (Python)
/// decodes input strictly, and text repaired with U+FFFD would be stored as if it
/// were what the file said. Bad input is a usage error (exit 2) naming the problem.
func readInputFile(_ path: String) throws -> [UInt8] {
    let name = path == "-" ? "stdin" : path
    let bytes: [UInt8]
    if path == "-" {
        switch readAll(STDIN_FILENO) {
        case let .success(read): bytes = read
        case let .failure(error):
            throw CommandFailure("Cannot read stdin: \(error.text). Give the input on stdin, or as a file with --input-file.", code: Exit.usage)
        }
    } else {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw CommandFailure("Cannot read \(path): \(IOFailure(errno).text).", code: Exit.usage)
        }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0 else { throw CommandFailure("Cannot read \(path): \(IOFailure(errno).text).", code: Exit.usage) }
        if status.st_mode & mode_t(S_IFMT) == mode_t(S_IFDIR) {
            throw CommandFailure("Cannot read \(path): it is a directory. Give the path of a JSON file.", code: Exit.usage)
        }
        let size = status.st_mode & mode_t(S_IFMT) == mode_t(S_IFREG) ? Int(status.st_size) : 0
        switch readAll(fd, size: size) {
        case let .success(read): bytes = read
        case let .failure(error): throw CommandFailure("Cannot read \(path): \(error.text).", code: Exit.usage)
        }
    }
    // A closed stdin reads as /dev/null (ensureStandardDescriptorsOpen): say so plainly,
    // not as a JSON error at line 1 column 1.
    if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) {
        throw CommandFailure("\(name) is empty (\(path == "-" ? "closed, or nothing was sent to it" : "no JSON in it")): give the state as JSON, e.g. '{\"singer_state\": {\"bookmarks\": {}}}'.", code: Exit.usage)
    }
    try requireUTF8(bytes, name: name)
    return bytes
}

/// Refuses bytes that are not UTF-8, naming where they stop being UTF-8.
func requireUTF8(_ bytes: [UInt8], name: String) throws {
    guard let error = bytes.withUnsafeBytes({ JSONParser.invalidUTF8Error($0) }) else { return }
    throw CommandFailure("\(name) is not UTF-8: \(error.message) at byte offset \(error.offset) (line \(error.line) column \(error.column)); nothing was written. Meltano reads state as UTF-8: convert it first (e.g. iconv -f latin1 -t utf-8).", code: Exit.usage)
}

/// Refuses command-line arguments that are not UTF-8 (a state ID of bytes Meltano could
/// not store): `CommandLine.arguments` has already replaced such bytes with U+FFFD, so
/// the raw argv is checked, here, once for every command.
func requireUTF8Arguments() throws {
    for index in stride(from: 1, to: Int(CommandLine.argc), by: 1) {
        guard let argument = CommandLine.unsafeArgv[index] else { continue }
        let bytes = UnsafeRawBufferPointer(start: argument, count: strlen(argument))
        if let error = JSONParser.invalidUTF8Error(bytes) {
            throw CommandFailure("Argument \(index) ('\(String(decoding: bytes, as: UTF8.self))') is not UTF-8: \(error.message) at byte offset \(error.offset). State IDs and JSON are UTF-8 text, as Meltano stores them: give the argument in UTF-8.", code: Exit.usage)
        }
    }
}
