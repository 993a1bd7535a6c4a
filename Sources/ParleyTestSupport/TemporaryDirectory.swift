import Foundation
import Synchronization

/// A new empty directory under /tmp, removed when the test process exits. Its path is short, because
/// a Unix socket's path is limited to 107 bytes.
public func temporaryDirectory(_ prefix: String = "parley-test") throws -> URL {
    let url = URL(fileURLWithPath: "/tmp/\(prefix)-\(UUID().uuidString.prefix(8).lowercased())")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    let first = temporaryDirectories.withLock { paths in
        paths.append(url.path)
        return paths.count == 1
    }
    if first {
        atexit {
            for path in temporaryDirectories.withLock({ $0 }) { try? FileManager.default.removeItem(atPath: path) }
        }
    }
    return url
}

private let temporaryDirectories = Mutex<[String]>([])

/// A new empty directory under /tmp, removed when released (or at exit, whichever comes first).
public final class TemporaryDirectory: Sendable {
    public let url: URL

    public init(_ prefix: String = "parley-test") {
        do {
            url = try temporaryDirectory(prefix)
        } catch {
            fatalError("cannot create a temporary directory under /tmp: \(error)")
        }
    }

    public func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    /// Writes `text` to the file `name` in this directory and returns its path.
    @discardableResult
    public func write(_ name: String, _ text: String) -> String {
        let path = path(name)
        _ = FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
        return path
    }

    deinit { try? FileManager.default.removeItem(at: url) }
}
