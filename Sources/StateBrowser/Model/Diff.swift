public struct DiffLine: Sendable, Equatable {
    public enum Kind: Sendable, Equatable { case context, added, removed, hunk }
    public var kind: Kind
    public var text: String

    public init(_ kind: Kind, _ text: String) {
        self.kind = kind
        self.text = text
    }
}

/// A line diff in unified style, shown before an edit is written.
public enum Diff {
    /// Lines of `old` and `new` with `context` unchanged lines around each change.
    /// Common prefix and suffix are skipped first; the rest is an LCS diff, or (when
    /// that would be too big) everything removed then everything added. Lines are equal
    /// when their bytes are (not by Unicode canonical equivalence: `é` written as one
    /// scalar or two is a change, as in the JSON).
    ///
    /// The texts are walked, not split: only the changed lines and `context` lines
    /// around them are copied, so the diff of one bookmark in a 100 MB state's 4.5 M
    /// lines holds a few lines, not all of them twice.
    public static func lines(old: String, new: String, context: Int = 3) -> [DiffLine] {
        withBytes(old) { a in withBytes(new) { b in lines(TextLines(a), TextLines(b), context: context) } }
    }

    private static func lines(_ a: TextLines, _ b: TextLines, context: Int) -> [DiffLine] {
        // The lines equal at the start, then at the end (not overlapping the start).
        var prefix = 0
        var aAt = 0, bAt = 0  // where line `prefix` starts in each
        while prefix < a.count, prefix < b.count {
            let x = a.line(startingAt: aAt), y = b.line(startingAt: bAt)
            guard a.bytes(x).elementsEqual(b.bytes(y)) else { break }
            prefix += 1
            aAt = x.upperBound + 1
            bAt = y.upperBound + 1
        }
        var suffix = 0
        var aEnd = a.contentEnd, bEnd = b.contentEnd  // where line `count - 1 - suffix` ends
        while suffix < a.count - prefix, suffix < b.count - prefix {
            let x = a.line(endingAt: aEnd), y = b.line(endingAt: bEnd)
            guard a.bytes(x).elementsEqual(b.bytes(y)) else { break }
            suffix += 1
            aEnd = x.lowerBound - 1
            bEnd = y.lowerBound - 1
        }
        guard prefix + suffix < a.count || prefix + suffix < b.count else { return [] }
        // The edit script of the changed lines and the context that can reach them:
        // (kind, text, old line index, new line index). Changes are only in the middle,
        // so a hunk reaches at most `context` lines into the prefix and the suffix.
        let before = min(context, prefix), after = min(context, suffix)
        let midA = a.lines(prefix..<(a.count - suffix), from: aAt), midB = b.lines(prefix..<(b.count - suffix), from: bAt)
        var script: [(DiffLine.Kind, String, Int, Int)] = []
        for (k, text) in a.lines(endingBefore: aAt, count: before).enumerated() {
            script.append((.context, text, prefix - before + k, prefix - before + k))
        }
        for (kind, text, i, j) in middle(midA, midB) { script.append((kind, text, prefix + i, prefix + j)) }
        for (k, text) in a.lines((a.count - suffix)..<(a.count - suffix + after), from: aEnd + 1).enumerated() {
            script.append((.context, text, a.count - suffix + k, b.count - suffix + k))
        }
        return hunks(of: script, context: context)
    }

    /// Unified hunks of an edit script: (kind, text, old line index, new line index) per
    /// line, with `context` unchanged lines kept around each change.
    static func hunks(of script: [(DiffLine.Kind, String, Int, Int)], context: Int) -> [DiffLine] {
        let changed = script.indices.filter { script[$0].0 != .context }
        guard !changed.isEmpty else { return [] }
        var output: [DiffLine] = []
        var index = 0
        while index < changed.count {
            let start = max(0, changed[index] - context)
            var end = min(script.count, changed[index] + context + 1)
            var next = index + 1
            while next < changed.count, changed[next] - context <= end {
                end = min(script.count, changed[next] + context + 1)
                next += 1
            }
            let slice = script[start..<end]
            let oldStart = (slice.first { $0.0 != .added }?.2 ?? 0) + 1
            let newStart = (slice.first { $0.0 != .removed }?.3 ?? 0) + 1
            let oldCount = slice.filter { $0.0 != .added }.count
            let newCount = slice.filter { $0.0 != .removed }.count
            output.append(DiffLine(.hunk, "@@ -\(oldStart),\(oldCount) +\(newStart),\(newCount) @@"))
            for (kind, text, _, _) in slice {
                let mark = kind == .added ? "+" : kind == .removed ? "-" : " "
                output.append(DiffLine(kind, mark + text))
            }
            index = next
        }
        return output
    }

    private static func withBytes<R>(_ text: String, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        if let result = text.utf8.withContiguousStorageIfAvailable(body) { return result }
        return Array(text.utf8).withUnsafeBufferPointer(body)
    }

    /// A text's lines as `split(separator: "\n")` makes them, less a last empty one
    /// (a text ending in a newline), found by walking its bytes.
    private struct TextLines {
        let bytes: UnsafeBufferPointer<UInt8>
        let count: Int
        /// Where the last line's content ends (before a final newline).
        let contentEnd: Int

        init(_ bytes: UnsafeBufferPointer<UInt8>) {
            self.bytes = bytes
            var newlines = 0
            for byte in bytes where byte == 0x0A { newlines += 1 }
            let endsWithNewline = bytes.last == 0x0A
            count = bytes.isEmpty ? 0 : newlines + (endsWithNewline ? 0 : 1)
            contentEnd = endsWithNewline ? bytes.count - 1 : bytes.count
        }

        func bytes(_ range: Range<Int>) -> UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(rebasing: bytes[range]) }

        /// The content of the line starting at `start` (up to its newline or the end).
        func line(startingAt start: Int) -> Range<Int> {
            var end = start
            while end < bytes.count, bytes[end] != 0x0A { end += 1 }
            return start..<end
        }

        /// The content of the line ending at `end` (from after the newline before it).
        func line(endingAt end: Int) -> Range<Int> {
            var start = end
            while start > 0, bytes[start - 1] != 0x0A { start -= 1 }
            return start..<end
        }

        /// The lines `indices` as text, the first starting at `start`.
        func lines(_ indices: Range<Int>, from start: Int) -> [String] {
            var result: [String] = []
            var at = start
            for _ in indices {
                let range = line(startingAt: at)
                result.append(String(decoding: self.bytes(range), as: UTF8.self))
                at = range.upperBound + 1
            }
            return result
        }

        /// The `count` lines before the line starting at `start`, in order.
        func lines(endingBefore start: Int, count: Int) -> [String] {
            var result: [String] = []
            var end = start - 1  // the newline ending the line before
            for _ in 0..<count {
                let range = line(endingAt: end)
                result.append(String(decoding: self.bytes(range), as: UTF8.self))
                end = range.lowerBound - 1
            }
            return result.reversed()
        }
    }

    private static func middle(_ a: [String], _ b: [String]) -> [(DiffLine.Kind, String, Int, Int)] {
        let n = a.count, m = b.count
        if n == 0 || m == 0 || n * m > 4_000_000 {
            return a.enumerated().map { (.removed, $0.element, $0.offset, 0) }
                + b.enumerated().map { (.added, $0.element, n, $0.offset) }
        }
        // lcs[i][j] = LCS length of a[i...] and b[j...]
        var lcs = [Int32](repeating: 0, count: (n + 1) * (m + 1))
        for i in stride(from: n - 1, through: 0, by: -1) {
            for j in stride(from: m - 1, through: 0, by: -1) {
                lcs[i * (m + 1) + j] = a[i].utf8.elementsEqual(b[j].utf8) ? lcs[(i + 1) * (m + 1) + j + 1] + 1
                    : max(lcs[(i + 1) * (m + 1) + j], lcs[i * (m + 1) + j + 1])
            }
        }
        var result: [(DiffLine.Kind, String, Int, Int)] = []
        var i = 0, j = 0
        while i < n || j < m {
            if i < n, j < m, a[i].utf8.elementsEqual(b[j].utf8) {
                result.append((.context, a[i], i, j)); i += 1; j += 1
            } else if i < n, j == m || lcs[(i + 1) * (m + 1) + j] >= lcs[i * (m + 1) + j + 1] {
                // Removal on a tie: then an addition is never followed by a removal in a
                // run of changes (removals first, as `diff -u` and git show them).
                result.append((.removed, a[i], i, j)); i += 1
            } else {
                result.append((.added, b[j], i, j)); j += 1
            }
        }
        return result
    }
}
