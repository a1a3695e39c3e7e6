import Foundation
@testable import StateConfig
import Postgres
import Testing
import TestSupport

/// Bounded randomised runs (a couple of seconds each, STATECONFIG_FUZZ_SECONDS to
/// change) of every reader of user-written configuration: the URI parsers, the .env
/// reader, the meltano.yml reader and the whole resolver. No input may crash them; a
/// crash takes the test process down, which fails the run. The seed is printed so a
/// failure can be replayed with STATECONFIG_FUZZ_SEED.
@Suite("Configuration readers under random input")
struct ConfigFuzzTests {
    static let seconds: Double = Double(ProcessInfo.processInfo.environment["STATECONFIG_FUZZ_SECONDS"] ?? "") ?? 1.5

    static func seed(_ salt: UInt64) -> UInt64 {
        if let text = ProcessInfo.processInfo.environment["STATECONFIG_FUZZ_SEED"], let seed = UInt64(text) { return seed }
        return UInt64(Date().timeIntervalSince1970 * 1000) ^ salt
    }

    static let odd: [String] = ["\u{0}", "\u{1B}[2J", "\u{7F}", "\u{202E}", "é", "日本", "😀", "\u{FFFD}", "\r", "\n", "\t", " ", "\\", "\"", "'", "`", "$", "${", "}", "#", "%", "%zz", "%c3%28", "%00"]

    /// Text from pieces: the tokens of the format, odd characters and random scalars.
    static func text(_ rng: inout SeededRandom, tokens: [String], length: ClosedRange<Int>) -> String {
        var out = ""
        for _ in 0..<rng.int(length) {
            switch rng.int(0...9) {
            case 0...5: out += rng.pick(tokens)
            case 6...7: out += rng.pick(odd)
            default:
                if let scalar = Unicode.Scalar(UInt32(rng.int(1...0x2FFF))) { out.unicodeScalars.append(scalar) }
            }
        }
        return out
    }

    /// A valid example, cut, spliced and sprinkled with odd text.
    static func mutate(_ seed: String, _ rng: inout SeededRandom, tokens: [String]) -> String {
        var scalars = Array(seed.unicodeScalars)
        for _ in 0..<rng.int(1...4) where !scalars.isEmpty {
            let at = rng.int(0...scalars.count - 1)
            switch rng.int(0...4) {
            case 0: scalars.remove(at: at)
            case 1: scalars.insert(contentsOf: text(&rng, tokens: tokens, length: 1...3).unicodeScalars, at: at)
            case 2: scalars.removeSubrange(at...)
            case 3: scalars.insert(contentsOf: scalars[at...].prefix(rng.int(1...12)), at: at)
            default: scalars[at] = rng.pick(Array(text(&rng, tokens: tokens, length: 1...1).unicodeScalars) + ["x"])
            }
        }
        return String(String.UnicodeScalarView(scalars))
    }

    /// Runs `body` on inputs from `make` until the time is up; returns how many.
    static func fuzz(_ name: String, salt: UInt64, _ make: (inout SeededRandom) -> String, _ body: (String) -> Void) -> Int {
        let seed = Self.seed(salt)
        var rng = SeededRandom(seed: seed)
        let deadline = Date().addingTimeInterval(seconds)
        var count = 0
        while Date() < deadline {
            body(make(&rng))
            count += 1
        }
        print("ConfigFuzzTests \(name): \(count) inputs in \(seconds) s, seed \(seed)")
        return count
    }

    @Test func uriParsers() {
        let tokens = ["postgres://", "postgresql://", "postgres:", "//", "/", ":", "@", "@@", "[", "]", "[::1]", "?", "#", "&", "=",
                      "user", "pass", "host", "db", "schema", "5432", "65536", "-1", "localhost", "sslmode=require",
                      "options=-csearch_path%3Dx", "host=%2Ftmp", "password=p", "%40", "%2F", "%3A", "[fe80::1%25eth0]"]
        let seeds = ["postgres://meltano:m3lt@no:pw@host:5432/db/schema", "postgresql://u:p%40ss@[::1]:6543/db?sslmode=require&options=-csearch_path%3Dx",
                     "postgres://u@h/d", "postgresql:///db?host=%2Ftmp&port=5433"]
        var rejected = 0
        let count = Self.fuzz("URI", salt: 1, { rng in
            rng.chance(0.50) ? Self.mutate(rng.pick(seeds), &rng, tokens: tokens) : Self.text(&rng, tokens: tokens, length: 0...24)
        }) { uri in
            do { _ = try AddOnURI.parse(uri).password } catch { rejected += 1 }
            do { _ = try LibpqURI.parse(uri, settingPrefix: "state_backend.postgresql") } catch { rejected += 1 }
            _ = uriScheme(uri)
            _ = redactURI(uri)
            _ = passwordsInURI(uri)
            _ = ConnectionConfiguration(uri: uri).description
        }
        #expect(count > 100 && rejected > 0)
    }

    /// A distinctive password in the user info (or a password= parameter) of an
    /// otherwise random URI: whatever the rest says, what the resolver shows (settings,
    /// JSON, errors) and the connection's description never contain it.
    @Test func uriPasswordNeverShown() {
        let sandbox = Sandbox()
        let password = "Zq9-\(UUID().uuidString.prefix(6))-pw"
        let tokens = ["/", ":", "@", "[", "]", "[::1]", "?", "#", "&", "=", "%40", "%2F", "host", "db", "s", "5432", "x",
                      "sslmode=require", "password=", "options=-csearch_path%3Dx", " ", "\\"]
        let count = Self.fuzz("URI password", salt: 5, { rng in
            let scheme = rng.pick(["postgres://", "postgresql://", "postgres:", "postgresql://"])
            let rest = Self.text(&rng, tokens: tokens, length: 0...12)
            return rng.chance(0.80) ? "\(scheme)user:\(password)@\(rest)" : "\(scheme)user@h/db?\(rest)&password=\(password)"
        }) { uri in
            if uri.hasPrefix("postgres://") || uri.hasPrefix("postgresql://") {  // the resolver refuses anything else first
                #expect(!ConnectionConfiguration(uri: uri).description.contains(password), "\(uri.debugDescription)")
            }
            do {
                let resolved = try sandbox.resolve(environment: ["MELTANO_STATE_BACKEND_URI": uri])
                #expect(!resolved.render().contains(password), "\(uri.debugDescription)")
                #expect(!resolved.renderJSON().contains(password), "\(uri.debugDescription)")
                #expect(!resolved.connection.description.contains(password), "\(uri.debugDescription)")
                #expect(!resolved.warnings.joined().contains(password), "\(uri.debugDescription)")
            } catch {
                #expect(!String(describing: error).contains(password), "\(uri.debugDescription): \(error)")
            }
        }
        #expect(count > 50)
    }

    @Test func dotEnvReader() {
        let tokens = ["KEY", "MELTANO_STATE_BACKEND_URI", "export ", "=", "==", " = ", "'", "\"", "\\n", "\\'", "\\\"", "\\\\",
                      "${KEY}", "${KEY:-default}", "${", "$KEY", "#", " # comment", "\n", "\r\n", "value", "a b", "\t"]
        let seeds = ["KEY=value\nexport OTHER='single ${KEY}'\nQ=\"double \\n ${KEY:-x}\" # c\n", "A=1\r\nB=\"multi\nline\"\nC\n#x\n"]
        let count = Self.fuzz(".env", salt: 2, { rng in
            rng.chance(0.50) ? Self.mutate(rng.pick(seeds), &rng, tokens: tokens) : Self.text(&rng, tokens: tokens, length: 0...40)
        }) { text in
            let file = DotEnvFile.parse(text, path: "/fuzz/.env", environment: ["KEY": "from-env", "HOME": "/home/x"])
            for (_, value) in file.values { _ = value.value?.count }
            _ = try? MeltanoExpansion.expand(text, environment: ["KEY": "v"], strict: true)
            _ = try? MeltanoExpansion.expand(text, environment: [:], strict: false)
        }
        #expect(count > 100)
    }

    @Test func meltanoYAMLReader() {
        let tokens = ["state_backend:", "\n  ", "\n    ", "uri:", "postgres:", "host:", "password:", "$PW", "${PW}", "environments:",
                      "\n- name: dev", "\n  config:", "default_environment:", "plugins:", "env:", "- ", ": ", "[", "]", "{", "}",
                      ",", "&a ", "*a", "!!str ", "!tag ", "|", ">", "---", "...", "~", "null", "true", "1e3", "0x1F", "'", "\"",
                      "#", "? ", "<<: *a", "%YAML 1.2\n", "\t"]
        let seeds = ["""
            version: 1
            default_environment: dev
            env:
              PW: secret
            state_backend:
              uri: postgres://u:$PW@h/db/s
              postgres:
                host: ${HOST}
                port: 5432
            environments:
            - name: dev
              config:
                state_backend:
                  postgres:
                    schema: dev
            """, "state_backend.uri: x\nstate_backend: {postgres: {host: h, port: [1, 2]}}\n", "a: &x {b: 1}\nc: *x\n"]
        let count = Self.fuzz("meltano.yml", salt: 3, { rng in
            switch rng.int(0...9) {
            case 0: return String(repeating: rng.pick(["[", "{", "- ", "a:\n  "]), count: rng.int(100...3000))
            case 1...5: return Self.mutate(rng.pick(seeds), &rng, tokens: tokens)
            default: return Self.text(&rng, tokens: tokens, length: 0...30)
            }
        }) { text in
            _ = try? YAMLSettings.parse(text, path: "/fuzz/meltano.yml", isMeltanoFile: true)
            _ = try? YAMLSettings.parse(text, path: "/fuzz/config.yml", isMeltanoFile: false)
        }
        #expect(count > 50)
    }

    /// The whole resolver over random files and variables in a sandbox: it resolves or
    /// says what is wrong, and never shows the password it was given.
    @Test func resolverOverRandomFiles() {
        let sandbox = Sandbox()
        let password = "Fz-\(UUID().uuidString.prefix(6))-pw"
        let yamlTokens = ["state_backend:\n  ", "uri: ", "postgres:\n    ", "host: ", "password: ", "$PW", "${PW}", "\n", ": ", "[", "{", "'"]
        let envTokens = ["PW=", password, "MELTANO_STATE_BACKEND_URI=", "postgres://u:", "@h/db/s", "\n", "'", "\"", "${PW}", "#"]
        let count = Self.fuzz("resolver", salt: 4, { rng in
            Self.text(&rng, tokens: yamlTokens, length: 0...16) + "\u{10FFFF}" + Self.text(&rng, tokens: envTokens, length: 0...16)
        }) { text in
            let parts = text.split(separator: "\u{10FFFF}", maxSplits: 1, omittingEmptySubsequences: false)
            sandbox.write("project/meltano.yml", String(parts[0]))
            sandbox.write("project/.env", parts.count > 1 ? String(parts[1]) : "")
            do {
                let resolved = try sandbox.resolve(environment: ["MELTANO_STATE_BACKEND_POSTGRES_PASSWORD": password, "PW": password])
                #expect(!resolved.render().contains(password))
                #expect(!resolved.renderJSON().contains(password))
                #expect(!resolved.connection.description.contains(password))
            } catch {
                #expect(!String(describing: error).contains(password), "\(error)")
            }
        }
        #expect(count > 20)
    }
}
