import Foundation
@testable import ParleyCrypto
import Testing
import ParleyTestSupport

/// Failing OpenSSL calls report OpenSSL's error stack and leave the thread's queue empty.
@Suite("OpenSSL error queue")
struct OpenSSLErrorQueueTests {
    @Test func failuresCarryTheDrainedQueueAndLeaveItEmpty() throws {
        let certificate = #expect(throws: CryptoError.self) {
            try Certificate(derEncoded: [0x30, 0x03, 0x02, 0x01, 0x01])
        }
        #expect(certificate?.openSSLErrors.isEmpty == false, "\(String(describing: certificate))")
        #expect(certificate?.description.contains("OpenSSL:") == true)
        #expect(OpenSSLErrorQueue.isEmpty)

        let key = #expect(throws: CryptoError.self) { try PublicKey(derEncoded: [0x30, 0x00]) }
        #expect(key?.openSSLErrors.isEmpty == false)
        #expect(OpenSSLErrorQueue.isEmpty)

        let pem = try PrivateKey.generate(.es256).pkcs8PEM(passphrase: "right")
        let wrong = #expect(throws: CryptoError.self) { try PrivateKey(pemEncoded: pem, passphrase: "wrong") }
        #expect(wrong?.code == .wrongPassphrase)
        #expect(wrong?.openSSLErrors.isEmpty == false)
        #expect(OpenSSLErrorQueue.isEmpty)

        // A rejected signature leaves nothing behind either.
        let signer = try PrivateKey.generate(.es384)
        #expect(!signer.publicKey.isValidSignature([UInt8](repeating: 1, count: 96), for: [1, 2, 3]))
        #expect(OpenSSLErrorQueue.isEmpty)
        #expect(!signer.publicKey.isValidSignature([UInt8](repeating: 0, count: 96), for: [1, 2, 3]))
        #expect(OpenSSLErrorQueue.isEmpty)
    }

    @Test func chainFailuresLeaveTheQueueEmpty() throws {
        let pki = try TestPKI.shared()
        let store = try pki.trustStore(crls: [])
        let error = #expect(throws: ChainVerificationError.self) {
            try store.verify(chain: pki.certificates("participants/US-NRRC/signing-chain.pem"), at: Date())
        }
        #expect(error?.openSSLVerifyError != nil)
        #expect(OpenSSLErrorQueue.isEmpty)
    }
}
