import Foundation
import StateBrowser

/// For benchmarks (`scripts/bench`): with `MELTANO_STATE_TIMING_LOG=FILE`, the browser
/// appends one line per event to FILE — the keys it reads, every change of the list
/// it draws, each state document first drawn, and how long each frame that handled
/// keys or background results took (from reading its input to the end of its draw) —
/// each stamped with milliseconds since `runBrowser` started:
///
///     0.0 start epoch=1764032000.123456 pid=4242
///     95.3 paint-first ids=200 total=? locks=0
///     1200.4 key enter
///     1311.9 list gen=2 glob=*stripe* loaded=1 reloading=0 rows=200 offset=0 selected=0 total=250000 atEnd=0
///     1312.0 frame ms=0.8 keys=1 messages=1
///     1830.2 state-read bytes=104857710
///     2410.7 state-shown mode=merged lines=4718596 bytes=104857710 cursor=0
///
/// Nothing is logged without the variable; the log never holds state contents.
final class TimingLog {
    private let file: UnsafeMutablePointer<FILE>
    private let started: Date
    private var firstPaintLogged = false
    private var lastList = ""
    private var lastRead = ""
    private var lastShown = ""

    init?(environment: [String: String], started: Date) {
        guard let path = environment["MELTANO_STATE_TIMING_LOG"], !path.isEmpty, let file = fopen(path, "a") else { return nil }
        self.file = file
        self.started = started
        line("start epoch=\(String(format: "%.6f", started.timeIntervalSince1970)) pid=\(getpid())")
        fflush(file)
    }

    deinit { fclose(file) }

    private func line(_ text: String) {
        fputs(String(format: "%.1f ", Date().timeIntervalSince(started) * 1000) + text + "\n", file)
    }

    func key(_ key: Key) {
        line("key \(key)")
    }

    /// After each draw: the first paint with data, and the list when it changed.
    func painted(_ model: Model) {
        if !firstPaintLogged, model.initialLoadComplete {
            firstPaintLogged = true
            line("paint-first ids=\(model.list.rows.count) total=\(model.list.total.map(String.init) ?? "?") locks=\(model.locks.rows.count)")
        }
        let list = model.list
        let state = "gen=\(list.generation) glob=\(list.appliedGlob ?? "-") loaded=\(list.loaded ? 1 : 0) reloading=\(list.reloading ? 1 : 0) "
            + "rows=\(list.rows.count) offset=\(list.offset.map(String.init) ?? "?") selected=\(list.selected) "
            + "total=\(list.total.map(String.init) ?? "?") atEnd=\(list.atEnd ? 1 : 0)"
        if state != lastList {
            lastList = state
            line("list " + state)
        }
        // A state read (its text arrived), then its document drawn for the first time
        // (after a new read, or in another view).
        let detail = model.detail
        if let loaded = detail.loaded, "\(loaded.fetchedAt)" != lastRead {
            lastRead = "\(loaded.fetchedAt)"
            line("state-read bytes=\(loaded.byteCount)")
        }
        if let document = detail.document, let loaded = detail.loaded {
            let shown = "\(loaded.fetchedAt) \(detail.mode) \(document.lineCount)"
            if shown != lastShown {
                lastShown = shown
                line("state-shown mode=\(detail.mode) lines=\(document.lineCount) bytes=\(loaded.byteCount) cursor=\(detail.cursor)")
            }
        }
        fflush(file)
    }

    /// One turn of the loop that did something: `milliseconds` from reading its input
    /// (after poll) to the end of its draw.
    func frame(milliseconds: Double, keys: Int, messages: Bool) {
        line(String(format: "frame ms=%.2f", milliseconds) + " keys=\(keys) messages=\(messages ? 1 : 0)")
    }
}
