/// A code of one of SPEC.md's registries, with the name used in text, JSON and YAML.
public protocol WireCode: RawRepresentable, CaseIterable, Sendable, Hashable, CustomStringConvertible
where RawValue == UInt64 {
    var name: String { get }
}

extension WireCode {
    public var description: String { name }

    /// The case with this name (e.g. `"ballistic-missile"`), or nil.
    public init?(name: String) {
        guard let match = Self.allCases.first(where: { $0.name == name }) else { return nil }
        self = match
    }
}

/// Reference relations (SPEC.md: envelope key 7).
public enum Relation: UInt64, WireCode {
    case corrects = 1
    case cancels, extends, respondsTo, acknowledges
    public var name: String { ["corrects", "cancels", "extends", "responds-to", "acknowledges"][Int(rawValue) - 1] }
}

public enum VehicleClass: UInt64, WireCode {
    case ballisticMissile = 1
    case spaceLaunchVehicle
    public var name: String { ["ballistic-missile", "space-launch-vehicle"][Int(rawValue) - 1] }
}

public enum ExtensionReason: UInt64, WireCode {
    case weather = 1
    case technical, rangeSafety, other
    public var name: String { ["weather", "technical", "range-safety", "other"][Int(rawValue) - 1] }
}

public enum CancellationReason: UInt64, WireCode {
    case weather = 1
    case technical, programmatic, other
    public var name: String { ["weather", "technical", "programmatic", "other"][Int(rawValue) - 1] }
}

public enum LaunchOutcome: UInt64, WireCode {
    case nominal = 1
    case failure, partial
    public var name: String { ["nominal", "failure", "partial"][Int(rawValue) - 1] }
}

public enum DenialReason: UInt64, WireCode {
    case proliferationConcern = 1
    case diversionRisk, endUse, endUser, other
    public var name: String {
        ["proliferation-concern", "diversion-risk", "end-use", "end-user", "other"][Int(rawValue) - 1]
    }
}

public enum TreatyEventKind: UInt64, WireCode {
    case elimination = 1
    case movement, inspection, exhibition, other
    public var name: String { ["elimination", "movement", "inspection", "exhibition", "other"][Int(rawValue) - 1] }
}

/// Notification types (SPEC.md: envelope key 6; NOTIFICATIONS.md).
public enum NotificationType: UInt64, WireCode {
    case preLaunch = 1
    case launchWindowExtension, launchCancellation, postLaunchReport, annualDeclaration,
        exportDenial, exportDenialWithdrawal, treatyEvent, acknowledgement, correction, generalCommunication

    public var name: String {
        [
            "pre-launch", "launch-window-extension", "launch-cancellation", "post-launch-report", "annual-declaration",
            "export-denial", "export-denial-withdrawal", "treaty-event", "acknowledgement", "correction",
            "general-communication",
        ][Int(rawValue) - 1]
    }
}

/// Receipt status (SPEC.md: receipt key 7).
public enum ReceiptStatusCode: UInt64, WireCode {
    case accepted = 0
    case duplicate, rejected
    public var name: String { ["accepted", "duplicate", "rejected"][Int(rawValue)] }
}

/// Rejection codes (SPEC.md: the rejection registry).
public enum RejectionCode: UInt64, WireCode {
    case malformed = 1
    case unsupportedVersion, badSignature, untrustedCertificate, certificateRevoked,
        certificateNotValidAtTime, participantMismatch, notARecipient, replay, equivocation, invalidBody,
        clockSkew, tooLarge, unknownType, unsupportedAlgorithm

    public var name: String {
        [
            "malformed", "unsupported-version", "bad-signature", "untrusted-certificate", "certificate-revoked",
            "certificate-not-valid-at-time", "participant-mismatch", "not-a-recipient", "replay", "equivocation",
            "invalid-body", "clock-skew", "too-large", "unknown-type", "unsupported-algorithm",
        ][Int(rawValue) - 1]
    }
}
