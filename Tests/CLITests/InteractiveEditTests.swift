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
    /// `meltano-state edit ID` in a tmux session of its own, with `editor` as EDITOR.
    final class Terminal {
        let socket: String, session: String

        init(_ fixture: CLIFixture, editor script: String, stateID: String) throws {
            let editor = fixture.directory + "/editor.sh"
            try script.write(toFile: editor, atomically: true, encoding: .utf8)
            chmod(editor, 0o755)
            var environment = fixture.environment
            environment["EDITOR"] = editor
            let assignments = environment.sorted { $0.key < $1.key }.map { "\($0.key)=\(shellQuote($0.value))" }.joined(separator: " ")
            let command = "trap true INT; cd \(shellQuote(fixture.directory)) && env -i \(assignments) \(shellQuote(CLIFixture.binary)) edit \(shellQuote(stateID)); echo EXIT=$?; sleep 600"
            session = "edit-\(UUID().uuidString.prefix(8))"
            // A tmux server of the test's own: another suite ending its last session on a
            // shared server would end it under this one.
            socket = "meltano-state-\(session)"
            let started = try runProcess("tmux", ["-L", socket, "new-session", "-d", "-s", session, "-x", "100", "-y", "30", "sh", "-c", command])
            try #require(started.status == 0, "tmux: \(started.stderr)")
        }

        deinit { _ = try? runProcess("tmux", ["-L", socket, "kill-server"]) }

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
    }

    @Test func editorReadsTheTerminalAndOwnsCtrlC() throws {
        let fixture = try CLIFixture(schemaPrefix: "ttyedit")
        #expect(try fixture.run(["set", "--force", "dev:ask-me", #"{"singer_state": {"page": 17}}"#]).status == 0)
        let terminal = try Terminal(fixture, editor: #"""
            #!/bin/sh
            trap 'echo " (Ctrl-C caught by the editor)"' INT
            printf 'new page? '
            while ! read answer; do printf 'new page? '; done
            sed -i -e "s/\"page\": 17/\"page\": $answer/" "$1"
            """#, stateID: "dev:ask-me")
        try terminal.waitFor("new page?")
        terminal.send("C-c")
        try terminal.waitFor("(Ctrl-C caught by the editor)")
        terminal.send("-l", "18")
        terminal.send("Enter")
        try terminal.waitFor("Write this state to 'dev:ask-me'?")
        terminal.send("y", "Enter")
        try terminal.waitFor("EXIT=0")
        let rows = try fixture.rows()
        #expect(rows == [["dev:ask-me", nil, #"{"singer_state": {"page": 18}}"#]], "\(rows)")
    }

    /// An editor that saves the same invalid text every time (or only exits on the
    /// reopened file) is not started forever: the second identical save stops the edit.
    @Test func theSameInvalidTextTwiceStops() throws {
        let fixture = try CLIFixture(schemaPrefix: "ttyloop")
        #expect(try fixture.run(["set", "--force", "dev:loop", #"{"singer_state": {"page": 1}}"#]).status == 0)
        let runs = fixture.directory + "/runs"
        let terminal = try Terminal(fixture, editor: """
            #!/bin/sh
            echo run >> \(shellQuote(runs))
            printf '{"a":1,,}' > "$1"
            """, stateID: "dev:loop")
        try terminal.waitFor("EXIT=2")
        try terminal.waitFor("still not valid JSON")
        #expect(try String(contentsOfFile: runs, encoding: .utf8) == "run\nrun\n")
        #expect(try fixture.rows() == [["dev:loop", nil, #"{"singer_state": {"page": 1}}"#]])
    }
}

private func shellQuote(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'" }
