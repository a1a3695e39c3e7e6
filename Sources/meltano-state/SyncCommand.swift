import ArgumentParser
import Foundation
import StateStore

struct SyncCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sync", abstract: "Copy states from one backend or layout to another (a plan by default; --apply writes).",
        discussion: """
            --from and --to name contexts of the config file (`contexts` lists them); either left out is the current \
            configuration. --layout-from and --layout-to choose the layout on each side, so one database can be \
            upgraded from the add-on's meltano_state tables to the later add-on's single table: \
            `sync --layout-from two-tables --layout-to single-table --apply`.

            Without --apply it prints the plan: per state ID create, overwrite, same, or skip (with the reason). \
            With --apply each ID is written under its lock on both sides (waiting up to lock_timeout; an ID whose \
            lock stays held is skipped and the rest go on), the target's previous row journaled first, with the bytes \
            Meltano writes in the target's layout (an empty part NULL in the add-ons' tables, {} in the system \
            database). Re-running it finds the IDs already synced the same and skips them. Rows only in the target \
            are left alone. `meltano-state restore BATCH` undoes a sync (the batch is printed).

            Exit codes: 0 done, 1 failure or an ID skipped because its source row cannot be written as Meltano \
            would (not JSON), 2 usage, 3 an ID skipped because its lock was held (run it again later), 130 interrupted.
            """)
    @OptionGroup var global: GlobalOptions
    @Option(name: .long, help: ArgumentHelp("The context to read from (default: the current configuration).", valueName: "context"))
    var from: String?
    @Option(name: .long, help: ArgumentHelp("The context to write to (default: the current configuration).", valueName: "context"))
    var to: String?
    @Option(name: .long, help: "Only state IDs matching this glob, e.g. 'prod:*'.")
    var pattern: String?
    @Option(name: .long, help: ArgumentHelp("The source's layout: two-tables, single-table, systemdb.", valueName: "layout"))
    var layoutFrom: String?
    @Option(name: .long, help: ArgumentHelp("The target's layout: two-tables, single-table, systemdb.", valueName: "layout"))
    var layoutTo: String?
    @Flag(name: .long, help: "Write; without it only the plan is printed.")
    var apply = false

    func run() throws {
        let stores = ContextStores(global)
        let source = try stores.context(from, layout: layoutFrom, source: "--from")
        let target = try stores.context(to, layout: layoutTo, source: "--to")
        func describe(_ name: String?, _ context: Context) -> String {
            let store = context.store
            var text = (name.map { "context " + $0 } ?? "the current configuration")
                + " (\(store.layout.rawValue), \(context.configuration.target), schema \(store.schema)"
            if store.layout == .singleTable { text += ", table \(store.stateTableName)" }
            return text + ")"
        }
        printNote("meltano-state: sync from \(describe(from ?? global.context, source)) to \(describe(to ?? global.context, target))", quiet: global.quiet)
        let plan = try StateSync.plan(from: source.store, to: target.store, matching: pattern)
        guard apply else {
            writeHuman(StateSync.render(plan, applied: false))
            return
        }
        let progress = target.progressPrinter
        let (items, batch) = try target.withInterruptHandler(also: [source.store]) {
            try StateSync.apply(plan, from: source.store, to: target.store, progress: progress.map { print in { print("syncing", $0, $1) } })
        }
        writeHuman(StateSync.render(items, applied: true))
        if items.contains(where: { $0.action == .create || $0.action == .overwrite }) {
            var restore = "meltano-state restore"
            if let name = to ?? global.context { restore += " --context \(shellQuote(name))" }
            if let layoutTo { restore += " --layout \(shellQuote(layoutTo))" }
            printNote("meltano-state: journal batch \(batch); `\(restore) \(batch)` puts the previous rows back.", quiet: global.quiet)
        }
        if items.contains(where: \.lockHeld) { throw ExitCode(Exit.lockHeld) }
        if items.contains(where: { $0.action == .skip }) { throw ExitCode(Exit.failure) }
    }
}
