import ParleyCodec

/// Export-denial withdrawal (type 7): a denial notified earlier no longer applies.
public struct ExportDenialWithdrawal: Sendable, Hashable, NotificationFields {
    static let notificationType = NotificationType.exportDenialWithdrawal
    static let placeholder = ExportDenialWithdrawal(withdrawalDate: CalendarDate(daysSince1970: 0))
    var body: NotificationBody { .exportDenialWithdrawal(self) }

    public var withdrawalDate: CalendarDate

    public init(withdrawalDate: CalendarDate) { self.withdrawalDate = withdrawalDate }

    /// The field table (NOTIFICATIONS.md §3.7).
    mutating func fields<V: FieldVisitor>(_ table: inout V) throws(V.Failure) where V.Body == Self {
        try table.required(1, "withdrawal-date", &withdrawalDate, .date)
    }
}
