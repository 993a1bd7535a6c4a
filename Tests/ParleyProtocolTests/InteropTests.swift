import Foundation
import ParleyCodec
import ParleyCrypto
import Testing
@testable import ParleyProtocol
import ParleyTestSupport

/// Parley's COSE_Sign1 against an independent implementation, pycose 1.1.0 (Tests/Interop): what
/// Parley signs, pycose verifies; what pycose signs, Parley verifies. The interpreter is
/// `$PARLEY_PYTHON` (`.ci/run` makes a venv with pycose). Outside CI, without it, the tests are skipped;
/// under CI (`CI=true`) a missing interpreter fails them.
@Suite struct InteropTests {
    static let python = ProcessInfo.processInfo.environment["PARLEY_PYTHON"]
    static let inCI = ProcessInfo.processInfo.environment["CI"] == "true"
    static let script = SourceTree.root.appendingPathComponent("Tests/Interop/pycose_interop.py").path

    static func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python!)
        process.arguments = [script] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }

    static func available() throws -> Bool {
        if python == nil && inCI { Issue.record("PARLEY_PYTHON is not set: .ci/run provides a Python with pycose") }
        return python != nil
    }

    static func temporaryFile(_ name: String, _ bytes: [UInt8]) throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent(
            "parley-interop-\(UUID().uuidString)-\(name)"
        )
        try Data(bytes).write(to: url)
        return url.path
    }

    @Test(arguments: SignatureAlgorithm.allCases)
    func pycoseVerifiesWhatParleySigns(_ algorithm: SignatureAlgorithm) throws {
        guard try Self.available() else { return }
        let pki = try TestPKI.shared(algorithm)
        let message = try Self.temporaryFile(
            "message.cose",
            try pki.identity("US-NRRC").sign(Examples.envelope(.preLaunch))
        )
        let result = try Self.run(["verify", message, pki.path("participants/US-NRRC/signing.pem")])
        #expect(result.status == 0, "pycose: \(result.output)")

        // And pycose refuses the same message with one payload bit flipped.
        var object = try COSESign1(decoding: Array(try Data(contentsOf: URL(fileURLWithPath: message))))
        object.payload[object.payload.firstIndex(of: UInt8(ascii: "S"))!] ^= 1
        let tampered = try Self.temporaryFile("tampered.cose", object.encoded)
        #expect(try Self.run(["verify", tampered, pki.path("participants/US-NRRC/signing.pem")]).status != 0)
    }

    @Test(arguments: SignatureAlgorithm.allCases)
    func parleyVerifiesWhatPycoseSigns(_ algorithm: SignatureAlgorithm) throws {
        guard try Self.available() else { return }
        let pki = try TestPKI.shared(algorithm)
        // Created now: the test PKI is made at run time, so it is valid now, not on the Examples date.
        let now = UTCTime.now
        let envelope = Examples.envelope(.preLaunch, created: now)
        let payload = try Self.temporaryFile("payload.cbor", envelope.encoded)
        let output = FileManager.default.temporaryDirectory.appendingPathComponent(
            "parley-interop-\(UUID().uuidString).cose"
        ).path
        let result = try Self.run([
            "sign", pki.path("participants/US-NRRC/signing.key"), pki.path("participants/US-NRRC/signing-chain.pem"),
            payload, ContentType.message, output,
        ])
        try #require(result.status == 0, "pycose: \(result.output)")
        var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: output)))
        // pycose does not apply the low-S rule of SPEC.md §5.3: bring an ECDSA signature to low S
        // (a valid signature either way) so the comparison is about COSE, not about that rule.
        var object = try COSESign1(decoding: bytes)
        object.signature = ECDSALowS.normalized(object.signature, algorithm: algorithm)
        bytes = object.encoded
        let verified = try pki.verifier().verifyMessage(bytes, at: now + 60, recipient: Examples.recipients[0])
        #expect(verified.envelope == envelope)
        #expect(verified.signer.participantID == "US-NRRC")
    }
}
