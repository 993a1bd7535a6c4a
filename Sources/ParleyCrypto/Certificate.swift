import Foundation
internal import ParleyCodec
internal import COpenSSL

/// An X.509 certificate, parsed once. Equal when the DER bytes are equal.
///
/// Only certificates whose key is Ed25519, P-256 or P-384 are accepted (Parley's PKI uses nothing else).
public struct Certificate: Sendable, Hashable, CustomStringConvertible {
    /// Upper bound for one DER certificate (the wire format allows 16 384 bytes in an x5chain).
    public static let maximumDERLength = 65_536
    /// Upper bound for a PEM bundle or certificate file.
    public static let maximumFileLength = 4 * 1_048_576

    let object: X509Object
    public let derEncoded: [UInt8]
    /// SHA-256 of `derEncoded`.
    public let sha256Fingerprint: [UInt8]
    /// The subject distinguished name, RFC 2253 style (most specific RDN first), e.g. `CN=US-NRRC,O=Example`.
    public let subject: String
    public let issuer: String
    /// The serial number in lowercase hexadecimal (a leading `-` if negative).
    public let serialNumberHex: String
    public let notValidBefore: Date
    public let notValidAfter: Date
    public let publicKey: PublicKey
    /// basicConstraints CA:TRUE.
    public let isCA: Bool
    /// Every participant URI of the SAN (SPEC.md §8.1: a URI whose first 23 characters are
    /// `urn:parley:participant:` in any case), in certificate order, as written. Malformed ones are
    /// kept so that a caller can say why it rejects them.
    public let participantURIs: [String]

    /// What follows the prefix in each participant URI, malformed ones included.
    public var participantIDs: [String] {
        participantURIs.map { String(decoding: $0.utf8.dropFirst(Self.participantURIPrefix.utf8.count), as: UTF8.self) }
    }

    public init(derEncoded: [UInt8]) throws {
        guard derEncoded.count <= Self.maximumDERLength else {
            throw CryptoError(
                .tooLarge,
                "certificate has \(derEncoded.count) bytes; the limit is \(Self.maximumDERLength)"
            )
        }
        OpenSSLErrorQueue.clear()
        let parsed: OpaquePointer? = derEncoded.withUnsafeBufferPointer { buffer in
            var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
            guard let certificate = d2i_X509(nil, &cursor, buffer.count) else { return nil }
            guard cursor == buffer.baseAddress.map({ $0 + buffer.count }) else {
                X509_free(certificate)
                return nil
            }
            return certificate
        }
        guard let parsed else {
            throw CryptoError.openSSL(.invalidCertificate, "not a DER X.509 certificate (or trailing bytes after it)")
        }
        try self.init(object: X509Object(taking: parsed), derEncoded: derEncoded)
    }

    init(object: X509Object, derEncoded: [UInt8]) throws {
        let x509 = object.pointer
        self.object = object
        self.derEncoded = derEncoded
        self.sha256Fingerprint = Digest.sha256(derEncoded)
        self.subject = try X509Name.string(X509_get_subject_name(x509))
        self.issuer = try X509Name.string(X509_get_issuer_name(x509))
        self.serialNumberHex = Self.serialHex(X509_get0_serialNumber(x509))
        guard let notBefore = ASN1Time.date(X509_get0_notBefore(x509)),
            let notAfter = ASN1Time.date(X509_get0_notAfter(x509))
        else {
            throw CryptoError.openSSL(.invalidCertificate, "certificate '\(subject)' has an unreadable validity period")
        }
        self.notValidBefore = notBefore
        self.notValidAfter = notAfter

        // Computes and caches the extension flags; EXFLAG_INVALID marks malformed extensions.
        let flags = X509_get_extension_flags(x509)
        guard flags & UInt32(EXFLAG_INVALID) == 0 else {
            OpenSSLErrorQueue.clear()
            throw CryptoError(.invalidCertificate, "certificate '\(subject)' has a malformed or duplicate extension")
        }
        self.isCA = flags & UInt32(EXFLAG_CA) != 0

        guard let key = X509_get_pubkey(x509) else {
            throw CryptoError.openSSL(.invalidCertificate, "certificate '\(subject)' has an unreadable public key")
        }
        do {
            self.publicKey = try PublicKey(evpKey: EVPKey(taking: key))
        } catch let error as CryptoError {
            throw CryptoError(
                error.code,
                "certificate '\(subject)': \(error.reason)",
                openSSLErrors: error.openSSLErrors
            )
        }
        self.participantURIs = try Self.participantURIs(x509, subject: subject)
    }

    /// Every certificate in PEM text (`CERTIFICATE` blocks, in order; other blocks are ignored).
    /// Throws if there is none.
    public static func parsePEM(_ pem: String) throws -> [Certificate] {
        let blocks = try PEMBlock.parseAll(pem, limit: maximumFileLength).filter { $0.label == "CERTIFICATE" }
        guard !blocks.isEmpty else {
            throw CryptoError(.invalidPEM, "no '-----BEGIN CERTIFICATE-----' block found")
        }
        return try blocks.enumerated().map { index, block in
            do {
                return try Certificate(derEncoded: block.der)
            } catch let error as CryptoError {
                throw CryptoError(
                    error.code,
                    "certificate #\(index + 1) in the PEM text: \(error.reason)",
                    openSSLErrors: error.openSSLErrors
                )
            }
        }
    }

    /// The certificates in a file: PEM (one or more) or a single DER certificate.
    public static func load(path: String) throws -> [Certificate] {
        let contents = try FileAccess.read(path: path, limit: maximumFileLength, what: "certificate file")
        do {
            if PEMBlock.looksLikePEM(contents.bytes) {
                guard let text = String(validating: contents.bytes, as: UTF8.self) else {
                    throw CryptoError(.invalidPEM, "not UTF-8 text")
                }
                return try parsePEM(text)
            }
            return [try Certificate(derEncoded: contents.bytes)]
        } catch let error as CryptoError {
            throw CryptoError(
                error.code,
                "certificate file \(path): \(error.reason)",
                openSSLErrors: error.openSSLErrors
            )
        }
    }

    /// The certificate as a `-----BEGIN CERTIFICATE-----` block.
    public var pemEncoded: String {
        Base64.pem(label: "CERTIFICATE", der: derEncoded)
    }

    /// The participant id of the single participant URI (SPEC.md §8.1). Nil if there is none, if
    /// there are several (a certificate binds one identity), if the prefix is not written exactly
    /// `urn:parley:participant:` in lowercase, or if the id is malformed (1–64 characters of
    /// `A–Z 0–9 -`, the first a letter or digit).
    public var participantID: String? {
        guard participantURIs.count == 1, participantURIs[0].utf8.starts(with: Self.participantURIPrefix.utf8) else {
            return nil
        }
        let id = participantIDs[0]
        return Self.isValidParticipantID(id) ? id : nil
    }

    /// True if `validity` contains `time`, the bounds included.
    public func isValid(at time: Date) -> Bool {
        notValidBefore <= time && time <= notValidAfter
    }

    /// Whole days from `now` to `notValidAfter`, rounded down (negative once expired): the figure an
    /// operator is warned with in the log, the metrics and the admin API's status.
    public func daysLeft(at now: Date = Date()) -> Int {
        Int((notValidAfter.timeIntervalSince(now) / 86_400).rounded(.down))
    }

    public static let participantURIPrefix = "urn:parley:participant:"

    /// 1–64 characters of `A–Z 0–9 -`, the first a letter or digit.
    public static func isValidParticipantID(_ id: String) -> Bool {
        let bytes = Array(id.utf8)
        guard (1...64).contains(bytes.count) else { return false }
        func isUpperAlphanumeric(_ byte: UInt8) -> Bool {
            (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
        }
        return isUpperAlphanumeric(bytes[0]) && bytes.allSatisfy { isUpperAlphanumeric($0) || $0 == UInt8(ascii: "-") }
    }

    public static func == (lhs: Certificate, rhs: Certificate) -> Bool {
        lhs.derEncoded == rhs.derEncoded
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(sha256Fingerprint)
    }

    public var description: String {
        var text = "Certificate(subject: \(subject), issuer: \(issuer), serial: \(serialNumberHex), "
        text += "valid: \(notValidBefore.formatted(.iso8601)) to \(notValidAfter.formatted(.iso8601)), "
        text += "key: \(publicKey.algorithm)"
        if isCA { text += ", CA" }
        if !participantIDs.isEmpty { text += ", participant: \(participantIDs.joined(separator: " + "))" }
        return text + ", sha256: \(sha256Fingerprint.hexString))"
    }

    private static func serialHex(_ serial: UnsafePointer<ASN1_INTEGER>?) -> String {
        guard let serial, let data = ASN1_STRING_get0_data(serial) else { return "" }
        let bytes = UnsafeBufferPointer(start: data, count: Int(ASN1_STRING_length(serial)))
        var hex = bytes.hexString
        while hex.hasPrefix("00") && hex.count > 2 { hex.removeFirst(2) }
        if hex.isEmpty { hex = "00" }
        return ASN1_STRING_type(serial) == V_ASN1_NEG_INTEGER ? "-" + hex : hex
    }

    private static func participantURIs(_ x509: OpaquePointer, subject: String) throws -> [String] {
        var critical: Int32 = 0
        guard let raw = X509_get_ext_d2i(x509, NID_subject_alt_name, &critical, nil) else {
            OpenSSLErrorQueue.clear()
            if critical == -1 { return [] }  // no SAN
            throw CryptoError(
                .invalidCertificate,
                "certificate '\(subject)' has an unreadable or repeated subjectAltName"
            )
        }
        let names = OpaquePointer(raw)
        defer { GENERAL_NAMES_free(names) }
        let prefix = Array(participantURIPrefix.utf8)
        var uris: [String] = []
        for index in 0..<parley_sk_GENERAL_NAME_num(names) {
            guard let name = parley_sk_GENERAL_NAME_value(names, index),
                let uri = parley_GENERAL_NAME_get0_uri(name),
                let data = ASN1_STRING_get0_data(uri)
            else { continue }
            let bytes = UnsafeBufferPointer(start: data, count: Int(ASN1_STRING_length(uri)))
            // The prefix is ASCII: compare it byte by byte with A–Z folded to a–z.
            let isParticipantURI =
                bytes.count >= prefix.count
                && zip(bytes.prefix(prefix.count), prefix).allSatisfy { byte, expected in
                    ((0x41...0x5A).contains(byte) ? byte | 0x20 : byte) == expected
                }
            if isParticipantURI {
                uris.append(String(decoding: bytes, as: UTF8.self))
            }
        }
        return uris
    }
}

enum X509Name {
    /// RFC 2253 one-line form.
    static func string(_ name: OpaquePointer?) throws -> String {
        guard let name else { return "" }
        let bio = try MemoryBIO()
        guard X509_NAME_print_ex(bio.pointer, name, 0, parley_XN_FLAG_RFC2253()) >= 0 else {
            throw CryptoError.openSSL(.invalidCertificate, "unprintable distinguished name")
        }
        return bio.string
    }
}

enum ASN1Time {
    static func date(_ time: UnsafePointer<ASN1_TIME>?) -> Date? {
        guard let time else { return nil }
        var parts = tm()
        guard ASN1_TIME_to_tm(time, &parts) == 1 else { return nil }
        return Date(timeIntervalSince1970: TimeInterval(timegm(&parts)))
    }
}

extension Certificate {
    /// Whether the certificate is valid for `host` (RFC 9110 §4.3.4, RFC 6125): an IP address literal
    /// against its subjectAltName iPAddress entries, a DNS name against its dNSName entries (a
    /// wildcard only as a whole leftmost label). The subject's common name is never used.
    public func matchesHost(_ host: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        if inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1 {
            return X509_check_ip_asc(object.pointer, host, 0) == 1
        }
        let flags = UInt32(X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS | X509_CHECK_FLAG_NEVER_CHECK_SUBJECT)
        return X509_check_host(object.pointer, host, host.utf8.count, flags, nil) == 1
    }
}
