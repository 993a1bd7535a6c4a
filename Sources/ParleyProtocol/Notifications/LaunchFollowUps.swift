import ParleyCodec

/// Launch-window extension (type 2): the window of a pre-launch notification stays open longer.
public struct LaunchWindowExtension: Sendable, Hashable {
    public var newWindowEnd: UTCTime
    public var reason: ExtensionReason?

    public init(newWindowEnd: UTCTime, reason: ExtensionReason? = nil) {
        self.newWindowEnd = newWindowEnd
        self.reason = reason
    }

    init(from reader: inout CBORReader) throws {
        var r = try FieldReader(&reader)
        newWindowEnd = try r.required(1, "new-window-end", &reader, Field.time)
        reason = try r.optional(2, "reason", &reader) { try Field.code(&$0, ExtensionReason.self) }
        try r.finish()
    }

    func write(to w: inout CBORWriter) {
        w.writeMapHeader(reason == nil ? 1 : 2)
        w.writeUnsigned(1); w.write(newWindowEnd)
        if let reason { w.writeUnsigned(2); w.write(code: reason) }
    }

    func validateTiming(created: UTCTime) throws {
        guard newWindowEnd > created else {
            throw ProtocolError(.invalidField, field: "new-window-end", "new window end \(newWindowEnd) must be after the creation time \(created)")
        }
    }
}

/// Launch cancellation (type 3): a notified launch will not take place.
public struct LaunchCancellation: Sendable, Hashable {
    public var reason: CancellationReason

    public init(reason: CancellationReason) { self.reason = reason }

    init(from reader: inout CBORReader) throws {
        var r = try FieldReader(&reader)
        reason = try r.required(1, "reason", &reader) { try Field.code(&$0, CancellationReason.self) }
        try r.finish()
    }

    func write(to w: inout CBORWriter) {
        w.writeMapHeader(1)
        w.writeUnsigned(1); w.write(code: reason)
    }
}

/// Post-launch report (type 4): what was launched, when, from where, and how it went.
public struct PostLaunchReport: Sendable, Hashable {
    public var vehicleClass: VehicleClass
    public var launchTime: UTCTime
    public var launchArea: Area
    public var outcome: LaunchOutcome
    public var impactArea: Area?
    public var designator: String?

    public init(vehicleClass: VehicleClass, launchTime: UTCTime, launchArea: Area, outcome: LaunchOutcome,
                impactArea: Area? = nil, designator: String? = nil) {
        self.vehicleClass = vehicleClass
        self.launchTime = launchTime
        self.launchArea = launchArea
        self.outcome = outcome
        self.impactArea = impactArea
        self.designator = designator
    }

    init(from reader: inout CBORReader) throws {
        var r = try FieldReader(&reader)
        vehicleClass = try r.required(1, "class", &reader) { try Field.code(&$0, VehicleClass.self) }
        launchTime = try r.required(2, "launch-time", &reader, Field.time)
        launchArea = try r.required(3, "launch-area", &reader) { try Area(from: &$0) }
        outcome = try r.required(4, "outcome", &reader) { try Field.code(&$0, LaunchOutcome.self) }
        impactArea = try r.optional(5, "impact-area", &reader) { try Area(from: &$0) }
        designator = try r.optional(6, "designator", &reader) { try Field.text(&$0, 64) }
        try r.finish()
        try validateFields()
    }

    func write(to w: inout CBORWriter) {
        w.writeMapHeader(4 + (impactArea == nil ? 0 : 1) + (designator == nil ? 0 : 1))
        w.writeUnsigned(1); w.write(code: vehicleClass)
        w.writeUnsigned(2); w.write(launchTime)
        w.writeUnsigned(3); launchArea.write(to: &w)
        w.writeUnsigned(4); w.write(code: outcome)
        if let impactArea { w.writeUnsigned(5); impactArea.write(to: &w) }
        if let designator { w.writeUnsigned(6); w.writeTextString(designator) }
    }

    func validateFields() throws {
        try Field.named("launch-area") { try launchArea.validate() }
        try Field.named("impact-area") { try impactArea?.validate() }
        if let designator { try Field.named("designator") { try Field.checkText(designator, maximum: 64) } }
    }

    func validateTiming(created: UTCTime) throws {
        guard launchTime <= created else {
            throw ProtocolError(.invalidField, field: "launch-time", "launch time \(launchTime) is after the report's creation time \(created)")
        }
    }
}
