//! SQL for [`FactorStore`]: second factors, recovery codes, trusted devices.

use super::{SqlStore, hash_from_bytes};
use crate::{FactorRecord, FactorStore, Result, StoreError, TrustedDeviceRecord};
use async_trait::async_trait;
use sqlx::Row;
use sqlx::any::AnyRow;
use tsuzuki_core::clock::Timestamp;
use tsuzuki_core::flow::Method;
use tsuzuki_core::token::TokenHash;

const FACTOR_COLUMNS: &str = "id, user_id, kind, name, secret_sealed, target, last_step, \
     confirmed_at, created_at, last_used_at";
const TRUSTED_COLUMNS: &str =
    "token_hash, handle, user_id, created_at, last_used_at, expires_at, ip, user_agent";

fn factor_from_row(row: &AnyRow) -> Result<FactorRecord> {
    let kind: String = row.try_get("kind")?;
    Ok(FactorRecord {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        method: Method::from_code(&kind)
            .ok_or_else(|| StoreError::Unavailable("stored factor has an unknown kind".into()))?,
        name: row.try_get("name")?,
        secret_sealed: row.try_get("secret_sealed")?,
        target: row.try_get("target")?,
        last_step: row.try_get("last_step")?,
        confirmed_at: row
            .try_get::<Option<i64>, _>("confirmed_at")?
            .map(Timestamp),
        created_at: Timestamp(row.try_get("created_at")?),
        last_used_at: row
            .try_get::<Option<i64>, _>("last_used_at")?
            .map(Timestamp),
    })
}

fn trusted_from_row(row: &AnyRow) -> Result<TrustedDeviceRecord> {
    Ok(TrustedDeviceRecord {
        token_hash: hash_from_bytes(row.try_get("token_hash")?)?,
        handle: row.try_get("handle")?,
        user_id: row.try_get("user_id")?,
        created_at: Timestamp(row.try_get("created_at")?),
        last_used_at: Timestamp(row.try_get("last_used_at")?),
        expires_at: Timestamp(row.try_get("expires_at")?),
        ip: row.try_get("ip")?,
        user_agent: row.try_get("user_agent")?,
    })
}

#[async_trait]
impl FactorStore for SqlStore {
    async fn insert_factor(&self, f: &FactorRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO factors (id, user_id, kind, name, secret_sealed, target, last_step, \
             confirmed_at, created_at, last_used_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&f.id)
        .bind(&f.user_id)
        .bind(f.method.code())
        .bind(&f.name)
        .bind(&f.secret_sealed)
        .bind(&f.target)
        .bind(f.last_step)
        .bind(f.confirmed_at.map(|t| t.0))
        .bind(f.created_at.0)
        .bind(f.last_used_at.map(|t| t.0))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn factors_of_user(&self, user_id: &str) -> Result<Vec<FactorRecord>> {
        let sql = format!(
            "SELECT {FACTOR_COLUMNS} FROM factors WHERE user_id = $1 ORDER BY created_at, id"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(user_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(factor_from_row).collect()
    }

    async fn factor_by_id(&self, id: &str) -> Result<Option<FactorRecord>> {
        let sql = format!("SELECT {FACTOR_COLUMNS} FROM factors WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(factor_from_row).transpose()
    }

    async fn confirm_factor(&self, id: &str, step: Option<i64>, now: Timestamp) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE factors SET confirmed_at = $2, last_step = $3, last_used_at = $2 \
             WHERE id = $1 AND confirmed_at IS NULL",
        )
        .bind(id)
        .bind(now.0)
        .bind(step)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_factor(&self, user_id: &str, id: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM factors WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn advance_totp_step(&self, id: &str, step: i64, now: Timestamp) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE factors SET last_step = $2, last_used_at = $3 \
             WHERE id = $1 AND (last_step IS NULL OR last_step < $2)",
        )
        .bind(id)
        .bind(step)
        .bind(now.0)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn touch_factor(&self, id: &str, now: Timestamp) -> Result<()> {
        sqlx::query("UPDATE factors SET last_used_at = $2 WHERE id = $1")
            .bind(id)
            .bind(now.0)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn replace_recovery_codes(
        &self,
        user_id: &str,
        hashes: &[TokenHash],
        now: Timestamp,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        for h in hashes {
            sqlx::query(
                "INSERT INTO recovery_codes (code_hash, user_id, created_at) VALUES ($1, $2, $3)",
            )
            .bind(h.0.to_vec())
            .bind(user_id)
            .bind(now.0)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn use_recovery_code(
        &self,
        user_id: &str,
        hash: &TokenHash,
        now: Timestamp,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE recovery_codes SET used_at = $3 \
             WHERE code_hash = $1 AND user_id = $2 AND used_at IS NULL",
        )
        .bind(hash.0.to_vec())
        .bind(user_id)
        .bind(now.0)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn recovery_codes_left(&self, user_id: &str) -> Result<u32> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL",
        )
        .bind(user_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(u32::try_from(row.try_get::<i64, _>("n")?).unwrap_or(u32::MAX))
    }

    async fn insert_trusted_device(&self, d: &TrustedDeviceRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO trusted_devices (token_hash, handle, user_id, created_at, last_used_at, \
             expires_at, ip, user_agent) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(d.token_hash.0.to_vec())
        .bind(&d.handle)
        .bind(&d.user_id)
        .bind(d.created_at.0)
        .bind(d.last_used_at.0)
        .bind(d.expires_at.0)
        .bind(&d.ip)
        .bind(&d.user_agent)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn trusted_device_by_hash(
        &self,
        hash: &TokenHash,
    ) -> Result<Option<TrustedDeviceRecord>> {
        let sql = format!("SELECT {TRUSTED_COLUMNS} FROM trusted_devices WHERE token_hash = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(hash.0.to_vec())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(trusted_from_row).transpose()
    }

    async fn touch_trusted_device(&self, hash: &TokenHash, now: Timestamp) -> Result<()> {
        sqlx::query("UPDATE trusted_devices SET last_used_at = $2 WHERE token_hash = $1")
            .bind(hash.0.to_vec())
            .bind(now.0)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn trusted_devices_of_user(&self, user_id: &str) -> Result<Vec<TrustedDeviceRecord>> {
        let sql = format!(
            "SELECT {TRUSTED_COLUMNS} FROM trusted_devices WHERE user_id = $1 ORDER BY created_at"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(user_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(trusted_from_row).collect()
    }

    async fn revoke_trusted_device(&self, user_id: &str, handle: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM trusted_devices WHERE user_id = $1 AND handle = $2")
            .bind(user_id)
            .bind(handle)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn revoke_user_trusted_devices(&self, user_id: &str, keep: Option<&str>) -> Result<u64> {
        let done = sqlx::query("DELETE FROM trusted_devices WHERE user_id = $1 AND handle <> $2")
            .bind(user_id)
            .bind(keep.unwrap_or(""))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    async fn delete_expired_trusted_devices(&self, now: Timestamp, limit: i64) -> Result<u64> {
        let done = sqlx::query(
            "DELETE FROM trusted_devices WHERE token_hash IN (SELECT token_hash FROM \
             trusted_devices WHERE expires_at <= $1 LIMIT $2)",
        )
        .bind(now.0)
        .bind(limit)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }
}
