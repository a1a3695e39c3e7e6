import Foundation
import Postgres

/// Where an effective setting came from, for `meltano-state config` and for errors.
public indirect enum SettingSource: Sendable, Equatable {
    /// A command-line flag (Meltano's "config override").
    case flag
    /// A variable of the process environment.
    case environment(variable: String)
    /// A variable of the top-level `env:` block of `meltano.yml`, which Meltano lays over
    /// the process environment for its own settings.
    case meltanoYMLEnvironment(path: String, line: Int, variable: String)
    /// A variable of the `.env` file beside `meltano.yml`.
    case dotenv(path: String, line: Int, variable: String)
    /// A key of `meltano.yml`.
    case meltanoYML(path: String, line: Int)
    /// A key of this tool's config file.
    case configFile(path: String, line: Int)
    /// A key of a context in this tool's config file.
    case context(name: String, path: String, line: Int)
    /// A part of a URI (`state_backend.uri` or `database_uri`), which came from `uri`.
    case uri(key: String, from: SettingSource)
    /// Typed at the password prompt.
    case prompt
    /// The built-in default.
    case `default`

    /// A short label: `flag`, `env VAR`, `.env:3 (VAR)`, `meltano.yml:12`,
    /// `~/.config/meltano-state/config.yml:4`, `uri (meltano.yml:12)`, `default`.
    public func label(home: String? = nil) -> String {
        switch self {
        case .flag: return "flag"
        case .environment(let variable): return "env \(variable)"
        case .meltanoYMLEnvironment(_, let line, let variable): return "meltano.yml:\(line) (env: \(variable))"
        case .dotenv(_, let line, let variable): return ".env:\(line) (\(variable))"
        case .meltanoYML(_, let line): return "meltano.yml:\(line)"
        case .configFile(let path, let line): return "\(abbreviateHome(path, home: home)):\(line)"
        case .context(let name, let path, let line): return "context \(name) (\(abbreviateHome(path, home: home)):\(line))"
        case .uri(let key, let from):
            let name = key == SettingKey.uri ? "uri" : key
            return "\(name) (\(from.label(home: home)))"
        case .prompt: return "prompt"
        case .default: return "default"
        }
    }

    /// A stable name of the kind of source, for JSON.
    public var kind: String {
        switch self {
        case .flag: return "flag"
        case .environment: return "env"
        case .meltanoYMLEnvironment: return "meltano_yml_env"
        case .dotenv: return "dotenv"
        case .meltanoYML: return "meltano_yml"
        case .configFile: return "config_file"
        case .context: return "context"
        case .uri: return "uri"
        case .prompt: return "prompt"
        case .default: return "default"
        }
    }

    /// The file the value is in, if any (for a URI part: the URI's file).
    public var path: String? {
        switch self {
        case .meltanoYMLEnvironment(let path, _, _), .dotenv(let path, _, _), .meltanoYML(let path, _),
             .configFile(let path, _), .context(_, let path, _):
            return path
        case .uri(_, let from): return from.path
        default: return nil
        }
    }

    /// The line in `path`, if any.
    public var line: Int? {
        switch self {
        case .meltanoYMLEnvironment(_, let line, _), .dotenv(_, let line, _), .meltanoYML(_, let line),
             .configFile(_, let line), .context(_, _, let line):
            return line
        case .uri(_, let from): return from.line
        default: return nil
        }
    }

    /// The environment variable the value came from, if any.
    public var variable: String? {
        switch self {
        case .environment(let variable), .meltanoYMLEnvironment(_, _, let variable), .dotenv(_, _, let variable):
            return variable
        case .uri(_, let from): return from.variable
        default: return nil
        }
    }
}

extension SettingSource: CustomStringConvertible {
    public var description: String { label() }
}

/// `~/x` for a path inside `home`.
func abbreviateHome(_ path: String, home: String?) -> String {
    guard let home, !home.isEmpty, home != "/" else { return path }
    let prefix = home.hasSuffix("/") ? home : home + "/"
    return path.hasPrefix(prefix) ? "~/" + path.dropFirst(prefix.count) : path
}

/// A configuration problem: what is wrong, where it was set and how to fix it. Built only
/// from setting names, file positions and fixed text, and scrubbed of every password the
/// resolver saw, so printing it is safe.
public struct ConfigurationError: Error, Sendable, Equatable, CustomStringConvertible, LocalizedError {
    /// What is wrong, naming the setting.
    public var problem: String
    /// Where the offending value was set (`meltano.yml:12`, `env MELTANO_STATE_BACKEND_URI`).
    public var source: String?
    /// What to do about it.
    public var fix: String

    public init(problem: String, source: String? = nil, fix: String) {
        self.problem = problem
        self.source = source
        self.fix = fix
    }

    public var description: String {
        var text = problem
        if let source { text += " (\(source))" }
        text += "\nFix: \(fix)"
        return text
    }

    public var errorDescription: String? { description }

    func scrubbed(by redactor: Redactor) -> ConfigurationError {
        ConfigurationError(problem: redactor.scrub(problem), source: source.map(redactor.scrub),
                           fix: redactor.scrub(fix))
    }
}
