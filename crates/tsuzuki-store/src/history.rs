//! Storage of the login history (S10).

use crate::Result;
use async_trait::async_trait;
use tsuzuki_core::alerts::Familiarity;
use tsuzuki_core::clock::Timestamp;
use tsuzuki_core::token::TokenHash;

/// One sign-in attempt on a known account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInRecord {
    pub user_id: String,
    pub created_at: Timestamp,
    /// Method codes joined by `+` (`pwd+totp`), or the step that failed.
    pub methods: String,
    /// `success`, `wrong_password`, `wrong_code`, `throttled`, …
    pub outcome: String,
    pub ip: String,
    /// The address's network (/24 for IPv4, /64 for IPv6): what "a network seen before" means.
    pub network: String,
    pub user_agent: String,
    /// SHA-256 of the browser cookie, to recognise a browser seen before.
    pub browser_hash: Option<TokenHash>,
    pub new_device: bool,
    pub suspicious: bool,
}

#[async_trait]
pub trait HistoryStore: Send + Sync {
    async fn record_sign_in(&self, record: &SignInRecord) -> Result<()>;
    /// The newest first.
    async fn sign_ins_of_user(&self, user_id: &str, limit: i64) -> Result<Vec<SignInRecord>>;
    async fn familiarity(
        &self,
        user_id: &str,
        browser_hash: Option<&TokenHash>,
        network: &str,
    ) -> Result<Familiarity>;
    /// Failed attempts on the account since `since`.
    async fn failures_since(&self, user_id: &str, since: Timestamp) -> Result<u32>;
    /// Delete up to `limit` entries older than `before` (retention).
    async fn prune_sign_ins(&self, before: Timestamp, limit: i64) -> Result<u64>;
}
