import Postgres
import StateConfig

/// What a schema holds, for `check`, the TUI header and `layout: auto`.
public struct DetectedLayout: Sendable, Equatable {
    public let layout: StorageLayout
    /// The state table's name (single-table: the table found).
    public let table: String
}

extension StateStore {
    /// Every layout whose tables exist in `schema`. Catalog lookups only: works for a
    /// role that may read nothing else.
    public static func detectLayouts(connection: Connection, schema: String, table: String) throws -> [DetectedLayout] {
        func exists(_ schema: String, _ name: String) throws -> Bool {
            try connection.query("""
                SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p', 'v', 'f')
                """, [schema, name], idempotent: true).rows.count == 1
        }
        var found: [DetectedLayout] = []
        let folded = foldUnquoted(schema)
        let hasTwoTables = try exists(folded, "meltano_state") && exists(folded, "meltano_state_locks")
        if hasTwoTables { found.append(DetectedLayout(layout: .twoTables, table: "meltano_state")) }
        let hasRuns = try exists(schema, "runs")
        if try hasRuns && exists(schema, "state") {
            found.append(DetectedLayout(layout: .systemDB, table: "state"))
        }
        if try exists(schema, table), !(hasRuns && table == "state") {
            found.append(DetectedLayout(layout: .singleTable, table: table))
        } else if try !hasTwoTables && exists(schema, "meltano_state") {
            // Releases between the two add-ons kept `meltano_state` with advisory locks.
            found.append(DetectedLayout(layout: .singleTable, table: "meltano_state"))
        }
        return found
    }

    /// The layout to open: the one asked for, or (auto) the one the configured backend
    /// writes if its tables are there, else the only one found, else the backend's.
    public static func chooseLayout(connection: Connection, schema: String, table: String,
                                    preference: LayoutPreference, implied: LayoutPreference) throws -> (layout: StorageLayout, table: String) {
        if preference != .auto, let layout = StorageLayout(rawValue: preference.rawValue) { return (layout, table) }
        let impliedLayout = StorageLayout(rawValue: implied.rawValue) ?? .twoTables
        // A failed look-up is an error, never a silent guess: opening the backend's
        // default layout on a schema that holds another would show no states, or write
        // beside the ones Meltano reads.
        let found: [DetectedLayout]
        do { found = try detectLayouts(connection: connection, schema: schema, table: table) } catch let error as PostgresError {
            throw StoreError.other("Could not look for Meltano's tables in schema \(StoreError.quoted(schema)) to choose the layout: "
                + "\(error.description) Setting the layout (two-tables, single-table or systemdb) opens one without looking.")
        }
        if let match = found.first(where: { $0.layout == impliedLayout }) { return (match.layout, tableName(match)) }
        if found.count == 1 { return (found[0].layout, tableName(found[0])) }
        return (impliedLayout, table)

        /// Only the single-table layout has a configurable table name.
        func tableName(_ detected: DetectedLayout) -> String { detected.layout == .singleTable ? detected.table : table }
    }

    /// Why writes to a layout `auto` chose must be refused: it is the other add-on's, so
    /// the add-on Meltano is configured with would never read what is written there (the
    /// old add-on's tables under a postgresql:// URI, or the reverse). Nil when they
    /// agree, when the layout was asked for by name, or when Meltano's system database is
    /// one of the two (its runs are Meltano's whichever backend holds the state).
    public static func layoutMismatch(chosen: StorageLayout, preference: LayoutPreference, implied: LayoutPreference) -> String? {
        guard preference == .auto, let impliedLayout = StorageLayout(rawValue: implied.rawValue), impliedLayout != chosen,
              chosen != .systemDB, impliedLayout != .systemDB else { return nil }
        return "the tables found are the \(chosen.rawValue) layout's (\(chosen.tableDescription)), but the configured backend writes the \(impliedLayout.rawValue) layout (\(impliedLayout.tableDescription)), so Meltano would never read a change made here. Reading is fine; to write to these tables anyway, give --layout \(chosen.rawValue); to use Meltano's, give --layout \(impliedLayout.rawValue) (`meltano-state init` creates its tables)."
    }
}
