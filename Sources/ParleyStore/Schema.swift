import GRDB

/// The store's schema and its migrations. A migration, once released, never changes: a new schema
/// version is a new migration appended here.
enum Schema {
    /// The schema version this code writes (`PRAGMA user_version`).
    static let currentVersion = 6
    /// `PRAGMA application_id` of a Parley store: "PRLY".
    static let applicationID: Int32 = 0x5052_4C59

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: v1)
        }
        migrator.registerMigration("v2") { db in
            try db.execute(sql: v2)
        }
        migrator.registerMigration("v3") { db in
            try db.execute(sql: v3)
        }
        migrator.registerMigration("v4") { db in
            try db.execute(sql: v4)
        }
        migrator.registerMigration("v5") { db in
            try db.execute(sql: v5)
        }
        migrator.registerMigration("v6") { db in
            try db.execute(sql: v6)
        }
        return migrator
    }

    /// Version 1: messages, references, receipts, deliveries, inbox, channels, audit log.
    static let v1 = """
        PRAGMA application_id = 1347570777;

        CREATE TABLE message (
            rowid INTEGER PRIMARY KEY,
            id BLOB NOT NULL UNIQUE CHECK (typeof(id) = 'blob' AND length(id) = 16),
            direction INTEGER NOT NULL CHECK (direction IN (0, 1)),
            sender TEXT NOT NULL,
            type INTEGER NOT NULL CHECK (type >= 0),
            created INTEGER NOT NULL,
            stored INTEGER NOT NULL,
            bytes BLOB NOT NULL,
            digest BLOB NOT NULL CHECK (length(digest) = 32),
            remarks_lang TEXT,
            remarks_text TEXT
        );
        CREATE INDEX message_by_sender ON message(direction, sender, created);
        CREATE INDEX message_by_type ON message(direction, type, created);
        CREATE INDEX message_by_created ON message(direction, created);
        CREATE INDEX message_by_stored ON message(stored);
        CREATE TRIGGER message_no_update BEFORE UPDATE ON message
            BEGIN SELECT RAISE(ABORT, 'stored messages are immutable'); END;
        CREATE TRIGGER message_no_delete BEFORE DELETE ON message
            BEGIN SELECT RAISE(ABORT, 'stored messages are never deleted'); END;

        CREATE TABLE reference (
            message INTEGER NOT NULL REFERENCES message(rowid),
            target BLOB NOT NULL CHECK (length(target) = 16),
            relation INTEGER NOT NULL,
            PRIMARY KEY (message, target, relation)
        ) WITHOUT ROWID;
        CREATE INDEX reference_by_target ON reference(target);

        CREATE TABLE receipt (
            rowid INTEGER PRIMARY KEY,
            message_id BLOB NOT NULL CHECK (length(message_id) = 16),
            direction INTEGER NOT NULL CHECK (direction IN (0, 1)),
            signer TEXT NOT NULL,
            status INTEGER NOT NULL CHECK (status IN (0, 1, 2)),
            rejection_code INTEGER,
            rejection_reason TEXT,
            stored INTEGER NOT NULL,
            bytes BLOB NOT NULL,
            digest BLOB NOT NULL CHECK (length(digest) = 32),
            UNIQUE (message_id, digest)
        );
        CREATE TRIGGER receipt_no_update BEFORE UPDATE ON receipt
            BEGIN SELECT RAISE(ABORT, 'stored receipts are immutable'); END;
        CREATE TRIGGER receipt_no_delete BEFORE DELETE ON receipt
            BEGIN SELECT RAISE(ABORT, 'stored receipts are never deleted'); END;

        CREATE TABLE delivery (
            message INTEGER NOT NULL REFERENCES message(rowid),
            sender TEXT NOT NULL,
            recipient TEXT NOT NULL,
            seq INTEGER NOT NULL CHECK (seq >= 1),
            state TEXT NOT NULL CHECK (state IN ('pending', 'inflight', 'delivered', 'rejected', 'expired', 'cancelled')),
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt INTEGER NOT NULL,
            last_error TEXT,
            receipt INTEGER REFERENCES receipt(rowid),
            updated INTEGER NOT NULL,
            PRIMARY KEY (message, recipient),
            UNIQUE (sender, recipient, seq)
        ) WITHOUT ROWID;
        CREATE INDEX delivery_due ON delivery(recipient, state, next_attempt);
        CREATE INDEX delivery_by_state ON delivery(state, recipient);
        CREATE TRIGGER delivery_no_delete BEFORE DELETE ON delivery
            BEGIN SELECT RAISE(ABORT, 'deliveries are never deleted'); END;
        CREATE TRIGGER delivery_keeps_identity BEFORE UPDATE OF message, sender, recipient, seq ON delivery
            BEGIN SELECT RAISE(ABORT, 'a delivery keeps its message, channel and sequence number'); END;

        CREATE TABLE inbox (
            message INTEGER PRIMARY KEY REFERENCES message(rowid),
            sender TEXT NOT NULL,
            recipient TEXT NOT NULL,
            seq INTEGER NOT NULL CHECK (seq >= 1),
            receipt INTEGER NOT NULL REFERENCES receipt(rowid),
            UNIQUE (sender, recipient, seq)
        );
        CREATE TRIGGER inbox_no_update BEFORE UPDATE ON inbox
            BEGIN SELECT RAISE(ABORT, 'inbox entries are immutable'); END;
        CREATE TRIGGER inbox_no_delete BEFORE DELETE ON inbox
            BEGIN SELECT RAISE(ABORT, 'inbox entries are never deleted'); END;

        CREATE TABLE channel_out (
            sender TEXT NOT NULL,
            recipient TEXT NOT NULL,
            next_seq INTEGER NOT NULL CHECK (next_seq >= 1),
            PRIMARY KEY (sender, recipient)
        ) WITHOUT ROWID;

        CREATE TABLE channel_in (
            sender TEXT NOT NULL,
            recipient TEXT NOT NULL,
            contiguous INTEGER NOT NULL CHECK (contiguous >= 0),
            highest INTEGER NOT NULL CHECK (highest >= contiguous),
            PRIMARY KEY (sender, recipient)
        ) WITHOUT ROWID;

        CREATE TABLE channel_gap (
            sender TEXT NOT NULL,
            recipient TEXT NOT NULL,
            first INTEGER NOT NULL CHECK (first >= 1),
            last INTEGER NOT NULL CHECK (last >= first),
            detected INTEGER NOT NULL,
            PRIMARY KEY (sender, recipient, first)
        ) WITHOUT ROWID;

        CREATE TABLE audit (
            rowid INTEGER PRIMARY KEY,
            at INTEGER NOT NULL,
            kind TEXT NOT NULL,
            message_id BLOB,
            peer TEXT,
            detail TEXT
        );
        CREATE INDEX audit_by_message ON audit(message_id);
        CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
            BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
        CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
            BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;

        PRAGMA user_version = 1;
        """

    /// Version 2: full-text index of remarks (FTS5, external content) and an index for alerts.
    static let v2 = """
        CREATE VIRTUAL TABLE message_fts USING fts5(
            remarks_text, content = 'message', content_rowid = 'rowid',
            tokenize = 'unicode61 remove_diacritics 2'
        );
        INSERT INTO message_fts(message_fts) VALUES ('rebuild');
        CREATE TRIGGER message_fts_insert AFTER INSERT ON message WHEN new.remarks_text IS NOT NULL
            BEGIN INSERT INTO message_fts(rowid, remarks_text) VALUES (new.rowid, new.remarks_text); END;
        CREATE INDEX audit_by_kind ON audit(kind, rowid);
        PRAGMA user_version = 2;
        """

    /// Version 3: retention. The immutability triggers on DELETE now allow exactly one operation,
    /// `ParleyStore.purge`: while `purge_authorization` holds a row (written and removed inside the
    /// purge's transaction, so no other connection ever sees it), a message stored before its
    /// cutoff may be deleted together with its deliveries, inbox entry, references and receipts,
    /// but never while it has a pending or in-flight delivery, and never partially (the message row
    /// goes last, only once nothing refers to it). The audit log stays append-only; the FTS index
    /// follows message deletions.
    static let v3 = """
        CREATE TABLE purge_authorization (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            cutoff INTEGER NOT NULL
        );

        DROP TRIGGER message_no_delete;
        CREATE TRIGGER message_no_delete BEFORE DELETE ON message
            WHEN NOT EXISTS (SELECT 1 FROM purge_authorization WHERE old.stored < cutoff)
                OR EXISTS (SELECT 1 FROM delivery WHERE message = old.rowid)
                OR EXISTS (SELECT 1 FROM inbox WHERE message = old.rowid)
                OR EXISTS (SELECT 1 FROM receipt WHERE message_id = old.id)
                OR EXISTS (SELECT 1 FROM reference WHERE message = old.rowid)
            BEGIN SELECT RAISE(ABORT, 'stored messages are deleted only by a retention purge, before its cutoff, with everything that refers to them'); END;

        DROP TRIGGER receipt_no_delete;
        CREATE TRIGGER receipt_no_delete BEFORE DELETE ON receipt
            WHEN NOT EXISTS (SELECT 1 FROM purge_authorization a JOIN message m ON m.id = old.message_id WHERE m.stored < a.cutoff)
                OR EXISTS (SELECT 1 FROM message m JOIN delivery d ON d.message = m.rowid
                           WHERE m.id = old.message_id AND d.state IN ('pending', 'inflight'))
                OR EXISTS (SELECT 1 FROM delivery WHERE receipt = old.rowid)
                OR EXISTS (SELECT 1 FROM inbox WHERE receipt = old.rowid)
            BEGIN SELECT RAISE(ABORT, 'stored receipts are deleted only by a retention purge, with their message'); END;

        DROP TRIGGER delivery_no_delete;
        CREATE TRIGGER delivery_no_delete BEFORE DELETE ON delivery
            WHEN NOT EXISTS (SELECT 1 FROM purge_authorization a JOIN message m ON m.rowid = old.message WHERE m.stored < a.cutoff)
                OR old.state IN ('pending', 'inflight')
                OR EXISTS (SELECT 1 FROM delivery WHERE message = old.message AND state IN ('pending', 'inflight'))
            BEGIN SELECT RAISE(ABORT, 'deliveries are deleted only by a retention purge, with their message, and never while undelivered'); END;

        DROP TRIGGER inbox_no_delete;
        CREATE TRIGGER inbox_no_delete BEFORE DELETE ON inbox
            WHEN NOT EXISTS (SELECT 1 FROM purge_authorization a JOIN message m ON m.rowid = old.message WHERE m.stored < a.cutoff)
            BEGIN SELECT RAISE(ABORT, 'inbox entries are deleted only by a retention purge, with their message'); END;

        CREATE TRIGGER reference_no_update BEFORE UPDATE ON reference
            BEGIN SELECT RAISE(ABORT, 'references are immutable'); END;
        CREATE TRIGGER reference_no_delete BEFORE DELETE ON reference
            WHEN NOT EXISTS (SELECT 1 FROM purge_authorization a JOIN message m ON m.rowid = old.message WHERE m.stored < a.cutoff)
            BEGIN SELECT RAISE(ABORT, 'references are deleted only by a retention purge, with their message'); END;

        CREATE TRIGGER message_fts_delete AFTER DELETE ON message WHEN old.remarks_text IS NOT NULL
            BEGIN INSERT INTO message_fts(message_fts, rowid, remarks_text) VALUES ('delete', old.rowid, old.remarks_text); END;

        PRAGMA user_version = 3;
        """

    /// Version 4: the rejection receipts this node issues (signed, kept for auditors even though the
    /// rejected message is not stored: its id may be new, or belong to another stored message in the
    /// case of an equivocation; for equivocations and replays the rejected bytes are kept as
    /// evidence, SPEC.md §9.1 step 18), and indexes to list receipts by time and by signer. Issued rejections are
    /// immutable and never deleted.
    static let v4 = """
        CREATE TABLE issued_rejection (
            rowid INTEGER PRIMARY KEY,
            message_id BLOB NOT NULL CHECK (length(message_id) = 16),
            sender TEXT NOT NULL,
            signer TEXT NOT NULL,
            rejection_code INTEGER NOT NULL,
            rejection_reason TEXT NOT NULL,
            stored INTEGER NOT NULL,
            message_digest BLOB NOT NULL CHECK (length(message_digest) = 32),
            evidence BLOB,
            bytes BLOB NOT NULL,
            digest BLOB NOT NULL UNIQUE CHECK (length(digest) = 32)
        );
        CREATE INDEX issued_rejection_by_stored ON issued_rejection(stored);
        CREATE INDEX issued_rejection_by_message ON issued_rejection(message_id);
        CREATE TRIGGER issued_rejection_no_update BEFORE UPDATE ON issued_rejection
            BEGIN SELECT RAISE(ABORT, 'issued rejection receipts are immutable'); END;
        CREATE TRIGGER issued_rejection_no_delete BEFORE DELETE ON issued_rejection
            BEGIN SELECT RAISE(ABORT, 'issued rejection receipts are never deleted'); END;
        CREATE INDEX receipt_by_stored ON receipt(stored);
        CREATE INDEX receipt_by_signer ON receipt(signer, direction, stored);
        PRAGMA user_version = 4;
        """

    /// Version 5: pending deliveries of a recipient in channel order, so that the delivery loop's
    /// `dueDeliveries` walks the index and stops after the few rows it needs instead of sorting every
    /// pending delivery (25 ms per call with 20 000 queued, 0.1 ms with this index).
    static let v5 = """
        CREATE INDEX delivery_pending_order ON delivery(recipient, state, sender, seq);
        PRAGMA user_version = 5;
        """

    /// Version 6: remarks are indexed once per write transaction (`FullTextIndex`), not by an
    /// insert trigger. FTS5 writes its pending terms to disk as a new segment whenever a statement
    /// savepoint opens or closes, and every insert with a foreign key or a trigger opens one; with
    /// the trigger, each message of a group commit became its own segment (about 17 µs more per
    /// message: it doubled the cost of inserting one). Deletions still go through `message_fts_delete`.
    static let v6 = """
        DROP TRIGGER message_fts_insert;
        PRAGMA user_version = 6;
        """
}
