import Foundation
import Postgres

/// Looking a setting up in Meltano's order (flags, environment, .env, meltano.yml, this
/// tool's config file), with `$VAR` expansion, and every secret any source holds.
extension Resolution {
    /// The flag for `key`, under its full name or, for the active backend, its short one.
    func flag(_ key: String) -> String? {
        shortNameLookup(key, activeBackend: activeBackend) { inputs.flags[$0] }
    }

    /// The first source that has `key`. `meltano` says whether `meltano.yml` is read (it
    /// holds only Meltano's settings); `variable` is the setting's environment variable.
    mutating func lookup(_ key: String, variable: String? = nil, meltano: Bool = true, secret: Bool = false) throws -> Found? {
        let variable = variable ?? SettingKey.meltanoEnvVar(key)
        if let value = flag(key) {
            return Found(value: value.isEmpty ? nil : value, source: .flag, note: value.isEmpty ? "set but empty" : nil)
        }
        if let found = try contextLookup(key, secret: secret) { return found }
        // A context with its own URI stands alone: the other sources describe another backend.
        if meltano && context?.ownsConnection == true { return nil }
        if let entry = environmentLayer[variable] {
            return Found(value: entry.value.isEmpty ? nil : entry.value, source: entry.source,
                         note: entry.value.isEmpty ? "set but empty" : nil)
        }
        if let dotenv, let entry = dotenv[variable], let value = entry.value {
            return Found(value: value.isEmpty ? nil : value,
                         source: .dotenv(path: dotenv.path, line: entry.line, variable: variable),
                         note: value.isEmpty ? "set but empty" : nil)
        }
        if meltano, let meltanoFile {
            try refuseList(covering: key, in: meltanoFile) { .meltanoYML(path: meltanoFile.path, line: $0) }
            if let entry = meltanoFile[key], let raw = entry.text {
                return try expand(raw, key: key, source: .meltanoYML(path: meltanoFile.path, line: entry.line), secret: secret)
            }
        }
        if let configFile { try refuseList(covering: key, in: configFile) { .configFile(path: configFile.path, line: $0) } }
        if let configFile, let entry = configFile[key], let raw = entry.text {
            return try expand(raw, key: key, source: .configFile(path: configFile.path, line: entry.line), secret: secret)
        }
        return nil
    }

    /// A list where `key`'s value (or a mapping holding it) belongs is a mistake, said
    /// rather than read as "not set", which would pick another backend without a word.
    func refuseList(covering key: String, in file: YAMLSettings, at source: (Int) -> SettingSource) throws {
        guard let (listKey, line) = file.list(covering: key) else { return }
        let what = listKey == key ? "a single value" : "a mapping of settings (\(key.dropFirst(listKey.count + 1)): … indented below it)"
        let label = source(line).label(home: home)
        throw ConfigurationError(problem: "\(listKey) is a list; it must be \(what), so \(key) cannot be read",
                                 source: label, fix: "Write \(listKey) as \(what).")
    }

    /// Where `key` is set, if anywhere, without expanding anything.
    func firstSource(_ key: String) -> SettingSource? {
        let variable = SettingKey.meltanoEnvVar(key)
        if inputs.flags[key] != nil { return .flag }
        if let entry = environmentLayer[variable], !entry.value.isEmpty { return entry.source }
        if let dotenv, let entry = dotenv[variable], let value = entry.value, !value.isEmpty {
            return .dotenv(path: dotenv.path, line: entry.line, variable: variable)
        }
        if let meltanoFile, let entry = meltanoFile[key], entry.text != nil {
            return .meltanoYML(path: meltanoFile.path, line: entry.line)
        }
        if let configFile, let entry = configFile[key], entry.text != nil {
            return .configFile(path: configFile.path, line: entry.line)
        }
        return nil
    }

    mutating func expand(_ raw: String, key: String, source: SettingSource, secret: Bool) throws -> Found {
        let label = source.label(home: home)
        do throws(MeltanoExpansion.MissingVariable) {
            let result = try MeltanoExpansion.expand(raw, environment: expansionEnvironment, strict: strictEnvVarMode)
            var notes: [String] = []
            if result.wholeReference != nil { notes.append("via \(raw)") }
            for name in Set(result.missing).sorted() {
                let what = canName(name, in: raw, key: key, secret: secret) ? "$\(name)" : "a variable"
                warnings.append("\(label): \(key) refers to \(what), which is not set; Meltano reads it as an empty string")
            }
            if result.value == nil { notes.append("expanded to nothing, so unset") }
            let value = result.value.flatMap { $0.isEmpty ? nil : $0 }
            if value == nil && result.value != nil { notes.append("set but empty") }
            return Found(value: value, source: source, note: notes.isEmpty ? nil : notes.joined(separator: ", "))
        } catch {
            let named = canName(error.name, in: raw, key: key, secret: secret) ? "$\(error.name)" : "a variable"
            throw ConfigurationError(
                problem: "\(key) refers to \(named), which is not set, and Meltano's ff.strict_env_var_mode is on",
                source: label,
                fix: "Set \(named == "a variable" ? "the variable" : error.name) in the environment or in the project's .env, or turn ff.strict_env_var_mode off.")
        }
    }

    /// Whether naming the variable `name` could show part of a password: a password value
    /// may only be named when it is nothing but the reference; in a URI, a reference may
    /// be named when it is outside the password.
    private func canName(_ name: String, in raw: String, key: String, secret: Bool) -> Bool {
        guard secret else { return true }
        if key == SettingKey.uri || key == SettingKey.databaseURI {
            return !passwordsInURI(raw).contains { $0.contains(name) }
        }
        return raw == "$\(name)" || raw == "${\(name)}"
    }

    /// Every value any source gives `key`, expanded where that source expands. A YAML
    /// value that is nothing but a reference (`${STATE_DB_PASSWORD}`) is not itself a
    /// secret, so only its expansion is returned.
    func allValues(_ key: String, shortFlag: String?) -> [String] {
        var values: [String] = []
        let variable = SettingKey.meltanoEnvVar(key)
        if let value = inputs.flags[key] { values.append(value) }
        if let shortFlag, let value = inputs.flags[shortFlag] { values.append(value) }
        if let entry = environmentLayer[variable] { values.append(entry.value) }
        if let value = dotenv?[variable]?.value { values.append(value) }
        for file in [meltanoFile, configFile].compactMap({ $0 }) {
            guard let raw = file[key]?.text else { continue }
            let expansion = try? MeltanoExpansion.expand(raw, environment: expansionEnvironment, strict: false)
            if expansion?.wholeReference == nil { values.append(raw) }
            if let expanded = expansion?.value { values.append(expanded) }
        }
        return values
    }

    /// Every password in every source (overridden ones too), for the redactor.
    mutating func collectSecrets() {
        var found: [String] = []
        for backend in [Backend.postgres, .postgresql] {
            found += allValues(SettingKey.part(.password, backend), shortFlag: "password")
        }
        for key in [SettingKey.uri, SettingKey.databaseURI] {
            for value in allValues(key, shortFlag: key == SettingKey.uri ? "uri" : nil) { found += passwordsInURI(value) }
        }
        found += contextSecrets()
        if let password = inputs.environment["PGPASSWORD"] { found.append(password) }
        var seen = Set<String>()
        secrets = found.filter { !$0.isEmpty && seen.insert($0).inserted }
    }
}
