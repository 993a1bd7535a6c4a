import ParleyCodec

/// Launch cancellation (type 3): a notified launch will not take place.
public struct LaunchCancellation: Sendable, Hashable, NotificationFields {
    static let notificationType = NotificationType.launchCancellation
    static let placeholder = LaunchCancellation(reason: .other)
    var body: NotificationBody { .launchCancellation(self) }

    public var reason: CancellationReason

    public init(reason: CancellationReason) { self.reason = reason }

    /// The field table (NOTIFICATIONS.md §3.3).
    mutating func fields<V: FieldVisitor>(_ table: inout V) throws(V.Failure) where V.Body == Self {
        try table.required(1, "reason", &reason, .code(CancellationReason.self))
    }
}
