-- tsuzuki schema v1 (SQLite). Times are Unix seconds; secrets appear only as SHA-256 hashes.
-- Flags are INTEGER 0/1 so that SQLite and PostgreSQL rows decode the same way.
CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

CREATE TABLE sessions (
    id_hash        BLOB PRIMARY KEY,
    handle         TEXT NOT NULL UNIQUE,
    user_id        TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at     INTEGER NOT NULL,
    auth_time      INTEGER NOT NULL,
    last_active_at INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    methods        TEXT NOT NULL,
    remembered     INTEGER NOT NULL DEFAULT 0,
    ip             TEXT NOT NULL,
    last_ip        TEXT NOT NULL,
    user_agent     TEXT NOT NULL
);
CREATE INDEX sessions_by_user ON sessions(user_id);
CREATE INDEX sessions_by_expiry ON sessions(expires_at);
CREATE INDEX sessions_by_activity ON sessions(last_active_at);

-- Every revocation, in order, so that every process holding a session cache can catch up.
CREATE TABLE revocations (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    id_hash    BLOB,
    user_id    TEXT,
    created_at INTEGER NOT NULL
);

CREATE INDEX revocations_by_hash ON revocations(id_hash);
CREATE INDEX revocations_by_time ON revocations(created_at);

CREATE TABLE throttle (
    key             TEXT PRIMARY KEY,
    failures        INTEGER NOT NULL,
    last_failure_at INTEGER NOT NULL,
    blocked_until   INTEGER NOT NULL
);

CREATE TABLE events (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at     INTEGER NOT NULL,
    kind           TEXT NOT NULL,
    user_id        TEXT,
    session_handle TEXT,
    ip             TEXT,
    user_agent     TEXT,
    detail         TEXT NOT NULL DEFAULT ''
);
CREATE INDEX events_by_user ON events(user_id, created_at);
