import Foundation
import Testing
import TestSupport

/// The README's first command and `make install`, as a newcomer runs them: in a copy
/// of the tree as a fresh clone has it (tracked files and new ones, nothing ignored, no
/// `.build`), with no test variable set. `make demo` builds the release binary itself,
/// shows the browser on seeded data in a terminal (tmux), and `q` stops the server and
/// leaves no files behind; `make install DESTDIR=…` then installs a binary that runs
/// and completion scripts that bash, zsh and fish load.
///
/// One test, so the release build (minutes) is made once. scripts/test runs this
/// suite on its own before the others, so the build competes with no timed test.
@Suite("Fresh clone: make demo, make install", .serialized)
struct FirstCommandsTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static let socket = "meltano-state-first-commands"
    /// The README's first command, run as written (the Makefile runs scripts/demo).
    static let readmeCommand = "make demo"

    @Test func makeDemoThenMakeInstallFromAFreshClone() throws {
        let scratch = NSTemporaryDirectory() + "meltano-state-first-\(UUID().uuidString.prefix(8))"
        let clone = scratch + "/meltano-state"
        try FileManager.default.createDirectory(atPath: clone, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        // What `git clone` would bring, plus this tree's uncommitted and new files.
        let copy = try runProcess("/bin/sh", ["-c", "git ls-files -z --cached --others --exclude-standard | tar --null --ignore-failed-read -T - -cf - 2>/dev/null | tar -xf - -C \(shellQuote(clone))"],
                                  currentDirectory: Self.root)
        try #require(copy.status == 0, "copying the tree: \(copy.stderr)")
        try #require(FileManager.default.fileExists(atPath: clone + "/Makefile"))
        #expect(!FileManager.default.fileExists(atPath: clone + "/.build"), "a fresh clone has no build")

        try demo(in: clone, scratch: scratch)
        try install(from: clone, scratch: scratch)
    }

    /// `make demo` in tmux. Only the throwaway server's files are put under the
    /// scratch directory (MELTANO_STATE_DB_ROOT, a location and nothing else).
    func demo(in clone: String, scratch: String) throws {
        let session = "demo-\(UUID().uuidString.prefix(8))"
        let status = scratch + "/exit-status", transcript = scratch + "/transcript"
        let script = scratch + "/run-demo.sh"
        try """
            cd \(shellQuote(clone)) && MELTANO_STATE_DB_ROOT=\(shellQuote(scratch)) \(Self.readmeCommand) 2> >(tee \(shellQuote(transcript)) >&2)
            echo $? > \(shellQuote(status))
            sleep 600
            """.write(toFile: script, atomically: true, encoding: .utf8)
        // A login shell's environment, not the test run's (which has the test server's
        // PG* variables and the binaries scripts/test built): only what a user has.
        let inherited = ["HOME", "PATH", "USER", "LOGNAME", "SHELL", "PYENV_ROOT", "TMPDIR"].compactMap { name in
            ProcessInfo.processInfo.environment[name].map { "\(name)=\(shellQuote($0))" }
        }.joined(separator: " ")
        let command = "exec env -i \(inherited) TERM=\"$TERM\" LANG=C.UTF-8 bash \(shellQuote(script))"
        let started = try runProcess("tmux", ["-L", Self.socket, "new-session", "-d", "-s", session, "-x", "140", "-y", "40", "sh", "-c", command])
        try #require(started.status == 0, "\(started.stderr)")
        defer { _ = try? runProcess("tmux", ["-L", Self.socket, "kill-session", "-t", session]) }
        func screen() -> String { (try? runProcess("tmux", ["-L", Self.socket, "capture-pane", "-p", "-t", session]).stdout) ?? "" }

        // The first release build on two cores takes minutes; a failed one ends the demo.
        var shown = ""
        let deadline = Date().addingTimeInterval(20 * 60)
        while Date() < deadline, !FileManager.default.fileExists(atPath: status) {
            shown = screen()
            if shown.contains("locks 2, 1 stale") && shown.contains("prod:tap-stripe-to-target-postgres") { break }
            Thread.sleep(forTimeInterval: 0.5)
        }
        let log = (try? String(contentsOfFile: transcript, encoding: .utf8)) ?? ""
        try #require(!FileManager.default.fileExists(atPath: status),
                     "make demo ended before showing the browser (status \((try? String(contentsOfFile: status, encoding: .utf8)) ?? "?")); it printed:\n\(log.suffix(4000))\nscreen:\n\(shown)")
        #expect(log.contains("building (release"), "the demo builds: \(log.suffix(2000))")
        #expect(FileManager.default.isExecutableFile(atPath: clone + "/.build/release/meltano-state"), "make demo built the release binary")
        #expect(shown.contains("schema meltano"), "screen:\n\(shown)")
        #expect(shown.contains("prod:tap-stripe-to-target-postgres"))
        #expect(shown.contains("STALE"))
        #expect(shown.contains("locks 2, 1 stale"), "a crashed run's lock and a running pipeline's lock:\n\(shown)")
        let serverDirectories = try FileManager.default.contentsOfDirectory(atPath: scratch).filter { $0.hasPrefix("meltano-state-pg-demo-") }
        #expect(serverDirectories.count == 1)

        _ = try runProcess("tmux", ["-L", Self.socket, "send-keys", "-t", session, "q"])
        var exit: String?
        let exitDeadline = Date().addingTimeInterval(30)
        while Date() < exitDeadline {
            exit = (try? String(contentsOfFile: status, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
            if exit != nil { break }
            Thread.sleep(forTimeInterval: 0.2)
        }
        #expect(exit == "0", "make demo's exit status after q; screen:\n\(screen())")
        let left = try FileManager.default.contentsOfDirectory(atPath: scratch).filter { $0.hasPrefix("meltano-state-pg-") }
        #expect(left.isEmpty, "server files left behind: \(left)")
        let processes = try runProcess("pgrep", ["-af", "meltano-state-pg-demo-"])
        let ours = processes.stdout.split(separator: "\n").filter { $0.contains(scratch) }
        #expect(ours.isEmpty, "processes left: \(ours)")
    }

    /// `make install DESTDIR=…`, then what a user does with what it installed.
    func install(from clone: String, scratch: String) throws {
        let destination = scratch + "/root"
        let made = try runProcess("make", ["install", "DESTDIR=\(destination)", "PREFIX=/usr/local"], currentDirectory: clone, timeout: 900)
        try #require(made.status == 0, "make install failed:\n\(made.stdout.suffix(3000))\n\(made.stderr.suffix(3000))")
        let prefix = destination + "/usr/local"
        let binary = prefix + "/bin/meltano-state"
        #expect(FileManager.default.isExecutableFile(atPath: binary))
        let help = try runProcess(binary, ["--help"])
        #expect(help.status == 0)
        #expect(help.stdout.contains("USAGE: meltano-state"), "\(help.stdout)")
        let listHelp = try runProcess(binary, ["list", "--help"])
        #expect(listHelp.status == 0 && listHelp.stdout.contains("--pattern"), "\(listHelp.stdout)\(listHelp.stderr)")
        let doc = try String(contentsOfFile: prefix + "/share/doc/meltano-state/help.txt", encoding: .utf8)
        for verb in ["list", "get", "unlock", "fail-run", "history"] {
            #expect(doc.contains("USAGE: meltano-state \(verb)"), "help.txt has \(verb)'s help")
        }
        #expect(FileManager.default.fileExists(atPath: prefix + "/share/doc/meltano-state/README.md"))

        // Each shell loads its script and completes the verbs after `meltano-state `.
        let bin = prefix + "/bin"
        let path = bin + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
        let bash = try runProcess("bash", ["--norc", "--noprofile", "-c", """
            source \(shellQuote(prefix + "/share/bash-completion/completions/meltano-state"))
            complete -p meltano-state
            function=$(complete -p meltano-state | sed -n 's/.*-F \\([^ ]*\\).*/\\1/p')
            COMP_WORDS=(meltano-state "fa"); COMP_CWORD=1; COMP_LINE="meltano-state fa"; COMP_POINT=${#COMP_LINE}
            "$function" meltano-state fa meltano-state
            printf 'reply: %s\\n' "${COMPREPLY[@]}"
            """], environment: ["PATH": path, "HOME": scratch])
        #expect(bash.status == 0, "bash: \(bash.stderr)")
        #expect(bash.stdout.contains("-F _meltano-state meltano-state"), "bash registered no completion: \(bash.stdout)")
        #expect(bash.stdout.contains("reply: fail-run"), "bash completes `fa` to fail-run: \(bash.stdout)\(bash.stderr)")

        let zsh = try runProcess("zsh", ["-f", "-c", """
            fpath=(\(shellQuote(prefix + "/share/zsh/site-functions")) $fpath)
            autoload -Uz compinit && compinit -u -d \(shellQuote(scratch + "/zcompdump"))
            print -r -- "function: $_comps[meltano-state]"
            autoload -Uz +X _meltano-state && print loaded
            """], environment: ["PATH": path, "HOME": scratch])
        #expect(zsh.status == 0, "zsh: \(zsh.stderr)")
        #expect(zsh.stdout.contains("function: _meltano-state"), "zsh has no completion for meltano-state: \(zsh.stdout)\(zsh.stderr)")
        #expect(zsh.stdout.contains("loaded"), "zsh could not load _meltano-state: \(zsh.stderr)")

        let fish = try runProcess("fish", ["--no-config", "-c", """
            source \(shellQuote(prefix + "/share/fish/vendor_completions.d/meltano-state.fish"))
            complete -C 'meltano-state fa'
            """], environment: ["PATH": path, "HOME": scratch])
        #expect(fish.status == 0, "fish: \(fish.stderr)")
        #expect(fish.stdout.contains("fail-run"), "fish completes `fa` to fail-run: \(fish.stdout)\(fish.stderr)")
    }
}

private func shellQuote(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'" }
