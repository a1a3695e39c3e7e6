import ChildProcess
import Foundation
import Testing

/// Signals counted by a handler of the test process's own (see `foregroundIgnoresInterrupts`).
nonisolated(unsafe) private var interruptsSeen: Int32 = 0

@Suite("Child processes, as posix_spawn starts them")
struct ChildProcessTests {
    func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    /// The bug that hung CI for 90 minutes: Foundation's Process on Linux lets every
    /// child inherit a socket and learns of the exit when that socket closes, so a
    /// daemon the child starts (tmux's server) kept `waitUntilExit()` waiting for it.
    @Test func aDaemonLeftBehindDoesNotHoldUpTheWait() throws {
        let output = try ChildProcess.run("/bin/sh", ["-c", "setsid sleep 30 </dev/null >/dev/null 2>&1 & echo started"], timeout: 20)
        #expect(!output.timedOut, "the wait lasted as long as the daemon")
        #expect(output.termination == Termination(exitStatus: 0))
        #expect(text(output.standardOutput) == "started\n")
    }

    @Test func theChildGetsOnlyItsStandardDescriptors() throws {
        // Open descriptors of the parent's own, not close-on-exec, as Foundation's pipes are.
        var leaky: [Int32] = [-1, -1]
        #expect(pipe(&leaky) == 0)
        defer { close(leaky[0]); close(leaky[1]) }
        // posix_spawn returns once the program runs, so its descriptors are final.
        let child = try ChildProcess("/bin/sleep", ["30"], standardInput: .pipe, standardOutput: .pipe, standardError: .null)
        defer { child.signal(SIGKILL); child.wait() }
        let open = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(child.pid)/fd").sorted()
        #expect(open == ["0", "1", "2"])
    }

    @Test func signalMaskAndIgnoredSignalsAreNotInherited() throws {
        let previous = signal(SIGTERM, SIG_IGN)
        defer { signal(SIGTERM, previous) }
        var block = sigset_t(), old = sigset_t()
        sigemptyset(&block)
        sigaddset(&block, SIGINT)
        sigaddset(&block, SIGUSR1)
        pthread_sigmask(SIG_BLOCK, &block, &old)
        defer { pthread_sigmask(SIG_SETMASK, &old, nil) }
        let output = try ChildProcess.run("/bin/sh", ["-c", "exec grep -E '^Sig(Blk|Ign)' /proc/self/status"], timeout: 20)
        let fields = Dictionary(uniqueKeysWithValues: text(output.standardOutput).split(separator: "\n").compactMap { line -> (String, UInt64)? in
            let parts = line.split(separator: ":").map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, let value = UInt64(parts[1], radix: 16) else { return nil }
            return (parts[0], value)
        })
        #expect(fields["SigBlk"] == 0, "\(text(output.standardOutput))")
        let ignored = try #require(fields["SigIgn"])
        for number in [SIGINT, SIGTERM, SIGPIPE, SIGUSR1] {
            #expect(ignored & (1 << UInt64(number - 1)) == 0, "signal \(number) ignored in the child")
        }
    }

    @Test func exitStatusAndSignalAreReported() throws {
        #expect(try ChildProcess.run("/bin/sh", ["-c", "exit 7"], timeout: 20).termination == Termination(exitStatus: 7))
        let killed = try ChildProcess.run("/bin/sh", ["-c", "kill -TERM $$"], timeout: 20).termination
        #expect(killed == Termination(signal: SIGTERM))
        #expect(killed?.code == 143)
    }

    @Test func pastTheTimeoutTheChildAndItsGroupAreKilled() throws {
        let marker = "child-process-test-\(UUID().uuidString)"
        let started = Date()
        let output = try ChildProcess.run("/bin/sh", ["-c", "sleep 30 & exec -a \(marker) sleep 31"], timeout: 0.5)
        #expect(output.timedOut)
        #expect(Date().timeIntervalSince(started) < 15)
        // The background sleep was in the child's group, so it went too.
        Thread.sleep(forTimeInterval: 0.2)
        let survivors = try ChildProcess.run("/usr/bin/pgrep", ["-f", marker], timeout: 20)
        #expect(text(survivors.standardOutput).isEmpty)
    }

    @Test func largeInputAndOutputDoNotDeadlock() throws {
        let input = (0..<(5 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 9) }
        let output = try ChildProcess.run("/bin/cat", [], input: input, timeout: 60)
        #expect(output.termination == Termination(exitStatus: 0))
        #expect(output.standardOutput == input)
    }

    @Test func aChildThatStopsReadingEarlyDoesNotKillUs() throws {
        let input = [UInt8](repeating: 0x61, count: 1 << 20)
        let output = try ChildProcess.run("/usr/bin/head", ["-c", "3"], input: input, timeout: 60)
        #expect(output.termination == Termination(exitStatus: 0))
        #expect(text(output.standardOutput) == "aaa")
    }

    @Test func directoryEnvironmentAndPathLookup() throws {
        let output = try ChildProcess.run("sh", ["-c", "pwd; echo \"$GREETING\""], environment: ["GREETING": "héllo", "PATH": "/usr/bin:/bin"],
                                          currentDirectory: "/tmp", timeout: 20)
        #expect(text(output.standardOutput) == "/tmp\nhéllo\n")
    }

    @Test func aMissingProgramIsAClearError() throws {
        #expect {
            _ = try ChildProcess.run("/nonexistent/editor", [], timeout: 20)
        } throws: { error in
            "\(error)" == "cannot run /nonexistent/editor: No such file or directory"
        }
        #expect(throws: SpawnFailure.self) { _ = try ChildProcess.run("no-such-program-\(UUID().uuidString)", [], timeout: 20) }
    }

    /// An editor runs as `system()` runs it: in our process group (the terminal's
    /// foreground group, where it may read the terminal), while Ctrl-C is ignored by us.
    @Test func foregroundIgnoresInterruptsAndSharesTheProcessGroup() throws {
        let handler: @convention(c) (Int32) -> Void = { _ in interruptsSeen += 1 }
        let previous = signal(SIGINT, handler)
        defer { signal(SIGINT, previous) }
        let directory = NSTemporaryDirectory() + "child-process-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // The child interrupts its parent (us), records its group and what it ignores.
        let termination = try ChildProcess.runInForeground(
            shellCommand: #"kill -INT $PPID; cut -d' ' -f5 /proc/self/stat > "$1/pgid"; grep '^SigIgn' /proc/self/status > "$1/ignored"; exit 3"#,
            arguments: [directory])
        #expect(termination == Termination(exitStatus: 3))
        #expect(interruptsSeen == 0, "Ctrl-C during the editor reached the program waiting for it")
        let pgid = try String(contentsOfFile: directory + "/pgid", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(pgid == String(getpgrp()))
        let ignored = try String(contentsOfFile: directory + "/ignored", encoding: .utf8)
        let mask = UInt64(ignored.split(separator: ":")[1].trimmingCharacters(in: .whitespacesAndNewlines), radix: 16) ?? .max
        #expect(mask & (1 << UInt64(SIGINT - 1)) == 0, "the editor itself must get Ctrl-C")
        // Our handler is back: a signal now is ours to see (on whichever thread takes it).
        kill(getpid(), SIGINT)
        let deadline = Date().addingTimeInterval(5)
        while interruptsSeen == 0 && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        #expect(interruptsSeen == 1)
    }

    @Test func editorSettingsAreExecedUnlessTheyUseShellSyntax() {
        #expect(editorCommandLine("vim") == #"exec vim "$1""#)
        #expect(editorCommandLine("code --wait") == #"exec code --wait "$1""#)
        #expect(editorCommandLine("vim -c 'set ft=json'") == #"exec vim -c 'set ft=json' "$1""#)
        #expect(editorCommandLine("TERM=xterm vim") == #"TERM=xterm vim "$1""#)
        #expect(editorCommandLine("vim; echo done") == #"vim; echo done "$1""#)
        #expect(editorCommandLine("$HOME/bin/ed") == #"$HOME/bin/ed "$1""#)
    }

    /// With the editor exec'ed, the process we wait for is the editor itself: a Ctrl-C
    /// it catches leaves it running, and we wait until it is done.
    @Test func theForegroundChildIsTheEditorItself() throws {
        let directory = NSTemporaryDirectory() + "child-process-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let editor = directory + "/editor.sh"
        try """
            #!/bin/sh
            trap 'echo caught >> "$1"' INT
            kill -INT $$
            echo "still here" >> "$1"
            """.write(toFile: editor, atomically: true, encoding: .utf8)
        chmod(editor, 0o755)
        let file = directory + "/file"
        let termination = try ChildProcess.runInForeground(shellCommand: editorCommandLine(editor), arguments: [file])
        #expect(termination == Termination(exitStatus: 0))
        #expect(try String(contentsOfFile: file, encoding: .utf8) == "caught\nstill here\n")
    }
}
