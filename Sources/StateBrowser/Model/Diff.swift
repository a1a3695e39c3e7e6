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
    /// that would be too big) everything removed then everything added.
    public static func lines(old: String, new: String, context: Int = 3) -> [DiffLine] {
        let a = split(old), b = split(new)
        var prefix = 0
        while prefix < a.count, prefix < b.count, a[prefix] == b[prefix] { prefix += 1 }
        var suffix = 0
        while suffix < a.count - prefix, suffix < b.count - prefix, a[a.count - 1 - suffix] == b[b.count - 1 - suffix] { suffix += 1 }
        let midA = Array(a[prefix..<(a.count - suffix)]), midB = Array(b[prefix..<(b.count - suffix)])
        // Edit script over the whole text: (kind, old line index, new line index).
        var script: [(DiffLine.Kind, String, Int, Int)] = []
        for i in 0..<prefix { script.append((.context, String(a[i]), i, i)) }
        for (kind, text, i, j) in middle(midA, midB) { script.append((kind, text, prefix + i, prefix + j)) }
        for k in 0..<suffix {
            let oldIndex = a.count - suffix + k
            let newIndex = b.count - suffix + k
            script.append((.context, String(a[oldIndex]), oldIndex, newIndex))
        }

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

    static func split(_ text: String) -> [Substring] {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        if lines.last == "" { lines.removeLast() }
        return lines
    }

    private static func middle(_ a: [Substring], _ b: [Substring]) -> [(DiffLine.Kind, String, Int, Int)] {
        let n = a.count, m = b.count
        if n == 0 || m == 0 || n * m > 4_000_000 {
            return a.enumerated().map { (.removed, String($0.element), $0.offset, 0) }
                + b.enumerated().map { (.added, String($0.element), n, $0.offset) }
        }
        // lcs[i][j] = LCS length of a[i...] and b[j...]
        var lcs = [Int32](repeating: 0, count: (n + 1) * (m + 1))
        for i in stride(from: n - 1, through: 0, by: -1) {
            for j in stride(from: m - 1, through: 0, by: -1) {
                lcs[i * (m + 1) + j] = a[i] == b[j] ? lcs[(i + 1) * (m + 1) + j + 1] + 1
                    : max(lcs[(i + 1) * (m + 1) + j], lcs[i * (m + 1) + j + 1])
            }
        }
        var result: [(DiffLine.Kind, String, Int, Int)] = []
        var i = 0, j = 0
        while i < n || j < m {
            if i < n, j < m, a[i] == b[j] {
                result.append((.context, String(a[i]), i, j)); i += 1; j += 1
            } else if i < n, j == m || lcs[(i + 1) * (m + 1) + j] >= lcs[i * (m + 1) + j + 1] {
                // Removal on a tie: then an addition is never followed by a removal in a
                // run of changes (removals first, as `diff -u` and git show them).
                result.append((.removed, String(a[i]), i, j)); i += 1
            } else {
                result.append((.added, String(b[j]), i, j)); j += 1
            }
        }
        return result
    }
}
