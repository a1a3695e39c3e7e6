import Foundation
import StateStore
import Testing
import TestSupport

/// `meltano-state edit` on a real terminal (tmux), with an editor that does what vim
/// does: reads the terminal, and takes Ctrl-C for itself. The first version ran the
/// editor in a process group of its own, where reading the terminal fails ("Vim: Error
/// reading input, exiting..."); no script-only editor test could see that.
@Suite("edit on a terminal")
struct InteractiveEditTests {
    @Test func editorReadsTheTerminalAndOwnsCtrlC() throws {
        let fixture = try CLIFixture(schemaPrefix: "ttyedit")
        #expect(try fixture.run(["set", "--force", "dev:ask-me", #"{"singer_state": {"page": 17}}"#]).status == 0)
        let editor = fixture.directory + "/ask.sh"
        try #"""
            #!/bin/sh
            trap 'echo " (Ctrl-C caught by the editor)"' INT
            printf 'new page? '
            while ! read answer; do printf 'new page? '; done
            sed -i -e "s/\"page\": 17/\"page\": $answer/" "$1"
            """#.write(toFile: editor, atomically: true, encoding: .utf8)
        chmod(editor, 0o755)
        var environment = fixture.environment
        environment["EDITOR"] = editor
        let assignments = environment.sorted { $0.key < $1.key }.map { "\($0.key)=\(shellQuote($0.value))" }.joined(separator: " ")
        let command = "trap true INT; cd \(shellQuote(fixture.directory)) && env -i \(assignments) \(shellQuote(CLIFixture.binary)) edit dev:ask-me; echo EXIT=$?; sleep 600"
        let session = "edit-\(UUID().uuidString.prefix(8))"
        // A tmux server of the test's own: another suite ending its last session on a
        // shared server would end it under this one.
        let socket = "meltano-state-\(session)"
        let started = try runProcess("tmux", ["-L", socket, "new-session", "-d", "-s", session, "-x", "100", "-y", "30", "sh", "-c", command])
        try #require(started.status == 0, "tmux: \(started.stderr)")
        defer { _ = try? runProcess("tmux", ["-L", socket, "kill-server"]) }
        func send(_ keys: String...) { _ = try? runProcess("tmux", ["-L", socket, "send-keys", "-t", session] + keys) }
        func waitFor(_ text: String) throws {
            var screen = ""
            let deadline = Date().addingTimeInterval(15)
            while Date() < deadline {
                screen = (try? runProcess("tmux", ["-L", socket, "capture-pane", "-p", "-t", session]))?.stdout ?? ""
                if screen.contains(text) { return }
                Thread.sleep(forTimeInterval: 0.1)
            }
            Issue.record("waited for \"\(text)\"; the screen shows:\n\(screen)")
            throw CancellationError()
        }

        try waitFor("new page?")
        send("C-c")
        try waitFor("(Ctrl-C caught by the editor)")
        send("-l", "18")
        send("Enter")
        try waitFor("Write this state to 'dev:ask-me'?")
        send("y", "Enter")
        try waitFor("EXIT=0")
        let rows = try fixture.rows()
        #expect(rows == [["dev:ask-me", nil, #"{"singer_state": {"page": 18}}"#]], "\(rows)")
    }
}

private func shellQuote(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'" }
