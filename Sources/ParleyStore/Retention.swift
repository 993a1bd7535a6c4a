import Foundation
import GRDB
import ParleyProtocol

/// What a retention purge deleted and kept.
public struct PurgeSummary: Hashable, Sendable {
    /// Messages stored (queued or accepted) strictly before this time were considered.
    public var cutoff: Date
    public var sentMessagesDeleted = 0
    public var receivedMessagesDeleted = 0
    public var receiptsDeleted = 0
    public var deliveriesDeleted = 0
    /// Messages older than the cutoff kept because a delivery is still pending or in flight.
    public var keptUndelivered = 0
    /// The archive the deleted messages were checked against, if one was required.
    public var archive: ArchiveSummary?

    public var messagesDeleted: Int { sentMessagesDeleted + receivedMessagesDeleted }
}

extension ParleyStore {
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
    public func purge(
        receivedOrQueuedBefore cutoff: Date,
        requireArchivedIn archive: String?,
        at: Date = Date()
    ) async throws(StoreError) -> PurgeSummary {
        let cutoffSeconds = StoreTime.seconds(cutoff)
        var summary = PurgeSummary(cutoff: StoreTime.date(cutoffSeconds))
        // Message id → (message digest, receipt digests) as archived.
        var archived: [MessageID: (Data, Set<Data>)]?
        if let archive {
            (summary.archive, archived) = try await Self.offPool { () throws(StoreError) in
                try Self.archivedDigests(in: archive)
            }
        }
        let now = StoreTime.seconds(at)
        return try await writeStore { [summary, archived] db in
            var summary = summary
            summary.keptUndelivered =
                try Int.fetchOne(
                    db,
                    sql: """
                        SELECT count(*) FROM message m WHERE m.stored < ? AND EXISTS
                            (SELECT 1 FROM delivery d WHERE d.message = m.rowid AND d.state IN ('pending', 'inflight'))
                        """,
                    arguments: [cutoffSeconds]
                ) ?? 0
            let candidates = try Row.fetchAll(
                db,
                sql: """
                    SELECT m.rowid, m.id, m.direction, m.digest, m.stored FROM message m WHERE m.stored < ? AND NOT EXISTS
                        (SELECT 1 FROM delivery d WHERE d.message = m.rowid AND d.state IN ('pending', 'inflight'))
                    ORDER BY m.stored, m.rowid
                    """,
                arguments: [cutoffSeconds]
            )
            if let archived, let archive {
                for row in candidates {
                    let id = MessageID(row["id"] as Data)!
                    let receipts = try Set(
                        Data.fetchAll(db, sql: "SELECT digest FROM receipt WHERE message_id = ?", arguments: [id.data])
                    )
                    guard let (digest, archivedReceipts) = archived[id], digest == row["digest"] as Data else {
                        throw StoreError(
                            .invalidState,
                            "message \(id) (stored \(StoreTime.date(row["stored"]))) is not in the archive \(archive) with the same bytes; export its range first; nothing was deleted"
                        )
                    }
                    guard receipts.isSubset(of: archivedReceipts) else {
                        throw StoreError(
                            .invalidState,
                            "the archive \(archive) lacks \(receipts.subtracting(archivedReceipts).count) receipt(s) of message \(id) that the store holds (received after the export?); export its range again; nothing was deleted"
                        )
                    }
                }
            }
            guard !candidates.isEmpty else { return summary }

            try db.execute(
                sql: "INSERT INTO purge_authorization (id, cutoff) VALUES (1, ?)",
                arguments: [cutoffSeconds]
            )
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
            let checked =
                summary.archive.map { " (all present in the archive \(archive!), sha-256 \($0.digest.hexString))" }
                ?? ""
            try Audit.append(
                db,
                .purged,
                at: now,
                detail: """
                    retention purge of messages stored before \(summary.cutoff): \(summary.sentMessagesDeleted) sent and \
                    \(summary.receivedMessagesDeleted) received messages, \(summary.receiptsDeleted) receipts, \
                    \(summary.deliveriesDeleted) deliveries deleted\(checked); \(summary.keptUndelivered) kept (undelivered)
                    """
            )
            return summary
        }
    }
    /// The archive's summary, and for each message in it: its digest and the digests of its receipts.
    private static func archivedDigests(
        in archive: String
    ) throws(StoreError) -> (ArchiveSummary, [MessageID: (Data, Set<Data>)]) {
        var contents: [MessageID: (Data, Set<Data>)] = [:]
        do {
            let summary = try Self.readArchive(at: archive) { entry in
                switch entry {
                case .message(let message): contents[message.fields.id] = (message.fields.bytes.sha256, [])
                case .receipt(let receipt): contents[receipt.messageID]?.1.insert(receipt.digest)
                default: break
                }
            }
            return (summary, contents)
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(.archiveInvalid, "reading the archive \(archive) failed: \(error)")
        }
    }
}
