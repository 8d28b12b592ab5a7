//! Storage of autosaved drafts (S5): keyed by account and form, independent of any session.

use crate::Result;
use async_trait::async_trait;
use tsuzuki_core::clock::Timestamp;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DraftRecord {
    pub user_id: String,
    /// The host application's name for the form (`inquiry`, `orders/42/edit`).
    pub form_key: String,
    /// The form's fields as the browser client serialised them (JSON text).
    pub content: String,
    /// The page the form is on, to offer the draft from elsewhere.
    pub page: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub expires_at: Timestamp,
}

#[async_trait]
pub trait DraftStore: Send + Sync {
    /// Create or replace the draft of (`user_id`, `form_key`); `created_at` is kept on replace.
    async fn put_draft(&self, draft: &DraftRecord) -> Result<()>;
    async fn draft(&self, user_id: &str, form_key: &str) -> Result<Option<DraftRecord>>;
    /// The user's drafts, newest first, without their content's bulk (content included).
    async fn drafts_of_user(&self, user_id: &str) -> Result<Vec<DraftRecord>>;
    /// Returns whether there was one.
    async fn delete_draft(&self, user_id: &str, form_key: &str) -> Result<bool>;
    async fn delete_expired_drafts(&self, now: Timestamp, limit: i64) -> Result<u64>;
}
