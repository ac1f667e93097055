-- The outbox: local edits not yet known to be decided by the server. Precious: opened with
-- synchronous=FULL, and an op is written with its overlay rows in one transaction.
CREATE TABLE ops (
    seq             INTEGER PRIMARY KEY NOT NULL,
    op_id           TEXT NOT NULL UNIQUE,
    mutation        TEXT NOT NULL,
    args            TEXT NOT NULL,
    base_version    INTEGER,
    created_at      TEXT NOT NULL,
    state           TEXT NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'in_flight', 'applied', 'rejected', 'conflict')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    outcome         TEXT,
    applied_version INTEGER,
    decided_at      TEXT,
    resolved_at     TEXT
);
CREATE INDEX ops_by_state ON ops (state, seq);

-- What the op will look like once applied, shown until the replica has the server's rows.
CREATE TABLE overlay (
    op_seq  INTEGER NOT NULL REFERENCES ops (seq),
    entity  TEXT NOT NULL,
    id      TEXT NOT NULL,
    data    TEXT NOT NULL,
    PRIMARY KEY (op_seq, entity, id)
) WITHOUT ROWID;

-- This device: server URL, school, user, device id, client id, receipt series, refresh token.
CREATE TABLE device (
    key    TEXT PRIMARY KEY NOT NULL,
    value  TEXT NOT NULL
);
