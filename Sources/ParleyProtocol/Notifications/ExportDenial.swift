import ParleyCodec

/// Export-denial notice (type 6): a licence for a controlled item was denied.
public struct ExportDenial: Sendable, Hashable, NotificationFields {
    static let notificationType = NotificationType.exportDenial
    static let placeholder = ExportDenial(
        itemCategory: "",
        destination: .placeholder,
        endUser: "",
        reason: .other,
        denialDate: CalendarDate(daysSince1970: 0)
    )
    var body: NotificationBody { .exportDenial(self) }

    public var itemCategory: String
    public var destination: CountryCode
    public var endUser: String
    public var reason: DenialReason
    public var denialDate: CalendarDate
    public var nationalReference: String?

    public init(
        itemCategory: String,
        destination: CountryCode,
        endUser: String,
        reason: DenialReason,
        denialDate: CalendarDate,
        nationalReference: String? = nil
    ) {
        self.itemCategory = itemCategory
        self.destination = destination
        self.endUser = endUser
        self.reason = reason
        self.denialDate = denialDate
        self.nationalReference = nationalReference
    }

    /// The field table (NOTIFICATIONS.md §3.6).
    mutating func fields<V: FieldVisitor>(_ table: inout V) throws(V.Failure) where V.Body == Self {
        try table.required(
            1,
            "item-category",
            &itemCategory,
            .text(32, allowed: Self.isCategoryCharacter, describing: "A–Z a–z 0–9 . -", pattern: "[A-Za-z0-9.-]")
        )
        try table.required(2, "destination", &destination, .country)
        try table.required(3, "end-user", &endUser, .text(256))
        try table.required(4, "reason", &reason, .code(DenialReason.self))
        try table.required(5, "denial-date", &denialDate, .date)
        try table.optional(6, "national-reference", &nationalReference, .text(64))
    }

    @Sendable static func isCategoryCharacter(_ c: UInt8) -> Bool {
        (0x41...0x5A).contains(c) || (0x61...0x7A).contains(c) || (0x30...0x39).contains(c) || c == 0x2E || c == 0x2D
    }
}
