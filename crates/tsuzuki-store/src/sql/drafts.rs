//! SQL for [`DraftStore`].

use super::SqlStore;
use crate::{DraftRecord, DraftStore, Result};
use async_trait::async_trait;
use sqlx::Row;
use sqlx::any::AnyRow;
use tsuzuki_core::clock::Timestamp;

const DRAFT_COLUMNS: &str = "user_id, form_key, content, page, created_at, updated_at, expires_at";

fn draft_from_row(row: &AnyRow) -> Result<DraftRecord> {
    Ok(DraftRecord {
        user_id: row.try_get("user_id")?,
        form_key: row.try_get("form_key")?,
        content: row.try_get("content")?,
        page: row.try_get("page")?,
        created_at: Timestamp(row.try_get("created_at")?),
        updated_at: Timestamp(row.try_get("updated_at")?),
        expires_at: Timestamp(row.try_get("expires_at")?),
    })
}

#[async_trait]
impl DraftStore for SqlStore {
    async fn put_draft(&self, d: &DraftRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO drafts (user_id, form_key, content, page, created_at, updated_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (user_id, form_key) DO UPDATE SET content = excluded.content, \
             page = excluded.page, updated_at = excluded.updated_at, expires_at = excluded.expires_at",
        )
        .bind(&d.user_id)
        .bind(&d.form_key)
        .bind(&d.content)
        .bind(&d.page)
        .bind(d.created_at.0)
        .bind(d.updated_at.0)
        .bind(d.expires_at.0)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn draft(&self, user_id: &str, form_key: &str) -> Result<Option<DraftRecord>> {
        let sql =
            format!("SELECT {DRAFT_COLUMNS} FROM drafts WHERE user_id = $1 AND form_key = $2");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(user_id)
            .bind(form_key)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(draft_from_row).transpose()
    }

    async fn drafts_of_user(&self, user_id: &str) -> Result<Vec<DraftRecord>> {
        let sql = format!(
            "SELECT {DRAFT_COLUMNS} FROM drafts WHERE user_id = $1 ORDER BY updated_at DESC, form_key"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(user_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(draft_from_row).collect()
    }

    async fn delete_draft(&self, user_id: &str, form_key: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM drafts WHERE user_id = $1 AND form_key = $2")
            .bind(user_id)
            .bind(form_key)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_expired_drafts(&self, now: Timestamp, limit: i64) -> Result<u64> {
        // Keyed by two columns: delete through the expiry index, in a bounded batch.
        let done = sqlx::query(
            "DELETE FROM drafts WHERE expires_at <= $1 AND form_key || '/' || user_id IN \
             (SELECT form_key || '/' || user_id FROM drafts WHERE expires_at <= $1 LIMIT $2)",
        )
        .bind(now.0)
        .bind(limit)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }
}
