-- A Parley store at schema version 1, as written by the first release (frozen: never edit).
-- Tests/ParleyStoreTests/MigrationTests.swift runs this, then opens the file with current code.
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
CREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY);
INSERT INTO grdb_migrations VALUES ('v1');
INSERT INTO message VALUES (1, X'01010101010101010101010101010101', 1, 'RU-NRRC', 1, 1767225600, 1767225660, X'd28466697874757265206d657373616765206f6e652028726563656976656429', X'247f3dfa16e479cb1d8920f25c33ca1831f442bf628fa11d7e5dd84465552b90', 'en', 'Launch window moved because of weather');
INSERT INTO message VALUES (2, X'02020202020202020202020202020202', 1, 'RU-NRRC', 3, 1767229200, 1767229260, X'd28466697874757265206d6573736167652074776f2028726563656976656429', X'57a9114de9ce1933f9c99dffc21a7e05dc4ffc2f5a8c6b74b23a3d29d8c6786e', 'fr', 'Lancement annulé pour raisons techniques');
INSERT INTO message VALUES (3, X'03030303030303030303030303030303', 0, 'US-NRRC', 9, 1767232800, 1767232800, X'd28466697874757265206d657373616765207468726565202873656e7429', X'3d78b43f6e577215293f5c7ee5128e0722c82d0f9ba1accd2b73ba6baa98a334', NULL, NULL);
INSERT INTO reference VALUES (2, X'01010101010101010101010101010101', 2);
INSERT INTO reference VALUES (3, X'01010101010101010101010101010101', 5);
INSERT INTO receipt VALUES (1, X'01010101010101010101010101010101', 1, 'US-NRRC', 0, NULL, NULL, 1767225660, X'726563656970742069737375656420666f72206f6e65', X'0dc40f41f9f687f471405bb25908617fcbce44ad3752b6cb8b0a0af6f881a3c4');
INSERT INTO receipt VALUES (2, X'02020202020202020202020202020202', 1, 'US-NRRC', 0, NULL, NULL, 1767229260, X'726563656970742069737375656420666f722074776f', X'a1e5fedb12840209c7379470a84c53c7757e6378c6e8fe14779f893f828768cc');
INSERT INTO receipt VALUES (3, X'03030303030303030303030303030303', 0, 'RU-NRRC', 0, NULL, NULL, 1767232810, X'726563656970742066726f6d2052552d4e52524320666f72207468726565', X'a6648eae580cb9d5dff7eec2af0493d283ef8a1d53223374438ca62c729e1eb9');
INSERT INTO inbox VALUES (1, 'RU-NRRC', 'US-NRRC', 1, 1);
INSERT INTO inbox VALUES (2, 'RU-NRRC', 'US-NRRC', 3, 2);
INSERT INTO delivery VALUES (3, 'US-NRRC', 'RU-NRRC', 1, 'delivered', 1, 1767232800, NULL, 3, 1767232810);
INSERT INTO delivery VALUES (3, 'US-NRRC', 'HCOC-CC', 1, 'pending', 0, 1767232800, NULL, NULL, 1767232800);
INSERT INTO channel_out VALUES ('US-NRRC', 'HCOC-CC', 2);
INSERT INTO channel_out VALUES ('US-NRRC', 'RU-NRRC', 2);
INSERT INTO channel_in VALUES ('RU-NRRC', 'US-NRRC', 1, 3);
INSERT INTO channel_gap VALUES ('RU-NRRC', 'US-NRRC', 2, 2, 1767229260);
INSERT INTO audit VALUES (1, 1767225660, 'received', X'01010101010101010101010101010101', 'RU-NRRC', 'US-NRRC#1');
INSERT INTO audit VALUES (2, 1767229260, 'received', X'02020202020202020202020202020202', 'RU-NRRC', 'US-NRRC#3');
INSERT INTO audit VALUES (3, 1767229260, 'gap-detected', X'02020202020202020202020202020202', 'RU-NRRC', 'US-NRRC#2…2 missing; 3 arrived');
INSERT INTO audit VALUES (4, 1767232800, 'queued', X'03030303030303030303030303030303', NULL, 'to HCOC-CC#1, RU-NRRC#1');
INSERT INTO audit VALUES (5, 1767232810, 'delivered', X'03030303030303030303030303030303', 'RU-NRRC', 'status accepted');
