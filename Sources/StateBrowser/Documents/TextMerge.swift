import StateJSON
import StateStore

/// Meltano's deep merge of a partial state onto a completed state, done on the
/// completed state's text: a row with a partial state (a pipeline running, or one
/// that failed mid-run) shows its merged view without parsing a 100 MB completed
/// state into a tree. The partial state (small) is a parsed value; the completed
/// state is a layout of its text. Only the values the partial state replaces are
/// rewritten and its new keys appended; the rest of the text is copied as stored.
///
/// The result reads back (Python's `json.loads`, `JSONParser`) as exactly what
/// `deepMerge(partial, onto: completed)` returns, key order included, and it fails
/// where that fails, with the same error. A key the completed text holds twice is
/// found at its last occurrence, whose value `json.loads` keeps.
enum TextMerge {
    static let writeOptions = JSONWriteOptions(layout: .spaced, asciiOnly: false, preserveNumberLiterals: true)

    /// The merged view's text of a row with a partial state, or why there is none
    /// (worded as the store words it). The partial state is parsed (StateJSON); the
    /// completed state is laid out and merged into on its text, never parsed into a
    /// tree: a big completed state costs its text twice (stored and merged) and a
    /// layout for a moment.
    /// `layOut` lays the completed text out (the browser's passes one made while it was read).
    static func mergedText(stateID: String, partial partialText: String?, completed: String?,
                           layOut: (String) throws -> JSONDocument = { try JSONDocument(text: $0) }) -> Result<String, StoreError> {
        let partial: JSONValue
        do { partial = try JSONParser.parse(partialText ?? "{}") } catch {
            return .failure(.unreadableState(stateID: stateID, part: "partial", error: error.description))
        }
        let document: JSONDocument
        do { document = try layOut(completed ?? "{}") } catch let error as JSONTextError {
            let (line, column) = error.lineAndColumn(in: completed ?? "")
            return .failure(.unreadableState(stateID: stateID, part: "completed", error: "\(error.message) at line \(line), column \(column)"))
        } catch {
            return .failure(.unreadableState(stateID: stateID, part: "completed", error: "\(error)"))
        }
        if let tooDeep = LocalWork.nestingProblem(document.nesting) {
            return .failure(.unreadableState(stateID: stateID, part: "completed", error: tooDeep))
        }
        do throws(MergeError) { return .success(try merge(partial, onto: document)) } catch {
            return .failure(.unmergeable(stateID: stateID, error))
        }
    }

    static func merge(_ source: JSONValue, onto document: JSONDocument) throws(MergeError) -> String {
        guard case .object(let sourceObject) = source else {
            throw MergeError(reason: .sourceNotObject(pythonType: source.pythonTypeName))
        }
        guard let first = sourceObject.first else { return document.text }
        guard document.lineCount > 0, [.openObject, .emptyObject].contains(document.kind(0)) else {
            throw MergeError(reason: .targetNotObject(key: first.key, pythonType: pythonTypeName(document, 0)))
        }
        let result: Result<[(range: Range<Int>, text: String)], MergeError> = document.withBytes { bytes in
            var merger = Merger(document: document, bytes: bytes)
            do throws(MergeError) {
                try merger.mergeObject(sourceObject, into: 0, path: [])
            } catch {
                return .failure(error)
            }
            return .success(merger.edits)
        }
        var edits = try result.get()
        if edits.isEmpty { return document.text }
        edits.sort { $0.range.lowerBound < $1.range.lowerBound }
        // Written straight into the new string's storage: one copy of the text.
        let count = edits.reduce(document.text.utf8.count) { $0 + $1.text.utf8.count - $1.range.count }
        return document.withBytes { bytes in
            String(unsafeUninitializedCapacity: count) { output in
                var written = 0
                func put(_ piece: UnsafeBufferPointer<UInt8>) {
                    _ = UnsafeMutableBufferPointer(rebasing: output[written..<(written + piece.count)]).initialize(from: piece)
                    written += piece.count
                }
                var position = 0
                for edit in edits {
                    put(UnsafeBufferPointer(rebasing: bytes[position..<edit.range.lowerBound]))
                    var text = edit.text
                    text.withUTF8 { put($0) }
                    position = edit.range.upperBound
                }
                put(UnsafeBufferPointer(rebasing: bytes[position...]))
                return written
            }
        }
    }

    /// The Python type `json.loads` makes of a line's value.
    static func pythonTypeName(_ document: JSONDocument, _ line: Int) -> String {
        switch document.kind(line) {
        case .openObject, .emptyObject, .closeObject: return "dict"
        case .openArray, .emptyArray, .closeArray: return "list"
        case .scalar:
            return document.withBytes { bytes in
                JSONParser.pythonTypeName(ofValueText: UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: bytes[document.valueRange(line)])))
            }
        }
    }

    private struct Merger {
        let document: JSONDocument
        let bytes: UnsafeBufferPointer<UInt8>
        var edits: [(range: Range<Int>, text: String)] = []

        /// `source` merged into the object at `line` (an open or empty object line).
        mutating func mergeObject(_ source: JSONObject, into line: Int, path: [JSONString]) throws(MergeError) {
            if document.kind(line) == .emptyObject {
                // Every key is new: the object becomes the source merged onto {}, which
                // is the source itself.
                edits.append((document.valueRange(line), JSONValue.object(source).text(TextMerge.writeOptions)))
                return
            }
            let members = source.count > 16 ? memberIndex(line) : nil
            var appended: [String] = []
            for (key, value) in source {
                let member = members.map { $0[key] } ?? findMember(key, in: line)
                if case .object(let child) = value {
                    guard let member else {
                        appended.append(Self.member(key, value))
                        continue
                    }
                    guard let childFirst = child.first else { continue }  // {} changes nothing
                    let kind = document.kind(member)
                    guard kind == .openObject || kind == .emptyObject else {
                        throw MergeError(reason: .targetNotObject(key: childFirst.key, pythonType: TextMerge.pythonTypeName(document, member)),
                                         path: path + [key])
                    }
                    try mergeObject(child, into: member, path: path + [key])
                } else if let member {
                    edits.append((document.valueRange(member), value.text(TextMerge.writeOptions)))
                } else {
                    appended.append(Self.member(key, value))
                }
            }
            if !appended.isEmpty, let close = document.partner(line) {
                // Before the closing brace: `{"a": 1` + `, "new": 2` + `}`.
                let at = document.valueRange(close).lowerBound
                edits.append((at..<at, ", " + appended.joined(separator: ", ")))
            }
        }

        static func member(_ key: JSONString, _ value: JSONValue) -> String {
            JSONValue.string(key).text(TextMerge.writeOptions) + ": " + value.text(TextMerge.writeOptions)
        }

        /// The member line of `key` in the object at `open` (its last occurrence), by a
        /// walk back over the members.
        func findMember(_ key: JSONString, in open: Int) -> Int? {
            guard let close = document.partner(open) else { return nil }
            let plain: [UInt8]? = key.isWellFormed ? Array(key.text.utf8) : nil
            let units = key.utf16CodeUnits
            var line = close - 1
            while line > open {
                let member = document.isClose(line) ? document.partner(line)! : line
                if matches(member, plain: plain, units: units) { return member }
                line = member - 1
            }
            return nil
        }

        /// Every member of a big object by key (a later occurrence wins, as in Python).
        func memberIndex(_ open: Int) -> [JSONString: Int] {
            var index: [JSONString: Int] = [:]
            guard let close = document.partner(open) else { return index }
            var line = open + 1
            while line < close {
                index[keyString(line)] = line
                line = document.isOpen(line) ? document.partner(line)! + 1 : line + 1
            }
            return index
        }

        func keyString(_ line: Int) -> JSONString {
            guard let range = document.keyRange(line) else { return JSONString("") }
            let inner = (range.lowerBound + 1)..<(range.upperBound - 1)
            if !bytes[inner].contains(UInt8(ascii: "\\")) {
                return JSONString(String(decoding: UnsafeBufferPointer(rebasing: bytes[inner]), as: UTF8.self))
            }
            return JSONString(utf16CodeUnits: JSONStrings.codeUnits(bytes, quote: range.lowerBound))
        }

        /// Whether a member's key is `key`, code unit for code unit (Python's ==):
        /// the bytes when the literal has no escape, else decoded as far as they agree.
        func matches(_ line: Int, plain: [UInt8]?, units: [UInt16]) -> Bool {
            guard let range = document.keyRange(line) else { return false }
            let inner = (range.lowerBound + 1)..<(range.upperBound - 1)
            if let plain, !bytes[inner].contains(UInt8(ascii: "\\")) {
                return inner.count == plain.count && bytes[inner].elementsEqual(plain)
            }
            var decoder = JSONStrings.Decoder(bytes: bytes, quote: range.lowerBound)
            var index = 0
            while let piece = decoder.next() {
                switch piece {
                case let .scalar(scalar):
                    for unit in UTF16.encode(scalar)! {
                        guard index < units.count, units[index] == unit else { return false }
                        index += 1
                    }
                case let .loneSurrogate(value):
                    guard index < units.count, units[index] == UInt16(value) else { return false }
                    index += 1
                }
            }
            return index == units.count
        }
    }
}
