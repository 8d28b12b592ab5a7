-- Autosaved drafts (S5): what a person typed into a marked form, kept for the account (not the
-- session), so that it survives an expired session, a re-login and a change of device.
CREATE TABLE drafts (
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    form_key   TEXT NOT NULL,
    content    TEXT NOT NULL,
    page       TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, form_key)
);
CREATE INDEX drafts_by_expiry ON drafts(expires_at);
