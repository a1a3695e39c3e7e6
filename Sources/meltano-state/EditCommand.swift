import ArgumentParser
import ChildProcess
import Foundation
import StateBrowser
import StateJSON
import StateStore

struct EditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "edit", abstract: "Edit a state ID's merged state in $VISUAL or $EDITOR, then set it.",
        discussion: "Unchanged or emptied text changes nothing. Invalid JSON reopens the editor with the error at the top. Before writing, the difference is shown and confirmed.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The state ID.") var stateID: String
    @Flag(name: [.long, .customShort("f")], help: "Do not ask for confirmation before writing.") var force = false
    @Flag(name: [.long, .short], help: "Do not ask for confirmation before writing.") var yes = false

    func run() throws {
        let context = try Context(global)
        try StateID.validate(stateID)
        if context.store.options.readOnly { throw context.store.readOnlyRefusal("edit") }
        let current: JSONValue
        if let record = try context.store.get(stateID) {
            current = try record.merged.get()
        } else {
            current = .object(JSONObject())
        }
        let original = current.prettyText(indent: 2) + "\n"
        guard let edited = try EditSession(editor: context.editor, environment: context.configuration.environmentWithoutSecrets(ProcessInfo.processInfo.environment)).edit(original, name: stateID) else {
            printNote("Edit cancelled (no changes); nothing was written.", quiet: global.quiet)
            return
        }
        // Unchanged as Meltano compares it: parsed JSON, Python's equality.
        if edited.isEquivalent(to: current) {
            printNote("No changes; nothing was written.", quiet: global.quiet)
            return
        }
        let diff = unifiedDiff(old: original, new: edited.prettyText(indent: 2) + "\n", oldName: "\(stateID) (stored)", newName: "\(stateID) (edited)")
        writeStandardError(terminalSafe(diff))
        try confirm("Write this state to \(quotedID(stateID))?", assumeYes: force || yes, flagHint: "--yes")
        // Written only if nobody changed the state while the editor was open (checked
        // under the lock, so no pipeline can slip in between).
        switch try context.withInterruptHandler({ try context.store.setIfUnchanged(stateID, opened: current, to: edited) }) {
        case .written:
            break
        case .changed:
            throw CommandFailure("The state of \(quotedID(stateID)) changed while it was being edited (a pipeline wrote it?); nothing was written. Run `meltano-state edit` again to edit the new value.")
        case let .unreadable(error):
            throw error
        }
        printNote("State of \(quotedID(stateID)) updated.", quiet: global.quiet)
    }
}

/// The `kubectl edit` loop: write the text to a temp file, run the editor, parse what
/// comes back; on invalid JSON reopen it with the error as `#` comments at the top.
struct EditSession {
    let editor: String
    /// The editor's environment: ours without the database's passwords
    /// (`ResolvedConfiguration.environmentWithoutSecrets`).
    let environment: [String: String]
    static let errorMarker = "# meltano-state:"

    /// The edited value, or nil when the user left it unchanged or emptied it.
    func edit(_ text: String, name: String) throws -> JSONValue? {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("meltano-state-edit-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("state.json")
        var content = text
        var lastInvalid: String? = nil
        while true {
            try Data(content.utf8).write(to: file)
            try runEditor(on: file.path)
            guard let data = FileManager.default.contents(atPath: file.path) else {
                throw CommandFailure("The editor removed \(file.path); nothing was written.")
            }
            // Bytes that are not UTF-8 are an error like invalid JSON, never repaired.
            let encodingError = data.withUnsafeBytes { JSONParser.invalidUTF8Error($0) }
            let body = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
                .drop { $0.hasPrefix(EditSession.errorMarker) || $0.hasPrefix("#") }
                .joined(separator: "\n")
            if body.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { return nil }
            // Bytes, not Swift's `==`: a key respelled (é as one scalar or two) is a change.
            if body.utf8.elementsEqual(text.utf8) { return nil }
            let error: JSONParseError
            do throws(JSONParseError) {
                if let encodingError { throw encodingError }
                return try JSONParser.parse(body)
            } catch let parseError {
                error = parseError
            }
            // Reopened only for a person at a terminal: without one (or an editor that
            // saves the same invalid text each time) it would start the editor forever.
            guard isInteractive else {
                throw CommandFailure("The edited state is not valid JSON; nothing was written: \(error)\nRun `meltano-state edit` on a terminal to fix it in the editor, or use `meltano-state set`.", code: Exit.usage)
            }
            // The same invalid text saved again (an editor that only exits, a script):
            // reopening would loop; stop as kubectl edit does.
            if let lastInvalid, body.utf8.elementsEqual(lastInvalid.utf8) {
                throw CommandFailure("The editor left the text as it was, still not valid JSON; nothing was written: \(error)", code: Exit.usage)
            }
            lastInvalid = body
            let comment = String(describing: error).split(separator: "\n").map { "\(EditSession.errorMarker) \($0)" }.joined(separator: "\n")
            content = "\(EditSession.errorMarker) the JSON below is not valid; fix it, or empty the file to cancel.\n\(comment)\n" + body
        }
    }

    private func runEditor(on path: String) throws {
        // The editor setting may carry arguments ("code --wait"): the shell splits it.
        // It runs in the foreground process group, so it can read the terminal, and
        // Ctrl-C pressed in it is the editor's, not a reason for us to stop.
        let termination: Termination
        do {
            termination = try ChildProcess.runInForeground(shellCommand: editorCommandLine(editor), arguments: [path],
                                                           commandName: "meltano-state-editor", environment: environment)
        } catch {
            throw CommandFailure("Cannot start the editor '\(editor)': \(error). Set VISUAL or EDITOR.")
        }
        if termination != Termination(exitStatus: 0) {
            throw CommandFailure("The editor '\(editor)' ended with \(termination); nothing was written.")
        }
    }
}

/// A unified diff of two texts by lines, with its `---`/`+++` header: the browser's
/// diff (`Diff.lines`), so both show an edit the same way.
func unifiedDiff(old: String, new: String, oldName: String, newName: String, context: Int = 3) -> String {
    let lines = Diff.lines(old: old, new: new, context: context)
    guard !lines.isEmpty else { return "" }
    return "--- \(oldName)\n+++ \(newName)\n" + lines.map { $0.text + "\n" }.joined()
}
