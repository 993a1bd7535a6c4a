import Foundation
import ParleyCodec
import ParleyCrypto
@testable import ParleyProtocol
import ParleyTestSupport

/// One entry of the hostile-input catalogue (Tests/Hostile/CATALOGUE.md): what is sent, what the
/// node must answer, and what `parley verify` must say about the same bytes.
struct HostileCase: Sendable {
    enum Input: Sendable {
        /// A request body (POST /v1/messages), optionally sent differently.
        case body([UInt8], Request = .init())
        /// A connection-level attack with no message to verify.
        case transport(TransportAttack)
    }

    /// How the body is sent. Default: the hub HCOC-CC's TLS identity, the COSE media type, Content-Length.
    struct Request: Sendable {
        var peer = "HCOC-CC"
        var contentType: String? = "application/cose; cose-type=\"cose-sign1\""
        var parleyRecipient: String?
        var path = "/v1/messages"
        var get = false
        var chunked = false
    }

    enum TransportAttack: Sendable {
        /// A TLS client with this certificate chain and key (nil: no client certificate); `tls12CBC`
        /// offers only TLS 1.2 CBC suites.
        case tlsClient(chain: String?, key: String?, tls12CBC: Bool = false)
        /// TCP connection that sends nothing (no TLS ClientHello).
        case silentConnection
        /// Request line, then one header byte at a time.
        case slowHeaders
        /// Complete headers, then the body one byte at a time, this long apart.
        case slowBody(every: Duration)
        /// Complete headers, half the body, then nothing.
        case stalledBody
    }

    enum Daemon: Sendable, Equatable {
        /// HTTP 200 with a receipt signed by the node: status rejected with this code.
        case rejected(RejectionCode)
        /// HTTP 200 with a duplicate receipt repeating the original accepted one.
        case duplicate
        /// An `application/problem+json` answer.
        case problem(status: Int, name: String)
        /// The TLS handshake fails; no HTTP exchange happens.
        case tlsRefused
        /// The server closes the connection within the limit, after this HTTP status (nil: none).
        case cutOff(status: Int?)
    }

    enum Verify: Sendable, Equatable {
        /// `parley verify` exits 1 with this error code (and, when it has one, this rejection name).
        case fails(code: ProtocolError.Code)
        /// The bytes verify on their own (the refusal depends on the receiver's state or transport).
        case valid
        /// Nothing to verify (transport attacks).
        case notApplicable
    }

    var id: String
    var name: String
    var what: String
    var input: Input
    var daemon: Daemon
    var verify: Verify
    var spec: String
    /// For certificate failures: the failed check `parley verify` reports (`error.certificate.check`).
    var chainCheck: String?
    /// Text that the HTTP problem's `detail` and `parley verify`'s reason must contain: the real fault, not a generic sentence.
    var detail: String?
}

extension HostileCase.Daemon: CustomStringConvertible {
    var description: String {
        switch self {
        case .rejected(let code): "receipt: rejected \(code.rawValue) \(code.name)"
        case .duplicate: "receipt: duplicate (original content)"
        case .problem(let status, let name): "HTTP \(status) \(name)"
        case .tlsRefused: "TLS handshake fails"
        case .cutOff(let status?): "HTTP \(status), connection closed"
        case .cutOff(nil): "connection closed"
        }
    }
}

extension HostileCase.Verify: CustomStringConvertible {
    var description: String {
        switch self {
        case .fails(let code): "exit 1, `\(code.outcomeName)`"
        case .valid: "exit 0, valid"
        case .notApplicable: "—"
        }
    }
}

/// Builds the catalogue's inputs at test time from the test PKI (keys and certificates) and the
/// committed key-less inputs in Tests/Hostile/inputs/.
struct HostileForge {
    static let directory = SourceTree.root.appendingPathComponent("Tests/Hostile")
    static let receiver = try! ParticipantID("RU-NRRC")
    static let us = try! ParticipantID("US-NRRC")

    let pki: TestPKI
    let signer: SigningIdentity
    /// Accepted before the hostile inputs (channel US-NRRC → RU-NRRC, seq 1 and 2).
    let first: [UInt8]
    let firstEnvelope: Envelope

    /// A sub-CA under the issuing CA (whose pathLenConstraint is 0) and a US-NRRC leaf under it.
    let rogue: (key: PrivateKey, chain: [Certificate])

    init(pki: TestPKI, first: [UInt8], firstEnvelope: Envelope, rogue: (key: PrivateKey, chain: [Certificate])) throws {
        self.pki = pki
        self.rogue = rogue
        signer = try pki.identity("US-NRRC")
        self.first = first
        self.firstEnvelope = firstEnvelope
    }

    /// A valid pre-launch envelope from US-NRRC to RU-NRRC (sequence `seq`), created now.
    static func envelope(
        seq: UInt64,
        id: MessageID = .generate(),
        sender: ParticipantID = us,
        recipients: [String] = ["RU-NRRC"]
    ) -> Envelope {
        var envelope = Examples.envelope(.preLaunch, created: .now)
        envelope.id = id
        envelope.sender = sender
        envelope.recipients = recipients.map { Recipient(participant: try! ParticipantID($0), sequence: seq) }
        return envelope
    }

    static func committed(_ id: String) throws -> (name: String, bytes: [UInt8]) {
        let folder = directory.appendingPathComponent("inputs")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path)
        guard let file = files.first(where: { $0.hasPrefix("\(id)-") }) else { throw CocoaError(.fileNoSuchFile) }
        let name = String(file.dropFirst(id.count + 1).dropLast(".cbor".count))
        return (name, Array(try Data(contentsOf: folder.appendingPathComponent(file))))
    }

    /// A protected header naming the SHA-256 of `x5chain`, and the unprotected header carrying it.
    static func headers(
        alg: CBOR = .integer(-8),
        contentType: CBOR = .textString(ContentType.message),
        x5chain: CBOR,
        extra: [(CBOR, CBOR)] = []
    ) -> (protected: [UInt8], unprotected: CBORMap) {
        var map: CBORMap = [
            1: alg, 3: contentType,
            .integer(ProtectedHeader.Label.x5chainSHA256): .byteString(Digest.sha256(CBOREncoder.encode(x5chain))),
        ]
        for (key, value) in extra { map[key] = value }
        return (CBOREncoder.encode(.map(map)), [33: x5chain])
    }

    static func chain(_ certificates: [Certificate]) -> CBOR {
        certificates.count == 1
            ? .byteString(certificates[0].derEncoded) : .array(certificates.map { .byteString($0.derEncoded) })
    }

    /// Signs `payload` under `header` with `key` (ECDSA low-S), the Sig_structure built as given.
    static func sign(
        header: [UInt8],
        unprotected: CBORMap,
        payload: [UInt8],
        key: PrivateKey,
        context: String = "Signature1",
        aad: [UInt8] = []
    ) throws -> [UInt8] {
        let toBeSigned = CBOREncoder.encode(
            .array([.textString(context), .byteString(header), .byteString(aad), .byteString(payload)])
        )
        let signature = ECDSALowS.normalized(try key.signature(for: toBeSigned), algorithm: key.algorithm)
        return COSESign1(
            protectedHeader: header,
            unprotectedHeader: unprotected,
            payload: payload,
            signature: signature
        ).encoded
    }

    /// A COSE_Sign1 from raw elements (any CBOR in each position), tag 18.
    static func object(_ protected: CBOR, _ unprotected: CBOR, _ payload: CBOR, _ signature: CBOR) -> [UInt8] {
        CBOREncoder.encode(.tagged(18, .array([protected, unprotected, payload, signature])))
    }

    /// US-NRRC's message with `payload` under a header with `extra` labels or another algorithm/chain.
    func signed(
        _ payload: [UInt8],
        alg: CBOR = .integer(-8),
        contentType: CBOR = .textString(ContentType.message),
        chain: [Certificate]? = nil,
        x5chain: CBOR? = nil,
        extra: [(CBOR, CBOR)] = [],
        key: PrivateKey? = nil
    ) throws -> [UInt8] {
        let headers = Self.headers(
            alg: alg,
            contentType: contentType,
            x5chain: x5chain ?? Self.chain(chain ?? signer.chain),
            extra: extra
        )
        return try Self.sign(
            header: headers.protected,
            unprotected: headers.unprotected,
            payload: payload,
            key: key ?? signer.key
        )
    }

    func fresh(seq: UInt64 = 100) -> [UInt8] { Self.envelope(seq: seq).encoded }

    /// The envelope's CBOR map with `change` applied, re-encoded deterministically.
    func payload(_ change: (inout CBORMap) -> Void) throws -> [UInt8] {
        guard case .map(var map) = try CBOR(decoding: fresh()) else { throw CocoaError(.coderInvalidValue) }
        change(&map)
        return CBOREncoder.encode(.map(map))
    }

    func negative(_ folder: String) throws -> (PrivateKey, [Certificate]) {
        (
            try PrivateKey.load(path: pki.path("negative/\(folder)/signing.key")),
            try Certificate.load(path: pki.path("negative/\(folder)/signing-chain.pem"))
        )
    }

    /// `bytes` with the first occurrence of `old` replaced by `new`.
    static func replacing(_ old: [UInt8], with new: [UInt8], in bytes: [UInt8]) throws -> [UInt8] {
        guard let start = (0...(bytes.count - old.count)).first(where: { Array(bytes[$0..<($0 + old.count)]) == old })
        else {
            throw CocoaError(.coderInvalidValue)
        }
        return Array(bytes[..<start]) + new + Array(bytes[(start + old.count)...])
    }

    /// Ed25519 signature (R ‖ S) with S + L: the same point equation, but S ≥ L (RFC 8032 §5.1.7).
    static func addingL(_ signature: [UInt8]) -> [UInt8] {
        let l: [UInt8] = [
            0xED, 0xD3, 0xF5, 0x5C, 0x1A, 0x63, 0x12, 0x58, 0xD6, 0x9C, 0xF7, 0xA2, 0xDE, 0xF9, 0xDE, 0x14,
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
        ]
        var result = signature
        var carry = 0
        for i in 0..<32 {
            let sum = Int(result[32 + i]) + Int(l[i]) + carry
            result[32 + i] = UInt8(sum & 0xFF)
            carry = sum >> 8
        }
        return result
    }

    // MARK: The catalogue

    func cases() throws -> [HostileCase] {
        var all: [HostileCase] = []
        func add(
            _ id: String,
            _ name: String,
            _ what: String,
            _ input: HostileCase.Input,
            _ daemon: HostileCase.Daemon,
            _ verify: HostileCase.Verify,
            _ spec: String
        ) {
            all.append(
                HostileCase(id: id, name: name, what: what, input: input, daemon: daemon, verify: verify, spec: spec)
            )
        }
        func file(
            _ id: String,
            _ what: String,
            _ daemon: HostileCase.Daemon,
            _ verify: HostileCase.Verify,
            _ spec: String
        ) throws {
            let (name, bytes) = try Self.committed(id)
            add(id, name, what + " (`inputs/\(id)-\(name).cbor`)", .body(bytes), daemon, verify, spec)
        }
        let malformed400 = HostileCase.Daemon.problem(status: 400, name: "malformed")
        let tooLarge400 = HostileCase.Daemon.problem(status: 400, name: "too-large")
        let malformed = HostileCase.Verify.fails(code: .malformed)
        let signer = self.signer

        // A. Framing and size.
        try file("H001", "empty body", malformed400, malformed, "§9.1 step 2")
        try file("H002", "tag 18 head only", malformed400, malformed, "§4.2 (1)")
        try file("H003", "tag 18 and array head, then nothing", malformed400, malformed, "§4.2 (1)")
        try file("H004", "signature declared 64 bytes, 2 present", malformed400, malformed, "§4.2 (1)")
        try file("H005", "reserved additional information 28", malformed400, malformed, "§4.2 (1)")
        try file("H006", "lone break code", malformed400, malformed, "§4.2 (1)")
        try file("H007", "a byte after a complete COSE_Sign1", malformed400, malformed, "§4.2 (7)")
        add(
            "H008",
            "oversized-body",
            "262 145 zero bytes with Content-Length",
            .body(Array(repeating: 0, count: 262_145)),
            .problem(status: 413, name: "too-large"),
            .fails(code: .tooLarge),
            "§9.1 step 1, §12.2"
        )
        add(
            "H009",
            "oversized-chunked-body",
            "300 000 bytes, chunked (no Content-Length): cut off while reading",
            .body(Array(repeating: 0x40, count: 300_000), .init(chunked: true)),
            .problem(status: 413, name: "too-large"),
            .fails(code: .tooLarge),
            "§12.2"
        )
        add(
            "H010",
            "garbage-at-size-limit",
            "exactly 262 144 bytes (read in full, then not CBOR)",
            .body(Array(repeating: 0, count: 262_144)),
            malformed400,
            malformed,
            "§9.1 steps 1–2"
        )

        // B. Nesting and declared lengths.
        try file("H011", "17 nested arrays (depth limit 16)", tooLarge400, .fails(code: .tooLarge), "§4.3")
        add(
            "H012",
            "nesting-depth-10000",
            "10 000 nested arrays: no stack exhaustion",
            .body(Array(repeating: 0x81, count: 10_000) + [0]),
            tooLarge400,
            .fails(code: .tooLarge),
            "§4.3"
        )
        add(
            "H013",
            "items-16385",
            "an array of 16 385 integers (item limit 16 384)",
            .body([0x99, 0x40, 0x01] + Array(repeating: 0, count: 16_385)),
            tooLarge400,
            .fails(code: .tooLarge),
            "§4.3"
        )
        try file("H014", "byte string declaring 2⁶⁴−1 bytes", malformed400, malformed, "§4.2 (1), §4.3")
        try file("H015", "array declaring 2³² elements", malformed400, malformed, "§4.2 (1), §4.3")
        try file("H016", "map declaring 2⁶⁴−1 pairs", malformed400, malformed, "§4.2 (1), §4.3")
        try file("H017", "text string declaring 2⁶³ bytes", malformed400, malformed, "§4.2 (1), §4.3")
        try file("H018", "payload of 17 nested arrays", tooLarge400, .fails(code: .tooLarge), "§4.3, §9.1 step 4")

        // C. Non-canonical and invalid CBOR.
        try file("H019", "indefinite-length array", malformed400, malformed, "§4.2 (3)")
        try file("H020", "indefinite-length byte string as payload", malformed400, malformed, "§4.2 (3)")
        try file("H021", "array length 4 in a one-byte argument", malformed400, malformed, "§4.2 (2)")
        try file("H022", "tag 18 in a one-byte argument", malformed400, malformed, "§4.2 (2)")
        try file("H023", "map keys 2, 1 (unsorted)", malformed400, malformed, "§4.2 (4)")
        try file("H024", "map key 1 twice", malformed400, malformed, "§4.2 (4)")
        try file("H025", "a half-precision float", malformed400, malformed, "§4.2 (5)")
        try file("H026", "1.0 as a single-precision float (not preferred)", malformed400, malformed, "§4.2 (5)")
        try file("H027", "text string C3 28 (invalid UTF-8)", malformed400, malformed, "§4.2 (6)")
        try file("H028", "simple value 24 in two bytes", malformed400, malformed, "§4.2 (1)")
        try file("H029", "text string with an encoded surrogate ED A0 80", malformed400, malformed, "§4.2 (6)")

        // D. COSE_Sign1 shape: cannot be identified.
        try file("H030", "COSE_Sign1 array without tag 18", malformed400, malformed, "§5.1, §9.1 step 3")
        try file("H031", "tag 98 (COSE_Sign) instead of 18", malformed400, malformed, "§5.1, §9.1 step 3")
        try file("H032", "array of three elements", malformed400, malformed, "§5.1, §9.1 step 3")
        try file("H033", "payload is a text string", malformed400, malformed, "§9.1 step 3")
        try file("H034", "detached payload (nil)", malformed400, malformed, "§5.1, §9.1 step 3")
        try file("H035", "empty payload", malformed400, malformed, "§9.1 step 4")
        try file("H036", "payload is an array", malformed400, malformed, "§9.1 step 4")
        try file("H037", "payload map without id (key 2)", malformed400, malformed, "§9.1 step 4")
        try file("H038", "payload id of 15 bytes", malformed400, malformed, "§9.1 step 4")
        try file("H039", "payload sender \"us-nrrc\" (not a pid)", malformed400, malformed, "§9.1 step 4")

        // E. Identified messages that break the COSE_Sign1 profile: signed rejections.
        let payload = fresh()
        let (header, unprotected) = Self.headers(x5chain: Self.chain(signer.chain))
        let goodSignature = try COSESign1(
            decoding: try Self.sign(header: header, unprotected: unprotected, payload: payload, key: signer.key)
        ).signature
        var withKid = unprotected
        withKid[4] = .byteString([1])
        add(
            "H040",
            "unprotected-header-extra-parameter",
            "unprotected header {4: h'01', 33: x5chain}, otherwise valid",
            .body(Self.object(.byteString(header), .map(withKid), .byteString(payload), .byteString(goodSignature))),
            .rejected(.malformed),
            malformed,
            "§5.1, §9.1 step 6"
        )
        add(
            "H112",
            "unprotected-header-empty",
            "x5chain missing: unprotected header {}, otherwise valid",
            .body(Self.object(.byteString(header), .map([:]), .byteString(payload), .byteString(goodSignature))),
            .rejected(.malformed),
            malformed,
            "§5.1, §9.1 step 6"
        )
        let chainInProtected = CBOREncoder.encode(
            .map([1: -8, 3: .textString(ContentType.message), 33: Self.chain(signer.chain)])
        )
        add(
            "H113",
            "x5chain-in-protected-header",
            "x5chain (33) in the protected header, unprotected header {} (signed)",
            .body(try Self.sign(header: chainInProtected, unprotected: [:], payload: payload, key: signer.key)),
            .rejected(.malformed),
            malformed,
            "§5.1, §5.2"
        )
        add(
            "H041",
            "protected-header-not-a-byte-string",
            "protected header as a bare map",
            .body(
                Self.object(
                    try CBOR(decoding: header),
                    .map(unprotected),
                    .byteString(payload),
                    .byteString(goodSignature)
                )
            ),
            .rejected(.malformed),
            malformed,
            "§5.2, §9.1 step 6"
        )
        add(
            "H042",
            "signature-not-a-byte-string",
            "signature as an array",
            .body(Self.object(.byteString(header), .map(unprotected), .byteString(payload), .array([]))),
            .rejected(.malformed),
            malformed,
            "§5.1, §9.1 step 6"
        )
        add(
            "H043",
            "protected-header-empty",
            "protected header h'' (signed)",
            .body(try Self.sign(header: [], unprotected: unprotected, payload: payload, key: signer.key)),
            .rejected(.malformed),
            malformed,
            "§5.2"
        )
        add(
            "H044",
            "unknown-critical-header",
            "crit [99] and label 99 in the protected header (signed)",
            .body(try signed(payload, extra: [(2, .array([99])), (99, 1)])),
            .rejected(.malformed),
            malformed,
            "§5.2"
        )
        add(
            "H045",
            "kid-header",
            "kid (label 4) in the protected header (signed)",
            .body(try signed(payload, extra: [(4, .byteString([1, 2]))])),
            .rejected(.malformed),
            malformed,
            "§5.2"
        )
        add(
            "H046",
            "receipt-content-type",
            "content type of a receipt on a message (signed)",
            .body(try signed(payload, contentType: .textString(ContentType.receipt))),
            .rejected(.malformed),
            malformed,
            "§5.2"
        )
        add(
            "H047",
            "integer-content-type",
            "content type as CoAP integer 60 (signed)",
            .body(try signed(payload, contentType: 60)),
            .rejected(.malformed),
            malformed,
            "§5.2"
        )
        add(
            "H048",
            "header-non-shortest-integer",
            "alg -8 encoded 38 07 in the protected header (signed over those bytes)",
            .body(
                try Self.sign(
                    header: try Self.replacing([0x01, 0x27], with: [0x01, 0x38, 0x07], in: header),
                    unprotected: unprotected,
                    payload: payload,
                    key: signer.key
                )
            ),
            .rejected(.malformed),
            malformed,
            "§4.2 (2), §5.2"
        )
        add(
            "H049",
            "header-keys-unsorted",
            "protected header keys 3, 1, -65537 (signed over those bytes)",
            .body(
                try Self.sign(
                    header: try Self.unsortedHeader(header),
                    unprotected: unprotected,
                    payload: payload,
                    key: signer.key
                )
            ),
            .rejected(.malformed),
            malformed,
            "§4.2 (4), §5.2"
        )
        let valid = try Self.sign(header: header, unprotected: unprotected, payload: payload, key: signer.key)
        add(
            "H050",
            "signature-length-non-shortest",
            "signature length 64 encoded 59 00 40",
            .body(
                try Self.replacing(
                    [0x58, 0x40] + Array(goodSignature.prefix(4)),
                    with: [0x59, 0x00, 0x40] + Array(goodSignature.prefix(4)),
                    in: valid
                )
            ),
            malformed400,
            malformed,
            "§4.2 (2)"
        )
        add(
            "H051",
            "payload-non-shortest-integer",
            "envelope version 1 encoded 18 01 (signed)",
            .body(try signed([payload[0], 0x01, 0x18] + Array(payload.dropFirst(2)))),
            malformed400,
            malformed,
            "§4.2 (2), §9.1 step 4"
        )
        add(
            "H052",
            "signed-message-trailing-byte",
            "a valid message followed by 0x00",
            .body(valid + [0]),
            malformed400,
            malformed,
            "§4.2 (7)"
        )

        // F. Algorithm confusion and signatures over other bytes.
        let tlsKey = try PrivateKey.load(path: pki.path("participants/US-NRRC/tls.key"))
        let tlsChain = try Certificate.load(path: pki.path("participants/US-NRRC/tls-chain.pem"))
        add(
            "H053",
            "alg-es256-with-ed25519-key",
            "alg -7 (ES256), Ed25519 leaf, Ed25519 signature",
            .body(try signed(payload, alg: -7)),
            .rejected(.badSignature),
            .fails(code: .badSignature),
            "§5.3, §9.1 step 9"
        )
        add(
            "H054",
            "alg-es384-with-ed25519-key",
            "alg -35 (ES384), Ed25519 leaf",
            .body(try signed(payload, alg: -35)),
            .rejected(.badSignature),
            .fails(code: .badSignature),
            "§5.3"
        )
        add(
            "H055",
            "alg-es512",
            "alg -36 (ES512, not in Parley)",
            .body(try signed(payload, alg: -36)),
            .rejected(.unsupportedAlgorithm),
            .fails(code: .unsupportedAlgorithm),
            "§5.2, §9.1 step 6"
        )
        add(
            "H056",
            "alg-as-text",
            "alg \"EdDSA\" (text)",
            .body(try signed(payload, alg: "EdDSA")),
            .rejected(.malformed),
            malformed,
            "§5.2, §9.1 step 6"
        )
        add(
            "H057",
            "eddsa-alg-with-p256-leaf",
            "alg -8 over US-NRRC's P-256 TLS certificate and key",
            .body(try signed(payload, alg: -8, chain: tlsChain, key: tlsKey)),
            .rejected(.badSignature),
            .fails(code: .badSignature),
            "§5.3"
        )
        add(
            "H058",
            "tls-certificate-as-signer",
            "alg -7, signed with US-NRRC's TLS key and certificate (TLS profile)",
            .body(try signed(payload, alg: -7, chain: tlsChain, key: tlsKey)),
            .rejected(.untrustedCertificate),
            .fails(code: .untrustedCertificate),
            "§8.2, §8.5 step 5"
        )
        var flipped = try COSESign1(decoding: valid)
        flipped.payload[try flipped.payload.lastIndex(of: UInt8(ascii: "R")).required("an R in the payload")] ^= 1
        add(
            "H059",
            "payload-bit-flipped",
            "one payload bit flipped after signing",
            .body(flipped.encoded),
            .rejected(.badSignature),
            .fails(code: .badSignature),
            "§9.1 step 10"
        )
        var transplanted = try COSESign1(decoding: try signed(fresh(seq: 101)))
        transplanted.payload = payload
        add(
            "H060",
            "signature-from-another-message",
            "a valid signature of another message of the same signer",
            .body(transplanted.encoded),
            .rejected(.badSignature),
            .fails(code: .badSignature),
            "§9.1 step 10"
        )
        var short = try COSESign1(decoding: valid)
        short.signature.removeLast()
        add(
            "H061",
            "signature-63-bytes",
            "signature one byte short",
            .body(short.encoded),
            .rejected(.badSignature),
            .fails(code: .badSignature),
            "§5.3"
        )
        short.signature = []
        add(
            "H062",
            "signature-empty",
            "empty signature",
            .body(short.encoded),
            .rejected(.badSignature),
            .fails(code: .badSignature),
            "§5.3"
        )
        short.signature = Array(repeating: 0, count: 64)
        add(
            "H063",
            "signature-zero",
            "64 zero bytes",
            .body(short.encoded),
            .rejected(.badSignature),
            .fails(code: .badSignature),
            "§5.3"
        )
        short.signature = Self.addingL(goodSignature)
        add(
            "H064",
            "ed25519-s-plus-l",
            "valid signature with S replaced by S + L (non-canonical)",
            .body(short.encoded),
            .rejected(.badSignature),
            .fails(code: .badSignature),
            "§5.3 (RFC 8032 §5.1.7)"
        )
        add(
            "H065",
            "signed-with-external-aad",
            "signature over a Sig_structure with external_aad h'01'",
            .body(try Self.sign(header: header, unprotected: unprotected, payload: payload, key: signer.key, aad: [1])),
            .rejected(.badSignature),
            .fails(code: .badSignature),
            "§5.3"
        )
        add(
            "H066",
            "signed-as-cose-sign",
            "signature over a Sig_structure with context \"Signature\"",
            .body(
                try Self.sign(
                    header: header,
                    unprotected: unprotected,
                    payload: payload,
                    key: signer.key,
                    context: "Signature"
                )
            ),
            .rejected(.badSignature),
            .fails(code: .badSignature),
            "§5.3"
        )
        var swapped = try COSESign1(decoding: valid)
        swapped.unprotectedHeader = [
            33: Self.chain(try Certificate.load(path: pki.path("participants/US-NRRC/signing-2-chain.pem")))
        ]
        add(
            "H067",
            "x5chain-swapped-after-signing",
            "x5chain replaced by US-NRRC's valid rollover chain after signing (x5chain-sha256 no longer matches)",
            .body(swapped.encoded),
            .rejected(.badSignature),
            .fails(code: .badSignature),
            "§5.2, §9.1 step 9"
        )

        // G. Certificate chains.
        let anchor = try Certificate.load(path: pki.anchors)[0]
        let leaf = signer.chain[0]
        let issuing = signer.chain[1]
        add(
            "H068",
            "x5chain-nine-certificates",
            "x5chain of 9 certificates (leaf, then the issuing CA 8 times)",
            .body(try signed(payload, chain: [leaf] + Array(repeating: issuing, count: 8))),
            .rejected(.tooLarge),
            .fails(code: .tooLarge),
            "§4.3, §9.1 step 6"
        )
        add(
            "H069",
            "certificate-over-16384-bytes",
            "a 16 385-byte certificate in x5chain",
            .body(
                try signed(
                    payload,
                    x5chain: .array([.byteString(leaf.derEncoded), .byteString(Array(repeating: 0x30, count: 16_385))])
                )
            ),
            .rejected(.tooLarge),
            .fails(code: .tooLarge),
            "§5.2, §9.1 step 6"
        )
        add(
            "H070",
            "x5chain-array-of-one",
            "x5chain [leaf] (must be a byte string)",
            .body(try signed(payload, x5chain: .array([.byteString(leaf.derEncoded)]))),
            .rejected(.malformed),
            malformed,
            "§5.2"
        )
        add(
            "H071",
            "x5chain-empty-array",
            "x5chain []",
            .body(try signed(payload, x5chain: .array([]))),
            .rejected(.malformed),
            malformed,
            "§5.2"
        )
        add(
            "H072",
            "anchor-included",
            "x5chain leaf, issuing CA, root (the anchor)",
            .body(try signed(payload, chain: [leaf, issuing, anchor])),
            .rejected(.untrustedCertificate),
            .fails(code: .untrustedCertificate),
            "§5.2, §8.5 step 1"
        )
        add(
            "H073",
            "looping-chain-self",
            "x5chain leaf, issuing, issuing (the CA listed as its own issuer)",
            .body(try signed(payload, chain: [leaf, issuing, issuing])),
            .rejected(.untrustedCertificate),
            .fails(code: .untrustedCertificate),
            "§8.5 step 2"
        )
        add(
            "H074",
            "looping-chain-cycle",
            "x5chain leaf, issuing, leaf, issuing (a cycle)",
            .body(try signed(payload, chain: [leaf, issuing, leaf, issuing])),
            .rejected(.untrustedCertificate),
            .fails(code: .untrustedCertificate),
            "§8.5 step 2"
        )
        add(
            "H075",
            "intermediate-missing",
            "x5chain with the leaf only",
            .body(try signed(payload, chain: [leaf])),
            .rejected(.untrustedCertificate),
            .fails(code: .untrustedCertificate),
            "§8.5 step 2"
        )
        add(
            "H076",
            "leaf-not-der",
            "x5chain whose first certificate is 300 bytes of garbage",
            .body(
                try signed(
                    payload,
                    x5chain: .array([.byteString(Array(repeating: 0xA5, count: 300)), .byteString(issuing.derEncoded)])
                )
            ),
            .rejected(.untrustedCertificate),
            .fails(code: .untrustedCertificate),
            "§9.1 step 9"
        )
        for (id, folder, code, what, spec) in [
            (
                "H077", "expired", RejectionCode.certificateNotValidAtTime, "signed with US-NRRC's expired certificate",
                "§8.5 step 4"
            ),
            (
                "H078", "not-yet-valid", .certificateNotValidAtTime, "signed with US-NRRC's not-yet-valid certificate",
                "§8.5 step 4"
            ),
            ("H080", "other-ca", .untrustedCertificate, "signed under another regime's CA (wrong CA)", "§8.5 step 2"),
            ("H081", "no-participant-uri", .untrustedCertificate, "leaf without a participant URI", "§8.2"),
            ("H082", "two-participant-uris", .untrustedCertificate, "leaf with two participant URIs", "§8.2"),
        ] {
            let (key, chain) = try negative(folder)
            add(
                id,
                "certificate-\(folder)",
                what,
                .body(try signed(payload, chain: chain, key: key)),
                .rejected(code),
                .fails(code: Self.protocolCode(code)),
                spec
            )
        }
        let (revokedKey, revokedChain) = try negative("revoked")
        add(
            "H079",
            "certificate-revoked",
            "REVOKED-TEST's message signed with its revoked certificate",
            .body(
                try signed(
                    Self.envelope(seq: 100, sender: try ParticipantID("REVOKED-TEST")).encoded,
                    chain: revokedChain,
                    key: revokedKey
                )
            ),
            .rejected(.certificateRevoked),
            .fails(code: .certificateRevoked),
            "§8.5, §9.1 step 13"
        )
        let france = try pki.identity("FR-CNES")
        add(
            "H109",
            "path-length-exceeded",
            "US-NRRC leaf under a sub-CA that the issuing CA (pathlen 0) issued: leaf, sub-CA, issuing CA",
            .body(try signed(payload, chain: rogue.chain, key: rogue.key)),
            .rejected(.untrustedCertificate),
            .fails(code: .untrustedCertificate),
            "§8.4, §8.5 steps 3–4"
        )
        add(
            "H083",
            "for-another-participant",
            "envelope sender US-NRRC, signed with FR-CNES's valid certificate",
            .body(try signed(payload, chain: france.chain, key: france.key)),
            .rejected(.participantMismatch),
            .fails(code: .participantMismatch),
            "§9.1 step 14"
        )

        // H. Envelope content and the record.
        add(
            "H084",
            "version-2",
            "envelope version 2 (signed)",
            .body(try signed(try self.payload { $0[1] = 2 })),
            .rejected(.unsupportedVersion),
            .fails(code: .unsupportedVersion),
            "§9.1 step 7"
        )
        add(
            "H085",
            "unknown-type-12",
            "notification type 12 (signed)",
            .body(try signed(try self.payload { $0[6] = 12 })),
            .rejected(.unknownType),
            .fails(code: .unknownType),
            "§9.1 step 8"
        )
        add(
            "H086",
            "unknown-envelope-key",
            "envelope key 99 (signed)",
            .body(try signed(try self.payload { $0[99] = 0 })),
            .rejected(.malformed),
            malformed,
            "§6.1, §9.1 step 8"
        )
        add(
            "H087",
            "recipients-unsorted",
            "recipients RU-NRRC, FR-CNES (unsorted; signed)",
            .body(
                try signed(try self.payload { $0[4] = .array([.array(["RU-NRRC", 100]), .array(["FR-CNES", 1])]) })
            ),
            .rejected(.malformed),
            malformed,
            "§6.2"
        )
        add(
            "H088",
            "not-a-recipient",
            "addressed to FR-CNES only",
            .body(try signed(Self.envelope(seq: 100, recipients: ["FR-CNES"]).encoded)),
            .rejected(.notARecipient),
            .fails(code: .notARecipient),
            "§9.1 step 15"
        )
        var future = Examples.envelope(.preLaunch, created: .now + 3_600)
        future.recipients = [Recipient(participant: Self.receiver, sequence: 100)]
        future.id = .generate()
        add(
            "H089",
            "created-an-hour-ahead",
            "created one hour after the receive time",
            .body(try signed(future.encoded)),
            .rejected(.clockSkew),
            .fails(code: .clockSkew),
            "§9.1 step 16"
        )
        var late = Self.envelope(seq: 100)
        if case .preLaunch(var body) = late.body {
            body.late = true
            late.body = .preLaunch(body)
        }
        add(
            "H090",
            "invalid-body-late-flag",
            "pre-launch marked late although the window opens days ahead",
            .body(try signed(late.encoded)),
            .rejected(.invalidBody),
            .fails(code: .invalidField),
            "§9.1 step 17"
        )
        add(
            "H091",
            "replay-sequence-1",
            "a new id with sequence number 1 (used by an accepted message)",
            .body(try signed(Self.envelope(seq: 1).encoded)),
            .rejected(.replay),
            .valid,
            "§9.1 step 19, §14.1"
        )
        var other = firstEnvelope
        other.remarks = try LocalizedText(language: "en", text: "Same id, other words.")
        add(
            "H092",
            "same-id-different-bytes",
            "the id of an accepted message with other content",
            .body(try signer.sign(other)),
            .rejected(.equivocation),
            .valid,
            "§9.1 step 18, §14.3"
        )
        add(
            "H093",
            "replay-identical-bytes",
            "an accepted message sent again byte for byte",
            .body(first),
            .duplicate,
            .valid,
            "§9.1 step 5, §14.1"
        )

        // K. One verdict on every path: the same rule, the same code, the same step (issue 17).
        func body(_ map: inout CBORMap, _ edit: (inout CBORMap) -> Void) {
            guard case .map(var body)? = map[8] else { return }
            edit(&body)
            map[8] = .map(body)
        }
        func nested(_ depth: Int, _ inner: CBOR) -> CBOR { depth == 0 ? inner : .array([nested(depth - 1, inner)]) }
        let otherID = Examples.messageID(0x51)
        add(
            "H114",
            "polygon-repeats-first-vertex",
            "pre-launch whose launch-area polygon ends with its first vertex (signed)",
            .body(
                try signed(
                    try self.payload {
                        body(&$0) { $0[4] = [1, [[0, 0], [0, 1_000_000], [1_000_000, 0], [0, 0]]] }
                    }
                )
            ),
            .rejected(.invalidBody),
            .fails(code: .invalidField),
            "§4.4, §9.1 step 17"
        )
        add(
            "H115",
            "reference-relation-9",
            "a reference with relation 9 (signed)",
            .body(try signed(try self.payload { $0[7] = [[.byteString(otherID.bytes), 9]] })),
            .rejected(.malformed),
            malformed,
            "§6.1, §6.3 rule 1, §9.1 step 8"
        )
        add(
            "H116",
            "references-17",
            "17 responds-to references (signed)",
            .body(
                try signed(
                    try self.payload {
                        $0[7] = .array((1...17).map { .array([.byteString(Examples.messageID(UInt8($0)).bytes), 4]) })
                    }
                )
            ),
            .rejected(.malformed),
            malformed,
            "§6.1, §6.2, §9.1 step 8"
        )
        add(
            "H117",
            "reference-repeated",
            "the same (id, responds-to) reference twice (signed)",
            .body(
                try signed(
                    try self.payload { $0[7] = [[.byteString(otherID.bytes), 4], [.byteString(otherID.bytes), 4]] }
                )
            ),
            .rejected(.malformed),
            malformed,
            "§6.1, §6.2, §9.1 step 8"
        )
        add(
            "H118",
            "references-empty",
            "refs present but empty (signed)",
            .body(try signed(try self.payload { $0[7] = [] })),
            .rejected(.malformed),
            malformed,
            "§6.1, §9.1 step 8"
        )
        add(
            "H119",
            "body-not-a-map",
            "body (key 8) an empty array (signed)",
            .body(try signed(try self.payload { $0[8] = [] })),
            .rejected(.malformed),
            malformed,
            "§6.1, §9.1 step 8"
        )
        add(
            "H120",
            "body-float",
            "azimuth 90.5 as a float (preferred encoding; signed)",
            .body(try signed(try self.payload { body(&$0) { $0[6] = .float(90.5) } })),
            .rejected(.invalidBody),
            .fails(code: .invalidField),
            "§4.1, NOTIFICATIONS §1, §9.1 step 17"
        )
        add(
            "H121",
            "body-null",
            "designator null (signed)",
            .body(try signed(try self.payload { body(&$0) { $0[8] = .null } })),
            .rejected(.invalidBody),
            .fails(code: .invalidField),
            "§4.1, NOTIFICATIONS §1, §9.1 step 17"
        )
        add(
            "H122",
            "envelope-float",
            "created as a float outside the body (signed)",
            .body(try signed(try self.payload { $0[5] = .float(1.5) })),
            .rejected(.malformed),
            malformed,
            "§4.1, §6.1, §9.1 step 8"
        )
        add(
            "H123",
            "payload-nesting-depth-20",
            "a designator of 18 nested arrays: the payload nests 20 deep (signed)",
            .body(try signed(try self.payload { body(&$0) { $0[8] = nested(18, 0) } })),
            tooLarge400,
            .fails(code: .tooLarge),
            "§4.3, §9.1 step 4"
        )
        add(
            "H124",
            "payload-items-16385",
            "a designator of 16 385 integers: the payload holds more than 16 384 items (signed)",
            .body(try signed(try self.payload { body(&$0) { $0[8] = .array(Array(repeating: 0, count: 16_385)) } })),
            tooLarge400,
            .fails(code: .tooLarge),
            "§4.3, §9.1 step 4"
        )
        add(
            "H125",
            "payload-body-keys-unsorted",
            "body keys 2, 1, 3, … (unsorted, signed over those bytes)",
            .body(try signed(try Self.unsortedBody(fresh()))),
            malformed400,
            malformed,
            "§4.2 (4), §9.1 step 4"
        )
        add(
            "H126",
            "protected-header-nesting-17",
            "protected header with a value of 16 nested arrays (signed)",
            .body(try signed(payload, extra: [(99, nested(16, 0))])),
            .rejected(.tooLarge),
            .fails(code: .tooLarge),
            "§4.3, §9.1 step 6"
        )
        var long = Self.envelope(seq: 100)
        long.body = .generalCommunication(
            GeneralCommunication(
                subject: "Long",
                text: try LocalizedText(language: "en", text: String(repeating: "\u{1F600}", count: 65_536))
            )
        )
        add(
            "H127",
            "message-over-262144-bytes",
            "general-communication of 65 536 four-byte characters: 262 144 bytes of text (signed)",
            .body(try signed(long.encoded)),
            .problem(status: 413, name: "too-large"),
            .fails(code: .tooLarge),
            "§4.3, §9.1 step 1"
        )
        add(
            "H128",
            "unknown-type-and-envelope-key",
            "type 12 and envelope key 99 (signed)",
            .body(
                try signed(
                    try self.payload {
                        $0[6] = 12
                        $0[99] = 0
                    }
                )
            ),
            .rejected(.malformed),
            malformed,
            "§9.1 step 8"
        )
        add(
            "H129",
            "body-error-and-envelope-key",
            "azimuth 36 000 (out of range) and envelope key 99 (signed)",
            .body(
                try signed(
                    try self.payload {
                        body(&$0) { $0[6] = 36_000 }
                        $0[99] = 0
                    }
                )
            ),
            .rejected(.malformed),
            malformed,
            "§9.1 steps 8 and 17"
        )

        // I. HTTP.
        let unstored = try signer.sign(Self.envelope(seq: 200))
        add(
            "H094",
            "wrong-content-type",
            "a valid message as application/cbor",
            .body(unstored, .init(contentType: "application/cbor")),
            .problem(status: 415, name: "malformed"),
            .valid,
            "§12.2"
        )
        add(
            "H095",
            "no-content-type",
            "a valid message without Content-Type",
            .body(unstored, .init(contentType: nil)),
            .problem(status: 415, name: "malformed"),
            .valid,
            "§12.2"
        )
        add(
            "H096",
            "misdirected",
            "Parley-Recipient: FR-CNES at a node that does not forward",
            .body(unstored, .init(parleyRecipient: "FR-CNES")),
            .problem(status: 421, name: "misdirected"),
            .valid,
            "§12.2"
        )
        add(
            "H097",
            "forbidden-peer",
            "US-NRRC's message delivered over FR-CNES's TLS connection",
            .body(unstored, .init(peer: "FR-CNES")),
            .problem(status: 403, name: "forbidden-peer"),
            .valid,
            "§12.1"
        )
        add(
            "H098",
            "wrong-path",
            "POST /v1/message",
            .body(unstored, .init(path: "/v1/message")),
            .problem(status: 404, name: "not-found"),
            .valid,
            "§12.3"
        )
        add(
            "H099",
            "wrong-method",
            "GET /v1/messages with a message body",
            .body(unstored, .init(get: true)),
            .problem(status: 405, name: "method-not-allowed"),
            .valid,
            "§12.3"
        )

        // J. TLS and slow clients.
        add(
            "H100",
            "no-client-certificate",
            "TLS without a client certificate",
            .transport(.tlsClient(chain: nil, key: nil)),
            .tlsRefused,
            .notApplicable,
            "§12.1"
        )
        add(
            "H101",
            "revoked-tls-certificate",
            "REVOKED-TEST's revoked TLS certificate",
            .transport(
                .tlsClient(chain: pki.path("negative/revoked/tls-chain.pem"), key: pki.path("negative/revoked/tls.key"))
            ),
            .tlsRefused,
            .notApplicable,
            "§12.1, §8.5"
        )
        add(
            "H102",
            "signing-certificate-for-tls",
            "US-NRRC's signing certificate as TLS client certificate (wrong profile)",
            .transport(.tlsClient(chain: pki.chain("US-NRRC"), key: pki.key("US-NRRC"))),
            .tlsRefused,
            .notApplicable,
            "§8.3"
        )
        add(
            "H103",
            "other-ca-tls-certificate",
            "a certificate from another regime's CA as TLS client certificate",
            .transport(
                .tlsClient(
                    chain: pki.path("negative/other-ca/signing-chain.pem"),
                    key: pki.path("negative/other-ca/signing.key")
                )
            ),
            .tlsRefused,
            .notApplicable,
            "§12.1"
        )
        add(
            "H104",
            "tls12-cbc-only",
            "a client offering only TLS 1.2 CBC suites",
            .transport(
                .tlsClient(
                    chain: pki.path("participants/HCOC-CC/tls-chain.pem"),
                    key: pki.path("participants/HCOC-CC/tls.key"),
                    tls12CBC: true
                )
            ),
            .tlsRefused,
            .notApplicable,
            "§12.1"
        )
        add(
            "H105",
            "silent-connection",
            "TCP connection that never sends a ClientHello",
            .transport(.silentConnection),
            .cutOff(status: nil),
            .notApplicable,
            "§14.6"
        )
        add(
            "H106",
            "slow-headers",
            "request headers trickled one byte every 0.5 s",
            .transport(.slowHeaders),
            .cutOff(status: nil),
            .notApplicable,
            "§14.6"
        )
        add(
            "H107",
            "slow-body",
            "body trickled one byte every 0.5 s",
            .transport(.slowBody(every: .milliseconds(500))),
            .cutOff(status: 503),
            .notApplicable,
            "§14.6"
        )
        add(
            "H108",
            "stalled-body",
            "half the body, then nothing",
            .transport(.stalledBody),
            .cutOff(status: nil),
            .notApplicable,
            "§14.6"
        )
        add(
            "H110",
            "slower-body",
            "body trickled one byte every 2.5 s (each within the idle timeout)",
            .transport(.slowBody(every: .milliseconds(2_500))),
            .cutOff(status: nil),
            .notApplicable,
            "§14.6"
        )
        let checks: [String: ChainVerificationError.Check] = [
            "H058": .keyUsage, "H072": .untrustedIssuer, "H073": .untrustedIssuer, "H074": .untrustedIssuer,
            "H075": .untrustedIssuer,
            "H077": .expired, "H078": .notYetValid, "H079": .revoked, "H080": .untrustedIssuer,
            "H081": .noParticipantID,
            "H082": .multipleParticipantIDs, "H109": .pathTooLong,
        ]
        let details = [
            "H018": "deeper than 16", "H023": "order", "H123": "deeper than 16", "H124": "16384", "H125": "order",
        ]
        return all.map { entry in
            var entry = entry
            entry.chainCheck = checks[entry.id]?.name
            entry.detail = details[entry.id]
            return entry
        }
    }

    /// Makes the sub-CA and its leaf with the `openssl` command, signed by the test PKI's issuing CA.
    static func makeRogueChain(_ pki: TestPKI, in directory: URL) throws -> (key: PrivateKey, chain: [Certificate]) {
        let d = directory.path
        let extensions = """
            [ca]
            basicConstraints = critical, CA:TRUE
            keyUsage = critical, keyCertSign, cRLSign
            subjectKeyIdentifier = hash
            authorityKeyIdentifier = keyid
            [leaf]
            basicConstraints = critical, CA:FALSE
            keyUsage = critical, digitalSignature, nonRepudiation
            subjectAltName = URI:urn:parley:participant:US-NRRC
            subjectKeyIdentifier = hash
            authorityKeyIdentifier = keyid
            """
        try extensions.write(toFile: "\(d)/ext.cnf", atomically: true, encoding: .utf8)
        let steps = [
            ["genpkey", "-algorithm", "ED25519", "-out", "\(d)/sub.key"],
            [
                "req", "-new", "-key", "\(d)/sub.key", "-subj",
                "/O=Parley TEST PKI - NOT FOR PRODUCTION/CN=Rogue Sub CA", "-out", "\(d)/sub.csr",
            ],
            [
                "x509", "-req", "-in", "\(d)/sub.csr", "-CA", pki.path("issuing/ca.pem"), "-CAkey",
                pki.path("issuing/private/ca.key"),
                "-days", "30", "-extfile", "\(d)/ext.cnf", "-extensions", "ca", "-out", "\(d)/sub.pem",
            ],
            ["genpkey", "-algorithm", "ED25519", "-out", "\(d)/leaf.key"],
            [
                "req", "-new", "-key", "\(d)/leaf.key", "-subj", "/O=Parley TEST PKI - NOT FOR PRODUCTION/CN=US-NRRC",
                "-out", "\(d)/leaf.csr",
            ],
            [
                "x509", "-req", "-in", "\(d)/leaf.csr", "-CA", "\(d)/sub.pem", "-CAkey", "\(d)/sub.key",
                "-days", "30", "-extfile", "\(d)/ext.cnf", "-extensions", "leaf", "-out", "\(d)/leaf.pem",
            ],
        ]
        for arguments in steps {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["openssl"] + arguments
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else {
                throw Missing(description: "openssl \(arguments.joined(separator: " ")) failed")
            }
        }
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: "\(d)/leaf.key")
        let chain =
            try Certificate.load(path: "\(d)/leaf.pem") + Certificate.load(path: "\(d)/sub.pem")
            + Certificate.load(path: pki.path("issuing/ca.pem"))
        return (try PrivateKey.load(path: "\(d)/leaf.key"), chain)
    }

    static func protocolCode(_ code: RejectionCode) -> ProtocolError.Code {
        switch code {
        case .certificateNotValidAtTime: .certificateNotValidAtTime
        case .untrustedCertificate: .untrustedCertificate
        default: .malformed
        }
    }

    /// The envelope with the first two keys of its body swapped (not bytewise sorted).
    static func unsortedBody(_ envelope: [UInt8]) throws -> [UInt8] {
        guard case .map(let map) = try CBOR(decoding: envelope), case .map(let body)? = map[8], body.count >= 2 else {
            throw CocoaError(.coderInvalidValue)
        }
        let entries = Array(body)
        var bodyBytes: [UInt8] = []
        CBOREncoder.appendHead(major: 5, argument: UInt64(entries.count), to: &bodyBytes)
        for entry in [entries[1], entries[0]] + entries.dropFirst(2) {
            CBOREncoder.append(entry.key, to: &bodyBytes)
            CBOREncoder.append(entry.value, to: &bodyBytes)
        }
        var out: [UInt8] = []
        CBOREncoder.appendHead(major: 5, argument: UInt64(map.count), to: &out)
        for entry in map {
            CBOREncoder.append(entry.key, to: &out)
            if entry.key == 8 { out += bodyBytes } else { CBOREncoder.append(entry.value, to: &out) }
        }
        return out
    }

    /// The header map with its keys in the order 3, 1, 33 (not bytewise sorted).
    static func unsortedHeader(_ header: [UInt8]) throws -> [UInt8] {
        guard case .map(let map) = try CBOR(decoding: header) else { throw CocoaError(.coderInvalidValue) }
        var out: [UInt8] = [0xA3]
        for key in [3, 1, ProtectedHeader.Label.x5chainSHA256] {
            CBOREncoder.append(.integer(key), to: &out)
            CBOREncoder.append(try map[key].required("header label \(key)"), to: &out)
        }
        return out
    }
}

struct Missing: Error, CustomStringConvertible { var description: String }

extension Optional {
    func required(_ what: String) throws -> Wrapped {
        guard let self else { throw Missing(description: "missing: \(what)") }
        return self
    }
}
