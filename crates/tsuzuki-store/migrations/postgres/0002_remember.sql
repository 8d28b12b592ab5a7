-- Remember-me token families (R2, R3), PostgreSQL; mirrors migrations/sqlite/0002_remember.sql.
-- One row per device; the selector stays, the validator rotates. Only hashes of validators are
-- stored; the sealed_* columns hold the successor validator and session token XORed with a pad that
-- needs the server key AND the previous validator, for the grace window only.
CREATE TABLE remember_tokens (
    selector         TEXT PRIMARY KEY,
    handle           TEXT NOT NULL UNIQUE,
    user_id          TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    validator_hash   BYTEA NOT NULL,
    previous_hash    BYTEA,
    rotated_at       BIGINT,
    sealed_successor BYTEA,
    sealed_session   BYTEA,
    auth_time        BIGINT NOT NULL,
    methods          TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    last_used_at     BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    ip               TEXT NOT NULL,
    last_ip          TEXT NOT NULL,
    user_agent       TEXT NOT NULL
);
CREATE INDEX remember_by_user ON remember_tokens(user_id);
CREATE INDEX remember_by_expiry ON remember_tokens(expires_at);
CREATE INDEX remember_by_use ON remember_tokens(last_used_at);

-- The family a session was restored from, so that theft ends those sessions too.
ALTER TABLE sessions ADD COLUMN remember_handle TEXT;
CREATE INDEX sessions_by_remember ON sessions(remember_handle);
