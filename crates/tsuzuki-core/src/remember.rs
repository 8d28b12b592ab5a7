//! "Keep me signed in": split tokens, rotation with a grace window, theft detection (R2–R5, R10).
//!
//! The cookie is `selector:validator`. The selector (128 random bits) finds the row; the
//! validator (256 random bits) is stored only as SHA-256 and compared in constant time (R3, R4,
//! SEC-25). The selector stays for the life of the device's token family; the validator is
//! replaced at every restore (R5, SEC-28).
//!
//! Rotation races: parallel requests presenting the same cookie must all succeed and end with one
//! valid token (SEC-32, SEC-34). The row keeps the hash of the immediately previous validator and
//! the time it was replaced; within `grace` of that, presenting it returns the *same* successor.
//! To return the same successor without storing it in the clear, the successor (and the session
//! token made with it) are stored *sealed*: XORed with HMAC(server key, label ‖ selector ‖
//! previous validator). Only a holder of both the server key and the previous validator can
//! unseal them — exactly the party entitled to them during the grace window — and each pad is
//! used once, since each validator is replaced once. Anything else presented with a known
//! selector is theft (SEC-33): the family is revoked.

use crate::clock::Timestamp;
use crate::token::{SecretToken, TOKEN_BYTES, TokenHash, random_bytes};
use data_encoding::BASE64URL_NOPAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::time::Duration;

/// Random bytes in a selector (128 bits, over the 72 of SEC-25).
pub const SELECTOR_BYTES: usize = 16;
const SELECTOR_TEXT_LEN: usize = 22;

/// Lifetime presets (R10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    Secure,
    Balanced,
    Convenient,
}

impl Preset {
    pub fn lifetime(self) -> Duration {
        let days = match self {
            Preset::Secure => 7,
            Preset::Balanced => 14,
            Preset::Convenient => 30,
        };
        Duration::from_secs(days * 24 * 3600)
    }
    pub fn from_name(name: &str) -> Option<Preset> {
        match name {
            "secure" => Some(Preset::Secure),
            "balanced" => Some(Preset::Balanced),
            "convenient" => Some(Preset::Convenient),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RememberPolicy {
    /// Absolute lifetime of a token family; rotation never extends it (SEC-29).
    pub lifetime: Duration,
    /// A family unused this long is dead (and deleted by cleanup, R9).
    pub idle_lifetime: Duration,
    /// How long the just-replaced validator still yields the same successor (SEC-32).
    pub grace: Duration,
}

impl Default for RememberPolicy {
    fn default() -> Self {
        RememberPolicy {
            lifetime: Preset::Balanced.lifetime(),
            idle_lifetime: Preset::Balanced.lifetime(),
            grace: Duration::from_secs(10),
        }
    }
}

/// A parsed `selector:validator` cookie.
#[derive(Clone, PartialEq, Eq)]
pub struct RememberCookie {
    pub selector: String,
    pub validator: SecretToken,
}

impl std::fmt::Debug for RememberCookie {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RememberCookie(<redacted>)")
    }
}

impl RememberCookie {
    /// A new family: fresh selector and validator from the OS CSPRNG.
    pub fn generate() -> Self {
        let selector: [u8; SELECTOR_BYTES] = random_bytes();
        RememberCookie {
            selector: BASE64URL_NOPAD.encode(&selector),
            validator: SecretToken::generate(),
        }
    }

    /// The same family with a fresh validator.
    pub fn rotated(&self) -> Self {
        RememberCookie {
            selector: self.selector.clone(),
            validator: SecretToken::generate(),
        }
    }

    pub fn encode(&self) -> String {
        format!("{}:{}", self.selector, self.validator.encode())
    }

    /// Strict parse: exactly one colon, a 22-character canonical base64url selector, a valid
    /// validator. Anything else is refused before any lookup (SEC-6).
    pub fn parse(text: &str) -> Option<Self> {
        let (selector, validator) = text.split_once(':')?;
        if selector.len() != SELECTOR_TEXT_LEN {
            return None;
        }
        let bytes = BASE64URL_NOPAD.decode(selector.as_bytes()).ok()?;
        if bytes.len() != SELECTOR_BYTES || BASE64URL_NOPAD.encode(&bytes) != selector {
            return None;
        }
        Some(RememberCookie {
            selector: selector.to_string(),
            validator: SecretToken::parse(validator)?,
        })
    }
}

/// The parts of a stored family that decide what a presented validator means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FamilyState {
    pub validator_hash: TokenHash,
    pub previous_hash: Option<TokenHash>,
    pub rotated_at: Option<Timestamp>,
    pub expires_at: Timestamp,
    pub last_used_at: Timestamp,
}

/// What presenting a validator to a family means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The current validator: restore and rotate.
    Current,
    /// The validator just replaced, within the grace window: answer with the same successor.
    Previous,
    /// The family's lifetime (absolute or idle) is over.
    Expired,
    /// Anything else with this selector: a copy of the cookie is in someone else's hands.
    Theft,
}

pub fn judge(
    policy: &RememberPolicy,
    family: &FamilyState,
    presented: &TokenHash,
    now: Timestamp,
) -> Verdict {
    // Compare against both hashes whatever the outcome, so timing does not say which matched.
    let is_current = family.validator_hash.ct_eq(presented);
    let is_previous = family.previous_hash.is_some_and(|p| p.ct_eq(presented));
    if now >= family.expires_at || now >= family.last_used_at.plus(policy.idle_lifetime) {
        return Verdict::Expired;
    }
    if is_current {
        return Verdict::Current;
    }
    let in_grace = family
        .rotated_at
        .is_some_and(|at| now < at.plus(policy.grace) && now >= at);
    if is_previous && in_grace {
        Verdict::Previous
    } else {
        Verdict::Theft
    }
}

/// Seconds until the family's absolute expiry: the cookie's Max-Age (R10: cookie and server agree).
pub fn max_age(family_expires_at: Timestamp, now: Timestamp) -> u64 {
    now.seconds_until(family_expires_at)
}

/// What the grace window may hand out again, sealed for storage.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Sealed(pub [u8; TOKEN_BYTES]);

impl std::fmt::Debug for Sealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealed(..)")
    }
}

fn pad(key: &[u8; 32], label: &[u8], selector: &str, previous: &SecretToken) -> [u8; TOKEN_BYTES] {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("any key length");
    mac.update(label);
    mac.update(selector.as_bytes());
    mac.update(&previous.hash().0);
    mac.finalize().into_bytes().into()
}

fn xor(a: [u8; TOKEN_BYTES], b: [u8; TOKEN_BYTES]) -> [u8; TOKEN_BYTES] {
    let mut out = [0u8; TOKEN_BYTES];
    for i in 0..TOKEN_BYTES {
        out[i] = a[i] ^ b[i];
    }
    out
}

/// Seal `secret` (a successor validator or session token) so that it can be recovered only with
/// the server key and the validator it replaces. `label` keeps the two pads apart.
pub fn seal(
    key: &[u8; 32],
    label: &[u8],
    selector: &str,
    previous: &SecretToken,
    secret: &SecretToken,
) -> Sealed {
    Sealed(xor(pad(key, label, selector, previous), secret.bytes()))
}

pub fn unseal(
    key: &[u8; 32],
    label: &[u8],
    selector: &str,
    previous: &SecretToken,
    sealed: &Sealed,
) -> SecretToken {
    SecretToken::from_bytes(xor(pad(key, label, selector, previous), sealed.0))
}

pub const SEAL_VALIDATOR: &[u8] = b"tsuzuki/remember/validator";
pub const SEAL_SESSION: &[u8] = b"tsuzuki/remember/session";

#[cfg(test)]
mod tests {
    use super::*;

    fn family(validator: &SecretToken) -> FamilyState {
        FamilyState {
            validator_hash: validator.hash(),
            previous_hash: None,
            rotated_at: None,
            expires_at: Timestamp(10_000),
            last_used_at: Timestamp(0),
        }
    }

    #[test]
    fn cookie_round_trip_and_strict_parsing() {
        // R2: both parts random; the validator has 256 bits.
        let c = RememberCookie::generate();
        let text = c.encode();
        assert_eq!(text.len(), 22 + 1 + 43);
        assert_eq!(RememberCookie::parse(&text), Some(c.clone()));
        let r = c.rotated();
        assert_eq!(r.selector, c.selector);
        assert_ne!(r.validator, c.validator);
        // R14 abnormal: no colon, empty parts, huge, non-base64, extra colon.
        let v = c.validator.encode();
        for bad in [
            String::new(),
            ":".into(),
            c.selector.clone(),
            format!("{}:", c.selector),
            format!(":{v}"),
            format!("{}{v}", c.selector),
            format!("{}:{v}:x", c.selector),
            format!("{}!:{v}", &c.selector[..21]),
            "A".repeat(8192),
        ] {
            assert!(RememberCookie::parse(&bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn verdicts() {
        let p = RememberPolicy {
            lifetime: Duration::from_secs(10_000),
            idle_lifetime: Duration::from_secs(1000),
            grace: Duration::from_secs(10),
        };
        let v1 = SecretToken::generate();
        let v2 = SecretToken::generate();
        let f1 = family(&v1);
        assert_eq!(judge(&p, &f1, &v1.hash(), Timestamp(5)), Verdict::Current);
        assert_eq!(
            judge(&p, &f1, &v2.hash(), Timestamp(5)),
            Verdict::Theft,
            "R5: unknown validator"
        );
        // After rotation at t=100: v1 is "previous" for 10 s, then theft (SEC-32, SEC-33).
        let f2 = FamilyState {
            validator_hash: v2.hash(),
            previous_hash: Some(v1.hash()),
            rotated_at: Some(Timestamp(100)),
            last_used_at: Timestamp(100),
            ..f1
        };
        assert_eq!(judge(&p, &f2, &v2.hash(), Timestamp(101)), Verdict::Current);
        assert_eq!(
            judge(&p, &f2, &v1.hash(), Timestamp(109)),
            Verdict::Previous
        );
        assert_eq!(judge(&p, &f2, &v1.hash(), Timestamp(110)), Verdict::Theft);
        // Two generations back is theft even inside the window.
        let v3 = SecretToken::generate();
        let f3 = FamilyState {
            validator_hash: v3.hash(),
            previous_hash: Some(v2.hash()),
            rotated_at: Some(Timestamp(105)),
            ..f2
        };
        assert_eq!(judge(&p, &f3, &v1.hash(), Timestamp(106)), Verdict::Theft);
        // Expiry: absolute, and idle (unused for idle_lifetime).
        assert_eq!(
            judge(&p, &f1, &v1.hash(), Timestamp(10_000)),
            Verdict::Expired
        );
        assert_eq!(
            judge(&p, &f1, &v1.hash(), Timestamp(1000)),
            Verdict::Expired
        );
    }

    #[test]
    fn sealing_needs_the_key_and_the_previous_validator() {
        let key = [3u8; 32];
        let c = RememberCookie::generate();
        let successor = SecretToken::generate();
        let sealed = seal(&key, SEAL_VALIDATOR, &c.selector, &c.validator, &successor);
        assert_ne!(sealed.0, successor.bytes(), "not stored in the clear");
        assert_eq!(
            unseal(&key, SEAL_VALIDATOR, &c.selector, &c.validator, &sealed),
            successor
        );
        assert_ne!(
            unseal(
                &[4u8; 32],
                SEAL_VALIDATOR,
                &c.selector,
                &c.validator,
                &sealed
            ),
            successor,
            "wrong key"
        );
        assert_ne!(
            unseal(
                &key,
                SEAL_VALIDATOR,
                &c.selector,
                &SecretToken::generate(),
                &sealed
            ),
            successor,
            "wrong validator"
        );
        assert_ne!(
            unseal(&key, SEAL_SESSION, &c.selector, &c.validator, &sealed),
            successor,
            "labels separate pads"
        );
    }

    #[test]
    fn presets() {
        assert_eq!(
            Preset::from_name("secure").unwrap().lifetime().as_secs(),
            7 * 86_400
        );
        assert_eq!(
            Preset::from_name("balanced").unwrap().lifetime().as_secs(),
            14 * 86_400
        );
        assert_eq!(
            Preset::from_name("convenient")
                .unwrap()
                .lifetime()
                .as_secs(),
            30 * 86_400
        );
        assert_eq!(max_age(Timestamp(100), Timestamp(40)), 60);
    }
}
