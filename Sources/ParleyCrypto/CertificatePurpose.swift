/// What a leaf certificate is being accepted for; each purpose has its profile (Certs/README.md).
public enum CertificatePurpose: String, Sendable, Hashable, CaseIterable {
    /// Signing messages and receipts: CA:FALSE, keyUsage digitalSignature, no extendedKeyUsage
    /// (TLS certificates carry serverAuth/clientAuth and are refused), exactly one participant URI.
    case messageSigning
    /// The node's mutual-TLS certificate: CA:FALSE, keyUsage (if present) digitalSignature,
    /// extendedKeyUsage serverAuth and clientAuth, exactly one participant URI.
    case transportTLS
}

/// A chain that passed `TrustStore.verify`.
public struct VerifiedChain: Sendable, Hashable {
    public let leaf: Certificate
    /// The certification path OpenSSL built: the leaf first, the trust anchor last.
    public let path: [Certificate]
    /// The participant id bound in the leaf.
    public let participantID: String
    public let purpose: CertificatePurpose
}
