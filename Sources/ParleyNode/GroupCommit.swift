import NIOConcurrencyHelpers

/// Group commit: combines concurrent durable writes into one transaction. Requests that arrive
/// while a transaction is being committed wait and are written together in the next one. Each
/// caller resumes only once the transaction holding its request has committed (or failed), so an
/// acknowledgement still means "fsynced"; only the number of fsyncs goes down.
///
/// One `commit` runs at a time, in a task of the committer's own (the store's async write suspends it
/// while SQLite commits and syncs on GRDB's writer queue); it returns one result per request, in
/// order. It must isolate failures: when a batch transaction fails, it retries the requests one by
/// one so that one bad request fails alone. The task is never cancelled: a waiting caller that is
/// cancelled still gets the outcome of a commit that happened.
final class GroupCommitter<Request: Sendable, Outcome: Sendable>: Sendable {
    typealias Commit = @Sendable ([Request]) async -> [Result<Outcome, any Error>]

    typealias Completion = @Sendable (Result<Outcome, any Error>) -> Void

    private struct State {
        var waiting: [(Request, Completion)] = []
        var committing = false
    }

    /// A pthread-based lock rather than `Synchronization.Mutex`: ThreadSanitizer on Linux does not see
    /// Mutex's futex synchronisation and reports its critical sections as races (Tests/Sanitizers/),
    /// and this is the most contended state in the daemon, where a real race must not hide.
    private let state = NIOLockedValueBox(State())
    private let commit: Commit
    private let label: String
    let maximumBatch: Int

    init(label: String, maximumBatch: Int = 256, commit: @escaping Commit) {
        self.label = label
        self.maximumBatch = maximumBatch
        self.commit = commit
    }

    func submit(_ request: Request) async throws -> Outcome {
        try await withCheckedThrowingContinuation { continuation in
            enqueue([(request, { @Sendable result in continuation.resume(with: result) })])
        }
    }

    /// Several requests at once, committed in the order given (in one transaction when they fit in
    /// `maximumBatch` and nobody else waits): one outcome each, returned when the last has committed.
    /// Cheaper than as many concurrent `submit` calls: one task and one resumption for all.
    func submitAll(_ requests: [Request]) async -> [Result<Outcome, any Error>] {
        guard !requests.isEmpty else { return [] }
        return await withCheckedContinuation { continuation in
            let collector = Collector(count: requests.count) { continuation.resume(returning: $0) }
            enqueue(
                requests.enumerated().map { index, request in
                    (request, { @Sendable result in collector.set(index, result) })
                }
            )
        }
    }

    private func enqueue(_ requests: [(Request, Completion)]) {
        let start = state.withLockedValue { state in
            state.waiting += requests
            guard !state.committing else { return false }
            state.committing = true
            return true
        }
        if start { Task(name: "group commit \(label)") { [self] in await drain() } }
    }

    /// Commits batches until nobody waits.
    private func drain() async {
        while true {
            let batch = state.withLockedValue { state -> [(Request, Completion)] in
                let taken = Array(state.waiting.prefix(maximumBatch))
                state.waiting.removeFirst(taken.count)
                if taken.isEmpty { state.committing = false }
                return taken
            }
            guard !batch.isEmpty else { return }
            let results = await commit(batch.map(\.0))
            for (index, (_, complete)) in batch.enumerated() {
                complete(
                    index < results.count
                        ? results[index] : .failure(Problem.internalError("group commit returned too few results"))
                )
            }
        }
    }

    /// Gathers the outcomes of one `submitAll` (which may span several commits) and hands them
    /// over once all are in.
    private final class Collector: Sendable {
        private let state: NIOLockedValueBox<(results: [Result<Outcome, any Error>?], missing: Int)>
        private let done: @Sendable ([Result<Outcome, any Error>]) -> Void

        init(count: Int, done: @escaping @Sendable ([Result<Outcome, any Error>]) -> Void) {
            state = NIOLockedValueBox((Array(repeating: nil, count: count), count))
            self.done = done
        }

        func set(_ index: Int, _ result: Result<Outcome, any Error>) {
            let complete = state.withLockedValue { state -> [Result<Outcome, any Error>]? in
                state.results[index] = result
                state.missing -= 1
                return state.missing == 0 ? state.results.map { $0! } : nil
            }
            if let complete { done(complete) }
        }
    }

    /// Runs `batch`; if it throws, runs `single` for each request so that each gets its own outcome.
    static func isolating(
        _ requests: [Request],
        batch: ([Request]) async throws -> [Outcome],
        single: (Request) async throws -> Outcome
    ) async -> [Result<Outcome, any Error>] {
        if requests.count > 1, let outcomes = try? await batch(requests), outcomes.count == requests.count {
            return outcomes.map { .success($0) }
        }
        var results: [Result<Outcome, any Error>] = []
        for request in requests {
            do { results.append(.success(try await single(request))) } catch { results.append(.failure(error)) }
        }
        return results
    }
}
