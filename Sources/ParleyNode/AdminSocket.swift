import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The admin API's Unix socket file: what may be replaced at start, and who may connect.
enum AdminSocket {
    /// The group used when `admin.group` is not set, if it exists.
    static let defaultGroup = "parley"

    /// Where the socket is bound before it is renamed to `path`.
    static func temporaryPath(_ path: String) -> String { path + "~" }

    /// Why `path` cannot be used for the admin socket (something other than a socket is there), or nil.
    static func checkPath(_ path: String) -> String? {
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        guard (info.st_mode & S_IFMT) == S_IFSOCK else {
            return "\(path) exists and is not a socket; it is left alone: remove it or choose another admin.socket"
        }
        return nil
    }

    /// Removes a stale socket file left by an earlier run. Throws `ConfigurationError` when the path
    /// holds something else, or a daemon still listens on it.
    static func prepare(path: String) throws {
        if let problem = checkPath(path) {
            throw ConfigurationError(file: nil, problems: [.init(key: "admin.socket", problem)])
        }
        guard FileManager.default.fileExists(atPath: path) else { return }
        if isListening(path) {
            throw ConfigurationError(
                file: nil,
                problems: [
                    .init(
                        key: "admin.socket",
                        "another process (a running parleyd?) listens on \(path); stop it or choose another admin.socket"
                    )
                ]
            )
        }
        unlink(path)
    }

    /// Sets the socket's group (`group`, else `parley` if it exists) and mode 0660. Returns what was
    /// set, or what failed and what to do.
    static func restrict(path: String, group: String?) -> Result<String, AdminSocketProblem> {
        var granted = "mode 0660"
        if let name = group ?? (groupID(defaultGroup) != nil ? defaultGroup : nil) {
            guard let gid = groupID(name) else {
                chmod(path, 0o600)
                return .failure(
                    AdminSocketProblem(
                        description: "group \(name) does not exist; the socket is left mode 0600 (only this user)"
                    )
                )
            }
            guard chown(path, uid_t.max, gid) == 0 else {
                let reason = String(cString: strerror(errno))
                chmod(path, 0o600)
                return .failure(
                    AdminSocketProblem(
                        description:
                            "cannot give the socket to group \(name): \(reason); the socket is left mode 0600 (only this user): run the daemon with \(name) among its groups"
                    )
                )
            }
            granted += ", group \(name)"
        }
        guard chmod(path, 0o660) == 0 else {
            return .failure(
                AdminSocketProblem(description: "cannot set mode 0660: \(String(cString: strerror(errno)))")
            )
        }
        return .success(granted)
    }

    static func groupID(_ name: String) -> gid_t? {
        var entry = group()
        var result: UnsafeMutablePointer<group>?
        var buffer = [CChar](repeating: 0, count: 16_384)
        guard getgrnam_r(name, &entry, &buffer, buffer.count, &result) == 0, result != nil else { return nil }
        return entry.gr_gid
    }

    /// Whether a process accepts connections on the socket at `path`.
    static func isListening(_ path: String) -> Bool {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (i, byte) in bytes.enumerated() { buffer[i] = byte }
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) == 0
            }
        }
    }
}

struct AdminSocketProblem: Error, CustomStringConvertible {
    var description: String
}
