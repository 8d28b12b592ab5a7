//! The login history over HTTP (S10): `GET /api/history` and the page `/account/history`; and
//! the "this wasn't me" link of a new-device notice: `GET /not-me/{token}` only asks (a mail
//! client's link prefetcher must not end anything), `POST /not-me/{token}` ends every session,
//! remembered device and trusted device of the account and sends the person on to reset their
//! password.

use super::account::api_session;
use super::context::Ctx;
use super::csrf::CsrfTokens;
use super::error::{AppError, ErrorBody, Rendered};
use super::i18n::Lang;
use super::openapi::Errors;
use super::pages::{CsrfForm, PageSession, human_time, iso_time, urlencode};
use super::{AppState, cookies, request_lang};
use crate::history::{HistoryEntry, MAX_ENTRIES};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Form, Json};
use minijinja::context;
use serde::{Deserialize, Serialize};
use tsuzuki_core::clock::Timestamp;

#[derive(Serialize, utoipa::ToSchema)]
pub struct HistoryBody {
    /// Newest first.
    pub entries: Vec<HistoryEntry>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// How many entries (1..=200, default 100; others are brought into that range).
    limit: Option<i64>,
}

/// The signed-in person's own sign-in attempts, newest first (S10).
#[utoipa::path(get, path = "/api/history", tag = "account",
    params(HistoryQuery),
    responses(
        (status = 200, description = "The account's own sign-in attempts, newest first", body = HistoryBody),
        (status = 401, description = "No live session: `not_signed_in`, `session_invalid`, `session_revoked`, `idle_timeout`, `absolute_timeout`", body = ErrorBody),
        Errors,
    ),
    security(("session_cookie" = [])))]
pub async fn api_history(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Query(q): Query<HistoryQuery>,
) -> Result<Json<HistoryBody>, AppError> {
    let s = api_session(&state, &ctx).await?;
    let entries = state
        .history
        .of_user(&s.user_id, q.limit.unwrap_or(100).clamp(1, MAX_ENTRIES))
        .await?;
    Ok(Json(HistoryBody { entries }))
}

/// A catalogue label for `prefix-code`, or the code itself when there is none (an outcome
/// added later still shows).
fn label(lang: Lang, prefix: &str, code: &str) -> String {
    let key = format!("{prefix}-{code}");
    if lang.has(&key) {
        lang.t(&key)
    } else {
        code.to_string()
    }
}

pub async fn page(
    State(state): State<AppState>,
    PageSession(s): PageSession,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let lang = request_lang(&headers);
    let entries: Vec<_> = state
        .history
        .of_user(&s.user_id, MAX_ENTRIES)
        .await?
        .into_iter()
        .map(|e| {
            let methods: Vec<String> = e
                .methods
                .iter()
                .map(|m| label(lang, "history-method", m))
                .collect();
            context! {
                time => human_time(Timestamp(e.at)),
                time_iso => iso_time(Timestamp(e.at)),
                methods => methods.join(" + "),
                success => e.outcome == "success",
                outcome => label(lang, "history-outcome", &e.outcome),
                ip => e.ip,
                device => e.device,
                new_device => e.new_device,
                suspicious => e.suspicious,
            }
        })
        .collect();
    let days = state.history.retention.as_secs() / 86_400;
    let html = state.templates.render(
        "history.html",
        lang,
        "/account/history",
        context! { entries => entries, days => days.to_string() },
    )?;
    Ok(Html(html).into_response())
}

/// The account a "this wasn't me" link names, or the one error every bad link gets: forged,
/// older than a week, or for an account that no longer exists.
async fn link_owner(state: &AppState, token: &str) -> Result<tsuzuki_store::User, AppError> {
    let invalid = || AppError::bad_request("not_me_link_invalid");
    let user_id = state
        .history
        .not_me
        .verify(token, state.sessions.now())
        .ok_or_else(invalid)?;
    state.store.user_by_id(&user_id).await?.ok_or_else(invalid)
}

/// The confirmation page. Changes nothing: opening the link is not the report.
pub async fn not_me_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    link_owner(&state, &token).await?;
    let lang = request_lang(&headers);
    // The anonymous CSRF cookie of the sign-in form: the person has no session here.
    let existing = cookies::read_cookie(&headers, &state.cookies.csrf).filter(|v| v.len() == 43);
    let (cookie_value, set_cookie) = match existing {
        Some(v) => (v.to_string(), None),
        None => {
            let v = CsrfTokens::new_anonymous_cookie();
            let header = state.cookies.set_csrf(&v);
            (v, Some(header))
        }
    };
    let html = state.templates.render(
        "not_me.html",
        lang,
        "/not-me",
        context! {
            csrf => state.csrf.for_anonymous(&cookie_value),
            // Verified above: base64url and a dot, nothing to escape.
            token => &token,
        },
    )?;
    let mut response = (StatusCode::OK, Html(html)).into_response();
    response.extensions_mut().insert(Rendered);
    if let Some(h) = set_cookie {
        response.headers_mut().append(header::SET_COOKIE, h);
    }
    Ok(response)
}

/// The report (S10): every session, remembered device and trusted device of the account ends;
/// then on to a password reset for the account's address.
pub async fn not_me_submit(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    headers: HeaderMap,
    Path(token): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, AppError> {
    let Some(cookie_value) = cookies::read_cookie(&headers, &state.cookies.csrf) else {
        return Err(AppError::bad_request("cookies_required"));
    };
    if !CsrfTokens::matches(&state.csrf.for_anonymous(cookie_value), &form.csrf) {
        return Err(AppError::forbidden("csrf_failed"));
    }
    let user = link_owner(&state, &token).await?;
    let reported = crate::not_me::report(
        &state.remember,
        &state.account.audit,
        &user.id,
        ctx.client(),
        state.sessions.now(),
    )
    .await?;
    tracing::info!(
        user = %user.id,
        sessions = reported.sessions,
        remembered = reported.remembered,
        "sign-in reported as not the account holder's"
    );
    // This browser's cookies are left alone: those of this account are dead on the server now
    // (and cleared on their next use), those of another account are not this link's business.
    Ok(Redirect::to(&format!("/recover?email={}", urlencode(&user.email))).into_response())
}
