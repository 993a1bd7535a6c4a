import Foundation
import ParleyCodec
import Testing
@testable import ParleyProtocol

@Suite struct EnvelopeTests {
    @Test(arguments: NotificationType.allCases)
    func everyTypeRoundTripsByteForByte(_ type: NotificationType) throws {
        let envelope = Examples.envelope(type)
        try envelope.validate()
        let bytes = envelope.encoded
        let decoded = try Envelope(decoding: bytes)
        #expect(decoded == envelope)
        #expect(decoded.encoded == bytes)
        #expect(decoded.type == type)
    }

    @Test func randomEnvelopesRoundTripByteForByte() throws {
        var rng = SplitMix64(state: 0x9A_7E1)
        for _ in 0..<2_000 {
            let envelope = RandomEnvelopes.envelope(using: &rng)
            try envelope.validate()
            let bytes = envelope.encoded
            let decoded = try Envelope(decoding: bytes)
            #expect(decoded == envelope)
            #expect(decoded.encoded == bytes)
        }
    }

    @Test(arguments: [ReceiptCase.accepted, .duplicate, .rejected])
    func receiptsRoundTrip(_ which: ReceiptCase) throws {
        let status: Receipt.Status =
            switch which {
            case .accepted: .accepted
            case .duplicate: .duplicate
            case .rejected: .rejected(.notARecipient, reason: "HCOC-CC is not among the recipients")
            }
        let receipt = Receipt(
            messageID: Examples.originalID,
            digest: Array(repeating: 0xAB, count: 32),
            recipient: Examples.recipients[0],
            sender: Examples.sender,
            received: Examples.created + 2,
            status: status
        )
        let bytes = receipt.encoded
        #expect(try Receipt(decoding: bytes) == receipt)
        #expect(try Receipt(decoding: bytes).encoded == bytes)
    }

    enum ReceiptCase: Sendable { case accepted, duplicate, rejected }

    @Test func rejectedReceiptWithoutReasonIsRefused() {
        var map = Receipt(
            messageID: Examples.originalID,
            digest: Array(repeating: 1, count: 32),
            recipient: Examples.recipients[0],
            sender: Examples.sender,
            received: Examples.created,
            status: .accepted
        ).cbor.mapValue!
        map[7] = 2
        #expect { try Receipt(decoding: CBOREncoder.encode(.map(map))) } throws: {
            ($0 as? ProtocolError)?.field == "rejection"
        }
        map[7] = 0
        map[8] = [3, "bad"]
        #expect { try Receipt(decoding: CBOREncoder.encode(.map(map))) } throws: {
            ($0 as? ProtocolError)?.field == "rejection"
        }
    }

    @Test func idsAndTimesFormatForOperators() throws {
        #expect(Examples.created.description == "2026-12-01T06:00:00Z")
        #expect(try UTCTime(rfc3339: "2026-12-01T06:00:00Z") == Examples.created)
        #expect(try UTCTime(rfc3339: "1969-12-31T23:59:59Z").secondsSince1970 == -1)
        #expect(UTCTime(secondsSince1970: -1).description == "1969-12-31T23:59:59Z")
        #expect(try UTCTime(rfc3339: "2024-02-29T12:00:00Z").description == "2024-02-29T12:00:00Z")
        #expect(throws: ProtocolError.self) { try UTCTime(rfc3339: "2025-02-29T12:00:00Z") }
        #expect(throws: ProtocolError.self) { try UTCTime(rfc3339: "2025-01-01T24:00:00Z") }
        #expect(throws: ProtocolError.self) { try UTCTime(rfc3339: "2025-01-01 10:00:00") }
        // Every field is exactly its digits: no signs, fractions, offsets, lower-case letters or short fields.
        for text in [
            "2025-01-01T+6:00:00Z", "2025-01-01T06:00:+0Z", "+025-01-01T06:00:00Z", "2025-1-01T06:00:00Z",
            "2025-01-01T06:00:00.5Z",
            "2025-01-01T06:00:00+00:00", "2025-01-01t06:00:00Z", "2025-01-01T06:00:00z", "2025-01-01T06:00:60Z",
            "2025-01-01T6:00:00Z",
            "2025-01-01T06:00:00Z ", "0000-01-01T00:00:00Z", "2025-00-01T00:00:00Z", "2025-01-01T06:00:00",
        ] {
            #expect(throws: ProtocolError.self, "\(text)") { try UTCTime(rfc3339: text) }
        }
        #expect(try UTCTime(rfc3339: "9999-12-31T23:59:59Z").description == "9999-12-31T23:59:59Z")
        #expect(throws: ProtocolError.self) { try CalendarDate("2025-1-001") }
        #expect(throws: ProtocolError.self) { try CalendarDate("2025-+1-01") }
        #expect(Examples.originalID.hex == "019ad8a0c5c07000a000000000000001")
        let generated = MessageID.generate(at: Examples.created)
        #expect(generated.bytes[6] >> 4 == 7)
        #expect(generated.bytes[8] >> 6 == 2)
        #expect(
            generated.bytes[0..<6].reduce(0) { $0 << 8 | UInt64($1) } == UInt64(Examples.created.secondsSince1970)
                * 1000
        )
        let many = (0..<1000).map { _ in MessageID.generate(at: Examples.created) }
        #expect(Set(many).count == 1000)
        for position in [7, 9, 15] {
            #expect(Set(many.map { $0.bytes[position] }).count > 200, "random byte \(position)")
        }
        #expect(try Position(latitude: 48.8566, longitude: -2.3522).description == "48.856600°N 2.352200°W")
        #expect(try Position(latitude: 0.0000005, longitude: -0.0000005).longitudeMicrodegrees == -1)
    }

    @Test func participantIDsAreChecked() {
        for bad in ["", "us-nrrc", "-US", "US NRRC", String(repeating: "A", count: 65), "ÜS"] {
            #expect(throws: ProtocolError.self) { try ParticipantID(bad) }
        }
        #expect((try? ParticipantID("1-X")) != nil)
    }
}

struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Valid envelopes with random content, for round-trip tests.
enum RandomEnvelopes {
    static func text(_ max: Int, using rng: inout SplitMix64) -> String {
        let alphabet = Array("abcXYZ 019-éü日本Ωд".unicodeScalars)
        let n = Int.random(in: 1...max, using: &rng)
        return String(String.UnicodeScalarView((0..<n).map { _ in alphabet.randomElement(using: &rng)! }))
    }

    static func position(using rng: inout SplitMix64) -> Position {
        try! Position(
            latitudeMicrodegrees: Int64.random(in: Position.latitudeRange, using: &rng),
            longitudeMicrodegrees: Int64.random(in: Position.longitudeRange, using: &rng)
        )
    }

    static func area(using rng: inout SplitMix64) -> Area {
        Bool.random(using: &rng)
            ? .polygon((0..<Int.random(in: 3...64, using: &rng)).map { _ in position(using: &rng) })
            : .circle(center: position(using: &rng), radiusMetres: UInt32.random(in: 1...2_000_000, using: &rng))
    }

    static func participant(using rng: inout SplitMix64) -> ParticipantID {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")
        let rest = String((0..<Int.random(in: 0...12, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! })
        return try! ParticipantID(String(alphabet[Int.random(in: 0..<36, using: &rng)]) + rest)
    }

    static func body(_ type: NotificationType, created: UTCTime, using rng: inout SplitMix64) -> NotificationBody {
        let time = created + Int64.random(in: 60...(86_400 * 60), using: &rng)
        switch type {
        case .preLaunch:
            let start = created + Int64.random(in: 60...(86_400 * 10), using: &rng)
            return .preLaunch(
                PreLaunch(
                    vehicleClass: VehicleClass.allCases.randomElement(using: &rng)!,
                    windowStart: start,
                    windowEnd: start + Int64.random(in: 1...PreLaunch.maximumWindow, using: &rng),
                    launchArea: area(using: &rng),
                    impactAreas: (0..<Int.random(in: 1...4, using: &rng)).map { _ in area(using: &rng) },
                    azimuthCentidegrees: UInt16.random(in: 0...35_999, using: &rng),
                    late: start < created + PreLaunch.requiredNotice,
                    designator: Bool.random(using: &rng) ? text(64, using: &rng) : nil
                )
            )
        case .launchWindowExtension:
            return .launchWindowExtension(
                LaunchWindowExtension(newWindowEnd: time, reason: ExtensionReason.allCases.randomElement(using: &rng))
            )
        case .launchCancellation:
            return .launchCancellation(
                LaunchCancellation(reason: CancellationReason.allCases.randomElement(using: &rng)!)
            )
        case .postLaunchReport:
            return .postLaunchReport(
                PostLaunchReport(
                    vehicleClass: .ballisticMissile,
                    launchTime: created + -Int64.random(in: 0...86_400, using: &rng),
                    launchArea: area(using: &rng),
                    outcome: LaunchOutcome.allCases.randomElement(using: &rng)!,
                    impactArea: Bool.random(using: &rng) ? area(using: &rng) : nil,
                    designator: nil
                )
            )
        case .annualDeclaration:
            return .annualDeclaration(
                AnnualDeclaration(
                    year: UInt16.random(in: 2000...2199, using: &rng),
                    policy: try! LocalizedText(
                        language: ["en", "fr", "ru", "zh-Hans", "es-419"].randomElement(using: &rng)!,
                        text: text(500, using: &rng)
                    ),
                    launches: VehicleClass.allCases.filter { _ in Bool.random(using: &rng) }
                        .map { .init(vehicleClass: $0, count: UInt32.random(in: 0...100_000, using: &rng)) }
                )
            )
        case .exportDenial:
            return .exportDenial(
                ExportDenial(
                    itemCategory: "\(Int.random(in: 1...20, using: &rng)).A.\(Int.random(in: 1...9, using: &rng))",
                    destination: try! CountryCode(["FR", "ZZ", "JP", "BR"].randomElement(using: &rng)!),
                    endUser: text(256, using: &rng),
                    reason: DenialReason.allCases.randomElement(using: &rng)!,
                    denialDate: try! CalendarDate(
                        year: Int.random(in: 2000...2100, using: &rng),
                        month: Int.random(in: 1...12, using: &rng),
                        day: Int.random(in: 1...28, using: &rng)
                    ),
                    nationalReference: Bool.random(using: &rng) ? text(64, using: &rng) : nil
                )
            )
        case .exportDenialWithdrawal:
            return .exportDenialWithdrawal(ExportDenialWithdrawal(withdrawalDate: try! CalendarDate("2027-01-31")))
        case .treatyEvent:
            return .treatyEvent(
                TreatyEvent(
                    kind: TreatyEventKind.allCases.randomElement(using: &rng)!,
                    itemType: text(64, using: &rng),
                    quantity: UInt32.random(in: 1...1_000_000, using: &rng),
                    location: position(using: &rng),
                    eventTime: time,
                    locationName: Bool.random(using: &rng) ? text(128, using: &rng) : nil,
                    destination: Bool.random(using: &rng) ? position(using: &rng) : nil
                )
            )
        case .acknowledgement:
            return .acknowledgement
        case .correction:
            let corrected = NotificationType.allCases.filter { $0 != .acknowledgement && $0 != .correction }
                .randomElement(using: &rng)!
            return .correction(body(corrected, created: created, using: &rng))
        case .generalCommunication:
            return .generalCommunication(
                GeneralCommunication(
                    subject: text(256, using: &rng),
                    text: try! LocalizedText(language: "en", text: text(2_000, using: &rng))
                )
            )
        }
    }

    static func envelope(using rng: inout SplitMix64) -> Envelope {
        let type = NotificationType.allCases.randomElement(using: &rng)!
        let created = UTCTime(secondsSince1970: Int64.random(in: 1_600_000_000...2_500_000_000, using: &rng))
        let sender = participant(using: &rng)
        var recipients: [ParticipantID: UInt64] = [:]
        for _ in 0..<Int.random(in: 1...20, using: &rng) {
            let p = participant(using: &rng)
            if p != sender {
                recipients[p] = UInt64.random(in: 1...UInt64.max >> UInt64.random(in: 0...63, using: &rng), using: &rng)
            }
        }
        if recipients.isEmpty { recipients[try! ParticipantID(sender.rawValue == "X" ? "Y" : "X")] = 1 }
        var references: [Reference] = []
        var relations: [Relation] = []
        switch type {
        case .launchWindowExtension: relations = [.extends]
        case .launchCancellation, .exportDenialWithdrawal: relations = [.cancels]
        case .acknowledgement: relations = [.acknowledges]
        case .correction: relations = [.corrects]
        default: break
        }
        if type != .postLaunchReport || Bool.random(using: &rng) {
            relations += Array(
                repeating: Relation.respondsTo,
                count: type == .postLaunchReport ? 1 : Int.random(in: 0...3, using: &rng)
            )
        }
        for relation in relations {
            references.append(Reference(messageID: MessageID.generate(at: created), relation: relation))
        }
        return Envelope(
            id: MessageID.generate(at: created),
            sender: sender,
            recipients: recipients.map { Recipient(participant: $0.key, sequence: $0.value) },
            created: created,
            body: body(type, created: created, using: &rng),
            references: references.shuffled(using: &rng),
            remarks: Bool.random(using: &rng) ? try! LocalizedText(language: "fr", text: text(4_096, using: &rng)) : nil
        )
    }
}

@Suite struct LanguageTagTests {
    @Test(arguments: ["en", "fr", "ru", "zh-Hans", "es-419", "sr-Latn-RS", "de-CH-1996", "abcdefgh"])
    func acceptsWellFormedTags(_ tag: String) throws {
        _ = try LocalizedText(language: tag, text: "x")
    }

    @Test(arguments: [
        "", "e", "e1", "1en", "en-", "-en", "en--US", "abcdefghi", "en_US", "en US", "ü",
        String(repeating: "a-", count: 18) + "a",
    ])
    func refusesMalformedTags(_ tag: String) {
        #expect(throws: ProtocolError.self) { try LocalizedText(language: tag, text: "x") }
    }
}

@Suite struct ExampleTests {
    @Test(arguments: NotificationType.allCases)
    func examplesStayValidWhenMovedInTime(_ type: NotificationType) throws {
        for offset: Int64 in [-400 * 86_400, -1, 0, 1, 3_000 * 86_400] {
            let envelope = Examples.envelope(type, created: Examples.created + offset)
            try envelope.validate()
            #expect(envelope.created == Examples.created + offset)
        }
    }
}
