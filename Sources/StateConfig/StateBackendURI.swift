import Foundation
import Postgres

/// A problem with a URI, described without quoting any part of it that could hold a
/// password. The resolver adds the setting name and where it was set.
struct URIProblem: Error, Equatable {
    var problem: String
    var fix: String
}

/// The scheme as Python's `urlparse` finds it (Meltano picks the add-on by it): the text
/// before the first `:`, when it is a letter followed by letters, digits, `+`, `-`, `.`;
/// lower-cased.
func uriScheme(_ uri: String) -> String? {
    guard let colon = uri.firstIndex(of: ":") else { return nil }
    let candidate = uri[..<colon]
    guard let first = candidate.unicodeScalars.first, first.isASCII, CharacterSet.letters.contains(first),
          candidate.unicodeScalars.allSatisfy({ $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "+-.".unicodeScalars.contains($0)) })
    else { return nil }
    return candidate.lowercased()
}

/// `state_backend.uri` with the `postgres` scheme, parsed exactly as the first add-on
/// parses it: Python's `urlparse`, *no* percent-decoding.
///
/// - the netloc runs from `//` to the first `/`, `?` or `#`; user info is everything
///   before its *last* `@`, the user runs to the first `:` and the password from there to
///   that last `@` (`postgres://u:p@ss:w@host/db` has password `p@ss:w`; `%40` stays `%40`);
/// - the host is lower-cased (an IPv6 address sits in brackets; a `%zone` keeps its case);
///   the port must be digits, 0-65535;
/// - the path loses its outer slashes and splits on `/`: database, then schema;
/// - a query string and a fragment are ignored by the add-on.
///
/// Where the add-on would crash, misread or silently ignore something this throws or
/// reports it instead: a third path segment, a password cut short by `/`, `?` or `#`,
/// unbalanced brackets, a bad port.
struct AddOnURI: Equatable {
    var username: String?
    var password: String?
    var hostname: String?
    var port: Int?
    var database: String?
    var schema: String?
    /// Ignored by the add-on; reported.
    var query: String?
    var fragment: String?

    static let form = "postgres://USER:PASSWORD@HOST:PORT/DATABASE/SCHEMA"

    static func parse(_ uri: String) throws(URIProblem) -> AddOnURI {
        // Python splits on code points: work on Unicode scalars, never Characters (a
        // combining mark after `?` or `@` would otherwise hide the delimiter, and the
        // query, or a password, would become part of the database name).
        typealias Scalars = ArraySlice<Unicode.Scalar>
        func text(_ scalars: Scalars) -> String { String(String.UnicodeScalarView(scalars)) }
        let all = Array(uri.unicodeScalars)[...]
        guard let schemeEnd = all.firstIndex(of: ":"), uriScheme(uri) == "postgres" else {
            throw URIProblem(problem: "is not a postgres:// URI", fix: "Write it as \(form).")
        }
        var rest = all[(schemeEnd + 1)...]
        guard rest.starts(with: ["/", "/"]) else {
            throw URIProblem(problem: "has no // after postgres:", fix: "Write it as \(form).")
        }
        rest = rest.dropFirst(2)
        let netlocEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? rest.endIndex
        let netloc = rest[..<netlocEnd]
        var remainder = rest[netlocEnd...]
        if remainder.contains("@") {
            throw URIProblem(
                problem: "has an @ after the host part, so the password seems to contain /, ? or #, which end the host part of a postgres:// URI (percent-encoding does not help: the add-on reads it literally)",
                fix: "Take the password out of the URI and set state_backend.postgres.password (or MELTANO_STATE_BACKEND_POSTGRES_PASSWORD) instead.")
        }
        var result = AddOnURI()
        if let hash = remainder.firstIndex(of: "#") {
            result.fragment = text(remainder[(hash + 1)...])
            remainder = remainder[..<hash]
        }
        if let question = remainder.firstIndex(of: "?") {
            result.query = text(remainder[(question + 1)...])
            remainder = remainder[..<question]
        }
        let path = remainder

        if netloc.contains("[") != netloc.contains("]") {
            throw URIProblem(problem: "has an unbalanced [ or ] in its host part (Python: Invalid IPv6 URL)",
                             fix: "Put an IPv6 address in brackets, like postgres://USER:PASSWORD@[::1]:5432/DATABASE/SCHEMA.")
        }
        let userInfo: Scalars?
        let hostInfo: Scalars
        if let at = netloc.lastIndex(of: "@") {
            userInfo = netloc[..<at]
            hostInfo = netloc[(at + 1)...]
        } else {
            userInfo = nil
            hostInfo = netloc
        }
        if let userInfo {
            if let colon = userInfo.firstIndex(of: ":") {
                result.username = text(userInfo[..<colon])
                result.password = text(userInfo[(colon + 1)...])
            } else {
                result.username = text(userInfo)
            }
        }
        let host: Scalars
        let portText: Scalars
        if let open = hostInfo.firstIndex(of: "[") {
            let bracketed = hostInfo[(open + 1)...]
            let close = bracketed.firstIndex(of: "]") ?? bracketed.endIndex
            host = bracketed[..<close]
            let after = close < bracketed.endIndex ? bracketed[(close + 1)...] : []
            portText = after.firstIndex(of: ":").map { after[($0 + 1)...] } ?? []
            if !isIPv6Address(text(host)) {
                throw URIProblem(problem: "has something other than an IPv6 address in brackets",
                                 fix: "Put only an IPv6 address in brackets ([::1]); write host names and IPv4 addresses without them.")
            }
        } else if let colon = hostInfo.firstIndex(of: ":") {
            host = hostInfo[..<colon]
            portText = hostInfo[(colon + 1)...]
        } else {
            host = hostInfo
            portText = []
        }
        if !host.isEmpty {
            // Python lower-cases the host but not an IPv6 zone after %.
            if let percent = host.firstIndex(of: "%") {
                result.hostname = text(host[..<percent]).lowercased() + text(host[percent...])
            } else {
                result.hostname = text(host).lowercased()
            }
        }
        if !portText.isEmpty {
            guard portText.allSatisfy({ ("0"..."9").contains($0) }), let port = Int(text(portText)), port <= 65535 else {
                throw URIProblem(problem: "has a port that is not a number from 0 to 65535",
                                 fix: "Write the port as digits after the host (HOST:5432), or drop it and set state_backend.postgres.port.")
            }
            result.port = port
        }
        var trimmed = path
        while trimmed.first == "/" { trimmed = trimmed.dropFirst() }
        while trimmed.last == "/" { trimmed = trimmed.dropLast() }
        let segments = trimmed.split(separator: "/", omittingEmptySubsequences: false).map(text)
        if segments.count > 2 {
            throw URIProblem(problem: "has \(segments.count) path segments; a postgres:// URI has at most two, /DATABASE/SCHEMA (the add-on would silently ignore the rest)",
                             fix: "Remove the extra segments: \(form).")
        }
        if let first = segments.first, !first.isEmpty { result.database = first }
        if segments.count == 2 { result.schema = segments[1] }
        return result
    }
}

/// A libpq connection URI (`postgresql://` or `postgres://`) parsed the way libpq's
/// `conninfo_uri_parse_options` does, for display and for early, clear errors; libpq
/// itself is handed the URI unchanged.
///
/// `postgresql://[user[:password]@][host][:port][,host[:port]…][/dbname][?key=value&…]`:
/// the user info ends at the *first* `@` before any `/`; IPv6 hosts are in brackets;
/// the database is everything between the first `/` and `?`; every part is
/// percent-decoded; query parameters are libpq keywords (`ssl=true` means
/// `sslmode=require`).
struct LibpqURI: Equatable {
    var user: String?
    var password: String?
    var hosts: [String] = []
    var ports: [String] = []
    var database: String?
    var parameters: [(key: String, value: String)] = []

    static let form = "postgresql://USER:PASSWORD@HOST:PORT/DATABASE?options=-csearch_path%3DSCHEMA"

    static func == (lhs: LibpqURI, rhs: LibpqURI) -> Bool {
        lhs.user == rhs.user && lhs.password == rhs.password && lhs.hosts == rhs.hosts && lhs.ports == rhs.ports
            && lhs.database == rhs.database && lhs.parameters.map(\.key) == rhs.parameters.map(\.key)
            && lhs.parameters.map(\.value) == rhs.parameters.map(\.value)
    }

    func parameter(_ key: String) -> String? { parameters.last(where: { $0.key == key })?.value }

    /// The schema from `options=-c search_path=…`, if any (its first element).
    var searchPathSchema: String? {
        guard let options = parameter("options") else { return nil }
        return LibpqURI.searchPath(inOptions: options)
    }

    static func searchPath(inOptions options: String) -> String? {
        // -csearch_path=X, -c search_path=X, --search_path=X (libpq splits on white space;
        // a backslash escapes a space).
        var words: [String] = []
        var current = ""
        var escape = false
        for character in options {
            if escape { current.append(character); escape = false; continue }
            if character == "\\" { escape = true; continue }
            if character == " " || character == "\t" {
                if !current.isEmpty { words.append(current); current = "" }
                continue
            }
            current.append(character)
        }
        if !current.isEmpty { words.append(current) }
        var found: String?
        var index = 0
        while index < words.count {
            var setting: String?
            let word = words[index]
            if word == "-c", index + 1 < words.count {
                setting = words[index + 1]
                index += 1
            } else if word.hasPrefix("-c") {
                setting = String(word.dropFirst(2))
            } else if word.hasPrefix("--") {
                setting = String(word.dropFirst(2))
            }
            if let setting, let equals = setting.firstIndex(of: "=") {
                let name = setting[..<equals].lowercased().replacingOccurrences(of: "-", with: "_")
                if name == "search_path" {
                    let value = setting[setting.index(after: equals)...]
                    let first = value.split(separator: ",").first.map {
                        $0.trimmingCharacters(in: .whitespaces)
                    } ?? ""
                    found = first.count >= 2 && first.hasPrefix("\"") && first.hasSuffix("\"")
                        ? String(first.dropFirst().dropLast()).replacingOccurrences(of: "\"\"", with: "\"")
                        : first.lowercased()
                }
            }
            index += 1
        }
        return found
    }

    static func parse(_ uri: String, settingPrefix: String) throws(URIProblem) -> LibpqURI {
        let body: Substring
        if uri.hasPrefix("postgresql://") {
            body = uri.dropFirst("postgresql://".count)
        } else if uri.hasPrefix("postgres://") {
            body = uri.dropFirst("postgres://".count)
        } else {
            throw URIProblem(problem: "is not a postgresql:// URI", fix: "Write it as \(form).")
        }
        let s = Array(body.unicodeScalars)
        var result = LibpqURI()
        var p = 0
        // User info: look ahead for @ before any /.
        var q = 0
        while q < s.count, s[q] != "@", s[q] != "/" { q += 1 }
        if q < s.count, s[q] == "@" {
            var userEnd = 0
            while s[userEnd] != ":" && s[userEnd] != "@" { userEnd += 1 }
            let user = try decode(s[0..<userEnd], what: "user name", settingPrefix: settingPrefix)
            if !user.isEmpty { result.user = user }
            if s[userEnd] == ":" {
                let password = try decode(s[(userEnd + 1)..<q], what: "password", settingPrefix: settingPrefix)
                if !password.isEmpty { result.password = password }
            }
            p = q + 1
        }
        // Another @ before the path or query: an @ in the password not written %40.
        // libpq would take the rest of the password for the host name and print it in
        // its error, so it is refused here, without echoing any of it.
        var authorityEnd = p
        while authorityEnd < s.count, s[authorityEnd] != "/", s[authorityEnd] != "?" { authorityEnd += 1 }
        if s[p..<authorityEnd].contains("@") {
            throw URIProblem(problem: "has more than one @ before its host: an @ inside the user name or password must be written %40 (libpq ends the password at the first @ and would take the rest for the host name)",
                             fix: "Percent-encode the @ in the password as %40, or leave the password out of the URI and set \(settingPrefix).password instead.")
        }
        // Hosts and ports.
        var prev: Unicode.Scalar? = nil
        var hosts: [String] = []
        var ports: [String] = []
        while true {
            var host: String
            if p < s.count, s[p] == "[" {
                let start = p + 1
                var end = start
                while end < s.count, s[end] != "]" { end += 1 }
                guard end < s.count else {
                    throw URIProblem(problem: "has a [ without the matching ] around an IPv6 host address",
                                     fix: "Close the bracket: postgresql://USER@[::1]:5432/DATABASE.")
                }
                guard end > start else {
                    throw URIProblem(problem: "has an empty IPv6 host address []", fix: "Put the address in the brackets, or drop them.")
                }
                host = try decode(s[start..<end], what: "host", settingPrefix: settingPrefix)
                p = end + 1
                if p < s.count, !":/?,".unicodeScalars.contains(s[p]) {
                    throw URIProblem(problem: "has an unexpected character after the ] of an IPv6 host address (expected :, / or ?)",
                                     fix: "Write the port after the bracket: [::1]:5432.")
                }
            } else {
                let start = p
                while p < s.count, !":/?,".unicodeScalars.contains(s[p]) { p += 1 }
                host = try decode(s[start..<p], what: "host", settingPrefix: settingPrefix)
            }
            prev = p < s.count ? s[p] : nil
            var port = ""
            if prev == ":" {
                p += 1
                let start = p
                while p < s.count, !"/?,".unicodeScalars.contains(s[p]) { p += 1 }
                port = try decode(s[start..<p], what: "port", settingPrefix: settingPrefix)
                prev = p < s.count ? s[p] : nil
            }
            hosts.append(host)
            ports.append(port)
            if prev != "," { break }
            p += 1
        }
        if hosts.contains(where: { !$0.isEmpty }) { result.hosts = hosts }
        if ports.contains(where: { !$0.isEmpty }) {
            result.ports = ports
            for port in ports where !port.isEmpty {
                guard port.allSatisfy({ $0.isASCII && $0.isNumber }), let number = Int(port), (1...65535).contains(number) else {
                    throw URIProblem(problem: "has a port that is not a number from 1 to 65535",
                                     fix: "Write the port as digits after the host (HOST:5432), or drop it and set \(settingPrefix).port.")
                }
            }
        }
        if let last = prev, last != "?" {
            // prev == "/": the database runs to ?.
            p += 1
            let start = p
            while p < s.count, s[p] != "?" { p += 1 }
            let database = try decode(s[start..<p], what: "database name", settingPrefix: settingPrefix)
            if database.contains("/") {
                throw URIProblem(problem: "has a / in its database name; a postgresql:// URI has no schema segment (libpq would look for a database named with the slash)",
                                 fix: "Give the schema with ?options=-csearch_path%3DSCHEMA or \(settingPrefix).schema: \(form).")
            }
            if !database.isEmpty { result.database = database }
            prev = p < s.count ? s[p] : nil
        }
        if prev != nil {
            p += 1
            let query = s[min(p, s.count)...]
            for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
                let parts = pair.split(separator: "=", maxSplits: .max, omittingEmptySubsequences: false)
                guard parts.count == 2 else {
                    throw URIProblem(problem: parts.count < 2 ? "has a query parameter without =" : "has a query parameter with more than one =",
                                     fix: "Write query parameters as key=value&key=value; percent-encode = inside a value as %3D.")
                }
                let key = try decode(parts[0], what: "query parameter name", settingPrefix: settingPrefix)
                if key != "ssl", !Libpq.keywords.isEmpty, !Libpq.keywords.contains(key) {
                    // libpq would refuse it when connecting, in words that read like an SSL
                    // problem; the name only, never the value (it may be a password).
                    let near = Libpq.keywords.filter { editDistance($0, key) <= 2 }.sorted()
                    throw URIProblem(problem: "has a query parameter libpq does not know: \(key)\(near.isEmpty ? "" : " (did you mean \(near.joined(separator: " or "))?)")",
                                     fix: "Use libpq's connection parameters (sslmode, sslrootcert, options, application_name, target_session_attrs, …), or drop it.")
                }
                let value = try decode(parts[1], what: "query parameter value", settingPrefix: settingPrefix)
                if key == "ssl" && value == "true" {
                    result.parameters.append(("sslmode", "require"))
                } else {
                    result.parameters.append((key, value))
                }
            }
        }
        return result
    }

    /// libpq's `conninfo_uri_decode`: `%XX` to a byte; anything else after % is an error,
    /// and so is `%00`.
    private static func decode(_ scalars: ArraySlice<Unicode.Scalar>, what: String, settingPrefix: String) throws(URIProblem) -> String {
        var bytes: [UInt8] = []
        var k = scalars.startIndex
        while k < scalars.endIndex {
            let c = scalars[k]
            if c == "%" {
                guard k + 2 < scalars.endIndex, let high = hexValue(scalars[k + 1]), let low = hexValue(scalars[k + 2]) else {
                    throw URIProblem(problem: "has an invalid percent-encoded character in its \(what) (% must be followed by two hex digits)",
                                     fix: "Write a literal % as %25.")
                }
                let byte = high * 16 + low
                if byte == 0 {
                    throw URIProblem(problem: "has %00 in its \(what), which libpq forbids", fix: "Remove the %00.")
                }
                bytes.append(byte)
                k += 3
            } else {
                bytes.append(contentsOf: Array(String(c).utf8))
                k += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func hexValue(_ c: Unicode.Scalar) -> UInt8? {
        switch c {
        case "0"..."9": return UInt8(c.value - 48)
        case "a"..."f": return UInt8(c.value - 87)
        case "A"..."F": return UInt8(c.value - 55)
        default: return nil
        }
    }
}

/// Whether `text` (without brackets, perhaps with a `%zone`) is an IPv6 address.
func isIPv6Address(_ text: String) -> Bool {
    let address = text.split(separator: "%", maxSplits: 1).first.map(String.init) ?? ""
    var storage = in6_addr()
    return address.withCString { inet_pton(AF_INET6, $0, &storage) } == 1
}

/// The URI with its password (in the user info, and in a `password=` query parameter)
/// replaced by `********`. `postgres://` follows the add-on's rule (password up to the
/// last `@` of the host part), every other scheme libpq's (up to the first `@` before
/// any `/`).
func redactURI(_ uri: String) -> String {
    // Scalars, not Characters, as the parsers read it: a combining mark after `@` or
    // `?` makes one Character of the two, and the delimiter would not be found.
    guard let schemeEnd = uri.range(of: "://") else { return uri }
    let prefix = String(uri.unicodeScalars[..<schemeEnd.upperBound])
    var rest = uri.unicodeScalars[schemeEnd.upperBound...].map { $0 }
    let addOnRule = uriScheme(uri) == "postgres"
    let authorityEnd: Int
    if addOnRule {
        authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? rest.endIndex
    } else {
        authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
    }
    let authority = rest[..<authorityEnd]
    // The last @, for both rules: libpq ends the password at the first one, but a second
    // @ (an unencoded @ in the password) makes the rest of the password look like the
    // host, and that must not show either. The parser refuses such a URI.
    let at = authority.lastIndex(of: "@")
    if let at, let colon = authority[..<at].firstIndex(of: ":") {
        rest.replaceSubrange((colon + 1)..<at, with: "********".unicodeScalars)
    }
    // password=… in the query.
    if let question = rest.firstIndex(of: "?") {
        let query = rest[(question + 1)...]
        let pairs = query.split(separator: "&", omittingEmptySubsequences: false).map { pair -> [Unicode.Scalar] in
            let lower = String(String.UnicodeScalarView(pair)).lowercased()
            let key = lower.components(separatedBy: "=")[0].components(separatedBy: "%3d")[0]
            if queryKeyNamesPassword(key) {
                let equals = pair.firstIndex(of: "=") ?? (pair.startIndex + min(pair.count, key.unicodeScalars.count + 3) - 1)
                return Array(pair[...equals]) + Array("********".unicodeScalars)
            }
            return Array(pair)
        }
        rest = Array(rest[...question]) + Array(pairs.joined(separator: ["&"]))
    }
    return prefix + String(String.UnicodeScalarView(rest))
}

/// Levenshtein distance, for "did you mean" (short names only).
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a.unicodeScalars), b = Array(b.unicodeScalars)
    if a.isEmpty || b.isEmpty { return max(a.count, b.count) }
    var previous = Array(0...b.count)
    for i in 1...a.count {
        var current = [i] + Array(repeating: 0, count: b.count)
        for j in 1...b.count {
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        previous = current
    }
    return previous[b.count]
}
