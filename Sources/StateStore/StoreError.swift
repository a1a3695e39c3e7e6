import Foundation
import Postgres

/// Everything the store can fail with, each saying what failed, why, and what to do.
/// No case ever carries a password (connection texts come scrubbed from `Postgres`).
public enum StoreError: Error, Sendable {
    /// A state ID that cannot be stored (empty, too long, NUL).
    case invalidStateID(String, reason: String)
    /// The schema has no state tables; readers never create them.
    /// `check` names the settings that chose where to look, and where they were set.
    case noTables(schema: String, database: String, layout: StorageLayout, table: String, check: String)
    /// The schema itself does not exist; `origin` says what chose it.
    case noSchema(String, origin: String)
    /// Someone else holds the lock and did not let go within the timeout.
    case lockHeld(stateID: String, holder: LockInfo?, waited: Double)
    /// A bulk action refused because these locks are held.
    case locksHeld([LockInfo], action: String)
    /// The state ID has no row.
    case notFound(stateID: String)
    /// The value breaks Meltano's rules (validation, merge onto a non-object, …).
    case invalidState(String)
    /// The stored text cannot be read as JSON, so the operation cannot build on it.
    case unreadableState(stateID: String, part: String, error: String)
    /// The store was opened read-only.
    /// `origin`: the setting that turned read-only mode on and where (nil: not known).
    case readOnly(action: String, origin: String?)
    /// The backup journal could not be written: nothing was changed.
    case journal(String)
    /// The operation was cancelled; what was done is described.
    case cancelled(String)
    /// A lock release that did not happen, and why.
    case lockNotReleased(String)
    /// A database error, with the action that was being attempted.
    case database(action: String, PostgresError)
    /// The connection broke during a write: the outcome is described as far as known.
    case interrupted(action: String, outcome: String, PostgresError)
    /// Anything else, fully worded.
    case other(String)
}

extension StoreError: CustomStringConvertible, LocalizedError {
    public var description: String {
        switch self {
        case let .invalidStateID(id, reason):
            return "Invalid state ID \(StoreError.quoted(id)): \(reason)"
        case let .noTables(schema, database, layout, table, check):
            let tables = layout == .singleTable ? "table \(StoreError.quoted(table)), with advisory locks" : layout.tableDescription
            let creates = layout == .systemDB ? "Meltano's own migrations create them (`meltano install`); this tool does not"
                : "A Meltano run with the PostgreSQL state backend creates them, or run `meltano-state init`"
            return "No Meltano state tables (\(tables)) in schema \(StoreError.quoted(schema)) of database \(StoreError.quoted(database)). "
                + "\(creates); if they live elsewhere, check \(check)."
        case let .noSchema(schema, origin):
            return "Schema \(StoreError.quoted(schema)) does not exist (\(origin)). Meltano never creates the schema: create it with CREATE SCHEMA, or set the schema that holds the state tables."
        case let .lockHeld(stateID, holder, waited):
            // Meltano's words; an ID with a control character as $'…', as elsewhere.
            let named = stateID.unicodeScalars.contains(where: isUnsafeForTerminal) ? shellQuote(stateID) : stateID
            var text = "Could not acquire lock for state_id: \(named) (waited \(StoreError.seconds(waited)))"
            if let holder {
                text += "; it is held by lock \(holder.lockID) since \(holder.lockedAt)"
                if let age = holder.ageSeconds { text += " (\(formatAge(age)) ago\(holder.isStale ? ", stale" : ""))" }
                text += ". If that pipeline is no longer running, release it with: \(unlockCommand(stateID: stateID, lockID: holder.lockID))"
            } else {
                text += "; it is held by another session. See `meltano-state locks`."
            }
            return text
        case let .locksHeld(held, action):
            let names = held.prefix(5).map { "'\($0.stateID)' (lock \($0.lockID))" }.joined(separator: ", ")
            return "Refusing to \(action) while \(held.count) lock(s) are held: \(names)\(held.count > 5 ? ", …" : ""). Nothing was changed. Wait for those pipelines, or release dead locks with `meltano-state unlock` (see `meltano-state locks`)."
        case let .notFound(stateID):
            return "No state stored for state ID \(StoreError.quoted(stateID)). `meltano-state list` shows the IDs that exist."
        case let .invalidState(message):
            return message
        case let .unreadableState(stateID, part, error):
            return "The stored \(part) state of \(StoreError.quoted(stateID)) is not valid JSON (\(error)); replace it with `meltano-state set` (the browser's e opens the raw text to repair it), or clear it."
        case let .readOnly(action, origin):
            guard let origin else {
                return "Refusing to \(action): read-only mode is on (--read-only, MELTANO_STATE_READ_ONLY or read_only in the config file)."
            }
            let undo = origin.hasPrefix("flag") ? "leave out --read-only" : origin.contains("context") ? "give --writable" : "set read_only to false (or give --writable)"
            return "Refusing to \(action): read-only mode is on (read_only = true, from \(origin)); to write, \(undo)."
        case let .journal(message):
            return "Nothing was changed: the backup journal could not be written (\(message)). Fix its location (journal setting, MELTANO_STATE_JOURNAL) or free disk space."
        case let .cancelled(message):
            return "Cancelled: \(message)"
        case let .lockNotReleased(message):
            return message
        case let .database(action, error):
            return "Could not \(action): \(error.description)"
        case let .interrupted(action, outcome, error):
            return "The connection broke while trying to \(action): \(error.message). \(outcome)"
        case let .other(message):
            return message
        }
    }

    public var errorDescription: String? { description }

    static func quoted(_ text: String) -> String { quotedID(text) }

    static func seconds(_ value: Double) -> String {
        value < 10 ? String(format: "%.1f s", value) : String(format: "%.0f s", value)
    }
}

/// "3 s", "4 min 12 s", "2 h 05 min", "3 d 4 h"; negative ages (writer and reader in
/// different time zones) keep their sign.
public func formatAge(_ seconds: Double) -> String {
    if seconds < 0 { return "-" + formatAge(-seconds) }
    let s = Int(seconds.rounded(.down))
    if s < 60 { return "\(s) s" }
    if s < 3600 { return "\(s / 60) min \(s % 60) s" }
    if s < 86_400 { return String(format: "%d h %02d min", s / 3600, (s % 3600) / 60) }
    return "\(s / 86_400) d \((s % 86_400) / 3600) h"
}

/// The command that releases a lock, ready to paste.
public func unlockCommand(stateID: String, lockID: String) -> String {
    "meltano-state unlock " + stateIDArgument(stateID) + " " + shellQuote(lockID)
}

/// A state ID as a command's argument, ready to paste: shell-quoted, and after `--`
/// when it starts with `-`, which would otherwise be read as an option.
public func stateIDArgument(_ stateID: String) -> String {
    // By its first byte, as the argument parser reads it ("-" and a combining mark is
    // one Swift Character, which hasPrefix("-") does not match).
    (stateID.utf8.first == UInt8(ascii: "-") ? "-- " : "") + shellQuote(stateID)
}

/// A state ID as messages name it: in single quotes; one holding a control character
/// (shown escaped, `\x1b`) or a single quote as the shell quotes it instead (`$'…'`,
/// `'it'\''s'`), so that it reads apart from an ID holding the text `\x1b`, or from two
/// IDs, and pastes back as itself.
public func quotedID(_ id: String) -> String {
    id.contains("'") || id.unicodeScalars.contains(where: isUnsafeForTerminal) || marksNeedEscapes(id) ? shellQuote(id) : "'" + id + "'"
}

/// A state ID as tables and listings show it: bare when that is unambiguous, else
/// shell-quoted (a control character as `$'…\x1b…'`, leading or trailing spaces, an
/// empty ID), so every ID reads apart from every other and pastes back as itself.
public func displayedID(_ id: String) -> String {
    hasInvisibleEdges(id) || id.unicodeScalars.contains(where: isUnsafeForTerminal) || marksNeedEscapes(id) ? shellQuote(id) : id
}

/// Whether the ID's combining marks must be shown as escapes (`$'cafe\xcc\x81'`) for it
/// to read as itself: it is not in Unicode's composed form (NFC), so another ID spelled
/// with the composed characters ("é" as one scalar where this one has e and U+0301)
/// looks the same on screen; or it starts with a mark, which would combine with the
/// quote or the space before it. Escaped, each reads apart and pastes back as itself.
public func marksNeedEscapes(_ id: String) -> Bool {
    guard let first = id.unicodeScalars.first, id.unicodeScalars.contains(where: isCombiningMark) else { return false }
    return isCombiningMark(first) || !id.precomposedStringWithCanonicalMapping.utf8.elementsEqual(id.utf8)
}

func isCombiningMark(_ scalar: Unicode.Scalar) -> Bool {
    switch scalar.properties.generalCategory {
    case .nonspacingMark, .spacingMark, .enclosingMark: return true
    default: return false
    }
}

/// Whether an ID shown bare would hide where it starts or ends: empty, or with a
/// space (any white space) at either end.
public func hasInvisibleEdges(_ id: String) -> Bool {
    id.first.map { $0.isWhitespace } ?? true || id.last.map { $0.isWhitespace } ?? true
}

/// A word safe to paste into a POSIX shell: bare when it is plain, else single-quoted.
public func shellQuote(_ word: String) -> String {
    let plain = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:/@+=,")
    if !word.isEmpty && word.unicodeScalars.allSatisfy({ plain.contains($0) }) { return word }
    // A control or invisible character would be shown escaped (\x1b) by the terminal-safe
    // output, and pasted back as those four characters, another ID: ANSI-C quoting
    // (bash, zsh, ksh) carries it as an escape the shell turns back into the character.
    let twin = marksNeedEscapes(word)
    if twin || word.unicodeScalars.contains(where: isUnsafeForTerminal) {
        var quoted = "$'"
        for scalar in word.unicodeScalars {
            switch scalar {
            case "\\": quoted += "\\\\"
            case "'": quoted += "\\'"
            // Bytes, not \u: bash turns \u202e back into the character only in a UTF-8
            // locale (under LC_ALL=C it stays the six characters, another ID).
            case _ where isUnsafeForTerminal(scalar) || (twin && isCombiningMark(scalar)):
                for byte in String(scalar).utf8 { quoted += String(format: "\\x%02x", byte) }
            default: quoted.unicodeScalars.append(scalar)
            }
        }
        return quoted + "'"
    }
    return "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
}

/// Characters a terminal acts on, or that reorder or break the text around them: C0,
/// DEL, C1, the bidi controls, the line and paragraph separators. The one list for
/// the CLI's terminal-safe output, the browser's escapes and `shellQuote`.
public func isUnsafeForTerminal(_ scalar: Unicode.Scalar) -> Bool {
    switch scalar.value {
    case 0x00...0x1F, 0x7F...0x9F: return true  // C0, DEL, C1
    case 0x061C, 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069: return true  // bidi controls
    case 0x2028, 0x2029: return true  // line and paragraph separators
    default: return false
    }
}

extension StoreError {
    /// The same failure with a sentence added, keeping its kind (and so the CLI's exit
    /// code) where the case has room for text.
    func adding(_ sentence: String) -> StoreError {
        switch self {
        case let .cancelled(message): return .cancelled(message + " " + sentence)
        case let .interrupted(action, outcome, error): return .interrupted(action: action, outcome: outcome + " " + sentence, error)
        case let .lockNotReleased(message): return .lockNotReleased(message + " " + sentence)
        case let .invalidState(message): return .invalidState(message + " " + sentence)
        case let .other(message): return .other(message + " " + sentence)
        default: return .other(description + " " + sentence)
        }
    }

    /// Any error of a store operation as a `StoreError`, with a sentence added.
    static func adding(_ sentence: String, to error: Error) -> StoreError {
        if let error = error as? StoreError { return error.adding(sentence) }
        return .other("\(error) \(sentence)")
    }
}
