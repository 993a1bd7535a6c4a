import Foundation
import ParleyProtocol

/// A notification to send, before the daemon assigns its id, sequence numbers and creation time.
public struct Draft: Sendable, Hashable {
    public var recipients: [ParticipantID]
    public var body: NotificationBody
    public var references: [Reference]
    public var remarks: LocalizedText?

    public init(
        recipients: [ParticipantID],
        body: NotificationBody,
        references: [Reference] = [],
        remarks: LocalizedText? = nil
    ) {
        self.recipients = recipients
        self.body = body
        self.references = references
        self.remarks = remarks
    }
}
