import Foundation
import Postgres
import StateJSON
import TestSupport
import Testing

/// The add-on's reference model (scripts/reference/meltano_backend_ref.py) stands in for
/// the real add-on in the fast lock-protocol tests. So that the two cannot drift apart,
/// the same verbs run through the real Meltano 4.4.1 + add-on (each layout) in one schema
/// and through the model in another; their stdout and the rows they leave must be the same
/// bytes.
@Suite("The reference model against the real add-on")
struct ReferenceModelCheckTests {
    enum Layout: String, CaseIterable, Sendable {
        case twoTables = "two-tables"
        case singleTable = "single-table"
        var venv: String { self == .twoTables ? "first-layout" : "later-layout" }
        var table: String { self == .twoTables ? "meltano_state" : "state" }
    }

    /// `meltano state` verbs as a script runs them (`--force` where Meltano prompts).
    static let verbs: [[String]] = [
        ["set", "--force", "dev:tap-a-to-target-b", #"{"singer_state": {"bookmarks": {"orders": {"updated_at": "2026-11-30T00:00:00+00:00", "x": 1.10, "é": "ü😀"}}}}"#],
        ["merge", "dev:tap-a-to-target-b", #"{"singer_state": {"bookmarks": {"orders": {"lsn": 12345678901234567890}, "items": [1, 2e5]}}}"#],
        ["set", "--force", "prod:tap-c-to-target-d", #"{"singer_state": {"n": -0.0, "big": 1e400, "s": "<&>/\u0001"}}"#],
        ["copy", "--force", "dev:tap-a-to-target-b", "dev:copied"],
        ["move", "--force", "prod:tap-c-to-target-d", "prod:moved"],
        ["get", "dev:tap-a-to-target-b"],
        ["get", "prod:moved"],
        ["get", "absent"],
        ["clear", "--force", "dev:copied"],
        ["import", "IMPORT_FILE"],
        ["get", "imported"],
        ["list", "--pattern", "dev:*"],
    ]
    static let importText = #"{"imported": {"completed": {"singer_state": {"z": 1}}, "partial": {"singer_state": {"p": true}}}, "prod:moved": {"completed": {"singer_state": {"m": [1, {"k": null}]}}, "partial": {}}}"#

    @Test(arguments: Layout.allCases)
    func sameVerbsGiveTheSameOutputAndRows(_ layout: Layout) throws {
        let stack = ProcessInfo.processInfo.environment["MELTANO_STATE_REAL_MELTANO"] ?? ""
        let meltano = stack + "/\(layout.venv)/bin/meltano"
        try #require(FileManager.default.isExecutableFile(atPath: meltano),
                     "no real Meltano + add-on at \(meltano): run the tests through scripts/test (scripts/real-meltano install)")
        let admin = try TestDatabase.connect()
        let realSchema = try TestDatabase.freshSchema("real", on: admin)
        let modelSchema = try TestDatabase.freshSchema("model", on: admin)
        let directory = NSTemporaryDirectory() + "meltano-state-refcheck-\(UUID().uuidString)"
        defer {
            TestDatabase.dropSchema(realSchema, on: admin)
            TestDatabase.dropSchema(modelSchema, on: admin)
            try? FileManager.default.removeItem(atPath: directory)
        }
        try FileManager.default.createDirectory(atPath: directory + "/home", withIntermediateDirectories: true)
        let config = try TestDatabase.configuration()
        let (host, port, user, database) = (config.host!, config.port!, config.user!, config.database!)
        let backend = layout == .twoTables
            ? "state_backend:\n  uri: postgres://\(user):x@\(host):\(port)/\(database)/\(realSchema)\n"
            : "state_backend:\n  uri: postgresql://\(user):x@\(host):\(port)/\(database)\n  postgresql:\n    schema: \(realSchema)\n"
        try "default_environment: dev\nproject_id: refcheck\nenvironments:\n- name: dev\n\(backend)"
            .write(toFile: directory + "/meltano.yml", atomically: true, encoding: .utf8)
        try Self.importText.write(toFile: directory + "/import.json", atomically: true, encoding: .utf8)
        let environment = realMeltanoEnvironment(home: directory + "/home")
        var modelArguments = ["--layout", layout.rawValue]
        if layout == .singleTable { modelArguments += ["--table", "state"] }

        for verb in Self.verbs {
            let arguments = verb.map { $0 == "IMPORT_FILE" ? directory + "/import.json" : $0 }
            let real = try runProcess(meltano, ["state"] + arguments, environment: environment, currentDirectory: directory)
            let model = try Reference.run(modelArguments + arguments, schema: modelSchema)
            #expect(real.status == model.status, "\(verb): meltano exit \(real.status), model \(model.status): \(real.stderr.suffix(1500)) \(model.stderr)")
            if verb[0] == "list" {
                // Neither orders `list`.
                #expect(Set(real.stdout.split(separator: "\n")) == Set(model.stdout.split(separator: "\n")), "\(verb)")
            } else {
                #expect(real.stdoutData == model.stdoutData, "\(verb): meltano \(real.stdout) model \(model.stdout)")
            }
        }
        let rows = { (schema: String) in
            try admin.query("SELECT state_id, partial_state, completed_state FROM \(quoteIdentifier(schema)).\(layout.table) ORDER BY state_id").rows
        }
        let realRows = try rows(realSchema), modelRows = try rows(modelSchema)
        // dev:tap-a-to-target-b, imported and prod:moved (dev:copied cleared, prod:tap-c moved away).
        #expect(realRows.map { $0[0] } == ["dev:tap-a-to-target-b", "imported", "prod:moved"], "\(realRows)")
        #expect(realRows == modelRows)
    }
}
