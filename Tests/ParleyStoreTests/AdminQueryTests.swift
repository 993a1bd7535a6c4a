import Foundation
import GRDB
import Testing
import ParleyProtocol
@testable import ParleyStore
import ParleyTestSupport

/// The queries behind the daemon's admin API: receipts, issued rejections, peer state, paging
/// tokens, operator notes.
@Suite struct AdminQueryTests {
    let dir = TemporaryDirectory()
    var store: ParleyStore { get throws { try ParleyStore(path: dir.path("store.sqlite")) } }

    func rejection(
        _ id: MessageID,
        from sender: String = Fixture.ru,
        code: UInt64 = 3,
        at: Date = Fixture.base,
        label: String = "r"
    ) -> IssuedRejection {
        IssuedRejection(
            bytes: Data("rejection:\(label)".utf8) + id.data,
            messageID: id,
            sender: sender.pid,
            signer: Fixture.us.pid,
            code: code,
            reason: "bad signature",
            messageDigest: Data(repeating: 7, count: 32),
            issued: at
        )
    }

    @Test func issuedRejectionsAreStoredOnceAuditedAndImmutable() async throws {
        let store = try store
        let id = Fixture.id(1)
        try await store.recordIssuedRejection(rejection(id))
        try await store.recordIssuedRejection(rejection(id))  // the same bytes again: nothing new
        try await store.recordIssuedRejection(rejection(id, at: Fixture.base + 5, label: "second"))
        let stored = try await store.issuedRejections(for: id)
        #expect(stored.count == 2)
        #expect(stored.first == rejection(id))
        let audit = try await store.auditEvents(kinds: [.rejectionIssued])
        #expect(audit.count == 2)
        #expect(audit.first?.peer == Fixture.ru && audit.first?.messageID == id)
        #expect(audit.first?.detail?.contains("code 3: bad signature") == true)
        #expect(throws: (any Error).self) {
            try store.pool.write { try $0.execute(sql: "UPDATE issued_rejection SET rejection_code = 0") }
        }
        #expect(throws: (any Error).self) {
            try store.pool.write { try $0.execute(sql: "DELETE FROM issued_rejection") }
        }
        #expect(try await store.issuedRejections(for: id).count == 2)
        await #expect(throws: StoreError.self) {
            var bad = rejection(id, label: "x")
            bad.messageDigest = Data([1])
            try await store.recordIssuedRejection(bad)
        }
        // Evidence (the rejected bytes) is kept when given, and must have the message digest.
        let rejected = Data("the rejected message".utf8)
        var withEvidence = rejection(Fixture.id(2), code: 10, label: "e")
        withEvidence.messageDigest = rejected.sha256
        withEvidence.evidence = rejected
        try await store.recordIssuedRejection(withEvidence)
        #expect(try await store.issuedRejections(for: Fixture.id(2)).first?.evidence == rejected)
        #expect(try await store.issuedRejections(for: id).allSatisfy { $0.evidence == nil })
        await #expect(throws: StoreError.self) {
            var wrong = withEvidence
            wrong.bytes = Data("another receipt".utf8)
            wrong.evidence = Data("other bytes".utf8)
            try await store.recordIssuedRejection(wrong)
        }
    }

    @Test func receiptListMergesReceivedIssuedAndRejections() async throws {
        let store = try store
        // Sent to RU and HCOC: RU accepts, HCOC rejects.
        try await store.queue(Fixture.id(10), at: Fixture.base)
        try await store.recordReceipt(
            ReceivedReceipt(
                bytes: Data("ru-ok".utf8),
                messageID: Fixture.id(10),
                recipient: Fixture.ru.pid,
                status: .accepted,
                received: Fixture.base + 10
            )
        )
        try await store.recordReceipt(
            ReceivedReceipt(
                bytes: Data("hcoc-no".utf8),
                messageID: Fixture.id(10),
                recipient: Fixture.hcoc.pid,
                status: .rejected(code: 11, reason: "invalid body"),
                received: Fixture.base + 20
            )
        )
        // Received from RU: our accepted receipt is issued at +30.
        _ = try await store.accept(
            Fixture.incoming(Fixture.id(11), seq: 1, received: Fixture.base + 30),
            buildReceipt: Fixture.receipt
        )
        // A rejection we issued to HCOC at +40.
        try await store.recordIssuedRejection(rejection(Fixture.id(12), from: Fixture.hcoc, at: Fixture.base + 40))

        let all = try await store.receipts(ReceiptQuery())
        #expect(all.map(\.receipt.stored) == [40, 30, 20, 10].map { Fixture.base + Double($0) }, "newest first")
        #expect(all.map(\.peer) == [Fixture.hcoc, Fixture.ru, Fixture.hcoc, Fixture.ru])
        #expect(all.map(\.messageStored) == [false, true, true, true])
        #expect(
            all[0].receipt.status == .rejected(code: 3, reason: "bad signature") && all[0].receipt.direction == .issued
        )

        let issued = try await store.receipts(ReceiptQuery(direction: .issued))
        #expect(issued.map(\.receipt.messageID) == [Fixture.id(12), Fixture.id(11)])
        let received = try await store.receipts(ReceiptQuery(direction: .received))
        #expect(received.map(\.peer) == [Fixture.hcoc, Fixture.ru])
        let rejected = try await store.receipts(ReceiptQuery(status: 2))
        #expect(rejected.map(\.receipt.messageID) == [Fixture.id(12), Fixture.id(10)])
        let hcoc = try await store.receipts(ReceiptQuery(peer: Fixture.hcoc))
        #expect(hcoc.count == 2 && hcoc.allSatisfy { $0.peer == Fixture.hcoc })
        let window = try await store.receipts(
            ReceiptQuery(storedFrom: Fixture.base + 20, storedBefore: Fixture.base + 40)
        )
        #expect(window.map(\.receipt.stored) == [Fixture.base + 30, Fixture.base + 20])
        #expect(try await store.receipts(ReceiptQuery(messageID: Fixture.id(12))).count == 1)
        #expect(try await store.receipts(ReceiptQuery(limit: 2)).count == 2)
        #expect(
            try await store.receipts(ReceiptQuery(status: 0, limit: 10)).map(\.receipt.messageID) == [
                Fixture.id(11), Fixture.id(10),
            ]
        )
    }

    @Test func peerStatesFromTheStore() async throws {
        let store = try store
        try await store.queue(Fixture.id(1), at: Fixture.base)
        try await store.queue(Fixture.id(2), at: Fixture.base + 60)
        try await store.markInFlight(Fixture.id(1), recipient: Fixture.ru.pid, at: Fixture.base + 61)
        try await store.recordAttemptFailure(
            Fixture.id(1),
            recipient: Fixture.ru.pid,
            error: "transport: connection refused",
            nextAttempt: Fixture.base + 90,
            at: Fixture.base + 62
        )
        try await store.recordReceipt(
            ReceivedReceipt(
                bytes: Data("hcoc-1".utf8),
                messageID: Fixture.id(1),
                recipient: Fixture.hcoc.pid,
                status: .accepted,
                received: Fixture.base + 70
            )
        )
        _ = try await store.accept(
            Fixture.incoming(Fixture.id(3), seq: 3, received: Fixture.base + 80),
            buildReceipt: Fixture.receipt
        )
        try await store.markInFlight(Fixture.id(2), recipient: Fixture.hcoc.pid, at: Fixture.base + 81)

        let states = try await store.peerStates(["JP-METI".pid, Fixture.ru.pid])
        #expect(states.map(\.peer) == [Fixture.hcoc, "JP-METI", Fixture.ru])
        let ru = try #require(states.last)
        #expect(ru.queueDepth == 2)
        #expect(ru.oldestUndelivered == Fixture.base)
        #expect(
            ru.nextAttempt == Fixture.base + 90,
            "the channel moves in order: message 1's retry, message 2 goes with it"
        )
        #expect(ru.lastError == "transport: connection refused" && ru.lastErrorAt == Fixture.base + 62)
        #expect(ru.lastReceipt == nil && ru.lastMessage == Fixture.base + 80 && ru.lastContact == Fixture.base + 80)
        #expect(ru.gaps == [1...2])
        let hcoc = states[0]
        #expect(hcoc.queueDepth == 1 && hcoc.oldestUndelivered == Fixture.base + 60)
        #expect(hcoc.lastReceipt == Fixture.base + 70 && hcoc.lastError == nil)
        #expect(hcoc.inFlight == 1 && hcoc.nextAttempt == nil && ru.inFlight == 0)
        let jp = states[1]
        #expect(jp.queueDepth == 0 && jp.oldestUndelivered == nil && jp.lastContact == nil)

        try await store.expire(Fixture.id(2), recipient: Fixture.ru.pid, reason: "too old")
        #expect(try await store.peerStates().last?.expired == 1)
    }

    @Test func alertsAreCounted() async throws {
        let store = try store
        #expect(try await store.alertCount() == 0)
        _ = try await store.accept(Fixture.incoming(Fixture.id(1), seq: 1), buildReceipt: Fixture.receipt)
        _ = try await store.accept(
            Fixture.incoming(Fixture.id(1), seq: 2, label: "other"),
            buildReceipt: Fixture.receipt
        )  // equivocation
        _ = try await store.accept(Fixture.incoming(Fixture.id(2), seq: 1), buildReceipt: Fixture.receipt)  // replay
        #expect(try await store.alertCount() == 2)
        #expect(try await store.alerts().count == 2)
    }

    @Test func pageTokensRoundTrip() async throws {
        let store = try store
        for n in 1...5 {
            _ = try await store.accept(
                Fixture.incoming(Fixture.id(n), seq: UInt64(n), created: Fixture.base + Double(n)),
                buildReceipt: Fixture.receipt
            )
        }
        let first = try await store.inbox(InboxQuery(limit: 2))
        let token = try #require(first.last?.cursor.token)
        let cursor = try #require(PageCursor(token: token))
        let second = try await store.inbox(InboxQuery(limit: 2, after: cursor))
        #expect(second.map(\.fields.id) == [3, 2].map(Fixture.id))
        #expect(PageCursor(token: "x.1") == nil && PageCursor(token: "1") == nil && PageCursor(token: "-1.2") == nil)
    }

    /// Every list pages by keyset: following each page's last cursor visits every item once, in
    /// the list's order, even where receipts and issued rejections share a second; the counts say
    /// how many items follow a position.
    @Test func listsPageByCursorAndCountWhatFollows() async throws {
        let store = try store
        for n in 1...7 {
            try await store.queue(Fixture.id(n), at: Fixture.base + Double(n / 3))
            try await store.recordReceipt(
                ReceivedReceipt(
                    bytes: Data("ru-\(n)".utf8),
                    messageID: Fixture.id(n),
                    recipient: Fixture.ru.pid,
                    status: .accepted,
                    received: Fixture.base + 100 + Double(n / 2)
                )
            )
            try await store.recordIssuedRejection(
                rejection(Fixture.id(20 + n), from: Fixture.hcoc, at: Fixture.base + 100 + Double(n / 2), label: "\(n)")
            )
        }
        let everyReceipt = try await store.receipts(ReceiptQuery(limit: 100))
        let receiptCount = try await store.receiptsCount(ReceiptQuery())
        #expect(everyReceipt.count == 14 && receiptCount == 14)
        var pagedReceipts: [ReceiptListing] = []
        var receiptQuery = ReceiptQuery(limit: 3)
        while true {
            let page = try await store.receipts(receiptQuery)
            #expect(try await store.receiptsCount(receiptQuery) == 14 - pagedReceipts.count)
            pagedReceipts += page
            guard let last = page.last else { break }
            let token = try #require(ReceiptCursor(token: last.cursor.token))
            receiptQuery.after = token
        }
        #expect(pagedReceipts == everyReceipt, "the pages together are the whole list, in order")
        var rejections = ReceiptQuery(status: 2, limit: 2)
        rejections.after = everyReceipt[5].cursor
        #expect(
            try await store.receiptsCount(rejections) == everyReceipt.dropFirst(6).filter { !$0.messageStored }.count
        )
        #expect(
            ReceiptCursor(token: "1.2.3") == nil && ReceiptCursor(token: "1.0") == nil
                && ReceiptCursor(token: "-1.0.3") == nil
        )

        for newestFirst in [true, false] {
            let every = try await store.outbox(OutboxQuery(limit: 100, newestFirst: newestFirst))
            let count = try await store.outboxCount(OutboxQuery(newestFirst: newestFirst))
            #expect(every.count == 14 && count == 14)
            let queued: [Date] = every.map(\.queued)
            let ordered: [Date] = newestFirst ? queued.sorted(by: >) : queued.sorted()
            #expect(queued == ordered)
            var paged: [DeliveryRecord] = []
            var query = OutboxQuery(limit: 4, newestFirst: newestFirst)
            while true {
                let page = try await store.outbox(query)
                #expect(try await store.outboxCount(query) == 14 - paged.count)
                paged += page
                guard let last = page.last else { break }
                let position = try #require(DeliveryCursor(token: last.cursor.token))
                query.position = position
            }
            #expect(paged == every)
        }
        #expect(DeliveryCursor(token: "1.xyz.RU-NRRC") == nil && DeliveryCursor(token: "1.\(Fixture.id(1).hex)") == nil)

        let inbox = InboxQuery(limit: 100)
        for n in 1...5 {
            _ = try await store.accept(
                Fixture.incoming(Fixture.id(40 + n), seq: UInt64(n), created: Fixture.base + Double(n / 2)),
                buildReceipt: Fixture.receipt
            )
        }
        let messages = try await store.inbox(inbox)
        #expect(try await store.inboxCount(inbox) == 5)
        #expect(try await store.inboxCount(InboxQuery(after: messages[1].cursor)) == 3)
    }

    @Test func operatorNotesGoIntoTheAudit() async throws {
        let store = try store
        try await store.queue(Fixture.id(1), at: Fixture.base)
        #expect(try await store.cancel(Fixture.id(1), recipient: Fixture.ru.pid, note: "duplicate of 0192") == 1)
        #expect(try await store.retry(Fixture.id(1), recipient: Fixture.ru.pid, note: "sent after all") == 1)
        let events = try await store.auditEvents(kinds: [.cancelled, .retried])
        #expect(events.map(\.detail) == ["by the operator: duplicate of 0192", "by the operator: sent after all"])
        // A delivered delivery is never cancelled.
        try await store.recordReceipt(
            ReceivedReceipt(
                bytes: Data("ru".utf8),
                messageID: Fixture.id(1),
                recipient: Fixture.ru.pid,
                status: .accepted,
                received: Fixture.base + 1
            )
        )
        await #expect(throws: StoreError.self) { try await store.cancel(Fixture.id(1), recipient: Fixture.ru.pid) }
        #expect(try await store.delivery(Fixture.id(1), recipient: Fixture.ru.pid)?.state == .delivered)
    }

    @Test func adminQueriesUseIndexes() async throws {
        let store = try store
        let plans = try await store.pool.read { db in
            try [
                "SELECT * FROM receipt r WHERE r.stored >= 0 ORDER BY r.stored DESC, r.rowid DESC LIMIT 10",
                "SELECT max(stored) FROM receipt WHERE direction = 0 AND signer = 'RU-NRRC'",
                "SELECT * FROM issued_rejection x ORDER BY x.stored DESC, x.rowid DESC LIMIT 10",
                "SELECT * FROM issued_rejection WHERE message_id = x'00'",
                "SELECT min(next_attempt) FROM delivery WHERE state = 'pending' AND recipient = 'RU-NRRC'",
            ].map { sql in
                try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN \(sql)").map { $0["detail"] as String }.joined(
                    separator: "; "
                )
            }
        }
        for plan in plans {
            #expect(plan.contains("USING INDEX") || plan.contains("USING COVERING INDEX"), "\(plan)")
        }
    }
}
