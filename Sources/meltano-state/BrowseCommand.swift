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
        // Ask for a password here, once, on the main thread: the browser's background
        // workers open their stores with the password typed here and never prompt.
        var factory = StoreFactory(configuration: context.configuration)
        let first = try factory.open(askingPassword: Context.terminalPassword)
        let configuration = factory.configuration
        let opened = factory
        let options = BrowserOptions(
            readOnly: configuration.readOnly, refreshInterval: configuration.refreshInterval,
            staleLockAfter: configuration.staleLockAfter, colorMode: ColorMode(rawValue: configuration.color.rawValue) ?? .auto,
            editor: configuration.editor,
            editorEnvironment: configuration.environmentWithoutSecrets(ProcessInfo.processInfo.environment),
            exitAfterFirstPaint: exitAfterFirstPaint,
            location: configuration.target.description, schema: first.schema, layout: first.layout.rawValue)
        first.close()
        let code = try runBrowser(makeStore: { try opened.open() }, options: options)
        if code != 0 { throw ExitCode(code) }
    }
}
