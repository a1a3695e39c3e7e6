import Foundation
import StateJSON
import TestSupport

func hex(_ bytes: some Sequence<UInt8>) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var out: [UInt8] = []
    for b in bytes {
        out.append(digits[Int(b >> 4)])
        out.append(digits[Int(b & 0xF)])
    }
    return String(decoding: out, as: UTF8.self)
}

func unhex(_ text: Substring) -> [UInt8] {
    func value(_ c: UInt8) -> UInt8 { c <= 0x39 ? c - 0x30 : c - 0x61 + 10 }
    let u = Array(text.utf8)
    var out: [UInt8] = []
    out.reserveCapacity(u.count / 2)
    var i = 0
    while i + 1 < u.count {
        out.append(value(u[i]) << 4 | value(u[i + 1]))
        i += 2
    }
    return out
}

/// What Python's json module makes of one text.
enum OracleResult: Equatable {
    /// json.dumps(v), json.dumps(v, separators=(",", ":")), and
    /// json.dumps(v, indent=2, ensure_ascii=False) with DEL, C1 and lone surrogates escaped.
    case value(meltano: String, compact: String, pretty: String)
    case decodeError(message: String, line: Int, column: Int, position: Int)
    case otherError(String)
}

struct PythonOracle {
    /// (major, minor) of the python3 that answered.
    var version: (Int, Int)
    var results: [OracleResult]
    /// For each text Python read: whether an object in it repeats a key.
    var repeatedKeys: [Bool]

    /// Error messages and positions are compared on every Python: this module follows
    /// the wording of 3.8 to 3.12, and a later Python's known renames are translated
    /// back (`expected(for:)`); any other difference fails, naming the version.
    var versionText: String { "\(version.0).\(version.1)" }

    /// The error this module gives for `text` where Python (of any version) gave
    /// `message` at `position`. Python 3.13 reports a trailing comma at the comma
    /// ("Illegal trailing comma before end of array/object"); 3.8 to 3.12 report the
    /// value or property name missing at the next non-whitespace character.
    static func expected(for text: String, message: String, line: Int, column: Int, position: Int)
        -> (message: String, line: Int, column: Int, position: Int) {
        let renamed = ["Illegal trailing comma before end of array": "Expecting value",
                       "Illegal trailing comma before end of object": "Expecting property name enclosed in double quotes"]
        guard let older = renamed[message] else { return (message, line, column, position) }
        let scalars = Array(text.unicodeScalars)
        var at = position + 1
        while at < scalars.count, [" ", "\t", "\n", "\r"].contains(scalars[at]) { at += 1 }
        // Python's lineno and colno: newlines before the position, and the distance from the last one.
        let before = scalars[..<at]
        let newlines = before.filter { $0 == "\n" }.count
        let lastNewline = before.lastIndex(of: "\n") ?? -1
        return (older, newlines + 1, at - lastNewline, at)
    }

    static let script = #"""
import json, re, sys
if hasattr(sys, "set_int_max_str_digits"):
    sys.set_int_max_str_digits(0)
esc = re.compile('[\x7f-\x9f\ud800-\udfff]')
def repl(m):
    return '\\u%04x' % ord(m.group())
out = ['%d %d' % sys.version_info[:2]]
repeated = [False]
def pairs(items):
    if len(set(k for k, _ in items)) != len(items):
        repeated[0] = True
    return dict(items)
for line in sys.stdin:
    line = line.strip()
    text = bytes.fromhex(line[1:]).decode('utf-8')
    repeated[0] = False
    try:
        v = json.loads(text, object_pairs_hook=pairs)
    except json.JSONDecodeError as e:
        out.append('E %d %d %d %s' % (e.lineno, e.colno, e.pos, e.msg.encode().hex()))
        continue
    except Exception as e:
        out.append('X ' + type(e).__name__)
        continue
    m = json.dumps(v)
    c = json.dumps(v, separators=(',', ':'))
    p = esc.sub(repl, json.dumps(v, indent=2, ensure_ascii=False))
    out.append('V %s %s %s %d' % (m.encode().hex(), c.encode().hex(), p.encode('utf-8').hex(), repeated[0]))
sys.stdout.write('\n'.join(out) + '\n')
"""#

    /// Runs python3 once over all texts.
    static func run(_ texts: [String]) throws -> PythonOracle {
        signal(SIGPIPE, SIG_IGN)  // a python3 that dies early must fail the test, not kill it
        var input = ""
        input.reserveCapacity(texts.reduce(0) { $0 + $1.utf8.count * 2 + 3 })
        for t in texts { input += "D" + hex(t.utf8) + "\n" }
        if let dump = ProcessInfo.processInfo.environment["STATEJSON_ORACLE_DUMP"] {
            // For debugging a difference: the exact oracle input (`python3 -c "$script" < dump`).
            try? Data(input.utf8).write(to: URL(fileURLWithPath: dump))
        }
        let output = try runProcess("python3", ["-c", script], stdin: Data(input.utf8))
        guard output.status == 0 else {
            throw OracleFailure(description: "python3 failed (\(output.status)): \(output.stderr)")
        }
        var lines = output.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        if lines.last == "" { lines.removeLast() }
        guard let first = lines.first else { throw OracleFailure(description: "python3 printed nothing") }
        let v = first.split(separator: " ").compactMap { Int($0) }
        var results: [OracleResult] = []
        var repeatedKeys: [Bool] = []
        for line in lines.dropFirst() {
            let parts = line.split(separator: " ", omittingEmptySubsequences: false)
            repeatedKeys.append(parts[0] == "V" && parts[4] == "1")
            switch parts[0] {
            case "V":
                results.append(.value(meltano: String(decoding: unhex(parts[1]), as: UTF8.self),
                                      compact: String(decoding: unhex(parts[2]), as: UTF8.self),
                                      pretty: String(decoding: unhex(parts[3]), as: UTF8.self)))
            case "E":
                results.append(.decodeError(message: String(decoding: unhex(parts[4]), as: UTF8.self),
                                            line: Int(parts[1])!, column: Int(parts[2])!, position: Int(parts[3])!))
            default:
                results.append(.otherError(String(parts[1])))
            }
        }
        guard results.count == texts.count else {
            throw OracleFailure(description: "python3 answered \(results.count) of \(texts.count) documents")
        }
        return PythonOracle(version: (v.first ?? 0, v.count > 1 ? v[1] : 0), results: results, repeatedKeys: repeatedKeys)
    }
}

struct OracleFailure: Error, CustomStringConvertible {
    var description: String
}

/// Runs `body` on a thread with a small stack (Swift concurrency threads have 512 KiB).
func onThread(stackSize: Int = 512 * 1024, _ body: @escaping @Sendable () -> Void) {
    let done = DispatchSemaphore(value: 0)
    let thread = Thread {
        body()
        done.signal()
    }
    thread.stackSize = stackSize
    thread.start()
    done.wait()
}
