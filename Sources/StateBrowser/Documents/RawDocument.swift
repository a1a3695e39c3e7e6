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

    /// The sections' texts as given (the store's strings: not copied).
    public let texts: [String?]
    public let wrapWidth: Int
    /// Per row: a byte range in its section's text.
    private var starts: [Int32] = []
    private var ends: [Int32] = []
    /// >= 0: a label row, an index in `labels`; else a text row of section -1 - value.
    private var labelIndex: [Int32] = []
    private var labels: [[Run]] = []
    /// Per section: the byte offset to mark (where parsing failed), if any.
    private var errorOffsetsBySection: [Int?] = []
    /// The first row that shows each marked offset.
    public private(set) var errorRows: [Int] = []

    public var rowCount: Int { starts.count }

    /// `preamble`: lines above the sections (why there is no JSON view).
    public init(sections: [Section], wrapWidth: Int, preamble: [[Run]] = []) {
        self.wrapWidth = max(8, wrapWidth)
        texts = sections.map(\.text)
        errorOffsetsBySection = sections.map { section in
            section.errorOffset.map { min($0, section.text?.utf8.count ?? 0) }
        }
        for line in preamble { addLabel(line) }
        if !preamble.isEmpty { addLabel([]) }
        for (number, section) in sections.enumerated() {
            if number > 0 { addLabel([]) }
            addLabel(section.title)
            for note in section.notes { addLabel(note) }
            guard let text = section.text else {
                addLabel([Run("NULL", Theme.standard.folded)])
                continue
            }
            if text.utf8.isEmpty {
                addLabel([Run("(empty text)", Theme.standard.folded)])
            } else {
                let first = rowCount
                JSONDocument.withBytes(of: text) { wrap($0, section: number) }
                if let offset = errorOffsetsBySection[number] {
                    let row = (first..<rowCount).first { Int(starts[$0]) <= offset && offset <= Int(ends[$0]) }
                    errorRows.append(row ?? first)
                }
            }
        }
    }

    /// The total size of the texts, in bytes.
    public var textByteCount: Int { texts.reduce(0) { $0 + ($1?.utf8.count ?? 0) } }

    /// Adds a line of words (wrapped to the width).
    private func addLabel(_ runs: [Run]) {
        for line in runs.isEmpty ? [[]] : wrapRuns(runs, width: wrapWidth) {
            labels.append(line)
            labelIndex.append(Int32(labels.count - 1))
            starts.append(0)
            ends.append(0)
        }
    }

    private func addRow(_ start: Int, _ end: Int, section: Int) {
        labelIndex.append(Int32(-1 - section))
        starts.append(Int32(start))
        ends.append(Int32(end))
    }

    /// Rows of at most `wrapWidth` cells (escapes counted as shown); a line feed ends
    /// a row and is not shown.
    private func wrap(_ bytes: UnsafeBufferPointer<UInt8>, section: Int) {
        let start = 0, end = bytes.count
        var rowStart = start
        var column = 0
        var index = start
        var afterJoiner = false
        while index < end {
            let byte = bytes[index]
            if byte == 0x0A {
                addRow(rowStart, index, section: section)
                index += 1
                rowStart = index
                column = 0
                continue
            }
            let length = byte < 0x80 ? 1 : byte < 0xE0 ? 2 : byte < 0xF0 ? 3 : 4
            let scalar = RawDocument.scalar(bytes, at: index, length: length)
            let cells = RawDocument.cells(scalar)
            if cells > 0, !afterJoiner, column + cells > wrapWidth, index > rowStart {
                addRow(rowStart, index, section: section)
                rowStart = index
                column = 0
            }
            afterJoiner = scalar.value == 0x200D
            column += cells
            index += length
        }
        if rowStart < end || column > 0 { addRow(rowStart, end, section: section) }
        if end > start, bytes[end - 1] == 0x0A { addRow(end, end, section: section) }
    }

    static func scalar(_ bytes: UnsafeBufferPointer<UInt8>, at index: Int, length: Int) -> Unicode.Scalar {
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

    /// The section a text row belongs to.
    func section(_ row: Int) -> Int { Int(-1 - labelIndex[row]) }

    /// The byte range of a text row within its section's text.
    public func rowRange(_ row: Int) -> Range<Int> { Int(starts[row])..<Int(ends[row]) }

    private func withSection<R>(_ row: Int, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        JSONDocument.withBytes(of: texts[section(row)] ?? "", body)
    }

    public func rowText(_ row: Int) -> String {
        if isLabel(row) { return labels[Int(labelIndex[row])].map(\.text).joined() }
        return withSection(row) { String(decoding: UnsafeBufferPointer(rebasing: $0[rowRange(row)]), as: UTF8.self) }
    }

    /// The runs of a row; the character at a marked error offset in `errorMark`
    /// (a marked end of text shows as one marked blank).
    public func runs(_ row: Int, theme: Theme) -> [Run] {
        if isLabel(row) { return labels[Int(labelIndex[row])] }
        let range = rowRange(row)
        let section = self.section(row)
        return withSection(row) { bytes in
            func text(_ range: Range<Int>) -> String { String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self) }
            guard let mark = errorOffsetsBySection[section],
                  range.contains(mark) || (mark == range.upperBound && isLastRow(row, of: mark)) else {
                return [Run(text(range))]
            }
            let before = text(range.lowerBound..<mark)
            if mark >= range.upperBound {
                return [Run(before), Run(" ", theme.errorMark), Run(" ◀ here", theme.error)]
            }
            var markEnd = mark + 1
            while markEnd < range.upperBound, bytes[markEnd] & 0xC0 == 0x80 { markEnd += 1 }
            return [Run(before), Run(text(mark..<markEnd), theme.errorMark), Run(text(markEnd..<range.upperBound))]
        }
    }

    private func isLastRow(_ row: Int, of offset: Int) -> Bool {
        row + 1 >= rowCount || isLabel(row + 1) || Int(starts[row + 1]) > offset
    }

    /// Everything of the text sections, for copying.
    public var allText: String {
        texts.compactMap { $0 }.joined(separator: "\n")
    }
}
