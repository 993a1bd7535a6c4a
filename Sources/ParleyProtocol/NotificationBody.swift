import ParleyCodec

/// The body of a notification: one case per type of the catalogue (Protocol/NOTIFICATIONS.md).
public indirect enum NotificationBody: Sendable, Hashable {
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
    case correction(NotificationBody)
    case generalCommunication(GeneralCommunication)

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

    /// The body as it goes on the wire (envelope key 8).
    public var cbor: CBOR {
        switch self {
        case .preLaunch(let b): return b.cbor
        case .launchWindowExtension(let b): return b.cbor
        case .launchCancellation(let b): return b.cbor
        case .postLaunchReport(let b): return b.cbor
        case .annualDeclaration(let b): return b.cbor
        case .exportDenial(let b): return b.cbor
        case .exportDenialWithdrawal(let b): return b.cbor
        case .treatyEvent(let b): return b.cbor
        case .acknowledgement: return .map([:])
        case .correction(let corrected): return .map([1: .unsignedInteger(corrected.type.rawValue), 2: corrected.cbor])
        case .generalCommunication(let b): return b.cbor
        }
    }

    /// Decodes and checks the body of a notification of `type`.
    public init(type: NotificationType, cbor item: CBOR, path: String = "body") throws {
        switch type {
        case .preLaunch: self = .preLaunch(try PreLaunch(cbor: item, path: path))
        case .launchWindowExtension: self = .launchWindowExtension(try LaunchWindowExtension(cbor: item, path: path))
        case .launchCancellation: self = .launchCancellation(try LaunchCancellation(cbor: item, path: path))
        case .postLaunchReport: self = .postLaunchReport(try PostLaunchReport(cbor: item, path: path))
        case .annualDeclaration: self = .annualDeclaration(try AnnualDeclaration(cbor: item, path: path))
        case .exportDenial: self = .exportDenial(try ExportDenial(cbor: item, path: path))
        case .exportDenialWithdrawal: self = .exportDenialWithdrawal(try ExportDenialWithdrawal(cbor: item, path: path))
        case .treatyEvent: self = .treatyEvent(try TreatyEvent(cbor: item, path: path))
        case .acknowledgement:
            try FieldReader(item, path: path).finish()
            self = .acknowledgement
        case .correction:
            var r = try FieldReader(item, path: path)
            let correctedType = try r.required(1, "corrected-type", Field.code(NotificationType.self))
            guard correctedType != .acknowledgement && correctedType != .correction else {
                throw ProtocolError(.invalidField, field: path + ".corrected-type", "an \(correctedType) cannot be corrected; send a new one instead")
            }
            let corrected = try r.required(2, "corrected-body") { try NotificationBody(type: correctedType, cbor: $0, path: $1) }
            try r.finish()
            self = .correction(corrected)
        case .generalCommunication: self = .generalCommunication(try GeneralCommunication(cbor: item, path: path))
        }
    }

    /// Checks ranges and the rules between fields of the body itself (not those relative to the
    /// creation time, which a correction does not re-apply).
    public func validateFields(path: String = "body") throws {
        switch self {
        case .preLaunch(let b): try b.validateFields(path: path)
        case .postLaunchReport(let b): try b.validateFields(path: path)
        case .annualDeclaration(let b): try b.validateFields(path: path)
        case .exportDenial(let b): try b.validateFields(path: path)
        case .treatyEvent(let b): try b.validateFields(path: path)
        case .generalCommunication(let b): try b.validateFields(path: path)
        case .correction(let corrected):
            guard corrected.type != .acknowledgement && corrected.type != .correction else {
                throw ProtocolError(.invalidField, field: path + ".corrected-type", "an \(corrected.type) cannot be corrected")
            }
            try corrected.validateFields(path: path + ".corrected-body")
        case .launchWindowExtension, .launchCancellation, .exportDenialWithdrawal, .acknowledgement:
            break
        }
    }

    /// Rules relative to the notification's creation time.
    func validateTiming(created: UTCTime, path: String = "body") throws {
        switch self {
        case .preLaunch(let b): try b.validateTiming(created: created, path: path)
        case .launchWindowExtension(let b): try b.validateTiming(created: created, path: path)
        case .postLaunchReport(let b): try b.validateTiming(created: created, path: path)
        default: break
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
