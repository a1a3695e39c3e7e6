import ArgumentParser
import Foundation
import StateConfig
import StateStore

/// Connection and behaviour options every command takes. There is deliberately no
/// --password: a password on the command line shows in `ps` and shell history. Use
/// MELTANO_STATE_BACKEND_POSTGRES_PASSWORD, PGPASSWORD, ~/.pgpass, or the prompt.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("state_backend.uri, e.g. postgres://USER@HOST:PORT/DATABASE/SCHEMA (no password here: use MELTANO_STATE_BACKEND_POSTGRES_PASSWORD).", valueName: "uri"))
    var uri: String?
    @Option(name: .long, help: "Database host (state_backend.postgres.host).")
    var host: String?
    @Option(name: .long, parsing: .unconditional, help: "Database port (state_backend.postgres.port).")
    var port: String?
    @Option(name: .long, help: "Database user (state_backend.postgres.user).")
    var user: String?
    @Option(name: .long, help: "Database name (state_backend.postgres.database).")
    var database: String?
    @Option(name: .long, help: "Schema holding the state tables (default public).")
    var schema: String?
    @Option(name: .long, help: "SSL mode: disable, allow, prefer, require, verify-ca, verify-full.")
    var sslmode: String?
    @Option(name: .long, help: "Storage layout: two-tables, single-table, systemdb or auto.")
    var layout: String?
    @Option(name: .long, help: "The single-table layout's table name (default state).")
    var table: String?
    @Option(name: .long, help: "The Meltano project directory (default: the working directory or a parent holding meltano.yml).")
    var projectDir: String?
    @Option(name: .long, help: "The Meltano environment whose settings apply.")
    var environment: String?
    @Option(name: .long, help: "This tool's own config file (default ~/.config/meltano-state/config.yml).")
    var config: String?
    @Option(name: .long, help: ArgumentHelp("A context of the config file: a named backend (default: MELTANO_STATE_CONTEXT; `contexts` lists them).", valueName: "name"))
    var context: String?
    // Unconditional: `--lock-timeout -1` is a value (refused as negative, with the
    // fix), not a missing value followed by an unknown option.
    @Option(name: .long, parsing: .unconditional, help: "Seconds a write waits for a lock held by someone else (default 30).")
    var lockTimeout: Double?
    @Flag(name: .long, help: "Refuse every write.")
    var readOnly = false
    @Flag(name: .long, help: "Allow writes in a context whose config says read_only: true.")
    var writable = false
    @Flag(name: [.short, .long], help: "Print no progress or notes on stderr.")
    var quiet = false

    /// Setting keys given on the command line, the highest-precedence source.
    /// The configuration inputs of this process with these options, in `context` (the
    /// `--context` option's when nil).
    /// `source`: where `name` came from, for messages (`@prod:` in a diff, `--from`).
    func inputs(context name: String? = nil, layout layoutOverride: String? = nil, source: String? = nil) -> ConfigurationInputs {
        var settings = flagSettings
        if let layoutOverride { settings.text["layout"] = layoutOverride }
        var inputs = ConfigurationInputs.current(flags: settings, projectDirectory: projectDir, environmentName: environment,
                                                 configFile: config, contextName: name ?? context)
        if name != nil { inputs.contextSource = source }
        return inputs
    }

    var flagSettings: CommandLineSettings {
        var flags: [String: String] = [:]
        // Short names apply to whichever backend the URI selects (postgres or postgresql).
        flags["uri"] = uri
        flags["host"] = host
        flags["port"] = port
        flags["user"] = user
        flags["database"] = database
        flags["schema"] = schema
        flags["sslmode"] = sslmode
        flags["layout"] = layout
        flags["table"] = table
        if writable { flags["read_only"] = "false" }
        if readOnly { flags["read_only"] = "true" }  // --read-only wins over --writable
        // Parsed as a number already: carried as one.
        var seconds: [String: Double] = [:]
        seconds["lock_timeout"] = lockTimeout
        return CommandLineSettings(text: flags, seconds: seconds)
    }
}

/// Whether a person is at the keyboard: confirmations and password prompts need one.
var isInteractive: Bool { isatty(STDIN_FILENO) == 1 && isatty(STDERR_FILENO) == 1 }

/// Asks a yes/no question on the terminal; the default is No. Without a terminal it
/// refuses rather than hangs.
func confirm(_ question: String, assumeYes: Bool, flagHint: String = "--yes") throws {
    if assumeYes { return }
    guard isInteractive else {
        throw CommandFailure("\(question.trimmingCharacters(in: .whitespaces)) Not confirmed: no terminal to ask on. Add \(flagHint) to proceed.", code: Exit.usage)
    }
    writeStandardError("\(terminalSafe(question)) [y/N] ")
    guard let answer = readLine(strippingNewline: true)?.trimmingCharacters(in: .whitespaces).lowercased(),
          answer == "y" || answer == "yes" else {
        throw CommandFailure("Cancelled; nothing was changed.", code: Exit.failure)
    }
}
