//! What a session is and when it is valid (S1, S2).
//!
//! A session has three times: when it began, when its person was last active, and the absolute
//! expiry fixed when it began. Validity is decided here from those times, the policy in force and
//! `now`; nothing else (not the cookie's Max-Age, not the client's clock) can extend it
//! (SEC-8, SEC-9, SEC-13, SEC-79).

use crate::clock::Timestamp;
use std::time::Duration;

/// The operator's lifetime settings. Applied at every check, so tightening them takes effect on
/// sessions that already exist (an operator who shortens the idle timeout after an incident must
/// not wait for old sessions to drain).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    /// Inactivity after which the session ends (default 30 min, ASVS 4.0.3 V3.3.2 L2).
    pub idle_timeout: Duration,
    /// Lifetime after which the session ends whatever the activity (default 12 h).
    pub absolute_lifetime: Duration,
    /// Minimum time between two writes of `last_active_at` for one session: extension is
    /// coalesced so that a busy session costs one write per interval, not one per request (S2).
    pub touch_interval: Duration,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        SessionPolicy {
            idle_timeout: Duration::from_secs(30 * 60),
            absolute_lifetime: Duration::from_secs(12 * 3600),
            touch_interval: Duration::from_secs(60),
        }
    }
}

/// The times that decide a session's validity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionTimes {
    pub created_at: Timestamp,
    /// The last request that counted as the person's activity.
    pub last_active_at: Timestamp,
    /// Absolute expiry as fixed at creation.
    pub expires_at: Timestamp,
}

impl SessionTimes {
    /// Times for a session that begins at `now`.
    pub fn begin(policy: &SessionPolicy, now: Timestamp) -> Self {
        SessionTimes {
            created_at: now,
            last_active_at: now,
            expires_at: now.plus(policy.absolute_lifetime),
        }
    }
}

/// Why a session is no longer valid; sent to clients as a machine-readable reason (SEC-14).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpiryCause {
    Idle,
    Absolute,
}

impl ExpiryCause {
    pub fn code(self) -> &'static str {
        match self {
            ExpiryCause::Idle => "idle_timeout",
            ExpiryCause::Absolute => "absolute_timeout",
        }
    }
}

/// A valid session's deadlines, as the session endpoint reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadlines {
    /// When the session ends if nothing more happens (never after `expires_at`).
    pub idle_expires_at: Timestamp,
    /// When the session ends whatever happens.
    pub expires_at: Timestamp,
}

/// Is the session valid at `now`? `Ok` carries its deadlines, `Err` the cause of its end.
pub fn check(
    policy: &SessionPolicy,
    times: &SessionTimes,
    now: Timestamp,
) -> Result<Deadlines, ExpiryCause> {
    let expires_at = times
        .expires_at
        .min(times.created_at.plus(policy.absolute_lifetime));
    let idle_end = times.last_active_at.plus(policy.idle_timeout);
    if idle_end <= expires_at && now >= idle_end {
        return Err(ExpiryCause::Idle);
    }
    if now >= expires_at {
        return Err(ExpiryCause::Absolute);
    }
    Ok(Deadlines {
        idle_expires_at: idle_end.min(expires_at),
        expires_at,
    })
}

/// Whether a request is the person's own activity or code polling in the background. Only the
/// former slides the idle window (SEC-11).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activity {
    User,
    Background,
}

/// The new `last_active_at` after a request at `now` of the given kind.
pub fn after_request(times: &SessionTimes, activity: Activity, now: Timestamp) -> Timestamp {
    match activity {
        Activity::User => times.last_active_at.max(now),
        Activity::Background => times.last_active_at,
    }
}

/// Whether `last_active_at` has moved far enough past what is stored to be worth a write.
pub fn touch_due(policy: &SessionPolicy, stored: Timestamp, current: Timestamp) -> bool {
    current.0.saturating_sub(stored.0)
        >= i64::try_from(policy.touch_interval.as_secs()).unwrap_or(i64::MAX)
}

/// How a person proved who they are, reported to relying parties (SEC-70).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthMethod {
    Password,
    /// Restored from a remember-me token: no authentication happened in this session (SEC-30).
    Remember,
    /// A code from an authenticator app (S9).
    Totp,
    /// A code sent by email (S8).
    EmailCode,
    /// A code sent by SMS (S8).
    SmsCode,
    /// A single-use recovery code (S9).
    RecoveryCode,
    /// The second factor was skipped because the browser holds a trusted-device token (S3). Not
    /// an authentication: it never satisfies a step-up that asks for a second factor (SEC-31).
    TrustedDevice,
}

impl AuthMethod {
    pub const ALL: [AuthMethod; 7] = [
        AuthMethod::Password,
        AuthMethod::Remember,
        AuthMethod::Totp,
        AuthMethod::EmailCode,
        AuthMethod::SmsCode,
        AuthMethod::RecoveryCode,
        AuthMethod::TrustedDevice,
    ];

    pub fn code(self) -> &'static str {
        match self {
            AuthMethod::Password => "pwd",
            AuthMethod::Remember => "remember",
            AuthMethod::Totp => "totp",
            AuthMethod::EmailCode => "email",
            AuthMethod::SmsCode => "sms",
            AuthMethod::RecoveryCode => "recovery",
            AuthMethod::TrustedDevice => "trusted",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.code() == code)
    }

    /// A second factor actually presented in this sign-in (a trusted device is not one).
    pub fn is_second_factor(self) -> bool {
        matches!(
            self,
            AuthMethod::Totp
                | AuthMethod::EmailCode
                | AuthMethod::SmsCode
                | AuthMethod::RecoveryCode
        )
    }
}

/// Methods as stored: codes joined by commas (`"pwd"`, later `"pwd,otp"`).
pub fn methods_to_string(methods: &[AuthMethod]) -> String {
    methods
        .iter()
        .map(|m| m.code())
        .collect::<Vec<_>>()
        .join(",")
}

pub fn methods_from_str(s: &str) -> Vec<AuthMethod> {
    s.split(',').filter_map(AuthMethod::from_code).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn policy(idle: u64, absolute: u64) -> SessionPolicy {
        SessionPolicy {
            idle_timeout: Duration::from_secs(idle),
            absolute_lifetime: Duration::from_secs(absolute),
            touch_interval: Duration::from_secs(10),
        }
    }

    #[test]
    fn idle_timeout_ends_an_inactive_session() {
        // SEC-8: idle=60 s; t=59 valid, t=60 expired as idle.
        let p = policy(60, 120);
        let t = SessionTimes::begin(&p, Timestamp(0));
        assert!(check(&p, &t, Timestamp(59)).is_ok());
        assert_eq!(check(&p, &t, Timestamp(60)), Err(ExpiryCause::Idle));
    }

    #[test]
    fn absolute_lifetime_wins_over_activity() {
        // SEC-9: activity every 20 s does not carry the session past 120 s.
        let p = policy(60, 120);
        let mut t = SessionTimes::begin(&p, Timestamp(0));
        for now in (20..=100).step_by(20) {
            assert!(check(&p, &t, Timestamp(now)).is_ok());
            t.last_active_at = after_request(&t, Activity::User, Timestamp(now));
        }
        let d = check(&p, &t, Timestamp(119)).unwrap();
        assert_eq!(
            d.idle_expires_at,
            Timestamp(120),
            "idle deadline capped by absolute"
        );
        assert_eq!(check(&p, &t, Timestamp(121)), Err(ExpiryCause::Absolute));
    }

    #[test]
    fn background_requests_do_not_extend() {
        // SEC-11: polling never slides the idle window.
        let p = policy(60, 3600);
        let t = SessionTimes::begin(&p, Timestamp(0));
        assert_eq!(
            after_request(&t, Activity::Background, Timestamp(50)),
            Timestamp(0)
        );
        assert_eq!(
            after_request(&t, Activity::User, Timestamp(50)),
            Timestamp(50)
        );
    }

    #[test]
    fn tightened_policy_applies_to_existing_sessions() {
        let mut t = SessionTimes::begin(&policy(60, 3600), Timestamp(0));
        t.last_active_at = Timestamp(90);
        assert!(check(&policy(60, 3600), &t, Timestamp(100)).is_ok());
        assert_eq!(
            check(&policy(60, 100), &t, Timestamp(100)),
            Err(ExpiryCause::Absolute)
        );
    }

    #[test]
    fn touch_is_coalesced() {
        let p = policy(60, 3600);
        assert!(!touch_due(&p, Timestamp(100), Timestamp(109)));
        assert!(touch_due(&p, Timestamp(100), Timestamp(110)));
    }

    #[test]
    fn methods_round_trip() {
        let s = methods_to_string(&[AuthMethod::Password]);
        assert_eq!(s, "pwd");
        assert_eq!(methods_from_str(&s), vec![AuthMethod::Password]);
        assert!(methods_from_str("bogus").is_empty());
    }

    proptest! {
        /// No sequence of requests keeps a session alive past its absolute expiry, and a valid
        /// session's idle deadline is never after its absolute one.
        #[test]
        fn never_valid_past_absolute(idle in 1u64..500, abs in 1u64..2000, steps in proptest::collection::vec(0i64..300, 0..40)) {
            let p = policy(idle, abs);
            let mut t = SessionTimes::begin(&p, Timestamp(0));
            let mut now = 0i64;
            for s in steps {
                now += s;
                match check(&p, &t, Timestamp(now)) {
                    Ok(d) => {
                        prop_assert!(now < i64::try_from(abs).unwrap());
                        prop_assert!(d.idle_expires_at <= d.expires_at);
                        t.last_active_at = after_request(&t, Activity::User, Timestamp(now));
                    }
                    Err(_) => break,
                }
            }
        }
    }
}

/// Is this session's authentication fresh and strong enough for a sensitive operation (R12,
/// SEC-65, SEC-66)? A session restored from a remember-me token never is, nor one whose second
/// factor a trusted device skipped (SEC-31: trust skips a step at sign-in, it proves nothing);
/// otherwise a password must have been presented within `window` of `now`.
pub fn recent_enough(
    methods: &[AuthMethod],
    remembered: bool,
    auth_time: Timestamp,
    window: Duration,
    now: Timestamp,
) -> bool {
    !remembered
        && methods.contains(&AuthMethod::Password)
        && !methods.contains(&AuthMethod::TrustedDevice)
        && now >= auth_time
        && now < auth_time.plus(window)
}

#[cfg(test)]
mod step_up_tests {
    use super::*;

    #[test]
    fn only_a_recent_real_sign_in_counts() {
        let w = Duration::from_secs(600);
        let pwd = [AuthMethod::Password];
        assert!(recent_enough(
            &pwd,
            false,
            Timestamp(1000),
            w,
            Timestamp(1599)
        ));
        assert!(
            !recent_enough(&pwd, false, Timestamp(1000), w, Timestamp(1600)),
            "window over"
        );
        assert!(
            !recent_enough(&pwd, true, Timestamp(1000), w, Timestamp(1001)),
            "SEC-30: remembered never"
        );
        assert!(!recent_enough(
            &[AuthMethod::Remember],
            false,
            Timestamp(1000),
            w,
            Timestamp(1001)
        ));
        assert!(
            !recent_enough(&pwd, false, Timestamp(2000), w, Timestamp(1000)),
            "auth in the future"
        );
        assert!(
            !recent_enough(
                &[AuthMethod::Password, AuthMethod::TrustedDevice],
                false,
                Timestamp(1000),
                w,
                Timestamp(1001)
            ),
            "SEC-31, SEC-66: a skipped second factor is not a fresh one"
        );
        assert!(recent_enough(
            &[AuthMethod::Password, AuthMethod::Totp],
            false,
            Timestamp(1000),
            w,
            Timestamp(1001)
        ));
    }
}
