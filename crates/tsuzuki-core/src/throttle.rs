//! Growing delays after failed sign-ins, per account and per client address (ASVS V2.2.1,
//! SEC-54, SEC-55).
//!
//! A few failures are free (people mistype); after that each further failure doubles the wait,
//! up to a cap. There is no permanent lockout, so an attacker cannot lock a person out for good,
//! and failures are forgotten after a quiet window.

use crate::clock::Timestamp;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Failures allowed before any delay.
    pub free_attempts: u32,
    /// The first delay; each further failure doubles it.
    pub base_delay: Duration,
    /// The longest delay.
    pub max_delay: Duration,
    /// Failures older than this (counted from the last failure) are forgotten.
    pub window: Duration,
}

impl ThrottlePolicy {
    /// Per account: 5 free, then 1 s doubling to 15 min; at most about 20 tries an hour, well
    /// under the 100 an hour that ASVS 4.0.3 V2.2.1 allows.
    pub fn per_account() -> Self {
        ThrottlePolicy {
            free_attempts: 5,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(15 * 60),
            window: Duration::from_secs(3600),
        }
    }
    /// Second-factor answers per account: as many free tries as one flow allows, then growing
    /// waits, so that starting new flows cannot multiply the guesses (SEC-46: far below the
    /// 100 consecutive failures NIST allows).
    pub fn per_second_factor() -> Self {
        ThrottlePolicy {
            free_attempts: 10,
            base_delay: Duration::from_secs(30),
            max_delay: Duration::from_secs(15 * 60),
            window: Duration::from_secs(3600),
        }
    }
    /// Per client address: more generous (offices and mobile carriers share addresses).
    pub fn per_ip() -> Self {
        ThrottlePolicy {
            free_attempts: 20,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(15 * 60),
            window: Duration::from_secs(3600),
        }
    }

    /// The wait imposed after the `failures`-th consecutive failure.
    pub fn delay_after(&self, failures: u32) -> Duration {
        let Some(over) = failures.checked_sub(self.free_attempts) else {
            return Duration::ZERO;
        };
        if over == 0 {
            return Duration::ZERO;
        }
        let factor = 1u32.checked_shl(over - 1).unwrap_or(u32::MAX);
        self.base_delay
            .checked_mul(factor)
            .unwrap_or(self.max_delay)
            .min(self.max_delay)
    }

    /// The time before which failures still count: a failure at or before it starts a new count.
    pub fn window_start(&self, now: Timestamp) -> Timestamp {
        now.minus(self.window)
    }
}

/// Seconds to wait before trying again, if `blocked_until` is still ahead of `now`.
pub fn retry_after(blocked_until: Timestamp, now: Timestamp) -> Option<u64> {
    (blocked_until > now).then(|| now.seconds_until(blocked_until))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_then_cap() {
        let p = ThrottlePolicy::per_account();
        let secs: Vec<u64> = (1..=20).map(|n| p.delay_after(n).as_secs()).collect();
        assert_eq!(&secs[..5], &[0, 0, 0, 0, 0]);
        assert_eq!(&secs[5..9], &[1, 2, 4, 8]);
        assert_eq!(secs[19], 900);
        assert!(secs.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(p.delay_after(u32::MAX), p.max_delay);
    }

    #[test]
    fn no_more_than_100_tries_an_hour() {
        // ASVS V2.2.1: count how many failures fit in one hour if the attacker waits out each delay.
        let p = ThrottlePolicy::per_account();
        let (mut t, mut n) = (0u64, 0u32);
        while t < 3600 {
            n += 1;
            t += p.delay_after(n).as_secs().max(1);
        }
        assert!(n <= 100, "{n} attempts fit in an hour");
    }

    #[test]
    fn retry_after_counts_down() {
        assert_eq!(retry_after(Timestamp(10), Timestamp(4)), Some(6));
        assert_eq!(retry_after(Timestamp(10), Timestamp(10)), None);
    }
}
