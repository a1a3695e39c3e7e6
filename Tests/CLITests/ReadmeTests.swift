import Foundation
import Testing
import TestSupport

/// Every command the README shows exists, with every option it shows, so the README
/// cannot drift from the program.
@Suite("README commands")
struct ReadmeTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    @Test func everyCommandInTheReadmeParses() throws {
        let readme = try String(contentsOfFile: Self.root + "/README.md", encoding: .utf8)
        var inBlock = false
        var commands: [[String]] = []
        for line in readme.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("```") { inBlock.toggle(); continue }
            guard inBlock else { continue }
            let code = line.split(separator: "#", maxSplits: 1).first.map(String.init)?.trimmingCharacters(in: .whitespaces) ?? ""
            guard code.hasPrefix("meltano-state ") else { continue }
            let words = code.split(separator: " ").map(String.init)
            commands.append(words)
        }
        #expect(commands.count >= 20, "found \(commands.count) commands")
        for words in commands {
            // The verb, then every --option it shows: `meltano-state VERB --help` must list each.
            let verb = words[1]
            guard !verb.hasPrefix("-") else { continue }
            let verbs = verb == "config" && words.contains("|") ? ["config", "check", "init"] : [verb]
            for verb in verbs {
                let help = try runProcess(CLIFixture.binary, [verb, "--help"])
                #expect(help.status == 0, "README shows `\(words.joined(separator: " "))`, but `\(verb) --help` fails: \(help.stderr)")
                for option in words.dropFirst(2) where option.hasPrefix("--") {
                    let name = String(option.split(separator: "=").first ?? "")
                    #expect(help.stdout.contains(name), "README shows \(name) for \(verb), but its help does not list it")
                }
            }
        }
    }

    @Test func theFirstTwoCommandsAreMakeTargets() throws {
        let readme = try String(contentsOfFile: Self.root + "/README.md", encoding: .utf8)
        #expect(readme.contains("make demo"))
        #expect(readme.contains("make test"))
        let makefile = try String(contentsOfFile: Self.root + "/Makefile", encoding: .utf8)
        #expect(makefile.contains("demo:\n\tscripts/demo"))
        #expect(makefile.contains("test:\n\tscripts/test"))
        let ci = try String(contentsOfFile: Self.root + "/.ci/run", encoding: .utf8)
        #expect(ci.contains("make test"))
    }
}
