import Foundation
import Hummingbird
import ParleyProtocol
import ParleyStore

extension AdminAPI {
    /// A receipt this node received for its message, or issued for one it received.
    public struct Receipt: Codable, Sendable, Equatable {
        /// `issued` or `received`.
        public var direction: String
        public var signer: String
        /// The id of the message the receipt answers.
        public var message: String
        /// `accepted`, `duplicate` or `rejected:<code name>`.
        public var status: String
        public var stored: String
        public var sha256: String
        /// The receipt's COSE_Sign1 bytes.
        public var base64: String
        /// A rejection's reason.
        public var reason: String?
        /// The other party (in lists only).
        public var peer: String?
        /// `false` for a rejection of a message this node did not store; absent otherwise.
        public var messageStored: Bool?

        init(_ receipt: StoredReceipt, peer: String?, messageStored: Bool = true) {
            direction = receipt.direction == .issued ? "issued" : "received"
            signer = "\(receipt.signer)"
            message = receipt.messageID.hex
            switch receipt.status {
            case .accepted: status = "accepted"
            case .duplicate: status = "duplicate"
            case .rejected(let code, let reason):
                status = "rejected:" + (RejectionCode(rawValue: code)?.name ?? "\(code)")
                self.reason = reason
            }
            stored = AdminAPI.time(receipt.stored)
            sha256 = AdminAPI.hex(receipt.digest)
            base64 = receipt.bytes.base64EncodedString()
            self.peer = peer
            self.messageStored = messageStored ? nil : false
        }
    }

    /// A signed rejection this node issued for a message it did not store.
    public struct Rejection: Codable, Sendable, Equatable {
        /// Always `issued`.
        public var direction: String
        public var signer: String
        /// The sender of the rejected message.
        public var peer: String
        public var message: String
        public var status: String
        public var reason: String
        public var stored: String
        /// The SHA-256 of the rejected message.
        public var messageSha256: String
        public var base64: String
        /// The rejected bytes kept as evidence (an equivocation or a replay).
        public var evidenceBase64: String?
    }

    /// `GET /v1/receipts`: a page of receipts, newest first.
    public struct ReceiptPage: Codable, Sendable, Equatable, ResponseEncodable {
        public var receipts: [Receipt]
        public var more: Int
        public var next: String?
    }
}

/// `GET /v1/receipts[?direction&peer&status&message&since&until&limit&after]`.
struct ReceiptRoutes {
    let node: Node

    var routes: RouteCollection<AdminRequestContext> {
        let routes = RouteCollection(context: AdminRequestContext.self)
        routes.get(use: list)
        return routes
    }

    @Sendable func list(_ request: Request, context: AdminRequestContext) async throws -> AdminAPI.ReceiptPage {
        let parameters = AdminParameters(request)
        var query = ReceiptQuery(peer: parameters["peer"], limit: try parameters.limit())
        let directions: [String: StoredReceipt.Direction] = ["issued": .issued, "received": .received]
        query.direction = try parameters.value("direction") { directions[$0] }
        query.status = try parameters.value("status") { ReceiptStatusCode(name: $0)?.rawValue }
        query.messageID = try parameters.value("message") { try? MessageID(hex: $0) }
        query.storedFrom = try parameters.time("since")
        query.storedBefore = try parameters.time("until")
        query.after = try parameters.value("after") { ReceiptCursor(token: $0) }
        let listings = try await node.store.receipts(query)
        let page = PageInfo(
            shown: listings.count,
            matching: try await node.store.receiptsCount(query),
            last: listings.last?.cursor.token
        )
        return .init(
            receipts: listings.map {
                AdminAPI.Receipt($0.receipt, peer: "\($0.peer)", messageStored: $0.messageStored)
            },
            more: page.more,
            next: page.next
        )
    }
}

extension AdminAPI.Rejection {
    init(_ rejection: IssuedRejection) {
        self.init(
            direction: "issued",
            signer: "\(rejection.signer)",
            peer: "\(rejection.sender)",
            message: rejection.messageID.hex,
            status: "rejected:" + (RejectionCode(rawValue: rejection.code)?.name ?? "\(rejection.code)"),
            reason: rejection.reason,
            stored: AdminAPI.time(rejection.issued),
            messageSha256: AdminAPI.hex(rejection.messageDigest),
            base64: rejection.bytes.base64EncodedString(),
            evidenceBase64: rejection.evidence?.base64EncodedString()
        )
    }
}
