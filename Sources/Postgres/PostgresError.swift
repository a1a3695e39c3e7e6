import Foundation

/// An error from libpq or the server, carrying what the server said (SQLSTATE, message,
/// detail, hint) and, for the common cases, what the user can do about it.
///
/// Every text in it has been scrubbed of the connection's password before it was
/// stored, so printing any part of it is safe.
public struct PostgresError: Error, Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// Could not connect (refused, unknown host, timeout, authentication, …).
        case connectionFailed
        /// The server asked for a password and none was available.
        case passwordRequired
        /// The connection broke while a statement ran: its outcome is unknown.
        case connectionLost
        /// The server rejected the statement (it has a SQLSTATE).
        case server
        /// A value could not be sent (for example a NUL character).
        case invalidInput
        /// The query was cancelled on request.
        case cancelled
    }

    /// The common failures a fix is known for, named without any application's words:
    /// an application that knows its own settings words the fix its way
    /// (`ConnectionConfiguration.fixWording`).
    public enum Problem: String, Sendable, Hashable, CaseIterable {
        case wrongPassword, noHBAEntry, unknownDatabase, insufficientPrivilege, unknownSchema
        case cancelled, tooManyConnections, serverUnavailable, readOnlyServer
        case passwordRequired, connectionLost, connectionRefused, unknownHost, connectTimeout, noSocket
        case sslHostMismatch, sslUntrustedCertificate, sslNoRootCertificate, sslUnsupported, sslClientCertificateRequired, ssl
    }

    public var kind: Kind
    /// Five-character SQLSTATE, when the server sent one.
    public var sqlState: String?
    public var message: String
    public var detail: String?
    public var hint: String?
    /// Which of the common failures this is, when it is one.
    public var problem: Problem?
    /// A plain-language fix for the common cases.
    public var fix: String?

    public init(kind: Kind, sqlState: String? = nil, message: String, detail: String? = nil,
                hint: String? = nil, fix: String? = nil) {
        self.kind = kind
        self.sqlState = sqlState
        self.message = message
        self.detail = detail
        self.hint = hint
        let problem = PostgresError.problem(kind: kind, sqlState: sqlState, message: message)
        self.problem = problem
        self.fix = fix ?? problem.map(PostgresError.libpqFix)
    }

    public var isUniqueViolation: Bool { sqlState == "23505" }
    public var isUndefinedTable: Bool { sqlState == "42P01" }
    public var isInsufficientPrivilege: Bool { sqlState == "42501" }
    public var isInvalidSchema: Bool { sqlState == "3F000" }

    /// This error with the fix worded as `wording` says for its problem (unchanged when
    /// `wording` has nothing for it).
    public func worded(_ wording: [Problem: String]) -> PostgresError {
        guard let problem, let fix = wording[problem] else { return self }
        var copy = self
        copy.fix = fix
        return copy
    }

    /// The failures users meet most, matched on SQLSTATE first and libpq's message text
    /// where libpq gives no SQLSTATE (connection failures).
    static func problem(kind: Kind, sqlState: String?, message: String) -> Problem? {
        let text = message.lowercased()
        switch sqlState {
        case "28P01": return .wrongPassword
        case "28000": return .noHBAEntry
        case "3D000": return .unknownDatabase
        case "42501": return .insufficientPrivilege
        case "3F000": return .unknownSchema
        case "57014": return .cancelled
        case "53300": return .tooManyConnections
        case "25006": return .readOnlyServer
        case "57P01", "57P02", "57P03": return .serverUnavailable
        default: break
        }
        switch kind {
        case .passwordRequired: return .passwordRequired
        case .connectionLost: return .connectionLost
        case .connectionFailed:
            if text.contains("connection refused") { return .connectionRefused }
            if text.contains("could not translate host name") || text.contains("name or service not known") { return .unknownHost }
            if text.contains("timeout expired") { return .connectTimeout }
            if text.contains("password authentication failed") { return .wrongPassword }
            if text.contains("does not exist") && text.contains("database") { return .unknownDatabase }
            if text.contains("no pg_hba.conf entry") { return .noHBAEntry }
            if let problem = sslProblem(text) { return problem }
            if text.contains("no such file or directory") && text.contains("socket") { return .noSocket }
            return nil
        default:
            return nil
        }
    }

    /// What to do, in libpq's terms (its environment variables and files, the server's
    /// settings), naming no application's settings.
    public static func libpqFix(_ problem: Problem) -> String {
        switch problem {
        case .wrongPassword: return "Check the user and password (PGPASSWORD or ~/.pgpass)."
        case .noHBAEntry: return "The server's pg_hba.conf has no entry for this user, host and database (or requires SSL); ask the database administrator, or try another sslmode."
        case .unknownDatabase: return "Check the database name."
        case .insufficientPrivilege: return "The database role lacks a privilege this action needs; grant it."
        case .unknownSchema: return "Check the schema name; the schema must exist."
        case .cancelled: return "The statement was cancelled (statement_timeout or a cancel request)."
        case .readOnlyServer: return "The server takes no writes (a standby, or a read-only session): connect to the primary; with several hosts listed, add target_session_attrs=read-write."
        case .tooManyConnections: return "The server has no free connection slots; try again later or raise max_connections."
        case .serverUnavailable: return "The server is shutting down or starting up; try again in a moment."
        case .passwordRequired: return "Set PGPASSWORD or add the password to ~/.pgpass."
        case .connectionLost: return "The connection to the server broke; check that the server is up. A write's outcome is unknown: read the state again before retrying."
        case .connectionRefused: return "Nothing listens at that host and port: check that PostgreSQL is running and the host and port settings."
        case .unknownHost: return "The host name does not resolve: check the host setting."
        case .connectTimeout: return "The server did not answer in time: check the host, port, firewall or VPN."
        case .noSocket: return "No server at that Unix socket: check that PostgreSQL is running, or set the host to an address."
        case .sslHostMismatch: return "The server's certificate is not issued for the host name connected to (the message lists the names it holds): connect with one of those names, or use sslmode=verify-ca to check the CA without the host name."
        case .sslUntrustedCertificate: return "The server's certificate is not signed by a CA in sslrootcert: point sslrootcert (PGSSLROOTCERT, or ?sslrootcert= in a postgresql:// URI) at the CA that signed it, or use sslmode=require to encrypt without verifying."
        case .sslNoRootCertificate: return "sslmode verify-ca and verify-full need the CA certificate that signed the server's: set PGSSLROOTCERT (or ?sslrootcert= in a postgresql:// URI) to its file, or put it at ~/.postgresql/root.crt; sslmode=require encrypts without verifying."
        case .sslUnsupported: return "The server does not accept SSL connections: use sslmode=prefer (or disable), or turn ssl on in the server's configuration."
        case .sslClientCertificateRequired: return "The server accepts this user only with a client certificate: set sslcert and sslkey (PGSSLCERT and PGSSLKEY, or ?sslcert=…&sslkey=… in a postgresql:// URI) to the certificate issued for this user and its key (a file only you can read)."
        case .ssl: return "An SSL problem: check sslmode (disable, allow, prefer, require, verify-ca, verify-full) and sslrootcert (PGSSLROOTCERT)."
        }
    }
}

extension PostgresError {
    /// Which of libpq's TLS failures this is, from the words of its message.
    static func sslProblem(_ text: String) -> Problem? {
        if text.contains("does not match host name") { return .sslHostMismatch }
        if text.contains("certificate verify failed") { return .sslUntrustedCertificate }
        if text.contains("root certificate file") && text.contains("does not exist") { return .sslNoRootCertificate }
        if text.contains("server does not support ssl") { return .sslUnsupported }
        if text.contains("requires a valid client certificate") { return .sslClientCertificateRequired }
        if text.contains("ssl") || text.contains("certificate") { return .ssl }
        return nil
    }

    /// libpq's text for a connection that broke, as one line: "FATAL:  terminating
    /// connection due to administrator command", its CONTEXT lines and the indented
    /// explanation after "server closed the connection unexpectedly" become
    /// "terminating connection due to administrator command; server closed the
    /// connection unexpectedly".
    static func summarizeConnectionMessage(_ text: String) -> String {
        var parts: [String] = []
        for line in text.split(separator: "\n") {
            if line.hasPrefix("\t") || line.hasPrefix(" ") || line.hasPrefix("CONTEXT:") || line.hasPrefix("PL/pgSQL") { continue }
            var part = String(line)
            for severity in ["FATAL:", "ERROR:", "PANIC:"] where part.hasPrefix(severity) {
                part = String(part.dropFirst(severity.count)).trimmingCharacters(in: .whitespaces)
            }
            if !part.isEmpty && !parts.contains(part) { parts.append(part) }
        }
        return parts.isEmpty ? text : parts.joined(separator: "; ")
    }
}

extension PostgresError: CustomStringConvertible, LocalizedError {
    /// One or more lines: the message with its SQLSTATE, then detail, hint and fix.
    public var description: String {
        var text = message
        if let sqlState { text += " (SQLSTATE \(sqlState))" }
        if let detail, !detail.isEmpty { text += "\nDetail: \(detail)" }
        if let hint, !hint.isEmpty { text += "\nHint: \(hint)" }
        if let fix, !fix.isEmpty { text += "\nFix: \(fix)" }
        return text
    }

    public var errorDescription: String? { description }
}
