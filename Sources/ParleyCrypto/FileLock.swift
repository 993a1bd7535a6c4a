#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// An exclusive advisory lock (`flock`) on a file, created if needed, held until `release` or until
/// the lock is released from memory; the kernel drops it however the process ends. parleyd holds
/// one on its data directory, `parley compose` on its sequence state.
public final class FileLock {
    public let path: String
    private var descriptor: Int32

    /// Opens `path` (creating it with `mode`) and locks it. With `wait`, blocks until the lock is
    /// free; without, throws `FileLockError.Step.held` at once when another process holds it.
    public init(path: String, mode: mode_t = 0o644, wait: Bool = true) throws(FileLockError) {
        self.path = path
        descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, mode)
        guard descriptor >= 0 else { throw FileLockError(.open, path: path, errno: errno) }
        var locked = flock(descriptor, wait ? LOCK_EX : LOCK_EX | LOCK_NB) == 0
        while !locked && errno == EINTR {
            locked = flock(descriptor, wait ? LOCK_EX : LOCK_EX | LOCK_NB) == 0
        }
        guard locked else {
            let failure = errno
            close(descriptor)
            throw FileLockError(failure == EWOULDBLOCK ? .held : .lock, path: path, errno: failure)
        }
    }

    deinit { release() }

    /// Replaces the lock file's contents with `text` (e.g. the holder's process id, for the error
    /// another process shows).
    public func record(_ text: String) {
        guard descriptor >= 0 else { return }
        let bytes = Array(text.utf8)
        _ = ftruncate(descriptor, 0)
        _ = pwrite(descriptor, bytes, bytes.count, 0)
    }

    public func release() {
        guard descriptor >= 0 else { return }
        flock(descriptor, LOCK_UN)
        close(descriptor)
        descriptor = -1
    }
}

/// Why a `FileLock` was not taken: the step, the file and the system's reason.
public typealias FileLockError = FileError<FileLock.Step>

extension FileLock {
    public enum Step: FileErrorStep {
        case open
        /// Another process holds the lock (only without waiting).
        case held
        case lock

        public func describe(path: String, errno: Int32, reason: String) -> String {
            switch self {
            case .open: "cannot create lock file \(path): \(reason)"
            case .held: "\(path) is locked by another process"
            case .lock: "cannot lock \(path): \(reason)"
            }
        }
    }
}
