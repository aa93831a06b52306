-- Grants made at run time (`toolgate grant create`). Tokens are never
-- stored, only their SHA-256 (lowercase hex); the unique index on it is
-- what every request's lookup uses. Times are milliseconds since the Unix
-- epoch, UTC. A revoked grant keeps its row (and its name).
CREATE TABLE IF NOT EXISTS toolgate_grants (
    name          TEXT    NOT NULL PRIMARY KEY,
    server        TEXT    NOT NULL,
    policy        TEXT,
    token_sha256  TEXT    NOT NULL,
    created_at_ms INTEGER NOT NULL,
    revoked_at_ms INTEGER
);
CREATE UNIQUE INDEX IF NOT EXISTS toolgate_grants_token ON toolgate_grants (token_sha256);
