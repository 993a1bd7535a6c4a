import ParleyCodec

/// Post-launch report (type 4): what was launched, when, from where, and how it went.
public struct PostLaunchReport: Sendable, Hashable, NotificationFields {
    static let notificationType = NotificationType.postLaunchReport
    static let placeholder = PostLaunchReport(
        vehicleClass: .ballisticMissile,
        launchTime: UTCTime(secondsSince1970: 0),
        launchArea: .polygon([]),
        outcome: .nominal
    )
    var body: NotificationBody { .postLaunchReport(self) }

    public var vehicleClass: VehicleClass
    public var launchTime: UTCTime
    public var launchArea: Area
    public var outcome: LaunchOutcome
    public var impactArea: Area?
    public var designator: String?

    public init(
        vehicleClass: VehicleClass,
        launchTime: UTCTime,
        launchArea: Area,
        outcome: LaunchOutcome,
        impactArea: Area? = nil,
        designator: String? = nil
    ) {
        self.vehicleClass = vehicleClass
        self.launchTime = launchTime
        self.launchArea = launchArea
        self.outcome = outcome
        self.impactArea = impactArea
        self.designator = designator
    }

    /// The field table (NOTIFICATIONS.md §3.4).
    mutating func fields<V: FieldVisitor>(_ table: inout V) throws(V.Failure) where V.Body == Self {
        try table.required(1, "class", &vehicleClass, .code(VehicleClass.self), label: "vehicle class")
        try table.required(2, "launch-time", &launchTime, .time)
        try table.required(3, "launch-area", &launchArea, .area)
        try table.required(4, "outcome", &outcome, .code(LaunchOutcome.self))
        try table.optional(5, "impact-area", &impactArea, .area)
        try table.optional(6, "designator", &designator, .text(64))
    }

    func validateTiming(created: UTCTime) throws {
        guard launchTime <= created else {
            throw ProtocolError(
                .invalidField,
                field: "launch-time",
                "launch time \(launchTime) is after the report's creation time \(created)"
            )
        }
    }
}
