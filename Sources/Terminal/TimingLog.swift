import Foundation
import StateBrowser

/// For benchmarks (`scripts/bench`): with `MELTANO_STATE_TIMING_LOG=FILE`, the browser
/// appends one line per event to FILE — the keys it reads and every change of the
/// list it draws — each stamped with milliseconds since `runBrowser` started:
///
///     0.0 start epoch=1764032000.123456 pid=4242
///     95.3 paint-first ids=200 total=? locks=0
///     1200.4 key enter
///     1311.9 list gen=2 glob=*stripe* loaded=1 reloading=0 rows=200 offset=0 selected=0 total=250000 atEnd=0
///
/// Nothing is logged without the variable; the log never holds state contents.
final class TimingLog {
    private let file: UnsafeMutablePointer<FILE>
    private let started: Date
    private var firstPaintLogged = false
    private var lastList = ""

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
        fflush(file)
    }
}
