-- The audit log: one row per gateway decision, hash-chained (see
-- toolgate-audit's chain.rs). Timestamps are RFC 3339 UTC text with
-- microseconds (fixed width, so they sort as times); JSON columns hold
-- canonical JSON text, kept byte for byte so hashes verify.
CREATE TABLE IF NOT EXISTS audit_log (
    seq              INTEGER PRIMARY KEY,
    time             TEXT    NOT NULL,
    request_id       TEXT    NOT NULL,
    grant_name       TEXT    NOT NULL,
    principal        TEXT,
    session_id       TEXT,
    server           TEXT    NOT NULL,
    method           TEXT    NOT NULL,
    target           TEXT,
    verdict          TEXT    NOT NULL,
    rule             TEXT,
    policy_version   TEXT,
    reason           TEXT,
    upstream         TEXT    NOT NULL,
    rpc_error_code   INTEGER,
    gateway_micros   INTEGER NOT NULL,
    upstream_micros  INTEGER NOT NULL,
    argument_keys    TEXT    NOT NULL,
    arguments_sha256 TEXT,
    arguments        TEXT,
    prev_hash        TEXT    NOT NULL,
    hash             TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_log_time ON audit_log (time);
CREATE INDEX IF NOT EXISTS audit_log_grant ON audit_log (grant_name);
CREATE INDEX IF NOT EXISTS audit_log_target ON audit_log (target);
CREATE INDEX IF NOT EXISTS audit_log_verdict ON audit_log (verdict);

-- The chain head: the last seq and hash appended, updated in the same
-- transaction as the rows. It serializes writers and lets verify notice a
-- truncated tail.
CREATE TABLE IF NOT EXISTS audit_chain_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash TEXT    NOT NULL
);
INSERT INTO audit_chain_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000')
ON CONFLICT (id) DO NOTHING;
