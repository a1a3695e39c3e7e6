import Foundation
import StateStore

/// Runs `update`'s commands against `StateStore`, off the UI thread, and posts each
/// result back as a `Message`. The UI thread only ever enqueues: it never waits for
/// the database, so keys and resizes are handled while a query or a lock wait runs.
///
/// Four workers, each with its own store (connection): reads, counts, the lock refresh
/// and writes. Laying out and searching big states runs on a separate queue. Commands the
/// terminal itself must run (`openEditor`, `copyToClipboard`, `quit`) are left to the
/// host and ignored here.
public final class CommandRunner: @unchecked Sendable {
    private let reads: Worker
    /// Counting a million filtered IDs can take a while: never ahead of a page or a state.
    private let counts: Worker
    private let lockRefresh: Worker
    private let writes: Worker
    private let compute = DispatchQueue(label: "meltano-state.compute", qos: .userInitiated, attributes: .concurrent)
    private let post: @Sendable (Message) -> Void
    private let clock: @Sendable () -> Double
    private let bigStateBytes: Int
    /// Opens a store in another context (never prompts), for `=`.
    private let openContextStore: (@Sendable (String) throws -> StateStore)?

    /// - Parameters:
    ///   - makeStore: opens a store (a new connection) for each worker, and again to
    ///     reconnect.
    ///   - post: delivers a message to the UI thread (called from any thread).
    ///   - bigStateBytes: after reading a state this big, the reads worker reconnects,
    ///     so libpq lets go of the buffer that held it.
    public init(makeStore: @escaping @Sendable () throws -> StateStore,
                clock: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 },
                bigStateBytes: Int = 8 << 20,
                openContextStore: (@Sendable (String) throws -> StateStore)? = nil,
                post: @escaping @Sendable (Message) -> Void) {
        self.post = post
        self.openContextStore = openContextStore
        self.clock = clock
        self.bigStateBytes = bigStateBytes
        let monitor = ConnectionMonitor(post: post)
        reads = Worker(name: "reads", makeStore: makeStore, monitor: monitor, clock: clock, post: post)
        counts = Worker(name: "counts", makeStore: makeStore, monitor: monitor, clock: clock, post: post)
        lockRefresh = Worker(name: "locks", makeStore: makeStore, monitor: monitor, clock: clock, post: post)
        writes = Worker(name: "writes", makeStore: makeStore, monitor: monitor, clock: clock, post: post)
    }

    /// Stops the workers (their connections close once the running statement ends).
    public func stop() {
        reads.stop()
        counts.stop()
        lockRefresh.stop()
        writes.stop()
    }

    public func execute(_ command: Command) {
        let clock = self.clock
        let bigStateBytes = self.bigStateBytes
        switch command {
        case let .loadPage(request):
            let reload: Bool
            switch request.anchor {
            case .first, .last, .around: reload = true
            case .after, .before: reload = false
            }
            reads.enqueue(Worker.Job(key: reload ? "reload" : nil, retries: true, run: { store in
                .pageLoaded(try StoreReads.page(store, request, clock: clock))
            }, failed: { .readFailed(.page, requestID: request.generation, $0) }))
        case let .count(generation, glob):
            counts.enqueue(Worker.Job(key: "count", retries: true, run: { store in
                .counted(generation: generation, total: try store.count(matching: glob))
            }, failed: { _ in nil }))
        case let .locate(generation, stateID, glob):
            // Beside the count: a jump's page is never held up by it ("?" until then).
            counts.enqueue(Worker.Job(key: "locate", retries: true, run: { store in
                .located(generation: generation, stateID: stateID, position: try store.position(of: stateID, matching: glob))
            }, failed: { _ in nil }))
        case let .loadState(requestID, stateID):
            reads.enqueue(Worker.Job(key: "state", retries: true, run: { store in
                .stateLoaded(requestID: requestID, try StoreReads.state(store, stateID, clock: clock))
            }, failed: { .readFailed(.state, requestID: requestID, $0) }, reconnectAfter: { message in
                if case let .stateLoaded(_, state) = message { return state.byteCount >= bigStateBytes }
                return false
            }))
        case let .buildDocument(request):
            let post = self.post
            compute.async {
                let document = LocalWork.document(for: request.state, mode: request.mode, wrapWidth: request.wrapWidth)
                post(.documentBuilt(requestID: request.id, mode: request.mode, document))
            }
        case let .checkEdit(request):
            let post = self.post
            compute.async {
                let (body, check) = LocalWork.checkEdit(request.session, text: request.text)
                post(.editChecked(requestID: request.id, request.session, body: body, check))
            }
        case let .search(request):
            let post = self.post
            compute.async {
                let line = LocalWork.search(request.document, term: request.term, from: request.from, forward: request.forward)
                post(.searchFinished(requestID: request.id, line: line))
            }
        case .loadLocks:
            lockRefresh.enqueue(Worker.Job(key: "locks", retries: true, run: { store in
                let now = clock()
                // Meltano's system database has no lock table; its stuck pipelines are
                // runs left RUNNING.
                if store.layout == .systemDB {
                    return .runsLoaded(try store.runningRuns().map { StoreReads.runRow($0, fetchedAt: now) }, at: now)
                }
                return .locksLoaded(try store.locks().map { StoreReads.lockRow($0, fetchedAt: now) }, at: now)
            }, failed: { .readFailed(.locks, requestID: 0, $0) }))
        case let .prepareEdit(stateID):
            reads.enqueue(Worker.Job(key: "edit", retries: true, run: { store in
                .editPrepared(try StoreReads.editSession(store, stateID))
            }, failed: { .readFailed(.edit, requestID: 0, $0) }, reconnectAfter: { message in
                if case let .editPrepared(session) = message { return session.original.utf8.count >= bigStateBytes }
                return false
            }))
        case let .checkTarget(action):
            reads.enqueue(Worker.Job(key: "target", retries: true, run: { store in
                .targetChecked(action: action, exists: try store.getRaw(action.focusStateID) != nil)
            }, failed: { .readFailed(.target, requestID: 0, $0) }))
        case let .loadHistory(stateID):
            reads.enqueue(Worker.Job(key: "history", retries: true, run: { store in
                // Entries of this database only: one journal serves every context and
                // server, and another database's entry is never restored here.
                .historyLoaded(stateID: stateID, try store.history(stateID: stateID) { store.isRecordedHere($0) ? StoreReads.historyRow($0) : nil })
            }, failed: { .readFailed(.history, requestID: 0, $0) }))
        case let .diagnose(stateID):
            reads.enqueue(Worker.Job(key: "doctor", retries: true, run: { store in
                .diagnosed(stateID: stateID, try StoreReads.doctor(store, stateID), error: nil)
            }, failed: { .diagnosed(stateID: stateID, nil, error: $0) }))
        case let .write(action):
            writes.enqueue(Worker.Job(key: nil, retries: false, run: { store in
                .writeFinished(action, StoreWrites.perform(action, store))
            }, failed: { .writeFinished(action, .failed($0)) }))
        case let .diffWithContext(stateID, context):
            let open = openContextStore
            reads.enqueue(Worker.Job(key: "contextDiff", retries: true, run: { store in
                guard let open else {
                    return .contextDiffLoaded(ContextDiff(stateID: stateID, context: context, lines: [], error: "Comparing with another context is not available here."))
                }
                let other = try open(context)
                defer { other.close() }
                return .contextDiffLoaded(try StoreReads.contextDiff(stateID, here: store, there: other, context: context))
            }, failed: { .contextDiffLoaded(ContextDiff(stateID: stateID, context: context, lines: [], error: $0)) }))
        case .cancelWrite:
            writes.cancelCurrent()
        case let .after(seconds, message):
            let post = self.post
            DispatchQueue.global().asyncAfter(deadline: .now() + seconds) { post(message) }
        case .openEditor, .copyToClipboard, .quit, .switchContext:
            break
        }
    }
}
