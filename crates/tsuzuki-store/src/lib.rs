//! Storage for tsuzuki: one interface ([`Store`]), two real backends behind it.
//!
//! [`connect`] picks the backend once, from the URL (`sqlite:` or `postgres:`), applies that
//! backend's migrations and returns a `Arc<dyn Store>`. Both backends run the same SQL text
//! through sqlx's `Any` driver (numbered `$n` parameters work in both); what differs between them
//! — DDL, connection pragmas — lives in `migrations/<backend>/` and [`backend`]. The contract
//! suite in `tests/contract.rs` runs against both.
//!
//! The store keeps no rules: it never decides whether a session is valid, only returns rows.

pub mod backend;
mod drafts;
mod factors;
mod flows;
mod history;
mod migrate;
mod sql;
pub mod testing;
mod types;

pub use backend::{Backend, connect};
pub use drafts::{DraftRecord, DraftStore};
pub use factors::{FactorRecord, FactorStore, TrustedDeviceRecord};
pub use flows::{FlowRecord, FlowStore, PendingCode};
pub use history::{HistoryStore, SignInRecord};
pub use migrate::MigrateError;
pub use types::*;

use async_trait::async_trait;
use tsuzuki_core::clock::Timestamp;
use tsuzuki_core::email::Email;
use tsuzuki_core::token::TokenHash;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint refused the write (for example, an email that is already taken).
    #[error("already exists")]
    Conflict,
    #[error("not found")]
    NotFound,
    /// The database could not be reached or failed; the caller answers 503, never "signed out".
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Migrate(#[from] MigrateError),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict,
            _ => StoreError::Unavailable(e.to_string()),
        }
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// Everything tsuzuki keeps. Implemented by [`sql::SqlStore`] for SQLite and PostgreSQL. The
/// parts added with the sign-in flows and drafts live in their own traits ([`FlowStore`],
/// [`FactorStore`], [`HistoryStore`], [`DraftStore`]) so that each file stays about one thing.
#[async_trait]
pub trait Store:
    FlowStore + FactorStore + HistoryStore + DraftStore + Send + Sync + 'static
{
    fn backend(&self) -> Backend;
    /// A cheap query that proves the database answers (readiness).
    async fn ping(&self) -> Result<()>;

    // Accounts.
    async fn create_user(&self, user: &NewUser) -> Result<User>;
    async fn user_by_email(&self, email: &Email) -> Result<Option<User>>;
    async fn user_by_id(&self, id: &str) -> Result<Option<User>>;
    async fn list_users(&self) -> Result<Vec<User>>;
    /// At most `limit` accounts in email order, after `after_email` (exclusive): keyset pages for
    /// the admin API, stable while accounts are added.
    async fn users_page(&self, after_email: Option<&str>, limit: i64) -> Result<Vec<User>>;
    async fn set_password_hash(&self, user_id: &str, hash: &str, now: Timestamp) -> Result<()>;
    async fn set_disabled(&self, user_id: &str, disabled: bool, now: Timestamp) -> Result<()>;

    // Sessions.
    async fn insert_session(&self, session: &SessionRecord) -> Result<()>;
    /// The session with this id hash, joined with its user's email and disabled flag.
    async fn session_by_hash(&self, id_hash: &TokenHash) -> Result<Option<SessionView>>;
    /// Store the latest activity of several sessions (coalesced and batched by the caller) and
    /// the addresses it came from: a few statements, each atomic on its own (applying a touch
    /// twice changes nothing, so a batch cut short can simply be written again). Never moves a
    /// session's activity back.
    async fn touch_sessions(&self, touches: &[SessionTouch]) -> Result<()>;
    /// Delete one session and log its revocation. Returns whether it existed.
    async fn revoke_session(&self, id_hash: &TokenHash, now: Timestamp) -> Result<bool>;
    /// Delete every session of a user (but `keep`, if given) and log the revocation.
    async fn revoke_user_sessions(
        &self,
        user_id: &str,
        keep: Option<&TokenHash>,
        now: Timestamp,
    ) -> Result<u64>;
    async fn sessions_of_user(&self, user_id: &str) -> Result<Vec<SessionRecord>>;
    /// The session with this public handle (operator tools).
    async fn session_by_handle(&self, handle: &str) -> Result<Option<SessionRecord>>;
    /// Delete up to `limit` sessions that expired by absolute time or were idle since before
    /// `idle_cutoff`. Small batches keep the write lock short (SEC-81).
    async fn delete_expired_sessions(
        &self,
        now: Timestamp,
        idle_cutoff: Timestamp,
        limit: i64,
    ) -> Result<u64>;

    // The revocation feed that keeps every process's session cache honest.
    /// Whether a session with this hash was revoked recently (the feed still holds it), so that
    /// its cookie can be answered with `session_revoked` rather than "unknown" (SEC-14).
    async fn is_revoked(&self, id_hash: &TokenHash) -> Result<bool>;
    async fn revocations_after(&self, seq: i64, limit: i64) -> Result<Vec<Revocation>>;
    async fn last_revocation_seq(&self) -> Result<i64>;
    async fn prune_revocations(&self, before: Timestamp) -> Result<u64>;

    // Throttling counters, shared by every process on the same database (SEC-58).
    /// Count one more failure for `key` (restarting the count if the last one was at or before
    /// `window_start`) and return the new count. Atomic.
    async fn throttle_failure(
        &self,
        key: &str,
        now: Timestamp,
        window_start: Timestamp,
    ) -> Result<u32>;
    /// Block `key` until `until` (never shortens an existing block).
    async fn throttle_block(&self, key: &str, until: Timestamp) -> Result<()>;
    /// When `key` is blocked until, if it is known.
    async fn throttle_blocked_until(&self, key: &str) -> Result<Option<Timestamp>>;
    async fn throttle_clear(&self, key: &str) -> Result<()>;
    async fn prune_throttle(&self, before: Timestamp) -> Result<u64>;

    // Remember-me token families (R2–R9).
    async fn insert_remember(&self, family: &RememberRecord) -> Result<()>;
    async fn remember_by_selector(&self, selector: &str) -> Result<Option<RememberRecord>>;
    /// Compare-and-set rotation and, in the same transaction, the session it starts. Returns
    /// false (and writes nothing) if the stored validator is no longer `rotation.expected`:
    /// another request rotated first (SEC-35: atomic across processes).
    async fn rotate_remember(&self, rotation: &Rotation, session: &SessionRecord) -> Result<bool>;
    async fn remember_of_user(&self, user_id: &str) -> Result<Vec<RememberRecord>>;
    /// Delete one family and end the sessions restored from it. Returns whether it existed.
    async fn revoke_remember(&self, handle: &str, now: Timestamp) -> Result<bool>;
    /// Delete every family of a user but `keep` (a handle), without touching sessions.
    async fn revoke_user_remember(&self, user_id: &str, keep: Option<&str>) -> Result<u64>;
    /// Delete up to `limit` families expired at `now` or unused since before `unused_before` (R9).
    async fn delete_expired_remember(
        &self,
        now: Timestamp,
        unused_before: Timestamp,
        limit: i64,
    ) -> Result<u64>;
    /// Operator "revoke all": every session, every family and every trusted device of every user.
    /// Returns (sessions, families).
    async fn revoke_everything(&self, now: Timestamp) -> Result<(u64, u64)>;

    // Audit events.
    async fn record_event(&self, event: &EventRecord) -> Result<()>;
    async fn events_of_user(&self, user_id: &str, limit: i64) -> Result<Vec<EventRecord>>;
    /// Audit events newest first, filtered (admin API).
    async fn events_page(&self, filter: &EventFilter) -> Result<Vec<StoredEvent>>;
}
