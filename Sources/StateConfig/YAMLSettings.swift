import Foundation
import Yams

/// Settings read from a YAML file (`meltano.yml` or this tool's config file), flattened
/// the way Meltano flattens `meltano.yml` (`flatten(config, "dot")`): nested mappings
/// become dotted keys, so `state_backend: {postgres: {host: x}}` and
/// `state_backend.postgres.host: x` both give `state_backend.postgres.host`. Each value
/// keeps its line for `meltano.yml:LINE`.
struct YAMLSettings {
    struct Value: Sendable, Equatable {
        /// The scalar's text; nil for null (`~`, `null`, nothing) and for non-scalars.
        var text: String?
        var line: Int
        /// A YAML list (`[a, b]`, `- a`) where a setting or a mapping of them belongs.
        var isList = false
    }

    struct Environment {
        var name: String
        var line: Int
        /// Dotted keys under its `config:` that Meltano ignores for its own settings
        /// (everything but `plugins`), with their lines.
        var ignoredSettings: [(key: String, line: Int)]
        /// Keys beside `name` that Meltano's `Environment(name, config, env,
        /// state_id_suffix)` does not take (`state_backend` written there instead of at
        /// the top level, say), with their lines: Meltano refuses the whole project then.
        var misplacedSettings: [(key: String, line: Int)] = []
    }

    let path: String
    var values: [String: Value] = [:]
    /// The top-level `env:` mapping (meltano.yml only).
    var env: [String: Value] = [:]
    var defaultEnvironment: Value?
    var environments: [Environment] = []
    /// The `contexts:` mapping of this tool's config file, in file order.
    var contexts: [ContextDefinition] = []
    /// Where `contexts:` is not a mapping of mappings, what is wrong (reported when a
    /// context is used or listed).
    var contextProblems: [String] = []

    subscript(key: String) -> Value? { values[key] }

    /// Top-level keys of meltano.yml that are not settings.
    static let meltanoStructuralKeys: Set<String> = [
        "plugins", "environments", "schedules", "jobs", "env", "include_paths", "annotations",
        "default_environment", "version", "project_id", "requires_meltano",
    ]

    /// Reads and flattens `path`; nil when there is no such file.
    static func load(path: String, isMeltanoFile: Bool) throws -> YAMLSettings? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationError(problem: "\(path) exists but cannot be read", source: path,
                                     fix: "Check its permissions.")
        }
        return try parse(String(decoding: data, as: UTF8.self), path: path, isMeltanoFile: isMeltanoFile)
    }

    static func parse(_ text: String, path: String, isMeltanoFile: Bool) throws -> YAMLSettings {
        var settings = YAMLSettings(path: path)
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw yamlError(error, path: path)
        }
        guard let root else { return settings }
        guard let mapping = root.mapping else {
            throw ConfigurationError(problem: "\(path) is not a YAML mapping of settings",
                                     source: "\(path):\(root.mark?.line ?? 1)",
                                     fix: "Write settings as key: value lines, like `state_backend:` with `uri:` indented below it.")
        }
        for (keyNode, valueNode) in mapping {
            guard let key = keyNode.scalar?.string else { continue }
            if isMeltanoFile {
                switch key {
                case "env":
                    if let env = valueNode.mapping {
                        for (name, value) in env {
                            guard let name = name.scalar?.string else { continue }
                            settings.env[name] = scalarValue(value)
                        }
                    }
                    continue
                case "default_environment":
                    settings.defaultEnvironment = scalarValue(valueNode)
                    continue
                case "environments":
                    settings.environments = environments(valueNode)
                    continue
                default:
                    if meltanoStructuralKeys.contains(key) { continue }
                }
            } else if key == ContextDefinition.configKey {
                settings.readContexts(valueNode)
                continue
            }
            flatten(valueNode, prefix: key, into: &settings.values)
        }
        return settings
    }

    private static func environments(_ node: Node) -> [Environment] {
        guard let sequence = node.sequence else { return [] }
        var result: [Environment] = []
        for item in sequence {
            guard let mapping = item.mapping, let name = mapping["name"]?.scalar?.string else { continue }
            var ignored: [String: Value] = [:]
            if let config = mapping["config"]?.mapping {
                for (key, value) in config {
                    guard let key = key.scalar?.string, key != "plugins" else { continue }
                    flatten(value, prefix: key, into: &ignored)
                }
            }
            let misplaced = mapping.compactMap { key, value -> (key: String, line: Int)? in
                guard let name = key.scalar?.string, !["name", "config", "env", "state_id_suffix", "annotations"].contains(name) else { return nil }
                return (name, key.mark?.line ?? value.mark?.line ?? 0)
            }
            result.append(Environment(
                name: name, line: item.mark?.line ?? 0,
                ignoredSettings: ignored.map { ($0.key, $0.value.line) }.sorted { $0.line < $1.line },
                misplacedSettings: misplaced))
        }
        return result
    }

    /// `contexts: {NAME: {uri: …, read_only: …}}`, each context's settings flattened.
    private mutating func readContexts(_ node: Node) {
        guard let mapping = node.mapping else {
            if YAMLSettings.scalarValue(node).text != nil || node.sequence != nil {
                contextProblems.append("\(ContextDefinition.configKey): at line \(node.mark?.line ?? 0) is not a mapping of context names")
            }
            return
        }
        for (nameNode, body) in mapping {
            guard let name = nameNode.scalar?.string else { continue }
            let line = nameNode.mark?.line ?? 0
            guard let fields = body.mapping else {
                contextProblems.append("the context \(name) (line \(line)) is not a mapping of settings")
                continue
            }
            var values: [String: Value] = [:]
            for (key, value) in fields {
                guard let key = key.scalar?.string else { continue }
                YAMLSettings.flatten(value, prefix: key, into: &values)
            }
            contexts.append(ContextDefinition(name: name, line: line, path: path, values: values))
        }
    }

    private static func flatten(_ node: Node, prefix: String, into values: inout [String: Value]) {
        if let mapping = node.mapping {
            for (key, value) in mapping {
                guard let key = key.scalar?.string else { continue }
                flatten(value, prefix: prefix + "." + key, into: &values)
            }
        } else {
            values[prefix] = scalarValue(node)
            if node.sequence != nil { values[prefix]?.isList = true }
        }
    }

    /// The list at `key` or at a mapping above it (`state_backend: [a]` for
    /// `state_backend.uri`): the key where it is, and its line. Meltano would read no
    /// setting there and quietly fall back to another backend.
    func list(covering key: String) -> (key: String, line: Int)? {
        var prefix = key
        while true {
            if let value = values[prefix], value.isList { return (prefix, value.line) }
            guard let dot = prefix.lastIndex(of: ".") else { return nil }
            prefix = String(prefix[..<dot])
        }
    }

    static func scalarValue(_ node: Node) -> Value {
        let line = node.mark?.line ?? 0
        guard let scalar = node.scalar else { return Value(text: nil, line: line) }
        if scalar.style == .plain, ["", "~", "null", "Null", "NULL"].contains(scalar.string) {
            return Value(text: nil, line: line)
        }
        return Value(text: scalar.string, line: line)
    }

    /// A YAML syntax error as a `ConfigurationError`: the problem and its position, never
    /// Yams' snippet of the offending line (it could be a password).
    static func yamlError(_ error: Error, path: String) -> ConfigurationError {
        var problem = "YAML syntax error"
        var line: Int?
        var column: Int?
        if let yamlError = error as? YamlError {
            switch yamlError {
            case .scanner(let context, let text, let mark, _), .parser(let context, let text, let mark, _),
                 .composer(let context, let text, let mark, _):
                problem = (context.map { "\($0.text) " } ?? "") + text
                line = mark.line
                column = mark.column
            case .reader(let text, _, _, _):
                problem = text
            default:
                break
            }
        }
        var location = path
        if let line { location += ":\(line)" }
        return ConfigurationError(
            problem: "\(path) could not be read as YAML: \(problem)" + (line.map { " at line \($0)" } ?? "")
                + (column.map { ", column \($0)" } ?? ""),
            source: location,
            fix: "Correct the YAML at that line (indentation, a missing colon, or a value that needs quotes).")
    }
}
