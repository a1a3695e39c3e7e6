import ChildProcess
import Foundation
import StateBrowser

/// The clipboard over SSH: OSC 52 asks the user's terminal emulator (on their own
/// machine) to set its clipboard. Inside tmux the sequence is also sent wrapped for
/// tmux's passthrough, since tmux keeps application OSC 52 to itself unless
/// `set-clipboard on`.
enum Clipboard {
    static func sequence(for text: String, inTmux: Bool) -> String {
        let encoded = Data(text.utf8).base64EncodedString()
        let osc = "\u{1b}]52;c;\(encoded)\u{07}"
        guard inTmux else { return osc }
        let wrapped = "\u{1b}Ptmux;" + osc.replacingOccurrences(of: "\u{1b}", with: "\u{1b}\u{1b}") + "\u{1b}\\"
        return osc + wrapped
    }

    /// Writes the sequence straight to the terminal (after curses has flushed).
    static func copy(_ text: String, environment: [String: String]) -> String? {
        let bytes = Array(sequence(for: text, inTmux: !(environment["TMUX"] ?? "").isEmpty).utf8)
        var written = 0
        while written < bytes.count {
            let result = bytes[written...].withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
            if result < 0 {
                if errno == EINTR { continue }
                return String(cString: strerror(errno))
            }
            written += result
        }
        return nil
    }
}

/// `$EDITOR` on a private temporary file; the terminal is the editor's meanwhile.
enum Editor {
    /// Runs `command FILE` through the shell (so `code --wait` works) and returns the
    /// file's text, or why there is none. The file is created 0600 and removed after.
    /// `environment` is the editor's whole environment: the caller leaves the
    /// passwords out (`ResolvedConfiguration.environmentWithoutSecrets`).
    static func edit(_ text: String, command: String, environment: [String: String], stateID: String) -> (text: String?, problem: String?) {
        let safeName = String(stateID.unicodeScalars.map { CharacterSet.alphanumerics.contains($0) ? Character($0) : "_" }.prefix(40))
        let path = NSTemporaryDirectory() + "meltano-state-\(safeName)-\(UUID().uuidString.prefix(8)).json"
        let descriptor = open(path, O_CREAT | O_EXCL | O_WRONLY, 0o600)
        guard descriptor >= 0 else { return (nil, "could not create \(path): \(String(cString: strerror(errno)))") }
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        close(descriptor)
        defer { unlink(path) }
        // In the foreground process group, with Ctrl-C the editor's own while it runs.
        let termination: Termination
        do {
            termination = try ChildProcess.runInForeground(shellCommand: editorCommandLine(command), arguments: [path],
                                                           commandName: "meltano-state-editor", environment: environment)
        } catch {
            return (nil, "could not start \(command): \(error)")
        }
        if termination != Termination(exitStatus: 0) {
            return (nil, "\(command) ended with \(termination); nothing was changed")
        }
        guard let data = FileManager.default.contents(atPath: path) else { return (nil, "the edited file could not be read back") }
        return (String(decoding: data, as: UTF8.self), nil)
    }
}
