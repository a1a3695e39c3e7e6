import Foundation
import Testing
import TestSupport

/// The README's first command, as a newcomer runs it: in a terminal (tmux), it shows
/// the browser on seeded data; `q` stops the server and leaves no files behind.
@Suite("The demo")
struct DemoTests {
    /// The README's command, run as written (the Makefile runs scripts/demo).
    static let readmeCommand = "make demo"

    @Test func demoShowsSeededStateAndCleansUpOnQuit() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        let scratch = NSTemporaryDirectory() + "meltano-state-demo-test-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        if getuid() == 0 { _ = chown(scratch, 0, 0) }
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let session = "demo-\(UUID().uuidString.prefix(8))"
        let command = "cd \(shellQuote(root)) && MELTANO_STATE_DEMO_BIN=\(shellQuote(CLIFixture.binary)) MELTANO_STATE_DB_ROOT=\(shellQuote(scratch)) HOME=\(shellQuote(scratch)) \(Self.readmeCommand); echo $? > \(shellQuote(scratch))/exit-status"
        let started = try runProcess("tmux", ["-L", "meltano-state-e2e", "new-session", "-d", "-s", session, "-x", "140", "-y", "40", command])
        #expect(started.status == 0, "\(started.stderr)")
        defer { _ = try? runProcess("tmux", ["-L", "meltano-state-e2e", "kill-session", "-t", session]) }

        func screen() -> String { (try? runProcess("tmux", ["-L", "meltano-state-e2e", "capture-pane", "-p", "-t", session]).stdout) ?? "" }
        var shown = ""
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            shown = screen()
            if shown.contains("locks 2, 1 stale") && shown.contains("prod:tap-stripe-to-target-postgres") { break }
            Thread.sleep(forTimeInterval: 0.3)
        }
        #expect(shown.contains("schema meltano"), "screen:\n\(shown)")
        #expect(shown.contains("prod:tap-stripe-to-target-postgres"))
        #expect(shown.contains("STALE"))
        #expect(shown.contains("locks 2, 1 stale"), "a crashed run's lock and a running pipeline's lock")
        let serverDirectories = try FileManager.default.contentsOfDirectory(atPath: scratch).filter { $0.hasPrefix("meltano-state-pg-demo-") }
        #expect(serverDirectories.count == 1)

        _ = try runProcess("tmux", ["-L", "meltano-state-e2e", "send-keys", "-t", session, "q"])
        var status: String?
        let exitDeadline = Date().addingTimeInterval(20)
        while Date() < exitDeadline {
            status = (try? String(contentsOfFile: scratch + "/exit-status", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
            if status != nil { break }
            Thread.sleep(forTimeInterval: 0.2)
        }
        #expect(status == "0")
        let left = try FileManager.default.contentsOfDirectory(atPath: scratch).filter { $0.hasPrefix("meltano-state-pg-") }
        #expect(left.isEmpty, "server files left behind: \(left)")
        let processes = try runProcess("pgrep", ["-af", scratch])
        #expect(processes.stdout.split(separator: "\n").filter { !$0.contains("pgrep") }.isEmpty, "processes left: \(processes.stdout)")
    }
}

private func shellQuote(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'" }
