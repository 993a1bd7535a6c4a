#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Reading and writing the small files ParleyCrypto deals with (keys, certificates, CRLs), with limits.
enum FileAccess {
    struct Contents {
        var bytes: [UInt8]
        /// Permission bits (`st_mode & 0o7777`).
        var mode: UInt32
        /// The owner's user id.
        var owner: uid_t
    }

    /// Reads a regular file of at most `limit` bytes. The mode is taken from the opened file (fstat),
    /// so the check and the read concern the same file.
    static func read(path: String, limit: Int, what: String) throws -> Contents {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw CryptoError(.fileAccess, "cannot open \(what) \(path): \(errnoDescription())")
        }
        defer { close(descriptor) }

        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            throw CryptoError(.fileAccess, "cannot stat \(what) \(path): \(errnoDescription())")
        }
        guard (status.st_mode & S_IFMT) == S_IFREG else {
            throw CryptoError(.fileAccess, "\(what) \(path) is not a regular file")
        }
        guard Int(status.st_size) <= limit else {
            throw CryptoError(.tooLarge, "\(what) \(path) has \(status.st_size) bytes; the limit is \(limit)")
        }

        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc_read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw CryptoError(.fileAccess, "cannot read \(what) \(path): \(errnoDescription())")
            }
            if count == 0 { break }
            bytes.append(contentsOf: chunk[0..<count])
            guard bytes.count <= limit else {
                throw CryptoError(.tooLarge, "\(what) \(path) is larger than the limit of \(limit) bytes")
            }
        }
        return Contents(bytes: bytes, mode: UInt32(status.st_mode) & 0o7777, owner: status.st_uid)
    }

    /// Creates `path` with `mode` (never overwriting) and writes `bytes` durably (`DurableFile`).
    static func createNew(path: String, bytes: [UInt8], mode: mode_t, what: String) throws {
        do {
            try DurableFile.write(bytes, to: path, mode: mode)
        } catch {
            switch error.step {
            case .exists:
                throw CryptoError(
                    .fileExists,
                    "\(what) \(path) already exists; refusing to overwrite it (move it away first)"
                )
            case .create:
                throw CryptoError(.fileAccess, "cannot create \(what) \(path): \(error)")
            case .write, .sync, .rename:
                throw CryptoError(.fileAccess, "cannot write \(what) \(path): \(error)")
            }
        }
    }

    static func errnoDescription() -> String {
        String(cString: strerror(errno))
    }

    /// The user's name from the password database, or the number when it has none.
    static func userName(_ uid: uid_t) -> String {
        guard let entry = getpwuid(uid), let name = entry.pointee.pw_name else { return "uid \(uid)" }
        return String(cString: name)
    }

    static func octal(_ mode: UInt32) -> String {
        let digits = String(mode, radix: 8)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}

// `read` and `write` are shadowed by members in some scopes; name the C functions explicitly.
@inline(__always)
private func Glibc_read(_ fd: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int {
    read(fd, buffer, count)
}

@inline(__always)
private func Glibc_write(_ fd: Int32, _ buffer: UnsafeRawPointer?, _ count: Int) -> Int {
    write(fd, buffer, count)
}
