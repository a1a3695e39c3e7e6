import Foundation
import Postgres
import StateJSON
import StateStore
import TestSupport
import Testing

/// State IDs, stored JSON, lock IDs and schema names chosen by someone hostile (or by a
/// bug): terminal escapes, control characters, bidi overrides, 900 characters, bytes
/// that are not UTF-8, text made to break SQL quoting. Shown safely, never executed by
/// the terminal, never injected into SQL, never a crash.
@Suite("Hostile input")
struct HostileInputTests {
    static let clipboard = "\u{1B}]52;c;ZWNobyBwd25lZA==\u{07}"   // OSC 52: set the clipboard
    static let clearScreen = "\u{1B}[2J\u{1B}[H"                   // CSI 2J: clear the screen
    static let hostileIDs = [
        "osc52:" + clipboard,
        "cls:" + clearScreen,
        "ctl:\u{01}\u{08}\u{0D}\u{7F}end",
        "c1:\u{9B}31mred\u{85}",
        "bidi:\u{202E}gnp.exe\u{2066}x\u{2069}",
        "lines:\u{2028}\u{2029}",
        String(repeating: "é", count: 896) + "\u{1B}[2J",           // 900 characters, an escape at the end
    ]
    static let hostileJSON = #"{"singer_state": {"\u001b]52;c;ZXZpbA==\u0007": "\u001b[2J", "bidi": "\u202e", "c1": "\u009b31m", "del": "\u007f", "nl": "a\nb"}}"#

    /// Bytes a terminal would act on or that reorder text: C0 controls other than
    /// newline, carriage return and tab, DEL, C1 controls (UTF-8 C2 80–9F), bidi
    /// controls and line separators.
    static func unsafeBytes(in data: Data) -> [String] {
        let bytes = [UInt8](data)
        var found: [String] = []
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            if (b < 0x20 && b != 0x0A && b != 0x0D && b != 0x09) || b == 0x7F {
                found.append(String(format: "0x%02x at %d", b, i))
            } else if b == 0xC2, i + 1 < bytes.count, (0x80...0x9F).contains(bytes[i + 1]) {
                found.append(String(format: "C1 0x%02x at %d", bytes[i + 1], i))
            } else if b == 0xE2, i + 2 < bytes.count {
                let code = (UInt32(b & 0x0F) << 12) | (UInt32(bytes[i + 1] & 0x3F) << 6) | UInt32(bytes[i + 2] & 0x3F)
                if (0x202A...0x202E).contains(code) || (0x2066...0x2069).contains(code) || code == 0x2028 || code == 0x2029 || code == 0x200E || code == 0x200F {
                    found.append(String(format: "U+%04X at %d", code, i))
                }
            }
            i += 1
        }
        return found
    }

    /// Runs the CLI with stdin, stdout and stderr on a pseudo-terminal (what a person
    /// sees), once per command, through Python's pty module (one Python for all, as it
    /// starts slowly); what the terminal received from each, and its exit status.
    static func onTerminal(_ fixture: CLIFixture, _ commands: [[String]]) throws -> [(status: Int32, output: Data)] {
        let driver = """
            import json, os, pty, select, sys
            for command in json.loads(sys.argv[2]):
                pid, fd = pty.fork()
                if pid == 0:
                    os.execv(sys.argv[1], [sys.argv[1]] + command)
                out = b""
                while True:
                    ready, _, _ = select.select([fd], [], [], 30)
                    if not ready:
                        break
                    try:
                        chunk = os.read(fd, 65536)
                    except OSError:
                        break
                    if not chunk:
                        break
                    out += chunk
                os.close(fd)
                _, status = os.waitpid(pid, 0)
                code = os.waitstatus_to_exitcode(status)
                sys.stdout.buffer.write(b"%d\\n" % (code if code >= 0 else 128 - code) + out + b"\\0")
            """
        let list = JSONValue.array(commands.map { .array($0.map { .string(JSONString($0)) }) }).compactText
        let result = try runProcess("python3", ["-c", driver, CLIFixture.binary, list],
                                    environment: fixture.environment, currentDirectory: fixture.directory)
        #expect(result.status == 0, "pty driver: \(result.stderr)")
        return result.stdoutData.split(separator: 0, omittingEmptySubsequences: false).dropLast().map { chunk in
            let newline = chunk.firstIndex(of: 0x0A) ?? chunk.endIndex
            let status = Int32(String(decoding: chunk[chunk.startIndex..<newline], as: UTF8.self)) ?? -1
            return (status, Data(chunk[min(newline + 1, chunk.endIndex)...]))
        }
    }

    static func onTerminal(_ fixture: CLIFixture, _ arguments: [String]) throws -> (status: Int32, output: Data) {
        try onTerminal(fixture, [arguments]).first ?? (-1, Data())
    }

    /// Several commands of the add-on's reference model in one Python process (it
    /// starts slowly); the standard output of each.
    static func reference(_ commands: [[String]], schema: String) throws -> [Data] {
        let driver = """
            import json, os, sys
            sys.path.insert(0, os.path.dirname(sys.argv[1]))
            import meltano_backend_ref as ref
            for command in json.loads(sys.argv[4]):
                ref.main(["--dsn", sys.argv[2], "--schema", sys.argv[3], "--lock-tries", "2"] + command)
                sys.stdout.flush()
                sys.stdout.buffer.write(b"\\0")
                sys.stdout.buffer.flush()
            """
        let list = JSONValue.array(commands.map { .array($0.map { .string(JSONString($0)) }) }).compactText
        let result = try runProcess("python3", ["-c", driver, Reference.script, try TestDatabase.dsn, schema, list])
        #expect(result.status == 0, "\(result.stderr)")
        return result.stdoutData.split(separator: 0, omittingEmptySubsequences: false).dropLast().map { Data($0) }
    }

    /// Hostile IDs and JSON stored by the add-on's reference model (as a pipeline
    /// would), plus a hostile lock ID and journal entries.
    static func seed(_ fixture: CLIFixture) throws {
        _ = try reference(hostileIDs.map { ["set", "--force", $0, hostileJSON] }, schema: fixture.schema)
        #expect(try fixture.rows().count == hostileIDs.count)
        try fixture.admin.query("INSERT INTO \(fixture.locksTable) (state_id, lock_id) VALUES ($1, $2)",
                                [hostileIDs[0], "lock" + clipboard + clearScreen + "\u{202E}"])
        // Journal entries whose note and ID carry escapes (copy says "from <source>").
        let copy = try fixture.run(["copy", "--force", hostileIDs[1], "copied" + clearScreen])
        #expect(copy.status == 0, "\(copy.stderr)")
    }

    @Test func nothingReachesTheTerminalRaw() throws {
        let fixture = try CLIFixture(schemaPrefix: "hostile")
        try Self.seed(fixture)
        let commands: [[String]] = [
            ["list"], ["list", "--json"], ["get", Self.hostileIDs[0]], ["get", "--pretty", Self.hostileIDs[4]],
            ["get", "--raw", Self.hostileIDs[2]], ["export"], ["locks"], ["locks", "--json"], ["history"],
            ["history", "--json"], ["check"], ["config"],
            ["get", "--strict", "missing" + Self.clipboard],                        // error message quoting the ID
            ["set", "--force", "new" + Self.clearScreen, Self.hostileJSON],           // note quoting the ID
            ["merge", "new" + Self.clearScreen, #"{"singer_state": {"\u009b": 1}}"#],
            ["unlock", "--yes", Self.hostileIDs[0], "wrong" + Self.clipboard],      // refusal quoting both IDs
            ["set", "--force", "x" + Self.clipboard, #"{"no_singer": "\u001b[2J"}"#], // validation error
            ["clear", "--force", "nothing" + Self.clipboard],
            ["get", Self.clipboard + String(repeating: "x", count: 2000)],
            ["metrics"], ["check-health", "--warn", "1s", "--crit", "1d"],  // every ID in a label; the oldest named
        ]
        let results = try Self.onTerminal(fixture, commands)
        #expect(results.count == commands.count)
        for (command, (status, output)) in zip(commands, results) {
            #expect(status >= 0 && status < 128, "\(command): crashed (\(status))")
            let unsafe = Self.unsafeBytes(in: output)
            #expect(unsafe.isEmpty, "\(command.map { $0.debugDescription }): \(unsafe.prefix(5)) in \(String(decoding: output, as: UTF8.self).debugDescription.prefix(600))")
        }
        // On a terminal the IDs are still recognisable, their escapes visible.
        let list = String(decoding: results[0].output, as: UTF8.self)
        #expect(list.contains(#"osc52:\x1b]52;c;ZWNobyBwd25lZA==\x07"#), "\(list.debugDescription)")
        #expect(list.contains(#"bidi:\u202egnp.exe"#), "\(list.debugDescription)")
        let pretty = String(decoding: results[3].output, as: UTF8.self)
        #expect(pretty.contains(#""bidi": "\u202e""#), "pretty JSON keeps its value, escaped: \(pretty.debugDescription)")
    }

    /// Through a pipe, `list` and `get` print exactly what Meltano prints (scripts get
    /// the raw bytes); the human tables stay escaped even there.
    @Test func scriptsGetMeltanosBytesTablesStayEscaped() throws {
        let fixture = try CLIFixture(schemaPrefix: "hostpipe")
        try Self.seed(fixture)
        let theirs = try Self.reference([["list"]] + Self.hostileIDs.map { ["get", $0] }, schema: fixture.schema)
        let ours = try fixture.run(["list"])
        #expect(ours.status == 0 && theirs.count == Self.hostileIDs.count + 1)
        #expect(Set(ours.stdoutData.split(separator: 0x0A)) == Set((theirs.first ?? Data()).split(separator: 0x0A)))
        #expect(ours.stdoutData.contains(0x1B), "the raw ID, as Meltano prints it")
        for (id, reference) in zip(Self.hostileIDs, theirs.dropFirst()) {
            let mine = try fixture.run(["get", id])
            #expect(mine.stdoutData == reference, "get \(id.debugDescription)")
        }
        for command in [["locks"], ["history"]] {
            let result = try fixture.run(command)
            #expect(result.status == 0, "\(command): \(result.stderr)")
            #expect(Self.unsafeBytes(in: result.stdoutData).isEmpty, "\(command): \(result.stdout.debugDescription)")
        }
        let error = try fixture.run(["get", "--strict", "missing" + Self.clipboard])
        #expect(error.status == 4)
        #expect(Self.unsafeBytes(in: Data(error.stderr.utf8)).isEmpty, "\(error.stderr.debugDescription)")
    }

    /// 900 characters is the column's limit, in characters not bytes: stored and read
    /// back whole; 901 is refused before anything is written.
    @Test func nineHundredCharacterIDs() throws {
        let fixture = try CLIFixture(schemaPrefix: "long")
        let longest = String(repeating: "日", count: 899) + "\u{1B}"
        #expect(longest.unicodeScalars.count == 900)
        let set = try fixture.run(["set", "--force", longest, #"{"singer_state": {}}"#])
        #expect(set.status == 0, "\(set.stderr)")
        #expect(try fixture.rows().map { $0[0] } == [longest])
        #expect(try fixture.run(["get", longest]).stdout == #"{"singer_state":{}}"# + "\n")
        let tooLong = try fixture.run(["set", "--force", longest + "x", #"{"singer_state": {}}"#])
        #expect(tooLong.status == 2, "\(tooLong.stderr)")
        #expect(tooLong.stderr.contains("901 characters"), "\(tooLong.stderr)")
        #expect(tooLong.stderr.count < 1000, "the message quotes an excerpt, not the whole ID")
        #expect(try fixture.rows().count == 1)
        let get = try fixture.run(["get", longest + "x"])
        #expect(get.status == 0 && get.stdout == "{}\n", "as Meltano: no such row")
        let locks = try fixture.run(["locks"])
        #expect(locks.status == 0)
    }

    /// A database in SQL_ASCII stores whatever bytes it is given: rows whose ID and
    /// JSON are not UTF-8 are listed, read and exported without a crash.
    @Test func invalidUTF8InARow() throws {
        let admin = try TestDatabase.connect()
        let database = "ascii_\(UUID().uuidString.prefix(8).lowercased())"
        try admin.query("CREATE DATABASE \(quoteIdentifier(database)) ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0")
        defer { _ = try? admin.query("DROP DATABASE IF EXISTS \(quoteIdentifier(database)) WITH (FORCE)") }
        var config = try TestDatabase.configuration()
        config.database = database
        let connection = try Connection(config)
        try connection.query("CREATE TABLE public.meltano_state (state_id VARCHAR(900) PRIMARY KEY, partial_state TEXT, completed_state TEXT, updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP)")
        try connection.query("CREATE TABLE public.meltano_state_locks (state_id VARCHAR(900) PRIMARY KEY, locked_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, lock_id VARCHAR(255))")
        // E'\\xff' is the byte 0xFF; \\x9b is a raw C1 byte; \\xc3\\x28 a broken sequence.
        try connection.query(#"""
            INSERT INTO public.meltano_state (state_id, partial_state, completed_state) VALUES
              (E'bad\xff\xfeid\x9b2J', NULL, E'{"singer_state": {"k": "\xc3\x28", "\x9b": "\xed\xa0\x80"}}'),
              ('good', E'{"singer_state": {"p": "\xf0\x28\x8c\x28"}}', '{"singer_state": {}}'),
              ('notjson', E'\x1b[2J{"broken', NULL)
            """#)
        try connection.query(#"INSERT INTO public.meltano_state_locks (state_id, lock_id) VALUES (E'bad\xff', E'lock\x9b\xff')"#)
        let fixture = try CLIFixture(schemaPrefix: "utf8")
        fixture.environment["MELTANO_STATE_BACKEND_URI"] = "postgres://\(config.user!)@\(config.host!):\(config.port!)/\(database)/public"
        let commands = [["list"], ["list", "--json"], ["get", "good"], ["get", "--raw", "good"], ["get", "notjson"], ["export"],
                        ["locks"], ["locks", "--json"], ["check"], ["history"], ["clear", "--force", "good"]]
        for command in commands {
            let piped = try fixture.run(command)
            #expect(piped.status < 128, "\(command) crashed: \(piped.stderr)")
        }
        for (command, (status, output)) in zip(commands, try Self.onTerminal(fixture, commands)) {
            #expect(status >= 0 && status < 128, "\(command) crashed on a terminal")
            #expect(Self.unsafeBytes(in: output).isEmpty, "\(command): \(String(decoding: output, as: UTF8.self).debugDescription.prefix(400))")
        }
        let list = try fixture.run(["list"])
        #expect(list.status == 0)
        #expect(list.stdout.contains("bad\u{FFFD}"), "bytes that are not UTF-8 are shown as U+FFFD: \(list.stdout.debugDescription)")
        let notJSON = try fixture.run(["get", "notjson"])
        #expect(notJSON.status == 1)
        #expect(notJSON.stderr.contains(#"\x1b[2J"#), "the stored text is shown escaped: \(notJSON.stderr.debugDescription)")
    }

    /// Schema and table names, state IDs and patterns made to break SQL quoting: they
    /// are quoted identifiers or parameters, so nothing runs that the user did not ask.
    @Test func noSQLInjection() throws {
        let fixture = try CLIFixture(schemaPrefix: "inject")
        let canary = "\(quoteIdentifier(fixture.schema)).canary"
        try fixture.admin.query("CREATE TABLE \(canary) (x int)")
        try fixture.admin.query("INSERT INTO \(canary) VALUES (1)")
        // Meltano folds the schema name to lower case: create it as PostgreSQL will name it.
        let hostileSchema = "x\"; DROP TABLE \(canary); --"
        let folded = hostileSchema.lowercased()
        try fixture.admin.query("CREATE SCHEMA \(quoteIdentifier(folded))")
        defer { TestDatabase.dropSchema(folded, on: fixture.admin) }
        let schema = ["--schema", hostileSchema]
        let ids = ["'; DELETE FROM meltano_state; --", "a' OR '1'='1", "b\"; DROP TABLE canary; --", "%", "_", "back\\slash", "$1"]
        #expect(try fixture.run(["init"] + schema).status == 0)
        for id in ids {
            let set = try fixture.run(["set", "--force", id, #"{"singer_state": {"id": "'; DROP TABLE x; --"}}"#] + schema)
            #expect(set.status == 0, "\(id): \(set.stderr)")
        }
        let listed = try fixture.run(["list"] + schema)
        #expect(Set(listed.stdout.split(separator: "\n").map(String.init)) == Set(ids), "\(listed.stdout)")
        for (pattern, expected) in [("%' OR 1=1 --", [String]()), ("a' OR *", ["a' OR '1'='1"]), ("%", ["%"]), ("_", ["_"]),
                                    ("back\\*", ["back\\slash"]), ("*'*", ["'; DELETE FROM meltano_state; --", "a' OR '1'='1"])] {
            let result = try fixture.run(["list", "--pattern", pattern] + schema)
            #expect(result.status == 0, "\(pattern): \(result.stderr)")
            #expect(Set(result.stdout.split(separator: "\n").map(String.init)) == Set(expected), "pattern \(pattern): \(result.stdout)")
        }
        for id in ids {
            #expect(try fixture.run(["get", id] + schema).stdout.contains("DROP TABLE x"), "\(id)")
        }
        try fixture.admin.query("INSERT INTO \(quoteIdentifier(folded)).meltano_state_locks (state_id, lock_id) VALUES ($1, $2)",
                                [ids[0], "x'); DELETE FROM meltano_state_locks; --"])
        #expect(try fixture.run(["locks"] + schema).status == 0)
        #expect(try fixture.run(["unlock", "--yes", ids[0], "x'); DELETE FROM meltano_state_locks; --"] + schema).status == 0)
        #expect(try fixture.run(["clear", "--force", ids[1]] + schema).status == 0)
        #expect(try fixture.run(["export"] + schema).status == 0)
        // The single-table layout with a hostile table name.
        let table = "st\"; DROP TABLE \(canary); --"
        let single = ["--layout", "single-table", "--table", table, "--schema", fixture.schema]
        #expect(try fixture.run(["init"] + single).status == 0)
        #expect(try fixture.run(["set", "--force", ids[0], #"{"singer_state": {}}"#] + single).status == 0)
        #expect(try fixture.run(["list"] + single).stdout == ids[0] + "\n")
        #expect(try fixture.run(["check"] + single).status == 0)

        #expect(try fixture.admin.query("SELECT count(*) FROM \(canary)").scalar == "1", "the canary table survived")
        #expect(try fixture.admin.query("SELECT count(*) FROM \(quoteIdentifier(folded)).meltano_state").scalar == String(ids.count - 1))
        #expect(try fixture.admin.query("SELECT count(*) FROM \(quoteIdentifier(fixture.schema)).\(quoteIdentifier(table))").scalar == "1")
    }
}
