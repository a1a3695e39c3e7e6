/// The eight ANSI colours plus the terminal's default; `Terminal` maps them to colour
/// pairs, or drops them for `NO_COLOR` and monochrome terminals. Nothing on screen
/// depends on colour alone: every coloured mark also has a character or attribute.
public enum Color: UInt8, Sendable, Hashable, CaseIterable {
    case `default`, black, red, green, yellow, blue, magenta, cyan, white
}

public struct Style: Sendable, Hashable {
    public var foreground: Color
    public var background: Color
    public var bold: Bool
    public var dim: Bool
    public var reverse: Bool
    public var underline: Bool

    public init(foreground: Color = .default, background: Color = .default, bold: Bool = false,
                dim: Bool = false, reverse: Bool = false, underline: Bool = false) {
        self.foreground = foreground
        self.background = background
        self.bold = bold
        self.dim = dim
        self.reverse = reverse
        self.underline = underline
    }

    public static let plain = Style()

    public func with(foreground: Color? = nil, background: Color? = nil, bold: Bool? = nil, dim: Bool? = nil,
                     reverse: Bool? = nil, underline: Bool? = nil) -> Style {
        Style(foreground: foreground ?? self.foreground, background: background ?? self.background,
              bold: bold ?? self.bold, dim: dim ?? self.dim, reverse: reverse ?? self.reverse,
              underline: underline ?? self.underline)
    }
}

/// One terminal cell: a grapheme that is safe to print, its width, and its style. The
/// cell after a two-cell grapheme is a continuation (`text` empty, `width` 0).
public struct Cell: Sendable, Equatable {
    public var text: String
    public var width: UInt8
    public var style: Style

    public init(text: String, width: UInt8, style: Style) {
        self.text = text
        self.width = width
        self.style = style
    }

    public static let blank = Cell(text: " ", width: 1, style: .plain)
    public var isContinuation: Bool { width == 0 }
}

public struct Size: Sendable, Equatable {
    public var width: Int
    public var height: Int
    public init(width: Int, height: Int) {
        self.width = width
        self.height = height
    }
}

/// A piece of text with one style: views build lines from runs.
public struct Run: Sendable, Equatable {
    public var text: String
    public var style: Style
    /// How this run's unsafe characters are shown, when not as the line's (`prose`).
    public var escaping: TextWidth.EscapeMode?
    public init(_ text: String, _ style: Style = .plain, escaping: TextWidth.EscapeMode? = nil) {
        self.text = text
        self.style = style
        self.escaping = escaping
    }

    /// Our own words, which may hold a command to type (`meltano-state unlock $'a\x1b…'`,
    /// shell-quoted): a backslash is shown as written, not doubled as in a state ID,
    /// so the command reads as it must be typed. Controls are still escaped.
    public static func prose(_ text: String, _ style: Style = .plain) -> Run {
        Run(text, style, escaping: .typed)
    }
}

/// What `view` returns and `Terminal` copies to the real screen: a grid of cells that
/// holds nothing unsafe to print (see `TextWidth`).
public struct Screen: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public private(set) var cells: [Cell]

    public init(width: Int, height: Int) {
        self.width = max(0, width)
        self.height = max(0, height)
        cells = Array(repeating: .blank, count: self.width * self.height)
    }

    public var size: Size { Size(width: width, height: height) }

    public subscript(x: Int, y: Int) -> Cell {
        get { cells[y * width + x] }
        set { cells[y * width + x] = newValue }
    }

    /// Fills a rectangle with blanks of a style. A wide grapheme it cuts at its edges
    /// becomes a blank too (a dialog's border drawn next is not eaten by its other half).
    public mutating func fill(x: Int, y: Int, width w: Int, height h: Int, style: Style = .plain) {
        for row in max(0, y)..<min(height, y + h) {
            for column in max(0, x)..<min(width, x + w) {
                setCell(column, row, Cell(text: " ", width: 1, style: style))
            }
        }
    }

    /// Writes text from (x, y), never past `limit` (exclusive column; default the right
    /// edge). Unsafe graphemes become escapes in `escapeStyle`; a wide grapheme that
    /// does not fit leaves a blank. Returns the column after the last cell written.
    @discardableResult
    public mutating func put(_ text: String, x: Int, y: Int, style: Style = .plain, limit: Int? = nil,
                             escaping mode: TextWidth.EscapeMode = .plain, escapeStyle: Style? = nil) -> Int {
        let end = min(limit ?? width, width)
        guard y >= 0, y < height else { return x }
        var column = x
        for character in text {
            if column >= end { break }
            if let escape = TextWidth.escape(character, mode: mode) {
                let style = escapeStyle ?? Screen.escapeStyle(over: style)
                for scalar in escape.unicodeScalars {
                    if column >= end { break }
                    if column >= 0 { setCell(column, y, Cell(text: String(scalar), width: 1, style: style)) }
                    column += 1
                }
                continue
            }
            let cells = TextWidth.width(of: character)
            if cells == 0 { continue }
            if column + cells > end {
                // Half a wide character never shows: pad the remaining column.
                while column < end {
                    if column >= 0 { setCell(column, y, Cell(text: " ", width: 1, style: style)) }
                    column += 1
                }
                break
            }
            if column >= 0 {
                setCell(column, y, Cell(text: String(character), width: UInt8(cells), style: style))
                if cells == 2 { setCell(column + 1, y, Cell(text: "", width: 0, style: style)) }
            } else if column + cells > 0 {
                // A wide grapheme cut by the left edge (horizontal scrolling): blank.
                for c in 0..<(column + cells) { setCell(c, y, Cell(text: " ", width: 1, style: style)) }
            }
            column += cells
        }
        return column
    }

    /// Writes runs one after the other; returns the column after the last.
    @discardableResult
    public mutating func put(runs: [Run], x: Int, y: Int, limit: Int? = nil,
                             escaping mode: TextWidth.EscapeMode = .plain) -> Int {
        var column = x
        for run in runs {
            column = put(run.text, x: column, y: y, style: run.style, limit: limit, escaping: run.escaping ?? mode)
            if column >= min(limit ?? width, width) { break }
        }
        return column
    }

    /// Sets a cell, repairing a wide grapheme that it would cut in half.
    private mutating func setCell(_ x: Int, _ y: Int, _ cell: Cell) {
        guard x >= 0, x < width, y >= 0, y < height else { return }
        let old = self[x, y]
        if old.isContinuation, x > 0, !cell.isContinuation { self[x - 1, y] = Cell(text: " ", width: 1, style: self[x - 1, y].style) }
        if old.width == 2, x + 1 < width, cell.width != 2 { self[x + 1, y] = Cell(text: " ", width: 1, style: old.style) }
        self[x, y] = cell
    }

    /// Applies a style change to a span of cells (highlights, selection bars).
    public mutating func restyle(x: Int, y: Int, width w: Int, _ change: (Style) -> Style) {
        guard y >= 0, y < height else { return }
        for column in max(0, x)..<min(width, x + w) { self[column, y].style = change(self[column, y].style) }
    }

    /// Copies another screen's cells to (x, y), clipped to this screen.
    public mutating func blit(_ other: Screen, x: Int, y: Int) {
        for row in 0..<other.height where y + row >= 0 && y + row < height {
            for column in 0..<other.width where x + column >= 0 && x + column < width {
                var cell = other[column, row]
                // A wide grapheme cut by the right edge becomes a blank.
                if cell.width == 2 && x + column + 1 >= min(width, x + other.width) { cell = Cell(text: " ", width: 1, style: cell.style) }
                setCell(x + column, y + row, cell)
            }
        }
    }

    static func escapeStyle(over style: Style) -> Style {
        style.with(foreground: .magenta, bold: true)
    }

    // MARK: - As text, for tests and logs

    /// The screen as plain text: one line per row, trailing blanks trimmed, wide
    /// graphemes once (their continuation cells skipped).
    public var text: String {
        (0..<height).map { line($0) }.joined(separator: "\n")
    }

    public func line(_ y: Int) -> String {
        var text = ""
        for x in 0..<width {
            let cell = self[x, y]
            if !cell.isContinuation { text += cell.text }
        }
        while text.last == " " { text.removeLast() }
        return text
    }

    /// One row's styles as letters under the text (for snapshot tests of colour):
    /// `.` plain, `r`/`g`/`y`/`b`/`m`/`c`/`w`/`k` foreground, upper case when bold,
    /// `#` reverse, `_` underline, `~` dim.
    public func styleLine(_ y: Int) -> String {
        var text = ""
        for x in 0..<width {
            let cell = self[x, y]
            if cell.isContinuation { continue }
            text += Screen.styleLetter(cell.style)
        }
        while text.last == "." { text.removeLast() }
        return text
    }

    static func styleLetter(_ style: Style) -> String {
        if style.reverse { return "#" }
        let letters: [Color: String] = [.red: "r", .green: "g", .yellow: "y", .blue: "b", .magenta: "m",
                                        .cyan: "c", .white: "w", .black: "k"]
        if let letter = letters[style.foreground] { return style.bold ? letter.uppercased() : letter }
        if style.underline { return "_" }
        if style.bold { return "*" }
        if style.dim { return "~" }
        return "."
    }
}
