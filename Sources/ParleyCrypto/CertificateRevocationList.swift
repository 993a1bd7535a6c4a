import Foundation
internal import COpenSSL

/// An X.509 v2 CRL, parsed once. Parley requires a nextUpdate: a CRL without one could never expire.
public struct CertificateRevocationList: Sendable, Hashable, CustomStringConvertible {
    /// Upper bound for one DER CRL and for a CRL file.
    public static let maximumLength = 16 * 1_048_576

    let object: X509CRLObject
    public let derEncoded: [UInt8]
    /// The issuer distinguished name, RFC 2253 style.
    public let issuer: String
    public let thisUpdate: Date
    public let nextUpdate: Date
    /// The revoked certificates, in the CRL's order.
    public let entries: [RevokedCertificate]
    /// Serial numbers of the revoked certificates, lowercase hexadecimal.
    public var revokedSerialNumbersHex: [String] { entries.map(\.serialNumberHex) }
    /// The cRLNumber (big-endian magnitude, no leading zeros), if present.
    let crlNumber: [UInt8]?
    /// The authorityKeyIdentifier keyIdentifier, if present (tells CRLs of same-named CAs apart).
    let authorityKeyID: [UInt8]?
    /// A delta CRL (deltaCRLIndicator): it lists only the changes since a base CRL, so it is never
    /// the complete CRL that SPEC.md §8.4 requires of each CA.
    let isDelta: Bool

    public init(derEncoded: [UInt8]) throws {
        guard derEncoded.count <= Self.maximumLength else {
            throw CryptoError(.tooLarge, "CRL has \(derEncoded.count) bytes; the limit is \(Self.maximumLength)")
        }
        OpenSSLErrorQueue.clear()
        let parsed: OpaquePointer? = derEncoded.withUnsafeBufferPointer { buffer in
            var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
            guard let crl = d2i_X509_CRL(nil, &cursor, buffer.count) else { return nil }
            guard cursor == buffer.baseAddress.map({ $0 + buffer.count }) else {
                X509_CRL_free(crl)
                return nil
            }
            return crl
        }
        guard let parsed else {
            throw CryptoError.openSSL(.invalidCRL, "not a DER X.509 CRL (or trailing bytes after it)")
        }
        let object = X509CRLObject(taking: parsed)
        self.object = object
        self.derEncoded = derEncoded
        self.issuer = try X509Name.string(X509_CRL_get_issuer(parsed))
        guard let thisUpdate = ASN1Time.date(X509_CRL_get0_lastUpdate(parsed)) else {
            throw CryptoError(.invalidCRL, "CRL of '\(issuer)' has an unreadable thisUpdate")
        }
        guard let nextUpdate = ASN1Time.date(X509_CRL_get0_nextUpdate(parsed)) else {
            throw CryptoError(.invalidCRL, "CRL of '\(issuer)' has no (readable) nextUpdate; Parley requires one")
        }
        self.thisUpdate = thisUpdate
        self.nextUpdate = nextUpdate
        var entries: [RevokedCertificate] = []
        if let revoked = X509_CRL_get_REVOKED(parsed) {
            for index in 0..<parley_sk_X509_REVOKED_num(revoked) {
                guard let entry = parley_sk_X509_REVOKED_value(revoked, index) else { continue }
                guard let parsedEntry = RevokedCertificate(entry: entry) else {
                    throw CryptoError(.invalidCRL, "CRL of '\(issuer)' has an unreadable entry (#\(index + 1))")
                }
                entries.append(parsedEntry)
            }
        }
        self.entries = entries
        self.authorityKeyID = Self.authorityKeyID(parsed)
        self.crlNumber = Self.crlNumber(parsed)
        self.isDelta = X509_CRL_get_ext_by_NID(parsed, NID_delta_crl, -1) >= 0
    }

    /// True if this CRL supersedes `other` from the same CA: a higher cRLNumber when both have one
    /// (RFC 5280 §5.2.3), otherwise a later thisUpdate.
    func supersedes(_ other: CertificateRevocationList) -> Bool {
        if let mine = crlNumber, let theirs = other.crlNumber, mine != theirs {
            return mine.count != theirs.count ? mine.count > theirs.count : theirs.lexicographicallyPrecedes(mine)
        }
        return thisUpdate > other.thisUpdate
    }

    private static func crlNumber(_ crl: OpaquePointer) -> [UInt8]? {
        var critical: Int32 = 0
        guard let raw = X509_CRL_get_ext_d2i(crl, NID_crl_number, &critical, nil) else {
            OpenSSLErrorQueue.clear()
            return nil
        }
        let number = raw.assumingMemoryBound(to: ASN1_INTEGER.self)
        defer { ASN1_INTEGER_free(number) }
        guard let data = ASN1_STRING_get0_data(number) else { return nil }
        return Array(UnsafeBufferPointer(start: data, count: Int(ASN1_STRING_length(number))).drop { $0 == 0 })
    }

    /// True if both CRLs come from the same CA: equal issuer names and authority key identifiers.
    func hasSameIssuer(as other: CertificateRevocationList) -> Bool {
        authorityKeyID == other.authorityKeyID
            && X509_NAME_cmp(X509_CRL_get_issuer(object.pointer), X509_CRL_get_issuer(other.object.pointer)) == 0
    }

    private static func authorityKeyID(_ crl: OpaquePointer) -> [UInt8]? {
        var critical: Int32 = 0
        guard let raw = X509_CRL_get_ext_d2i(crl, NID_authority_key_identifier, &critical, nil) else {
            OpenSSLErrorQueue.clear()
            return nil
        }
        let identifier = raw.assumingMemoryBound(to: AUTHORITY_KEYID.self)
        defer { AUTHORITY_KEYID_free(identifier) }
        guard let keyID = identifier.pointee.keyid, let data = ASN1_STRING_get0_data(keyID) else { return nil }
        return Array(UnsafeBufferPointer(start: data, count: Int(ASN1_STRING_length(keyID))))
    }

    /// Every CRL in PEM text (`X509 CRL` blocks, in order). Throws if there is none.
    public static func parsePEM(_ pem: String) throws -> [CertificateRevocationList] {
        let blocks = try PEMBlock.parseAll(pem, limit: maximumLength).filter { $0.label == "X509 CRL" }
        guard !blocks.isEmpty else {
            throw CryptoError(.invalidPEM, "no '-----BEGIN X509 CRL-----' block found")
        }
        return try blocks.enumerated().map { index, block in
            do {
                return try CertificateRevocationList(derEncoded: block.der)
            } catch let error as CryptoError {
                throw CryptoError(
                    error.code,
                    "CRL #\(index + 1) in the PEM text: \(error.reason)",
                    openSSLErrors: error.openSSLErrors
                )
            }
        }
    }

    /// The CRLs in a file: PEM (one or more) or a single DER CRL.
    public static func load(path: String) throws -> [CertificateRevocationList] {
        let contents = try FileAccess.read(path: path, limit: maximumLength, what: "CRL file")
        do {
            if PEMBlock.looksLikePEM(contents.bytes) {
                guard let text = String(validating: contents.bytes, as: UTF8.self) else {
                    throw CryptoError(.invalidPEM, "not UTF-8 text")
                }
                return try parsePEM(text)
            }
            return [try CertificateRevocationList(derEncoded: contents.bytes)]
        } catch let error as CryptoError {
            throw CryptoError(error.code, "CRL file \(path): \(error.reason)", openSSLErrors: error.openSSLErrors)
        }
    }

    /// The entry for `certificate`, if this CRL lists its serial number. The caller makes sure the
    /// CRL comes from the certificate's issuer.
    public func entry(for certificate: Certificate) -> RevokedCertificate? {
        entries.first { $0.serialNumberHex == certificate.serialNumberHex }
    }

    /// True if the CRL's signature verifies with `issuer`'s public key.
    func isSigned(by issuer: Certificate) -> Bool {
        defer { OpenSSLErrorQueue.clear() }
        guard let key = X509_get0_pubkey(issuer.object.pointer) else { return false }
        return X509_CRL_verify(object.pointer, key) == 1
    }

    /// True if `thisUpdate ≤ time ≤ nextUpdate`.
    public func isCurrent(at time: Date) -> Bool {
        thisUpdate <= time && time <= nextUpdate
    }

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.derEncoded == rhs.derEncoded
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(derEncoded)
    }

    public var description: String {
        "CRL(issuer: \(issuer), thisUpdate: \(thisUpdate.formatted(.iso8601)), "
            + "nextUpdate: \(nextUpdate.formatted(.iso8601)), revoked: \(revokedSerialNumbersHex.count))"
    }
}
