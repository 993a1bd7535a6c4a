/// One fixed, valid example per notification type, used by the committed vectors in
/// `Protocol/vectors/`, the benchmarks and the demo. Ids and times are fixed so the bytes are stable.
public enum Examples {
    public static let sender = try! ParticipantID("US-NRRC")
    public static let recipients = [try! ParticipantID("HCOC-CC"), try! ParticipantID("RU-NRRC")]
    /// 2026-12-01T06:00:00Z
    public static let created = UTCTime(secondsSince1970: 1_796_104_800)
    public static let originalID = try! MessageID(hex: "019ad8a0c5c07000a000000000000001")

    public static func messageID(_ n: UInt8) -> MessageID {
        try! MessageID(bytes: [0x01, 0x9A, 0xD8, 0xA0, 0xC5, 0xC0, 0x70, 0x00, 0xA0, 0, 0, 0, 0, 0, 0x10, n])
    }

    static let launchArea = Area.circle(
        center: try! Position(latitudeMicrodegrees: 28_573_469, longitudeMicrodegrees: -80_651_070),
        radiusMetres: 5_000
    )
    static let impactArea = Area.polygon([
        try! Position(latitudeMicrodegrees: 30_000_000, longitudeMicrodegrees: -60_000_000),
        try! Position(latitudeMicrodegrees: 30_000_000, longitudeMicrodegrees: -58_000_000),
        try! Position(latitudeMicrodegrees: 28_000_000, longitudeMicrodegrees: -58_000_000),
        try! Position(latitudeMicrodegrees: 28_000_000, longitudeMicrodegrees: -60_000_000),
    ])

    public static let preLaunch = PreLaunch(
        vehicleClass: .spaceLaunchVehicle,
        windowStart: created + 3 * 86_400,
        windowEnd: created + 3 * 86_400 + 4 * 3600,
        launchArea: launchArea,
        impactAreas: [impactArea],
        azimuthCentidegrees: 9_050,
        late: false,
        designator: "SLV-7 flight 12"
    )

    public static func body(_ type: NotificationType) -> NotificationBody {
        switch type {
        case .preLaunch: return .preLaunch(preLaunch)
        case .launchWindowExtension:
            return .launchWindowExtension(LaunchWindowExtension(newWindowEnd: created + 4 * 86_400, reason: .weather))
        case .launchCancellation: return .launchCancellation(LaunchCancellation(reason: .technical))
        case .postLaunchReport:
            return .postLaunchReport(
                PostLaunchReport(
                    vehicleClass: .spaceLaunchVehicle,
                    launchTime: created + -3600,
                    launchArea: launchArea,
                    outcome: .nominal,
                    impactArea: impactArea,
                    designator: "SLV-7 flight 11"
                )
            )
        case .annualDeclaration:
            return .annualDeclaration(
                AnnualDeclaration(
                    year: 2026,
                    policy: try! LocalizedText(
                        language: "en",
                        text: "Space launch vehicles are used for peaceful purposes only."
                    ),
                    launches: [
                        .init(vehicleClass: .ballisticMissile, count: 3),
                        .init(vehicleClass: .spaceLaunchVehicle, count: 14),
                    ]
                )
            )
        case .exportDenial:
            return .exportDenial(
                ExportDenial(
                    itemCategory: "2.A.1",
                    destination: try! CountryCode("ZZ"),
                    endUser: "Example Aerospace Trading Ltd",
                    reason: .diversionRisk,
                    denialDate: try! CalendarDate("2026-11-30"),
                    nationalReference: "EXP-2026-0042"
                )
            )
        case .exportDenialWithdrawal:
            return .exportDenialWithdrawal(ExportDenialWithdrawal(withdrawalDate: try! CalendarDate("2026-12-01")))
        case .treatyEvent:
            return .treatyEvent(
                TreatyEvent(
                    kind: .elimination,
                    itemType: "launcher",
                    quantity: 2,
                    location: try! Position(latitudeMicrodegrees: 51_500_000, longitudeMicrodegrees: 46_000_000),
                    eventTime: created + 7 * 86_400,
                    locationName: "Elimination facility 3"
                )
            )
        case .acknowledgement: return .acknowledgement
        case .correction:
            var corrected = preLaunch
            corrected.azimuthCentidegrees = 9_100
            return .correction(.preLaunch(corrected))
        case .generalCommunication:
            return .generalCommunication(
                GeneralCommunication(
                    subject: "Test of the notification link",
                    text: try! LocalizedText(language: "en", text: "Please acknowledge receipt.")
                )
            )
        }
    }

    /// The references a notification of `type` needs to be valid.
    public static func references(_ type: NotificationType) -> [Reference] {
        switch type {
        case .launchWindowExtension: return [Reference(messageID: originalID, relation: .extends)]
        case .launchCancellation, .exportDenialWithdrawal: return [Reference(messageID: originalID, relation: .cancels)]
        case .acknowledgement: return [Reference(messageID: originalID, relation: .acknowledges)]
        case .correction: return [Reference(messageID: originalID, relation: .corrects)]
        case .postLaunchReport: return [Reference(messageID: originalID, relation: .respondsTo)]
        default: return []
        }
    }

    /// The example of `type` created at `created` instead, every time in its body moved by the same amount.
    public static func envelope(_ type: NotificationType, created: UTCTime) -> Envelope {
        var envelope = Self.envelope(type)
        let shift = created.secondsSince1970 - Self.created.secondsSince1970
        envelope.created = created
        switch envelope.body {
        case .preLaunch(var body):
            body.windowStart = body.windowStart + shift
            body.windowEnd = body.windowEnd + shift
            envelope.body = .preLaunch(body)
        case .launchWindowExtension(var body):
            body.newWindowEnd = body.newWindowEnd + shift
            envelope.body = .launchWindowExtension(body)
        case .postLaunchReport(var body):
            body.launchTime = body.launchTime + shift
            envelope.body = .postLaunchReport(body)
        case .treatyEvent(var body):
            body.eventTime = body.eventTime + shift
            envelope.body = .treatyEvent(body)
        case .correction(.preLaunch(var body)):
            body.windowStart = body.windowStart + shift
            body.windowEnd = body.windowEnd + shift
            envelope.body = .correction(.preLaunch(body))
        default:
            break
        }
        return envelope
    }

    public static func envelope(_ type: NotificationType) -> Envelope {
        Envelope(
            id: messageID(UInt8(type.rawValue)),
            sender: sender,
            recipients: recipients.enumerated().map {
                Recipient(participant: $1, sequence: UInt64(type.rawValue) + UInt64($0) * 100)
            },
            created: created,
            body: body(type),
            references: references(type),
            remarks: type == .preLaunch ? try! LocalizedText(language: "en", text: "Routine test launch.") : nil
        )
    }
}
