import Foundation
import ParleyCodec
import ParleyCrypto
import Testing
@testable import ParleyProtocol
import ParleyTestSupport

/// Signing and verifying whole messages and receipts against a real test PKI (SPEC.md §9).
@Suite struct SignedMessageTests {
    static let now = UTCTime.now
    static let hcoc = Examples.recipients[0]
    static let russia = Examples.recipients[1]

    /// A valid pre-launch envelope created now (the test PKI is valid now, not on the Examples date).
    static func envelope(_ type: NotificationType = .preLaunch, created: UTCTime = now) -> Envelope {
        Examples.envelope(type, created: created)
    }

    static func expect(
        _ code: ProtocolError.Code,
        _ body: () throws -> Void,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(sourceLocation: sourceLocation) { try body() } throws: { error in
            guard let error = error as? ProtocolError else { return false }
            return error.code == code
        }
    }

    @Test(arguments: SignatureAlgorithm.allCases)
    func signedMessageVerifies(_ algorithm: SignatureAlgorithm) throws {
        let pki = try TestPKI.shared(algorithm)
        let identity = try pki.identity("US-NRRC")
        #expect(identity.key.algorithm == algorithm)
        let bytes = try identity.sign(Self.envelope())
        let verified = try pki.verifier().verifyMessage(bytes, at: Self.now, recipient: Self.hcoc)
        #expect(verified.envelope == Self.envelope())
        #expect(verified.signer.participantID == "US-NRRC")
        #expect(verified.algorithm == algorithm)
        #expect(verified.digest == Digest.sha256(bytes))
        #expect(ECDSALowS.isLowS(try COSESign1(decoding: bytes).signature, algorithm: algorithm))
    }

    @Test func rolloverCertificateSignsForTheSameParticipant() throws {
        let pki = try TestPKI.shared(.edDSA)
        let second = try pki.identity("US-NRRC", certificate: "signing-2")
        let first = try pki.identity("US-NRRC")
        #expect(second.chain[0] != first.chain[0])
        let verified = try pki.verifier().verifyMessage(try second.sign(Self.envelope()), at: Self.now)
        #expect(verified.signer.participantID == "US-NRRC")
    }

    @Test func everyTypeSignsAndVerifies() throws {
        let pki = try TestPKI.shared(.edDSA)
        let identity = try pki.identity("US-NRRC")
        let verifier = try pki.verifier()
        // Every example moved to the test PKI's own present (the PKI is made at run time).
        for type in NotificationType.allCases {
            let envelope = Self.envelope(type)
            let verified = try verifier.verifyMessage(
                try identity.sign(envelope),
                at: Self.now + 10,
                recipient: Self.russia
            )
            #expect(verified.envelope == envelope)
        }
    }

    // MARK: Tampering

    @Test(arguments: SignatureAlgorithm.allCases)
    func flippedPayloadBitIsABadSignature(_ algorithm: SignatureAlgorithm) throws {
        let pki = try TestPKI.shared(algorithm)
        var object = try COSESign1(decoding: try pki.identity("US-NRRC").sign(Self.envelope()))
        let index = try #require(object.payload.firstIndex(of: UInt8(ascii: "S")))  // in the designator text
        object.payload[index] ^= 0x01
        Self.expect(.badSignature) { _ = try pki.verifier().verifyMessage(object.encoded, at: Self.now) }
    }

    @Test(arguments: SignatureAlgorithm.allCases)
    func wrongSignatureLengthIsABadSignature(_ algorithm: SignatureAlgorithm) throws {
        let pki = try TestPKI.shared(algorithm)
        var object = try COSESign1(decoding: try pki.identity("US-NRRC").sign(Self.envelope()))
        object.signature.removeLast()
        Self.expect(.badSignature) { _ = try pki.verifier().verifyMessage(object.encoded, at: Self.now) }
        object.signature.append(contentsOf: [0, 0])
        Self.expect(.badSignature) { _ = try pki.verifier().verifyMessage(object.encoded, at: Self.now) }
    }

    @Test(arguments: [SignatureAlgorithm.es256, .es384])
    func highSTwinOfAValidSignatureIsRejected(_ algorithm: SignatureAlgorithm) throws {
        let pki = try TestPKI.shared(algorithm)
        let identity = try pki.identity("US-NRRC")
        var object = try COSESign1(decoding: try identity.sign(Self.envelope()))
        object.signature = ECDSALowS.twin(of: object.signature, algorithm: algorithm)
        // The twin is a valid ECDSA signature, but not low-S: anyone could have made it.
        #expect(identity.key.publicKey.isValidSignature(object.signature, for: object.toBeSigned()))
        Self.expect(.badSignature) { _ = try pki.verifier().verifyMessage(object.encoded, at: Self.now) }
    }

    /// The chain travels in the unprotected header, but its SHA-256 is signed: another valid chain
    /// of the same participant put in after signing is a bad signature, and so is a change of one
    /// byte of it, or dropping the issuing CA.
    @Test(arguments: SignatureAlgorithm.allCases)
    func chainChangedAfterSigningIsABadSignature(_ algorithm: SignatureAlgorithm) throws {
        let pki = try TestPKI.shared(algorithm)
        let bytes = try pki.identity("US-NRRC").sign(Self.envelope())
        let rollover = try pki.identity("US-NRRC", certificate: "signing-2")
        var swapped = try COSESign1(decoding: bytes)
        swapped.unprotectedHeader = [33: try X5Chain(rollover.chain.map(\.derEncoded)).item]
        Self.expect(.badSignature) { _ = try pki.verifier().verifyMessage(swapped.encoded, at: Self.now) }
        var leafOnly = try COSESign1(decoding: bytes)
        leafOnly.unprotectedHeader = [33: .byteString(try leafOnly.certificateChain.certificates[0])]
        Self.expect(.badSignature) { _ = try pki.verifier().verifyMessage(leafOnly.encoded, at: Self.now) }
        var flipped = try COSESign1(decoding: bytes)
        var certificates = try flipped.certificateChain.certificates
        certificates[1][certificates[1].count - 1] ^= 1
        flipped.unprotectedHeader = [33: try X5Chain(certificates).item]
        Self.expect(.badSignature) { _ = try pki.verifier().verifyMessage(flipped.encoded, at: Self.now) }
        // The verifier caches chains: the original still verifies after the failures, and a
        // tampered chain is refused after the original was cached.
        _ = try pki.verifier().verifyMessage(bytes, at: Self.now)
        let verifier = try pki.verifier()
        _ = try verifier.verifyMessage(bytes, at: Self.now)
        _ = try verifier.verifyMessage(try rollover.sign(Self.envelope()), at: Self.now)
        Self.expect(.badSignature) { _ = try verifier.verifyMessage(swapped.encoded, at: Self.now) }
    }

    /// The signer writes its pre-encoded headers directly: the bytes are those of the COSE_Sign1
    /// value, and decode to it, for a chain of one certificate (a byte string) and of two (an array).
    @Test func preEncodedHeadersMatchTheObjectEncoding() throws {
        let identity = try TestPKI.shared(.edDSA).identity("US-NRRC")
        for certificates in [[identity.chain[0].derEncoded], identity.chain.map(\.derEncoded)] {
            let headers = ParleyHeaders(
                algorithm: -8,
                contentType: ContentType.receipt,
                chain: try X5Chain(certificates)
            )
            let object = headers.object(payload: [0xA0], signature: Array(repeating: 9, count: 64))
            let bytes = headers.encoded(payload: [0xA0], signature: Array(repeating: 9, count: 64))
            #expect(bytes == object.encoded)
            #expect(try COSESign1(decoding: bytes) == object)
            #expect(
                try ProtectedHeader(decoding: object.protectedHeader).chainDigest
                    == Digest.sha256(try X5Chain(certificates).encoded)
            )
        }
    }

    @Test func extraUnprotectedParameterIsMalformed() throws {
        let pki = try TestPKI.shared(.edDSA)
        var object = try COSESign1(decoding: try pki.identity("US-NRRC").sign(Self.envelope()))
        object.unprotectedHeader[4] = .byteString([1])
        Self.expect(.malformed) { _ = try pki.verifier().verifyMessage(object.encoded, at: Self.now) }
    }

    @Test func algorithmNotMatchingTheKeyIsABadSignature() throws {
        let pki = try TestPKI.shared(.edDSA)
        let identity = try pki.identity("US-NRRC")
        let headers = ParleyHeaders(
            algorithm: SignatureAlgorithm.es256.rawValue,
            contentType: ContentType.message,
            chain: try X5Chain(identity.chain.map(\.derEncoded))
        )
        let payload = Self.envelope().encoded
        let signature = try identity.key.signature(
            for: COSESign1.toBeSigned(protectedHeader: headers.protected, payload: payload)
        )
        let bytes = headers.object(payload: payload, signature: signature).encoded
        Self.expect(.badSignature) { _ = try pki.verifier().verifyMessage(bytes, at: Self.now) }
    }

    @Test func unsupportedAlgorithmIsNamed() throws {
        let pki = try TestPKI.shared(.edDSA)
        let identity = try pki.identity("US-NRRC")
        let headers = ParleyHeaders(
            algorithm: -36,
            contentType: ContentType.message,
            chain: try X5Chain(identity.chain.map(\.derEncoded))
        )
        let bytes = headers.object(payload: Self.envelope().encoded, signature: Array(repeating: 1, count: 64)).encoded
        Self.expect(.unsupportedAlgorithm) { _ = try pki.verifier().verifyMessage(bytes, at: Self.now) }
    }

    @Test func anotherParticipantsValidSignatureIsAForgery() throws {
        let pki = try TestPKI.shared(.edDSA)
        let russia = try pki.identity("RU-NRRC")
        // RU-NRRC signs an envelope that claims US-NRRC as sender.
        let bytes = try russia.sign(payload: Self.envelope().encoded, contentType: ContentType.message)
        #expect { _ = try pki.verifier().verifyMessage(bytes, at: Self.now) } throws: { error in
            guard let error = error as? ProtocolError else { return false }
            return error.code == .participantMismatch && error.sender?.rawValue == "US-NRRC"
                && error.reason.contains("RU-NRRC")
        }
        Self.expect(.participantMismatch) { _ = try russia.sign(Self.envelope()) }
    }

    @Test func certificateProblemsAreNamed() throws {
        let pki = try TestPKI.shared(.edDSA)
        let verifier = try pki.verifier()
        for (folder, code) in [
            ("expired", ProtocolError.Code.certificateNotValidAtTime), ("not-yet-valid", .certificateNotValidAtTime),
            ("other-ca", .untrustedCertificate),
        ] {
            let (key, chain) = try pki.negativeIdentity(folder)
            var envelope = Self.envelope()
            envelope.sender = try ParticipantID(chain[0].participantID ?? "US-NRRC")
            let bytes = try SigningIdentity(key: key, chain: chain).sign(
                payload: envelope.encoded,
                contentType: ContentType.message
            )
            #expect { _ = try verifier.verifyMessage(bytes, at: Self.now) } throws: { error in
                guard let error = error as? ProtocolError, error.code == code else { return false }
                return error.chainDiagnostic != nil
            }
        }
        let (key, chain) = try pki.negativeIdentity("revoked")
        var envelope = Self.envelope()
        envelope.sender = try ParticipantID("REVOKED-TEST")
        let revoked = try SigningIdentity(key: key, chain: chain).sign(envelope)
        Self.expect(.certificateRevoked) { _ = try verifier.verifyMessage(revoked, at: Self.now) }
    }

    @Test func missingOrExpiredCRLMeansTheVerifierCannotDecide() throws {
        let pki = try TestPKI.shared(.edDSA)
        let bytes = try pki.identity("US-NRRC").sign(Self.envelope())
        Self.expect(.revocationUnavailable) {
            _ = try pki.verifier(crls: "negative/expired-crl/crls.pem").verifyMessage(bytes, at: Self.now)
        }
        Self.expect(.revocationUnavailable) {
            _ = try pki.verifier(crls: "root/crl.pem").verifyMessage(bytes, at: Self.now)
        }
        #expect(ProtocolError(.revocationUnavailable, "").rejectionCode == nil)
    }

    /// A message signed with any key and chain, even one `SigningIdentity` refuses.
    static func sign(_ payload: [UInt8], key: PrivateKey, chain: [Certificate]) throws -> [UInt8] {
        let x5chain = try X5Chain(chain.map(\.derEncoded)).item
        let header = CBOREncoder.encode(
            .map([
                1: .integer(Int64(key.algorithm.rawValue)), 3: .textString(ContentType.message),
                .integer(ProtectedHeader.Label.x5chainSHA256): .byteString(Digest.sha256(CBOREncoder.encode(x5chain))),
            ])
        )
        let toBeSigned = CBOREncoder.encode(
            .array([.textString("Signature1"), .byteString(header), .byteString([]), .byteString(payload)])
        )
        let signature = ECDSALowS.normalized(try key.signature(for: toBeSigned), algorithm: key.algorithm)
        return COSESign1(
            protectedHeader: header,
            unprotectedHeader: [33: x5chain],
            payload: payload,
            signature: signature
        ).encoded
    }

    /// SPEC.md §8.5: validity is decided before revocation data, so a not-yet-valid certificate at a
    /// time without a current CRL is a final rejection (a node signs it) instead of an endless 503
    /// retry; a leaf whose participant URI prefix is upper case defines no participant id (§8.1).
    @Test func certificateVerdictsFollowTheOrderOfSPEC85() throws {
        let pki = try TestPKI.shared(.edDSA)
        let stale = try pki.verifier(crls: "negative/expired-crl/crls.pem")
        for (folder, code) in [
            ("not-yet-valid", ProtocolError.Code.certificateNotValidAtTime), ("expired", .certificateNotValidAtTime),
            ("uppercase-participant-uri", .untrustedCertificate), ("other-ca", .untrustedCertificate),
        ] {
            let (key, chain) = try pki.negativeIdentity(folder)
            let bytes = try Self.sign(Self.envelope().encoded, key: key, chain: chain)
            Self.expect(code) { _ = try stale.verifyMessage(bytes, at: Self.now) }
            Self.expect(code) { _ = try pki.verifier().verifyMessage(bytes, at: Self.now) }
        }
    }

    @Test func addressingTimeAndContentAreChecked() throws {
        let pki = try TestPKI.shared(.edDSA)
        let identity = try pki.identity("US-NRRC")
        let verifier = try pki.verifier()
        let bytes = try identity.sign(Self.envelope())
        Self.expect(.notARecipient) {
            _ = try verifier.verifyMessage(bytes, at: Self.now, recipient: try ParticipantID("FR-CNRR"))
        }
        let ahead = try identity.sign(Self.envelope(created: Self.now + 301))
        Self.expect(.clockSkew) { _ = try verifier.verifyMessage(ahead, at: Self.now) }
        _ = try verifier.verifyMessage(try identity.sign(Self.envelope(created: Self.now + 300)), at: Self.now)

        // A validly signed message whose body breaks its type's rules: invalid-body, after the signature checks.
        var envelope = Self.envelope()
        guard case .preLaunch(var body) = envelope.body else { return }
        body.late = true
        envelope.body = .preLaunch(body)
        let invalid = try identity.sign(payload: envelope.encoded, contentType: ContentType.message)
        #expect { _ = try verifier.verifyMessage(invalid, at: Self.now) } throws: { error in
            guard let error = error as? ProtocolError else { return false }
            return error.rejectionCode == .invalidBody && error.field == "body.late" && error.messageID == envelope.id
        }
        // Signed by another participant too: the forgery is reported first.
        let forged = try pki.identity("RU-NRRC").sign(payload: envelope.encoded, contentType: ContentType.message)
        Self.expect(.participantMismatch) { _ = try verifier.verifyMessage(forged, at: Self.now) }
    }

    @Test func malformedAndOversizedInputsAreRefusedBeforeIdentification() throws {
        let pki = try TestPKI.shared(.edDSA)
        let verifier = try pki.verifier()
        Self.expect(.tooLarge) { _ = try verifier.verifyMessage(Array(repeating: 0, count: 262_145), at: Self.now) }
        Self.expect(.malformed) { _ = try verifier.verifyMessage([0xD2, 0x84], at: Self.now) }
        Self.expect(.tooLarge) { _ = try verifier.verifyMessage(Array(repeating: 0x81, count: 40) + [0], at: Self.now) }
        let bytes = try pki.identity("US-NRRC").sign(Self.envelope())
        Self.expect(.malformed) { _ = try verifier.verifyMessage(bytes + [0], at: Self.now) }
        // A receipt is not a message.
        let receipt = try pki.identity("HCOC-CC").sign(Self.receipt(for: bytes))
        #expect { _ = try verifier.verifyMessage(receipt, at: Self.now) } throws: { error in
            (error as? ProtocolError)?.code == .malformed
        }
    }

    // MARK: Receipts

    static func receipt(
        for message: [UInt8],
        status: Receipt.Status = .accepted,
        recipient: ParticipantID = hcoc
    ) -> Receipt {
        Receipt(
            messageID: Self.envelope().id,
            digest: Digest.sha256(message),
            recipient: recipient,
            sender: Examples.sender,
            received: now,
            status: status
        )
    }

    @Test(arguments: SignatureAlgorithm.allCases)
    func receiptsVerifyAgainstTheMessageSent(_ algorithm: SignatureAlgorithm) throws {
        let pki = try TestPKI.shared(algorithm)
        let verifier = try pki.verifier()
        let message = try verifier.verifyMessage(try pki.identity("US-NRRC").sign(Self.envelope()), at: Self.now)
        let sent = SentMessage(message)
        let hcoc = try pki.identity("HCOC-CC")
        for status in [
            Receipt.Status.accepted, .duplicate,
            .rejected(.replay, reason: "sequence number 1 was used by another message"),
        ] {
            let bytes = try hcoc.sign(Self.receipt(for: message.bytes, status: status))
            let verified = try verifier.verifyReceipt(bytes, at: Self.now, for: sent, from: Self.hcoc)
            #expect(verified.receipt.status == status)
            #expect(verified.signer.participantID == "HCOC-CC")
        }
        // The receipt of other bytes.
        let other = try hcoc.sign(Self.receipt(for: message.bytes + [0]))
        #expect { _ = try verifier.verifyReceipt(other, at: Self.now, for: sent, from: Self.hcoc) } throws: { error in
            guard let error = error as? ProtocolError else { return false }
            return error.code == .receiptMismatch && error.field == "digest"
        }
        // From somebody else than the recipient delivered to.
        Self.expect(.receiptMismatch) {
            _ = try verifier.verifyReceipt(
                try hcoc.sign(Self.receipt(for: message.bytes)),
                at: Self.now,
                for: sent,
                from: Self.russia
            )
        }
        // Signed by a participant other than the one it names.
        let forged = try pki.identity("RU-NRRC").sign(
            payload: Self.receipt(for: message.bytes).encoded,
            contentType: ContentType.receipt
        )
        Self.expect(.participantMismatch) { _ = try verifier.verifyReceipt(forged, at: Self.now, for: sent) }
        // A receipt from a participant that is not a recipient.
        let france = Self.receipt(for: message.bytes, recipient: Examples.sender)
        let selfSigned = try pki.identity("US-NRRC").sign(france)
        Self.expect(.receiptMismatch) { _ = try verifier.verifyReceipt(selfSigned, at: Self.now, for: sent) }
        // ... except the not-a-recipient rejection (§9.1 step 15), which only a non-recipient can sign (§9.2 step 6).
        let notForMe = Receipt.Status.rejected(.notARecipient, reason: "not addressed to US-NRRC")
        let fromNonRecipient = try pki.identity("US-NRRC").sign(
            Self.receipt(for: message.bytes, status: notForMe, recipient: Examples.sender)
        )
        #expect(
            try verifier.verifyReceipt(fromNonRecipient, at: Self.now, for: sent, from: Examples.sender).receipt.status
                == notForMe
        )
        let fromRecipient = try hcoc.sign(Self.receipt(for: message.bytes, status: notForMe))
        Self.expect(.receiptMismatch) {
            _ = try verifier.verifyReceipt(fromRecipient, at: Self.now, for: sent, from: Self.hcoc)
        }
    }

    @Test func signingIdentityRefusesAKeyOfAnotherCertificate() throws {
        let pki = try TestPKI.shared(.edDSA)
        let us = try pki.identity("US-NRRC")
        let russia = try pki.identity("RU-NRRC")
        Self.expect(.invalidSigningIdentity) { _ = try SigningIdentity(key: us.key, chain: russia.chain) }
        Self.expect(.invalidSigningIdentity) { _ = try SigningIdentity(key: us.key, chain: []) }
    }

    @Test func verificationRunsConcurrently() async throws {
        let pki = try TestPKI.shared(.edDSA)
        let verifier = try pki.verifier()
        let bytes = try pki.identity("US-NRRC").sign(Self.envelope())
        try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    for _ in 0..<50 { _ = try verifier.verifyMessage(bytes, at: Self.now) }
                    return 50
                }
            }
            var total = 0
            for try await n in group { total += n }
            #expect(total == 400)
        }
    }
}
