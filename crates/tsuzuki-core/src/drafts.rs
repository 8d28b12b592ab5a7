//! Autosaved drafts (S5): which drafts may be kept, how large, how many and how long.

use crate::clock::Timestamp;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DraftPolicy {
    /// Largest draft content, in bytes of its JSON text.
    pub max_bytes: usize,
    /// A draft not saved again for this long is deleted.
    pub retention: Duration,
    /// Drafts one account may keep at once.
    pub max_per_account: u32,
}

impl Default for DraftPolicy {
    fn default() -> Self {
        DraftPolicy {
            max_bytes: 64 * 1024,
            retention: Duration::from_secs(30 * 86_400),
            max_per_account: 50,
        }
    }
}

/// Why a draft is not saved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DraftRefusal {
    /// The form key is empty, too long, or has characters outside `A-Z a-z 0-9 . _ - : /`.
    InvalidKey,
    TooLarge {
        max: usize,
    },
    TooMany {
        max: u32,
    },
}

/// The longest form key.
pub const MAX_KEY: usize = 128;

/// A form key names a form in URLs and logs: short, printable, no spaces or quotes.
pub fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= MAX_KEY
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':' | b'/'))
}

/// May a draft of `size` bytes be saved under `key`, for an account that has `existing` drafts,
/// one of which is `key` itself when `replacing`?
pub fn check_save(
    key: &str,
    size: usize,
    existing: u32,
    replacing: bool,
    policy: &DraftPolicy,
) -> Result<(), DraftRefusal> {
    if !valid_key(key) {
        return Err(DraftRefusal::InvalidKey);
    }
    if size > policy.max_bytes {
        return Err(DraftRefusal::TooLarge {
            max: policy.max_bytes,
        });
    }
    if !replacing && existing >= policy.max_per_account {
        return Err(DraftRefusal::TooMany {
            max: policy.max_per_account,
        });
    }
    Ok(())
}

/// When a draft saved at `now` is deleted unless saved again.
pub fn expires_at(now: Timestamp, policy: &DraftPolicy) -> Timestamp {
    now.plus(policy.retention)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_short_and_plain() {
        for good in [
            "inquiry",
            "orders/42/edit",
            "a.b_c-d:e",
            &"k".repeat(MAX_KEY),
        ] {
            assert!(valid_key(good), "{good}");
        }
        for bad in [
            "",
            "with space",
            "quote\"",
            "日本",
            &"k".repeat(MAX_KEY + 1),
            "a\nb",
        ] {
            assert!(!valid_key(bad), "{bad:?}");
        }
    }

    #[test]
    fn size_and_count_limits() {
        let p = DraftPolicy {
            max_bytes: 10,
            retention: Duration::from_secs(60),
            max_per_account: 2,
        };
        assert_eq!(check_save("k", 10, 0, false, &p), Ok(()));
        assert_eq!(
            check_save("k", 11, 0, false, &p),
            Err(DraftRefusal::TooLarge { max: 10 })
        );
        assert_eq!(
            check_save("k", 1, 2, false, &p),
            Err(DraftRefusal::TooMany { max: 2 })
        );
        assert_eq!(
            check_save("k", 1, 2, true, &p),
            Ok(()),
            "replacing one does not add one"
        );
        assert_eq!(
            check_save("bad key", 1, 0, false, &p),
            Err(DraftRefusal::InvalidKey)
        );
        assert_eq!(expires_at(Timestamp(100), &p), Timestamp(160));
    }
}
