import ParleyCodec

/// Names of the integer map keys of Parley structures, for diagnostic notation a person can read.
public enum WireNames {
    static let envelope = ["version", "id", "sender", "recipients", "created", "type", "refs", "body", "remarks"]
    static let receipt = ["version", "message-id", "digest", "recipient", "sender", "received", "status", "rejection"]
    static let header: [Int: String] = [1: "alg", 3: "content type", 33: "x5chain", -65537: "x5chain-sha256"]

    static func body(_ type: NotificationType) -> [String] {
        switch type {
        case .preLaunch: return ["class", "window-start", "window-end", "launch-area", "impact-areas", "azimuth", "late", "designator"]
        case .launchWindowExtension: return ["new-window-end", "reason"]
        case .launchCancellation: return ["reason"]
        case .postLaunchReport: return ["class", "launch-time", "launch-area", "outcome", "impact-area", "designator"]
        case .annualDeclaration: return ["year", "policy", "launches"]
        case .exportDenial: return ["item-category", "destination", "end-user", "reason", "denial-date", "national-reference"]
        case .exportDenialWithdrawal: return ["withdrawal-date"]
        case .treatyEvent: return ["kind", "item-type", "quantity", "location", "event-time", "location-name", "destination"]
        case .acknowledgement: return []
        case .correction: return ["corrected-type", "corrected-body"]
        case .generalCommunication: return ["subject", "text"]
        }
    }

    private static func name(_ names: [String], _ key: CBOR) -> String? {
        guard let k = key.intValue, k >= 1, k <= names.count else { return nil }
        return names[k - 1]
    }

    /// Names the keys of an envelope of `type` (and of a corrected body of `correctedType`).
    public static func envelopeNamer(type: NotificationType?, correctedType: NotificationType? = nil) -> CBORDiagnostic.KeyNamer {
        { path, key in
            switch path.count {
            case 0: return name(envelope, key)
            case 1 where path[0] == 8: return type.flatMap { name(body($0), key) }
            case 2 where path[0] == 8 && path[1] == 2 && type == .correction: return correctedType.flatMap { name(body($0), key) }
            default: return nil
            }
        }
    }

    public static let receiptNamer: CBORDiagnostic.KeyNamer = { path, key in path.isEmpty ? name(receipt, key) : nil }
    public static let headerNamer: CBORDiagnostic.KeyNamer = { path, key in path.isEmpty ? key.intValue.flatMap { header[$0] } : nil }

    /// Indented diagnostic notation of an envelope with its keys named.
    public static func diagnostic(of envelope: Envelope) -> String {
        var correctedType: NotificationType? = nil
        if case .correction(let corrected) = envelope.body { correctedType = corrected.type }
        return CBORDiagnostic.format(canonical(envelope.encoded), indent: 2, namer: envelopeNamer(type: envelope.type, correctedType: correctedType))
    }

    public static func diagnostic(of receipt: Receipt) -> String {
        CBORDiagnostic.format(canonical(receipt.encoded), indent: 2, namer: receiptNamer)
    }

    /// The item as decoded from its deterministic encoding, so maps list keys in wire order.
    private static func canonical(_ bytes: [UInt8]) -> CBOR {
        (try? CBOR(decoding: bytes)) ?? .null
    }
}
