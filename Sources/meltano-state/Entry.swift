import ArgumentParser
import Foundation
import Postgres
import StateConfig
import StateStore

/// Exit codes, documented in `--help` and the README so scripts can branch on them.
enum Exit {
    static let success: Int32 = 0
    static let failure: Int32 = 1
    static let usage: Int32 = 2
    static let lockHeld: Int32 = 3
    static let notFound: Int32 = 4
    static let interrupted: Int32 = 130
}

/// Raised by commands to stop with a message and an exit code (the message goes to
/// stderr as one line; data never does).
struct CommandFailure: Error {
    var message: String
    var code: Int32
    init(_ message: String, code: Int32 = Exit.failure) {
        self.message = message
        self.code = code
    }
}

@main
enum Entry {
    static func main() {
        // First: before anything opens a file, fds 0-2 must not be free numbers.
        ensureStandardDescriptorsOpen()
        // A file-size limit (ulimit -f) hit while appending to the journal must be an
        // error that releases Meltano's lock, not a SIGXFSZ that kills us holding it.
        signal(SIGXFSZ, SIG_IGN)
        var arguments = Array(CommandLine.arguments.dropFirst())
        // No arguments on a terminal opens the browser, as k9s and lazygit do.
        if arguments.isEmpty && isatty(STDIN_FILENO) == 1 && isatty(STDOUT_FILENO) == 1 { arguments = ["tui"] }
        arguments = movingGlobalOptionsAfterVerb(arguments)
        let code: Int32
        do {
            try requireUTF8Arguments()
            var command = try MeltanoState.parseAsRoot(arguments)
            try command.run()
            code = Exit.success
        } catch {
            code = report(error)
        }
        exit(code)
    }

    /// Prints what went wrong (nothing for an `ExitCode`) and returns the exit code.
    static func report(_ error: Error) -> Int32 {
        let code: Int32
        switch error {
        case let failure as CommandFailure:
            printError(failure.message)
            code = failure.code
        case let error as StoreError:
            printError(error.description)
            code = exitCode(for: error)
        case let error as PostgresError:
            printError(error.description)
            code = Exit.failure
        case let error as ConfigurationError:
            // A setting's value is bad input, wherever it was set (flag, env, meltano.yml).
            printError(error.description)
            code = Exit.usage
        case let error as ExitCode:
            code = error.rawValue
        default:
            let exit = MeltanoState.exitCode(for: error)
            let message = MeltanoState.fullMessage(for: error)
            if exit == .success {
                if !message.isEmpty { writeOut(message + "\n") }
                code = Exit.success
            } else {
                if !message.isEmpty { printError(message) }
                // ArgumentParser says 64 for usage errors; Meltano (click) says 2.
                code = exit == .validationFailure ? Exit.usage : exit.rawValue
            }
        }
        return code
    }

    /// `meltano-state --read-only --schema x get ID` reads as `get --read-only --schema x ID`:
    /// people put connection options first, as with psql.
    static func movingGlobalOptionsAfterVerb(_ arguments: [String]) -> [String] {
        let verbs = Set(MeltanoState.configuration.subcommands.map { $0._commandName })
        let valueless: Set<String> = ["--read-only", "--writable", "--quiet", "-q"]
        var index = 0
        while index < arguments.count, arguments[index].hasPrefix("-"), arguments[index] != "--" {
            let option = arguments[index]
            if option == "--help" || option == "-h" || option == "--version" { return arguments }
            index += (valueless.contains(option) || option.contains("=")) ? 1 : 2
        }
        // Options alone (`meltano-state --context prod`) are the browser's, as no
        // arguments at all are: it says what it needs when there is no terminal.
        if index > 0, index == arguments.count { return ["tui"] + arguments }
        guard index > 0, index < arguments.count, verbs.contains(arguments[index]) else { return arguments }
        return [arguments[index]] + arguments[..<index] + arguments[(index + 1)...]
    }

    static func exitCode(for error: StoreError) -> Int32 {
        switch error {
        case .lockHeld, .locksHeld: return Exit.lockHeld
        case .notFound: return Exit.notFound
        case .cancelled: return Exit.interrupted
        case .invalidStateID: return Exit.usage
        default: return Exit.failure
        }
    }
}

/// One message on stderr, prefixed like psql's, every line of it. Messages quote
/// state IDs and stored text: control characters are shown escaped, never sent.
func printError(_ message: String) {
    var text = terminalSafe(message)
    if !text.hasPrefix("meltano-state:") { text = "meltano-state: " + text }
    if !text.hasSuffix("\n") { text += "\n" }
    writeStandardError(text)
}

func printNote(_ message: String, quiet: Bool = false) {
    guard !quiet else { return }
    writeStandardError(terminalSafe(message) + "\n")
}

/// Data goes to stdout, written in one piece (large exports included).
func writeOut(_ text: String) {
    var text = text
    text.withUTF8 { writeStandardOutput(UnsafeRawBufferPointer($0)) }
}
