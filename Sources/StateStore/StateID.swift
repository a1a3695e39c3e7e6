import StateJSON

/// Rules for state IDs and for matching them.
public enum StateID {
    /// Meltano's column is VARCHAR(900): 900 characters, counted as PostgreSQL counts
    /// them (code points).
    public static let maximumLength = 900

    /// Refuses an ID before anything is written (Meltano fails only at the lock INSERT).
    public static func validate(_ id: String) throws {
        if id.isEmpty {
            throw StoreError.invalidStateID(id, reason: "it is empty. Give the ID Meltano uses, e.g. dev:tap-github-to-target-postgres.")
        }
        let length = id.unicodeScalars.count
        if length > maximumLength {
            throw StoreError.invalidStateID(String(id.prefix(40)) + "…",
                reason: "it is \(length) characters long; Meltano's state_id column holds at most \(maximumLength).")
        }
        if id.unicodeScalars.contains("\u{0}") {
            throw StoreError.invalidStateID(id.replacingOccurrences(of: "\u{0}", with: "\\0"),
                reason: "it contains a NUL character, which PostgreSQL text cannot hold.")
        }
    }

    /// An ID read from JSON (an `import` file's key): a lone surrogate escape
    /// (`"\ud800"`) is not a character PostgreSQL text can hold (Meltano fails to encode
    /// it), so it is refused here rather than stored as U+FFFD under another ID.
    /// Returns the ID as text.
    @discardableResult
    public static func validate(_ id: JSONString) throws -> String {
        guard let text = id.string else {
            throw StoreError.invalidStateID(id.text,
                reason: "it contains a lone UTF-16 surrogate escape (\\ud800–\\udfff), which is not a character PostgreSQL can store. Fix the ID in the file.")
        }
        try validate(text)
        return text
    }

    /// The SQL condition "`column` matches `glob`" (nil when the glob is nil or `*`:
    /// everything matches), the pattern placed by `value` (a parameter's `$n`, or a
    /// literal). The one rule every query that filters by a glob goes through.
    ///
    /// A substring (`*text*`, what the browser's filter sends) is `strpos(…) > 0`: the
    /// same rows as LIKE '%text%' (both compare bytes, case-sensitively), at about 3/4 of
    /// LIKE's cost per row — which is the whole cost when no index can serve it (a
    /// B-tree cannot, and we create no index in a user's database).
    static func matchCondition(_ column: String, glob: String?, value: (String) throws -> String) rethrows -> String? {
        guard let glob, glob != "*" else { return nil }
        // By scalars, as PostgreSQL reads the pattern: a `*` or `%` followed by a
        // combining mark is still a `*` or `%` (one Swift Character with it).
        let scalars = glob.unicodeScalars
        if scalars.count > 2, scalars.first == "*", scalars.last == "*" {
            let text = String(String.UnicodeScalarView(scalars.dropFirst().dropLast()))
            if !text.unicodeScalars.contains("*") && !text.unicodeScalars.contains("?") {
                return "strpos(\(column), \(try value(text))) > 0"
            }
        }
        return "\(column) LIKE \(try value(likePattern(forGlob: glob))) ESCAPE '\\'"
    }

    /// A shell glob (`*` any run, `?` one character; everything else literal, `%`, `_`
    /// and `\` included) as a LIKE pattern with `\` as the escape character.
    public static func likePattern(forGlob glob: String) -> String {
        var like = String.UnicodeScalarView()
        for scalar in glob.unicodeScalars {
            switch scalar {
            case "*": like.append("%")
            case "?": like.append("_")
            case "%", "_", "\\": like.append("\\"); like.append(scalar)
            default: like.append(scalar)
            }
        }
        return String(like)
    }
}

/// A PostgreSQL array literal of text (`{"a","b\"c"}`), for sending many values as one
/// parameter (`$1::text[]`).
func arrayLiteral(_ values: [String]) -> String {
    arrayLiteral(values.map(Optional.some))
}

/// The same, where nil elements are SQL NULL. Works on UTF-8 bytes: a million-row
/// import sends a few hundred megabytes through here.
func arrayLiteral(_ values: [String?]) -> String {
    var bytes: [UInt8] = [UInt8(ascii: "{")]
    bytes.reserveCapacity(values.reduce(2) { $0 + ($1?.utf8.count ?? 4) + 3 })
    for (index, value) in values.enumerated() {
        if index > 0 { bytes.append(UInt8(ascii: ",")) }
        guard let value else { bytes.append(contentsOf: "NULL".utf8); continue }
        bytes.append(UInt8(ascii: "\""))
        // Runs between the bytes to escape are copied whole.
        var text = value
        text.withUTF8 { utf8 in
            var start = 0
            for index in utf8.indices where utf8[index] == UInt8(ascii: "\"") || utf8[index] == UInt8(ascii: "\\") {
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start..<index]))
                bytes.append(UInt8(ascii: "\\"))
                start = index
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start...]))
        }
        bytes.append(UInt8(ascii: "\""))
    }
    bytes.append(UInt8(ascii: "}"))
    return String(decoding: bytes, as: UTF8.self)
}

/// A state ID as a set member or a dictionary key: equal, and hashed, by its UTF-8
/// bytes, as PostgreSQL and Python compare IDs. Swift's `String` compares by canonical
/// equivalence: "café" with é as one scalar and as two would be one key, and two state
/// IDs (two rows) would be taken for one — a row's journal entry holding the other's
/// state, a lock not taken.
public struct ExactID: Hashable, Sendable {
    public let id: String
    public init(_ id: String) { self.id = id }

    public static func == (a: ExactID, b: ExactID) -> Bool { sameText(a.id, b.id) }

    public func hash(into hasher: inout Hasher) {
        var id = id
        id.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
    }
}

/// Whether two texts (state IDs, stored parts) are the same bytes: not Swift's `==`,
/// which takes "é" written as one scalar or as two for the same text.
public func sameText(_ a: String?, _ b: String?) -> Bool {
    guard let a, let b else { return a == nil && b == nil }
    return a.utf8.elementsEqual(b.utf8)
}
