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

    init(from reader: inout CBORReader) throws {
        var r = try FieldReader(&reader)
        vehicleClass = try r.required(1, "class", &reader) { try Field.code(&$0, VehicleClass.self) }
        windowStart = try r.required(2, "window-start", &reader, Field.time)
        windowEnd = try r.required(3, "window-end", &reader, Field.time)
        launchArea = try r.required(4, "launch-area", &reader) { try Area(from: &$0) }
        impactAreas = try r.required(5, "impact-areas", &reader) { reader in
            let n = try Field.array(&reader, count: 1...16)
            return try Field.elements(&reader, count: n) { try Area(from: &$0) }
        }
        azimuthCentidegrees = UInt16(try r.required(6, "azimuth", &reader) { try Field.uint(&$0, 0...35_999, unit: "centidegrees") })
        late = try r.required(7, "late", &reader, Field.bool)
        designator = try r.optional(8, "designator", &reader) { try Field.text(&$0, 64) }
        try r.finish()
        try validateWindow()  // the readers above have checked every field's own range
    }

    func write(to w: inout CBORWriter) {
        w.writeMapHeader(designator == nil ? 7 : 8)
        w.writeUnsigned(1); w.write(code: vehicleClass)
        w.writeUnsigned(2); w.write(windowStart)
        w.writeUnsigned(3); w.write(windowEnd)
        w.writeUnsigned(4); launchArea.write(to: &w)
        w.writeUnsigned(5); w.writeArrayHeader(impactAreas.count)
        for area in impactAreas { area.write(to: &w) }
        w.writeUnsigned(6); w.writeUnsigned(UInt64(azimuthCentidegrees))
        w.writeUnsigned(7); w.writeBool(late)
        if let designator { w.writeUnsigned(8); w.writeTextString(designator) }
    }

    func validateFields() throws {
        try Field.named("launch-area") { try launchArea.validate() }
        guard (1...16).contains(impactAreas.count) else {
            throw ProtocolError(.invalidField, field: "impact-areas", "1…16 impact areas are required, found \(impactAreas.count)")
        }
        for (i, area) in impactAreas.enumerated() { try Field.named("impact-areas[\(i)]") { try area.validate() } }
        guard azimuthCentidegrees <= 35_999 else {
            throw ProtocolError(.invalidField, field: "azimuth", "\(azimuthCentidegrees) centidegrees is out of range 0…35 999")
        }
        try validateWindow()
        if let designator { try Field.named("designator") { try Field.checkText(designator, maximum: 64) } }
    }

    /// The rules between the window's two ends.
    func validateWindow() throws {
        guard windowStart < windowEnd else {
            throw ProtocolError(.invalidField, field: "window-end", "window end \(windowEnd) must be after window start \(windowStart)")
        }
        guard windowEnd.secondsSince1970 - windowStart.secondsSince1970 <= Self.maximumWindow else {
            throw ProtocolError(.invalidField, field: "window-end", "the window may stay open at most 30 days; \(windowStart) … \(windowEnd) is longer")
        }
    }

    func validateTiming(created: UTCTime) throws {
        guard windowEnd > created else {
            throw ProtocolError(.invalidField, field: "window-end", "window end \(windowEnd) must be after the notification's creation time \(created)")
        }
        let isLate = windowStart < created + Self.requiredNotice
        guard late == isLate else {
            throw ProtocolError(.invalidField, field: "late", isLate
                ? "the window opens less than 24 hours after creation (\(created)); the notification must be marked late"
                : "the window opens 24 hours or more after creation (\(created)); the notification must not be marked late")
        }
    }
}
