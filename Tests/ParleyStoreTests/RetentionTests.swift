import Foundation
import GRDB
import ParleyProtocol
import Testing
@testable import ParleyStore
import ParleyTestSupport

@Suite struct RetentionTests {
    let dir = TemporaryDirectory()
    let cutoff = Fixture.base + 500

    /// Before the cutoff: 1, 2 delivered to both; 3 delivered to RU, pending to HCOC; 5 cancelled;
    /// 101 received. After it: 4 delivered to RU only (sent to RU alone), 102 received.
    func store(_ name: String = "s.sqlite") async throws -> ParleyStore {
        let store = try ParleyStore(path: dir.path(name))
        for n in [1, 2, 3, 5] {
            try await store.queue(
                Fixture.id(n),
                to: [Fixture.ru, Fixture.hcoc],
                references: n > 1 ? [MessageReference(target: Fixture.id(1), relation: .respondsTo)] : [],
                remarks: try LocalizedText(language: "en", text: "old note \(n)"),
                at: Fixture.base + Double(n * 10)
            )
        }
        try await store.queue(
            Fixture.id(4),
            to: [Fixture.ru],
            references: [MessageReference(target: Fixture.id(2), relation: .respondsTo)],
            at: Fixture.base + 1000
        )
        for (n, recipients) in [
            (1, [Fixture.ru, Fixture.hcoc]), (2, [Fixture.ru, Fixture.hcoc]), (3, [Fixture.ru]), (4, [Fixture.ru]),
        ] {
            for recipient in recipients {
                try await store.markInFlight(Fixture.id(n), recipient: recipient.pid, at: Fixture.base + 100)
                try await store.recordReceipt(
                    ReceivedReceipt(
                        bytes: Data("rcpt \(n) \(recipient)".utf8),
                        messageID: Fixture.id(n),
                        recipient: recipient.pid,
                        status: .accepted,
                        received: Fixture.base + 101
                    )
                )
            }
        }
        try await store.cancel(Fixture.id(5), at: Fixture.base + 102)
        _ = try await store.accept(
            Fixture.incoming(
                Fixture.id(101),
                seq: 1,
                remarks: try LocalizedText(language: "en", text: "old incoming"),
                received: Fixture.base + 20
            ),
            buildReceipt: Fixture.receipt
        )
        _ = try await store.accept(
            Fixture.incoming(Fixture.id(102), seq: 2, received: Fixture.base + 2000),
            buildReceipt: Fixture.receipt
        )
        return store
    }

    @Test func purgeDeletesOldMessagesWithTheirRowsAndKeepsUndelivered() async throws {
        let store = try await store()
        let channelsBefore = (try await store.outgoingChannels(), try await store.incomingChannels())
        let summary = try await store.purge(
            receivedOrQueuedBefore: cutoff,
            requireArchivedIn: nil,
            at: Fixture.base + 3000
        )
        #expect(summary.sentMessagesDeleted == 3 && summary.receivedMessagesDeleted == 1)
        #expect(summary.receiptsDeleted == 2 + 2 + 1)
        #expect(summary.deliveriesDeleted == 3 * 2)
        #expect(summary.keptUndelivered == 1)
        #expect(summary.archive == nil)

        for n in [1, 2, 5, 101] { #expect(try await store.message(Fixture.id(n)) == nil, "message \(n) purged") }
        let kept = try #require(try await store.message(Fixture.id(3)), "pending to HCOC: kept")
        #expect(kept.receipts.count == 1 && kept.deliveries.count == 2)
        let (keptSent, keptIncoming) = (
            try await store.message(Fixture.id(4)), try await store.message(Fixture.id(102))
        )
        #expect(keptSent != nil && keptIncoming != nil)
        #expect(try await store.messageCounts() == (sent: 2, received: 1))
        #expect(
            try await store.inbox(InboxQuery(remarksContaining: "old")).isEmpty,
            "the full-text index follows deletions"
        )
        #expect(
            try await store.pool.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM purge_authorization") } == 0
        )
        try await store.pool.write {
            try $0.execute(sql: "INSERT INTO message_fts(message_fts) VALUES ('integrity-check')")
        }
        try await store.checkIntegrity()

        let events = try await store.auditEvents(kinds: [.purged])
        #expect(events.count == 1)
        #expect(
            events[0].detail?.contains("3 sent and 1 received messages, 5 receipts, 6 deliveries deleted") == true,
            "\(events[0])"
        )
        #expect(events[0].detail?.contains("1 kept (undelivered)") == true)
        #expect(try await store.auditEvents(messageID: Fixture.id(1)).count > 0, "the audit log is never purged")

        // Channel state survives: numbers are never reused, and a purged message sent again is a replay.
        #expect(try await (store.outgoingChannels(), store.incomingChannels()) == channelsBefore)
        #expect(try await store.queue(Fixture.id(600), to: [Fixture.ru]).sequenceNumbers == [Fixture.ru: 6])
        let again = try await store.accept(
            Fixture.incoming(Fixture.id(101), seq: 1, received: Fixture.base + 4000),
            buildReceipt: Fixture.receipt
        )
        #expect(again == .replay(sequenceNumber: 1, storedID: nil))

        // Nothing left to purge: no second event.
        #expect(try await store.purge(receivedOrQueuedBefore: cutoff, requireArchivedIn: nil).messagesDeleted == 0)
        #expect(try await store.auditEvents(kinds: [.purged]).count == 1)
    }

    @Test func triggersAllowOnlyThePurge() async throws {
        let store = try await store()
        let before = try tableSnapshot(store)
        func refused(_ sql: String, authorize: Int64? = nil, sourceLocation: SourceLocation = #_sourceLocation) {
            #expect(throws: DatabaseError.self, "\(sql)", sourceLocation: sourceLocation) {
                try store.pool.write { db in
                    if let authorize {
                        try db.execute(
                            sql: "INSERT INTO purge_authorization (id, cutoff) VALUES (1, ?)",
                            arguments: [authorize]
                        )
                    }
                    try db.execute(sql: sql)
                }
            }
        }
        let old = Int64(StoreTime.seconds(cutoff))
        let id1 = "x'\(Fixture.id(1).hex)'"
        let id3 = "x'\(Fixture.id(3).hex)'"
        let id4 = "x'\(Fixture.id(4).hex)'"
        // Without authorization nothing is deleted.
        refused("DELETE FROM delivery WHERE message = (SELECT rowid FROM message WHERE id = \(id1))")
        refused("DELETE FROM receipt WHERE message_id = \(id1)")
        refused("DELETE FROM inbox")
        refused("DELETE FROM reference")
        refused("DELETE FROM reference WHERE message = (SELECT rowid FROM message WHERE id = \(id4))", authorize: old)
        refused("DELETE FROM message WHERE id = \(id1)")
        refused("DELETE FROM audit")
        // With it: never a message that something still refers to, never after the cutoff, never
        // an undelivered delivery or a delivered one of a message still undelivered elsewhere,
        // never the audit log, and never an update.
        refused("DELETE FROM message WHERE id = \(id1)", authorize: old)
        refused("DELETE FROM delivery WHERE message = (SELECT rowid FROM message WHERE id = \(id4))", authorize: old)
        refused(
            "DELETE FROM delivery WHERE message = (SELECT rowid FROM message WHERE id = \(id3)) AND recipient = 'RU-NRRC'",
            authorize: old
        )
        refused(
            "DELETE FROM delivery WHERE message = (SELECT rowid FROM message WHERE id = \(id3)) AND recipient = 'HCOC-CC'",
            authorize: old
        )
        refused("DELETE FROM receipt WHERE message_id = \(id3)", authorize: old)
        refused("DELETE FROM receipt WHERE message_id = \(id1)", authorize: old)  // still named by its deliveries
        refused("DELETE FROM audit", authorize: old)
        refused("UPDATE message SET sender = 'X' WHERE id = \(id1)", authorize: old)
        refused("UPDATE reference SET relation = 9", authorize: old)
        #expect(try tableSnapshot(store) == before)

        // The purge's own order of deletion passes the same triggers.
        try await store.pool.write { db in
            try db.execute(sql: "INSERT INTO purge_authorization (id, cutoff) VALUES (1, ?)", arguments: [old])
            let rowid = try Int64.fetchOne(db, sql: "SELECT rowid FROM message WHERE id = \(id1)")!
            try db.execute(sql: "DELETE FROM delivery WHERE message = ?", arguments: [rowid])
            try db.execute(sql: "DELETE FROM reference WHERE message = ?", arguments: [rowid])
            try db.execute(sql: "DELETE FROM receipt WHERE message_id = \(id1)")
            try db.execute(sql: "DELETE FROM message WHERE rowid = ?", arguments: [rowid])
            try db.execute(sql: "DELETE FROM purge_authorization")
        }
        #expect(try await store.message(Fixture.id(1)) == nil)
        #expect(
            try await store.pool.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM purge_authorization") } == 0
        )
    }

    @Test func purgeCanRequireTheArchive() async throws {
        let store = try await store()
        // An archive of part of the range lacks messages 2, 3, 5 and 101: nothing is deleted.
        let partial = dir.path("partial.parley-archive")
        try await store.exportArchive(to: partial, exporter: Fixture.us.pid, from: Fixture.base, to: Fixture.base + 15)
        let before = try tableSnapshot(store)
        let missing = try await #require(throws: StoreError.self) {
            try await store.purge(receivedOrQueuedBefore: cutoff, requireArchivedIn: partial)
        }
        #expect(missing.code == .invalidState)
        #expect(missing.reason.contains("not in the archive"))
        #expect(try tableSnapshot(store) == before)

        // A full archive, but a receipt arrived after the export: still nothing deleted.
        let full = dir.path("full.parley-archive")
        try await store.exportArchive(to: full, exporter: Fixture.us.pid, from: Fixture.base, to: cutoff)
        try await store.recordReceipt(
            ReceivedReceipt(
                bytes: Data("late duplicate 1".utf8),
                messageID: Fixture.id(1),
                recipient: Fixture.ru.pid,
                status: .duplicate,
                received: Fixture.base + 600
            )
        )
        let afterReceipt = try tableSnapshot(store)
        let late = try await #require(throws: StoreError.self) {
            try await store.purge(receivedOrQueuedBefore: cutoff, requireArchivedIn: full)
        }
        #expect(late.code == .invalidState && late.reason.contains("receipt"))
        #expect(try tableSnapshot(store) == afterReceipt)
        #expect(try await store.auditEvents(kinds: [.purged]).isEmpty)

        // Exported again: the purge proceeds and names the archive.
        let fresh = dir.path("fresh.parley-archive")
        let exported = try await store.exportArchive(
            to: fresh,
            exporter: Fixture.us.pid,
            from: Fixture.base,
            to: cutoff
        )
        let summary = try await store.purge(receivedOrQueuedBefore: cutoff, requireArchivedIn: fresh)
        #expect(summary.messagesDeleted == 4 && summary.archive == exported)
        #expect(
            try await store.auditEvents(kinds: [.purged]).first?.detail?.contains(exported.digest.hexString) == true
        )

        // A damaged archive is refused before anything is deleted.
        let other = try await self.store("other.sqlite")
        try Data("junk".utf8).write(to: URL(fileURLWithPath: dir.path("junk.parley-archive")))
        await #expect(throws: StoreError.self) {
            try await other.purge(receivedOrQueuedBefore: cutoff, requireArchivedIn: dir.path("junk.parley-archive"))
        }
        #expect(try await other.messageCounts() == (sent: 5, received: 2))
    }
}
