import Foundation
import GRDB
import Synchronization
import Testing
import ParleyProtocol
@testable import ParleyStore
import ParleyTestSupport

@Suite struct ConcurrencyTests {
    @Test func concurrentEnqueuesNeitherDuplicateNorSkip() async throws {
        let dir = TemporaryDirectory()
        let store = try ParleyStore(path: dir.path("store.sqlite"))
        let tasks = 16
        let perTask = 40
        let recipientSets = [[Fixture.ru], [Fixture.hcoc], [Fixture.ru, Fixture.hcoc], ["GB-NRRC", Fixture.ru]]
        let results = try await withThrowingTaskGroup(of: [QueuedMessage].self) { group in
            for task in 0..<tasks {
                group.addTask {
                    var queued = [QueuedMessage]()
                    for i in 0..<perTask {
                        let recipients = recipientSets[(task + i) % recipientSets.count]
                        if i % 5 == 4 {
                            queued += try await store.enqueueBatch(
                                (0..<3).map { _ in
                                    EnqueueRequest(sender: Fixture.us.pid, recipients: recipients.map(\.pid)) { seqs in
                                        let id = Fixture.randomID()
                                        return MessageFields(
                                            id: id,
                                            bytes: Fixture.bytes("c\(seqs.sorted { $0.key < $1.key })", id),
                                            type: 1,
                                            created: Fixture.base
                                        )
                                    }
                                }
                            )
                        } else {
                            queued.append(
                                try await store.enqueue(sender: Fixture.us.pid, recipients: recipients.map(\.pid)) {
                                    seqs in
                                    let id = Fixture.randomID()
                                    return MessageFields(
                                        id: id,
                                        bytes: Fixture.bytes("c\(seqs.sorted { $0.key < $1.key })", id),
                                        type: 1,
                                        created: Fixture.base
                                    )
                                }
                            )
                        }
                        await Task.yield()
                    }
                    return queued
                }
            }
            // Readers run alongside the writers.
            for _ in 0..<4 {
                group.addTask {
                    for _ in 0..<50 {
                        let depths = try await store.queueDepths()
                        let channels = try await store.outgoingChannels()
                        for channel in channels { #expect(channel.nextSequenceNumber >= 1) }
                        _ = depths
                        await Task.yield()
                    }
                    return []
                }
            }
            var all = [QueuedMessage]()
            for try await part in group { all += part }
            return all
        }
        #expect(results.count == tasks * (perTask / 5 * 4 + perTask / 5 * 3))
        // Per channel, the acknowledged numbers are exactly 1...n.
        var byChannel = [String: [UInt64]]()
        for queued in results {
            for (recipient, seq) in queued.sequenceNumbers { byChannel[recipient, default: []].append(seq) }
        }
        let channels = try await store.outgoingChannels()
        for (recipient, seqs) in byChannel {
            #expect(seqs.sorted() == Array(1...UInt64(seqs.count)), "channel to \(recipient)")
            #expect(channels.first { $0.recipient == recipient }?.nextSequenceNumber == UInt64(seqs.count + 1))
        }
        // And the store agrees with what was acknowledged.
        for queued in results.prefix(50) {
            let record = try #require(try await store.message(queued.id))
            #expect(
                Dictionary(uniqueKeysWithValues: record.deliveries.map { ($0.recipient, $0.sequenceNumber) })
                    == queued.sequenceNumbers
            )
            #expect(record.message.digest == queued.digest)
        }
    }

    @Test func concurrentDuplicateDeliveriesStoreOnce() async throws {
        let dir = TemporaryDirectory()
        let store = try ParleyStore(path: dir.path("store.sqlite"))
        let messages = (1...30).map { Fixture.incoming(Fixture.id($0), seq: UInt64($0)) }
        let outcomes = try await withThrowingTaskGroup(of: [AcceptOutcome].self) { group in
            for _ in 0..<6 {
                group.addTask {
                    var outcomes: [AcceptOutcome] = []
                    for message in messages.shuffled() {
                        outcomes.append(try await store.accept(message, buildReceipt: Fixture.receipt))
                    }
                    return outcomes
                }
            }
            var all = [AcceptOutcome]()
            for try await part in group { all += part }
            return all
        }
        let accepted = outcomes.filter { if case .accepted = $0 { true } else { false } }
        let duplicates = outcomes.filter { if case .duplicate = $0 { true } else { false } }
        #expect(accepted.count == 30)
        #expect(duplicates.count == 150)
        let channel = try #require(try await store.incomingChannels().first)
        #expect(channel.contiguous == 30 && channel.gaps.isEmpty)
    }

    /// The async API holds no thread of the cooperative pool while SQLite works: with several times
    /// more writers than the pool has threads waiting behind a write transaction that is held open,
    /// reads still run and complete. With blocking calls the writers would occupy every cooperative
    /// thread and no read could start until the watchdog (on a dispatch queue) let the writers go.
    @Test func readsCompleteWhileWritersWaitOnAHeldTransaction() async throws {
        let dir = TemporaryDirectory()
        let store = try ParleyStore(path: dir.path("store.sqlite"))
        try await store.queue(Fixture.id(1))
        let writers = 4 * ProcessInfo.processInfo.activeProcessorCount
        let gate = DispatchSemaphore(value: 0)
        let state = Shared((inside: false, committed: 0, timedOut: false))
        DispatchQueue.global().asyncAfter(deadline: .now() + 20) {
            let stuck = state.withLock { state in
                guard state.committed < writers else { return false }
                state.timedOut = true
                return true
            }
            if stuck { gate.signal() }
        }
        let writes = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for n in 0..<writers {
                    group.addTask {
                        try await store.enqueue(sender: Fixture.us.pid, recipients: [Fixture.ru.pid]) { _ in
                            // Inside the write transaction, on GRDB's writer queue: each writer in turn waits here.
                            state.withLock { $0.inside = true }
                            gate.wait()
                            gate.signal()
                            return Fixture.fields(Fixture.id(100 + n), label: "held")
                        }
                        state.withLock { $0.committed += 1 }
                    }
                }
                try await group.waitForAll()
            }
        }
        while !state.withLock({ $0.inside }) { try await Task.sleep(for: .milliseconds(5)) }
        let reads = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<64 { group.addTask { try await store.outbox(OutboxQuery()).count } }
            var counts: [Int] = []
            for try await count in group { counts.append(count) }
            return counts
        }
        let (committedDuringReads, timedOut) = state.withLock { ($0.committed, $0.timedOut) }
        gate.signal()
        try await writes.value
        #expect(!timedOut, "reads could not run while writers waited")
        #expect(committedDuringReads == 0, "the reads ran while the write transaction was held")
        #expect(reads == Array(repeating: 2, count: 64), "each read sees the snapshot before the held write")
        #expect(try await store.messageCounts().sent == 1 + writers)
    }
}

/// A value shared by tasks and dispatch queues, behind a lock.
final class Shared<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    init(_ value: Value) { mutex = Mutex(value) }
    func withLock<T>(_ body: (inout Value) -> T) -> T { mutex.withLock { body(&$0) } }
}
