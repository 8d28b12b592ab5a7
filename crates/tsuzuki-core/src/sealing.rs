//! Encrypting small secrets at rest, such as TOTP secrets (SEC-47 "secret encrypted at rest").
//!
//! XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha): its 192-bit nonce is safe to draw at random for
//! every message under one key, so no nonce counter has to be kept in the database. The sealed
//! form is `nonce (24 bytes) ‖ ciphertext ‖ tag (16 bytes)`.
//!
//! `associated` data is authenticated but not stored: pass what identifies the row (for example
//! the factor id), so that a sealed value copied into another row — say, an attacker's own
//! factor — fails to open. A wrong key, wrong associated data or any changed byte gives `None`,
//! never garbage.

use crate::token::random_bytes;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

/// Bytes of the random nonce at the front of a sealed value.
pub const NONCE_BYTES: usize = 24;
/// Bytes of the Poly1305 tag at the end of a sealed value.
pub const TAG_BYTES: usize = 16;

/// Encrypt and authenticate `plaintext`, bound to `associated`. Two seals of the same plaintext
/// differ (fresh nonce from the OS CSPRNG each time).
pub fn seal(key: &[u8; 32], plaintext: &[u8], associated: &[u8]) -> Vec<u8> {
    let cipher = XChaCha20Poly1305::new(key.into());
    let nonce: [u8; NONCE_BYTES] = random_bytes();
    let ciphertext = cipher
        .encrypt(
            &XNonce::from(nonce),
            Payload {
                msg: plaintext,
                aad: associated,
            },
        )
        // Encryption fails only for messages near 256 GiB, which no secret here approaches.
        .expect("XChaCha20-Poly1305 encrypts any message of sane length");
    let mut sealed = Vec::with_capacity(NONCE_BYTES + ciphertext.len());
    sealed.extend_from_slice(&nonce);
    sealed.extend_from_slice(&ciphertext);
    sealed
}

/// The plaintext of a value made by [`seal`] with the same key and associated data, or `None`.
pub fn open(key: &[u8; 32], sealed: &[u8], associated: &[u8]) -> Option<Vec<u8>> {
    if sealed.len() < NONCE_BYTES + TAG_BYTES {
        return None;
    }
    let (nonce, ciphertext) = sealed.split_at(NONCE_BYTES);
    let nonce = XNonce::try_from(nonce).ok()?;
    XChaCha20Poly1305::new(key.into())
        .decrypt(
            &nonce,
            Payload {
                msg: ciphertext,
                aad: associated,
            },
        )
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const KEY: [u8; 32] = [0x42; 32];

    fn hex(s: &str) -> Vec<u8> {
        data_encoding::HEXLOWER
            .decode(s.replace([' ', '\n'], "").as_bytes())
            .unwrap()
    }

    #[test]
    fn opens_the_draft_xchacha_test_vector() {
        // draft-irtf-cfrg-xchacha-03 Appendix A.3.1 (AEAD_XChaCha20_Poly1305): our layout is
        // IV ‖ ciphertext ‖ tag, so the vector laid out that way must open.
        let key: [u8; 32] = hex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f")
            .try_into()
            .unwrap();
        let aad = hex("50515253c0c1c2c3c4c5c6c7");
        let iv = hex("404142434445464748494a4b4c4d4e4f5051525354555657");
        let ciphertext = hex(
            "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb
                              731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452
                              2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9
                              21f9664c97637da9768812f615c68b13b52e",
        );
        let tag = hex("c0875924c1c7987947deafd8780acf49");
        let sealed = [iv, ciphertext, tag].concat();
        let plaintext = b"Ladies and Gentlemen of the class of '99: If I could offer you only \
                          one tip for the future, sunscreen would be it.";
        assert_eq!(open(&key, &sealed, &aad).as_deref(), Some(&plaintext[..]));
    }

    #[test]
    fn round_trip() {
        let sealed = seal(&KEY, b"totp secret bytes", b"fac_1");
        assert_eq!(sealed.len(), NONCE_BYTES + 17 + TAG_BYTES);
        assert_eq!(
            open(&KEY, &sealed, b"fac_1").as_deref(),
            Some(&b"totp secret bytes"[..])
        );
        assert_eq!(
            open(&KEY, &seal(&KEY, b"", b""), b"").as_deref(),
            Some(&[][..])
        );
    }

    #[test]
    fn wrong_key_gives_nothing() {
        let sealed = seal(&KEY, b"secret", b"fac_1");
        assert_eq!(open(&[0x43; 32], &sealed, b"fac_1"), None);
    }

    #[test]
    fn sealed_value_cannot_move_to_another_row() {
        // SEC-47: the associated data binds the ciphertext to its row.
        let sealed = seal(&KEY, b"secret", b"fac_1");
        assert_eq!(open(&KEY, &sealed, b"fac_2"), None);
        assert_eq!(open(&KEY, &sealed, b""), None);
    }

    #[test]
    fn any_changed_byte_gives_nothing() {
        let sealed = seal(&KEY, b"secret", b"fac_1");
        for i in 0..sealed.len() {
            let mut t = sealed.clone();
            t[i] ^= 0x01;
            assert_eq!(open(&KEY, &t, b"fac_1"), None, "byte {i}");
        }
        assert_eq!(open(&KEY, &sealed[..sealed.len() - 1], b"fac_1"), None);
        assert_eq!(
            open(&KEY, &sealed[..NONCE_BYTES + TAG_BYTES - 1], b"fac_1"),
            None
        );
        assert_eq!(open(&KEY, &[], b"fac_1"), None);
    }

    #[test]
    fn two_seals_of_the_same_plaintext_differ() {
        let a = seal(&KEY, b"secret", b"fac_1");
        let b = seal(&KEY, b"secret", b"fac_1");
        assert_ne!(a, b);
        assert_ne!(a[..NONCE_BYTES], b[..NONCE_BYTES]);
    }

    proptest! {
        #[test]
        fn seal_then_open_is_identity(
            msg in proptest::collection::vec(any::<u8>(), 0..256),
            aad in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            let sealed = seal(&KEY, &msg, &aad);
            prop_assert_eq!(open(&KEY, &sealed, &aad), Some(msg));
        }

        #[test]
        fn open_never_panics(junk in proptest::collection::vec(any::<u8>(), 0..128)) {
            prop_assert_eq!(open(&KEY, &junk, b""), None);
        }
    }
}
