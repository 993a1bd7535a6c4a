import Foundation
import ParleyProtocol
import GRDB

/// Kinds of audit-log events.
public enum AuditKind: String, Sendable, Hashable, CaseIterable {
    case queued
    case attempt
    case attemptFailed = "attempt-failed"
    case delivered
    case rejected
    case expired
    case received
    case receiptReceived = "receipt-received"
    case duplicate
    case equivocation
    case replay
    case gapDetected = "gap-detected"
    case gapFilled = "gap-filled"
    case retried
    case cancelled
    case requeued
    case imported
    /// A retention purge deleted old messages (one event per purge, with the counts).
    case purged
    /// This node signed and returned a rejection receipt (kept in `issued_rejection`).
    case rejectionIssued = "rejection-issued"

    /// Events an operator must look at.
    public var isAlert: Bool { self == .equivocation || self == .replay }
}

/// One entry of the append-only audit log.
public struct AuditEvent: Hashable, Sendable {
    /// Position in the log (strictly increasing).
    public var sequence: Int64
    public var at: Date
    /// The kind as stored; `kind` is nil only for kinds added by newer software.
    public var kindName: String
    public var kind: AuditKind? { AuditKind(rawValue: kindName) }
    public var messageID: MessageID?
    public var peer: String?
    public var detail: String?
}

enum Audit {
    static func append(
        _ db: Database,
        _ kind: AuditKind,
        at: Int64,
        message: MessageID? = nil,
        peer: String? = nil,
        detail: String? = nil
    ) throws {
        let statement = try db.cachedStatement(
            sql: "INSERT INTO audit (at, kind, message_id, peer, detail) VALUES (?, ?, ?, ?, ?)"
        )
        try statement.execute(arguments: [at, kind.rawValue, message?.data, peer, detail])
    }
}

extension ParleyStore {
    /// Audit events after position `after` (0 for the start), oldest first.
    public func auditEvents(
        after: Int64 = 0,
        kinds: Set<AuditKind>? = nil,
        messageID: MessageID? = nil,
        limit: Int = 1000
    ) async throws(StoreError) -> [AuditEvent] {
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
        return try await read { [sql, arguments] db in
            try Row.fetchAll(db, sql: sql, arguments: arguments).map { row in
                AuditEvent(
                    sequence: row["rowid"],
                    at: StoreTime.date(row["at"]),
                    kindName: row["kind"],
                    messageID: (row["message_id"] as Data?).flatMap { MessageID($0) },
                    peer: row["peer"],
                    detail: row["detail"]
                )
            }
        }
    }

    /// How many alerts (equivocations and replays) the audit log holds.
    public func alertCount() async throws(StoreError) -> Int {
        let kinds = AuditKind.allCases.filter(\.isAlert).map { "'\($0.rawValue)'" }.joined(separator: ", ")
        return try await read { db in
            try Int.fetchOne(db, sql: "SELECT count(*) FROM audit WHERE kind IN (\(kinds))") ?? 0
        }
    }

    /// Alerts (equivocations and replays) after position `after`.
    public func alerts(after: Int64 = 0, limit: Int = 1000) async throws(StoreError) -> [AuditEvent] {
        try await auditEvents(after: after, kinds: Set(AuditKind.allCases.filter(\.isAlert)), limit: limit)
    }
}
