#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A file that appears under its name only when it is complete and on disk: written to
/// `<path>.partial`, synced, renamed into place, and its directory synced. A crash, a full disk or a
/// failed check before `commit` leaves the old file (or none) under `path`, never a torn one.
/// Used for the archive, exported archives, signed messages and the CLI's sequence state.
public final class DurableFile {
    public let path: String
    /// Where the bytes go until `commit`; a caller may read it back to check it first.
    public let temporaryPath: String
    private let replacing: Bool
    private var descriptor: Int32

    /// Opens `<path>.partial` (mode `mode`). Without `replacing`, `path` must not exist, and a
    /// `.partial` left by an interrupted write is not overwritten either (the error says so).
    public init(path: String, mode: mode_t = 0o644, replacing: Bool = false) throws(DurableFileError) {
        self.path = path
        self.replacing = replacing
        temporaryPath = path + ".partial"
        if !replacing, access(path, F_OK) == 0 {
            throw DurableFileError(.exists, path: path, errno: EEXIST)
        }
        let flags = O_WRONLY | O_CREAT | O_CLOEXEC | (replacing ? O_TRUNC : O_EXCL)
        descriptor = open(temporaryPath, flags, mode)
        guard descriptor >= 0 else { throw DurableFileError(.create, path: temporaryPath, errno: errno) }
    }

    deinit { abandon() }

    /// Appends `bytes`.
    public func write(_ bytes: some Collection<UInt8>) throws(DurableFileError) {
        let failure: Int32? =
            bytes.withContiguousStorageIfAvailable { buffer in
                Self.writeAll(descriptor, UnsafeRawBufferPointer(buffer))
            } ?? Array(bytes).withUnsafeBytes { Self.writeAll(descriptor, $0) }
        if let failure { throw DurableFileError(.write, path: temporaryPath, errno: failure) }
    }

    /// Syncs the bytes, renames them into place and syncs the directory.
    public func commit() throws(DurableFileError) {
        precondition(descriptor >= 0, "DurableFile committed after it was closed")
        if fsync(descriptor) != 0 { throw DurableFileError(.sync, path: temporaryPath, errno: errno) }
        close(descriptor)
        descriptor = -1
        if !replacing, access(path, F_OK) == 0 {
            throw DurableFileError(.exists, path: path, errno: EEXIST)
        }
        guard rename(temporaryPath, path) == 0 else {
            throw DurableFileError(.rename, path: path, errno: errno)
        }
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
        let directoryDescriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryDescriptor >= 0 {
            // The rename is the commit; a directory that cannot be synced (some file systems) is not a failure.
            _ = fsync(directoryDescriptor)
            close(directoryDescriptor)
        }
    }

    /// Closes and removes the temporary file, if `commit` has not run.
    public func abandon() {
        guard descriptor >= 0 else { return }
        close(descriptor)
        descriptor = -1
        unlink(temporaryPath)
    }

    /// Writes `bytes` to `path` durably in one go.
    public static func write(
        _ bytes: some Collection<UInt8>,
        to path: String,
        mode: mode_t = 0o644,
        replacing: Bool = false
    ) throws(DurableFileError) {
        let file = try DurableFile(path: path, mode: mode, replacing: replacing)
        try file.write(bytes)
        try file.commit()
    }

    /// Writes the whole buffer (retrying after signals); the errno of a failure, or nil.
    private static func writeAll(_ descriptor: Int32, _ buffer: UnsafeRawBufferPointer) -> Int32? {
        var offset = 0
        while offset < buffer.count {
            let count = Glibc_write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
            if count < 0 {
                if errno == EINTR { continue }
                return errno
            }
            offset += count
        }
        return nil
    }
}

/// Why a `DurableFile` could not be written: the step, the file and the system's reason.
public typealias DurableFileError = FileError<DurableFile.Step>

extension DurableFile {
    public enum Step: FileErrorStep {
        /// The file exists already (and was not to be replaced).
        case exists
        case create, write, sync, rename

        public func describe(path: String, errno: Int32, reason: String) -> String {
            switch self {
            case .exists: "\(path) exists already"
            case .create:
                "cannot create \(path): \(reason)"
                    + (errno == EEXIST ? " (left by an interrupted write? remove it)" : "")
            case .write: "cannot write \(path): \(reason)"
            case .sync: "cannot sync \(path): \(reason)"
            case .rename: "cannot move the finished file into place as \(path): \(reason)"
            }
        }
    }
}

// `write` is shadowed by the method above; name the C function explicitly.
@inline(__always)
private func Glibc_write(_ descriptor: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    write(descriptor, buffer, count)
}
