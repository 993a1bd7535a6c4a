/// Why a certificate chain was not accepted: which check failed, for which certificate, and OpenSSL's
/// own verdict when it came from OpenSSL.
public struct ChainVerificationError: Error, Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    public enum Check: String, Sendable, Hashable, CaseIterable {
        /// A certificate's notAfter lies before the verification time (beyond the clock-skew allowance).
        case expired
        /// A certificate's notBefore lies after the verification time (beyond the clock-skew allowance).
        case notYetValid
        /// A certificate is listed on its issuer's CRL.
        case revoked
        /// No CRL is installed for a CA in the path.
        case crlMissing
        /// A CA's CRL is past its nextUpdate.
        case crlExpired
        /// A CA's CRL has a thisUpdate after the verification time (beyond the clock-skew allowance).
        case crlNotYetValid
        /// A CA's CRL cannot be used: its signature does not verify, or it has an unrecognised
        /// critical extension or unreadable dates.
        case crlInvalid
        /// The chain does not lead to a configured trust anchor.
        case untrustedIssuer
        /// More certificates than allowed, or a CA's pathLenConstraint exceeded.
        case pathTooLong
        /// keyUsage or extendedKeyUsage does not allow this use.
        case keyUsage
        /// basicConstraints: a CA certificate used as a leaf, or a non-CA certificate used as a CA.
        case basicConstraints
        /// The leaf has no (well-formed) `urn:parley:participant:<ID>` SAN URI.
        case noParticipantID
        /// The leaf binds more than one participant id.
        case multipleParticipantIDs
        /// A certificate or CRL signature does not verify with its issuer's key.
        case badSignature
        /// Anything else (malformed extensions, unsupported critical extension, ...): see `reason`.
        case other

        /// The check's name in text and JSON (`not-yet-valid`, `crl-missing`).
        public var name: String {
            var name = ""
            var previous: Character = "-"
            for character in rawValue {
                if character.isUppercase && previous.isLowercase { name += "-" }
                name += character.lowercased()
                previous = character
            }
            return name
        }
    }

    public var check: Check
    /// Position in the path of the certificate concerned: 0 is the leaf, the trust anchor is last.
    public var certificateIndex: Int
    /// The subject (RFC 2253 style) of that certificate, empty if unknown.
    public var certificateSubject: String
    /// What failed, including OpenSSL's verification error string and depth when it came from OpenSSL.
    public var reason: String
    /// OpenSSL's `X509_V_ERR_*` code, if the failure came from `X509_verify_cert`.
    public var openSSLVerifyError: Int?
    /// OpenSSL's error queue, drained right after verification.
    public var openSSLErrors: [String]
    public var file: String
    public var line: Int

    public init(
        check: Check,
        certificateIndex: Int,
        certificateSubject: String,
        reason: String,
        openSSLVerifyError: Int? = nil,
        openSSLErrors: [String] = [],
        file: String = #fileID,
        line: Int = #line
    ) {
        self.check = check
        self.certificateIndex = certificateIndex
        self.certificateSubject = certificateSubject
        self.reason = reason
        self.openSSLVerifyError = openSSLVerifyError
        self.openSSLErrors = openSSLErrors
        self.file = file
        self.line = line
    }

    /// For an operator: which certificate failed which check; no Swift names or source locations.
    public var description: String {
        var text = "certificate chain rejected (\(check.name)): certificate #\(certificateIndex)"
        if !certificateSubject.isEmpty { text += " '\(certificateSubject)'" }
        text += ": \(reason)"
        if !openSSLErrors.isEmpty { text += " [OpenSSL: \(openSSLErrors.joined(separator: "; "))]" }
        return text
    }

    /// For a developer: the description and where the error was raised.
    public var debugDescription: String { "\(description) (\(file):\(line))" }
}
