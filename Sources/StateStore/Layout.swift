import Postgres
import StateConfig

/// Where a database keeps Meltano state: the three layouts users meet.
public enum StorageLayout: String, Sendable, CaseIterable, Codable {
    /// The add-on's first layout (default): `meltano_state` + `meltano_state_locks`,
    /// a lock is a row.
    case twoTables = "two-tables"
    /// The later add-on: one table (default `state`), a lock is a PostgreSQL advisory
    /// lock keyed by the first 8 bytes of MD5(state_id).
    case singleTable = "single-table"
    /// Meltano's own system database: table `state` (empty parts stored as `{}`) and
    /// `runs`.
    case systemDB = "systemdb"

    public var tableDescription: String {
        switch self {
        case .twoTables: return "meltano_state and meltano_state_locks"
        case .singleTable: return "a single state table with advisory locks"
        case .systemDB: return "Meltano's system database tables state and runs"
        }
    }
}

/// How a layout keeps its locks; only `rows` has a locks table, and carries its name.
enum Locking: Sendable {
    /// two-tables: a row per lock in this (qualified, quoted) table, with a `lock_id`.
    case rows(table: String)
    /// single-table and systemdb: PostgreSQL advisory locks keyed by the state ID.
    case advisory
}

/// The qualified names the store's SQL uses, quoted once here.
struct Tables: Sendable {
    let layout: StorageLayout
    /// The schema as PostgreSQL knows it (Meltano's unquoted names folded to lower case).
    let schema: String
    let stateName: String
    let state: String
    let locking: Locking

    init(layout: StorageLayout, schema: String, table: String) {
        self.layout = layout
        switch layout {
        case .twoTables:
            // The add-on pastes the schema into SQL unquoted, so PostgreSQL folds its
            // ASCII letters to lower case: `MySchema` is really `myschema`.
            self.schema = foldUnquoted(schema)
            stateName = "meltano_state"
            state = quoteIdentifier(self.schema) + "." + quoteIdentifier("meltano_state")
            locking = .rows(table: quoteIdentifier(self.schema) + "." + quoteIdentifier("meltano_state_locks"))
        case .singleTable:
            self.schema = schema
            stateName = table
            state = quoteIdentifier(schema) + "." + quoteIdentifier(table)
            locking = .advisory
        case .systemDB:
            self.schema = schema
            stateName = "state"
            state = quoteIdentifier(schema) + "." + quoteIdentifier("state")
            locking = .advisory
        }
    }



    /// The add-on's exact DDL (with quoted names), run only by writers and `init`.
    var createStatements: [String] {
        if layout == .systemDB { return [] }  // Meltano's migrations own these tables; we never create them
        var statements = ["CREATE TABLE IF NOT EXISTS \(state) (state_id VARCHAR(900) PRIMARY KEY, partial_state TEXT, completed_state TEXT, updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP)"]
        if case let .rows(locks) = locking {
            statements.append("CREATE TABLE IF NOT EXISTS \(locks) (state_id VARCHAR(900) PRIMARY KEY, locked_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, lock_id VARCHAR(255))")
        }
        return statements
    }
}
