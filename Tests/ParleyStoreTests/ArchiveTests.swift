import Foundation
import GRDB
import ParleyCodec
import Testing
import ParleyProtocol
@testable import ParleyStore
import ParleyTestSupport

@Suite struct ArchiveTests {
    let dir = TemporaryDirectory()

    /// A store with both directions, receipts of every status, references, remarks, gaps.
    func populatedStore(_ name: String = "source.sqlite") async throws -> ParleyStore {
        let store = try ParleyStore(path: dir.path(name))
        for n in 1...20 {
            try await store.queue(
                Fixture.id(n),
                to: n % 2 == 0 ? [Fixture.ru, Fixture.hcoc] : [Fixture.ru],
                type: UInt64(n % 11 + 1),
                references: n > 1 ? [MessageReference(target: Fixture.id(n - 1), relation: .respondsTo)] : [],
                remarks: n % 4 == 0 ? try! LocalizedText(language: "fr", text: "remarque \(n) é") : nil,
                at: Fixture.base + Double(n * 10)
            )
        }
        for n in 1...8 {
            try await store.markInFlight(Fixture.id(n), recipient: Fixture.ru.pid, at: Fixture.base + 300)
            let status: ReceiptStatus =
                n == 3 ? .rejected(code: 11, reason: "invalid body: key 9") : n == 5 ? .duplicate : .accepted
            try await store.recordReceipt(
                ReceivedReceipt(
                    bytes: Data("rcpt \(n)".utf8),
                    messageID: Fixture.id(n),
                    recipient: Fixture.ru.pid,
                    status: status,
                    received: Fixture.base + 301
                )
            )
        }
        try await store.recordAttemptFailure(
            Fixture.id(10),
            recipient: Fixture.hcoc.pid,
            error: "TLS handshake failed",
            nextAttempt: Fixture.base + 900,
            at: Fixture.base + 302
        )
        for (n, seq) in [(101, 1), (102, 2), (105, 5), (107, 7)] {
            _ = try await store.accept(
                Fixture.incoming(
                    Fixture.id(n),
                    seq: UInt64(seq),
                    created: Fixture.base + Double(n),
                    references: [MessageReference(target: Fixture.id(1), relation: .acknowledges)],
                    remarks: try! LocalizedText(language: "ru", text: "сообщение \(n)"),
                    received: Fixture.base + Double(n * 2)
                ),
                buildReceipt: Fixture.receipt
            )
        }
        return store
    }

    let from = Fixture.base
    let to = Fixture.base + 10_000
    let created = Fixture.base + 20_000

    @Test func exportImportRoundTripIsByteForByte() async throws {
        let source = try await populatedStore()
        let first = dir.path("first.parley-archive")
        let summary = try await source.exportArchive(
            to: first,
            exporter: Fixture.us.pid,
            from: from,
            to: to,
            createdAt: created
        )
        #expect(summary.messages == 24)
        #expect(summary.receipts == 8 + 4)
        #expect(summary.channels == 3)
        #expect(try ParleyStore.verifyArchive(at: first) == summary)

        let target = try ParleyStore(path: dir.path("target.sqlite"))
        let imported = try await target.importArchive(from: first)
        #expect(imported.messagesAdded == 24 && imported.receiptsAdded == 12 && imported.channelsAdded == 3)

        let second = dir.path("second.parley-archive")
        try await target.exportArchive(to: second, exporter: Fixture.us.pid, from: from, to: to, createdAt: created)
        #expect(
            try #require(fileBytes(first)) == #require(fileBytes(second)),
            "re-export after import must be identical"
        )

        // Everything queryable survived, exactly.
        for n in [1, 3, 5, 10, 20, 101, 107] {
            let a = try #require(try await source.message(Fixture.id(n)))
            let b = try #require(try await target.message(Fixture.id(n)))
            #expect(a == b, "message \(n)")
        }
        #expect(try await source.outgoingChannels() == target.outgoingChannels())
        #expect(try await source.incomingChannels() == target.incomingChannels())
        #expect(try await target.inbox(InboxQuery(remarksContaining: "сообщение")).count == 4)
        // The imported store continues the channels without reusing numbers.
        #expect(try await target.queue(Fixture.id(500), to: [Fixture.ru]).sequenceNumbers == [Fixture.ru: 21])
    }

    @Test func importIsIdempotentAndLeavesExistingRowsAlone() async throws {
        let source = try await populatedStore()
        let path = dir.path("a.parley-archive")
        try await source.exportArchive(to: path, exporter: Fixture.us.pid, from: from, to: to, createdAt: created)
        // Importing into the store it came from adds nothing.
        let before = try tableSnapshot(source)
        let again = try await source.importArchive(from: path)
        #expect(again.messagesAdded == 0 && again.receiptsAdded == 0 && again.channelsAdded == 0)
        #expect(
            again.messagesAlreadyPresent == 24 && again.receiptsAlreadyPresent == 12
                && again.channelsAlreadyPresent == 3
        )
        #expect(try tableSnapshot(source) == before)

        let target = try ParleyStore(path: dir.path("t.sqlite"))
        try await target.importArchive(from: path)
        let once = try tableSnapshot(target)
        try await target.importArchive(from: path)
        #expect(try tableSnapshot(target) == once)
        #expect(try await target.auditEvents(kinds: [.imported]).count == 2)
    }

    @Test func partialRangeAndLaterReceiptsMerge() async throws {
        let source = try await populatedStore()
        let early = dir.path("early.parley-archive")
        let summary = try await source.exportArchive(
            to: early,
            exporter: Fixture.us.pid,
            from: from,
            to: Fixture.base + 55,
            createdAt: created
        )
        #expect(summary.messages == 5)
        let target = try ParleyStore(path: dir.path("t.sqlite"))
        try await target.importArchive(from: early)
        #expect(try await target.messageCounts().sent == 5)
        let full = dir.path("full.parley-archive")
        try await source.exportArchive(to: full, exporter: Fixture.us.pid, from: from, to: to, createdAt: created)
        let merged = try await target.importArchive(from: full)
        #expect(merged.messagesAdded == 19 && merged.messagesAlreadyPresent == 5)
        #expect(merged.channelsAlreadyPresent == 3)
    }

    @Test func tamperedArchiveIsRefused() async throws {
        let source = try await populatedStore()
        let path = dir.path("a.parley-archive")
        try await source.exportArchive(to: path, exporter: Fixture.us.pid, from: from, to: to, createdAt: created)
        let original = try #require(fileBytes(path))
        let target = try ParleyStore(path: dir.path("t.sqlite"))

        // Change one byte inside a message's signed bytes: still well-formed CBOR, digest fails.
        let marker = Data("out".utf8) + Fixture.id(7).bytes
        let range = try #require(original.range(of: marker))
        var altered = original
        altered[range.lowerBound + 5] ^= 0x01
        let alteredPath = dir.path("altered.parley-archive")
        try altered.write(to: URL(fileURLWithPath: alteredPath))
        let error = try await #require(throws: StoreError.self) { try await target.importArchive(from: alteredPath) }
        #expect(error.code == .archiveInvalid)
        #expect(error.reason.contains("SHA-256"))
        let counts = try await target.messageCounts()
        #expect(counts.sent == 0 && counts.received == 0)

        // Truncated.
        let truncatedPath = dir.path("truncated.parley-archive")
        try original.prefix(original.count - 10).write(to: URL(fileURLWithPath: truncatedPath))
        #expect(
            try #require(throws: StoreError.self) { try ParleyStore.verifyArchive(at: truncatedPath) }.code
                == .archiveInvalid
        )

        // Trailing bytes.
        let trailingPath = dir.path("trailing.parley-archive")
        try (original + Data([0x00])).write(to: URL(fileURLWithPath: trailingPath))
        #expect(
            try #require(throws: StoreError.self) { try ParleyStore.verifyArchive(at: trailingPath) }.code
                == .archiveInvalid
        )

        // Not an archive.
        let junkPath = dir.path("junk")
        try Data("hello".utf8).write(to: URL(fileURLWithPath: junkPath))
        #expect(
            try #require(throws: StoreError.self) { try ParleyStore.verifyArchive(at: junkPath) }.code
                == .archiveInvalid
        )
        #expect(try await target.auditEvents().isEmpty)
    }

    @Test func conflictingArchiveImportsNothing() async throws {
        let source = try await populatedStore()
        let path = dir.path("a.parley-archive")
        try await source.exportArchive(to: path, exporter: Fixture.us.pid, from: from, to: to, createdAt: created)
        // A store holding message 101 with other bytes (an equivocation the archive would hide).
        let target = try ParleyStore(path: dir.path("t.sqlite"))
        var forged = Fixture.incoming(Fixture.id(101), seq: 1)
        forged.fields.bytes = Data("forged".utf8)
        _ = try await target.accept(forged, buildReceipt: Fixture.receipt)
        let before = try tableSnapshot(target)
        let error = try await #require(throws: StoreError.self) { try await target.importArchive(from: path) }
        #expect(error.code == .archiveConflict)
        #expect(try tableSnapshot(target) == before)
    }

    @Test func readArchiveListsExactSignedItems() async throws {
        let source = try await populatedStore()
        let path = dir.path("a.parley-archive")
        try await source.exportArchive(to: path, exporter: Fixture.us.pid, from: from, to: to, createdAt: created)
        var messageBytes = [MessageID: Data]()
        var receipts = 0
        let summary = try ParleyStore.readArchive(at: path) { entry in
            switch entry {
            case .message(let m): messageBytes[m.fields.id] = m.fields.bytes
            case .receipt: receipts += 1
            default: break
            }
        }
        #expect(summary.header.exporter == Fixture.us)
        #expect(summary.header.created == created)
        #expect(messageBytes.count == 24 && receipts == 12)
        #expect(messageBytes[Fixture.id(101)] == Fixture.bytes("in", Fixture.id(101)))
    }

    @Test func existingArchiveIsNeverOverwritten() async throws {
        let source = try await populatedStore()
        let path = dir.path("a.parley-archive")
        try Data("keep me".utf8).write(to: URL(fileURLWithPath: path))
        #expect(
            try await #require(throws: StoreError.self) {
                try await source.exportArchive(to: path, exporter: Fixture.us.pid, from: from, to: to)
            }.code == .invalidArgument
        )
        #expect(fileBytes(path) == Data("keep me".utf8))
    }

    /// Writes `items` as an archive with a correct trailer (counts and digest), so that only the
    /// structural rule under test is broken.
    func handMade(_ name: String, _ items: [CBOR], messages: Int, receipts: Int, channels: Int) throws -> String {
        var bytes = [UInt8]()
        for item in items { ArchiveCBOR.encode(item, into: &bytes) }
        let digest = Data(bytes).sha256
        ArchiveCBOR.encode(
            ArchiveItems.trailer(messages: messages, receipts: receipts, channels: channels, digest: digest),
            into: &bytes
        )
        let path = dir.path(name)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    var header: CBOR {
        ArchiveItems.header(
            ArchiveHeader(
                formatVersion: 1,
                exporter: Fixture.us,
                from: from,
                to: to,
                created: created,
                storeSchemaVersion: 2
            )
        )
    }

    func sentMessage(
        _ n: Int,
        references: [MessageReference] = [],
        deliveries: [ArchivedDelivery]? = nil
    ) -> ArchivedMessage {
        ArchivedMessage(
            direction: .sent,
            sender: Fixture.us,
            fields: Fixture.fields(Fixture.id(n), references: references),
            stored: from,
            deliveries: deliveries ?? [
                ArchivedDelivery(
                    recipient: Fixture.ru,
                    sequenceNumber: UInt64(n),
                    state: .pending,
                    attempts: 0,
                    nextAttempt: from,
                    updated: from,
                    lastError: nil,
                    receiptDigest: nil
                )
            ],
            inbox: nil
        )
    }

    @Test func handMadeWellFormedArchiveVerifiesAndImports() async throws {
        let path = try handMade(
            "ok",
            [
                header, ArchiveItems.message(sentMessage(1)),
                ArchiveItems.outgoing(
                    OutgoingChannel(sender: Fixture.us, recipient: Fixture.ru, nextSequenceNumber: 2)
                ),
            ],
            messages: 1,
            receipts: 0,
            channels: 1
        )
        #expect(try ParleyStore.verifyArchive(at: path).messages == 1)
        let store = try ParleyStore(path: dir.path("s.sqlite"))
        try await store.importArchive(from: path)
        #expect(try await store.queue(Fixture.id(2), to: [Fixture.ru]).sequenceNumbers == [Fixture.ru: 2])
    }

    @Test func structuralRulesAreEnforced() async throws {
        let refs = [
            MessageReference(target: Fixture.id(9), relation: .respondsTo),
            MessageReference(target: Fixture.id(8), relation: .respondsTo),
        ]
        let unsortedRefs = try handMade(
            "refs",
            [header, ArchiveItems.message(sentMessage(1, references: refs))],
            messages: 1,
            receipts: 0,
            channels: 0
        )
        let twoDeliveries = [Fixture.ru, Fixture.hcoc].map {
            ArchivedDelivery(
                recipient: $0,
                sequenceNumber: 1,
                state: .pending,
                attempts: 0,
                nextAttempt: from,
                updated: from,
                lastError: nil,
                receiptDigest: nil
            )
        }
        let unsortedDeliveries = try handMade(
            "deliveries",
            [header, ArchiveItems.message(sentMessage(1, deliveries: twoDeliveries))],
            messages: 1,
            receipts: 0,
            channels: 0
        )
        var settled = sentMessage(1)
        settled.deliveries[0].state = .delivered
        settled.deliveries[0].receiptDigest = Data("missing receipt".utf8).sha256
        let missingReceipt = try handMade(
            "missing",
            [header, ArchiveItems.message(settled)],
            messages: 1,
            receipts: 0,
            channels: 0
        )
        let strayReceipt = try handMade(
            "stray",
            [
                header, ArchiveItems.message(sentMessage(1)),
                ArchiveItems.receipt(
                    StoredReceipt(
                        direction: .received,
                        messageID: Fixture.id(2),
                        signer: Fixture.ru,
                        status: .accepted,
                        stored: from,
                        bytes: Data("r".utf8),
                        digest: Data("r".utf8).sha256
                    )
                ),
            ],
            messages: 1,
            receipts: 1,
            channels: 0
        )
        let channelsOutOfOrder = try handMade(
            "channels",
            [
                header,
                ArchiveItems.outgoing(
                    OutgoingChannel(sender: Fixture.us, recipient: Fixture.ru, nextSequenceNumber: 2)
                ),
                ArchiveItems.outgoing(
                    OutgoingChannel(sender: Fixture.us, recipient: Fixture.hcoc, nextSequenceNumber: 2)
                ),
            ],
            messages: 0,
            receipts: 0,
            channels: 2
        )
        let messageAfterChannel = try handMade(
            "late",
            [
                header,
                ArchiveItems.outgoing(
                    OutgoingChannel(sender: Fixture.us, recipient: Fixture.ru, nextSequenceNumber: 2)
                ),
                ArchiveItems.message(sentMessage(1)),
            ],
            messages: 1,
            receipts: 0,
            channels: 1
        )
        let wrongCounts = try handMade(
            "counts",
            [header, ArchiveItems.message(sentMessage(1))],
            messages: 2,
            receipts: 0,
            channels: 0
        )
        let unknownVersion = try handMade(
            "version",
            [
                .array([
                    .uint(0),
                    .intMap([
                        1: .tstr("parley-archive"), 2: .uint(2), 3: .tstr(Fixture.us), 4: .time(0), 5: .time(1),
                        6: .time(1), 7: .uint(2),
                    ]),
                ])
            ],
            messages: 0,
            receipts: 0,
            channels: 0
        )
        for (path, expected) in [
            (unsortedRefs, "refs"), (unsortedDeliveries, "sorted by recipient"), (missingReceipt, "missing"),
            (strayReceipt, "does not follow"), (channelsOutOfOrder, "not in order"),
            (messageAfterChannel, "after channel"),
            (wrongCounts, "counts"), (unknownVersion, "format version 2"),
        ] {
            let error = try #require(throws: StoreError.self, "\(path)") { try ParleyStore.verifyArchive(at: path) }
            #expect(error.code == .archiveInvalid)
            #expect(error.reason.contains(expected), "\(error.reason)")
        }
    }
}
