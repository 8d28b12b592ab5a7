//! Secret tokens: how they are made, written, parsed and stored.
//!
//! A [`SecretToken`] is 256 bits from the OS CSPRNG, shown to the client once as unpadded
//! base64url and stored only as its SHA-256 [`TokenHash`]. Because the token has full entropy, a
//! fast hash is enough: a database leak yields nothing that can be presented as a cookie
//! (ASVS V3.2.2, SEC-1, SEC-7). Parsing is strict and cheap so that malformed cookies are refused
//! before any lookup (SEC-6).

use data_encoding::BASE64URL_NOPAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Number of random bytes in a session token (256 bits, over the 128-bit floor of ASVS 5.0 7.2.3).
pub const TOKEN_BYTES: usize = 32;
/// Length of the base64url form of a token (no padding).
pub const TOKEN_TEXT_LEN: usize = 43;

/// Fill `buf` from the operating system's CSPRNG. Every secret in tsuzuki comes from here.
///
/// # Panics
/// If the OS refuses to provide randomness: no secret can then be made safely, so failing loudly
/// is the only correct answer.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).expect("the OS random number generator failed");
    buf
}

/// A public, non-secret identifier with a readable prefix (`usr_…`, `ses_…`): 128 random bits in
/// lowercase base32. Used where something must be named without revealing a secret.
pub fn public_id(prefix: &str) -> String {
    let bytes: [u8; 16] = random_bytes();
    let mut s = String::with_capacity(prefix.len() + 27);
    s.push_str(prefix);
    s.push('_');
    s.push_str(
        &data_encoding::BASE32_NOPAD
            .encode(&bytes)
            .to_ascii_lowercase(),
    );
    s
}

/// A short reference id for an error, quoted to support; not a secret, not guessable by accident.
pub fn reference_id() -> String {
    let bytes: [u8; 5] = random_bytes();
    data_encoding::BASE32_NOPAD.encode(&bytes)
}

/// A freshly generated secret. Deliberately has no `Debug` output of its value.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretToken([u8; TOKEN_BYTES]);

impl std::fmt::Debug for SecretToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretToken(<redacted>)")
    }
}

impl SecretToken {
    pub fn generate() -> Self {
        SecretToken(random_bytes())
    }

    /// The text sent to the client (and only to the client).
    pub fn encode(&self) -> String {
        BASE64URL_NOPAD.encode(&self.0)
    }

    /// Parse the client's text. Anything that is not exactly 43 base64url characters decoding to
    /// 32 bytes is refused without further work.
    pub fn parse(text: &str) -> Option<Self> {
        if text.len() != TOKEN_TEXT_LEN {
            return None;
        }
        // Decoded into the stack, on the hot path. Non-canonical texts (trailing bits set) are
        // refused by the decoder itself (`BASE64URL_NOPAD` checks trailing bits), so one token
        // has one text form.
        let mut bytes = [0u8; TOKEN_BYTES];
        let n = BASE64URL_NOPAD
            .decode_mut(text.as_bytes(), &mut bytes)
            .ok()?;
        (n == TOKEN_BYTES).then_some(SecretToken(bytes))
    }

    /// The raw bytes (for sealing; never logged, never stored as such).
    pub fn bytes(&self) -> [u8; TOKEN_BYTES] {
        self.0
    }

    pub fn from_bytes(bytes: [u8; TOKEN_BYTES]) -> Self {
        SecretToken(bytes)
    }

    pub fn hash(&self) -> TokenHash {
        TokenHash(Sha256::digest(self.0).into())
    }
}

/// SHA-256 of a token: the only form in which a token is stored or used as a key.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash(pub [u8; 32]);

impl std::fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Even a hash is not written out whole: logs refer to sessions by their public handle.
        f.write_str("TokenHash(..)")
    }
}

impl TokenHash {
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(TokenHash)
    }
    /// Constant-time equality, for comparing a presented secret's hash with a stored one.
    pub fn ct_eq(&self, other: &TokenHash) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;

    #[test]
    fn generated_tokens_are_distinct_and_round_trip() {
        // SEC-1: 1,000 tokens, all distinct, each 256 bits.
        let mut seen = HashSet::new();
        for _ in 0..1000 {
            let t = SecretToken::generate();
            let text = t.encode();
            assert_eq!(text.len(), TOKEN_TEXT_LEN);
            assert_eq!(SecretToken::parse(&text), Some(t.clone()));
            assert!(seen.insert(text));
        }
    }

    #[test]
    fn malformed_text_is_refused() {
        // SEC-6: wrong length, wrong alphabet, padding, non-canonical trailing bits.
        let good = SecretToken::generate().encode();
        assert!(SecretToken::parse("").is_none());
        assert!(SecretToken::parse(&good[..42]).is_none());
        assert!(SecretToken::parse(&format!("{good}=")).is_none());
        assert!(SecretToken::parse(&"+".repeat(43)).is_none());
        assert!(SecretToken::parse(&"A".repeat(8192)).is_none());
        let mut bad_tail = good.clone();
        bad_tail.replace_range(42..43, "B"); // sets a trailing bit that 32 bytes cannot carry
        if bad_tail != good {
            assert!(SecretToken::parse(&bad_tail).is_none());
        }
    }

    #[test]
    fn hash_is_sha256_and_differs_from_token() {
        let t = SecretToken::generate();
        let h = t.hash();
        assert_ne!(&h.0[..], &t.0[..]);
        assert!(h.ct_eq(&t.hash()));
        assert!(!h.ct_eq(&SecretToken::generate().hash()));
    }

    #[test]
    fn debug_output_hides_values() {
        let t = SecretToken::generate();
        assert!(!format!("{t:?}").contains(&t.encode()));
    }

    #[test]
    fn public_ids_have_prefix_and_128_bits() {
        let id = public_id("ses");
        assert!(id.starts_with("ses_"));
        assert_eq!(id.len(), 4 + 26);
        assert_ne!(id, public_id("ses"));
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in ".{0,200}") {
            let _ = SecretToken::parse(&s);
        }

        /// SEC-6: of the 64^43 texts of the right length and alphabet, exactly the canonical
        /// ones parse, and each to the token that encodes back to it.
        #[test]
        fn only_canonical_texts_parse(s in "[A-Za-z0-9_-]{43}") {
            match SecretToken::parse(&s) {
                Some(t) => prop_assert_eq!(t.encode(), s),
                // Refused only for trailing bits: the last character carries 6 bits of which
                // 32 bytes use 4, so it must be one of the 16 characters with the low 2 bits zero.
                None => prop_assert!(!"AEIMQUYcgkosw048".contains(&s[42..])),
            }
        }
    }
}
