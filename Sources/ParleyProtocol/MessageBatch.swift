import ParleyCodec

/// The body of `POST /v1/messages/batch` (SPEC.md §12.8): the exact bytes of several messages for
/// one recipient, as a deterministic CBOR array of byte strings.
public struct MessageBatch: Sendable, Hashable {
    /// At most this many messages in one batch.
    public static let maximumCount = 64
    /// At most this many bytes in one batch body (the messages and the CBOR framing).
    public static let maximumSize = 1_048_576
    public static let mediaType = "application/cbor"

    public var messages: [[UInt8]]

    public init(_ messages: [[UInt8]]) {
        self.messages = messages
    }

    public var encoded: [UInt8] {
        var writer = CBORWriter(capacity: messages.reduce(16) { $0 + $1.count + 5 })
        writer.writeArrayHeader(messages.count)
        for message in messages { writer.writeByteString(message) }
        return writer.bytes
    }

    /// Decodes a batch body: a non-empty array of at most `maximumCount` byte strings, each at
    /// most `MessageVerifier.maximumSize` bytes, deterministically encoded, nothing after it.
    public init(decoding bytes: [UInt8]) throws(ProtocolError) {
        guard bytes.count <= Self.maximumSize else {
            throw ProtocolError(.tooLarge, "a batch of \(bytes.count) bytes exceeds \(Self.maximumSize) bytes")
        }
        let item: CBOR
        do {
            item = try CBORDecoder(
                limits: .init(
                    maximumInputSize: Self.maximumSize,
                    maximumDepth: 2,
                    maximumItemCount: Self.maximumCount + 1
                )
            ).decode(bytes)
        } catch let error as CodecError where error.code == .itemLimitExceeded {
            throw ProtocolError(.tooLarge, "a batch holds at most \(Self.maximumCount) messages")
        } catch {
            throw ProtocolError(
                .malformed,
                "the batch is not a deterministically encoded CBOR array of byte strings: \(error)"
            )
        }
        guard case .array(let items) = item else {
            throw ProtocolError(.malformed, "the batch is a CBOR \(item.kindName), not an array of byte strings")
        }
        guard !items.isEmpty else { throw ProtocolError(.malformed, "the batch is empty") }
        var messages: [[UInt8]] = []
        messages.reserveCapacity(items.count)
        for (index, element) in items.enumerated() {
            guard case .byteString(let message) = element else {
                throw ProtocolError(
                    .malformed,
                    "batch element \(index) is a CBOR \(element.kindName), not a byte string"
                )
            }
            guard message.count <= MessageVerifier.maximumSize else {
                throw ProtocolError(
                    .tooLarge,
                    "batch element \(index) has \(message.count) bytes; a message has at most \(MessageVerifier.maximumSize)"
                )
            }
            messages.append(message)
        }
        self.messages = messages
    }
}

/// The body of a 200 answer to `POST /v1/messages/batch` (SPEC.md §12.8): one answer per message,
/// in the order of the batch.
public struct BatchAnswer: Sendable, Hashable {
    /// The answer for one message of a batch.
    public enum Item: Sendable, Hashable {
        /// The signed receipt, exactly as `POST /v1/messages` would have answered it with 200.
        case receipt([UInt8])
        /// What `POST /v1/messages` would have answered with an HTTP error for this message alone.
        case problem(BatchProblem)
    }

    public static let mediaType = "application/cbor"
    /// Bound on a whole answer: 64 receipts of at most 16 KiB each plus problems.
    public static let maximumSize = 1_048_576

    public var items: [Item]

    public init(_ items: [Item]) {
        self.items = items
    }

    public var encoded: [UInt8] {
        var writer = CBORWriter(capacity: items.count * 900)
        writer.writeArrayHeader(items.count)
        for item in items {
            switch item {
            case .receipt(let bytes): writer.writeByteString(bytes)
            case .problem(let problem): writer.write(problem.cbor)
            }
        }
        return writer.bytes
    }

    /// Decodes an answer and checks it has `expectedCount` items.
    public init(decoding bytes: [UInt8], expectedCount: Int) throws(ProtocolError) {
        guard bytes.count <= Self.maximumSize else {
            throw ProtocolError(.tooLarge, "a batch answer of \(bytes.count) bytes exceeds \(Self.maximumSize) bytes")
        }
        let item: CBOR
        do {
            item = try CBORDecoder(
                limits: .init(
                    maximumInputSize: Self.maximumSize,
                    maximumDepth: 3,
                    maximumItemCount: 1 + MessageBatch.maximumCount * 11
                )
            ).decode(bytes)
        } catch {
            throw ProtocolError(.malformed, "the batch answer is not deterministically encoded CBOR: \(error)")
        }
        guard case .array(let elements) = item else {
            throw ProtocolError(.malformed, "the batch answer is a CBOR \(item.kindName), not an array")
        }
        guard elements.count == expectedCount else {
            throw ProtocolError(
                .malformed,
                "the batch answer has \(elements.count) items for \(expectedCount) messages"
            )
        }
        var items: [Item] = []
        items.reserveCapacity(elements.count)
        for (index, element) in elements.enumerated() {
            switch element {
            case .byteString(let receipt): items.append(.receipt(receipt))
            case .map(let map): items.append(.problem(try BatchProblem(map, index: index)))
            default:
                throw ProtocolError(
                    .malformed,
                    "batch answer item \(index) is a CBOR \(element.kindName), not a receipt or a problem"
                )
            }
        }
        self.items = items
    }
}

/// A problem for one message of a batch: the fields of an `application/problem+json` answer
/// (SPEC.md §12.3) as a CBOR map with text keys.
public struct BatchProblem: Sendable, Hashable {
    /// The HTTP status `POST /v1/messages` would have answered with.
    public var status: Int
    /// The name after `urn:parley:problem:` (SPEC.md §15.5).
    public var name: String
    public var detail: String
    public var parleyCode: UInt64?
    public var retryAfter: Int?

    public init(status: Int, name: String, detail: String, parleyCode: UInt64? = nil, retryAfter: Int? = nil) {
        self.status = status
        self.name = name
        self.detail = detail
        self.parleyCode = parleyCode
        self.retryAfter = retryAfter
    }

    var cbor: CBOR {
        var map = CBORMap()
        map["status"] = .unsignedInteger(UInt64(max(0, status)))
        map["type"] = .textString("urn:parley:problem:\(name)")
        map["detail"] = .textString(detail)
        if let parleyCode { map["parley-code"] = .unsignedInteger(parleyCode) }
        if let retryAfter { map["retry-after"] = .unsignedInteger(UInt64(max(0, retryAfter))) }
        return .map(map)
    }

    init(_ map: CBORMap, index: Int) throws(ProtocolError) {
        func fail(_ reason: String) -> ProtocolError {
            ProtocolError(.malformed, "batch answer item \(index): \(reason)")
        }
        for key in map.keys {
            guard let name = key.textValue, ["status", "type", "detail", "parley-code", "retry-after"].contains(name)
            else {
                throw fail("unknown problem field \(key)")
            }
        }
        guard let status = map["status"]?.uint64Value, (400...599).contains(status) else {
            throw fail("status must be an HTTP error status")
        }
        guard let type = map["type"]?.textValue, type.hasPrefix("urn:parley:problem:"),
            case let name = type.dropFirst("urn:parley:problem:".count), (1...64).contains(name.count),
            name.utf8.allSatisfy({ $0 == UInt8(ascii: "-") || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) })
        else { throw fail("type must be urn:parley:problem:<name>, the name of lowercase letters and hyphens") }
        guard let detail = map["detail"]?.textValue else { throw fail("detail must be a text string") }
        var parleyCode: UInt64?
        if let value = map["parley-code"] {
            guard let code = value.uint64Value else { throw fail("parley-code must be an unsigned integer") }
            parleyCode = code
        }
        var retryAfter: Int?
        if let value = map["retry-after"] {
            guard let seconds = value.uint64Value, seconds <= 86_400 else {
                throw fail("retry-after must be seconds, at most 86400")
            }
            retryAfter = Int(seconds)
        }
        self.init(
            status: Int(status),
            name: String(name),
            detail: detail,
            parleyCode: parleyCode,
            retryAfter: retryAfter
        )
    }
}
