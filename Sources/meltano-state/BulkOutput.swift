import Foundation
import StateJSON
import StateStore

// `list` and `export` of millions of state IDs: rows are streamed from the server and
// written straight into a byte buffer (no array of rows, no `String` per ID, no
// `JSONObject` of every state). `list`'s buffer goes to stdout in one write at the end,
// so a failure half-way prints nothing; `export` into a pipe or file is written every
// MiB, so its memory does not grow with the number of states.

/// Bytes to stdout, in one piece, as `writeOut` does with text.
func writeOut(bytes: [UInt8]) {
    bytes.withUnsafeBytes { writeStandardOutput($0) }
}

/// A state and a newline to stdout, written in chunks as it is serialised.
func writeOut(_ state: MergedState, _ options: JSONWriteOptions) {
    try? state.write(options, chunkSize: 1 << 20) { chunk in  // the sink never throws
        writeStandardOutput(UnsafeRawBufferPointer(chunk))
    }
    writeOut("\n")
}

/// Appends text from the server as `String(decoding:as:)` would make it: bytes that
/// are not UTF-8 become U+FFFD; valid text (all of it, in practice) is copied as is.
@inline(__always)
func appendDecoded(_ bytes: UnsafeRawBufferPointer, to out: inout [UInt8]) {
    var ascii = true
    for byte in bytes where byte >= 0x80 { ascii = false; break }
    if ascii {
        out.append(contentsOf: bytes)
    } else {
        out.append(contentsOf: String(decoding: bytes, as: UTF8.self).utf8)
    }
}

/// `list`'s output: one ID per line, byte for byte Meltano's; on a terminal each ID is
/// made one visible line. Nil when there is no ID.
func listOutput(_ store: StateStore, pattern: String?, onTerminal: Bool) throws -> [UInt8]? {
    var out: [UInt8] = []
    let count = try store.forEachStateID(matching: pattern) { id in
        if onTerminal {
            out.append(contentsOf: terminalSafe(String(decoding: id, as: UTF8.self), keepingLineBreaks: false).utf8)
        } else {
            appendDecoded(id, to: &out)
        }
        out.append(UInt8(ascii: "\n"))
    }
    return count == 0 ? nil : out
}

/// `export`'s output, `{"ID":{"completed":…,"partial":…},…}` and a newline: the bytes
/// `JSONValue.object(…).compactText` gives for the same states, written a state at a
/// time. With `flush`, every MiB written so far is handed to it (to stdout: memory does
/// not grow with the number of states) and only the rest is returned. Returns the
/// states left out because their text is not JSON.
func exportOutput(_ store: StateStore, flush: (([UInt8]) -> Void)? = nil) throws -> (bytes: [UInt8], unreadable: [(String, String)]) {
    var out: [UInt8] = [UInt8(ascii: "{")]
    let limit = 1 << 20
    if flush != nil { out.reserveCapacity(limit + (limit >> 2)) }
    var first = true
    let unreadable = try store.forEachExportedStateText { stateID, completed, partial in
        if !first { out.append(UInt8(ascii: ",")) }
        first = false
        JSONRewriter.appendCompactString(stateID, to: &out)
        out.append(contentsOf: #":{"completed":"#.utf8)
        out.append(contentsOf: completed)
        out.append(contentsOf: #","partial":"#.utf8)
        out.append(contentsOf: partial)
        out.append(UInt8(ascii: "}"))
        if let flush, out.count >= limit {
            flush(out)
            out.removeAll(keepingCapacity: true)
        }
    }
    out.append(contentsOf: "}\n".utf8)
    return (out, unreadable)
}
