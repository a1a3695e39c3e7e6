/// Stored text shown as it is, wrapped to the pane: the raw view of both columns, and
/// any text that is not JSON, with the parse error's position marked.
///
/// Built off the UI thread for one wrap width; a row is a byte range, decoded only
/// when drawn, so a 100 MB single-line value scrolls like a small one.
public final class RawDocument: @unchecked Sendable {
    public struct Section: Sendable {
        public var title: [Run]
        /// nil: SQL NULL.
        public var text: String?
        /// A byte offset in `text` to mark (where parsing failed).
        public var errorOffset: Int?
        /// Lines shown under the title (the parse error, in words).
        public var notes: [[Run]]

        public init(title: [Run], text: String?, errorOffset: Int? = nil, notes: [[Run]] = []) {
            self.title = title
            self.text = text
            self.errorOffset = errorOffset
            self.notes = notes
        }
    }

    public let bytes: [UInt8]
    public let wrapWidth: Int
    private var starts: [Int32] = []
    private var ends: [Int32] = []
    /// -1 for a text row, else an index in `labels`.
    private var labelIndex: [Int32] = []
    private var labels: [[Run]] = []
    /// Byte offsets (in `bytes`) to mark, and the first row that shows each.
    public private(set) var errorOffsets: [Int] = []
    public private(set) var errorRows: [Int] = []
    /// The byte range of each section's text in `bytes` (nil when NULL), for copying.
    public private(set) var sectionRanges: [Range<Int>?] = []

    public var rowCount: Int { starts.count }

    /// `preamble`: lines above the sections (why there is no JSON view).
    public init(sections: [Section], wrapWidth: Int, preamble: [[Run]] = []) {
        self.wrapWidth = max(8, wrapWidth)
        var all: [UInt8] = []
        for section in sections { all += Array((section.text ?? "").utf8) }
        bytes = all
        var base = 0
        for line in preamble { addLabel(line) }
        if !preamble.isEmpty { addLabel([]) }
        for (number, section) in sections.enumerated() {
            if number > 0 { addLabel([]) }
            addLabel(section.title)
            for note in section.notes { addLabel(note) }
            guard let text = section.text else {
                addLabel([Run("NULL", Theme.standard.folded)])
                sectionRanges.append(nil)
                continue
            }
            let count = text.utf8.count
            sectionRanges.append(base..<(base + count))
            if let offset = section.errorOffset { errorOffsets.append(base + min(offset, count)) }
            if count == 0 {
                addLabel([Run("(empty text)", Theme.standard.folded)])
            } else {
                wrap(from: base, to: base + count)
            }
            base += count
        }
        for offset in errorOffsets {
            let row = (0..<rowCount).first { labelIndex[$0] < 0 && Int(starts[$0]) <= offset && offset <= Int(ends[$0]) }
            errorRows.append(row ?? 0)
        }
    }

    /// Adds a line of words (wrapped to the width).
    private func addLabel(_ runs: [Run]) {
        for line in runs.isEmpty ? [[]] : wrapRuns(runs, width: wrapWidth) {
            labels.append(line)
            labelIndex.append(Int32(labels.count - 1))
            starts.append(0)
            ends.append(0)
        }
    }

    private func addRow(_ start: Int, _ end: Int) {
        labelIndex.append(-1)
        starts.append(Int32(start))
        ends.append(Int32(end))
    }

    /// Rows of at most `wrapWidth` cells (escapes counted as shown); a line feed ends
    /// a row and is not shown.
    private func wrap(from start: Int, to end: Int) {
        var rowStart = start
        var column = 0
        var index = start
        var afterJoiner = false
        while index < end {
            let byte = bytes[index]
            if byte == 0x0A {
                addRow(rowStart, index)
                index += 1
                rowStart = index
                column = 0
                continue
            }
            let length = byte < 0x80 ? 1 : byte < 0xE0 ? 2 : byte < 0xF0 ? 3 : 4
            let scalar = RawDocument.scalar(bytes, at: index, length: length)
            let cells = RawDocument.cells(scalar)
            if cells > 0, !afterJoiner, column + cells > wrapWidth, index > rowStart {
                addRow(rowStart, index)
                rowStart = index
                column = 0
            }
            afterJoiner = scalar.value == 0x200D
            column += cells
            index += length
        }
        if rowStart < end || column > 0 { addRow(rowStart, end) }
        if let last = bytes[start..<end].last, last == 0x0A { addRow(end, end) }
    }

    static func scalar(_ bytes: [UInt8], at index: Int, length: Int) -> Unicode.Scalar {
        var value: UInt32
        switch length {
        case 1: return Unicode.Scalar(bytes[index])
        case 2: value = UInt32(bytes[index] & 0x1F)
        case 3: value = UInt32(bytes[index] & 0x0F)
        default: value = UInt32(bytes[index] & 0x07)
        }
        for i in 1..<length where index + i < bytes.count { value = value << 6 | UInt32(bytes[index + i] & 0x3F) }
        return Unicode.Scalar(value) ?? "\u{FFFD}"
    }

    /// Cells a scalar takes in a raw row (its escape's length when it is escaped).
    static func cells(_ scalar: Unicode.Scalar) -> Int {
        if JSONStrings.mustEscape(scalar) { return TextWidth.escape(scalar: scalar, mode: .plain).count }
        return TextWidth.scalarWidth(scalar)
    }

    public func isLabel(_ row: Int) -> Bool { labelIndex[row] >= 0 }

    public func rowRange(_ row: Int) -> Range<Int> { Int(starts[row])..<Int(ends[row]) }

    public func rowText(_ row: Int) -> String {
        if isLabel(row) { return labels[Int(labelIndex[row])].map(\.text).joined() }
        return String(decoding: bytes[rowRange(row)], as: UTF8.self)
    }

    /// The runs of a row; the character at a marked error offset in `errorMark`
    /// (a marked end of text shows as one marked blank).
    public func runs(_ row: Int, theme: Theme) -> [Run] {
        if isLabel(row) { return labels[Int(labelIndex[row])] }
        let range = rowRange(row)
        guard let mark = errorOffsets.first(where: { range.contains($0) || ($0 == range.upperBound && isLastRow(row, of: $0)) }) else {
            return [Run(String(decoding: bytes[range], as: UTF8.self))]
        }
        let before = String(decoding: bytes[range.lowerBound..<mark], as: UTF8.self)
        if mark >= range.upperBound {
            return [Run(before), Run(" ", theme.errorMark), Run(" ◀ here", theme.error)]
        }
        var markEnd = mark + 1
        while markEnd < range.upperBound, bytes[markEnd] & 0xC0 == 0x80 { markEnd += 1 }
        return [Run(before), Run(String(decoding: bytes[mark..<markEnd], as: UTF8.self), theme.errorMark),
                Run(String(decoding: bytes[markEnd..<range.upperBound], as: UTF8.self))]
    }

    private func isLastRow(_ row: Int, of offset: Int) -> Bool {
        row + 1 >= rowCount || isLabel(row + 1) || Int(starts[row + 1]) > offset
    }

    /// Everything of the text sections, for copying.
    public var allText: String {
        sectionRanges.compactMap { $0 }.map { String(decoding: bytes[$0], as: UTF8.self) }.joined(separator: "\n")
    }
}
