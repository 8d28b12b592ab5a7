//! The JSON API: sign-in, sign-out, the session endpoint and explicit extension.
//!
//! Writes require `Content-Type: application/json`. A browser cannot send that cross-site without
//! a CORS preflight, which tsuzuki never approves, so together with the Origin/Sec-Fetch-Site
//! check this stops cross-site requests to the API (SEC-61).

use super::AppState;
use super::context::{Ctx, RequestContext};
use super::error::AppError;
use super::pages::sign_in_error;
use crate::sessions::{ActiveSession, Rejection};
use crate::signin::SignInError;
use axum::Json;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tsuzuki_core::session::Activity;
use tsuzuki_core::token::SecretToken;

/// What the session endpoint returns: who, since when, until when, how (SEC-12, SEC-70). Times
/// are Unix seconds; `now` is the server's clock, so clients can correct their own.
#[derive(Serialize)]
pub struct SessionInfo {
    pub user: UserInfo,
    pub session: SessionHandle,
    pub authenticated_at: i64,
    pub idle_expires_at: i64,
    pub expires_at: i64,
    pub methods: Vec<&'static str>,
    pub remembered: bool,
    pub now: i64,
}

#[derive(Serialize)]
pub struct UserInfo {
    pub id: String,
    pub email: String,
}

#[derive(Serialize)]
pub struct SessionHandle {
    pub handle: String,
}

impl SessionInfo {
    pub fn new(s: &ActiveSession, now: i64) -> Self {
        SessionInfo {
            user: UserInfo {
                id: s.user_id.clone(),
                email: s.email.clone(),
            },
            session: SessionHandle {
                handle: s.handle.clone(),
            },
            authenticated_at: s.auth_time.0,
            idle_expires_at: s.deadlines.idle_expires_at.0,
            expires_at: s.deadlines.expires_at.0,
            methods: s.methods.iter().map(|m| m.code()).collect(),
            remembered: s.remembered,
            now,
        }
    }
}

/// Refuse API writes that are not JSON (415), before any handler runs.
pub async fn require_json_for_api_writes(request: Request, next: Next) -> Response {
    let write = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if write && request.uri().path().starts_with("/api/") {
        let json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
        if !json {
            return AppError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
                .into_response();
        }
    }
    next.run(request).await
}

#[derive(Deserialize)]
pub struct SignInBody {
    email: String,
    password: String,
    /// "Keep me signed in" (R1); off unless asked for.
    #[serde(default)]
    remember: bool,
}

/// Sign in and set the cookies: the new session, and a remember-me family if asked for. Shared by
/// the page and the API. Every factor the account needs has succeeded when this runs (today the
/// password is the only one), so the remember token is never issued half-way (SEC-26).
pub async fn complete_sign_in(
    state: &AppState,
    ctx: &RequestContext,
    email: &str,
    password: String,
    remember: bool,
) -> Result<ActiveSession, SignInError> {
    let previous = ctx
        .session_cookie()
        .and_then(SecretToken::parse)
        .map(|t| t.hash());
    let (token, session) = state
        .signin
        .sign_in(email, password, ctx.client(), previous)
        .await?;
    ctx.set_cookie(state.cookies.set_session(&token.encode()));
    if remember {
        // A family this browser already had is replaced, not left to linger.
        if let Some(old) = ctx.remember_cookie() {
            state.remember.revoke_cookie(old).await?;
        }
        let issued = state.remember.issue(&session, ctx.client()).await?;
        ctx.set_cookie(state.cookies.set_remember(&issued.cookie, issued.max_age));
    }
    Ok(session)
}

/// End what this browser holds: its session and its remember-me family (R6, SEC-37); clear both
/// cookies.
pub async fn end_this_device(
    state: &AppState,
    ctx: &RequestContext,
    session: Option<&ActiveSession>,
) -> Result<(), AppError> {
    if let Some(session) = session {
        state.sessions.sign_out(session, ctx.client()).await?;
    }
    if let Some(cookie) = ctx.remember_cookie() {
        state.remember.revoke_cookie(cookie).await?;
    }
    ctx.set_cookie(state.cookies.clear_session());
    ctx.set_cookie(state.cookies.clear_remember());
    Ok(())
}

pub async fn sign_in(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Json(body): Json<SignInBody>,
) -> Result<Response, AppError> {
    let session = complete_sign_in(&state, &ctx, &body.email, body.password, body.remember)
        .await
        .map_err(|e| sign_in_error(e).1)?;
    // The token travels only in Set-Cookie, never in the body (SEC-18).
    Ok(Json(SessionInfo::new(&session, state.sessions.now().0)).into_response())
}

/// Sign out: ends the session and this device's remembered sign-in on the server and clears the
/// cookies. Idempotent (SEC-37).
pub async fn sign_out(State(state): State<AppState>, Ctx(ctx): Ctx) -> Result<Response, AppError> {
    match ctx.session(Activity::User).await {
        Ok(session) => end_this_device(&state, &ctx, Some(&session)).await?,
        Err(Rejection::Unavailable) => return Err(state.rejection_error(Rejection::Unavailable)),
        Err(_) => end_this_device(&state, &ctx, None).await?,
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The session as it stands. Never extends it: this is what polling code calls (SEC-11, SEC-12).
pub async fn session(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
) -> Result<Json<SessionInfo>, AppError> {
    let s = ctx
        .session(Activity::Background)
        .await
        .map_err(|r| state.rejection_error(r))?;
    Ok(Json(SessionInfo::new(&s, state.sessions.now().0)))
}

/// "Stay signed in": counts as the person's activity and slides the idle window, never the
/// absolute limit (SEC-10, SEC-12).
pub async fn extend(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
) -> Result<Json<SessionInfo>, AppError> {
    let s = ctx
        .session(Activity::User)
        .await
        .map_err(|r| state.rejection_error(r))?;
    Ok(Json(SessionInfo::new(&s, state.sessions.now().0)))
}
