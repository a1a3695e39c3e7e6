import CLibPQ
import Foundation

/// One libpq connection.
///
/// Calls are serialised by an internal lock, so a `Connection` can be handed to a
/// background task; it still runs one statement at a time, so give each concurrent
/// task its own connection. `cancel()` may be called from any thread while a
/// statement runs.
public final class Connection: @unchecked Sendable {
    public let configuration: ConnectionConfiguration
    var handle: OpaquePointer?
    let lock = NSLock()
    private let cancelLock = NSLock()
    private var cancelHandle: OpaquePointer?
    private let redactor: Redactor

    /// Opens a connection. Throws `PostgresError` with kind `.passwordRequired` when the
    /// server asks for a password that libpq could not find anywhere.
    public init(_ configuration: ConnectionConfiguration) throws {
        self.configuration = configuration
        self.redactor = Redactor(secrets: configuration.secrets)
        try connect()
    }

    deinit {
        if let cancelHandle { PQfreeCancel(cancelHandle) }
        if let handle { PQfinish(handle) }
    }

    private func connect() throws {
        let pairs = configuration.keywordValues
        for (key, value) in pairs where value.utf8.contains(0) {
            throw PostgresError(kind: .invalidInput, message: "The connection setting \(key) contains a NUL character.")
        }
        let keywords = pairs.map { strdup($0.0) }
        let values = pairs.map { strdup($0.1) }
        defer {
            keywords.forEach { free($0) }
            values.forEach { free($0) }
        }
        var keywordPointers = keywords.map { UnsafePointer($0) } + [nil]
        var valuePointers = values.map { UnsafePointer($0) } + [nil]
        let expand: Int32 = configuration.uri == nil ? 0 : 1
        let conn = keywordPointers.withUnsafeMutableBufferPointer { kp in
            valuePointers.withUnsafeMutableBufferPointer { vp in
                PQconnectdbParams(kp.baseAddress, vp.baseAddress, expand)
            }
        }
        guard let conn else {
            throw PostgresError(kind: .connectionFailed, message: "libpq could not allocate a connection (out of memory).")
        }
        if PQstatus(conn) != CONNECTION_OK {
            let needsPassword = PQconnectionNeedsPassword(conn) == 1
            let message = scrubbed(conn)
            PQfinish(conn)
            throw PostgresError(kind: needsPassword ? .passwordRequired : .connectionFailed,
                                message: message.isEmpty ? "Could not connect." : message).worded(configuration.fixWording)
        }
        Connection.configureSession(conn)
        handle = conn
        refreshCancelHandle()
    }

    /// Once connected (again): notices are not the user's output, and a database in
    /// SQL_ASCII, which holds bytes rather than text, is read as bytes. Asked for UTF8,
    /// the server refuses every result holding a byte that is not UTF-8, so one such
    /// row would fail every listing; `QueryResult` decodes leniently instead.
    static func configureSession(_ conn: OpaquePointer) {
        PQsetNoticeProcessor(conn, { _, _ in }, nil)
        if let encoding = PQparameterStatus(conn, "server_encoding"), String(cString: encoding) == "SQL_ASCII" {
            _ = PQsetClientEncoding(conn, "SQL_ASCII")
        }
    }

    private func refreshCancelHandle() {
        cancelLock.lock()
        defer { cancelLock.unlock() }
        if let cancelHandle { PQfreeCancel(cancelHandle) }
        cancelHandle = handle.flatMap { PQgetCancel($0) }
    }

    func scrubbed(_ conn: OpaquePointer) -> String {
        let raw = String(cString: PQerrorMessage(conn)).trimmingCharacters(in: .whitespacesAndNewlines)
        return redactor.scrub(raw)
    }

    /// Closes the connection; later calls fail with `.connectionLost`.
    public func close() {
        lock.lock()
        defer { lock.unlock() }
        cancelLock.lock()
        if let cancelHandle { PQfreeCancel(cancelHandle) }
        cancelHandle = nil
        cancelLock.unlock()
        if let handle { PQfinish(handle) }
        handle = nil
    }

    public var isConnected: Bool {
        lock.lock()
        defer { lock.unlock() }
        return handle.map { PQstatus($0) == CONNECTION_OK } ?? false
    }

    /// e.g. 150018 for 15.18.
    public var serverVersionNumber: Int {
        lock.lock()
        defer { lock.unlock() }
        return handle.map { Int(PQserverVersion($0)) } ?? 0
    }

    /// The database this connection is to, as libpq resolved it (from a URI, a
    /// service file or PGDATABASE too); nil before the first connection.
    public var databaseName: String? {
        lock.lock()
        defer { lock.unlock() }
        return handle.flatMap { PQdb($0) }.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: strlen($0)), as: UTF8.self) }
    }

    /// Connected, with no transaction block open: a statement that fails here aborts
    /// nothing else.
    public var isOutsideTransaction: Bool {
        lock.lock()
        defer { lock.unlock() }
        return handle.map { PQtransactionStatus($0) == PQTRANS_IDLE } ?? false
    }

    /// The host and port this connection went to: with several hosts listed
    /// (`host=a,b`), the one libpq chose. Nil before the first connection.
    public var connectedServer: String? {
        connectedHostAndPort.map { $0.host + ($0.port.isEmpty ? "" : ":" + $0.port) }
    }

    /// `connectedServer`'s host and port apart (the port may be empty): an IPv6 host
    /// has colons of its own, so the joined text does not split back.
    public var connectedHostAndPort: (host: String, port: String)? {
        lock.lock()
        defer { lock.unlock() }
        return handle.flatMap(Connection.hostAndPort(of:))
    }

    /// host:port of a connection's handle.
    private static func server(of handle: OpaquePointer) -> String? {
        hostAndPort(of: handle).map { $0.host + ($0.port.isEmpty ? "" : ":" + $0.port) }
    }

    private static func hostAndPort(of handle: OpaquePointer) -> (host: String, port: String)? {
        guard let host = PQhost(handle) else { return nil }
        return (String(cString: host), PQport(handle).map { String(cString: $0) } ?? "")
    }

    public var backendPID: Int32 {
        lock.lock()
        defer { lock.unlock() }
        return handle.map { PQbackendPID($0) } ?? 0
    }

    /// Asks the server to cancel the statement running on this connection. Safe from
    /// any thread; does nothing when no statement runs. The request goes over a
    /// connection of its own: one that could not be made (a busy or briefly unreachable
    /// server) is tried again, up to 5 times over 2 s, before the cancel is given up.
    public func cancel() {
        cancelLock.lock()
        defer { cancelLock.unlock() }
        guard let cancelHandle else { return }
        var buffer = [CChar](repeating: 0, count: 256)
        for attempt in 0..<5 {
            if PQcancel(cancelHandle, &buffer, Int32(buffer.count)) == 1 { return }
            if attempt < 4 { usleep(500_000) }
        }
    }

    /// Runs one statement with text parameters (`$1`, `$2`, …); `nil` is SQL NULL.
    ///
    /// - Parameter idempotent: a read that may be re-run: if the connection turns out
    ///   to be broken, it reconnects once and runs it again. Writes pass `false` and
    ///   are never retried blindly; they fail with `.connectionLost`.
    @discardableResult
    public func query(_ sql: String, _ parameters: [String?] = [], idempotent: Bool = false) throws -> QueryResult {
        lock.lock()
        defer { lock.unlock() }
        return try queryLocked(sql, parameters, idempotent: idempotent)
    }

    private func queryLocked(_ sql: String, _ parameters: [String?], idempotent: Bool) throws -> QueryResult {
        do {
            return try run(sql, parameters)
        } catch let error as PostgresError where error.kind == .connectionLost && idempotent {
            try reconnectLocked()
            return try run(sql, parameters)
        } catch var error as PostgresError where error.problem == .readOnlyServer {
            error.fix = readOnlyFix() ?? error.fix
            throw error
        }
    }

    /// Runs one read with planner settings of its own (`SET LOCAL`, in a transaction of
    /// its own, so they end with it: nothing is left on a session a transaction-pooling
    /// PgBouncer hands to someone else). Inside a transaction already open, the settings
    /// would outlive the statement: it runs without them. Retried once on a broken
    /// connection when `idempotent`.
    @discardableResult
    public func query(_ sql: String, _ parameters: [String?] = [], idempotent: Bool = false,
                      settings: KeyValuePairs<String, String>) throws -> QueryResult {
        lock.lock()
        defer { lock.unlock() }
        guard let handle, PQtransactionStatus(handle) == PQTRANS_IDLE, !settings.isEmpty else {
            return try queryLocked(sql, parameters, idempotent: idempotent)
        }
        // One statement for all of them (a statement with parameters is one statement).
        let set = "SELECT " + settings.indices.map { "set_config($\(2 * $0 + 1), $\(2 * $0 + 2), true)" }.joined(separator: ", ")
        let values = settings.flatMap { [$0.key, $0.value] }
        func attempt() throws -> QueryResult {
            do {
                try run("BEGIN READ ONLY", [])
                try run(set, values)
                let result = try run(sql, parameters)
                try run("COMMIT", [])
                return result
            } catch {
                if let handle = self.handle, PQtransactionStatus(handle) != PQTRANS_IDLE { _ = try? run("ROLLBACK", []) }
                throw error
            }
        }
        do {
            return try attempt()
        } catch let error as PostgresError where error.kind == .connectionLost && idempotent {
            try reconnectLocked()
            return try attempt()
        }
    }

    /// The server a write was refused by, and why it takes no writes: a standby in
    /// recovery, or a read-only session. Asked only outside a transaction block (inside
    /// a failed one every statement fails); nil when it cannot be told. Under `lock`.
    private func readOnlyFix() -> String? {
        guard let handle, PQtransactionStatus(handle) == PQTRANS_IDLE,
              let row = try? run("SELECT pg_is_in_recovery(), current_setting('default_transaction_read_only')", []).rows.first,
              row.count == 2 else { return nil }
        let server = Connection.server(of: handle) ?? "?"
        let state = row[0] == "t" ? "is a standby (in recovery): it takes no writes"
            : row[1] == "on" ? "runs this session read-only (default_transaction_read_only = on)" : "refused the write as read-only"
        return "The server connected to (\(server)) \(state). Connect to the primary; with several hosts listed, add target_session_attrs=read-write so libpq picks the one that takes writes."
    }

    /// Runs several statements with no parameters in one round trip (DDL, BEGIN/COMMIT).
    public func execute(_ sql: String) throws {
        try query(sql)
    }

    @discardableResult
    /// Runs `body` inside BEGIN … COMMIT; any error rolls back. Nothing is half-written.
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        try query("BEGIN")
        do {
            let value = try body()
            try query("COMMIT")
            return value
        } catch {
            if isConnected { _ = try? query("ROLLBACK") }
            throw error
        }
    }

    /// Re-establishes a broken connection (after a server restart or a terminated
    /// backend).
    public func reconnect() throws {
        lock.lock()
        defer { lock.unlock() }
        try reconnectLocked()
    }

    func reconnectLocked() throws {
        if let handle {
            PQreset(handle)
            if PQstatus(handle) == CONNECTION_OK {
                Connection.configureSession(handle)
                refreshCancelHandle()
                return
            }
            let message = scrubbed(handle)
            throw PostgresError(kind: .connectionFailed, message: message.isEmpty ? "Could not reconnect." : message)
                .worded(configuration.fixWording)
        }
        try connect()
    }

    /// The open connection, or `.connectionLost` (callers hold the lock).
    func usableHandle() throws -> OpaquePointer {
        guard let handle else {
            throw PostgresError(kind: .connectionLost, message: "The connection is closed.").worded(configuration.fixWording)
        }
        if PQstatus(handle) != CONNECTION_OK {
            throw PostgresError(kind: .connectionLost, message: "The connection to the server was lost.")
                .worded(configuration.fixWording)
        }
        return handle
    }

    /// Text parameters as C strings for libpq (`nil` is SQL NULL), refusing NUL, which
    /// PostgreSQL text cannot hold.
    /// memchr over a native String's bytes (a byte-by-byte `contains` took 6 % of a
    /// merge into a 100 MB state).
    static func containsNUL(_ value: String) -> Bool {
        value.utf8.withContiguousStorageIfAvailable { bytes in
            bytes.count > 0 && memchr(bytes.baseAddress!, 0, bytes.count) != nil
        } ?? value.utf8.contains(0)
    }

    func withParameterPointers<T>(_ parameters: [String?], _ body: (UnsafePointer<UnsafePointer<CChar>?>?) -> T) throws -> T {
        for (index, value) in parameters.enumerated() where value.map(Connection.containsNUL) == true {
            throw PostgresError(kind: .invalidInput,
                                message: "Parameter $\(index + 1) contains a NUL character, which PostgreSQL text cannot hold.")
        }
        // Each string's own NUL-terminated bytes (no copy for a native String): a
        // 100 MB state is not duplicated on its way to libpq.
        var pointers = [UnsafePointer<CChar>?](repeating: nil, count: parameters.count)
        func bind(from index: Int) -> T {
            guard index < parameters.count else { return pointers.withUnsafeBufferPointer { body($0.baseAddress) } }
            guard let value = parameters[index] else { return bind(from: index + 1) }
            return value.withCString { pointer in
                pointers[index] = pointer
                return bind(from: index + 1)
            }
        }
        return bind(from: 0)
    }

    private func run(_ sql: String, _ parameters: [String?]) throws -> QueryResult {
        let handle = try usableHandle()
        let result = try withParameterPointers(parameters) { values in
            PQexecParams(handle, sql, Int32(parameters.count), nil, values, nil, nil, 0)
        }
        guard let result else { throw connectionFailure(handle, otherwise: "The server returned no result.") }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
            return QueryResult(result)
        default:
            let error = makeError(result, handle)
            PQclear(result)
            throw error
        }
    }

    /// libpq gave no result (or could not send): the connection's own message, as a lost
    /// connection unless the connection is still up; `otherwise` when libpq said nothing.
    func connectionFailure(_ handle: OpaquePointer, otherwise fallback: String) -> PostgresError {
        let message = PostgresError.summarizeConnectionMessage(scrubbed(handle))
        return PostgresError(kind: PQstatus(handle) == CONNECTION_OK ? .server : .connectionLost,
                             message: message.isEmpty ? fallback : message).worded(configuration.fixWording)
    }

    func makeError(_ result: OpaquePointer, _ conn: OpaquePointer) -> PostgresError {
        func field(_ code: Int32) -> String? {
            guard let value = PQresultErrorField(result, code) else { return nil }
            return redactor.scrub(String(cString: value))
        }
        let sqlState = field(Int32(MS_PG_DIAG_SQLSTATE))
        let primary = field(Int32(MS_PG_DIAG_MESSAGE_PRIMARY))
        let lost = PQstatus(conn) != CONNECTION_OK
        if lost || sqlState == nil {
            // libpq's own failures (a broken socket, a terminated backend) come without
            // a SQLSTATE, or with 57P01 and a connection that is now bad.
            let message = PostgresError.summarizeConnectionMessage(primary ?? scrubbed(conn))
            return PostgresError(kind: lost ? .connectionLost : .server, sqlState: sqlState,
                                 message: message.isEmpty ? "The connection to the server was lost." : message,
                                 detail: field(Int32(MS_PG_DIAG_MESSAGE_DETAIL))).worded(configuration.fixWording)
        }
        return PostgresError(kind: sqlState == "57014" ? .cancelled : .server, sqlState: sqlState,
                             message: primary ?? "The server rejected the statement.",
                             detail: field(Int32(MS_PG_DIAG_MESSAGE_DETAIL)),
                             hint: field(Int32(MS_PG_DIAG_MESSAGE_HINT))).worded(configuration.fixWording)
    }
}

/// Quotes a schema, table or column name for SQL, whatever it contains: wrapped in
/// double quotes, inner double quotes doubled (PostgreSQL's rule, as
/// `PQescapeIdentifier` does). The one place identifiers become SQL text.
public func quoteIdentifier(_ name: String) -> String {
    "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
}
