-- tsuzuki schema v1 (PostgreSQL). Mirrors migrations/sqlite/0001_initial.sql column for column.
CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    disabled      BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

CREATE TABLE sessions (
    id_hash        BYTEA PRIMARY KEY,
    handle         TEXT NOT NULL UNIQUE,
    user_id        TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at     BIGINT NOT NULL,
    auth_time      BIGINT NOT NULL,
    last_active_at BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    methods        TEXT NOT NULL,
    remembered     BIGINT NOT NULL DEFAULT 0,
    ip             TEXT NOT NULL,
    last_ip        TEXT NOT NULL,
    user_agent     TEXT NOT NULL
);
CREATE INDEX sessions_by_user ON sessions(user_id);
CREATE INDEX sessions_by_expiry ON sessions(expires_at);
CREATE INDEX sessions_by_activity ON sessions(last_active_at);

CREATE TABLE revocations (
    seq        BIGSERIAL PRIMARY KEY,
    id_hash    BYTEA,
    user_id    TEXT,
    created_at BIGINT NOT NULL
);

CREATE INDEX revocations_by_hash ON revocations(id_hash);
CREATE INDEX revocations_by_time ON revocations(created_at);

CREATE TABLE throttle (
    key             TEXT PRIMARY KEY,
    failures        BIGINT NOT NULL,
    last_failure_at BIGINT NOT NULL,
    blocked_until   BIGINT NOT NULL
);

CREATE TABLE events (
    id             BIGSERIAL PRIMARY KEY,
    created_at     BIGINT NOT NULL,
    kind           TEXT NOT NULL,
    user_id        TEXT,
    session_handle TEXT,
    ip             TEXT,
    user_agent     TEXT,
    detail         TEXT NOT NULL DEFAULT ''
);
CREATE INDEX events_by_user ON events(user_id, created_at);
