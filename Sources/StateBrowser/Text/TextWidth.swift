import StateStore

/// How many terminal cells text takes, and which characters must never reach the
/// terminal as they are.
///
/// State IDs and JSON come from the database: they may hold East Asian wide
/// characters and emoji (two cells), combining marks (no cell of their own), and
/// control characters, escape sequences or bidi overrides that would move the cursor,
/// recolour the screen or reorder what the user reads. The last kind is always shown
/// as a visible escape (`\x1b`, `\u202e`) in the escape style, never sent as is.
public enum TextWidth {
    /// Cells a grapheme takes when shown as is: 0, 1 or 2. Graphemes that
    /// `needsEscape` are not shown as is; measure their escape instead.
    public static func width(of character: Character) -> Int {
        var scalars = character.unicodeScalars.makeIterator()
        guard let first = scalars.next() else { return 0 }
        var width = scalarWidth(first)
        if isRegionalIndicator(first) { return 2 }  // a flag (or a lone indicator) takes two
        while let next = scalars.next() {
            // An emoji presentation selector or a ZWJ sequence makes the cluster wide.
            if next.value == 0xFE0F || next.properties.isEmojiPresentation { width = 2 }
        }
        return width
    }

    /// Cells of a whole string as shown (escapes included), in `mode`.
    public static func width(of text: String, escaping mode: EscapeMode = .plain) -> Int {
        // Printable ASCII (nearly every cell of a table): a cell a byte, and `.plain`
        // shows a backslash as two.
        var backslashes = 0, printableASCII = true
        for byte in text.utf8 {
            if byte < 0x20 || byte >= 0x7F { printableASCII = false; break }
            if byte == 0x5C { backslashes += 1 }
        }
        if printableASCII { return text.utf8.count + (mode == .plain ? backslashes : 0) }
        var total = 0
        for character in text {
            if let escaped = escape(character, mode: mode) { total += escaped.count } else { total += width(of: character) }
        }
        return total
    }

    /// Width of one scalar standing alone.
    public static func scalarWidth(_ scalar: Unicode.Scalar) -> Int {
        let value = scalar.value
        if value < 0x300 { return value < 0x20 || (0x7F..<0xA0).contains(value) ? 0 : 1 }
        switch scalar.properties.generalCategory {
        case .nonspacingMark, .enclosingMark, .format: return 0
        default: break
        }
        if (0x1160...0x11FF).contains(value) || (0xD7B0...0xD7FF).contains(value) { return 0 }  // Hangul medial/final jamo
        if isWide(value) || scalar.properties.isEmojiPresentation { return 2 }
        return 1
    }

    static func isRegionalIndicator(_ scalar: Unicode.Scalar) -> Bool { (0x1F1E6...0x1F1FF).contains(scalar.value) }

    /// East Asian Wide (W) and Fullwidth (F) ranges of Unicode 15, without the emoji
    /// that `isEmojiPresentation` already covers.
    static func isWide(_ value: UInt32) -> Bool {
        switch value {
        case 0x1100...0x115F, 0x231A...0x231B, 0x2329...0x232A, 0x23E9...0x23EC, 0x23F0, 0x23F3,
             0x2E80...0x303E, 0x3041...0x33FF, 0x3400...0x4DBF, 0x4E00...0x9FFF, 0xA000...0xA4CF,
             0xA960...0xA97F, 0xAC00...0xD7A3, 0xF900...0xFAFF, 0xFE10...0xFE19, 0xFE30...0xFE6F,
             0xFF00...0xFF60, 0xFFE0...0xFFE6,
             0x16FE0...0x16FE4, 0x16FF0...0x16FF1, 0x17000...0x18CD5, 0x18D00...0x18D08,
             0x1AFF0...0x1B2FF, 0x1F004, 0x1F0CF, 0x1F18E, 0x1F191...0x1F19A, 0x1F200...0x1F202,
             0x1F210...0x1F23B, 0x1F240...0x1F248, 0x1F250...0x1F251, 0x1F260...0x1F265,
             0x1F300...0x1F64F, 0x1F680...0x1F6FF, 0x1F7E0...0x1F7EB, 0x1F900...0x1F9FF,
             0x1FA70...0x1FAFF, 0x20000...0x2FFFD, 0x30000...0x3FFFD:
            return true
        default:
            return false
        }
    }

    // MARK: - Escaping

    /// How an unsafe character is written: `\x1b` in plain text (state IDs, messages),
    /// JSON's own escapes (`\u001b`, `\n`) inside JSON strings.
    public enum EscapeMode: Sendable {
        case plain
        case json
        /// What the user is typing (a filter, a search, a target ID): as `plain`, but a
        /// backslash is shown as typed — the person typing knows which it is, and a
        /// doubled one read as two.
        case typed
    }

    /// Scalars that must never be sent to the terminal as they are.
    public static func isUnsafe(_ scalar: Unicode.Scalar) -> Bool {
        // The project's list, and the interlinear annotation controls, which the
        // browser also escapes.
        isUnsafeForTerminal(scalar) || (0xFFF9...0xFFFB).contains(scalar.value)
    }

    /// The visible escape for a grapheme that must not be shown as is, or nil when it is
    /// safe. Unsafe: control characters (ESC included), bidi overrides and isolates,
    /// invisible format characters standing alone (zero-width space, BOM, soft hyphen)
    /// and combining marks with nothing to combine with. In plain text a backslash is
    /// doubled too: otherwise an ID holding a real ESC (shown `\x1b`) and one holding
    /// the four characters `\x1b` would look the same. (JSON strings escape their
    /// backslashes themselves.)
    public static func escape(_ character: Character, mode: EscapeMode) -> String? {
        // Printable ASCII, most of every text, is never escaped (but a plain backslash):
        // answered before the Unicode property lookups, which took a quarter of the time
        // `bookmarks` spent on a state of 900 000 streams.
        if let ascii = character.asciiValue, ascii >= 0x20, ascii < 0x7F {
            return mode == .plain && ascii == 0x5C ? "\\\\" : nil
        }
        let scalars = character.unicodeScalars
        guard let first = scalars.first else { return nil }
        var needsEscape = scalars.contains(where: isUnsafe)
        if !needsEscape {
            switch first.properties.generalCategory {
            case .format, .nonspacingMark, .enclosingMark, .lineSeparator, .paragraphSeparator,
                 .surrogate, .unassigned:
                needsEscape = true
            default:
                break
            }
        }
        guard needsEscape else { return nil }
        var text = ""
        for scalar in scalars {
            // Inside an unsafe cluster, keep printable scalars readable and escape the rest.
            if scalar == first || isUnsafe(scalar) || scalarWidth(scalar) == 0 {
                text += escape(scalar: scalar, mode: mode)
            } else {
                text.unicodeScalars.append(scalar)
            }
        }
        return text
    }

    public static func escape(scalar: Unicode.Scalar, mode: EscapeMode) -> String {
        let value = scalar.value
        switch mode {
        case .plain, .typed:
            if value < 0x100 { return "\\x" + hex(value, digits: 2) }
            if value <= 0xFFFF { return "\\u" + hex(value, digits: 4) }
            return "\\U" + hex(value, digits: 8)
        case .json:
            switch value {
            case 0x08: return "\\b"
            case 0x09: return "\\t"
            case 0x0A: return "\\n"
            case 0x0C: return "\\f"
            case 0x0D: return "\\r"
            default: break
            }
            if value <= 0xFFFF { return "\\u" + hex(value, digits: 4) }
            // Astral: JSON writes a surrogate pair.
            let v = value - 0x10000
            return "\\u" + hex(0xD800 + (v >> 10), digits: 4) + "\\u" + hex(0xDC00 + (v & 0x3FF), digits: 4)
        }
    }

    static func hex(_ value: UInt32, digits: Int) -> String {
        let text = String(value, radix: 16)
        return String(repeating: "0", count: max(0, digits - text.count)) + text
    }

    /// A string made safe to show: unsafe graphemes replaced by their escapes.
    public static func escaped(_ text: String, mode: EscapeMode = .plain) -> String {
        var result = ""
        for character in text {
            if let escape = escape(character, mode: mode) { result += escape } else { result.append(character) }
        }
        return result
    }

    /// `text` without its first `columns` cells as shown (escapes included), for lines
    /// scrolled sideways; a character the edge cuts is replaced by spaces for the cells
    /// of it that show.
    public static func dropping(columns: Int, of text: String, mode: EscapeMode = .plain) -> String {
        guard columns > 0 else { return text }
        var dropped = 0
        var index = text.startIndex
        while index < text.endIndex, dropped < columns {
            let character = text[index]
            dropped += escape(character, mode: mode)?.count ?? width(of: character)
            index = text.index(after: index)
        }
        return String(repeating: " ", count: max(0, dropped - columns)) + text[index...]
    }

    /// Cuts `text` to at most `columns` cells (as shown, escapes included), ending in
    /// `…` when something was cut.
    public static func truncated(_ text: String, toWidth columns: Int, mode: EscapeMode = .plain) -> String {
        if width(of: text, escaping: mode) <= columns { return text }
        guard columns > 0 else { return "" }
        var result = ""
        var used = 0
        for character in text {
            let cells = escape(character, mode: mode)?.count ?? width(of: character)
            if used + cells > columns - 1 { break }
            result.append(character)
            used += cells
        }
        return result + "…"
    }
}
