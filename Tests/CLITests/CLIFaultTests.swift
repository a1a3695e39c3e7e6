import Foundation
import StateStore
import Testing
import TestSupport

/// The backup journal cannot be written, and the database connection breaks, under
/// the real CLI: the write is refused or reported, rows and locks are left as they
/// were, and the exit code and message say so.
@Suite("CLI faults: the journal unwritable, the connection killed")
struct CLIFaultTests {
    func locks(_ fixture: CLIFixture) throws -> [[String?]] {
        try fixture.admin.query("SELECT state_id, lock_id FROM \(fixture.locksTable) ORDER BY state_id, lock_id").rows
    }

    /// A journal path that cannot be created: its parent is a regular file.
    static func parentIsAFile(_ fixture: CLIFixture) throws -> String {
        let file = fixture.directory + "/not-a-directory"
        try "x".write(toFile: file, atomically: true, encoding: .utf8)
        return file + "/journal.jsonl"
    }

    @Test(arguments: CLIWriteVerb.all.map(\.name))
    func journalUnwritableRefusesTheWrite(_ name: String) throws {
        let verb = try #require(CLIWriteVerb.all.first { $0.name == name })
        let fixture = try CLIFixture(schemaPrefix: "jfault")
        try verb.prepare(fixture)
        let arguments = try verb.arguments(fixture)
        let editor = verb.needsEditor ? try CLIWriteVerb.editor(in: fixture) : [:]
        let journalSize = (try? FileManager.default.attributesOfItem(atPath: fixture.journalPath)[.size] as? Int) ?? 0

        // Refused before the database is touched: a dead lock on what the verb would
        // lock would make it wait (or refuse with exit 3) if it got that far.
        let blocker = verb.waitsForLockOf ?? "a"
        if name != "unlock" {
            try fixture.admin.query("INSERT INTO \(fixture.locksTable) (state_id, lock_id) VALUES ($1, 'dead-holder')", [blocker])
        }
        let before = try fixture.rows(), locksBefore = try locks(fixture)
        var unwritable = [try CLIFaultTests.parentIsAFile(fixture), "/proc/meltano-state-journal.jsonl"]
        if name == "restore" { unwritable = [] }  // it must read its entry from the journal
        for journal in unwritable {
            let start = Date()
            let result = try fixture.run(arguments, stdin: verb.stdin,
                                         extraEnvironment: editor.merging(["MELTANO_STATE_LOCK_TIMEOUT": "30", "MELTANO_STATE_JOURNAL": journal]) { $1 })
            #expect(result.status == 1, "\(name), \(journal): \(result.status) \(result.stderr)")
            #expect(result.stderr.contains("Nothing was changed: the backup journal could not be written"), "\(name): \(result.stderr)")
            #expect(result.stderr.contains(journal), "\(name): the message names the journal: \(result.stderr)")
            #expect(Date().timeIntervalSince(start) < 10, "\(name): refused at once, not after waiting for the lock")
            #expect(try fixture.rows() == before, "\(name), \(journal)")
            #expect(try locks(fixture) == locksBefore, "\(name), \(journal)")
        }
        if name != "unlock" {
            try fixture.admin.query("DELETE FROM \(fixture.locksTable) WHERE lock_id = 'dead-holder'")
        }

        // The disk fills up (/dev/full: ENOSPC) or a file-size limit is reached (EFBIG)
        // while the entry is written: refused before the row is, and our lock released.
        var faults: [(environment: [String: String], limit: Int?)] = [(["MELTANO_STATE_JOURNAL": "/dev/full"], nil)]
        if name == "restore" { faults = [([:], journalSize)] }
        if name == "set" { faults.append(([:], journalSize)) }
        let rowsBefore = try fixture.rows(), locksNow = try locks(fixture)
        for fault in faults {
            var command = arguments
            var executable = CLIFixture.binary
            if let limit = fault.limit {
                command = ["--fsize=\(max(limit, 1))", "--", CLIFixture.binary] + arguments
                executable = "/usr/bin/prlimit"
            }
            let result = try runProcess(executable, command, stdin: verb.stdin.map { Data($0.utf8) },
                                        environment: fixture.environment.merging(editor) { $1 }.merging(fault.environment) { $1 },
                                        currentDirectory: fixture.directory)
            let what = "\(name), \(fault.environment["MELTANO_STATE_JOURNAL"] ?? "size limit")"
            #expect(result.status == 1, "\(what): \(result.status) \(result.stderr)")
            #expect(result.stderr.contains("backup journal could not be written"), "\(what): \(result.stderr)")
            #expect(result.stderr.contains("No space left on device") || result.stderr.contains("File too large"), "\(what): \(result.stderr)")
            #expect(try fixture.rows() == rowsBefore, "\(what)")
            #expect(try locks(fixture) == locksNow, "\(what): no lock of ours is left")
        }
        if let text = FileManager.default.contents(atPath: fixture.journalPath) {
            #expect(text.last == 0x0A || text.isEmpty, "\(name): no torn line left in the journal")
        }
    }

    /// A file-size limit (EFBIG) reached while `import`'s journal batch is being written,
    /// on its own thread while the rows go to the server: the lines written so far are
    /// taken back, the transaction is rolled back, and no lock is left.
    @Test func importJournalFullHalfWayImportsNothing() throws {
        let fixture = try CLIFixture(schemaPrefix: "jbatch")
        try CLIWriteVerb.setTwo(fixture)
        let journalBefore = try Data(contentsOf: URL(fileURLWithPath: fixture.journalPath))
        let rowsBefore = try fixture.rows(), locksBefore = try locks(fixture)
        // 5 000 states journal about 1.5 MB; the limit leaves room for 100 kB of it.
        let input = "{" + (0..<5000).map { #""s\#($0)": {"completed": {"singer_state": {"v": \#($0)}}, "partial": {}}"# }.joined(separator: ", ") + "}"
        let result = try runProcess("/usr/bin/prlimit", ["--fsize=\(journalBefore.count + 100_000)", "--", CLIFixture.binary, "import", "-"],
                                    stdin: Data(input.utf8), environment: fixture.environment, currentDirectory: fixture.directory)
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stderr.contains("backup journal could not be written"), "\(result.stderr)")
        #expect(result.stderr.contains("File too large"), "\(result.stderr)")
        #expect(try fixture.rows() == rowsBefore, "nothing imported")
        #expect(try locks(fixture) == locksBefore, "no lock of ours is left")
        #expect(try Data(contentsOf: URL(fileURLWithPath: fixture.journalPath)) == journalBefore, "the batch's lines were taken back")
    }

    /// The connection is killed while the CLI writes: exit 1, the message says the
    /// connection broke and what may have happened, no lock is left.
    @Test(arguments: ["set", "clear --all", "import", "unlock"])
    func connectionKilledMidWrite(_ name: String) throws {
        let verb = try #require(CLIWriteVerb.all.first { $0.name == name })
        let fixture = try CLIFixture(schemaPrefix: "kill")
        try verb.prepare(fixture)
        let before = try fixture.rows(), locksBefore = try locks(fixture)
        let table = name == "unlock" ? "meltano_state_locks" : "meltano_state"
        try installSlowTrigger(fixture.admin, schema: fixture.schema, table: table)
        let cli = try RunningCLI(fixture, try verb.arguments(fixture), stdin: verb.stdin)
        let backend = try #require(try waitForSleepingBackend(fixture.admin, marker: fixture.schema))
        _ = try fixture.admin.query("SELECT pg_terminate_backend($1::int)", [String(backend)])
        let result = cli.finish()
        #expect(result.status == 1, "\(name): \(result.stderr)")
        #expect(result.stderr.contains("The connection broke while trying to"), "\(name): \(result.stderr)")
        #expect(result.stderr.contains("terminating connection due to administrator command"), "\(name): \(result.stderr)")
        if name == "import" {
            // One transaction, killed before its COMMIT: known to be rolled back.
            #expect(result.stderr.contains("Nothing was imported") && result.stderr.contains("Run the import again"), "\(name): \(result.stderr)")
        } else {
            #expect(result.stderr.contains("may or may not") || result.stderr.contains("or none"), "\(name): \(result.stderr)")
        }
        #expect(!result.stderr.contains("CONTEXT"), "\(name): one readable message: \(result.stderr)")
        try dropSlowTrigger(fixture.admin, schema: fixture.schema, table: table)
        #expect(try fixture.rows() == before, "\(name): the killed statement was rolled back")
        #expect(try locks(fixture) == locksBefore, "\(name): our lock was released after reconnecting")
    }
}
