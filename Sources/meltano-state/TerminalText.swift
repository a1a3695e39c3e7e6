import Foundation
import StateStore

/// State IDs, stored JSON, lock IDs and journal notes are text anyone with write access
/// to the tables chose. Printed raw, `ESC ] 52` sets the clipboard, `ESC [ 2J` clears the
/// screen, a C1 `CSI` (U+009B) starts a control sequence on some terminals, and a bidi
/// override (U+202E) makes `prod` read as `dorp`. Text for people therefore shows such
/// characters as escapes, always; data for scripts (`list`, `get`, `export`, `--json`)
/// stays byte for byte what Meltano prints unless it goes to a terminal.

/// Text for people: unsafe characters as visible escapes (`\x1b`, `\u202e`). Newlines
/// and tabs stay unless `keepingLineBreaks` is false (one item per line, as `list`).
func terminalSafe(_ text: String, keepingLineBreaks: Bool = true) -> String {
    guard text.unicodeScalars.contains(where: isUnsafeForTerminal) else { return text }
    var out = String.UnicodeScalarView()
    for scalar in text.unicodeScalars {
        if !isUnsafeForTerminal(scalar) || (keepingLineBreaks && (scalar == "\n" || scalar == "\t")) {
            out.append(scalar)
        } else {
            let escape = scalar.value <= 0xFF ? String(format: "\\x%02x", scalar.value) : String(format: "\\u%04x", scalar.value)
            out.append(contentsOf: escape.unicodeScalars)
        }
    }
    return String(out)
}

/// JSON for a terminal: unsafe characters as JSON escapes (`\u001b`). They can only
/// occur inside strings in JSON text, where an escape means the same character, so the
/// JSON keeps its value.
func terminalSafeJSON(_ text: String) -> String {
    guard text.unicodeScalars.contains(where: { isUnsafeForTerminal($0) && $0 != "\n" }) else { return text }
    var out = String.UnicodeScalarView()
    for scalar in text.unicodeScalars {
        if isUnsafeForTerminal(scalar) && scalar != "\n" {
            out.append(contentsOf: String(format: "\\u%04x", scalar.value).unicodeScalars)
        } else {
            out.append(scalar)
        }
    }
    return String(out)
}

var standardOutputIsTerminal: Bool { isatty(STDOUT_FILENO) == 1 }

/// Data for scripts: as is, unless a person reads it on a terminal.
func writeData(_ text: String, json: Bool) {
    guard standardOutputIsTerminal else { return writeOut(text) }
    writeOut(json ? terminalSafeJSON(text) : terminalSafe(text))
}

/// Tables and reports for people: always escaped.
func writeHuman(_ text: String) {
    writeOut(terminalSafe(text))
}
