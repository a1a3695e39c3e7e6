import ArgumentParser
import Foundation
import StateConfig
import StateJSON

struct ContextsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "contexts", abstract: "List the contexts (named backends) of the config file; * marks the selected one.",
        discussion: """
            Contexts are defined under `contexts:` in ~/.config/meltano-state/config.yml, each with a uri: or a \
            project_dir: (and environment:), and optionally read_only: and color:. Select one with --context NAME \
            or MELTANO_STATE_CONTEXT. Passwords are never shown.
            """)
    @OptionGroup var global: GlobalOptions
    @Flag(name: .long, help: "JSON array of {name, location, read_only, color, selected, problem}.") var json = false

    func run() throws {
        let catalog = try ConfigurationResolver.contexts(global.inputs())
        if json {
            var items: [JSONValue] = []
            for definition in catalog.contexts {
                var object = JSONObject()
                object["name"] = .string(JSONString(definition.name))
                object["location"] = .string(JSONString(definition.location))
                object["read_only"] = .bool((try? definition.readOnly()) ?? false)
                object["color"] = ((try? definition.color()) ?? nil).map { .string(JSONString($0.rawValue)) } ?? .null
                object["selected"] = .bool(definition.name == catalog.selected)
                object["problem"] = definition.problem.map { .string(JSONString($0.description)) } ?? .null
                items.append(.object(object))
            }
            writeData(JSONValue.array(items).prettyText(indent: 2) + "\n", json: true)
            return
        }
        guard !catalog.contexts.isEmpty else {
            let file = catalog.configFilePath + (catalog.configFileFound ? "" : " (not found)")
            printNote("No contexts are defined in \(file). Add them under contexts: (config.example.yml shows how).", quiet: global.quiet)
            return
        }
        let nameWidth = max(4, catalog.contexts.map(\.name.count).max() ?? 0)
        func pad(_ text: String, _ width: Int) -> String { text + String(repeating: " ", count: max(0, width - text.count)) }
        var out = "  " + pad("NAME", nameWidth) + "  " + pad("MODE", 9) + "  " + pad("COLOR", 7) + "  WHERE\n"
        for definition in catalog.contexts {
            // A context that cannot be used says so here, not only once it is selected.
            let mode = definition.problem != nil ? "BROKEN" : (try? definition.readOnly()) == true ? "read-only" : "writable"
            let color = ((try? definition.color()) ?? nil)?.rawValue ?? "-"
            out += (definition.name == catalog.selected ? "* " : "  ") + pad(definition.name, nameWidth) + "  " + pad(mode, 9)
                + "  " + pad(color, 7) + "  " + definition.location + "\n"
        }
        for definition in catalog.contexts {
            if let problem = definition.problem { out += "\nContext \(definition.name) is broken: \(problem.description)\n" }
        }
        writeHuman(out)
        if let selected = catalog.selected, !catalog.contexts.contains(where: { $0.name == selected }) {
            throw CommandFailure("The selected context \(selected) is not defined; use one of: \(catalog.contexts.map(\.name).joined(separator: ", ")).", code: Exit.usage)
        }
    }
}
