//! SQL for [`FlowStore`].

use super::{SqlStore, hash_from_bytes};
use crate::{FlowRecord, FlowStore, PendingCode, Result, StoreError};
use async_trait::async_trait;
use sqlx::Row;
use sqlx::any::AnyRow;
use tsuzuki_core::clock::Timestamp;
use tsuzuki_core::flow::{FlowKind, FlowState, Method, Step};
use tsuzuki_core::token::TokenHash;

const FLOW_COLUMNS: &str = "id_hash, binding_hash, kind, step, methods, chosen, failures, user_id, \
     identifier, session_hash, remember, return_to, payload, code_hash, code_method, code_sent_at, \
     code_expires_at, code_attempts, codes_sent, created_at, expires_at, hard_expires_at, ip, \
     user_agent, version";

fn corrupt(what: &str) -> StoreError {
    StoreError::Unavailable(format!("stored flow has an unknown {what}"))
}

fn methods_to_text(methods: &[Method]) -> String {
    methods
        .iter()
        .map(|m| m.code())
        .collect::<Vec<_>>()
        .join(",")
}

fn methods_from_text(s: &str) -> Result<Vec<Method>> {
    s.split(',')
        .filter(|p| !p.is_empty())
        .map(|p| Method::from_code(p).ok_or_else(|| corrupt("method")))
        .collect()
}

fn method_from(s: Option<String>) -> Result<Option<Method>> {
    s.map(|c| Method::from_code(&c).ok_or_else(|| corrupt("method")))
        .transpose()
}

fn flow_from_row(row: &AnyRow) -> Result<FlowRecord> {
    let kind: String = row.try_get("kind")?;
    let step: String = row.try_get("step")?;
    let code = match row.try_get::<Option<Vec<u8>>, _>("code_hash")? {
        Some(bytes) => Some(PendingCode {
            hash: hash_from_bytes(bytes)?,
            method: method_from(row.try_get("code_method")?)?.ok_or_else(|| corrupt("code"))?,
            sent_at: Timestamp(row.try_get::<Option<i64>, _>("code_sent_at")?.unwrap_or(0)),
            expires_at: Timestamp(
                row.try_get::<Option<i64>, _>("code_expires_at")?
                    .unwrap_or(0),
            ),
            attempts: u32::try_from(row.try_get::<i64, _>("code_attempts")?).unwrap_or(u32::MAX),
        }),
        None => None,
    };
    Ok(FlowRecord {
        id_hash: hash_from_bytes(row.try_get("id_hash")?)?,
        binding_hash: hash_from_bytes(row.try_get("binding_hash")?)?,
        state: FlowState {
            kind: FlowKind::from_code(&kind).ok_or_else(|| corrupt("kind"))?,
            step: Step::from_code(&step).ok_or_else(|| corrupt("step"))?,
            methods: methods_from_text(&row.try_get::<String, _>("methods")?)?,
            chosen: method_from(row.try_get("chosen")?)?,
            failures: u32::try_from(row.try_get::<i64, _>("failures")?).unwrap_or(u32::MAX),
            created_at: Timestamp(row.try_get("created_at")?),
            expires_at: Timestamp(row.try_get("expires_at")?),
            hard_expires_at: Timestamp(row.try_get("hard_expires_at")?),
        },
        user_id: row.try_get("user_id")?,
        identifier: row.try_get("identifier")?,
        session_hash: row
            .try_get::<Option<Vec<u8>>, _>("session_hash")?
            .map(hash_from_bytes)
            .transpose()?,
        remember: row.try_get::<i64, _>("remember")? != 0,
        return_to: row.try_get("return_to")?,
        payload: row.try_get("payload")?,
        code,
        codes_sent: u32::try_from(row.try_get::<i64, _>("codes_sent")?).unwrap_or(u32::MAX),
        ip: row.try_get("ip")?,
        user_agent: row.try_get("user_agent")?,
        version: row.try_get("version")?,
    })
}

fn hash_bytes(h: &TokenHash) -> Vec<u8> {
    h.0.to_vec()
}

#[async_trait]
impl FlowStore for SqlStore {
    async fn insert_flow(&self, f: &FlowRecord) -> Result<()> {
        let s = &f.state;
        let code = f.code.as_ref();
        sqlx::query(
            "INSERT INTO flows (id_hash, binding_hash, kind, step, methods, chosen, failures, \
             user_id, identifier, session_hash, remember, return_to, payload, code_hash, \
             code_method, code_sent_at, code_expires_at, code_attempts, codes_sent, created_at, \
             expires_at, hard_expires_at, ip, user_agent, version) VALUES ($1, $2, $3, $4, $5, \
             $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, \
             $23, $24, 0)",
        )
        .bind(hash_bytes(&f.id_hash))
        .bind(hash_bytes(&f.binding_hash))
        .bind(s.kind.code())
        .bind(s.step.code())
        .bind(methods_to_text(&s.methods))
        .bind(s.chosen.map(|m| m.code()))
        .bind(i64::from(s.failures))
        .bind(&f.user_id)
        .bind(&f.identifier)
        .bind(f.session_hash.as_ref().map(hash_bytes))
        .bind(i64::from(f.remember))
        .bind(&f.return_to)
        .bind(&f.payload)
        .bind(code.map(|c| hash_bytes(&c.hash)))
        .bind(code.map(|c| c.method.code()))
        .bind(code.map(|c| c.sent_at.0))
        .bind(code.map(|c| c.expires_at.0))
        .bind(code.map_or(0, |c| i64::from(c.attempts)))
        .bind(i64::from(f.codes_sent))
        .bind(s.created_at.0)
        .bind(s.expires_at.0)
        .bind(s.hard_expires_at.0)
        .bind(&f.ip)
        .bind(&f.user_agent)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn flow_by_id(&self, id_hash: &TokenHash) -> Result<Option<FlowRecord>> {
        let sql = format!("SELECT {FLOW_COLUMNS} FROM flows WHERE id_hash = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(hash_bytes(id_hash))
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(flow_from_row).transpose()
    }

    async fn update_flow(&self, f: &FlowRecord) -> Result<bool> {
        let s = &f.state;
        let code = f.code.as_ref();
        let done = sqlx::query(
            "UPDATE flows SET step = $2, methods = $3, chosen = $4, failures = $5, user_id = $6, \
             session_hash = $7, remember = $8, return_to = $9, payload = $10, code_hash = $11, \
             code_method = $12, code_sent_at = $13, code_expires_at = $14, code_attempts = $15, \
             codes_sent = $16, expires_at = $17, version = version + 1 \
             WHERE id_hash = $1 AND version = $18",
        )
        .bind(hash_bytes(&f.id_hash))
        .bind(s.step.code())
        .bind(methods_to_text(&s.methods))
        .bind(s.chosen.map(|m| m.code()))
        .bind(i64::from(s.failures))
        .bind(&f.user_id)
        .bind(f.session_hash.as_ref().map(hash_bytes))
        .bind(i64::from(f.remember))
        .bind(&f.return_to)
        .bind(&f.payload)
        .bind(code.map(|c| hash_bytes(&c.hash)))
        .bind(code.map(|c| c.method.code()))
        .bind(code.map(|c| c.sent_at.0))
        .bind(code.map(|c| c.expires_at.0))
        .bind(code.map_or(0, |c| i64::from(c.attempts)))
        .bind(i64::from(f.codes_sent))
        .bind(s.expires_at.0)
        .bind(f.version)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_expired_flows(&self, before: Timestamp, limit: i64) -> Result<u64> {
        let done = sqlx::query(
            "DELETE FROM flows WHERE id_hash IN (SELECT id_hash FROM flows \
             WHERE hard_expires_at <= $1 LIMIT $2)",
        )
        .bind(before.0)
        .bind(limit)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    async fn count_events_since(
        &self,
        user_id: &str,
        kind: &str,
        since: Timestamp,
    ) -> Result<(u32, Option<Timestamp>)> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM events \
             WHERE user_id = $1 AND kind = $2 AND created_at > $3",
        )
        .bind(user_id)
        .bind(kind)
        .bind(since.0)
        .fetch_one(&self.pool)
        .await?;
        let n: i64 = row.try_get("n")?;
        let oldest: Option<i64> = row.try_get("oldest")?;
        Ok((u32::try_from(n).unwrap_or(u32::MAX), oldest.map(Timestamp)))
    }
}
