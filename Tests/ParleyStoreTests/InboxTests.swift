import Foundation
import GRDB
import Testing
import ParleyProtocol
@testable import ParleyStore
import ParleyTestSupport

@Suite struct InboxTests {
    let dir = TemporaryDirectory()
    var store: ParleyStore { get throws { try ParleyStore(path: dir.path("store.sqlite")) } }

    @Test func acceptsAndStoresExactBytesAndReceipt() throws {
        let store = try store
        let message = Fixture.incoming(Fixture.id(1), seq: 1, references: [MessageReference(target: Fixture.id(77), relation: .respondsTo)],
                                       remarks: try! LocalizedText(language: "en", text: "hello"))
        var calls = 0
        let outcome = try store.accept(message) { m in calls += 1; return Fixture.receipt(for: m) }
        #expect(outcome == .accepted(receipt: Fixture.receipt(for: message), channel: .inOrder))
        #expect(calls == 1)
        let record = try #require(try store.message(Fixture.id(1)))
        #expect(record.message.fields == message.fields)
        #expect(record.message.direction == .received)
        #expect(record.message.inboxRecipient == Fixture.us && record.message.inboxSequenceNumber == 1)
        #expect(record.receipts.map(\.bytes) == [Fixture.receipt(for: message)])
        #expect(record.receipts.first?.direction == .issued)
        #expect(try store.incomingChannels().map { [$0.contiguous, $0.highest] } == [[1, 1]])
        #expect(try store.receivedDigest(of: Fixture.id(1)) == record.message.digest)
        #expect(try store.receivedDigest(of: Fixture.id(2)) == nil)
    }

    @Test func duplicateReturnsStoredReceiptAndChangesNothing() throws {
        let store = try store
        let message = Fixture.incoming(Fixture.id(1), seq: 1)
        _ = try store.accept(message, buildReceipt: Fixture.receipt)
        let snapshot = try tableSnapshot(store)
        var calls = 0
        let outcome = try store.accept(message) { _ in calls += 1; return Data("another receipt".utf8) }
        #expect(outcome == .duplicate(storedReceipt: Fixture.receipt(for: message)))
        #expect(calls == 0, "no new receipt is built for a duplicate")
        #expect(try tableSnapshot(store) == snapshot)
        #expect(try store.auditEvents(kinds: [.duplicate]).count == 1)
    }

    @Test func equivocationIsAlertedAndChangesNothing() throws {
        let store = try store
        let original = Fixture.incoming(Fixture.id(1), seq: 1)
        _ = try store.accept(original, buildReceipt: Fixture.receipt)
        let snapshot = try tableSnapshot(store)
        var forged = original
        forged.fields.bytes = Fixture.bytes("forged", Fixture.id(1))
        forged.sequenceNumber = 2
        let outcome = try store.accept(forged) { _ in Issue.record("no receipt for an equivocation"); return Data() }
        let storedDigest = original.fields.bytes.sha256, receivedDigest = forged.fields.bytes.sha256
        #expect(outcome == .equivocation(storedDigest: storedDigest, receivedDigest: receivedDigest))
        #expect(try tableSnapshot(store) == snapshot)
        #expect(try store.message(Fixture.id(1))?.message.fields.bytes == original.fields.bytes)
        let alerts = try store.alerts()
        #expect(alerts.count == 1)
        let alert = try #require(alerts.first)
        #expect(alert.kind == .equivocation && alert.messageID == Fixture.id(1) && alert.peer == Fixture.ru)
        #expect(alert.detail?.contains(storedDigest.hexString) == true)
        #expect(alert.detail?.contains(receivedDigest.hexString) == true)
    }

    @Test func peerReusingOneOfOurIdsIsEquivocation() throws {
        let store = try store
        try store.queue(Fixture.id(5))
        let outcome = try store.accept(Fixture.incoming(Fixture.id(5), seq: 1), buildReceipt: Fixture.receipt)
        guard case .equivocation = outcome else { Issue.record("expected equivocation, got \(outcome)"); return }
        #expect(try store.inbox(InboxQuery()).isEmpty)
    }

    @Test func gapsAreDetectedAndFilled() throws {
        let store = try store
        func accept(_ n: Int, _ seq: UInt64) throws -> AcceptOutcome {
            let message = Fixture.incoming(Fixture.id(n), seq: seq)
            return try store.accept(message, buildReceipt: Fixture.receipt)
        }
        #expect(try accept(1, 1) == .accepted(receipt: Fixture.receipt(for: Fixture.incoming(Fixture.id(1), seq: 1)), channel: .inOrder))
        guard case .accepted(_, .gapDetected(let missing)) = try accept(5, 5) else { Issue.record("gap not detected"); return }
        #expect(missing == 2...4)
        #expect(try store.gaps().map(\.missing) == [2...4])
        guard case .accepted(_, .gapDetected(let missing2)) = try accept(8, 8) else { Issue.record("second gap not detected"); return }
        #expect(missing2 == 6...7)
        #expect(try store.gaps(sender: Fixture.ru, recipient: Fixture.us).map(\.missing) == [2...4, 6...7])

        guard case .accepted(_, .gapFilled) = try accept(3, 3) else { Issue.record("fill not reported"); return }
        #expect(try store.gaps().map(\.missing) == [2...2, 4...4, 6...7])
        #expect(try store.incomingChannels().first?.contiguous == 1)
        _ = try accept(2, 2)
        #expect(try store.incomingChannels().first?.contiguous == 3)
        _ = try accept(4, 4)
        #expect(try store.incomingChannels().first?.contiguous == 5)
        _ = try accept(7, 7)
        _ = try accept(6, 6)
        let channel = try #require(try store.incomingChannels().first)
        #expect(channel.contiguous == 8 && channel.highest == 8 && channel.gaps.isEmpty)
        #expect(try store.auditEvents(kinds: [.gapDetected]).count == 2)
        #expect(try store.auditEvents(kinds: [.gapFilled]).count == 5)
        // Channels are independent per sender.
        let other = Fixture.incoming(Fixture.id(20), seq: 3, from: "GB-NRRC")
        guard case .accepted(_, .gapDetected(1...2)) = try store.accept(other, buildReceipt: Fixture.receipt) else {
            Issue.record("gap on the second channel not detected"); return
        }
    }

    @Test func replayIsReportedNotStored() throws {
        let store = try store
        _ = try store.accept(Fixture.incoming(Fixture.id(1), seq: 1), buildReceipt: Fixture.receipt)
        _ = try store.accept(Fixture.incoming(Fixture.id(3), seq: 3), buildReceipt: Fixture.receipt)
        let snapshot = try tableSnapshot(store)
        // Same sequence number, different message id.
        let replay = try store.accept(Fixture.incoming(Fixture.id(2), seq: 1)) { _ in Issue.record("no receipt for a replay"); return Data() }
        #expect(replay == .replay(sequenceNumber: 1, storedID: Fixture.id(1)))
        let replay3 = try store.accept(Fixture.incoming(Fixture.id(4), seq: 3), buildReceipt: Fixture.receipt)
        #expect(replay3 == .replay(sequenceNumber: 3, storedID: Fixture.id(3)))
        #expect(try tableSnapshot(store) == snapshot)
        #expect(try store.message(Fixture.id(2)) == nil)
        #expect(try store.alerts().map(\.kind) == [.replay, .replay])
        // The gap (2) can still be filled by a genuine message.
        guard case .accepted(_, .gapFilled) = try store.accept(Fixture.incoming(Fixture.id(5), seq: 2), buildReceipt: Fixture.receipt) else {
            Issue.record("gap not filled"); return
        }
    }

    @Test func failingReceiptBuilderStoresNothing() throws {
        let store = try store
        #expect(throws: BuildFailed.self) {
            try store.accept(Fixture.incoming(Fixture.id(1), seq: 1)) { _ in throw BuildFailed() }
        }
        #expect(try store.message(Fixture.id(1)) == nil)
        #expect(try store.incomingChannels().isEmpty)
        #expect(try store.auditEvents().isEmpty)
    }

    @Test func acceptBatchReportsEachOutcome() throws {
        let store = try store
        let requests = [
            AcceptRequest(message: Fixture.incoming(Fixture.id(1), seq: 1), buildReceipt: Fixture.receipt),
            AcceptRequest(message: Fixture.incoming(Fixture.id(1), seq: 1), buildReceipt: Fixture.receipt),
            AcceptRequest(message: Fixture.incoming(Fixture.id(2), seq: 1), buildReceipt: Fixture.receipt),
            AcceptRequest(message: Fixture.incoming(Fixture.id(3), seq: 3), buildReceipt: Fixture.receipt),
        ]
        let outcomes = try store.acceptBatch(requests)
        #expect(outcomes[0] == .accepted(receipt: Fixture.receipt(for: requests[0].message), channel: .inOrder))
        #expect(outcomes[1] == .duplicate(storedReceipt: Fixture.receipt(for: requests[0].message)))
        #expect(outcomes[2] == .replay(sequenceNumber: 1, storedID: Fixture.id(1)))
        #expect(outcomes[3] == .accepted(receipt: Fixture.receipt(for: requests[3].message), channel: .gapDetected(missing: 2...2)))
    }

    @Test func rejectsInvalidIncoming() throws {
        let store = try store
        var zero = Fixture.incoming(Fixture.id(1), seq: 1)
        zero.sequenceNumber = 0
        #expect(try #require(throws: StoreError.self) { try store.accept(zero, buildReceipt: Fixture.receipt) }.code == .invalidArgument)
        var huge = Fixture.incoming(Fixture.id(1), seq: 1)
        huge.sequenceNumber = UInt64.max
        #expect(try #require(throws: StoreError.self) { try store.accept(huge, buildReceipt: Fixture.receipt) }.code == .invalidArgument)
        var empty = Fixture.incoming(Fixture.id(1), seq: 1)
        empty.fields.bytes = Data()
        #expect(try #require(throws: StoreError.self) { try store.accept(empty, buildReceipt: Fixture.receipt) }.code == .invalidArgument)
    }

    @Test func auditLogAndMessagesAreAppendOnly() throws {
        let store = try store
        _ = try store.accept(Fixture.incoming(Fixture.id(1), seq: 1), buildReceipt: Fixture.receipt)
        for sql in ["UPDATE audit SET detail = 'x'", "DELETE FROM audit", "UPDATE message SET bytes = x'00'", "DELETE FROM message",
                    "UPDATE receipt SET bytes = x'00'", "DELETE FROM receipt", "DELETE FROM inbox", "UPDATE inbox SET seq = 9"] {
            #expect(throws: DatabaseError.self, "\(sql) must be refused") {
                try store.pool.write { try $0.execute(sql: sql) }
            }
        }
        #expect(try store.auditEvents().count == 1)
        #expect(try store.message(Fixture.id(1))?.message.fields.bytes == Fixture.bytes("in", Fixture.id(1)))
    }
}

/// Every row of every state table, to show an operation changed nothing (the audit log excepted).
func tableSnapshot(_ store: ParleyStore) throws -> [String] {
    try store.pool.read { db in
        var rows = [String]()
        for table in ["message", "reference", "receipt", "delivery", "inbox", "channel_out", "channel_in", "channel_gap"] {
            for row in try Row.fetchAll(db, sql: "SELECT * FROM \(table) ORDER BY 1, 2") { rows.append("\(table) \(row)") }
        }
        return rows
    }
}
