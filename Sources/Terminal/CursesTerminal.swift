import CNCurses
import Foundation
import StateBrowser

/// How colours are used: `auto` honours `NO_COLOR` and the terminal's abilities.
public enum ColorMode: String, Sendable, CaseIterable {
    case auto, always, never
}

/// A terminal that cannot be used, said in words the user can act on.
public struct TerminalUnavailable: Error, CustomStringConvertible, Sendable {
    public var description: String
}

/// The only place that talks to ncurses: set-up and tear-down, copying a `Screen` to
/// the real screen (only the cells that changed), reading keys, suspending for an
/// editor. Everything it draws is already safe (see `TextWidth`): no byte from the
/// database reaches the terminal except as a printable character.
final class CursesTerminal {
    private var screen: OpaquePointer?
    private var previous: Screen?
    private var pairs: [UInt16: Int16] = [:]
    private let useColor: Bool
    /// The locale is UTF-8: box drawing and wide characters can be shown.
    let unicode: Bool
    private(set) var isActive = false

    /// Checks the terminal, then starts curses. Throws `TerminalUnavailable` with a
    /// helpful message instead of letting ncurses print "Error opening terminal".
    init(colorMode: ColorMode, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        setlocale(LC_ALL, "")
        let codeset = String(cString: nl_langinfo(nl_item(CODESET)))
        unicode = codeset.uppercased().replacingOccurrences(of: "-", with: "") == "UTF8"
        guard isatty(0) == 1, isatty(1) == 1 else {
            throw TerminalUnavailable(description: "The browser needs a terminal: standard input and output must be a TTY. For scripts, use the CLI verbs (meltano-state list, get, locks).")
        }
        let term = environment["TERM"] ?? ""
        if term.isEmpty || term == "dumb" {
            throw TerminalUnavailable(description: "The browser needs a terminal type: TERM is \(term.isEmpty ? "not set" : "\"dumb\""). Set it, e.g. TERM=xterm-256color (tmux: tmux-256color), or use the CLI verbs (meltano-state list, get, locks).")
        }
        guard let created = ms_newterm() else {
            throw TerminalUnavailable(description: "Could not set up the terminal: this system's terminfo may not know TERM=\(term). Try TERM=xterm-256color, or install its terminfo entry (apt-get install ncurses-term).")
        }
        screen = created
        isActive = true
        raw()  // Ctrl-C and Ctrl-Z arrive as keys: the browser decides (cancel, quit)
        noecho()
        nonl()
        keypad(ms_stdscr(), true)
        nodelay(ms_stdscr(), true)
        set_escdelay(25)
        curs_set(0)
        let wantsColor: Bool
        switch colorMode {
        case .always: wantsColor = true
        case .never: wantsColor = false
        case .auto: wantsColor = (environment["NO_COLOR"] ?? "").isEmpty
        }
        if wantsColor && has_colors() {
            start_color()
            use_default_colors()
            useColor = true
        } else {
            useColor = false
        }
    }

    deinit { end() }

    var size: Size { Size(width: Int(ms_cols()), height: Int(ms_lines())) }

    /// Restores the terminal (idempotent; every exit path calls it).
    func end() {
        guard isActive else { return }
        isActive = false
        curs_set(1)
        endwin()
        if let screen { delscreen(screen) }
        screen = nil
    }

    // MARK: - Drawing

    /// Copies a screen, touching only cells that changed since the last call.
    func draw(_ next: Screen) {
        let old = previous.flatMap { $0.width == next.width && $0.height == next.height ? $0 : nil }
        if old == nil { erase() }
        for y in 0..<next.height {
            // The changed span of the row, widened to whole wide characters.
            var first = -1, last = -1
            for x in 0..<next.width where old == nil || old![x, y] != next[x, y] {
                if first < 0 { first = x }
                last = x
            }
            guard first >= 0 else { continue }
            while first > 0, next[first, y].isContinuation || (old?[first, y].isContinuation ?? false) { first -= 1 }
            var x = first
            while x <= min(last + 1, next.width - 1) {
                let cell = next[x, y]
                if cell.isContinuation {
                    x += 1
                    continue
                }
                put(cell, x: x, y: y)
                if cell.width == 2, x + 1 < next.width, ms_getcurx() == Int32(x + 1) {
                    // The C library thinks it narrow: blank the column we reserved.
                    put(Cell(text: " ", width: 1, style: cell.style), x: x + 1, y: y)
                }
                x += max(1, Int(cell.width))
            }
        }
        refresh()
        previous = next
    }

    /// Forces the next `draw` to repaint everything (after the editor or a resize).
    func invalidate() {
        previous = nil
        clearok(ms_curscr(), true)
    }

    private func put(_ cell: Cell, x: Int, y: Int) {
        var text = cell.text
        if !unicode { text = CursesTerminal.ascii(text) }
        var characters: [wchar_t] = text.unicodeScalars.prefix(5).map { wchar_t(bitPattern: $0.value) }
        characters.append(0)
        let attributes = attributes(cell.style)
        let pair = useColor ? pair(cell.style) : 0
        if ms_put_cell(Int32(y), Int32(x), characters, attributes, pair) == ms_err() {
            // More combining marks than a curses cell holds: the base character alone.
            var base: [wchar_t] = [characters[0], 0]
            _ = ms_put_cell(Int32(y), Int32(x), &base, attributes, pair)
        }
    }

    private func attributes(_ style: Style) -> attr_t {
        var value = ms_a_normal()
        if style.bold { value |= ms_a_bold() }
        if style.dim { value |= ms_a_dim() }
        if style.reverse { value |= ms_a_reverse() }
        if style.underline { value |= ms_a_underline() }
        // Without colour, coloured text would look like plain text: make the
        // backgrounds (search matches, error marks) visible with reverse video.
        if !useColor, style.background != .default { value |= ms_a_reverse() }
        return value
    }

    private func pair(_ style: Style) -> Int16 {
        if style.foreground == .default && style.background == .default { return 0 }
        let key = UInt16(style.foreground.rawValue) << 8 | UInt16(style.background.rawValue)
        if let existing = pairs[key] { return existing }
        let next = Int16(pairs.count + 1)
        guard Int32(next) < ms_color_pairs() else { return 0 }
        init_pair(next, CursesTerminal.curses(style.foreground), CursesTerminal.curses(style.background))
        pairs[key] = next
        return next
    }

    static func curses(_ color: StateBrowser.Color) -> Int16 {
        switch color {
        case .default: return -1
        case .black: return Int16(COLOR_BLACK)
        case .red: return Int16(COLOR_RED)
        case .green: return Int16(COLOR_GREEN)
        case .yellow: return Int16(COLOR_YELLOW)
        case .blue: return Int16(COLOR_BLUE)
        case .magenta: return Int16(COLOR_MAGENTA)
        case .cyan: return Int16(COLOR_CYAN)
        case .white: return Int16(COLOR_WHITE)
        }
    }

    /// Under a non-UTF-8 locale (`LC_ALL=C`): ASCII stand-ins for the symbols the
    /// browser draws, `?` for anything else.
    static func ascii(_ text: String) -> String {
        let replacements: [Character: String] = [
            "│": "|", "─": "-", "┌": "+", "┐": "+", "└": "+", "┘": "+", "…": "~", "●": "*", "✖": "x", "✗": "x",
            "⚠": "!", "◀": "<", "↑": "^", "↓": "v", "←": "<", "→": ">", "·": ".", "⏎": "$",
        ]
        var result = ""
        for character in text {
            if let replacement = replacements[character] {
                result += replacement
            } else if character.isASCII {
                result.append(character)
            } else {
                result += "?"
            }
        }
        return result
    }

    // MARK: - Keys

    enum Input {
        case key(Key)
        case resize(Size)
    }

    /// The next key or resize, or nil when none is waiting.
    func read() -> Input? {
        var value: wint_t = 0
        let result = get_wch(&value)
        if result == ms_err() { return nil }
        if result == ms_key_code_yes() {
            let code = Int32(value)
            if code == ms_key_resize() {
                invalidate()
                return .resize(size)
            }
            switch code {
            case KEY_UP: return .key(.up)
            case KEY_DOWN: return .key(.down)
            case KEY_LEFT: return .key(.left)
            case KEY_RIGHT: return .key(.right)
            case KEY_PPAGE: return .key(.pageUp)
            case KEY_NPAGE: return .key(.pageDown)
            case KEY_HOME: return .key(.home)
            case KEY_END: return .key(.end)
            case KEY_ENTER: return .key(.enter)
            case KEY_BTAB: return .key(.backTab)
            case KEY_BACKSPACE: return .key(.backspace)
            case KEY_DC: return .key(.delete)
            default:
                for n in 1...12 where code == ms_key_f(Int32(n)) { return .key(.function(n)) }
                return read()  // a key the browser has no use for
            }
        }
        switch value {
        case 9: return .key(.tab)
        case 10, 13: return .key(.enter)
        case 27: return escapeSequence()
        case 8, 127: return .key(.backspace)
        case 1...26: return .key(.control(Character(Unicode.Scalar(UInt8(value) + 96))))
        default:
            guard let scalar = Unicode.Scalar(UInt32(value)), !TextWidth.isUnsafe(scalar) else { return read() }
            return .key(.character(Character(scalar)))
        }
    }

    /// After an ESC: the key of a CSI or SS3 sequence the terminfo entry does not know
    /// (a `TERM` that is not the terminal's: `\e[6~` for PgDn under `TERM=vt100`), whose
    /// bytes are already here because curses waited for them; a sequence with no use
    /// here is dropped. Read as ESC and characters, it cancelled what was on screen and
    /// typed `[6~`. An ESC alone is Esc; ESC and another key are Esc, then that key.
    func escapeSequence() -> Input? {
        guard case let .character(introducer) = nextInput() else { return .key(.escape) }
        guard introducer == 0x5B || introducer == 0x4F else {  // [ O
            unget_wch(wchar_t(introducer))
            return .key(.escape)
        }
        var parameters = ""
        while case let .character(byte) = nextInput() {
            switch byte {
            case 0x20...0x3F:  // parameters and intermediates
                parameters.unicodeScalars.append(Unicode.Scalar(UInt8(byte)))
            case 0x40...0x7E:
                return CursesTerminal.sequenceKey(final: Character(Unicode.Scalar(UInt8(byte))), parameters: parameters).map { .key($0) } ?? read()
            default:
                return read()  // not a sequence after all: dropped with what came so far
            }
        }
        return read()  // cut short: dropped
    }

    /// The keys of xterm's and the VT's sequences: `final` is the last byte, `parameters`
    /// what came between it and `[` or `O` (`1;5` of Ctrl-↑, the modifier ignored).
    static func sequenceKey(final: Character, parameters: String) -> Key? {
        let number = Int(parameters.split(separator: ";").first ?? "")
        switch final {
        case "A": return .up
        case "B": return .down
        case "C": return .right
        case "D": return .left
        case "H": return .home
        case "F": return .end
        case "Z": return .backTab
        case "P": return .function(1)
        case "Q": return .function(2)
        case "R": return .function(3)
        case "S": return .function(4)
        case "~":
            switch number {
            case 1, 7: return .home
            case 4, 8: return .end
            case 3: return .delete
            case 5: return .pageUp
            case 6: return .pageDown
            case 11, 12, 13, 14, 15: return .function(number! - 10)
            case 17, 18, 19, 20, 21: return .function(number! - 11)
            case 23, 24: return .function(number! - 12)
            default: return nil
            }
        default: return nil
        }
    }

    enum Waiting {
        case nothing
        case character(UInt32)
    }

    /// The next character already waiting (curses is in no-delay mode). A key curses
    /// decoded itself (an arrow, a resize typed or sent just after the Esc) is put back
    /// for the next `read`, and ends the sequence: it is never lost.
    private func nextInput() -> Waiting {
        var value: wint_t = 0
        let result = get_wch(&value)
        if result == ms_err() { return .nothing }
        if result == ms_key_code_yes() {
            ungetch(Int32(value))
            return .nothing
        }
        return .character(UInt32(value))
    }

    // MARK: - Handing the terminal to another program

    /// Leaves curses mode (the editor gets a normal terminal).
    func suspend() {
        def_prog_mode()
        endwin()
    }

    func resume() {
        reset_prog_mode()
        invalidate()
        refresh()
    }
}
