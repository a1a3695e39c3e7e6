import Foundation
@testable import StateConfig

/// A throw-away directory tree for one test: a home directory, a Meltano project and a
/// working directory, removed when the sandbox goes away.
final class Sandbox {
    let root: String
    var home: String { root + "/home" }
    var project: String { root + "/project" }

    init() {
        root = NSTemporaryDirectory() + "stateconfig-" + UUID().uuidString.prefix(8).lowercased()
        try! FileManager.default.createDirectory(atPath: root + "/home", withIntermediateDirectories: true)
        try! FileManager.default.createDirectory(atPath: root + "/project", withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    /// Writes `content` at `path` (relative to the sandbox root), creating directories.
    @discardableResult
    func write(_ path: String, _ content: String) -> String {
        let full = path.hasPrefix("/") ? path : root + "/" + path
        try! FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent,
                                                 withIntermediateDirectories: true)
        try! content.write(toFile: full, atomically: true, encoding: .utf8)
        return full
    }

    func remove(_ path: String) { try? FileManager.default.removeItem(atPath: root + "/" + path) }

    func mkdir(_ path: String) -> String {
        let full = root + "/" + path
        try! FileManager.default.createDirectory(atPath: full, withIntermediateDirectories: true)
        return full
    }

    /// The default config file, `~/.config/meltano-state/config.yml`.
    var configFile: String { home + "/.config/meltano-state/config.yml" }

    func inputs(flags: [String: String] = [:], environment: [String: String] = [:], workingDirectory: String? = nil,
                projectDirectory: String? = nil, environmentName: String? = nil,
                configFile: String? = nil) -> ConfigurationInputs {
        ConfigurationInputs(flags: flags, environment: environment, workingDirectory: workingDirectory ?? project,
                            projectDirectory: projectDirectory, environmentName: environmentName,
                            configFile: configFile, homeDirectory: home)
    }

    func resolve(flags: [String: String] = [:], environment: [String: String] = [:], workingDirectory: String? = nil,
                 projectDirectory: String? = nil, environmentName: String? = nil,
                 configFile: String? = nil) throws -> ResolvedConfiguration {
        try ConfigurationResolver.resolve(inputs(flags: flags, environment: environment, workingDirectory: workingDirectory,
                                                 projectDirectory: projectDirectory, environmentName: environmentName,
                                                 configFile: configFile))
    }
}

extension ResolvedConfiguration {
    func value(_ key: String) -> String? { entry(key)?.value }
    func source(_ key: String) -> SettingSource? { entry(key)?.source }
}
