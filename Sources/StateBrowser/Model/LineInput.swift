/// A line being typed — the copy/move target, a rewind value — with a cursor and
/// readline's keys: ← → Home End (Ctrl-B F A E), Backspace, Delete (Ctrl-D), Ctrl-U (to
/// the start), Ctrl-K (to the end), Ctrl-W (the word before the cursor). The one line
/// editor: the filter and the search use it with the cursor at the end.
public struct LineInput: Sendable, Equatable {
    public private(set) var text: String
    /// Where typing goes, in characters from the start (0 ... text.count).
    public private(set) var cursor: Int

    /// The text with the cursor at its end.
    public init(_ text: String = "") {
        self.text = text
        cursor = text.count
    }

    /// Applies a line-editing key; false for any other key (nothing changes).
    public mutating func apply(_ key: Key) -> Bool {
        let count = text.count
        cursor = min(cursor, count)
        switch key {
        case let .character(character):
            let at = index(cursor)
            let scalarsUpToCursor = text.unicodeScalars[..<at].count + character.unicodeScalars.count
            text.insert(character, at: at)
            // A combining mark, a skin tone or a flag's second half joins the character
            // before it (the count may not grow): the cursor goes after what it joined.
            var characters = 0, scalars = 0
            for existing in text where scalars < scalarsUpToCursor {
                scalars += existing.unicodeScalars.count
                characters += 1
            }
            cursor = characters
        case .backspace, .control("h"):
            guard cursor > 0 else { return true }
            text.remove(at: index(cursor - 1))
            cursor -= 1
        case .delete, .control("d"):
            guard cursor < count else { return true }
            text.remove(at: index(cursor))
        case .left, .control("b"): cursor = max(0, cursor - 1)
        case .right, .control("f"): cursor = min(count, cursor + 1)
        case .home, .control("a"): cursor = 0
        case .end, .control("e"): cursor = count
        case .control("u"):
            text.removeSubrange(text.startIndex..<index(cursor))
            cursor = 0
        case .control("k"):
            text.removeSubrange(index(cursor)...)
        case .control("w"):
            var start = cursor
            let characters = Array(text)
            while start > 0, characters[start - 1] == " " { start -= 1 }
            while start > 0, characters[start - 1] != " " { start -= 1 }
            text.removeSubrange(index(start)..<index(cursor))
            cursor = start
        default:
            return false
        }
        return true
    }

    /// The text before the cursor, the character under it (nil at the end) and the rest.
    public var parts: (before: String, at: Character?, after: String) {
        let at = index(cursor)
        guard at < text.endIndex else { return (text, nil, "") }
        return (String(text[..<at]), text[at], String(text[text.index(after: at)...]))
    }

    private func index(_ offset: Int) -> String.Index {
        text.index(text.startIndex, offsetBy: offset, limitedBy: text.endIndex) ?? text.endIndex
    }
}
