import Foundation
import ParleyCodec
import ParleyCrypto
import ParleyProtocol

/// The full verify path: MessageVerifier.verifyMessage (and verifyReceipt) against a fixed trust
/// store, the committed TEST PKI of Protocol/vectors/signed/ed25519 (anchors.pem + crls.pem), at
/// 2026-12-01T06:01:00Z.
///
/// Oracle: nothing crashes, and nothing is accepted unless it is byte-identical to a committed
/// vector that manifest.json says verifies under exactly these conditions. This is sound because
/// every byte of an accepted object is either signed or fixed: the deterministic decoder admits one
/// encoding of the COSE_Sign1 array, the parley profile's unprotected header holds only x5chain, whose
/// SHA-256 is in the protected header, the protected header and payload are covered by the signature, and Ed25519 signatures (RFC 8032 as
/// OpenSSL checks them: S < L, R compared as encoded) are not malleable. So another accepted input
/// would be a forgery or a verifier bug. Anything accepted must also verify again and re-encode
/// byte for byte.
struct Fixture: Sendable {
    let verifier: MessageVerifier
    let time: UTCTime
    /// Messages that verify without a recipient: expect "valid", or "not-a-recipient" (which
    /// only fails when the manifest's recipient is given), with crls.pem.
    let acceptableMessages: Set<[UInt8]>
    /// Receipts that verify without the message they answer: expect "valid" or "receipt-mismatch".
    let acceptableReceipts: Set<[UInt8]>

    init() {
        let signed =
            ProcessInfo.processInfo.environment["PARLEY_SIGNED_VECTORS"].map { URL(fileURLWithPath: $0) }
            ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../../Protocol/vectors/signed").standardizedFileURL
        do {
            let folder = signed.appendingPathComponent("ed25519")
            let trust = try TrustStore.load(
                anchorsPath: folder.appendingPathComponent("anchors.pem").path,
                crlPaths: [folder.appendingPathComponent("crls.pem").path]
            )
            verifier = MessageVerifier(trust: trust)
            time = try UTCTime(rfc3339: "2026-12-01T06:01:00Z")
            let manifest = try JSONSerialization.jsonObject(
                with: Data(contentsOf: signed.appendingPathComponent("manifest.json"))
            )
            var messages = Set<[UInt8]>()
            var receipts = Set<[UInt8]>()
            var rejected: [(String, [UInt8], String)] = []
            for case let entry as [String: String] in manifest as? [Any] ?? [] {
                guard let file = entry["file"], file.hasPrefix("ed25519/"), entry["crls"] == "ed25519/crls.pem",
                    entry["verifyAt"] == "2026-12-01T06:01:00Z", let expect = entry["expect"], let kind = entry["kind"]
                else { continue }
                let bytes = Array(try Data(contentsOf: signed.appendingPathComponent(file)))
                if kind == "message", ["valid", "not-a-recipient"].contains(expect) {
                    messages.insert(bytes)
                } else if kind == "receipt", ["valid", "receipt-mismatch"].contains(expect) {
                    receipts.insert(bytes)
                } else {
                    rejected.append((file, bytes, kind))
                }
            }
            acceptableMessages = messages
            acceptableReceipts = receipts
            // The oracle is only meaningful if the acceptable vectors do verify and the others do not.
            guard messages.count >= 2, receipts.count >= 1, !rejected.isEmpty else {
                fatalError("FuzzVerify: manifest \(signed.path) lists too few ed25519 vectors")
            }
            for bytes in messages { _ = try verifier.verifyMessage(bytes, at: time) }
            for bytes in receipts { _ = try verifier.verifyReceipt(bytes, at: time) }
            for (file, bytes, kind) in rejected {
                let accepted =
                    kind == "message"
                    ? (try? verifier.verifyMessage(bytes, at: time)) != nil
                    : (try? verifier.verifyReceipt(bytes, at: time)) != nil
                if accepted { fatalError("FuzzVerify: \(file) verifies but the manifest says it must not") }
            }
        } catch {
            fatalError("FuzzVerify: cannot set up the trust store and vectors from \(signed.path): \(error)")
        }
    }
}

let fixture = Fixture()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let verified = try? fixture.verifier.verifyMessage(bytes, at: fixture.time) {
        guard fixture.acceptableMessages.contains(bytes) else {
            fatalError("verifyMessage accepted bytes that are not a valid vector: \(hex(bytes))")
        }
        guard verified.bytes == bytes, let again = try? fixture.verifier.verifyMessage(bytes, at: fixture.time),
            again.envelope == verified.envelope,
            let object = try? COSESign1(decoding: bytes), object.encoded == bytes,
            verified.envelope.encoded == object.payload
        else { fatalError("an accepted message does not verify again or re-encode identically: \(hex(bytes))") }
    }
    if let verified = try? fixture.verifier.verifyReceipt(bytes, at: fixture.time) {
        guard fixture.acceptableReceipts.contains(bytes) else {
            fatalError("verifyReceipt accepted bytes that are not a valid vector: \(hex(bytes))")
        }
        guard verified.bytes == bytes, let again = try? fixture.verifier.verifyReceipt(bytes, at: fixture.time),
            again.receipt == verified.receipt,
            let object = try? COSESign1(decoding: bytes), object.encoded == bytes,
            verified.receipt.encoded == object.payload
        else { fatalError("an accepted receipt does not verify again or re-encode identically: \(hex(bytes))") }
    }
    return 0
}

func hex(_ bytes: [UInt8]) -> String {
    bytes.prefix(512).map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }
        .joined()
}

// SwiftPM links every Linux executable with `--defsym main=FuzzVerify_main`, which hides libFuzzer's own
// main; this entry point hands control to libFuzzer's driver instead.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt
) -> CInt

@_cdecl("FuzzVerify_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzz(data, size) }
}
