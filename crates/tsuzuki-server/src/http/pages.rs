//! Server-rendered pages: sign-in, account, sign-out, language switch, privacy. They work without
//! JavaScript; every form carries a CSRF token.

use super::api::SignInOutcome;
use super::context::Ctx;
use super::csrf::CsrfTokens;
use super::error::{AppError, Rendered, messages};
use super::{AppState, activity, cookies, request_lang, safe_return_path};
use crate::sessions::{ActiveSession, Rejection};
use crate::signin::SignInError;
use axum::Form;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use minijinja::context;
use serde::Deserialize;
use tsuzuki_core::clock::Timestamp;
use tsuzuki_core::session::Activity;

pub const HOME: &str = "/account";

pub async fn index(Ctx(ctx): Ctx) -> Response {
    match ctx.session(Activity::Background).await {
        Ok(_) => Redirect::to(HOME).into_response(),
        Err(_) => Redirect::to("/sign-in").into_response(),
    }
}

#[derive(Deserialize)]
pub struct SignInQuery {
    return_to: Option<String>,
    signed_out: Option<String>,
    /// The identifier to fill in: a restarted flow keeps what the person typed (S7).
    email: Option<String>,
    /// `reset`: a password reset was just completed (issue #4 item 8).
    notice: Option<String>,
}

pub async fn sign_in_page(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    headers: HeaderMap,
    uri: Uri,
    Query(q): Query<SignInQuery>,
) -> Result<Response, AppError> {
    let return_to = state.return_target(q.return_to.as_deref(), HOME);
    if q.signed_out.is_none() && ctx.session(activity(&headers)).await.is_ok() {
        return Ok(Redirect::to(&return_to).into_response());
    }
    let lang = request_lang(&headers);
    let notice = match (q.signed_out, q.notice.as_deref()) {
        (Some(_), _) => Some(lang.t("sign-in-signed-out")),
        (None, Some("reset")) => Some(lang.t("sign-in-password-reset")),
        _ => None,
    };
    let email: String = q.email.unwrap_or_default().chars().take(320).collect();
    let form = SignInView {
        return_to: &return_to,
        email: email.trim(),
        remember: false,
        notice,
        error: None,
    };
    render_sign_in(&state, &headers, uri.path(), form, StatusCode::OK)
}

/// What the sign-in form shows.
pub struct SignInView<'a> {
    pub return_to: &'a str,
    pub email: &'a str,
    pub remember: bool,
    pub notice: Option<String>,
    pub error: Option<&'a AppError>,
}

/// Render the sign-in form, creating the anonymous CSRF cookie if the browser has none.
pub fn render_sign_in(
    state: &AppState,
    headers: &HeaderMap,
    path: &str,
    view: SignInView<'_>,
    status: StatusCode,
) -> Result<Response, AppError> {
    let lang = request_lang(headers);
    let existing = cookies::read_cookie(headers, &state.cookies.csrf).filter(|v| v.len() == 43);
    let (cookie_value, set_cookie) = match existing {
        Some(v) => (v.to_string(), None),
        None => {
            let v = CsrfTokens::new_anonymous_cookie();
            let header = state.cookies.set_csrf(&v);
            (v, Some(header))
        }
    };
    let error_ctx = error_context(lang, view.error);
    let html = state.templates.render(
        "sign_in.html",
        lang,
        path,
        context! {
            csrf => state.csrf.for_anonymous(&cookie_value),
            return_to => view.return_to,
            email => view.email,
            remember => view.remember,
            notice => view.notice,
            error => error_ctx,
            registration => state.flows.config.registration_enabled,
        },
    )?;
    let mut response = (status, Html(html)).into_response();
    response.extensions_mut().insert(Rendered);
    if let Some(h) = set_cookie {
        response.headers_mut().append(header::SET_COOKIE, h);
    }
    if let Some(secs) = view.error.and_then(|e| e.retry_after) {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    Ok(response)
}

#[derive(Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
    return_to: Option<String>,
    /// The "keep me signed in" checkbox: present (any value) when ticked (R1).
    remember: Option<String>,
}

pub async fn sign_in_submit(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Result<Response, AppError> {
    let Some(cookie_value) = cookies::read_cookie(&headers, &state.cookies.csrf) else {
        // No anonymous cookie came back: cookies are blocked (S12). Say so plainly.
        return Err(AppError::bad_request("cookies_required"));
    };
    if !CsrfTokens::matches(&state.csrf.for_anonymous(cookie_value), &form.csrf) {
        return Err(AppError::forbidden("csrf_failed"));
    }
    let return_to = state.return_target(form.return_to.as_deref(), HOME);
    let remember = form.remember.is_some();
    let outcome = super::api::password_sign_in(
        &state,
        &ctx,
        &form.email,
        form.password,
        remember,
        &return_to,
    )
    .await;
    match outcome {
        Ok(SignInOutcome::SignedIn(_)) => Ok(Redirect::to(&return_to).into_response()),
        Ok(SignInOutcome::SecondFactor { flow_id, .. }) => {
            Ok(Redirect::to(&super::flows::flow_path(&flow_id)).into_response())
        }
        Err(error) => {
            let status = error.status;
            if status == StatusCode::SERVICE_UNAVAILABLE || status.is_server_error() {
                return Err(error);
            }
            // Credentials problems re-show the form (email and checkbox kept, never the password).
            let view = SignInView {
                return_to: &return_to,
                email: form.email.trim(),
                remember,
                notice: None,
                error: Some(&error),
            };
            render_sign_in(&state, &headers, "/sign-in", view, status)
        }
    }
}

/// The HTTP form of a sign-in failure.
pub fn sign_in_error(e: SignInError) -> (StatusCode, AppError) {
    let err = match e {
        SignInError::InvalidInput(code) => AppError::bad_request(code),
        SignInError::InvalidCredentials => AppError::unauthorized("invalid_credentials"),
        SignInError::Throttled { retry_after } => AppError::throttled(retry_after),
        SignInError::Busy => AppError::busy(),
        SignInError::Unavailable => AppError::unavailable("sign-in dependency failed"),
    };
    (err.status, err)
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub csrf: String,
}

pub async fn sign_out(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Form(form): Form<CsrfForm>,
) -> Result<Response, AppError> {
    match ctx.session(Activity::User).await {
        Ok(session) => {
            if !CsrfTokens::matches(&state.csrf.for_session(&session.id_hash), &form.csrf) {
                return Err(AppError::forbidden("csrf_failed"));
            }
            super::api::end_this_device(&state, &ctx, Some(&session)).await?;
        }
        Err(Rejection::Unavailable) => return Err(state.rejection_error(Rejection::Unavailable)),
        // Already signed out or expired: signing out again is not an error.
        Err(_) => super::api::end_this_device(&state, &ctx, None).await?,
    }
    Ok(Redirect::to("/sign-in?signed_out=1").into_response())
}

/// The message, hint and code of a form's error, for its template.
pub fn error_context(
    lang: super::i18n::Lang,
    error: Option<&AppError>,
) -> Option<minijinja::Value> {
    error.map(|e| {
        let (message, hint) = messages(lang, e);
        context! { message => message, hint => hint, code => e.code }
    })
}

/// Extractor for page handlers: the request's session, or (as the rejection) a redirect to the
/// sign-in page that comes back here — or a 503 page if the store is down.
pub struct PageSession(pub ActiveSession);

impl FromRequestParts<AppState> for PageSession {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let ctx = match Ctx::from_request_parts(parts, state).await {
            Ok(Ctx(ctx)) => ctx,
            Err(never) => match never {},
        };
        page_session(state, &ctx, &parts.headers, &parts.uri)
            .await
            .map(PageSession)
    }
}

/// The session of a page request, or a redirect to the sign-in page that comes back here.
pub async fn page_session(
    state: &AppState,
    ctx: &super::context::RequestContext,
    headers: &HeaderMap,
    uri: &Uri,
) -> Result<ActiveSession, Response> {
    match ctx.session(activity(headers)).await {
        Ok(s) => Ok(s),
        Err(Rejection::Unavailable) => Err(state
            .rejection_error(Rejection::Unavailable)
            .into_response()),
        Err(_) => {
            let back = uri
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or(uri.path());
            let target = format!("/sign-in?return_to={}", urlencode(back));
            Err(Redirect::to(&target).into_response())
        }
    }
}

#[derive(Deserialize)]
pub struct AccountQuery {
    done: Option<String>,
}

pub async fn account(
    State(state): State<AppState>,
    PageSession(session): PageSession,
    headers: HeaderMap,
    uri: Uri,
    Query(q): Query<AccountQuery>,
) -> Result<Response, AppError> {
    let lang = request_lang(&headers);
    let html = state.templates.render(
        "account.html",
        lang,
        uri.path(),
        context! {
            email => &session.email,
            remembered => session.remembered,
            auth_time => human_time(session.auth_time),
            auth_time_iso => iso_time(session.auth_time),
            idle_expires => human_time(session.deadlines.idle_expires_at),
            idle_expires_iso => iso_time(session.deadlines.idle_expires_at),
            expires => human_time(session.deadlines.expires_at),
            expires_iso => iso_time(session.deadlines.expires_at),
            csrf => state.csrf.for_session(&session.id_hash),
            notice => (q.done.as_deref() == Some("password")).then(|| lang.t("account-password-changed")),
            demo => state.config.demo,
        },
    )?;
    Ok(Html(html).into_response())
}

#[derive(Deserialize)]
pub struct LangQuery {
    return_to: Option<String>,
}

pub async fn switch_language(
    State(state): State<AppState>,
    Path(code): Path<String>,
    Query(q): Query<LangQuery>,
) -> Response {
    let target = safe_return_path(q.return_to.as_deref(), "/sign-in");
    let mut response = Redirect::to(&target).into_response();
    if let Some(lang) = super::i18n::Lang::from_code(&code) {
        response
            .headers_mut()
            .append(header::SET_COOKIE, state.cookies.set_lang(lang.code()));
    }
    response
}

/// Every cookie tsuzuki sets, its purpose and lifetime (R13).
pub async fn privacy(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, AppError> {
    let lang = request_lang(&headers);
    let c = &state.cookies;
    let days = state.config.remember.lifetime.as_secs() / 86_400;
    let html = state.templates.render(
        "privacy.html",
        lang,
        uri.path(),
        context! {
            session_cookie => &c.session,
            remember_cookie => &c.remember,
            csrf_cookie => &c.csrf,
            lang_cookie => super::i18n::LANG_COOKIE,
            browser_cookie => &c.browser,
            trusted_cookie => &c.trusted,
            trusted_days => (state.flows.config.trusted_device_lifetime.as_secs() / 86_400).to_string(),
            remember_days => days.to_string(),
        },
    )?;
    Ok(Html(html).into_response())
}

/// A static file compiled into the binary, cached by browsers for an hour.
fn static_file(body: &'static str, content_type: &'static str) -> Response {
    let mut response = body.into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    response
}

pub async fn stylesheet() -> Response {
    static_file(
        include_str!("../../static/tsuzuki.css"),
        "text/css; charset=utf-8",
    )
}

/// The browser client (issue #5 item 2, docs/browser-client.md): one plain script, no build step.
pub async fn client_script() -> Response {
    static_file(
        include_str!("../../static/tsuzuki-client.js"),
        "text/javascript; charset=utf-8",
    )
}

/// The error pages' "copy details for support" button (S11).
pub async fn copy_script() -> Response {
    static_file(
        include_str!("../../static/tsuzuki-copy.js"),
        "text/javascript; charset=utf-8",
    )
}

fn datetime(t: Timestamp) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::from_unix_timestamp(t.0).ok()
}

/// `2026-11-22 14:05:00 UTC`: unambiguous in both languages.
pub fn human_time(t: Timestamp) -> String {
    let fmt =
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    datetime(t)
        .and_then(|d| d.format(&fmt).ok())
        .unwrap_or_default()
}

pub fn iso_time(t: Timestamp) -> String {
    datetime(t)
        .and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
