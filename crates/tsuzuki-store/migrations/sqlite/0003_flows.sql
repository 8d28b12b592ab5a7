-- Sign-in flows and second factors (issue #4: S3, S7-S10). Secrets appear only as hashes or,
-- for authenticator secrets that must be read back, encrypted with the server key.

-- A resumable sign-in, step-up, recovery or registration (S7). The id in the URL and the
-- browser cookie that binds the flow are stored as SHA-256 hashes. The current one-time code
-- lives in the row itself: a new code replaces the previous one, so only the newest is valid.
CREATE TABLE flows (
    id_hash          BLOB PRIMARY KEY,
    binding_hash     BLOB NOT NULL,
    kind             TEXT NOT NULL,
    step             TEXT NOT NULL,
    methods          TEXT NOT NULL,
    chosen           TEXT,
    failures         INTEGER NOT NULL DEFAULT 0,
    user_id          TEXT REFERENCES users(id) ON DELETE CASCADE,
    identifier       TEXT NOT NULL,
    session_hash     BLOB,
    remember         INTEGER NOT NULL DEFAULT 0,
    return_to        TEXT NOT NULL,
    payload          TEXT NOT NULL DEFAULT '',
    code_hash        BLOB,
    code_method      TEXT,
    code_sent_at     INTEGER,
    code_expires_at  INTEGER,
    code_attempts    INTEGER NOT NULL DEFAULT 0,
    codes_sent       INTEGER NOT NULL DEFAULT 0,
    created_at       INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL,
    hard_expires_at  INTEGER NOT NULL,
    ip               TEXT NOT NULL,
    user_agent       TEXT NOT NULL,
    version          INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX flows_by_expiry ON flows(hard_expires_at);

-- Second factors: authenticator apps (several per account), email and SMS (S8, S9).
-- confirmed_at is NULL while an enrolment waits for its first valid code.
CREATE TABLE factors (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind          TEXT NOT NULL,
    name          TEXT NOT NULL,
    secret_sealed BLOB,
    target        TEXT,
    last_step     INTEGER,
    confirmed_at  INTEGER,
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER
);
CREATE INDEX factors_by_user ON factors(user_id);

-- Single-use recovery codes, keyed hashes only (SEC-50).
CREATE TABLE recovery_codes (
    code_hash  BLOB PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    used_at    INTEGER
);
CREATE INDEX recovery_codes_by_user ON recovery_codes(user_id);

-- "Trust this device": its own hashed token, lifetime and revocation (S3, SEC-31).
CREATE TABLE trusted_devices (
    token_hash   BLOB PRIMARY KEY,
    handle       TEXT NOT NULL UNIQUE,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    ip           TEXT NOT NULL,
    user_agent   TEXT NOT NULL
);
CREATE INDEX trusted_by_user ON trusted_devices(user_id);
CREATE INDEX trusted_by_expiry ON trusted_devices(expires_at);

-- Login history (S10): every attempt on a known account, success or failure.
CREATE TABLE sign_ins (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    methods     TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    ip          TEXT NOT NULL,
    network     TEXT NOT NULL,
    user_agent  TEXT NOT NULL,
    browser_hash BLOB,
    new_device  INTEGER NOT NULL DEFAULT 0,
    suspicious  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX sign_ins_by_user ON sign_ins(user_id, created_at);
CREATE INDEX sign_ins_by_time ON sign_ins(created_at);
