//! The session check for reverse proxies (forward-auth): 200 with identity headers, or 401.
//!
//! This is the hot path. It reads the cookie, hashes it, asks the session cache, and answers;
//! it writes to the database at most once per session per touch interval. Proxies forward the
//! original request's headers, so a background request stays background here too.

use super::context::Ctx;
use super::error::AppError;
use super::{AppState, activity};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use tsuzuki_core::session::recent_enough;

pub const USER_ID: HeaderName = HeaderName::from_static("x-tsuzuki-user-id");
pub const EMAIL: HeaderName = HeaderName::from_static("x-tsuzuki-email");
pub const AUTH_TIME: HeaderName = HeaderName::from_static("x-tsuzuki-auth-time");
pub const METHODS: HeaderName = HeaderName::from_static("x-tsuzuki-methods");
pub const REMEMBERED: HeaderName = HeaderName::from_static("x-tsuzuki-remembered");
pub const SESSION: HeaderName = HeaderName::from_static("x-tsuzuki-session");
/// Request header from the proxy: `recent-sign-in` marks the route as sensitive.
pub const REQUIRE: HeaderName = HeaderName::from_static("x-tsuzuki-require");

pub async fn check(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let s = ctx
        .session(activity(&headers))
        .await
        .map_err(|r| state.rejection_error(r))?;
    // A route the host application marks as sensitive (the proxy sends this header for it) needs
    // a recent real sign-in (R12). The browser is then sent to /account/reauth?return_to=….
    if headers.get(REQUIRE).and_then(|v| v.to_str().ok()) == Some("recent-sign-in") {
        let now = state.sessions.now();
        if !recent_enough(
            &s.methods,
            s.remembered,
            s.auth_time,
            state.config.reauth_window,
            now,
        ) {
            return Err(AppError::unauthorized("step_up_required"));
        }
    }
    identity_response(&s)
}

/// The fast path (issue #2 item 7): `GET /auth/check` with a session that is a clean cache hit is
/// answered here, by the connection loop, without the router and its middleware — which cost
/// more than the check itself (see docs/benchmarks.md). It answers only the common success;
/// everything else — no cookie, a cache miss, an expired or revoked session, a remember-me
/// restore, a route marked as needing a recent sign-in — returns `None` and takes the full path,
/// which records and renders it. The response carries the same headers as the full path's.
pub async fn fast_check<B>(
    state: &AppState,
    request: &axum::http::Request<B>,
    peer: Option<std::net::IpAddr>,
) -> Option<Response> {
    if request.method() != axum::http::Method::GET || request.uri().path() != "/auth/check" {
        return None;
    }
    let headers = request.headers();
    if headers.contains_key(REQUIRE) {
        return None;
    }
    let cookie = super::cookies::read_cookie(headers, &state.cookies.session)?;
    let ip = super::client::client_ip(headers, peer, &state.config.trusted_proxies)
        .map(|ip| ip.to_string())
        .unwrap_or_else(|| "unknown".into());
    let s = state
        .sessions
        .authenticate_cached(cookie, activity(headers), &ip)
        .await?;
    let mut response = identity_response(&s).ok()?;
    super::finish_response(state, &mut response);
    Some(response)
}

/// 200 with the identity headers a proxy passes on to the application.
fn identity_response(s: &crate::sessions::ActiveSession) -> Result<Response, AppError> {
    let mut response = StatusCode::OK.into_response();
    let h = response.headers_mut();
    let methods: Vec<&str> = s.methods.iter().map(|m| m.code()).collect();
    for (name, value) in [
        (USER_ID, s.user_id.as_str()),
        (SESSION, s.handle.as_str()),
        (METHODS, &methods.join(",")),
        (REMEMBERED, if s.remembered { "true" } else { "false" }),
    ] {
        h.insert(
            name,
            HeaderValue::from_str(value).map_err(|e| AppError::internal(e.to_string()))?,
        );
    }
    h.insert(AUTH_TIME, HeaderValue::from(s.auth_time.0));
    // Emails are validated at account creation, but a header value must be visible ASCII:
    // anything else (an internationalised address) is percent-encoded rather than dropped.
    let email = HeaderValue::from_str(&s.email).unwrap_or_else(|_| {
        HeaderValue::from_str(&percent_encode(&s.email)).unwrap_or(HeaderValue::from_static(""))
    });
    h.insert(EMAIL, email);
    Ok(response)
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_graphic() && b != b'%' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
