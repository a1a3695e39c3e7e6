import Foundation
import Testing
@testable import StateConfig

/// A duration the command line parsed as a number (`--lock-timeout 2.5`) reaches the
/// configuration as that number: never written out and parsed again.
@Suite struct CommandLineSecondsTests {
    func resolve(_ sandbox: Sandbox, flags: [String: String] = [:], seconds: [String: Double],
                 environment: [String: String] = [:]) throws -> ResolvedConfiguration {
        var inputs = sandbox.inputs(flags: flags, environment: ["MELTANO_STATE_BACKEND_URI": "postgres://u@h/db"]
                                        .merging(environment) { $1 })
        inputs.flagSeconds = seconds
        return try ConfigurationResolver.resolve(inputs)
    }

    @Test func theNumberIsCarriedAsItIs() throws {
        let sandbox = Sandbox()
        for value in [0.1 + 0.2, 2.5, 0, 1e-7, 123456789.123456789, Double.leastNonzeroMagnitude] {
            let config = try resolve(sandbox, seconds: ["lock_timeout": value])
            #expect(config.lockTimeout.bitPattern == value.bitPattern, "\(value)")
            #expect(config.source("lock_timeout") == .flag)
            #expect(config.value("lock_timeout") == formatSeconds(value))
        }
        let stale = try resolve(sandbox, seconds: ["stale_lock_after": 90.25, "refresh_interval": 0.5])
        #expect(stale.staleLockAfter == 90.25 && stale.refreshInterval == 0.5)
    }

    @Test func itWinsOverEveryOtherSourceAndTheTextFlag() throws {
        let sandbox = Sandbox()
        sandbox.write("home/.config/meltano-state/config.yml", "lock_timeout: 5\n")
        let config = try resolve(sandbox, flags: ["lock_timeout": "1"], seconds: ["lock_timeout": 7.5],
                                 environment: ["MELTANO_STATE_LOCK_TIMEOUT": "2"])
        #expect(config.lockTimeout == 7.5)
        #expect(config.source("lock_timeout") == .flag)
        #expect(config.entry("lock_timeout")?.note == nil)
    }

    @Test func aBadNumberIsRefusedInTheWordsOfTheTextForm() throws {
        let sandbox = Sandbox()
        for (key, value) in [("lock_timeout", -1.0), ("lock_timeout", .nan), ("lock_timeout", .infinity),
                             ("stale_lock_after", 0), ("refresh_interval", -0.5)] {
            func message(_ body: () throws -> Void) -> String {
                do { try body(); return "" } catch { return "\(error)" }
            }
            let typed = message { _ = try resolve(sandbox, seconds: [key: value]) }
            let text = message { _ = try resolve(sandbox, flags: [key: String(value)], seconds: [:]) }
            #expect(!typed.isEmpty && typed == text, "\(key) \(value): \(typed) vs \(text)")
        }
    }

    @Test func onlyDurationsAreAccepted() {
        let sandbox = Sandbox()
        #expect {
            _ = try resolve(sandbox, seconds: ["connect_timeout": 3])
        } throws: { error in
            "\(error)".contains("unknown setting connect_timeout given as a flag in seconds")
                && "\(error)".contains("lock_timeout, stale_lock_after, refresh_interval")
        }
    }

    @Test func theCommandLinesSettingsBecomeTheInputs() {
        let settings = CommandLineSettings(text: ["host": "h"], seconds: ["lock_timeout": 0.1 + 0.2])
        let inputs = ConfigurationInputs.current(flags: settings, projectDirectory: "/p")
        #expect(inputs.flags == ["host": "h"])
        #expect(inputs.flagSeconds == ["lock_timeout": 0.1 + 0.2])
        #expect(inputs.projectDirectory == "/p")
    }
}
