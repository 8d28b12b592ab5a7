//! What an operator can do to any account: create one, find it by email or id, disable or enable
//! it, remove its second factors, list its devices, end one token, end everything of a user, end
//! everything of everyone, run the cleanup (R7, R9). Used by the `tsuzuki token`
//! commands (straight on the database) and the admin API (in the server, which then applies the
//! revocation feed at once so its own cache agrees immediately).

use tsuzuki_core::clock::Timestamp;
use tsuzuki_core::device;
use tsuzuki_core::email::Email;
use tsuzuki_core::password_policy::{PasswordError, PasswordPolicy};
use tsuzuki_core::token::public_id;
use tsuzuki_store::{NewUser, Store, StoreError, User};

use crate::passwords::{HashError, PasswordHasher};

#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    #[error("no account with the email {0}")]
    NoSuchUser(String),
    #[error("no session or remembered device with the handle {0}")]
    NoSuchHandle(String),
    #[error("{0} is not an email address")]
    BadEmail(String),
    #[error("an account with the email {0} already exists")]
    Exists(String),
    #[error(transparent)]
    Password(#[from] PasswordError),
    #[error(transparent)]
    Hash(#[from] HashError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One line of `token list`.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct TokenLine {
    /// `ses_…` or `rem_…`: what `POST /api/admin/sessions/{handle}/revoke` takes.
    pub handle: String,
    #[schema(value_type = String, pattern = "^(session|remembered)$")]
    pub kind: &'static str,
    /// Browser and system, such as "Firefox 132 on Linux".
    pub device: String,
    pub ip: String,
    /// Unix seconds.
    pub last_used_at: i64,
    /// Unix seconds.
    pub expires_at: i64,
}

/// What a revocation ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Ended {
    pub sessions: u64,
    pub remembered: u64,
}

pub async fn find_user(store: &dyn Store, email: &str) -> Result<User, OperatorError> {
    let parsed = Email::parse(email).map_err(|_| OperatorError::BadEmail(email.to_string()))?;
    store
        .user_by_email(&parsed)
        .await?
        .ok_or_else(|| OperatorError::NoSuchUser(email.to_string()))
}

/// An account by its id (`usr_…`) or its email: an email always has an `@`, an id never.
pub async fn find_user_by_key(store: &dyn Store, key: &str) -> Result<User, OperatorError> {
    if key.contains('@') {
        return find_user(store, key).await;
    }
    store
        .user_by_id(key)
        .await?
        .ok_or_else(|| OperatorError::NoSuchUser(key.to_string()))
}

/// Create an account with the policy and hasher that sign-up and `tsuzuki user add` use.
pub async fn create_user(
    store: &dyn Store,
    hasher: &PasswordHasher,
    policy: &PasswordPolicy,
    email: &str,
    password: String,
    now: Timestamp,
) -> Result<User, OperatorError> {
    let parsed = Email::parse(email).map_err(|_| OperatorError::BadEmail(email.to_string()))?;
    policy.check(&password)?;
    let hash = hasher.hash(password).await?;
    let user = NewUser {
        id: public_id("usr"),
        email: parsed.to_string(),
        password_hash: hash,
        now,
    };
    match store.create_user(&user).await {
        Err(StoreError::Conflict) => Err(OperatorError::Exists(parsed.to_string())),
        other => Ok(other?),
    }
}

/// Remove every second factor and recovery code of an account (a person who lost their phone
/// and their codes). Returns how many factors there were. The caller ends what they protected
/// (sessions, remembered and trusted devices: R7, SEC-40).
pub async fn remove_all_factors(
    store: &dyn Store,
    user_id: &str,
    now: Timestamp,
) -> Result<usize, OperatorError> {
    let factors = store.factors_of_user(user_id).await?;
    for f in &factors {
        store.delete_factor(user_id, &f.id).await?;
    }
    store.replace_recovery_codes(user_id, &[], now).await?;
    Ok(factors.len())
}

pub async fn list(store: &dyn Store, email: &str) -> Result<Vec<TokenLine>, OperatorError> {
    let user = find_user(store, email).await?;
    list_of(store, &user).await
}

/// The sessions and remembered devices of an account.
pub async fn list_of(store: &dyn Store, user: &User) -> Result<Vec<TokenLine>, OperatorError> {
    let mut out = Vec::new();
    for s in store.sessions_of_user(&user.id).await? {
        out.push(TokenLine {
            kind: "session",
            device: device::describe(&s.user_agent).label(),
            ip: s.last_ip.clone(),
            last_used_at: s.times.last_active_at.0,
            expires_at: s.times.expires_at.0,
            handle: s.handle,
        });
    }
    for f in store.remember_of_user(&user.id).await? {
        out.push(TokenLine {
            kind: "remembered",
            device: device::describe(&f.user_agent).label(),
            ip: f.last_ip.clone(),
            last_used_at: f.state.last_used_at.0,
            expires_at: f.state.expires_at.0,
            handle: f.handle,
        });
    }
    Ok(out)
}

/// End one session (`ses_…`) or remembered device (`rem_…`) by its handle.
pub async fn revoke_handle(
    store: &dyn Store,
    handle: &str,
    now: Timestamp,
) -> Result<Ended, OperatorError> {
    if handle.starts_with("rem_") {
        if store.revoke_remember(handle, now).await? {
            return Ok(Ended {
                sessions: 0,
                remembered: 1,
            });
        }
    } else if let Some(s) = store.session_by_handle(handle).await?
        && store.revoke_session(&s.id_hash, now).await?
    {
        return Ok(Ended {
            sessions: 1,
            remembered: 0,
        });
    }
    Err(OperatorError::NoSuchHandle(handle.to_string()))
}

/// End every session and remembered device of one account.
pub async fn revoke_user(
    store: &dyn Store,
    email: &str,
    now: Timestamp,
) -> Result<Ended, OperatorError> {
    let user = find_user(store, email).await?;
    let sessions = store.revoke_user_sessions(&user.id, None, now).await?;
    let remembered = store.revoke_user_remember(&user.id, None).await?;
    // SEC-31: an operator's sign-out leaves no way to skip the second factor either.
    store.revoke_user_trusted_devices(&user.id, None).await?;
    Ok(Ended {
        sessions,
        remembered,
    })
}

/// End every session and remembered device of every account.
pub async fn revoke_all(store: &dyn Store, now: Timestamp) -> Result<Ended, OperatorError> {
    let (sessions, remembered) = store.revoke_everything(now).await?;
    Ok(Ended {
        sessions,
        remembered,
    })
}

/// Delete sessions that expired more than `retention` ago and remember-me families that are
/// expired or unused past their idle lifetime, in small batches (R9, SEC-81). The one
/// implementation behind the periodic job and `tsuzuki token cleanup`.
pub async fn cleanup(
    store: &dyn Store,
    session: &tsuzuki_core::session::SessionPolicy,
    retention: std::time::Duration,
    remember: &tsuzuki_core::remember::RememberPolicy,
    now: Timestamp,
) -> Result<Ended, OperatorError> {
    const BATCH: i64 = 500;
    let expired_before = now.minus(retention);
    let idle_cutoff = expired_before.minus(session.idle_timeout);
    let mut ended = Ended::default();
    loop {
        let n = store
            .delete_expired_sessions(expired_before, idle_cutoff, BATCH)
            .await?;
        ended.sessions += n;
        if n < BATCH as u64 {
            break;
        }
        // Let live traffic in between batches.
        tokio::task::yield_now().await;
    }
    let unused_before = now.minus(remember.idle_lifetime);
    loop {
        let n = store
            .delete_expired_remember(now, unused_before, BATCH)
            .await?;
        ended.remembered += n;
        if n < BATCH as u64 {
            break;
        }
        tokio::task::yield_now().await;
    }
    Ok(ended)
}

/// What the cleanup of sign-in records deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct SignInCleanup {
    pub flows: u64,
    pub trusted_devices: u64,
}

/// Delete sign-in flows past their hard limit by more than `ended_retention` (until then their
/// URL still says "expired" and offers the restart, S7) and trusted devices past their
/// lifetime (S3), in small batches.
pub async fn cleanup_flows_and_trusted(
    store: &dyn Store,
    ended_retention: std::time::Duration,
    now: Timestamp,
) -> Result<SignInCleanup, OperatorError> {
    const BATCH: i64 = 500;
    let mut done = SignInCleanup::default();
    let ended_before = now.minus(ended_retention);
    loop {
        let n = store.delete_expired_flows(ended_before, BATCH).await?;
        done.flows += n;
        if n < BATCH as u64 {
            break;
        }
        tokio::task::yield_now().await;
    }
    loop {
        let n = store.delete_expired_trusted_devices(now, BATCH).await?;
        done.trusted_devices += n;
        if n < BATCH as u64 {
            break;
        }
        tokio::task::yield_now().await;
    }
    Ok(done)
}
