import Postgres
import StateConfig

/// Builds stores from a resolved configuration: connects (asking for a password when
/// the server wants one and none was configured), finds the schema and chooses the
/// layout. The one way the CLI and the browser open a store.
///
/// The library never reads the terminal: the front end passes the prompt in. A
/// password typed once is kept, so later stores (the browser's workers) need no prompt.
public struct StoreFactory: Sendable {
    /// Asks for a password with the given prompt; nil when it cannot be asked (no
    /// terminal) or the user gave none.
    public typealias PasswordPrompt = (_ prompt: String) -> String?

    /// The configuration the stores are opened with, with the password typed at the
    /// prompt once there was one.
    public private(set) var configuration: ResolvedConfiguration

    public init(configuration: ResolvedConfiguration) {
        self.configuration = configuration
    }

    /// Opens a store, asking `askPassword` when the server wants a password and none was
    /// configured; the password given is kept for later opens.
    public mutating func open(askingPassword askPassword: PasswordPrompt) throws -> StateStore {
        try open(prompt: askPassword)
    }

    /// Opens a store without asking for anything (a background worker must never
    /// prompt): a missing password is an error that says where to set it.
    public func open() throws -> StateStore {
        var factory = self
        return try factory.open(prompt: { _ in nil })
    }

    private mutating func open(prompt: PasswordPrompt) throws -> StateStore {
        let connection: Connection
        do {
            connection = try Connection(configuration.connection)
        } catch let error as PostgresError where error.kind == .passwordRequired {
            guard let password = prompt(configuration.passwordPrompt) else {
                throw StoreError.other(configuration.passwordRequiredMessage())
            }
            guard !password.isEmpty else { throw StoreError.other(configuration.passwordRequiredMessage(promptedInVain: true)) }
            configuration = configuration.withPassword(password)
            do {
                connection = try Connection(configuration.connection)
            } catch let error as PostgresError {
                throw cannotConnect(error)  // a wrong password typed: said as any other failure
            }
        } catch let error as PostgresError {
            throw cannotConnect(error)
        }
        return try open(on: connection)
    }

    private func cannotConnect(_ error: PostgresError) -> StoreError {
        .other("Cannot connect to \(configuration.target): \(configuration.redactor.scrub(error.description))")
    }

    /// The configured schema, else the connection's current one; the configured or
    /// detected layout.
    private func open(on connection: Connection) throws -> StateStore {
        let schema = try configuration.tableSchema
            ?? connection.query("SELECT current_schema()", idempotent: true).scalar
            ?? "public"
        let (layout, table) = try StateStore.chooseLayout(connection: connection, schema: schema, table: configuration.table,
                                                          preference: configuration.layout, implied: configuration.effectiveLayout)
        return StateStore(connection: connection, options: StoreOptions(
            schema: schema, layout: layout, table: table, lockTimeout: configuration.lockTimeout,
            staleLockAfter: configuration.staleLockAfter, readOnly: configuration.readOnly,
            journal: Journal(path: configuration.journalPath), systemDatabase: configuration.systemDatabase,
            schemaOrigin: configuration.schemaOrigin, tableOrigin: configuration.tableOrigin,
            layoutMismatch: StateStore.layoutMismatch(chosen: layout, preference: configuration.layout, implied: configuration.effectiveLayout),
            readOnlyOrigin: configuration.readOnly ? configuration.settingSourceLabel("read_only") : nil))
    }
}
