import Foundation
import ParleyProtocol
import GRDB

/// A signed rejection receipt this node issued for a message it did not store (SPEC.md §9.1): the
/// message failed verification, or was an equivocation or a replay. Kept for auditors.
public struct IssuedRejection: Hashable, Sendable {
    /// The exact signed receipt bytes returned to the sender.
    public var bytes: Data
    /// The id the rejected message carried.
    public var messageID: MessageID
    /// The sender the rejected message named.
    public var sender: String
    /// This node's participant id (the receipt's signer).
    public var signer: String
    public var code: UInt64
    public var reason: String
    /// SHA-256 of the rejected message's bytes (the receipt's digest field).
    public var messageDigest: Data
    /// The rejected message's exact bytes, kept as evidence (equivocations and replays: signed by
    /// their sender), else nil.
    public var evidence: Data?
    public var issued: Date

    public init(bytes: Data, messageID: MessageID, sender: String, signer: String, code: UInt64, reason: String,
                messageDigest: Data, evidence: Data? = nil, issued: Date) {
        self.bytes = bytes
        self.messageID = messageID
        self.sender = sender
        self.signer = signer
        self.code = code
        self.reason = reason
        self.messageDigest = messageDigest
        self.evidence = evidence
        self.issued = issued
    }
}

/// One line of the receipt list: a stored receipt and the other party of its exchange.
public struct ReceiptListing: Hashable, Sendable {
    public var receipt: StoredReceipt
    /// For a received receipt, the recipient that signed it; for an issued one, the sender of the
    /// receipted message.
    public var peer: String
    /// False for issued rejections: the rejected message itself is not in the store.
    public var messageStored: Bool
}

/// Filters for `receipts(_:)`; results are newest first.
public struct ReceiptQuery: Sendable {
    public var direction: StoredReceipt.Direction?
    /// The other party (see `ReceiptListing.peer`).
    public var peer: String?
    /// Receipt status code: 0 accepted, 1 duplicate, 2 rejected.
    public var status: UInt64?
    public var messageID: MessageID?
    /// Stored at or after.
    public var storedFrom: Date?
    /// Stored strictly before.
    public var storedBefore: Date?
    public var limit: Int

    public init(direction: StoredReceipt.Direction? = nil, peer: String? = nil, status: UInt64? = nil, messageID: MessageID? = nil,
                storedFrom: Date? = nil, storedBefore: Date? = nil, limit: Int = 100) {
        self.direction = direction
        self.peer = peer
        self.status = status
        self.messageID = messageID
        self.storedFrom = storedFrom
        self.storedBefore = storedBefore
        self.limit = limit
    }
}

extension ParleyStore {
    /// Stores a rejection receipt this node signed and returned, with an audit event
    /// (`rejection-issued`). Storing the same receipt bytes again changes nothing.
    public func recordIssuedRejection(_ rejection: IssuedRejection) throws(StoreError) {
        try ParticipantIDRule.check(rejection.signer, "receipt signer")
        guard !rejection.bytes.isEmpty else {
            throw StoreError(.invalidArgument, "rejection receipt for \(rejection.messageID) has no bytes")
        }
        guard rejection.messageDigest.count == 32 else {
            throw StoreError(.invalidArgument, "rejection receipt for \(rejection.messageID): the message digest must be 32 bytes (SHA-256)")
        }
        if let evidence = rejection.evidence, evidence.sha256 != rejection.messageDigest {
            throw StoreError(.invalidArgument, "rejection receipt for \(rejection.messageID): the evidence bytes do not have the message digest")
        }
        let code = try rejection.code.storable("rejection code")
        let now = StoreTime.seconds(rejection.issued)
        let digest = rejection.bytes.sha256
        try writeStore { db in
            try db.execute(sql: """
                INSERT INTO issued_rejection (message_id, sender, signer, rejection_code, rejection_reason, stored, message_digest, evidence, bytes, digest)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (digest) DO NOTHING
                """, arguments: [rejection.messageID.data, rejection.sender, rejection.signer, code, rejection.reason, now,
                                 rejection.messageDigest, rejection.evidence, rejection.bytes, digest])
            guard db.changesCount > 0 else { return }
            try Audit.append(db, .rejectionIssued, at: now, message: rejection.messageID, peer: rejection.sender,
                             detail: "code \(rejection.code): \(rejection.reason); message sha-256 \(rejection.messageDigest.hexString)")
        }
    }

    /// Rejection receipts this node issued for message `id` (its messages are not stored).
    public func issuedRejections(for id: MessageID) throws(StoreError) -> [IssuedRejection] {
        try read { db in
            try Row.fetchAll(db, sql: """
                SELECT message_id, sender, signer, rejection_code, rejection_reason, stored, message_digest, evidence, bytes
                FROM issued_rejection WHERE message_id = ? ORDER BY rowid
                """, arguments: [id.data]).map { row in
                IssuedRejection(bytes: row["bytes"], messageID: MessageID(row["message_id"] as Data)!, sender: row["sender"],
                                signer: row["signer"], code: UInt64(row["rejection_code"] as Int64), reason: row["rejection_reason"],
                                messageDigest: row["message_digest"], evidence: row["evidence"], issued: StoreTime.date(row["stored"]))
            }
        }
    }

    /// Receipts received and issued (issued rejections included), newest first.
    public func receipts(_ query: ReceiptQuery) throws(StoreError) -> [ReceiptListing] {
        var receiptConditions = ["1"], rejectionConditions = ["1"]
        var receiptArguments = StatementArguments(), rejectionArguments = StatementArguments()
        var includeRejections = query.direction != .received && (query.status == nil || query.status == 2)
        if let direction = query.direction { receiptConditions.append("r.direction = ?"); receiptArguments += [direction.rawValue] }
        if let peer = query.peer {
            receiptConditions.append("(CASE r.direction WHEN 0 THEN r.signer ELSE m.sender END) = ?"); receiptArguments += [peer]
            rejectionConditions.append("x.sender = ?"); rejectionArguments += [peer]
        }
        if let status = query.status {
            guard status <= 2 else { return [] }
            receiptConditions.append("r.status = ?"); receiptArguments += [Int64(status)]
        }
        if let id = query.messageID {
            receiptConditions.append("r.message_id = ?"); receiptArguments += [id.data]
            rejectionConditions.append("x.message_id = ?"); rejectionArguments += [id.data]
        }
        if let from = query.storedFrom {
            let seconds = StoreTime.seconds(from)
            receiptConditions.append("r.stored >= ?"); receiptArguments += [seconds]
            rejectionConditions.append("x.stored >= ?"); rejectionArguments += [seconds]
        }
        if let before = query.storedBefore {
            let seconds = StoreTime.seconds(before)
            receiptConditions.append("r.stored < ?"); receiptArguments += [seconds]
            rejectionConditions.append("x.stored < ?"); rejectionArguments += [seconds]
        }
        if query.limit <= 0 { includeRejections = false }
        let limit = max(0, query.limit)
        return try read { db in
            var listings = try Row.fetchAll(db, sql: """
                SELECT r.direction, r.message_id, r.signer, r.status, r.rejection_code, r.rejection_reason, r.stored, r.bytes, r.digest,
                       CASE r.direction WHEN 0 THEN r.signer ELSE m.sender END AS peer, r.rowid
                FROM receipt r LEFT JOIN message m ON m.id = r.message_id
                WHERE \(receiptConditions.joined(separator: " AND ")) ORDER BY r.stored DESC, r.rowid DESC LIMIT ?
                """, arguments: receiptArguments + [limit]).map { row in
                (row["stored"] as Int64, Int64(0), row["rowid"] as Int64,
                 ReceiptListing(receipt: MessageQueries.receipt(row), peer: row["peer"] ?? "", messageStored: true))
            }
            if includeRejections {
                listings += try Row.fetchAll(db, sql: """
                    SELECT x.rowid, x.message_id, x.sender, x.signer, x.rejection_code, x.rejection_reason, x.stored, x.bytes, x.digest
                    FROM issued_rejection x WHERE \(rejectionConditions.joined(separator: " AND ")) ORDER BY x.stored DESC, x.rowid DESC LIMIT ?
                    """, arguments: rejectionArguments + [limit]).map { row in
                    let receipt = StoredReceipt(direction: .issued, messageID: MessageID(row["message_id"] as Data)!, signer: row["signer"],
                                                status: .rejected(code: UInt64(row["rejection_code"] as Int64), reason: row["rejection_reason"]),
                                                stored: StoreTime.date(row["stored"]), bytes: row["bytes"], digest: row["digest"])
                    return (row["stored"] as Int64, Int64(1), row["rowid"] as Int64,
                            ReceiptListing(receipt: receipt, peer: row["sender"], messageStored: false))
                }
            }
            return listings.sorted { ($0.0, $0.1, $0.2) > ($1.0, $1.1, $1.2) }.prefix(limit).map(\.3)
        }
    }
}
