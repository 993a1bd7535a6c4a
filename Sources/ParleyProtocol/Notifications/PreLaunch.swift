import ParleyCodec

/// Pre-launch notification (type 1): a launch window, where the vehicle leaves and where it comes down.
public struct PreLaunch: Sendable, Hashable {
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

    public init(vehicleClass: VehicleClass, windowStart: UTCTime, windowEnd: UTCTime, launchArea: Area,
                impactAreas: [Area], azimuthCentidegrees: UInt16, late: Bool, designator: String? = nil) {
        self.vehicleClass = vehicleClass
        self.windowStart = windowStart
        self.windowEnd = windowEnd
        self.launchArea = launchArea
        self.impactAreas = impactAreas
        self.azimuthCentidegrees = azimuthCentidegrees
        self.late = late
        self.designator = designator
    }

    init(cbor item: CBOR, path: String) throws {
        var r = try FieldReader(item, path: path)
        vehicleClass = try r.required(1, "class", Field.code(VehicleClass.self))
        windowStart = try r.required(2, "window-start", Field.time)
        windowEnd = try r.required(3, "window-end", Field.time)
        launchArea = try r.required(4, "launch-area", Area.parse)
        impactAreas = try r.required(5, "impact-areas") { item, field in
            try Field.array(item, field, count: 1...16).enumerated().map { try Area.parse($1, "\(field)[\($0)]") }
        }
        azimuthCentidegrees = UInt16(try r.required(6, "azimuth", Field.uint(0...35_999, unit: "centidegrees")))
        late = try r.required(7, "late", Field.bool)
        designator = try r.optional(8, "designator", Field.text(64))
        try r.finish()
        try validateFields(path: path)
    }

    var cbor: CBOR {
        var map: CBORMap = [
            1: .unsignedInteger(vehicleClass.rawValue), 2: windowStart.cbor, 3: windowEnd.cbor, 4: launchArea.cbor,
            5: .array(impactAreas.map(\.cbor)), 6: .unsignedInteger(UInt64(azimuthCentidegrees)), 7: .boolean(late),
        ]
        if let designator { map[8] = .textString(designator) }
        return .map(map)
    }

    func validateFields(path: String) throws {
        let field = { (name: String) in path.isEmpty ? name : "\(path).\(name)" }
        try launchArea.validate(field: field("launch-area"))
        guard (1...16).contains(impactAreas.count) else {
            throw ProtocolError(.invalidField, field: field("impact-areas"), "1…16 impact areas are required, found \(impactAreas.count)")
        }
        for (i, area) in impactAreas.enumerated() { try area.validate(field: field("impact-areas[\(i)]")) }
        guard azimuthCentidegrees <= 35_999 else {
            throw ProtocolError(.invalidField, field: field("azimuth"), "\(azimuthCentidegrees) centidegrees is out of range 0…35 999")
        }
        guard windowStart < windowEnd else {
            throw ProtocolError(.invalidField, field: field("window-end"), "window end \(windowEnd) must be after window start \(windowStart)")
        }
        guard windowEnd.secondsSince1970 - windowStart.secondsSince1970 <= Self.maximumWindow else {
            throw ProtocolError(.invalidField, field: field("window-end"), "the window may stay open at most 30 days; \(windowStart) … \(windowEnd) is longer")
        }
        if let designator { try Field.checkText(designator, maximum: 64, field: field("designator")) }
    }

    func validateTiming(created: UTCTime, path: String) throws {
        guard windowEnd > created else {
            throw ProtocolError(.invalidField, field: path + ".window-end", "window end \(windowEnd) must be after the notification's creation time \(created)")
        }
        let isLate = windowStart < created + Self.requiredNotice
        guard late == isLate else {
            throw ProtocolError(.invalidField, field: path + ".late", isLate
                ? "the window opens less than 24 hours after creation (\(created)); the notification must be marked late"
                : "the window opens 24 hours or more after creation (\(created)); the notification must not be marked late")
        }
    }
}
