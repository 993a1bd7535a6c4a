/// Decodes CBOR with limits, and in deterministic mode rejects every encoding that RFC 8949 §4.2.1
/// forbids, so that one value has exactly one accepted byte sequence.
public struct CBORDecoder: Sendable {
    /// Bounds that keep a hostile input from costing more than its size.
    public struct Limits: Sendable, Hashable {
        /// Largest accepted input, in bytes.
        public var maximumInputSize: Int
        /// Deepest nesting of arrays, maps and tags (the top-level item is depth 1).
        public var maximumDepth: Int
        /// Most data items in one input, counting every nested item.
        public var maximumItemCount: Int

        public init(maximumInputSize: Int, maximumDepth: Int, maximumItemCount: Int) {
            self.maximumInputSize = maximumInputSize
            self.maximumDepth = maximumDepth
            self.maximumItemCount = maximumItemCount
        }

        /// The receiver limits of Parley v1 (Protocol/SPEC.md): 256 KiB, depth 16, 16 384 items.
        public static let parley = Limits(maximumInputSize: 262_144, maximumDepth: 16, maximumItemCount: 16_384)
    }

    public enum Mode: Sendable, Hashable {
        /// Core deterministic encoding only (RFC 8949 §4.2.1). Parley's wire format.
        case deterministic
        /// Any well-formed CBOR without duplicate map keys (RFC 8949 §5.6), e.g. for inspecting foreign data.
        case wellFormed
    }

    public var limits: Limits
    public var mode: Mode

    public init(limits: Limits = .parley, mode: Mode = .deterministic) {
        self.limits = limits
        self.mode = mode
    }

    /// Decodes exactly one item that must span all of `bytes`.
    public func decode(_ bytes: [UInt8]) throws -> CBOR {
        var reader = try CBORReader(bytes, limits: limits, mode: mode)
        let item = try reader.readItem()
        try reader.finish()
        return item
    }
}

extension CBOR {
    /// Decodes `bytes` as one deterministic CBOR item within Parley's limits.
    public init(decoding bytes: [UInt8], limits: CBORDecoder.Limits = .parley) throws {
        self = try CBORDecoder(limits: limits, mode: .deterministic).decode(bytes)
    }
}
