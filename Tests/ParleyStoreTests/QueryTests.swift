import Foundation
import GRDB
import Testing
import ParleyProtocol
@testable import ParleyStore
import ParleyTestSupport

@Suite struct QueryTests {
    let dir = TemporaryDirectory()
    var store: ParleyStore { get throws { try ParleyStore(path: dir.path("store.sqlite")) } }

    /// Remarks are indexed once per write transaction (schema v6), not by an insert trigger: every
    /// path that stores messages must still index them, exactly once, and a rolled-back
    /// transaction must leave nothing behind.
    @Test func remarksOfEveryWritePathAreIndexedOnce() async throws {
        let store = try store
        @Sendable func remark(_ word: String, _ n: Int) -> LocalizedText {
            try! LocalizedText(language: "en", text: "\(word) hold \(n)")
        }
        func indexed(_ store: ParleyStore, _ word: String) throws -> [Int64] {
            try store.pool.read { db in
                try Int64.fetchAll(
                    db,
                    sql: "SELECT rowid FROM message_fts WHERE message_fts MATCH ? ORDER BY rowid",
                    arguments: [word]
                )
            }
        }
        func checkIndex(_ store: ParleyStore) throws {
            try store.pool.write {
                try $0.execute(sql: "INSERT INTO message_fts(message_fts) VALUES ('integrity-check')")
            }
        }
        // A search finds a message indexed twice only once (and FTS5's integrity-check does not compare
        // an external-content index with its table): that a write indexes only the messages it
        // stored shows in the index's own pages, which a write storing no message leaves unchanged.
        func indexPages(_ store: ParleyStore) throws -> [Int64] {
            try store.pool.read { db in
                try Int64.fetchAll(db, sql: "SELECT rowid FROM message_fts_data")
                    + Int64.fetchAll(db, sql: "SELECT length(block) FROM message_fts_data")
            }
        }

        try await store.queue(Fixture.id(1), remarks: remark("queued", 1))
        _ = try await store.enqueueBatch(
            (2...4).map { n in
                EnqueueRequest(sender: Fixture.us.pid, recipients: [Fixture.ru.pid]) { _ in
                    Fixture.fields(Fixture.id(n), remarks: n == 3 ? nil : remark("queued", n), label: "out")
                }
            },
            queuedAt: Fixture.base
        )
        _ = try await store.accept(
            Fixture.incoming(Fixture.id(11), seq: 1, remarks: remark("received", 11)),
            buildReceipt: Fixture.receipt
        )
        let batch = [12, 12, 13].enumerated().map { index, n in
            AcceptRequest(
                message: Fixture.incoming(Fixture.id(n), seq: UInt64(index + 2), remarks: remark("received", n)),
                buildReceipt: Fixture.receipt
            )
        }
        let outcomes = try await store.acceptBatch(batch)
        #expect(
            outcomes[1] == .duplicate(storedReceipt: Fixture.receipt(for: batch[0].message)),
            "the second 12 stores nothing"
        )
        // A transaction that fails after inserting a message rolls its index entries back with it.
        struct Refused: Error {}
        await #expect(throws: Refused.self) {
            _ = try await store.acceptBatch([
                AcceptRequest(
                    message: Fixture.incoming(Fixture.id(14), seq: 9, remarks: remark("received", 14)),
                    buildReceipt: Fixture.receipt
                ),
                AcceptRequest(message: Fixture.incoming(Fixture.id(15), seq: 10, remarks: remark("received", 15))) {
                    _ in throw Refused()
                },
            ])
        }

        #expect(try await store.message(Fixture.id(14)) == nil)
        let pages = try indexPages(store)
        _ = try await store.markInFlight([Fixture.id(2), Fixture.id(4)], recipient: Fixture.ru.pid)
        try await store.recordAttemptFailure(
            Fixture.id(2),
            recipient: Fixture.ru.pid,
            error: "test",
            nextAttempt: Fixture.base + 60
        )
        #expect(try indexPages(store) == pages, "writes that store no message index nothing")
        #expect(try indexed(store, "queued").count == 3)
        #expect(try indexed(store, "received").count == 3)
        #expect(
            try await store.inbox(InboxQuery(remarksContaining: "received hold")).map(\.fields.id)
                == [13, 12, 11].map(Fixture.id)
        )
        #expect(try await store.inbox(InboxQuery(remarksContaining: "hold 14")).isEmpty)
        try checkIndex(store)

        // An archive import indexes what it adds.
        let archive = dir.path("all.parley-archive")
        try await store.exportArchive(
            to: archive,
            exporter: Fixture.us.pid,
            from: Fixture.base - 60,
            to: Fixture.base + 60
        )
        let copy = try ParleyStore(path: dir.path("copy.sqlite"))
        _ = try await copy.importArchive(from: archive)
        #expect(try await copy.messageCounts() == (sent: 4, received: 3))
        #expect(try indexed(copy, "queued").count == 3)
        #expect(try await copy.inbox(InboxQuery(remarksContaining: "received")).count == 3)
        try checkIndex(copy)
        #expect(
            try await store.pool.read {
                try Bool.fetchOne($0, sql: "SELECT 1 FROM sqlite_master WHERE name = 'message_fts_insert'")
            } == nil
        )
    }

    @Test func inboxFiltersAndPaging() async throws {
        let store = try store
        var seq: [String: UInt64] = [:]
        for n in 1...60 {
            let sender = n % 3 == 0 ? "GB-NRRC" : Fixture.ru
            seq[sender, default: 0] += 1
            let message = Fixture.incoming(
                Fixture.id(n),
                seq: seq[sender]!,
                from: sender,
                type: UInt64(n % 2 == 0 ? 1 : 11),
                created: Fixture.base + Double(n * 60),
                remarks: n % 10 == 0 ? try! LocalizedText(language: "en", text: "Range safety hold number \(n)") : nil
            )
            _ = try await store.accept(message, buildReceipt: Fixture.receipt)
        }
        let ru = try await store.inbox(InboxQuery(sender: Fixture.ru, limit: 100))
        #expect(ru.count == 40)
        #expect(ru.allSatisfy { $0.sender == Fixture.ru })
        #expect(ru.map(\.fields.created) == ru.map(\.fields.created).sorted(by: >), "newest first")

        let window = try await store.inbox(
            InboxQuery(sender: Fixture.ru, createdFrom: Fixture.base + 600, createdBefore: Fixture.base + 1200)
        )
        #expect(window.map(\.fields.id) == [19, 17, 16, 14, 13, 11, 10].map(Fixture.id))

        let typed = try await store.inbox(InboxQuery(type: 1, createdBefore: Fixture.base + 601))
        #expect(typed.map(\.fields.id) == [10, 8, 6, 4, 2].map(Fixture.id))

        #expect(try await store.inbox(InboxQuery(remarksContaining: "SAFETY hold")).count == 6)
        #expect(
            try await store.inbox(InboxQuery(sender: "GB-NRRC", remarksContaining: "safety")).map(\.fields.id)
                == [60, 30].map(Fixture.id)
        )
        #expect(
            try await store.inbox(InboxQuery(remarksContaining: "\"unbalanced OR NOT")).isEmpty,
            "user text is never FTS syntax"
        )
        #expect(try await store.inbox(InboxQuery(remarksContaining: "   ")).isEmpty)

        // Keyset paging walks everything exactly once.
        var collected = [MessageID]()
        var query = InboxQuery(limit: 7)
        while true {
            let page = try await store.inbox(query)
            collected += page.map(\.fields.id)
            guard let last = page.last else { break }
            query.after = last.cursor
        }
        #expect(collected.count == 60)
        #expect(Set(collected).count == 60)
    }

    @Test func outboxByStateAndRecipient() async throws {
        let store = try store
        for n in 1...10 { try await store.queue(Fixture.id(n), at: Fixture.base + Double(n)) }
        for n in 1...4 {
            try await store.markInFlight(Fixture.id(n), recipient: Fixture.ru.pid)
            try await store.recordReceipt(
                ReceivedReceipt(
                    bytes: Data("r\(n)".utf8),
                    messageID: Fixture.id(n),
                    recipient: Fixture.ru.pid,
                    status: .accepted,
                    received: Fixture.base + 100
                )
            )
        }
        #expect(try await store.outbox(OutboxQuery(state: .delivered)).map(\.messageID) == (1...4).map(Fixture.id))
        #expect(
            try await store.outbox(OutboxQuery(state: .pending, recipient: Fixture.ru)).map(\.messageID)
                == (5...10).map(Fixture.id)
        )
        #expect(try await store.outbox(OutboxQuery(recipient: Fixture.hcoc)).count == 10)
        var all = [String]()
        var query = OutboxQuery(limit: 3)
        while true {
            let page = try await store.outbox(query)
            all += page.map { "\($0.messageID) \($0.recipient)" }
            guard let last = page.last else { break }
            query.after = last
        }
        #expect(all.count == 20 && Set(all).count == 20)

        #expect(try await store.queueDepths() == [Fixture.ru.pid: 6, Fixture.hcoc.pid: 10])
        #expect(try await store.oldestUndelivered() == Fixture.base + 1)
        let overdue = try await store.overdue(queuedBefore: Fixture.base + 6)
        #expect(overdue.map(\.messageID) == [1, 2, 3, 4, 5, 5].map(Fixture.id))
        #expect(overdue.filter { $0.messageID == Fixture.id(5) }.map(\.recipient) == [Fixture.hcoc, Fixture.ru])
    }

    @Test func referenceChainCollectsOriginalAndEverythingReferencingIt() async throws {
        let store = try store
        // Received: a pre-launch (1), its extension (2), a correction of the extension (3),
        // a cancellation (4). Sent: our acknowledgement of 1 (5). Unrelated: 6.
        _ = try await store.accept(
            Fixture.incoming(Fixture.id(1), seq: 1, type: 1, created: Fixture.base),
            buildReceipt: Fixture.receipt
        )
        _ = try await store.accept(
            Fixture.incoming(
                Fixture.id(2),
                seq: 2,
                type: 2,
                created: Fixture.base + 10,
                references: [MessageReference(target: Fixture.id(1), relation: .extends)]
            ),
            buildReceipt: Fixture.receipt
        )
        _ = try await store.accept(
            Fixture.incoming(
                Fixture.id(3),
                seq: 3,
                type: 10,
                created: Fixture.base + 20,
                references: [MessageReference(target: Fixture.id(2), relation: .corrects)]
            ),
            buildReceipt: Fixture.receipt
        )
        _ = try await store.accept(
            Fixture.incoming(
                Fixture.id(4),
                seq: 4,
                type: 3,
                created: Fixture.base + 30,
                references: [MessageReference(target: Fixture.id(1), relation: .cancels)]
            ),
            buildReceipt: Fixture.receipt
        )
        try await store.queue(
            Fixture.id(5),
            to: [Fixture.ru],
            type: 9,
            references: [MessageReference(target: Fixture.id(1), relation: .acknowledges)],
            at: Fixture.base + 15
        )
        _ = try await store.accept(
            Fixture.incoming(Fixture.id(6), seq: 5, created: Fixture.base + 40),
            buildReceipt: Fixture.receipt
        )

        let expected = [1, 2, 5, 3, 4].map(Fixture.id)
        for start in [1, 3, 4, 5] {
            #expect(
                try await store.referenceChain(of: Fixture.id(start)).map(\.message.fields.id) == expected,
                "chain from \(start)"
            )
        }
        let chain = try await store.referenceChain(of: Fixture.id(3))
        #expect(chain.first?.receipts.count == 1)
        #expect(chain.first { $0.message.fields.id == Fixture.id(5) }?.deliveries.count == 1)
        #expect(try await store.referenceChain(of: Fixture.id(6)).map(\.message.fields.id) == [Fixture.id(6)])
        #expect(try await store.referenceChain(of: Fixture.id(99)).isEmpty)
    }

    @Test func referenceCyclesTerminate() async throws {
        let store = try store
        _ = try await store.accept(
            Fixture.incoming(
                Fixture.id(1),
                seq: 1,
                references: [MessageReference(target: Fixture.id(2), relation: .respondsTo)]
            ),
            buildReceipt: Fixture.receipt
        )
        _ = try await store.accept(
            Fixture.incoming(
                Fixture.id(2),
                seq: 2,
                references: [MessageReference(target: Fixture.id(1), relation: .respondsTo)]
            ),
            buildReceipt: Fixture.receipt
        )
        #expect(try await store.referenceChain(of: Fixture.id(1)).count == 2)
    }

    @Test func queriesUseIndexes() async throws {
        let store = try store
        let plans = try await store.pool.read { db in
            try [
                "SELECT * FROM message m WHERE m.direction = 1 AND m.sender = 'RU-NRRC' AND m.created >= 0 AND m.created < 10 ORDER BY m.created DESC, m.rowid DESC LIMIT 100",
                "SELECT * FROM delivery WHERE recipient = 'RU-NRRC' AND state = 'pending' AND next_attempt <= 5",
                "SELECT * FROM delivery WHERE state = 'pending'",
                "SELECT * FROM reference WHERE target = x'00'",
                "SELECT * FROM receipt WHERE message_id = x'00'",
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

    /// The delivery loop asks for the next few due deliveries of a peer many times a second; with
    /// thousands queued, sorting them all each time dominated the sender's CPU.
    @Test func dueDeliveriesWalkTheChannelOrderIndexWithoutSorting() async throws {
        let store = try store
        for i in 1...300 {
            _ = try await store.enqueue(sender: Fixture.us.pid, recipients: [Fixture.ru.pid, Fixture.hcoc.pid]) { _ in
                Fixture.fields(Fixture.id(1_000 + i))
            }
        }
        let plan = try await store.pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    EXPLAIN QUERY PLAN SELECT d.seq FROM delivery d INDEXED BY delivery_pending_order JOIN message m ON m.rowid = d.message
                    WHERE d.recipient = 'RU-NRRC' AND d.state = 'pending' AND d.next_attempt <= 5 ORDER BY d.sender, d.seq LIMIT 3
                    """
            ).map { $0["detail"] as String }.joined(separator: "; ")
        }
        #expect(plan.contains("USING INDEX delivery_pending_order"), "\(plan)")
        #expect(!plan.contains("TEMP B-TREE"), "\(plan)")
        let due = try await store.dueDeliveries(to: "RU-NRRC".pid, at: Date().addingTimeInterval(60), limit: 3)
        #expect(due.map(\.record.sequenceNumber) == [1, 2, 3])
        #expect(due.allSatisfy { $0.record.recipient == "RU-NRRC" && !$0.bytes.isEmpty })
    }
}
