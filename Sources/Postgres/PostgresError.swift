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

    public var kind: Kind
    /// Five-character SQLSTATE, when the server sent one.
    public var sqlState: String?
    public var message: String
    public var detail: String?
    public var hint: String?
    /// A plain-language fix for the common cases.
    public var fix: String?

    public init(kind: Kind, sqlState: String? = nil, message: String, detail: String? = nil,
                hint: String? = nil, fix: String? = nil) {
        self.kind = kind
        self.sqlState = sqlState
        self.message = message
        self.detail = detail
        self.hint = hint
        self.fix = fix ?? PostgresError.suggestedFix(kind: kind, sqlState: sqlState, message: message)
    }

    public var isUniqueViolation: Bool { sqlState == "23505" }
    public var isUndefinedTable: Bool { sqlState == "42P01" }
    public var isInsufficientPrivilege: Bool { sqlState == "42501" }
    public var isInvalidSchema: Bool { sqlState == "3F000" }

    /// What to do for the failures users meet most, matched on SQLSTATE first and
    /// libpq's message text where libpq gives no SQLSTATE (connection failures).
    static func suggestedFix(kind: Kind, sqlState: String?, message: String) -> String? {
        let text = message.lowercased()
        switch sqlState {
        case "28P01": return "Check the user and password (MELTANO_STATE_BACKEND_POSTGRES_PASSWORD, PGPASSWORD or ~/.pgpass)."
        case "28000": return "The server's pg_hba.conf has no entry for this user, host and database (or requires SSL); ask the database administrator, or try another sslmode."
        case "3D000": return "Check the database name in state_backend.uri or state_backend.postgres.database."
        case "42501": return "The database role lacks a privilege this action needs; grant it, or use --read-only to browse."
        case "3F000": return "Check the schema setting (state_backend.postgres.schema); the schema must exist."
        case "57014": return "The statement was cancelled (statement_timeout or a cancel request)."
        case "53300": return "The server has no free connection slots; try again later or raise max_connections."
        case "57P01", "57P02", "57P03": return "The server is shutting down or starting up; try again in a moment."
        default: break
        }
        switch kind {
        case .passwordRequired:
            return "Set MELTANO_STATE_BACKEND_POSTGRES_PASSWORD or PGPASSWORD, add the password to ~/.pgpass, or run in a terminal to be asked for it."
        case .connectionLost:
            return "The connection to the server broke; check that the server is up. A write's outcome is unknown: read the state again before retrying."
        case .connectionFailed:
            if text.contains("connection refused") {
                return "Nothing listens at that host and port: check that PostgreSQL is running and the host and port settings."
            }
            if text.contains("could not translate host name") || text.contains("name or service not known") {
                return "The host name does not resolve: check the host setting."
            }
            if text.contains("timeout expired") {
                return "The server did not answer in time: check the host, port, firewall or VPN."
            }
            if text.contains("password authentication failed") {
                return "Check the user and password (MELTANO_STATE_BACKEND_POSTGRES_PASSWORD, PGPASSWORD or ~/.pgpass)."
            }
            if text.contains("does not exist") && text.contains("database") {
                return "Check the database name in state_backend.uri or state_backend.postgres.database."
            }
            if text.contains("no pg_hba.conf entry") {
                return "The server's pg_hba.conf has no entry for this user, host and database (or requires SSL); ask the database administrator, or try another sslmode."
            }
            if let fix = sslFix(text) { return fix }
            if text.contains("no such file or directory") && text.contains("socket") {
                return "No server at that Unix socket: check that PostgreSQL is running, or set the host to an address."
            }
            return nil
        default:
            return nil
        }
    }
}

extension PostgresError {
    /// What to do about libpq's TLS failures, from the words of its message.
    static func sslFix(_ text: String) -> String? {
        if text.contains("does not match host name") {
            return "The server's certificate is not issued for the host name connected to (the message lists the names it holds): connect with one of those names, or use sslmode=verify-ca to check the CA without the host name."
        }
        if text.contains("certificate verify failed") {
            return "The server's certificate is not signed by a CA in sslrootcert: point sslrootcert (PGSSLROOTCERT, or ?sslrootcert= in a postgresql:// URI) at the CA that signed it, or use sslmode=require to encrypt without verifying."
        }
        if text.contains("root certificate file") && text.contains("does not exist") {
            return "sslmode verify-ca and verify-full need the CA certificate that signed the server's: set PGSSLROOTCERT (or ?sslrootcert= in a postgresql:// URI) to its file, or put it at ~/.postgresql/root.crt; sslmode=require encrypts without verifying."
        }
        if text.contains("server does not support ssl") {
            return "The server does not accept SSL connections: use sslmode=prefer (or disable), or turn ssl on in the server's configuration."
        }
        if text.contains("ssl") || text.contains("certificate") {
            return "An SSL problem: check sslmode (disable, prefer, require, verify-ca, verify-full) and sslrootcert (PGSSLROOTCERT)."
        }
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
