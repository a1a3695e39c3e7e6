/// What the browser knows about the database, as plain values. The runner turns
/// `StateStore` results into these, so the pure part never depends on how the store
/// builds its own types, and tests build them directly.

/// A line of the state ID list.
public struct StateRow: Sendable, Equatable {
    public var stateID: String
    /// `updated_at` as stored (writer's wall clock).
    public var updatedAt: String?
    /// Age computed on the server when fetched (negative: writer in another time zone).
    public var ageSeconds: Double?
    /// When it was fetched (seconds since 1970, the browser's clock): ages shown are
    /// `ageSeconds + (now - fetchedAt)`.
    public var fetchedAt: Double
    public var isLocked: Bool
    public var lockIsStale: Bool
    public var isInvalidJSON: Bool

    public init(stateID: String, updatedAt: String? = nil, ageSeconds: Double? = nil, fetchedAt: Double = 0,
                isLocked: Bool = false, lockIsStale: Bool = false, isInvalidJSON: Bool = false) {
        self.stateID = stateID
        self.updatedAt = updatedAt
        self.ageSeconds = ageSeconds
        self.fetchedAt = fetchedAt
        self.isLocked = isLocked
        self.lockIsStale = lockIsStale
        self.isInvalidJSON = isInvalidJSON
    }
}

/// A held lock, with what the user needs before releasing it.
public struct LockRow: Sendable, Equatable {
    public var stateID: String
    public var lockID: String
    /// `locked_at` as stored, or the holder's transaction start for advisory locks.
    public var lockedAt: String
    public var ageSeconds: Double?
    public var fetchedAt: Double
    public var isStale: Bool
    /// Negative or over a year: writer and reader disagree on the time zone.
    public var ageIsImplausible: Bool
    /// Advisory locks: who holds it (pid, user, client), when known.
    public var holder: String?
    /// A PostgreSQL advisory lock (single-table layout): only ending its session frees it.
    public var isAdvisory: Bool
    /// What decided `isStale` (`heartbeat`, `holder session`, `age`) and how.
    public var staleEvidence: String?
    public var staleReason: String?
    /// doctor's verdict on releasing it now (`SAFE TO RELEASE`, `RUNNING, DO NOT RELEASE`, …), why, and
    /// whether the release needs a second, explicit confirmation (RUNNING or DO NOT RELEASE).
    public var verdict: String?
    public var verdictReason: String?
    public var needsSecondConfirmation = false

    public init(stateID: String, lockID: String, lockedAt: String, ageSeconds: Double?, fetchedAt: Double = 0,
                isStale: Bool = false, ageIsImplausible: Bool = false, holder: String? = nil, isAdvisory: Bool = false) {
        self.stateID = stateID
        self.lockID = lockID
        self.lockedAt = lockedAt
        self.ageSeconds = ageSeconds
        self.fetchedAt = fetchedAt
        self.isStale = isStale
        self.ageIsImplausible = ageIsImplausible
        self.holder = holder
        self.isAdvisory = isAdvisory
    }
}

/// A row of Meltano's `runs` left in state RUNNING (system database layout): the
/// stuck pipeline of that layout, which has no lock table.
public struct RunRow: Sendable, Equatable {
    /// `runs.id`, what `fail-run` takes.
    public var id: Int
    /// `job_name`: Meltano's state ID.
    public var jobName: String
    /// The `run_id` UUID.
    public var runID: String?
    public var startedAt: String?
    public var lastHeartbeatAt: String?
    /// Since the last heartbeat (or the start, without one), computed on the server.
    public var silentForSeconds: Double?
    public var fetchedAt: Double
    /// Meltano's rule (`Job.is_stale`), decided by the store.
    public var isStale: Bool
    /// What Meltano writes under `error` in the payload when it fails the run.
    public var staleReason: String?

    public init(id: Int, jobName: String, runID: String? = nil, startedAt: String? = nil, lastHeartbeatAt: String? = nil,
                silentForSeconds: Double? = nil, fetchedAt: Double = 0, isStale: Bool = false, staleReason: String? = nil) {
        self.id = id
        self.jobName = jobName
        self.runID = runID
        self.startedAt = startedAt
        self.lastHeartbeatAt = lastHeartbeatAt
        self.silentForSeconds = silentForSeconds
        self.fetchedAt = fetchedAt
        self.isStale = isStale
        self.staleReason = staleReason
    }
}

/// One backup-journal entry of a state ID.
public struct HistoryRow: Sendable, Equatable {
    public var id: String
    public var time: String
    public var action: String
    public var stateID: String
    public var note: String?
    /// Whether a row existed before (restoring then writes it back; else deletes).
    public var hadRow: Bool
    /// A released lock (restoring puts the lock row back).
    public var isLock: Bool
    /// A run marked failed (restoring puts its runs row back as it was: RUNNING).
    public var isRun: Bool
    /// Size of the recorded value, for the list.
    public var bytes: Int

    public init(id: String, time: String, action: String, stateID: String, note: String? = nil,
                hadRow: Bool = true, isLock: Bool = false, isRun: Bool = false, bytes: Int = 0) {
        self.id = id
        self.time = time
        self.action = action
        self.stateID = stateID
        self.note = note
        self.hadRow = hadRow
        self.isLock = isLock
        self.isRun = isRun
        self.bytes = bytes
    }
}

/// A state ID's row as loaded for the right pane.
public struct LoadedState: Sendable {
    public var stateID: String
    /// false: there is no row (cleared since it was listed).
    public var exists: Bool
    public var updatedAt: String?
    public var ageSeconds: Double?
    public var fetchedAt: Double
    /// Column texts exactly as stored; nil is NULL.
    public var completedRaw: String?
    public var partialRaw: String?
    /// The merged view as JSON text. With no partial state it is the completed text
    /// itself (the same string: not a copy), checked when it is laid out. nil with no
    /// `mergedProblem`: there is a partial state, merged when the view is laid out.
    public var mergedText: String?
    /// Why there is no merged view (a part is not JSON, an object over a non-object).
    public var mergedProblem: String?
    /// `mergedText` is `completedRaw` (no partial state): one layout serves both views.
    public var mergedIsCompleted: Bool
    /// `completedRaw` laid out while it was read, when it is JSON (`ArrivingLayout`);
    /// nil: lay it out when a view needs it.
    public var completedLayout: JSONDocument? = nil

    public init(stateID: String, exists: Bool = true, updatedAt: String? = nil, ageSeconds: Double? = nil,
                fetchedAt: Double = 0, completedRaw: String?, partialRaw: String?, mergedText: String?,
                mergedProblem: String? = nil, mergedIsCompleted: Bool = false) {
        self.stateID = stateID
        self.exists = exists
        self.updatedAt = updatedAt
        self.ageSeconds = ageSeconds
        self.fetchedAt = fetchedAt
        self.completedRaw = completedRaw
        self.partialRaw = partialRaw
        self.mergedText = mergedText
        self.mergedProblem = mergedProblem
        self.mergedIsCompleted = mergedIsCompleted
    }

    /// The size shown in the pane title.
    public var byteCount: Int { (completedRaw?.utf8.count ?? 0) + (partialRaw?.utf8.count ?? 0) }
}

/// The connection as the header shows it.
public enum ConnectionStatus: Sendable, Equatable {
    case connecting
    case connected
    /// Lost or never made: why, and when the next try is (browser clock).
    case disconnected(reason: String, retryAt: Double?)
}

/// The server the workers are connected to: with several hosts listed (`host=a,b`),
/// the one libpq chose, which changes after a failover.
public struct ConnectedServer: Sendable, Equatable {
    /// host:port, as `check` prints it.
    public var address: String
    /// Whether it is a standby in recovery; nil when that could not be asked.
    public var inRecovery: Bool?

    public init(address: String, inRecovery: Bool?) {
        self.address = address
        self.inRecovery = inRecovery
    }

    /// "primary", "standby, read-only", or nil when unknown.
    public var role: String? {
        inRecovery.map { $0 ? "standby, read-only" : "primary" }
    }
}

/// What the right pane shows of a state: the view the next run uses, each column,
/// or the stored text as is.
public enum ViewMode: String, Sendable, CaseIterable, Hashable {
    case merged, completed, partial, raw
}

public enum Focus: Sendable, Equatable {
    case list, detail, locks
}

/// One line of `doctor`'s report: what kind of evidence, and what it says.
public struct DoctorLine: Sendable, Equatable {
    public var label: String
    public var text: String

    public init(label: String, text: String) {
        self.label = label
        self.text = text
    }
}

/// `doctor`'s diagnosis of one state ID (the CLI's `doctor ID`, in a panel).
public struct DoctorReport: Sendable, Equatable {
    public var stateID: String
    public var headline: String
    /// HEALTHY or SAFE TO RELEASE (drawn calm); else a warning.
    public var safe: Bool
    public var lines: [DoctorLine]

    public init(stateID: String, headline: String, safe: Bool, lines: [DoctorLine]) {
        self.stateID = stateID
        self.headline = headline
        self.safe = safe
        self.lines = lines
    }
}
