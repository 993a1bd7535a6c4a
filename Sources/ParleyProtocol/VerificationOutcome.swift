/// The names of verification outcomes (SPEC.md §15.7): what `parley verify`, an archive check and
/// the daemon's logs call a verdict. A failure that earns a rejection receipt is named by its
/// rejection code; the others have names of their own in the same registry.
extension ProtocolError.Code {
    /// The registry name of this outcome, e.g. `bad-signature`, `revocation-unavailable`.
    public var outcomeName: String {
        switch self {
        case .revocationUnavailable: "revocation-unavailable"
        case .receiptMismatch: "receipt-mismatch"
        case .invalidSigningIdentity: "invalid-signing-identity"
        default: ProtocolError(self, "").rejectionCode?.name ?? "malformed"
        }
    }
}

extension ProtocolError {
    /// The registry name of this outcome (SPEC.md §15.7).
    public var outcomeName: String { code.outcomeName }
}
