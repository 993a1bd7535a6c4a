import Foundation
import GRDB

/// The node's durable state on SQLite: outbox, inbox, receipts, channel state and audit log.
///
/// One writer and many concurrent readers (a GRDB `DatabasePool` in WAL mode with
/// `synchronous=FULL`): once a method that writes returns, its change survives `kill -9` and power
/// loss. Every write is one transaction: it happens completely or not at all. Methods are `async`:
/// SQLite and fsync run on GRDB's own dispatch queues while the calling task is suspended, so they
/// never hold a thread of Swift's cooperative pool.
public final class ParleyStore: Sendable {
    /// How to open a store.
    public struct Options: Sendable {
        /// Open for reading only (CLI, metrics): never migrates or writes.
        public var readOnly: Bool
        /// How long to wait for a lock held by another process before failing with `.busy`.
        public var busyTimeout: TimeInterval
        /// An upper bound on the database file size; writes beyond it fail with `.diskFull`.
        public var maximumSizeBytes: Int64?

        public init(readOnly: Bool = false, busyTimeout: TimeInterval = 5, maximumSizeBytes: Int64? = nil) {
            self.readOnly = readOnly
            self.busyTimeout = busyTimeout
            self.maximumSizeBytes = maximumSizeBytes
        }
    }

    /// The schema version this code reads and writes.
    public static let schemaVersion = Schema.currentVersion

    /// The database file.
    public let path: String
    public let options: Options
    let pool: DatabasePool

    /// Opens (creating if needed) the store at `path` and migrates it to the current schema.
    ///
    /// A store written by newer code is refused with `.schemaTooNew` and left untouched (it is
    /// inspected through a read-only connection before anything opens it for writing).
    public init(path: String, options: Options = Options()) throws(StoreError) {
        self.path = path
        self.options = options
        if FileManager.default.fileExists(atPath: path) {
            try Self.preflight(path: path, options: options)
        } else if options.readOnly {
            throw StoreError(.cannotOpen, "no store at \(path); start the daemon once to create it, or check the path")
        }

        var config = Configuration()
        config.foreignKeysEnabled = true
        config.readonly = options.readOnly
        config.busyMode = .timeout(options.busyTimeout)
        config.maximumReaderCount = 8
        config.label = "ParleyStore"
        let maximumSize = options.maximumSizeBytes
        config.prepareDatabase { db in
            if let maximumSize {
                let pageSize = try Int64.fetchOne(db, sql: "PRAGMA page_size") ?? 4096
                try db.execute(sql: "PRAGMA max_page_count = \(max(1, maximumSize / pageSize))")
            }
        }
        do {
            pool = try DatabasePool(path: path, configuration: config)
            if options.readOnly {
                let version = try pool.read { try Int.fetchOne($0, sql: "PRAGMA user_version") ?? 0 }
                guard version == Schema.currentVersion else {
                    throw StoreError(
                        .schemaTooOld,
                        "the store \(path) has schema version \(version) and needs migrating to \(Schema.currentVersion); open it read-write once (start the daemon), then retry"
                    )
                }
            } else {
                // GRDB sets synchronous=NORMAL for WAL; NORMAL may lose the last commits on power
                // loss. FULL syncs the WAL on every commit: acknowledged means durable.
                try pool.writeWithoutTransaction { db in
                    try db.execute(sql: "PRAGMA synchronous = FULL")
                }
                try pool.read { db in try Self.checkVersion(db, path: path) }
                try Schema.migrator.migrate(pool)
            }
        } catch let error as StoreError {
            throw error
        } catch let error as DatabaseError {
            throw StoreError.from(error, path: path)
        } catch {
            throw StoreError(.database, "cannot open the store \(path): \(error)")
        }
    }

    /// Reads the version through a read-only connection, so that a file this code must refuse is
    /// never opened for writing.
    private static func preflight(path: String, options: Options) throws(StoreError) {
        var config = Configuration()
        config.readonly = true
        config.busyMode = .timeout(options.busyTimeout)
        config.label = "ParleyStore.preflight"
        do {
            let queue = try DatabaseQueue(path: path, configuration: config)
            try queue.read { db in try checkVersion(db, path: path) }
            try queue.close()
        } catch let error as StoreError {
            throw error
        } catch let error as DatabaseError {
            throw StoreError.from(error, path: path)
        } catch {
            throw StoreError(.database, "cannot inspect the store \(path): \(error)")
        }
    }

    private static func checkVersion(_ db: Database, path: String) throws {
        let applicationID = try Int32.fetchOne(db, sql: "PRAGMA application_id") ?? 0
        let version = try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0
        // GRDB's migrator creates its bookkeeping table before the first migration's transaction:
        // a store killed in between holds only that table, and is still a fresh store.
        let tableCount =
            try Int.fetchOne(
                db,
                sql: """
                    SELECT count(*) FROM sqlite_master WHERE name <> 'grdb_migrations' AND name NOT LIKE 'sqlite_%'
                    """
            ) ?? 0
        if applicationID != Schema.applicationID && (applicationID != 0 || tableCount > 0) {
            throw StoreError(
                .notAParleyStore,
                "\(path) is a SQLite database but not a Parley store (application id \(applicationID)); check the configured store path"
            )
        }
        if version > Schema.currentVersion {
            throw StoreError(
                .schemaTooNew,
                "the store \(path) has schema version \(version), newer than this software understands (\(Schema.currentVersion)); it was left untouched. Run the newer parleyd that wrote it, or restore a backup made for this version"
            )
        }
        if try Schema.migrator.hasBeenSuperseded(db) {
            throw StoreError(
                .schemaTooNew,
                "the store \(path) contains migrations this software does not know; it was left untouched. Run the newer parleyd that wrote it"
            )
        }
    }

    /// The schema version recorded in the file.
    public func storedSchemaVersion() async throws(StoreError) -> Int {
        try await read { db in try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0 }
    }

    /// Runs SQLite's `quick_check` (reads every page: time grows with the store). Returns nothing when
    /// the store is sound; throws `.corrupt` with SQLite's findings otherwise.
    public func checkIntegrity() async throws(StoreError) {
        let findings = try await read { db in try String.fetchAll(db, sql: "PRAGMA quick_check") }
        guard findings == ["ok"] else {
            throw StoreError(
                .corrupt,
                "the store \(path) failed its integrity check: \(findings.prefix(5).joined(separator: "; ")). Stop the daemon and restore a backup or the last archive"
            )
        }
    }

    // MARK: - Access helpers

    /// One write transaction, run on GRDB's writer queue: the calling task is suspended (no thread of
    /// the cooperative pool waits for SQLite or fsync) and resumes once the transaction has committed,
    /// so a returned value means durable. Maps SQLite failures to `StoreError`, passes other errors
    /// (those of a caller's `build` closure) through.
    func write<T: Sendable>(_ body: @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try await pool.write { db in try Self.transaction(db, body) }
        } catch let error as DatabaseError {
            throw StoreError.from(error, path: path)
        } catch is CancellationError {
            throw StoreError.cancelled(path: path)
        }
    }

    /// One read transaction on one of GRDB's reader connections (a snapshot: concurrent writes are
    /// not seen), without blocking the calling task's thread.
    func read<T: Sendable>(_ body: @Sendable (Database) throws -> T) async throws(StoreError) -> T {
        do {
            return try await pool.read(body)
        } catch {
            throw mapped(error, "reading")
        }
    }

    /// Same as `write`, for bodies that throw only store errors.
    func writeStore<T: Sendable>(_ body: @Sendable (Database) throws -> T) async throws(StoreError) -> T {
        do {
            return try await write(body)
        } catch {
            throw mapped(error, "writing")
        }
    }

    /// Blocking work that is not SQLite (reading or writing an archive file outside a transaction),
    /// on a dispatch queue rather than on the calling task's thread.
    static func offPool<T: Sendable>(
        _ body: @escaping @Sendable () throws(StoreError) -> T
    ) async throws(StoreError) -> T {
        let result: Result<T, StoreError> = await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(returning: Result { () throws(StoreError) -> T in try body() })
            }
        }
        return try result.get()
    }

    private func mapped(_ error: any Error, _ doing: String) -> StoreError {
        switch error {
        case let error as StoreError: error
        case let error as DatabaseError: StoreError.from(error, path: path)
        case is CancellationError: StoreError.cancelled(path: path)
        default: StoreError(.database, "\(doing) the store \(path) failed: \(error)")
        }
    }

    /// The body of every write transaction: the remarks of the messages it inserts are indexed just
    /// before it commits (`FullTextIndex`).
    private static func transaction<T>(_ db: Database, _ body: (Database) throws -> T) throws -> T {
        let mark = try FullTextIndex.mark(db)
        let result = try body(db)
        try FullTextIndex.indexMessages(db, after: mark)
        return result
    }
}

// MARK: - Time

/// Times are stored as whole seconds since 1970-01-01T00:00:00Z, as on the wire.
enum StoreTime {
    static func seconds(_ date: Date) -> Int64 {
        Int64(date.timeIntervalSince1970.rounded(.down))
    }

    static func date(_ seconds: Int64) -> Date {
        Date(timeIntervalSince1970: TimeInterval(seconds))
    }
}

extension UInt64 {
    /// Sequence numbers and type codes must fit SQLite's signed 64-bit integers.
    func storable(_ what: String) throws(StoreError) -> Int64 {
        guard self <= UInt64(Int64.max) else {
            throw StoreError(.invalidArgument, "\(what) \(self) is larger than the store supports (\(Int64.max))")
        }
        return Int64(self)
    }
}
