//! Signing in with email and password: throttling, verification, session creation.
//!
//! Unknown account, disabled account and wrong password take the same path — one argon2
//! verification, the same throttle writes — and end in the same [`SignInError::InvalidCredentials`],
//! so neither the answer nor its timing tells whether an account exists (SEC-56).

use crate::audit::{Audit, ClientInfo};
use crate::metrics::{Metrics, Outcome};
use crate::passwords::{HashError, PasswordHasher};
use crate::sessions::{ActiveSession, Sessions};
use sha2::{Digest, Sha256};
use std::net::IpAddr;
use std::sync::Arc;
use tsuzuki_core::clock::Timestamp;
use tsuzuki_core::email::Email;
use tsuzuki_core::events::EventKind;
use tsuzuki_core::session::AuthMethod;
use tsuzuki_core::throttle::{ThrottlePolicy, retry_after};
use tsuzuki_core::token::{SecretToken, TokenHash};
use tsuzuki_store::{Store, StoreError, User};

/// Passwords longer than this many bytes are refused before hashing: no legitimate password is
/// this long (the policy caps characters well below), and hashing megabytes is a cheap DoS.
const MAX_PASSWORD_BYTES: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignInError {
    /// The request itself is malformed (empty or invalid email, empty or huge password).
    InvalidInput(&'static str),
    /// Unknown account, disabled account or wrong password: deliberately one answer.
    InvalidCredentials,
    Throttled {
        retry_after: u64,
    },
    /// Password hashing is saturated; retry shortly.
    Busy,
    Unavailable,
}

impl From<StoreError> for SignInError {
    fn from(e: StoreError) -> Self {
        tracing::warn!(error = %e, "store failed during sign-in");
        SignInError::Unavailable
    }
}

impl From<HashError> for SignInError {
    fn from(e: HashError) -> Self {
        match e {
            HashError::Busy => SignInError::Busy,
            HashError::Failed(msg) => {
                tracing::error!(error = %msg, "password hashing failed");
                SignInError::Unavailable
            }
        }
    }
}

#[derive(Clone)]
pub struct SignIn {
    pub store: Arc<dyn Store>,
    pub hasher: PasswordHasher,
    pub sessions: Sessions,
    pub audit: Audit,
    pub metrics: Arc<Metrics>,
    pub throttle_account: ThrottlePolicy,
    pub throttle_ip: ThrottlePolicy,
    /// Second-factor failures per account (SEC-46).
    pub throttle_second_factor: ThrottlePolicy,
    pub history: crate::history::LoginHistory,
}

/// Throttle key for an account. The email is hashed so that the table never holds the addresses
/// people mistyped or attackers tried.
fn account_key(email: &Email) -> String {
    let digest = Sha256::digest(email.as_str().as_bytes());
    format!("acct:{}", data_encoding::HEXLOWER.encode(&digest[..16]))
}

/// Throttle key for a client address. IPv6 clients are grouped by /64, the block one subscriber
/// usually holds, so rotating through it does not reset the count.
fn ip_key(ip: &str) -> String {
    match ip.parse::<IpAddr>() {
        Ok(IpAddr::V6(_)) => format!("ip:{}", tsuzuki_core::alerts::network_of(ip)),
        _ => format!("ip:{ip}"),
    }
}

/// Refuse empty and absurdly long passwords before any work.
fn check_input(password: &str) -> Result<(), SignInError> {
    if password.is_empty() {
        return Err(SignInError::InvalidInput("password_required"));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(SignInError::InvalidInput("password_too_long"));
    }
    Ok(())
}

impl SignIn {
    /// The first factor: email and password. A failure is counted in the sign-in metrics here;
    /// a success is counted when the session starts ([`SignIn::start_session`]), which for an
    /// account with a second factor is only after it (SEC-26).
    pub async fn first_factor(
        &self,
        email: &str,
        password: String,
        client: &ClientInfo,
    ) -> Result<User, SignInError> {
        let result = self.password_step(email, password, client).await;
        if let Err(e) = &result {
            let outcome = match e {
                SignInError::InvalidCredentials => "invalid_credentials",
                SignInError::Throttled { .. } => "throttled",
                SignInError::InvalidInput(_) => "invalid_input",
                SignInError::Busy => "busy",
                SignInError::Unavailable => "error",
            };
            self.count(outcome);
        }
        result
    }

    fn count(&self, outcome: &'static str) {
        self.metrics
            .sign_ins
            .get_or_create(&Outcome { outcome })
            .inc();
    }

    async fn password_step(
        &self,
        email: &str,
        password: String,
        client: &ClientInfo,
    ) -> Result<User, SignInError> {
        let email = Email::parse(email).map_err(|_| SignInError::InvalidInput("invalid_email"))?;
        check_input(&password)?;
        let user = self.store.user_by_email(&email).await?;
        self.check_password(&email, user, password, client, "")
            .await
    }

    /// Start the session of a completed sign-in. `previous`, the session this browser already
    /// had, is ended: every sign-in gets a new session id (SEC-4).
    pub async fn start_session(
        &self,
        user: &User,
        methods: &[AuthMethod],
        client: &ClientInfo,
        previous: Option<TokenHash>,
    ) -> Result<(SecretToken, ActiveSession), SignInError> {
        let now = self.sessions.now();
        if let Some(prev) = previous {
            self.sessions.revoke(&prev).await?;
        }
        let (token, session) = self.sessions.create(user, methods, client).await?;
        self.count("success");
        self.audit
            .record(
                EventKind::SignInSucceeded,
                now,
                Some(&user.id),
                Some(&session.handle),
                Some(client),
                &tsuzuki_core::session::methods_to_string(methods),
            )
            .await;
        Ok((token, session))
    }

    /// Throttle keys for second-factor answers: the account and the client's address (SEC-46).
    pub fn mfa_throttle_keys(&self, user_id: &str, client: &ClientInfo) -> [String; 2] {
        [format!("mfa:{user_id}"), ip_key(&client.ip)]
    }

    /// Seconds until the first of `keys` stops blocking, if any blocks.
    pub async fn blocked_keys(
        &self,
        keys: &[String; 2],
        now: Timestamp,
    ) -> Result<Option<u64>, StoreError> {
        self.blocked(&keys[0], &keys[1], now).await
    }

    /// Count a failure against both keys.
    pub async fn fail_keys(&self, keys: &[String; 2], now: Timestamp) -> Result<(), StoreError> {
        self.fail_with(&keys[0], &self.throttle_second_factor, &keys[1], now)
            .await
    }

    /// A success clears the account key (never the address key, as for passwords).
    pub async fn clear_keys(&self, keys: &[String; 2]) -> Result<(), StoreError> {
        self.store.throttle_clear(&keys[0]).await
    }

    /// Check the password of an account that is already known (re-authentication, password
    /// change: SEC-65, SEC-69). Counts toward the same throttles as sign-in (SEC-68).
    pub async fn verify_known(
        &self,
        user_id: &str,
        password: String,
        client: &ClientInfo,
    ) -> Result<User, SignInError> {
        check_input(&password)?;
        let user = self
            .store
            .user_by_id(user_id)
            .await?
            .ok_or(SignInError::InvalidCredentials)?;
        let email = Email::parse(&user.email).map_err(|_| SignInError::InvalidCredentials)?;
        self.check_password(&email, Some(user), password, client, "reauthentication")
            .await
    }

    /// The one password check behind sign-in and re-authentication: throttles first, then one
    /// argon2 verification whether or not the account exists or is enabled (against the dummy
    /// hash otherwise), then the throttle counts and a transparent re-hash (issue #2 item 4).
    async fn check_password(
        &self,
        email: &Email,
        user: Option<User>,
        password: String,
        client: &ClientInfo,
        purpose: &str,
    ) -> Result<User, SignInError> {
        let now = self.sessions.now();
        let (akey, ikey) = (account_key(email), ip_key(&client.ip));
        if let Some(wait) = self.blocked(&akey, &ikey, now).await? {
            self.audit
                .record(
                    EventKind::SignInThrottled,
                    now,
                    None,
                    None,
                    Some(client),
                    purpose,
                )
                .await;
            return Err(SignInError::Throttled { retry_after: wait });
        }
        let stored = user
            .as_ref()
            .filter(|u| !u.disabled)
            .map(|u| u.password_hash.clone());
        let verdict = self.hasher.verify(password.clone(), stored).await?;
        let user = match user {
            Some(u) if verdict.matches && !u.disabled => u,
            other => {
                self.fail(&akey, &ikey, now).await?;
                let uid = other.as_ref().map(|u| u.id.as_str());
                if let Some(uid) = uid {
                    // In the background: waiting for this write only for accounts that exist
                    // would make the answer's timing tell which ones do (SEC-56).
                    let (history, uid, client) =
                        (self.history.clone(), uid.to_string(), client.clone());
                    tokio::spawn(async move {
                        history
                            .failure(&uid, "pwd", "wrong_password", &client)
                            .await
                    });
                }
                self.audit
                    .record(
                        EventKind::SignInFailed,
                        now,
                        uid,
                        None,
                        Some(client),
                        purpose,
                    )
                    .await;
                return Err(SignInError::InvalidCredentials);
            }
        };
        // Success clears the account's count; the address's count stays, so an attacker cannot
        // reset it by signing in to an account of their own between guesses.
        self.store.throttle_clear(&akey).await?;
        if verdict.needs_rehash {
            let rehashed = self.hasher.hash(password).await?;
            self.store
                .set_password_hash(&user.id, &rehashed, now)
                .await?;
            self.audit
                .record(
                    EventKind::PasswordRehashed,
                    now,
                    Some(&user.id),
                    None,
                    None,
                    "",
                )
                .await;
        }
        Ok(user)
    }

    async fn blocked(
        &self,
        akey: &str,
        ikey: &str,
        now: Timestamp,
    ) -> Result<Option<u64>, StoreError> {
        let a = self.store.throttle_blocked_until(akey).await?;
        let i = self.store.throttle_blocked_until(ikey).await?;
        let wait = [a, i]
            .into_iter()
            .flatten()
            .filter_map(|until| retry_after(until, now))
            .max();
        Ok(wait)
    }

    async fn fail(&self, akey: &str, ikey: &str, now: Timestamp) -> Result<(), StoreError> {
        self.fail_with(akey, &self.throttle_account, ikey, now)
            .await
    }

    async fn fail_with(
        &self,
        akey: &str,
        account_policy: &ThrottlePolicy,
        ikey: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        for (key, policy) in [(akey, account_policy), (ikey, &self.throttle_ip)] {
            let failures = self
                .store
                .throttle_failure(key, now, policy.window_start(now))
                .await?;
            let delay = policy.delay_after(failures);
            if !delay.is_zero() {
                self.store.throttle_block(key, now.plus(delay)).await?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_are_grouped_by_64() {
        assert_eq!(
            ip_key("2001:db8:1:2:aaaa::1"),
            ip_key("2001:db8:1:2:bbbb::9")
        );
        assert_ne!(ip_key("2001:db8:1:2::1"), ip_key("2001:db8:1:3::1"));
        assert_eq!(ip_key("192.0.2.1"), "ip:192.0.2.1");
    }

    #[test]
    fn account_keys_do_not_contain_the_email() {
        let k = account_key(&Email::parse("alice@example.com").unwrap());
        assert!(!k.contains("alice"));
        assert_eq!(k, account_key(&Email::parse("ALICE@example.com").unwrap()));
    }
}
