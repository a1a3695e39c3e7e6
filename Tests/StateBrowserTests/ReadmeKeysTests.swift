import Foundation
import StateBrowser
import Testing

/// The README's keys table is the browser's own key table (the one `?` shows), so the
/// two cannot drift. `MELTANO_STATE_UPDATE_README=1` rewrites the README's table.
@Suite("README keys table")
struct ReadmeKeysTests {
    static var markdown: String {
        var lines = ["| keys | what they do |", "|---|---|"]
        for (section, bindings) in KeyBindings.sections {
            for binding in bindings {
                let keys = binding.keys.split(separator: " ", omittingEmptySubsequences: true).map { "`\($0)`" }.joined(separator: " ")
                lines.append("| \(keys) | \(section): \(binding.action)\(binding.writes ? " (not in read-only mode)" : "") |")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    @Test func readmeListsEveryKeyAsTheHelpScreenDoes() throws {
        let readmePath = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("README.md").path
        var readme = try String(contentsOfFile: readmePath, encoding: .utf8)
        let start = try #require(readme.range(of: "<!-- keys:begin -->\n"), "README.md has no <!-- keys:begin --> marker")
        let end = try #require(readme.range(of: "<!-- keys:end -->"), "README.md has no <!-- keys:end --> marker")
        let current = String(readme[start.upperBound..<end.lowerBound])
        if ProcessInfo.processInfo.environment["MELTANO_STATE_UPDATE_README"] == "1" {
            readme.replaceSubrange(start.upperBound..<end.lowerBound, with: Self.markdown)
            try readme.write(toFile: readmePath, atomically: true, encoding: .utf8)
            return
        }
        #expect(current == Self.markdown, "README keys table differs from KeyBindings; run with MELTANO_STATE_UPDATE_README=1")
    }
}
