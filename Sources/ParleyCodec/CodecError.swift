/// Why the codec refused an input or a value.
///
/// Every violation of well-formedness, of deterministic encoding, of a limit or of the COSE_Sign1
/// structure has its own code; `offset` is the byte position in the input where it was found.
public struct CodecError: Error, Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    public enum Code: String, Sendable, Hashable, CaseIterable {
        // Well-formedness (RFC 8949 §3, Appendix F)
        case truncated
        case trailingBytes
        case reservedAdditionalInformation
        case invalidIndefiniteLength
        case unexpectedBreak
        case invalidSimpleValue
        case invalidIndefiniteChunk
        case invalidUTF8
        case lengthExceedsInput
        // Deterministic encoding (RFC 8949 §4.2.1)
        case indefiniteLength
        case nonShortestHead
        case nonPreferredFloat
        case unsortedMapKeys
        case duplicateMapKey
        // Limits
        case inputTooLarge
        case depthLimitExceeded
        case itemLimitExceeded
        // Typed reads (`CBORReader`)
        case typeMismatch
        // COSE_Sign1 (RFC 9052) as Parley profiles it
        case notCOSESign1
        case unsupportedHeaderParameter
        case invalidHeaderParameter
        /// x5chain holds more certificates, or a longer certificate, than Parley allows.
        case headerLimitExceeded
        case missingHeaderParameter
        case detachedPayload
    }

    public var code: Code
    /// Byte offset in the input, where the error is about an input.
    public var offset: Int?
    public var reason: String
    public var file: String
    public var line: Int

    public init(_ code: Code, at offset: Int? = nil, _ reason: String, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.offset = offset
        self.reason = reason
        self.file = file
        self.line = line
    }

    /// For an operator: what is wrong and where in the input; no Swift names or source locations.
    public var description: String {
        offset.map { "\(reason) (at byte \($0))" } ?? reason
    }

    /// For a developer: the code and where the error was raised.
    public var debugDescription: String {
        "CBOR \(code.rawValue)\(offset.map { " at byte \($0)" } ?? ""): \(reason) (\(file):\(line))"
    }
}
