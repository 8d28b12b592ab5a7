//! Rows as the store hands them out. Plain data: no behaviour, no secrets in clear.

use tsuzuki_core::clock::Timestamp;
use tsuzuki_core::remember::{FamilyState, Sealed};
use tsuzuki_core::session::SessionTimes;
use tsuzuki_core::token::TokenHash;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub email: String,
    /// Argon2id PHC string.
    pub password_hash: String,
    pub disabled: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub id: String,
    pub email: String,
    pub password_hash: String,
    pub now: Timestamp,
}

/// A session as stored. The token itself is never here, only its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub id_hash: TokenHash,
    /// Public, non-secret name for the session (device lists, logs, revocation by the user).
    pub handle: String,
    pub user_id: String,
    pub times: SessionTimes,
    /// When the person last proved who they are (SEC-70).
    pub auth_time: Timestamp,
    /// Comma-separated method codes (`pwd`, …).
    pub methods: String,
    pub remembered: bool,
    /// Address at sign-in and the most recent one: a change is recorded, never a sign-out.
    pub ip: String,
    pub last_ip: String,
    pub user_agent: String,
    /// The remember-me family this session was restored from, if any.
    pub remember_handle: Option<String>,
}

/// A session with what the hot path needs of its user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionView {
    pub session: SessionRecord,
    pub email: String,
    pub user_disabled: bool,
}

/// One entry of the revocation feed: a single session, or every session of a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revocation {
    pub seq: i64,
    pub id_hash: Option<TokenHash>,
    pub user_id: Option<String>,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRecord {
    pub created_at: Timestamp,
    pub kind: String,
    pub user_id: Option<String>,
    pub session_handle: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub detail: String,
}

/// An audit event with its row id, which orders events (newest first) and is the cursor of the
/// admin API's event pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    pub id: i64,
    pub event: EventRecord,
}

/// Which audit events a page holds: all filters optional, `before` exclusive (a row id).
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub user_id: Option<String>,
    pub kind: Option<String>,
    pub before: Option<i64>,
    pub limit: i64,
}

/// A remember-me token family: one device's "keep me signed in" (R3). No validator in the
/// clear: its hash, the previous one's hash, and sealed grace-window values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RememberRecord {
    /// Secret lookup key (part of the cookie); never shown in device lists.
    pub selector: String,
    /// Public name for device lists and revocation.
    pub handle: String,
    pub user_id: String,
    pub state: FamilyState,
    pub sealed_successor: Option<Sealed>,
    pub sealed_session: Option<Sealed>,
    /// When the person last really authenticated (carried into restored sessions, SEC-70).
    pub auth_time: Timestamp,
    pub methods: String,
    pub created_at: Timestamp,
    pub ip: String,
    pub last_ip: String,
    pub user_agent: String,
}

/// One rotation: replace `expected` by `new_hash`, keeping what the grace window needs.
#[derive(Debug, Clone)]
pub struct Rotation {
    pub selector: String,
    pub expected: TokenHash,
    pub new_hash: TokenHash,
    pub sealed_successor: Sealed,
    pub sealed_session: Sealed,
    pub now: Timestamp,
    pub ip: String,
}

/// One session's latest activity, as a batch of activity writes carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionTouch {
    pub id_hash: TokenHash,
    pub last_active_at: Timestamp,
    pub ip: String,
}
