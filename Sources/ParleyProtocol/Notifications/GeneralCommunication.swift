import ParleyCodec

/// General communication (type 11): free text between participants.
public struct GeneralCommunication: Sendable, Hashable, NotificationFields {
    static let notificationType = NotificationType.generalCommunication
    static let placeholder = GeneralCommunication(subject: "", text: .placeholder)
    var body: NotificationBody { .generalCommunication(self) }

    public var subject: String
    public var text: LocalizedText

    public init(subject: String, text: LocalizedText) {
        self.subject = subject
        self.text = text
    }

    /// The field table (NOTIFICATIONS.md §3.11).
    mutating func fields<V: FieldVisitor>(_ table: inout V) throws(V.Failure) where V.Body == Self {
        try table.required(1, "subject", &subject, .text(256))
        try table.required(2, "text", &text, .localizedText(65_536))
    }
}
