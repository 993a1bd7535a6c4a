import ParleyCodec
import ParleyCrypto

/// Why a Parley structure was refused: which field, what is wrong, and the receipt code it earns.
public struct ProtocolError: Error, Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    public enum Code: String, Sendable, Hashable {
        /// Not decodable as deterministic CBOR or COSE_Sign1, or a structure of the wrong shape.
        case malformed
        case unsupportedVersion
        case unknownType
        /// A field is missing, of the wrong type, out of range, or a rule between fields is broken.
        case invalidField
        case missingField
        case unknownField
        case unsupportedAlgorithm
        case wrongContentType
        // Verification (SPEC.md §9)
        case tooLarge
        case badSignature
        case untrustedCertificate
        case certificateRevoked
        case certificateNotValidAtTime
        /// The signer's certificate binds another participant than the one the content names.
        case participantMismatch
        case notARecipient
        case clockSkew
        /// A CRL for a CA in the path is missing or not current: the verifier cannot decide (§9.1 step 12).
        case revocationUnavailable
        /// A receipt does not answer the message it is checked against (§9.2 steps 6–8).
        case receiptMismatch
        /// A key and certificate chain cannot sign for a participant.
        case invalidSigningIdentity
    }

    public var code: Code
    /// Path of the offending field, e.g. `body.window-end` or `recipients[2]`; empty for the whole item.
    public var field: String
    public var reason: String
    /// The message concerned, once the input was decoded far enough to know it.
    public var messageID: MessageID?
    /// The sender the message names, once known.
    public var sender: ParticipantID?
    /// For certificate failures: which certificate, which check, and OpenSSL's verdict.
    public var chainDiagnostic: ChainVerificationError?
    public var file: String
    public var line: Int

    public init(_ code: Code, field: String = "", _ reason: String, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.field = field
        self.reason = reason
        self.file = file
        self.line = line
    }

    init(_ error: CodecError, file: String = #fileID, line: Int = #line) {
        self.init(.malformed, "\(error)", file: file, line: line)
    }

    /// For an operator: the outcome's registry name (SPEC.md §15.7), the field and the reason.
    public var description: String {
        var text = field.isEmpty ? "\(outcomeName): \(reason)" : "\(outcomeName) in \(field): \(reason)"
        if let messageID { text += " (message \(messageID)\(sender.map { " from \($0)" } ?? ""))" }
        return text
    }

    /// For a developer: the Swift code and where the error was raised.
    public var debugDescription: String { "\(code.rawValue): \(description) (\(file):\(line))" }

    /// The code a receiver puts into a rejection receipt for this error; nil where SPEC.md §9.1 says
    /// to answer without a signed receipt (revocation data unavailable, or a signing-side error).
    public var rejectionCode: RejectionCode? {
        switch code {
        case .malformed, .wrongContentType: return .malformed
        case .unsupportedVersion: return .unsupportedVersion
        case .unknownType: return .unknownType
        case .invalidField, .missingField, .unknownField: return .invalidBody
        case .unsupportedAlgorithm: return .unsupportedAlgorithm
        case .tooLarge: return .tooLarge
        case .badSignature: return .badSignature
        case .untrustedCertificate: return .untrustedCertificate
        case .certificateRevoked: return .certificateRevoked
        case .certificateNotValidAtTime: return .certificateNotValidAtTime
        case .participantMismatch: return .participantMismatch
        case .notARecipient: return .notARecipient
        case .clockSkew: return .clockSkew
        case .revocationUnavailable, .receiptMismatch, .invalidSigningIdentity: return nil
        }
    }
}
