import ParleyCodec

/// Annual declaration (type 5): a policy statement and the launches of a year, per class.
public struct AnnualDeclaration: Sendable, Hashable {
    public static let yearRange: ClosedRange<UInt64> = 2000...2199
    public static let maximumCount: UInt64 = 100_000

    public struct LaunchCount: Sendable, Hashable {
        public var vehicleClass: VehicleClass
        public var count: UInt32
        public init(vehicleClass: VehicleClass, count: UInt32) {
            self.vehicleClass = vehicleClass
            self.count = count
        }
    }

    public var year: UInt16
    public var policy: LocalizedText
    public var launches: [LaunchCount]

    public init(year: UInt16, policy: LocalizedText, launches: [LaunchCount]) {
        self.year = year
        self.policy = policy
        self.launches = launches
    }

    init(cbor item: CBOR, path: String) throws {
        var r = try FieldReader(item, path: path)
        year = UInt16(try r.required(1, "year", Field.uint(Self.yearRange)))
        policy = try r.required(2, "policy", LocalizedText.parser(maximumLength: 65_536))
        launches = try r.required(3, "launches") { item, field in
            try Field.array(item, field, count: 0...VehicleClass.allCases.count).enumerated().map { i, entry in
                let pair = try Field.array(entry, "\(field)[\(i)]", count: 2...2)
                return LaunchCount(
                    vehicleClass: try Field.code(VehicleClass.self)(pair[0], "\(field)[\(i)][0]"),
                    count: UInt32(try Field.uint(0...Self.maximumCount, unit: "launches")(pair[1], "\(field)[\(i)][1]"))
                )
            }
        }
        try r.finish()
        try validateFields(path: path)
    }

    var cbor: CBOR {
        .map([1: .unsignedInteger(UInt64(year)), 2: policy.cbor,
              3: .array(launches.map { [.unsignedInteger($0.vehicleClass.rawValue), .unsignedInteger(UInt64($0.count))] })])
    }

    func validateFields(path: String) throws {
        guard Self.yearRange.contains(UInt64(year)) else {
            throw ProtocolError(.invalidField, field: path + ".year", "year \(year) is out of range 2000…2199")
        }
        try Field.checkText(policy.text, maximum: 65_536, field: path + ".policy")
        for (i, launch) in launches.enumerated() {
            guard UInt64(launch.count) <= Self.maximumCount else {
                throw ProtocolError(.invalidField, field: "\(path).launches[\(i)]", "\(launch.count) launches is out of range 0…100 000")
            }
            if i > 0 && launches[i - 1].vehicleClass.rawValue >= launch.vehicleClass.rawValue {
                throw ProtocolError(.invalidField, field: "\(path).launches[\(i)]", "classes must be unique and in ascending order of their codes")
            }
        }
    }
}

/// Export-denial notice (type 6): a licence for a controlled item was denied.
public struct ExportDenial: Sendable, Hashable {
    public var itemCategory: String
    public var destination: CountryCode
    public var endUser: String
    public var reason: DenialReason
    public var denialDate: CalendarDate
    public var nationalReference: String?

    public init(itemCategory: String, destination: CountryCode, endUser: String, reason: DenialReason,
                denialDate: CalendarDate, nationalReference: String? = nil) {
        self.itemCategory = itemCategory
        self.destination = destination
        self.endUser = endUser
        self.reason = reason
        self.denialDate = denialDate
        self.nationalReference = nationalReference
    }

    static func isCategoryCharacter(_ c: UInt8) -> Bool {
        (0x41...0x5A).contains(c) || (0x61...0x7A).contains(c) || (0x30...0x39).contains(c) || c == 0x2E || c == 0x2D
    }

    init(cbor item: CBOR, path: String) throws {
        var r = try FieldReader(item, path: path)
        itemCategory = try r.required(1, "item-category", Field.text(32, allowed: Self.isCategoryCharacter, describing: "A–Z a–z 0–9 . -"))
        destination = try r.required(2, "destination", CountryCode.parse)
        endUser = try r.required(3, "end-user", Field.text(256))
        reason = try r.required(4, "reason", Field.code(DenialReason.self))
        denialDate = try r.required(5, "denial-date", Field.date)
        nationalReference = try r.optional(6, "national-reference", Field.text(64))
        try r.finish()
    }

    var cbor: CBOR {
        var map: CBORMap = [1: .textString(itemCategory), 2: .textString(destination.rawValue), 3: .textString(endUser),
                            4: .unsignedInteger(reason.rawValue), 5: denialDate.cbor]
        if let nationalReference { map[6] = .textString(nationalReference) }
        return .map(map)
    }

    func validateFields(path: String) throws {
        _ = try Field.text(32, allowed: Self.isCategoryCharacter, describing: "A–Z a–z 0–9 . -")(.textString(itemCategory), path + ".item-category")
        try Field.checkText(endUser, maximum: 256, field: path + ".end-user")
        if let nationalReference { try Field.checkText(nationalReference, maximum: 64, field: path + ".national-reference") }
    }
}

/// Export-denial withdrawal (type 7): a denial notified earlier no longer applies.
public struct ExportDenialWithdrawal: Sendable, Hashable {
    public var withdrawalDate: CalendarDate

    public init(withdrawalDate: CalendarDate) { self.withdrawalDate = withdrawalDate }

    init(cbor item: CBOR, path: String) throws {
        var r = try FieldReader(item, path: path)
        withdrawalDate = try r.required(1, "withdrawal-date", Field.date)
        try r.finish()
    }

    var cbor: CBOR { .map([1: withdrawalDate.cbor]) }
}

/// Treaty event notice (type 8): an elimination, movement, inspection or exhibition of treaty items.
public struct TreatyEvent: Sendable, Hashable {
    public var kind: TreatyEventKind
    public var itemType: String
    public var quantity: UInt32
    public var location: Position
    public var eventTime: UTCTime
    public var locationName: String?
    public var destination: Position?

    public init(kind: TreatyEventKind, itemType: String, quantity: UInt32, location: Position, eventTime: UTCTime,
                locationName: String? = nil, destination: Position? = nil) {
        self.kind = kind
        self.itemType = itemType
        self.quantity = quantity
        self.location = location
        self.eventTime = eventTime
        self.locationName = locationName
        self.destination = destination
    }

    init(cbor item: CBOR, path: String) throws {
        var r = try FieldReader(item, path: path)
        kind = try r.required(1, "kind", Field.code(TreatyEventKind.self))
        itemType = try r.required(2, "item-type", Field.text(64))
        quantity = UInt32(try r.required(3, "quantity", Field.uint(1...1_000_000, unit: "items")))
        location = try r.required(4, "location", Position.parse)
        eventTime = try r.required(5, "event-time", Field.time)
        locationName = try r.optional(6, "location-name", Field.text(128))
        destination = try r.optional(7, "destination", Position.parse)
        try r.finish()
    }

    var cbor: CBOR {
        var map: CBORMap = [1: .unsignedInteger(kind.rawValue), 2: .textString(itemType), 3: .unsignedInteger(UInt64(quantity)),
                            4: location.cbor, 5: eventTime.cbor]
        if let locationName { map[6] = .textString(locationName) }
        if let destination { map[7] = destination.cbor }
        return .map(map)
    }

    func validateFields(path: String) throws {
        try Field.checkText(itemType, maximum: 64, field: path + ".item-type")
        guard (1...1_000_000).contains(quantity) else {
            throw ProtocolError(.invalidField, field: path + ".quantity", "\(quantity) items is out of range 1…1 000 000")
        }
        if let locationName { try Field.checkText(locationName, maximum: 128, field: path + ".location-name") }
    }
}

/// General communication (type 11): free text between participants.
public struct GeneralCommunication: Sendable, Hashable {
    public var subject: String
    public var text: LocalizedText

    public init(subject: String, text: LocalizedText) {
        self.subject = subject
        self.text = text
    }

    init(cbor item: CBOR, path: String) throws {
        var r = try FieldReader(item, path: path)
        subject = try r.required(1, "subject", Field.text(256))
        text = try r.required(2, "text", LocalizedText.parser(maximumLength: 65_536))
        try r.finish()
    }

    var cbor: CBOR { .map([1: .textString(subject), 2: text.cbor]) }

    func validateFields(path: String) throws {
        try Field.checkText(subject, maximum: 256, field: path + ".subject")
        try Field.checkText(text.text, maximum: 65_536, field: path + ".text")
    }
}
