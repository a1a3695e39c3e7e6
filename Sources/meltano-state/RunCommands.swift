import ArgumentParser
import Foundation
import StateJSON
import StateStore

struct RunsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "runs", abstract: "Meltano's system database: runs still marked RUNNING, stale ones flagged (the \"already running\" kind of stuck pipeline).")
    @OptionGroup var global: GlobalOptions
    @Flag(name: .long, help: "Only stale runs (no heartbeat for 5 minutes, or 24 hours without any).") var stale = false
    @Flag(name: .long, help: "JSON array instead of a table.") var json = false

    func run() throws {
        let context = try Context(global)
        guard context.store.layout == .systemDB else {
            throw CommandFailure("Runs live in Meltano's system database; this store uses the \(context.store.layout.rawValue) layout. Point --uri (or database_uri) at the system database with --layout systemdb.", code: Exit.usage)
        }
        var runs = try context.store.runningRuns()
        if stale { runs = runs.filter(\.isStale) }
        if json {
            let items: [JSONValue] = runs.map { run in
                var object = JSONObject()
                object["id"] = .number(JSONNumber(run.id))
                object["job_name"] = .string(JSONString(run.jobName))
                object["state"] = .string(JSONString(run.state))
                object["run_id"] = run.runID.map { .string(JSONString($0)) } ?? .null
                object["started_at"] = run.startedAt.map { .string(JSONString($0)) } ?? .null
                object["last_heartbeat_at"] = run.lastHeartbeatAt.map { .string(JSONString($0)) } ?? .null
                object["silent_seconds"] = run.silentForSeconds.map { .number(JSONNumber(($0 * 1000).rounded() / 1000)) } ?? .null
                object["stale"] = .bool(run.isStale)
                return .object(object)
            }
            writeData(JSONValue.array(items).compactText + "\n", json: true)
            return
        }
        if runs.isEmpty { printNote(stale ? "No stale runs." : "No runs are marked RUNNING.", quiet: global.quiet); return }
        // Columns aligned as `locks` aligns them (the header once had fixed widths the rows ignored).
        var rows = [["ID", "JOB", "STARTED (UTC)", "LAST HEARTBEAT (UTC)", "SILENT FOR", ""]]
        for run in runs {
            rows.append([String(run.id), displayedID(run.jobName), run.startedAt ?? "-", run.lastHeartbeatAt ?? "never",
                         run.silentForSeconds.map(formatAge) ?? "?", run.isStale ? "STALE" : ""])
        }
        writeHuman(alignedTable(rows))
    }
}

struct FailRunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "fail-run", abstract: "Mark a stale RUNNING run failed, as Meltano's own stale-run handling does (journaled).")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The run's id from `runs`.") var id: Int
    @Flag(name: [.long, .short], help: "Do not ask for confirmation.") var yes = false

    func run() throws {
        let context = try Context(global)
        if context.store.options.readOnly { throw context.store.readOnlyRefusal("mark a run failed") }
        guard let run = try context.store.runningRuns().first(where: { $0.id == id }) else {
            throw CommandFailure("No RUNNING run with id \(id); `meltano-state runs` lists them.", code: Exit.notFound)
        }
        guard run.isStale else {
            throw CommandFailure("Run \(id) (\(run.jobName)) was heard from \(run.silentForSeconds.map(formatAge) ?? "recently") ago: it may still be running. Nothing was changed.")
        }
        try confirm("Mark run \(id) of \(quotedID(run.jobName)) (last heartbeat \(run.lastHeartbeatAt ?? "never")) as FAIL?", assumeYes: yes)
        _ = try context.withInterruptHandler { try context.store.failStaleRun(id: id) }
        printNote("Run \(id) marked FAIL: \(run.staleReason)", quiet: global.quiet)
    }
}
