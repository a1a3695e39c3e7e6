import ArgumentParser
import Foundation
import StateJSON
import StateStore

struct ListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List state IDs, one per line (as `meltano state list`).",
        discussion: "The pattern is a shell glob: * matches any run of characters, ? one character; %, _ and \\ are literal.")
    @OptionGroup var global: GlobalOptions
    @Option(name: .long, help: "Only IDs matching this glob, e.g. 'prod:*'.")
    var pattern: String?
    @Flag(name: .long, help: "JSON array with updated_at, age, lock and validity of each ID.")
    var json = false

    func run() throws {
        let context = try Context(global)
        if json {
            var items: [JSONValue] = []
            var after: String? = nil
            repeat {
                let page = try context.store.list(matching: pattern, after: after, limit: 5000)
                for summary in page {
                    var object = JSONObject()
                    object["state_id"] = .string(JSONString(summary.stateID))
                    object["updated_at"] = summary.updatedAt.map { .string(JSONString($0)) } ?? .null
                    object["age_seconds"] = summary.ageSeconds.map { .number(JSONNumber(($0 * 1000).rounded() / 1000)) } ?? .null
                    object["locked"] = .bool(summary.isLocked)
                    object["lock_stale"] = .bool(summary.lockIsStale)
                    object["valid_json"] = .bool(!summary.isInvalidJSON)
                    items.append(.object(object))
                }
                after = page.count == 5000 ? page.last?.stateID : nil
            } while after != nil
            writeData(JSONValue.array(items).compactText + "\n", json: true)
            return
        }
        // Byte for byte Meltano's output for scripts; one visible line per ID on a terminal.
        guard let out = try listOutput(context.store, pattern: pattern, onTerminal: standardOutputIsTerminal) else {
            printNote("No state IDs found.", quiet: global.quiet)
            return
        }
        writeOut(bytes: out)
    }
}

struct GetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "get", abstract: "Print a state ID's state as Meltano's next run sees it (partial merged onto completed).",
        discussion: "Prints compact JSON, {} when there is no state, exactly as `meltano state get`.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The state ID.") var stateID: String
    @Flag(name: .long, help: "Indented, with real Unicode characters, for people.") var pretty = false
    @Flag(name: .long, help: "Print the stored column texts as they are (valid JSON or not).") var raw = false
    @Flag(name: .long, help: "Exit 4 when the state ID has no row (Meltano prints {} and exits 0).") var strict = false

    func run() throws {
        let context = try Context(global)
        if !raw {
            // The common case: the stored bytes held once, written out in chunks (a 100 MB
            // state is never also a 100 MB String, nor a tree).
            let read = try context.store.readMerged(stateID)
            if !read.exists {
                if strict { throw StoreError.notFound(stateID: stateID) }
                writeOut("{}\n")
                return
            }
            if let state = read.state {
                let options: JSONWriteOptions = pretty ? .pretty(indent: 2) : .compact
                if standardOutputIsTerminal {
                    writeData(state.value.text(options) + "\n", json: true)
                } else {
                    writeOut(state, options)
                }
                return
            }
            // Not JSON, or parts that do not merge: read the texts to say why, below.
        }
        guard let record = try context.store.get(stateID) else {
            if strict { throw StoreError.notFound(stateID: stateID) }
            writeOut(pretty ? "{}\n" : "{}\n")
            return
        }
        if raw {
            var object = JSONObject()
            object["state_id"] = .string(JSONString(stateID))
            object["partial_state"] = record.partial.raw.map { .string(JSONString($0)) } ?? .null
            object["completed_state"] = record.completed.raw.map { .string(JSONString($0)) } ?? .null
            object["updated_at"] = record.updatedAt.map { .string(JSONString($0)) } ?? .null
            writeData(JSONValue.object(object).prettyText(indent: 2) + "\n", json: true)
            return
        }
        switch record.merged {
        case let .success(value):
            writeData((pretty ? value.prettyText(indent: 2) : value.compactText) + "\n", json: true)
        case let .failure(error):
            var message = error.description
            for (name, part) in [("partial", record.partial), ("completed", record.completed)] {
                if let parseError = part.error, let raw = part.raw {
                    message += "\n\(name)_state as stored (\(raw.utf8.count) bytes): \(displayExcerpt(raw))"
                    // The first unreadable part's error is the message's already.
                    if !error.description.contains(parseError.description) { message += "\n" + parseError.description }
                }
            }
            throw CommandFailure(message + "\nUse `meltano-state get --raw \(stateIDArgument(stateID))` to see the stored texts.")
        }
    }
}

/// The first 200 characters of a stored text, control characters made visible.
func displayExcerpt(_ text: String) -> String {
    // Text that fits and holds no control character (nearly every cell) is its own
    // excerpt. C0 and DEL are single bytes; C1 (U+0080–U+009F) is 0xC2 then 0x80–0x9F.
    if text.utf8.count <= 200 {
        var previous: UInt8 = 0, control = false
        for byte in text.utf8 {
            if byte < 0x20 || byte == 0x7F || (previous == 0xC2 && byte < 0xA0) { control = true; break }
            previous = byte
        }
        if !control { return text }
    }
    var out = ""
    for scalar in text.unicodeScalars.prefix(200) {
        if scalar.value < 0x20 || scalar.value == 0x7f || (0x80..<0xa0).contains(scalar.value) {
            out += String(format: "\\x%02x", scalar.value)
        } else {
            out.unicodeScalars.append(scalar)
        }
    }
    return text.unicodeScalars.count > 200 ? out + "…" : out
}

/// JSON from an argument or a file, exactly one of them (Meltano's rule).
func readStateInput(json: String?, inputFile: String?, what: String = "Invalid JSON provided") throws -> JSONValue {
    try readStateInput(json: json, inputFile: inputFile, what: what) { bytes throws(JSONParseError) in try JSONParser.parse(bytes) }
}

/// `readStateInput` for `set`: the state is kept as its text when it can be
/// (`MergedState(json:)`), so a 100 MB file is never built as a tree.
func readStateText(json: String?, inputFile: String?) throws -> MergedState {
    try readStateInput(json: json, inputFile: inputFile, what: "Invalid JSON provided") { bytes throws(JSONParseError) in
        try MergedState(json: bytes)
    }
}

private func readStateInput<T>(json: String?, inputFile: String?, what: String,
                               _ read: ([UInt8]) throws(JSONParseError) -> T) throws -> T {
    let bytes: [UInt8]
    switch (json, inputFile) {
    case let (json?, nil): bytes = Array(json.utf8)
    case let (nil, file?): bytes = try readInputFile(file)
    default: throw CommandFailure("Give the state either as an argument or with --input-file, exactly one of them.", code: Exit.usage)
    }
    do { return try read(bytes) } catch {
        throw CommandFailure("\(what): \(error)\nThe state must be JSON, e.g. '{\"singer_state\": {\"bookmarks\": {}}}'.")
    }
}

struct SetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "set", abstract: "Replace a state ID's state (completed = value, partial cleared), under Meltano's lock.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The state ID.") var stateID: String
    @Argument(help: "The state as JSON, e.g. '{\"singer_state\": {...}}'.") var state: String?
    @Option(name: .long, help: "Read the state from this file ('-' for stdin).") var inputFile: String?
    @Flag(name: .long, help: "Skip the check for a top-level singer_state key.") var noValidate = false
    @Flag(name: [.long, .customShort("f")], help: "Do not ask for confirmation (as Meltano's --force).") var force = false
    @Flag(name: [.long, .short], help: "Do not ask for confirmation.") var yes = false

    func run() throws {
        var value = Optional(try readStateText(json: state, inputFile: inputFile))
        let context = try Context(global)
        try confirm("Overwrite the state of \(quotedID(stateID))? The previous value goes to the backup journal.", assumeYes: force || yes, flagHint: "--force")
        // Handed over, not copied: the input's bytes are let go before the new text is sent.
        try context.withInterruptHandler { try context.store.set(stateID, to: value.take()!, validate: !noValidate) }
        printNote("State of \(quotedID(stateID)) set.", quiet: global.quiet)
    }
}

struct MergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "merge", abstract: "Deep-merge JSON into a state ID's partial state, under Meltano's lock.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The state ID to merge into.") var stateID: String
    @Argument(help: "The JSON to merge.") var state: String?
    @Option(name: .long, help: "Read the JSON from this file ('-' for stdin).") var inputFile: String?
    @Option(name: .long, help: "Merge the state of this state ID instead.") var fromStateId: String?

    func run() throws {
        let context: Context
        if let fromStateId {
            guard state == nil && inputFile == nil else {
                throw CommandFailure("Give exactly one of: the JSON, --input-file, --from-state-id.", code: Exit.usage)
            }
            context = try Context(global)
            try context.withInterruptHandler { try context.store.merge(stateID, fromStateID: fromStateId) }
        } else {
            let value = try readStateInput(json: state, inputFile: inputFile, what: "Invalid JSON")
            context = try Context(global)
            try context.withInterruptHandler { try context.store.merge(stateID, with: value) }
        }
        printNote("Merged into the state of \(quotedID(stateID)).", quiet: global.quiet)
    }
}

struct CopyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "copy", abstract: "Set DST to SRC's state (SRC is left as it is).")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The state ID to copy from.") var source: String
    @Argument(help: "The state ID to copy to.") var destination: String
    @Flag(name: [.long, .customShort("f")], help: "Do not ask for confirmation.") var force = false
    @Flag(name: [.long, .short], help: "Do not ask for confirmation.") var yes = false

    func run() throws {
        let context = try Context(global)
        try confirm("Overwrite the state of \(quotedID(destination)) with that of \(quotedID(source))?", assumeYes: force || yes, flagHint: "--force")
        try context.withInterruptHandler { try context.store.copy(from: source, to: destination) }
        printNote("Copied \(quotedID(source)) to \(quotedID(destination)).", quiet: global.quiet)
    }
}

struct MoveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "move", abstract: "Set DST to SRC's state, then clear SRC.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The state ID to move from.") var source: String
    @Argument(help: "The state ID to move to.") var destination: String
    @Flag(name: [.long, .customShort("f")], help: "Do not ask for confirmation.") var force = false
    @Flag(name: [.long, .short], help: "Do not ask for confirmation.") var yes = false

    func run() throws {
        let context = try Context(global)
        try confirm("Move the state of \(quotedID(source)) to \(quotedID(destination)) (overwriting it) and clear \(quotedID(source))?", assumeYes: force || yes, flagHint: "--force")
        try context.withInterruptHandler { try context.store.move(from: source, to: destination) }
        printNote("Moved \(quotedID(source)) to \(quotedID(destination)).", quiet: global.quiet)
    }
}

struct ClearCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "clear", abstract: "Delete a state ID's state, or every state with --all (each journaled first).")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The state ID.") var stateID: String?
    @Flag(name: .long, help: "Clear every state ID (refused while any lock is held).") var all = false
    @Flag(name: [.long, .customShort("f")], help: "Do not ask for confirmation.") var force = false
    @Flag(name: [.long, .short], help: "Do not ask for confirmation.") var yes = false

    func run() throws {
        guard (stateID != nil) != all else {
            throw CommandFailure("A state ID or the --all flag must be provided, but not both.", code: Exit.usage)
        }
        let context = try Context(global)
        if let stateID {
            try confirm("Clear the state of \(quotedID(stateID))? The previous value goes to the backup journal.", assumeYes: force || yes, flagHint: "--force")
            let existed = try context.withInterruptHandler { try context.store.clear(stateID) }
            printNote(existed ? "State of \(quotedID(stateID)) cleared." : "No state for \(quotedID(stateID)); nothing to clear.", quiet: global.quiet)
        } else {
            let count = try context.store.count()
            try confirm("Clear ALL \(count) state(s) in schema '\(context.store.schema)'? Each goes to the backup journal first.", assumeYes: force || yes, flagHint: "--force")
            let cleared = try context.withInterruptHandler {
                try context.store.clearAll(progress: context.progressPrinter)
            }
            printNote("\(cleared) state(s) were successfully cleared", quiet: global.quiet)
        }
    }
}

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "export", abstract: "Print every state as one JSON object {ID: {completed, partial}} (as `meltano state export`).")
    @OptionGroup var global: GlobalOptions

    func run() throws {
        let context = try Context(global)
        // Into a pipe or a file the output is streamed, so memory stays flat at ten
        // million states; a failure half-way leaves it incomplete (no closing brace)
        // and the exit code says so. On a terminal it is shown whole, escaped.
        let onTerminal = standardOutputIsTerminal
        let (out, unreadable) = try context.withInterruptHandler {
            try exportOutput(context.store, flush: onTerminal ? nil : { writeOut(bytes: $0) })
        }
        if onTerminal {
            writeData(String(decoding: out, as: UTF8.self), json: true)
        } else {
            writeOut(bytes: out)
        }
        if !unreadable.isEmpty {
            let names = unreadable.prefix(10).map { "\(quotedID($0.0)): \($0.1)" }.joined(separator: "\n  ")
            throw CommandFailure("\(unreadable.count) state(s) were left out because their stored text is not JSON:\n  \(names)\nSee them with `meltano-state get --raw ID`.")
        }
    }
}

struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "import", abstract: "Write states from `export`'s format, all or nothing, under each ID's lock.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The file to read ('-' or nothing for stdin).") var file: String = "-"
    @Flag(name: [.long, .short], help: "Do not ask for confirmation.") var yes = false

    func run() throws {
        let text = try readInputFile(file)
        let entries = try text.withUnsafeBytes { try Self.entries($0) }
        let context = try Context(global)
        let imported = try context.withInterruptHandler {
            try context.store.importStates(entries, progress: context.progressPrinter)
        }
        printNote("Successfully imported \(imported) state(s).", quiet: global.quiet)
    }

    /// The entries of `export`'s format, read as `JSONParser.parse` and `JSONObject` would
    /// (a repeated ID or part keeps its first position and takes the last value), without
    /// a tree of the file: each object part is rewritten into the text Meltano stores.
    static func entries(_ text: UnsafeRawBufferPointer) throws -> [ImportEntry] {
        var entries: [ImportEntry] = []
        var positions: [ExactID: Int] = [:]  // by bytes: "é" and "e\u{301}" are two IDs
        var rewriter = JSONRewriter(.meltano)
        var scratch: [UInt8] = []
        func part(_ bytes: UnsafeRawBufferPointer) throws -> ImportEntry.Part {
            // A non-empty object is rewritten (unless a key repeats in it: then as parsed).
            if bytes.first == UInt8(ascii: "{") {
                scratch.removeAll(keepingCapacity: true)
                // Too deep to store: as a tree, which the store refuses with its reason.
                if rewriter.append(bytes, to: &scratch), rewriter.lastDepth <= JSONParser.maximumStoredDepth {
                    return scratch.count == 2 ? .value(.object(JSONObject())) : .object(meltanoText: String(decoding: scratch, as: UTF8.self))
                }
            }
            return .value(try JSONParser.parse(bytes))
        }
        let isObject: Bool
        do {
            isObject = try JSONParser.forEachMember(in: text) { key, value in
                var completed = ImportEntry.Part.value(.null), partial = ImportEntry.Part.value(.null)
                let entryIsObject = try JSONParser.forEachMember(in: value) { name, bytes in
                    if name == "completed" { completed = try part(bytes) } else if name == "partial" { partial = try part(bytes) }
                }
                guard entryIsObject else {
                    throw CommandFailure("Entry '\(key.text)' is a \(try JSONParser.parse(value).typeName), not an object {\"completed\": …, \"partial\": …}. Nothing was imported.", code: Exit.usage)
                }
                // Refused, not repaired: a lone surrogate would become U+FFFD, another ID.
                let stateID = try StateID.validate(key)
                let entry = ImportEntry(stateID: stateID, completed: completed, partial: partial)
                // `export` writes IDs in order: an ID after the last one cannot repeat an
                // earlier one, so the positions are kept only once the order breaks.
                if positions.isEmpty, entries.last.map({ $0.stateID.utf8.lexicographicallyPrecedes(stateID.utf8) }) ?? true {
                    entries.append(entry)
                    return
                }
                if positions.isEmpty {
                    for (index, earlier) in entries.enumerated() { positions[ExactID(earlier.stateID)] = index }
                }
                if let index = positions[ExactID(stateID)] {
                    entries[index] = entry
                } else {
                    positions[ExactID(stateID)] = entries.count
                    entries.append(entry)
                }
            }
        } catch let error as JSONParseError {
            throw CommandFailure("Invalid JSON: \(error)")
        }
        guard isObject else {
            let data = try JSONParser.parse(text)
            throw CommandFailure("Expected a JSON object of state IDs (the format `export` writes), got a \(data.typeName).", code: Exit.usage)
        }
        return entries
    }
}

extension JSONValue {
    var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "boolean"
        case .number: return "number"
        case .string: return "string"
        case .array: return "array"
        case .object: return "object"
        }
    }
}
