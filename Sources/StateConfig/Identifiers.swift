/// PostgreSQL's folding of an unquoted identifier: ASCII letters to lower case, nothing
/// else (`MySchema` is `myschema`, `ÉCOLE` keeps its `É`). The add-on pastes its schema
/// into SQL unquoted, so the resolver and the store's layouts both fold it with this.
public func foldUnquoted(_ name: String) -> String {
    String(String.UnicodeScalarView(name.unicodeScalars.map { scalar in
        ("A"..."Z").contains(scalar) ? Unicode.Scalar(scalar.value + 32)! : scalar
    }))
}
