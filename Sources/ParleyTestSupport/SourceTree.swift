import Foundation

/// The package's source tree (found from this file's path), for the scripts, documents and vectors
/// tests read.
public enum SourceTree {
    public static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// `relative` (e.g. `Certs/make-test-pki.sh`) below the package root.
    public static func url(_ relative: String) -> URL { root.appendingPathComponent(relative) }
}
