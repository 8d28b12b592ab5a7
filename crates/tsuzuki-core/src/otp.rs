//! One-time codes sent by email or SMS (S8, SEC-51): making them, hashing them, judging an
//! attempt, and deciding when another may be sent.
//!
//! A code has only 20 to 33 bits, so a plain hash of it would fall to a brute force in
//! milliseconds after a database leak. It is therefore stored as HMAC-SHA256 under a server key
//! and bound to the flow it was sent for: the stored value is useless without the key, and a code
//! sent for flow F1 never matches in flow F2 (SEC-51). Guessing is bounded by
//! [`CodePolicy::max_attempts`] per code (SEC-46), by the resend cooldowns, and by the daily cap
//! per account (SEC-51 "rate-limited").
//!
//! Everything here is pure: the adapter stores a [`CodeState`] per code, counts what was sent,
//! and records each verdict (incrementing `attempts` on [`CodeVerdict::Wrong`], setting
//! `consumed` on [`CodeVerdict::Accepted`]) with a compare-and-set, so that two parallel
//! submissions of one code cannot both succeed.

use crate::clock::Timestamp;
use crate::token::{TokenHash, random_bytes};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::time::Duration;

/// The longest code [`normalize`] accepts, and the most digits a policy may ask for.
pub const MAX_DIGITS: u32 = 10;
/// The fewest digits a policy may ask for: 6 decimal digits are the 20 bits of SEC-51.
pub const MIN_DIGITS: u32 = 6;
/// The longest lifetime SEC-51 allows (ASVS 5.0 6.5.5: at most 10 minutes).
pub const MAX_LIFETIME: Duration = Duration::from_secs(10 * 60);

/// The daily cap counts the codes of the last 24 hours (a sliding window, not a calendar day,
/// so that no time zone enters the rule).
const DAY: Duration = Duration::from_secs(24 * 3600);

/// How codes are made and how often they may be tried and sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodePolicy {
    /// Digits in a code, `MIN_DIGITS..=MAX_DIGITS` (SEC-51: at least 6).
    pub digits: u32,
    /// How long a code stays valid after it is sent (SEC-51: at most 10 minutes).
    pub lifetime: Duration,
    /// Wrong tries per code before it is dead (SEC-46: e.g. 5, then the flow is dead).
    pub max_attempts: u32,
    /// The wait before the 2nd, 3rd, … code of one flow; after the last entry, the last repeats.
    /// Growing waits stop a script from turning "resend" into unlimited fresh guesses.
    pub resend_cooldowns: Vec<Duration>,
    /// Codes per account in any 24 hours. Each message costs money (SMS) and reputation (mail),
    /// and each code is another 5 guesses, so the total is capped as well as the pace.
    pub daily_cap: u32,
}

impl Default for CodePolicy {
    fn default() -> Self {
        CodePolicy {
            digits: 6,
            lifetime: MAX_LIFETIME,
            max_attempts: 5,
            resend_cooldowns: vec![
                Duration::from_secs(30),
                Duration::from_secs(60),
                Duration::from_secs(120),
            ],
            daily_cap: 10,
        }
    }
}

impl CodePolicy {
    /// Whether the policy meets SEC-51's floor; the configuration loader calls this so that a
    /// bad value is refused at start rather than panicking in [`generate`] later.
    pub fn validate(&self) -> Result<(), &'static str> {
        if !(MIN_DIGITS..=MAX_DIGITS).contains(&self.digits) {
            return Err("digits must be between 6 and 10 (SEC-51)");
        }
        if self.lifetime.is_zero() || self.lifetime > MAX_LIFETIME {
            return Err("lifetime must be more than 0 and at most 10 minutes (SEC-51)");
        }
        if self.max_attempts == 0 {
            return Err("max_attempts must be at least 1");
        }
        if self.daily_cap == 0 {
            return Err("daily_cap must be at least 1");
        }
        Ok(())
    }

    /// The wait required after the last code before the `(sent_in_flow + 1)`th may be sent; zero
    /// for the first code of a flow or when no cooldowns are configured.
    pub fn cooldown_before(&self, sent_in_flow: u32) -> Duration {
        let Some(n) = sent_in_flow.checked_sub(1) else {
            return Duration::ZERO;
        };
        let last = self.resend_cooldowns.len().saturating_sub(1);
        let index = usize::try_from(n).unwrap_or(usize::MAX).min(last);
        self.resend_cooldowns
            .get(index)
            .copied()
            .unwrap_or(Duration::ZERO)
    }
}

/// A uniformly random string of exactly `digits` decimal digits (leading zeros allowed).
///
/// Each digit comes from one CSPRNG byte; bytes 250..=255 are thrown away and redrawn, because
/// 256 is not a multiple of 10 and `byte % 10` would make 0–5 more likely than 6–9.
///
/// # Panics
/// If `digits` is outside `MIN_DIGITS..=MAX_DIGITS`: fewer digits would break SEC-51's 20-bit
/// floor, and [`normalize`] would refuse more. [`CodePolicy::validate`] catches this at start.
pub fn generate(digits: u32) -> String {
    assert!(
        (MIN_DIGITS..=MAX_DIGITS).contains(&digits),
        "one-time codes have 6 to 10 digits, not {digits}"
    );
    let wanted = digits as usize;
    let mut code = String::with_capacity(wanted);
    while code.len() < wanted {
        // 32 bytes almost always suffice for 10 digits (each byte is kept with p = 250/256).
        let pool: [u8; 32] = random_bytes();
        for b in pool {
            if code.len() == wanted {
                break;
            }
            if b < 250 {
                code.push(char::from(b'0' + b % 10));
            }
        }
    }
    code
}

/// The digits of a typed or pasted code, or `None` if it cannot be a code.
///
/// Spaces, other ASCII whitespace and hyphens are dropped (people copy "123 456" or
/// "123-456" from the message). Full-width digits, which a Japanese input method produces, count
/// as the ASCII digits they look like, and the ideographic space is dropped with the others.
/// Anything else, an empty result, or more than [`MAX_DIGITS`] digits gives `None`.
pub fn normalize(input: &str) -> Option<String> {
    let mut out = String::with_capacity(MAX_DIGITS as usize);
    for c in input.chars() {
        if c.is_ascii_whitespace() || c == '-' || c == '\u{3000}' {
            continue;
        }
        let digit = ascii_digit(c)?;
        if out.len() == MAX_DIGITS as usize {
            return None;
        }
        out.push(digit);
    }
    (!out.is_empty()).then_some(out)
}

/// The ASCII digit `c` stands for: itself, or the full-width digit a Japanese input method
/// types (U+FF10..U+FF19, in order). Other scripts' digits are refused, not guessed at.
pub(crate) fn ascii_digit(c: char) -> Option<char> {
    match c {
        '0'..='9' => Some(c),
        '\u{ff10}'..='\u{ff19}' => char::from_digit(u32::from(c) - 0xff10, 10),
        _ => None,
    }
}

/// Domain separation: a code hash can never be confused with another HMAC made under the same
/// key elsewhere (recovery codes, remember-me pads).
const LABEL_VALID: &[u8] = b"tsuzuki/otp-code/v1\0";
/// Input that cannot be a code is hashed under its own label, so it can never equal the hash of
/// any real code, whatever its characters.
const LABEL_INVALID: &[u8] = b"tsuzuki/otp-code/invalid/v1\0";

/// HMAC-SHA256(server key, label ‖ flow id hash ‖ normalised code): the only form in which a
/// code is stored (SEC-51 "stored hashed", "bound to the originating flow").
///
/// The code is [`normalize`]d first, so "123 456" and "123456" hash alike. Input that does not
/// normalise is hashed as its trimmed raw text under a different label: the result is a well-formed
/// hash that simply never matches, so a caller needs no separate path for garbage.
pub fn code_hash(key: &[u8; 32], flow_id_hash: &TokenHash, code: &str) -> TokenHash {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("any key length");
    match normalize(code) {
        Some(digits) => {
            mac.update(LABEL_VALID);
            mac.update(&flow_id_hash.0);
            mac.update(digits.as_bytes());
        }
        None => {
            mac.update(LABEL_INVALID);
            mac.update(&flow_id_hash.0);
            mac.update(code.trim().as_bytes());
        }
    }
    TokenHash(mac.finalize().into_bytes().into())
}

/// Whether `code` is the one stored as `stored` for this flow, compared in constant time.
pub fn code_matches(
    key: &[u8; 32],
    flow_id_hash: &TokenHash,
    code: &str,
    stored: &TokenHash,
) -> bool {
    code_hash(key, flow_id_hash, code).ct_eq(stored)
}

/// What the store keeps about one code, beside its hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeState {
    pub sent_at: Timestamp,
    pub expires_at: Timestamp,
    /// Wrong tries so far.
    pub attempts: u32,
    /// Set once the code was accepted: a code works once (SEC-51 "single-use").
    pub consumed: bool,
}

impl CodeState {
    /// The state of a code sent at `now`.
    pub fn new(now: Timestamp, policy: &CodePolicy) -> Self {
        CodeState {
            sent_at: now,
            expires_at: now.plus(policy.lifetime),
            attempts: 0,
            consumed: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeVerdict {
    Accepted,
    /// A wrong code; after `attempts_left` more wrong tries the code is dead.
    Wrong {
        attempts_left: u32,
    },
    Expired,
    TooManyAttempts,
    /// The code was already accepted once.
    Used,
}

/// The verdict on one attempt at a code whose hash did (`matches`) or did not match.
///
/// The order matters and is fixed: a used code is reported as used even after it expired, and an
/// expired or exhausted code is refused even when the right digits arrive, so that neither the
/// lifetime (SEC-51) nor the attempt limit (SEC-46) can be outlasted by guessing right late.
pub fn judge(state: &CodeState, matches: bool, now: Timestamp, policy: &CodePolicy) -> CodeVerdict {
    if state.consumed {
        CodeVerdict::Used
    } else if now >= state.expires_at {
        CodeVerdict::Expired
    } else if state.attempts >= policy.max_attempts {
        CodeVerdict::TooManyAttempts
    } else if matches {
        CodeVerdict::Accepted
    } else {
        CodeVerdict::Wrong {
            attempts_left: policy
                .max_attempts
                .saturating_sub(state.attempts.saturating_add(1)),
        }
    }
}

/// Why another code may not be sent yet; `retry_after` is in seconds (for `Retry-After` and the
/// page).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResendRefusal {
    Cooldown { retry_after: u64 },
    DailyCap { retry_after: u64 },
}

impl ResendRefusal {
    pub fn retry_after(self) -> u64 {
        match self {
            ResendRefusal::Cooldown { retry_after } | ResendRefusal::DailyCap { retry_after } => {
                retry_after
            }
        }
    }
}

/// When the next code of this flow may be sent, or `None` if nothing holds it back (no code sent
/// yet in the flow). The time may already be past.
pub fn next_send_at(
    sent_in_flow: u32,
    last_sent_at: Option<Timestamp>,
    policy: &CodePolicy,
) -> Option<Timestamp> {
    if sent_in_flow == 0 {
        return None;
    }
    last_sent_at.map(|last| last.plus(policy.cooldown_before(sent_in_flow)))
}

/// Whether a code may be sent now.
///
/// - `sent_in_flow`, `last_sent_at`: codes already sent in this flow and when the last one was.
/// - `sent_today`, `oldest_today`: the account's codes sent in the 24 hours before `now`, across
///   all flows, and the oldest of them.
///
/// When both limits hold, the one that ends later is reported, so that the `retry_after` shown
/// is a time at which sending really works.
pub fn may_send(
    sent_in_flow: u32,
    last_sent_at: Option<Timestamp>,
    sent_today: u32,
    oldest_today: Option<Timestamp>,
    now: Timestamp,
    policy: &CodePolicy,
) -> Result<(), ResendRefusal> {
    let cooldown = next_send_at(sent_in_flow, last_sent_at, policy)
        .filter(|&at| now < at)
        .map(|at| now.seconds_until(at));
    let cap = (sent_today >= policy.daily_cap).then(|| {
        // The cap lifts when the oldest code of the window leaves it. A caller that reports a
        // full window without its oldest entry (or one already outside it) is still refused:
        // the count is the authority, and 0 s would invite a retry loop.
        oldest_today
            .map(|oldest| now.seconds_until(oldest.plus(DAY)))
            .unwrap_or(DAY.as_secs())
            .max(1)
    });
    match (cooldown, cap) {
        (None, None) => Ok(()),
        (Some(c), Some(d)) if c > d => Err(ResendRefusal::Cooldown { retry_after: c }),
        (_, Some(d)) => Err(ResendRefusal::DailyCap { retry_after: d }),
        (Some(c), None) => Err(ResendRefusal::Cooldown { retry_after: c }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const KEY: [u8; 32] = [7; 32];
    const T0: Timestamp = Timestamp(1_700_000_000);

    fn flow(n: u8) -> TokenHash {
        TokenHash([n; 32])
    }

    #[test]
    fn default_policy_meets_sec51() {
        // SEC-51: >= 6 digits, expiry <= 10 min; SEC-46: about 5 tries per code.
        let p = CodePolicy::default();
        assert_eq!(p.validate(), Ok(()));
        assert!(p.digits >= 6);
        assert!(p.lifetime <= Duration::from_secs(600));
        assert_eq!(p.max_attempts, 5);
        assert_eq!(p.daily_cap, 10);
    }

    #[test]
    fn validate_refuses_what_sec51_forbids() {
        let bad = |f: fn(&mut CodePolicy)| {
            let mut p = CodePolicy::default();
            f(&mut p);
            p.validate().is_err()
        };
        assert!(bad(|p| p.digits = 5));
        assert!(bad(|p| p.digits = 11));
        assert!(bad(|p| p.lifetime = Duration::from_secs(601)));
        assert!(bad(|p| p.lifetime = Duration::ZERO));
        assert!(bad(|p| p.max_attempts = 0));
        assert!(bad(|p| p.daily_cap = 0));
    }

    #[test]
    fn generated_digits_are_roughly_uniform() {
        // Rejection sampling: each digit value should appear about 10% of the time. 60,000
        // digits; a biased `% 10` over bytes would give 0–5 about 10.2% and 6–9 about 9.8%,
        // too small to see here, so this guards against gross errors (a constant, a missing
        // digit) while the bias argument is in the code.
        let mut counts = [0u32; 10];
        for _ in 0..10_000 {
            for b in generate(6).bytes() {
                counts[usize::from(b - b'0')] += 1;
            }
        }
        for (digit, &n) in counts.iter().enumerate() {
            assert!((5_400..=6_600).contains(&n), "digit {digit} seen {n} times");
        }
    }

    #[test]
    #[should_panic(expected = "6 to 10 digits")]
    fn too_few_digits_are_refused() {
        let _ = generate(4);
    }

    #[test]
    fn normalize_drops_spaces_and_hyphens_only() {
        assert_eq!(normalize(" 123 456 ").as_deref(), Some("123456"));
        assert_eq!(normalize("123-456").as_deref(), Some("123456"));
        assert_eq!(normalize("012345\n").as_deref(), Some("012345"));
        assert_eq!(normalize("１２３\u{3000}４５６").as_deref(), Some("123456"));
        assert_eq!(normalize("1234567890").as_deref(), Some("1234567890"));
        assert_eq!(normalize(""), None);
        assert_eq!(normalize(" - "), None);
        assert_eq!(normalize("12345678901"), None);
        assert_eq!(normalize("12345a"), None);
        assert_eq!(normalize("+123456"), None);
        assert_eq!(normalize("١٢٣٤٥٦"), None); // Arabic-Indic digits are not ASCII digits
    }

    #[test]
    fn hash_ignores_formatting_but_binds_key_flow_and_code() {
        let h = code_hash(&KEY, &flow(1), "123456");
        assert!(h.ct_eq(&code_hash(&KEY, &flow(1), "123 456")));
        assert!(h.ct_eq(&code_hash(&KEY, &flow(1), "123-456")));
        // SEC-51: a code from flow F1 never matches in flow F2.
        assert!(!h.ct_eq(&code_hash(&KEY, &flow(2), "123456")));
        // Without the key the stored value says nothing.
        assert!(!h.ct_eq(&code_hash(&[8; 32], &flow(1), "123456")));
        assert!(!h.ct_eq(&code_hash(&KEY, &flow(1), "123457")));
        // Leading zeros are significant: "012345" is not "12345".
        assert!(!code_hash(&KEY, &flow(1), "012345").ct_eq(&code_hash(&KEY, &flow(1), "12345")));
    }

    #[test]
    fn invalid_input_never_matches() {
        let stored = code_hash(&KEY, &flow(1), "123456");
        assert!(code_matches(&KEY, &flow(1), "123456", &stored));
        for junk in ["", "12345a", "123456!", "123456789012", "１２３４５６x"] {
            assert!(!code_matches(&KEY, &flow(1), junk, &stored), "{junk:?}");
        }
    }

    fn fresh() -> CodeState {
        CodeState::new(T0, &CodePolicy::default())
    }

    #[test]
    fn new_state_expires_after_lifetime() {
        let s = fresh();
        assert_eq!(s.sent_at, T0);
        assert_eq!(s.expires_at, Timestamp(T0.0 + 600));
        assert_eq!((s.attempts, s.consumed), (0, false));
    }

    #[test]
    fn right_code_in_time_is_accepted_once() {
        // SEC-51 single-use: after acceptance the adapter sets `consumed`; the same code is Used.
        let p = CodePolicy::default();
        let mut s = fresh();
        assert_eq!(judge(&s, true, T0, &p), CodeVerdict::Accepted);
        s.consumed = true;
        assert_eq!(judge(&s, true, T0, &p), CodeVerdict::Used);
        // Used wins over expiry: the person learns the truth about their code.
        assert_eq!(
            judge(&s, true, Timestamp(T0.0 + 10_000), &p),
            CodeVerdict::Used
        );
    }

    #[test]
    fn code_after_ten_minutes_is_expired() {
        // SEC-51 test: code after 10 min -> refused, even when right.
        let p = CodePolicy::default();
        let s = fresh();
        assert_eq!(
            judge(&s, true, Timestamp(T0.0 + 599), &p),
            CodeVerdict::Accepted
        );
        assert_eq!(
            judge(&s, true, Timestamp(T0.0 + 600), &p),
            CodeVerdict::Expired
        );
    }

    #[test]
    fn five_wrong_tries_kill_the_code() {
        // SEC-46: 5 wrong tries, then even the right code is refused.
        let p = CodePolicy::default();
        let mut s = fresh();
        for left in (0..5).rev() {
            assert_eq!(
                judge(&s, false, T0, &p),
                CodeVerdict::Wrong {
                    attempts_left: left
                }
            );
            s.attempts += 1;
        }
        assert_eq!(judge(&s, true, T0, &p), CodeVerdict::TooManyAttempts);
        assert_eq!(judge(&s, false, T0, &p), CodeVerdict::TooManyAttempts);
        // Expiry is reported before exhaustion.
        assert_eq!(
            judge(&s, true, Timestamp(T0.0 + 600), &p),
            CodeVerdict::Expired
        );
    }

    #[test]
    fn cooldowns_grow_then_repeat_the_last() {
        let p = CodePolicy::default();
        let secs = |n| p.cooldown_before(n).as_secs();
        assert_eq!(
            [secs(0), secs(1), secs(2), secs(3), secs(4), secs(99)],
            [0, 30, 60, 120, 120, 120]
        );
        let none = CodePolicy {
            resend_cooldowns: vec![],
            ..CodePolicy::default()
        };
        assert_eq!(none.cooldown_before(5), Duration::ZERO);
    }

    #[test]
    fn first_code_of_a_flow_is_never_held_back() {
        let p = CodePolicy::default();
        assert_eq!(next_send_at(0, None, &p), None);
        assert_eq!(may_send(0, None, 0, None, T0, &p), Ok(()));
    }

    #[test]
    fn resend_waits_for_the_cooldown() {
        let p = CodePolicy::default();
        let at = |secs| Timestamp(T0.0 + secs);
        // One code sent at T0: the second waits 30 s.
        assert_eq!(next_send_at(1, Some(T0), &p), Some(at(30)));
        assert_eq!(
            may_send(1, Some(T0), 1, Some(T0), at(10), &p),
            Err(ResendRefusal::Cooldown { retry_after: 20 })
        );
        assert_eq!(may_send(1, Some(T0), 1, Some(T0), at(30), &p), Ok(()));
        // Two sent, the last at T0+30: the third waits 60 s after it.
        assert_eq!(next_send_at(2, Some(at(30)), &p), Some(at(90)));
        assert_eq!(
            may_send(2, Some(at(30)), 2, Some(T0), at(31), &p),
            Err(ResendRefusal::Cooldown { retry_after: 59 })
        );
        // Four sent: the last cooldown (120 s) repeats.
        assert_eq!(next_send_at(4, Some(at(500)), &p), Some(at(620)));
    }

    #[test]
    fn daily_cap_counts_the_last_24_hours() {
        // SEC-51 "rate-limited": 10 codes per account per 24 h, across flows.
        let p = CodePolicy::default();
        let now = Timestamp(T0.0 + 3600);
        assert_eq!(may_send(0, None, 9, Some(T0), now, &p), Ok(()));
        assert_eq!(
            may_send(0, None, 10, Some(T0), now, &p),
            Err(ResendRefusal::DailyCap {
                retry_after: 23 * 3600
            })
        );
        // A full count without its oldest entry is still refused, never with 0 s.
        assert_eq!(
            may_send(0, None, 10, None, now, &p),
            Err(ResendRefusal::DailyCap {
                retry_after: 24 * 3600
            })
        );
    }

    #[test]
    fn the_longer_wait_is_reported() {
        let p = CodePolicy::default();
        // Cap lifts in 5 s, cooldown in 20 s: the cooldown binds.
        let oldest = Timestamp(T0.0 + 10 - 24 * 3600 + 5);
        assert_eq!(
            may_send(1, Some(T0), 10, Some(oldest), Timestamp(T0.0 + 10), &p),
            Err(ResendRefusal::Cooldown { retry_after: 20 })
        );
        // Cap lifts in 1 h, cooldown in 20 s: the cap binds.
        assert_eq!(
            may_send(1, Some(T0), 10, Some(T0), Timestamp(T0.0 + 10), &p),
            Err(ResendRefusal::DailyCap {
                retry_after: 24 * 3600 - 10
            })
        );
    }

    proptest! {
        #[test]
        fn generate_gives_exactly_n_ascii_digits(digits in MIN_DIGITS..=MAX_DIGITS) {
            let code = generate(digits);
            prop_assert_eq!(code.len(), digits as usize);
            prop_assert!(code.bytes().all(|b| b.is_ascii_digit()));
            prop_assert_eq!(normalize(&code), Some(code.clone()));
        }

        #[test]
        fn normalize_output_is_short_digits(s in "\\PC{0,40}") {
            if let Some(n) = normalize(&s) {
                prop_assert!(!n.is_empty() && n.len() <= 10);
                prop_assert!(n.bytes().all(|b| b.is_ascii_digit()));
            }
        }

        #[test]
        fn wrong_never_promises_more_than_the_limit(attempts in 0u32..10, max in 1u32..10) {
            let p = CodePolicy { max_attempts: max, ..CodePolicy::default() };
            let s = CodeState { attempts, ..fresh() };
            match judge(&s, false, T0, &p) {
                CodeVerdict::Wrong { attempts_left } => {
                    prop_assert!(attempts < max);
                    prop_assert_eq!(attempts_left, max - attempts - 1);
                }
                CodeVerdict::TooManyAttempts => prop_assert!(attempts >= max),
                other => prop_assert!(false, "unexpected {:?}", other),
            }
        }
    }
}
