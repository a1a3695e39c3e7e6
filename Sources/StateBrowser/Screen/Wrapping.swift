/// Word-wraps a styled line to `width` cells; continuation lines keep the first
/// line's indentation. A word longer than the width is cut (and shown in full
/// nowhere else, so state IDs in dialogs get their own line first).
func wrapRuns(_ runs: [Run], width: Int) -> [[Run]] {
    let total = runs.reduce(0) { $0 + TextWidth.width(of: $1.text) }
    guard total > width, width > 8 else { return [runs] }
    let indent = String(runs.map(\.text).joined().prefix { $0 == Character(" ") })
    // Split into words that keep their style; spaces stay with the word before.
    var words: [Run] = []
    for run in runs {
        var current = ""
        for character in run.text {
            current.append(character)
            if character == " " {
                words.append(Run(current, run.style, escaping: run.escaping))
                current = ""
            }
        }
        if !current.isEmpty { words.append(Run(current, run.style, escaping: run.escaping)) }
    }
    var lines: [[Run]] = [[]]
    var used = 0
    for var word in words {
        // A word longer than a whole line (a long state ID in a confirmation) is broken
        // across lines: every character shown, none cut off at the box's edge.
        while TextWidth.width(of: word.text) > width - indent.count, width - indent.count > 0 {
            if used > indent.count {
                lines.append([Run(indent)])
                used = indent.count
            }
            var head = "", headWidth = 0
            var rest = Substring(word.text)
            while let character = rest.first {
                let cells = TextWidth.width(of: String(character))
                if headWidth + cells > width - used { break }
                head.append(character)
                headWidth += cells
                rest = rest.dropFirst()
            }
            guard !head.isEmpty else { break }  // one grapheme wider than the line
            lines[lines.count - 1].append(Run(head, word.style, escaping: word.escaping))
            used += headWidth
            word = Run(String(rest), word.style, escaping: word.escaping)
            if word.text.isEmpty { break }
            lines.append([Run(indent)])
            used = indent.count
        }
        if word.text.isEmpty { continue }
        let cells = TextWidth.width(of: word.text)
        let trimmed = TextWidth.width(of: String(word.text.reversed().drop { $0 == Character(" ") }))
        if used + trimmed > width, used > indent.count {
            lines.append([Run(indent)])
            used = indent.count
            if word.text.allSatisfy({ $0 == Character(" ") }) { continue }
        }
        lines[lines.count - 1].append(word)
        used += cells
    }
    return lines
}
