import Foundation
import ParleyCodec
import ParleyCrypto
@testable import ParleyNode
import ParleyProtocol
import ParleyStore
import Synchronization
import Testing
import ParleyTestSupport

/// Group commit (submissions, accepts, receipts) and the delivery window: many requests in flight
/// per peer, still every message once, in channel order, and every receipt verified.
@Suite(.serialized) struct PipelinedDeliveryTests {
    static let ru = try! ParticipantID("RU-NRRC")
    static let us = try! ParticipantID("US-NRRC")

    func composition(_ document: [String: Any]) throws -> Composition {
        try Composition(json: Array(try JSONSerialization.data(withJSONObject: document)))
    }

    /// A committer whose commit doubles each request and refuses 13 (failing the batch holding
    /// it, so that the requests are retried one by one); `observe` sees each batch first.
    static func doublingCommitter(
        maximumBatch: Int = 256,
        observe: @escaping @Sendable ([Int]) -> Void
    ) -> GroupCommitter<Int, Int> {
        GroupCommitter<Int, Int>(label: "test", maximumBatch: maximumBatch) { requests in
            observe(requests)
            return await GroupCommitter<Int, Int>.isolating(
                requests,
                batch: { batch in
                    guard !batch.contains(13) else { throw Problem.internalError("13 is refused") }
                    return batch.map { $0 * 2 }
                },
                single: { request in
                    guard request != 13 else { throw Problem.internalError("13 is refused") }
                    return request * 2
                }
            )
        }
    }

    @Test func groupCommitBatchesConcurrentRequestsAndIsolatesAFailingOne() async throws {
        let batches = Mutex<[Int]>([])
        let committer = Self.doublingCommitter { requests in
            batches.withLock { $0.append(requests.count) }
            usleep(5_000)  // a slow commit: later requests gather meanwhile
        }
        let results = await withTaskGroup(of: (Int, Int?).self) { group in
            for n in 0..<100 { group.addTask { (n, try? await committer.submit(n)) } }
            return await group.reduce(into: [Int: Int?]()) { $0[$1.0] = $1.1 }
        }
        for n in 0..<100 {
            #expect(results[n]! == (n == 13 ? nil : n * 2), "request \(n)")
        }
        let sizes = batches.withLock { $0 }
        #expect(sizes.reduce(0, +) == 100)
        #expect(sizes.count < 50, "100 concurrent requests took \(sizes.count) transactions: \(sizes)")
    }

    @Test func submitAllReturnsEachOutcomeInOrderAcrossSeveralCommits() async throws {
        let batches = Mutex<[[Int]]>([])
        let committer = Self.doublingCommitter(maximumBatch: 64) { requests in batches.withLock { $0.append(requests) }
        }
        // 150 at once, with single submissions from other tasks in between.
        async let singles = withTaskGroup(of: Int?.self) { group in
            for n in 1_000..<1_020 { group.addTask { try? await committer.submit(n) } }
            return await group.reduce(into: [Int?]()) { $0.append($1) }
        }
        let results = await committer.submitAll(Array(0..<150))
        #expect(results.count == 150)
        for (n, result) in results.enumerated() {
            #expect((try? result.get()) == (n == 13 ? nil : n * 2), "request \(n)")
        }
        #expect(await singles.compactMap { $0 }.sorted() == (1_000..<1_020).map { $0 * 2 })
        let committed = batches.withLock { $0 }
        #expect(committed.allSatisfy { $0.count <= 64 })
        // The batch's requests went to the commits in the order given.
        let mine: [Int] = committed.flatMap { $0 }.filter { $0 < 1_000 }
        #expect(mine == Array(0..<150))
        #expect(await committer.submitAll([]).isEmpty)
    }

    @Test func concurrentDraftsGetConsecutiveNumbersAndAnInvalidOneConsumesNone() async throws {
        let pki = try TestPKI.shared()
        let directory = try temporaryDirectory()
        let us = try await RunningNode(
            try pki.nodeConfiguration("US-NRRC", port: try freePort(), peers: ["RU-NRRC": 1], directory: directory)
        )
        let valid = try composition(preLaunchComposition(recipients: ["RU-NRRC"]))
        let late = try composition(preLaunchComposition(recipients: ["RU-NRRC"], opensIn: 3_600, late: false))
        let outcomes = await withTaskGroup(of: (Bool, QueuedMessage?).self) { group in
            for n in 0..<60 {
                let draft = n == 30 ? late : valid
                group.addTask { (n == 30, try? await us.node.submit(draft)) }
            }
            return await group.reduce(into: [(Bool, QueuedMessage?)]()) { $0.append($1) }
        }
        #expect(outcomes.filter(\.0).allSatisfy { $0.1 == nil }, "the late draft was refused")
        let queued = outcomes.filter { !$0.0 }.compactMap(\.1)
        #expect(queued.count == 59)
        #expect(queued.compactMap { $0.sequenceNumbers["RU-NRRC"] }.sorted() == Array(1...59))
        #expect(try await us.node.store.outgoingChannels().first?.nextSequenceNumber == 60)
        await us.stop()
    }

    /// One message per request, and batches of four (SPEC.md §12.8).
    @Test(arguments: [1, 4]) func pipelinedDeliveryDeliversEverythingOnceInOrderAcrossAReceiverRestart(
        batch: Int
    ) async throws {
        let pki = try TestPKI.shared()
        let directory = try temporaryDirectory()
        let (usPort, ruPort) = (try freePort(), try freePort())
        var usConfiguration = try pki.nodeConfiguration(
            "US-NRRC",
            port: usPort,
            peers: ["RU-NRRC": ruPort],
            directory: directory
        )
        usConfiguration.limits.deliveryWindow = 8
        usConfiguration.limits.deliveryBatch = batch
        let ruConfiguration = try pki.nodeConfiguration(
            "RU-NRRC",
            port: ruPort,
            peers: ["US-NRRC": usPort],
            directory: directory
        )
        var ru = try await RunningNode(ruConfiguration)
        let us = try await RunningNode(usConfiguration)
        let count = 400
        let draft = try composition(preLaunchComposition(recipients: ["RU-NRRC"]))
        @Sendable func submit(_ n: Int) async throws -> [QueuedMessage] {
            try await withThrowingTaskGroup(of: QueuedMessage.self) { group in
                for _ in 0..<n { group.addTask { try await us.node.submit(draft) } }
                return try await group.reduce(into: [QueuedMessage]()) { $0.append($1) }
            }
        }
        var queued = try await submit(300)
        // Stop the receiver while deliveries are in flight, queue more while it is down, start it again.
        let delivered = { @Sendable in
            try await us.node.store.outbox(OutboxQuery(state: .delivered, limit: count + 1)).count
        }
        try await waitUntil("some deliveries") { try await delivered() >= 40 }
        await ru.stop()
        queued += try await submit(count - 300)
        let numberOf = Dictionary(uniqueKeysWithValues: queued.map { ($0.id, $0.sequenceNumbers["RU-NRRC"]!) })
        #expect(Set(numberOf.values) == Set(1...UInt64(count)))
        ru = try await RunningNode(ruConfiguration)
        try await waitUntil("every delivery receipted") { try await delivered() == count }

        // Exactly once in the inbox, each under the number the sender gave it, no gap.
        let inbox = try await ru.node.store.inbox(InboxQuery(sender: "US-NRRC", limit: count + 10))
        #expect(inbox.count == count)
        #expect(Set(inbox.map(\.fields.id)) == Set(numberOf.keys))
        for message in inbox {
            #expect(message.inboxSequenceNumber == numberOf[message.fields.id], "message \(message.fields.id)")
        }
        #expect(try await ru.node.store.gaps().isEmpty)
        let channel = try #require(try await ru.node.store.incomingChannels().first { $0.sender == "US-NRRC" })
        #expect(channel.contiguous == UInt64(count) && channel.highest == UInt64(count))

        // Every stored receipt verifies against the message it settles.
        for item in queued {
            let record = try #require(try await us.node.store.message(item.id))
            #expect(record.deliveries.map(\.state) == [.delivered])
            let bytes = Array(record.message.fields.bytes)
            let envelope = try Envelope(decoding: try COSESign1(decoding: bytes).payload)
            let sent = SentMessage(
                id: item.id,
                digest: Digest.sha256(bytes),
                sender: Self.us,
                created: envelope.created,
                recipients: envelope.recipients.map(\.participant)
            )
            let receipts = record.receipts.filter { $0.direction == .received }
            #expect(!receipts.isEmpty)
            for receipt in receipts {
                let verified = try us.node.verifier.verifyReceipt(
                    Array(receipt.bytes),
                    at: .now,
                    for: sent,
                    from: Self.ru
                )
                #expect(verified.receipt.status == .accepted || verified.receipt.status == .duplicate)
            }
        }
        await us.stop()
        await ru.stop()
    }
}
