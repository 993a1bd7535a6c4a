import Synchronization

/// Wakes a waiting loop early: a message was queued, a request in flight finished, an operator asked
/// for a retry, the configuration changed. A ring while nobody waits is kept for the next `wait`, so
/// a ring between a loop's look at the store and its wait is never lost.
final class Doorbell: Sendable {
    private struct State {
        var rung = false
        var waiter: CheckedContinuation<Void, Never>?
        /// The current `wait` has returned: a late waiter must not park.
        var closed = false
    }

    private let state = Mutex(State())

    func ring() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter
            }
            state.rung = true
            return nil
        }
        waiter?.resume()
    }

    /// Whether the bell rang since the last `take` or `wait` (and clears it).
    func take() -> Bool {
        state.withLock { state in
            defer { state.rung = false }
            return state.rung
        }
    }

    /// Returns when the bell rings (at once if it rang since the last `take` or `wait`), after
    /// `timeout` (nil: no timeout), or when the task is cancelled. One waiter at a time.
    func wait(timeout: Duration? = nil) async {
        state.withLock { $0.closed = false }
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await withTaskCancellationHandler {
                    await withCheckedContinuation { continuation in
                        let now = self.state.withLock { state -> Bool in
                            if state.rung || state.closed {
                                state.rung = false
                                return true
                            }
                            state.waiter = continuation
                            return false
                        }
                        if now { continuation.resume() }
                    }
                } onCancel: {
                    self.release()
                }
            }
            if let timeout { group.addTask { try? await Task.sleep(for: timeout) } }
            await group.next()
            release()
            group.cancelAll()
        }
    }

    /// Ends the current wait: resumes a parked waiter, and keeps a waiter not parked yet from parking.
    private func release() {
        let parked = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.closed = true
            defer { state.waiter = nil }
            return state.waiter
        }
        parked?.resume()
    }
}
