import GRDB

/// The one error type of ParleyStore: what failed, why, and what to do about it.
public struct StoreError: Error, Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The kind of failure; stable for programs to switch on.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        public let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// The disk (or the configured size limit) is full (SQLITE_FULL).
        public static let diskFull = Code("disk-full")
        /// The store's file or file system is read-only, or the store was opened read-only (SQLITE_READONLY).
        public static let readOnly = Code("read-only")
        /// The file is not a SQLite database or is damaged (SQLITE_CORRUPT, SQLITE_NOTADB).
        public static let corrupt = Code("corrupt")
        /// The store was written by newer code; this code refuses to touch it.
        public static let schemaTooNew = Code("schema-too-new")
        /// A read-only open found a store that needs a migration first.
        public static let schemaTooOld = Code("schema-too-old")
        /// The file is a SQLite database, but not a Parley store.
        public static let notAParleyStore = Code("not-a-parley-store")
        /// A uniqueness, foreign-key or immutability rule of the store would be broken.
        public static let constraintViolation = Code("constraint-violation")
        /// The message, delivery or receipt named does not exist.
        public static let notFound = Code("not-found")
        /// The operation is not allowed in the current state (e.g. marking a delivered message in flight).
        public static let invalidState = Code("invalid-state")
        /// An argument is out of range or malformed (caller bug).
        public static let invalidArgument = Code("invalid-argument")
        /// The database is locked by another process for longer than the busy timeout.
        public static let busy = Code("busy")
        /// The file cannot be opened (missing directory, permissions).
        public static let cannotOpen = Code("cannot-open")
        /// An operating-system I/O error while reading or writing the store or an archive.
        public static let io = Code("io")
        /// An archive file is malformed, truncated, or fails its digest check.
        public static let archiveInvalid = Code("archive-invalid")
        /// An archive conflicts with the store (same message id, different bytes).
        public static let archiveConflict = Code("archive-conflict")
        /// The calling task was cancelled before the operation committed (the daemon is stopping);
        /// nothing of it was written.
        public static let cancelled = Code("cancelled")
        /// Any other SQLite failure.
        public static let database = Code("database")
    }

    public let code: Code
    /// What failed and what to do, for an operator.
    public let reason: String
    public let file: String
    public let line: Int

    public init(_ code: Code, _ reason: String, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.reason = reason
        self.file = file
        self.line = line
    }

    /// For an operator: what failed and what to do; no source locations.
    public var description: String { reason }

    /// For a developer: the code and where the error was raised.
    public var debugDescription: String { "ParleyStore \(code): \(reason) (\(file):\(line))" }

    public static func == (lhs: StoreError, rhs: StoreError) -> Bool {
        lhs.code == rhs.code && lhs.reason == rhs.reason
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(code)
        hasher.combine(reason)
    }
}

extension StoreError {
    /// The calling task was cancelled: GRDB interrupts the statement and rolls the transaction back.
    static func cancelled(path: String, file: String = #fileID, line: Int = #line) -> StoreError {
        StoreError(
            .cancelled,
            "the operation on the store \(path) was cancelled before it completed (the daemon is stopping); nothing of it was written. Retry it if it still matters.",
            file: file,
            line: line
        )
    }

    /// Translates a SQLite failure into an operator-facing error for the store at `path`.
    static func from(_ error: DatabaseError, path: String, file: String = #fileID, line: Int = #line) -> StoreError {
        let detail = error.message ?? "\(error.resultCode)"
        switch error.resultCode {
        case .SQLITE_FULL:
            return StoreError(
                .diskFull,
                "the store \(path) cannot grow: the disk is full or the store reached its configured size limit (\(detail)); nothing from this operation was written. Free disk space (or raise the limit) and retry.",
                file: file,
                line: line
            )
        case .SQLITE_READONLY:
            return StoreError(
                .readOnly,
                "the store \(path) is read-only (\(detail)); nothing was written. Check the file system is mounted read-write and the daemon owns the file and its directory, or use a read-write open.",
                file: file,
                line: line
            )
        case .SQLITE_CORRUPT, .SQLITE_NOTADB:
            return StoreError(
                .corrupt,
                "the store \(path) is damaged or not a SQLite database (\(detail)). Stop the daemon, keep the file for analysis, and restore the last backup or import the last archive into a new store.",
                file: file,
                line: line
            )
        case .SQLITE_CONSTRAINT:
            return StoreError(
                .constraintViolation,
                "the store \(path) refused a change that would break its rules (\(detail)); nothing was written.",
                file: file,
                line: line
            )
        case .SQLITE_BUSY, .SQLITE_LOCKED:
            return StoreError(
                .busy,
                "the store \(path) is locked by another process (\(detail)); make sure only one daemon uses it, then retry.",
                file: file,
                line: line
            )
        case .SQLITE_CANTOPEN:
            return StoreError(
                .cannotOpen,
                "cannot open the store \(path) (\(detail)); check the directory exists and the daemon may read and write it.",
                file: file,
                line: line
            )
        case .SQLITE_IOERR:
            return StoreError(
                .io,
                "I/O error on the store \(path) (\(detail)); check the disk and the kernel log; nothing from this operation was committed.",
                file: file,
                line: line
            )
        default:
            return StoreError(.database, "SQLite error on the store \(path): \(detail)", file: file, line: line)
        }
    }
}
