//! The signed-in person as tsuzuki describes them, parsed from the check's identity headers, and
//! the extractors handlers use.

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use std::convert::Infallible;

/// Who made the request: what tsuzuki's `GET /auth/check` answered for its session.
///
/// Extract it in a handler (`me: Identity`) behind [`crate::Tsuzuki::require`] or
/// [`crate::Tsuzuki::step_up`], or as `Option<Identity>` behind [`crate::Tsuzuki::optional`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Identity {
    /// tsuzuki's user id (`usr_…`): stable, unlike the email.
    pub user_id: String,
    pub email: String,
    /// When the person last signed in for real (password, second factor), in Unix seconds.
    pub auth_time: i64,
    /// How the session was established: `pwd`, `totp`, `email`, `sms`, `recovery`, `remember`,
    /// `trusted`.
    pub methods: Vec<String>,
    /// The session was restored from a "keep me signed in" cookie.
    pub remembered: bool,
    /// The session's public handle (`ses_…`): safe to log and to show; revocation takes it.
    pub session: String,
}

impl Identity {
    /// The identity headers of a 200 check answer; `None` if any is missing or malformed (the
    /// middleware then refuses the request rather than guess).
    pub(crate) fn from_headers(h: &HeaderMap) -> Option<Identity> {
        let text = |name: &str| h.get(name)?.to_str().ok();
        let user_id = text("x-tsuzuki-user-id").filter(|v| !v.is_empty())?;
        let session = text("x-tsuzuki-session").filter(|v| !v.is_empty())?;
        let email = decode_email(text("x-tsuzuki-email").filter(|v| !v.is_empty())?);
        let auth_time = text("x-tsuzuki-auth-time")?.parse().ok()?;
        let methods = text("x-tsuzuki-methods")?
            .split(',')
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .map(str::to_string)
            .collect();
        let remembered = match text("x-tsuzuki-remembered")? {
            "true" => true,
            "false" => false,
            _ => return None,
        };
        Some(Identity {
            user_id: user_id.to_string(),
            email,
            auth_time,
            methods,
            remembered,
            session: session.to_string(),
        })
    }

    /// An identity made by hand, for the host application's own handler tests (the
    /// middleware builds it from tsuzuki's answer).
    pub fn new(
        user_id: impl Into<String>,
        email: impl Into<String>,
        auth_time: i64,
        methods: Vec<String>,
        remembered: bool,
        session: impl Into<String>,
    ) -> Identity {
        Identity {
            user_id: user_id.into(),
            email: email.into(),
            auth_time,
            methods,
            remembered,
            session: session.into(),
        }
    }

    /// Whether `method` (e.g. `"totp"`) was part of this session's sign-in.
    pub fn has_method(&self, method: &str) -> bool {
        self.methods.iter().any(|m| m == method)
    }
}

/// tsuzuki percent-encodes an email only when it cannot be a header value as it is, i.e. when
/// it is not ASCII. An ASCII address may legitimately contain `%`, so the text is decoded only
/// when decoding yields non-ASCII UTF-8 — which an encoded address always does.
fn decode_email(raw: &str) -> String {
    if !raw.contains('%') {
        return raw.to_string();
    }
    match percent_encoding::percent_decode_str(raw).decode_utf8() {
        Ok(decoded) if !decoded.is_ascii() => decoded.into_owned(),
        _ => raw.to_string(),
    }
}

/// The rejection of the [`Identity`] extractor: the request has no identity, because the route
/// has no tsuzuki layer (a wiring mistake) or only [`crate::Tsuzuki::optional`] and nobody is
/// signed in. Answers 401 `not_signed_in`.
#[derive(Debug)]
pub struct MissingIdentity;

impl IntoResponse for MissingIdentity {
    fn into_response(self) -> Response {
        tracing::debug!("handler needs an Identity but the request has none");
        crate::respond::json_error(StatusCode::UNAUTHORIZED, "not_signed_in", None)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Identity {
    type Rejection = MissingIdentity;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Identity>()
            .cloned()
            .ok_or(MissingIdentity)
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for Identity {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, Infallible> {
        Ok(parts.extensions.get::<Identity>().cloned())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use axum::http::HeaderValue;

    pub(crate) fn sample() -> Identity {
        Identity {
            user_id: "usr_1".into(),
            email: "a@example.com".into(),
            auth_time: 1_800_000_000,
            methods: vec!["pwd".into(), "totp".into()],
            remembered: false,
            session: "ses_1".into(),
        }
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    const GOOD: [(&str, &str); 6] = [
        ("x-tsuzuki-user-id", "usr_1"),
        ("x-tsuzuki-email", "a@example.com"),
        ("x-tsuzuki-auth-time", "1800000000"),
        ("x-tsuzuki-methods", "pwd,totp"),
        ("x-tsuzuki-remembered", "false"),
        ("x-tsuzuki-session", "ses_1"),
    ];

    #[test]
    fn parses_the_identity_headers() {
        let id = Identity::from_headers(&headers(&GOOD)).unwrap();
        assert_eq!(id, sample());
        assert!(id.has_method("totp"));
        assert!(!id.has_method("sms"));
    }

    #[test]
    fn a_missing_or_malformed_header_is_no_identity() {
        for (i, (name, _)) in GOOD.iter().enumerate() {
            let mut pairs = GOOD.to_vec();
            pairs.remove(i);
            assert_eq!(Identity::from_headers(&headers(&pairs)), None, "{name}");
        }
        for (name, bad) in [
            ("x-tsuzuki-auth-time", "soon"),
            ("x-tsuzuki-remembered", "yes"),
            ("x-tsuzuki-user-id", ""),
        ] {
            let mut pairs = GOOD.to_vec();
            pairs.retain(|(n, _)| *n != name);
            pairs.push((name, bad));
            assert_eq!(Identity::from_headers(&headers(&pairs)), None, "{name}");
        }
    }

    #[test]
    fn methods_may_be_one_or_none() {
        let mut pairs = GOOD.to_vec();
        pairs[3] = ("x-tsuzuki-methods", "remember");
        pairs[4] = ("x-tsuzuki-remembered", "true");
        let id = Identity::from_headers(&headers(&pairs)).unwrap();
        assert_eq!(id.methods, ["remember"]);
        assert!(id.remembered);
    }

    #[test]
    fn non_ascii_emails_arrive_percent_encoded() {
        // What tsuzuki's forward_auth::percent_encode makes of "たろう@例え.jp".
        let encoded: String = "たろう@例え.jp"
            .bytes()
            .map(|b| {
                if b.is_ascii_graphic() && b != b'%' {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        assert_eq!(decode_email(&encoded), "たろう@例え.jp");
        // ASCII addresses are sent as they are, '%' included.
        assert_eq!(decode_email("a%41b@example.com"), "a%41b@example.com");
        assert_eq!(decode_email("100%@example.com"), "100%@example.com");
    }
}
