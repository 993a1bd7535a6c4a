import ParleyCodec

/// Pre-launch notification (type 1): a launch window, where the vehicle leaves and where it comes down.
public struct PreLaunch: Sendable, Hashable, NotificationFields {
    static let notificationType = NotificationType.preLaunch
    static let placeholder = PreLaunch(
        vehicleClass: .ballisticMissile,
        windowStart: UTCTime(secondsSince1970: 0),
        windowEnd: UTCTime(secondsSince1970: 0),
        launchArea: .polygon([]),
        impactAreas: [],
        azimuthCentidegrees: 0,
        late: false
    )
    var body: NotificationBody { .preLaunch(self) }

    /// Most time a window may stay open.
    public static let maximumWindow: Int64 = 30 * 86_400
    /// Notice a launch must be given; less makes the notification late.
    public static let requiredNotice: Int64 = 24 * 3600

    public var vehicleClass: VehicleClass
    public var windowStart: UTCTime
    public var windowEnd: UTCTime
    public var launchArea: Area
    public var impactAreas: [Area]
    /// Planned azimuth in hundredths of a degree clockwise from true north, 0…35 999.
    public var azimuthCentidegrees: UInt16
    public var late: Bool
    public var designator: String?

    public init(
        vehicleClass: VehicleClass,
        windowStart: UTCTime,
        windowEnd: UTCTime,
        launchArea: Area,
        impactAreas: [Area],
        azimuthCentidegrees: UInt16,
        late: Bool,
        designator: String? = nil
    ) {
        self.vehicleClass = vehicleClass
        self.windowStart = windowStart
        self.windowEnd = windowEnd
        self.launchArea = launchArea
        self.impactAreas = impactAreas
        self.azimuthCentidegrees = azimuthCentidegrees
        self.late = late
        self.designator = designator
    }

    /// The field table (NOTIFICATIONS.md §3.1).
    mutating func fields<V: FieldVisitor>(_ table: inout V) throws(V.Failure) where V.Body == Self {
        try table.required(1, "class", &vehicleClass, .code(VehicleClass.self), label: "vehicle class")
        try table.required(2, "window-start", &windowStart, .time, label: .lines(Self.windowLines))
        try table.required(3, "window-end", &windowEnd, .time, label: .hidden)
        try table.required(4, "launch-area", &launchArea, .area)
        try table.required(5, "impact-areas", &impactAreas, .areas(1...16), label: "impact area")
        try table.required(6, "azimuth", &azimuthCentidegrees, .azimuth)
        try table.required(7, "late", &late, .bool, label: .hidden, presence: .computed)
        try table.optional(8, "designator", &designator, .text(64))
    }

    /// Window start, end and the late flag, shown as one line.
    static func windowLines(_ b: PreLaunch) -> [(String, String)] {
        [("launch window", "\(b.windowStart) – \(b.windowEnd)\(b.late ? " (LATE: less than 24 hours' notice)" : "")")]
    }

    func validateRules() throws { try validateWindow() }

    /// The rules between the window's two ends.
    func validateWindow() throws {
        guard windowStart < windowEnd else {
            throw ProtocolError(
                .invalidField,
                field: "window-end",
                "window end \(windowEnd) must be after window start \(windowStart)"
            )
        }
        guard windowEnd.secondsSince1970 - windowStart.secondsSince1970 <= Self.maximumWindow else {
            throw ProtocolError(
                .invalidField,
                field: "window-end",
                "the window may stay open at most 30 days; \(windowStart) … \(windowEnd) is longer"
            )
        }
    }

    /// `late` follows from the window and the creation time: a composition may leave it out. In
    /// a corrected body it is required instead, because a correction does not recompute it.
    mutating func complete(given: Set<String>, path: String, created: UTCTime, inCorrection: Bool) throws {
        let lateField = JSONFields.join(path, "late")
        if inCorrection {
            guard given.contains("late") else {
                throw ProtocolError(
                    .missingField,
                    field: lateField,
                    "required in a corrected body (true or false): it is not recomputed"
                )
            }
            return
        }
        let computed = windowStart < created + Self.requiredNotice
        if !given.contains("late") { late = computed }
        guard late == computed else {
            throw ProtocolError(
                .invalidField,
                field: lateField,
                "must be \(computed) for a window starting \(windowStart) in a notification created \(created) (late means less than 24 h notice); omit it to have it computed"
            )
        }
    }

    func validateTiming(created: UTCTime) throws {
        guard windowEnd > created else {
            throw ProtocolError(
                .invalidField,
                field: "window-end",
                "window end \(windowEnd) must be after the notification's creation time \(created)"
            )
        }
        let isLate = windowStart < created + Self.requiredNotice
        guard late == isLate else {
            throw ProtocolError(
                .invalidField,
                field: "late",
                isLate
                    ? "the window opens less than 24 hours after creation (\(created)); the notification must be marked late"
                    : "the window opens 24 hours or more after creation (\(created)); the notification must not be marked late"
            )
        }
    }
}
