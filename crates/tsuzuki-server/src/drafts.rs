//! Autosaved drafts as a service (S5): what a person typed, kept for the account, so that an
//! expired session, a re-login or another device never loses it. The rules (key, size, count,
//! retention) are `tsuzuki_core::drafts`; this module stores and filters.

use std::sync::Arc;
use tsuzuki_core::clock::Clock;
use tsuzuki_core::drafts::{self, DraftPolicy, DraftRefusal};
use tsuzuki_store::{DraftRecord, Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DraftError {
    Refused(DraftRefusal),
    NotFound,
    Unavailable,
}

impl From<StoreError> for DraftError {
    fn from(e: StoreError) -> Self {
        tracing::warn!(error = %e, "store failed for a draft");
        DraftError::Unavailable
    }
}

#[derive(Clone)]
pub struct Drafts {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub policy: DraftPolicy,
}

impl Drafts {
    /// Save (create or replace) a draft; its retention starts again.
    pub async fn save(
        &self,
        user_id: &str,
        key: &str,
        content: &str,
        page: &str,
    ) -> Result<DraftRecord, DraftError> {
        let existing = self.list(user_id).await?;
        let replacing = existing.iter().any(|d| d.form_key == key);
        let count = u32::try_from(existing.len()).unwrap_or(u32::MAX);
        drafts::check_save(key, content.len(), count, replacing, &self.policy)
            .map_err(DraftError::Refused)?;
        let now = self.clock.now();
        let record = DraftRecord {
            user_id: user_id.to_string(),
            form_key: key.to_string(),
            content: content.to_string(),
            // A page is a local path; anything else is not kept.
            page: crate::http::safe_return_path(Some(page), ""),
            created_at: now,
            updated_at: now,
            expires_at: drafts::expires_at(now, &self.policy),
        };
        self.store.put_draft(&record).await?;
        Ok(record)
    }

    /// A live draft (an expired one waiting for the cleanup job is not returned).
    pub async fn get(&self, user_id: &str, key: &str) -> Result<DraftRecord, DraftError> {
        if !drafts::valid_key(key) {
            return Err(DraftError::Refused(DraftRefusal::InvalidKey));
        }
        let now = self.clock.now();
        self.store
            .draft(user_id, key)
            .await?
            .filter(|d| now < d.expires_at)
            .ok_or(DraftError::NotFound)
    }

    /// The account's live drafts, newest first.
    pub async fn list(&self, user_id: &str) -> Result<Vec<DraftRecord>, DraftError> {
        let now = self.clock.now();
        Ok(self
            .store
            .drafts_of_user(user_id)
            .await?
            .into_iter()
            .filter(|d| now < d.expires_at)
            .collect())
    }

    /// Delete a draft (the form was submitted). Idempotent.
    pub async fn delete(&self, user_id: &str, key: &str) -> Result<(), DraftError> {
        if !drafts::valid_key(key) {
            return Err(DraftError::Refused(DraftRefusal::InvalidKey));
        }
        self.store.delete_draft(user_id, key).await?;
        Ok(())
    }

    /// Delete expired drafts in small batches (the cleanup job).
    pub async fn cleanup(&self) -> Result<u64, StoreError> {
        let now = self.clock.now();
        let mut total = 0;
        loop {
            let n = self.store.delete_expired_drafts(now, 500).await?;
            total += n;
            if n < 500 {
                return Ok(total);
            }
        }
    }
}
