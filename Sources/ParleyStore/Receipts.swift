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

    public init(
        bytes: Data,
        messageID: MessageID,
        sender: ParticipantID,
        signer: ParticipantID,
        code: UInt64,
        reason: String,
        messageDigest: Data,
        evidence: Data? = nil,
        issued: Date
    ) {
        self.bytes = bytes
        self.messageID = messageID
        self.sender = sender.rawValue
        self.signer = signer.rawValue
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
    /// Position used for paging.
    public var cursor: ReceiptCursor
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
    /// Continue after this position (`ReceiptListing.cursor` of the last of the previous page).
    public var after: ReceiptCursor?

    public init(
        direction: StoredReceipt.Direction? = nil,
        peer: String? = nil,
        status: UInt64? = nil,
        messageID: MessageID? = nil,
        storedFrom: Date? = nil,
        storedBefore: Date? = nil,
        limit: Int = 100,
        after: ReceiptCursor? = nil
    ) {
        self.direction = direction
        self.peer = peer
        self.status = status
        self.messageID = messageID
        self.storedFrom = storedFrom
        self.storedBefore = storedBefore
        self.limit = limit
        self.after = after
    }
}

/// Keyset paging position in the receipt list: stored time, then receipts (0) before issued
/// rejections (1) of the same second, then row, all descending.
public struct ReceiptCursor: Hashable, Sendable {
    let stored: Int64
    let table: Int64
    let rowid: Int64

    /// The cursor as text (`<seconds>.<table>.<row>`), for a client's next request.
    public var token: String { "\(stored).\(table).\(rowid)" }

    /// A cursor from its `token`, or nil if `token` is not one.
    public init?(token: String) {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let stored = Int64(parts[0]), let table = Int64(parts[1]), let rowid = Int64(parts[2]),
            stored >= 0, (0...1).contains(table), rowid >= 0
        else { return nil }
        self.stored = stored
        self.table = table
        self.rowid = rowid
    }

    init(stored: Int64, table: Int64, rowid: Int64) {
        self.stored = stored
        self.table = table
        self.rowid = rowid
    }

    /// The condition "listed after this cursor" for a row of `table` (0 receipt, 1 issued rejection).
    func condition(table: Int64, prefix: String) -> (String, StatementArguments) {
        // (stored, table, rowid) < (self.stored, self.table, self.rowid), with the row's table fixed.
        if table < self.table { return ("\(prefix).stored <= ?", [stored]) }
        if table > self.table { return ("\(prefix).stored < ?", [stored]) }
        return ("(\(prefix).stored < ? OR (\(prefix).stored = ? AND \(prefix).rowid < ?))", [stored, stored, rowid])
    }
}

extension ParleyStore {
    /// Stores a rejection receipt this node signed and returned, with an audit event
    /// (`rejection-issued`). Storing the same receipt bytes again changes nothing.
    public func recordIssuedRejection(_ rejection: IssuedRejection) async throws(StoreError) {
        try ParticipantIDRule.check(rejection.signer, "receipt signer")
        guard !rejection.bytes.isEmpty else {
            throw StoreError(.invalidArgument, "rejection receipt for \(rejection.messageID) has no bytes")
        }
        guard rejection.messageDigest.count == 32 else {
            throw StoreError(
                .invalidArgument,
                "rejection receipt for \(rejection.messageID): the message digest must be 32 bytes (SHA-256)"
            )
        }
        if let evidence = rejection.evidence, evidence.sha256 != rejection.messageDigest {
            throw StoreError(
                .invalidArgument,
                "rejection receipt for \(rejection.messageID): the evidence bytes do not have the message digest"
            )
        }
        let code = try rejection.code.storable("rejection code")
        let now = StoreTime.seconds(rejection.issued)
        let digest = rejection.bytes.sha256
        try await writeStore { db in
            try db.execute(
                sql: """
                    INSERT INTO issued_rejection (message_id, sender, signer, rejection_code, rejection_reason, stored, message_digest, evidence, bytes, digest)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (digest) DO NOTHING
                    """,
                arguments: [
                    rejection.messageID.data, rejection.sender, rejection.signer, code, rejection.reason, now,
                    rejection.messageDigest, rejection.evidence, rejection.bytes, digest,
                ]
            )
            guard db.changesCount > 0 else { return }
            try Audit.append(
                db,
                .rejectionIssued,
                at: now,
                message: rejection.messageID,
                peer: rejection.sender,
                detail:
                    "code \(rejection.code): \(rejection.reason); message sha-256 \(rejection.messageDigest.hexString)"
            )
        }
    }

    /// Rejection receipts this node issued for message `id` (its messages are not stored).
    public func issuedRejections(for id: MessageID) async throws(StoreError) -> [IssuedRejection] {
        try await read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT message_id, sender, signer, rejection_code, rejection_reason, stored, message_digest, evidence, bytes
                    FROM issued_rejection WHERE message_id = ? ORDER BY rowid
                    """,
                arguments: [id.data]
            ).map { row in
                IssuedRejection(
                    bytes: row["bytes"],
                    messageID: MessageID(row["message_id"] as Data)!,
                    sender: try .stored(row["sender"]),
                    signer: try .stored(row["signer"]),
                    code: UInt64(row["rejection_code"] as Int64),
                    reason: row["rejection_reason"],
                    messageDigest: row["message_digest"],
                    evidence: row["evidence"],
                    issued: StoreTime.date(row["stored"])
                )
            }
        }
    }

    /// Receipts received and issued (issued rejections included), newest first.
    public func receipts(_ query: ReceiptQuery) async throws(StoreError) -> [ReceiptListing] {
        let (receiptWhere, receiptArguments, rejectionWhere, rejectionArguments) = receiptConditions(query)
        let limit = max(0, query.limit)
        return try await read { db in
            var listings: [ReceiptListing] = []
            if let receiptWhere {
                listings += try Row.fetchAll(
                    db,
                    sql: """
                        SELECT r.direction, r.message_id, r.signer, r.status, r.rejection_code, r.rejection_reason, r.stored, r.bytes, r.digest,
                               CASE r.direction WHEN 0 THEN r.signer ELSE m.sender END AS peer, r.rowid
                        FROM receipt r LEFT JOIN message m ON m.id = r.message_id
                        WHERE \(receiptWhere) ORDER BY r.stored DESC, r.rowid DESC LIMIT ?
                        """,
                    arguments: receiptArguments + [limit]
                ).map { row in
                    ReceiptListing(
                        receipt: MessageQueries.receipt(row),
                        peer: row["peer"] ?? "",
                        messageStored: true,
                        cursor: ReceiptCursor(stored: row["stored"], table: 0, rowid: row["rowid"])
                    )
                }
            }
            if let rejectionWhere {
                listings += try Row.fetchAll(
                    db,
                    sql: """
                        SELECT x.rowid, x.message_id, x.sender, x.signer, x.rejection_code, x.rejection_reason, x.stored, x.bytes, x.digest
                        FROM issued_rejection x WHERE \(rejectionWhere) ORDER BY x.stored DESC, x.rowid DESC LIMIT ?
                        """,
                    arguments: rejectionArguments + [limit]
                ).map { row in
                    let receipt = StoredReceipt(
                        direction: .issued,
                        messageID: MessageID(row["message_id"] as Data)!,
                        signer: row["signer"],
                        status: .rejected(
                            code: UInt64(row["rejection_code"] as Int64),
                            reason: row["rejection_reason"]
                        ),
                        stored: StoreTime.date(row["stored"]),
                        bytes: row["bytes"],
                        digest: row["digest"]
                    )
                    return ReceiptListing(
                        receipt: receipt,
                        peer: row["sender"],
                        messageStored: false,
                        cursor: ReceiptCursor(stored: row["stored"], table: 1, rowid: row["rowid"])
                    )
                }
            }
            let key = { (c: ReceiptCursor) in (c.stored, c.table, c.rowid) }
            return listings.sorted { key($0.cursor) > key($1.cursor) }.prefix(limit).map { $0 }
        }
    }

    /// How many receipts match `query` after its position (its limit ignored).
    public func receiptsCount(_ query: ReceiptQuery) async throws(StoreError) -> Int {
        let (receiptWhere, receiptArguments, rejectionWhere, rejectionArguments) = receiptConditions(query)
        return try await read { db in
            var count = 0
            if let receiptWhere {
                count +=
                    try Int.fetchOne(
                        db,
                        sql:
                            "SELECT count(*) FROM receipt r LEFT JOIN message m ON m.id = r.message_id WHERE \(receiptWhere)",
                        arguments: receiptArguments
                    ) ?? 0
            }
            if let rejectionWhere {
                count +=
                    try Int.fetchOne(
                        db,
                        sql: "SELECT count(*) FROM issued_rejection x WHERE \(rejectionWhere)",
                        arguments: rejectionArguments
                    ) ?? 0
            }
            return count
        }
    }

    /// The WHERE clauses of `query` for received/issued receipts and for issued rejections (nil:
    /// that table cannot match).
    func receiptConditions(_ query: ReceiptQuery) -> (String?, StatementArguments, String?, StatementArguments) {
        var receiptConditions = ["1"]
        var rejectionConditions = ["1"]
        var receiptArguments = StatementArguments()
        var rejectionArguments = StatementArguments()
        var includeReceipts = true
        var includeRejections =
            query.direction != .received && (query.status == nil || query.status == 2) && query.limit > 0
        if let direction = query.direction {
            receiptConditions.append("r.direction = ?")
            receiptArguments += [direction.rawValue]
        }
        if let peer = query.peer {
            receiptConditions.append("(CASE r.direction WHEN 0 THEN r.signer ELSE m.sender END) = ?")
            receiptArguments += [peer]
            rejectionConditions.append("x.sender = ?")
            rejectionArguments += [peer]
        }
        if let status = query.status {
            if status <= 2 {
                receiptConditions.append("r.status = ?")
                receiptArguments += [Int64(status)]
            } else {
                includeReceipts = false
                includeRejections = false
            }
        }
        if let id = query.messageID {
            receiptConditions.append("r.message_id = ?")
            receiptArguments += [id.data]
            rejectionConditions.append("x.message_id = ?")
            rejectionArguments += [id.data]
        }
        if let from = query.storedFrom {
            let seconds = StoreTime.seconds(from)
            receiptConditions.append("r.stored >= ?")
            receiptArguments += [seconds]
            rejectionConditions.append("x.stored >= ?")
            rejectionArguments += [seconds]
        }
        if let before = query.storedBefore {
            let seconds = StoreTime.seconds(before)
            receiptConditions.append("r.stored < ?")
            receiptArguments += [seconds]
            rejectionConditions.append("x.stored < ?")
            rejectionArguments += [seconds]
        }
        if let after = query.after {
            let (receipt, receiptValues) = after.condition(table: 0, prefix: "r")
            receiptConditions.append(receipt)
            receiptArguments += receiptValues
            let (rejection, rejectionValues) = after.condition(table: 1, prefix: "x")
            rejectionConditions.append(rejection)
            rejectionArguments += rejectionValues
        }
        return (
            includeReceipts ? receiptConditions.joined(separator: " AND ") : nil, receiptArguments,
            includeRejections ? rejectionConditions.joined(separator: " AND ") : nil, rejectionArguments
        )
    }
}
