import Foundation

/// One held lock, as the user needs to see it before releasing it.
public struct LockInfo: Sendable, Equatable, Codable {
    public var stateID: String
    /// The add-on's `lock_id` (a UUID4); for advisory locks, the key as decimal text.
    public var lockID: String
    /// `locked_at` as stored (wall clock of the writer's session time zone), or the
    /// holder's transaction/backend start for advisory locks.
    public var lockedAt: String
    /// Computed on the server (`LOCALTIMESTAMP - locked_at`); negative when writer and
    /// reader use different time zones.
    public var ageSeconds: Double?
    public var isStale: Bool
    /// Advisory locks: the holding backend and what `pg_stat_activity` says of it.
    public var pid: Int32?
    public var user: String?
    public var clientAddress: String?
    public var applicationName: String?
    public var backendStart: String?
    public var transactionStart: String?
    public var query: String?
    public var waitState: String?
    /// Advisory locks: how `pg_stat_activity` shows the holder to this role, its raw
    /// `state`, `wait_event_type: wait_event`, and the age of its current (or last) query.
    public var sessionVisibility: SessionVisibility?
    public var sessionState: String?
    public var waitEvent: String?
    public var queryAgeSeconds: Double?
    /// Why `isStale` is what it is (filled by `StateStore.locks()`; nil in journal
    /// entries written before it existed).
    public var staleness: LockStaleness?
    /// `doctor`'s verdict on releasing this lock now, and why (filled with `staleness`).
    public var releaseVerdict: Verdict?
    public var releaseReason: String?

    /// The journal's fields, as written before the evidence fields existed.
    enum CodingKeys: String, CodingKey {
        case stateID, lockID, lockedAt, ageSeconds, isStale, pid, user, clientAddress, applicationName, backendStart,
             transactionStart, query, waitState
    }

    public init(stateID: String, lockID: String, lockedAt: String, ageSeconds: Double?, isStale: Bool,
                pid: Int32? = nil, user: String? = nil, clientAddress: String? = nil,
                applicationName: String? = nil, backendStart: String? = nil,
                transactionStart: String? = nil, query: String? = nil, waitState: String? = nil) {
        self.stateID = stateID
        self.lockID = lockID
        self.lockedAt = lockedAt
        self.ageSeconds = ageSeconds
        self.isStale = isStale
        self.pid = pid
        self.user = user
        self.clientAddress = clientAddress
        self.applicationName = applicationName
        self.backendStart = backendStart
        self.transactionStart = transactionStart
        self.query = query
        self.waitState = waitState
    }

    /// An age that cannot be right: negative (time zones differ) or over a year.
    public var ageIsImplausible: Bool {
        guard let ageSeconds else { return false }
        return ageSeconds < 0 || ageSeconds > 365 * 86_400
    }
}

/// What a release did. Nothing but the lock that was shown is ever removed.
public enum ReleaseOutcome: Sendable, Equatable {
    case released(LockInfo)
    /// No lock row for this state ID any more.
    case alreadyGone
    /// The state ID is locked again, by another holder: left alone.
    case retaken(by: LockInfo)
    /// Advisory lock: its backend was terminated.
    case terminated(LockInfo)
}

/// The advisory-lock key of the later add-on: the first 8 bytes of MD5(UTF-8 state ID),
/// big-endian, signed.
public func advisoryLockKey(_ stateID: String) -> Int64 {
    let digest = MD5.hash(Array(stateID.utf8))
    var value: UInt64 = 0
    for byte in digest.prefix(8) { value = value << 8 | UInt64(byte) }
    return Int64(bitPattern: value)
}

/// A small MD5 (RFC 1321) for the advisory-lock key; not used for anything secret.
enum MD5 {
    private static let shifts: [UInt32] = [7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
                                           5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20,
                                           4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
                                           6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21]
    private static let table: [UInt32] = (0..<64).map { UInt32(truncatingIfNeeded: Int64(abs(sin(Double($0 + 1))) * 4_294_967_296)) }

    static func hash(_ message: [UInt8]) -> [UInt8] {
        var data = message
        let bitLength = UInt64(message.count) &* 8
        data.append(0x80)
        while data.count % 64 != 56 { data.append(0) }
        for i in 0..<8 { data.append(UInt8(truncatingIfNeeded: bitLength >> (8 * UInt64(i)))) }
        var a0: UInt32 = 0x67452301, b0: UInt32 = 0xefcdab89, c0: UInt32 = 0x98badcfe, d0: UInt32 = 0x10325476
        for chunk in stride(from: 0, to: data.count, by: 64) {
            var m = [UInt32](repeating: 0, count: 16)
            for i in 0..<16 {
                let j = chunk + i * 4
                m[i] = UInt32(data[j]) | UInt32(data[j + 1]) << 8 | UInt32(data[j + 2]) << 16 | UInt32(data[j + 3]) << 24
            }
            var a = a0, b = b0, c = c0, d = d0
            for i in 0..<64 {
                var f: UInt32, g: Int
                switch i {
                case 0..<16: f = (b & c) | (~b & d); g = i
                case 16..<32: f = (d & b) | (~d & c); g = (5 * i + 1) % 16
                case 32..<48: f = b ^ c ^ d; g = (3 * i + 5) % 16
                default: f = c ^ (b | ~d); g = (7 * i) % 16
                }
                f = f &+ a &+ table[i] &+ m[g]
                a = d; d = c; c = b
                b = b &+ (f << shifts[i] | f >> (32 - shifts[i]))
            }
            a0 = a0 &+ a; b0 = b0 &+ b; c0 = c0 &+ c; d0 = d0 &+ d
        }
        return [a0, b0, c0, d0].flatMap { word in (0..<4).map { UInt8(truncatingIfNeeded: word >> (8 * UInt32($0))) } }
    }
}
