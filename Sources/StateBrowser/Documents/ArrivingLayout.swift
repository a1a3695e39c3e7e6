import Foundation

/// A text that arrives in slices (`StateStore.readStoredSlices`), laid out while it
/// arrives: the store's reading thread hands each slice over and a parsing thread lays
/// out what has come, waiting at the first byte that has not. For a 100 MB state the
/// layout (about as long as the read) then ends soon after the last slice instead of
/// starting there.
///
/// The slices are copied straight into the `String` the view keeps, so the text is held
/// once. The layout is the one `JSONDocument(text:)` makes, by the same parser over the
/// same bytes: a text that is not JSON or not UTF-8 gets none here, and the view lays
/// it out again the usual way, which says why.
final class ArrivingLayout: @unchecked Sendable {
    private let arriving: ArrivingBytes
    private let finished = DispatchSemaphore(value: 0)
    // Written by the parsing thread before it signals `finished`:
    private var text = ""
    private var parsed: LayoutParser?
    /// The text was laid out again once all of it had come (see `layOut`); for tests.
    private(set) var laidOutAgain = false
    private var joined = false

    /// `lookahead`: see `layOut`; tests make it small to cut tokens everywhere.
    init(count: Int, lookahead: Int = LayoutParser.defaultLookahead) {
        arriving = ArrivingBytes(count: count)
        guard count > 0 else {
            arriving.readerIsDone()
            finished.signal()
            return
        }
        // A thread of its own, not a dispatch queue's: the reading thread waits for it
        // (for the storage, then for nothing), and a queue's threads may all be busy or
        // blocked (the compute queue's searches, the test runner's tasks) for long.
        Thread.detachNewThread { [arriving] in
            self.run(arriving, lookahead: lookahead)
            self.finished.signal()
        }
    }

    /// The parsing thread: makes the text's `String`, whose storage the slices are
    /// copied into, and lays it out meanwhile.
    private func run(_ arriving: ArrivingBytes, lookahead: Int) {
        let count = arriving.count
        var storage: UnsafeRawPointer? = nil
        var small: [UInt8]? = nil
        var complete = false
        let text = String(unsafeUninitializedCapacity: count) { buffer in
            arriving.adopt(buffer.baseAddress!)
            // Offsets are kept as Int32 (JSONDocument); a bigger text is refused by init(text:).
            if count < Int32.max { (parsed, laidOutAgain) = Self.layOut(arriving, lookahead: lookahead) }
            complete = arriving.wait(beyond: count - 1) == count
            arriving.readerIsDone()
            storage = UnsafeRawPointer(buffer.baseAddress)
            if complete && count <= 64 { small = Array(buffer) }
            return complete ? count : 0
        }
        // `String` checks that the bytes are UTF-8 and, where they are not, makes a new
        // string with the bad bytes replaced (as the store's strings are): then they
        // are no longer the bytes laid out. A big string still in the storage the
        // slices went to is unchanged; a small one is stored inline, so it is compared.
        let intact = small.map { text.utf8.elementsEqual($0) }
            ?? (text.utf8.withContiguousStorageIfAvailable { UnsafeRawPointer($0.baseAddress) } == storage)
        if !complete || !intact { parsed = nil }
        self.text = text
    }

    /// The parser over the bytes as they come. It reads only bytes that have come
    /// (`LayoutParser.has`) and keeps `lookahead` bytes (1 MiB) ahead of each value.
    /// Where a token runs past what has come (a string longer than that, say), it
    /// fails: a token cut short never passes for a shorter one, since after every
    /// token the parser reads a delimiter or waits for the whole text, and a decision
    /// taken on a cut text (`[` and spaces: not empty) fails at the next token. So a
    /// text that fails is laid out again once all of it is there (also a text that is
    /// not JSON: then that fails too).
    static func layOut(_ arriving: ArrivingBytes, lookahead: Int) -> (LayoutParser?, again: Bool) {
        var parser = LayoutParser(bytes: arriving.bytes, builds: true, arriving: arriving, lookahead: lookahead)
        if (try? parser.parse()) != nil { return (parser, false) }
        guard arriving.wait(beyond: arriving.count - 1) == arriving.count else { return (nil, false) }  // the read failed
        var again = LayoutParser(bytes: arriving.bytes, builds: true)
        return ((try? again.parse()) == nil ? nil : again, true)
    }

    /// One slice of the text, at `offset`.
    func receive(offset: Int, _ slice: UnsafeRawBufferPointer) {
        arriving.receive(offset: offset, slice)
    }

    /// For tests: waits until the parser has read everything that came and waits for
    /// more, or has finished; so the next slice cuts the text where the parser is.
    func untilParserWaits() {
        arriving.untilReaderWaits()
    }

    /// After the last slice: the text (invalid UTF-8 replaced, as the store's strings
    /// have it), and its layout when it is UTF-8 and JSON.
    func finish() -> (text: String, document: JSONDocument?) {
        join()
        return (text, parsed.map { JSONDocument(text: text, layout: $0) })
    }

    /// Stops the parsing thread (a read that failed) and waits for it; a no-op after
    /// `finish`.
    func join() {
        guard !joined else { return }
        joined = true
        arriving.end()
        finished.wait()
    }
}

/// A buffer of known size filled slice by slice on one thread and read on another:
/// `wait(beyond:)` blocks until the bytes up to and past a position have all arrived
/// (slices may come in any order; only the unbroken prefix counts) or no more will.
/// The reader provides the storage (`adopt`) and keeps it until it is done.
final class ArrivingBytes: @unchecked Sendable {
    let count: Int
    // Guarded by `condition`:
    private let condition = NSCondition()
    private var base: UnsafeMutablePointer<UInt8>? = nil
    private var prefix = 0
    private var early: [Int: Int] = [:]  // offset → length of slices past the prefix
    private var ended = false
    private var readerWaits = false, readerDone = false

    init(count: Int) {
        self.count = count
    }

    /// The storage the slices are copied into: `count` bytes, until `readerIsDone`.
    func adopt(_ storage: UnsafeMutablePointer<UInt8>) {
        condition.lock()
        base = storage
        condition.broadcast()
        condition.unlock()
    }

    /// The whole buffer (after `adopt`); only the bytes `wait(beyond:)` has reported
    /// may be read.
    var bytes: UnsafeBufferPointer<UInt8> {
        condition.lock()
        defer { condition.unlock() }
        return UnsafeBufferPointer(start: base, count: base == nil ? 0 : count)
    }

    /// Copies a slice in (waiting for the storage); a slice that comes after the reader
    /// is done is dropped.
    func receive(offset: Int, _ slice: UnsafeRawBufferPointer) {
        precondition(offset >= 0 && offset + slice.count <= count, "a slice outside the text")
        condition.lock()
        defer { condition.unlock() }
        while base == nil && !readerDone { condition.wait() }
        guard let base, !readerDone else { return }
        // Copied under the lock: the reader never reads these bytes before `prefix`
        // covers them, and never gives the storage back while a copy runs.
        if let source = slice.baseAddress, slice.count > 0 {
            UnsafeMutableRawPointer(base + offset).copyMemory(from: source, byteCount: slice.count)
        }
        if offset == prefix {
            prefix += slice.count
            while let length = early.removeValue(forKey: prefix) { prefix += length }
        } else if slice.count > 0 {
            early[offset] = slice.count
        }
        condition.broadcast()
    }

    /// No more slices will come (all came, or the read failed).
    func end() {
        condition.lock()
        ended = true
        condition.broadcast()
        condition.unlock()
    }

    /// Waits until the byte at `position` has arrived or no more will; returns the
    /// length of the prefix that has arrived.
    func wait(beyond position: Int) -> Int {
        condition.lock()
        defer { condition.unlock() }
        while prefix <= position && prefix < count && !ended {
            readerWaits = true
            condition.broadcast()
            condition.wait()
        }
        readerWaits = false
        return prefix
    }

    /// The reader will not wait again, nor read the storage.
    func readerIsDone() {
        condition.lock()
        readerDone = true
        condition.broadcast()
        condition.unlock()
    }

    /// For tests: blocks until the reader waits for a byte that has not come, or is done.
    func untilReaderWaits() {
        condition.lock()
        defer { condition.unlock() }
        while !readerWaits && !readerDone { condition.wait() }
    }
}
