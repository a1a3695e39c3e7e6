import Postgres

extension ResolvedConfiguration {
    /// The environment for a program this tool starts that has no business with the
    /// database: the editor of `edit` and of the browser's `e` (and so its plugins and
    /// whatever they spawn). The one rule for both, so neither can drift.
    ///
    /// Left out: every variable whose name says it holds a password (`PGPASSWORD`,
    /// `MELTANO_STATE_BACKEND_POSTGRES_PASSWORD`, a tap's `TAP_X_PASSWORD`), every
    /// value that holds a URI or connection string with a password in it
    /// (`MELTANO_STATE_BACKEND_URI`, `MELTANO_DATABASE_URI`, whatever the password's
    /// length), and every value that contains a password this configuration knows of.
    public func environmentWithoutSecrets(_ environment: [String: String]) -> [String: String] {
        let secrets = redactor.secrets
        return environment.filter { name, value in
            let upper = name.uppercased()
            if upper.contains("PASSWORD") || upper.contains("PASSWD") { return false }
            if !passwordsInURI(value).isEmpty { return false }
            if value.lowercased().contains("password=") { return false }
            return !secrets.contains { value.contains($0) }
        }
    }
}
