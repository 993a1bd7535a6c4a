import Foundation
import Testing

/// Locations and small helpers shared by the ParleyCrypto tests.
enum TestSupport {
    /// `Tests/ParleyCryptoTests/Vectors`, found from this file's path.
    static let vectorsDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()
        .appendingPathComponent("Vectors")

    static func vector(_ relativePath: String) throws -> Data {
        try Data(contentsOf: vectorsDirectory.appendingPathComponent(relativePath))
    }
}
