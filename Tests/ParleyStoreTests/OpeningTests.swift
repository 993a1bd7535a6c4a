import Foundation
import GRDB
import Testing
import ParleyProtocol
@testable import ParleyStore
import ParleyTestSupport

@Suite struct OpeningTests {
    @Test func createsStoreWithDurableSettings() async throws {
        let dir = TemporaryDirectory()
        let store = try ParleyStore(path: dir.path("store.sqlite"))
        #expect(try await store.storedSchemaVersion() == ParleyStore.schemaVersion)
        let (journal, synchronous, foreignKeys, applicationID) = try await store.pool.writeWithoutTransaction { db in
            (
                try String.fetchOne(db, sql: "PRAGMA journal_mode"), try Int.fetchOne(db, sql: "PRAGMA synchronous"),
                try Int.fetchOne(db, sql: "PRAGMA foreign_keys"), try Int32.fetchOne(db, sql: "PRAGMA application_id")
            )
        }
        #expect(journal == "wal")
        #expect(synchronous == 2, "synchronous must be FULL on the writer connection")
        #expect(foreignKeys == 1)
        #expect(applicationID == Schema.applicationID)
        try await store.checkIntegrity()
    }

    @Test func reopensAndKeepsData() async throws {
        let dir = TemporaryDirectory()
        let path = dir.path("store.sqlite")
        do {
            let store = try ParleyStore(path: path)
            try await store.queue(Fixture.id(1))
        }
        let store = try ParleyStore(path: path)
        #expect(try await store.message(Fixture.id(1))?.message.fields.bytes == Fixture.bytes("out", Fixture.id(1)))
        #expect(try await store.outgoingChannels().map(\.nextSequenceNumber) == [2, 2])
    }

    @Test func newerSchemaIsRefusedAndFileUntouched() async throws {
        let dir = TemporaryDirectory()
        let path = dir.path("store.sqlite")
        do {
            let store = try ParleyStore(path: path)
            try await store.queue(Fixture.id(1))
        }
        // Simulate a newer release: bump the version with plain SQLite, close (checkpoints the WAL).
        do {
            let queue = try DatabaseQueue(path: path)
            try await queue.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA user_version = 99")
                try db.execute(sql: "PRAGMA journal_mode = DELETE")
            }
            try queue.close()
        }
        let before = try #require(fileBytes(path))
        let error = try #require(throws: StoreError.self) { try ParleyStore(path: path) }
        #expect(error.code == .schemaTooNew)
        #expect(error.reason.contains("99"))
        #expect(error.reason.contains("left untouched"))
        #expect(fileBytes(path) == before, "the refused store must be byte-for-byte unchanged")
        #expect(!FileManager.default.fileExists(atPath: path + "-wal"))
        // Read-only opens refuse it too.
        #expect(throws: StoreError.self) { try ParleyStore(path: path, options: .init(readOnly: true)) }
        #expect(fileBytes(path) == before)
    }

    @Test func newerSchemaStillInTheWALIsRefusedAndFilesUntouched() async throws {
        let dir = TemporaryDirectory()
        let path = dir.path("store.sqlite")
        do {
            let store = try ParleyStore(path: path)
            try await store.queue(Fixture.id(1))
        }
        // A newer parleyd still running: its version bump sits in the WAL, not yet checkpointed.
        var config = Configuration()
        config.prepareDatabase { db in try db.execute(sql: "PRAGMA wal_autocheckpoint = 0") }
        let newer = try DatabasePool(path: path, configuration: config)
        try await newer.write { db in try db.execute(sql: "PRAGMA user_version = \(Schema.currentVersion + 1)") }
        let main = try #require(fileBytes(path))
        let wal = try #require(fileBytes(path + "-wal"))
        let error = try #require(throws: StoreError.self) { try ParleyStore(path: path) }
        #expect(error.code == .schemaTooNew)
        #expect(fileBytes(path) == main)
        #expect(fileBytes(path + "-wal") == wal)
        try newer.close()
    }

    @Test func unknownMigrationIsRefused() async throws {
        let dir = TemporaryDirectory()
        let path = dir.path("store.sqlite")
        _ = try ParleyStore(path: path)
        let queue = try DatabaseQueue(path: path)
        try await queue.write { db in
            try db.execute(sql: "INSERT INTO grdb_migrations VALUES ('v\(Schema.currentVersion + 1)-from-the-future')")
        }
        try queue.close()
        let error = try #require(throws: StoreError.self) { try ParleyStore(path: path) }
        #expect(error.code == .schemaTooNew)
    }

    /// A first open killed after GRDB created its migrations table but before the first migration
    /// committed leaves only that table: the next open must treat the file as a new store.
    @Test func storeKilledDuringItsFirstMigrationOpensAsNew() async throws {
        let dir = TemporaryDirectory()
        let path = dir.path("store.sqlite")
        let queue = try DatabaseQueue(path: path)
        try await queue.write { db in
            try db.execute(sql: "CREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY)")
        }
        try queue.close()
        let store = try ParleyStore(path: path)
        #expect(try await store.storedSchemaVersion() == ParleyStore.schemaVersion)
        try await store.queue(Fixture.id(1))
    }

    @Test func foreignDatabaseIsRefused() async throws {
        let dir = TemporaryDirectory()
        let path = dir.path("other.sqlite")
        let queue = try DatabaseQueue(path: path)
        try await queue.write { db in try db.execute(sql: "CREATE TABLE accounts (id INTEGER PRIMARY KEY)") }
        try queue.close()
        let before = fileBytes(path)
        let error = try #require(throws: StoreError.self) { try ParleyStore(path: path) }
        #expect(error.code == .notAParleyStore)
        #expect(fileBytes(path) == before)
    }

    @Test func garbageFileIsCorrupt() async throws {
        let dir = TemporaryDirectory()
        let path = dir.path("store.sqlite")
        let garbage = Data((0..<8192).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ 7) })
        try garbage.write(to: URL(fileURLWithPath: path))
        let error = try #require(throws: StoreError.self) { try ParleyStore(path: path) }
        #expect(error.code == .corrupt)
        #expect(error.reason.contains("restore"))
        #expect(fileBytes(path) == garbage)
    }

    @Test func damagedPagesAreCorrupt() async throws {
        let dir = TemporaryDirectory()
        let path = dir.path("store.sqlite")
        do {
            let store = try ParleyStore(path: path)
            for n in 1...300 { try await store.queue(Fixture.id(n)) }
        }
        // Overwrite everything after the first page (the header stays valid).
        var bytes = try #require(fileBytes(path))
        #expect(bytes.count > 16 * 4096)
        for i in 4096..<bytes.count { bytes[i] = UInt8(truncatingIfNeeded: i &* 73) }
        try bytes.write(to: URL(fileURLWithPath: path))
        let error = try await #require(throws: StoreError.self) {
            let store = try ParleyStore(path: path)
            _ = try await store.inbox(InboxQuery(limit: 10))
            _ = try await store.outbox(OutboxQuery(limit: 1000))
            try await store.checkIntegrity()
        }
        #expect(error.code == .corrupt)
    }

    @Test func readOnlyOpenRefusesWrites() async throws {
        let dir = TemporaryDirectory()
        let path = dir.path("store.sqlite")
        do {
            let store = try ParleyStore(path: path)
            try await store.queue(Fixture.id(1))
        }
        let reader = try ParleyStore(path: path, options: .init(readOnly: true))
        #expect(try await reader.message(Fixture.id(1)) != nil)
        let error = try await #require(throws: StoreError.self) { try await reader.queue(Fixture.id(2)) }
        #expect(error.code == .readOnly)
        #expect(try await reader.message(Fixture.id(2)) == nil)
        #expect(try await reader.outgoingChannels().map(\.nextSequenceNumber) == [2, 2])
    }

    @Test func readOnlyOpenOfMissingStoreFails() async throws {
        let dir = TemporaryDirectory()
        let error = try #require(throws: StoreError.self) {
            try ParleyStore(path: dir.path("absent.sqlite"), options: .init(readOnly: true))
        }
        #expect(error.code == .cannotOpen)
    }

    // As root the kernel ignores file modes: this case runs unprivileged only (see immutableFileIsReadOnly).
    @Test(.enabled(if: getuid() != 0, "root ignores file modes"))
    func readOnlyFileIsReportedWhenNotRoot() async throws {
        let dir = TemporaryDirectory()
        let path = dir.path("store.sqlite")
        do { _ = try ParleyStore(path: path) }
        chmod(path, 0o444)
        chmod(dir.url.path, 0o555)
        defer { chmod(dir.url.path, 0o755) }
        let error = try await #require(throws: StoreError.self) {
            let store = try ParleyStore(path: path)
            try await store.queue(Fixture.id(1))
        }
        #expect([.readOnly, .cannotOpen].contains(error.code))
    }

    /// A file the kernel refuses to open for writing, even for root: `chattr +i` (immutable).
    @Test(
        .enabled(
            if: Immutable.available,
            "needs chattr and CAP_LINUX_IMMUTABLE on an ext2/3/4 or xfs temporary directory"
        )
    )
    func immutableFileIsReadOnly() async throws {
        let dir = TemporaryDirectory()
        let path = dir.path("store.sqlite")
        do {
            let store = try ParleyStore(path: path)
            try await store.queue(Fixture.id(1))
        }
        let before = try #require(fileBytes(path))
        try #require(Immutable.set(path, true))
        defer { _ = Immutable.set(path, false) }
        let error = try await #require(throws: StoreError.self) {
            let store = try ParleyStore(path: path)
            try await store.queue(Fixture.id(2))
        }
        #expect(error.code == .readOnly, "\(error)")
        #expect(error.reason.contains("read-only"))
        #expect(fileBytes(path) == before)
        // Reading still works.
        let reader = try ParleyStore(path: path, options: .init(readOnly: true))
        #expect(try await reader.message(Fixture.id(1)) != nil)
    }

    @Test func missingDirectoryCannotOpen() async throws {
        let dir = TemporaryDirectory()
        let error = try #require(throws: StoreError.self) {
            try ParleyStore(path: dir.path("no/such/dir/store.sqlite"))
        }
        #expect(error.code == .cannotOpen)
    }

    @Test func diskFullIsTypedAndWritesNothing() async throws {
        let dir = TemporaryDirectory()
        let path = dir.path("store.sqlite")
        let store = try ParleyStore(path: path, options: .init(maximumSizeBytes: 400 * 1024))
        var queued = 0
        var failure: StoreError?
        for n in 1...5000 {
            do {
                try await store.enqueue(sender: Fixture.us.pid, recipients: [Fixture.ru.pid]) { _ in
                    MessageFields(
                        id: Fixture.id(n),
                        bytes: Fixture.bytes("big", Fixture.id(n), size: 2000),
                        type: 1,
                        created: Fixture.base
                    )
                }
                queued += 1
            } catch let error as StoreError {
                failure = error
                break
            }
        }
        let error = try #require(failure)
        #expect(error.code == .diskFull)
        #expect(error.reason.contains("nothing from this operation was written"))
        #expect(queued > 10)
        // The failed message left no trace and consumed no sequence number.
        #expect(try await store.message(Fixture.id(queued + 1)) == nil)
        #expect(try await store.outgoingChannels().first?.nextSequenceNumber == UInt64(queued + 1))
        #expect(try await store.messageCounts().sent == queued)
        let seqs = try await store.pool.read { try Int64.fetchAll($0, sql: "SELECT seq FROM delivery ORDER BY seq") }
        #expect(seqs == (1...Int64(queued)).map { $0 })
    }
}

enum Immutable {
    static func set(_ path: String, _ on: Bool) -> Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/chattr")
        process.arguments = [on ? "+i" : "-i", path]
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }

    static let available: Bool = {
        let dir = TemporaryDirectory()
        let path = dir.path("probe")
        guard FileManager.default.createFile(atPath: path, contents: Data([1])), set(path, true) else { return false }
        defer { _ = set(path, false) }
        return FileHandle(forWritingAtPath: path) == nil
    }()
}
