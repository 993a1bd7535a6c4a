import Foundation
import ParleyCodec
import Testing
@testable import ParleyProtocol
import ParleyTestSupport

/// The committed vectors of `Protocol/vectors/`: one envelope per notification type and one receipt
/// per status, each as binary CBOR, hex and diagnostic notation. The files must be exactly what this
/// code encodes, and must decode to the same values. `PARLEY_WRITE_VECTORS=1 swift test` rewrites them.
@Suite struct VectorTests {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Protocol/vectors")

    static var writing: Bool { ProcessInfo.processInfo.environment["PARLEY_WRITE_VECTORS"] == "1" }

    static func check(name: String, bytes: [UInt8], diagnostic: String) throws {
        let files: [(String, Data)] = [
            ("\(name).cbor", Data(bytes)),
            ("\(name).hex", Data((Hex.encode(bytes) + "\n").utf8)),
            ("\(name).diag", Data((diagnostic + "\n").utf8)),
        ]
        for (file, data) in files {
            let url = directory.appendingPathComponent(file)
            if writing {
                try data.write(to: url)
            } else {
                let committed = try Data(contentsOf: url)
                #expect(committed == data, "\(file) differs from what the code encodes")
            }
        }
    }

    static let receipts: [(String, Receipt.Status)] = [
        ("accepted", .accepted), ("duplicate", .duplicate),
        ("rejected", .rejected(.notARecipient, reason: "this message does not name HCOC-CC as a recipient")),
    ]

    static func exampleReceipt(_ status: Receipt.Status) -> Receipt {
        Receipt(
            messageID: Examples.messageID(1),
            digest: Array(Digest256.fixed),
            recipient: Examples.recipients[1],
            sender: Examples.sender,
            received: Examples.created + 3,
            status: status
        )
    }

    @Test(arguments: NotificationType.allCases)
    func envelopeVector(_ type: NotificationType) throws {
        let envelope = Examples.envelope(type)
        try Self.check(
            name: "envelope-\(type.name)",
            bytes: envelope.encoded,
            diagnostic: WireNames.diagnostic(of: envelope)
        )
        let committed = try Data(contentsOf: Self.directory.appendingPathComponent("envelope-\(type.name).cbor"))
        #expect(try Envelope(decoding: Array(committed)) == envelope)
    }

    @Test(arguments: receipts.map(\.0))
    func receiptVector(_ name: String) throws {
        let receipt = Self.exampleReceipt(Self.receipts.first { $0.0 == name }!.1)
        try Self.check(name: "receipt-\(name)", bytes: receipt.encoded, diagnostic: WireNames.diagnostic(of: receipt))
        let committed = try Data(contentsOf: Self.directory.appendingPathComponent("receipt-\(name).cbor"))
        #expect(try Receipt(decoding: Array(committed)) == receipt)
    }

    @Test func diagnosticNamesKeys() {
        let text = WireNames.diagnostic(of: Examples.envelope(.preLaunch))
        #expect(text.contains("6 / type /: 1"))
        #expect(text.contains("3 / window-end /: 1(1796378400)"))
        let correction = WireNames.diagnostic(of: Examples.envelope(.correction))
        #expect(correction.contains("6 / azimuth /: 9100"))
    }
}

/// A fixed digest for receipt vectors: SHA-256 of the empty string.
enum Digest256 {
    static let fixed: [UInt8] = hexBytes("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
}

/// The examples of Protocol/NOTIFICATIONS.md (extracted to `vectors/catalogue/` by
/// `Protocol/tools/extract_examples.py`): each is a valid envelope that re-encodes byte for byte.
@Suite struct CatalogueExampleTests {
    static let files: [String] = {
        let directory = VectorTests.directory.appendingPathComponent("catalogue")
        return ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? [])
            .filter { $0.hasSuffix(".cbor") }.sorted().map { directory.appendingPathComponent($0).path }
    }()

    @Test func everyTypeHasAnExample() throws {
        let types = try Set(
            Self.files.map { try Envelope(decoding: Array(try Data(contentsOf: URL(fileURLWithPath: $0)))).type }
        )
        #expect(types == Set(NotificationType.allCases))
    }

    @Test(arguments: files)
    func exampleIsValidAndCanonical(_ path: String) throws {
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        let envelope = try Envelope(decoding: bytes)
        #expect(envelope.encoded == bytes)
    }
}
