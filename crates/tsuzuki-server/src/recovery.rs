//! Account recovery ("forgot password") and self-registration (issue #4 item 8, S7), on the
//! flow machinery of [`crate::flows`].
//!
//! **Recovery**: an email address → a flow at `VerifyEmail` whose code goes to the account's
//! address (valid `codes.lifetime`, 10 minutes at most by SEC-51) → `NewPassword` (checked by the
//! policy, hashed into the flow's payload, not yet on the account) → the account's second factor
//! if it has one (SEC-53: never skipped) → `Done`: the password is set, the revocation table's
//! `password_reset` row applies (by default every session, remembered device and trusted device
//! ends, this browser's included: SEC-39), the person is told, and no session is created.
//!
//! **Registration** (off unless `registration.enabled`): an address and a password → the password
//! is checked and hashed into the payload → a flow at `VerifyEmail` whose code goes to the typed
//! address → `Done`: the account is created (the HTTP layer then signs it in).
//!
//! **No enumeration (SEC-56)**: an address no (enabled) account uses still gets a recovery flow —
//! same row, same code stored, same answer — whose code never verifies; instead of the code, the
//! address gets a notice that no account uses it. Registering an address that has an account
//! likewise gets a flow that can never complete, and the address gets a notice instead of a
//! code. Every case sends exactly one message, so the answer does not differ in time either.
//!
//! Starting either flow counts against the client address (`throttle.ip` policy, key
//! `start:<ip>`), so that the forms cannot be turned into a mail cannon or a hashing load.

use crate::audit::ClientInfo;
use crate::courier::Message;
use crate::flows::{FlowError, Flows, Start};
use crate::http::pages::human_time;
use crate::remember::{CurrentDevice, RememberMe};
use crate::signin::{SignIn, SignInError};
use std::net::IpAddr;
use std::sync::Arc;
use tsuzuki_core::clock::Timestamp;
use tsuzuki_core::email::Email;
use tsuzuki_core::events::EventKind;
use tsuzuki_core::flow::{FlowKind, Step};
use tsuzuki_core::password_policy::{PasswordError, PasswordPolicy};
use tsuzuki_core::revocation::SecurityEvent;
use tsuzuki_core::throttle::retry_after;
use tsuzuki_core::token::{SecretToken, TokenHash};
use tsuzuki_store::{FlowRecord, NewUser, Store, StoreError, User};

/// Passwords longer than this many bytes are refused before any work (as at sign-in).
const MAX_PASSWORD_BYTES: usize = 4096;

/// Why a recovery or registration step did not go through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecoveryError {
    InvalidEmail,
    /// The new password breaks the policy.
    Password(PasswordError),
    /// Empty or absurdly long password field.
    PasswordInput(&'static str),
    /// Too many flows started from this client address.
    Throttled {
        retry_after: u64,
    },
    /// The address was registered between the code and the account's creation.
    AddressTaken,
    Flow(FlowError),
    SignIn(SignInError),
}

impl From<FlowError> for RecoveryError {
    fn from(e: FlowError) -> Self {
        RecoveryError::Flow(e)
    }
}

impl From<StoreError> for RecoveryError {
    fn from(e: StoreError) -> Self {
        RecoveryError::Flow(e.into())
    }
}

impl From<SignInError> for RecoveryError {
    fn from(e: SignInError) -> Self {
        RecoveryError::SignIn(e)
    }
}

/// The service, borrowed from the application's services for one request.
pub struct Recovery<'a> {
    pub store: &'a Arc<dyn Store>,
    pub flows: &'a Flows,
    pub signin: &'a SignIn,
    pub remember: &'a RememberMe,
    pub password_policy: PasswordPolicy,
}

/// Where a started flow lives and what the browser is bound to.
pub struct Begin<'a> {
    /// The browser cookie's hash: the flow is bound to it (S7).
    pub browser: TokenHash,
    /// Where the flow's pages go when it is done (a local path).
    pub return_to: &'a str,
}

impl Recovery<'_> {
    fn now(&self) -> Timestamp {
        self.flows.now()
    }

    /// "Forgot password": start a recovery flow for `email`. Known or not, enabled or not, the
    /// same steps run and the same kind of flow comes back (SEC-56).
    pub async fn start_recovery(
        &self,
        email: &str,
        begin: Begin<'_>,
        client: &ClientInfo,
    ) -> Result<(SecretToken, FlowRecord), RecoveryError> {
        let email = Email::parse(email).map_err(|_| RecoveryError::InvalidEmail)?;
        self.count_start(client).await?;
        let user = self
            .store
            .user_by_email(&email)
            .await?
            .filter(|u| !u.disabled);
        // No methods yet: which second factors the account has is read after the address is
        // proved, so the flow's answers say nothing about them (issue #4 item 9).
        let start = Start {
            kind: FlowKind::Recovery,
            step: Step::VerifyEmail,
            identifier: email.as_str(),
            remember: false,
            return_to: begin.return_to,
            session_hash: None,
            payload: String::new(),
            browser: begin.browser,
        };
        Ok(self
            .flows
            .start_for(user.as_ref(), Vec::new(), start, client)
            .await?)
    }

    /// Self-registration: check and hash the password, then start a flow that proves the
    /// address. Whether the address has an account changes only what is mailed to it.
    pub async fn start_registration(
        &self,
        email: &str,
        password: String,
        begin: Begin<'_>,
        client: &ClientInfo,
    ) -> Result<(SecretToken, FlowRecord), RecoveryError> {
        let email = Email::parse(email).map_err(|_| RecoveryError::InvalidEmail)?;
        let hash = self.hash_new_password(password).await?;
        self.count_start(client).await?;
        let start = Start {
            kind: FlowKind::Registration,
            step: Step::VerifyEmail,
            identifier: email.as_str(),
            remember: false,
            return_to: begin.return_to,
            session_hash: None,
            payload: hash,
            browser: begin.browser,
        };
        Ok(self
            .flows
            .start_for(None, Vec::new(), start, client)
            .await?)
    }

    /// The `NewPassword` step of a recovery: check the policy, hash the password into the flow
    /// (the account keeps its old password until the flow is done), and move on.
    pub async fn choose_password(
        &self,
        flow: FlowRecord,
        password: String,
        client: &ClientInfo,
    ) -> Result<FlowRecord, RecoveryError> {
        if flow.state.kind != FlowKind::Recovery || flow.state.step != Step::NewPassword {
            // Already past this step (another tab, a double submission).
            return Err(RecoveryError::Flow(FlowError::Conflict));
        }
        let hash = self.hash_new_password(password).await?;
        Ok(self.flows.pass_new_password(flow, hash, client).await?)
    }

    /// A recovery reached `Done`: set the password chosen in the flow, end what the revocation
    /// table says (SEC-39), record it and tell the person. Creates no session (SEC-53).
    pub async fn finish_reset(
        &self,
        flow: &FlowRecord,
        user: &User,
        current: &CurrentDevice,
        client: &ClientInfo,
    ) -> Result<(), RecoveryError> {
        let done = flow.state.kind == FlowKind::Recovery
            && flow.state.step == Step::Done
            && flow.user_id.as_deref() == Some(user.id.as_str())
            && flow.payload.starts_with("$argon2");
        if !done {
            return Err(RecoveryError::Flow(FlowError::MethodUnavailable));
        }
        let now = self.now();
        self.store
            .set_password_hash(&user.id, &flow.payload, now)
            .await?;
        let (sessions, remembered) = self
            .remember
            .apply(SecurityEvent::PasswordReset, &user.id, current)
            .await?;
        self.flows
            .audit
            .record(
                EventKind::PasswordReset,
                now,
                Some(&user.id),
                None,
                Some(client),
                &format!("sessions={sessions} remembered={remembered}"),
            )
            .await;
        let device = tsuzuki_core::device::describe(&client.user_agent).label();
        let notice = password_reset_notice(&user.email, &device, &client.ip, now);
        if let Err(e) = self.flows.courier.send(notice).await {
            tracing::warn!(error = %e, "password reset notice not sent");
        }
        Ok(())
    }

    /// A registration reached `Done`: create the account with the address it proved and the
    /// password hashed at the start.
    pub async fn finish_registration(
        &self,
        flow: &FlowRecord,
        client: &ClientInfo,
    ) -> Result<User, RecoveryError> {
        let done = flow.state.kind == FlowKind::Registration
            && flow.state.step == Step::Done
            && flow.payload.starts_with("$argon2");
        if !done {
            return Err(RecoveryError::Flow(FlowError::MethodUnavailable));
        }
        let email = Email::parse(&flow.identifier).map_err(|_| RecoveryError::InvalidEmail)?;
        let now = self.now();
        let new = NewUser {
            id: tsuzuki_core::token::public_id("usr"),
            email: email.as_str().to_string(),
            password_hash: flow.payload.clone(),
            now,
        };
        let user = match self.store.create_user(&new).await {
            Ok(u) => u,
            Err(StoreError::Conflict) => return Err(RecoveryError::AddressTaken),
            Err(e) => return Err(e.into()),
        };
        self.flows
            .audit
            .record(
                EventKind::Registered,
                now,
                Some(&user.id),
                None,
                Some(client),
                "",
            )
            .await;
        Ok(user)
    }

    /// Check a new password against the policy and hash it (argon2id, off the async workers).
    async fn hash_new_password(&self, password: String) -> Result<String, RecoveryError> {
        if password.is_empty() {
            return Err(RecoveryError::PasswordInput("password_required"));
        }
        if password.len() > MAX_PASSWORD_BYTES {
            return Err(RecoveryError::PasswordInput("password_too_long"));
        }
        self.password_policy
            .check(&password)
            .map_err(RecoveryError::Password)?;
        self.signin
            .hasher
            .hash(password)
            .await
            .map_err(|e| RecoveryError::SignIn(e.into()))
    }

    /// Count one started flow against the client's address; refuse while it is blocked.
    async fn count_start(&self, client: &ClientInfo) -> Result<(), RecoveryError> {
        let now = self.now();
        let key = start_key(&client.ip);
        if let Some(until) = self.store.throttle_blocked_until(&key).await?
            && let Some(wait) = retry_after(until, now)
        {
            return Err(RecoveryError::Throttled { retry_after: wait });
        }
        let policy = &self.signin.throttle_ip;
        let count = self
            .store
            .throttle_failure(&key, now, policy.window_start(now))
            .await?;
        let delay = policy.delay_after(count);
        if !delay.is_zero() {
            self.store.throttle_block(&key, now.plus(delay)).await?;
        }
        Ok(())
    }
}

/// Throttle key for flows started from a client address (IPv6 per /64, as for sign-in).
fn start_key(ip: &str) -> String {
    match ip.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) => {
            let s = v6.segments();
            format!("start:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        _ => format!("start:{ip}"),
    }
}

// ---- messages (text in locales/*/mail.ftl, both languages in one, P3; no password, no
// session token) ----------------------------------------------------------------------------

/// The recovery code: the code, until when, which device asked.
pub fn recovery_code_email(
    to: &str,
    code: &str,
    expires_at: Timestamp,
    device: &str,
    ip: &str,
) -> Message {
    code_message(to, "mail-reset-code", code, expires_at, device, ip)
}

/// The registration code: proves the address belongs to the person registering.
pub fn registration_code_email(
    to: &str,
    code: &str,
    expires_at: Timestamp,
    device: &str,
    ip: &str,
) -> Message {
    code_message(to, "mail-registration-code", code, expires_at, device, ip)
}

fn code_message(
    to: &str,
    key: &str,
    code: &str,
    expires_at: Timestamp,
    device: &str,
    ip: &str,
) -> Message {
    let until = human_time(expires_at);
    Message::bilingual(
        to,
        key,
        &[&format!("{key}-body")],
        &[
            ("code", code),
            ("until", &until),
            ("device", device),
            ("ip", ip),
        ],
    )
}

/// Sent instead of a recovery code to an address no enabled account uses.
pub fn no_account_notice(to: &str, device: &str, ip: &str) -> Message {
    Message::bilingual(
        to,
        "mail-no-account",
        &["mail-no-account-body"],
        &[("device", device), ("ip", ip)],
    )
}

/// Sent instead of a registration code to an address that already has an account.
pub fn already_registered_notice(to: &str, device: &str, ip: &str) -> Message {
    Message::bilingual(
        to,
        "mail-already-registered",
        &["mail-already-registered-body"],
        &[("device", device), ("ip", ip)],
    )
}

/// After a completed reset (SEC-39, SEC-74): when, from which device, what ended.
pub fn password_reset_notice(to: &str, device: &str, ip: &str, at: Timestamp) -> Message {
    let when = human_time(at);
    Message::bilingual(
        to,
        "mail-password-reset",
        &["mail-password-reset-body"],
        &[("when", &when), ("device", device), ("ip", ip)],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_keys_group_ipv6_by_64() {
        assert_eq!(
            start_key("2001:db8:1:2:aa::1"),
            start_key("2001:db8:1:2:bb::9")
        );
        assert_eq!(start_key("192.0.2.1"), "start:192.0.2.1");
    }

    #[test]
    fn messages_carry_no_secret_but_the_code() {
        let at = Timestamp(1_800_000_000);
        let m = recovery_code_email("a@example.com", "123456", at, "Firefox", "192.0.2.1");
        assert!(m.body.contains("code: 123456") && m.body.contains("コード: 123456"));
        for m in [
            no_account_notice("a@example.com", "Firefox", "192.0.2.1"),
            already_registered_notice("a@example.com", "Firefox", "192.0.2.1"),
            password_reset_notice("a@example.com", "Firefox", "192.0.2.1", at),
        ] {
            assert!(!m.body.contains("code:"), "{}", m.body);
            assert!(m.subject.contains(" / "), "both languages: {}", m.subject);
        }
    }
}
