import Foundation
import ParleyCodec
import ParleyProtocol

/// A notification to send, before the daemon assigns its id, sequence numbers and creation time.
public struct Draft: Sendable, Hashable {
    public var recipients: [ParticipantID]
    public var body: NotificationBody
    public var references: [Reference]
    public var remarks: LocalizedText?

    public init(recipients: [ParticipantID], body: NotificationBody, references: [Reference] = [], remarks: LocalizedText? = nil) {
        self.recipients = recipients
        self.body = body
        self.references = references
        self.remarks = remarks
    }

    /// The admin API's JSON draft:
    /// `{"type": "pre-launch", "recipients": ["RU-NRRC"], "body": "<base64 of the body's CBOR map>",
    ///   "references": [{"id": "<32 hex>", "relation": "cancels"}], "remarks": {"language": "en", "text": "…"}}`.
    /// The body is checked with ParleyProtocol's rules for the type. Throws `Problem` (400) naming the field.
    public init(json data: Data, sender: ParticipantID) throws {
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw Problem.malformed("the draft is not a JSON object")
        }
        guard let typeName = object["type"] as? String, let type = NotificationType(name: typeName) else {
            throw Problem.malformed("type: must be a notification type name such as \"pre-launch\"")
        }
        guard let recipientNames = object["recipients"] as? [String], !recipientNames.isEmpty else {
            throw Problem.malformed("recipients: must be a non-empty array of participant ids")
        }
        recipients = try recipientNames.map { name in
            do { return try ParticipantID(name) } catch { throw Problem.malformed("recipients: \"\(name)\" is not a participant id") }
        }
        references = try ((object["references"] as? [[String: Any]]) ?? []).enumerated().map { index, item in
            guard let hex = item["id"] as? String, let id = try? MessageID(hex: hex),
                  let relationName = item["relation"] as? String, let relation = Relation(name: relationName) else {
                throw Problem.malformed("references[\(index)]: must be {\"id\": 32 hex digits, \"relation\": a relation name}")
            }
            return Reference(messageID: id, relation: relation)
        }
        if let remarks = object["remarks"] as? [String: Any] {
            guard let language = remarks["language"] as? String, let text = remarks["text"] as? String,
                  let value = try? LocalizedText(language: language, text: text, maximumLength: Envelope.maximumRemarksLength) else {
                throw Problem.malformed("remarks: must be {\"language\": a language tag, \"text\": at most \(Envelope.maximumRemarksLength) characters}")
            }
            self.remarks = value
        } else {
            remarks = nil
        }
        guard let base64 = object["body"] as? String, let bodyBytes = Data(base64Encoded: base64) else {
            throw Problem.malformed("body: must be the base64 of the body's deterministic CBOR map")
        }
        body = try Self.decodeBody(type: type, cbor: Array(bodyBytes), sender: sender, recipients: recipients,
                                   references: references, remarks: remarks)
    }

    /// Decodes a body with the envelope decoder's rules, by placing it in a complete envelope.
    static func decodeBody(type: NotificationType, cbor: [UInt8], sender: ParticipantID, recipients: [ParticipantID],
                           references: [Reference], remarks: LocalizedText?) throws -> NotificationBody {
        let item: CBOR
        do { item = try CBOR(decoding: cbor) } catch {
            throw Problem.malformed("body: not deterministic CBOR: \(error)")
        }
        let template = Envelope(id: MessageID.generate(), sender: sender,
                                recipients: recipients.map { Recipient(participant: $0, sequence: 1) },
                                created: .now, body: .acknowledgement, references: references, remarks: remarks)
        guard case .map(var map) = template.cbor else { throw Problem.internalError("envelope template is not a map") }
        map[6] = .unsignedInteger(type.rawValue)
        map[8] = item
        do {
            return try Envelope(decoding: CBOREncoder.encode(.map(map))).body
        } catch {
            throw Problem.malformed("the draft is not a valid \(type.name) notification: \(error)")
        }
    }
}
