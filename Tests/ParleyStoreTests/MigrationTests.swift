import Foundation
import GRDB
import Testing
import ParleyProtocol
@testable import ParleyStore
import ParleyTestSupport

@Suite struct MigrationTests {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/store-v1.sql")

    /// Builds a version-1 store from the frozen fixture SQL.
    func makeV1Store(at path: String) throws {
        let sql = try String(contentsOf: Self.fixture, encoding: .utf8)
        let queue = try DatabaseQueue(path: path)
        try queue.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA journal_mode = WAL")
            try db.inTransaction {
                try db.execute(sql: sql)
                return .commit
            }
        }
        try queue.close()
    }

    @Test func fixtureIsVersionOne() async throws {
        let dir = TemporaryDirectory()
        let path = dir.path("v1.sqlite")
        try makeV1Store(at: path)
        let queue = try DatabaseQueue(path: path)
        #expect(try await queue.read { try Int.fetchOne($0, sql: "PRAGMA user_version") } == 1)
        #expect(try await queue.read { try $0.tableExists("message_fts") } == false)
    }

    @Test func migratesVersionOneWithoutLoss() async throws {
        let dir = TemporaryDirectory()
        let path = dir.path("v1.sqlite")
        try makeV1Store(at: path)
        let store = try ParleyStore(path: path)
        #expect(try await store.storedSchemaVersion() == Schema.currentVersion)
        try await store.checkIntegrity()

        // Data kept, exactly.
        let one = try #require(try await store.message(MessageID(Data(repeating: 1, count: 16))!))
        #expect(one.message.fields.bytes == Data([0xD2, 0x84]) + Data("fixture message one (received)".utf8))
        #expect(one.message.digest == one.message.fields.bytes.sha256)
        #expect(one.receipts.map(\.bytes) == [Data("receipt issued for one".utf8)])
        let three = try #require(try await store.message(MessageID(Data(repeating: 3, count: 16))!))
        #expect(three.deliveries.map(\.state) == [.pending, .delivered])
        #expect(try await store.gaps().map(\.missing) == [2...2])
        #expect(try await store.auditEvents().count == 5)

        // The v2 full-text index covers rows written by v1, accents folded.
        #expect(
            try await store.inbox(InboxQuery(remarksContaining: "weather")).map(\.fields.id.data) == [
                Data(repeating: 1, count: 16)
            ]
        )
        #expect(
            try await store.inbox(InboxQuery(remarksContaining: "annule techniques")).map(\.fields.id.data) == [
                Data(repeating: 2, count: 16)
            ]
        )

        // And the store carries on: channels continue where v1 left them.
        let queued = try await store.queue(Fixture.id(10))
        #expect(queued.sequenceNumbers == [Fixture.hcoc: 2, Fixture.ru: 2])
        let late = Fixture.incoming(
            Fixture.id(11),
            seq: 2,
            remarks: try! LocalizedText(language: "en", text: "late arrival")
        )
        #expect(
            try await store.accept(late, buildReceipt: Fixture.receipt)
                == .accepted(receipt: Fixture.receipt(for: late), channel: .gapFilled)
        )
        #expect(try await store.gaps().isEmpty)
        #expect(try await store.incomingChannels().map(\.contiguous) == [3])
        #expect(try await store.inbox(InboxQuery(remarksContaining: "late")).count == 1)
    }

    @Test func migrationIsIdempotentOnReopen() async throws {
        let dir = TemporaryDirectory()
        let path = dir.path("v1.sqlite")
        try makeV1Store(at: path)
        do { _ = try ParleyStore(path: path) }
        let store = try ParleyStore(path: path)
        #expect(try await store.storedSchemaVersion() == Schema.currentVersion)
        #expect(try await store.inbox(InboxQuery()).count == 2)
    }
}
