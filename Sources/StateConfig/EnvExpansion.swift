import Foundation

/// Meltano's `expand_env_vars` (`meltano/core/utils/__init__.py`) as `SettingsService`
/// applies it to values from `meltano.yml`:
///
/// - `${NAME}` (NAME of word characters) and `$NAME` (NAME matching `[A-Z][A-Z0-9_]*`,
///   so `$lower` stays literal and `$PGPASSx` is `$PGPASS` followed by `x`);
/// - a backslash before either form escapes it: `\$NAME` becomes `$NAME`, unexpanded;
/// - an unset variable becomes the empty string (with `ff.strict_env_var_mode` on, it is
///   an error instead);
/// - when a non-empty value expands to the empty string, the setting counts as unset
///   (`if value and not expanded_value: expanded_value = None`, meltano#7189);
/// - the variables are the `.env` file's, overridden by the environment
///   (`expandable_env = {**project.dotenv_env, **self.env}`).
///
/// Values from the environment and from `.env` are never expanded this way.
enum MeltanoExpansion {
    struct Result: Equatable {
        /// nil: the value expanded to nothing and counts as unset.
        var value: String?
        /// Variables referenced and not set.
        var missing: [String]
        /// The variable, when the whole value is one reference (`$X` or `${X}`).
        var wholeReference: String?
        var expanded: Bool
    }

    struct MissingVariable: Error, Equatable { var name: String }

    static func expand(_ raw: String, environment: [String: String], strict: Bool) throws(MissingVariable) -> Result {
        let s = Array(raw.unicodeScalars)
        var out = String.UnicodeScalarView()
        var missing: [String] = []
        var references = 0
        var wholeReference: String?
        var expanded = false
        var i = 0
        while i < s.count {
            let escaped = s[i] == "\\" && i + 1 < s.count && s[i + 1] == "$"
            let dollar = escaped ? i + 1 : i
            guard s[dollar] == "$", let (name, curly, end) = reference(in: s, at: dollar + 1) else {
                out.append(s[i])
                i += 1
                continue
            }
            expanded = true
            if escaped {
                out.append(contentsOf: (curly ? "${\(name)}" : "$\(name)").unicodeScalars)
            } else {
                references += 1
                if i == 0 && end == s.count { wholeReference = name }
                if let value = environment[name] {
                    out.append(contentsOf: value.unicodeScalars)
                } else {
                    if strict { throw MissingVariable(name: name) }
                    missing.append(name)
                }
            }
            i = end
        }
        let result = String(out)
        let value: String? = (!raw.isEmpty && result.isEmpty) ? nil : result
        return Result(value: value, missing: missing, wholeReference: references == 1 ? wholeReference : nil,
                      expanded: expanded)
    }

    /// `{(\w+)}` or `([A-Z][A-Z0-9_]*)` at `start`: the name, whether braced, and the end.
    private static func reference(in s: [Unicode.Scalar], at start: Int) -> (String, Bool, Int)? {
        guard start < s.count else { return nil }
        if s[start] == "{" {
            var j = start + 1
            while j < s.count, isWordCharacter(s[j]) { j += 1 }
            guard j > start + 1, j < s.count, s[j] == "}" else { return nil }
            return (String(String.UnicodeScalarView(s[(start + 1)..<j])), true, j + 1)
        }
        guard ("A"..."Z").contains(s[start]) else { return nil }
        var j = start + 1
        while j < s.count, ("A"..."Z").contains(s[j]) || ("0"..."9").contains(s[j]) || s[j] == "_" { j += 1 }
        return (String(String.UnicodeScalarView(s[start..<j])), false, j)
    }

    /// Python's `\w` for str patterns: alphanumeric (Unicode) or underscore.
    private static func isWordCharacter(_ c: Unicode.Scalar) -> Bool {
        c == "_" || c.properties.isAlphabetic || c.properties.numericType != nil
    }
}
