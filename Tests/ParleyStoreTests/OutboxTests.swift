import Foundation
import GRDB
import Synchronization
import Testing
import ParleyProtocol
@testable import ParleyStore
import ParleyTestSupport

struct BuildFailed: Error {}

@Suite struct OutboxTests {
    let dir = TemporaryDirectory()
    var store: ParleyStore { get throws { try ParleyStore(path: dir.path("store.sqlite")) } }

    @Test func allocatesSequenceNumbersPerChannel() async throws {
        let store = try store
        let seen = Mutex([[ParticipantID: UInt64]]())
        let first = try await store.enqueue(sender: Fixture.us.pid, recipients: [Fixture.ru.pid, Fixture.hcoc.pid]) {
            seqs in
            seen.withLock { $0.append(seqs) }
            return Fixture.fields(Fixture.id(1))
        }
        #expect(seen.withLock { $0 } == [[Fixture.ru.pid: 1, Fixture.hcoc.pid: 1]])
        #expect(first.sequenceNumbers == [Fixture.ru: 1, Fixture.hcoc: 1])
        #expect(first.digest == Fixture.bytes("msg", Fixture.id(1)).sha256)
        let second = try await store.queue(Fixture.id(2), to: [Fixture.ru])
        #expect(second.sequenceNumbers == [Fixture.ru: 2])
        let third = try await store.queue(Fixture.id(3))
        #expect(third.sequenceNumbers == [Fixture.ru: 3, Fixture.hcoc: 2])
        // Another sender has its own channels.
        let other = try await store.enqueue(sender: "GB-NRRC".pid, recipients: [Fixture.ru.pid]) { _ in
            Fixture.fields(Fixture.id(4))
        }
        #expect(other.sequenceNumbers == [Fixture.ru: 1])

        let record = try #require(try await store.message(Fixture.id(3)))
        #expect(record.message.direction == .sent)
        #expect(record.message.fields.bytes == Fixture.bytes("out", Fixture.id(3)))
        #expect(record.deliveries.map(\.recipient) == [Fixture.hcoc, Fixture.ru])
        #expect(record.deliveries.map(\.sequenceNumber) == [2, 3])
        #expect(record.deliveries.allSatisfy { $0.state == .pending && $0.attempts == 0 })
        #expect(try await store.auditEvents(kinds: [.queued]).count == 4)
    }

    @Test func failedBuildConsumesNothing() async throws {
        let store = try store
        try await store.queue(Fixture.id(1))
        await #expect(throws: BuildFailed.self) {
            try await store.enqueue(sender: Fixture.us.pid, recipients: [Fixture.ru.pid, Fixture.hcoc.pid]) { _ in
                throw BuildFailed()
            }
        }
        let next = try await store.queue(Fixture.id(2))
        #expect(next.sequenceNumbers == [Fixture.ru: 2, Fixture.hcoc: 2])
        #expect(try await store.auditEvents(kinds: [.queued]).count == 2)
    }

    @Test func failedBatchConsumesNothing() async throws {
        let store = try store
        let requests = (1...5).map { n in
            EnqueueRequest(sender: Fixture.us.pid, recipients: [Fixture.ru.pid]) { _ in
                if n == 4 { throw BuildFailed() }
                return Fixture.fields(Fixture.id(n))
            }
        }
        await #expect(throws: BuildFailed.self) { try await store.enqueueBatch(requests) }
        #expect(try await store.messageCounts().sent == 0)
        #expect(try await store.outgoingChannels().isEmpty)
        let batch = try await store.enqueueBatch(
            (1...5).map { n in
                EnqueueRequest(sender: Fixture.us.pid, recipients: [Fixture.ru.pid]) { _ in
                    Fixture.fields(Fixture.id(n))
                }
            }
        )
        #expect(batch.map { $0.sequenceNumbers[Fixture.ru]! } == [1, 2, 3, 4, 5])
    }

    @Test func rejectsInvalidRequests() async throws {
        let store = try store
        func code(_ body: () async throws -> Void) async -> StoreError.Code? {
            do {
                try await body()
                return nil
            } catch let error as StoreError { return error.code } catch { return nil }
        }
        // An invalid sender cannot be named: the API takes a ParticipantID, which refuses it.
        #expect((try? ParticipantID("us")) == nil)
        #expect(
            await code {
                try await store.enqueue(sender: Fixture.us.pid, recipients: []) { _ in Fixture.fields(Fixture.id(1)) }
            } == .invalidArgument
        )
        #expect(
            await code {
                try await store.enqueue(sender: Fixture.us.pid, recipients: [Fixture.ru.pid, Fixture.ru.pid]) { _ in
                    Fixture.fields(Fixture.id(1))
                }
            } == .invalidArgument
        )
        #expect(
            await code {
                try await store.enqueue(sender: Fixture.us.pid, recipients: [Fixture.us.pid]) { _ in
                    Fixture.fields(Fixture.id(1))
                }
            } == .invalidArgument
        )
        try await store.queue(Fixture.id(1))
        let reused = try await #require(throws: StoreError.self) { try await store.queue(Fixture.id(1)) }
        #expect(reused.code == .invalidArgument)
        #expect(reused.reason.contains("already stored"))
        #expect(try await store.outgoingChannels().map(\.nextSequenceNumber) == [2, 2])
    }

    /// The channel moves in order: a backlog goes once its first message is due, and an operator's
    /// retry of a later message makes the earlier undelivered ones due with it.
    @Test func aChannelMovesInOrderAndARetryTakesTheEarlierMessagesAlong() async throws {
        let store = try store
        let t0 = Fixture.base
        for n in 1...4 { try await store.queue(Fixture.id(n), to: [Fixture.ru], at: t0) }
        for n in 1...4 {
            try await store.markInFlight(Fixture.id(n), recipient: Fixture.ru.pid, at: t0)
            // Jittered retry times: the later messages would be due first.
            try await store.recordAttemptFailure(
                Fixture.id(n),
                recipient: Fixture.ru.pid,
                error: "connection refused",
                nextAttempt: t0 + TimeInterval(40 - 5 * n),
                at: t0
            )
        }
        #expect(try await store.dueDeliveries(to: Fixture.ru.pid, at: t0 + 30).isEmpty)
        #expect(try await store.peersWithDueDeliveries(at: t0 + 30).isEmpty)
        #expect(try await store.peerStates([Fixture.ru.pid]).first?.nextAttempt == t0 + 35, "the first message decides")
        #expect(
            try await store.dueDeliveries(to: Fixture.ru.pid, at: t0 + 35).map(\.record.sequenceNumber) == [1, 2, 3, 4]
        )
        #expect(try await store.peersWithDueDeliveries(at: t0 + 35) == [Fixture.ru.pid])
        #expect(
            try await store.dueDeliveries(to: Fixture.ru.pid, at: t0 + 35, limit: 2).map(\.record.sequenceNumber) == [
                1, 2,
            ]
        )
        #expect(try await store.retry(Fixture.id(3), recipient: Fixture.ru.pid, at: t0 + 1) == 1)
        #expect(
            try await store.dueDeliveries(to: Fixture.ru.pid, at: t0 + 1).map(\.record.sequenceNumber) == [1, 2, 3, 4]
        )
        #expect(try await store.delivery(Fixture.id(4), recipient: Fixture.ru.pid)?.nextAttempt == t0 + 20)
    }

    @Test func deliveryLifecycle() async throws {
        let store = try store
        let t0 = Fixture.base
        try await store.queue(Fixture.id(1), at: t0)
        try await store.queue(Fixture.id(2), at: t0)
        #expect(try await store.peersWithDueDeliveries(at: t0) == [Fixture.hcoc.pid, Fixture.ru.pid])
        let due = try await store.dueDeliveries(to: Fixture.ru.pid, at: t0)
        #expect(due.map(\.record.sequenceNumber) == [1, 2])
        #expect(due[0].bytes == Fixture.bytes("out", Fixture.id(1)))

        try await store.markInFlight(Fixture.id(1), recipient: Fixture.ru.pid, at: t0)
        let again = try await #require(throws: StoreError.self) {
            try await store.markInFlight(Fixture.id(1), recipient: Fixture.ru.pid, at: t0)
        }
        #expect(again.code == .invalidState)
        try await store.recordAttemptFailure(
            Fixture.id(1),
            recipient: Fixture.ru.pid,
            error: "connection refused",
            nextAttempt: t0 + 30,
            at: t0
        )
        // Channel order: #2 (due since t0) waits behind #1's retry, then both go, in order.
        #expect(try await store.dueDeliveries(to: Fixture.ru.pid, at: t0).isEmpty)
        #expect(try await store.dueDeliveries(to: Fixture.ru.pid, at: t0 + 29).isEmpty)
        #expect(try await store.dueDeliveries(to: Fixture.ru.pid, at: t0 + 30).map(\.record.sequenceNumber) == [1, 2])
        #expect(try await store.nextAttemptTime() == t0)
        let failed = try #require(try await store.delivery(Fixture.id(1), recipient: Fixture.ru.pid))
        #expect(failed.attempts == 1 && failed.lastError == "connection refused" && failed.state == .pending)

        // Accepted receipt → delivered; the same receipt again changes nothing.
        try await store.markInFlight(Fixture.id(1), recipient: Fixture.ru.pid, at: t0 + 30)
        // A message in flight does not hold back the ones behind it (several in flight, §12.4).
        #expect(try await store.dueDeliveries(to: Fixture.ru.pid, at: t0 + 30).map(\.record.sequenceNumber) == [2])
        let receipt = ReceivedReceipt(
            bytes: Data("receipt-1-ru".utf8),
            messageID: Fixture.id(1),
            recipient: Fixture.ru.pid,
            status: .accepted,
            received: t0 + 31
        )
        #expect(try await store.recordReceipt(receipt) == .recorded(.delivered))
        #expect(try await store.recordReceipt(receipt) == .alreadyStored)
        var duplicate = receipt
        duplicate.bytes = Data("receipt-1-ru-duplicate".utf8)
        duplicate.status = .duplicate
        #expect(try await store.recordReceipt(duplicate) == .additional)
        let delivered = try #require(try await store.delivery(Fixture.id(1), recipient: Fixture.ru.pid))
        #expect(delivered.state == .delivered && delivered.attempts == 2)
        #expect(delivered.receiptDigest == receipt.bytes.sha256)

        // Rejected receipt → rejected with code and reason.
        let rejection = ReceivedReceipt(
            bytes: Data("receipt-2-ru".utf8),
            messageID: Fixture.id(2),
            recipient: Fixture.ru.pid,
            status: .rejected(code: 11, reason: "invalid body"),
            received: t0 + 40
        )
        #expect(try await store.recordReceipt(rejection) == .recorded(.rejected))
        let rejected = try #require(try await store.delivery(Fixture.id(2), recipient: Fixture.ru.pid))
        #expect(
            rejected.state == .rejected && rejected.rejectionCode == 11 && rejected.rejectionReason == "invalid body"
        )

        // A receipt from a participant the message was not sent to is refused and not stored.
        let stray = ReceivedReceipt(
            bytes: Data("stray".utf8),
            messageID: Fixture.id(1),
            recipient: "FR-NRRC".pid,
            status: .accepted,
            received: t0
        )
        #expect((try? await store.recordReceipt(stray)) == nil)
        #expect(try await store.message(Fixture.id(1))?.receipts.count == 2)

        // Operator retry of the rejected delivery, then cancel.
        #expect(try await store.retry(Fixture.id(2), recipient: Fixture.ru.pid, at: t0 + 50) == 1)
        #expect(try await store.delivery(Fixture.id(2), recipient: Fixture.ru.pid)?.state == .pending)
        #expect(try await store.cancel(Fixture.id(2), at: t0 + 51) == 2)
        #expect(try await store.message(Fixture.id(2))?.deliveries.map(\.state) == [.cancelled, .cancelled])
        let notCancellable = try await #require(throws: StoreError.self) {
            try await store.cancel(Fixture.id(1), recipient: Fixture.ru.pid)
        }
        #expect(notCancellable.code == .invalidState)
        #expect(notCancellable.reason.contains("delivered"))

        // Expiry.
        try await store.expire(
            Fixture.id(1),
            recipient: Fixture.hcoc.pid,
            reason: "no receipt within 24 h",
            at: t0 + 60
        )
        #expect(try await store.delivery(Fixture.id(1), recipient: Fixture.hcoc.pid)?.state == .expired)

        let kinds = try await store.auditEvents().compactMap(\.kind)
        #expect(
            kinds == [
                .queued, .queued, .attempt, .attemptFailed, .attempt, .delivered, .receiptReceived, .rejected,
                .retried, .cancelled, .cancelled, .expired,
            ]
        )
    }

    @Test func requeueInFlightAfterRestart() async throws {
        let store = try store
        try await store.queue(Fixture.id(1))
        try await store.markInFlight(Fixture.id(1), recipient: Fixture.ru.pid)
        #expect(try await store.requeueInFlight(at: Fixture.base) == 1)
        #expect(try await store.delivery(Fixture.id(1), recipient: Fixture.ru.pid)?.state == .pending)
    }

    /// Retry times set under a clock that was ahead are brought back to the bound at start-up.
    @Test func requeueBoundsRetryTimesSetByAClockThatWasAhead() async throws {
        let store = try store
        try await store.queue(Fixture.id(1))
        try await store.markInFlight(Fixture.id(1), recipient: Fixture.ru.pid)
        try await store.recordAttemptFailure(
            Fixture.id(1),
            recipient: Fixture.ru.pid,
            error: "reset",
            nextAttempt: Fixture.base + 3_600,
            at: Fixture.base
        )
        try await store.markInFlight(Fixture.id(1), recipient: Fixture.hcoc.pid)
        try await store.recordAttemptFailure(
            Fixture.id(1),
            recipient: Fixture.hcoc.pid,
            error: "reset",
            nextAttempt: Fixture.base + 5,
            at: Fixture.base
        )
        #expect(try await store.requeueInFlight(at: Fixture.base, nextAttemptNotAfter: Fixture.base + 15) == 0)
        #expect(try await store.delivery(Fixture.id(1), recipient: Fixture.ru.pid)?.nextAttempt == Fixture.base + 15)
        #expect(
            try await store.delivery(Fixture.id(1), recipient: Fixture.hcoc.pid)?.nextAttempt == Fixture.base + 5,
            "an earlier time is kept"
        )
    }

    @Test func expireDeliveriesByAge() async throws {
        let store = try store
        try await store.queue(Fixture.id(1), at: Fixture.base)
        try await store.queue(Fixture.id(2), at: Fixture.base + 3600)
        try await store.markInFlight(Fixture.id(1), recipient: Fixture.ru.pid, at: Fixture.base)
        try await store.recordAttemptFailure(
            Fixture.id(1),
            recipient: Fixture.ru.pid,
            error: "connection refused",
            nextAttempt: Fixture.base + 5,
            at: Fixture.base
        )
        let expired = try await store.expireDeliveries(queuedBefore: Fixture.base + 60)
        #expect(
            Set(expired.map(\.recipient)) == [Fixture.ru, Fixture.hcoc]
                && expired.allSatisfy { $0.messageID == Fixture.id(1) }
        )
        #expect(expired.first { $0.recipient == Fixture.ru }?.lastError == "connection refused")
        // The cause stays readable after the expiry note.
        #expect(
            try await store.delivery(Fixture.id(1), recipient: Fixture.ru.pid)?.lastError
                == "expired: no receipt in time; last error: connection refused"
        )
        #expect(try await store.message(Fixture.id(1))?.deliveries.map(\.state) == [.expired, .expired])
        #expect(try await store.message(Fixture.id(2))?.deliveries.map(\.state) == [.pending, .pending])
    }

    @Test func unknownMessageIsNotFound() async throws {
        let store = try store
        let error = try await #require(throws: StoreError.self) {
            try await store.markInFlight(Fixture.id(9), recipient: Fixture.ru.pid)
        }
        #expect(error.code == .notFound)
        #expect(try await #require(throws: StoreError.self) { try await store.retry(Fixture.id(9)) }.code == .notFound)
    }
}
