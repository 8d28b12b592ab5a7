-- Autosaved drafts (S5; PostgreSQL). Mirrors migrations/sqlite/0004_drafts.sql.
CREATE TABLE drafts (
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    form_key   TEXT NOT NULL,
    content    TEXT NOT NULL,
    page       TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, form_key)
);
CREATE INDEX drafts_by_expiry ON drafts(expires_at);
