//! "Keep me signed in" as a service: issue a token family, restore a session from it (rotating
//! the validator in the same transaction), replay the same successor inside the grace window,
//! and treat anything else as theft (R2–R7, SEC-25..35). The decisions are
//! `tsuzuki_core::remember::judge`; this module does the I/O around them.

use crate::audit::{Audit, ClientInfo};
use crate::courier::{Courier, Message};
use crate::metrics::{Metrics, Outcome};
use crate::sessions::{ActiveSession, Sessions};
use std::sync::Arc;
use tsuzuki_core::clock::{Clock, Timestamp};
use tsuzuki_core::device;
use tsuzuki_core::events::EventKind;
use tsuzuki_core::remember::{
    self, FamilyState, RememberCookie, RememberPolicy, SEAL_SESSION, SEAL_VALIDATOR, Verdict,
};
use tsuzuki_core::revocation::{RevocationPolicy, Revokes, Scope, SecurityEvent};
use tsuzuki_core::session::{Activity, AuthMethod};
use tsuzuki_core::token::{SecretToken, TokenHash, public_id};
use tsuzuki_store::{RememberRecord, Rotation, Store, StoreError};

/// A family just issued: the cookie value to set and its Max-Age.
pub struct Issued {
    pub cookie: String,
    pub max_age: u64,
    pub handle: String,
}

/// A session restored from a remember cookie: both cookies to set.
pub struct Restored {
    pub session_token: SecretToken,
    pub session: ActiveSession,
    pub cookie: String,
    pub max_age: u64,
}

/// Why no session came of a remember cookie. Malformed, unknown, expired, tampered and stolen
/// all look the same to the client (R4): no session, cookie cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestoreError {
    Refused,
    Unavailable,
}

impl From<StoreError> for RestoreError {
    fn from(e: StoreError) -> Self {
        tracing::warn!(error = %e, "remember-me store access failed");
        RestoreError::Unavailable
    }
}

/// The device a revocation is applied from: its session and remember family are "the current
/// device" for `Scope::Others`.
#[derive(Debug, Clone, Default)]
pub struct CurrentDevice {
    pub session: Option<TokenHash>,
    pub remember_handle: Option<String>,
    /// This browser's trusted-device handle, if it has one (S3).
    pub trusted_handle: Option<String>,
}

#[derive(Clone)]
pub struct RememberMe {
    pub store: Arc<dyn Store>,
    pub sessions: Sessions,
    pub clock: Arc<dyn Clock>,
    pub policy: RememberPolicy,
    pub revocation: RevocationPolicy,
    /// Key for sealing grace-window values (derived from the server secret).
    pub seal_key: [u8; 32],
    pub audit: Audit,
    pub metrics: Arc<Metrics>,
    pub courier: Arc<dyn Courier>,
}

impl RememberMe {
    /// Start a family for a session that has just completed every required factor (SEC-26:
    /// never at an intermediate step).
    pub async fn issue(
        &self,
        session: &ActiveSession,
        client: &ClientInfo,
    ) -> Result<Issued, StoreError> {
        let now = self.clock.now();
        let cookie = RememberCookie::generate();
        let expires_at = now.plus(self.policy.lifetime);
        let record = RememberRecord {
            selector: cookie.selector.clone(),
            handle: public_id("rem"),
            user_id: session.user_id.clone(),
            state: FamilyState {
                validator_hash: cookie.validator.hash(),
                previous_hash: None,
                rotated_at: None,
                expires_at,
                last_used_at: now,
            },
            sealed_successor: None,
            sealed_session: None,
            auth_time: session.auth_time,
            methods: tsuzuki_core::session::methods_to_string(&session.methods),
            created_at: now,
            ip: client.ip.clone(),
            last_ip: client.ip.clone(),
            user_agent: client.user_agent.clone(),
        };
        self.store.insert_remember(&record).await?;
        self.audit
            .record(
                EventKind::RememberIssued,
                now,
                Some(&session.user_id),
                Some(&record.handle),
                Some(client),
                "",
            )
            .await;
        Ok(Issued {
            cookie: cookie.encode(),
            max_age: remember::max_age(expires_at, now),
            handle: record.handle,
        })
    }

    /// Restore a session from a remember cookie (R4, R5).
    pub async fn restore(&self, text: &str, client: &ClientInfo) -> Result<Restored, RestoreError> {
        let result = self.restore_inner(text, client).await;
        let outcome = match &result {
            Ok(_) => "restored",
            Err(RestoreError::Refused) => "refused",
            Err(RestoreError::Unavailable) => "unavailable",
        };
        self.metrics
            .remember_restores
            .get_or_create(&Outcome { outcome })
            .inc();
        result
    }

    async fn restore_inner(
        &self,
        text: &str,
        client: &ClientInfo,
    ) -> Result<Restored, RestoreError> {
        let presented = RememberCookie::parse(text).ok_or(RestoreError::Refused)?;
        // Two rounds at most: if another request rotates between our read and our write, the
        // second read sees our validator as the previous one and takes the grace path.
        for _ in 0..2 {
            let Some(family) = self.store.remember_by_selector(&presented.selector).await? else {
                return Err(RestoreError::Refused);
            };
            let now = self.clock.now();
            match remember::judge(
                &self.policy,
                &family.state,
                &presented.validator.hash(),
                now,
            ) {
                Verdict::Current => {
                    if let Some(restored) = self.rotate(&family, &presented, client, now).await? {
                        return Ok(restored);
                    }
                }
                Verdict::Previous => return self.replay(&family, &presented, client).await,
                Verdict::Expired => {
                    self.in_background(move |me| async move {
                        let _ = me
                            .store
                            .revoke_remember(&family.handle, me.clock.now())
                            .await;
                    });
                    return Err(RestoreError::Refused);
                }
                Verdict::Theft => {
                    let client = client.clone();
                    // Revocation and mail happen after the answer: the refusal must not take
                    // longer than one for an unknown selector (R4).
                    self.in_background(move |me| async move { me.theft(&family, &client).await });
                    return Err(RestoreError::Refused);
                }
            }
        }
        Err(RestoreError::Refused)
    }

    fn in_background<F, Fut>(&self, work: F)
    where
        F: FnOnce(RememberMe) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let me = self.clone();
        tokio::spawn(work(me));
    }

    /// The current validator: rotate it and start a session, atomically. `None` if another
    /// request rotated first.
    async fn rotate(
        &self,
        family: &RememberRecord,
        presented: &RememberCookie,
        client: &ClientInfo,
        now: Timestamp,
    ) -> Result<Option<Restored>, RestoreError> {
        let user = match self.store.user_by_id(&family.user_id).await? {
            Some(u) if !u.disabled => u,
            _ => {
                let _ = self.store.revoke_remember(&family.handle, now).await;
                return Err(RestoreError::Refused);
            }
        };
        let next = presented.rotated();
        let session_token = SecretToken::generate();
        let key = &self.seal_key;
        let sel = &family.selector;
        let rotation = Rotation {
            selector: family.selector.clone(),
            expected: presented.validator.hash(),
            new_hash: next.validator.hash(),
            sealed_successor: remember::seal(
                key,
                SEAL_VALIDATOR,
                sel,
                &presented.validator,
                &next.validator,
            ),
            sealed_session: remember::seal(
                key,
                SEAL_SESSION,
                sel,
                &presented.validator,
                &session_token,
            ),
            now,
            ip: client.ip.clone(),
        };
        let record = self.sessions.record(
            &session_token,
            &family.user_id,
            &[AuthMethod::Remember],
            family.auth_time,
            Some(&family.handle),
            client,
        );
        if !self.store.rotate_remember(&rotation, &record).await? {
            return Ok(None);
        }
        let session = self.sessions.started(&record, &user.email);
        self.audit
            .record(
                EventKind::RememberRestored,
                now,
                Some(&user.id),
                Some(&session.handle),
                Some(client),
                &family.handle,
            )
            .await;
        Ok(Some(Restored {
            session_token,
            session,
            cookie: next.encode(),
            max_age: remember::max_age(family.state.expires_at, now),
        }))
    }

    /// The just-replaced validator within the grace window: the same successor and the same
    /// session as the request that rotated (SEC-32, SEC-34).
    async fn replay(
        &self,
        family: &RememberRecord,
        presented: &RememberCookie,
        client: &ClientInfo,
    ) -> Result<Restored, RestoreError> {
        let (Some(sealed_validator), Some(sealed_session)) =
            (family.sealed_successor, family.sealed_session)
        else {
            return Err(RestoreError::Refused);
        };
        let key = &self.seal_key;
        let sel = &family.selector;
        let successor = remember::unseal(
            key,
            SEAL_VALIDATOR,
            sel,
            &presented.validator,
            &sealed_validator,
        );
        if !successor.hash().ct_eq(&family.state.validator_hash) {
            // Only a server-key change could get here; never hand out a validator that the row
            // does not confirm.
            return Err(RestoreError::Refused);
        }
        let session_token = remember::unseal(
            key,
            SEAL_SESSION,
            sel,
            &presented.validator,
            &sealed_session,
        );
        let session = self
            .sessions
            .authenticate(&session_token.encode(), Activity::User, &client.ip)
            .await
            .map_err(|_| RestoreError::Refused)?;
        let now = self.clock.now();
        self.audit
            .record(
                EventKind::RememberGraceReplay,
                now,
                Some(&family.user_id),
                Some(&session.handle),
                Some(client),
                &family.handle,
            )
            .await;
        Ok(Restored {
            session_token,
            session,
            cookie: RememberCookie {
                selector: family.selector.clone(),
                validator: successor,
            }
            .encode(),
            max_age: remember::max_age(family.state.expires_at, now),
        })
    }

    /// A copy of the cookie is in someone else's hands (SEC-33, R5): end the family and its
    /// sessions, apply the theft row of the revocation table, record it and tell the person.
    async fn theft(&self, family: &RememberRecord, client: &ClientInfo) {
        let now = self.clock.now();
        if let Err(e) = self.store.revoke_remember(&family.handle, now).await {
            tracing::error!(error = %e, "theft detected but the family could not be revoked");
        }
        self.apply(
            SecurityEvent::RememberTheft,
            &family.user_id,
            &CurrentDevice::default(),
        )
        .await
        .ok();
        self.audit
            .record(
                EventKind::RememberTheft,
                now,
                Some(&family.user_id),
                None,
                Some(client),
                &family.handle,
            )
            .await;
        self.metrics.remember_thefts.inc();
        if let Ok(Some(user)) = self.store.user_by_id(&family.user_id).await {
            let device = device::describe(&family.user_agent).label();
            let message = theft_message(&user.email, &device);
            if let Err(e) = self.courier.send(message).await {
                tracing::warn!(error = %e, "theft notification not sent");
            }
        }
    }

    /// Apply the revocation table's row for `event` to `user_id`, keeping `current` where the
    /// scope is `others` (R7). Returns (sessions ended, families ended).
    pub async fn apply(
        &self,
        event: SecurityEvent,
        user_id: &str,
        current: &CurrentDevice,
    ) -> Result<(u64, u64), StoreError> {
        self.apply_revokes(self.revocation.get(event), user_id, current)
            .await
    }

    /// Apply one row of revocations (the table's, or one the person chose). Returns (sessions
    /// ended, remembered families ended); trusted devices are ended too but not counted.
    pub async fn apply_revokes(
        &self,
        r: Revokes,
        user_id: &str,
        current: &CurrentDevice,
    ) -> Result<(u64, u64), StoreError> {
        let sessions = match r.sessions {
            Scope::None => 0,
            Scope::Others => {
                self.sessions
                    .revoke_user(user_id, current.session.as_ref())
                    .await?
            }
            Scope::All => self.sessions.revoke_user(user_id, None).await?,
        };
        let families = match r.remembered {
            Scope::None => 0,
            Scope::Others => {
                self.store
                    .revoke_user_remember(user_id, current.remember_handle.as_deref())
                    .await?
            }
            Scope::All => self.store.revoke_user_remember(user_id, None).await?,
        };
        match r.trusted_devices {
            Scope::None => 0,
            Scope::Others => {
                self.store
                    .revoke_user_trusted_devices(user_id, current.trusted_handle.as_deref())
                    .await?
            }
            Scope::All => {
                self.store
                    .revoke_user_trusted_devices(user_id, None)
                    .await?
            }
        };
        Ok((sessions, families))
    }

    /// End one family by the cookie that names it (sign-out on this device, R6).
    pub async fn revoke_cookie(&self, text: &str) -> Result<bool, StoreError> {
        let Some(cookie) = RememberCookie::parse(text) else {
            return Ok(false);
        };
        let Some(family) = self.store.remember_by_selector(&cookie.selector).await? else {
            return Ok(false);
        };
        // Only the holder of the current (or just-replaced) validator may end it this way.
        let hash = cookie.validator.hash();
        let owns = family.state.validator_hash.ct_eq(&hash)
            || family.state.previous_hash.is_some_and(|p| p.ct_eq(&hash));
        if !owns {
            return Ok(false);
        }
        let ended = self
            .store
            .revoke_remember(&family.handle, self.clock.now())
            .await?;
        self.sessions.apply_revocation_feed().await?;
        Ok(ended)
    }
}

fn theft_message(to: &str, device: &str) -> Message {
    Message::bilingual(
        to,
        "mail-remember-theft",
        &["mail-remember-theft-body"],
        &[("device", device)],
    )
}
