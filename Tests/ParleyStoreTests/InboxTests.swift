import Foundation
import GRDB
import Synchronization
import Testing
import ParleyProtocol
@testable import ParleyStore
import ParleyTestSupport

@Suite struct InboxTests {
    let dir = TemporaryDirectory()
    var store: ParleyStore { get throws { try ParleyStore(path: dir.path("store.sqlite")) } }

    @Test func acceptsAndStoresExactBytesAndReceipt() async throws {
        let store = try store
        let message = Fixture.incoming(
            Fixture.id(1),
            seq: 1,
            references: [MessageReference(target: Fixture.id(77), relation: .respondsTo)],
            remarks: try! LocalizedText(language: "en", text: "hello")
        )
        let calls = Mutex(0)
        let outcome = try await store.accept(message) { m in
            calls.withLock { $0 += 1 }
            return Fixture.receipt(for: m)
        }
        #expect(outcome == .accepted(receipt: Fixture.receipt(for: message), channel: .inOrder))
        #expect(calls.withLock { $0 } == 1)
        let record = try #require(try await store.message(Fixture.id(1)))
        #expect(record.message.fields == message.fields)
        #expect(record.message.direction == .received)
        #expect(record.message.inboxRecipient == Fixture.us && record.message.inboxSequenceNumber == 1)
        #expect(record.receipts.map(\.bytes) == [Fixture.receipt(for: message)])
        #expect(record.receipts.first?.direction == .issued)
        #expect(try await store.incomingChannels().map { [$0.contiguous, $0.highest] } == [[1, 1]])
        #expect(try await store.receivedDigest(of: Fixture.id(1)) == record.message.digest)
        #expect(try await store.receivedDigest(of: Fixture.id(2)) == nil)
    }

    @Test func duplicateReturnsStoredReceiptAndChangesNothing() async throws {
        let store = try store
        let message = Fixture.incoming(Fixture.id(1), seq: 1)
        _ = try await store.accept(message, buildReceipt: Fixture.receipt)
        let snapshot = try tableSnapshot(store)
        let calls = Mutex(0)
        let outcome = try await store.accept(message) { _ in
            calls.withLock { $0 += 1 }
            return Data("another receipt".utf8)
        }
        #expect(outcome == .duplicate(storedReceipt: Fixture.receipt(for: message)))
        #expect(calls.withLock { $0 } == 0, "no new receipt is built for a duplicate")
        #expect(try tableSnapshot(store) == snapshot)
        #expect(try await store.auditEvents(kinds: [.duplicate]).count == 1)
    }

    @Test func equivocationIsAlertedAndChangesNothing() async throws {
        let store = try store
        let original = Fixture.incoming(Fixture.id(1), seq: 1)
        _ = try await store.accept(original, buildReceipt: Fixture.receipt)
        let snapshot = try tableSnapshot(store)
        var forged = original
        forged.fields.bytes = Fixture.bytes("forged", Fixture.id(1))
        forged.sequenceNumber = 2
        let outcome = try await store.accept(forged) { _ in
            Issue.record("no receipt for an equivocation")
            return Data()
        }
        let storedDigest = original.fields.bytes.sha256
        let receivedDigest = forged.fields.bytes.sha256
        #expect(outcome == .equivocation(storedDigest: storedDigest, receivedDigest: receivedDigest))
        #expect(try tableSnapshot(store) == snapshot)
        #expect(try await store.message(Fixture.id(1))?.message.fields.bytes == original.fields.bytes)
        let alerts = try await store.alerts()
        #expect(alerts.count == 1)
        let alert = try #require(alerts.first)
        #expect(alert.kind == .equivocation && alert.messageID == Fixture.id(1) && alert.peer == Fixture.ru)
        #expect(alert.detail?.contains(storedDigest.hexString) == true)
        #expect(alert.detail?.contains(receivedDigest.hexString) == true)
    }

    @Test func peerReusingOneOfOurIdsIsEquivocation() async throws {
        let store = try store
        try await store.queue(Fixture.id(5))
        let outcome = try await store.accept(Fixture.incoming(Fixture.id(5), seq: 1), buildReceipt: Fixture.receipt)
        guard case .equivocation = outcome else {
            Issue.record("expected equivocation, got \(outcome)")
            return
        }
        #expect(try await store.inbox(InboxQuery()).isEmpty)
    }

    @Test func gapsAreDetectedAndFilled() async throws {
        let store = try store
        func accept(_ n: Int, _ seq: UInt64) async throws -> AcceptOutcome {
            let message = Fixture.incoming(Fixture.id(n), seq: seq)
            return try await store.accept(message, buildReceipt: Fixture.receipt)
        }
        #expect(
            try await accept(1, 1)
                == .accepted(receipt: Fixture.receipt(for: Fixture.incoming(Fixture.id(1), seq: 1)), channel: .inOrder)
        )
        guard case .accepted(_, .gapDetected(let missing)) = try await accept(5, 5) else {
            Issue.record("gap not detected")
            return
        }
        #expect(missing == 2...4)
        #expect(try await store.gaps().map(\.missing) == [2...4])
        guard case .accepted(_, .gapDetected(let missing2)) = try await accept(8, 8) else {
            Issue.record("second gap not detected")
            return
        }
        #expect(missing2 == 6...7)
        #expect(
            try await store.gaps(sender: Fixture.ru.pid, recipient: Fixture.us.pid).map(\.missing) == [2...4, 6...7]
        )

        guard case .accepted(_, .gapFilled) = try await accept(3, 3) else {
            Issue.record("fill not reported")
            return
        }
        #expect(try await store.gaps().map(\.missing) == [2...2, 4...4, 6...7])
        #expect(try await store.incomingChannels().first?.contiguous == 1)
        _ = try await accept(2, 2)
        #expect(try await store.incomingChannels().first?.contiguous == 3)
        _ = try await accept(4, 4)
        #expect(try await store.incomingChannels().first?.contiguous == 5)
        _ = try await accept(7, 7)
        _ = try await accept(6, 6)
        let channel = try #require(try await store.incomingChannels().first)
        #expect(channel.contiguous == 8 && channel.highest == 8 && channel.gaps.isEmpty)
        #expect(try await store.auditEvents(kinds: [.gapDetected]).count == 2)
        #expect(try await store.auditEvents(kinds: [.gapFilled]).count == 5)
        // Channels are independent per sender.
        let other = Fixture.incoming(Fixture.id(20), seq: 3, from: "GB-NRRC")
        guard case .accepted(_, .gapDetected(1...2)) = try await store.accept(other, buildReceipt: Fixture.receipt)
        else {
            Issue.record("gap on the second channel not detected")
            return
        }
    }

    @Test func replayIsReportedNotStored() async throws {
        let store = try store
        _ = try await store.accept(Fixture.incoming(Fixture.id(1), seq: 1), buildReceipt: Fixture.receipt)
        _ = try await store.accept(Fixture.incoming(Fixture.id(3), seq: 3), buildReceipt: Fixture.receipt)
        let snapshot = try tableSnapshot(store)
        // Same sequence number, different message id.
        let replay = try await store.accept(Fixture.incoming(Fixture.id(2), seq: 1)) { _ in
            Issue.record("no receipt for a replay")
            return Data()
        }
        #expect(replay == .replay(sequenceNumber: 1, storedID: Fixture.id(1)))
        let replay3 = try await store.accept(Fixture.incoming(Fixture.id(4), seq: 3), buildReceipt: Fixture.receipt)
        #expect(replay3 == .replay(sequenceNumber: 3, storedID: Fixture.id(3)))
        #expect(try tableSnapshot(store) == snapshot)
        #expect(try await store.message(Fixture.id(2)) == nil)
        #expect(try await store.alerts().map(\.kind) == [.replay, .replay])
        // The gap (2) can still be filled by a genuine message.
        guard
            case .accepted(_, .gapFilled) = try await store.accept(
                Fixture.incoming(Fixture.id(5), seq: 2),
                buildReceipt: Fixture.receipt
            )
        else {
            Issue.record("gap not filled")
            return
        }
    }

    @Test func failingReceiptBuilderStoresNothing() async throws {
        let store = try store
        await #expect(throws: BuildFailed.self) {
            try await store.accept(Fixture.incoming(Fixture.id(1), seq: 1)) { _ in throw BuildFailed() }
        }
        #expect(try await store.message(Fixture.id(1)) == nil)
        #expect(try await store.incomingChannels().isEmpty)
        #expect(try await store.auditEvents().isEmpty)
    }

    @Test func acceptBatchReportsEachOutcome() async throws {
        let store = try store
        let requests = [
            AcceptRequest(message: Fixture.incoming(Fixture.id(1), seq: 1), buildReceipt: Fixture.receipt),
            AcceptRequest(message: Fixture.incoming(Fixture.id(1), seq: 1), buildReceipt: Fixture.receipt),
            AcceptRequest(message: Fixture.incoming(Fixture.id(2), seq: 1), buildReceipt: Fixture.receipt),
            AcceptRequest(message: Fixture.incoming(Fixture.id(3), seq: 3), buildReceipt: Fixture.receipt),
        ]
        let outcomes = try await store.acceptBatch(requests)
        #expect(outcomes[0] == .accepted(receipt: Fixture.receipt(for: requests[0].message), channel: .inOrder))
        #expect(outcomes[1] == .duplicate(storedReceipt: Fixture.receipt(for: requests[0].message)))
        #expect(outcomes[2] == .replay(sequenceNumber: 1, storedID: Fixture.id(1)))
        #expect(
            outcomes[3]
                == .accepted(receipt: Fixture.receipt(for: requests[3].message), channel: .gapDetected(missing: 2...2))
        )
    }

    @Test func rejectsInvalidIncoming() async throws {
        let store = try store
        var zero = Fixture.incoming(Fixture.id(1), seq: 1)
        zero.sequenceNumber = 0
        #expect(
            try await #require(throws: StoreError.self) { try await store.accept(zero, buildReceipt: Fixture.receipt) }
                .code == .invalidArgument
        )
        var huge = Fixture.incoming(Fixture.id(1), seq: 1)
        huge.sequenceNumber = UInt64.max
        #expect(
            try await #require(throws: StoreError.self) { try await store.accept(huge, buildReceipt: Fixture.receipt) }
                .code == .invalidArgument
        )
        var empty = Fixture.incoming(Fixture.id(1), seq: 1)
        empty.fields.bytes = Data()
        #expect(
            try await #require(throws: StoreError.self) { try await store.accept(empty, buildReceipt: Fixture.receipt) }
                .code == .invalidArgument
        )
    }

    @Test func auditLogAndMessagesAreAppendOnly() async throws {
        let store = try store
        _ = try await store.accept(Fixture.incoming(Fixture.id(1), seq: 1), buildReceipt: Fixture.receipt)
        for sql in [
            "UPDATE audit SET detail = 'x'", "DELETE FROM audit", "UPDATE message SET bytes = x'00'",
            "DELETE FROM message",
            "UPDATE receipt SET bytes = x'00'", "DELETE FROM receipt", "DELETE FROM inbox", "UPDATE inbox SET seq = 9",
        ] {
            #expect(throws: DatabaseError.self, "\(sql) must be refused") {
                try store.pool.write { try $0.execute(sql: sql) }
            }
        }
        #expect(try await store.auditEvents().count == 1)
        #expect(try await store.message(Fixture.id(1))?.message.fields.bytes == Fixture.bytes("in", Fixture.id(1)))
    }
}

/// Every row of every state table, to show an operation changed nothing (the audit log excepted).
func tableSnapshot(_ store: ParleyStore) throws -> [String] {
    try store.pool.read { db in
        var rows = [String]()
        for table in [
            "message", "reference", "receipt", "delivery", "inbox", "channel_out", "channel_in", "channel_gap",
        ] {
            for row in try Row.fetchAll(db, sql: "SELECT * FROM \(table) ORDER BY 1, 2") {
                rows.append("\(table) \(row)")
            }
        }
        return rows
    }
}
