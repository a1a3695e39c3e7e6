import Testing
@testable import StateConfig

/// `.env` as python-dotenv 1.2.4's `dotenv_values` reads it. The expectations below were
/// produced by python-dotenv 1.2.4 itself on the same text, with HOME_X=/home/x set.
@Suite struct DotEnvTests {
    static let fixture = ##"""

    # comment
    export A=plain value   # trailing comment
    B='single $HOME_X ${HOME_X} \'q\' \\ \n'
    C="double ${HOME_X} \"q\" \n\t end"   # c
    D=#notcomment
    E= #comment only
    F=a#b
    G="multi
    line"
    H
    I=
    'J K'=quoted key
    L = spaced
    N=${A}-${UNSET:-dflt}-${UNSET}
    O='a\\'
    P="x"junk
    Q=ok
     R = " lead "  
    S=${N}
    T='it\'s'
    U=x \# y
    V="a\'b\"c\\d\ae"
    W='x\'
    X=1
    Y=${X}${X:-9}${H}z
    A=second

    """##

    @Test func matchesPythonDotenv() {
        let file = DotEnvFile.parse(Self.fixture, path: "/p/.env", environment: ["HOME_X": "/home/x"])
        let expected: [String: String?] = [
            "A": "second",
            "B": #"single $HOME_X /home/x 'q' \ \n"#,
            "C": "double /home/x \"q\" \n\t end",
            "D": "#notcomment",
            "E": "",
            "F": "a#b",
            "G": "multi\nline",
            "H": String?.none,
            "I": "",
            "J K": "quoted key",
            "L": "spaced",
            "N": "plain value-dflt-",
            "O": #"a\"#,
            "Q": "ok",
            "R": " lead ",
            "S": "plain value-dflt-",
            "T": "it's",
            "U": ##"x \# y"##,
            "V": "a'b\"c\\d\u{07}e",
            "X": "1",
            "Y": "11z",
        ]
        #expect(Set(file.values.keys) == Set(expected.keys))
        for (key, value) in expected {
            #expect(file[key]?.value == value, "\(key)")
        }
        // P (junk after the closing quote) and W (never closed) are skipped with a warning.
        #expect(file.unparsedLines == [17, 24])
        #expect(file["A"]?.line == 27)
        #expect(file["G"]?.line == 9)
        #expect(file["R"]?.line == 19)
    }

    @Test func lineEndingsAndByteOrderMark() {
        let file = DotEnvFile.parse("\u{FEFF}A=1\r\nB='two'\r\n\r\nC=3\rD=4", path: ".env", environment: [:])
        #expect(file["A"]?.value == "1")
        #expect(file["B"]?.value == "two")
        #expect(file["C"]?.value == "3")
        #expect(file["D"]?.value == "4")
        #expect(file["C"]?.line == 4)
        #expect(file["D"]?.line == 5)
    }

    @Test func interpolationPrefersTheFileOverTheEnvironment() {
        let file = DotEnvFile.parse("HOST=file\nURI=postgres://${HOST}/${DB}\nDOLLAR=$HOST", path: ".env",
                                    environment: ["HOST": "env", "DB": "envdb"])
        #expect(file["URI"]?.value == "postgres://file/envdb")
        #expect(file["DOLLAR"]?.value == "$HOST")  // python-dotenv never expands $NAME
    }
}

/// Meltano's `expand_env_vars`, as `SettingsService` applies it to meltano.yml values.
@Suite struct MeltanoExpansionTests {
    let environment = ["HOST": "db.example.com", "PGPASS": "pw", "lower_ok": "yes", "EMPTY": ""]

    func expand(_ raw: String, strict: Bool = false) throws -> MeltanoExpansion.Result {
        try MeltanoExpansion.expand(raw, environment: environment, strict: strict)
    }

    @Test func forms() throws {
        #expect(try expand("$HOST").value == "db.example.com")
        #expect(try expand("$HOST").wholeReference == "HOST")
        #expect(try expand("${HOST}:5432").value == "db.example.com:5432")
        #expect(try expand("${HOST}:5432").wholeReference == nil)
        #expect(try expand("$lower_ok").value == "$lower_ok")       // bare names must start upper-case
        #expect(try expand("${lower_ok}").value == "yes")            // braces take any word characters
        #expect(try expand("$PGPASSx").value == "pwx")               // [A-Z][A-Z0-9_]* stops at x
        #expect(try expand("a$").value == "a$")
        #expect(try expand("${}").value == "${}")
        #expect(try expand("${A-B}").value == "${A-B}")
        #expect(try expand("").value == "")
    }

    @Test func escapes() throws {
        #expect(try expand(#"\$HOST"#).value == "$HOST")
        #expect(try expand(#"\${HOST}"#).value == "${HOST}")
        #expect(try expand(#"a\b"#).value == #"a\b"#)
    }

    @Test func unsetVariables() throws {
        let whole = try expand("$UNSET")
        #expect(whole.value == nil)                                   // the setting counts as unset
        #expect(whole.missing == ["UNSET"])
        #expect(try expand("pre-$UNSET").value == "pre-")
        #expect(try expand("${UNSET}${ALSO}").value == nil)
        #expect(try expand("$EMPTY").value == nil)                   // set but empty: same rule
        #expect(throws: MeltanoExpansion.MissingVariable(name: "UNSET")) { try expand("x$UNSET", strict: true) }
        #expect(try expand("$HOST", strict: true).value == "db.example.com")
    }
}
