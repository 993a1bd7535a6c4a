import GRDB

/// The full-text index of remarks (`message_fts`, FTS5 with external content), kept up to date by
/// every write transaction of `ParleyStore.write`: the remarks of the messages it inserted are
/// indexed by one statement just before it commits.
///
/// Indexing each message as it is inserted (an insert trigger, schema versions 2–5) made FTS5 write
/// a new index segment for every message of a group commit, because FTS5 flushes its pending terms
/// whenever a statement savepoint opens or closes, and every later insert with a trigger or foreign
/// key opens one (schema version 6).
///
/// Deletions (a retention purge) still go through the `message_fts_delete` trigger, which removes
/// the entry at once: a transaction must not delete a message it inserted itself (its entry does
/// not exist yet). No write does: purges never insert, the other writes never delete.
enum FullTextIndex {
    /// The highest message rowid before the transaction's writes (0 for an empty table).
    static func mark(_ db: Database) throws -> Int64 {
        try Int64.fetchOne(db.cachedStatement(sql: "SELECT coalesce(max(rowid), 0) FROM message")) ?? 0
    }

    /// Indexes the remarks of the messages inserted since `mark` (rowids are assigned in increasing
    /// order within a transaction: no other writer runs).
    static func indexMessages(_ db: Database, after mark: Int64) throws {
        try db.cachedStatement(
            sql: """
                INSERT INTO message_fts(rowid, remarks_text)
                SELECT rowid, remarks_text FROM message WHERE rowid > ? AND remarks_text IS NOT NULL
                """
        ).execute(arguments: [mark])
    }
}
