import Foundation
import ParleyCodec
import ParleyCrypto
import Testing
@testable import ParleyProtocol
import ParleyTestSupport

/// Rows of Protocol/CONFORMANCE.md that no other test checked on the compose and verify paths.
@Suite struct ConformanceGapTests {
    /// The present, read when used: each test loads its PKI first, whose certificates start when it was made.
    static var now: UTCTime { UTCTime.now }
    static func at(_ offset: Int64) -> String { "\"\(now + offset)\"" }
    static let day: Int64 = 86_400

    static let circle = #"{"circle": {"center": {"lat": 28.5, "lon": -80.6}, "radius-m": 5000}}"#
    static func preLaunch(
        start: Int64 = 3 * 86_400,
        end: Int64 = 3 * 86_400 + 14_400,
        azimuth: String = "90",
        extra: String = ""
    ) -> String {
        #"{"class": "ballistic-missile", "window-start": \#(at(start)), "window-end": \#(at(end)), "launch-area": \#(circle), "impact-areas": [\#(circle)], "azimuth": \#(azimuth)\#(extra)}"#
    }
    static let message = "019ad8a0c5c07000a000000000000001"
    static func refs(_ relations: String...) -> String {
        "["
            + relations.enumerated().map {
                #"{"id": "019ad8a0c5c07000a00000000000010\#($0.offset)", "relation": "\#($0.element)"}"#
            }.joined(separator: ", ") + "]"
    }
    static func document(_ type: String, body: String?, refs: String? = nil, remarks: String? = nil) -> String {
        var fields = [#""type": "\#(type)""#, #""recipients": ["RU-NRRC", "HCOC-CC"]"#]
        if let refs { fields.append(#""refs": \#(refs)"#) }
        if let body { fields.append(#""body": \#(body)"#) }
        if let remarks { fields.append(#""remarks": \#(remarks)"#) }
        return "{" + fields.joined(separator: ", ") + "}"
    }
    static let general = #"{"subject": "s", "text": {"lang": "en", "text": "t"}}"#
    static var extensionBody: String { #"{"new-window-end": \#(at(3 * 86_400))}"# }
    static var report: String {
        #"{"class": "space-launch-vehicle", "launch-time": \#(at(-3_600)), "launch-area": \#(circle), "outcome": "nominal"}"#
    }
    static let declaration =
        #"{"year": 2026, "policy": {"lang": "en", "text": "p"}, "launches": [{"class": "ballistic-missile", "count": 1}]}"#
    static let denial =
        #"{"item-category": "2B001.a", "destination": "ZZ", "end-user": "u", "reason": "end-use", "denial-date": "2026-11-20"}"#
    static var event: String {
        #"{"kind": "movement", "item-type": "x", "quantity": 1, "location": {"lat": 1, "lon": 1}, "event-time": \#(at(-60))}"#
    }
    static func correction(_ inner: String, type: String = "pre-launch") -> String {
        #"{"corrected-type": "\#(type)", "corrected-body": \#(inner)}"#
    }

    struct Case: Sendable, CustomTestStringConvertible {
        /// The CONFORMANCE.md row this case checks.
        var row: String
        var name: String
        /// Made when the test runs, so that its times are relative to then.
        var json: @Sendable () -> String
        /// The code receivers give the same fault; nil: the composer must sign it.
        var code: String?
        var testDescription: String { "\(row) \(name)" }
        init(_ row: String, _ name: String, _ json: @escaping @Sendable @autoclosure () -> String, _ code: String?) {
            (self.row, self.name, self.json, self.code) = (row, name, json, code)
        }
    }

    static let cases: [Case] = [
        Case(
            "S4.4-3",
            "remarks of 4 097 characters",
            document(
                "general-communication",
                body: general,
                remarks: #"{"lang": "en", "text": "\#(String(repeating: "é", count: 4_097))"}"#
            ),
            "malformed"
        ),
        Case(
            "S4.4-3",
            "designator of 65 characters",
            document("pre-launch", body: preLaunch(extra: #", "designator": "\#(String(repeating: "x", count: 65))""#)),
            "invalid-body"
        ),
        Case(
            "S6.3-5",
            "a pre-launch that cancels",
            document("pre-launch", body: preLaunch(), refs: refs("cancels")),
            "invalid-body"
        ),
        Case(
            "S6.3-5",
            "a cancellation with two cancels",
            document("launch-cancellation", body: #"{"reason": "weather"}"#, refs: refs("cancels", "cancels")),
            "invalid-body"
        ),
        Case(
            "N1-1",
            "a missing required field",
            document("pre-launch", body: #"{"class": "ballistic-missile"}"#),
            "invalid-body"
        ),
        Case(
            "N1-2",
            "a general communication that extends",
            document("general-communication", body: general, refs: refs("extends")),
            "invalid-body"
        ),
        Case(
            "N2.3-1",
            "a corrected pre-launch without late",
            document("correction", body: correction(preLaunch()), refs: refs("corrects")),
            "invalid-body"
        ),
        Case(
            "N2.3-1",
            "a corrected pre-launch with late",
            document("correction", body: correction(preLaunch(extra: #", "late": false"#)), refs: refs("corrects")),
            nil
        ),
        Case(
            "N2.3-3",
            "a launch class given twice",
            document(
                "annual-declaration",
                body:
                    #"{"year": 2026, "policy": {"lang": "en", "text": "p"}, "launches": [{"class": "ballistic-missile", "count": 1}, {"class": "ballistic-missile", "count": 2}]}"#
            ),
            "invalid-body"
        ),
        Case("N3.1-2", "azimuth 360", document("pre-launch", body: preLaunch(azimuth: "360")), "invalid-body"),
        Case(
            "N3.1-2",
            "class rocket",
            document("pre-launch", body: preLaunch().replacingOccurrences(of: "ballistic-missile", with: "rocket")),
            "invalid-body"
        ),
        Case(
            "N3.1-4",
            "a window of 30 days and a second",
            document("pre-launch", body: preLaunch(start: 2 * day, end: 32 * day + 1)),
            "invalid-body"
        ),
        Case(
            "N3.1-4",
            "a window of exactly 30 days",
            document("pre-launch", body: preLaunch(start: 2 * day, end: 32 * day)),
            nil
        ),
        Case(
            "N3.1-5",
            "a window that closed before created",
            document("pre-launch", body: preLaunch(start: -7_200, end: -3_600)),
            "invalid-body"
        ),
        Case(
            "N3.1-6",
            "a pre-launch that acknowledges",
            document("pre-launch", body: preLaunch(), refs: refs("acknowledges")),
            "invalid-body"
        ),
        Case(
            "N3.2-2",
            "extension reason snow",
            document(
                "launch-window-extension",
                body: #"{"new-window-end": \#(at(3 * day)), "reason": "snow"}"#,
                refs: refs("extends")
            ),
            "invalid-body"
        ),
        Case(
            "N3.2-3",
            "an extension without extends",
            document("launch-window-extension", body: extensionBody),
            "invalid-body"
        ),
        Case(
            "N3.2-4",
            "new-window-end before created",
            document("launch-window-extension", body: #"{"new-window-end": \#(at(-1))}"#, refs: refs("extends")),
            "invalid-body"
        ),
        Case(
            "N3.3-1",
            "cancellation reason snow",
            document("launch-cancellation", body: #"{"reason": "snow"}"#, refs: refs("cancels")),
            "invalid-body"
        ),
        Case(
            "N3.3-2",
            "a cancellation without cancels",
            document("launch-cancellation", body: #"{"reason": "weather"}"#),
            "invalid-body"
        ),
        Case(
            "N3.4-1",
            "outcome boom",
            document("post-launch-report", body: report.replacingOccurrences(of: "nominal", with: "boom")),
            "invalid-body"
        ),
        Case(
            "N3.4-2",
            "launch-time after created",
            document("post-launch-report", body: report.replacingOccurrences(of: at(-3_600), with: at(60))),
            "invalid-body"
        ),
        Case(
            "N3.4-3",
            "a report responding to two",
            document("post-launch-report", body: report, refs: refs("responds-to", "responds-to")),
            "invalid-body"
        ),
        Case(
            "N3.5-1",
            "year 1999",
            document("annual-declaration", body: declaration.replacingOccurrences(of: "2026", with: "1999")),
            "invalid-body"
        ),
        Case(
            "N3.5-3",
            "a declaration that corrects",
            document("annual-declaration", body: declaration, refs: refs("corrects")),
            "invalid-body"
        ),
        Case(
            "N3.6-1",
            "item category with a space",
            document("export-denial", body: denial.replacingOccurrences(of: "2B001.a", with: "2B 001")),
            "invalid-body"
        ),
        Case(
            "N3.6-2",
            "an export denial that cancels",
            document("export-denial", body: denial, refs: refs("cancels")),
            "invalid-body"
        ),
        Case(
            "N3.7-1",
            "withdrawal on 30 February",
            document("export-denial-withdrawal", body: #"{"withdrawal-date": "2027-02-30"}"#, refs: refs("cancels")),
            "invalid-body"
        ),
        Case(
            "N3.7-2",
            "a withdrawal without cancels",
            document("export-denial-withdrawal", body: #"{"withdrawal-date": "2027-02-28"}"#),
            "invalid-body"
        ),
        Case(
            "N3.8-1",
            "quantity 0",
            document("treaty-event", body: event.replacingOccurrences(of: #""quantity": 1"#, with: #""quantity": 0"#)),
            "invalid-body"
        ),
        Case(
            "N3.8-2",
            "a treaty event that extends",
            document("treaty-event", body: event, refs: refs("extends")),
            "invalid-body"
        ),
        Case(
            "N3.9-1",
            "an acknowledgement with a body field",
            document("acknowledgement", body: #"{"note": "x"}"#, refs: refs("acknowledges")),
            "invalid-body"
        ),
        Case(
            "N3.9-3",
            "an acknowledgement without acknowledges",
            document("acknowledgement", body: nil, refs: refs("responds-to")),
            "invalid-body"
        ),
        Case(
            "N3.10-2",
            "a corrected body with azimuth 400",
            document(
                "correction",
                body: correction(preLaunch(azimuth: "400", extra: #", "late": false"#)),
                refs: refs("corrects")
            ),
            "invalid-body"
        ),
        Case(
            "N3.10-3",
            "a correction without corrects",
            document("correction", body: correction(preLaunch(extra: #", "late": false"#))),
            "invalid-body"
        ),
        Case(
            "N3.10-4",
            "a correction of an acknowledgement",
            document("correction", body: correction("{}", type: "acknowledgement"), refs: refs("corrects")),
            "invalid-body"
        ),
        Case(
            "N3.11-2",
            "an empty subject",
            document("general-communication", body: #"{"subject": "", "text": {"lang": "en", "text": "t"}}"#),
            "invalid-body"
        ),
        Case(
            "N3.11-3",
            "a general communication responding to three",
            document("general-communication", body: general, refs: refs("responds-to", "responds-to", "responds-to")),
            nil
        ),
    ]

    /// `parley compose` turns the document into an envelope and signs it with these two calls; a
    /// refusal must carry the rejection code a receiver gives the same fault.
    @Test(arguments: cases)
    func composerRefusesWhatReceiversReject(_ c: Case) throws {
        let identity = try TestPKI.shared(.edDSA).identity("US-NRRC")
        var got = "signed"
        do {
            let composition = try Composition(json: Array(c.json().utf8))
            let envelope = try composition.envelope(
                sender: identity.participantID,
                sequences: [Examples.recipients[0]: 1, Examples.recipients[1]: 1],
                now: Self.now,
                newID: .generate()
            )
            let bytes = try identity.sign(envelope)
            _ = try TestPKI.shared(.edDSA).verifier().verifyMessage(
                bytes,
                at: Self.now,
                recipient: Examples.recipients[1]
            )
        } catch let error as ProtocolError {
            got = error.rejectionCode?.name ?? "an error without a rejection code: \(error)"
        }
        #expect(got == (c.code ?? "signed"), "\(c.row) \(c.name)")
    }

    /// SPEC.md §4.3: a sender does not sign a message that exceeds a limit; the largest valid text
    /// (65 536 characters) of four-byte characters makes the message larger than 262 144 bytes.
    @Test func signerRefusesAMessageOverTheSizeLimit() throws {
        let identity = try TestPKI.shared(.edDSA).identity("US-NRRC")
        var envelope = Examples.envelope(.generalCommunication, created: Self.now)
        envelope.body = .generalCommunication(
            GeneralCommunication(
                subject: "large",
                text: try LocalizedText(language: "en", text: String(repeating: "\u{1F600}", count: 65_536))
            )
        )
        try envelope.validate()
        #expect { _ = try identity.sign(envelope) } throws: { ($0 as? ProtocolError)?.code == .tooLarge }
    }

    /// SPEC.md §4.4: generated ids are UUIDv7 (version 7, RFC 9562 variant) and never repeat.
    @Test func generatedIDsAreVersion7AndDistinct() {
        let ids = (0..<10_000).map { _ in MessageID.generate() }
        #expect(Set(ids).count == ids.count)
        for id in ids.prefix(100) {
            #expect(id.bytes[6] >> 4 == 7 && id.bytes[8] >> 6 == 0b10, "\(id)")
        }
        let millis = ids[0].bytes.prefix(6).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        #expect(
            abs(Int64(millis / 1000) - UTCTime.now.secondsSince1970) < 60,
            "the first 48 bits are the Unix time in milliseconds"
        )
    }

    /// n/2 of P-256 and P-384, written out here rather than taken from the code under test.
    static let halfOrders: [SignatureAlgorithm: String] = [
        .es256: "7fffffff800000007fffffffffffffffde737d56d38bcf4279dce5617e3192a8",
        .es384: "7fffffffffffffffffffffffffffffffffffffffffffffffe3b1a6c0fa1b96efac0d06d9245853bd76760cb5666294b9",
    ]

    /// SPEC.md §5.3: a signer using ES256 or ES384 outputs s ≤ n/2. Sixty-four signatures each make
    /// a high s nearly certain (probability 2⁻⁶⁴ of none) if the signer did not normalise.
    @Test(arguments: [SignatureAlgorithm.es256, .es384])
    func composedECDSASignaturesAreLowS(_ algorithm: SignatureAlgorithm) throws {
        let identity = try TestPKI.shared(algorithm).identity("US-NRRC")
        let half = stride(from: 0, to: Self.halfOrders[algorithm]!.count, by: 2).map { offset -> UInt8 in
            let start = Self.halfOrders[algorithm]!.index(Self.halfOrders[algorithm]!.startIndex, offsetBy: offset)
            return UInt8(Self.halfOrders[algorithm]![start...].prefix(2), radix: 16)!
        }
        for _ in 0..<64 {
            let signature = try COSESign1(
                decoding: try identity.sign(Examples.envelope(.acknowledgement, created: Self.now))
            ).signature
            #expect(signature.count == 2 * half.count)
            let s = Array(signature.suffix(half.count))
            #expect(!half.lexicographicallyPrecedes(s), "s > n/2")
        }
    }

    // MARK: CRLs (SPEC.md §8.4)

    /// The DER elements in `bytes`, in order: tag, whole encoding, content.
    static func derElements(
        _ bytes: ArraySlice<UInt8>
    ) throws -> [(tag: UInt8, encoded: [UInt8], content: ArraySlice<UInt8>)] {
        var elements: [(tag: UInt8, encoded: [UInt8], content: ArraySlice<UInt8>)] = []
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let tag = bytes[index]
            var length = Int(bytes[index + 1])
            var header = 2
            if length & 0x80 != 0 {
                let count = length & 0x7F
                length = bytes[(index + 2)..<(index + 2 + count)].reduce(0) { $0 << 8 | Int($1) }
                header += count
            }
            let end = index + header + length
            guard end <= bytes.endIndex else { throw CocoaError(.coderReadCorrupt) }
            elements.append((tag, Array(bytes[index..<end]), bytes[(index + header)..<end]))
            index = end
        }
        return elements
    }

    static func der(_ tag: UInt8, _ content: [UInt8]) -> [UInt8] {
        let count = content.count
        let length: [UInt8] =
            count < 0x80
            ? [UInt8(count)]
            : count < 0x100 ? [0x81, UInt8(count)] : [0x82, UInt8(count >> 8), UInt8(count & 0xFF)]
        return [tag] + length + content
    }

    /// SPEC.md §8.4: nextUpdate MUST be present. The test PKI's issuing CRL (Ed25519 CA), re-signed
    /// by the issuing CA once as it is and once without nextUpdate: the first loads, the second is refused.
    @Test func crlWithoutNextUpdateIsRefused() throws {
        let pki = try TestPKI.make(arguments: ["--ca-alg", "ed25519"], participants: ["US-NRRC", "RU-NRRC"])
        defer { pki.remove() }
        let directory = pki.directory
        let key = try PrivateKey.load(path: directory.appendingPathComponent("issuing/private/ca.key").path)
        let crl = Array(try Data(contentsOf: directory.appendingPathComponent("issuing/crl.der")))
        let outer = try #require(try Self.derElements(crl[...]).first)
        let parts = try Self.derElements(outer.content)
        try #require(parts.count == 3 && parts[0].tag == 0x30)
        let fields = try Self.derElements(parts[0].content)
        // version, signature, issuer, thisUpdate, nextUpdate, ...
        try #require(fields.count >= 5 && [0x17, 0x18].contains(fields[4].tag), "the CRL has a nextUpdate at field 5")
        func signed(_ tbsFields: [[UInt8]]) throws -> [UInt8] {
            let tbs = Self.der(0x30, tbsFields.flatMap { $0 })
            return Self.der(0x30, tbs + parts[1].encoded + Self.der(0x03, [0] + (try key.signature(for: tbs))))
        }
        let withNextUpdate = try signed(fields.map(\.encoded))
        #expect(try CertificateRevocationList(derEncoded: withNextUpdate).issuer.contains("Issuing CA"))
        var without = fields.map(\.encoded)
        without.remove(at: 4)
        #expect { _ = try CertificateRevocationList(derEncoded: try signed(without)) } throws: { error in
            "\(error)".contains("nextUpdate")
        }
    }

    // MARK: Receipts (SPEC.md §9.2)

    struct Delivery {
        var pki: TestPKI
        var message: VerifiedMessage
        var sent: SentMessage
        var hcoc: SigningIdentity
        var receipt: Receipt
    }

    /// A message created now and its accepted receipt, `receivedOffset` seconds after its creation.
    static func delivery(receivedOffset: Int64 = 0) throws -> Delivery {
        let pki = try TestPKI.shared(.edDSA)
        let now = Self.now
        let message = try pki.verifier().verifyMessage(
            try pki.identity("US-NRRC").sign(Examples.envelope(.preLaunch, created: now)),
            at: now
        )
        let receipt = Receipt(
            messageID: message.envelope.id,
            digest: Digest.sha256(message.bytes),
            recipient: Examples.recipients[0],
            sender: Examples.sender,
            received: now + receivedOffset,
            status: .accepted
        )
        return Delivery(
            pki: pki,
            message: message,
            sent: SentMessage(message),
            hcoc: try pki.identity("HCOC-CC"),
            receipt: receipt
        )
    }

    static func expectInvalid(
        _ bytes: [UInt8],
        _ delivery: Delivery,
        _ code: ProtocolError.Code? = nil,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        #expect(sourceLocation: sourceLocation) {
            _ = try delivery.pki.verifier().verifyReceipt(
                bytes,
                at: now,
                for: delivery.sent,
                from: Examples.recipients[0]
            )
        } throws: { error in
            guard let error = error as? ProtocolError else { return false }
            return code == nil || error.code == code
        }
    }

    /// Step 1: a receipt followed by a byte, or with a non-shortest head, is not deterministic CBOR.
    @Test func receiptThatIsNotDeterministicIsInvalid() throws {
        let d = try Self.delivery()
        let bytes = try d.hcoc.sign(d.receipt)
        _ = try d.pki.verifier().verifyReceipt(bytes, at: Self.now, for: d.sent, from: Examples.recipients[0])
        try Self.expectInvalid(bytes + [0], d, .malformed)
        // The tag 18 head written with a one-byte argument (0xD8 0x12 instead of 0xD2).
        try Self.expectInvalid([0xD8, 0x12] + bytes.dropFirst(), d, .malformed)
    }

    /// Step 2: a message is not a receipt, whatever else it proves.
    @Test func messageIsNotAReceipt() throws {
        let d = try Self.delivery()
        try Self.expectInvalid(d.message.bytes, d, .malformed)
        // The receipt map signed under the message content type.
        try Self.expectInvalid(
            try d.hcoc.sign(payload: d.receipt.encoded, contentType: ContentType.message),
            d,
            .malformed
        )
    }

    /// Step 3 and §7.1: version 1 only.
    @Test func receiptOfAnotherVersionIsInvalid() throws {
        let d = try Self.delivery()
        var map = try #require(d.receipt.cbor.mapValue)
        map[1] = 2
        try Self.expectInvalid(
            try d.hcoc.sign(payload: CBOREncoder.encode(.map(map)), contentType: ContentType.receipt),
            d
        )
    }

    /// Step 4: a receipt changed after signing.
    @Test func tamperedReceiptIsInvalid() throws {
        let d = try Self.delivery()
        var bytes = try d.hcoc.sign(d.receipt)
        let object = try COSESign1(decoding: bytes)
        let at = try #require(bytes.indices.first { bytes[$0...].starts(with: object.payload) })
        bytes[at + object.payload.count - 1] ^= 0x01
        try Self.expectInvalid(bytes, d, .badSignature)
    }

    /// Step 8: an accepted receipt that says the message arrived more than δ before it was created.
    @Test func receiptBeforeTheMessageWasCreatedIsInvalid() throws {
        let skew = try TestPKI.shared(.edDSA).verifier().maximumClockSkew
        let early = try Self.delivery(receivedOffset: -(skew + 1))
        try Self.expectInvalid(try early.hcoc.sign(early.receipt), early, .receiptMismatch)
        let edge = try Self.delivery(receivedOffset: -skew)
        _ = try edge.pki.verifier().verifyReceipt(
            try edge.hcoc.sign(edge.receipt),
            at: Self.now,
            for: edge.sent,
            from: Examples.recipients[0]
        )
    }
}
