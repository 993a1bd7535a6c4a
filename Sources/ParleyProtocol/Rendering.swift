import ParleyCodec

/// Plain-language renderings of Parley content for operators: label and value pairs, units spelled
/// out, codes by name. Any party renders the same language-neutral content in its own language;
/// this is the English rendering.
public enum Rendering {
    public static func lines(of envelope: Envelope) -> [(label: String, value: String)] {
        var lines: [(String, String)] = [
            ("message", envelope.id.hex),
            ("type", envelope.type.name),
            ("sender", envelope.sender.rawValue),
            ("recipients", envelope.recipients.map { "\($0.participant) (#\($0.sequence))" }.joined(separator: ", ")),
            ("created", envelope.created.description),
        ]
        for reference in envelope.references {
            lines.append(("reference", "\(reference.relation) \(reference.messageID)"))
        }
        lines += body(envelope.body)
        if let remarks = envelope.remarks { lines.append(("remarks [\(remarks.language)]", remarks.text)) }
        return lines
    }

    public static func lines(of receipt: Receipt) -> [(label: String, value: String)] {
        var lines: [(String, String)] = [
            ("receipt for", receipt.messageID.hex),
            ("status", receipt.status.code.name),
            ("recipient", receipt.recipient.rawValue),
            ("sender", receipt.sender.rawValue),
            ("received", receipt.received.description),
            ("digest", Hex.encode(receipt.digest)),
        ]
        if case .rejected(let code, let reason) = receipt.status {
            lines.append(("rejection", "\(code.rawValue) \(code.name): \(reason)"))
        }
        return lines
    }

    static func degrees(_ centidegrees: UInt16) -> String {
        "\(centidegrees / 100).\(String(centidegrees % 100).leftPadded(to: 2))°"
    }

    /// The body's lines in the order of its field table, which is the order of NOTIFICATIONS.md §3
    /// and of the wire keys: a reader finds the fields where the catalogue lists them.
    static func body(_ body: NotificationBody, prefix: String = "") -> [(String, String)] {
        switch body {
        case .acknowledgement:
            return []
        case .correction(let corrected):
            return [(prefix + "corrects with", corrected.type.name)]
                + Rendering.body(corrected, prefix: prefix + "corrected ")
        default:
            return (body.fields?.renderedLines() ?? []).map { (prefix + $0.0, $0.1) }
        }
    }
}
