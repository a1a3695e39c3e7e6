import Foundation
import StateJSON
import TestSupport
import Testing

/// A bounded randomised fuzz run: random bytes and mutated documents through the parser,
/// and everything it accepts through the writers. No crash, consistent errors.
@Suite struct FuzzTests {
    static let seconds: Double = {
        Double(ProcessInfo.processInfo.environment["STATEJSON_FUZZ_SECONDS"] ?? "") ?? 3
    }()

    func check(_ bytes: [UInt8], _ stats: inout (accepted: Int, rejected: Int)) -> String? {
        do {
            let value = try JSONParser.parse(bytes)
            stats.accepted += 1
            guard String(validating: bytes, as: UTF8.self) != nil else { return "accepted invalid UTF-8: \(bytes)" }
            let meltano = value.meltanoText
            for written in [meltano, value.compactText, value.prettyText()] {
                guard let again = try? JSONParser.parse(written), again.meltanoText == meltano else {
                    return "output does not read back: \(written.debugDescription)"
                }
            }
        } catch {
            stats.rejected += 1
            guard error.offset >= 0, error.offset <= bytes.count, error.line >= 1, error.column >= 1,
                  error.characterOffset <= error.offset, error.excerpt.hasSuffix("^") else {
                return "inconsistent error \(error) for \(bytes)"
            }
        }
        return nil
    }

    @Test func randomBytesAndMutatedDocuments() {
        var rng = SeededRandom(seed: UInt64(Date().timeIntervalSince1970 * 1000))
        let seed = rng.state
        var generator = DocumentGenerator(seed: seed)
        let alphabet = Array("{}[],:\"\\ 0123456789.eE+-tfnulrsaINy\n\t/".utf8) + [0x00, 0x1F, 0x7F, 0x80, 0xBF, 0xC3, 0xE2, 0xED, 0xF0, 0xF4, 0xFF]
        let deadline = Date().addingTimeInterval(Self.seconds)
        var stats = (accepted: 0, rejected: 0)
        var problems: [String] = []
        var round = 0
        while Date() < deadline && problems.count < 5 {
            round += 1
            var bytes: [UInt8]
            switch round % 4 {
            case 0:
                bytes = (0..<rng.int(0...48)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            case 1:
                bytes = (0..<rng.int(0...64)).map { _ in rng.pick(alphabet) }
            default:
                bytes = Array(generator.document().utf8)
                for _ in 0..<rng.int(1...4) where !bytes.isEmpty {
                    let at = rng.int(0...bytes.count - 1)
                    switch rng.int(0...4) {
                    case 0: bytes[at] = UInt8(truncatingIfNeeded: rng.next())
                    case 1: bytes.remove(at: at)
                    case 2: bytes.insert(rng.pick(alphabet), at: at)
                    case 3: bytes.removeSubrange(at...)
                    default: bytes.insert(contentsOf: bytes[at...].prefix(rng.int(1...8)), at: at)
                    }
                }
            }
            if let problem = check(bytes, &stats) { problems.append(problem) }
        }
        #expect(problems.isEmpty, "seed \(seed): \(problems.joined(separator: "\n"))")
        #expect(stats.accepted > 100 && stats.rejected > 100)
        print("FuzzTests: \(stats.accepted + stats.rejected) inputs in \(Self.seconds) s (\(stats.accepted) accepted, \(stats.rejected) rejected), seed \(seed)")
    }
}
