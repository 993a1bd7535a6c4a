import ParleyCodec

/// Names of the integer map keys of Parley structures, for diagnostic notation a person can read.
public enum WireNames {
    static let envelope = ["version", "id", "sender", "recipients", "created", "type", "refs", "body", "remarks"]
    static let receipt = ["version", "message-id", "digest", "recipient", "sender", "received", "status", "rejection"]
    static let header: [Int: String] = [1: "alg", 3: "content type", 33: "x5chain", -65537: "x5chain-sha256"]

    /// The names of a body's keys 1, 2, …, from the type's field table.
    static func body(_ type: NotificationType) -> [String] {
        if let fieldType = NotificationBody.fieldType(of: type) { return fieldType.fieldDescriptions.map(\.name) }
        return type == .correction ? NotificationBody.correctionFieldNames : []
    }

    private static func name(_ names: [String], _ key: CBOR) -> String? {
        guard let k = key.intValue, k >= 1, k <= names.count else { return nil }
        return names[k - 1]
    }

    /// Names the keys of an envelope of `type` (and of a corrected body of `correctedType`).
    public static func envelopeNamer(
        type: NotificationType?,
        correctedType: NotificationType? = nil
    ) -> CBORDiagnostic.KeyNamer {
        { path, key in
            switch path.count {
            case 0: return name(envelope, key)
            case 1 where path[0] == 8: return type.flatMap { name(body($0), key) }
            case 2 where path[0] == 8 && path[1] == 2 && type == .correction:
                return correctedType.flatMap { name(body($0), key) }
            default: return nil
            }
        }
    }

    public static let receiptNamer: CBORDiagnostic.KeyNamer = { path, key in path.isEmpty ? name(receipt, key) : nil }
    public static let headerNamer: CBORDiagnostic.KeyNamer = { path, key in
        path.isEmpty ? key.intValue.flatMap { header[$0] } : nil
    }

    /// Indented diagnostic notation of an envelope with its keys named.
    public static func diagnostic(of envelope: Envelope) -> String {
        var correctedType: NotificationType? = nil
        if case .correction(let corrected) = envelope.body { correctedType = corrected.type }
        return CBORDiagnostic.format(
            canonical(envelope.encoded),
            indent: 2,
            namer: envelopeNamer(type: envelope.type, correctedType: correctedType)
        )
    }

    public static func diagnostic(of receipt: Receipt) -> String {
        CBORDiagnostic.format(canonical(receipt.encoded), indent: 2, namer: receiptNamer)
    }

    /// The item as decoded from its deterministic encoding, so maps list keys in wire order.
    private static func canonical(_ bytes: [UInt8]) -> CBOR {
        (try? CBOR(decoding: bytes)) ?? .null
    }
}

extension WireNames {
    /// Diagnostic notation of a whole signed message or receipt: the COSE_Sign1 with its protected
    /// header and payload shown decoded (`<< … >>`, RFC 8610 Appendix G.3) and their keys named.
    /// Byte strings longer than `limit` bytes are cut to their first 8 bytes followed by `...`,
    /// with their length in a comment (certificates would otherwise fill pages).
    public static func signedDiagnostic(of bytes: [UInt8], abbreviatingOver limit: Int = 64) throws -> String {
        let object = try COSESign1(decoding: bytes)
        let header = try CBOR(decoding: object.protectedHeader)
        let isReceipt = header.mapValue?[3] == .textString(ContentType.receipt)
        let payloadNamer: CBORDiagnostic.KeyNamer
        if isReceipt {
            payloadNamer = receiptNamer
        } else {
            let envelope = try Envelope(decoding: object.payload)
            var correctedType: NotificationType? = nil
            if case .correction(let corrected) = envelope.body { correctedType = corrected.type }
            payloadNamer = envelopeNamer(type: envelope.type, correctedType: correctedType)
        }
        func block(_ item: CBOR, _ namer: CBORDiagnostic.KeyNamer?) -> String {
            CBORDiagnostic.format(item, indent: 2, namer: namer).replacingOccurrences(of: "\n", with: "\n  ")
        }
        let unprotected = CBOR.map(object.unprotectedHeader)
        var text = "18([\n"
        text += "  / protected / << " + block(header, headerNamer) + " >>,\n"
        text += "  / unprotected / " + block(unprotected, headerNamer) + ",\n"
        text += "  / payload / << " + block(try CBOR(decoding: object.payload), payloadNamer) + " >>,\n"
        text += "  / signature / " + CBORDiagnostic.format(.byteString(object.signature)) + "\n"
        text += "])"
        return abbreviatingByteStrings(text, over: limit)
    }

    private static func abbreviatingByteStrings(_ text: String, over limit: Int) -> String {
        var result = ""
        var rest = Substring(text)
        while let start = rest.range(of: "h'") {
            result += rest[..<start.upperBound]
            rest = rest[start.upperBound...]
            guard let end = rest.firstIndex(of: "'") else { break }
            let hex = rest[..<end]
            if hex.count > 2 * limit {
                result += hex.prefix(16) + "...' / \(hex.count / 2) bytes /"
            } else {
                result += hex + "'"
            }
            rest = rest[rest.index(after: end)...]
        }
        return result + rest
    }
}
