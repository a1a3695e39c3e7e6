import ArgumentParser
import Foundation
import StateConfig
import StateJSON
import StateStore

/// Opens one store per context named, once each (two references in one context share it).
final class ContextStores {
    let global: GlobalOptions
    private var opened: [String: Context] = [:]

    init(_ global: GlobalOptions) { self.global = global }

    /// The context of a reference: its own, else `--context` / `MELTANO_STATE_CONTEXT`.
    /// `source` names where `name` was given, for messages (`@prod:`, `--from`).
    func context(_ name: String?, layout: String? = nil, source: String? = nil) throws -> Context {
        let key = (name ?? "\u{0}current") + "\u{0}" + (layout ?? "")
        if let context = opened[key] { return context }
        let context = try Context(global, contextName: name, layout: layout, contextSource: source)
        opened[key] = context
        return context
    }
}

struct DiffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "diff", abstract: "Compare two states as Meltano's next run sees them (merged): two IDs, or one ID in two contexts.",
        discussion: """
            Each side is a state ID in the current configuration, or @CONTEXT:ID for a state ID in a context of the \
            config file (state IDs contain colons, so only a leading @ names a context; @:ID is an ID that starts \
            with @). A state ID with no row compares as {}, as `meltano state get` prints it.

            Prints one line per difference: `~ PATH: OLD -> NEW`, `- PATH: OLD` (only in the first), `+ PATH: NEW` \
            (only in the second); paths as jq writes them, objects compared by key, arrays by index, numbers by their \
            exact text. Nothing when they are the same.

            Exit codes, as diff(1): 0 the same, 1 different, 2 trouble (bad reference, configuration, connection, \
            a state that is not JSON), 4 neither side has the state ID, 130 interrupted.

            Examples:
              meltano-state diff prod:tap-x-to-y dev:tap-x-to-y
              meltano-state diff @prod:prod:tap-x-to-y @staging:prod:tap-x-to-y --json
            """)
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The first state: ID or @CONTEXT:ID.") var first: String
    @Argument(help: "The second state: ID or @CONTEXT:ID.") var second: String
    @Flag(name: .long, help: "A JSON array of changes: {change, path, keys, old, new}.") var json = false

    func run() throws {
        do {
            try compare()
        } catch let code as ExitCode where code.rawValue <= 1 {
            throw code
        } catch {
            // diff(1)'s convention: 1 means "different", so trouble is at least 2.
            let code = Entry.report(error)
            throw ExitCode(code == Exit.failure ? Exit.usage : code)
        }
    }

    private func compare() throws {
        let references = try [first, second].map(StateReference.parse)
        let stores = ContextStores(global)
        var values: [JSONValue] = []
        var missing: [StateReference] = []
        var colorChoice = ColorChoice.auto
        for reference in references {
            let context = try stores.context(reference.context, source: reference.context.map { "the reference @\($0):" })
            colorChoice = context.configuration.color
            guard let record = try context.store.get(reference.stateID) else {
                missing.append(reference)
                values.append(.object(JSONObject()))
                continue
            }
            values.append(try record.merged.get())
        }
        if missing.count == 2 {
            throw CommandFailure("Neither \(references[0]) nor \(references[1]) has a state; check the IDs with `meltano-state list`.", code: Exit.notFound)
        }
        for reference in missing {
            printNote("meltano-state: note: \(reference) has no state; compared as {}.", quiet: global.quiet)
        }
        let changes = JSONDiff.changes(from: values[0], to: values[1])
        if json {
            writeData(JSONDiff.json(changes).prettyText(indent: 2) + "\n", json: true)
        } else if !changes.isEmpty {
            let colored = colorChoice == .always || (colorChoice == .auto && standardOutputIsTerminal)
            var out = ""
            if colored {
                out += "\u{1B}[1m--- \(terminalSafe(references[0].description))\n+++ \(terminalSafe(references[1].description))\u{1B}[0m\n"
            } else {
                out += "--- \(terminalSafe(references[0].description))\n+++ \(terminalSafe(references[1].description))\n"
            }
            for change in changes {
                let line = terminalSafe(JSONDiff.line(change), keepingLineBreaks: false)
                guard colored else { out += line + "\n"; continue }
                let code = change.kind == .added ? "32" : change.kind == .removed ? "31" : "33"
                out += "\u{1B}[\(code)m" + line + "\u{1B}[0m\n"
            }
            writeOut(out)
        }
        if !changes.isEmpty { throw ExitCode(Exit.failure) }
    }
}
