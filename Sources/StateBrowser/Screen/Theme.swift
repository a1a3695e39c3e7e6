import StateConfig

/// Every style the browser draws with, in one place. `Terminal` drops the colours
/// for `NO_COLOR` and monochrome terminals; attributes and characters still carry
/// the meaning (selection in reverse, stale locks spelled out, escapes in bold).
public struct Theme: Sendable {
    public var header = Style(bold: true)
    public var headerDim = Style(dim: true)
    public var badge = Style(foreground: .yellow, bold: true, reverse: true)
    public var connected = Style(foreground: .green)
    public var disconnected = Style(foreground: .red, bold: true)
    public var title = Style(bold: true, underline: true)
    public var titleFocused = Style(foreground: .cyan, bold: true, underline: true)
    public var separator = Style(dim: true)
    public var selection = Style(reverse: true)
    public var selectionUnfocused = Style(bold: true, underline: true)
    public var age = Style(dim: true)
    public var lockMark = Style(foreground: .yellow, bold: true)
    public var staleMark = Style(foreground: .red, bold: true)
    public var invalidMark = Style(foreground: .red, bold: true)
    public var key = Style(foreground: .blue, bold: true)
    public var string = Style(foreground: .green)
    public var number = Style(foreground: .cyan)
    public var bool = Style(foreground: .yellow)
    public var null = Style(foreground: .magenta)
    public var nonFinite = Style(foreground: .red)
    public var punctuation = Style.plain
    public var folded = Style(dim: true)
    public var escape = Style(foreground: .magenta, bold: true)
    public var match = Style(foreground: .black, background: .yellow)
    public var errorMark = Style(foreground: .white, background: .red, bold: true)
    public var error = Style(foreground: .red, bold: true)
    public var info = Style(foreground: .green)
    public var hintKey = Style(bold: true)
    public var hint = Style(dim: true)
    public var dialogBorder = Style(bold: true)
    public var danger = Style(foreground: .red, bold: true)
    public var diffAdded = Style(foreground: .green)
    public var diffRemoved = Style(foreground: .red)
    public var diffHunk = Style(foreground: .cyan)
    public var stale = Style(foreground: .red, bold: true)
    public var label = Style(bold: true)

    public init() {}

    /// A context's name in the header and the picker: reversed, in the context's colour
    /// (the terminal drops colours where it must, as for every style).
    public func contextBadge(_ color: ContextColor?) -> Style {
        var style = Style(bold: true, reverse: true)
        switch color {
        case .red?: style.foreground = .red
        case .green?: style.foreground = .green
        case .yellow?: style.foreground = .yellow
        case .blue?: style.foreground = .blue
        case .magenta?: style.foreground = .magenta
        case .cyan?: style.foreground = .cyan
        case .white?: style.foreground = .white
        case nil: break
        }
        return style
    }

    public static let standard = Theme()

    /// Same attributes, no colour at all (what a monochrome terminal shows).
    public static let monochrome: Theme = {
        var theme = Theme()
        theme.strip()
        return theme
    }()

    mutating func strip() {
        func s(_ style: inout Style) {
            style.foreground = .default
            style.background = .default
        }
        s(&header); s(&headerDim); s(&badge); s(&connected); s(&disconnected); s(&title); s(&titleFocused)
        s(&separator); s(&selection); s(&selectionUnfocused); s(&age); s(&lockMark); s(&staleMark)
        s(&invalidMark); s(&key); s(&string); s(&number); s(&bool); s(&null); s(&nonFinite); s(&punctuation)
        s(&folded); s(&escape); s(&error); s(&info); s(&hintKey); s(&hint); s(&dialogBorder); s(&danger)
        s(&diffAdded); s(&diffRemoved); s(&diffHunk); s(&stale); s(&label)
        match = Style(reverse: true, underline: true)
        errorMark = Style(bold: true, reverse: true)
    }
}
