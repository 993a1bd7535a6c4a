import ParleyCodec

/// Why a Parley structure was refused: which field, what is wrong, and the receipt code it earns.
public struct ProtocolError: Error, Sendable, CustomStringConvertible {
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
    }

    public var code: Code
    /// Path of the offending field, e.g. `body.window-end` or `recipients[2]`; empty for the whole item.
    public var field: String
    public var reason: String
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

    public var description: String {
        field.isEmpty ? "\(code.rawValue): \(reason)" : "\(code.rawValue) in \(field): \(reason)"
    }

    /// The code a receiver puts into a rejection receipt for this error.
    public var rejectionCode: RejectionCode {
        switch code {
        case .malformed, .wrongContentType: return .malformed
        case .unsupportedVersion: return .unsupportedVersion
        case .unknownType: return .unknownType
        case .invalidField, .missingField, .unknownField: return .invalidBody
        case .unsupportedAlgorithm: return .unsupportedAlgorithm
        }
    }
}
