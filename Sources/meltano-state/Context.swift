import Foundation
import StateStore

/// What a command works with: the resolved configuration and, when it needs the
/// database, a connected store in the right layout.
final class Context {
    let configuration: ResolvedConfiguration
    let global: GlobalOptions
    private var openedStore: StateStore?

    init(_ global: GlobalOptions, connect: Bool = true) throws {
        self.global = global
        let inputs = ConfigurationInputs.current(flags: global.flagSettings, projectDirectory: global.projectDir,
                                                 environmentName: global.environment, configFile: global.config)
        configuration = try ConfigurationResolver.resolve(inputs)
        if !global.quiet {
            for warning in configuration.warnings { printNote("meltano-state: note: \(warning)") }
        }
        if connect { openedStore = try Context.openStore(configuration) }
    }

    var store: StateStore { openedStore! }
    var journal: Journal { Journal(path: configuration.journalPath) }
    var editor: String { configuration.editor }

    /// Journal entries without connecting (history works with the database down).
    func history(stateID: String?) throws -> [JournalEntry] {
        let all = try journal.entries().entries
        return all.filter { stateID == nil || $0.stateID == stateID }.reversed()
    }

    /// Connects (asking for a password on a terminal when the server wants one and
    /// none was found) and opens the store in the configured or detected layout.
    static func openStore(_ configuration: ResolvedConfiguration) throws -> StateStore {
        var configuration = configuration
        let connection: Connection
        do {
            connection = try Connection(configuration.connection)
        } catch let error as PostgresError where error.kind == .passwordRequired {
            guard TerminalPassword.isAvailable, let password = TerminalPassword.read(prompt: configuration.passwordPrompt),
                  !password.isEmpty else {
                throw CommandFailure(configuration.passwordRequiredMessage())
            }
            configuration = configuration.withPassword(password)
            connection = try Connection(configuration.connection)
        } catch let error as PostgresError {
            throw CommandFailure("Cannot connect to \(configuration.target): \(configuration.redactor.scrub(error.description))")
        }
        let schema = try configuration.tableSchema
            ?? connection.query("SELECT current_schema()", idempotent: true).scalar
            ?? "public"
        let (layout, table) = try StateStore.chooseLayout(connection: connection, schema: schema, table: configuration.table,
                                                          preference: configuration.layout, implied: configuration.effectiveLayout)
        return StateStore(connection: connection, options: StoreOptions(
            schema: schema, layout: layout, table: table, lockTimeout: configuration.lockTimeout,
            staleLockAfter: configuration.staleLockAfter, readOnly: configuration.readOnly,
            journal: Journal(path: configuration.journalPath)))
    }

    /// Progress of long operations on stderr, one line rewritten in place on a terminal.
    var progressPrinter: ((String, Int, Int) -> Void)? {
        guard !global.quiet, isatty(STDERR_FILENO) == 1 else { return nil }
        return { phase, done, total in
            FileHandle.standardError.write(Data("\r\(phase) \(done)/\(total)\u{1B}[K".utf8))
            if done == total { FileHandle.standardError.write(Data("\n".utf8)) }
        }
    }

    /// Runs a long operation with Ctrl-C (and SIGTERM) turned into a cancellation the
    /// store honours at its next safe point: locks released, nothing half-written.
    func withInterruptHandler<T>(_ body: () throws -> T) throws -> T {
        let store = self.store
        let sources = [SIGINT, SIGTERM].map { signalNumber -> DispatchSourceSignal in
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler {
                store.cancellation.cancel()
                store.connection.cancel()
            }
            source.resume()
            return source
        }
        defer {
            for source in sources { source.cancel() }
            signal(SIGINT, SIG_DFL)
            signal(SIGTERM, SIG_DFL)
        }
        return try body()
    }
}
