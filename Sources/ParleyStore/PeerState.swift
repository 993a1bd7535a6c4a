import Foundation
import ParleyProtocol
import GRDB

/// What the store knows about the exchange with one peer.
public struct PeerDeliveryState: Hashable, Sendable {
    public var peer: String
    /// Pending or in-flight deliveries to the peer.
    public var queueDepth: Int
    /// When the oldest message still undelivered to the peer was queued.
    public var oldestUndelivered: Date?
    /// Deliveries to the peer being attempted now.
    public var inFlight: Int
    /// The earliest next attempt of a pending delivery to the peer.
    public var nextAttempt: Date?
    /// The error of the most recent failed attempt still unresolved (a pending delivery), and when.
    public var lastError: String?
    public var lastErrorAt: Date?
    /// The last receipt the peer signed for one of our messages (its `received` time).
    public var lastReceipt: Date?
    /// The last message accepted from the peer.
    public var lastMessage: Date?
    /// Deliveries to the peer that expired without a receipt, or were rejected.
    public var expired: Int
    public var rejected: Int
    /// Missing sequence numbers on the peer's channel to this node.
    public var gaps: [ClosedRange<UInt64>]

    /// The last time the peer was heard from (a receipt or a message).
    public var lastContact: Date? { [lastReceipt, lastMessage].compactMap { $0 }.max() }
}

extension ParleyStore {
    /// The delivery state of each peer in `peers`, plus every other participant the store has
    /// exchanged messages with, sorted by id.
    public func peerStates(_ peers: [ParticipantID] = []) async throws(StoreError) -> [PeerDeliveryState] {
        let peers = peers.map(\.rawValue)
        return try await read { db in
            var ids = Set(peers)
            ids.formUnion(try String.fetchAll(db, sql: "SELECT DISTINCT recipient FROM delivery"))
            ids.formUnion(try String.fetchAll(db, sql: "SELECT DISTINCT sender FROM inbox"))
            let gaps = try Self.fetchGaps(db, sender: nil, recipient: nil)
            return try ids.sorted().map { peer in
                let queue = try Row.fetchOne(
                    db,
                    sql: """
                        SELECT count(*) AS n, sum(d.state = 'inflight') AS inflight, min(m.stored) AS oldest FROM delivery d JOIN message m ON m.rowid = d.message
                        WHERE d.state IN ('pending', 'inflight') AND d.recipient = ?
                        """,
                    arguments: [peer]
                )
                // The channel moves in order (`dueDeliveries`): its first pending message decides.
                let next = try Int64.fetchOne(
                    db,
                    sql: """
                        SELECT next_attempt FROM delivery INDEXED BY delivery_pending_order
                        WHERE state = 'pending' AND recipient = ? ORDER BY sender, seq LIMIT 1
                        """,
                    arguments: [peer]
                )
                let error = try Row.fetchOne(
                    db,
                    sql: """
                        SELECT last_error, updated FROM delivery WHERE state IN ('pending', 'inflight') AND recipient = ? AND last_error IS NOT NULL
                        ORDER BY updated DESC LIMIT 1
                        """,
                    arguments: [peer]
                )
                let counts = try Row.fetchOne(
                    db,
                    sql: """
                        SELECT sum(state = 'expired') AS expired, sum(state = 'rejected') AS rejected FROM delivery
                        WHERE state IN ('expired', 'rejected') AND recipient = ?
                        """,
                    arguments: [peer]
                )
                let lastReceipt = try Int64.fetchOne(
                    db,
                    sql: "SELECT max(stored) FROM receipt WHERE direction = 0 AND signer = ?",
                    arguments: [peer]
                )
                let lastMessage = try Int64.fetchOne(
                    db,
                    sql: "SELECT max(m.stored) FROM inbox i JOIN message m ON m.rowid = i.message WHERE i.sender = ?",
                    arguments: [peer]
                )
                return PeerDeliveryState(
                    peer: peer,
                    queueDepth: queue?["n"] ?? 0,
                    oldestUndelivered: (queue?["oldest"] as Int64?).map(StoreTime.date),
                    inFlight: queue?["inflight"] ?? 0,
                    nextAttempt: next.map(StoreTime.date),
                    lastError: error?["last_error"],
                    lastErrorAt: (error?["updated"] as Int64?).map(StoreTime.date),
                    lastReceipt: lastReceipt.map(StoreTime.date),
                    lastMessage: lastMessage.map(StoreTime.date),
                    expired: counts?["expired"] ?? 0,
                    rejected: counts?["rejected"] ?? 0,
                    gaps: gaps.filter { $0.sender == peer }.map(\.missing)
                )
            }
        }
    }
}
