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
                words.append(Run(current, run.style))
                current = ""
            }
        }
        if !current.isEmpty { words.append(Run(current, run.style)) }
    }
    var lines: [[Run]] = [[]]
    var used = 0
    for word in words {
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
