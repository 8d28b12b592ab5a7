//! A person's second factors (S3, S8, S9): authenticator apps (several, each named), email and
//! SMS codes, recovery codes and trusted devices — enrolment, listing, removal.
//!
//! Adding the first factor, removing one, and regenerating recovery codes are second-factor
//! changes: the revocation table's `second_factor_changed` row applies (R7, SEC-40).

use crate::audit::{Audit, ClientInfo};
use crate::flows::Flows;
use crate::remember::{CurrentDevice, RememberMe};
use std::sync::Arc;
use tsuzuki_core::clock::Timestamp;
use tsuzuki_core::events::EventKind;
use tsuzuki_core::flow::Method;
use tsuzuki_core::revocation::SecurityEvent;
use tsuzuki_core::token::{SecretToken, TokenHash, public_id};
use tsuzuki_core::{recovery, totp};
use tsuzuki_store::{FactorRecord, Store, StoreError, TrustedDeviceRecord};

/// Longest name a person may give a factor.
pub const MAX_NAME: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FactorError {
    /// No such factor of this person (or already confirmed, for a confirmation).
    NotFound,
    /// The confirmation code is wrong (SEC-49: enrolment needs a current code).
    WrongCode,
    /// A name or phone number that cannot be used.
    InvalidInput(&'static str),
    Unavailable,
}

impl From<StoreError> for FactorError {
    fn from(e: StoreError) -> Self {
        tracing::warn!(error = %e, "store failed during a factor change");
        FactorError::Unavailable
    }
}

/// A factor as the person sees it: no secret, no full phone number.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct FactorView {
    pub id: String,
    /// `totp`, `email` or `sms`.
    pub method: &'static str,
    pub name: String,
    /// Where codes go, masked (`a•••@example.com`, `•••• 1234`).
    pub target: Option<String>,
    pub confirmed: bool,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// A new authenticator waiting for its first code.
pub struct PendingTotp {
    pub factor_id: String,
    /// Base32 text for typing into the app by hand.
    pub secret_text: String,
    /// `otpauth://` URI, shown as a QR code.
    pub uri: String,
}

#[derive(Clone)]
pub struct Factors {
    pub store: Arc<dyn Store>,
    pub flows: Flows,
    pub remember: RememberMe,
    pub audit: Audit,
}

/// `alice@example.com` → `a•••@example.com`.
pub fn mask_email(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}•••@{domain}")
        }
        None => "•••".into(),
    }
}

/// `+81 90 1234 5678` → `•••• 5678`.
pub fn mask_phone(phone: &str) -> String {
    let digits: Vec<char> = phone.chars().filter(|c| c.is_ascii_digit()).collect();
    let tail: String = digits[digits.len().saturating_sub(4)..].iter().collect();
    format!("•••• {tail}")
}

/// A phone number in a form any SMS provider takes: `+` and 8–15 digits (E.164); spaces,
/// hyphens and parentheses typed by people are dropped.
pub fn parse_phone(input: &str) -> Option<String> {
    let trimmed = input.trim();
    let rest = trimmed.strip_prefix('+')?;
    let digits: String = rest
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '(' | ')'))
        .collect();
    (digits.len() >= 8 && digits.len() <= 15 && digits.chars().all(|c| c.is_ascii_digit()))
        .then(|| format!("+{digits}"))
}

fn clean_name(name: &str, fallback: &str) -> Result<String, FactorError> {
    let name = name.trim();
    if name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(FactorError::InvalidInput("factor_name_invalid"));
    }
    Ok(if name.is_empty() {
        fallback.to_string()
    } else {
        name.to_string()
    })
}

impl Factors {
    fn now(&self) -> Timestamp {
        self.flows.now()
    }

    pub async fn list(&self, user_id: &str) -> Result<Vec<FactorView>, StoreError> {
        Ok(self
            .store
            .factors_of_user(user_id)
            .await?
            .into_iter()
            .map(|f| FactorView {
                method: f.method.code(),
                target: f.target.as_deref().map(|t| match f.method {
                    Method::Sms => mask_phone(t),
                    _ => mask_email(t),
                }),
                confirmed: f.confirmed_at.is_some(),
                created_at: f.created_at.0,
                last_used_at: f.last_used_at.map(|t| t.0),
                name: f.name,
                id: f.id,
            })
            .collect())
    }

    /// Whether the account has any confirmed second factor.
    pub async fn has_any(&self, user_id: &str) -> Result<bool, StoreError> {
        Ok(self
            .store
            .factors_of_user(user_id)
            .await?
            .iter()
            .any(|f| f.confirmed_at.is_some()))
    }

    /// Start adding an authenticator app: a new secret (160 bits, SEC-47), stored encrypted and
    /// unconfirmed until a first valid code arrives.
    pub async fn begin_totp(
        &self,
        user_id: &str,
        email: &str,
        name: &str,
    ) -> Result<PendingTotp, FactorError> {
        let name = clean_name(name, "Authenticator")?;
        let secret = totp::TotpSecret::generate();
        let id = public_id("fac");
        let record = FactorRecord {
            id: id.clone(),
            user_id: user_id.to_string(),
            method: Method::Totp,
            name,
            secret_sealed: Some(self.flows.seal_secret(&id, &secret)),
            target: None,
            last_step: None,
            confirmed_at: None,
            created_at: self.now(),
            last_used_at: None,
        };
        self.store.insert_factor(&record).await?;
        let cfg = &self.flows.config;
        Ok(PendingTotp {
            factor_id: id,
            secret_text: secret.base32(),
            uri: totp::otpauth_uri(&secret, &cfg.totp_issuer, email, &cfg.totp),
        })
    }

    /// The pending authenticator's secret again (the enrolment page after a reload).
    pub async fn pending_totp(
        &self,
        user_id: &str,
        email: &str,
        factor_id: &str,
    ) -> Result<PendingTotp, FactorError> {
        let f = self.own_factor(user_id, factor_id).await?;
        if f.confirmed_at.is_some() || f.method != Method::Totp {
            return Err(FactorError::NotFound);
        }
        let secret = self.flows.open_secret(&f).ok_or(FactorError::NotFound)?;
        let cfg = &self.flows.config;
        Ok(PendingTotp {
            factor_id: f.id,
            secret_text: secret.base32(),
            uri: totp::otpauth_uri(&secret, &cfg.totp_issuer, email, &cfg.totp),
        })
    }

    async fn own_factor(&self, user_id: &str, id: &str) -> Result<FactorRecord, FactorError> {
        match self.store.factor_by_id(id).await? {
            Some(f) if f.user_id == user_id => Ok(f),
            _ => Err(FactorError::NotFound),
        }
    }

    /// Confirm an authenticator with a current code. The code's step is recorded, so the same
    /// code cannot then serve as a sign-in's second factor (SEC-49).
    pub async fn confirm_totp(
        &self,
        user_id: &str,
        factor_id: &str,
        code: &str,
        current: &CurrentDevice,
        client: &ClientInfo,
    ) -> Result<(), FactorError> {
        let f = self.own_factor(user_id, factor_id).await?;
        if f.confirmed_at.is_some() || f.method != Method::Totp {
            return Err(FactorError::NotFound);
        }
        let secret = self.flows.open_secret(&f).ok_or(FactorError::NotFound)?;
        let now = self.now();
        let totp::TotpVerdict::Accepted { step } =
            totp::verify(&secret, code, now, None, &self.flows.config.totp)
        else {
            return Err(FactorError::WrongCode);
        };
        let first = !self.has_any(user_id).await?;
        if !self.store.confirm_factor(&f.id, Some(step), now).await? {
            return Err(FactorError::NotFound);
        }
        self.changed(user_id, first, current, client, "totp")
            .await?;
        Ok(())
    }

    /// Confirm an email or SMS factor whose enrolment flow proved the address or number.
    pub async fn confirm_by_flow(
        &self,
        user_id: &str,
        factor_id: &str,
        current: &CurrentDevice,
        client: &ClientInfo,
    ) -> Result<(), FactorError> {
        let f = self.own_factor(user_id, factor_id).await?;
        let first = !self.has_any(user_id).await?;
        if !self.store.confirm_factor(&f.id, None, self.now()).await? {
            return Err(FactorError::NotFound);
        }
        self.changed(user_id, first, current, client, f.method.code())
            .await?;
        Ok(())
    }

    /// Add an unconfirmed email or SMS factor; the caller starts its enrolment flow.
    pub async fn add_code_factor(
        &self,
        user_id: &str,
        method: Method,
        target: &str,
        name: &str,
    ) -> Result<FactorRecord, FactorError> {
        let (fallback, target) = match method {
            Method::Sms => (
                "SMS",
                parse_phone(target).ok_or(FactorError::InvalidInput("phone_invalid"))?,
            ),
            Method::Email => ("Email", target.to_string()),
            _ => return Err(FactorError::InvalidInput("method_unavailable")),
        };
        let record = FactorRecord {
            id: public_id("fac"),
            user_id: user_id.to_string(),
            method,
            name: clean_name(name, fallback)?,
            secret_sealed: None,
            target: Some(target),
            last_step: None,
            confirmed_at: None,
            created_at: self.now(),
            last_used_at: None,
        };
        self.store.insert_factor(&record).await?;
        Ok(record)
    }

    /// Remove a factor. The caller has checked the step-up the last factor needs (issue #4
    /// item 7). Removing the last one also deletes the recovery codes, which protect nothing
    /// without a second factor.
    pub async fn remove(
        &self,
        user_id: &str,
        factor_id: &str,
        current: &CurrentDevice,
        client: &ClientInfo,
    ) -> Result<(), FactorError> {
        let f = self.own_factor(user_id, factor_id).await?;
        if !self.store.delete_factor(user_id, &f.id).await? {
            return Err(FactorError::NotFound);
        }
        if f.confirmed_at.is_some() {
            if !self.has_any(user_id).await? {
                self.store
                    .replace_recovery_codes(user_id, &[], self.now())
                    .await?;
            }
            self.remember
                .apply(SecurityEvent::SecondFactorChanged, user_id, current)
                .await?;
            self.audit
                .record(
                    EventKind::FactorRemoved,
                    self.now(),
                    Some(user_id),
                    None,
                    Some(client),
                    f.method.code(),
                )
                .await;
        }
        Ok(())
    }

    /// Whether removing this factor would leave the account without any.
    pub async fn is_last(&self, user_id: &str, factor_id: &str) -> Result<bool, StoreError> {
        let confirmed: Vec<_> = self
            .store
            .factors_of_user(user_id)
            .await?
            .into_iter()
            .filter(|f| f.confirmed_at.is_some())
            .collect();
        Ok(confirmed.len() == 1 && confirmed[0].id == factor_id)
    }

    /// A factor was confirmed: the first one brings recovery codes (returned, shown once) and,
    /// like every second-factor change, ends remembered devices (R7).
    async fn changed(
        &self,
        user_id: &str,
        first: bool,
        current: &CurrentDevice,
        client: &ClientInfo,
        method: &str,
    ) -> Result<(), StoreError> {
        self.remember
            .apply(SecurityEvent::SecondFactorChanged, user_id, current)
            .await?;
        self.audit
            .record(
                EventKind::FactorEnrolled,
                self.now(),
                Some(user_id),
                None,
                Some(client),
                &format!("{method}{}", if first { " (first)" } else { "" }),
            )
            .await;
        Ok(())
    }

    /// Ten new recovery codes (SEC-50), replacing the old ones. Returned once, in the clear;
    /// only keyed hashes are kept.
    pub async fn regenerate_recovery_codes(
        &self,
        user_id: &str,
        client: &ClientInfo,
    ) -> Result<Vec<String>, StoreError> {
        let codes = recovery::generate_set();
        let hashes: Vec<TokenHash> = codes
            .iter()
            .filter_map(|c| recovery::normalize(c))
            .map(|n| recovery::code_hash(&self.flows.recovery_key, &n))
            .collect();
        self.store
            .replace_recovery_codes(user_id, &hashes, self.now())
            .await?;
        self.audit
            .record(
                EventKind::RecoveryCodesGenerated,
                self.now(),
                Some(user_id),
                None,
                Some(client),
                "",
            )
            .await;
        Ok(codes)
    }

    pub async fn recovery_codes_left(&self, user_id: &str) -> Result<u32, StoreError> {
        self.store.recovery_codes_left(user_id).await
    }

    /// "Trust this device" (S3): a token of its own, hashed at rest, with its own lifetime.
    /// Returns the cookie value and its Max-Age.
    pub async fn trust_device(
        &self,
        user_id: &str,
        client: &ClientInfo,
    ) -> Result<(String, u64), StoreError> {
        let now = self.now();
        let lifetime = self.flows.config.trusted_device_lifetime;
        let token = SecretToken::generate();
        let record = TrustedDeviceRecord {
            token_hash: token.hash(),
            handle: public_id("trd"),
            user_id: user_id.to_string(),
            created_at: now,
            last_used_at: now,
            expires_at: now.plus(lifetime),
            ip: client.ip.clone(),
            user_agent: client.user_agent.clone(),
        };
        self.store.insert_trusted_device(&record).await?;
        self.audit
            .record(
                EventKind::TrustedDeviceAdded,
                now,
                Some(user_id),
                Some(&record.handle),
                Some(client),
                "",
            )
            .await;
        Ok((token.encode(), lifetime.as_secs()))
    }

    /// The trusted-device record a cookie names, if it is this user's and alive.
    pub async fn trusted(
        &self,
        cookie: Option<&str>,
        user_id: &str,
    ) -> Result<Option<TrustedDeviceRecord>, StoreError> {
        let Some(token) = cookie.and_then(SecretToken::parse) else {
            return Ok(None);
        };
        let hash = token.hash();
        let now = self.now();
        match self.store.trusted_device_by_hash(&hash).await? {
            Some(d) if d.user_id == user_id && now < d.expires_at => {
                self.store.touch_trusted_device(&hash, now).await?;
                Ok(Some(d))
            }
            _ => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_masked() {
        assert_eq!(mask_email("alice@example.com"), "a•••@example.com");
        assert_eq!(mask_phone("+819012345678"), "•••• 5678");
    }

    #[test]
    fn phone_numbers_are_e164() {
        assert_eq!(
            parse_phone(" +81 90-1234-5678 ").as_deref(),
            Some("+819012345678")
        );
        assert_eq!(
            parse_phone("+1 (555) 010-9999").as_deref(),
            Some("+15550109999")
        );
        for bad in [
            "09012345678",
            "+12",
            "+81 90 abcd 5678",
            "+1234567890123456",
            "",
        ] {
            assert_eq!(parse_phone(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn names_are_bounded_and_printable() {
        assert_eq!(clean_name("  Phone ", "x").unwrap(), "Phone");
        assert_eq!(clean_name("", "Authenticator").unwrap(), "Authenticator");
        assert!(clean_name("a\nb", "x").is_err());
        assert!(clean_name(&"あ".repeat(65), "x").is_err());
    }
}
