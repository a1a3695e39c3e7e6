/// One step of a path into a JSON value: an object's key or an array's index.
public enum JSONPathComponent: Sendable, Equatable {
    case key(JSONString)
    case index(Int)

    /// Whether a key can be written `.key` in a jq path: a letter or `_`, then letters,
    /// digits and `_` (ASCII). Anything else is written `["…"]`.
    public static func isPlainIdentifier(_ key: String) -> Bool {
        guard let first = key.unicodeScalars.first, !(first >= "0" && first <= "9") else { return false }
        return key.unicodeScalars.allSatisfy { scalar in
            (scalar >= "a" && scalar <= "z") || (scalar >= "A" && scalar <= "Z") || (scalar >= "0" && scalar <= "9") || scalar == "_"
        }
    }

    /// A path as jq writes it: `.singer_state.bookmarks["tap-x"][0]`; `.` for the root.
    /// Keys that are not plain identifiers are JSON strings, escaped as Python escapes them.
    public static func jqPath(_ path: [JSONPathComponent]) -> String {
        guard !path.isEmpty else { return "." }
        var text = ""
        for component in path {
            switch component {
            case let .key(key):
                text += isPlainIdentifier(key.text) ? "." + key.text : "[" + JSONValue.string(key).meltanoText + "]"
            case let .index(index):
                text += "[\(index)]"
            }
        }
        return text
    }
}

/// One difference between two JSON values, at a path.
public struct JSONChange: Sendable, Equatable {
    public enum Kind: String, Sendable {
        /// Only in the second value.
        case added
        /// Only in the first value.
        case removed
        /// In both, different (a scalar, or a different type).
        case changed
    }

    public let kind: Kind
    public let path: [JSONPathComponent]
    /// The first value's (nil when added).
    public let old: JSONValue?
    /// The second value's (nil when removed).
    public let new: JSONValue?

    public init(kind: Kind, path: [JSONPathComponent], old: JSONValue?, new: JSONValue?) {
        self.kind = kind
        self.path = path
        self.old = old
        self.new = new
    }

    public var jqPath: String { JSONPathComponent.jqPath(path) }
}

/// A structural diff of two JSON values: objects by key (key order is not a difference),
/// arrays by index, scalars by their exact text (`1` and `1.0` differ: the diff is
/// lossless). Changes come in document order, the first value's keys first.
/// Iterative, safe for any depth.
public enum JSONDiff {
    public static func changes(from old: JSONValue, to new: JSONValue) -> [JSONChange] {
        var changes: [JSONChange] = []
        // Depth first in document order: a stack of pending comparisons, pushed reversed.
        var pending: [([JSONPathComponent], JSONValue?, JSONValue?)] = [([], old, new)]
        while let (path, a, b) = pending.popLast() {
            switch (a, b) {
            case let (.none, .some(b)):
                changes.append(JSONChange(kind: .added, path: path, old: nil, new: b))
            case let (.some(a), .none):
                changes.append(JSONChange(kind: .removed, path: path, old: a, new: nil))
            case let (.some(.object(x)), .some(.object(y))):
                var next: [([JSONPathComponent], JSONValue?, JSONValue?)] = []
                for (key, value) in x.entries { next.append((path + [.key(key)], value, y[key])) }
                for (key, value) in y.entries where x[key] == nil { next.append((path + [.key(key)], nil, value)) }
                pending += next.reversed()
            case let (.some(.array(x)), .some(.array(y))):
                var next: [([JSONPathComponent], JSONValue?, JSONValue?)] = []
                for index in 0..<max(x.count, y.count) {
                    // `.none`, not `nil`: JSONValue is itself ExpressibleByNilLiteral (`null`).
                    let old: JSONValue? = index < x.count ? .some(x[index]) : .none
                    let new: JSONValue? = index < y.count ? .some(y[index]) : .none
                    next.append((path + [.index(index)], old, new))
                }
                pending += next.reversed()
            case let (.some(a), .some(b)):
                if a != b { changes.append(JSONChange(kind: .changed, path: path, old: a, new: b)) }
            case (.none, .none):
                continue
            }
        }
        return changes
    }
}

extension JSONDiff {
    /// The text of a change as `diff` prints it: `~ PATH: OLD -> NEW`, `- PATH: OLD`,
    /// `+ PATH: NEW`, values as Meltano writes them, each cut to `limit` characters.
    public static func line(_ change: JSONChange, limit: Int = 120) -> String {
        func shown(_ value: JSONValue?) -> String {
            let text = value?.meltanoText ?? ""
            return text.count > limit ? String(text.prefix(limit)) + "…" : text
        }
        switch change.kind {
        case .changed: return "~ \(change.jqPath): \(shown(change.old)) -> \(shown(change.new))"
        case .removed: return "- \(change.jqPath): \(shown(change.old))"
        case .added: return "+ \(change.jqPath): \(shown(change.new))"
        }
    }

    /// `diff --json`: one object per change, `{"change", "path", "keys", "old", "new"}`,
    /// `keys` the path as a list of keys and indexes, `old`/`new` absent where there is none.
    public static func json(_ changes: [JSONChange]) -> JSONValue {
        .array(changes.map { change in
            var object = JSONObject()
            object["change"] = .string(JSONString(change.kind.rawValue))
            object["path"] = .string(JSONString(change.jqPath))
            object["keys"] = .array(change.path.map { component in
                switch component {
                case let .key(key): return .string(key)
                case let .index(index): return .number(JSONNumber(index))
                }
            })
            if let old = change.old { object["old"] = old }
            if let new = change.new { object["new"] = new }
            return .object(object)
        })
    }
}
