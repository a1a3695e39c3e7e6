import Foundation
import CLibPQ

/// Where and how to connect: typed parameters handed to libpq as keyword/value pairs
/// (`PQconnectdbParams`), so no user value is ever pasted into a conninfo string.
///
/// Anything left `nil` is left to libpq, which keeps everything it gives users for
/// free working: `PGHOST`, `PGPASSWORD`, `~/.pgpass`, `PGSERVICE`, `PGSSLROOTCERT`,
/// Unix sockets, peer and trust authentication.
public struct ConnectionConfiguration: Sendable, Equatable {
    /// A libpq connection URI (`postgresql://…`) or conninfo string. libpq expands it
    /// first; the typed fields below override what it says.
    public var uri: String?
    public var host: String?
    public var port: Int?
    public var user: String?
    /// Never printed: `description` and every error text replace it with `********`.
    public var password: String?
    public var database: String?
    public var sslmode: String?
    /// Further libpq keywords (`sslrootcert`, `options`, `service`, …).
    public var extra: [String: String]
    /// Seconds; libpq's own default is to wait forever, which at 2 a.m. over SSH is
    /// the wrong default.
    public var connectTimeout: Int
    public var applicationName: String
    /// How the fix of a common failure is worded, where the application knows better
    /// than libpq's terms (its own setting names): every error of a connection made with
    /// this configuration carries it. Not part of equality: it is how errors read, not
    /// where or how to connect.
    public var fixWording: [PostgresError.Problem: String]

    public init(uri: String? = nil, host: String? = nil, port: Int? = nil, user: String? = nil,
                password: String? = nil, database: String? = nil, sslmode: String? = nil,
                extra: [String: String] = [:], connectTimeout: Int = 10,
                applicationName: String = "meltano-state", fixWording: [PostgresError.Problem: String] = [:]) {
        self.uri = uri
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.database = database
        self.sslmode = sslmode
        self.extra = extra
        self.connectTimeout = connectTimeout
        self.applicationName = applicationName
        self.fixWording = fixWording
    }

    public static func == (lhs: ConnectionConfiguration, rhs: ConnectionConfiguration) -> Bool {
        lhs.uri == rhs.uri && lhs.host == rhs.host && lhs.port == rhs.port && lhs.user == rhs.user
            && lhs.password == rhs.password && lhs.database == rhs.database && lhs.sslmode == rhs.sslmode
            && lhs.extra == rhs.extra && lhs.connectTimeout == rhs.connectTimeout
            && lhs.applicationName == rhs.applicationName
    }

    /// The keyword/value pairs given to `PQconnectdbParams`, in order. `dbname` carrying
    /// the URI comes first with `expand_dbname`, so later keywords override it.
    public var keywordValues: [(String, String)] {
        var pairs: [(String, String)] = []
        if let uri { pairs.append(("dbname", uri)) }
        for (key, value) in extra.sorted(by: { $0.key < $1.key }) { pairs.append((key, value)) }
        if let host { pairs.append(("host", host)) }
        if let port { pairs.append(("port", String(port))) }
        if let user { pairs.append(("user", user)) }
        if let password { pairs.append(("password", password)) }
        if let database {
            // With expand_dbname, a dbname that looks like a URI or conninfo would be
            // expanded again; only the first dbname is expanded, so this stays literal.
            pairs.append(("dbname", database))
        }
        if let sslmode { pairs.append(("sslmode", sslmode)) }
        pairs.append(("connect_timeout", String(connectTimeout)))
        pairs.append(("application_name", applicationName))
        pairs.append(("client_encoding", "UTF8"))
        return pairs
    }

    /// Secrets to scrub from any text that leaves this module: the password, and the
    /// password inside the URI if one is there.
    var secrets: [String] {
        var found: [String] = []
        if let password, !password.isEmpty { found.append(password) }
        if let uri { found += passwordsInURI(uri) }
        for key in ["password", "sslpassword"] { if let value = extra[key], !value.isEmpty { found.append(value) } }
        return found.sorted { $0.count > $1.count }
    }
}

/// Whether a URI query key names a password (lower-cased): `password`, `sslpassword` and
/// misspellings of them (`passwd`, `PWD`); not `passfile`, the path of a password file.
public func queryKeyNamesPassword(_ key: String) -> Bool {
    key != "passfile" && (key.contains("pass") || key.contains("pwd"))
}

/// Every way a password could appear in the given URI, for the redactor: the user-info
/// password by both rules (literal and percent-decoded), and `password=` parameters.
public func passwordsInURI(_ uri: String) -> [String] {
    var found: [String] = []
    func add(_ value: String?) {
        guard let value, !value.isEmpty else { return }
        found.append(value)
        if let decoded = value.removingPercentEncoding, decoded != value { found.append(decoded) }
    }
    // Scalars, not Characters: a combining mark after `@`, `?`, `&` or `=` would make
    // one Character of it and the delimiter, hiding it (libpq reads bytes).
    guard let schemeEnd = uri.range(of: "://") else { return [] }
    let rest = Array(uri.unicodeScalars[schemeEnd.upperBound...])
    func text(_ scalars: ArraySlice<Unicode.Scalar>) -> String { String(String.UnicodeScalarView(scalars)) }
    for endSet in [Set<Unicode.Scalar>(["/", "?", "#"]), Set<Unicode.Scalar>(["/"])] {
        let end = rest.firstIndex(where: { endSet.contains($0) }) ?? rest.endIndex
        let authority = rest[..<end]
        for at in [authority.lastIndex(of: "@"), authority.firstIndex(of: "@")].compactMap({ $0 }) {
            if let colon = authority[..<at].firstIndex(of: ":") {
                add(text(authority[(colon + 1)..<at]))
            }
        }
    }
    if let question = rest.firstIndex(of: "?") {
        for pair in rest[(question + 1)...].split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            // redactURI masks the same.
            guard parts.count == 2 else { continue }
            if queryKeyNamesPassword(text(parts[0]).lowercased()) { add(text(parts[1])) }
        }
    }
    return found
}


extension ConnectionConfiguration: CustomStringConvertible {
    /// A one-line summary for headers and messages; never the password.
    public var description: String {
        var text = ""
        if let user { text += user + "@" }
        text += host ?? "(default host)"
        if let port { text += ":\(port)" }
        if let database { text += "/" + database }
        if uri != nil && host == nil { text = "URI " + Redactor(secrets: secrets).scrub(uri!) }
        return text
    }
}

/// Replaces every secret in a text with `********`.
public struct Redactor: Sendable {
    public let secrets: [String]
    public init(secrets: [String]) { self.secrets = secrets.filter { !$0.isEmpty }.sorted { $0.count > $1.count } }
    public func scrub(_ text: String) -> String {
        var result = text
        for secret in secrets where result.contains(secret) {
            result = result.replacingOccurrences(of: secret, with: "********")
        }
        return result
    }
}

/// Facts about the libpq this program is linked with.
public enum Libpq {
    /// The connection parameters it knows (`PQconndefaults`): what a postgresql:// URI's
    /// query may name.
    public static let keywords: Set<String> = {
        guard let options = PQconndefaults() else { return [] }
        defer { PQconninfoFree(options) }
        var keywords = Set<String>()
        var option = options
        while let keyword = option.pointee.keyword {
            keywords.insert(String(cString: keyword))
            option += 1
        }
        return keywords
    }()
}
