/// An error from ParleyCrypto: what failed, why, and (when OpenSSL was involved) OpenSSL's own error stack.
public struct CryptoError: Error, Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    public enum Code: String, Sendable, Hashable, CaseIterable {
        /// A private or public key could not be parsed or is not usable.
        case invalidKey
        /// The key or signature algorithm is not Ed25519, ECDSA P-256 or ECDSA P-384.
        case unsupportedAlgorithm
        /// The key's algorithm does not match the one requested.
        case algorithmMismatch
        /// The private key is encrypted and no passphrase was given.
        case passphraseRequired
        /// The passphrase did not decrypt the private key.
        case wrongPassphrase
        /// A private key file is readable or writable by group or others.
        case insecureKeyFile
        /// Refused to overwrite an existing file.
        case fileExists
        /// A file could not be read or written.
        case fileAccess
        /// The input is larger than the limit for its kind.
        case tooLarge
        /// PEM text is malformed or holds no block of the expected kind.
        case invalidPEM
        /// A certificate could not be parsed.
        case invalidCertificate
        /// A certificate revocation list could not be parsed or lacks a required field.
        case invalidCRL
        /// A signature could not be produced.
        case signingFailed
        /// An argument or configuration value is out of range.
        case invalidArgument
        /// An OpenSSL call failed unexpectedly (allocation, provider not available, ...).
        case openSSLFailure
    }

    public var code: Code
    public var reason: String
    /// OpenSSL's error queue, drained right after the failing call (most recent last).
    public var openSSLErrors: [String]
    public var file: String
    public var line: Int

    public init(
        _ code: Code,
        _ reason: String,
        openSSLErrors: [String] = [],
        file: String = #fileID,
        line: Int = #line
    ) {
        self.code = code
        self.reason = reason
        self.openSSLErrors = openSSLErrors
        self.file = file
        self.line = line
    }

    /// For an operator: the reason and OpenSSL's errors; no Swift names or source locations.
    public var description: String {
        openSSLErrors.isEmpty ? reason : "\(reason) [OpenSSL: \(openSSLErrors.joined(separator: "; "))]"
    }

    /// For a developer: the code and where the error was raised.
    public var debugDescription: String { "\(code.rawValue): \(description) (\(file):\(line))" }
}

extension CryptoError {
    /// An error carrying OpenSSL's drained error queue. Call right after the failing OpenSSL call.
    static func openSSL(
        _ code: Code,
        _ reason: String,
        file: String = #fileID,
        line: Int = #line
    ) -> CryptoError {
        CryptoError(code, reason, openSSLErrors: OpenSSLErrorQueue.drain(), file: file, line: line)
    }
}
