import Foundation
import ParleyProtocol
import GRDB

/// A stored message: exact bytes plus the fields kept for queries.
public struct StoredMessage: Hashable, Sendable {
    public var direction: MessageDirection
    public var sender: String
    public var fields: MessageFields
    /// SHA-256 of `fields.bytes`.
    public var digest: Data
    /// When this node queued (sent) or accepted (received) it.
    public var stored: Date
    /// For received messages: this node's participant id and sequence number.
    public var inboxRecipient: String?
    public var inboxSequenceNumber: UInt64?
    /// Position used for paging.
    public var cursor: PageCursor { PageCursor(time: StoreTime.seconds(fields.created), rowid: rowid) }
    let rowid: Int64
}

/// A receipt as stored: received for one of our messages, or issued by this node.
public struct StoredReceipt: Hashable, Sendable {
    public enum Direction: Int, Sendable, Hashable {
        /// Received from a recipient of a message we sent.
        case received = 0
        /// Issued by this node for a message it accepted.
        case issued = 1
    }
    public var direction: Direction
    public var messageID: MessageID
    public var signer: String
    public var status: ReceiptStatus
    public var stored: Date
    public var bytes: Data
    public var digest: Data
}

/// A message with its deliveries (sent) and all its receipts.
public struct MessageRecord: Hashable, Sendable {
    public var message: StoredMessage
    public var deliveries: [DeliveryRecord]
    public var receipts: [StoredReceipt]
}

/// Keyset paging position: pass the last item's cursor to get the next page.
public struct PageCursor: Hashable, Sendable {
    let time: Int64
    let rowid: Int64

    /// The cursor as text (`<seconds>.<row>`), to hand to a client that asks for the next page.
    public var token: String { "\(time).\(rowid)" }

    /// A cursor from its `token`, or nil if `token` is not one.
    public init?(token: String) {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let time = Int64(parts[0]), let rowid = Int64(parts[1]), time >= 0, rowid >= 0 else {
            return nil
        }
        self.time = time
        self.rowid = rowid
    }

    init(time: Int64, rowid: Int64) {
        self.time = time
        self.rowid = rowid
    }
}

/// Filters for inbox queries; all given filters must match. Results are newest first (by creation
/// time).
public struct InboxQuery: Sendable {
    public var sender: String?
    public var type: UInt64?
    /// Creation time at or after.
    public var createdFrom: Date?
    /// Creation time strictly before.
    public var createdBefore: Date?
    /// Words that must all occur in the remarks (full-text, case- and accent-insensitive).
    public var remarksContaining: String?
    public var limit: Int
    /// Continue after this item (the last item of the previous page).
    public var after: PageCursor?

    public init(
        sender: String? = nil,
        type: UInt64? = nil,
        createdFrom: Date? = nil,
        createdBefore: Date? = nil,
        remarksContaining: String? = nil,
        limit: Int = 100,
        after: PageCursor? = nil
    ) {
        self.sender = sender
        self.type = type
        self.createdFrom = createdFrom
        self.createdBefore = createdBefore
        self.remarksContaining = remarksContaining
        self.limit = limit
        self.after = after
    }
}

/// Filters for outbox queries (deliveries), oldest queued first unless `newestFirst`; the
/// deliveries of one message by recipient.
public struct OutboxQuery: Sendable {
    public var state: DeliveryState?
    public var recipient: String?
    public var limit: Int
    /// Continue after this delivery (the last of the previous page).
    public var after: DeliveryRecord?
    /// Continue after this position (`DeliveryRecord.cursor` of the last of the previous page).
    public var position: DeliveryCursor?
    /// Most recently queued first (an operator's list), instead of queue order.
    public var newestFirst: Bool

    public init(
        state: DeliveryState? = nil,
        recipient: String? = nil,
        limit: Int = 100,
        after: DeliveryRecord? = nil,
        position: DeliveryCursor? = nil,
        newestFirst: Bool = false
    ) {
        self.state = state
        self.recipient = recipient
        self.limit = limit
        self.after = after
        self.position = position
        self.newestFirst = newestFirst
    }
}

/// Keyset paging position in the outbox: when the message was queued, its id, the recipient.
public struct DeliveryCursor: Hashable, Sendable {
    let queued: Int64
    let messageID: MessageID
    let recipient: String

    /// The cursor as text (`<seconds>.<message id>.<recipient>`), for a client's next request.
    public var token: String { "\(queued).\(messageID.hex).\(recipient)" }

    /// A cursor from its `token`, or nil if `token` is not one.
    public init?(token: String) {
        let parts = token.split(separator: ".", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, let queued = Int64(parts[0]), queued >= 0,
            let id = try? MessageID(hex: String(parts[1])),
            (1...64).contains(parts[2].utf8.count)
        else { return nil }
        self.queued = queued
        self.messageID = id
        self.recipient = String(parts[2])
    }

    public init(_ record: DeliveryRecord) {
        queued = StoreTime.seconds(record.queued)
        messageID = record.messageID
        recipient = record.recipient
    }
}

extension DeliveryRecord {
    /// Position used for paging the outbox.
    public var cursor: DeliveryCursor { DeliveryCursor(self) }
}

enum MessageQueries {
    static let columns = """
        m.rowid, m.id, m.direction, m.sender, m.type, m.created, m.stored, m.bytes, m.digest, m.remarks_lang, m.remarks_text,
        i.recipient AS inbox_recipient, i.seq AS inbox_seq
        """
    static let from = "FROM message m LEFT JOIN inbox i ON i.message = m.rowid"

    static func message(_ db: Database, _ row: Row) throws -> StoredMessage {
        let rowid: Int64 = row["rowid"]
        let lang: String? = row["remarks_lang"]
        let text: String? = row["remarks_text"]
        let fields = MessageFields(
            id: MessageID(row["id"] as Data)!,
            bytes: row["bytes"],
            type: UInt64(row["type"] as Int64),
            created: StoreTime.date(row["created"]),
            references: try MessageRows.references(db, rowid: rowid),
            remarks: try text.map { text in
                do { return try LocalizedText(language: lang ?? "", text: text) } catch {
                    throw StoreError(
                        .corrupt,
                        "the remarks of stored message \(MessageID(row["id"] as Data)!) are not valid (\(error)); the message bytes are intact: check the store with `checkIntegrity()` and report this"
                    )
                }
            }
        )
        return StoredMessage(
            direction: MessageDirection(rawValue: row["direction"]) ?? .received,
            sender: row["sender"],
            fields: fields,
            digest: row["digest"],
            stored: StoreTime.date(row["stored"]),
            inboxRecipient: row["inbox_recipient"],
            inboxSequenceNumber: (row["inbox_seq"] as Int64?).map { UInt64($0) },
            rowid: rowid
        )
    }

    static func receipts(_ db: Database, messageID: MessageID) throws -> [StoredReceipt] {
        try Row.fetchAll(
            db,
            sql: """
                SELECT direction, message_id, signer, status, rejection_code, rejection_reason, stored, bytes, digest
                FROM receipt WHERE message_id = ? ORDER BY rowid
                """,
            arguments: [messageID.data]
        ).map(receipt)
    }

    static func receipt(_ row: Row) -> StoredReceipt {
        let status: ReceiptStatus
        switch row["status"] as Int64 {
        case 0: status = .accepted
        case 1: status = .duplicate
        default:
            status = .rejected(
                code: UInt64((row["rejection_code"] as Int64?) ?? 0),
                reason: row["rejection_reason"] ?? ""
            )
        }
        return StoredReceipt(
            direction: StoredReceipt.Direction(rawValue: row["direction"]) ?? .received,
            messageID: MessageID(row["message_id"] as Data)!,
            signer: row["signer"],
            status: status,
            stored: StoreTime.date(row["stored"]),
            bytes: row["bytes"],
            digest: row["digest"]
        )
    }

    /// An FTS5 query matching all the words of `text` (each quoted, so operators are literal).
    static func ftsPattern(_ text: String) -> String? {
        let words = text.split(whereSeparator: { $0.isWhitespace }).map {
            "\"" + $0.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }
        return words.isEmpty ? nil : words.joined(separator: " ")
    }
}

extension ParleyStore {
    /// Received messages matching `query`, newest first.
    public func inbox(_ query: InboxQuery) async throws(StoreError) -> [StoredMessage] {
        guard let (conditions, filters) = inboxConditions(query) else { return [] }
        let arguments = filters + [max(0, query.limit)]
        let sql = """
            SELECT \(MessageQueries.columns) \(MessageQueries.from)
            WHERE \(conditions.joined(separator: " AND ")) ORDER BY m.created DESC, m.rowid DESC LIMIT ?
            """
        return try await read { db in
            try Row.fetchAll(db, sql: sql, arguments: arguments).map { try MessageQueries.message(db, $0) }
        }
    }

    /// The WHERE conditions of `query`, or nil if nothing can match.
    func inboxConditions(_ query: InboxQuery) -> ([String], StatementArguments)? {
        var conditions = ["m.direction = 1"]
        var arguments = StatementArguments()
        if let sender = query.sender {
            conditions.append("m.sender = ?")
            arguments += [sender]
        }
        if let type = query.type {
            guard type <= UInt64(Int64.max) else { return nil }
            conditions.append("m.type = ?")
            arguments += [Int64(type)]
        }
        if let from = query.createdFrom {
            conditions.append("m.created >= ?")
            arguments += [StoreTime.seconds(from)]
        }
        if let before = query.createdBefore {
            conditions.append("m.created < ?")
            arguments += [StoreTime.seconds(before)]
        }
        if let text = query.remarksContaining {
            guard let pattern = MessageQueries.ftsPattern(text) else { return nil }
            conditions.append("m.rowid IN (SELECT rowid FROM message_fts WHERE message_fts MATCH ?)")
            arguments += [pattern]
        }
        if let after = query.after {
            conditions.append("(m.created < ? OR (m.created = ? AND m.rowid < ?))")
            arguments += [after.time, after.time, after.rowid]
        }
        return (conditions, arguments)
    }

    /// How many received messages match `query` after its position (its limit ignored): with the
    /// length of a page, how many more there are.
    public func inboxCount(_ query: InboxQuery) async throws(StoreError) -> Int {
        guard let (conditions, arguments) = inboxConditions(query) else { return 0 }
        let sql = "SELECT count(*) \(MessageQueries.from) WHERE \(conditions.joined(separator: " AND "))"
        return try await read { db in try Int.fetchOne(db, sql: sql, arguments: arguments) ?? 0 }
    }

    /// Deliveries matching `query`, oldest queued first (or newest first), by recipient within a message.
    public func outbox(_ query: OutboxQuery) async throws(StoreError) -> [DeliveryRecord] {
        var (conditions, arguments) = outboxConditions(query)
        arguments += [max(0, query.limit)]
        let order = query.newestFirst ? "m.stored DESC, m.id DESC, d.recipient" : "m.stored, m.id, d.recipient"
        let sql = """
            \(DeliveryRows.select) \(DeliveryRows.from)
            WHERE \(conditions.joined(separator: " AND ")) ORDER BY \(order) LIMIT ?
            """
        return try await read { [arguments] db in
            try Row.fetchAll(db, sql: sql, arguments: arguments).map(DeliveryRows.record)
        }
    }

    /// How many deliveries match `query` after its position (its limit ignored).
    public func outboxCount(_ query: OutboxQuery) async throws(StoreError) -> Int {
        let (conditions, arguments) = outboxConditions(query)
        let sql = "SELECT count(*) \(DeliveryRows.from) WHERE \(conditions.joined(separator: " AND "))"
        return try await read { db in try Int.fetchOne(db, sql: sql, arguments: arguments) ?? 0 }
    }

    func outboxConditions(_ query: OutboxQuery) -> ([String], StatementArguments) {
        var conditions = ["1"]
        var arguments = StatementArguments()
        if let state = query.state {
            conditions.append("d.state = ?")
            arguments += [state.rawValue]
        }
        if let recipient = query.recipient {
            conditions.append("d.recipient = ?")
            arguments += [recipient]
        }
        if let after = query.position ?? query.after.map(DeliveryCursor.init) {
            let later = query.newestFirst ? "<" : ">"
            conditions.append(
                "(m.stored \(later) ? OR (m.stored = ? AND (m.id \(later) ? OR (m.id = ? AND d.recipient > ?))))"
            )
            arguments += [after.queued, after.queued, after.messageID.data, after.messageID.data, after.recipient]
        }
        return (conditions, arguments)
    }

    /// The digest of the received message with this id, if there is one: one indexed lookup, the
    /// cheap first test of a duplicate delivery (SPEC.md §9.1 step 5) for every incoming message.
    public func receivedDigest(of id: MessageID) async throws(StoreError) -> Data? {
        try await receivedDigests(of: [id])[id]
    }

    /// `receivedDigest` for several ids in one read (a batch request): the ids of received messages
    /// that are stored, with their digests.
    public func receivedDigests(of ids: [MessageID]) async throws(StoreError) -> [MessageID: Data] {
        try await read { db in
            let statement = try db.cachedStatement(sql: "SELECT digest FROM message WHERE id = ? AND direction = ?")
            var digests: [MessageID: Data] = [:]
            for id in ids {
                if let digest = try Data.fetchOne(statement, arguments: [id.data, MessageDirection.received.rawValue]) {
                    digests[id] = digest
                }
            }
            return digests
        }
    }

    /// A message (either direction) with its deliveries and all its receipts, or nil.
    public func message(_ id: MessageID) async throws(StoreError) -> MessageRecord? {
        try await read { db in
            guard
                let row = try Row.fetchOne(
                    db,
                    sql: "SELECT \(MessageQueries.columns) \(MessageQueries.from) WHERE m.id = ?",
                    arguments: [id.data]
                )
            else { return nil }
            let message = try MessageQueries.message(db, row)
            let deliveries = try Row.fetchAll(
                db,
                sql: "\(DeliveryRows.select) \(DeliveryRows.from) WHERE d.message = ? ORDER BY d.recipient",
                arguments: [message.rowid]
            ).map(DeliveryRows.record)
            return MessageRecord(
                message: message,
                deliveries: deliveries,
                receipts: try MessageQueries.receipts(db, messageID: id)
            )
        }
    }

    /// The reference chain of `id`: the messages it references (transitively, up to the original),
    /// and everything that references any of those (transitively: extensions, corrections,
    /// cancellations, responses, acknowledgements), oldest first. Empty if `id` is not stored.
    public func referenceChain(of id: MessageID, limit: Int = 10_000) async throws(StoreError) -> [MessageRecord] {
        try await read { db in
            let ids = try Data.fetchAll(
                db,
                sql: """
                    WITH RECURSIVE
                      up(id) AS (
                        SELECT ?
                        UNION
                        SELECT r.target FROM up JOIN message m ON m.id = up.id JOIN reference r ON r.message = m.rowid
                      ),
                      down(id) AS (
                        SELECT id FROM up
                        UNION
                        SELECT m.id FROM down JOIN reference r ON r.target = down.id JOIN message m ON m.rowid = r.message
                      )
                    SELECT m.id FROM message m JOIN down ON down.id = m.id ORDER BY m.created, m.rowid LIMIT ?
                    """,
                arguments: [id.data, max(0, limit)]
            )
            return try ids.compactMap { bytes in
                guard
                    let row = try Row.fetchOne(
                        db,
                        sql: "SELECT \(MessageQueries.columns) \(MessageQueries.from) WHERE m.id = ?",
                        arguments: [bytes]
                    )
                else { return nil }
                let message = try MessageQueries.message(db, row)
                let deliveries = try Row.fetchAll(
                    db,
                    sql: "\(DeliveryRows.select) \(DeliveryRows.from) WHERE d.message = ? ORDER BY d.recipient",
                    arguments: [message.rowid]
                ).map(DeliveryRows.record)
                return MessageRecord(
                    message: message,
                    deliveries: deliveries,
                    receipts: try MessageQueries.receipts(db, messageID: message.fields.id)
                )
            }
        }
    }

    /// Sent messages queued before `queuedBefore` that some recipient has not receipted (delivery
    /// pending, in flight or expired), oldest first, with those deliveries.
    public func overdue(queuedBefore: Date, limit: Int = 1000) async throws(StoreError) -> [DeliveryRecord] {
        try await read { db in
            try Row.fetchAll(
                db,
                sql: """
                    \(DeliveryRows.select) \(DeliveryRows.from)
                    WHERE d.state IN ('pending', 'inflight', 'expired') AND m.stored < ?
                    ORDER BY m.stored, m.id, d.recipient LIMIT ?
                    """,
                arguments: [StoreTime.seconds(queuedBefore), max(0, limit)]
            ).map(DeliveryRows.record)
        }
    }

    /// Undelivered (pending or in flight) deliveries per recipient.
    public func queueDepths() async throws(StoreError) -> [ParticipantID: Int] {
        try await read { db in
            var depths = [ParticipantID: Int]()
            for row in try Row.fetchAll(
                db,
                sql: """
                    SELECT recipient, count(*) AS n FROM delivery WHERE state IN ('pending', 'inflight') GROUP BY recipient
                    """
            ) {
                depths[try ParticipantID.stored(row["recipient"])] = row["n"]
            }
            return depths
        }
    }

    /// When the oldest message still undelivered to some recipient was queued, or nil if none is.
    public func oldestUndelivered() async throws(StoreError) -> Date? {
        try await read { db in
            try Int64.fetchOne(
                db,
                sql: """
                    SELECT min(m.stored) FROM delivery d JOIN message m ON m.rowid = d.message WHERE d.state IN ('pending', 'inflight')
                    """
            ).map(StoreTime.date)
        }
    }

    /// Number of stored messages per direction.
    public func messageCounts() async throws(StoreError) -> (sent: Int, received: Int) {
        try await read { db in
            let sent = try Int.fetchOne(db, sql: "SELECT count(*) FROM message WHERE direction = 0") ?? 0
            let received = try Int.fetchOne(db, sql: "SELECT count(*) FROM message WHERE direction = 1") ?? 0
            return (sent, received)
        }
    }
}
