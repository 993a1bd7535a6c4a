import ParleyCodec

/// Launch-window extension (type 2): the window of a pre-launch notification stays open longer.
public struct LaunchWindowExtension: Sendable, Hashable {
    public var newWindowEnd: UTCTime
    public var reason: ExtensionReason?

    public init(newWindowEnd: UTCTime, reason: ExtensionReason? = nil) {
        self.newWindowEnd = newWindowEnd
        self.reason = reason
    }

    init(cbor item: CBOR, path: String) throws {
        var r = try FieldReader(item, path: path)
        newWindowEnd = try r.required(1, "new-window-end", Field.time)
        reason = try r.optional(2, "reason", Field.code(ExtensionReason.self))
        try r.finish()
    }

    var cbor: CBOR {
        var map: CBORMap = [1: newWindowEnd.cbor]
        if let reason { map[2] = .unsignedInteger(reason.rawValue) }
        return .map(map)
    }

    func validateTiming(created: UTCTime, path: String) throws {
        guard newWindowEnd > created else {
            throw ProtocolError(.invalidField, field: path + ".new-window-end", "new window end \(newWindowEnd) must be after the creation time \(created)")
        }
    }
}

/// Launch cancellation (type 3): a notified launch will not take place.
public struct LaunchCancellation: Sendable, Hashable {
    public var reason: CancellationReason

    public init(reason: CancellationReason) { self.reason = reason }

    init(cbor item: CBOR, path: String) throws {
        var r = try FieldReader(item, path: path)
        reason = try r.required(1, "reason", Field.code(CancellationReason.self))
        try r.finish()
    }

    var cbor: CBOR { .map([1: .unsignedInteger(reason.rawValue)]) }
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

    init(cbor item: CBOR, path: String) throws {
        var r = try FieldReader(item, path: path)
        vehicleClass = try r.required(1, "class", Field.code(VehicleClass.self))
        launchTime = try r.required(2, "launch-time", Field.time)
        launchArea = try r.required(3, "launch-area", Area.parse)
        outcome = try r.required(4, "outcome", Field.code(LaunchOutcome.self))
        impactArea = try r.optional(5, "impact-area", Area.parse)
        designator = try r.optional(6, "designator", Field.text(64))
        try r.finish()
        try validateFields(path: path)
    }

    var cbor: CBOR {
        var map: CBORMap = [1: .unsignedInteger(vehicleClass.rawValue), 2: launchTime.cbor, 3: launchArea.cbor,
                            4: .unsignedInteger(outcome.rawValue)]
        if let impactArea { map[5] = impactArea.cbor }
        if let designator { map[6] = .textString(designator) }
        return .map(map)
    }

    func validateFields(path: String) throws {
        try launchArea.validate(field: path + ".launch-area")
        try impactArea?.validate(field: path + ".impact-area")
        if let designator { try Field.checkText(designator, maximum: 64, field: path + ".designator") }
    }

    func validateTiming(created: UTCTime, path: String) throws {
        guard launchTime <= created else {
            throw ProtocolError(.invalidField, field: path + ".launch-time", "launch time \(launchTime) is after the report's creation time \(created)")
        }
    }
}
