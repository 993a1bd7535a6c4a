import Foundation
import GRDB
import ParleyProtocol

/// A position in the accepted receipts a node received, in the order it stored them.
public struct AcceptedReceiptPosition: Hashable, Sendable {
    let rowid: Int64

    /// Before the first receipt.
    public static let start = AcceptedReceiptPosition(rowid: 0)
}

extension ParleyStore {
    /// The messages whose accepted receipt was stored after `position`, oldest first (at most
    /// `limit`), and the position to continue from: for a client that follows deliveries as they are
    /// receipted, such as the end-to-end benchmark, without reading whole receipts.
    public func acceptedReceipts(
        after position: AcceptedReceiptPosition,
        limit: Int = 10_000
    )
        async throws(StoreError) -> (messageIDs: [MessageID], next: AcceptedReceiptPosition)
    {
        try await read { db in
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT rowid, message_id FROM receipt WHERE direction = ? AND status = 0 AND rowid > ? ORDER BY rowid LIMIT ?
                    """,
                arguments: [StoredReceipt.Direction.received.rawValue, position.rowid, max(0, limit)]
            )
            let ids = rows.compactMap { row in MessageID(row["message_id"] as Data) }
            return (ids, rows.last.map { AcceptedReceiptPosition(rowid: $0["rowid"]) } ?? position)
        }
    }
}
