//! The cache of valid answers, keyed by a hash of the session-relevant cookies.
//!
//! Only answers that tsuzuki gave as a plain 200 (no cookies set) are stored: a restore from a
//! remember-me cookie sets cookies that must reach the browser exactly once, and a rejection is
//! cheap for tsuzuki and must not outlive a fresh sign-in. Entries live `ttl` from insertion
//! (moka's time-to-live, not time-to-idle: a busy session is still re-checked every `ttl`),
//! which is what makes `ttl` the revocation bound.

use crate::identity::Identity;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;

/// The key: SHA-256 of the cookie values, never the values themselves, so a heap dump or a
/// debug print of the cache holds no usable credential.
pub(crate) type Key = [u8; 32];

pub(crate) struct IdentityCache {
    entries: moka::sync::Cache<Key, Arc<Identity>>,
}

impl IdentityCache {
    pub fn new(ttl: Duration, capacity: u64) -> Self {
        IdentityCache {
            entries: moka::sync::Cache::builder()
                .max_capacity(capacity)
                .time_to_live(ttl)
                .build(),
        }
    }

    pub fn get(&self, key: &Key) -> Option<Arc<Identity>> {
        self.entries.get(key)
    }

    pub fn insert(&self, key: Key, identity: Arc<Identity>) {
        self.entries.insert(key, identity);
    }
}

/// The cache key of a request: its session cookie, its remember-me cookie (if any) and whether
/// it is background activity. Background requests are keyed apart so that a polling script
/// cannot fill the cache and keep a person's own clicks from reaching tsuzuki (which slides the
/// idle window only for user activity).
pub(crate) fn key(session: &str, remember: Option<&str>, background: bool) -> Key {
    let mut h = Sha256::new();
    // A domain tag and length prefixes: no two different inputs hash the same bytes.
    h.update(b"tsuzuki-axum cache key v1\0");
    h.update([u8::from(background)]);
    h.update((session.len() as u64).to_be_bytes());
    h.update(session.as_bytes());
    match remember {
        Some(r) => {
            h.update([1]);
            h.update((r.len() as u64).to_be_bytes());
            h.update(r.as_bytes());
        }
        None => h.update([0]),
    }
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_is_stable_and_separates_every_input() {
        let k = key("abc", None, false);
        assert_eq!(k, key("abc", None, false));
        let others = [
            key("abd", None, false),
            key("abc", Some(""), false),
            key("abc", Some("r"), false),
            key("abc", None, true),
            // Moving bytes between the two cookies changes the key.
            key("ab", Some("c"), false),
        ];
        for o in others {
            assert_ne!(k, o);
        }
    }

    #[test]
    fn entries_expire_after_the_ttl() {
        let cache = IdentityCache::new(Duration::from_millis(50), 10);
        let k = key("abc", None, false);
        cache.insert(k, Arc::new(crate::identity::tests::sample()));
        assert!(cache.get(&k).is_some());
        // moka's clock is the real one; 50 ms TTL, bounded wait.
        std::thread::sleep(Duration::from_millis(80));
        assert!(cache.get(&k).is_none());
    }
}
