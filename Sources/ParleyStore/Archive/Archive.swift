import Foundation
import ParleyProtocol
import GRDB
import ParleyCodec
import ParleyCrypto

/// Reads an archive file item by item without loading it whole.
struct ArchiveFileReader {
    static let chunkSize = 1 << 20
    /// The largest buffer: an unfinished item of at most `ArchiveCBOR.maximumItemSize` plus one chunk.
    static let bufferSize = ArchiveCBOR.maximumItemSize + chunkSize

    private let handle: FileHandle
    private let path: String
    /// Reads the buffered bytes; nil before the first read.
    private var reader: CBORReader?
    private var endOfFile = false
    private(set) var consumed = 0

    init(path: String) throws(StoreError) {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw StoreError(.cannotOpen, "cannot open the archive \(path) for reading; check the path and permissions")
        }
        self.handle = handle
        self.path = path
    }

    func close() { try? handle.close() }

    /// The next top-level item and its exact encoding, or nil at the end of the file.
    mutating func next(index: Int) throws(StoreError) -> (CBOR, ArraySlice<UInt8>)? {
        while true {
            guard var current = reader, !current.isAtEnd else {
                if endOfFile { return nil }
                try fill()
                continue
            }
            let start = current.position
            do {
                let item = try ArchiveCBOR.readItem(from: &current)
                reader = current
                consumed += current.position - start
                return (item, current.bytes[start..<current.position])
            } catch {
                switch error {
                case .truncated:
                    if endOfFile {
                        throw StoreError(
                            .archiveInvalid,
                            "the archive \(path) ends in the middle of item \(index) (truncated file)"
                        )
                    }
                case .invalid(let reason):
                    throw StoreError(
                        .archiveInvalid,
                        "item \(index) of the archive \(path) (byte \(consumed)) is not deterministic CBOR as Parley writes it: \(reason)"
                    )
                }
            }
            try fill()
        }
    }

    /// Keeps the unread bytes and appends the next chunk of the file.
    private mutating func fill() throws(StoreError) {
        var bytes = reader.map { Array($0.bytes[$0.position...]) } ?? []
        reader = nil
        let chunk: Data?
        do {
            chunk = try handle.read(upToCount: Self.chunkSize)
        } catch {
            throw StoreError(.io, "reading the archive \(path) failed: \(error)")
        }
        if let chunk, !chunk.isEmpty {
            bytes.append(contentsOf: chunk)
        } else {
            endOfFile = true
        }
        do {
            reader = try CBORReader(
                bytes,
                limits: ArchiveCBOR.limits(bufferSize: Self.bufferSize),
                mode: .deterministic
            )
        } catch {
            throw StoreError(
                .archiveInvalid,
                "an item of the archive \(path) (byte \(consumed)) is larger than \(ArchiveCBOR.maximumItemSize) bytes"
            )
        }
    }
}

/// Writes an archive file through a `DurableFile`: it appears under its name only complete and synced.
struct ArchiveFileWriter {
    private let file: DurableFile
    private let path: String
    private var buffer = [UInt8]()
    private let hasher = SHA256Hasher()
    private(set) var size = 0

    init(path: String) throws(StoreError) {
        do {
            file = try DurableFile(path: path)
        } catch {
            if error.step == .exists {
                throw StoreError(
                    .invalidArgument,
                    "the archive \(path) already exists; choose another name (archives are never overwritten)"
                )
            }
            throw StoreError(
                .cannotOpen,
                "cannot create the archive: \(error); check the directory exists and is writable"
            )
        }
        self.path = path
    }

    mutating func write(_ item: CBOR, hashed: Bool = true) throws(StoreError) {
        let start = buffer.count
        ArchiveCBOR.encode(item, into: &buffer)
        if hashed { hasher.update(buffer[start...]) }
        size += buffer.count - start
        if buffer.count >= ArchiveFileReader.chunkSize { try flush() }
    }

    func digest() -> Data { Data(hasher.finalize()) }

    private mutating func flush() throws(StoreError) {
        do {
            try file.write(buffer)
        } catch {
            throw StoreError(.io, "writing the archive \(path) failed (disk full?): \(error)")
        }
        buffer.removeAll(keepingCapacity: true)
    }

    mutating func finish() throws(StoreError) {
        try flush()
        do {
            try file.commit()
        } catch {
            throw StoreError(.io, "finishing the archive \(path) failed: \(error)")
        }
    }

    func abandon() {
        file.abandon()
    }
}

extension ParleyStore {
    // MARK: - Export

    /// Writes every message stored (queued or accepted) in [`from`, `to`), with all its receipts and
    /// deliveries, plus the current state of every channel, to a new archive file at `path`
    /// (Protocol/ARCHIVE.md). The file appears only when complete and synced.
    @discardableResult
    public func exportArchive(
        to path: String,
        exporter: ParticipantID,
        from: Date,
        to: Date,
        createdAt: Date = Date()
    ) async throws(StoreError) -> ArchiveSummary {
        guard from.timeIntervalSince1970 >= 0, to >= from else {
            throw StoreError(.invalidArgument, "archive time range \(from) – \(to) is empty or before 1970")
        }
        let header = ArchiveHeader(
            formatVersion: ArchiveHeader.formatVersion,
            exporter: exporter.rawValue,
            from: StoreTime.date(StoreTime.seconds(from)),
            to: StoreTime.date(StoreTime.seconds(to)),
            created: StoreTime.date(StoreTime.seconds(createdAt)),
            storeSchemaVersion: UInt64(Schema.currentVersion)
        )
        // The file is written on the reader's queue, inside the read transaction (one snapshot).
        return try await read { db -> ArchiveSummary in
            var writer = try ArchiveFileWriter(path: path)
            do {
                let summary = try Self.writeArchive(db, header, to: &writer)
                try writer.finish()
                return summary
            } catch {
                writer.abandon()
                throw error
            }
        }
    }

    /// The items of an archive with `header`'s time range, from one read transaction.
    static func writeArchive(
        _ db: Database,
        _ header: ArchiveHeader,
        to writer: inout ArchiveFileWriter
    ) throws -> ArchiveSummary {
        try writer.write(ArchiveItems.header(header))
        var messages = 0
        var receipts = 0
        var channels = 0
        let rows = try Row.fetchCursor(
            db,
            sql: """
                SELECT \(MessageQueries.columns) \(MessageQueries.from)
                WHERE m.stored >= ? AND m.stored < ? ORDER BY m.stored, m.rowid
                """,
            arguments: [StoreTime.seconds(header.from), StoreTime.seconds(header.to)]
        )
        while let row = try rows.next() {
            let message = try MessageQueries.message(db, row)
            let storedReceipts = try MessageQueries.receipts(db, messageID: message.fields.id)
            try writer.write(ArchiveItems.message(try Self.archived(db, message)))
            for receipt in storedReceipts { try writer.write(ArchiveItems.receipt(receipt)) }
            messages += 1
            receipts += storedReceipts.count
        }
        for channel in try Row.fetchAll(
            db,
            sql: "SELECT sender, recipient, next_seq FROM channel_out ORDER BY sender, recipient"
        ) {
            try writer.write(
                ArchiveItems.outgoing(
                    OutgoingChannel(
                        sender: channel["sender"],
                        recipient: channel["recipient"],
                        nextSequenceNumber: UInt64(channel["next_seq"] as Int64)
                    )
                )
            )
            channels += 1
        }
        let gaps = try Self.fetchGaps(db, sender: nil, recipient: nil)
        for row in try Row.fetchAll(
            db,
            sql: "SELECT sender, recipient, contiguous, highest FROM channel_in ORDER BY sender, recipient"
        ) {
            let sender: String = row["sender"]
            let recipient: String = row["recipient"]
            try writer.write(
                ArchiveItems.incoming(
                    IncomingChannel(
                        sender: sender,
                        recipient: recipient,
                        contiguous: UInt64(row["contiguous"] as Int64),
                        highest: UInt64(row["highest"] as Int64),
                        gaps: gaps.filter { $0.sender == sender && $0.recipient == recipient }
                    )
                )
            )
            channels += 1
        }
        let digest = writer.digest()
        try writer.write(
            ArchiveItems.trailer(messages: messages, receipts: receipts, channels: channels, digest: digest),
            hashed: false
        )
        return ArchiveSummary(
            header: header,
            messages: messages,
            receipts: receipts,
            channels: channels,
            digest: digest,
            size: writer.size
        )
    }

    static func archived(_ db: Database, _ message: StoredMessage) throws -> ArchivedMessage {
        var deliveries = [ArchivedDelivery]()
        var inbox: ArchivedInboxEntry?
        switch message.direction {
        case .sent:
            deliveries = try Row.fetchAll(
                db,
                sql: """
                    SELECT d.recipient, d.seq, d.state, d.attempts, d.next_attempt, d.updated, d.last_error, r.digest
                    FROM delivery d LEFT JOIN receipt r ON r.rowid = d.receipt WHERE d.message = ? ORDER BY d.recipient
                    """,
                arguments: [message.rowid]
            ).map { row in
                ArchivedDelivery(
                    recipient: row["recipient"],
                    sequenceNumber: UInt64(row["seq"] as Int64),
                    state: DeliveryState(rawValue: row["state"]) ?? .pending,
                    attempts: UInt64(row["attempts"] as Int64),
                    nextAttempt: StoreTime.date(row["next_attempt"]),
                    updated: StoreTime.date(row["updated"]),
                    lastError: row["last_error"],
                    receiptDigest: row["digest"]
                )
            }
        case .received:
            if let row = try Row.fetchOne(
                db,
                sql: """
                    SELECT i.recipient, i.seq, r.digest FROM inbox i JOIN receipt r ON r.rowid = i.receipt WHERE i.message = ?
                    """,
                arguments: [message.rowid]
            ) {
                inbox = ArchivedInboxEntry(
                    recipient: row["recipient"],
                    sequenceNumber: UInt64(row["seq"] as Int64),
                    receiptDigest: row["digest"]
                )
            }
        }
        return ArchivedMessage(
            direction: message.direction,
            sender: message.sender,
            fields: message.fields,
            stored: message.stored,
            deliveries: deliveries,
            inbox: inbox
        )
    }

    // MARK: - Reading and verifying

    /// Reads and checks an archive offline: framing, deterministic encoding, item structure, that
    /// every receipt follows its message and every receipt a message names is present, the counts
    /// and the SHA-256 in the trailer. Calls `visit` with each message, receipt and channel item in
    /// file order (before the trailer's digest is checked: discard what you collected if this
    /// throws). Signatures are not checked here: verify each item's exact bytes with the protocol
    /// layer.
    @discardableResult
    public static func readArchive(
        at path: String,
        visit: (ArchiveEntry) throws -> Void = { _ in }
    ) throws -> ArchiveSummary {
        var reader = try ArchiveFileReader(path: path)
        defer { reader.close() }
        let hasher = SHA256Hasher()
        var index = 0
        guard let (first, firstRaw) = try reader.next(index: index) else {
            throw StoreError(.archiveInvalid, "the archive \(path) is empty")
        }
        let decoder0 = ArchiveItemDecoder(index: 0)
        let (kind0, map0) = try decoder0.split(first)
        guard kind0 == .header else { throw decoder0.invalid("the first item is not the header") }
        let header = try decoder0.header(map0)
        hasher.update(firstRaw)

        var messages = 0
        var receipts = 0
        var channels = 0
        var seenMessages = Set<MessageID>()
        var currentMessage: MessageID?
        var awaitedReceipts = Set<Data>()
        var inChannels = false
        var lastChannel: (ArchiveKind, [UInt8])?
        func checkChannelOrder(
            _ kind: ArchiveKind,
            _ sender: String,
            _ recipient: String,
            _ decoder: ArchiveItemDecoder
        ) throws(StoreError) {
            let key = Array(sender.utf8) + [0] + Array(recipient.utf8)
            if let (lastKind, lastKey) = lastChannel,
                lastKind.rawValue > kind.rawValue || (lastKind == kind && !lastKey.lexicographicallyPrecedes(key))
            {
                throw decoder.invalid(
                    "channel items not in order (outgoing then incoming, each sorted by sender, recipient) or repeated"
                )
            }
            lastChannel = (kind, key)
        }
        while true {
            index += 1
            guard let (item, raw) = try reader.next(index: index) else {
                throw StoreError(.archiveInvalid, "the archive \(path) has no trailer (truncated file)")
            }
            let decoder = ArchiveItemDecoder(index: index)
            let (kind, map) = try decoder.split(item)
            if kind != .receipt && !awaitedReceipts.isEmpty {
                throw decoder.invalid("receipts named by message \(currentMessage?.hex ?? "?") are missing")
            }
            switch kind {
            case .header:
                throw decoder.invalid("a second header")
            case .message:
                guard !inChannels else { throw decoder.invalid("message after channel items") }
                let message = try decoder.message(map)
                guard seenMessages.insert(message.fields.id).inserted else {
                    throw decoder.invalid("message \(message.fields.id) appears twice")
                }
                currentMessage = message.fields.id
                awaitedReceipts = Set(
                    message.deliveries.compactMap(\.receiptDigest) + [message.inbox?.receiptDigest].compactMap { $0 }
                )
                messages += 1
                try visit(.message(message))
            case .receipt:
                guard !inChannels else { throw decoder.invalid("receipt after channel items") }
                let receipt = try decoder.receipt(map)
                guard receipt.messageID == currentMessage else {
                    throw decoder.invalid("receipt for \(receipt.messageID) does not follow its message")
                }
                awaitedReceipts.remove(receipt.digest)
                receipts += 1
                try visit(.receipt(receipt))
            case .outgoingChannel:
                inChannels = true
                let channel = try decoder.outgoing(map)
                try checkChannelOrder(.outgoingChannel, channel.sender, channel.recipient, decoder)
                channels += 1
                try visit(.outgoingChannel(channel))
            case .incomingChannel:
                inChannels = true
                let channel = try decoder.incoming(map)
                try checkChannelOrder(.incomingChannel, channel.sender, channel.recipient, decoder)
                channels += 1
                try visit(.incomingChannel(channel))
            case .trailer:
                try decoder.checkKeys(map, allowed: 1...4, required: [1, 2, 3, 4], "trailer")
                let digest = Data(hasher.finalize())
                guard try decoder.bytes(map, 4, "digest", size: 32) == digest else {
                    throw StoreError(
                        .archiveInvalid,
                        "the archive \(path) fails its SHA-256 check: its content was altered or damaged after export; do not trust or import it"
                    )
                }
                guard try decoder.uint(map, 1, "message count") == UInt64(messages),
                    try decoder.uint(map, 2, "receipt count") == UInt64(receipts),
                    try decoder.uint(map, 3, "channel count") == UInt64(channels)
                else {
                    throw decoder.invalid("trailer counts do not match the items")
                }
                guard try reader.next(index: index + 1) == nil else {
                    throw StoreError(.archiveInvalid, "the archive \(path) has bytes after its trailer")
                }
                return ArchiveSummary(
                    header: header,
                    messages: messages,
                    receipts: receipts,
                    channels: channels,
                    digest: digest,
                    size: reader.consumed
                )
            }
            hasher.update(raw)
        }
    }

    /// Checks an archive offline without importing it; see `readArchive`.
    @discardableResult
    public static func verifyArchive(at path: String) throws(StoreError) -> ArchiveSummary {
        do {
            return try readArchive(at: path)
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(.archiveInvalid, "reading the archive \(path) failed: \(error)")
        }
    }

    // MARK: - Import

    /// Verifies the archive completely, then adds what the store lacks, in one transaction. Rows
    /// already present are never altered; importing the same archive twice adds nothing the second
    /// time. A message id stored with different bytes, or a sequence number taken by another message,
    /// aborts the import with `.archiveConflict` (nothing imported).
    @discardableResult
    public func importArchive(from path: String, at: Date = Date()) async throws(StoreError) -> ImportSummary {
        let checked = try await Self.offPool { () throws(StoreError) in try Self.verifyArchive(at: path) }
        let now = StoreTime.seconds(at)
        do {
            return try await write { db in
                var summary = ImportSummary(
                    archive: checked,
                    messagesAdded: 0,
                    messagesAlreadyPresent: 0,
                    receiptsAdded: 0,
                    receiptsAlreadyPresent: 0,
                    channelsAdded: 0,
                    channelsAlreadyPresent: 0
                )
                // Rows added by this import whose receipt arrives in a later item.
                var pendingDeliveryLinks = [Data: [(Int64, String)]]()
                var pendingInbox = [Data: (Int64, ArchivedMessage, ArchivedInboxEntry)]()
                let verified = try Self.readArchive(at: path) { entry in
                    switch entry {
                    case .message(let message):
                        try Self.importMessage(
                            db,
                            message,
                            path: path,
                            summary: &summary,
                            links: &pendingDeliveryLinks,
                            inbox: &pendingInbox
                        )
                    case .receipt(let receipt):
                        try Self.importReceipt(
                            db,
                            receipt,
                            path: path,
                            summary: &summary,
                            links: &pendingDeliveryLinks,
                            inbox: &pendingInbox
                        )
                    case .outgoingChannel(let channel):
                        try db.execute(
                            sql: "INSERT OR IGNORE INTO channel_out (sender, recipient, next_seq) VALUES (?, ?, ?)",
                            arguments: [channel.sender, channel.recipient, Int64(channel.nextSequenceNumber)]
                        )
                        if db.changesCount > 0 {
                            summary.channelsAdded += 1
                        } else {
                            summary.channelsAlreadyPresent += 1
                        }
                    case .incomingChannel(let channel):
                        try db.execute(
                            sql:
                                "INSERT OR IGNORE INTO channel_in (sender, recipient, contiguous, highest) VALUES (?, ?, ?, ?)",
                            arguments: [
                                channel.sender, channel.recipient, Int64(channel.contiguous), Int64(channel.highest),
                            ]
                        )
                        if db.changesCount > 0 {
                            summary.channelsAdded += 1
                            for gap in channel.gaps {
                                try db.execute(
                                    sql:
                                        "INSERT INTO channel_gap (sender, recipient, first, last, detected) VALUES (?, ?, ?, ?, ?)",
                                    arguments: [
                                        gap.sender, gap.recipient, Int64(gap.missing.lowerBound),
                                        Int64(gap.missing.upperBound), StoreTime.seconds(gap.detected),
                                    ]
                                )
                            }
                        } else {
                            summary.channelsAlreadyPresent += 1
                        }
                    }
                }
                guard verified.digest == checked.digest else {
                    throw StoreError(
                        .archiveInvalid,
                        "the archive \(path) changed while it was being imported; nothing was imported"
                    )
                }
                guard pendingInbox.isEmpty && pendingDeliveryLinks.isEmpty else {
                    throw StoreError(
                        .archiveInvalid,
                        "the archive \(path) names receipts it does not contain; nothing was imported"
                    )
                }
                try Audit.append(
                    db,
                    .imported,
                    at: now,
                    detail: """
                        archive \(path) (sha-256 \(checked.digest.hexString)): \(summary.messagesAdded) messages, \(summary.receiptsAdded) receipts, \
                        \(summary.channelsAdded) channels added
                        """
                )
                return summary
            }
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(.archiveInvalid, "importing the archive \(path) failed: \(error); nothing was imported")
        }
    }

    static func importMessage(
        _ db: Database,
        _ message: ArchivedMessage,
        path: String,
        summary: inout ImportSummary,
        links: inout [Data: [(Int64, String)]],
        inbox: inout [Data: (Int64, ArchivedMessage, ArchivedInboxEntry)]
    ) throws {
        let id = message.fields.id
        if let stored = try Data.fetchOne(db, sql: "SELECT bytes FROM message WHERE id = ?", arguments: [id.data]) {
            guard stored == message.fields.bytes else {
                throw StoreError(
                    .archiveConflict,
                    "the archive \(path) holds message \(id) with bytes different from the stored message (equivocation or forgery); nothing was imported"
                )
            }
            summary.messagesAlreadyPresent += 1
            return
        }
        try MessageRows.validate(message.fields)
        let rowid = try MessageRows.insert(
            db,
            message.fields,
            direction: message.direction,
            sender: message.sender,
            stored: StoreTime.seconds(message.stored),
            digest: message.fields.bytes.sha256
        )
        for delivery in message.deliveries {
            do {
                try db.execute(
                    sql: """
                        INSERT INTO delivery (message, sender, recipient, seq, state, attempts, next_attempt, last_error, updated)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [
                        rowid, message.sender, delivery.recipient, Int64(delivery.sequenceNumber),
                        delivery.state.rawValue,
                        Int64(delivery.attempts), StoreTime.seconds(delivery.nextAttempt), delivery.lastError,
                        StoreTime.seconds(delivery.updated),
                    ]
                )
            } catch let error as DatabaseError where error.resultCode == .SQLITE_CONSTRAINT {
                throw StoreError(
                    .archiveConflict,
                    "the archive \(path): message \(id) uses sequence number \(delivery.sequenceNumber) to \(delivery.recipient), already used by another stored message; nothing was imported"
                )
            }
            if let digest = delivery.receiptDigest { links[digest, default: []].append((rowid, delivery.recipient)) }
        }
        if let entry = message.inbox { inbox[entry.receiptDigest] = (rowid, message, entry) }
        summary.messagesAdded += 1
    }

    static func importReceipt(
        _ db: Database,
        _ receipt: StoredReceipt,
        path: String,
        summary: inout ImportSummary,
        links: inout [Data: [(Int64, String)]],
        inbox: inout [Data: (Int64, ArchivedMessage, ArchivedInboxEntry)]
    ) throws {
        var rowid = try Int64.fetchOne(
            db,
            sql: "SELECT rowid FROM receipt WHERE message_id = ? AND digest = ?",
            arguments: [receipt.messageID.data, receipt.digest]
        )
        if rowid == nil {
            var code: Int64?
            var reason: String?
            if case .rejected(let c, let r) = receipt.status {
                code = Int64(c)
                reason = r
            }
            try db.execute(
                sql: """
                    INSERT INTO receipt (message_id, direction, signer, status, rejection_code, rejection_reason, stored, bytes, digest)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    receipt.messageID.data, receipt.direction.rawValue, receipt.signer, Int64(receipt.status.code),
                    code, reason, StoreTime.seconds(receipt.stored), receipt.bytes, receipt.digest,
                ]
            )
            rowid = db.lastInsertedRowID
            summary.receiptsAdded += 1
        } else {
            summary.receiptsAlreadyPresent += 1
        }
        for (message, recipient) in links.removeValue(forKey: receipt.digest) ?? [] {
            try db.execute(
                sql: "UPDATE delivery SET receipt = ? WHERE message = ? AND recipient = ?",
                arguments: [rowid, message, recipient]
            )
        }
        if let (message, archived, entry) = inbox.removeValue(forKey: receipt.digest) {
            do {
                try db.execute(
                    sql: "INSERT INTO inbox (message, sender, recipient, seq, receipt) VALUES (?, ?, ?, ?, ?)",
                    arguments: [message, archived.sender, entry.recipient, Int64(entry.sequenceNumber), rowid]
                )
            } catch let error as DatabaseError where error.resultCode == .SQLITE_CONSTRAINT {
                throw StoreError(
                    .archiveConflict,
                    "the archive \(path): message \(archived.fields.id) uses sequence number \(entry.sequenceNumber) from \(archived.sender), already used by another stored message; nothing was imported"
                )
            }
        }
    }
}
