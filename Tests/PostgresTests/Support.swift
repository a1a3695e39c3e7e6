import Postgres
import TestSupport

/// Runs `body` with a connection and a table `t` (`columns`, e.g. "(id int)") in a
/// fresh schema of the test server, which is dropped afterwards.
func withScratchTable(_ columns: String, _ body: (_ connection: Connection, _ table: String, _ schema: String) throws -> Void) throws {
    let connection = try TestDatabase.connect()
    let schema = try TestDatabase.freshSchema(on: connection)
    defer { TestDatabase.dropSchema(schema, on: connection) }
    let table = "\(quoteIdentifier(schema)).t"
    try connection.query("CREATE TABLE \(table) \(columns)")
    try body(connection, table, schema)
}
