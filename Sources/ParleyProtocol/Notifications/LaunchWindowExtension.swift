import ParleyCodec

/// Launch-window extension (type 2): the window of a pre-launch notification stays open longer.
public struct LaunchWindowExtension: Sendable, Hashable, NotificationFields {
    static let notificationType = NotificationType.launchWindowExtension
    static let placeholder = LaunchWindowExtension(newWindowEnd: UTCTime(secondsSince1970: 0))
    var body: NotificationBody { .launchWindowExtension(self) }

    public var newWindowEnd: UTCTime
    public var reason: ExtensionReason?

    public init(newWindowEnd: UTCTime, reason: ExtensionReason? = nil) {
        self.newWindowEnd = newWindowEnd
        self.reason = reason
    }

    /// The field table (NOTIFICATIONS.md §3.2).
    mutating func fields<V: FieldVisitor>(_ table: inout V) throws(V.Failure) where V.Body == Self {
        try table.required(1, "new-window-end", &newWindowEnd, .time)
        try table.optional(2, "reason", &reason, .code(ExtensionReason.self))
    }

    func validateTiming(created: UTCTime) throws {
        guard newWindowEnd > created else {
            throw ProtocolError(
                .invalidField,
                field: "new-window-end",
                "new window end \(newWindowEnd) must be after the creation time \(created)"
            )
        }
    }
}
