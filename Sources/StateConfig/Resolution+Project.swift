import Foundation

/// Finding the Meltano project and reading its files and the environment, as Meltano
/// does, before any setting is looked up: `meltano.yml`, `.env`, the active
/// environment, the variables `$VAR` sees, this tool's config file.
extension Resolution {
    mutating func load() throws {
        try checkFlags()
        // The config file first: a context in it may say where the project is.
        try loadConfigFile()
        try selectContext()
        try findProject()
        try chooseEnvironment()
        layEnvironment()
        readStrictMode()
    }

    /// The working directory, absolute.
    var workingDirectory: String { absolutePath(inputs.workingDirectory, relativeTo: "/") }

    /// Every flag key is one the resolver knows.
    func checkFlags() throws {
        let unknownFlags = inputs.flags.keys.filter { !ConfigurationResolver.flagKeys.contains($0) }.sorted()
        if let unknown = unknownFlags.first {
            throw ConfigurationError(problem: "unknown setting \(unknown) given as a flag", source: "flag",
                                     fix: "Use one of: \(ConfigurationResolver.flagKeys.joined(separator: ", ")).")
        }
        let unknownSeconds = inputs.flagSeconds.keys.filter { !ConfigurationResolver.secondsFlagKeys.contains($0) }.sorted()
        if let unknown = unknownSeconds.first {
            throw ConfigurationError(problem: "unknown setting \(unknown) given as a flag in seconds", source: "flag",
                                     fix: "Use one of: \(ConfigurationResolver.secondsFlagKeys.joined(separator: ", ")).")
        }
    }

    /// The Meltano project, as Project.find: explicit root, else the working directory or a
    /// parent; its meltano.yml and .env.
    mutating func findProject() throws {
        let environment = inputs.environment
        var explicitRoot: (path: String, origin: String)?
        if let directory = inputs.projectDirectory, !directory.isEmpty {
            explicitRoot = (directory, "--project-dir")
        } else if let context, let directory = context.projectDirectory {
            explicitRoot = (expandContextPath(directory), "context \(context.name) project_dir")
        } else if context?.ownsConnection == true {
            return  // a context with a URI of its own reads no project
        } else if let directory = environment["MELTANO_PROJECT_ROOT"], !directory.isEmpty {
            explicitRoot = (directory, "env MELTANO_PROJECT_ROOT")
        }
        if let explicitRoot {
            let root = absolutePath(explicitRoot.path, relativeTo: workingDirectory)
            guard FileManager.default.fileExists(atPath: root + "/meltano.yml") else {
                throw ConfigurationError(problem: "there is no meltano.yml in \(root)", source: explicitRoot.origin,
                                         fix: "Point \(explicitRoot.origin) at the directory that holds your project's meltano.yml, or leave it unset to search from the working directory.")
            }
            projectRoot = root
        } else {
            var directory = workingDirectory
            while true {
                if FileManager.default.fileExists(atPath: (directory == "/" ? "" : directory) + "/meltano.yml") {
                    projectRoot = directory
                    break
                }
                let parent = (directory as NSString).deletingLastPathComponent
                if parent == directory || parent.isEmpty { break }
                directory = parent
            }
        }
        if let root = projectRoot {
            let base = root == "/" ? "" : root
            meltanoFile = try YAMLSettings.load(path: base + "/meltano.yml", isMeltanoFile: true)
            // A misspelt setting of the two add-ons (whose settings are all known here) is
            // ignored by Meltano too, silently: said here. Other backends' (s3, …) are not ours to judge.
            let known = SettingKey.meltanoKeys
            for (key, value) in (meltanoFile?.values ?? [:]).sorted(by: { $0.value.line < $1.value.line })
            where (key.hasPrefix("state_backend.postgres.") || key.hasPrefix("state_backend.postgresql.")) && !known.contains(key) {
                let near = known.filter { editDistance($0, key) <= 2 }.sorted()
                warnings.append("meltano.yml:\(value.line): unknown setting \(key) (Meltano ignores it too)\(near.isEmpty ? "" : "; did you mean \(near.joined(separator: " or "))?")")
            }
            dotenv = try DotEnvFile.load(path: base + "/.env", environment: environment)
            for line in dotenv?.unparsedLines ?? [] {
                warnings.append(".env:\(line) could not be parsed; python-dotenv (and so Meltano) skips it")
            }
        }
    }

    /// The active environment, as Meltano's CLI picks it.
    mutating func chooseEnvironment() throws {
        // Meltano builds every environment (`Environment(**mapping)`) for any command;
        // a key beside `name` it does not take fails them all. Read on, this tool would
        // use the top level's backend where the user meant the environment's: refused,
        // unless --uri or a context's uri says where the state is (a repair from inside
        // the broken project).
        for environment in meltanoFile?.environments ?? [] {
            guard let (key, line) = environment.misplacedSettings.first else { continue }
            let problem = "environment \(environment.name) sets \(key) directly (beside its name), which Meltano refuses for every command (\"Environment.__init__() got an unexpected keyword argument '\(key)'\")"
            let fix = key == "state_backend" || key == "database_uri"
                ? "Meltano's own settings cannot be set per environment: move \(key) to the top level of meltano.yml, or set it per environment through environment variables (MELTANO_STATE_BACKEND_URI, MELTANO_DATABASE_URI)."
                : "Remove \(key) there, or move it under the environment's config: (plugins only)."
            if inputs.flags["uri"] != nil || context?.uri != nil {
                warnings.append("meltano.yml:\(line): \(problem). \(fix)")
            } else {
                throw ConfigurationError(problem: problem, source: "meltano.yml:\(line)", fix: fix)
            }
        }
        let environment = inputs.environment
        if let name = inputs.environmentName, !name.isEmpty {
            (environmentName, environmentSource) = (name, "flag")
        } else if let context, let name = context.environment {
            (environmentName, environmentSource) = (name, "context \(context.name)")
        } else if let name = environment["MELTANO_ENVIRONMENT"], !name.isEmpty {
            (environmentName, environmentSource) = (name, "env MELTANO_ENVIRONMENT")
        } else if let value = meltanoFile?.defaultEnvironment, let name = value.text, !name.isEmpty {
            (environmentName, environmentSource) = (name, "default_environment (meltano.yml:\(value.line))")
        }
        if environmentName?.lowercased() == "null" { (environmentName, environmentSource) = (nil, nil) }
        if projectRoot == nil {
            (environmentName, environmentSource) = (nil, nil)
        } else if let name = environmentName, let meltanoFile,
                  !meltanoFile.environments.contains(where: { $0.name == name }) {
            let known = meltanoFile.environments.map(\.name)
            throw ConfigurationError(
                problem: "the Meltano environment \(name) is not defined in meltano.yml", source: environmentSource,
                fix: known.isEmpty
                    ? "Add it under environments: in meltano.yml, or choose none with --environment null."
                    : "Use one of \(known.joined(separator: ", ")), or none with --environment null.")
        }
    }

    /// The environment as Meltano's settings see it: the process, then meltano.yml's env:;
    /// and what $VAR in meltano.yml sees.
    mutating func layEnvironment() {
        let environment = inputs.environment
        for (name, value) in environment { environmentLayer[name] = (value, .environment(variable: name)) }
        if let meltanoFile {
            for (name, value) in meltanoFile.env {
                guard let text = value.text else { continue }
                environmentLayer[name] = (text, .meltanoYMLEnvironment(path: meltanoFile.path, line: value.line, variable: name))
            }
        }
        // What $VAR in meltano.yml sees: {**.env, **os.environ, **project.env, **meltano.yml env}.
        for (name, value) in dotenv?.values ?? [:] { if let text = value.value { expansionEnvironment[name] = text } }
        for (name, value) in environment { expansionEnvironment[name] = value }
        if let root = projectRoot {
            expansionEnvironment["MELTANO_PROJECT_ROOT"] = root
            expansionEnvironment["MELTANO_ENVIRONMENT"] = environmentName ?? ""
            expansionEnvironment["MELTANO_SYS_DIR_ROOT"] = absolutePath(
                environment["MELTANO_SYS_DIR_ROOT"] ?? (root == "/" ? "/.meltano" : root + "/.meltano"), relativeTo: workingDirectory)
        }
        for (name, value) in meltanoFile?.env ?? [:] { if let text = value.text { expansionEnvironment[name] = text } }
    }

    /// This tool's config file: --config, MELTANO_STATE_CONFIG, else under XDG_CONFIG_HOME.
    mutating func loadConfigFile() throws {
        let environment = inputs.environment
        var explicitConfig: String?
        var configPath: String
        if let path = inputs.configFile, !path.isEmpty {
            (explicitConfig, configPath) = ("--config", path)
        } else if let path = environment[OwnSettings.configFileVariable], !path.isEmpty {
            (explicitConfig, configPath) = ("env \(OwnSettings.configFileVariable)", path)
        } else {
            let xdg = environment["XDG_CONFIG_HOME"].flatMap { $0.hasPrefix("/") ? $0 : nil } ?? home + "/.config"
            configPath = xdg + "/meltano-state/config.yml"
        }
        configFilePath = absolutePath(configPath, relativeTo: workingDirectory)
        configFile = try YAMLSettings.load(path: configFilePath, isMeltanoFile: false)
        if configFile == nil, let explicitConfig {
            throw ConfigurationError(problem: "the config file \(configFilePath) does not exist", source: explicitConfig,
                                     fix: "Create it (config.example.yml lists every setting), or point \(explicitConfig) at an existing file.")
        }
        let known = SettingKey.meltanoKeys.union(OwnSettings.all.map(\.key)).union([ContextDefinition.configKey])
        for (key, value) in (configFile?.values ?? [:]).sorted(by: { $0.value.line < $1.value.line }) where !known.contains(key) {
            warnings.append("\(abbreviateHome(configFilePath, home: home)):\(value.line): unknown setting \(key) (ignored)")
        }
    }

    /// ff.strict_env_var_mode decides what an unset $VAR does (read without expansion).
    mutating func readStrictMode() {
        let strictVariable = SettingKey.meltanoEnvVar(SettingKey.strictEnvVarMode)
        let strictText = environmentLayer[strictVariable]?.value ?? dotenv?[strictVariable]?.value
            ?? meltanoFile?[SettingKey.strictEnvVarMode]?.text
        strictEnvVarMode = strictText.flatMap(parseBool) ?? false
    }

    /// A context's project_dir: `$VAR` expanded from the process environment, `~` and
    /// relative paths taken from the config file's directory.
    func expandContextPath(_ text: String) -> String {
        let expanded = (try? MeltanoExpansion.expand(text, environment: inputs.environment, strict: false))?.value ?? text
        return absolutePath(expanded, relativeTo: (configFilePath as NSString).deletingLastPathComponent)
    }

    func absolutePath(_ path: String, relativeTo base: String) -> String {
        var expanded = path
        if path == "~" { expanded = home } else if path.hasPrefix("~/") { expanded = home + path.dropFirst(1) }
        if !expanded.hasPrefix("/") { expanded = (base as NSString).appendingPathComponent(expanded) }
        let standardized = (expanded as NSString).standardizingPath
        return standardized.isEmpty ? "/" : standardized
    }
}
