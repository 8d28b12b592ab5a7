//! What a signed-in person can do to their own account: re-authenticate, change the password,
//! list devices and sessions, end one, end them all (R6–R8, R12). Each operation that ends
//! credentials goes through the revocation table (`RememberMe::apply`).

use crate::audit::{Audit, ClientInfo};
use crate::courier::{Courier, Message};
use crate::remember::{CurrentDevice, RememberMe};
use crate::sessions::{ActiveSession, Sessions};
use crate::signin::{SignIn, SignInError};
use std::sync::Arc;
use tsuzuki_core::clock::Timestamp;
use tsuzuki_core::device;
use tsuzuki_core::events::EventKind;
use tsuzuki_core::password_policy::{PasswordError, PasswordPolicy};
use tsuzuki_core::remember::RememberCookie;
use tsuzuki_core::revocation::{Revokes, Scope, SecurityEvent};
use tsuzuki_core::session::AuthMethod;
use tsuzuki_core::token::SecretToken;
use tsuzuki_store::{Store, StoreError};

/// One entry of the devices page: a live session, a remembered device or a trusted device.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct DeviceEntry {
    /// `ses_…` for a session, `rem_…` for a remembered device, `trd_…` for a trusted device;
    /// what revocation takes.
    pub handle: String,
    /// `session`, `remembered` or `trusted`.
    pub kind: &'static str,
    pub device: String,
    pub ip: String,
    pub first_used_at: i64,
    pub last_used_at: i64,
    /// When it ends at the latest.
    pub expires_at: i64,
    /// The device this request comes from.
    pub current: bool,
}

#[derive(Clone)]
pub struct Account {
    pub store: Arc<dyn Store>,
    pub sessions: Sessions,
    pub signin: SignIn,
    pub remember: RememberMe,
    pub audit: Audit,
    pub courier: Arc<dyn Courier>,
    pub password_policy: PasswordPolicy,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountError {
    SignIn(SignInError),
    /// The new password breaks the policy.
    Password(PasswordError),
    NotFound,
}

impl From<SignInError> for AccountError {
    fn from(e: SignInError) -> Self {
        AccountError::SignIn(e)
    }
}

impl From<StoreError> for AccountError {
    fn from(e: StoreError) -> Self {
        AccountError::SignIn(e.into())
    }
}

/// The long-lived cookies a request carried that name "this device": its remember-me family and
/// its trusted-device token (S3).
#[derive(Debug, Clone, Copy, Default)]
pub struct DeviceCookies<'a> {
    pub remember: Option<&'a str>,
    pub trusted: Option<&'a str>,
}

impl Account {
    /// This device: the session, the family handle of this browser's remember cookie and the
    /// handle of its trusted-device cookie, each only if it names one of the user's (and, for a
    /// trusted device, a live one). Reading does not count as a use of the trusted device.
    pub async fn current_device(
        &self,
        session: &ActiveSession,
        cookies: DeviceCookies<'_>,
    ) -> Result<CurrentDevice, StoreError> {
        let mut handle = session.remember_handle.clone();
        if handle.is_none()
            && let Some(cookie) = cookies.remember.and_then(RememberCookie::parse)
            && let Some(family) = self.store.remember_by_selector(&cookie.selector).await?
            && family.user_id == session.user_id
        {
            handle = Some(family.handle);
        }
        let mut trusted_handle = None;
        if let Some(token) = cookies.trusted.and_then(SecretToken::parse)
            && let Some(d) = self.store.trusted_device_by_hash(&token.hash()).await?
            && d.user_id == session.user_id
            && self.sessions.now() < d.expires_at
        {
            trusted_handle = Some(d.handle);
        }
        Ok(CurrentDevice {
            session: Some(session.id_hash),
            remember_handle: handle,
            trusted_handle,
        })
    }

    /// Sessions and remembered devices of the session's user (R8). Only public handles.
    pub async fn devices(
        &self,
        session: &ActiveSession,
        current: &CurrentDevice,
    ) -> Result<Vec<DeviceEntry>, StoreError> {
        let now = self.sessions.now();
        let policy = self.sessions.policy();
        let mut out = Vec::new();
        for s in self.store.sessions_of_user(&session.user_id).await? {
            // Sessions past their limits are not "live": leave them out.
            if tsuzuki_core::session::check(policy, &s.times, now).is_err() {
                continue;
            }
            out.push(DeviceEntry {
                current: s.handle == session.handle,
                kind: "session",
                device: device::describe(&s.user_agent).label(),
                ip: s.last_ip.clone(),
                first_used_at: s.times.created_at.0,
                last_used_at: s.times.last_active_at.0,
                expires_at: s.times.expires_at.0,
                handle: s.handle,
            });
        }
        for f in self.store.remember_of_user(&session.user_id).await? {
            out.push(DeviceEntry {
                current: current.remember_handle.as_deref() == Some(f.handle.as_str()),
                kind: "remembered",
                device: device::describe(&f.user_agent).label(),
                ip: f.last_ip.clone(),
                first_used_at: f.created_at.0,
                last_used_at: f.state.last_used_at.0,
                expires_at: f.state.expires_at.0,
                handle: f.handle,
            });
        }
        // Trusted devices (S3, SEC-31, SEC-38): listed with the others, their own kind. An
        // expired one skips nothing any more and waits for the cleanup job: not listed.
        for d in self.store.trusted_devices_of_user(&session.user_id).await? {
            if now >= d.expires_at {
                continue;
            }
            out.push(DeviceEntry {
                current: current.trusted_handle.as_deref() == Some(d.handle.as_str()),
                kind: "trusted",
                device: device::describe(&d.user_agent).label(),
                ip: d.ip.clone(),
                first_used_at: d.created_at.0,
                last_used_at: d.last_used_at.0,
                expires_at: d.expires_at.0,
                handle: d.handle,
            });
        }
        Ok(out)
    }

    /// End one of the user's sessions, remembered devices or trusted devices by its handle.
    /// `NotFound` if it is not theirs (or already gone).
    pub async fn revoke_device(
        &self,
        session: &ActiveSession,
        handle: &str,
        client: &ClientInfo,
    ) -> Result<(), AccountError> {
        let now = self.sessions.now();
        let mut kind = EventKind::DeviceRevoked;
        if handle.starts_with("trd_") {
            // S3, SEC-38: the store deletes it only if it is this user's.
            if !self
                .store
                .revoke_trusted_device(&session.user_id, handle)
                .await?
            {
                return Err(AccountError::NotFound);
            }
            kind = EventKind::TrustedDeviceRevoked;
        } else if handle.starts_with("rem_") {
            let owned = self
                .store
                .remember_of_user(&session.user_id)
                .await?
                .into_iter()
                .any(|f| f.handle == handle);
            if !owned || !self.store.revoke_remember(handle, now).await? {
                return Err(AccountError::NotFound);
            }
            self.sessions.apply_revocation_feed().await?;
        } else {
            let target = self
                .store
                .sessions_of_user(&session.user_id)
                .await?
                .into_iter()
                .find(|s| s.handle == handle);
            let Some(target) = target else {
                return Err(AccountError::NotFound);
            };
            self.sessions.revoke(&target.id_hash).await?;
        }
        self.audit
            .record(
                kind,
                now,
                Some(&session.user_id),
                Some(handle),
                Some(client),
                "by the user",
            )
            .await;
        Ok(())
    }

    /// "Sign out everywhere" (R7): every session and remembered device, or all but this device's.
    pub async fn sign_out_everywhere(
        &self,
        session: &ActiveSession,
        keep_current: bool,
        current: &CurrentDevice,
        client: &ClientInfo,
    ) -> Result<(u64, u64), AccountError> {
        // The person's choice decides whether this device stays: the table's `all` becomes
        // `others` when they ask to keep it (and `others` becomes `all` when they do not).
        let choose = |scope: Scope| match (scope, keep_current) {
            (Scope::None, _) => Scope::None,
            (_, true) => Scope::Others,
            (_, false) => Scope::All,
        };
        let table = self
            .remember
            .revocation
            .get(SecurityEvent::SignOutEverywhere);
        let chosen = Revokes {
            sessions: choose(table.sessions),
            remembered: choose(table.remembered),
            trusted_devices: choose(table.trusted_devices),
        };
        let counts = self
            .remember
            .apply_revokes(chosen, &session.user_id, current)
            .await?;
        let detail = if keep_current {
            "kept this device"
        } else {
            "all devices"
        };
        self.audit
            .record(
                EventKind::SignedOutEverywhere,
                self.sessions.now(),
                Some(&session.user_id),
                Some(&session.handle),
                Some(client),
                detail,
            )
            .await;
        Ok(counts)
    }

    /// The first part of a re-authentication (step-up, R12): the password again. An account
    /// with a second factor then goes through a step-up flow (the caller starts it); one
    /// without finishes with [`Account::finish_reauth`] at once.
    pub async fn verify_again(
        &self,
        session: &ActiveSession,
        password: String,
        client: &ClientInfo,
    ) -> Result<tsuzuki_store::User, AccountError> {
        Ok(self
            .signin
            .verify_known(&session.user_id, password, client)
            .await?)
    }

    /// Finish a re-authentication: a new session whose authentication is now, by `methods` —
    /// the old one ends (SEC-5, SEC-67) and both timers restart (SEC-10).
    pub async fn finish_reauth(
        &self,
        session: &ActiveSession,
        user: &tsuzuki_store::User,
        methods: &[AuthMethod],
        client: &ClientInfo,
    ) -> Result<(SecretToken, ActiveSession), AccountError> {
        self.sessions.revoke(&session.id_hash).await?;
        let (token, fresh) = self.sessions.create(user, methods, client).await?;
        self.audit
            .record(
                EventKind::Reauthenticated,
                self.sessions.now(),
                Some(&user.id),
                Some(&fresh.handle),
                Some(client),
                &tsuzuki_core::session::methods_to_string(methods),
            )
            .await;
        Ok((token, fresh))
    }

    /// Change the password: the current one is required (SEC-69); then the revocation table's
    /// row for a password change applies (SEC-39), this session gets a new id, and the person
    /// is told (SEC-74).
    pub async fn change_password(
        &self,
        session: &ActiveSession,
        current_password: String,
        new_password: String,
        current: &CurrentDevice,
        client: &ClientInfo,
    ) -> Result<(SecretToken, ActiveSession), AccountError> {
        self.password_policy
            .check(&new_password)
            .map_err(AccountError::Password)?;
        let user = self
            .signin
            .verify_known(&session.user_id, current_password, client)
            .await?;
        let hash = self
            .signin
            .hasher
            .hash(new_password)
            .await
            .map_err(SignInError::from)?;
        let now = self.sessions.now();
        self.store.set_password_hash(&user.id, &hash, now).await?;
        self.remember
            .apply(SecurityEvent::PasswordChanged, &user.id, current)
            .await?;
        let (token, fresh) = self.rotate(session, &user, client).await?;
        self.audit
            .record(
                EventKind::PasswordChanged,
                now,
                Some(&user.id),
                Some(&fresh.handle),
                Some(client),
                "",
            )
            .await;
        let device = device::describe(&client.user_agent).label();
        if let Err(e) = self
            .courier
            .send(password_changed_message(&user.email, &device, now))
            .await
        {
            tracing::warn!(error = %e, "password change notification not sent");
        }
        Ok((token, fresh))
    }

    /// A new session id after a password change, keeping how the person signed in (a second
    /// factor they proved stays proved).
    async fn rotate(
        &self,
        old: &ActiveSession,
        user: &tsuzuki_store::User,
        client: &ClientInfo,
    ) -> Result<(SecretToken, ActiveSession), StoreError> {
        self.sessions.revoke(&old.id_hash).await?;
        let mut methods: Vec<AuthMethod> = old
            .methods
            .iter()
            .copied()
            .filter(|m| *m != AuthMethod::Remember)
            .collect();
        if !methods.contains(&AuthMethod::Password) {
            methods.insert(0, AuthMethod::Password);
        }
        self.sessions.create(user, &methods, client).await
    }
}

fn password_changed_message(to: &str, device: &str, at: Timestamp) -> Message {
    let when = crate::http::pages::human_time(at);
    Message::bilingual(
        to,
        "mail-password-changed",
        &["mail-password-changed-body"],
        &[("when", &when), ("device", device)],
    )
}
