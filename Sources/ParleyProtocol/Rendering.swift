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

    static func body(_ body: NotificationBody, prefix: String = "") -> [(String, String)] {
        func line(_ label: String, _ value: String) -> (String, String) { (prefix + label, value) }
        switch body {
        case .preLaunch(let b):
            var lines = [
                line("vehicle class", b.vehicleClass.name),
                line("launch window", "\(b.windowStart) – \(b.windowEnd)\(b.late ? " (LATE: less than 24 hours' notice)" : "")"),
                line("launch area", b.launchArea.description),
            ]
            lines += b.impactAreas.enumerated().map { line("impact area \($0 + 1)", $1.description) }
            lines.append(line("azimuth", degrees(b.azimuthCentidegrees) + " from true north"))
            if let d = b.designator { lines.append(line("designator", d)) }
            return lines
        case .launchWindowExtension(let b):
            return [line("new window end", b.newWindowEnd.description)] + (b.reason.map { [line("reason", $0.name)] } ?? [])
        case .launchCancellation(let b):
            return [line("reason", b.reason.name)]
        case .postLaunchReport(let b):
            var lines = [line("vehicle class", b.vehicleClass.name), line("launch time", b.launchTime.description),
                         line("launch area", b.launchArea.description), line("outcome", b.outcome.name)]
            if let area = b.impactArea { lines.append(line("impact area", area.description)) }
            if let d = b.designator { lines.append(line("designator", d)) }
            return lines
        case .annualDeclaration(let b):
            return [line("year", String(b.year)), line("policy [\(b.policy.language)]", b.policy.text)]
                + b.launches.map { line("launches (\($0.vehicleClass.name))", String($0.count)) }
        case .exportDenial(let b):
            var lines = [line("item category", b.itemCategory), line("destination", b.destination.rawValue),
                         line("end user", b.endUser), line("reason", b.reason.name), line("denial date", b.denialDate.description)]
            if let r = b.nationalReference { lines.append(line("national reference", r)) }
            return lines
        case .exportDenialWithdrawal(let b):
            return [line("withdrawal date", b.withdrawalDate.description)]
        case .treatyEvent(let b):
            var lines = [line("event", b.kind.name), line("item type", b.itemType), line("quantity", String(b.quantity)),
                         line("location", b.location.description), line("event time", b.eventTime.description)]
            if let name = b.locationName { lines.append(line("location name", name)) }
            if let destination = b.destination { lines.append(line("destination", destination.description)) }
            return lines
        case .acknowledgement:
            return []
        case .correction(let corrected):
            return [line("corrects with", corrected.type.name)] + Rendering.body(corrected, prefix: prefix + "corrected ")
        case .generalCommunication(let b):
            return [line("subject", b.subject), line("text [\(b.text.language)]", b.text.text)]
        }
    }
}
