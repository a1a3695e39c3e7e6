import Foundation
import StateJSON

/// A bookmark edit (`rewind`, `reset-stream`) made on the text of a row's merged view,
/// ready to be shown and written: the row as it was read, the view's `json.dumps` text
/// (as a tape) and the edited text. A 100 MB state is then never a tree: held as its
/// text, its tape and the edited text, where the tree's way held two trees and their
/// indented texts (a rewind of one bookmark in the 100 MB state: 10 s and 1.5 GB, now
/// 5 s and 850 MB).
public struct StateTextEdit: Sendable {
    public let stateID: String
    /// The row as read: the edit is written only while the row is still that, byte for byte.
    let read: StoredBytes
    /// `json.dumps` of the merged view as read.
    public let before: JSONTape
    public let edit: BookmarkTextEdit
}

extension StateStore {
    /// Reads the row and makes `change` on the `json.dumps` text of its merged view.
    ///
    /// Nil when that text cannot stand for the state, and the tree's way must be taken
    /// (`get`, then the edit of the tree): a part that is not JSON or parts that do not
    /// merge (the tree's reading gives the words), an object that repeats a key (only the
    /// tree models it), a state without Meltano's `singer_state` wrapper (which a write
    /// refuses, in the tree's words), or one nested deeper than this tool writes. Throws
    /// `StoreError.notFound` when there is no row, and what `change` throws.
    public func planTextEdit<Made>(_ stateID: String, _ change: (JSONTape) throws -> (BookmarkTextEdit, Made)) throws -> (StateTextEdit, Made)? {
        guard let stored = try readStoredBytes(stateID) else { throw StoreError.notFound(stateID: stateID) }
        guard let text = MergedState.meltanoBytes(of: stored), let tape = try? JSONTape(bytes: text),
              tape[tape.root, key: "singer_state"] != nil, tape.depth <= JSONParser.maximumStoredDepth else { return nil }
        let (edit, made) = try change(tape)
        // Refused now, not after a diff and a question: the new text would not parse (a
        // rewound integer over Python's 4300 digits).
        for value in edit.written { try checkStorable(value, of: "The state") }
        return (StateTextEdit(stateID: stateID, read: stored, before: tape, edit: edit), made)
    }

    /// Writes a planned edit as `set` writes a state (the edited text as the completed
    /// part, the partial part cleared) under Meltano's lock, the row journaled first, only
    /// when the row is still byte for byte what was read. False when it is not (a
    /// pipeline wrote it meanwhile): nothing is written.
    ///
    /// The checks are the tree's (`update`): the text was read from a state Python reads
    /// and only one bookmark changed, so what a write refuses can only be in the new value
    /// (an integer too long for Python); nesting was checked when the plan was made.
    public func write(_ plan: StateTextEdit, action: String, note: String?) throws -> Bool {
        try requireWritable(action)
        for value in plan.edit.written { try checkStorable(value, of: "The state") }
        try requireTables()
        return try withLock(plan.stateID, action: "\(action) '\(plan.stateID)'") { lock in
            guard let now = try readSnapshot(plan.stateID),
                  Self.reads(now.partialState, as: plan.read.partial), Self.reads(now.completedState, as: plan.read.completed) else {
                return false
            }
            try commitWrite(plan.stateID, before: now, partialText: emptyPart, completedText: plan.edit.text,
                            action: action, note: note, lock: lock)
            return true
        }
    }

    /// Whether a part read as text is the part read as bytes (nil: NULL). Bytes that are
    /// not UTF-8 were read as text with the bad bytes replaced, and compare so.
    static func reads(_ text: String?, as bytes: [UInt8]?) -> Bool {
        guard var text, let bytes else { return text == nil && bytes == nil }
        let same = text.withUTF8 { t in
            bytes.withUnsafeBufferPointer { b in t.count == b.count && (t.isEmpty || memcmp(t.baseAddress!, b.baseAddress!, t.count) == 0) }
        }
        return same || (String(validating: bytes, as: UTF8.self) == nil && text.utf8.elementsEqual(String(decoding: bytes, as: UTF8.self).utf8))
    }
}
