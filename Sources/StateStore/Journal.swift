import Foundation
import StateJSON
#if canImport(Glibc)
import Glibc
#endif

/// One row as it was before a change: the raw column texts, byte for byte.
public struct RowSnapshot: Sendable, Equatable, Codable {
    public var partialState: String?
    public var completedState: String?
    public var updatedAt: String?

    public init(partialState: String?, completedState: String?, updatedAt: String?) {
        self.partialState = partialState
        self.completedState = completedState
        self.updatedAt = updatedAt
    }

    enum CodingKeys: String, CodingKey {
        case partialState = "partial_state", completedState = "completed_state", updatedAt = "updated_at"
    }

    // Encode NULL columns as JSON null explicitly: "no value" must stay distinguishable
    // from "key missing" when someone reads the journal by hand.
    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(partialState, forKey: .partialState)
        try container.encode(completedState, forKey: .completedState)
        try container.encode(updatedAt, forKey: .updatedAt)
    }
}

/// One destructive action, recorded before the database is touched.
public struct JournalEntry: Sendable, Equatable, Codable {
    /// Stable and sortable: `20261125T001502Z-3f9a1c`.
    public var id: String
    /// Entries of one action over many IDs (clear --all, import) share a batch.
    public var batch: String?
    public var time: String
    /// set, merge, edit, clear, clear-all, copy, move, import, restore, unlock, terminate
    public var action: String
    public var stateID: String
    /// Where: user@host:port/database, schema and layout (never a password).
    public var database: String
    public var schema: String
    public var layout: String
    public var user: String
    public var host: String
    /// The row before the change; nil when there was no row.
    public var before: RowSnapshot?
    /// For lock releases: the lock that was removed.
    public var lock: LockInfo?
    /// For runs marked failed (system database): the run row before.
    public var run: RunInfo?
    /// A short free-text note (e.g. "from dev:tap-x-to-y" for copy).
    public var note: String?
    /// `StateStore.databaseIdentity` of the database written (nil in entries of earlier
    /// versions, or where the server did not say).
    public var server: String? = nil
    /// The state table's name (the single-table layout's `table` setting); nil in
    /// entries of earlier versions.
    public var table: String? = nil

    enum CodingKeys: String, CodingKey {
        case id, batch, time, action, stateID = "state_id", database, schema, layout, user, host, before, lock, run, note, server, table
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encodeIfPresent(batch, forKey: .batch)
        try container.encode(time, forKey: .time)
        try container.encode(action, forKey: .action)
        try container.encode(stateID, forKey: .stateID)
        try container.encode(database, forKey: .database)
        try container.encode(schema, forKey: .schema)
        try container.encode(layout, forKey: .layout)
        try container.encode(user, forKey: .user)
        try container.encode(host, forKey: .host)
        try container.encode(before, forKey: .before)
        try container.encodeIfPresent(lock, forKey: .lock)
        try container.encodeIfPresent(run, forKey: .run)
        try container.encodeIfPresent(note, forKey: .note)
        try container.encodeIfPresent(server, forKey: .server)
        try container.encodeIfPresent(table, forKey: .table)
    }
}

/// The backup journal: an append-only JSON-lines file, mode 0600, each entry written
/// and fsync'ed before the change it describes is made. A file (not a table) so it
/// works for a role without CREATE privilege and survives the database's loss.
///
/// When an append would take the file past `maxFileSize`, the file is first renamed
/// `journal.jsonl.1` (then `.2`, … : the highest number is the newest) and a new one
/// begins; rotated files are kept, and `entries`, `history` and `restore` read them
/// all, oldest first. The directory is fsync'ed after a rotation or a new file, so the
/// rename and the new name survive a crash.
public final class Journal: @unchecked Sendable {
    public let path: String
    /// Bytes a journal file may reach before the next append rotates it (64 MiB). A
    /// single append larger than this still goes into one file.
    public let maxFileSize: Int
    public static let defaultMaxFileSize = 64 << 20
    private let lock = NSLock()

    public init(path: String, maxFileSize: Int = Journal.defaultMaxFileSize) {
        self.path = path
        self.maxFileSize = maxFileSize
    }

    /// `$XDG_STATE_HOME/meltano-state/journal.jsonl` (default `~/.local/state/…`).
    public static func defaultPath(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let xdg = environment["XDG_STATE_HOME"], !xdg.isEmpty {
            return xdg + "/meltano-state/journal.jsonl"
        }
        let home = environment["HOME"] ?? NSHomeDirectory()
        return home + "/.local/state/meltano-state/journal.jsonl"
    }

    public static func newID(date: Date = Date()) -> String {
        // A million-row import journals a million entries: format by hand, not with a
        // DateFormatter per call.
        var t = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&t, &parts)
        let random = UInt32.random(in: 0...0xFFFFFF)
        // "%04d%02d%02dT%02d%02d%02dZ-%06x", without String(format:) (a CVarArg cast per field).
        var out: [UInt8] = []
        out.reserveCapacity(23)
        JournalEncoding.digits(Int(parts.tm_year) + 1900, width: 4, &out)
        JournalEncoding.digits(Int(parts.tm_mon) + 1, width: 2, &out)
        JournalEncoding.digits(Int(parts.tm_mday), width: 2, &out)
        out.append(UInt8(ascii: "T"))
        JournalEncoding.digits(Int(parts.tm_hour), width: 2, &out)
        JournalEncoding.digits(Int(parts.tm_min), width: 2, &out)
        JournalEncoding.digits(Int(parts.tm_sec), width: 2, &out)
        out.append(contentsOf: "Z-".utf8)
        JournalEncoding.hex(random, width: 6, &out)
        return String(decoding: out, as: UTF8.self)
    }

    static func timestamp(_ date: Date = Date()) -> String {
        let seconds = date.timeIntervalSince1970
        var t = time_t(seconds.rounded(.down))
        var parts = tm()
        gmtime_r(&t, &parts)
        let millis = Int((seconds - seconds.rounded(.down)) * 1000)
        // "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", by hand as in newID.
        var out: [UInt8] = []
        out.reserveCapacity(24)
        for (value, width, separator) in [(Int(parts.tm_year) + 1900, 4, "-"), (Int(parts.tm_mon) + 1, 2, "-"), (Int(parts.tm_mday), 2, "T"),
                                          (Int(parts.tm_hour), 2, ":"), (Int(parts.tm_min), 2, ":"), (Int(parts.tm_sec), 2, "."),
                                          (millis, 3, "Z")] as [(Int, Int, Unicode.Scalar)] {
            JournalEncoding.digits(value, width: width, &out)
            out.append(UInt8(ascii: separator))
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends entries and flushes them to disk, or throws `StoreError.journal` having
    /// written nothing the caller should rely on.
    public func append(_ entries: [JournalEntry]) throws {
        guard !entries.isEmpty else { return }
        let data = try Journal.encode(entries)
        lock.lock()
        defer { lock.unlock() }
        let file = try openLocked(incoming: data.count)
        defer { file.close() }
        try file.write(data)
        try file.sync()
    }

    /// The entries as journal lines, each with its newline.
    static func encode(_ entries: [JournalEntry]) throws -> [UInt8] {
        var data: [UInt8] = []
        // Sized for the stored texts at once: grown by doubling, the line of a 100 MB
        // state would hold its old and new buffers, ~3x the text, while it grows.
        data.reserveCapacity(entries.reduce(0) { $0 + JournalEncoding.textBytes($1) } + 1024 * entries.count)
        do {
            for entry in entries {
                if !JournalEncoding.append(entry, to: &data) { data.append(contentsOf: try JournalEncoding.line(entry)) }
                data.append(0x0A)
            }
        } catch {
            throw StoreError.journal("could not encode an entry: \(error)")
        }
        return data
    }

    /// The journal file opened for appending and locked against other meltano-state
    /// processes (flock), rotated first when `incoming` more bytes would take a
    /// non-empty file past `maxFileSize`. The caller holds `lock`.
    private func openLocked(incoming: Int) throws -> OpenFile {
        var (fd, created) = try openForAppending()
        // Another meltano-state process may append (or rotate) at the same time: hold the
        // lock on the file that is at `path` now, not one renamed away meanwhile.
        while true {
            guard flock(fd, LOCK_EX) == 0 else {
                let reason = String(cString: strerror(errno))
                close(fd)
                throw StoreError.journal("cannot lock \(path): \(reason)")
            }
            var opened = stat(), current = stat()
            if fstat(fd, &opened) != 0 || stat(path, &current) != 0
                || (opened.st_dev == current.st_dev && opened.st_ino == current.st_ino) { break }
            close(fd)
            (fd, created) = try openForAppending()
        }
        var start = lseek(fd, 0, SEEK_END)
        var info = stat()
        if start > 0, start + off_t(incoming) > off_t(maxFileSize), fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG {
            // Rotate under the lock: the file keeps its lock until the new one exists.
            let rotated = path + ".\((rotatedFiles().last?.number ?? 0) + 1)"
            guard rename(path, rotated) == 0 else {
                let reason = String(cString: strerror(errno))
                close(fd)
                throw StoreError.journal("cannot rotate \(path) to \(rotated): \(reason)")
            }
            let old = fd
            do {
                (fd, created) = try openForAppending()
            } catch {
                close(old)
                throw error
            }
            flock(old, LOCK_UN)
            close(old)
            guard flock(fd, LOCK_EX) == 0 else {
                let reason = String(cString: strerror(errno))
                close(fd)
                throw StoreError.journal("cannot lock \(path): \(reason)")
            }
            created = true
            start = lseek(fd, 0, SEEK_END)
        }
        let file = OpenFile(journal: self, fd: fd, created: created, start: start)
        do {
            try file.endTornLine()
        } catch {
            file.close()
            throw error
        }
        return file
    }

    /// The journal file while entries are appended to it: locked, with where the
    /// appended lines began, so a failure can take them all back.
    private struct OpenFile {
        let journal: Journal
        let fd: Int32
        let created: Bool
        let start: off_t

        /// Writes the bytes whole; on failure removes everything appended since `start`.
        func write(_ data: [UInt8]) throws {
            let written = data.withUnsafeBytes { buffer -> Int in
                var offset = 0
                while offset < buffer.count {
                    let n = Glibc.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                    if n < 0 { if errno == EINTR { continue }; return -1 }
                    offset += n
                }
                return offset
            }
            if written != data.count { try fail() }
        }

        /// A file that does not end with a newline (a writer killed mid-line, a hand
        /// edit) gets one before the first entry, which would otherwise be glued onto
        /// that torn line and be unreadable: lost to `history` and `restore`.
        func endTornLine() throws {
            var last: UInt8 = 0
            guard start > 0, pread(fd, &last, 1, start - 1) == 1, last != 0x0A else { return }
            try write([0x0A])
        }

        /// fsync of the file (and of the directory for a new file); on failure removes
        /// everything appended since `start`.
        func sync() throws {
            if fsync(fd) != 0 { try fail() }
            if created { try journal.syncDirectory() }
        }

        func fail() throws -> Never {
            let reason = String(cString: strerror(errno))
            if start >= 0 { _ = ftruncate(fd, start) }  // no torn line left behind
            throw StoreError.journal("cannot write \(journal.path): \(reason)")
        }

        func close() {
            flock(fd, LOCK_UN)
            Glibc.close(fd)
        }
    }

    /// Starts a batch of appends written and fsync'ed on a thread of their own, so a
    /// bulk write can send its rows to the server meanwhile: `submit` hands entries over,
    /// `finish` waits until every one is on disk. The caller must call `finish` before
    /// committing the change the entries describe (and call it on failure too, to end
    /// the thread). `expectedEntries` sizes the rotation check.
    public func beginBatch(expectedEntries: Int) -> JournalBatch {
        JournalBatch(journal: self, expectedEntries: expectedEntries)
    }

    /// The writing side of a `JournalBatch`, on its thread: opens (and rotates) at the
    /// first entries, appends each group, fsyncs at the end. `next` hands out the
    /// groups and nil at the end; the first error stops the writing and is returned,
    /// with every line of the batch taken back.
    fileprivate func writeBatch(expectedEntries: Int, next: () -> [JournalEntry]?) -> StoreError? {
        lock.lock()
        defer { lock.unlock() }
        var file: OpenFile?
        defer { file?.close() }
        do {
            while let entries = next() {
                let data = try Journal.encode(entries)
                if file == nil {
                    let estimate = entries.isEmpty ? data.count : data.count / entries.count * max(expectedEntries, entries.count)
                    file = try openLocked(incoming: estimate)
                }
                try file!.write(data)
            }
            try file?.sync()
            return nil
        } catch let error as StoreError {
            return error
        } catch {
            return StoreError.journal("\(error)")
        }
    }

    /// The directory holding the journal, as given (`.` for a bare file name).
    private var directory: String {
        let directory = (path as NSString).deletingLastPathComponent
        return directory.isEmpty ? "." : directory
    }

    /// fsync of the directory, so a new or renamed file's name is on disk too.
    fileprivate func syncDirectory() throws {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw StoreError.journal("cannot open the directory \(directory): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw StoreError.journal("cannot flush the directory \(directory): \(String(cString: strerror(errno)))") }
    }

    /// The rotated files (`journal.jsonl.1`, `.2`, …), oldest first.
    func rotatedFiles() -> [(number: Int, path: String)] {
        let name = (path as NSString).lastPathComponent + "."
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.compactMap { file -> (Int, String)? in
            let suffix = file.dropFirst(name.count)
            guard file.hasPrefix(name), !suffix.isEmpty, suffix.first != "0",
                  suffix.allSatisfy({ ("0"..."9").contains($0) }), let number = Int(suffix) else { return nil }
            return (number, (directory as NSString).appendingPathComponent(file))
        }.sorted { $0.0 < $1.0 }
    }

    /// Checks that entries can be appended (the directory exists or can be made, the
    /// file opens for writing), so a write can be refused before the database is
    /// touched. A full disk shows only when writing: `append` refuses then, before the
    /// change it would describe.
    public func checkWritable() throws {
        lock.lock()
        defer { lock.unlock() }
        let (fd, created) = try openForAppending()
        close(fd)
        if created { try syncDirectory() }
    }

    /// Creates the directory (mode 0700) when missing and opens the file for
    /// appending, creating it with mode 0600; says whether it created the file.
    private func openForAppending() throws -> (fd: Int32, created: Bool) {
        let directory = (path as NSString).deletingLastPathComponent
        var isDirectory: ObjCBool = false
        if !directory.isEmpty && !FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) {
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                        attributes: [.posixPermissions: 0o700])
            } catch {
                throw StoreError.journal("cannot create the directory \(directory): \(error.localizedDescription)")
            }
        } else if !directory.isEmpty && !isDirectory.boolValue {
            throw StoreError.journal("cannot create \(path): \(directory) is a file, not a directory")
        }
        // Read-write where allowed, to check how the file ends (`endTornLine`).
        var fd = open(path, O_RDWR | O_APPEND | O_CLOEXEC)
        if fd < 0 && errno == EACCES { fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC) }
        var created = false
        if fd < 0 && errno == ENOENT {
            fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
            created = fd >= 0
        }
        guard fd >= 0 else { throw StoreError.journal("cannot open \(path): \(String(cString: strerror(errno)))") }
        return (fd, created)
    }

    /// Every entry, oldest first, of the rotated files and then the current one. Lines
    /// that cannot be read are skipped and counted.
    public func entries() throws -> (entries: [JournalEntry], unreadableLines: Int) {
        var result: [JournalEntry] = []
        let bad = try forEachEntry { result.append($0) }
        return (result, bad)
    }

    /// Entries newest first, optionally of one state ID: read as a stream, keeping only
    /// the matching ones. `history`, with or without a database.
    public func history(stateID: String? = nil) throws -> [JournalEntry] {
        try history(stateID: stateID) { $0 }
    }

    /// `history`, each entry handed to `transform` as it is read (nil leaves it out),
    /// keeping only the newest `limit` results (0: all). A listing then holds its rows,
    /// not the saved texts: each entry of a 100 MB state saves one, and holding them all
    /// took `history` 757 MB for three entries.
    public func history<T>(stateID: String? = nil, limit: Int = 0, _ transform: (JournalEntry) throws -> T?) throws -> [T] {
        var kept: [T] = []
        try forEachEntry(containing: stateID.flatMap(Journal.stateIDNeedle)) { entry in
            guard stateID == nil || sameText(entry.stateID, stateID), let row = try transform(entry) else { return }
            kept.append(row)
            if limit > 0 && kept.count - limit >= limit { kept.removeFirst(kept.count - limit) }
        }
        return (limit > 0 ? Array(kept.suffix(limit)) : kept).reversed()
    }

    /// Calls `body` with every entry, oldest first (the rotated files, then the current
    /// one), reading a file a block at a time rather than whole; returns how many lines
    /// could not be read (they are skipped).
    ///
    /// With `needle`, only the lines that hold those bytes are decoded (an entry that
    /// matches must), so finding one entry among those of 100 MB states does not decode
    /// them all (a second each); the caller still checks each entry it is handed.
    @discardableResult
    public func forEachEntry(containing needle: [UInt8]? = nil, _ body: (JournalEntry) throws -> Void) throws -> Int {
        let decoder = JSONDecoder()
        var bad = 0
        for file in rotatedFiles().map(\.path) + [path] {
            try Journal.forEachLine(of: file) { line in
                if let needle, !needle.isEmpty, !Journal.contains(line, needle) { return }
                if let entry = try? decoder.decode(JournalEntry.self, from: line) { try body(entry) } else { bad += 1 }
            }
        }
        return bad
    }

    /// The entries of an entry ID or a batch ID, oldest first.
    public func entries(idOrBatch id: String) throws -> [JournalEntry] {
        var found: [JournalEntry] = []
        // IDs are made of letters, digits and dashes: in a line as they are. One that is
        // not (a typo) is looked for in every line.
        let plain = id.utf8.allSatisfy { $0 >= 0x20 && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }
        try forEachEntry(containing: plain ? Array(id.utf8) : nil) { entry in
            if entry.id == id || entry.batch == id { found.append(entry) }
        }
        return found
    }

    /// Bytes every line of the state ID holds, however its JSON was written: the longest
    /// run of letters, digits and `-_.:@` in the ID, which no JSON writer escapes (where
    /// this tool writes é as it is, Python's `json` writes `\u00e9`; `JSONEncoder` writes
    /// `/` as `\/`). Nil when the ID has no run of 3 such bytes: then every line is read.
    static func stateIDNeedle(_ stateID: String) -> [UInt8]? {
        func plain(_ byte: UInt8) -> Bool {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: ":"), UInt8(ascii: "@"):
                return true
            default:
                return false
            }
        }
        let bytes = Array(stateID.utf8)
        var best = 0..<0, start = 0
        for (index, byte) in bytes.enumerated() where !plain(byte) {
            if index - start > best.count { best = start..<index }
            start = index + 1
        }
        if bytes.count - start > best.count { best = start..<bytes.count }
        return best.count >= 3 ? Array(bytes[best]) : nil
    }

    /// Whether `needle` (not empty) occurs in `line`: memchr for its first byte, then
    /// memcmp (Glibc's memmem is not visible to Swift).
    static func contains(_ line: Data, _ needle: [UInt8]) -> Bool {
        line.withUnsafeBytes { haystack in
            needle.withUnsafeBytes { pattern in
                guard let base = haystack.baseAddress, let first = pattern.first, haystack.count >= pattern.count else { return false }
                var start = 0
                let last = haystack.count - pattern.count
                while start <= last, let hit = memchr(base + start, Int32(first), last - start + 1) {
                    let offset = UnsafeRawPointer(hit) - base
                    if memcmp(base + offset, pattern.baseAddress!, pattern.count) == 0 { return true }
                    start = offset + 1
                }
                return false
            }
        }
    }

    /// The non-empty lines of a regular file, in 1 MiB reads; nothing for a missing file
    /// or a device (/dev/null to keep no journal; reading /dev/full would never end).
    /// A line's `Data` may share the reader's buffer: valid only during `body`.
    static func forEachLine(of file: String, _ body: (Data) throws -> Void) throws {
        var info = stat()
        guard stat(file, &info) == 0 else {
            if errno == ENOENT { return }
            throw StoreError.other("Cannot read the backup journal \(file): \(String(cString: strerror(errno)))")
        }
        if (info.st_mode & S_IFMT) != S_IFREG { return }
        let fd = open(file, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { return }
            throw StoreError.other("Cannot read the backup journal \(file): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        // Each byte is searched once (memchr over the block just read): a line of a
        // 100 MB state spans a hundred blocks, and searching its whole start again
        // after each one made `history` take minutes.
        var pending: [UInt8] = []  // the start of a line that goes on in the next block
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw StoreError.other("Cannot read the backup journal \(file): \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            try chunk.withUnsafeBytes { block in
                let base = block.baseAddress!
                var start = 0
                while start < n, let newline = memchr(base + start, 0x0A, n - start) {
                    let end = UnsafeRawPointer(newline) - base
                    if pending.isEmpty {
                        if end > start { try body(Data(bytes: base + start, count: end - start)) }
                    } else {
                        pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: block[start..<end]))
                        try Journal.withData(of: pending, body)
                        pending = []
                    }
                    start = end + 1
                }
                if start < n { pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: block[start..<n])) }
            }
        }
        if !pending.isEmpty { try Journal.withData(of: pending, body) }
    }

    /// `body` given the bytes as `Data` without a copy of them (a line of a 100 MB state
    /// is 150 MB); valid only during the call, which `forEachLine`'s body is told.
    private static func withData(of bytes: [UInt8], _ body: (Data) throws -> Void) throws {
        try bytes.withUnsafeBytes { buffer in
            try body(Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: buffer.baseAddress!), count: buffer.count, deallocator: .none))
        }
    }
}

/// Who is acting, for the journal: the OS user and the host name.
/// Looked up once: the host name may need a resolver round trip.
enum Actor {
    static let user: String = {
        if let pw = getpwuid(geteuid()), let name = pw.pointee.pw_name { return String(cString: name) }
        return ProcessInfo.processInfo.environment["USER"] ?? "unknown"
    }()

    static let host: String = {
        var buffer = [UInt8](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "unknown" }
        return String(decoding: buffer.prefix { $0 != 0 }, as: UTF8.self)
    }()
}

/// Entries appended and fsync'ed on a thread of their own while the caller goes on
/// (`Journal.beginBatch`): a bulk write journals its rows while it sends the new ones
/// to the server, and waits for `finish` — every entry on disk — before it commits.
/// A journal that cannot be written makes `finish` throw, with the batch's lines taken
/// back, so the write is rolled back: nothing changed, as when `append` refuses.
public final class JournalBatch: @unchecked Sendable {
    private let condition = NSCondition()
    private var queue: [(count: Int, make: @Sendable () -> [JournalEntry])] = []
    private var queued = 0
    private var closed = false
    private var done = false
    private var failure: StoreError?
    /// Entries waiting for the writer before `submit` waits: memory stays bounded when
    /// the disk is slower than the database.
    private let maxQueued: Int

    init(journal: Journal, expectedEntries: Int, maxQueued: Int = 20_000) {
        self.maxQueued = maxQueued
        let thread = Thread { [self] in
            let error = journal.writeBatch(expectedEntries: expectedEntries) { self.take() }
            condition.lock()
            failure = error
            done = true
            queue.removeAll()
            condition.broadcast()
            condition.unlock()
        }
        thread.name = "meltano-state journal"
        thread.start()
    }

    /// Hands entries to the writer; waits only while many are still queued. After a
    /// failure they are dropped (`finish` reports it).
    public func submit(_ entries: [JournalEntry]) {
        submit(count: entries.count) { entries }
    }

    /// Hands over `count` entries that `make` builds on the writer's thread (so the
    /// caller's thread only reads the rows).
    public func submit(count: Int, _ make: @escaping @Sendable () -> [JournalEntry]) {
        guard count > 0 else { return }
        condition.lock()
        defer { condition.unlock() }
        precondition(!closed, "JournalBatch.submit after finish")
        while queued >= maxQueued && !done { condition.wait() }
        guard !done else { return }
        queue.append((count, make))
        queued += count
        condition.broadcast()
    }

    /// True once the writer stopped on an error (the caller may stop early; `finish`
    /// throws it).
    public var hasFailed: Bool {
        condition.lock()
        defer { condition.unlock() }
        return failure != nil
    }

    /// Waits until every submitted entry is written and fsync'ed, or throws the
    /// journal's error. Ends the writer's thread; call it on every path.
    public func finish() throws {
        condition.lock()
        closed = true
        condition.broadcast()
        while !done { condition.wait() }
        let failure = self.failure
        condition.unlock()
        if let failure { throw failure }
    }

    /// The writer's next group of entries, nil once `finish` was called and all are taken.
    private func take() -> [JournalEntry]? {
        condition.lock()
        defer { condition.unlock() }
        while queue.isEmpty && !closed { condition.wait() }
        guard !queue.isEmpty else { return nil }
        let next = queue.removeFirst()
        queued -= next.count
        condition.broadcast()
        condition.unlock()
        defer { condition.lock() }
        return next.make()
    }
}
