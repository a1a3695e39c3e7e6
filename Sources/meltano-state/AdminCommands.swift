import ArgumentParser
import Foundation
import StateStore

struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "config", abstract: "Show the effective settings and where each came from (the password as ********).")
    @OptionGroup var global: GlobalOptions
    @Flag(name: .long, help: "JSON instead of a table.") var json = false

    func run() throws {
        let context = try Context(global, connect: false)
        let text = json ? context.configuration.renderJSON() : context.configuration.render()
        // Belt and braces: the renderers redact already.
        let safe = context.configuration.redactor.scrub(text) + (text.hasSuffix("\n") ? "" : "\n")
        if json { writeData(safe, json: true) } else { writeHuman(safe) }
    }
}

struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "check", abstract: "Connect with the configuration; print the server version, the layout and whether the state tables exist.")
    @OptionGroup var global: GlobalOptions

    func run() throws {
        let context = try Context(global)
        let store = context.store
        let server = try store.serverInfo()
        // What libpq chose for what the configuration left to it (a service file, PGHOST).
        var target = context.configuration.target
        if target.host == nil, let host = server.host {
            (target.host, target.port) = (host, server.port)
        }
        if target.database == nil { target.database = server.database }
        var out = "Connected to \(target) as \(server.user ?? "?"): PostgreSQL \(server.version ?? "?")\n"
        // With several hosts listed, which one libpq chose, and whether it takes writes.
        if let chosen = server.server {
            out += "Server: \(chosen), \(server.inRecovery ? "a standby in recovery (read-only: writes are refused)" : "primary (takes writes)")\n"
        }
        out += "Schema: \(store.schema)\n"
        guard try store.schemaExists() else {
            // Neither a Meltano run nor `init` can create the tables there.
            writeHuman(out)
            try store.requireTables()  // throws the schema's own error, naming what chose it
            return
        }
        let found = try store.detectLayouts()
        out += "Layout in use: \(store.layout.rawValue) (\(store.layout.tableDescription))\n"
        if let mismatch = store.options.layoutMismatch { out += "Writes are refused: \(mismatch)\n" }
        if found.isEmpty {
            out += "State tables: missing. A Meltano run with this state backend creates them, or run `meltano-state init`.\n"
        } else {
            for layout in found {
                out += "Found: \(layout.layout.rawValue), table \(layout.table)\(layout.layout == store.layout ? " (in use)" : "")\n"
            }
            if try store.tablesExist() {
                out += "States: \(try store.count()); locks held: \(try store.locks().count)\n"
            } else {
                out += "The tables of the layout in use are missing; choose another with --layout.\n"
            }
        }
        out += "Journal: \(context.configuration.journalPath)\n"
        writeHuman(out)
    }
}

struct InitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "init", abstract: "Create the state tables (the add-on's exact DDL) in a new database; never touches existing ones.")
    @OptionGroup var global: GlobalOptions

    func run() throws {
        let context = try Context(global)
        let created = try context.withInterruptHandler { try context.store.createTablesIfMissing() }
        printNote(created ? "Created the state tables (\(context.store.layout.tableDescription)) in schema '\(context.store.schema)'."
                          : "The state tables already exist in schema '\(context.store.schema)'; nothing changed.", quiet: global.quiet)
    }
}
