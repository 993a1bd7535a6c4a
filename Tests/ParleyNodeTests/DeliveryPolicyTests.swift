import Foundation
@testable import ParleyNode
import ParleyProtocol
import Testing

/// `DeliveryPolicy`: backoff, Retry-After, refilling the window and grouping messages into requests,
/// without a node or a clock.
@Suite struct DeliveryPolicyTests {
    let policy = DeliveryPolicy(initialInterval: .seconds(5), maximumInterval: .seconds(900), window: 8, batchSize: 3)

    @Test func backoffDoublesFromTheInitialIntervalUpToTheCap() {
        #expect(policy.backoff(attempts: 1, jitter: 1) == .seconds(5))
        #expect(policy.backoff(attempts: 0, jitter: 1) == .seconds(5))
        #expect(policy.backoff(attempts: 4, jitter: 1) == .seconds(40))
        #expect(policy.backoff(attempts: 4, jitter: 0.8) == .seconds(32))
        #expect(policy.backoff(attempts: 4, jitter: 1.2) == .seconds(48))
        #expect(policy.backoff(attempts: 8, jitter: 1) == .seconds(640))
        // The jitter never lifts the wait above the cap, and no attempt count overflows.
        #expect(policy.backoff(attempts: 9, jitter: 1.2) == .seconds(900))
        #expect(policy.backoff(attempts: 10_000, jitter: 0.8) == .seconds(720))
        #expect(policy.backoff(attempts: .max, jitter: 1) == .seconds(900))
    }

    @Test func retryAfterIsAFloorCappedLikeTheBackoff() {
        #expect(policy.retryDelay(attempts: 1, retryAfter: .seconds(30), jitter: 1) == .seconds(30))
        #expect(policy.retryDelay(attempts: 1, retryAfter: .seconds(2), jitter: 1) == .seconds(5))
        #expect(policy.retryDelay(attempts: 1, retryAfter: .seconds(86_400), jitter: 1) == .seconds(900))
        #expect(policy.retryDelay(attempts: 1, retryAfter: .seconds(-30), jitter: 1) == .seconds(5))
        #expect(DeliveryPolicy.retryAfter(seconds: 30) == .seconds(30))
        #expect(DeliveryPolicy.retryAfter(seconds: 0) == nil && DeliveryPolicy.retryAfter(seconds: -1) == nil)
        #expect(DeliveryPolicy.retryAfter(seconds: .nan) == nil && DeliveryPolicy.retryAfter(seconds: .infinity) == nil)
    }

    @Test func theWindowIsRefilledWhenIdleOrHalfFree() {
        #expect(policy.refill(inFlight: 0) == 8)
        #expect(policy.refill(inFlight: 1) == 7)
        #expect(policy.refill(inFlight: 4) == 4)
        #expect(policy.refill(inFlight: 5) == 0)
        #expect(policy.refill(inFlight: 8) == 0)
        let one = DeliveryPolicy(initialInterval: .seconds(1), maximumInterval: .seconds(1), window: 1, batchSize: 1)
        #expect(one.refill(inFlight: 0) == 1 && one.refill(inFlight: 1) == 0)
        let odd = DeliveryPolicy(initialInterval: .seconds(1), maximumInterval: .seconds(1), window: 7, batchSize: 1)
        #expect(odd.refill(inFlight: 3) == 4 && odd.refill(inFlight: 4) == 0)
    }

    @Test func configuredLimitsAreClampedToWhatTheProtocolAllows() {
        let clamped = DeliveryPolicy(
            initialInterval: .seconds(1),
            maximumInterval: .seconds(1),
            window: 0,
            batchSize: 1_000
        )
        #expect(clamped.window == 1 && clamped.batchSize == MessageBatch.maximumCount)
        #expect(
            DeliveryPolicy(initialInterval: .seconds(1), maximumInterval: .seconds(1), window: 4, batchSize: 0)
                .batchSize == 1
        )
    }

    @Test func requestsKeepChannelOrderAndTheBatchSize() {
        let sizes = [10, 20, 30, 40, 50, 60, 70]
        #expect(policy.requests(sizes) { $0 } == [[10, 20, 30], [40, 50, 60], [70]])
        #expect(policy.requests(sizes, singleOnly: true) { $0 } == sizes.map { [$0] })
        #expect(policy.requests([Int]()) { $0 }.isEmpty)
    }

    /// The framing constants bound the real encoding: a request the policy builds right at the byte
    /// limit encodes within `MessageBatch.maximumSize`, and one byte more splits it.
    @Test func requestsStayWithinTheBatchByteLimit() {
        let wide = DeliveryPolicy(initialInterval: .seconds(1), maximumInterval: .seconds(1), window: 64, batchSize: 64)
        let room = MessageBatch.maximumSize - DeliveryPolicy.batchFramingBytes - 4 * DeliveryPolicy.messageFramingBytes
        let fitting = [room / 4, room / 4, room / 4, room - 3 * (room / 4)]
        #expect(wide.requests(fitting) { $0 }.count == 1)
        let encoded = MessageBatch(fitting.map { [UInt8](repeating: 0xA5, count: $0) }).encoded
        #expect(encoded.count <= MessageBatch.maximumSize, "\(encoded.count)")
        var over = fitting
        over[3] += 1
        #expect(wide.requests(over) { $0 } == [Array(over[0..<3]), [over[3]]])
        // A message alone goes in a request of its own, whatever its size.
        #expect(wide.requests([MessageBatch.maximumSize, 1]) { $0 } == [[MessageBatch.maximumSize], [1]])
    }
}

/// `DeliveryLoopState`: the transitions of one peer's delivery loop, with times given.
@Suite struct DeliveryLoopStateTests {
    let policy = DeliveryPolicy(initialInterval: .seconds(5), maximumInterval: .seconds(900), window: 8, batchSize: 4)
    let now = Date(timeIntervalSinceReferenceDate: 800_000_000)

    @Test func anIdleLoopTakesAWholeWindowThenWaitsForAnswers() {
        var state = DeliveryLoopState()
        #expect(state.next(at: now, policy: policy, retryRequested: false) == .take(limit: 8))
        state.sending(8)
        #expect(state.inFlight == 8)
        #expect(state.next(at: now, policy: policy, retryRequested: false) == .wait(until: nil))
        state.finished(3, retryAt: nil)
        #expect(state.next(at: now, policy: policy, retryRequested: false) == .wait(until: nil))
        state.finished(1, retryAt: nil)
        #expect(state.next(at: now, policy: policy, retryRequested: false) == .take(limit: 4))
        state.sending(2)
        state.finished(6, retryAt: nil)
        #expect(state.inFlight == 0)
        #expect(state.next(at: now, policy: policy, retryRequested: false) == .take(limit: 8))
    }

    @Test func aFailureHoldsNewRequestsUntilItsRetry() {
        var state = DeliveryLoopState()
        state.sending(2)
        let retry = now.addingTimeInterval(30)
        state.finished(1, retryAt: retry)
        #expect(state.pausedUntil == retry)
        #expect(state.next(at: now, policy: policy, retryRequested: false) == .wait(until: retry))
        // A second failure of the same group keeps the later time; an earlier one does not shorten it.
        state.finished(1, retryAt: now.addingTimeInterval(10))
        #expect(state.next(at: now, policy: policy, retryRequested: false) == .wait(until: retry))
        // Due: the pause ends, the window is free.
        #expect(state.next(at: retry, policy: policy, retryRequested: false) == .take(limit: 8))
        #expect(state.pausedUntil == nil)
    }

    @Test func anOperatorsRetryOrAReturningPeerEndsThePause() {
        var state = DeliveryLoopState()
        state.sending(1)
        state.finished(1, retryAt: now.addingTimeInterval(600))
        #expect(state.next(at: now, policy: policy, retryRequested: true) == .take(limit: 8))
        #expect(state.pausedUntil == nil)
        #expect(state.next(at: now, policy: policy, retryRequested: false) == .take(limit: 8))
    }

    @Test func nothingDueWaitsForTheNextAttemptOrToBeWoken() {
        let state = DeliveryLoopState()
        #expect(state.nothingDue(nextAttempt: nil, at: now) == .wait(until: nil))
        #expect(
            state.nothingDue(nextAttempt: now.addingTimeInterval(10), at: now)
                == .wait(until: now.addingTimeInterval(10))
        )
        #expect(
            state.nothingDue(nextAttempt: now.addingTimeInterval(3_600), at: now)
                == .wait(until: now.addingTimeInterval(DeliveryLoopState.longestTimedWait))
        )
        #expect(
            state.storeFailed(at: now) == .wait(until: now.addingTimeInterval(DeliveryLoopState.storeRetryInterval))
        )
    }
}
