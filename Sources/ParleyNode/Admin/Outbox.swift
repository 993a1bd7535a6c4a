import Foundation
import Hummingbird
import ParleyProtocol
import ParleyStore

extension AdminAPI {
    /// One delivery of a sent message to one recipient.
    public struct Delivery: Codable, Sendable, Equatable {
        /// The message id.
        public var id: String
        /// The notification type's catalogue name (or its number when not in the catalogue).
        public var type: String
        public var recipient: String
        /// The message's sequence number on the channel to `recipient`.
        public var seq: UInt64
        /// `pending`, `inflight`, `delivered`, `rejected`, `expired` or `cancelled`.
        public var state: String
        public var attempts: Int
        public var nextAttempt: String
        public var queued: String
        public var updated: String
        public var lastError: String?
        /// The rejection code's name, when the recipient rejected the message.
        public var rejection: String?
        public var rejectionReason: String?

        init(_ d: DeliveryRecord) {
            id = d.messageID.hex
            type = NotificationType(rawValue: d.type)?.name ?? "\(d.type)"
            recipient = "\(d.recipient)"
            seq = d.sequenceNumber
            state = d.state.rawValue
            attempts = d.attempts
            nextAttempt = AdminAPI.time(d.nextAttempt)
            queued = AdminAPI.time(d.queued)
            updated = AdminAPI.time(d.updated)
            lastError = d.lastError
            rejection = d.rejectionCode.map { RejectionCode(rawValue: $0)?.name ?? "\($0)" }
            rejectionReason = d.rejectionReason
        }
    }

    /// `GET /v1/outbox`: a page of deliveries.
    public struct OutboxPage: Codable, Sendable, Equatable, ResponseEncodable {
        public var deliveries: [Delivery]
        /// How many further deliveries match.
        public var more: Int
        /// The `after` value of the next page, when `more` > 0.
        public var next: String?
    }
}

/// `GET /v1/outbox[?state&recipient&order&limit&after]`.
struct OutboxRoutes {
    let node: Node

    var routes: RouteCollection<AdminRequestContext> {
        let routes = RouteCollection(context: AdminRequestContext.self)
        routes.get(use: list)
        return routes
    }

    @Sendable func list(_ request: Request, context: AdminRequestContext) async throws -> AdminAPI.OutboxPage {
        let parameters = AdminParameters(request)
        let state = try parameters.value("state") { DeliveryState(rawValue: $0) }
        let orders = ["newest": true, "oldest": false]
        var query = OutboxQuery(
            state: state,
            recipient: parameters["recipient"],
            limit: try parameters.limit(),
            newestFirst: try parameters.value("order") { orders[$0] } ?? true
        )
        query.position = try parameters.value("after") { DeliveryCursor(token: $0) }
        let records = try await node.store.outbox(query)
        let page = PageInfo(
            shown: records.count,
            matching: try await node.store.outboxCount(query),
            last: records.last?.cursor.token
        )
        return .init(deliveries: records.map(AdminAPI.Delivery.init), more: page.more, next: page.next)
    }
}
