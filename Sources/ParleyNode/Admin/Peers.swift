import Foundation
import Hummingbird
import ParleyProtocol
import ParleyStore

extension AdminAPI {
    /// `GET /v1/peers`.
    public struct PeerList: Codable, Sendable, Equatable, ResponseEncodable {
        public var peers: [Peer]
    }

    /// A configured peer, or a participant the store has exchanged with (`configured: false`).
    public struct Peer: Codable, Sendable, Equatable {
        public var id: String
        public var configured: Bool
        public var url: String?
        /// The hub this peer is reached through.
        public var via: String?
        public var queueDepth: Int
        /// Deliveries in flight; absent when none.
        public var inFlight: Int?
        public var expired: Int
        public var rejected: Int
        /// Missing numbers on the peer's channel to this node, each `[first, last]`.
        public var gaps: [[UInt64]]
        /// The same gaps with the time each was detected.
        public var openGaps: [OpenGap]
        public var oldestUndelivered: String?
        public var nextAttempt: String?
        /// The latest of `lastReceipt`, `lastMessage`, the peer's last authenticated request and, on
        /// a hub, its last forwarding that the peer answered.
        public var lastContact: String?
        public var lastReceipt: String?
        public var lastMessage: String?
        /// The last error of an undelivered message.
        public var lastError: String?
        public var lastErrorAt: String?
        /// A hub: its last forwarding to the peer failed.
        public var forwardError: String?
        public var forwardErrorAt: String?
    }

    public struct OpenGap: Codable, Sendable, Equatable {
        public var first: UInt64
        public var last: UInt64
        public var since: String
    }
}

/// `GET /v1/peers`.
struct PeerRoutes {
    let node: Node

    var routes: RouteCollection<AdminRequestContext> {
        let routes = RouteCollection(context: AdminRequestContext.self)
        routes.get { _, _ in AdminAPI.PeerList(peers: try await peers()) }
        return routes
    }

    func peers() async throws -> [AdminAPI.Peer] {
        let configured = node.configuration.peers
        let openGaps = try await node.store.gaps(recipient: node.participant)
        let seen = node.lastSeen.withLock { $0 }
        let forwarded = node.forwarderState.withLock { $0 }?.lastAttempts.withLock { $0 } ?? [:]
        return try await node.store.peerStates(configured.map(\.id)).map { state in
            let id = "\(state.peer)"
            let peer = configured.first { $0.id.rawValue == id }
            // A hub stores nothing it forwards: its peers' requests and its forwarding count as contact.
            let forwardedOK = forwarded[id].flatMap { $0.error == nil ? $0.at : nil }
            let lastContact = [state.lastContact, seen[id], forwardedOK].compactMap { $0 }.max()
            let forwardError = forwarded[id].flatMap { attempt in attempt.error.map { (error: $0, at: attempt.at) } }
            return AdminAPI.Peer(
                id: id,
                configured: peer != nil,
                url: peer?.url.absoluteString,
                via: peer?.via?.rawValue,
                queueDepth: state.queueDepth,
                inFlight: state.inFlight > 0 ? state.inFlight : nil,
                expired: state.expired,
                rejected: state.rejected,
                gaps: state.gaps.map { [$0.lowerBound, $0.upperBound] },
                openGaps: openGaps.filter { "\($0.sender)" == id }.map {
                    .init(first: $0.missing.lowerBound, last: $0.missing.upperBound, since: AdminAPI.time($0.detected))
                },
                oldestUndelivered: state.oldestUndelivered.map(AdminAPI.time),
                nextAttempt: state.nextAttempt.map(AdminAPI.time),
                lastContact: lastContact.map(AdminAPI.time),
                lastReceipt: state.lastReceipt.map(AdminAPI.time),
                lastMessage: state.lastMessage.map(AdminAPI.time),
                lastError: state.lastError,
                lastErrorAt: state.lastErrorAt.map(AdminAPI.time),
                forwardError: forwardError?.error,
                forwardErrorAt: forwardError.map { AdminAPI.time($0.at) }
            )
        }
    }
}
