import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension ResolvedConfiguration {
    /// What to tell the user when the server asked for a password (`PostgresError.Kind
    /// .passwordRequired`) and none can be asked for: every place it can be set, highest
    /// precedence first, named for this backend. Never contains a password.
    /// `promptedInVain`: the prompt was shown and got nothing (Enter, or Ctrl-D).
    public func passwordRequiredMessage(promptedInVain: Bool = false) -> String {
        var lines = [hasPassword
            ? "The server asked for a password for \(target), and the configured one was not sent."
            : "The server asked for a password for \(target), and none was configured."]
        let project = meltanoProjectRoot.map { abbreviateHome($0, home: homeDirectory) }
        let uriSource = entry(SettingKey.uri)?.source
        if case let .context(name, _, _)? = uriSource, backend != .systemdb {
            // A context with a uri: takes its connection from the context alone (the
            // environment's state_backend variables do not apply to it).
            lines.append("Context \(name) gives the connection (\(uriSource!.label(home: homeDirectory))); set the password in one of these places:")
            lines.append("  - the context's uri, best as a reference to a variable set in the environment: \(backend == .postgres ? "postgres://USER:${PROD_PASSWORD}@HOST:PORT/DATABASE/SCHEMA" : "postgresql://USER:${PROD_PASSWORD}@HOST:PORT/DATABASE")")
            lines.append("  - the context's password key, e.g. password: ${PROD_PASSWORD}")
        } else {
            switch backend {
            case .postgres, .postgresql:
                let key = passwordKey
                let variable = SettingKey.meltanoEnvVar(key)
                lines.append("Set it in one of these places (the first one set wins):")
                lines.append("  - the environment: \(variable)")
                if let project {
                    lines.append("  - \(project)/.env: \(variable)=…")
                    lines.append("  - \(project)/meltano.yml: \(key), best as a reference such as ${STATE_DB_PASSWORD}")
                }
                lines.append(backend == .postgres
                    ? "  - the URI: postgres://USER:PASSWORD@HOST:PORT/DATABASE/SCHEMA (taken literally, up to the last @)"
                    : "  - the URI: postgresql://USER:PASSWORD@HOST:PORT/DATABASE (percent-encode @ : / ? as %40 %3A %2F %3F)")
                lines.append("  - \(abbreviateHome(configFilePath, home: homeDirectory)): \(key)")
            case .systemdb:
                lines.append("Meltano's system database is configured by database_uri; set the password in one of these places:")
                lines.append("  - database_uri (MELTANO_DATABASE_URI, \(project.map { "\($0)/.env or \($0)/meltano.yml" } ?? ".env or meltano.yml")): postgresql://USER:PASSWORD@HOST:PORT/DATABASE")
            }
        }
        lines.append("  - libpq's own: PGPASSWORD, or a line HOST:PORT:DATABASE:USER:PASSWORD in ~/.pgpass (chmod 600)")
        if let note = entry(passwordKey)?.note, note.contains("set but empty") || note.contains("expanded to nothing") {
            // The likeliest cause: a variable set to nothing hides the .env or meltano.yml one.
            lines.append("Note: \(note.components(separatedBy: "; ")[0]).")
        }
        if promptedInVain {
            lines[0] += " Nothing was typed at the prompt, so nothing was done."
        } else {
            lines.append("Or run meltano-state in a terminal to be asked for it.")
        }
        return redactor.scrub(lines.joined(separator: "\n"))
    }

    /// The prompt for `TerminalPassword.read`.
    public var passwordPrompt: String { "Password for \(target): " }
}

/// Reads a password from the terminal without echoing it.
public enum TerminalPassword {
    /// Whether standard input is a terminal (so a prompt can be answered).
    public static var isAvailable: Bool { isatty(STDIN_FILENO) == 1 }

    /// Writes `prompt` to standard error and reads one line from standard input with echo
    /// off (the newline is still echoed). Returns nil when standard input is not a
    /// terminal, "" when nothing was typed (Enter, or Ctrl-D at the start of the line).
    /// The terminal is restored afterwards, and also when
    /// SIGINT, SIGTERM, SIGHUP or SIGQUIT arrive while it waits (then the signal goes on
    /// to its default action).
    public static func read(prompt: String) -> String? {
        guard isatty(STDIN_FILENO) == 1 else { return nil }
        var original = termios()
        guard tcgetattr(STDIN_FILENO, &original) == 0 else { return nil }
        var silent = original
        silent.c_lflag &= ~tcflag_t(ECHO)
        silent.c_lflag |= tcflag_t(ECHONL)

        savedTerminal = original
        hasSavedTerminal = true
        let signals = [SIGINT, SIGTERM, SIGHUP, SIGQUIT]
        let previous = signals.map { signal($0, restoreTerminalAndReraise) }
        defer {
            var restore = original
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &restore)
            hasSavedTerminal = false
            for (number, handler) in zip(signals, previous) { signal(number, handler) }
        }
        FileHandle.standardError.write(Data(prompt.utf8))
        guard tcsetattr(STDIN_FILENO, TCSAFLUSH, &silent) == 0 else { return nil }

        var bytes: [UInt8] = []
        var byte: UInt8 = 0
        while true {
            let count = Foundation.read(STDIN_FILENO, &byte, 1)
            if count == 1 {
                if byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") { break }
                bytes.append(byte)
            } else if count == 0 {
                break  // Ctrl-D: what was typed so far, perhaps nothing
            } else if errno != EINTR {
                return nil
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// The terminal settings to put back if a signal interrupts `TerminalPassword.read`.
/// Written only by `read` before it installs the handler; read only by the handler.
nonisolated(unsafe) private var savedTerminal = termios()
nonisolated(unsafe) private var hasSavedTerminal = false

private func restoreTerminalAndReraise(_ number: Int32) {
    if hasSavedTerminal {
        tcsetattr(STDIN_FILENO, TCSANOW, &savedTerminal)
    }
    signal(number, SIG_DFL)
    raise(number)
}
