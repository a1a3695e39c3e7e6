import Foundation
import Postgres
import StateStore
import Testing
import TestSupport

/// `diff A B` with the real binary: two IDs, or one ID in two contexts (two schemas).
@Suite("diff (CLI)")
struct DiffCLITests {
    /// Context `a` is this fixture's schema (also the current configuration); context
    /// `b` a second schema of its own.
    final class TwoSchemas: @unchecked Sendable {
        let fixture: CLIFixture
        let other: String
        init() throws {
            fixture = try CLIFixture(schemaPrefix: "diffa")
            other = try TestDatabase.freshSchema("diffb", on: fixture.admin)
            try fixture.writeConfig("""
                contexts:
                  a:
                    uri: \(try fixture.uri(schema: fixture.schema))
                  b:
                    uri: \(try fixture.uri(schema: other))
                """)
        }
        deinit { TestDatabase.dropSchema(other, on: fixture.admin) }

        func set(_ context: String, _ id: String, _ json: String) throws {
            let result = try fixture.run(["set", "--force", "--context", context, id, json])
            #expect(result.status == 0, "\(result.stderr)")
        }
    }

    @Test func oneIDInTwoContexts() throws {
        let setup = try TwoSchemas()
        let id = "prod:tap-x-to-y"
        try setup.set("a", id, #"{"singer_state": {"bookmarks": {"users": {"v": "2024-01-01"}, "old": 1}}}"#)
        try setup.set("b", id, #"{"singer_state": {"bookmarks": {"users": {"v": "2024-02-01"}, "tap-new": [1]}}}"#)
        let result = try setup.fixture.run(["diff", "@a:\(id)", "@b:\(id)"])
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stdout == """
            --- @a:prod:tap-x-to-y
            +++ @b:prod:tap-x-to-y
            ~ .singer_state.bookmarks.users.v: "2024-01-01" -> "2024-02-01"
            - .singer_state.bookmarks.old: 1
            + .singer_state.bookmarks["tap-new"]: [1]

            """)
        let colored = try setup.fixture.run(["diff", "@a:\(id)", "@b:\(id)"], extraEnvironment: ["MELTANO_STATE_COLOR": "always"])
        #expect(colored.stdout.contains("\u{1B}[33m~ .singer_state.bookmarks.users.v"))
        #expect(colored.stdout.contains("\u{1B}[31m- .singer_state.bookmarks.old: 1\u{1B}[0m"))
        #expect(colored.stdout.contains("\u{1B}[32m+ "))
        let json = try setup.fixture.run(["diff", "--json", "@a:\(id)", "@b:\(id)"])
        #expect(json.status == 1)
        #expect(json.stdout.contains(#""path": ".singer_state.bookmarks.users.v""#))
        #expect(json.stdout.contains(#""change": "removed""#) && json.stdout.contains(#""change": "added""#))
        // The same after a copy: nothing printed, exit 0.
        try setup.set("b", id, #"{"singer_state": {"bookmarks": {"old": 1, "users": {"v": "2024-01-01"}}}}"#)
        let same = try setup.fixture.run(["diff", "@a:\(id)", "@b:\(id)"])
        #expect(same.status == 0, "\(same.stderr)")
        #expect(same.stdout.isEmpty)
        let sameJSON = try setup.fixture.run(["diff", "--json", "@a:\(id)", "@b:\(id)"])
        #expect(sameJSON.status == 0 && sameJSON.stdout == "[]\n")
    }

    @Test func twoIDsOfTheCurrentConfigurationWithColonsInThem() throws {
        let setup = try TwoSchemas()
        // A context named like the ID's environment prefix does not capture the bare ID.
        try setup.set("a", "a:tap-x-to-y", #"{"singer_state": {"n": 1}}"#)
        try setup.set("a", "dev:tap-x-to-y", #"{"singer_state": {"n": 2}}"#)
        let result = try setup.fixture.run(["diff", "a:tap-x-to-y", "dev:tap-x-to-y"])
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stdout.hasSuffix("~ .singer_state.n: 1 -> 2\n"))
    }

    @Test func aMissingSideIsEmptyAndTroubleIsTwoOrMore() throws {
        let setup = try TwoSchemas()
        try setup.set("a", "x", #"{"singer_state": {"n": 1}}"#)
        try setup.fixture.admin.query("CREATE TABLE \(quoteIdentifier(setup.other)).meltano_state (state_id VARCHAR(900) PRIMARY KEY, partial_state TEXT, completed_state TEXT, updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP)")
        let oneMissing = try setup.fixture.run(["diff", "@a:x", "@b:x"])
        #expect(oneMissing.status == 1)
        #expect(oneMissing.stderr.contains("@b:x has no state; compared as {}"))
        #expect(oneMissing.stdout.hasSuffix("- .singer_state: {\"n\": 1}\n"))
        let bothMissing = try setup.fixture.run(["diff", "@a:nope", "@b:nope"])
        #expect(bothMissing.status == 4, "\(bothMissing.stderr)")
        let unknownContext = try setup.fixture.run(["diff", "@c:x", "x"])
        #expect(unknownContext.status == 2)
        #expect(unknownContext.stderr.contains("Use one of: a, b"))
        #expect(unknownContext.stderr.contains("(the reference @c:)") && !unknownContext.stderr.contains("--context"), "\(unknownContext.stderr)")
        let malformed = try setup.fixture.run(["diff", "@a", "x"])
        #expect(malformed.status == 2)
        #expect(malformed.stderr.contains("@CONTEXT:ID"))
        try setup.fixture.admin.query("INSERT INTO \(setup.fixture.stateTable) (state_id, completed_state) VALUES ('broken', '{not json')")
        let unreadable = try setup.fixture.run(["diff", "broken", "x"])
        #expect(unreadable.status == 2)
        #expect(unreadable.stderr.contains("broken"))
    }
}
