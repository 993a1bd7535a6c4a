import Foundation
import Testing

/// Locations and small helpers shared by the ParleyCrypto tests.
enum TestSupport {
    /// `Tests/ParleyCryptoTests/Vectors`, found from this file's path.
    static let vectorsDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()
        .appendingPathComponent("Vectors")

    /// The package root (two levels above this file's directory).
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()
        .deletingLastPathComponent()
        .deletingLastPathComponent()

    static func vector(_ relativePath: String) throws -> Data {
        try Data(contentsOf: vectorsDirectory.appendingPathComponent(relativePath))
    }

    static func bytes(hex: String) -> [UInt8] {
        precondition(hex.count % 2 == 0, "odd-length hex")
        var bytes: [UInt8] = []
        bytes.reserveCapacity(hex.count / 2)
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            bytes.append(UInt8(hex[index..<next], radix: 16)!)
            index = next
        }
        return bytes
    }

    /// A fresh empty directory under the system temporary directory.
    static func temporaryDirectory(_ name: String = "parley-crypto-tests") throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("\(name)-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}
