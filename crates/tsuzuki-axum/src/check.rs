//! One check against tsuzuki: `GET /auth/check` with the browser's cookies, turned into an
//! [`Answer`].

use crate::builder::Shared;
use crate::identity::Identity;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Request, StatusCode, header};
use std::net::IpAddr;

const RELAY_COOKIES: HeaderName = HeaderName::from_static("x-tsuzuki-relay-cookies");
const REQUIRE: HeaderName = HeaderName::from_static("x-tsuzuki-require");
pub(crate) const BACKGROUND: HeaderName = HeaderName::from_static("x-tsuzuki-background");
const FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// What tsuzuki said.
#[derive(Debug)]
pub(crate) enum Answer {
    /// A live session. `set_cookies` is non-empty when tsuzuki restored it from a remember-me
    /// cookie (or refreshed a cookie) and the browser must get the new values.
    Valid {
        identity: Identity,
        set_cookies: Vec<HeaderValue>,
    },
    /// No session (or not recent enough): tsuzuki's code, its error object, and the cookies it
    /// clears.
    Rejected {
        code: String,
        error: Option<serde_json::Value>,
        set_cookies: Vec<HeaderValue>,
    },
    /// tsuzuki did not answer usefully; the reason is for the log.
    Unavailable(String),
}

/// The request facts a check needs, taken from the incoming request before it moves on.
pub(crate) struct Facts {
    pub cookie: Option<HeaderValue>,
    pub peer: Option<IpAddr>,
    pub forwarded_for: Option<String>,
    pub background: bool,
    pub user_agent: Option<HeaderValue>,
    pub accept_language: Option<HeaderValue>,
}

impl Facts {
    pub fn of(headers: &HeaderMap, peer: Option<IpAddr>) -> Facts {
        let forwarded_for = {
            let chain: Vec<&str> = headers
                .get_all(&FORWARDED_FOR)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect();
            (!chain.is_empty()).then(|| chain.join(", "))
        };
        Facts {
            cookie: crate::cookies::cookie_header(headers),
            peer,
            forwarded_for,
            background: matches!(
                headers.get(&BACKGROUND).and_then(|v| v.to_str().ok()),
                Some("1" | "true")
            ),
            user_agent: headers.get(header::USER_AGENT).cloned(),
            accept_language: headers.get(header::ACCEPT_LANGUAGE).cloned(),
        }
    }
}

/// The `X-Forwarded-For` to send: the incoming chain with this hop's peer appended, as a proxy
/// does. tsuzuki walks it from the right and stops at the first address it does not trust, so a
/// client that forges the header only adds entries left of its own, real, address. Without a
/// known peer (the app was not served with connect info) nothing is sent: passing a chain on
/// unverified would let any client choose the address tsuzuki records.
pub(crate) fn forwarded_for(facts: &Facts) -> Option<String> {
    let peer = facts.peer?;
    Some(match &facts.forwarded_for {
        Some(chain) => format!("{chain}, {peer}"),
        None => peer.to_string(),
    })
}

/// tsuzuki's error bodies are small; anything bigger is not one.
const MAX_ERROR_BODY: usize = 64 * 1024;

pub(crate) async fn check(shared: &Shared, facts: &Facts, step_up: bool) -> Answer {
    let mut req = Request::get(shared.check_url.clone())
        .header(header::ACCEPT, "application/json")
        // We relay every Set-Cookie of the answer (see layer.rs); tsuzuki restores a
        // remember-me session only for clients that say so.
        .header(RELAY_COOKIES, "1");
    if let Some(c) = &facts.cookie {
        req = req.header(header::COOKIE, c.clone());
    }
    if let Some(xff) = forwarded_for(facts) {
        req = req.header(FORWARDED_FOR, xff);
    }
    if facts.background {
        req = req.header(BACKGROUND, "1");
    }
    if step_up {
        req = req.header(REQUIRE, "recent-sign-in");
    }
    // The device label of a restored session and the language of tsuzuki's messages.
    if let Some(ua) = &facts.user_agent {
        req = req.header(header::USER_AGENT, ua.clone());
    }
    if let Some(lang) = &facts.accept_language {
        req = req.header(header::ACCEPT_LANGUAGE, lang.clone());
    }
    let req = match req.body(Body::empty()) {
        Ok(r) => r,
        Err(e) => return Answer::Unavailable(format!("check request not built: {e}")),
    };
    // One deadline for the whole exchange, body included: a tsuzuki that accepts and then
    // stalls must not hold the request forever.
    let exchange = async {
        let response = shared.http.request(req).await.map_err(|e| {
            // hyper-util's error names the connection failure, never the headers.
            format!("check request failed: {e}")
        })?;
        let (parts, body) = response.into_parts();
        let body = if parts.status == StatusCode::UNAUTHORIZED {
            axum::body::to_bytes(Body::new(body), MAX_ERROR_BODY)
                .await
                .unwrap_or_default()
        } else {
            Default::default()
        };
        Ok::<_, String>((parts, body))
    };
    let (parts, body) = match tokio::time::timeout(shared.timeout, exchange).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(reason)) => return Answer::Unavailable(reason),
        Err(_) => return Answer::Unavailable(format!("no answer within {:?}", shared.timeout)),
    };
    let set_cookies: Vec<HeaderValue> = parts
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .cloned()
        .collect();
    match parts.status {
        StatusCode::OK => match Identity::from_headers(&parts.headers) {
            Some(identity) => Answer::Valid {
                identity,
                set_cookies,
            },
            // No identity header at all: tsuzuki found no session but its own policy for the
            // route is "public" (`forward_auth.default_policy`). This application decides its
            // routes itself, so that is "not signed in" here — still no way in.
            None if !parts.headers.contains_key("x-tsuzuki-user-id") => Answer::Rejected {
                code: "not_signed_in".into(),
                error: None,
                set_cookies,
            },
            None => Answer::Unavailable("a 200 answer with malformed identity headers".into()),
        },
        StatusCode::UNAUTHORIZED => {
            let error = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|mut v| v.get_mut("error").map(serde_json::Value::take));
            let code = error
                .as_ref()
                .and_then(|e| e.get("code")?.as_str())
                .unwrap_or("not_signed_in")
                .to_string();
            Answer::Rejected {
                code,
                error,
                set_cookies,
            }
        }
        // 503 (database down), any other 5xx, and anything unexpected (a redirect or 404: a
        // wrong URL; 429) mean there is no verdict.
        other => Answer::Unavailable(format!("tsuzuki answered {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(peer: Option<&str>, chain: Option<&str>) -> Facts {
        let mut h = HeaderMap::new();
        if let Some(c) = chain {
            h.insert(FORWARDED_FOR, HeaderValue::from_str(c).unwrap());
        }
        Facts::of(&h, peer.map(|p| p.parse().unwrap()))
    }

    #[test]
    fn forwarded_for_appends_the_peer_and_never_passes_an_unverified_chain() {
        assert_eq!(
            forwarded_for(&facts(Some("192.0.2.7"), None)).as_deref(),
            Some("192.0.2.7")
        );
        assert_eq!(
            forwarded_for(&facts(Some("10.0.0.2"), Some("198.51.100.1"))).as_deref(),
            Some("198.51.100.1, 10.0.0.2")
        );
        assert_eq!(forwarded_for(&facts(None, Some("198.51.100.1"))), None);
    }

    #[test]
    fn background_is_recognised_as_tsuzuki_does() {
        for (v, bg) in [("1", true), ("true", true), ("0", false), ("yes", false)] {
            let mut h = HeaderMap::new();
            h.insert(BACKGROUND, HeaderValue::from_static(v));
            assert_eq!(Facts::of(&h, None).background, bg, "{v}");
        }
    }
}
