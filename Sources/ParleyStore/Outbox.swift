import Foundation
import ParleyProtocol
import GRDB

/// One (outgoing message, recipient) delivery as stored.
public struct DeliveryRecord: Hashable, Sendable {
    public var messageID: MessageID
    public var type: UInt64
    public var sender: String
    public var recipient: String
    public var sequenceNumber: UInt64
    public var state: DeliveryState
    public var attempts: Int
    public var nextAttempt: Date
    public var lastError: String?
    /// When the message was queued.
    public var queued: Date
    /// When the delivery last changed state.
    public var updated: Date
    /// Digest of the receipt that settled the delivery (delivered or rejected).
    public var receiptDigest: Data?
    public var rejectionCode: UInt64?
    public var rejectionReason: String?
}

/// A change to outgoing deliveries, for `ParleyStore.applyDeliveryUpdates`.
public enum DeliveryUpdate: Hashable, Sendable {
    /// pending → in flight, counting an attempt (as `markInFlight(_:recipient:at:)`).
    case markInFlight([MessageID], recipient: String, at: Date)
    /// A verified receipt (as `recordReceipt`).
    case receipt(ReceivedReceipt)
}

/// What a `DeliveryUpdate` did.
public enum DeliveryUpdateOutcome: Hashable, Sendable {
    /// The ids that were pending and are now in flight.
    case markedInFlight([MessageID])
    case receipt(ReceiptOutcome)
}

/// A delivery due for an attempt, with the exact bytes to send.
public struct DueDelivery: Hashable, Sendable {
    public var record: DeliveryRecord
    public var bytes: Data
}

enum DeliveryRows {
    static let select = """
        SELECT m.id, m.type, d.sender, d.recipient, d.seq, d.state, d.attempts, d.next_attempt, d.last_error,
               m.stored AS queued, d.updated, r.digest AS receipt_digest, r.rejection_code, r.rejection_reason
        """
    static let from = from(indexedBy: nil)
    /// Pending deliveries of a recipient in channel order (schema v5), for `dueDeliveries`.
    static let dueOrder = from(indexedBy: "delivery_pending_order")

    /// The joins behind `select`; with `index`, SQLite must walk the deliveries through that index.
    static func from(indexedBy index: String?) -> String {
        let delivery = index.map { "delivery d INDEXED BY \($0)" } ?? "delivery d"
        return "FROM \(delivery) JOIN message m ON m.rowid = d.message LEFT JOIN receipt r ON r.rowid = d.receipt"
    }

    static func record(_ row: Row) -> DeliveryRecord {
        DeliveryRecord(
            messageID: MessageID(row["id"] as Data)!,
            type: UInt64(row["type"] as Int64),
            sender: row["sender"],
            recipient: row["recipient"],
            sequenceNumber: UInt64(row["seq"] as Int64),
            state: DeliveryState(rawValue: row["state"]) ?? .pending,
            attempts: row["attempts"],
            nextAttempt: StoreTime.date(row["next_attempt"]),
            lastError: row["last_error"],
            queued: StoreTime.date(row["queued"]),
            updated: StoreTime.date(row["updated"]),
            receiptDigest: row["receipt_digest"],
            rejectionCode: (row["rejection_code"] as Int64?).map { UInt64($0) },
            rejectionReason: row["rejection_reason"]
        )
    }
}

extension ParleyStore {
    // MARK: - Queueing

    /// Allocates the next sequence number of each (sender, recipient) channel, calls `build` with
    /// them (sign the envelope there), and stores the message with one pending delivery per
    /// recipient, all in one transaction. If `build` throws, nothing is stored and no number is used.
    ///
    /// Throws `StoreError`, or what `build` throws.
    @discardableResult
    public func enqueue(
        sender: ParticipantID,
        recipients: [ParticipantID],
        queuedAt: Date = Date(),
        build: @escaping @Sendable ([ParticipantID: UInt64]) throws -> MessageFields
    ) async throws -> QueuedMessage {
        let request = EnqueueRequest(sender: sender, recipients: recipients, build: build)
        try Self.validateChannel(sender: request.sender, recipients: request.recipients)
        let now = StoreTime.seconds(queuedAt)
        return try await write { db in
            try Self.enqueue(db, sender: request.sender, recipients: request.recipients, now: now, build: request.build)
        }
    }

    /// Queues several messages in one transaction: one durable commit for the whole batch. Each
    /// message is acknowledged (returned) only after the batch commits. If any `build` throws or any
    /// request is invalid, nothing of the batch is stored.
    public func enqueueBatch(_ requests: [EnqueueRequest], queuedAt: Date = Date()) async throws -> [QueuedMessage] {
        for request in requests {
            try Self.validateChannel(sender: request.sender, recipients: request.recipients)
        }
        let now = StoreTime.seconds(queuedAt)
        return try await write { db in
            try requests.map { request in
                try Self.enqueue(
                    db,
                    sender: request.sender,
                    recipients: request.recipients,
                    now: now,
                    build: request.build
                )
            }
        }
    }

    static func validateChannel(sender: String, recipients: [String]) throws(StoreError) {
        try ParticipantIDRule.check(sender, "sender")
        guard (1...256).contains(recipients.count) else {
            throw StoreError(.invalidArgument, "a message needs 1 to 256 recipients, not \(recipients.count)")
        }
        guard Set(recipients).count == recipients.count else {
            throw StoreError(.invalidArgument, "recipients \(recipients) name a participant twice")
        }
        for recipient in recipients {
            try ParticipantIDRule.check(recipient, "recipient")
            guard recipient != sender else {
                throw StoreError(.invalidArgument, "sender \(sender) cannot be one of its own recipients")
            }
        }
    }

    static func enqueue(
        _ db: Database,
        sender: String,
        recipients: [String],
        now: Int64,
        build: ([String: UInt64]) throws -> MessageFields
    ) throws -> QueuedMessage {
        let nextStatement = try db.cachedStatement(
            sql: "SELECT next_seq FROM channel_out WHERE sender = ? AND recipient = ?"
        )
        var sequenceNumbers = [String: UInt64]()
        for recipient in recipients {
            let next = try Int64.fetchOne(nextStatement, arguments: [sender, recipient]) ?? 1
            sequenceNumbers[recipient] = UInt64(next)
        }
        let fields = try build(sequenceNumbers)
        try MessageRows.validate(fields)
        if try MessageRows.rowid(db, id: fields.id) != nil {
            throw StoreError(
                .invalidArgument,
                "message id \(fields.id) is already stored; every message needs a new id (UUIDv7 or 16 random bytes)"
            )
        }
        let digest = fields.bytes.sha256
        let rowid = try MessageRows.insert(db, fields, direction: .sent, sender: sender, stored: now, digest: digest)
        let deliveryStatement = try db.cachedStatement(
            sql: """
                INSERT INTO delivery (message, sender, recipient, seq, state, attempts, next_attempt, updated)
                VALUES (?, ?, ?, ?, 'pending', 0, ?, ?)
                """
        )
        let channelStatement = try db.cachedStatement(
            sql: """
                INSERT INTO channel_out (sender, recipient, next_seq) VALUES (?, ?, ?)
                ON CONFLICT (sender, recipient) DO UPDATE SET next_seq = excluded.next_seq
                """
        )
        var detail = [String]()
        for recipient in recipients {
            let seq = Int64(sequenceNumbers[recipient]!)
            try deliveryStatement.execute(arguments: [rowid, sender, recipient, seq, now, now])
            try channelStatement.execute(arguments: [sender, recipient, seq + 1])
            detail.append("\(recipient)#\(seq)")
        }
        try Audit.append(
            db,
            .queued,
            at: now,
            message: fields.id,
            peer: nil,
            detail: "to \(detail.joined(separator: ", "))"
        )
        return QueuedMessage(id: fields.id, sequenceNumbers: sequenceNumbers, digest: digest)
    }

    // MARK: - Delivery

    /// Pending deliveries to `recipient` that may be sent at `now`, in channel order (SPEC.md §12.4):
    /// a channel's pending messages go once its first pending message is due, all together, and none
    /// goes while that first one waits for the retry of a failed attempt; so a backlog is sent in
    /// sequence order, not in the order its retry times (each with its own jitter) come.
    /// Messages behind the first one go with it even if their own retry time is later (a per-message
    /// Retry-After or a 4xx's wait applies to the channel's first message only). (A node's outbox holds
    /// one channel per recipient; with several, a channel whose first message is not due still counts
    /// towards `limit`, and the first channel's waiting head returns nothing.)
    public func dueDeliveries(
        to peer: ParticipantID,
        at now: Date = Date(),
        limit: Int = 100
    ) async throws(StoreError) -> [DueDelivery] {
        let recipient = peer.rawValue
        return try await read { db in
            // While the first channel's head waits (the usual blocked case), read nothing more.
            guard try Self.firstPendingIsDue(db, recipient: recipient, at: now) else { return [] }
            let pending = try Row.fetchAll(
                db.cachedStatement(
                    sql: """
                        \(DeliveryRows.select), m.bytes \(DeliveryRows.dueOrder)
                        WHERE d.recipient = ? AND d.state = 'pending'
                        ORDER BY d.sender, d.seq LIMIT ?
                        """
                ),
                arguments: [recipient, max(0, limit)]
            )
            .map { DueDelivery(record: DeliveryRows.record($0), bytes: $0["bytes"]) }
            var heads: [String: Bool] = [:]
            return pending.filter { delivery in
                if let due = heads[delivery.record.sender] { return due }
                let due = delivery.record.nextAttempt <= now
                heads[delivery.record.sender] = due
                return due
            }
        }
    }

    /// Makes every pending delivery to `recipient` due at `now` (the peer is reachable again).
    /// Returns how many were waiting for a later retry.
    @discardableResult
    public func makeDue(recipient peer: ParticipantID, at now: Date = Date()) async throws(StoreError) -> Int {
        let recipient = peer.rawValue
        let time = StoreTime.seconds(now)
        return try await writeStore { db in
            try db.execute(
                sql:
                    "UPDATE delivery SET next_attempt = ? WHERE recipient = ? AND state = 'pending' AND next_attempt > ?",
                arguments: [time, recipient, time]
            )
            return db.changesCount
        }
    }

    /// Recipients with at least one pending delivery due at `now`.
    public func peersWithDueDeliveries(at now: Date = Date()) async throws(StoreError) -> [ParticipantID] {
        try await read { db in
            try String.fetchAll(
                db,
                sql: "SELECT DISTINCT recipient FROM delivery WHERE state = 'pending' ORDER BY recipient"
            )
            .filter { try Self.firstPendingIsDue(db, recipient: $0, at: now) }
            .map(ParticipantID.stored)
        }
    }

    /// Whether the first pending delivery to `recipient`, in channel order, is due at `now`.
    static func firstPendingIsDue(_ db: Database, recipient: String, at now: Date) throws -> Bool {
        let next = try Int64.fetchOne(
            db.cachedStatement(
                sql: """
                    SELECT next_attempt FROM delivery INDEXED BY delivery_pending_order
                    WHERE recipient = ? AND state = 'pending' ORDER BY sender, seq LIMIT 1
                    """
            ),
            arguments: [recipient]
        )
        return next.map { StoreTime.date($0) <= now } ?? false
    }

    /// The earliest next-attempt time of any pending delivery (to schedule a wake-up), or nil.
    public func nextAttemptTime() async throws(StoreError) -> Date? {
        try await read { db in
            try Int64.fetchOne(db, sql: "SELECT min(next_attempt) FROM delivery WHERE state = 'pending'").map(
                StoreTime.date
            )
        }
    }

    /// The delivery of message `id` to `recipient`.
    public func delivery(_ id: MessageID, recipient peer: ParticipantID) async throws(StoreError) -> DeliveryRecord? {
        let recipient = peer.rawValue
        return try await read { db in
            try Row.fetchOne(
                db,
                sql: "\(DeliveryRows.select) \(DeliveryRows.from) WHERE m.id = ? AND d.recipient = ?",
                arguments: [id.data, recipient]
            ).map(DeliveryRows.record)
        }
    }

    /// pending → in flight, counting an attempt.
    public func markInFlight(_ id: MessageID, recipient peer: ParticipantID, at: Date = Date()) async throws(StoreError)
    {
        let recipient = peer.rawValue
        let now = StoreTime.seconds(at)
        try await writeStore { db in
            try Self.transition(
                db,
                id,
                recipient: recipient,
                from: [.pending],
                action: "mark in flight",
                set: "state = 'inflight', attempts = attempts + 1, updated = ?",
                arguments: [now]
            )
            try Audit.append(db, .attempt, at: now, message: id, peer: recipient)
        }
    }

    /// pending → in flight for several deliveries to `recipient` in one transaction (one durable
    /// commit), counting an attempt for each. Deliveries no longer pending (cancelled or settled
    /// meanwhile) are left alone. Returns the ids marked, in the order given.
    @discardableResult
    public func markInFlight(
        _ ids: [MessageID],
        recipient peer: ParticipantID,
        at: Date = Date()
    ) async throws(StoreError) -> [MessageID] {
        guard !ids.isEmpty else { return [] }
        let recipient = peer.rawValue
        return try await writeStore { db in
            try Self.markInFlight(db, ids, recipient: recipient, now: StoreTime.seconds(at))
        }
    }

    static func markInFlight(_ db: Database, _ ids: [MessageID], recipient: String, now: Int64) throws -> [MessageID] {
        let statement = try db.cachedStatement(
            sql: """
                UPDATE delivery SET state = 'inflight', attempts = attempts + 1, updated = ?
                WHERE message = (SELECT rowid FROM message WHERE id = ? AND direction = 0) AND recipient = ? AND state = 'pending'
                """
        )
        var marked: [MessageID] = []
        for id in ids {
            try statement.execute(arguments: [now, id.data, recipient])
            guard db.changesCount > 0 else { continue }
            try Audit.append(db, .attempt, at: now, message: id, peer: recipient)
            marked.append(id)
        }
        return marked
    }

    /// Applies delivery updates (deliveries marked in flight, receipts recorded) in one transaction,
    /// in the order given: one durable commit for all. If any update fails, nothing of the batch is
    /// stored and the first error is thrown (apply them one by one to learn which).
    public func applyDeliveryUpdates(_ updates: [DeliveryUpdate]) async throws(StoreError) -> [DeliveryUpdateOutcome] {
        for update in updates {
            if case .receipt(let receipt) = update { try Self.validate(receipt) }
        }
        return try await writeStore { db in
            try updates.map { update -> DeliveryUpdateOutcome in
                switch update {
                case .markInFlight(let ids, let recipient, let at):
                    return .markedInFlight(
                        try Self.markInFlight(db, ids, recipient: recipient, now: StoreTime.seconds(at))
                    )
                case .receipt(let receipt):
                    return .receipt(try Self.record(db, receipt))
                }
            }
        }
    }

    /// in flight → pending after a failed attempt, to be tried again at `nextAttempt` (the caller's
    /// backoff).
    public func recordAttemptFailure(
        _ id: MessageID,
        recipient peer: ParticipantID,
        error: String,
        nextAttempt: Date,
        at: Date = Date()
    ) async throws(StoreError) {
        let recipient = peer.rawValue
        let now = StoreTime.seconds(at)
        try await writeStore { db in
            try Self.transition(
                db,
                id,
                recipient: recipient,
                from: [.inFlight, .pending],
                action: "record a failed attempt",
                set: "state = 'pending', last_error = ?, next_attempt = ?, updated = ?",
                arguments: [error, StoreTime.seconds(nextAttempt), now]
            )
            try Audit.append(db, .attemptFailed, at: now, message: id, peer: recipient, detail: error)
        }
    }

    /// Stores a receipt received (and verified by the caller) for one of our messages and settles
    /// the delivery: accepted or duplicate → delivered, rejected → rejected.
    @discardableResult
    public func recordReceipt(_ receipt: ReceivedReceipt) async throws(StoreError) -> ReceiptOutcome {
        try Self.validate(receipt)
        return try await writeStore { db in try Self.record(db, receipt) }
    }

    static func validate(_ receipt: ReceivedReceipt) throws(StoreError) {
        try ParticipantIDRule.check(receipt.recipient, "receipt signer")
        guard !receipt.bytes.isEmpty else {
            throw StoreError(.invalidArgument, "receipt for \(receipt.messageID) has no bytes")
        }
        if case .rejected(let code, _) = receipt.status { _ = try code.storable("rejection code") }
    }

    static func record(_ db: Database, _ receipt: ReceivedReceipt) throws -> ReceiptOutcome {
        var rejectionCode: Int64?
        var rejectionReason: String?
        if case .rejected(let code, let reason) = receipt.status {
            rejectionCode = Int64(code)
            rejectionReason = reason
        }
        let now = StoreTime.seconds(receipt.received)
        let digest = receipt.bytes.sha256
        // Cached statements: this runs for every receipt a sender records.
        guard
            let row = try Row.fetchOne(
                db.cachedStatement(
                    sql: """
                        SELECT d.message, d.state FROM delivery d JOIN message m ON m.rowid = d.message
                        WHERE m.id = ? AND m.direction = 0 AND d.recipient = ?
                        """
                ),
                arguments: [receipt.messageID.data, receipt.recipient]
            )
        else {
            throw StoreError(
                .notFound,
                "receipt from \(receipt.recipient) for message \(receipt.messageID): no such message was sent to \(receipt.recipient); the receipt was not stored"
            )
        }
        if try Bool.fetchOne(
            db.cachedStatement(sql: "SELECT 1 FROM receipt WHERE message_id = ? AND digest = ?"),
            arguments: [receipt.messageID.data, digest]
        ) == true {
            return .alreadyStored
        }
        try db.cachedStatement(
            sql: """
                INSERT INTO receipt (message_id, direction, signer, status, rejection_code, rejection_reason, stored, bytes, digest)
                VALUES (?, 0, ?, ?, ?, ?, ?, ?, ?)
                """
        ).execute(arguments: [
            receipt.messageID.data, receipt.recipient, Int64(receipt.status.code),
            rejectionCode, rejectionReason, now, receipt.bytes, digest,
        ])
        let receiptRowid = db.lastInsertedRowID
        let state = DeliveryState(rawValue: row["state"]) ?? .pending
        guard state != .delivered && state != .rejected else {
            try Audit.append(
                db,
                .receiptReceived,
                at: now,
                message: receipt.messageID,
                peer: receipt.recipient,
                detail: "additional receipt, status \(receipt.status.code); delivery already \(state.rawValue)"
            )
            return .additional
        }
        let newState: DeliveryState
        if case .rejected(let code, let reason) = receipt.status {
            newState = .rejected
            try Audit.append(
                db,
                .rejected,
                at: now,
                message: receipt.messageID,
                peer: receipt.recipient,
                detail: "code \(code): \(reason)"
            )
        } else {
            newState = .delivered
            try Audit.append(
                db,
                .delivered,
                at: now,
                message: receipt.messageID,
                peer: receipt.recipient,
                detail: receipt.status == .duplicate ? "status duplicate" : "status accepted"
            )
        }
        try db.cachedStatement(
            sql: "UPDATE delivery SET state = ?, receipt = ?, updated = ? WHERE message = ? AND recipient = ?"
        )
        .execute(arguments: [newState.rawValue, receiptRowid, now, row["message"] as Int64, receipt.recipient])
        return .recorded(newState)
    }

    /// pending or in flight → expired (gave up).
    public func expire(
        _ id: MessageID,
        recipient peer: ParticipantID,
        reason: String,
        at: Date = Date()
    ) async throws(StoreError) {
        let recipient = peer.rawValue
        let now = StoreTime.seconds(at)
        try await writeStore { db in
            try Self.transition(
                db,
                id,
                recipient: recipient,
                from: [.pending, .inFlight],
                action: "expire",
                set: "state = 'expired', last_error = ?, updated = ?",
                arguments: [reason, now]
            )
            try Audit.append(db, .expired, at: now, message: id, peer: recipient, detail: reason)
        }
    }

    /// A delivery that expired without a receipt: which message, to whom, and the last error of its
    /// attempts (kept in the delivery's `lastError` after the expiry note).
    public struct ExpiredDelivery: Sendable, Hashable {
        public var messageID: MessageID
        public var recipient: String
        public var lastError: String?
    }

    /// Expires every pending or in-flight delivery of messages queued before `queuedBefore`.
    @discardableResult
    public func expireDeliveries(queuedBefore: Date, at: Date = Date()) async throws(StoreError) -> [ExpiredDelivery] {
        let now = StoreTime.seconds(at)
        return try await writeStore { db in
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT m.id, d.message, d.recipient, d.last_error FROM delivery d JOIN message m ON m.rowid = d.message
                    WHERE d.state IN ('pending', 'inflight') AND m.stored < ?
                    """,
                arguments: [StoreTime.seconds(queuedBefore)]
            )
            var expired: [ExpiredDelivery] = []
            for row in rows {
                let lastError: String? = row["last_error"]
                try db.execute(
                    sql:
                        "UPDATE delivery SET state = 'expired', last_error = ?, updated = ? WHERE message = ? AND recipient = ?",
                    arguments: [
                        "expired: no receipt in time" + (lastError.map { "; last error: \($0)" } ?? ""), now,
                        row["message"] as Int64, row["recipient"] as String,
                    ]
                )
                let id = MessageID(row["id"] as Data)
                try Audit.append(
                    db,
                    .expired,
                    at: now,
                    message: id,
                    peer: row["recipient"],
                    detail: "no receipt before the expiry time"
                )
                if let id {
                    expired.append(ExpiredDelivery(messageID: id, recipient: row["recipient"], lastError: lastError))
                }
            }
            return expired
        }
    }

    /// Operator: make deliveries of `id` (to `recipient`, or to every recipient not yet delivered)
    /// pending again, due at `at`. Returns how many deliveries were requeued. `note` is added to
    /// the audit event (who asked, why).
    @discardableResult
    public func retry(
        _ id: MessageID,
        recipient: ParticipantID? = nil,
        at: Date = Date(),
        note: String? = nil
    ) async throws(StoreError) -> Int {
        try await operatorAction(
            id,
            recipient: recipient?.rawValue,
            at: at,
            from: [.pending, .inFlight, .rejected, .expired, .cancelled],
            set: "state = 'pending', next_attempt = ?, updated = ?",
            kind: .retried,
            withNextAttempt: true,
            note: note
        )
    }

    /// Operator: stop trying to deliver `id` (to `recipient`, or to all recipients not yet settled).
    /// A delivered or rejected delivery is never cancelled. `note` is added to the audit event.
    @discardableResult
    public func cancel(
        _ id: MessageID,
        recipient: ParticipantID? = nil,
        at: Date = Date(),
        note: String? = nil
    ) async throws(StoreError) -> Int {
        try await operatorAction(
            id,
            recipient: recipient?.rawValue,
            at: at,
            from: [.pending, .inFlight, .expired],
            set: "state = 'cancelled', updated = ?",
            kind: .cancelled,
            withNextAttempt: false,
            note: note
        )
    }

    /// At start-up: deliveries left in flight by a previous run become pending, due at `at`.
    @discardableResult
    public func requeueInFlight(
        at: Date = Date(),
        nextAttemptNotAfter latest: Date? = nil
    ) async throws(StoreError) -> Int {
        let now = StoreTime.seconds(at)
        return try await writeStore { db in
            if let latest {
                // A retry time set by a clock that was ahead (stepped back since, or a restart on
                // another clock) would hold the delivery back for as long as it was ahead.
                try db.execute(
                    sql: "UPDATE delivery SET next_attempt = ? WHERE state = 'pending' AND next_attempt > ?",
                    arguments: [StoreTime.seconds(latest), StoreTime.seconds(latest)]
                )
            }
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT m.id, d.message, d.recipient FROM delivery d JOIN message m ON m.rowid = d.message WHERE d.state = 'inflight'
                    """
            )
            for row in rows {
                try db.execute(
                    sql:
                        "UPDATE delivery SET state = 'pending', next_attempt = ?, updated = ? WHERE message = ? AND recipient = ?",
                    arguments: [now, now, row["message"] as Int64, row["recipient"] as String]
                )
                try Audit.append(
                    db,
                    .requeued,
                    at: now,
                    message: MessageID(row["id"] as Data),
                    peer: row["recipient"],
                    detail: "was in flight when the previous run stopped"
                )
            }
            return rows.count
        }
    }

    private func operatorAction(
        _ id: MessageID,
        recipient: String?,
        at: Date,
        from: Set<DeliveryState>,
        set: String,
        kind: AuditKind,
        withNextAttempt: Bool,
        note: String?
    ) async throws(StoreError) -> Int {
        let now = StoreTime.seconds(at)
        return try await writeStore { db in
            try Self.operatorAction(
                db,
                id,
                recipient: recipient,
                now: now,
                from: from,
                set: set,
                kind: kind,
                withNextAttempt: withNextAttempt,
                note: note
            )
        }
    }

    /// The change behind `retry` and `cancel`, inside their transaction.
    static func operatorAction(
        _ db: Database,
        _ id: MessageID,
        recipient: String?,
        now: Int64,
        from: Set<DeliveryState>,
        set: String,
        kind: AuditKind,
        withNextAttempt: Bool,
        note: String?
    ) throws -> Int {
        guard let rowid = try MessageRows.rowid(db, id: id),
            try Int.fetchOne(db, sql: "SELECT direction FROM message WHERE rowid = ?", arguments: [rowid])
                == MessageDirection.sent.rawValue
        else {
            throw StoreError(.notFound, "no sent message \(id) in the outbox; check the id")
        }
        var recipients = try String.fetchAll(
            db,
            sql: "SELECT recipient FROM delivery WHERE message = ? ORDER BY recipient",
            arguments: [rowid]
        )
        if let recipient {
            guard recipients.contains(recipient) else {
                throw StoreError(
                    .notFound,
                    "message \(id) was not sent to \(recipient); its recipients are \(recipients.joined(separator: ", "))"
                )
            }
            recipients = [recipient]
        }
        let states = from.map { "'\($0.rawValue)'" }.sorted().joined(separator: ", ")
        var changed = 0
        for peer in recipients {
            let arguments: StatementArguments = withNextAttempt ? [now, now, rowid, peer] : [now, rowid, peer]
            try db.execute(
                sql: "UPDATE delivery SET \(set) WHERE message = ? AND recipient = ? AND state IN (\(states))",
                arguments: arguments
            )
            if db.changesCount > 0 {
                changed += 1
                try Audit.append(
                    db,
                    kind,
                    at: now,
                    message: id,
                    peer: peer,
                    detail: "by the operator" + (note.map { ": \($0)" } ?? "")
                )
                if withNextAttempt {
                    // The channel moves in order (`dueDeliveries`): the undelivered messages before
                    // this one to the same recipient become due with it, and go first.
                    try db.execute(
                        sql: """
                            UPDATE delivery SET next_attempt = ?
                            WHERE recipient = ? AND state = 'pending' AND next_attempt > ?
                              AND sender = (SELECT sender FROM delivery WHERE message = ? AND recipient = ?)
                              AND seq < (SELECT seq FROM delivery WHERE message = ? AND recipient = ?)
                            """,
                        arguments: [now, peer, now, rowid, peer, rowid, peer]
                    )
                }
            }
        }
        if changed == 0, let recipient {
            let state =
                try String.fetchOne(
                    db,
                    sql: "SELECT state FROM delivery WHERE message = ? AND recipient = ?",
                    arguments: [rowid, recipient]
                ) ?? "?"
            throw StoreError(
                .invalidState,
                "cannot \(kind == .retried ? "retry" : "cancel") the delivery of \(id) to \(recipient): it is \(state)"
            )
        }
        return changed
    }

    static func transition(
        _ db: Database,
        _ id: MessageID,
        recipient: String,
        from: Set<DeliveryState>,
        action: String,
        set: String,
        arguments: StatementArguments
    ) throws {
        let states = from.map { "'\($0.rawValue)'" }.sorted().joined(separator: ", ")
        try db.execute(
            sql: """
                UPDATE delivery SET \(set)
                WHERE message = (SELECT rowid FROM message WHERE id = ? AND direction = 0) AND recipient = ? AND state IN (\(states))
                """,
            arguments: arguments + [id.data, recipient]
        )
        guard db.changesCount == 0 else { return }
        guard
            let state = try String.fetchOne(
                db,
                sql: """
                    SELECT d.state FROM delivery d JOIN message m ON m.rowid = d.message WHERE m.id = ? AND d.recipient = ?
                    """,
                arguments: [id.data, recipient]
            )
        else {
            throw StoreError(
                .notFound,
                "no delivery of message \(id) to \(recipient) in the outbox; check the id and the peer"
            )
        }
        throw StoreError(.invalidState, "cannot \(action) the delivery of \(id) to \(recipient): it is \(state)")
    }
}
