import Foundation

/// Everything the resolver reads besides files: given explicitly, so tests (and the CLI)
/// never depend on the real process environment or working directory.
public struct ConfigurationInputs: Sendable {
    /// Command-line flags as setting keys: a Meltano name (`state_backend.uri`,
    /// `state_backend.postgres.host`, `database_uri`), the short name of a connection part
    /// (`uri`, `host`, `port`, `user`, `password`, `database`, `schema`, `sslmode`,
    /// `table`: these apply to whichever backend the URI selects), or one of this tool's
    /// own keys (`OwnSettings.all`). `ConfigurationResolver.flagKeys` lists them all.
    public var flags: [String: String]
    /// Durations the command line parsed as numbers already (`--lock-timeout 2.5`), by
    /// setting key (`lock_timeout`, `stale_lock_after`, `refresh_interval`): used as
    /// they are, never written out as text and parsed again. A key here wins over the
    /// same key in `flags`.
    public var flagSeconds: [String: Double]
    /// The process environment.
    public var environment: [String: String]
    /// Where a Meltano project is looked for (then in each parent).
    public var workingDirectory: String
    /// `--project-dir`; when nil, `MELTANO_PROJECT_ROOT`, else the search from
    /// `workingDirectory`.
    public var projectDirectory: String?
    /// `--environment`; when nil, `MELTANO_ENVIRONMENT`, else the project's
    /// `default_environment`. `null` (any case) means none, as in Meltano.
    public var environmentName: String?
    /// `--config`; when nil, `MELTANO_STATE_CONFIG`, else
    /// `$XDG_CONFIG_HOME/meltano-state/config.yml` (`~/.config/meltano-state/config.yml`).
    public var configFile: String?
    public var homeDirectory: String
    /// `--context`; when nil, `MELTANO_STATE_CONTEXT`, else none.
    public var contextName: String?
    /// Where `contextName` came from, for messages (default `--context`; diff's `@NAME:`).
    public var contextSource: String?

    public init(flags: [String: String] = [:], flagSeconds: [String: Double] = [:], environment: [String: String],
                workingDirectory: String, projectDirectory: String? = nil, environmentName: String? = nil,
                configFile: String? = nil, homeDirectory: String, contextName: String? = nil) {
        self.flags = flags
        self.flagSeconds = flagSeconds
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.projectDirectory = projectDirectory
        self.environmentName = environmentName
        self.configFile = configFile
        self.homeDirectory = homeDirectory
        self.contextName = contextName
    }

    /// The inputs of this process: its environment, working directory and home.
    public static func current(flags: [String: String] = [:], flagSeconds: [String: Double] = [:],
                               projectDirectory: String? = nil, environmentName: String? = nil,
                               configFile: String? = nil, contextName: String? = nil) -> ConfigurationInputs {
        let environment = ProcessInfo.processInfo.environment
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return ConfigurationInputs(flags: flags, flagSeconds: flagSeconds, environment: environment,
                                   workingDirectory: FileManager.default.currentDirectoryPath,
                                   projectDirectory: projectDirectory, environmentName: environmentName,
                                   configFile: configFile, homeDirectory: home, contextName: contextName)
    }

    /// The inputs of this process, with the command line's settings as parsed.
    public static func current(flags: CommandLineSettings, projectDirectory: String? = nil,
                               environmentName: String? = nil, configFile: String? = nil,
                               contextName: String? = nil) -> ConfigurationInputs {
        current(flags: flags.text, flagSeconds: flags.seconds, projectDirectory: projectDirectory,
                environmentName: environmentName, configFile: configFile, contextName: contextName)
    }
}

/// The settings a command line gives, as it parsed them: text by setting key (as
/// `ConfigurationInputs.flags`), and durations in seconds (`ConfigurationInputs.flagSeconds`).
public struct CommandLineSettings: Sendable, Equatable {
    public var text: [String: String]
    public var seconds: [String: Double]

    public init(text: [String: String] = [:], seconds: [String: Double] = [:]) {
        self.text = text
        self.seconds = seconds
    }
}
