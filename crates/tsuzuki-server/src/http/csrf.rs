//! Per-form CSRF tokens (synchronizer tokens derived with HMAC, so nothing is stored).
//!
//! Signed-in forms carry HMAC(key, "s:" ‖ session-id-hash): bound to that session, useless in
//! another (SEC-61). The sign-in form, which has no session yet, carries HMAC(key, "a:" ‖ value of
//! an anonymous random cookie): login CSRF needs the victim's cookie, which another site cannot
//! read or set. Origin / Sec-Fetch-Site checks run for every request in front of this.

use data_encoding::BASE64URL_NOPAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use tsuzuki_core::token::{SecretToken, TokenHash};

#[derive(Clone)]
pub struct CsrfTokens {
    key: [u8; 32],
}

impl CsrfTokens {
    pub fn new(key: [u8; 32]) -> Self {
        CsrfTokens { key }
    }

    fn mac(&self, tag: &[u8], data: &[u8]) -> String {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key).expect("any key length");
        mac.update(tag);
        mac.update(data);
        BASE64URL_NOPAD.encode(&mac.finalize().into_bytes())
    }

    pub fn for_session(&self, session: &TokenHash) -> String {
        self.mac(b"s:", &session.0)
    }

    /// A MAC over an action carried through a form (e.g. the operation a re-authentication
    /// completes), bound to the session.
    pub fn for_session_action(&self, session: &TokenHash, action: &str) -> String {
        let mut data = session.0.to_vec();
        data.extend_from_slice(action.as_bytes());
        self.mac(b"then:", &data)
    }

    /// Forms of a sign-in flow: bound to the flow (whose requests also need the browser cookie).
    pub fn for_flow(&self, flow_id_hash: &TokenHash) -> String {
        self.mac(b"f:", &flow_id_hash.0)
    }

    pub fn for_anonymous(&self, cookie_value: &str) -> String {
        self.mac(b"a:", cookie_value.as_bytes())
    }

    /// A fresh value for the anonymous cookie.
    pub fn new_anonymous_cookie() -> String {
        SecretToken::generate().encode()
    }

    /// Constant-time comparison of the expected and presented tokens.
    pub fn matches(expected: &str, presented: &str) -> bool {
        expected.len() == presented.len()
            && bool::from(expected.as_bytes().ct_eq(presented.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_bound_to_their_session() {
        let c = CsrfTokens::new([7; 32]);
        let a = SecretToken::generate().hash();
        let b = SecretToken::generate().hash();
        assert!(CsrfTokens::matches(&c.for_session(&a), &c.for_session(&a)));
        assert!(!CsrfTokens::matches(&c.for_session(&a), &c.for_session(&b)));
        assert!(!CsrfTokens::matches(&c.for_session(&a), ""));
        let other_key = CsrfTokens::new([8; 32]);
        assert_ne!(c.for_anonymous("x"), other_key.for_anonymous("x"));
    }
}
