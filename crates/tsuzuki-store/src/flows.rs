//! Storage of sign-in flows (S7): rows that outlive tabs, browsers, sessions and restarts.

use crate::Result;
use async_trait::async_trait;
use tsuzuki_core::clock::Timestamp;
use tsuzuki_core::flow::{FlowState, Method};
use tsuzuki_core::token::TokenHash;

/// A flow as stored. No secret in the clear: the URL id, the browser binding and the current
/// code are hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowRecord {
    /// SHA-256 of the flow id that the flow's URL carries.
    pub id_hash: TokenHash,
    /// SHA-256 of the browser cookie the flow is bound to.
    pub binding_hash: TokenHash,
    pub state: FlowState,
    /// The account, once known (always, except for a registration before the account exists).
    pub user_id: Option<String>,
    /// What the person typed to identify themselves, to fill the form again after expiry.
    pub identifier: String,
    /// Step-up: the session being re-authenticated.
    pub session_hash: Option<TokenHash>,
    /// "Keep me signed in" was asked for at the password step (issued only at completion).
    pub remember: bool,
    /// Where to go after completion (a local path).
    pub return_to: String,
    /// Kind-specific data carried through the flow (a signed pending operation, a hash).
    pub payload: String,
    /// The one valid code, if one was sent.
    pub code: Option<PendingCode>,
    /// How many codes this flow has sent (the resend cooldown grows with it).
    pub codes_sent: u32,
    pub ip: String,
    pub user_agent: String,
    /// Optimistic-concurrency counter: an update applies only to the version it was read at.
    pub version: i64,
}

/// The newest code sent in a flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingCode {
    /// Keyed hash of the code, bound to the flow.
    pub hash: TokenHash,
    pub method: Method,
    pub sent_at: Timestamp,
    pub expires_at: Timestamp,
    /// Wrong attempts against this code.
    pub attempts: u32,
}

#[async_trait]
pub trait FlowStore: Send + Sync {
    async fn insert_flow(&self, flow: &FlowRecord) -> Result<()>;
    async fn flow_by_id(&self, id_hash: &TokenHash) -> Result<Option<FlowRecord>>;
    /// Write `flow` if the stored row is still at `flow.version` (and bump the version). False
    /// when another request changed it first: two submissions of one step never both succeed.
    async fn update_flow(&self, flow: &FlowRecord) -> Result<bool>;
    /// Delete up to `limit` flows past their hard limit before `before`.
    async fn delete_expired_flows(&self, before: Timestamp, limit: i64) -> Result<u64>;
    /// How many audit events of `kind` the account has after `since`, and when the oldest of
    /// them was: the daily cap on codes (S8) and the hourly cap on failure notices (SEC-59)
    /// count their events rather than keep counters of their own.
    async fn count_events_since(
        &self,
        user_id: &str,
        kind: &str,
        since: Timestamp,
    ) -> Result<(u32, Option<Timestamp>)>;
}
