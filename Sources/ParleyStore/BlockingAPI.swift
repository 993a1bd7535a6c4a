import Foundation
import GRDB
import ParleyProtocol

/// The blocking forms of the store's methods, for callers not yet moved to the async API: each blocks
/// the calling thread on SQLite and on fsync. Removed once no caller is left.
extension ParleyStore {
    // MARK: - ParleyStore.swift

    /// The schema version recorded in the file.
    public func storedSchemaVersion() throws(StoreError) -> Int {
        try readBlocking { db in try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0 }
    }

    /// Runs SQLite's `quick_check` (reads every page: time grows with the store). Returns nothing when
    /// the store is sound; throws `.corrupt` with SQLite's findings otherwise.
    public func checkIntegrity() throws(StoreError) {
        let findings = try readBlocking { db in try String.fetchAll(db, sql: "PRAGMA quick_check") }
        guard findings == ["ok"] else {
            throw StoreError(.corrupt, "the store \(path) failed its integrity check: \(findings.prefix(5).joined(separator: "; ")). Stop the daemon and restore a backup or the last archive")
        }
    }

    // MARK: - Outbox.swift

    /// Allocates the next sequence number of each (sender, recipient) channel, calls `build` with
    /// them (sign the envelope there), and stores the message with one pending delivery per
    /// recipient, all in one transaction. If `build` throws, nothing is stored and no number is used.
    ///
    /// Throws `StoreError`, or what `build` throws.
    @discardableResult
    public func enqueue(sender: String, recipients: [String], queuedAt: Date = Date(),
                        build: ([String: UInt64]) throws -> MessageFields) throws -> QueuedMessage {
        try Self.validateChannel(sender: sender, recipients: recipients)
        let now = StoreTime.seconds(queuedAt)
        return try writeBlocking { db in
            try Self.enqueue(db, sender: sender, recipients: recipients, now: now, build: build)
        }
    }

    /// Queues several messages in one transaction: one durable commit for the whole batch. Each
    /// message is acknowledged (returned) only after the batch commits. If any `build` throws or any
    /// request is invalid, nothing of the batch is stored.
    public func enqueueBatch(_ requests: [EnqueueRequest], queuedAt: Date = Date()) throws -> [QueuedMessage] {
        for request in requests {
            try Self.validateChannel(sender: request.sender, recipients: request.recipients)
        }
        let now = StoreTime.seconds(queuedAt)
        return try writeBlocking { db in
            try requests.map { request in
                try Self.enqueue(db, sender: request.sender, recipients: request.recipients, now: now, build: request.build)
            }
        }
    }

    /// Pending deliveries to `recipient` that may be sent at `now`, in channel order (SPEC.md §12.4):
    /// a channel's pending messages go once its first pending message is due, all together, and none
    /// goes while that first one waits for the retry of a failed attempt; so a backlog is sent in
    /// sequence order, not in the order its retry times (each with its own jitter) come.
    /// Messages behind the first one go with it even if their own retry time is later (a per-message
    /// Retry-After or a 4xx's wait applies to the channel's first message only). (A node's outbox holds
    /// one channel per recipient; with several, a channel whose first message is not due still counts
    /// towards `limit`, and the first channel's waiting head returns nothing.)
    public func dueDeliveries(to recipient: String, at now: Date = Date(), limit: Int = 100) throws(StoreError) -> [DueDelivery] {
        try readBlocking { db in
            // While the first channel's head waits (the usual blocked case), read nothing more.
            guard try Self.firstPendingIsDue(db, recipient: recipient, at: now) else { return [] }
            let pending = try Row.fetchAll(db.cachedStatement(sql: """
                \(DeliveryRows.select), m.bytes \(DeliveryRows.dueOrder)
                WHERE d.recipient = ? AND d.state = 'pending'
                ORDER BY d.sender, d.seq LIMIT ?
                """), arguments: [recipient, max(0, limit)])
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
    public func makeDue(recipient: String, at now: Date = Date()) throws(StoreError) -> Int {
        let time = StoreTime.seconds(now)
        return try writeStoreBlocking { db in
            try db.execute(sql: "UPDATE delivery SET next_attempt = ? WHERE recipient = ? AND state = 'pending' AND next_attempt > ?",
                           arguments: [time, recipient, time])
            return db.changesCount
        }
    }

    /// Recipients with at least one pending delivery due at `now`.
    public func peersWithDueDeliveries(at now: Date = Date()) throws(StoreError) -> [String] {
        try readBlocking { db in
            try String.fetchAll(db, sql: "SELECT DISTINCT recipient FROM delivery WHERE state = 'pending' ORDER BY recipient")
                .filter { try Self.firstPendingIsDue(db, recipient: $0, at: now) }
        }
    }

    /// The earliest next-attempt time of any pending delivery (to schedule a wake-up), or nil.
    public func nextAttemptTime() throws(StoreError) -> Date? {
        try readBlocking { db in
            try Int64.fetchOne(db, sql: "SELECT min(next_attempt) FROM delivery WHERE state = 'pending'").map(StoreTime.date)
        }
    }

    /// The delivery of message `id` to `recipient`.
    public func delivery(_ id: MessageID, recipient: String) throws(StoreError) -> DeliveryRecord? {
        try readBlocking { db in
            try Row.fetchOne(db, sql: "\(DeliveryRows.select) \(DeliveryRows.from) WHERE m.id = ? AND d.recipient = ?",
                             arguments: [id.data, recipient]).map(DeliveryRows.record)
        }
    }

    /// pending → in flight, counting an attempt.
    public func markInFlight(_ id: MessageID, recipient: String, at: Date = Date()) throws(StoreError) {
        let now = StoreTime.seconds(at)
        try writeStoreBlocking { db in
            try Self.transition(db, id, recipient: recipient, from: [.pending], action: "mark in flight",
                                set: "state = 'inflight', attempts = attempts + 1, updated = ?", arguments: [now])
            try Audit.append(db, .attempt, at: now, message: id, peer: recipient)
        }
    }

    /// pending → in flight for several deliveries to `recipient` in one transaction (one durable
    /// commit), counting an attempt for each. Deliveries no longer pending (cancelled or settled
    /// meanwhile) are left alone. Returns the ids marked, in the order given.
    @discardableResult
    public func markInFlight(_ ids: [MessageID], recipient: String, at: Date = Date()) throws(StoreError) -> [MessageID] {
        guard !ids.isEmpty else { return [] }
        return try writeStoreBlocking { db in try Self.markInFlight(db, ids, recipient: recipient, now: StoreTime.seconds(at)) }
    }

    /// Applies delivery updates (deliveries marked in flight, receipts recorded) in one transaction,
    /// in the order given: one durable commit for all. If any update fails, nothing of the batch is
    /// stored and the first error is thrown (apply them one by one to learn which).
    public func applyDeliveryUpdates(_ updates: [DeliveryUpdate]) throws(StoreError) -> [DeliveryUpdateOutcome] {
        for update in updates {
            if case .receipt(let receipt) = update { try Self.validate(receipt) }
        }
        return try writeStoreBlocking { db in
            try updates.map { update -> DeliveryUpdateOutcome in
                switch update {
                case .markInFlight(let ids, let recipient, let at):
                    return .markedInFlight(try Self.markInFlight(db, ids, recipient: recipient, now: StoreTime.seconds(at)))
                case .receipt(let receipt):
                    return .receipt(try Self.record(db, receipt))
                }
            }
        }
    }

    /// in flight → pending after a failed attempt, to be tried again at `nextAttempt` (the caller's
    /// backoff).
    public func recordAttemptFailure(_ id: MessageID, recipient: String, error: String, nextAttempt: Date,
                                     at: Date = Date()) throws(StoreError) {
        let now = StoreTime.seconds(at)
        try writeStoreBlocking { db in
            try Self.transition(db, id, recipient: recipient, from: [.inFlight, .pending], action: "record a failed attempt",
                                set: "state = 'pending', last_error = ?, next_attempt = ?, updated = ?",
                                arguments: [error, StoreTime.seconds(nextAttempt), now])
            try Audit.append(db, .attemptFailed, at: now, message: id, peer: recipient, detail: error)
        }
    }

    /// Stores a receipt received (and verified by the caller) for one of our messages and settles
    /// the delivery: accepted or duplicate → delivered, rejected → rejected.
    @discardableResult
    public func recordReceipt(_ receipt: ReceivedReceipt) throws(StoreError) -> ReceiptOutcome {
        try Self.validate(receipt)
        return try writeStoreBlocking { db in try Self.record(db, receipt) }
    }

    /// pending or in flight → expired (gave up).
    public func expire(_ id: MessageID, recipient: String, reason: String, at: Date = Date()) throws(StoreError) {
        let now = StoreTime.seconds(at)
        try writeStoreBlocking { db in
            try Self.transition(db, id, recipient: recipient, from: [.pending, .inFlight], action: "expire",
                                set: "state = 'expired', last_error = ?, updated = ?", arguments: [reason, now])
            try Audit.append(db, .expired, at: now, message: id, peer: recipient, detail: reason)
        }
    }

    /// Expires every pending or in-flight delivery of messages queued before `queuedBefore`.
    @discardableResult
    public func expireDeliveries(queuedBefore: Date, at: Date = Date()) throws(StoreError) -> [ExpiredDelivery] {
        let now = StoreTime.seconds(at)
        return try writeStoreBlocking { db in
            let rows = try Row.fetchAll(db, sql: """
                SELECT m.id, d.message, d.recipient, d.last_error FROM delivery d JOIN message m ON m.rowid = d.message
                WHERE d.state IN ('pending', 'inflight') AND m.stored < ?
                """, arguments: [StoreTime.seconds(queuedBefore)])
            var expired: [ExpiredDelivery] = []
            for row in rows {
                let lastError: String? = row["last_error"]
                try db.execute(sql: "UPDATE delivery SET state = 'expired', last_error = ?, updated = ? WHERE message = ? AND recipient = ?",
                               arguments: ["expired: no receipt in time" + (lastError.map { "; last error: \($0)" } ?? ""), now,
                                           row["message"] as Int64, row["recipient"] as String])
                let id = MessageID(row["id"] as Data)
                try Audit.append(db, .expired, at: now, message: id, peer: row["recipient"], detail: "no receipt before the expiry time")
                if let id { expired.append(ExpiredDelivery(messageID: id, recipient: row["recipient"], lastError: lastError)) }
            }
            return expired
        }
    }

    /// Operator: make deliveries of `id` (to `recipient`, or to every recipient not yet delivered)
    /// pending again, due at `at`. Returns how many deliveries were requeued. `note` is added to
    /// the audit event (who asked, why).
    @discardableResult
    public func retry(_ id: MessageID, recipient: String? = nil, at: Date = Date(), note: String? = nil) throws(StoreError) -> Int {
        try writeStoreBlocking { db in
            try Self.operatorAction(db, id, recipient: recipient, now: StoreTime.seconds(at), from: [.pending, .inFlight, .rejected, .expired, .cancelled],
                                    set: "state = 'pending', next_attempt = ?, updated = ?", kind: .retried, withNextAttempt: true, note: note)
        }
    }

    /// Operator: stop trying to deliver `id` (to `recipient`, or to all recipients not yet settled).
    /// A delivered or rejected delivery is never cancelled. `note` is added to the audit event.
    @discardableResult
    public func cancel(_ id: MessageID, recipient: String? = nil, at: Date = Date(), note: String? = nil) throws(StoreError) -> Int {
        try writeStoreBlocking { db in
            try Self.operatorAction(db, id, recipient: recipient, now: StoreTime.seconds(at), from: [.pending, .inFlight, .expired],
                                    set: "state = 'cancelled', updated = ?", kind: .cancelled, withNextAttempt: false, note: note)
        }
    }

    /// At start-up: deliveries left in flight by a previous run become pending, due at `at`.
    @discardableResult
    public func requeueInFlight(at: Date = Date(), nextAttemptNotAfter latest: Date? = nil) throws(StoreError) -> Int {
        let now = StoreTime.seconds(at)
        return try writeStoreBlocking { db in
            if let latest {
                // A retry time set by a clock that was ahead (stepped back since, or a restart on
                // another clock) would hold the delivery back for as long as it was ahead.
                try db.execute(sql: "UPDATE delivery SET next_attempt = ? WHERE state = 'pending' AND next_attempt > ?",
                               arguments: [StoreTime.seconds(latest), StoreTime.seconds(latest)])
            }
            let rows = try Row.fetchAll(db, sql: """
                SELECT m.id, d.message, d.recipient FROM delivery d JOIN message m ON m.rowid = d.message WHERE d.state = 'inflight'
                """)
            for row in rows {
                try db.execute(sql: "UPDATE delivery SET state = 'pending', next_attempt = ?, updated = ? WHERE message = ? AND recipient = ?",
                               arguments: [now, now, row["message"] as Int64, row["recipient"] as String])
                try Audit.append(db, .requeued, at: now, message: MessageID(row["id"] as Data), peer: row["recipient"],
                                 detail: "was in flight when the previous run stopped")
            }
            return rows.count
        }
    }

    // MARK: - Inbox.swift

    /// Stores a message received from a peer (decoded and verified by the caller) exactly once.
    ///
    /// - New id and unused sequence number: stores the bytes, fields, the receipt returned by
    ///   `buildReceipt` (called inside the transaction), updates the channel → `.accepted`.
    /// - Same id, same bytes → `.duplicate(storedReceipt:)`, nothing changed.
    /// - Same id, different bytes → `.equivocation`, recorded as an alert, nothing else changed.
    /// - Sequence number already used by another id → `.replay`, recorded as an alert, nothing else
    ///   changed.
    ///
    /// Throws `StoreError`, or what `buildReceipt` throws (then nothing is stored).
    public func accept(_ message: IncomingMessage, buildReceipt: (IncomingMessage) throws -> Data) throws -> AcceptOutcome {
        try Self.validate(message)
        return try writeBlocking { db in try Self.accept(db, message, buildReceipt: buildReceipt) }
    }

    /// Accepts several messages in one transaction (one durable commit); outcomes in request order.
    /// If any receipt builder throws or any request is invalid, nothing of the batch is stored.
    public func acceptBatch(_ requests: [AcceptRequest]) throws -> [AcceptOutcome] {
        for request in requests { try Self.validate(request.message) }
        return try writeBlocking { db in
            try requests.map { try Self.accept(db, $0.message, buildReceipt: $0.buildReceipt) }
        }
    }

    /// Incoming channels with their gaps.
    public func incomingChannels() throws(StoreError) -> [IncomingChannel] {
        try readBlocking { db in
            let gaps = try Self.fetchGaps(db, sender: nil, recipient: nil)
            return try Row.fetchAll(db, sql: "SELECT sender, recipient, contiguous, highest FROM channel_in ORDER BY sender, recipient").map { row in
                let sender: String = row["sender"], recipient: String = row["recipient"]
                return IncomingChannel(sender: sender, recipient: recipient,
                                       contiguous: UInt64(row["contiguous"] as Int64), highest: UInt64(row["highest"] as Int64),
                                       gaps: gaps.filter { $0.sender == sender && $0.recipient == recipient })
            }
        }
    }

    /// Outgoing channels and their next sequence numbers.
    public func outgoingChannels() throws(StoreError) -> [OutgoingChannel] {
        try readBlocking { db in
            try Row.fetchAll(db, sql: "SELECT sender, recipient, next_seq FROM channel_out ORDER BY sender, recipient").map { row in
                OutgoingChannel(sender: row["sender"], recipient: row["recipient"], nextSequenceNumber: UInt64(row["next_seq"] as Int64))
            }
        }
    }

    /// Current gaps, optionally of one channel, in channel and number order.
    public func gaps(sender: String? = nil, recipient: String? = nil) throws(StoreError) -> [ChannelGap] {
        try readBlocking { db in try Self.fetchGaps(db, sender: sender, recipient: recipient) }
    }

    // MARK: - Queries.swift

    /// Received messages matching `query`, newest first.
    public func inbox(_ query: InboxQuery) throws(StoreError) -> [StoredMessage] {
        guard let (conditions, filters) = inboxConditions(query) else { return [] }
        let arguments = filters + [max(0, query.limit)]
        let sql = """
            SELECT \(MessageQueries.columns) \(MessageQueries.from)
            WHERE \(conditions.joined(separator: " AND ")) ORDER BY m.created DESC, m.rowid DESC LIMIT ?
            """
        return try readBlocking { db in
            try Row.fetchAll(db, sql: sql, arguments: arguments).map { try MessageQueries.message(db, $0) }
        }
    }

    /// How many received messages match `query` after its position (its limit ignored): with the
    /// length of a page, how many more there are.
    public func inboxCount(_ query: InboxQuery) throws(StoreError) -> Int {
        guard let (conditions, arguments) = inboxConditions(query) else { return 0 }
        let sql = "SELECT count(*) \(MessageQueries.from) WHERE \(conditions.joined(separator: " AND "))"
        return try readBlocking { db in try Int.fetchOne(db, sql: sql, arguments: arguments) ?? 0 }
    }

    /// Deliveries matching `query`, oldest queued first (or newest first), by recipient within a message.
    public func outbox(_ query: OutboxQuery) throws(StoreError) -> [DeliveryRecord] {
        var (conditions, arguments) = outboxConditions(query)
        arguments += [max(0, query.limit)]
        let order = query.newestFirst ? "m.stored DESC, m.id DESC, d.recipient" : "m.stored, m.id, d.recipient"
        let sql = """
            \(DeliveryRows.select) \(DeliveryRows.from)
            WHERE \(conditions.joined(separator: " AND ")) ORDER BY \(order) LIMIT ?
            """
        return try readBlocking { db in try Row.fetchAll(db, sql: sql, arguments: arguments).map(DeliveryRows.record) }
    }

    /// How many deliveries match `query` after its position (its limit ignored).
    public func outboxCount(_ query: OutboxQuery) throws(StoreError) -> Int {
        let (conditions, arguments) = outboxConditions(query)
        let sql = "SELECT count(*) \(DeliveryRows.from) WHERE \(conditions.joined(separator: " AND "))"
        return try readBlocking { db in try Int.fetchOne(db, sql: sql, arguments: arguments) ?? 0 }
    }

    /// The digest of the received message with this id, if there is one: one indexed lookup, the
    /// cheap first test of a duplicate delivery (SPEC.md §9.1 step 5) for every incoming message.
    public func receivedDigest(of id: MessageID) throws(StoreError) -> Data? {
        try receivedDigests(of: [id])[id]
    }

    /// `receivedDigest` for several ids in one read (a batch request): the ids of received messages
    /// that are stored, with their digests.
    public func receivedDigests(of ids: [MessageID]) throws(StoreError) -> [MessageID: Data] {
        try readBlocking { db in
            let statement = try db.cachedStatement(sql: "SELECT digest FROM message WHERE id = ? AND direction = ?")
            var digests: [MessageID: Data] = [:]
            for id in ids {
                if let digest = try Data.fetchOne(statement, arguments: [id.data, MessageDirection.received.rawValue]) { digests[id] = digest }
            }
            return digests
        }
    }

    /// A message (either direction) with its deliveries and all its receipts, or nil.
    public func message(_ id: MessageID) throws(StoreError) -> MessageRecord? {
        try readBlocking { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT \(MessageQueries.columns) \(MessageQueries.from) WHERE m.id = ?",
                                             arguments: [id.data]) else { return nil }
            let message = try MessageQueries.message(db, row)
            let deliveries = try Row.fetchAll(db, sql: "\(DeliveryRows.select) \(DeliveryRows.from) WHERE d.message = ? ORDER BY d.recipient",
                                              arguments: [message.rowid]).map(DeliveryRows.record)
            return MessageRecord(message: message, deliveries: deliveries, receipts: try MessageQueries.receipts(db, messageID: id))
        }
    }

    /// The reference chain of `id`: the messages it references (transitively, up to the original),
    /// and everything that references any of those (transitively: extensions, corrections,
    /// cancellations, responses, acknowledgements), oldest first. Empty if `id` is not stored.
    public func referenceChain(of id: MessageID, limit: Int = 10_000) throws(StoreError) -> [MessageRecord] {
        try readBlocking { db in
            let ids = try Data.fetchAll(db, sql: """
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
                """, arguments: [id.data, max(0, limit)])
            return try ids.compactMap { bytes in
                guard let row = try Row.fetchOne(db, sql: "SELECT \(MessageQueries.columns) \(MessageQueries.from) WHERE m.id = ?",
                                                 arguments: [bytes]) else { return nil }
                let message = try MessageQueries.message(db, row)
                let deliveries = try Row.fetchAll(db, sql: "\(DeliveryRows.select) \(DeliveryRows.from) WHERE d.message = ? ORDER BY d.recipient",
                                                  arguments: [message.rowid]).map(DeliveryRows.record)
                return MessageRecord(message: message, deliveries: deliveries,
                                     receipts: try MessageQueries.receipts(db, messageID: message.fields.id))
            }
        }
    }

    /// Sent messages queued before `queuedBefore` that some recipient has not receipted (delivery
    /// pending, in flight or expired), oldest first, with those deliveries.
    public func overdue(queuedBefore: Date, limit: Int = 1000) throws(StoreError) -> [DeliveryRecord] {
        try readBlocking { db in
            try Row.fetchAll(db, sql: """
                \(DeliveryRows.select) \(DeliveryRows.from)
                WHERE d.state IN ('pending', 'inflight', 'expired') AND m.stored < ?
                ORDER BY m.stored, m.id, d.recipient LIMIT ?
                """, arguments: [StoreTime.seconds(queuedBefore), max(0, limit)]).map(DeliveryRows.record)
        }
    }

    /// Undelivered (pending or in flight) deliveries per recipient.
    public func queueDepths() throws(StoreError) -> [String: Int] {
        try readBlocking { db in
            var depths = [String: Int]()
            for row in try Row.fetchAll(db, sql: """
                SELECT recipient, count(*) AS n FROM delivery WHERE state IN ('pending', 'inflight') GROUP BY recipient
                """) {
                depths[row["recipient"]] = row["n"]
            }
            return depths
        }
    }

    /// When the oldest message still undelivered to some recipient was queued, or nil if none is.
    public func oldestUndelivered() throws(StoreError) -> Date? {
        try readBlocking { db in
            try Int64.fetchOne(db, sql: """
                SELECT min(m.stored) FROM delivery d JOIN message m ON m.rowid = d.message WHERE d.state IN ('pending', 'inflight')
                """).map(StoreTime.date)
        }
    }

    /// Number of stored messages per direction.
    public func messageCounts() throws(StoreError) -> (sent: Int, received: Int) {
        try readBlocking { db in
            let sent = try Int.fetchOne(db, sql: "SELECT count(*) FROM message WHERE direction = 0") ?? 0
            let received = try Int.fetchOne(db, sql: "SELECT count(*) FROM message WHERE direction = 1") ?? 0
            return (sent, received)
        }
    }

    // MARK: - Audit.swift

    /// Audit events after position `after` (0 for the start), oldest first.
    public func auditEvents(after: Int64 = 0, kinds: Set<AuditKind>? = nil, messageID: MessageID? = nil,
                            limit: Int = 1000) throws(StoreError) -> [AuditEvent] {
        var sql = "SELECT rowid, at, kind, message_id, peer, detail FROM audit WHERE rowid > ?"
        var arguments: StatementArguments = [after]
        if let kinds {
            guard !kinds.isEmpty else { return [] }
            sql += " AND kind IN (\(Array(repeating: "?", count: kinds.count).joined(separator: ",")))"
            for kind in kinds.sorted(by: { $0.rawValue < $1.rawValue }) { arguments += [kind.rawValue] }
        }
        if let messageID {
            sql += " AND message_id = ?"
            arguments += [messageID.data]
        }
        sql += " ORDER BY rowid LIMIT ?"
        arguments += [max(0, limit)]
        return try readBlocking { db in
            try Row.fetchAll(db, sql: sql, arguments: arguments).map { row in
                AuditEvent(
                    sequence: row["rowid"],
                    at: StoreTime.date(row["at"]),
                    kindName: row["kind"],
                    messageID: (row["message_id"] as Data?).flatMap { MessageID($0) },
                    peer: row["peer"],
                    detail: row["detail"])
            }
        }
    }

    /// How many alerts (equivocations and replays) the audit log holds.
    public func alertCount() throws(StoreError) -> Int {
        let kinds = AuditKind.allCases.filter(\.isAlert).map { "'\($0.rawValue)'" }.joined(separator: ", ")
        return try readBlocking { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM audit WHERE kind IN (\(kinds))") ?? 0 }
    }

    /// Alerts (equivocations and replays) after position `after`.
    public func alerts(after: Int64 = 0, limit: Int = 1000) throws(StoreError) -> [AuditEvent] {
        try auditEvents(after: after, kinds: Set(AuditKind.allCases.filter(\.isAlert)), limit: limit)
    }

    // MARK: - Receipts.swift

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
        try writeStoreBlocking { db in
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
        try readBlocking { db in
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
        let (receiptWhere, receiptArguments, rejectionWhere, rejectionArguments) = receiptConditions(query)
        let limit = max(0, query.limit)
        return try readBlocking { db in
            var listings: [ReceiptListing] = []
            if let receiptWhere {
                listings += try Row.fetchAll(db, sql: """
                    SELECT r.direction, r.message_id, r.signer, r.status, r.rejection_code, r.rejection_reason, r.stored, r.bytes, r.digest,
                           CASE r.direction WHEN 0 THEN r.signer ELSE m.sender END AS peer, r.rowid
                    FROM receipt r LEFT JOIN message m ON m.id = r.message_id
                    WHERE \(receiptWhere) ORDER BY r.stored DESC, r.rowid DESC LIMIT ?
                    """, arguments: receiptArguments + [limit]).map { row in
                    ReceiptListing(receipt: MessageQueries.receipt(row), peer: row["peer"] ?? "", messageStored: true,
                                   cursor: ReceiptCursor(stored: row["stored"], table: 0, rowid: row["rowid"]))
                }
            }
            if let rejectionWhere {
                listings += try Row.fetchAll(db, sql: """
                    SELECT x.rowid, x.message_id, x.sender, x.signer, x.rejection_code, x.rejection_reason, x.stored, x.bytes, x.digest
                    FROM issued_rejection x WHERE \(rejectionWhere) ORDER BY x.stored DESC, x.rowid DESC LIMIT ?
                    """, arguments: rejectionArguments + [limit]).map { row in
                    let receipt = StoredReceipt(direction: .issued, messageID: MessageID(row["message_id"] as Data)!, signer: row["signer"],
                                                status: .rejected(code: UInt64(row["rejection_code"] as Int64), reason: row["rejection_reason"]),
                                                stored: StoreTime.date(row["stored"]), bytes: row["bytes"], digest: row["digest"])
                    return ReceiptListing(receipt: receipt, peer: row["sender"], messageStored: false,
                                          cursor: ReceiptCursor(stored: row["stored"], table: 1, rowid: row["rowid"]))
                }
            }
            let key = { (c: ReceiptCursor) in (c.stored, c.table, c.rowid) }
            return listings.sorted { key($0.cursor) > key($1.cursor) }.prefix(limit).map { $0 }
        }
    }

    /// How many receipts match `query` after its position (its limit ignored).
    public func receiptsCount(_ query: ReceiptQuery) throws(StoreError) -> Int {
        let (receiptWhere, receiptArguments, rejectionWhere, rejectionArguments) = receiptConditions(query)
        return try readBlocking { db in
            var count = 0
            if let receiptWhere {
                count += try Int.fetchOne(db, sql: "SELECT count(*) FROM receipt r LEFT JOIN message m ON m.id = r.message_id WHERE \(receiptWhere)",
                                          arguments: receiptArguments) ?? 0
            }
            if let rejectionWhere {
                count += try Int.fetchOne(db, sql: "SELECT count(*) FROM issued_rejection x WHERE \(rejectionWhere)", arguments: rejectionArguments) ?? 0
            }
            return count
        }
    }

    // MARK: - Retention.swift

    /// Deletes every message (both directions) stored before `cutoff`, with its deliveries, inbox
    /// entry, references and receipts, in one transaction, and records one `purged` audit event
    /// with the counts. A message with a pending or in-flight delivery is kept (and counted).
    ///
    /// With `archive`, the file is first checked (ARCHIVE.md §4 steps 1–4), and every message to
    /// delete must be in it with the same bytes, together with every receipt the store holds for
    /// it; otherwise nothing is deleted (`.invalidState`). Channel state and the audit log are never
    /// deleted, so sequence numbers are never reused; a purged message that arrives again is
    /// answered as a replay (its number is used), not as a duplicate.
    @discardableResult
    public func purge(receivedOrQueuedBefore cutoff: Date, requireArchivedIn archive: String?,
                      at: Date = Date()) throws(StoreError) -> PurgeSummary {
        let cutoffSeconds = StoreTime.seconds(cutoff)
        var summary = PurgeSummary(cutoff: StoreTime.date(cutoffSeconds))
        // Message id → (message digest, receipt digests) as archived.
        var archived: [MessageID: (Data, Set<Data>)]?
        if let archive {
            var contents: [MessageID: (Data, Set<Data>)] = [:]
            do {
                summary.archive = try Self.readArchive(at: archive) { entry in
                    switch entry {
                    case .message(let message): contents[message.fields.id] = (message.fields.bytes.sha256, [])
                    case .receipt(let receipt): contents[receipt.messageID]?.1.insert(receipt.digest)
                    default: break
                    }
                }
            } catch let error as StoreError {
                throw error
            } catch {
                throw StoreError(.archiveInvalid, "reading the archive \(archive) failed: \(error)")
            }
            archived = contents
        }
        let now = StoreTime.seconds(at)
        return try writeStoreBlocking { db in
            summary.keptUndelivered = try Int.fetchOne(db, sql: """
                SELECT count(*) FROM message m WHERE m.stored < ? AND EXISTS
                    (SELECT 1 FROM delivery d WHERE d.message = m.rowid AND d.state IN ('pending', 'inflight'))
                """, arguments: [cutoffSeconds]) ?? 0
            let candidates = try Row.fetchAll(db, sql: """
                SELECT m.rowid, m.id, m.direction, m.digest, m.stored FROM message m WHERE m.stored < ? AND NOT EXISTS
                    (SELECT 1 FROM delivery d WHERE d.message = m.rowid AND d.state IN ('pending', 'inflight'))
                ORDER BY m.stored, m.rowid
                """, arguments: [cutoffSeconds])
            if let archived, let archive {
                for row in candidates {
                    let id = MessageID(row["id"] as Data)!
                    let receipts = try Set(Data.fetchAll(db, sql: "SELECT digest FROM receipt WHERE message_id = ?", arguments: [id.data]))
                    guard let (digest, archivedReceipts) = archived[id], digest == row["digest"] as Data else {
                        throw StoreError(.invalidState, "message \(id) (stored \(StoreTime.date(row["stored"]))) is not in the archive \(archive) with the same bytes; export its range first; nothing was deleted")
                    }
                    guard receipts.isSubset(of: archivedReceipts) else {
                        throw StoreError(.invalidState, "the archive \(archive) lacks \(receipts.subtracting(archivedReceipts).count) receipt(s) of message \(id) that the store holds (received after the export?); export its range again; nothing was deleted")
                    }
                }
            }
            guard !candidates.isEmpty else { return summary }

            try db.execute(sql: "INSERT INTO purge_authorization (id, cutoff) VALUES (1, ?)", arguments: [cutoffSeconds])
            for row in candidates {
                let rowid: Int64 = row["rowid"]
                let id: Data = row["id"]
                try db.execute(sql: "DELETE FROM delivery WHERE message = ?", arguments: [rowid])
                summary.deliveriesDeleted += db.changesCount
                try db.execute(sql: "DELETE FROM inbox WHERE message = ?", arguments: [rowid])
                try db.execute(sql: "DELETE FROM reference WHERE message = ?", arguments: [rowid])
                try db.execute(sql: "DELETE FROM receipt WHERE message_id = ?", arguments: [id])
                summary.receiptsDeleted += db.changesCount
                try db.execute(sql: "DELETE FROM message WHERE rowid = ?", arguments: [rowid])
                if row["direction"] == MessageDirection.sent.rawValue {
                    summary.sentMessagesDeleted += 1
                } else {
                    summary.receivedMessagesDeleted += 1
                }
            }
            try db.execute(sql: "DELETE FROM purge_authorization")
            let checked = summary.archive.map { " (all present in the archive \(archive!), sha-256 \($0.digest.hexString))" } ?? ""
            try Audit.append(db, .purged, at: now, detail: """
                retention purge of messages stored before \(summary.cutoff): \(summary.sentMessagesDeleted) sent and \
                \(summary.receivedMessagesDeleted) received messages, \(summary.receiptsDeleted) receipts, \
                \(summary.deliveriesDeleted) deliveries deleted\(checked); \(summary.keptUndelivered) kept (undelivered)
                """)
            return summary
        }
    }

    // MARK: - PeerState.swift

    /// The delivery state of each peer in `peers`, plus every other participant the store has
    /// exchanged messages with, sorted by id.
    public func peerStates(_ peers: [String] = []) throws(StoreError) -> [PeerDeliveryState] {
        try readBlocking { db in
            var ids = Set(peers)
            ids.formUnion(try String.fetchAll(db, sql: "SELECT DISTINCT recipient FROM delivery"))
            ids.formUnion(try String.fetchAll(db, sql: "SELECT DISTINCT sender FROM inbox"))
            let gaps = try Self.fetchGaps(db, sender: nil, recipient: nil)
            return try ids.sorted().map { peer in
                let queue = try Row.fetchOne(db, sql: """
                    SELECT count(*) AS n, sum(d.state = 'inflight') AS inflight, min(m.stored) AS oldest FROM delivery d JOIN message m ON m.rowid = d.message
                    WHERE d.state IN ('pending', 'inflight') AND d.recipient = ?
                    """, arguments: [peer])
                // The channel moves in order (`dueDeliveries`): its first pending message decides.
                let next = try Int64.fetchOne(db, sql: """
                    SELECT next_attempt FROM delivery INDEXED BY delivery_pending_order
                    WHERE state = 'pending' AND recipient = ? ORDER BY sender, seq LIMIT 1
                    """, arguments: [peer])
                let error = try Row.fetchOne(db, sql: """
                    SELECT last_error, updated FROM delivery WHERE state IN ('pending', 'inflight') AND recipient = ? AND last_error IS NOT NULL
                    ORDER BY updated DESC LIMIT 1
                    """, arguments: [peer])
                let counts = try Row.fetchOne(db, sql: """
                    SELECT sum(state = 'expired') AS expired, sum(state = 'rejected') AS rejected FROM delivery
                    WHERE state IN ('expired', 'rejected') AND recipient = ?
                    """, arguments: [peer])
                let lastReceipt = try Int64.fetchOne(db, sql: "SELECT max(stored) FROM receipt WHERE direction = 0 AND signer = ?",
                                                     arguments: [peer])
                let lastMessage = try Int64.fetchOne(db, sql: "SELECT max(m.stored) FROM inbox i JOIN message m ON m.rowid = i.message WHERE i.sender = ?",
                                                     arguments: [peer])
                return PeerDeliveryState(
                    peer: peer, queueDepth: queue?["n"] ?? 0, oldestUndelivered: (queue?["oldest"] as Int64?).map(StoreTime.date), inFlight: queue?["inflight"] ?? 0,
                    nextAttempt: next.map(StoreTime.date), lastError: error?["last_error"],
                    lastErrorAt: (error?["updated"] as Int64?).map(StoreTime.date),
                    lastReceipt: lastReceipt.map(StoreTime.date), lastMessage: lastMessage.map(StoreTime.date),
                    expired: counts?["expired"] ?? 0, rejected: counts?["rejected"] ?? 0,
                    gaps: gaps.filter { $0.sender == peer }.map(\.missing))
            }
        }
    }

    // MARK: - Archive.swift

    /// Writes every message stored (queued or accepted) in [`from`, `to`), with all its receipts and
    /// deliveries, plus the current state of every channel, to a new archive file at `path`
    /// (Protocol/ARCHIVE.md). The file appears only when complete and synced.
    @discardableResult
    public func exportArchive(to path: String, exporter: String, from: Date, to: Date,
                              createdAt: Date = Date()) throws(StoreError) -> ArchiveSummary {
        try ParticipantIDRule.check(exporter, "exporter")
        guard from.timeIntervalSince1970 >= 0, to >= from else {
            throw StoreError(.invalidArgument, "archive time range \(from) – \(to) is empty or before 1970")
        }
        let header = ArchiveHeader(formatVersion: ArchiveHeader.formatVersion, exporter: exporter,
                                   from: StoreTime.date(StoreTime.seconds(from)), to: StoreTime.date(StoreTime.seconds(to)),
                                   created: StoreTime.date(StoreTime.seconds(createdAt)), storeSchemaVersion: UInt64(Schema.currentVersion))
        var writer = try ArchiveFileWriter(path: path)
        do {
            let summary = try readBlocking { db -> ArchiveSummary in
                try writer.write(ArchiveItems.header(header))
                var messages = 0, receipts = 0, channels = 0
                let rows = try Row.fetchCursor(db, sql: """
                    SELECT \(MessageQueries.columns) \(MessageQueries.from)
                    WHERE m.stored >= ? AND m.stored < ? ORDER BY m.stored, m.rowid
                    """, arguments: [StoreTime.seconds(header.from), StoreTime.seconds(header.to)])
                while let row = try rows.next() {
                    let message = try MessageQueries.message(db, row)
                    let storedReceipts = try MessageQueries.receipts(db, messageID: message.fields.id)
                    try writer.write(ArchiveItems.message(try Self.archived(db, message)))
                    for receipt in storedReceipts { try writer.write(ArchiveItems.receipt(receipt)) }
                    messages += 1
                    receipts += storedReceipts.count
                }
                for channel in try Row.fetchAll(db, sql: "SELECT sender, recipient, next_seq FROM channel_out ORDER BY sender, recipient") {
                    try writer.write(ArchiveItems.outgoing(OutgoingChannel(sender: channel["sender"], recipient: channel["recipient"],
                                                                          nextSequenceNumber: UInt64(channel["next_seq"] as Int64))))
                    channels += 1
                }
                let gaps = try Self.fetchGaps(db, sender: nil, recipient: nil)
                for row in try Row.fetchAll(db, sql: "SELECT sender, recipient, contiguous, highest FROM channel_in ORDER BY sender, recipient") {
                    let sender: String = row["sender"], recipient: String = row["recipient"]
                    try writer.write(ArchiveItems.incoming(IncomingChannel(
                        sender: sender, recipient: recipient, contiguous: UInt64(row["contiguous"] as Int64),
                        highest: UInt64(row["highest"] as Int64), gaps: gaps.filter { $0.sender == sender && $0.recipient == recipient })))
                    channels += 1
                }
                let digest = writer.digest()
                try writer.write(ArchiveItems.trailer(messages: messages, receipts: receipts, channels: channels, digest: digest), hashed: false)
                return ArchiveSummary(header: header, messages: messages, receipts: receipts, channels: channels, digest: digest, size: writer.size)
            }
            try writer.finish()
            return summary
        } catch {
            writer.abandon()
            throw error
        }
    }

    /// Verifies the archive completely, then adds what the store lacks, in one transaction. Rows
    /// already present are never altered; importing the same archive twice adds nothing the second
    /// time. A message id stored with different bytes, or a sequence number taken by another message,
    /// aborts the import with `.archiveConflict` (nothing imported).
    @discardableResult
    public func importArchive(from path: String, at: Date = Date()) throws(StoreError) -> ImportSummary {
        let checked = try Self.verifyArchive(at: path)
        let now = StoreTime.seconds(at)
        do {
            return try writeBlocking { db in
                var summary = ImportSummary(archive: checked, messagesAdded: 0, messagesAlreadyPresent: 0, receiptsAdded: 0,
                                            receiptsAlreadyPresent: 0, channelsAdded: 0, channelsAlreadyPresent: 0)
                // Rows added by this import whose receipt arrives in a later item.
                var pendingDeliveryLinks = [Data: [(Int64, String)]]()
                var pendingInbox = [Data: (Int64, ArchivedMessage, ArchivedInboxEntry)]()
                let verified = try Self.readArchive(at: path) { entry in
                    switch entry {
                    case .message(let message):
                        try Self.importMessage(db, message, path: path, summary: &summary,
                                               links: &pendingDeliveryLinks, inbox: &pendingInbox)
                    case .receipt(let receipt):
                        try Self.importReceipt(db, receipt, path: path, summary: &summary,
                                               links: &pendingDeliveryLinks, inbox: &pendingInbox)
                    case .outgoingChannel(let channel):
                        try db.execute(sql: "INSERT OR IGNORE INTO channel_out (sender, recipient, next_seq) VALUES (?, ?, ?)",
                                       arguments: [channel.sender, channel.recipient, Int64(channel.nextSequenceNumber)])
                        if db.changesCount > 0 { summary.channelsAdded += 1 } else { summary.channelsAlreadyPresent += 1 }
                    case .incomingChannel(let channel):
                        try db.execute(sql: "INSERT OR IGNORE INTO channel_in (sender, recipient, contiguous, highest) VALUES (?, ?, ?, ?)",
                                       arguments: [channel.sender, channel.recipient, Int64(channel.contiguous), Int64(channel.highest)])
                        if db.changesCount > 0 {
                            summary.channelsAdded += 1
                            for gap in channel.gaps {
                                try db.execute(sql: "INSERT INTO channel_gap (sender, recipient, first, last, detected) VALUES (?, ?, ?, ?, ?)",
                                               arguments: [gap.sender, gap.recipient, Int64(gap.missing.lowerBound),
                                                           Int64(gap.missing.upperBound), StoreTime.seconds(gap.detected)])
                            }
                        } else {
                            summary.channelsAlreadyPresent += 1
                        }
                    }
                }
                guard verified.digest == checked.digest else {
                    throw StoreError(.archiveInvalid, "the archive \(path) changed while it was being imported; nothing was imported")
                }
                guard pendingInbox.isEmpty && pendingDeliveryLinks.isEmpty else {
                    throw StoreError(.archiveInvalid, "the archive \(path) names receipts it does not contain; nothing was imported")
                }
                try Audit.append(db, .imported, at: now, detail: """
                    archive \(path) (sha-256 \(checked.digest.hexString)): \(summary.messagesAdded) messages, \(summary.receiptsAdded) receipts, \
                    \(summary.channelsAdded) channels added
                    """)
                return summary
            }
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(.archiveInvalid, "importing the archive \(path) failed: \(error); nothing was imported")
        }
    }
}

extension ReceivedReceipt {
    public init(bytes: Data, messageID: MessageID, recipient: String, status: ReceiptStatus, received: Date) {
        self.bytes = bytes
        self.messageID = messageID
        self.recipient = recipient
        self.status = status
        self.received = received
    }
}

extension IncomingMessage {
    public init(fields: MessageFields, sender: String, recipient: String, sequenceNumber: UInt64, received: Date) {
        self.fields = fields
        self.sender = sender
        self.recipient = recipient
        self.sequenceNumber = sequenceNumber
        self.received = received
    }
}

extension EnqueueRequest {
    public init(sender: String, recipients: [String], build: @escaping @Sendable ([String: UInt64]) throws -> MessageFields) {
        self.sender = sender
        self.recipients = recipients
        self.build = build
    }
}

extension IssuedRejection {
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
