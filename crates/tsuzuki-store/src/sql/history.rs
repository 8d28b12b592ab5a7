//! SQL for [`HistoryStore`]: the login history.

use super::{SqlStore, hash_from_bytes};
use crate::{HistoryStore, Result, SignInRecord};
use async_trait::async_trait;
use sqlx::Row;
use tsuzuki_core::alerts::Familiarity;
use tsuzuki_core::clock::Timestamp;
use tsuzuki_core::token::TokenHash;

#[async_trait]
impl HistoryStore for SqlStore {
    async fn record_sign_in(&self, r: &SignInRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO sign_ins (user_id, created_at, methods, outcome, ip, network, user_agent, \
             browser_hash, new_device, suspicious) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&r.user_id)
        .bind(r.created_at.0)
        .bind(&r.methods)
        .bind(&r.outcome)
        .bind(&r.ip)
        .bind(&r.network)
        .bind(&r.user_agent)
        .bind(r.browser_hash.as_ref().map(|h| h.0.to_vec()))
        .bind(i64::from(r.new_device))
        .bind(i64::from(r.suspicious))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn sign_ins_of_user(&self, user_id: &str, limit: i64) -> Result<Vec<SignInRecord>> {
        let rows = sqlx::query(
            "SELECT user_id, created_at, methods, outcome, ip, network, user_agent, browser_hash, \
             new_device, suspicious FROM sign_ins WHERE user_id = $1 \
             ORDER BY created_at DESC, id DESC LIMIT $2",
        )
        .bind(user_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(SignInRecord {
                    user_id: row.try_get("user_id")?,
                    created_at: Timestamp(row.try_get("created_at")?),
                    methods: row.try_get("methods")?,
                    outcome: row.try_get("outcome")?,
                    ip: row.try_get("ip")?,
                    network: row.try_get("network")?,
                    user_agent: row.try_get("user_agent")?,
                    browser_hash: row
                        .try_get::<Option<Vec<u8>>, _>("browser_hash")?
                        .map(hash_from_bytes)
                        .transpose()?,
                    new_device: row.try_get::<i64, _>("new_device")? != 0,
                    suspicious: row.try_get::<i64, _>("suspicious")? != 0,
                })
            })
            .collect()
    }

    async fn familiarity(
        &self,
        user_id: &str,
        browser_hash: Option<&TokenHash>,
        network: &str,
    ) -> Result<Familiarity> {
        // One query: the flags over the account's successful sign-ins.
        let row = sqlx::query(
            "SELECT \
               COALESCE(MAX(CASE WHEN browser_hash = $2 THEN 1 ELSE 0 END), 0) AS browser_seen, \
               COALESCE(MAX(CASE WHEN network = $3 THEN 1 ELSE 0 END), 0) AS network_seen, \
               COUNT(*) AS successes \
             FROM sign_ins WHERE user_id = $1 AND outcome = 'success'",
        )
        .bind(user_id)
        .bind(browser_hash.map(|h| h.0.to_vec()))
        .bind(network)
        .fetch_one(&self.pool)
        .await?;
        let flag = |name: &str| -> Result<bool> { Ok(row.try_get::<i64, _>(name)? != 0) };
        Ok(Familiarity {
            browser_seen: flag("browser_seen")?,
            network_seen: flag("network_seen")?,
            any_success: row.try_get::<i64, _>("successes")? > 0,
        })
    }

    async fn failures_since(&self, user_id: &str, since: Timestamp) -> Result<u32> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM sign_ins \
             WHERE user_id = $1 AND created_at > $2 AND outcome <> 'success'",
        )
        .bind(user_id)
        .bind(since.0)
        .fetch_one(&self.pool)
        .await?;
        Ok(u32::try_from(row.try_get::<i64, _>("n")?).unwrap_or(u32::MAX))
    }

    async fn prune_sign_ins(&self, before: Timestamp, limit: i64) -> Result<u64> {
        let done = sqlx::query(
            "DELETE FROM sign_ins WHERE id IN (SELECT id FROM sign_ins WHERE created_at < $1 LIMIT $2)",
        )
        .bind(before.0)
        .bind(limit)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }
}
