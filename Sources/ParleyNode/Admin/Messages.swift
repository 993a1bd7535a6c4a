import Foundation
import Hummingbird
import ParleyCodec
import ParleyProtocol
import ParleyStore

extension AdminAPI {
    /// A message's reference to an earlier one.
    public struct Reference: Codable, Sendable, Equatable {
        public var id: String
        /// `extends`, `corrects`, `cancels`, `responds-to` or `acknowledges`.
        public var relation: String

        init(_ reference: MessageReference) {
            id = reference.target.hex
            relation = reference.relation.description
        }
    }

    /// A message of a reference chain: the summary's members, its references and how many receipts
    /// it has (a count here, where a `MessageDetail`'s `receipts` lists them).
    public struct ChainEntry: Codable, Sendable, Equatable {
        public var message: MessageSummary
        public var references: [Reference]
        public var receipts: Int

        enum CodingKeys: String, CodingKey { case references, receipts }

        public init(from decoder: any Decoder) throws {
            message = try MessageSummary(from: decoder)
            let container = try decoder.container(keyedBy: CodingKeys.self)
            references = try container.decode([Reference].self, forKey: .references)
            receipts = try container.decode(Int.self, forKey: .receipts)
        }

        public func encode(to encoder: any Encoder) throws {
            try message.encode(to: encoder)
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(references, forKey: .references)
            try container.encode(receipts, forKey: .receipts)
        }

        init(_ record: MessageRecord) {
            message = MessageSummary(record.message)
            references = record.message.fields.references.map(Reference.init)
            receipts = record.receipts.count
        }
    }

    /// `GET /v1/messages/{id}` for a stored message: the summary's members and the rest.
    public struct MessageDetail: Codable, Sendable, Equatable {
        public var message: MessageSummary
        public var deliveries: [Delivery]
        public var receipts: [Receipt]
        /// Rejections this node issued for the same id; absent when none.
        public var rejections: [Rejection]?
        public var references: [Reference]
        /// The transitive reference chain, oldest first, this message included.
        public var chain: [ChainEntry]
        /// The envelope rendered, label → value.
        public var fields: [String: String]?

        enum CodingKeys: String, CodingKey { case deliveries, receipts, rejections, references, chain, fields }

        public init(from decoder: any Decoder) throws {
            message = try MessageSummary(from: decoder)
            let container = try decoder.container(keyedBy: CodingKeys.self)
            deliveries = try container.decode([Delivery].self, forKey: .deliveries)
            receipts = try container.decode([Receipt].self, forKey: .receipts)
            rejections = try container.decodeIfPresent([Rejection].self, forKey: .rejections)
            references = try container.decode([Reference].self, forKey: .references)
            chain = try container.decode([ChainEntry].self, forKey: .chain)
            fields = try container.decodeIfPresent([String: String].self, forKey: .fields)
        }

        public func encode(to encoder: any Encoder) throws {
            try message.encode(to: encoder)
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(deliveries, forKey: .deliveries)
            try container.encode(receipts, forKey: .receipts)
            try container.encodeIfPresent(rejections, forKey: .rejections)
            try container.encode(references, forKey: .references)
            try container.encode(chain, forKey: .chain)
            try container.encodeIfPresent(fields, forKey: .fields)
        }

        init(_ record: MessageRecord, chain: [MessageRecord], rejections: [IssuedRejection]) {
            message = MessageSummary(record.message)
            deliveries = record.deliveries.map(Delivery.init)
            receipts = record.receipts.map { Receipt($0, peer: nil) }
            self.rejections = rejections.isEmpty ? nil : rejections.map(Rejection.init)
            references = record.message.fields.references.map(Reference.init)
            self.chain = chain.map(ChainEntry.init)
            if let envelope = try? Envelope(decoding: COSESign1(decoding: Array(record.message.fields.bytes)).payload) {
                fields = Dictionary(
                    Rendering.lines(of: envelope).map { ($0.label, $0.value) },
                    uniquingKeysWith: { a, b in a + "; " + b }
                )
            }
        }
    }

    /// `GET /v1/messages/{id}` for an id this node only rejected: it stored no message, only the
    /// rejection receipts it issued. (`stored` is `false` here, where a stored message's `stored`
    /// is its time.)
    public struct RejectedMessage: Codable, Sendable, Equatable {
        public var id: String
        public var stored: Bool
        public var rejections: [Rejection]
        public var note: String
    }

    /// The answer to `GET /v1/messages/{id}`.
    public enum MessageAnswer: Codable, Sendable, Equatable, ResponseEncodable {
        case stored(MessageDetail)
        case rejectedOnly(RejectedMessage)

        enum CodingKeys: String, CodingKey { case stored }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            if (try? container.decode(Bool.self, forKey: .stored)) == false {
                self = .rejectedOnly(try RejectedMessage(from: decoder))
            } else {
                self = .stored(try MessageDetail(from: decoder))
            }
        }

        public func encode(to encoder: any Encoder) throws {
            switch self {
            case .stored(let detail): try detail.encode(to: encoder)
            case .rejectedOnly(let rejected): try rejected.encode(to: encoder)
            }
        }
    }

    /// `POST /v1/messages/{id}/retry` and `…/cancel`: both members optional.
    public struct OperatorRequest: Codable, Sendable, Equatable {
        /// Only the delivery to this recipient (default: every unsettled one).
        public var recipient: String?
        /// Kept in the audit log with the action (at most 500 characters are kept).
        public var note: String?

        public init(recipient: String? = nil, note: String? = nil) {
            self.recipient = recipient
            self.note = note
        }
    }

    /// The answer to a retry: how many deliveries became due, and every delivery of the message.
    public struct RetryAnswer: Codable, Sendable, Equatable, ResponseEncodable {
        public var retried: Int
        public var deliveries: [Delivery]
    }

    /// The answer to a cancel: how many deliveries were cancelled, and every delivery of the message.
    public struct CancelAnswer: Codable, Sendable, Equatable, ResponseEncodable {
        public var cancelled: Int
        public var deliveries: [Delivery]
    }
}

/// `GET /v1/messages/{id}`, `POST /v1/messages/{id}/retry`, `POST /v1/messages/{id}/cancel`.
struct MessageRoutes {
    let node: Node

    var routes: RouteCollection<AdminRequestContext> {
        let routes = RouteCollection(context: AdminRequestContext.self)
        routes.get(":id", use: show)
        routes.post(":id/retry", use: retry)
        routes.post(":id/cancel", use: cancel)
        return routes
    }

    @Sendable func show(_ request: Request, context: AdminRequestContext) async throws -> AdminAPI.MessageAnswer {
        let id = try Self.messageID(context)
        let record = try await node.store.message(id)
        let chain = try await node.store.referenceChain(of: id, limit: 1_000)
        let rejections = try await node.store.issuedRejections(for: id)
        guard let record else {
            guard rejections.isEmpty else {
                return .rejectedOnly(
                    .init(
                        id: id.hex,
                        stored: false,
                        rejections: rejections.map(AdminAPI.Rejection.init),
                        note:
                            "this node rejected the message and did not store it; the rejection receipts it issued are listed"
                    )
                )
            }
            throw Problem(
                status: 404,
                name: "not-found",
                title: "No such message",
                detail: "no message \(id.hex) in the outbox or inbox of \(node.participant)"
            )
        }
        return .stored(AdminAPI.MessageDetail(record, chain: chain, rejections: rejections))
    }

    @Sendable func retry(_ request: Request, context: AdminRequestContext) async throws -> AdminAPI.RetryAnswer {
        let id = try Self.messageID(context)
        let (recipient, note) = try await Self.operatorRequest(request, context)
        let count = try await node.store.retry(id, recipient: recipient, note: note)
        guard count > 0 else {
            throw Problem(
                status: 409,
                name: "invalid-state",
                title: "Nothing to retry",
                detail: "every delivery of \(id.hex) is delivered; nothing was changed"
            )
        }
        let deliveries = try await node.store.message(id)?.deliveries ?? []
        node.delivery.retryNow(recipient.map { [$0.rawValue] })
        node.logger.notice(
            "operator retry: \(count) \(count == 1 ? "delivery" : "deliveries") due now (to \(recipient?.rawValue ?? "every unsettled recipient"))\(note.map { "; note: \($0)" } ?? "")",
            metadata: ["message": "\(id)"]
        )
        return .init(retried: count, deliveries: deliveries.map(AdminAPI.Delivery.init))
    }

    @Sendable func cancel(_ request: Request, context: AdminRequestContext) async throws -> AdminAPI.CancelAnswer {
        let id = try Self.messageID(context)
        let (recipient, note) = try await Self.operatorRequest(request, context)
        let count = try await node.store.cancel(id, recipient: recipient, note: note)
        let deliveries = try await node.store.message(id)?.deliveries ?? []
        guard count > 0 else {
            let states = deliveries.map { "\($0.recipient) \($0.state.rawValue)" }.joined(separator: ", ")
            throw Problem(
                status: 409,
                name: "invalid-state",
                title: "Nothing to cancel",
                detail:
                    "no delivery of \(id.hex) is pending, in flight or expired (\(states)); settled deliveries are never cancelled"
            )
        }
        node.logger.notice(
            "operator cancel: \(count) \(count == 1 ? "delivery" : "deliveries") cancelled (to \(recipient?.rawValue ?? "every unsettled recipient"))\(note.map { "; note: \($0)" } ?? "")",
            metadata: ["message": "\(id)"]
        )
        return .init(cancelled: count, deliveries: deliveries.map(AdminAPI.Delivery.init))
    }

    static func messageID(_ context: AdminRequestContext) throws -> MessageID {
        guard let hex = context.parameters.get("id"), let id = try? MessageID(hex: hex) else {
            throw Problem.malformed("the message id must be 32 hex digits")
        }
        return id
    }

    /// The request's recipient, checked, and its note cut to 500 characters.
    static func operatorRequest(
        _ request: Request,
        _ context: AdminRequestContext
    ) async throws -> (recipient: ParticipantID?, note: String?) {
        let body = try await request.decode(as: AdminAPI.OperatorRequest.self, context: context)
        var recipient: ParticipantID?
        if let text = body.recipient {
            guard let id = try? ParticipantID(text) else {
                throw Problem(
                    status: 400,
                    name: "invalid-request",
                    title: "Invalid request",
                    detail: "recipient \(text) is not a participant id"
                )
            }
            recipient = id
        }
        return (recipient, body.note.map { String($0.prefix(500)) })
    }
}
