//! Authenticator apps: TOTP secrets, enrolment URIs and code verification (S9, RFC 6238,
//! SEC-47, SEC-48, SEC-49).
//!
//! The HOTP/TOTP arithmetic comes from `totp-rs` (HMAC-SHA1, dynamic truncation); what this
//! module adds is the policy around it: asymmetric drift (`skew_back`, `skew_forward`, where
//! `totp-rs` has one symmetric skew), constant-time comparison with `subtle`, and the replay rule
//! of RFC 6238 §5.2 — a code is accepted once, so the step it matched must be later than the last
//! step accepted for this authenticator. The adapter stores that step with a compare-and-set
//! (SEC-48) and stores the step of the enrolment code too, so the code that confirmed enrolment
//! cannot serve as the next sign-in's second factor (SEC-49).
//!
//! Time is only the server's `now` (SEC-47 "server clock only"); `totp-rs` is built without its
//! `std` feature, whose `*_current` helpers would read the system clock.

use crate::clock::Timestamp;
use crate::otp::ascii_digit;
use crate::token::random_bytes;
use data_encoding::BASE32_NOPAD;
use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, Builder, Totp};
use zeroize::{Zeroize, Zeroizing};

/// Bytes in a new secret: 160 bits, the length RFC 4226 §4 recommends (SEC-47).
pub const SECRET_BYTES: usize = 20;
/// The shortest secret accepted from storage: RFC 4226 §4 requires at least 128 bits.
pub const MIN_SECRET_BYTES: usize = 16;
/// Longer input than this cannot be a code; refusing it early bounds the work per request.
const MAX_INPUT_LEN: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TotpPolicy {
    /// Seconds per time step (RFC 6238 §5.2 recommends 30; ASVS 5.0 6.5.5 allows no more).
    pub step: u64,
    /// Digits per code. Apps widely support only 6 (RFC 4226 §5.3 allows 6 to 8).
    pub digits: usize,
    /// Steps before the current one still accepted, for a slow typist (SEC-47: at most 1).
    pub skew_back: u64,
    /// Steps after the current one accepted, for a phone clock running fast (SEC-47: 0 or 1).
    pub skew_forward: u64,
}

impl Default for TotpPolicy {
    fn default() -> Self {
        TotpPolicy {
            step: 30,
            digits: 6,
            skew_back: 1,
            skew_forward: 1,
        }
    }
}

impl TotpPolicy {
    /// Whether the policy is one SEC-47 allows and `totp-rs` can compute; the configuration
    /// loader calls this, so that [`code_at`] and [`verify`] never meet a bad policy.
    pub fn validate(&self) -> Result<(), &'static str> {
        if !(1..=30).contains(&self.step) {
            return Err("the TOTP step must be between 1 and 30 seconds (SEC-47, ASVS 6.5.5)");
        }
        if !(6..=8).contains(&self.digits) {
            return Err("TOTP codes must have 6 to 8 digits (RFC 4226 §5.3)");
        }
        if self.skew_back > 1 || self.skew_forward > 1 {
            return Err("TOTP drift tolerance is at most 1 step either way (SEC-47)");
        }
        Ok(())
    }
}

/// The shared secret of one authenticator. Wiped from memory when dropped; `Debug` prints no
/// byte of it. It is stored only sealed (`sealing`, SEC-47 "encrypted at rest").
pub struct TotpSecret(Zeroizing<Vec<u8>>);

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret(<redacted>)")
    }
}

impl TotpSecret {
    /// A new 160-bit secret from the OS CSPRNG (SEC-47).
    pub fn generate() -> Self {
        let mut bytes: [u8; SECRET_BYTES] = random_bytes();
        let secret = TotpSecret(Zeroizing::new(bytes.to_vec()));
        bytes.zeroize();
        secret
    }

    /// A secret read back from storage; `None` if shorter than RFC 4226's 128 bits.
    pub fn from_bytes(mut bytes: Vec<u8>) -> Option<Self> {
        if bytes.len() < MIN_SECRET_BYTES {
            bytes.zeroize();
            return None;
        }
        Some(TotpSecret(Zeroizing::new(bytes)))
    }

    /// The raw bytes, for sealing before storage.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// RFC 4648 base32 without padding: what a person types into an app that cannot scan the QR
    /// code, and what the `secret` parameter of the otpauth URI carries (32 characters for 160
    /// bits).
    pub fn base32(&self) -> String {
        BASE32_NOPAD.encode(&self.0)
    }
}

/// The HOTP engine for this secret and policy. Skew is 0 because the window is ours to walk.
///
/// # Panics
/// If the policy fails [`TotpPolicy::validate`] on digits or step (0 seconds, digits outside
/// 6..=8), which the configuration loader prevents.
fn engine(secret: &TotpSecret, policy: &TotpPolicy) -> Totp {
    let digits = u8::try_from(policy.digits).unwrap_or(u8::MAX);
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(digits)
        .with_step_duration(policy.step)
        .with_skew(0)
        .with_secret(secret.as_bytes())
        .build()
        .expect("a TOTP policy that passed validate() and a secret of at least 128 bits")
}

/// The code of step `step_index`, or `None` for a step RFC 6238 cannot name: T is unsigned
/// (§4.2), so there is no step before the epoch, and `step_index * step` must fit in 64 bits.
fn code_of(totp: &Totp, step_index: i64, policy: &TotpPolicy) -> Option<String> {
    let time = u64::try_from(step_index).ok()?.checked_mul(policy.step)?;
    Some(totp.generate(time).to_string())
}

/// The code an authenticator shows during step `step_index` (for tests and enrolment hints).
///
/// # Panics
/// If `step_index` is negative or beyond the 64-bit time range (RFC 6238 §4.2: T is an unsigned
/// count of steps since the epoch), or if the policy fails [`TotpPolicy::validate`].
pub fn code_at(secret: &TotpSecret, step_index: i64, policy: &TotpPolicy) -> String {
    code_of(&engine(secret, policy), step_index, policy)
        .expect("a TOTP step between the epoch and the end of 64-bit time")
}

/// The time step containing `now`: floor(now / step) (RFC 6238 §4.2, T0 = 0).
///
/// # Panics
/// If `policy.step` is 0 or above `i64::MAX`, which [`TotpPolicy::validate`] refuses.
pub fn step_of(now: Timestamp, policy: &TotpPolicy) -> i64 {
    let step = i64::try_from(policy.step).expect("a TOTP step that passed validate()");
    now.0.div_euclid(step)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TotpVerdict {
    /// The code is right; the adapter records `step` as the last accepted step (compare-and-set:
    /// only if still later than the stored one), and only then treats the code as accepted.
    Accepted {
        step: i64,
    },
    /// The code is right but its step was already used: refuse, audit `otp_replay` and notify
    /// the holder (RFC 6238 §5.2, SEC-48).
    Replayed,
    Wrong,
}

/// The verdict on `code` presented at `now` (server time only, SEC-47).
///
/// Codes of the steps `current - skew_back ..= current + skew_forward` are accepted (RFC 6238
/// §5.2 drift). Each candidate is compared in constant time and every step of the window is
/// computed whatever matches, so timing tells nothing about which step (if any) matched. When a
/// code matches several steps (a one-in-a-million coincidence) the latest is taken, which is the
/// one an honest device is showing. A match at or before `last_accepted_step` is `Replayed`: a
/// code is accepted once, and a code older than one already used is refused too (SEC-48).
///
/// Whitespace is ignored ("123 456" as some apps display it); full-width digits count as ASCII;
/// anything that is not then exactly `policy.digits` digits is `Wrong`.
///
/// # Panics
/// If the policy fails [`TotpPolicy::validate`].
pub fn verify(
    secret: &TotpSecret,
    code: &str,
    now: Timestamp,
    last_accepted_step: Option<i64>,
    policy: &TotpPolicy,
) -> TotpVerdict {
    let Some(typed) = normalize(code, policy.digits) else {
        return TotpVerdict::Wrong;
    };
    let totp = engine(secret, policy);
    let current = step_of(now, policy);
    let first = current.saturating_sub(i64::try_from(policy.skew_back).unwrap_or(i64::MAX));
    let last = current.saturating_add(i64::try_from(policy.skew_forward).unwrap_or(i64::MAX));
    let mut matched = None;
    for step in first..=last {
        let Some(expected) = code_of(&totp, step, policy) else {
            continue;
        };
        let expected = Zeroizing::new(expected);
        if bool::from(expected.as_bytes().ct_eq(typed.as_bytes())) {
            matched = Some(step);
        }
    }
    match matched {
        None => TotpVerdict::Wrong,
        Some(step) if last_accepted_step.is_some_and(|used| step <= used) => TotpVerdict::Replayed,
        Some(step) => TotpVerdict::Accepted { step },
    }
}

/// The typed code without whitespace, with full-width digits made ASCII; `None` unless exactly
/// `digits` digits remain.
fn normalize(code: &str, digits: usize) -> Option<Zeroizing<String>> {
    if code.len() > MAX_INPUT_LEN {
        return None;
    }
    let mut out = Zeroizing::new(String::with_capacity(digits));
    for c in code.chars().filter(|c| !c.is_whitespace()) {
        out.push(ascii_digit(c)?);
    }
    (out.len() == digits).then_some(out)
}

/// The `otpauth://` URI an authenticator app scans (Key URI Format as defined by Google
/// Authenticator, which apps follow).
///
/// Issuer and account are percent-encoded (RFC 3986: everything but unreserved characters), so
/// that `&`, `#`, `?`, `/`, `+` and spaces cannot cut the URI apart. Neither may contain a
/// colon — apps split the label at the first one, encoded or not — so a colon becomes a space.
/// Every parameter is written out, including the defaults `algorithm=SHA1`, `digits=6` and
/// `period=30`, because some apps assume nothing; the issuer appears both as the label prefix
/// and as the `issuer` parameter, as the format recommends.
pub fn otpauth_uri(
    secret: &TotpSecret,
    issuer: &str,
    account: &str,
    policy: &TotpPolicy,
) -> String {
    let issuer = percent_encode(&without_colons(issuer));
    let account = percent_encode(&without_colons(account));
    let secret = Zeroizing::new(secret.base32());
    let label = if issuer.is_empty() {
        account
    } else {
        format!("{issuer}:{account}")
    };
    let mut uri = format!("otpauth://totp/{label}?secret={}", secret.as_str());
    if !issuer.is_empty() {
        uri.push_str("&issuer=");
        uri.push_str(&issuer);
    }
    uri.push_str(&format!(
        "&algorithm=SHA1&digits={}&period={}",
        policy.digits, policy.step
    ));
    uri
}

/// `s` with each colon replaced by a space, runs of whitespace collapsed and ends trimmed.
fn without_colons(s: &str) -> String {
    s.replace(':', " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// RFC 3986 §2.1 percent-encoding of every byte outside the unreserved set (§2.3).
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// RFC 6238 Appendix B: the SHA-1 seed is the ASCII string "12345678901234567890".
    fn rfc_secret() -> TotpSecret {
        TotpSecret::from_bytes(b"12345678901234567890".to_vec()).unwrap()
    }

    #[test]
    fn rfc6238_appendix_b_sha1_vectors() {
        // RFC 6238 Appendix B, SHA-1 column: (Unix time, 8-digit TOTP), X = 30, T0 = 0.
        let policy = TotpPolicy {
            digits: 8,
            ..TotpPolicy::default()
        };
        let vectors = [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ];
        let secret = rfc_secret();
        for (time, code) in vectors {
            let step = step_of(Timestamp(time), &policy);
            assert_eq!(code_at(&secret, step, &policy), code, "time {time}");
            assert_eq!(
                verify(&secret, code, Timestamp(time), None, &policy),
                TotpVerdict::Accepted { step },
                "time {time}"
            );
        }
    }

    #[test]
    fn rfc6238_appendix_b_time_steps() {
        // RFC 6238 Appendix B, column T (hex): 59 -> 1, 1111111109 -> 0x23523EC,
        // 1234567890 -> 0x273EF07, 20000000000 -> 0x27BC86AA.
        let p = TotpPolicy::default();
        assert_eq!(step_of(Timestamp(59), &p), 0x1);
        assert_eq!(step_of(Timestamp(1_111_111_109), &p), 0x0235_23EC);
        assert_eq!(step_of(Timestamp(1_234_567_890), &p), 0x0273_EF07);
        assert_eq!(step_of(Timestamp(20_000_000_000), &p), 0x27BC_86AA);
    }

    #[test]
    fn six_digit_codes_are_the_rfc_codes_truncated() {
        // RFC 4226 §5.3: the code is the truncated value mod 10^digits, so a 6-digit code is
        // the last six digits of the 8-digit one in Appendix B.
        let secret = rfc_secret();
        let p = TotpPolicy::default();
        assert_eq!(code_at(&secret, 1, &p), "287082");
        assert_eq!(code_at(&secret, 0x0235_23EC, &p), "081804");
    }

    #[test]
    fn base32_matches_rfc4648() {
        // RFC 4648 base32 of the RFC 6238 seed, the secret every TOTP tutorial shows.
        assert_eq!(rfc_secret().base32(), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    }

    #[test]
    fn generated_secrets_are_160_bits_and_distinct() {
        // SEC-47: >= 160 bits from the CSPRNG; the base32 text is >= 32 characters.
        let a = TotpSecret::generate();
        let b = TotpSecret::generate();
        assert_eq!(a.as_bytes().len(), 20);
        assert_eq!(a.base32().len(), 32);
        assert_ne!(a.as_bytes(), b.as_bytes());
    }

    #[test]
    fn short_secrets_are_refused() {
        // RFC 4226 §4: at least 128 bits.
        assert!(TotpSecret::from_bytes(vec![1; 15]).is_none());
        assert!(TotpSecret::from_bytes(vec![1; 16]).is_some());
    }

    #[test]
    fn debug_hides_the_secret() {
        let s = rfc_secret();
        let shown = format!("{s:?}");
        assert!(!shown.contains("1234") && !shown.contains("GEZD"));
    }

    /// A time in the middle of a step, and the codes around it. The RFC secret at this time has
    /// five distinct codes for the steps -2..=+2 (checked, so that no test passes by a
    /// coincidental equality).
    fn window() -> (TotpSecret, Timestamp, i64, [String; 5]) {
        let secret = rfc_secret();
        let p = TotpPolicy::default();
        let now = Timestamp(1_700_000_015);
        let s = step_of(now, &p);
        let codes = [-2, -1, 0, 1, 2].map(|d| code_at(&secret, s + d, &p));
        for i in 0..5 {
            for j in i + 1..5 {
                assert_ne!(codes[i], codes[j], "precondition: distinct codes");
            }
        }
        (secret, now, s, codes)
    }

    #[test]
    fn drift_of_one_step_is_accepted_two_is_refused() {
        // SEC-47: code(t-30) accepted, code(t-60) refused; code(t+30) per configuration.
        let (secret, now, s, [m2, m1, c, p1, p2]) = window();
        let p = TotpPolicy::default();
        let v = |code: &str| verify(&secret, code, now, None, &p);
        assert_eq!(v(&c), TotpVerdict::Accepted { step: s });
        assert_eq!(v(&m1), TotpVerdict::Accepted { step: s - 1 });
        assert_eq!(v(&p1), TotpVerdict::Accepted { step: s + 1 });
        assert_eq!(v(&m2), TotpVerdict::Wrong);
        assert_eq!(v(&p2), TotpVerdict::Wrong);

        let no_forward = TotpPolicy {
            skew_forward: 0,
            ..p
        };
        assert_eq!(
            verify(&secret, &p1, now, None, &no_forward),
            TotpVerdict::Wrong
        );
        assert_eq!(
            verify(&secret, &c, now, None, &no_forward),
            TotpVerdict::Accepted { step: s }
        );
    }

    #[test]
    fn a_code_is_accepted_once() {
        // RFC 6238 §5.2, SEC-48: the same code again in the same step is a replay.
        let (secret, now, s, [_, _, c, _, _]) = window();
        let p = TotpPolicy::default();
        let TotpVerdict::Accepted { step } = verify(&secret, &c, now, None, &p) else {
            panic!("the current code must be accepted");
        };
        assert_eq!(step, s);
        assert_eq!(
            verify(&secret, &c, now, Some(step), &p),
            TotpVerdict::Replayed
        );
        // Still a replay later, while the code is inside the window.
        assert_eq!(
            verify(&secret, &c, Timestamp(now.0 + 30), Some(step), &p),
            TotpVerdict::Replayed
        );
        // SEC-49: the enrolment code's step is stored too, so it cannot sign in afterwards.
        assert_eq!(verify(&secret, &c, now, Some(s), &p), TotpVerdict::Replayed);
    }

    #[test]
    fn an_earlier_step_after_a_later_one_is_refused() {
        // SEC-48: code of the previous step after a newer one was used -> refused.
        let (secret, now, s, [_, m1, c, p1, _]) = window();
        let p = TotpPolicy::default();
        assert_eq!(
            verify(&secret, &m1, now, Some(s), &p),
            TotpVerdict::Replayed
        );
        assert_eq!(
            verify(&secret, &c, now, Some(s + 1), &p),
            TotpVerdict::Replayed
        );
        // A later step than the last accepted is fine.
        assert_eq!(
            verify(&secret, &p1, now, Some(s), &p),
            TotpVerdict::Accepted { step: s + 1 }
        );
    }

    #[test]
    fn whitespace_is_ignored_and_malformed_input_is_wrong() {
        let (secret, now, s, [_, _, c, _, _]) = window();
        let p = TotpPolicy::default();
        let spaced = format!(" {} {}\n", &c[..3], &c[3..]);
        assert_eq!(
            verify(&secret, &spaced, now, None, &p),
            TotpVerdict::Accepted { step: s }
        );
        let fullwidth: String = c
            .chars()
            .map(|d| char::from_u32(0xff10 + d.to_digit(10).unwrap()).unwrap())
            .collect();
        assert_eq!(
            verify(&secret, &fullwidth, now, None, &p),
            TotpVerdict::Accepted { step: s }
        );
        for bad in [
            "",
            &c[..5],
            &format!("{c}0"),
            &format!("{}-{}", &c[..3], &c[3..]),
            &format!("+{}", &c[1..]),
            "abcdef",
            &" ".repeat(10_000),
        ] {
            assert_eq!(
                verify(&secret, bad, now, None, &p),
                TotpVerdict::Wrong,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn steps_before_the_epoch_never_match() {
        // RFC 6238 §4.2: T is unsigned. At now = 0 the window -1..=1 holds only steps 0 and 1.
        let secret = rfc_secret();
        let p = TotpPolicy::default();
        let c0 = code_at(&secret, 0, &p);
        assert_eq!(
            verify(&secret, &c0, Timestamp(0), None, &p),
            TotpVerdict::Accepted { step: 0 }
        );
        assert_eq!(step_of(Timestamp(-1), &p), -1);
        assert_eq!(
            verify(&secret, &c0, Timestamp(-31), None, &p),
            TotpVerdict::Wrong
        );
    }

    #[test]
    fn validate_enforces_sec47() {
        assert_eq!(TotpPolicy::default().validate(), Ok(()));
        let d = TotpPolicy::default();
        for bad in [
            TotpPolicy { step: 0, ..d },
            TotpPolicy { step: 60, ..d },
            TotpPolicy { digits: 5, ..d },
            TotpPolicy { digits: 9, ..d },
            TotpPolicy { skew_back: 2, ..d },
            TotpPolicy {
                skew_forward: 2,
                ..d
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn uri_parses_back_with_an_independent_parser() {
        // totp-rs's own otpauth parser (url crate + percent-decoding) reads back what we wrote.
        let secret = TotpSecret::generate();
        let p = TotpPolicy::default();
        let uri = otpauth_uri(&secret, "Tsuzuki & Co", "ana+mfa@example.com", &p);
        let parsed = Totp::from_url(&uri).expect("a URI totp-rs accepts");
        assert_eq!(parsed.issuer(), Some("Tsuzuki & Co"));
        assert_eq!(parsed.account_name(), "ana+mfa@example.com");
        assert_eq!(parsed.secret().as_bytes(), secret.as_bytes());
        assert_eq!(parsed.algorithm(), Algorithm::SHA1);
        assert_eq!(parsed.digits(), 6);
        assert_eq!(parsed.step(), 30);
    }

    #[test]
    fn uri_spells_out_every_parameter() {
        let p = TotpPolicy::default();
        let uri = otpauth_uri(&rfc_secret(), "Tsuzuki & Co", "ana+mfa@example.com", &p);
        // RFC 3986: space %20, '&' %26, '+' %2B, '@' %40.
        assert_eq!(
            uri,
            "otpauth://totp/Tsuzuki%20%26%20Co:ana%2Bmfa%40example.com\
             ?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Tsuzuki%20%26%20Co\
             &algorithm=SHA1&digits=6&period=30"
        );
    }

    #[test]
    fn colons_cannot_split_the_label() {
        let uri = otpauth_uri(&rfc_secret(), "Acme: Staff", "a:b", &TotpPolicy::default());
        assert!(uri.starts_with("otpauth://totp/Acme%20Staff:a%20b?"));
        let parsed = Totp::from_url(&uri).unwrap();
        assert_eq!(parsed.issuer(), Some("Acme Staff"));
        assert_eq!(parsed.account_name(), "a b");
    }

    proptest! {
        #[test]
        fn uri_round_trips_any_names(issuer in "[^:]{1,30}", account in "[^:]{1,30}") {
            prop_assume!(!issuer.trim().is_empty() && !account.trim().is_empty());
            let secret = TotpSecret::generate();
            let uri = otpauth_uri(&secret, &issuer, &account, &TotpPolicy::default());
            let parsed = Totp::from_url(&uri).expect("parses");
            let (issuer, account) = (without_colons(&issuer), without_colons(&account));
            prop_assert_eq!(parsed.issuer(), Some(issuer.as_str()));
            prop_assert_eq!(parsed.account_name(), account.as_str());
            prop_assert_eq!(parsed.secret().as_bytes(), secret.as_bytes());
        }

        #[test]
        fn verify_never_panics(code in "\\PC{0,80}", now in 0i64..40_000_000_000) {
            let _ = verify(&rfc_secret(), &code, Timestamp(now), Some(now / 30), &TotpPolicy::default());
        }
    }
}
