import Foundation
internal import COpenSSL
internal import ParleyCodec

/// One entry of a CRL: which certificate, since when, and why (RFC 5280 §5.3).
public struct RevokedCertificate: Sendable, Hashable {
    /// RFC 5280 §5.3.1 CRLReason. Absent reason codes read as `.unspecified`.
    public enum Reason: Int, Sendable, Hashable, CustomStringConvertible {
        case unspecified = 0
        case keyCompromise = 1
        case caCompromise = 2
        case affiliationChanged = 3
        case superseded = 4
        case cessationOfOperation = 5
        case certificateHold = 6
        case removeFromCRL = 8
        case privilegeWithdrawn = 9
        case aaCompromise = 10

        /// The key may have been in other hands before the CA revoked it (SPEC.md §8.4).
        public var isCompromise: Bool {
            self == .keyCompromise || self == .caCompromise || self == .aaCompromise
        }

        /// RFC 5280's name, which operators see in CRL dumps.
        public var description: String {
            switch self {
            case .unspecified: "unspecified"
            case .keyCompromise: "keyCompromise"
            case .caCompromise: "cACompromise"
            case .affiliationChanged: "affiliationChanged"
            case .superseded: "superseded"
            case .cessationOfOperation: "cessationOfOperation"
            case .certificateHold: "certificateHold"
            case .removeFromCRL: "removeFromCRL"
            case .privilegeWithdrawn: "privilegeWithdrawn"
            case .aaCompromise: "aACompromise"
            }
        }
    }

    /// The serial number, lowercase hexadecimal without leading zero octets (as `Certificate.serialNumberHex`).
    public let serialNumberHex: String
    public let revocationDate: Date
    public let reason: Reason
    /// When the key is known or suspected to have been compromised (RFC 5280 §5.3.2), if stated.
    public let invalidityDate: Date?

    /// The instant from which the certificate no longer vouches for anything (SPEC.md §8.4): for a
    /// compromise, the invalidityDate when it is earlier than the revocationDate; otherwise the
    /// revocationDate.
    public var effectiveDate: Date {
        guard reason.isCompromise, let invalidityDate else { return revocationDate }
        return min(invalidityDate, revocationDate)
    }

    init?(entry: OpaquePointer) {
        guard let serial = X509_REVOKED_get0_serialNumber(entry), let data = ASN1_STRING_get0_data(serial),
            let revocationDate = ASN1Time.date(X509_REVOKED_get0_revocationDate(entry))
        else { return nil }
        var hex = UnsafeBufferPointer(start: data, count: Int(ASN1_STRING_length(serial))).hexString
        while hex.hasPrefix("00") && hex.count > 2 { hex.removeFirst(2) }
        self.serialNumberHex = hex
        self.revocationDate = revocationDate
        var critical: Int32 = 0
        if let raw = X509_REVOKED_get_ext_d2i(entry, NID_crl_reason, &critical, nil) {
            let enumerated = raw.assumingMemoryBound(to: ASN1_ENUMERATED.self)
            defer { ASN1_ENUMERATED_free(enumerated) }
            self.reason = Reason(rawValue: ASN1_ENUMERATED_get(enumerated)) ?? .unspecified
        } else {
            self.reason = .unspecified
        }
        if let raw = X509_REVOKED_get_ext_d2i(entry, NID_invalidity_date, &critical, nil) {
            let time = raw.assumingMemoryBound(to: ASN1_GENERALIZEDTIME.self)
            defer { ASN1_GENERALIZEDTIME_free(time) }
            self.invalidityDate = ASN1Time.date(UnsafePointer(time))
        } else {
            self.invalidityDate = nil
        }
        OpenSSLErrorQueue.clear()
    }
}
