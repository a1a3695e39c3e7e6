import ArgumentParser
import Foundation
import StateJSON
import StateStore

struct DoctorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "doctor", abstract: "Why is a pipeline stuck, and is it safe to release its lock? A verdict from every piece of evidence, and the command to run next.",
        discussion: """
            Joins the lock (row and age, or the advisory lock's holder session in pg_stat_activity), the latest \
            run of the job in Meltano's system database (database_uri, when it is PostgreSQL; its heartbeat) and \
            the state (partial or not, currently_syncing). With no state ID it checks every one that has a lock, \
            a RUNNING run or a partial state.

            Verdicts and exit codes: HEALTHY 0; SAFE TO RELEASE 1 (with the exact unlock or fail-run command); \
            RUNNING, DO NOT RELEASE 3; DO NOT RELEASE 3 (evidence disagrees: look first); UNKNOWN 5 (says which \
            evidence is missing; also when doctor fails, e.g. cannot connect); STATE UNREADABLE 6 (nothing held, \
            but Meltano's next run cannot read the state). Of several state IDs the most cautious verdict sets the \
            exit code. Bad input is 2, an unknown state ID 4.

            Examples:
              meltano-state doctor
              meltano-state doctor prod:tap-github-to-target-postgres
              meltano-state doctor --json
            """)
    @OptionGroup var global: GlobalOptions
    @Argument(help: "State IDs to diagnose (default: every one with a lock, a RUNNING run or a partial state).") var stateIDs: [String] = []
    @Flag(name: .long, help: "A JSON array, one object per state ID (schema in the README).") var json = false

    func run() throws {
        do {
            try diagnoseAndReport()
        } catch let exit as ExitCode {
            throw exit
        } catch {
            // Exit 1 is SAFE TO RELEASE here: a failure (cannot connect, no tables) that
            // judged nothing must not read as it in a script. It is UNKNOWN (5).
            let code = Entry.report(error)
            if code == Exit.failure {
                printNote("Nothing was judged: exit 5 (UNKNOWN).", quiet: global.quiet)
                throw ExitCode(Verdict.unknown.exitCode)
            }
            throw ExitCode(code)
        }
    }

    private func diagnoseAndReport() throws {
        let context = try Context(global)
        let ids = stateIDs.isEmpty ? try context.store.doctorCandidates() : stateIDs
        let diagnoses = try context.store.diagnose(ids)
        if !stateIDs.isEmpty {
            let unknown = diagnoses.filter { $0.evidence.lock == nil && $0.evidence.state == nil && $0.evidence.runs.latest($0.stateID) == nil }
            if !unknown.isEmpty {
                throw CommandFailure("No state, lock or run for \(unknown.map { quotedID($0.stateID) }.joined(separator: ", ")). `meltano-state list` shows the state IDs that exist.", code: Exit.notFound)
            }
        }
        if json {
            writeData(JSONValue.array(diagnoses.map(\.json)).compactText + "\n", json: true)
        } else if diagnoses.isEmpty {
            printNote("Nothing to diagnose: no lock is held, no run is RUNNING and no state is partial.", quiet: global.quiet)
        } else {
            writeHuman(diagnoses.map(doctorReport).joined(separator: "\n"))
        }
        let code = Verdict.overall(diagnoses.map(\.verdict)).exitCode
        if code != Exit.success { throw ExitCode(code) }
    }
}

/// One state ID's report: its ID, then a line per piece of evidence, the verdict and the
/// next command (the browser's panel shows the same lines).
func doctorReport(_ diagnosis: Diagnosis) -> String {
    var out = displayExcerpt(diagnosis.stateID) + "\n"
    let width = diagnosis.lines.map(\.label.count).max() ?? 0
    for line in diagnosis.lines {
        out += "  " + line.label.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + line.text + "\n"
    }
    return out
}
