import Foundation
import Postgres
import StateConfig
import StateJSON

/// How a store is opened.
public struct StoreOptions: Sendable {
    public var schema: String
    public var layout: StorageLayout
    /// The single-table layout's table (the later add-on's `table` setting).
    public var table: String
    /// How long a write waits for a lock another holder has (Meltano: about 30 s).
    public var lockTimeout: Double
    /// Between lock tries (Meltano waits 1 s; we may try faster).
    public var lockRetryInterval: Double
    /// A lock older than this is flagged stale (Meltano's own clean-up uses 5 min).
    public var staleLockAfter: Double
    public var readOnly: Bool
    public var journal: Journal
    /// Delays (seconds) between tries to release our own lock after the connection
    /// broke: the default outlasts a server restart, then the error names the lock.
    public var releaseRetryDelays: [Double]
    /// Meltano's system database beside the state backend (runs, heartbeats): the
    /// evidence of `doctor` and of lock staleness. The systemdb layout reads its own.
    public var systemDatabase: ResolvedConfiguration.SystemDatabase
    /// The schema and table settings as set (`state_backend.postgresql.schema = foo, from
    /// uri (env MELTANO_STATE_BACKEND_URI)`), for messages; nil when not set.
    public var schemaOrigin: String?
    public var tableOrigin: String?
    /// Set when `layout: auto` found another layout than the backend writes: every write
    /// is refused with it (`StateStore.layoutMismatch`).
    public var layoutMismatch: String?
    /// What turned read-only mode on (`flag`, `context prod (…:4)`), for the refusal.
    public var readOnlyOrigin: String?

    public init(schema: String = "public", layout: StorageLayout = .twoTables, table: String = "state",
                lockTimeout: Double = OwnSettings.defaultLockTimeout, lockRetryInterval: Double = 0.1,
                staleLockAfter: Double = OwnSettings.defaultStaleLockAfter,
                readOnly: Bool = false, journal: Journal = Journal(path: Journal.defaultPath()),
                releaseRetryDelays: [Double] = [0, 0.25, 0.5, 1, 1.5, 2],
                systemDatabase: ResolvedConfiguration.SystemDatabase = .unavailable("database_uri (MELTANO_DATABASE_URI) is not set"),
                schemaOrigin: String? = nil, tableOrigin: String? = nil, layoutMismatch: String? = nil, readOnlyOrigin: String? = nil) {
        self.systemDatabase = systemDatabase
        self.readOnlyOrigin = readOnlyOrigin
        self.layoutMismatch = layoutMismatch
        self.schemaOrigin = schemaOrigin
        self.tableOrigin = tableOrigin
        self.schema = schema
        self.layout = layout
        self.table = table
        self.lockTimeout = lockTimeout
        self.lockRetryInterval = lockRetryInterval
        self.staleLockAfter = staleLockAfter
        self.readOnly = readOnly
        self.journal = journal
        self.releaseRetryDelays = releaseRetryDelays
    }
}

/// What `check` prints about the server; nil where it did not say.
public struct ServerInfo: Sendable, Equatable {
    public let version: String?
    public let user: String?
    public let database: String?
    /// The host:port connected to (with several hosts listed, the one libpq chose).
    public let server: String?
    /// That host, and its port (nil when libpq names none), apart.
    public let host: String?
    public let port: String?
    /// Whether that server is a standby in recovery (it takes no writes).
    public let inRecovery: Bool
}

/// Set from any thread (a signal handler's flag, a UI key) to stop a lock wait or a
/// long operation at its next safe point.
public final class CancellationFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var cancelled = false
    public init() {}
    public func cancel() { lock.lock(); cancelled = true; lock.unlock() }
    public func reset() { lock.lock(); cancelled = false; lock.unlock() }
    public var isCancelled: Bool { lock.lock(); defer { lock.unlock() }; return cancelled }
}

/// Meltano's PostgreSQL state backend, in Swift: the one way both front ends read and
/// change state. Same tables, same JSON text, same merge rules and the same lock
/// protocol as the add-on, so it works beside running pipelines; every destructive
/// action journals the previous value first.
///
/// One store owns one connection and runs one statement at a time; give a background
/// task its own store when it must run beside another.
public final class StateStore: @unchecked Sendable {
    /// Only the store sends SQL: front ends get operations, never the connection.
    let connection: Connection
    public let options: StoreOptions
    let tables: Tables
    public let cancellation = CancellationFlag()
    let heldLocks = HeldLockRegistry()
    /// Whether this connection was seen to own its server session (advisory locks need it).
    let sessionPinning = SessionPinning()
    /// The system database beside this store, opened on first use (`runEvidence`).
    let besideRuns = BesideRuns()
    /// `databaseIdentity`, once asked (nil inside: the server would not say).
    private var identity: String??
    /// State IDs of the advisory locks seen (single-table layout).
    let advisoryKeys = AdvisoryKeyCache()

    public init(connection: Connection, options: StoreOptions) {
        self.connection = connection
        self.options = options
        self.tables = Tables(layout: options.layout, schema: options.schema, table: options.table)
    }

    public var layout: StorageLayout { options.layout }
    /// The schema as PostgreSQL names it (after Meltano's lower-casing, two-tables layout).
    public var schema: String { tables.schema }
    public var stateTableName: String { tables.stateName }

    /// user@host:port/database of the connection, for headers and the journal.
    public var location: String { connection.configuration.description }

    /// Which database this is, whatever address or pooler reached it: the cluster's
    /// system identifier (a standby's is its primary's; a clone's is its original's) and
    /// the database's name. Journal entries carry it, so that an entry is never restored
    /// into another database behind the same address (a recreated one, another server).
    /// Asked once, and only outside a transaction (a refusal there would abort it); nil
    /// where the server does not say.
    public var databaseIdentity: String? {
        if let identity { return identity }
        guard connection.isOutsideTransaction else { return nil }
        do {
            let asked = try connection.query("SELECT (SELECT system_identifier::text FROM pg_control_system()) || '/' || current_database()",
                                             idempotent: true).scalar
            identity = .some(asked)
            return asked
        } catch let error as PostgresError where error.sqlState != nil {
            identity = .some(nil)  // the server answered no (not permitted, say): asked once
            return nil
        } catch {
            return nil  // a broken connection, say: asked again next time
        }
    }

    /// host:port of the server the connection is on now (with several hosts listed,
    /// the one libpq chose; it changes when a read reconnects after a failover). Asks
    /// the server nothing; nil when not connected.
    public var connectedServer: String? { connection.connectedServer }

    /// Closes the connection; the store cannot be used afterwards.
    public func close() {
        besideRuns.close()
        connection.close()
    }

    /// Asks the server to cancel the statement running now (`PQcancel`, on a
    /// connection of its own): safe from another thread, e.g. a signal's handler.
    /// Set `cancellation` first, so the store reports the stop as a cancellation.
    public func cancelRunningStatement() { connection.cancel() }

    /// The server's version, the role and the database, as `check` reports them.
    public func serverInfo() throws -> ServerInfo {
        let row = try connection.query("SELECT current_setting('server_version'), current_user, current_database(), pg_is_in_recovery()",
                                       idempotent: true).rows.first ?? []
        let chosen = connection.connectedHostAndPort
        return ServerInfo(version: row.first ?? nil, user: row.count > 1 ? row[1] : nil, database: row.count > 2 ? row[2] : nil,
                          server: connection.connectedServer, host: chosen?.host, port: chosen.flatMap { $0.port.isEmpty ? nil : $0.port },
                          inRecovery: row.count > 3 && row[3] == "t")
    }

    /// Every layout whose tables exist in this store's schema (`check`).
    public func detectLayouts() throws -> [DetectedLayout] {
        try StateStore.detectLayouts(connection: connection, schema: schema, table: options.table)
    }

    // MARK: - Tables

    /// Whether this layout's tables exist (no privilege beyond catalog access needed).
    public func tablesExist() throws -> Bool {
        _ = databaseIdentity  // asked here, before any write's transaction
        return try database("look for the state tables") {
            var names = [tables.state]
            if case let .rows(locks) = tables.locking { names.append(locks) }
            for name in names {
                let found = try connection.query("SELECT to_regclass($1) IS NOT NULL", [name], idempotent: true).scalar
                if found != "t" { return false }
            }
            return true
        }
    }

    public func schemaExists() throws -> Bool {
        try database("look for the schema") {
            try connection.query("SELECT 1 FROM pg_namespace WHERE nspname = $1", [tables.schema], idempotent: true).rows.count == 1
        }
    }

    /// The database's name for messages: the one libpq connected to (a URI's too).
    var databaseForMessages: String { connection.databaseName ?? connection.configuration.database ?? "(default)" }

    /// The schema is missing: named with what chose it.
    var noSchema: StoreError {
        .noSchema(tables.schema, origin: options.schemaOrigin ?? "no schema was configured")
    }

    /// The tables are missing: named with what chose where to look.
    var noTables: StoreError {
        var check = "the schema (\(options.schemaOrigin ?? "no schema was configured"))"
        if layout == .singleTable {
            check = "the table (\(options.tableOrigin ?? "\(StoreError.quoted(options.table)) by default")) and " + check
        }
        return .noTables(schema: tables.schema, database: databaseForMessages, layout: layout, table: options.table, check: check)
    }

    /// Readers call this: a missing table is a clear error, never created.
    public func requireTables() throws {
        if try tablesExist() { return }
        if try !schemaExists() { throw noSchema }
        throw noTables
    }

    /// Creates the tables with the add-on's DDL when missing (`init`, and before a
    /// write). Returns whether anything was created.
    @discardableResult
    public func createTablesIfMissing() throws -> Bool {
        try requireWritable("create the state tables", journaled: false)
        if try tablesExist() { return false }
        if try !schemaExists() { throw noSchema }
        if layout == .systemDB {
            throw StoreError.other("Meltano's system database has no state table here; Meltano's own migrations create it (`meltano install`), not this tool.")
        }
        try database("create the state tables") {
            for statement in tables.createStatements { try connection.query(statement) }
        }
        return true
    }

    /// The refusal of `action` in read-only mode, naming what turned it on.
    public func readOnlyRefusal(_ action: String) -> StoreError {
        .readOnly(action: action, origin: options.readOnlyOrigin)
    }

    /// Refuses a write in read-only mode, and (for writes that journal, i.e. all but
    /// creating the tables) one whose journal cannot be opened: before the database is
    /// touched, so not even Meltano's lock is taken for a write that would be refused.
    func requireWritable(_ action: String, journaled: Bool = true) throws {
        if options.readOnly { throw readOnlyRefusal(action) }
        if let mismatch = options.layoutMismatch { throw StoreError.other("Refusing to \(action): \(mismatch)") }
        if journaled { try options.journal.checkWritable() }
    }

    /// Runs database work, turning a `PostgresError` into a `StoreError` that names the
    /// action.
    @discardableResult
    func database<T>(_ action: String, _ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as PostgresError {
            if error.isUndefinedTable {
                throw noTables
            }
            if error.kind == .cancelled && cancellation.isCancelled {
                throw StoreError.cancelled("stopped while trying to \(action); that statement was rolled back.")
            }
            throw StoreError.database(action: action, error)
        }
    }

    /// Whether a lock of this age is stale: the one rule, for the list's marks and the
    /// locks (a lock of unknown age is not).
    func isStale(lockAge: Double?) -> Bool { (lockAge ?? 0) > options.staleLockAfter }

    // MARK: - Reading

    /// Number of state IDs matching a glob (all when nil).
    public func count(matching glob: String? = nil) throws -> Int {
        try requireTables()
        return try database("count state IDs") {
            var parameters: [String?] = []
            let condition = StateID.matchCondition("state_id", glob: glob) { parameters.append($0); return "$1" }
            let result = try connection.query("SELECT count(*) FROM \(tables.state)" + (condition.map { " WHERE " + $0 } ?? ""),
                                              parameters, idempotent: true)
            return Int(result.scalar ?? "0") ?? 0
        }
    }

    /// One page of state IDs in order, after `after` (keyset pagination: a page deep
    /// in a million IDs costs what the first does).
    public func list(matching glob: String? = nil, after: String? = nil, before: String? = nil,
                     fromEnd: Bool = false, limit: Int = 200) throws -> [StateSummary] {
        try requireTables()
        var conditions: [String] = []
        var parameters: [String?] = []
        if let condition = StateID.matchCondition("s.state_id", glob: glob, value: { parameters.append($0); return "$\(parameters.count)" }) {
            conditions.append(condition)
        }
        if let after {
            parameters.append(after)
            conditions.append("s.state_id > $\(parameters.count)")
        }
        if let before {
            parameters.append(before)
            conditions.append("s.state_id < $\(parameters.count)")
        }
        let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        // Paging backwards (and the last page) reads in reverse and flips it.
        let order = (before != nil || fromEnd) && after == nil ? "DESC" : "ASC"
        parameters.append(String(max(limit, 0)))
        let lockColumns: String
        switch (tables.locking, layout) {
        case let (.rows(locksTable), _):
            lockColumns = """
                , (SELECT EXTRACT(EPOCH FROM (LOCALTIMESTAMP - l.locked_at))::float8 FROM \(locksTable) l WHERE l.state_id = s.state_id) AS lock_age
                """
        case (.advisory, .systemDB):
            lockColumns = ", NULL::float8 AS lock_age"
        case (.advisory, _):
            lockColumns = """
                , (SELECT 0::float8 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
                   AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                   AND ((l.classid::bigint << 32) | l.objid::bigint) = (('x' || substr(md5(s.state_id), 1, 16))::bit(64)::bigint)
                   LIMIT 1) AS lock_age
                """
        }
        // Validity by Python's rules, so by our parser, whatever the server's version:
        // PostgreSQL 16's pg_input_is_valid(…, 'json') refuses NaN and Infinity, which
        // Meltano's json.dumps writes and reads back. Texts up to 256 KiB come with the
        // page; a larger one is checked when it is opened (a page stays cheap to read).
        let texts = """
            , CASE WHEN octet_length(s.partial_state) <= 262144 THEN s.partial_state END,
              CASE WHEN octet_length(s.completed_state) <= 262144 THEN s.completed_state END
            """
        // The page's IDs first, from the index alone (an index-only scan when the table
        // is vacuumed), then their rows: a filter whose first matches sit behind 250 000
        // others at a million IDs reads 250 000 index entries, not 250 000 rows.
        let sql = """
            SELECT s.state_id, s.updated_at::text, EXTRACT(EPOCH FROM (LOCALTIMESTAMP - s.updated_at))::float8
                   \(lockColumns) \(texts)
            FROM (SELECT s.state_id AS id FROM \(tables.state) s \(whereClause)
                  ORDER BY s.state_id \(order) LIMIT $\(parameters.count)) page
            JOIN \(tables.state) s ON s.state_id = page.id
            ORDER BY s.state_id \(order)
            """
        return try database("list state IDs") {
            let result = try connection.query(sql, parameters, idempotent: true, settings: glob == nil ? [:] : Self.parallelFilterScan)
            var rows = result.rows.map { row in
                let valid = [row[4], row[5]].allSatisfy { text in
                    guard var text else { return true }
                    return text.withUTF8 { JSONParser.isValid(UnsafeRawBufferPointer($0)) }
                }
                return StateSummary(stateID: row[0] ?? "", updatedAt: row[1], ageSeconds: row[2].flatMap(Double.init),
                                    isLocked: row[3] != nil,
                                    lockIsStale: row[3] != nil && isStale(lockAge: row[3].flatMap(Double.init)),
                                    isInvalidJSON: !valid)
            }
            if order == "DESC" { rows.reverse() }
            return rows
        }
    }

    /// For a page of IDs matching a filter: no index serves a substring, so the index is
    /// read in order until a page of matches turns up (at 10 M IDs, 2.5 M entries before
    /// the first "stripe"). The planner costs that as if matches were spread evenly and
    /// reads it in one process; with these settings it shares the read between parallel
    /// workers, as many as the server allows (`max_parallel_workers_per_gather`; none
    /// where a DBA set it to 0). About half the time on two cores. Set per statement.
    static let parallelFilterScan: KeyValuePairs<String, String> = [
        "parallel_setup_cost": "0", "parallel_tuple_cost": "0", "min_parallel_index_scan_size": "0",
    ]

    /// How many matching IDs sort before `stateID`: its 0-based position in the list.
    public func position(of stateID: String, matching glob: String? = nil) throws -> Int {
        try requireTables()
        return try database("find the position of '\(stateID)'") {
            var sql = "SELECT count(*) FROM \(tables.state) WHERE state_id < $1"
            var parameters: [String?] = [stateID]
            if let condition = StateID.matchCondition("state_id", glob: glob, value: { parameters.append($0); return "$2" }) {
                sql += " AND " + condition
            }
            return Int(try connection.query(sql, parameters, idempotent: true).scalar ?? "0") ?? 0
        }
    }

    /// The stored texts of a row without parsing them (a 100 MB state is parsed by the
    /// caller, once, into whatever it needs), or nil when there is no row.
    public func getRaw(_ stateID: String) throws -> RowSnapshot? {
        try requireTables()
        return try database("read the state of '\(stateID)'") { try readSnapshot(stateID, idempotent: true) }
    }

    /// The row's texts as stored, not parsed (for the journal of a write that needs no more).
    /// Read in slices (`readSlices`): a plain SELECT of a 100 MB text would hold it three
    /// times (libpq's input buffer, which keeps that size while the connection lives,
    /// its result and the `String`); this holds the bytes and then the `String`.
    func readSnapshot(_ stateID: String, idempotent: Bool = false) throws -> RowSnapshot? {
        var completed: [UInt8] = []
        guard let head = try readSlices(stateID, idempotent: idempotent, completed: { total, offset, slice in
            if completed.isEmpty { completed = [UInt8](repeating: 0, count: total) }
            completed.withUnsafeMutableBytes { out in
                if let base = slice.baseAddress, slice.count > 0 { (out.baseAddress! + offset).copyMemory(from: base, byteCount: slice.count) }
            }
        }) else { return nil }
        return RowSnapshot(partialState: head.partial.map { String(decoding: $0, as: UTF8.self) },
                           completedState: head.completedLength == nil ? nil : String(decoding: consume completed, as: UTF8.self),
                           updatedAt: head.updatedAt)
    }

    /// Every state ID matching a glob, in order (the CLI's `list`).
    public func allStateIDs(matching glob: String? = nil) throws -> [String] {
        try requireTables()
        return try database("list state IDs") {
            var parameters: [String?] = []
            let sql = orderedSelect(columns: "state_id", glob: glob, after: nil, limit: nil) { parameters.append($0); return "$1" }
            return try connection.query(sql, parameters, idempotent: true).rows.map { $0[0] ?? "" }
        }
    }

    /// The row of a state ID, or nil when there is none. Never fails on stored text
    /// that is not JSON: the record carries the raw text and the parse error.
    public func get(_ stateID: String) throws -> StateRecord? {
        try requireTables()
        return try database("read the state of '\(stateID)'") { try readRow(stateID, idempotent: true) }
    }

    func readRow(_ stateID: String, idempotent: Bool = false) throws -> StateRecord? {
        let result = try connection.query(
            "SELECT partial_state, completed_state, updated_at::text, EXTRACT(EPOCH FROM (LOCALTIMESTAMP - updated_at))::float8 FROM \(tables.state) WHERE state_id = $1",
            [stateID], idempotent: idempotent)
        guard let row = result.rows.first else { return nil }
        return StateRecord(stateID: stateID, partial: StatePart(raw: row[0]), completed: StatePart(raw: row[1]),
                           updatedAt: row[2], ageSeconds: row[3].flatMap(Double.init))
    }

    /// The merged view Meltano's `get` prints: {} when there is no row.
    public func view(_ stateID: String) throws -> JSONValue {
        guard let record = try get(stateID) else { return .emptyObject }
        return try record.merged.get()
    }

    /// Every state, in state ID order, for `export`. Rows that cannot be read are
    /// returned apart, with the reason, instead of failing the whole export.
    public func exportAll(progress: ((Int) -> Void)? = nil) throws -> (states: [ExportedState], unreadable: [(String, String)]) {
        try requireTables()
        var states: [ExportedState] = []
        var unreadable: [(String, String)] = []
        var after: String? = nil
        let chunk = 5000
        while true {
            if cancellation.isCancelled { throw StoreError.cancelled("export stopped after \(states.count) states; nothing was written.") }
            let result = try database("export states") {
                if let after {
                    return try connection.query("SELECT state_id, partial_state, completed_state FROM \(tables.state) WHERE state_id > $1 ORDER BY state_id LIMIT \(chunk)", [after], idempotent: true)
                }
                return try connection.query("SELECT state_id, partial_state, completed_state FROM \(tables.state) ORDER BY state_id LIMIT \(chunk)", idempotent: true)
            }
            for row in result.rows {
                let id = row[0] ?? ""
                let partial = StatePart(raw: row[1]), completed = StatePart(raw: row[2])
                if let p = partial.value, let c = completed.value {
                    states.append(ExportedState(stateID: id, completed: c, partial: p))
                } else {
                    unreadable.append((id, (partial.error ?? completed.error)!.description))
                }
            }
            progress?(states.count + unreadable.count)
            guard result.rows.count == chunk, let last = result.rows.last?[0] else { break }
            after = last
        }
        return (states, unreadable)
    }
}
