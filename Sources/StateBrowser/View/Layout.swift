public struct Rect: Sendable, Equatable {
    public var x: Int
    public var y: Int
    public var width: Int
    public var height: Int

    public init(x: Int, y: Int, width: Int, height: Int) {
        self.x = x
        self.y = y
        self.width = max(0, width)
        self.height = max(0, height)
    }
}

/// Where each part of the screen goes for a terminal size. `update` uses it too (how
/// far PgDn moves, how wide raw text wraps), so it is a pure function of the size.
///
/// ```
/// header (2 rows)
/// list │ detail (title, view tabs, JSON)
/// locks (title, column names, rows)     hidden below 14 rows
/// status line
/// footer: key hints
/// ```
public struct Layout: Sendable, Equatable {
    public var header: Rect
    public var list: Rect
    public var separatorX: Int
    public var detail: Rect
    public var locks: Rect
    public var status: Rect
    public var footer: Rect

    public init(_ size: Size) {
        let width = max(size.width, 1), height = max(size.height, 1)
        header = Rect(x: 0, y: 0, width: width, height: min(2, height))
        footer = Rect(x: 0, y: height - 1, width: width, height: height >= 4 ? 1 : 0)
        status = Rect(x: 0, y: height - 2, width: width, height: height >= 5 ? 1 : 0)
        let locksHeight = height >= 44 ? 12 : height >= 30 ? 8 : height >= 20 ? 6 : height >= 14 ? 4 : 0
        let mainTop = header.height
        let mainBottom = height - footer.height - status.height - locksHeight
        locks = Rect(x: 0, y: mainBottom, width: width, height: locksHeight)
        let listWidth = width < 50 ? width / 2 : min(70, max(24, width * 2 / 5))
        list = Rect(x: 0, y: mainTop, width: listWidth, height: mainBottom - mainTop)
        separatorX = listWidth
        detail = Rect(x: listWidth + 1, y: mainTop, width: width - listWidth - 1, height: mainBottom - mainTop)
    }

    /// State IDs on screen at once (the list's title row excluded).
    public var listRows: Int { max(1, list.height - 1) }
    /// JSON lines on screen at once (title and view tabs excluded).
    public var detailRows: Int { max(1, detail.height - 2) }
    /// Lock rows on screen at once (title and column names excluded).
    public var lockRows: Int { max(0, locks.height - 2) }
    public var wrapWidth: Int { max(8, detail.width - 1) }

    /// The smallest terminal the browser draws its panes in. Below it the screen only
    /// says so, and `update` ignores every key but quitting: a key must never act on
    /// something (a dialog, a selection) the user cannot see.
    public static let minimumSize = Size(width: 40, height: 10)

    public static func isTooSmall(_ size: Size) -> Bool {
        size.width < minimumSize.width || size.height < minimumSize.height
    }
}
