//! Recovery (lookup) codes: the printed list that lets a person in when the authenticator is
//! lost (S9, SEC-50).
//!
//! Each code is 120 bits from the OS CSPRNG, above the 112 bits below which ASVS (4.0.3 2.6.2,
//! 5.0 6.5.2) requires a salted slow hash; a keyed fast hash ([`code_hash`]) is therefore enough,
//! and the key makes a leaked table useless on its own. Codes are written in lowercase base32
//! with Crockford's alphabet (no i, l, o, u), grouped by four: `k7m2-9xq4-…`. Reading them back
//! forgives case, spaces, hyphens and the look-alikes i/l → 1 and o → 0.
//!
//! Single use (SEC-50) is the adapter's part: it deletes (or marks) the matching row with a
//! compare-and-set, notifies the person and shows how many remain.

use crate::token::{TokenHash, random_bytes};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Codes in a set.
pub const COUNT: usize = 10;
/// Random bytes per code: 120 bits, over ASVS's 112-bit floor for unsalted lookup secrets.
pub const CODE_BYTES: usize = 15;
/// Alphabet characters per code (120 bits / 5 bits per character).
pub const CODE_CHARS: usize = 24;
/// Characters per group in the written form.
const GROUP: usize = 4;
/// Crockford's base32 alphabet in lowercase: digits, then letters without i, l, o and u, which
/// are read or typed as 1, 1, 0 and v.
const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
/// Longer input cannot be a code (24 characters, 5 hyphens, some spaces).
const MAX_INPUT_LEN: usize = 128;
/// Domain separation from the other HMACs made with the server key.
const LABEL: &[u8] = b"tsuzuki/recovery-code/v1\0";

/// A fresh set of [`COUNT`] codes in their written form, to be shown once and stored only as
/// [`code_hash`]es.
pub fn generate_set() -> Vec<String> {
    (0..COUNT).map(|_| format(&generate_one())).collect()
}

/// One code in compact form: 24 alphabet characters. 15 bytes are exactly 24 groups of 5 bits,
/// so every character is uniform and no bit is wasted or biased.
fn generate_one() -> String {
    encode(random_bytes())
}

fn encode(bytes: [u8; CODE_BYTES]) -> String {
    let mut wide = [0u8; 16];
    wide[1..].copy_from_slice(&bytes);
    let bits = u128::from_be_bytes(wide);
    (0..CODE_CHARS)
        .rev()
        .map(|i| char::from(ALPHABET[((bits >> (5 * i)) & 0x1f) as usize]))
        .collect()
}

/// The written form of a compact code: groups of four joined by hyphens.
pub fn format(normalized: &str) -> String {
    let mut out = String::with_capacity(normalized.len() + normalized.len() / GROUP);
    for (i, c) in normalized.chars().enumerate() {
        if i > 0 && i % GROUP == 0 {
            out.push('-');
        }
        out.push(c);
    }
    out
}

/// The compact form of a typed code, or `None` if it cannot be one.
///
/// Case is ignored, whitespace and hyphens are dropped, `i`/`l` read as `1` and `o` as `0`
/// (Crockford); anything else outside the alphabet (including `u`), or a length other than 24,
/// gives `None`.
pub fn normalize(input: &str) -> Option<String> {
    if input.len() > MAX_INPUT_LEN {
        return None;
    }
    let mut out = String::with_capacity(CODE_CHARS);
    for c in input.chars() {
        let c = c.to_ascii_lowercase();
        let c = match c {
            _ if c.is_whitespace() || c == '-' => continue,
            'i' | 'l' => '1',
            'o' => '0',
            _ if c.is_ascii() && ALPHABET.contains(&(c as u8)) => c,
            _ => return None,
        };
        out.push(c);
    }
    (out.len() == CODE_CHARS).then_some(out)
}

/// HMAC-SHA256(server key, label ‖ compact code): the only form in which a code is stored
/// (SEC-50 "hashed at rest"). Pass the output of [`normalize`], so that every way of typing a
/// code hashes alike; compare with [`TokenHash::ct_eq`].
pub fn code_hash(key: &[u8; 32], normalized: &str) -> TokenHash {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("any key length");
    mac.update(LABEL);
    mac.update(normalized.as_bytes());
    TokenHash(mac.finalize().into_bytes().into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;

    #[test]
    fn a_set_has_ten_distinct_well_formed_codes() {
        // SEC-50: CSPRNG codes; the written form is six groups of four.
        let set = generate_set();
        assert_eq!(set.len(), COUNT);
        assert_eq!(set.iter().collect::<HashSet<_>>().len(), COUNT);
        for code in &set {
            assert_eq!(code.len(), 29, "{code}");
            let groups: Vec<&str> = code.split('-').collect();
            assert_eq!(groups.len(), 6, "{code}");
            for g in groups {
                assert_eq!(g.len(), 4);
                assert!(g.bytes().all(|b| ALPHABET.contains(&b)), "{code}");
            }
        }
    }

    #[test]
    fn alphabet_is_crockford_without_confusables() {
        // Crockford base32: 32 distinct symbols, none of i, l, o, u.
        assert_eq!(ALPHABET.iter().collect::<HashSet<_>>().len(), 32);
        for c in b"ilou" {
            assert!(!ALPHABET.contains(c));
        }
    }

    #[test]
    fn characters_are_uniform() {
        // 120 bits map onto exactly 24 characters, so each of the 32 symbols should appear
        // 1/32 of the time. 200 sets = 48,000 characters, 1,500 expected each (sd about 38).
        let mut counts = [0u32; 32];
        for _ in 0..200 {
            for code in generate_set() {
                for b in normalize(&code).unwrap().bytes() {
                    let i = ALPHABET.iter().position(|&a| a == b).unwrap();
                    counts[i] += 1;
                }
            }
        }
        for (i, &n) in counts.iter().enumerate() {
            assert!(
                (1_250..=1_750).contains(&n),
                "{} seen {n} times",
                ALPHABET[i] as char
            );
        }
    }

    #[test]
    fn normalize_forgives_what_people_type() {
        let compact = "k7m29xq4abcd0123efgh5678";
        let want = Some(compact.to_owned());
        assert_eq!(normalize(compact), want);
        assert_eq!(normalize("k7m2-9xq4-abcd-0123-efgh-5678"), want);
        assert_eq!(normalize(" K7M2 9XQ4 ABCD 0123 EFGH 5678\n"), want);
        // Crockford: o -> 0, i/l -> 1.
        assert_eq!(normalize("k7m2-9xq4-abcd-0!23-efgh-5678"), None);
        assert_eq!(
            normalize("k7m2-9xq4-abcd-oi23-efgh-5678").as_deref(),
            Some("k7m29xq4abcd0123efgh5678")
        );
        assert_eq!(
            normalize("k7m2-9xq4-abcd-0L23-efgh-5678").as_deref(),
            Some("k7m29xq4abcd0123efgh5678")
        );
    }

    #[test]
    fn normalize_refuses_what_cannot_be_a_code() {
        assert_eq!(normalize(""), None);
        assert_eq!(normalize("k7m2-9xq4-abcd-0123-efgh-567"), None); // 23
        assert_eq!(normalize("k7m2-9xq4-abcd-0123-efgh-56789"), None); // 25
        assert_eq!(normalize("k7m2-9xq4-abcd-0123-efgh-567u"), None); // u is not in the alphabet
        assert_eq!(normalize("k7m2-9xq4-abcd-0123-efgh-567é"), None);
        assert_eq!(normalize(&"a".repeat(10_000)), None);
    }

    #[test]
    fn hash_needs_the_key_and_the_exact_code() {
        let k = [3u8; 32];
        let code = normalize(&generate_set()[0]).unwrap();
        let h = code_hash(&k, &code);
        assert!(h.ct_eq(&code_hash(&k, &code)));
        assert!(!h.ct_eq(&code_hash(&[4u8; 32], &code)));
        let mut other = code.clone();
        let last = if other.ends_with('0') { "1" } else { "0" };
        other.replace_range(23..24, last);
        assert!(!h.ct_eq(&code_hash(&k, &other)));
    }

    proptest! {
        #[test]
        fn written_codes_round_trip(bytes in any::<[u8; CODE_BYTES]>()) {
            let compact = encode(bytes);
            let code = format(&compact);
            prop_assert_eq!(code.len(), 29);
            prop_assert_eq!(normalize(&code), Some(compact.clone()));
            prop_assert_eq!(normalize(&code.to_uppercase()), Some(compact.clone()));
            prop_assert_eq!(normalize(&code.replace('-', " ")), Some(compact));
        }

        #[test]
        fn encoding_keeps_all_120_bits(bytes in any::<[u8; CODE_BYTES]>()) {
            // Decoding by hand gives the bytes back: no entropy is lost in the writing.
            let mut bits = 0u128;
            for c in encode(bytes).bytes() {
                let v = ALPHABET.iter().position(|&a| a == c).unwrap();
                bits = (bits << 5) | v as u128;
            }
            prop_assert_eq!(&bits.to_be_bytes()[1..], &bytes[..]);
        }

        #[test]
        fn normalize_output_is_24_alphabet_chars(s in "\\PC{0,60}") {
            if let Some(n) = normalize(&s) {
                prop_assert_eq!(n.len(), CODE_CHARS);
                prop_assert!(n.bytes().all(|b| ALPHABET.contains(&b)));
            }
        }
    }
}
