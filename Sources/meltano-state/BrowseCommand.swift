import ArgumentParser
import Foundation
import StateBrowser
import StateConfig
import StateStore
import Terminal

struct BrowseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "tui", abstract: "Browse state IDs, states and live locks in the terminal (the default on a terminal).",
        discussion: "Keys: arrows or j/k, PgUp/PgDn, g/G, Tab, / filter, n/N search, Enter fold, y copy, r refresh, e edit, d clear, c copy, m move, u release lock, H history, b bookmarks, D doctor, : switch context, = diff with another context, ? help, q quit.")
    @OptionGroup var global: GlobalOptions
    @Flag(name: .long, help: "Draw once with data loaded, print the timing to stderr and exit (tests, benchmarks).")
    var exitAfterFirstPaint = false

    func run() throws {
        // The picker (`:`) leaves the browser naming another context: open it there.
        var contextName = global.context
        while true {
            let (code, switchTo) = try browse(in: contextName)
            if let switchTo {
                contextName = switchTo
                continue
            }
            if code != 0 { throw ExitCode(code) }
            return
        }
    }

    private func browse(in contextName: String?) throws -> (code: Int32, switchTo: String?) {
        let context = try Context(global, connect: false, contextName: contextName)
        // Ask for a password here, once, on the main thread: the browser's background
        // workers open their stores with the password typed here and never prompt.
        var factory = StoreFactory(configuration: context.configuration)
        let first = try factory.open(askingPassword: Context.terminalPassword)
        let configuration = factory.configuration
        let opened = factory
        let catalog = try ConfigurationResolver.contexts(global.inputs(context: contextName))
        let choices = catalog.contexts.map { definition in
            ContextChoice(name: definition.name, location: definition.location,
                          readOnly: (try? definition.readOnly()) ?? false, color: (try? definition.color()) ?? nil)
        }
        var options = BrowserOptions(
            readOnly: configuration.readOnly, refreshInterval: configuration.refreshInterval,
            staleLockAfter: configuration.staleLockAfter, colorMode: ColorMode(rawValue: configuration.color.rawValue) ?? .auto,
            editor: configuration.editor,
            editorEnvironment: configuration.environmentWithoutSecrets(ProcessInfo.processInfo.environment),
            exitAfterFirstPaint: exitAfterFirstPaint,
            location: configuration.target.description, schema: first.schema, layout: first.layout.rawValue)
        options.contexts = choices
        options.context = configuration.context.map { selected in
            choices.first { $0.name == selected.name }
                ?? ContextChoice(name: selected.name, location: "", readOnly: configuration.readOnly, color: selected.color)
        }
        // For `D`: each context's configuration, resolved when it is compared with.
        let inputs = Dictionary(uniqueKeysWithValues: choices.map { ($0.name, global.inputs(context: $0.name)) })
        options.openContextStore = { name in
            guard let input = inputs[name] else { throw StoreError.other("There is no context named \(name).") }
            return try StoreFactory(configuration: try ConfigurationResolver.resolve(input)).open()
        }
        first.close()
        return try runBrowserSession(makeStore: { try opened.open() }, options: options)
    }
}
