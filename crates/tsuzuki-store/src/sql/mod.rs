//! The SQL behind [`Store`], shared by SQLite and PostgreSQL through sqlx's `Any` driver.
//!
//! Every statement here is valid in both dialects: `$n` parameters, `ON CONFLICT`, `RETURNING`,
//! integers for times and flags. A statement that cannot be written portably belongs in
//! [`crate::backend`] with a `match` on the backend, not here.

mod drafts;
mod factors;
mod flows;
mod history;

use crate::backend::Backend;
use crate::{
    EventFilter, EventRecord, NewUser, RememberRecord, Result, Revocation, Rotation, SessionRecord,
    SessionTouch, SessionView, Store, StoreError, StoredEvent, User,
};
use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};
use tsuzuki_core::clock::Timestamp;
use tsuzuki_core::email::Email;
use tsuzuki_core::remember::{FamilyState, Sealed};
use tsuzuki_core::session::SessionTimes;
use tsuzuki_core::token::TokenHash;

pub(crate) struct SqlStore {
    pool: AnyPool,
    backend: Backend,
}

impl SqlStore {
    pub(crate) fn new(pool: AnyPool, backend: Backend) -> Self {
        SqlStore { pool, backend }
    }
}

/// Rows per activity-write statement: 3 parameters each, far below SQLite's 32,766 and
/// PostgreSQL's 65,535, and small enough that one statement takes well under a millisecond.
const TOUCH_ROWS_PER_STATEMENT: usize = 100;

/// `UPDATE … FROM (VALUES …)` for `rows` sessions, valid in SQLite (3.33+) and PostgreSQL. The
/// VALUES columns are `column1..3` in both dialects. Activity never moves backwards: two nodes
/// touching out of order keep the later time.
fn touch_statement(rows: usize) -> String {
    let mut sql = String::from(
        "UPDATE sessions SET last_active_at = CASE WHEN sessions.last_active_at > v.column2 \
         THEN sessions.last_active_at ELSE v.column2 END, last_ip = v.column3 FROM (VALUES ",
    );
    for r in 0..rows {
        let p = r * 3;
        if r > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&format!("(${}, ${}, ${})", p + 1, p + 2, p + 3));
    }
    sql.push_str(") AS v WHERE sessions.id_hash = v.column1");
    sql
}

const USER_COLUMNS: &str = "id, email, password_hash, disabled, created_at, updated_at";
const SESSION_COLUMNS: &str = "s.id_hash, s.handle, s.user_id, s.created_at, s.auth_time, s.last_active_at, \
     s.expires_at, s.methods, s.remembered, s.ip, s.last_ip, s.user_agent, s.remember_handle";
const REMEMBER_COLUMNS: &str = "selector, handle, user_id, validator_hash, previous_hash, rotated_at, \
     sealed_successor, sealed_session, auth_time, methods, created_at, last_used_at, expires_at, ip, \
     last_ip, user_agent";

fn user_from_row(row: &AnyRow) -> Result<User> {
    Ok(User {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        password_hash: row.try_get("password_hash")?,
        disabled: row.try_get::<i64, _>("disabled")? != 0,
        created_at: Timestamp(row.try_get("created_at")?),
        updated_at: Timestamp(row.try_get("updated_at")?),
    })
}

fn event_from_row(row: &AnyRow) -> Result<EventRecord> {
    Ok(EventRecord {
        created_at: Timestamp(row.try_get("created_at")?),
        kind: row.try_get("kind")?,
        user_id: row.try_get("user_id")?,
        session_handle: row.try_get("session_handle")?,
        ip: row.try_get("ip")?,
        user_agent: row.try_get("user_agent")?,
        detail: row.try_get("detail")?,
    })
}

fn hash_from_bytes(bytes: Vec<u8>) -> Result<TokenHash> {
    TokenHash::from_slice(&bytes)
        .ok_or_else(|| StoreError::Unavailable("stored hash has the wrong length".into()))
}

fn session_from_row(row: &AnyRow) -> Result<SessionRecord> {
    Ok(SessionRecord {
        id_hash: hash_from_bytes(row.try_get("id_hash")?)?,
        handle: row.try_get("handle")?,
        user_id: row.try_get("user_id")?,
        times: SessionTimes {
            created_at: Timestamp(row.try_get("created_at")?),
            last_active_at: Timestamp(row.try_get("last_active_at")?),
            expires_at: Timestamp(row.try_get("expires_at")?),
        },
        auth_time: Timestamp(row.try_get("auth_time")?),
        methods: row.try_get("methods")?,
        remembered: row.try_get::<i64, _>("remembered")? != 0,
        ip: row.try_get("ip")?,
        last_ip: row.try_get("last_ip")?,
        user_agent: row.try_get("user_agent")?,
        remember_handle: row.try_get("remember_handle")?,
    })
}

fn sealed_from(bytes: Option<Vec<u8>>) -> Result<Option<Sealed>> {
    bytes
        .map(|b| hash_from_bytes(b).map(|h| Sealed(h.0)))
        .transpose()
}

fn remember_from_row(row: &AnyRow) -> Result<RememberRecord> {
    Ok(RememberRecord {
        selector: row.try_get("selector")?,
        handle: row.try_get("handle")?,
        user_id: row.try_get("user_id")?,
        state: FamilyState {
            validator_hash: hash_from_bytes(row.try_get("validator_hash")?)?,
            previous_hash: row
                .try_get::<Option<Vec<u8>>, _>("previous_hash")?
                .map(hash_from_bytes)
                .transpose()?,
            rotated_at: row.try_get::<Option<i64>, _>("rotated_at")?.map(Timestamp),
            expires_at: Timestamp(row.try_get("expires_at")?),
            last_used_at: Timestamp(row.try_get("last_used_at")?),
        },
        sealed_successor: sealed_from(row.try_get("sealed_successor")?)?,
        sealed_session: sealed_from(row.try_get("sealed_session")?)?,
        auth_time: Timestamp(row.try_get("auth_time")?),
        methods: row.try_get("methods")?,
        created_at: Timestamp(row.try_get("created_at")?),
        ip: row.try_get("ip")?,
        last_ip: row.try_get("last_ip")?,
        user_agent: row.try_get("user_agent")?,
    })
}

/// The INSERT of a session, shared by plain sign-in and remember-me rotation.
fn insert_session_query(
    s: &SessionRecord,
) -> sqlx::query::Query<'static, sqlx::Any, <sqlx::Any as sqlx::Database>::Arguments> {
    sqlx::query(
        "INSERT INTO sessions (id_hash, handle, user_id, created_at, auth_time, last_active_at, \
         expires_at, methods, remembered, ip, last_ip, user_agent, remember_handle) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(s.id_hash.0.to_vec())
    .bind(s.handle.clone())
    .bind(s.user_id.clone())
    .bind(s.times.created_at.0)
    .bind(s.auth_time.0)
    .bind(s.times.last_active_at.0)
    .bind(s.times.expires_at.0)
    .bind(s.methods.clone())
    .bind(i64::from(s.remembered))
    .bind(s.ip.clone())
    .bind(s.last_ip.clone())
    .bind(s.user_agent.clone())
    .bind(s.remember_handle.clone())
}

#[async_trait]
impl Store for SqlStore {
    fn backend(&self) -> Backend {
        self.backend
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn create_user(&self, u: &NewUser) -> Result<User> {
        sqlx::query(
            "INSERT INTO users (id, email, password_hash, disabled, created_at, updated_at) \
             VALUES ($1, $2, $3, 0, $4, $4)",
        )
        .bind(&u.id)
        .bind(&u.email)
        .bind(&u.password_hash)
        .bind(u.now.0)
        .execute(&self.pool)
        .await?;
        Ok(User {
            id: u.id.clone(),
            email: u.email.clone(),
            password_hash: u.password_hash.clone(),
            disabled: false,
            created_at: u.now,
            updated_at: u.now,
        })
    }

    async fn user_by_email(&self, email: &Email) -> Result<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE email = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(email.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn user_by_id(&self, id: &str) -> Result<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn list_users(&self) -> Result<Vec<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users ORDER BY email");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(user_from_row).collect()
    }

    async fn users_page(&self, after_email: Option<&str>, limit: i64) -> Result<Vec<User>> {
        // `$1 IS NULL` alone would leave PostgreSQL unable to type the parameter; the comparison
        // beside it gives it TEXT.
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM users WHERE ($1 IS NULL OR email > $1) \
             ORDER BY email LIMIT $2"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(after_email)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(user_from_row).collect()
    }

    async fn set_password_hash(&self, user_id: &str, hash: &str, now: Timestamp) -> Result<()> {
        let done =
            sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
                .bind(hash)
                .bind(now.0)
                .bind(user_id)
                .execute(&self.pool)
                .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn set_disabled(&self, user_id: &str, disabled: bool, now: Timestamp) -> Result<()> {
        let done = sqlx::query("UPDATE users SET disabled = $1, updated_at = $2 WHERE id = $3")
            .bind(i64::from(disabled))
            .bind(now.0)
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn insert_session(&self, s: &SessionRecord) -> Result<()> {
        insert_session_query(s).execute(&self.pool).await?;
        Ok(())
    }

    async fn session_by_hash(&self, id_hash: &TokenHash) -> Result<Option<SessionView>> {
        let sql = format!(
            "SELECT {SESSION_COLUMNS}, u.email AS email, u.disabled AS user_disabled \
             FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id_hash = $1"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id_hash.0.to_vec())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| {
            Ok(SessionView {
                session: session_from_row(&row)?,
                email: row.try_get("email")?,
                user_disabled: row.try_get::<i64, _>("user_disabled")? != 0,
            })
        })
        .transpose()
    }

    async fn touch_sessions(&self, touches: &[SessionTouch]) -> Result<()> {
        // One statement per chunk of rows, not one per session: each statement is a round trip
        // to the database's thread (SQLite) or server, and on a one-core server a thousand
        // round trips in a row stall the request workers for milliseconds (docs/benchmarks.md).
        // Each chunk is atomic on its own (a touch applied twice changes nothing); a chunk is
        // short, so a writer never holds SQLite's write lock for long.
        // One row per session: with two rows for one session, an `UPDATE … FROM` may apply
        // either (PostgreSQL does not say which). The latest activity wins, and on a tie the
        // later entry (the newer address).
        let mut latest: std::collections::HashMap<&TokenHash, &SessionTouch> =
            std::collections::HashMap::with_capacity(touches.len());
        for t in touches {
            let keep = latest
                .get(&t.id_hash)
                .is_none_or(|kept| kept.last_active_at <= t.last_active_at);
            if keep {
                latest.insert(&t.id_hash, t);
            }
        }
        // In id order: nodes sharing a PostgreSQL database then lock rows in the same order, so
        // two overlapping batches wait for each other instead of deadlocking.
        let mut touches: Vec<&SessionTouch> = latest.into_values().collect();
        touches.sort_unstable_by_key(|t| t.id_hash.0);
        for chunk in touches.chunks(TOUCH_ROWS_PER_STATEMENT) {
            // Only placeholders are generated: the values are bound. Only the full-size statement
            // is kept prepared: one of every size from 1 to 99 rows would push the hot queries
            // out of each connection's statement cache.
            let full = chunk.len() == TOUCH_ROWS_PER_STATEMENT;
            let mut query =
                sqlx::query(sqlx::AssertSqlSafe(touch_statement(chunk.len()))).persistent(full);
            for t in chunk {
                query = query
                    .bind(t.id_hash.0.to_vec())
                    .bind(t.last_active_at.0)
                    .bind(t.ip.as_str());
            }
            query.execute(&self.pool).await?;
        }
        Ok(())
    }

    async fn revoke_session(&self, id_hash: &TokenHash, now: Timestamp) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(id_hash.0.to_vec())
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO revocations (id_hash, user_id, created_at) VALUES ($1, NULL, $2)")
            .bind(id_hash.0.to_vec())
            .bind(now.0)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    async fn revoke_user_sessions(
        &self,
        user_id: &str,
        keep: Option<&TokenHash>,
        now: Timestamp,
    ) -> Result<u64> {
        // `keep` as a value that matches no row when absent, so one statement serves both cases.
        let keep = keep.map(|k| k.0.to_vec()).unwrap_or_default();
        let mut tx = self.pool.begin().await?;
        // One feed entry per ended session, so that its cookie is later answered "revoked"
        // (SEC-14), then one user-wide entry for caches holding sessions of this user.
        sqlx::query(
            "INSERT INTO revocations (id_hash, user_id, created_at) \
             SELECT id_hash, NULL, $1 FROM sessions WHERE user_id = $2 AND id_hash <> $3",
        )
        .bind(now.0)
        .bind(user_id)
        .bind(keep.clone())
        .execute(&mut *tx)
        .await?;
        let done = sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id_hash <> $2")
            .bind(user_id)
            .bind(keep)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO revocations (id_hash, user_id, created_at) VALUES (NULL, $1, $2)")
            .bind(user_id)
            .bind(now.0)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }

    async fn sessions_of_user(&self, user_id: &str) -> Result<Vec<SessionRecord>> {
        let sql = format!(
            "SELECT {SESSION_COLUMNS} FROM sessions s WHERE s.user_id = $1 ORDER BY s.created_at"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(user_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(session_from_row).collect()
    }

    async fn session_by_handle(&self, handle: &str) -> Result<Option<SessionRecord>> {
        let sql = format!("SELECT {SESSION_COLUMNS} FROM sessions s WHERE s.handle = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(handle)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(session_from_row).transpose()
    }

    async fn delete_expired_sessions(
        &self,
        now: Timestamp,
        idle_cutoff: Timestamp,
        limit: i64,
    ) -> Result<u64> {
        let done = sqlx::query(
            "DELETE FROM sessions WHERE id_hash IN (SELECT id_hash FROM sessions \
             WHERE expires_at <= $1 OR last_active_at <= $2 LIMIT $3)",
        )
        .bind(now.0)
        .bind(idle_cutoff.0)
        .bind(limit)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    async fn is_revoked(&self, id_hash: &TokenHash) -> Result<bool> {
        let row = sqlx::query("SELECT 1 AS found FROM revocations WHERE id_hash = $1 LIMIT 1")
            .bind(id_hash.0.to_vec())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    async fn revocations_after(&self, seq: i64, limit: i64) -> Result<Vec<Revocation>> {
        let rows = sqlx::query(
            "SELECT seq, id_hash, user_id, created_at FROM revocations WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(seq)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(Revocation {
                    seq: row.try_get("seq")?,
                    id_hash: row
                        .try_get::<Option<Vec<u8>>, _>("id_hash")?
                        .map(hash_from_bytes)
                        .transpose()?,
                    user_id: row.try_get("user_id")?,
                    created_at: Timestamp(row.try_get("created_at")?),
                })
            })
            .collect()
    }

    async fn last_revocation_seq(&self) -> Result<i64> {
        let row = sqlx::query("SELECT MAX(seq) AS seq FROM revocations")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get::<Option<i64>, _>("seq")?.unwrap_or(0))
    }

    async fn prune_revocations(&self, before: Timestamp) -> Result<u64> {
        let done = sqlx::query("DELETE FROM revocations WHERE created_at < $1")
            .bind(before.0)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    async fn throttle_failure(
        &self,
        key: &str,
        now: Timestamp,
        window_start: Timestamp,
    ) -> Result<u32> {
        let row = sqlx::query(
            "INSERT INTO throttle (key, failures, last_failure_at, blocked_until) VALUES ($1, 1, $2, 0) \
             ON CONFLICT (key) DO UPDATE SET \
               failures = CASE WHEN throttle.last_failure_at <= $3 THEN 1 ELSE throttle.failures + 1 END, \
               blocked_until = CASE WHEN throttle.last_failure_at <= $3 THEN 0 ELSE throttle.blocked_until END, \
               last_failure_at = $2 \
             RETURNING failures",
        )
        .bind(key)
        .bind(now.0)
        .bind(window_start.0)
        .fetch_one(&self.pool)
        .await?;
        let failures: i64 = row.try_get("failures")?;
        Ok(u32::try_from(failures).unwrap_or(u32::MAX))
    }

    async fn throttle_block(&self, key: &str, until: Timestamp) -> Result<()> {
        sqlx::query(
            "UPDATE throttle SET blocked_until = CASE WHEN blocked_until > $1 THEN blocked_until ELSE $1 END \
             WHERE key = $2",
        )
        .bind(until.0)
        .bind(key)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn throttle_blocked_until(&self, key: &str) -> Result<Option<Timestamp>> {
        let row = sqlx::query("SELECT blocked_until FROM throttle WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok(Timestamp(r.try_get("blocked_until")?)))
            .transpose()
    }

    async fn throttle_clear(&self, key: &str) -> Result<()> {
        sqlx::query("DELETE FROM throttle WHERE key = $1")
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn prune_throttle(&self, before: Timestamp) -> Result<u64> {
        let done =
            sqlx::query("DELETE FROM throttle WHERE last_failure_at < $1 AND blocked_until < $1")
                .bind(before.0)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected())
    }

    async fn insert_remember(&self, f: &RememberRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO remember_tokens (selector, handle, user_id, validator_hash, previous_hash, rotated_at, \
             sealed_successor, sealed_session, auth_time, methods, created_at, last_used_at, expires_at, ip, \
             last_ip, user_agent) VALUES ($1, $2, $3, $4, NULL, NULL, NULL, NULL, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(&f.selector)
        .bind(&f.handle)
        .bind(&f.user_id)
        .bind(f.state.validator_hash.0.to_vec())
        .bind(f.auth_time.0)
        .bind(&f.methods)
        .bind(f.created_at.0)
        .bind(f.state.last_used_at.0)
        .bind(f.state.expires_at.0)
        .bind(&f.ip)
        .bind(&f.last_ip)
        .bind(&f.user_agent)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn remember_by_selector(&self, selector: &str) -> Result<Option<RememberRecord>> {
        let sql = format!("SELECT {REMEMBER_COLUMNS} FROM remember_tokens WHERE selector = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(selector)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(remember_from_row).transpose()
    }

    async fn rotate_remember(&self, r: &Rotation, session: &SessionRecord) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE remember_tokens SET validator_hash = $1, previous_hash = $2, rotated_at = $3, \
             last_used_at = $3, sealed_successor = $4, sealed_session = $5, last_ip = $6 \
             WHERE selector = $7 AND validator_hash = $2",
        )
        .bind(r.new_hash.0.to_vec())
        .bind(r.expected.0.to_vec())
        .bind(r.now.0)
        .bind(r.sealed_successor.0.to_vec())
        .bind(r.sealed_session.0.to_vec())
        .bind(&r.ip)
        .bind(&r.selector)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        insert_session_query(session).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn remember_of_user(&self, user_id: &str) -> Result<Vec<RememberRecord>> {
        let sql = format!(
            "SELECT {REMEMBER_COLUMNS} FROM remember_tokens WHERE user_id = $1 ORDER BY created_at"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(user_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(remember_from_row).collect()
    }

    async fn revoke_remember(&self, handle: &str, now: Timestamp) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("DELETE FROM remember_tokens WHERE handle = $1")
            .bind(handle)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO revocations (id_hash, user_id, created_at) \
             SELECT id_hash, NULL, $1 FROM sessions WHERE remember_handle = $2",
        )
        .bind(now.0)
        .bind(handle)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM sessions WHERE remember_handle = $1")
            .bind(handle)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    async fn revoke_user_remember(&self, user_id: &str, keep: Option<&str>) -> Result<u64> {
        let done = sqlx::query("DELETE FROM remember_tokens WHERE user_id = $1 AND handle <> $2")
            .bind(user_id)
            .bind(keep.unwrap_or(""))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    async fn delete_expired_remember(
        &self,
        now: Timestamp,
        unused_before: Timestamp,
        limit: i64,
    ) -> Result<u64> {
        let done = sqlx::query(
            "DELETE FROM remember_tokens WHERE selector IN (SELECT selector FROM remember_tokens \
             WHERE expires_at <= $1 OR last_used_at <= $2 LIMIT $3)",
        )
        .bind(now.0)
        .bind(unused_before.0)
        .bind(limit)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    async fn revoke_everything(&self, now: Timestamp) -> Result<(u64, u64)> {
        let mut tx = self.pool.begin().await?;
        let sessions = sqlx::query("DELETE FROM sessions")
            .execute(&mut *tx)
            .await?;
        let families = sqlx::query("DELETE FROM remember_tokens")
            .execute(&mut *tx)
            .await?;
        // Trusted devices too: "revoke everything" leaves no way to skip a second factor.
        sqlx::query("DELETE FROM trusted_devices")
            .execute(&mut *tx)
            .await?;
        // A feed entry naming neither a session nor a user means "everything".
        sqlx::query(
            "INSERT INTO revocations (id_hash, user_id, created_at) VALUES (NULL, NULL, $1)",
        )
        .bind(now.0)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok((sessions.rows_affected(), families.rows_affected()))
    }

    async fn record_event(&self, e: &EventRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO events (created_at, kind, user_id, session_handle, ip, user_agent, detail) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(e.created_at.0)
        .bind(&e.kind)
        .bind(&e.user_id)
        .bind(&e.session_handle)
        .bind(&e.ip)
        .bind(&e.user_agent)
        .bind(&e.detail)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn events_of_user(&self, user_id: &str, limit: i64) -> Result<Vec<EventRecord>> {
        let rows = sqlx::query(
            "SELECT created_at, kind, user_id, session_handle, ip, user_agent, detail FROM events \
             WHERE user_id = $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(user_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(event_from_row).collect()
    }

    async fn events_page(&self, filter: &EventFilter) -> Result<Vec<StoredEvent>> {
        let rows = sqlx::query(
            "SELECT id, created_at, kind, user_id, session_handle, ip, user_agent, detail \
             FROM events WHERE ($1 IS NULL OR user_id = $1) AND ($2 IS NULL OR kind = $2) \
             AND ($3 IS NULL OR id < $3) ORDER BY id DESC LIMIT $4",
        )
        .bind(filter.user_id.as_deref())
        .bind(filter.kind.as_deref())
        .bind(filter.before)
        .bind(filter.limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(StoredEvent {
                    id: row.try_get("id")?,
                    event: event_from_row(row)?,
                })
            })
            .collect()
    }
}
