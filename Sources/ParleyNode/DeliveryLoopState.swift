import Foundation

/// One peer's delivery loop, apart from its I/O (as swift-nio keeps `AggregatorState` apart from
/// its channel handler): how many messages are in flight, and whether a failed attempt holds new
/// requests back. Each event returns what the loop does next; `DeliveryService` does the reading,
/// sending and waiting.
///
/// The loop waits on work, never on a timer of its own: it is woken by a queued message, a finished
/// request, an operator's retry, a peer that reached this node again or a reload (the doorbell), and
/// otherwise sleeps until the only time it knows work falls due, a failed message's retry.
struct DeliveryLoopState: Sendable, Hashable {
    enum Action: Sendable, Hashable {
        /// Read up to `limit` due deliveries from the outbox, in channel order.
        case take(limit: Int)
        /// Wait until `until`, or until woken; nil: until woken.
        case wait(until: Date?)
    }

    /// Messages in flight (marked in the store, requests not yet settled).
    private(set) var inFlight = 0
    /// After a failed attempt, no new request starts before its retry, so that the failed message
    /// goes again before any later one (SPEC.md §12.4, channel order).
    private(set) var pausedUntil: Date?

    /// Next attempts are wall-clock times, and a wait is not: after a step of the clock, a wait for
    /// a due time is at most this long.
    static let longestTimedWait: TimeInterval = 60
    /// After the store refused a read or a write, the loop tries again this much later.
    static let storeRetryInterval: TimeInterval = 5

    /// The loop is free to act at `now`: take messages if the window allows, or wait.
    /// `retryRequested`: an operator's retry or a peer that came back (its deliveries are due now)
    /// ends the pause after a failure.
    mutating func next(at now: Date, policy: DeliveryPolicy, retryRequested: Bool) -> Action {
        if let pausedUntil {
            if pausedUntil > now && !retryRequested { return .wait(until: pausedUntil) }
            self.pausedUntil = nil
        }
        let limit = policy.refill(inFlight: inFlight)
        return limit > 0 ? .take(limit: limit) : .wait(until: nil)
    }

    /// The outbox had nothing due: wait for the next attempt of the channel's first pending message
    /// (nil: nothing pending, wait to be woken).
    func nothingDue(nextAttempt: Date?, at now: Date) -> Action {
        .wait(until: nextAttempt.map { min($0, now.addingTimeInterval(Self.longestTimedWait)) })
    }

    /// The store could not be read or written.
    func storeFailed(at now: Date) -> Action { .wait(until: now.addingTimeInterval(Self.storeRetryInterval)) }

    /// `count` messages were marked in flight; their requests start.
    mutating func sending(_ count: Int) { inFlight += count }

    /// A request of `count` messages was settled; `retryAt`: the earliest next attempt of a failed one.
    mutating func finished(_ count: Int, retryAt: Date?) {
        inFlight = max(0, inFlight - count)
        if let retryAt { pausedUntil = max(pausedUntil ?? retryAt, retryAt) }
    }
}
