import Postgres
import Testing
@testable import StateConfig

/// `postgres://` exactly as the first add-on reads it (Python's `urlparse`, no decoding);
/// expectations checked against Python 3.11's `urlparse`.
@Suite struct AddOnURITests {
    @Test func passwordRunsToTheLastAt() throws {
        let uri = try AddOnURI.parse("postgres://meltano:m3lt@no:pw@host/db")
        #expect(uri.username == "meltano")
        #expect(uri.password == "m3lt@no:pw")
        #expect(uri.hostname == "host")
        #expect(uri.port == nil)
        #expect(uri.database == "db")
        #expect(uri.schema == nil)
    }

    @Test func noPercentDecodingAndHostLowerCased() throws {
        let uri = try AddOnURI.parse("postgres://u:p%40ss@HOST.Example.COM:6543/db/Sch")
        #expect(uri.password == "p%40ss")
        #expect(uri.hostname == "host.example.com")
        #expect(uri.port == 6543)
        #expect(uri.database == "db")
        #expect(uri.schema == "Sch")
    }

    @Test func ipv6InBrackets() throws {
        let uri = try AddOnURI.parse("postgres://u:p@[::1]:5433/db/s")
        #expect(uri.hostname == "::1")
        #expect(uri.port == 5433)
        let zoned = try AddOnURI.parse("postgres://u:p@[FE80::1%Eth0]:5432/db")
        #expect(zoned.hostname == "fe80::1%Eth0")
    }

    @Test func queryAndFragmentAreKeptAside() throws {
        let uri = try AddOnURI.parse("postgres://u:p@host/db/s?sslmode=require#frag")
        #expect(uri.query == "sslmode=require")
        #expect(uri.fragment == "frag")
        #expect(uri.schema == "s")
    }

    @Test func missingParts() throws {
        let bare = try AddOnURI.parse("postgres://host/db")
        #expect(bare.username == nil && bare.password == nil)
        let emptyPassword = try AddOnURI.parse("postgres://u:@host/db")
        #expect(emptyPassword.password == "")
        let noDatabase = try AddOnURI.parse("postgres://u@host")
        #expect(noDatabase.database == nil)
        let emptyPort = try AddOnURI.parse("postgres://u:p@h:/db")
        #expect(emptyPort.port == nil)
        let upper = try AddOnURI.parse("POSTGRES://u:p@h/db")
        #expect(upper.hostname == "h")
        let trailing = try AddOnURI.parse("postgres://u:p@h/db/s/")
        #expect(trailing.schema == "s")
    }

    @Test(arguments: [
        ("postgres://u:p@h/db/s/extra", "3 path segments"),
        ("postgres://u:p@h:54x2/db", "port"),
        ("postgres://u:p@h:70000/db", "port"),
        ("postgres://u:pa/ss@h/db", "password seems to contain"),
        ("postgres://u:pa?ss@h/db", "password seems to contain"),
        ("postgres://u:p@[::1/db", "unbalanced"),
        ("postgres://u:p@[notip]/db", "IPv6"),
        ("postgres:u@h/db", "no //"),
    ])
    func errors(uri: String, mentions: String) {
        #expect {
            _ = try AddOnURI.parse(uri)
        } throws: { error in
            guard let problem = error as? URIProblem else { return false }
            return problem.problem.contains(mentions) && !problem.fix.isEmpty
        }
    }

    @Test func errorsNeverQuoteThePassword() {
        for uri in ["postgres://u:Secr3tPw/x@h/db", "postgres://u:Secr3tPw@h:bad/db", "postgres://u:Secr3tPw@h/a/b/c"] {
            do throws(URIProblem) {
                _ = try AddOnURI.parse(uri)
                Issue.record("expected an error for \(uri)")
            } catch {
                #expect(!error.problem.contains("Secr3tPw") && !error.fix.contains("Secr3tPw"))
            }
        }
    }
}

/// `postgresql://` as libpq parses it.
@Suite struct LibpqURITests {
    @Test func fullURIIsPercentDecoded() throws {
        let uri = try LibpqURI.parse("postgresql://me%40corp:p%40ss%3Aw@db.example.com:6432/my%20db?sslmode=require&options=-csearch_path%3Dstate",
                                     settingPrefix: "state_backend.postgresql")
        #expect(uri.user == "me@corp")
        #expect(uri.password == "p@ss:w")
        #expect(uri.hosts == ["db.example.com"])
        #expect(uri.ports == ["6432"])
        #expect(uri.database == "my db")
        #expect(uri.parameter("sslmode") == "require")
        #expect(uri.parameter("options") == "-csearch_path=state")
        #expect(uri.searchPathSchema == "state")
    }

    @Test func aSecondAtIsRefusedWithoutEchoingTheRest() throws {
        // libpq ends the user info at the first @ and would take "b@host" for the host,
        // printing the rest of the password in its error: refused, naming none of it.
        #expect {
            _ = try LibpqURI.parse("postgresql://u:a@bsecret@host/db", settingPrefix: "p")
        } throws: { error in
            guard let problem = error as? URIProblem else { return false }
            return problem.problem.contains("%40") && !"\(problem.problem) \(problem.fix)".contains("bsecret")
        }
        let encoded = try LibpqURI.parse("postgresql://u:a%40b@host/db", settingPrefix: "p")
        #expect(encoded.password == "a@b" && encoded.hosts == ["host"])
    }

    @Test func ipv6AndMultipleHosts() throws {
        let uri = try LibpqURI.parse("postgresql://[::1]:5433,[fe80::2]/db", settingPrefix: "p")
        #expect(uri.hosts == ["::1", "fe80::2"])
        #expect(uri.ports == ["5433", ""])
        let many = try LibpqURI.parse("postgresql://h1:1,h2:2/db", settingPrefix: "p")
        #expect(many.hosts == ["h1", "h2"])
        #expect(many.ports == ["1", "2"])
    }

    @Test func minimalForms() throws {
        let empty = try LibpqURI.parse("postgresql://", settingPrefix: "p")
        #expect(empty.hosts.isEmpty && empty.database == nil && empty.user == nil)
        let queryOnly = try LibpqURI.parse("postgresql://?host=/var/run/postgresql&dbname=x", settingPrefix: "p")
        #expect(queryOnly.parameter("host") == "/var/run/postgresql")
        #expect(queryOnly.parameter("dbname") == "x")
        let ssl = try LibpqURI.parse("postgresql://h/db?ssl=true", settingPrefix: "p")
        #expect(ssl.parameter("sslmode") == "require")
        let legacyScheme = try LibpqURI.parse("postgres://h/db", settingPrefix: "p")
        #expect(legacyScheme.database == "db")
    }

    @Test func searchPathFromOptions() {
        #expect(LibpqURI.searchPath(inOptions: "-csearch_path=abc") == "abc")
        #expect(LibpqURI.searchPath(inOptions: "-c search_path=Abc,public") == "abc")
        #expect(LibpqURI.searchPath(inOptions: "--search_path=\"MixedCase\"") == "MixedCase")
        #expect(LibpqURI.searchPath(inOptions: "-c statement_timeout=5s") == nil)
    }

    @Test(arguments: [
        ("postgresql://u@h/db/schema", "no schema segment"),
        ("postgresql://u@h:port/db", "port"),
        ("postgresql://u@h:99999/db", "port"),
        ("postgresql://u@[::1/db", "without the matching ]"),
        ("postgresql://u@[]/db", "empty IPv6"),
        ("postgresql://u@[::1]x/db", "unexpected character"),
        ("postgresql://u:p%zz@h/db", "percent-encoded"),
        ("postgresql://u:p%00@h/db", "%00"),
        ("postgresql://h/db?sslmode", "without ="),
        ("postgresql://h/db?a=b=c", "more than one ="),
        ("mysql://h/db", "not a postgresql"),
        ("postgresql://u:p@ss%3Awrd@127.0.0.1:5432/db", "more than one @"),
        ("postgresql://u:p@ss@h?sslmode=require", "more than one @"),
        ("postgresql://u@h/db?sslmod=require", "libpq does not know: sslmod (did you mean sslmode?)"),
        ("postgresql://u@h/db?passwd=hunter22", "libpq does not know: passwd"),
    ])
    func errors(uri: String, mentions: String) {
        #expect {
            _ = try LibpqURI.parse(uri, settingPrefix: "state_backend.postgresql")
        } throws: { error in
            guard let problem = error as? URIProblem else { return false }
            return problem.problem.contains(mentions) && !problem.fix.isEmpty
        }
    }
}

@Suite struct URIRedactionTests {
    @Test func schemes() {
        #expect(uriScheme("postgres://x") == "postgres")
        #expect(uriScheme("PostgreSQL://x") == "postgresql")
        #expect(uriScheme("postgresql+psycopg://x") == "postgresql+psycopg")
        #expect(uriScheme("systemdb") == nil)
        #expect(uriScheme("1abc://x") == nil)
        #expect(uriScheme("C:\\path") == "c")
    }

    @Test func redactsByEachRule() {
        #expect(redactURI("postgres://u:p@ss:w@host/db/s") == "postgres://u:********@host/db/s")
        #expect(redactURI("postgresql://u:p%40ss@host/db") == "postgresql://u:********@host/db")
        #expect(redactURI("postgresql://u@host/db?password=hunter22&sslmode=require")
            == "postgresql://u@host/db?password=********&sslmode=require")
        #expect(redactURI("postgres://host/db") == "postgres://host/db")
        #expect(redactURI("systemdb") == "systemdb")
        #expect(redactURI("postgresql+psycopg://u:pw@h/db") == "postgresql+psycopg://u:********@h/db")
        // An unencoded @ in the password: none of it shows, though libpq ends it at the first @.
        #expect(redactURI("postgresql://u:p@ss%3Awrd@h:5/db") == "postgresql://u:********@h:5/db")
        #expect(redactURI("postgresql://u:p@ss@h?sslmode=require&application_name=a@b") == "postgresql://u:********@h?sslmode=require&application_name=a@b")
        #expect(redactURI("postgresql://u@h/db?passwd=hunter22&PWD=x") == "postgresql://u@h/db?passwd=********&PWD=********")
        // passfile is the path of a password file, not a password: shown, and no note.
        #expect(redactURI("postgresql://u@h/db?passfile=/home/u/.pgpass&sslpassword=k") == "postgresql://u@h/db?passfile=/home/u/.pgpass&sslpassword=********")
        #expect(passwordsInURI("postgresql://u@h/db?passfile=/home/u/.pgpass").isEmpty)
    }

    @Test func passwordsFoundInEveryForm() {
        let found = passwordsInURI("postgresql://u:p%40ss@h/db?password=other")
        #expect(found.contains("p%40ss"))
        #expect(found.contains("p@ss"))
        #expect(found.contains("other"))
        #expect(passwordsInURI("postgres://u:a@b@h/db").contains("a@b"))
        #expect(passwordsInURI("postgres://h/db").isEmpty)
    }
}
