import ParleyCodec

/// The body of a notification: one case per type of the catalogue (Protocol/NOTIFICATIONS.md).
public enum NotificationBody: Sendable, Hashable {
    case preLaunch(PreLaunch)
    case launchWindowExtension(LaunchWindowExtension)
    case launchCancellation(LaunchCancellation)
    case postLaunchReport(PostLaunchReport)
    case annualDeclaration(AnnualDeclaration)
    case exportDenial(ExportDenial)
    case exportDenialWithdrawal(ExportDenialWithdrawal)
    case treatyEvent(TreatyEvent)
    case acknowledgement
    /// A corrected version of an earlier notification's body, of any type but acknowledgement and correction.
    indirect case correction(NotificationBody)
    case generalCommunication(GeneralCommunication)

    /// The types whose body is a map of fields, each described by its field table.
    static var fieldTypes: [any NotificationFields.Type] { NotificationType.allCases.compactMap(fieldType(of:)) }

    /// The Swift type of the body of `type`, if its body is a map of fields.
    static func fieldType(of type: NotificationType) -> (any NotificationFields.Type)? {
        switch type {
        case .preLaunch: return PreLaunch.self
        case .launchWindowExtension: return LaunchWindowExtension.self
        case .launchCancellation: return LaunchCancellation.self
        case .postLaunchReport: return PostLaunchReport.self
        case .annualDeclaration: return AnnualDeclaration.self
        case .exportDenial: return ExportDenial.self
        case .exportDenialWithdrawal: return ExportDenialWithdrawal.self
        case .treatyEvent: return TreatyEvent.self
        case .generalCommunication: return GeneralCommunication.self
        case .acknowledgement, .correction: return nil
        }
    }

    /// The fields of a correction's body (key 1 selects the type of the body at key 2).
    static let correctionFieldNames = ["corrected-type", "corrected-body"]

    /// The body's fields, when it is a map of fields (not an acknowledgement or a correction).
    var fields: (any NotificationFields)? {
        switch self {
        case .preLaunch(let b): return b
        case .launchWindowExtension(let b): return b
        case .launchCancellation(let b): return b
        case .postLaunchReport(let b): return b
        case .annualDeclaration(let b): return b
        case .exportDenial(let b): return b
        case .exportDenialWithdrawal(let b): return b
        case .treatyEvent(let b): return b
        case .generalCommunication(let b): return b
        case .acknowledgement, .correction: return nil
        }
    }

    public var type: NotificationType {
        switch self {
        case .preLaunch: return .preLaunch
        case .launchWindowExtension: return .launchWindowExtension
        case .launchCancellation: return .launchCancellation
        case .postLaunchReport: return .postLaunchReport
        case .annualDeclaration: return .annualDeclaration
        case .exportDenial: return .exportDenial
        case .exportDenialWithdrawal: return .exportDenialWithdrawal
        case .treatyEvent: return .treatyEvent
        case .acknowledgement: return .acknowledgement
        case .correction: return .correction
        case .generalCommunication: return .generalCommunication
        }
    }

    // The codec switches over the cases rather than going through `fields`: a body in an
    // existential box would cost an allocation per message.
    func write(to w: inout CBORWriter) {
        switch self {
        case .preLaunch(let b): b.write(to: &w)
        case .launchWindowExtension(let b): b.write(to: &w)
        case .launchCancellation(let b): b.write(to: &w)
        case .postLaunchReport(let b): b.write(to: &w)
        case .annualDeclaration(let b): b.write(to: &w)
        case .exportDenial(let b): b.write(to: &w)
        case .exportDenialWithdrawal(let b): b.write(to: &w)
        case .treatyEvent(let b): b.write(to: &w)
        case .acknowledgement: w.writeMapHeader(0)
        case .correction(let corrected):
            w.writeMapHeader(2)
            w.writeUnsigned(1)
            w.write(code: corrected.type)
            w.writeUnsigned(2)
            corrected.write(to: &w)
        case .generalCommunication(let b): b.write(to: &w)
        }
    }

    /// The body's deterministic encoding (envelope key 8).
    public var encoded: [UInt8] {
        var w = CBORWriter()
        write(to: &w)
        return w.bytes
    }

    /// Reads and checks the body of a notification of `type`.
    init(type: NotificationType, from reader: inout CBORReader) throws {
        switch type {
        case .preLaunch: self = .preLaunch(try PreLaunch(from: &reader))
        case .launchWindowExtension: self = .launchWindowExtension(try LaunchWindowExtension(from: &reader))
        case .launchCancellation: self = .launchCancellation(try LaunchCancellation(from: &reader))
        case .postLaunchReport: self = .postLaunchReport(try PostLaunchReport(from: &reader))
        case .annualDeclaration: self = .annualDeclaration(try AnnualDeclaration(from: &reader))
        case .exportDenial: self = .exportDenial(try ExportDenial(from: &reader))
        case .exportDenialWithdrawal: self = .exportDenialWithdrawal(try ExportDenialWithdrawal(from: &reader))
        case .treatyEvent: self = .treatyEvent(try TreatyEvent(from: &reader))
        case .generalCommunication: self = .generalCommunication(try GeneralCommunication(from: &reader))
        case .correction:
            var r = try FieldReader(&reader)
            let correctedType = try r.required(1, "corrected-type", &reader) {
                try Field.code(&$0, NotificationType.self)
            }
            guard correctedType != .acknowledgement && correctedType != .correction else {
                throw ProtocolError(
                    .invalidField,
                    field: "corrected-type",
                    "an \(correctedType) cannot be corrected; send a new one instead"
                )
            }
            let corrected = try r.required(2, "corrected-body", &reader) {
                try NotificationBody(type: correctedType, from: &$0)
            }
            try r.finish()
            self = .correction(corrected)
        case .acknowledgement:
            try FieldReader(&reader).finish()
            self = .acknowledgement
        }
    }

    /// Checks ranges and the rules between fields of the body itself (not those relative to the
    /// creation time, which a correction does not re-apply). Error fields are relative to the body.
    public func validateFields() throws {
        switch self {
        case .correction(let corrected):
            guard corrected.type != .acknowledgement && corrected.type != .correction else {
                throw ProtocolError(.invalidField, field: "corrected-type", "an \(corrected.type) cannot be corrected")
            }
            try Field.named("corrected-body") { try corrected.validateFields() }
        default:
            try fields?.validateFields()
        }
    }

    /// Rules relative to the notification's creation time.
    func validateTiming(created: UTCTime) throws {
        switch self {
        case .preLaunch(let b): try b.validateTiming(created: created)
        case .launchWindowExtension(let b): try b.validateTiming(created: created)
        case .launchCancellation(let b): try b.validateTiming(created: created)
        case .postLaunchReport(let b): try b.validateTiming(created: created)
        case .annualDeclaration(let b): try b.validateTiming(created: created)
        case .exportDenial(let b): try b.validateTiming(created: created)
        case .exportDenialWithdrawal(let b): try b.validateTiming(created: created)
        case .treatyEvent(let b): try b.validateTiming(created: created)
        case .generalCommunication(let b): try b.validateTiming(created: created)
        case .acknowledgement, .correction: break
        }
    }

    /// The relation this type requires exactly one reference with, if any.
    var requiredRelation: Relation? {
        switch self {
        case .launchWindowExtension: return .extends
        case .launchCancellation, .exportDenialWithdrawal: return .cancels
        case .acknowledgement: return .acknowledges
        case .correction: return .corrects
        default: return nil
        }
    }
}
