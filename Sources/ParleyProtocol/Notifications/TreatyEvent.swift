import ParleyCodec

/// Treaty event notice (type 8): an elimination, movement, inspection or exhibition of treaty items.
public struct TreatyEvent: Sendable, Hashable, NotificationFields {
    static let notificationType = NotificationType.treatyEvent
    static let placeholder = TreatyEvent(
        kind: .other,
        itemType: "",
        quantity: 0,
        location: .placeholder,
        eventTime: UTCTime(secondsSince1970: 0)
    )
    var body: NotificationBody { .treatyEvent(self) }

    public static let quantityRange: ClosedRange<UInt64> = 1...1_000_000

    public var kind: TreatyEventKind
    public var itemType: String
    public var quantity: UInt32
    public var location: Position
    public var eventTime: UTCTime
    public var locationName: String?
    public var destination: Position?

    public init(
        kind: TreatyEventKind,
        itemType: String,
        quantity: UInt32,
        location: Position,
        eventTime: UTCTime,
        locationName: String? = nil,
        destination: Position? = nil
    ) {
        self.kind = kind
        self.itemType = itemType
        self.quantity = quantity
        self.location = location
        self.eventTime = eventTime
        self.locationName = locationName
        self.destination = destination
    }

    /// The field table (NOTIFICATIONS.md §3.8).
    mutating func fields<V: FieldVisitor>(_ table: inout V) throws(V.Failure) where V.Body == Self {
        try table.required(1, "kind", &kind, .code(TreatyEventKind.self), label: "event")
        try table.required(2, "item-type", &itemType, .text(64))
        try table.required(3, "quantity", &quantity, .uint(Self.quantityRange, unit: "items"))
        try table.required(4, "location", &location, .position)
        try table.required(5, "event-time", &eventTime, .time)
        try table.optional(6, "location-name", &locationName, .text(128))
        try table.optional(7, "destination", &destination, .position)
    }
}
