import Foundation
import Postgres

/// The colour a context is shown in (the browser's header, `contexts`).
public enum ContextColor: String, Sendable, CaseIterable {
    case red, green, yellow, blue, magenta, cyan, white
}

/// A named backend of this tool's config file (`contexts: {prod: {uri: …}}`): either a
/// state backend URI (with its own connection parts), or a Meltano project directory and
/// environment, whose settings are then read as Meltano reads them. It may also set this
/// tool's own settings for itself (`read_only: true` for prod, `layout`, `lock_timeout`),
/// and a colour.
///
/// Selected with `--context NAME` or `MELTANO_STATE_CONTEXT`. Its values sit just below
/// the command line's flags and above everything else. A context with a URI stands alone:
/// the Meltano project around the working directory, its `.env` and the
/// `MELTANO_STATE_BACKEND_*` variables are not read for the connection (they describe
/// another backend); this tool's own settings still are.
public struct ContextDefinition: Sendable {
    /// The config file's key that holds the contexts.
    public static let configKey = "contexts"
    /// The environment variable that selects a context.
    public static let environmentVariable = "MELTANO_STATE_CONTEXT"

    public let name: String
    /// Its line in the config file.
    public let line: Int
    /// The config file it is defined in.
    public let path: String
    /// Its settings, flattened (`state_backend.postgres.host`, `uri`, `read_only`).
    let values: [String: YAMLSettings.Value]

    /// Keys only a context has: `color` is the context's colour here, not the `color`
    /// setting (auto, always, never).
    static let contextOnlyKeys: [String] = ["project_dir", "environment", "color"]

    /// Every key a context may set.
    static var knownKeys: Set<String> {
        Set(ConfigurationResolver.flagKeys).subtracting([OwnSettings.color.key]).union(contextOnlyKeys)
    }

    /// The URI as written (not expanded); nil for a project context.
    public var uri: String? { (values["uri"] ?? values[SettingKey.uri])?.text }
    public var projectDirectory: String? { values["project_dir"]?.text }
    public var environment: String? { values["environment"]?.text }

    /// Whether the context holds its connection itself (a URI), so the project and the
    /// environment's backend settings are not read for it.
    var ownsConnection: Bool { uri != nil }

    /// The colour, nil when none is set; an unknown name is an error.
    public func color() throws -> ContextColor? {
        guard let value = values["color"], let text = value.text else { return nil }
        guard let color = ContextColor(rawValue: text.lowercased()) else {
            throw ConfigurationError(problem: "the context \(name) has color \(quote(text)), which is not a colour this tool knows",
                                     source: "\(path):\(value.line)",
                                     fix: "Use one of: \(ContextColor.allCases.map(\.rawValue).joined(separator: ", ")).")
        }
        return color
    }

    /// `read_only` as written (true, yes, on, 1 …); false when unset.
    public func readOnly() throws -> Bool {
        guard let value = values[OwnSettings.readOnly.key], let text = value.text else { return false }
        guard let flag = parseBool(text) else {
            throw ConfigurationError(problem: "the context \(name) has read_only \(quote(text)), which is not true or false",
                                     source: "\(path):\(value.line)", fix: "Set read_only to true or false.")
        }
        return flag
    }

    /// Where it points, for `contexts`: the URI without its password, or the project.
    public var location: String {
        if let uri { return redactURI(uri) }
        var text = "project " + (projectDirectory ?? "?")
        if let environment { text += ", environment " + environment }
        return text
    }

    /// Why it cannot be used (the first of `validate`'s problems), or nil.
    public var problem: ConfigurationError? {
        do { try validate() } catch let error as ConfigurationError { return error } catch {
            return ConfigurationError(problem: "\(error)", fix: "")
        }
        return nil
    }

    /// The problems that make it unusable: neither or both of a URI and a project, an
    /// unknown colour or read-only word.
    func validate() throws {
        let source = "\(path):\(line)"
        if uri != nil && projectDirectory != nil {
            throw ConfigurationError(problem: "the context \(name) has both a uri and a project_dir", source: source,
                                     fix: "Give it either uri: (a state backend URI) or project_dir: (a Meltano project, with environment:), not both.")
        }
        if uri == nil && projectDirectory == nil {
            throw ConfigurationError(problem: "the context \(name) has neither a uri nor a project_dir", source: source,
                                     fix: "Give it uri: (a state backend URI such as postgres://USER@HOST:5432/DATABASE/SCHEMA) or project_dir: (a Meltano project, with environment:).")
        }
        if environment != nil && projectDirectory == nil {
            throw ConfigurationError(problem: "the context \(name) names a Meltano environment but no project_dir", source: source,
                                     fix: "Add project_dir: (the directory of the project's meltano.yml), or remove environment:.")
        }
        _ = try color()
        _ = try readOnly()
    }

    /// The context's value for a setting key: its full name or, as for flags, its short
    /// name (`uri`, `host`, … for the active backend). `color` is the context's own.
    func value(_ key: String, activeBackend: Backend?) -> YAMLSettings.Value? {
        if key == OwnSettings.color.key { return nil }
        return shortNameLookup(key, activeBackend: activeBackend) { values[$0]?.text != nil ? values[$0] : nil }
    }

    private func quote(_ text: String) -> String { "'\(text)'" }
}

/// The contexts of a config file, and which one is selected, for `contexts`.
public struct ContextCatalog: Sendable {
    public let configFilePath: String
    public let configFileFound: Bool
    public let contexts: [ContextDefinition]
    /// The selected context's name (`--context`, `MELTANO_STATE_CONTEXT`), if any.
    public let selected: String?
}

/// The context a configuration was resolved in.
public struct SelectedContext: Sendable, Equatable {
    public let name: String
    public let color: ContextColor?
    /// `--context`, `env MELTANO_STATE_CONTEXT`.
    public let source: String
}

/// The value of `key` under its full name or, for the active backend, its short name
/// (`uri`, `table`, `host`, …): the one mapping, for flags and contexts.
func shortNameLookup<T>(_ key: String, activeBackend: Backend?, _ find: (String) -> T?) -> T? {
    if let value = find(key) { return value }
    if key == SettingKey.uri { return find("uri") }
    if key == SettingKey.table { return find("table") }
    if let activeBackend {
        for part in ConnectionPart.allCases where SettingKey.part(part, activeBackend) == key {
            return find(part.rawValue)
        }
    }
    return nil
}

extension ConfigurationResolver {
    /// The contexts of the config file the inputs point at, and the selected one's name;
    /// nothing is connected to and nothing but the config file is read.
    public static func contexts(_ inputs: ConfigurationInputs) throws -> ContextCatalog {
        var resolution = Resolution(inputs: inputs)
        try resolution.loadConfigFile()
        let selected = resolution.requestedContext()
        return ContextCatalog(configFilePath: resolution.configFilePath, configFileFound: resolution.configFile != nil,
                              contexts: resolution.configFile?.contexts ?? [], selected: selected?.name)
    }
}

extension Resolution {
    /// The context asked for: `--context`, else `MELTANO_STATE_CONTEXT` (empty: none).
    func requestedContext() -> (name: String, source: String)? {
        if let name = inputs.contextName, !name.isEmpty { return (name, inputs.contextSource ?? "--context") }
        if let name = inputs.environment[ContextDefinition.environmentVariable], !name.isEmpty {
            return (name, "env \(ContextDefinition.environmentVariable)")
        }
        return nil
    }

    /// Finds the requested context in the config file; an unknown name lists the known ones.
    mutating func selectContext() throws {
        guard let requested = requestedContext() else { return }
        let file = abbreviateHome(configFilePath, home: home)
        if let problem = configFile?.contextProblems.first {
            throw ConfigurationError(problem: "\(file): \(problem)", source: file,
                                     fix: "Write contexts as `contexts:` with one mapping per name below it (config.example.yml shows how).")
        }
        let known = configFile?.contexts ?? []
        guard let definition = known.first(where: { $0.name == requested.name }) else {
            throw ConfigurationError(
                problem: "there is no context named \(requested.name) in \(file)", source: requested.source,
                fix: known.isEmpty
                    ? "Define it under contexts: in \(file) (config.example.yml shows how), or unset \(requested.source)."
                    : "Use one of: \(known.map(\.name).joined(separator: ", ")) (`meltano-state contexts` lists them).")
        }
        try definition.validate()
        context = definition
        selectedContext = SelectedContext(name: definition.name, color: try definition.color(), source: requested.source)
        for (key, value) in definition.values.sorted(by: { $0.value.line < $1.value.line })
        where !ContextDefinition.knownKeys.contains(key) {
            warnings.append("\(file):\(value.line): unknown setting \(key) in the context \(definition.name) (ignored)")
        }
    }

    /// The selected context's value for `key`, expanded as the config file's values are.
    mutating func contextLookup(_ key: String, secret: Bool) throws -> Found? {
        guard let context, let value = context.value(key, activeBackend: activeBackend), let raw = value.text else { return nil }
        return try expand(raw, key: key, source: .context(name: context.name, path: context.path, line: value.line), secret: secret)
    }

    /// Every value the selected context gives a password or a URI, for the redactor.
    func contextSecrets() -> [String] {
        guard let context else { return [] }
        var found: [String] = []
        for (key, value) in context.values {
            guard let raw = value.text else { continue }
            let expansion = try? MeltanoExpansion.expand(raw, environment: expansionEnvironment, strict: false)
            // A value that is nothing but a reference (`${PROD_PASSWORD}`) is not itself a secret.
            let texts = (expansion?.wholeReference == nil ? [raw] : []) + (expansion?.value.map { [$0] } ?? [])
            if key == "password" || key.hasSuffix(".password") {
                found += texts
            } else if key == "uri" || key == SettingKey.uri || key == SettingKey.databaseURI {
                for text in texts { found += passwordsInURI(text) }
            }
        }
        return found
    }
}

/// A state ID, optionally in a context: `ID` (the current configuration), `@CONTEXT:ID`,
/// or `@:ID` (the current configuration; for an ID that itself starts with `@`).
///
/// State IDs contain colons (`prod:tap-x-to-y`, where `prod` is a Meltano environment,
/// and very likely also the name of a context), so a bare `prod:tap-x-to-y` is always
/// the state ID: only a leading `@` names a context, and the context ends at the first
/// colon (a context name has none).
public struct StateReference: Sendable, Equatable, CustomStringConvertible {
    /// nil: the current configuration (`--context`, `MELTANO_STATE_CONTEXT`, or none).
    public let context: String?
    public let stateID: String

    public init(context: String?, stateID: String) {
        self.context = context
        self.stateID = stateID
    }

    public static func parse(_ text: String) throws -> StateReference {
        guard text.hasPrefix("@") else {
            guard !text.isEmpty else { throw referenceError(text, "is empty") }
            return StateReference(context: nil, stateID: text)
        }
        let body = text.dropFirst()
        guard let colon = body.firstIndex(of: ":") else {
            throw referenceError(text, "starts with @ but has no colon after the context name")
        }
        let name = String(body[..<colon])
        let stateID = String(body[body.index(after: colon)...])
        guard !stateID.isEmpty else { throw referenceError(text, "names no state ID after the colon") }
        return StateReference(context: name.isEmpty ? nil : name, stateID: stateID)
    }

    private static func referenceError(_ text: String, _ problem: String) -> ConfigurationError {
        ConfigurationError(problem: "the state reference '\(text)' \(problem)",
                           fix: "Write a state ID (prod:tap-x-to-y), @CONTEXT:ID for a state ID in a context (@staging:prod:tap-x-to-y), or @:ID for an ID that starts with @.")
    }

    /// As it is written on the command line.
    public var description: String {
        guard let context else { return stateID.hasPrefix("@") ? "@:" + stateID : stateID }
        return "@\(context):\(stateID)"
    }
}
