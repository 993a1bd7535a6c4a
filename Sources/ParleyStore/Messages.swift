import Foundation
import ParleyProtocol
import GRDB

/// Row-level helpers shared by the outbox, the inbox and archive import.
enum MessageRows {
    static func validate(_ fields: MessageFields) throws(StoreError) {
        guard !fields.bytes.isEmpty else {
            throw StoreError(.invalidArgument, "message \(fields.id) has no bytes")
        }
        _ = try fields.type.storable("message type")
        guard fields.created.timeIntervalSince1970 >= 0 else {
            throw StoreError(.invalidArgument, "message \(fields.id) has a creation time before 1970")
        }
        for reference in fields.references {
            _ = try reference.relation.rawValue.storable("reference relation")
        }
    }

    static func rowid(_ db: Database, id: MessageID) throws -> Int64? {
        try Int64.fetchOne(db.cachedStatement(sql: "SELECT rowid FROM message WHERE id = ?"), arguments: [id.data])
    }

    /// Inserts the message row and its references; returns the rowid.
    static func insert(
        _ db: Database,
        _ fields: MessageFields,
        direction: MessageDirection,
        sender: String,
        stored: Int64,
        digest: Data
    ) throws -> Int64 {
        let statement = try db.cachedStatement(
            sql: """
                INSERT INTO message (id, direction, sender, type, created, stored, bytes, digest, remarks_lang, remarks_text)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """
        )
        try statement.execute(arguments: [
            fields.id.data, direction.rawValue, sender, Int64(fields.type), StoreTime.seconds(fields.created),
            stored, fields.bytes, digest, fields.remarks?.language, fields.remarks?.text,
        ])
        let rowid = db.lastInsertedRowID
        if !fields.references.isEmpty {
            let referenceStatement = try db.cachedStatement(
                sql: "INSERT OR IGNORE INTO reference (message, target, relation) VALUES (?, ?, ?)"
            )
            for reference in fields.references {
                try referenceStatement.execute(arguments: [
                    rowid, reference.target.data, Int64(reference.relation.rawValue),
                ])
            }
        }
        return rowid
    }

    static func references(_ db: Database, rowid: Int64) throws -> [MessageReference] {
        try Row.fetchAll(
            db.cachedStatement(
                sql: "SELECT target, relation FROM reference WHERE message = ? ORDER BY target, relation"
            ),
            arguments: [rowid]
        )
        .compactMap { row in
            guard let target = MessageID(row["target"] as Data) else { return nil }
            let code = row["relation"] as Int64
            guard let relation = Relation(rawValue: UInt64(max(0, code))) else {
                throw StoreError(
                    .corrupt,
                    "a stored reference of message row \(rowid) has relation \(code), which is not a relation of the wire tables; check the store with `checkIntegrity()` and report this"
                )
            }
            return MessageReference(target: target, relation: relation)
        }
    }
}
