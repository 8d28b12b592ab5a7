//! The HTTP adapter: routes, middleware and the state handlers share.
//!
//! Layers, from the outside in: response counting → security headers → error rendering → panic
//! catching → request timeout → Origin/Sec-Fetch-Site CSRF check → body size limit → routes.

pub mod account;
pub mod admin;
pub mod api;
pub mod client;
pub mod context;
pub mod cookies;
pub mod csrf;
pub mod demo;
pub mod drafts;
pub mod error;
pub mod flows;
pub mod forward_auth;
pub mod history;
pub mod i18n;
pub mod openapi;
pub mod ops;
pub mod pages;
pub mod recovery;
pub mod security;
pub mod templates;

use crate::account::Account;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::remember::RememberMe;
use crate::sessions::{Rejection, Sessions};
use crate::signin::SignIn;
use axum::Router;
use axum::extract::State;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use cookies::CookieSettings;
use csrf::CsrfTokens;
use error::AppError;
use i18n::Lang;
use std::sync::{Arc, LazyLock};
use templates::Templates;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::csrf::CsrfLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tsuzuki_core::session::Activity;
use tsuzuki_store::Store;

/// Requests carrying this header (value `1` or `true`) are background work — polling, keep-alive
/// checks — and never extend the session's idle window (S2, SEC-11).
// A `HeaderName`, not a `&str`: a lookup by string parses and validates the name on every
// request (measured: 360 instructions of each session check).
pub const BACKGROUND_HEADER: HeaderName = HeaderName::from_static("x-tsuzuki-background");

/// Everything handlers share, behind one `Arc`: axum clones the state into every extractor and
/// layer of every request, so a clone must be one reference-count increment, not a copy of every
/// service (measured: cloning the unshared struct was a fifth of `/auth/check`'s instructions).
#[derive(Clone)]
pub struct AppState(Arc<Services>);

impl AppState {
    pub fn new(services: Services) -> Self {
        AppState(Arc::new(services))
    }
}

impl std::ops::Deref for AppState {
    type Target = Services;
    fn deref(&self) -> &Services {
        &self.0
    }
}

/// The services behind [`AppState`].
pub struct Services {
    pub config: Arc<Config>,
    pub store: Arc<dyn Store>,
    pub sessions: Sessions,
    pub signin: SignIn,
    pub metrics: Arc<Metrics>,
    pub csrf: CsrfTokens,
    pub cookies: Arc<CookieSettings>,
    pub templates: Arc<Templates>,
    pub remember: RememberMe,
    pub account: Account,
    pub sms: Arc<dyn crate::courier::SmsSender>,
    pub flows: crate::flows::Flows,
    pub factors: crate::factors::Factors,
    pub history: crate::history::LoginHistory,
    pub drafts: crate::drafts::Drafts,
}

impl AppState {
    /// Create an account with this server's hasher and password policy, as the admin API does
    /// (`operator::create_user`; the caller records the event).
    pub async fn create_user(
        &self,
        email: &str,
        password: String,
        now: tsuzuki_core::clock::Timestamp,
    ) -> Result<tsuzuki_store::User, crate::operator::OperatorError> {
        crate::operator::create_user(
            &*self.store,
            &self.signin.hasher,
            &self.account.password_policy,
            email,
            password,
            now,
        )
        .await
    }

    /// Where to send the browser after a sign-in or re-authentication: `candidate` when it is a
    /// local path or an absolute URL on an allowed host (SEC-16, issue #6), else `fallback`.
    pub fn return_target(&self, candidate: Option<&str>, fallback: &str) -> String {
        self.config.proxy.returns.check(candidate, fallback)
    }

    /// The error for a missing or dead session: 401 with the reason; 503 when the database is
    /// down (SEC-75). The request context has already queued any cookie deletion (SEC-21).
    pub fn rejection_error(&self, rejection: Rejection) -> AppError {
        match rejection {
            Rejection::Unavailable => AppError::unavailable("session store unavailable"),
            _ => AppError::unauthorized(rejection.code()),
        }
    }
}

/// Whether the request declares itself background work.
pub fn activity(headers: &HeaderMap) -> Activity {
    match headers.get(BACKGROUND_HEADER).and_then(|v| v.to_str().ok()) {
        Some("1") | Some("true") => Activity::Background,
        _ => Activity::User,
    }
}

/// The language of a request (switch cookie, then Accept-Language).
pub fn request_lang(headers: &HeaderMap) -> Lang {
    i18n::negotiate(
        cookies::read_cookie(headers, i18n::LANG_COOKIE),
        headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    )
}

/// A local return path (the language switch): never another host (no open redirect, SEC-16).
/// Anything else becomes `fallback`. Sign-in returns use [`AppState::return_target`].
pub fn safe_return_path(candidate: Option<&str>, fallback: &str) -> String {
    candidate
        .and_then(tsuzuki_core::return_to::local_path)
        .unwrap_or(fallback)
        .to_string()
}

pub fn router(state: AppState) -> Router {
    let config = state.config.clone();
    let csrf_layer = CsrfLayer::new()
        .add_trusted_origin(config.public_origin())
        .expect("public_url was validated at load");
    Router::new()
        .route("/", get(pages::index))
        .route(
            "/sign-in",
            get(pages::sign_in_page).post(pages::sign_in_submit),
        )
        .route("/sign-out", post(pages::sign_out))
        .route("/account", get(pages::account))
        .route("/lang/{code}", get(pages::switch_language))
        .route("/static/tsuzuki.css", get(pages::stylesheet))
        .route("/static/tsuzuki-client.js", get(pages::client_script))
        .route(
            "/static/tsuzuki-client-messages.json",
            get(pages::client_messages),
        )
        .route("/static/tsuzuki-copy.js", get(pages::copy_script))
        .route("/privacy", get(pages::privacy))
        .route("/account/devices", get(account::devices_page))
        .route(
            "/account/devices/revoke",
            post(account::revoke_device_submit),
        )
        .route(
            "/account/sign-out-everywhere",
            post(account::sign_out_everywhere_submit),
        )
        .route(
            "/account/password",
            get(account::password_page).post(account::password_submit),
        )
        .route(
            "/account/reauth",
            get(account::reauth_page).post(account::reauth_submit),
        )
        .route("/sign-in/flow/{id}", get(flows::page))
        .route("/sign-in/flow/{id}/verify", post(flows::page_verify))
        .route("/sign-in/flow/{id}/resend", post(flows::page_resend))
        .route("/sign-in/flow/{id}/method", post(flows::page_method))
        .route("/api/flows/{id}", get(flows::api_get))
        .route("/api/flows/{id}/verify", post(flows::api_verify))
        .route("/api/flows/{id}/resend", post(flows::api_resend))
        .route("/api/flows/{id}/method", post(flows::api_method))
        .route("/api/history", get(history::api_history))
        .route("/account/history", get(history::page))
        .route(
            "/not-me/{token}",
            get(history::not_me_page).post(history::not_me_submit),
        )
        .route(
            "/recover",
            get(recovery::recover_page).post(recovery::recover_submit),
        )
        .route("/api/recover", post(recovery::api_recover))
        .route(
            "/register",
            get(recovery::register_page).post(recovery::register_submit),
        )
        .route("/api/register", post(recovery::api_register))
        .route(
            "/sign-in/flow/{id}/password",
            post(recovery::password_submit),
        )
        .route("/api/flows/{id}/password", post(recovery::api_password))
        .route("/api/drafts", get(drafts::list))
        .route(
            "/api/drafts/{*key}",
            get(drafts::get).put(drafts::save).delete(drafts::delete),
        )
        .route("/demo/inquiry", get(demo::page).post(demo::submit))
        .route("/account/security", get(security::page))
        .route("/account/security/totp", post(security::totp_begin_submit))
        .route("/account/security/totp/{id}", get(security::totp_page))
        .route(
            "/account/security/totp/{id}/confirm",
            post(security::totp_confirm_submit),
        )
        .route(
            "/account/security/code-factor",
            post(security::code_factor_submit),
        )
        .route("/account/security/remove", post(security::remove_submit))
        .route(
            "/account/security/recovery-codes",
            post(security::recovery_codes_submit),
        )
        .route("/api/factors", get(security::api_list))
        .route("/api/factors/totp", post(security::api_totp_begin))
        .route(
            "/api/factors/totp/{id}/confirm",
            post(security::api_totp_confirm),
        )
        .route("/api/factors/code", post(security::api_code_factor))
        .route("/api/factors/{id}/remove", post(security::api_remove))
        .route("/api/recovery-codes", post(security::api_recovery_codes))
        .route("/api/devices", get(account::api_devices))
        .route("/api/devices/revoke", post(account::api_revoke_device))
        .route(
            "/api/sign-out-everywhere",
            post(account::api_sign_out_everywhere),
        )
        .route("/api/password", post(account::api_change_password))
        .route("/api/reauth", post(account::api_reauth))
        .route(
            "/api/admin/users",
            get(admin::list_users).post(admin::create_user),
        )
        .route("/api/admin/users/{user}", get(admin::get_user))
        .route("/api/admin/users/{user}/tokens", get(admin::tokens_of_user))
        .route(
            "/api/admin/users/{user}/sessions",
            get(admin::sessions_of_user),
        )
        .route("/api/admin/users/{user}/disable", post(admin::disable_user))
        .route("/api/admin/users/{user}/enable", post(admin::enable_user))
        .route(
            "/api/admin/users/{user}/reset-factors",
            post(admin::reset_factors),
        )
        .route("/api/admin/users/{user}/revoke", post(admin::revoke_user))
        .route(
            "/api/admin/sessions/{handle}/revoke",
            post(admin::revoke_session),
        )
        .route("/api/admin/revoke", post(admin::revoke))
        .route("/api/admin/events", get(admin::events))
        .route("/api/openapi.json", get(openapi::document))
        .route("/api/sign-in", post(api::sign_in))
        .route("/api/sign-out", post(api::sign_out))
        .route("/api/session", get(api::session))
        .route("/api/session/extend", post(api::extend))
        .route("/auth/check", get(forward_auth::check))
        .route("/auth/request", get(forward_auth::request))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .fallback(|| async { AppError::not_found() })
        .layer(middleware::from_fn(api::require_json_for_api_writes))
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        .layer(RequestBodyLimitLayer::new(config.max_body_bytes))
        .layer(csrf_layer)
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            config.request_timeout,
        ))
        .layer(CatchPanicLayer::custom(|_| {
            use axum::response::IntoResponse;
            AppError::internal("handler panicked").into_response()
        }))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            context::with_context,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), frame))
        .with_state(state)
}

/// The outermost layer: error bodies (one renderer for every error, SEC-64), the headers every
/// response carries (SEC-63), and the response count by status class. One middleware rather than
/// three: each layer boxes the request's future, and this is the hot path.
async fn frame(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let errors = error::ErrorContext::of(&request);
    let response = next.run(request).await;
    let mut response = errors.render(&state.templates, response, state.sessions.now());
    finish_response(&state, &mut response);
    response
}

/// What every response of the router gets on its way out: its security headers (SEC-63) and
/// its count. A [`BodilessAnswer`] was built with its own headers and is only counted.
pub fn finish_response(state: &AppState, response: &mut Response) {
    if response.extensions().get::<BodilessAnswer>().is_none() {
        security_headers(response, state.config.is_https());
    }
    state.metrics.count_response(response.status().as_u16());
}

/// Visible ASCII, spaces and tabs: a header value that every proxy and HTTP client passes on
/// unchanged. (`HeaderValue::from_str` also accepts bytes above 127, obs-text, which some
/// mangle and others refuse.)
pub fn is_header_text(s: &str) -> bool {
    s.bytes().all(|b| b == b'\t' || (b' '..=b'~').contains(&b))
}

/// Marks a forward-auth yes (`/auth/check`, `/auth/request`): an answer without a body, read by
/// a proxy or a host application and never rendered, built from [`bodiless_answer_headers`].
#[derive(Debug, Clone, Copy)]
pub struct BodilessAnswer;

/// The security headers of a [`BodilessAnswer`]: what still means something for a response
/// without content — no caching (SEC-23), no sniffing, no referrer, a CSP that allows nothing at
/// all (so no framing either, SEC-63), HSTS (SEC-24) — and not the headers that only govern a
/// rendered document's windows and embedding (X-Frame-Options, COOP, CORP), nor the page CSP's
/// list of what a page may load. Measured: the check is the hot path, and each header costs it
/// a map insert and its bytes on the wire (docs/benchmarks.md). Built once per scheme: an
/// answer copies the map instead of filling one.
pub fn bodiless_answer_headers(https: bool) -> &'static HeaderMap {
    static PLAIN: LazyLock<HeaderMap> = LazyLock::new(|| bodiless_headers_for(false));
    static HTTPS: LazyLock<HeaderMap> = LazyLock::new(|| bodiless_headers_for(true));
    if https { &HTTPS } else { &PLAIN }
}

fn bodiless_headers_for(https: bool) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        ),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers_for_every_response(&mut h, https);
    h
}

/// What every response carries, whatever it is: no sniffing, no referrer, HSTS with https.
fn headers_for_every_response(h: &mut HeaderMap, https: bool) {
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if https {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
}

const HSTS: &str = "max-age=31536000; includeSubDomains";

// Header names built at compile time (parsing them per response showed up in profiles).
const COOP: HeaderName = HeaderName::from_static("cross-origin-opener-policy");
const CORP: HeaderName = HeaderName::from_static("cross-origin-resource-policy");

/// A strict CSP with no inline script (scripts and their requests from tsuzuki's own origin
/// only: the browser client), no framing, no sniffing, no referrer, and no caching unless a
/// handler chose otherwise (SEC-23); HSTS with https.
fn security_headers(response: &mut Response, https: bool) {
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; \
             img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; \
             object-src 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(COOP, HeaderValue::from_static("same-origin"));
    h.insert(CORP, HeaderValue::from_static("same-origin"));
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    headers_for_every_response(h, https);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_paths_stay_local() {
        assert_eq!(safe_return_path(Some("/account?x=1"), "/"), "/account?x=1");
        for bad in [
            "//evil.example",
            "https://evil.example",
            "/\\evil.example",
            "evil",
            "/a\nb",
            "",
        ] {
            assert_eq!(
                safe_return_path(Some(bad), "/account"),
                "/account",
                "{bad:?}"
            );
        }
        assert_eq!(safe_return_path(None, "/account"), "/account");
    }
}
