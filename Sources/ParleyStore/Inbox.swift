import Foundation
import ParleyProtocol
import GRDB

/// Incoming channel state: what arrived from `sender` for `recipient`.
public struct IncomingChannel: Hashable, Sendable {
    public var sender: String
    public var recipient: String
    /// Every number from 1 through this one has arrived.
    public var contiguous: UInt64
    /// The highest number that has arrived.
    public var highest: UInt64
    /// Missing numbers between `contiguous` and `highest`.
    public var gaps: [ChannelGap]
}

/// A run of sequence numbers that have not arrived while later ones have.
public struct ChannelGap: Hashable, Sendable {
    public var sender: String
    public var recipient: String
    public var missing: ClosedRange<UInt64>
    public var detected: Date
}

/// Outgoing channel state.
public struct OutgoingChannel: Hashable, Sendable {
    public var sender: String
    public var recipient: String
    /// The number the next message on this channel will carry.
    public var nextSequenceNumber: UInt64
}

extension ParleyStore {
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
    public func accept(
        _ message: IncomingMessage,
        buildReceipt: @escaping @Sendable (IncomingMessage) throws -> Data
    ) async throws -> AcceptOutcome {
        try Self.validate(message)
        return try await write { db in try Self.accept(db, message, buildReceipt: buildReceipt) }
    }

    /// Accepts several messages in one transaction (one durable commit); outcomes in request order.
    /// If any receipt builder throws or any request is invalid, nothing of the batch is stored.
    public func acceptBatch(_ requests: [AcceptRequest]) async throws -> [AcceptOutcome] {
        for request in requests { try Self.validate(request.message) }
        return try await write { db in
            try requests.map { try Self.accept(db, $0.message, buildReceipt: $0.buildReceipt) }
        }
    }

    static func validate(_ message: IncomingMessage) throws(StoreError) {
        try ParticipantIDRule.check(message.sender, "sender")
        try ParticipantIDRule.check(message.recipient, "recipient")
        guard message.sender != message.recipient else {
            throw StoreError(
                .invalidArgument,
                "message \(message.fields.id): sender and recipient are both \(message.sender)"
            )
        }
        guard message.sequenceNumber >= 1 else {
            throw StoreError(
                .invalidArgument,
                "message \(message.fields.id) from \(message.sender): sequence number 0 (numbers start at 1)"
            )
        }
        _ = try message.sequenceNumber.storable("sequence number")
        try MessageRows.validate(message.fields)
    }

    static func accept(
        _ db: Database,
        _ message: IncomingMessage,
        buildReceipt: (IncomingMessage) throws -> Data
    ) throws -> AcceptOutcome {
        let id = message.fields.id
        let now = StoreTime.seconds(message.received)
        let digest = message.fields.bytes.sha256

        if let stored = try Row.fetchOne(
            db.cachedStatement(sql: "SELECT rowid, direction, digest, bytes FROM message WHERE id = ?"),
            arguments: [id.data]
        ) {
            let storedDigest: Data = stored["digest"]
            let storedBytes: Data = stored["bytes"]
            if stored["direction"] == MessageDirection.received.rawValue && storedBytes == message.fields.bytes,
                let receipt = try Data.fetchOne(
                    db,
                    sql: """
                        SELECT r.bytes FROM inbox i JOIN receipt r ON r.rowid = i.receipt WHERE i.message = ?
                        """,
                    arguments: [stored["rowid"] as Int64]
                )
            {
                try Audit.append(
                    db,
                    .duplicate,
                    at: now,
                    message: id,
                    peer: message.sender,
                    detail: "same bytes received again; stored receipt returned"
                )
                return .duplicate(storedReceipt: receipt)
            }
            try Audit.append(
                db,
                .equivocation,
                at: now,
                message: id,
                peer: message.sender,
                detail:
                    "same id, different bytes: stored sha-256 \(storedDigest.hexString), received sha-256 \(digest.hexString)"
            )
            return .equivocation(storedDigest: storedDigest, receivedDigest: digest)
        }

        let seq = Int64(message.sequenceNumber)
        let channel = try Row.fetchOne(
            db.cachedStatement(sql: "SELECT contiguous, highest FROM channel_in WHERE sender = ? AND recipient = ?"),
            arguments: [message.sender, message.recipient]
        )
        var contiguous: Int64 = channel?["contiguous"] ?? 0
        var highest: Int64 = channel?["highest"] ?? 0
        // Numbers above `highest` are unused; at or below it, only numbers inside a gap are.
        var usedBy: Data?
        var inGap: Row?
        if seq <= highest {
            usedBy = try Data.fetchOne(
                db.cachedStatement(
                    sql: """
                        SELECT m.id FROM inbox i JOIN message m ON m.rowid = i.message WHERE i.sender = ? AND i.recipient = ? AND i.seq = ?
                        """
                ),
                arguments: [message.sender, message.recipient, seq]
            )
            if seq > contiguous {
                inGap = try Row.fetchOne(
                    db.cachedStatement(
                        sql: """
                            SELECT first, last FROM channel_gap WHERE sender = ? AND recipient = ? AND first <= ? AND last >= ?
                            """
                    ),
                    arguments: [message.sender, message.recipient, seq, seq]
                )
            }
        }
        if usedBy != nil || (seq <= highest && inGap == nil) {
            let storedID = usedBy.flatMap { MessageID($0) }
            try Audit.append(
                db,
                .replay,
                at: now,
                message: id,
                peer: message.sender,
                detail:
                    "sequence number \(seq) for \(message.recipient) already used by \(storedID?.hex ?? "an earlier message"); sha-256 \(digest.hexString)"
            )
            return .replay(sequenceNumber: message.sequenceNumber, storedID: storedID)
        }

        let receiptBytes = try buildReceipt(message)
        guard !receiptBytes.isEmpty else {
            throw StoreError(.invalidArgument, "the receipt built for message \(id) is empty")
        }
        let rowid = try MessageRows.insert(
            db,
            message.fields,
            direction: .received,
            sender: message.sender,
            stored: now,
            digest: digest
        )
        try db.cachedStatement(
            sql: """
                INSERT INTO receipt (message_id, direction, signer, status, stored, bytes, digest) VALUES (?, 1, ?, 0, ?, ?, ?)
                """
        ).execute(arguments: [id.data, message.recipient, now, receiptBytes, receiptBytes.sha256])
        let receiptRowid = db.lastInsertedRowID
        try db.cachedStatement(
            sql: "INSERT INTO inbox (message, sender, recipient, seq, receipt) VALUES (?, ?, ?, ?, ?)"
        )
        .execute(arguments: [rowid, message.sender, message.recipient, seq, receiptRowid])
        try Audit.append(
            db,
            .received,
            at: now,
            message: id,
            peer: message.sender,
            detail: "\(message.recipient)#\(seq)"
        )

        var change = ChannelChange.inOrder
        if let inGap {
            let first: Int64 = inGap["first"]
            let last: Int64 = inGap["last"]
            // Cached statements: with several messages in flight, gaps open and close all the time.
            let detected =
                try Int64.fetchOne(
                    db.cachedStatement(
                        sql: "SELECT detected FROM channel_gap WHERE sender = ? AND recipient = ? AND first = ?"
                    ),
                    arguments: [message.sender, message.recipient, first]
                ) ?? now
            try db.cachedStatement(sql: "DELETE FROM channel_gap WHERE sender = ? AND recipient = ? AND first = ?")
                .execute(arguments: [message.sender, message.recipient, first])
            let insertGap = try db.cachedStatement(
                sql: "INSERT INTO channel_gap (sender, recipient, first, last, detected) VALUES (?, ?, ?, ?, ?)"
            )
            if first < seq {
                try insertGap.execute(arguments: [message.sender, message.recipient, first, seq - 1, detected])
            }
            if seq < last {
                try insertGap.execute(arguments: [message.sender, message.recipient, seq + 1, last, detected])
            }
            change = .gapFilled
            try Audit.append(
                db,
                .gapFilled,
                at: now,
                message: id,
                peer: message.sender,
                detail: "\(message.recipient)#\(seq) arrived late"
            )
        } else {
            // seq > highest here.
            if seq > highest + 1 {
                try db.cachedStatement(
                    sql: "INSERT INTO channel_gap (sender, recipient, first, last, detected) VALUES (?, ?, ?, ?, ?)"
                )
                .execute(arguments: [message.sender, message.recipient, highest + 1, seq - 1, now])
                change = .gapDetected(missing: UInt64(highest + 1)...UInt64(seq - 1))
                try Audit.append(
                    db,
                    .gapDetected,
                    at: now,
                    message: id,
                    peer: message.sender,
                    detail: "\(message.recipient)#\(highest + 1)…\(seq - 1) missing; \(seq) arrived"
                )
            }
            highest = seq
        }
        if contiguous + 1 == seq && change == .inOrder {
            contiguous = seq
        } else {
            let firstMissing = try Int64.fetchOne(
                db.cachedStatement(sql: "SELECT min(first) FROM channel_gap WHERE sender = ? AND recipient = ?"),
                arguments: [message.sender, message.recipient]
            )
            contiguous = firstMissing.map { $0 - 1 } ?? highest
        }
        try db.cachedStatement(
            sql: """
                INSERT INTO channel_in (sender, recipient, contiguous, highest) VALUES (?, ?, ?, ?)
                ON CONFLICT (sender, recipient) DO UPDATE SET contiguous = excluded.contiguous, highest = excluded.highest
                """
        ).execute(arguments: [message.sender, message.recipient, contiguous, highest])
        return .accepted(receipt: receiptBytes, channel: change)
    }

    // MARK: - Channels

    /// Incoming channels with their gaps.
    public func incomingChannels() async throws(StoreError) -> [IncomingChannel] {
        try await read { db in
            let gaps = try Self.fetchGaps(db, sender: nil, recipient: nil)
            return try Row.fetchAll(
                db,
                sql: "SELECT sender, recipient, contiguous, highest FROM channel_in ORDER BY sender, recipient"
            ).map { row in
                let sender: String = row["sender"]
                let recipient: String = row["recipient"]
                return IncomingChannel(
                    sender: sender,
                    recipient: recipient,
                    contiguous: UInt64(row["contiguous"] as Int64),
                    highest: UInt64(row["highest"] as Int64),
                    gaps: gaps.filter { $0.sender == sender && $0.recipient == recipient }
                )
            }
        }
    }

    /// Outgoing channels and their next sequence numbers.
    public func outgoingChannels() async throws(StoreError) -> [OutgoingChannel] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT sender, recipient, next_seq FROM channel_out ORDER BY sender, recipient")
                .map { row in
                    OutgoingChannel(
                        sender: row["sender"],
                        recipient: row["recipient"],
                        nextSequenceNumber: UInt64(row["next_seq"] as Int64)
                    )
                }
        }
    }

    /// Current gaps, optionally of one channel, in channel and number order.
    public func gaps(
        sender: ParticipantID? = nil,
        recipient: ParticipantID? = nil
    ) async throws(StoreError) -> [ChannelGap] {
        try await read { db in try Self.fetchGaps(db, sender: sender?.rawValue, recipient: recipient?.rawValue) }
    }

    static func fetchGaps(_ db: Database, sender: String?, recipient: String?) throws -> [ChannelGap] {
        var sql = "SELECT sender, recipient, first, last, detected FROM channel_gap WHERE 1"
        var arguments = StatementArguments()
        if let sender {
            sql += " AND sender = ?"
            arguments += [sender]
        }
        if let recipient {
            sql += " AND recipient = ?"
            arguments += [recipient]
        }
        sql += " ORDER BY sender, recipient, first"
        return try Row.fetchAll(db, sql: sql, arguments: arguments).map { row in
            ChannelGap(
                sender: row["sender"],
                recipient: row["recipient"],
                missing: UInt64(row["first"] as Int64)...UInt64(row["last"] as Int64),
                detected: StoreTime.date(row["detected"])
            )
        }
    }
}
