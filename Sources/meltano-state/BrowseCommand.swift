import ArgumentParser
import Foundation
import StateStore
import Terminal

struct BrowseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "tui", abstract: "Browse state IDs, states and live locks in the terminal (the default on a terminal).",
        discussion: "Keys: arrows or j/k, PgUp/PgDn, g/G, Tab, / filter, n/N search, Enter fold, y copy, r refresh, e edit, d clear, c copy, m move, u release lock, H history, ? help, q quit.")
    @OptionGroup var global: GlobalOptions
    @Flag(name: .long, help: "Draw once with data loaded, print the timing to stderr and exit (tests, benchmarks).")
    var exitAfterFirstPaint = false

    func run() throws {
        let context = try Context(global, connect: false)
        var configuration = context.configuration
        // Ask for a password here, once, on the main thread: the browser's background
        // workers connect on their own and must never prompt.
        do {
            try Connection(configuration.connection).close()
        } catch let error as PostgresError where error.kind == .passwordRequired {
            guard TerminalPassword.isAvailable, let password = TerminalPassword.read(prompt: configuration.passwordPrompt),
                  !password.isEmpty else {
                throw CommandFailure(configuration.passwordRequiredMessage())
            }
            configuration = configuration.withPassword(password)
        } catch let error as PostgresError {
            throw CommandFailure("Cannot connect to \(configuration.target): \(configuration.redactor.scrub(error.description))")
        }
        let first = try Context.openStore(configuration)
        let resolved = configuration
        let options = BrowserOptions(
            readOnly: configuration.readOnly, refreshInterval: configuration.refreshInterval,
            staleLockAfter: configuration.staleLockAfter, colorMode: ColorMode(rawValue: configuration.color.rawValue) ?? .auto,
            editor: configuration.editor,
            editorEnvironment: configuration.environmentWithoutSecrets(ProcessInfo.processInfo.environment),
            exitAfterFirstPaint: exitAfterFirstPaint,
            location: configuration.target.description, schema: first.schema, layout: first.layout.rawValue)
        first.connection.close()
        let code = try runBrowser(makeStore: { try Context.openStore(resolved) }, options: options)
        if code != 0 { throw ExitCode(code) }
    }
}
