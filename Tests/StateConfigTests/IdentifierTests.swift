import Testing
@testable import StateConfig

/// PostgreSQL folds an unquoted identifier's ASCII letters to lower case and nothing else.
@Suite struct IdentifierFoldingTests {
    @Test func asciiLettersFoldToLowerCase() {
        #expect(foldUnquoted("MySchema") == "myschema")
        #expect(foldUnquoted("STATE_2024") == "state_2024")
        #expect(foldUnquoted("already_lower") == "already_lower")
        #expect(foldUnquoted("") == "")
    }

    @Test func nothingButASCIILettersChanges() {
        #expect(foldUnquoted("ÉCOLE") == "École")
        #expect(foldUnquoted("Straße-ǅ") == "straße-ǅ")
        #expect(foldUnquoted("A\u{301}B") == "a\u{301}b")  // combining mark kept, letters folded
        #expect(foldUnquoted("@[`{") == "@[`{")  // neighbours of A-Z and a-z in ASCII
        #expect(foldUnquoted("\"Quoted\"") == "\"quoted\"")
    }

    @Test func everyASCIIScalarFoldsAsPostgreSQLDoes() {
        for value in UInt32(0)...127 {
            let scalar = Unicode.Scalar(value)!
            let expected = (65...90).contains(value) ? Unicode.Scalar(value + 32)! : scalar
            #expect(foldUnquoted(String(Character(scalar))).unicodeScalars.first == expected, "\(value)")
        }
    }
}
