//! "This wasn't me" links in new-device notices (S10): signed, so nothing is stored per mail,
//! and valid for a week. Using one ends every session, remembered device and trusted device of
//! the account; using it twice does no more harm than once.

use crate::audit::{Audit, ClientInfo};
use crate::remember::{CurrentDevice, RememberMe};
use data_encoding::BASE64URL_NOPAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use tsuzuki_core::clock::Timestamp;
use tsuzuki_core::events::EventKind;
use tsuzuki_core::revocation::{Revokes, Scope, SecurityEvent};
use tsuzuki_store::StoreError;

/// How long a link in a notice works.
pub const LINK_LIFETIME_SECS: i64 = 7 * 86_400;

#[derive(Clone)]
pub struct NotMeLinks {
    key: [u8; 32],
}

impl NotMeLinks {
    pub fn new(key: [u8; 32]) -> Self {
        NotMeLinks { key }
    }

    fn mac(&self, payload: &str) -> Vec<u8> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key).expect("any key length");
        mac.update(b"not-me:");
        mac.update(payload.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    /// The token for the link: `base64url(user_id.issued_at).base64url(mac)`.
    pub fn issue(&self, user_id: &str, now: Timestamp) -> String {
        let payload = format!("{user_id}.{}", now.0);
        format!(
            "{}.{}",
            BASE64URL_NOPAD.encode(payload.as_bytes()),
            BASE64URL_NOPAD.encode(&self.mac(&payload))
        )
    }

    /// The account a token names, if it is genuine and not older than a week.
    pub fn verify(&self, token: &str, now: Timestamp) -> Option<String> {
        if token.len() > 512 {
            return None;
        }
        let (payload, mac) = token.split_once('.')?;
        let payload = String::from_utf8(BASE64URL_NOPAD.decode(payload.as_bytes()).ok()?).ok()?;
        let mac = BASE64URL_NOPAD.decode(mac.as_bytes()).ok()?;
        if !bool::from(self.mac(&payload).ct_eq(&mac)) {
            return None;
        }
        let (user_id, issued) = payload.rsplit_once('.')?;
        let issued: i64 = issued.parse().ok()?;
        (issued <= now.0 && now.0 - issued <= LINK_LIFETIME_SECS).then(|| user_id.to_string())
    }
}

/// What a report ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reported {
    pub sessions: u64,
    pub remembered: u64,
}

/// The revocations of a report: the table's `sign_out_everywhere` row with no device kept — a
/// scope of `others` becomes `all` (there is no "current device" to keep: the person may be
/// reading the mail anywhere), and `none` stays what the operator chose.
pub fn report_revokes(sign_out_everywhere: Revokes) -> Revokes {
    let all = |scope: Scope| match scope {
        Scope::None => Scope::None,
        _ => Scope::All,
    };
    Revokes {
        sessions: all(sign_out_everywhere.sessions),
        remembered: all(sign_out_everywhere.remembered),
        trusted_devices: all(sign_out_everywhere.trusted_devices),
    }
}

/// "This wasn't me" (S10): end every session, remembered device and trusted device of the
/// account and record the report. The caller sends the person on to a password reset.
pub async fn report(
    remember: &RememberMe,
    audit: &Audit,
    user_id: &str,
    client: &ClientInfo,
    now: Timestamp,
) -> Result<Reported, StoreError> {
    let revokes = report_revokes(remember.revocation.get(SecurityEvent::SignOutEverywhere));
    let (sessions, remembered) = remember
        .apply_revokes(revokes, user_id, &CurrentDevice::default())
        .await?;
    audit
        .record(
            EventKind::NotMeReported,
            now,
            Some(user_id),
            None,
            Some(client),
            &format!("sessions={sessions} remembered={remembered}"),
        )
        .await;
    Ok(Reported {
        sessions,
        remembered,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_signed_and_expire() {
        let links = NotMeLinks::new([5; 32]);
        let t = links.issue("usr_abc", Timestamp(1000));
        assert_eq!(
            links.verify(&t, Timestamp(1000)).as_deref(),
            Some("usr_abc")
        );
        assert_eq!(
            links
                .verify(&t, Timestamp(1000 + LINK_LIFETIME_SECS))
                .as_deref(),
            Some("usr_abc")
        );
        assert_eq!(
            links.verify(&t, Timestamp(1001 + LINK_LIFETIME_SECS)),
            None,
            "a week old"
        );
        assert_eq!(
            NotMeLinks::new([6; 32]).verify(&t, Timestamp(1000)),
            None,
            "other key"
        );
        let (payload, mac) = t.split_once('.').unwrap();
        let forged_payload = BASE64URL_NOPAD.encode(b"usr_other.1000");
        assert_eq!(
            links.verify(&format!("{forged_payload}.{mac}"), Timestamp(1000)),
            None
        );
        assert_eq!(links.verify(payload, Timestamp(1000)), None);
        assert_eq!(links.verify("", Timestamp(1000)), None);
    }

    #[test]
    fn a_report_keeps_no_device() {
        let default = report_revokes(SecurityEvent::SignOutEverywhere.default_revokes());
        assert_eq!(
            default,
            Revokes {
                sessions: Scope::All,
                remembered: Scope::All,
                trusted_devices: Scope::All,
            }
        );
        let tuned = report_revokes(Revokes {
            sessions: Scope::Others,
            remembered: Scope::All,
            trusted_devices: Scope::None,
        });
        assert_eq!(tuned.sessions, Scope::All, "no current device to keep");
        assert_eq!(tuned.trusted_devices, Scope::None, "the operator's choice");
    }
}
