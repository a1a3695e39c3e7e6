import Foundation

/// The `.env` file beside `meltano.yml`, read the way Meltano reads it: with python-dotenv's
/// `dotenv_values(path)` (`Project.dotenv_env`). The rules below are python-dotenv 1.2.4's
/// (the current release), checked against it:
///
/// - optional `export ` prefix; key unquoted (up to `=`, `#` or white space) or in single
///   quotes; white space around `=` allowed; a key without `=` has no value (`None`);
/// - in `'single'` and `"double"` quotes a backslash always takes the next character
///   with it (so `\'` never ends the value); then single quotes decode only `\\` and
///   `\'`, double quotes `\\ \' \" \a \b \f \n \r \t \v`; both may span lines;
/// - unquoted values run to the end of the line, lose a ` # comment` (white space before
///   `#`) and trailing white space; `KEY= #…` (white space, then `#`) is empty;
/// - after a quoted value only white space and a `# comment` may follow; a statement that
///   does not parse is skipped, up to the end of the line where parsing stopped;
/// - then every value, quoted or not, is interpolated: `${NAME}` and `${NAME:-default}`
///   (never `$NAME`), looking first at keys defined earlier in the file, then the process
///   environment, then the default, else the empty string (`override=True`);
/// - a repeated key: the last one wins.
struct DotEnvFile: Sendable, Equatable {
    struct Value: Sendable, Equatable {
        /// nil for a key without `=`.
        var value: String?
        /// The line the key is on.
        var line: Int
    }

    let path: String
    private(set) var values: [String: Value] = [:]
    /// Lines python-dotenv could not parse (it skips them with a warning).
    private(set) var unparsedLines: [Int] = []

    subscript(name: String) -> Value? { values[name] }

    /// Reads `path`; nil when there is no such file.
    static func load(path: String, environment: [String: String]) throws -> DotEnvFile? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationError(problem: "\(path) exists but cannot be read", source: path,
                                     fix: "Check its permissions.")
        }
        return parse(String(decoding: data, as: UTF8.self), path: path, environment: environment)
    }

    static func parse(_ text: String, path: String, environment: [String: String]) -> DotEnvFile {
        var file = DotEnvFile(path: path)
        var parser = DotEnvParser(text)
        var raw: [(key: String, value: String?, line: Int)] = []
        while let binding = parser.nextBinding() {
            switch binding {
            case .entry(let key, let value, let line): raw.append((key, value, line))
            case .comment: break
            case .error(let line): file.unparsedLines.append(line)
            }
        }
        // resolve_variables(override=True): earlier keys of the file shadow the environment.
        var resolved: [String: String?] = [:]
        for (key, value, line) in raw {
            let result = value.map { interpolate($0, fileValues: resolved, environment: environment) }
            resolved[key] = .some(result)
            file.values[key] = Value(value: result, line: line)
        }
        return file
    }

    /// python-dotenv's POSIX-style `${NAME}` / `${NAME:-default}` interpolation.
    static func interpolate(_ value: String, fileValues: [String: String?], environment: [String: String]) -> String {
        let scalars = Array(value.unicodeScalars)
        var out = String.UnicodeScalarView()
        var i = 0
        while i < scalars.count {
            if scalars[i] == "$", i + 1 < scalars.count, scalars[i + 1] == "{",
               let (name, defaultValue, end) = variable(in: scalars, from: i + 2) {
                let resolved: String
                if let fromFile = fileValues[name] {
                    resolved = fromFile ?? ""  // a key without a value resolves to ""
                } else {
                    resolved = environment[name] ?? defaultValue ?? ""
                }
                out.append(contentsOf: resolved.unicodeScalars)
                i = end
            } else {
                out.append(scalars[i])
                i += 1
            }
        }
        return String(out)
    }

    /// Matches `(?P<name>[^}:]*)(?::-(?P<default>[^}]*))?\}` at `start`; returns the index after `}`.
    private static func variable(in s: [Unicode.Scalar], from start: Int) -> (String, String?, Int)? {
        var j = start
        while j < s.count, s[j] != "}", s[j] != ":" { j += 1 }
        guard j < s.count else { return nil }
        let name = String(String.UnicodeScalarView(s[start..<j]))
        if s[j] == "}" { return (name, nil, j + 1) }
        // s[j] == ":": must be ":-default}"
        guard j + 1 < s.count, s[j + 1] == "-" else { return nil }
        var k = j + 2
        while k < s.count, s[k] != "}" { k += 1 }
        guard k < s.count else { return nil }
        return (name, String(String.UnicodeScalarView(s[(j + 2)..<k])), k + 1)
    }
}

/// python-dotenv's `parser.py`, on Unicode scalars (Python's regexes work on code points).
struct DotEnvParser {
    enum Binding { case entry(key: String, value: String?, line: Int), comment, error(line: Int) }
    private struct Failure: Error {}

    private let s: [Unicode.Scalar]
    private var i = 0
    private let lineOf: [Int]

    init(_ text: String) {
        var scalars = Array(text.unicodeScalars)
        if scalars.first == "\u{FEFF}" { scalars.removeFirst() }
        s = scalars
        var lines: [Int] = []
        lines.reserveCapacity(scalars.count + 1)
        var line = 1
        for (index, scalar) in scalars.enumerated() {
            lines.append(line)
            if scalar == "\n" || (scalar == "\r" && (index + 1 == scalars.count || scalars[index + 1] != "\n")) {
                line += 1
            }
        }
        lines.append(line)
        lineOf = lines
    }

    /// Python's `\s` for str patterns.
    static func isSpace(_ c: Unicode.Scalar) -> Bool {
        c.properties.isWhitespace || (0x1C...0x1F).contains(c.value)
    }
    private static func isNewline(_ c: Unicode.Scalar) -> Bool { c == "\n" || c == "\r" }
    /// `[^\S\r\n]`: white space other than a line break.
    private static func isBlank(_ c: Unicode.Scalar) -> Bool { isSpace(c) && !isNewline(c) }

    private func peek(_ offset: Int = 0) -> Unicode.Scalar? {
        i + offset < s.count ? s[i + offset] : nil
    }
    private func text(_ range: Range<Int>) -> String { String(String.UnicodeScalarView(s[range])) }

    mutating func nextBinding() -> Binding? {
        guard i < s.count else { return nil }
        var line = lineOf[i]
        do {
            while let c = peek(), Self.isSpace(c) { i += 1 }
            guard i < s.count else { return nil }
            line = lineOf[i]
            // (?:export[^\S\r\n]+)?
            if matches("export"), let after = peek(6), Self.isBlank(after) {
                i += 6
                while let c = peek(), Self.isBlank(c) { i += 1 }
            }
            let key = try parseKey()
            while let c = peek(), Self.isBlank(c) { i += 1 }
            var value: String?
            if peek() == "=" {
                i += 1
                var blanks = 0
                while let c = peek(), Self.isBlank(c) { i += 1; blanks += 1 }
                // `KEY= # comment`: white space after = and then # means an empty value.
                value = blanks > 0 && peek() == "#" ? "" : try parseValue()
            }
            // (?:[^\S\r\n]*#[^\r\n]*)?
            var j = i
            while j < s.count, Self.isBlank(s[j]) { j += 1 }
            if j < s.count, s[j] == "#" {
                while j < s.count, !Self.isNewline(s[j]) { j += 1 }
                i = j
            }
            // [^\S\r\n]*(?:\r\n|\n|\r|$)
            while let c = peek(), Self.isBlank(c) { i += 1 }
            if let c = peek() {
                guard Self.isNewline(c) else { throw Failure() }
                i += 1
                if c == "\r", peek() == "\n" { i += 1 }
            }
            guard let key else { return .comment }
            return .entry(key: key, value: value, line: line)
        } catch {
            // [^\r\n]*(?:\r|\n|\r\n)?
            while let c = peek(), !Self.isNewline(c) { i += 1 }
            if peek() != nil { i += 1 }
            return .error(line: line)
        }
    }

    private func matches(_ word: String) -> Bool {
        for (offset, scalar) in word.unicodeScalars.enumerated() where peek(offset) != scalar { return false }
        return true
    }

    private mutating func parseKey() throws -> String? {
        guard let c = peek() else { throw Failure() }
        if c == "#" { return nil }
        if c == "'" {
            // '([^']+)'
            var j = i + 1
            while j < s.count, s[j] != "'" { j += 1 }
            guard j < s.count, j > i + 1 else { throw Failure() }
            let key = text((i + 1)..<j)
            i = j + 1
            return key
        }
        // ([^=\#\s]+)
        var j = i
        while j < s.count, s[j] != "=", s[j] != "#", !Self.isSpace(s[j]) { j += 1 }
        guard j > i else { throw Failure() }
        let key = text(i..<j)
        i = j
        return key
    }

    private mutating func parseValue() throws -> String {
        guard let c = peek() else { return "" }
        switch c {
        case "'": return Self.decodeEscapes(try quoted("'"), escapable: ["\\", "'"])
        case "\"": return Self.decodeEscapes(try quoted("\""), escapable: ["\\", "'", "\"", "a", "b", "f", "n", "r", "t", "v"])
        case "\n", "\r": return ""
        default:
            var j = i
            while j < s.count, !Self.isNewline(s[j]) { j += 1 }
            let part = Array(s[i..<j])
            i = j
            // re.sub(r"\s+#.*", "", part).rstrip()
            var end = part.count
            if let hash = part.indices.first(where: { $0 > 0 && part[$0] == "#" && Self.isSpace(part[$0 - 1]) }) {
                var start = hash - 1
                while start > 0, Self.isSpace(part[start - 1]) { start -= 1 }
                end = start
            }
            while end > 0, Self.isSpace(part[end - 1]) { end -= 1 }
            return String(String.UnicodeScalarView(part[0..<end]))
        }
    }

    /// `Q((?:\\.|[^Q\\])*)Q` (DOTALL): a backslash takes the next character, whatever it is.
    private mutating func quoted(_ quote: Unicode.Scalar) throws -> [Unicode.Scalar] {
        var j = i + 1
        while j < s.count {
            if s[j] == "\\" {
                guard j + 1 < s.count else { throw Failure() }
                j += 2
            } else if s[j] == quote {
                let content = Array(s[(i + 1)..<j])
                i = j + 1
                return content
            } else {
                j += 1
            }
        }
        throw Failure()
    }

    /// `codecs.decode(match, "unicode-escape")` for each two-character escape, left to right.
    static func decodeEscapes(_ value: [Unicode.Scalar], escapable: Set<Unicode.Scalar>) -> String {
        var out = String.UnicodeScalarView()
        var k = 0
        while k < value.count {
            if value[k] == "\\", k + 1 < value.count, escapable.contains(value[k + 1]) {
                switch value[k + 1] {
                case "a": out.append("\u{07}")
                case "b": out.append("\u{08}")
                case "f": out.append("\u{0C}")
                case "n": out.append("\n")
                case "r": out.append("\r")
                case "t": out.append("\t")
                case "v": out.append("\u{0B}")
                default: out.append(value[k + 1])
                }
                k += 2
            } else {
                out.append(value[k])
                k += 1
            }
        }
        return String(out)
    }
}
