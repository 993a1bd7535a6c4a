import Foundation
import Hummingbird
import ParleyProtocol
import ParleyStore

extension AdminAPI {
    /// A stored message, sent or received.
    public struct MessageSummary: Codable, Sendable, Equatable {
        public var id: String
        /// `sent` or `received`.
        public var direction: String
        public var sender: String
        public var type: String
        public var created: String
        public var stored: String
        public var sha256: String
        /// A received message's sequence number on its channel.
        public var seq: UInt64?
        public var remarks: String?

        init(_ m: StoredMessage) {
            id = m.fields.id.hex
            direction = m.direction == .received ? "received" : "sent"
            sender = "\(m.sender)"
            type = NotificationType(rawValue: m.fields.type)?.name ?? "\(m.fields.type)"
            created = AdminAPI.time(m.fields.created)
            stored = AdminAPI.time(m.stored)
            sha256 = AdminAPI.hex(m.digest)
            seq = m.inboxSequenceNumber
            remarks = m.fields.remarks?.text
        }
    }

    /// `GET /v1/inbox`: a page of received messages.
    public struct InboxPage: Codable, Sendable, Equatable, ResponseEncodable {
        public var messages: [MessageSummary]
        public var more: Int
        public var next: String?
    }
}

/// `GET /v1/inbox[?sender&type&since&until&text&limit&after]`.
struct InboxRoutes {
    let node: Node

    var routes: RouteCollection<AdminRequestContext> {
        let routes = RouteCollection(context: AdminRequestContext.self)
        routes.get(use: list)
        return routes
    }

    @Sendable func list(_ request: Request, context: AdminRequestContext) async throws -> AdminAPI.InboxPage {
        let parameters = AdminParameters(request)
        var query = InboxQuery(sender: parameters["sender"], limit: try parameters.limit())
        query.type = try parameters.value("type") { NotificationType(name: $0)?.rawValue ?? UInt64($0) }
        query.createdFrom = try parameters.time("since")
        query.createdBefore = try parameters.time("until")
        query.remarksContaining = parameters["text"]
        query.after = try parameters.value("after") { PageCursor(token: $0) }
        let messages = try await node.store.inbox(query)
        let page = PageInfo(
            shown: messages.count,
            matching: try await node.store.inboxCount(query),
            last: messages.last?.cursor.token
        )
        return .init(messages: messages.map(AdminAPI.MessageSummary.init), more: page.more, next: page.next)
    }
}
