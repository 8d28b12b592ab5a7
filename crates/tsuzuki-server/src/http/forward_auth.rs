//! The session check for reverse proxies (forward-auth, issues #2 and #6).
//!
//! A proxy asks on every request of a protected application, forwarding the browser's cookies
//! and saying which URL was asked for. The answer:
//! - 200 with identity headers when the route's policy (`[forward_auth]`, per host and path) is
//!   met — or a plain 200 for a public route without a session;
//! - for a browser navigation that is refused, a way to the sign-in (or re-authentication) page
//!   that returns to the original URL afterwards: a 302 at `/auth/check` (Caddy, Traefik copy the
//!   answer to the browser), or a 401 carrying `Location` at `/auth/request` (nginx's
//!   `auth_request` only understands 2xx, 401 and 403, so its recipe turns that into the redirect);
//! - 401 with the reason for anything else (API clients, background requests).
//!
//! A remember-me cookie is turned into a session here only when the proxy declares that it
//! relays the cookies this answer sets (`X-Tsuzuki-Relay-Cookies: 1`): a rotated remember-me
//! cookie that never reached the browser would make its next use look like theft (R5). Without
//! it, a browser is sent to the sign-in page, which restores the session on tsuzuki's own host
//! and comes straight back.
//!
//! This is the hot path. A clean cache hit whose policy is met is answered by [`fast_check`]
//! before the router; it writes to the database at most once per session per touch interval.

use super::context::Ctx;
use super::error::AppError;
use super::{AppState, activity};
use crate::sessions::{ActiveSession, AnswerHeaders, Rejection};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::sync::LazyLock;
use tsuzuki_core::access::{Policy, SessionFacts, Verdict, decide};

pub const USER_ID: HeaderName = HeaderName::from_static("x-tsuzuki-user-id");
pub const EMAIL: HeaderName = HeaderName::from_static("x-tsuzuki-email");
pub const AUTH_TIME: HeaderName = HeaderName::from_static("x-tsuzuki-auth-time");
pub const METHODS: HeaderName = HeaderName::from_static("x-tsuzuki-methods");
pub const REMEMBERED: HeaderName = HeaderName::from_static("x-tsuzuki-remembered");
pub const SESSION: HeaderName = HeaderName::from_static("x-tsuzuki-session");
/// Request header from the proxy or a host application: `recent-sign-in` or `second-factor`
/// marks the route as needing more than its configured policy.
pub const REQUIRE: HeaderName = HeaderName::from_static("x-tsuzuki-require");
/// Request header: `1` = the caller passes the `Set-Cookie` headers of this answer on to the
/// browser, so a remember-me cookie may be turned into a session here.
pub const RELAY_COOKIES: HeaderName = HeaderName::from_static("x-tsuzuki-relay-cookies");
/// The original request, as nginx's recipe reports it (`$scheme://$http_host$request_uri`).
pub const ORIGINAL_URL: HeaderName = HeaderName::from_static("x-original-url");
pub const ORIGINAL_METHOD: HeaderName = HeaderName::from_static("x-original-method");
/// The original request, as Traefik and Caddy report it.
pub const FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
pub const FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
pub const FORWARDED_URI: HeaderName = HeaderName::from_static("x-forwarded-uri");
pub const FORWARDED_METHOD: HeaderName = HeaderName::from_static("x-forwarded-method");

/// How a refused browser navigation is sent to the sign-in page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RedirectStyle {
    /// `302 Found` with `Location` (Caddy, Traefik, host applications).
    Found,
    /// `401` with `Location` (nginx `auth_request`).
    UnauthorizedWithLocation,
}

/// `GET /auth/check`: Caddy's `forward_auth`, Traefik's ForwardAuth, host applications.
pub async fn check(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    answer(&state, &ctx, &headers, RedirectStyle::Found).await
}

/// `GET /auth/request`: nginx's `auth_request`.
pub async fn request(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    answer(
        &state,
        &ctx,
        &headers,
        RedirectStyle::UnauthorizedWithLocation,
    )
    .await
}

/// What the proxy reported of the request it is asking about.
#[derive(Debug, Default, PartialEq, Eq)]
struct Original {
    /// The absolute URL, when the proxy said enough to build it.
    url: Option<String>,
    host: Option<String>,
    /// Path and query.
    path: Option<String>,
    method: Option<String>,
}

impl Original {
    /// Read from the headers of the endpoint's own proxy kind, and only those: at `/auth/request`
    /// nginx's `X-Original-*` (its recipe always sets them), at `/auth/check` the `X-Forwarded-*`
    /// that Caddy and Traefik set. A proxy passes the client's other headers through, so reading
    /// both kinds would let a client steer the policy with the kind its proxy does not set.
    fn of(headers: &HeaderMap, style: RedirectStyle) -> Original {
        let text = |name: &HeaderName| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        match style {
            RedirectStyle::UnauthorizedWithLocation => {
                let method = text(&ORIGINAL_METHOD).map(str::to_ascii_uppercase);
                let Some(url) = text(&ORIGINAL_URL).and_then(|raw| url::Url::parse(raw).ok())
                else {
                    return Original {
                        method,
                        ..Original::default()
                    };
                };
                let host = url.host_str().map(|h| match url.port() {
                    Some(p) => format!("{h}:{p}"),
                    None => h.to_string(),
                });
                let path = match url.query() {
                    Some(q) => format!("{}?{q}", url.path()),
                    None => url.path().to_string(),
                };
                Original {
                    url: Some(url.to_string()),
                    host,
                    path: Some(path),
                    method,
                }
            }
            RedirectStyle::Found => {
                let host = text(&FORWARDED_HOST).map(str::to_string);
                let path = text(&FORWARDED_URI).map(str::to_string);
                let url = match (&host, &path) {
                    (Some(h), Some(p)) if p.starts_with('/') => {
                        let scheme = match text(&FORWARDED_PROTO) {
                            Some("http") => "http",
                            _ => "https",
                        };
                        Some(format!("{scheme}://{h}{p}"))
                    }
                    _ => None,
                };
                Original {
                    url,
                    host,
                    path,
                    method: text(&FORWARDED_METHOD).map(str::to_ascii_uppercase),
                }
            }
        }
    }

    /// A person's browser loading a page (not a script's request): only these are redirected.
    fn is_navigation(&self, headers: &HeaderMap) -> bool {
        let method_ok = matches!(self.method.as_deref(), None | Some("GET") | Some("HEAD"));
        let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
        let navigation = match header("sec-fetch-mode") {
            Some(mode) => mode == "navigate",
            None => header("accept").is_some_and(|a| a.contains("text/html")),
        };
        method_ok && navigation && super::activity(headers) == tsuzuki_core::session::Activity::User
    }
}

/// The policy for this request: the configured one for its host and path, made stricter by an
/// `X-Tsuzuki-Require` the proxy or application sent.
fn policy_of(state: &AppState, headers: &HeaderMap, style: RedirectStyle) -> Policy {
    let access = &state.config.proxy.access;
    // Without rules the URL cannot change the answer: the hot path skips reading it.
    let configured = if access.rules.is_empty() {
        access.default
    } else {
        let original = Original::of(headers, style);
        access.policy_for(original.host.as_deref(), original.path.as_deref())
    };
    match headers.get(REQUIRE).and_then(|v| v.to_str().ok()) {
        Some("recent-sign-in") => configured.max(Policy::RecentSignIn),
        Some("second-factor") => configured.max(Policy::SecondFactor),
        _ => configured,
    }
}

fn facts(s: &ActiveSession) -> SessionFacts<'_> {
    SessionFacts {
        methods: &s.methods,
        remembered: s.remembered,
        auth_time: s.auth_time,
    }
}

async fn answer(
    state: &AppState,
    ctx: &super::context::RequestContext,
    headers: &HeaderMap,
    style: RedirectStyle,
) -> Result<Response, AppError> {
    let policy = policy_of(state, headers, style);
    let relay = headers.get(RELAY_COOKIES).and_then(|v| v.to_str().ok()) == Some("1");
    // Restore only where a restored session can pass: it is never a recent sign-in nor a second
    // factor, and a refusal's cookies do not reach the browser through nginx's error page, so a
    // rotation there would be lost (and its next use look like theft).
    let restore = relay && matches!(policy, Policy::Public | Policy::SignedIn);
    let session = if restore {
        ctx.session(activity(headers)).await
    } else {
        match ctx.session_cookie() {
            Some(cookie) => {
                state
                    .sessions
                    .authenticate(cookie, activity(headers), &ctx.client().ip)
                    .await
            }
            None => Err(Rejection::Missing),
        }
    };
    let (session, rejection) = match session {
        Ok(s) => (Some(s), None),
        // A public route needs nothing from the store; anything else never fails open.
        Err(Rejection::Unavailable) if policy == Policy::Public => (None, None),
        Err(Rejection::Unavailable) => {
            return Err(state.rejection_error(Rejection::Unavailable));
        }
        Err(r) => {
            // SEC-21: a dead session cookie is cleared (harmless whether relayed or not).
            if !restore && r != Rejection::Missing {
                ctx.set_cookie(state.cookies.clear_session());
            }
            (None, Some(r))
        }
    };
    let now = state.sessions.now();
    let verdict = decide(
        policy,
        session.as_ref().map(facts),
        state.config.reauth_window,
        now,
    );
    if verdict == Verdict::Allow {
        let https = state.config.is_https();
        let mut response = match &session {
            Some(s) => identity_response(s, https)?,
            None => bodiless_response(super::bodiless_answer_headers(https).clone()),
        };
        // It carries its security headers already: the middleware only counts it.
        response.extensions_mut().insert(super::BodilessAnswer);
        if relay {
            relay_copies(ctx, &mut response);
        }
        return Ok(response);
    }
    let code = match (verdict, rejection) {
        // The precise reason a session ended (idle, absolute, revoked) is worth telling.
        (Verdict::SignInRequired, Some(r)) => r.code(),
        (v, _) => v.code().unwrap_or("not_signed_in"),
    };
    let original = Original::of(headers, style);
    if !original.is_navigation(headers) {
        return Err(AppError::unauthorized(code));
    }
    let target = sign_in_target(state, verdict, original.url.as_deref());
    match style {
        RedirectStyle::Found => {
            let mut response = StatusCode::FOUND.into_response();
            response.headers_mut().insert(header::LOCATION, target);
            Ok(response)
        }
        RedirectStyle::UnauthorizedWithLocation => {
            Err(AppError::unauthorized(code).with_header(header::LOCATION, target))
        }
    }
}

/// Where a refused browser goes: the sign-in page, or re-authentication for a signed-in person
/// who must step up, with the original URL to come back to when it is an allowed one (SEC-16).
fn sign_in_target(state: &AppState, verdict: Verdict, original: Option<&str>) -> HeaderValue {
    let page = match verdict {
        Verdict::StepUpRequired => "/account/reauth",
        Verdict::SecondFactorRequired => "/account/reauth?require=second-factor",
        _ => "/sign-in",
    };
    let back = original.and_then(|u| state.config.proxy.returns.validate(u));
    let mut target = format!("{}{page}", state.config.public_url);
    if let Some(back) = back {
        target.push(if page.contains('?') { '&' } else { '?' });
        target.push_str("return_to=");
        target.push_str(&super::pages::urlencode(&back));
    }
    HeaderValue::from_str(&target).unwrap_or(HeaderValue::from_static("/sign-in"))
}

/// nginx (before 1.23) hands only the first `Set-Cookie` of an auth answer to its recipe, and a
/// restore sets two (session and rotated remember-me cookie). Each cookie this answer sets is
/// therefore also sent as `X-Tsuzuki-Set-Cookie-1`, `-2`, … which the recipe adds one by one.
fn relay_copies(ctx: &super::context::RequestContext, response: &mut Response) {
    const NAMES: [HeaderName; 3] = [
        HeaderName::from_static("x-tsuzuki-set-cookie-1"),
        HeaderName::from_static("x-tsuzuki-set-cookie-2"),
        HeaderName::from_static("x-tsuzuki-set-cookie-3"),
    ];
    for (name, value) in NAMES.into_iter().zip(ctx.queued_cookies()) {
        response.headers_mut().insert(name, value);
    }
}

/// The fast path (issue #2 item 7): a forward-auth check with a session that is a clean cache hit
/// and meets its route's policy is answered here, by the connection loop, without the router and
/// its middleware — which cost more than the check itself (see docs/benchmarks.md). It answers
/// only that common success; everything else — no cookie, a cache miss, an expired or revoked
/// session, a remember-me restore, a policy not met — returns `None` and takes the full path,
/// which records and renders it. The response carries the same headers as the full path's yes.
pub async fn fast_check<B>(
    state: &AppState,
    request: &axum::http::Request<B>,
    peer: Option<std::net::IpAddr>,
) -> Option<Response> {
    if request.method() != Method::GET {
        return None;
    }
    let style = match request.uri().path() {
        "/auth/check" => RedirectStyle::Found,
        "/auth/request" => RedirectStyle::UnauthorizedWithLocation,
        _ => return None,
    };
    let headers = request.headers();
    let cookie = super::cookies::read_cookie(headers, &state.cookies.session)?;
    let ip = super::client::client_ip(headers, peer, &state.config.trusted_proxies);
    let (s, now) = state
        .sessions
        .authenticate_cached(cookie, activity(headers), ip)
        .await?;
    let policy = policy_of(state, headers, style);
    if decide(policy, Some(facts(&s)), state.config.reauth_window, now) != Verdict::Allow {
        return None;
    }
    let response = identity_response(&s, state.config.is_https()).ok()?;
    state.metrics.count_response(response.status().as_u16());
    Some(response)
}

/// The identity headers, in the order a yes answer's template holds them.
const IDENTITY: [HeaderName; 6] = [USER_ID, SESSION, METHODS, REMEMBERED, AUTH_TIME, EMAIL];

/// A yes answer's headers, built once per scheme: the identity headers with empty values, then
/// the security headers of an answer without a body. Copying it and filling in six values costs
/// a fraction of inserting ten headers one by one, each hashed and placed (measured with
/// callgrind, docs/benchmarks.md).
fn answer_template(https: bool) -> &'static HeaderMap {
    static PLAIN: LazyLock<HeaderMap> = LazyLock::new(|| template_for(false));
    static HTTPS: LazyLock<HeaderMap> = LazyLock::new(|| template_for(true));
    if https { &HTTPS } else { &PLAIN }
}

fn template_for(https: bool) -> HeaderMap {
    let security = super::bodiless_answer_headers(https);
    let mut h = HeaderMap::with_capacity(IDENTITY.len() + security.len());
    for name in IDENTITY {
        h.insert(name, HeaderValue::from_static(""));
    }
    for (name, value) in security {
        h.insert(name.clone(), value.clone());
    }
    h
}

/// 200 with the identity headers a proxy passes on to the application, and the security
/// headers of an answer without a body.
fn identity_response(s: &ActiveSession, https: bool) -> Result<Response, AppError> {
    let values = match s.answer_headers.get() {
        Some(values) => values.clone(),
        None => {
            let built = answer_headers(s)?;
            // Another answer may have built them meanwhile: the same values either way.
            s.answer_headers.get_or_init(|| built).clone()
        }
    };
    let remembered = HeaderValue::from_static(if s.remembered { "true" } else { "false" });
    let mut headers = answer_template(https).clone();
    fill_identity(
        &mut headers,
        [
            values.user_id,
            values.session,
            values.methods,
            remembered,
            values.auth_time,
            values.email,
        ],
    );
    Ok(bodiless_response(headers))
}

/// A 200 without a body, with these headers.
fn bodiless_response(headers: HeaderMap) -> Response {
    let mut response = Response::new(axum::body::Body::empty());
    *response.headers_mut() = headers;
    response
}

/// Put each identity value (in [`IDENTITY`]'s order) under its name. A template holds the names
/// first and in that order, so the values go straight into their slots; each slot's name is
/// checked all the same, since a map does not promise its order, and whatever the slots did not
/// take is inserted by name.
fn fill_identity(headers: &mut HeaderMap, values: [HeaderValue; 6]) {
    let mut pending = IDENTITY.into_iter().zip(values).peekable();
    for (name, slot) in headers.iter_mut() {
        match pending.next_if(|(expected, _)| expected == name) {
            Some((_, value)) => *slot = value,
            None => break,
        }
    }
    for (name, value) in pending {
        headers.insert(name, value);
    }
}

/// The identity header values of a session, built once per cached session (measured: building
/// them at every answer was 7 % of a check's instructions, docs/benchmarks.md). The five values
/// are slices of one buffer, so the reference counts an answer takes and drops all sit in one
/// place, not in five allocations scattered over memory (measured: 4–6 % more checks per
/// CPU-second, docs/benchmarks.md).
fn answer_headers(s: &ActiveSession) -> Result<AnswerHeaders, AppError> {
    // Emails are validated at account creation, but a header value must be visible ASCII:
    // anything else (an internationalised address) is percent-encoded rather than dropped.
    // `HeaderValue::from_str` would pass UTF-8 through as obs-text, which proxies mangle.
    let email = if super::is_header_text(&s.email) {
        std::borrow::Cow::Borrowed(s.email.as_str())
    } else {
        percent_encoding::utf8_percent_encode(&s.email, NOT_HEADER_TEXT).into()
    };
    let auth_time = s.auth_time.0.to_string();
    let parts = [
        s.user_id.as_str(),
        s.handle.as_str(),
        s.method_codes.as_str(),
        auth_time.as_str(),
        &email,
    ];
    let mut joined = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    let ends = parts.map(|part| {
        joined.push_str(part);
        joined.len()
    });
    let buffer = axum::body::Bytes::from(joined);
    let mut start = 0;
    let [user_id, session, methods, auth_time, email] = ends.map(|end| {
        let value = HeaderValue::from_maybe_shared(buffer.slice(start..end));
        start = end;
        value.map_err(|e| AppError::internal(e.to_string()))
    });
    Ok(AnswerHeaders {
        user_id: user_id?,
        session: session?,
        methods: methods?,
        auth_time: auth_time?,
        email: email?,
    })
}

/// What an email header value percent-encodes besides non-ASCII bytes: controls, space and `%`
/// itself, so that the value is visible ASCII and decodes back to the address.
const NOT_HEADER_TEXT: &percent_encoding::AsciiSet =
    &percent_encoding::CONTROLS.add(b' ').add(b'%');

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn original_request_from_nginx_header() {
        let nginx = RedirectStyle::UnauthorizedWithLocation;
        let o = Original::of(
            &headers(&[
                ("x-original-url", "https://App.example.com:8443/inbox?id=3"),
                ("x-original-method", "post"),
                // Never read at nginx's endpoint: a client could have sent it.
                ("x-forwarded-uri", "/public"),
            ]),
            nginx,
        );
        assert_eq!(o.host.as_deref(), Some("app.example.com:8443"));
        assert_eq!(o.path.as_deref(), Some("/inbox?id=3"));
        assert_eq!(
            o.url.as_deref(),
            Some("https://app.example.com:8443/inbox?id=3")
        );
        assert_eq!(o.method.as_deref(), Some("POST"));
        let forwarded_only = Original::of(
            &headers(&[
                ("x-forwarded-host", "a.example"),
                ("x-forwarded-uri", "/public"),
            ]),
            nginx,
        );
        assert_eq!(forwarded_only, Original::default());
    }

    #[test]
    fn original_request_from_forwarded_headers() {
        let found = RedirectStyle::Found;
        let o = Original::of(
            &headers(&[
                ("x-forwarded-proto", "http"),
                ("x-forwarded-host", "app.localhost:9000"),
                ("x-forwarded-uri", "/a?b=1"),
                ("x-forwarded-method", "GET"),
                // Never read at /auth/check: Caddy and Traefik pass a client's through.
                ("x-original-url", "https://app.localhost/public"),
            ]),
            found,
        );
        assert_eq!(o.url.as_deref(), Some("http://app.localhost:9000/a?b=1"));
        let unknown = Original::of(&headers(&[]), found);
        assert_eq!(unknown, Original::default());
        let no_scheme = Original::of(
            &headers(&[
                ("x-forwarded-host", "app.example.com"),
                ("x-forwarded-uri", "/x"),
            ]),
            found,
        );
        assert_eq!(no_scheme.url.as_deref(), Some("https://app.example.com/x"));
    }

    #[test]
    fn only_page_loads_are_navigations() {
        let o = Original::default();
        assert!(o.is_navigation(&headers(&[("sec-fetch-mode", "navigate")])));
        assert!(o.is_navigation(&headers(&[("accept", "text/html,*/*")])));
        assert!(!o.is_navigation(&headers(&[("accept", "application/json")])));
        assert!(!o.is_navigation(&headers(&[
            ("sec-fetch-mode", "cors"),
            ("accept", "text/html")
        ])));
        assert!(!o.is_navigation(&headers(&[
            ("accept", "text/html"),
            ("x-tsuzuki-background", "1")
        ])));
        let post = Original {
            method: Some("POST".into()),
            ..Original::default()
        };
        assert!(!post.is_navigation(&headers(&[("accept", "text/html")])));
    }

    fn session_of(email: &str) -> ActiveSession {
        use tsuzuki_core::clock::Timestamp;
        use tsuzuki_core::session::{AuthMethod, Deadlines};
        ActiveSession {
            id_hash: tsuzuki_core::token::TokenHash([7; 32]),
            identity: std::sync::Arc::new(crate::sessions::Identity {
                handle: "h-1".into(),
                user_id: "u-1".into(),
                email: email.into(),
                auth_time: Timestamp(1_700_000_000),
                methods: vec![AuthMethod::Password, AuthMethod::Totp],
                method_codes: "pwd,totp".into(),
                remembered: false,
                remember_handle: None,
                answer_headers: std::sync::OnceLock::new(),
            }),
            deadlines: Deadlines {
                idle_expires_at: Timestamp(1_700_001_800),
                expires_at: Timestamp(1_700_043_200),
            },
        }
    }

    /// Each identity value in its own header, whole.
    #[test]
    fn identity_headers_carry_each_value_whole() {
        let r = identity_response(&session_of("alice@example.com"), false).unwrap();
        let h = r.headers();
        assert_eq!(h[USER_ID], "u-1");
        assert_eq!(h[SESSION], "h-1");
        assert_eq!(h[METHODS], "pwd,totp");
        assert_eq!(h[AUTH_TIME], "1700000000");
        assert_eq!(h[EMAIL], "alice@example.com");
        assert_eq!(h[REMEMBERED], "false");
    }

    /// A yes carries the security headers of an answer without a body, HSTS only with https
    /// (SEC-23, SEC-24, SEC-63), and no identity header is left with the template's empty value.
    #[test]
    fn a_yes_carries_the_security_headers_and_every_identity_value() {
        for https in [false, true] {
            let r = identity_response(&session_of("alice@example.com"), https).unwrap();
            let h = r.headers();
            assert_eq!(h[header::CACHE_CONTROL], "no-store");
            assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
            assert_eq!(h[header::REFERRER_POLICY], "no-referrer");
            assert!(
                h[header::CONTENT_SECURITY_POLICY]
                    .to_str()
                    .unwrap()
                    .starts_with("default-src 'none'")
            );
            assert_eq!(h.contains_key(header::STRICT_TRANSPORT_SECURITY), https);
            assert_eq!(h.len(), IDENTITY.len() + 4 + usize::from(https));
            for name in IDENTITY {
                assert_eq!(h.get_all(&name).iter().count(), 1, "{name}");
                assert!(
                    !h[&name].is_empty(),
                    "{name} kept the template's empty value"
                );
            }
        }
    }

    /// Filling a map whose order is not the template's still puts every value under its own
    /// name: the slots are checked by name, and what they do not take is inserted.
    #[test]
    fn identity_values_land_under_their_names_in_any_order() {
        let values = || IDENTITY.map(|n| HeaderValue::from_str(&format!("v-{n}")).unwrap());
        let mut orders: Vec<Vec<HeaderName>> = vec![
            IDENTITY.iter().rev().cloned().collect(),
            vec![header::CACHE_CONTROL, USER_ID, SESSION],
            IDENTITY[..3].to_vec(),
            vec![],
        ];
        orders.push([&IDENTITY[..2], &[header::CACHE_CONTROL], &IDENTITY[2..]].concat());
        for order in orders {
            let mut h = HeaderMap::new();
            for name in &order {
                h.insert(name.clone(), HeaderValue::from_static(""));
            }
            fill_identity(&mut h, values());
            for name in IDENTITY {
                assert_eq!(h.get_all(&name).iter().count(), 1, "{order:?}: {name}");
                assert_eq!(h[&name], format!("v-{name}").as_str(), "{order:?}");
            }
            if order.contains(&header::CACHE_CONTROL) {
                assert_eq!(
                    h[header::CACHE_CONTROL],
                    "",
                    "{order:?}: not an identity header"
                );
            }
        }
    }

    /// A header value must be visible ASCII: an internationalised address is percent-encoded
    /// (its UTF-8 bytes would otherwise reach the application as obs-text), never dropped.
    #[test]
    fn an_internationalised_email_is_percent_encoded() {
        let r = identity_response(&session_of("ユキ@例え.jp"), false).unwrap();
        assert_eq!(
            r.headers()[EMAIL],
            "%E3%83%A6%E3%82%AD@%E4%BE%8B%E3%81%88.jp"
        );
        let r = identity_response(&session_of("a%b@example.com"), false).unwrap();
        assert_eq!(r.headers()[EMAIL], "a%b@example.com", "already header text");
        // Once encoding, space and `%` are encoded too, so that the value decodes back whole.
        let r = identity_response(&session_of("ユ %@例.jp"), false).unwrap();
        assert_eq!(r.headers()[EMAIL], "%E3%83%A6%20%25@%E4%BE%8B.jp");
    }

    /// The values a session's answers clone are slices of one buffer, in order, so a check
    /// touches one reference count's cache line and not five (docs/benchmarks.md).
    #[test]
    fn a_sessions_identity_values_share_one_buffer() {
        let s = session_of("alice@example.com");
        let first = identity_response(&s, false).unwrap();
        let h = first.headers();
        let values = [USER_ID, SESSION, METHODS, AUTH_TIME, EMAIL].map(|n| h[n].as_bytes());
        for pair in values.windows(2) {
            assert_eq!(pair[0].as_ptr_range().end, pair[1].as_ptr(), "{pair:?}");
        }
        // The next answer clones the cached values: the same bytes, not a copy.
        let next = identity_response(&s, false).unwrap();
        assert_eq!(
            next.headers()[USER_ID].as_bytes().as_ptr(),
            values[0].as_ptr()
        );
    }
}
