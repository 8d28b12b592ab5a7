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

/// One entry of the devices page: a live session or a remembered device.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DeviceEntry {
    /// `ses_…` for a session, `rem_…` for a remembered device; what revocation takes.
    pub handle: String,
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

impl Account {
    /// The family handle of this browser's remember cookie, if it names one of the user's.
    pub async fn current_device(
        &self,
        session: &ActiveSession,
        remember_cookie: Option<&str>,
    ) -> Result<CurrentDevice, StoreError> {
        let mut handle = session.remember_handle.clone();
        if handle.is_none()
            && let Some(cookie) = remember_cookie.and_then(RememberCookie::parse)
            && let Some(family) = self.store.remember_by_selector(&cookie.selector).await?
            && family.user_id == session.user_id
        {
            handle = Some(family.handle);
        }
        Ok(CurrentDevice {
            session: Some(session.id_hash),
            remember_handle: handle,
            trusted_handle: None,
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
        Ok(out)
    }

    /// End one of the user's sessions or remembered devices by its handle. `NotFound` if it is
    /// not theirs (or already gone).
    pub async fn revoke_device(
        &self,
        session: &ActiveSession,
        handle: &str,
        client: &ClientInfo,
    ) -> Result<(), AccountError> {
        let now = self.sessions.now();
        if handle.starts_with("rem_") {
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
                EventKind::DeviceRevoked,
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

    /// Re-authenticate (step-up): the password again, then a new session whose authentication
    /// is now — the old one ends (SEC-5, SEC-67) and both timers restart (SEC-10).
    pub async fn reauthenticate(
        &self,
        session: &ActiveSession,
        password: String,
        client: &ClientInfo,
    ) -> Result<(SecretToken, ActiveSession), AccountError> {
        let user = self
            .signin
            .verify_known(&session.user_id, password, client)
            .await?;
        let (token, fresh) = self.rotate(session, &user, client).await?;
        self.audit
            .record(
                EventKind::Reauthenticated,
                self.sessions.now(),
                Some(&user.id),
                Some(&fresh.handle),
                Some(client),
                "",
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

    async fn rotate(
        &self,
        old: &ActiveSession,
        user: &tsuzuki_store::User,
        client: &ClientInfo,
    ) -> Result<(SecretToken, ActiveSession), StoreError> {
        self.sessions.revoke(&old.id_hash).await?;
        self.sessions
            .create(user, &[AuthMethod::Password], client)
            .await
    }
}

fn password_changed_message(to: &str, device: &str, at: Timestamp) -> Message {
    let when = crate::http::pages::human_time(at);
    Message {
        to: to.to_string(),
        subject: "[tsuzuki] パスワードが変更されました / Your password was changed".into(),
        body: format!(
            "{when} に {device} からパスワードが変更されました。ほかの端末のログインは終了しました。\n\
             心当たりがない場合は、すぐにパスワードを再設定してください。\n\n\
             Your password was changed at {when} from {device}. Your other devices were signed out.\n\
             If this was not you, reset your password now.\n"
        ),
    }
}
