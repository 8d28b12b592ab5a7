//! The JSON API: sign-in, sign-out, the session endpoint and explicit extension.
//!
//! Writes require `Content-Type: application/json`. A browser cannot send that cross-site without
//! a CORS preflight, which tsuzuki never approves, so together with the Origin/Sec-Fetch-Site
//! check this stops cross-site requests to the API (SEC-61).

use super::AppState;
use super::context::{Ctx, RequestContext};
use super::error::{AppError, ErrorBody};
use super::openapi::{Empty, Errors};
use super::pages::sign_in_error;
use crate::flows::Start;
use crate::remember::CurrentDevice;
use crate::sessions::{ActiveSession, Rejection};
use axum::Json;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tsuzuki_core::flow::{self, FlowKind, Step};
use tsuzuki_core::revocation::SecurityEvent;
use tsuzuki_core::session::Activity;
use tsuzuki_core::session::AuthMethod;
use tsuzuki_core::token::SecretToken;
use tsuzuki_store::{FlowRecord, User};
use utoipa::ToSchema;

/// What the session endpoint returns: who, since when, until when, how (SEC-12, SEC-70). Times
/// are Unix seconds; `now` is the server's clock, so clients can correct their own.
#[derive(Serialize, ToSchema)]
pub struct SessionInfo {
    pub user: UserInfo,
    pub session: SessionHandle,
    /// When the person last proved who they are.
    pub authenticated_at: i64,
    /// When the session ends without activity.
    pub idle_expires_at: i64,
    /// When the session ends at the latest, whatever the activity.
    pub expires_at: i64,
    /// How the person signed in: `pwd`, `totp`, `email`, `sms`, `recovery`, …
    pub methods: Vec<&'static str>,
    /// Restored from a "keep me signed in" cookie.
    pub remembered: bool,
    /// The server's clock.
    pub now: i64,
}

#[derive(Serialize, ToSchema)]
pub struct UserInfo {
    pub id: String,
    pub email: String,
}

#[derive(Serialize, ToSchema)]
pub struct SessionHandle {
    /// `ses_…`: the session's public name (device lists, revocation).
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

#[derive(Deserialize, ToSchema)]
pub struct SignInBody {
    #[schema(format = Email)]
    email: String,
    password: String,
    /// "Keep me signed in" (R1); off unless asked for.
    #[serde(default)]
    remember: bool,
    /// Where the flow's page should go when done (a local path).
    #[serde(default)]
    return_to: Option<String>,
}

/// Where a correct password leads.
pub enum SignInOutcome {
    /// No second factor due: the session exists.
    SignedIn(ActiveSession),
    /// A second factor is due: a flow was started; its id goes in the flow's URL.
    SecondFactor {
        flow_id: String,
        flow: Box<FlowRecord>,
    },
}

/// The password step of a sign-in, shared by the page and the API. An account with a second
/// factor gets a flow (unless this browser is a trusted device of the account, S3); nothing
/// else — no session, no remember-me token — exists until the flow completes (SEC-26, SEC-45).
pub async fn password_sign_in(
    state: &AppState,
    ctx: &RequestContext,
    email: &str,
    password: String,
    remember: bool,
    return_to: &str,
) -> Result<SignInOutcome, AppError> {
    let user = state
        .signin
        .first_factor(email, password, ctx.client())
        .await
        .map_err(|e| sign_in_error(e).1)?;
    let methods = state.flows.methods_of(&user.id).await?;
    let trusted = if methods.is_empty() {
        None
    } else {
        state
            .factors
            .trusted(ctx.trusted_cookie(), &user.id)
            .await?
    };
    if flow::second_factor_due(&methods, trusted.is_some()) {
        let browser = SecretToken::parse(&ctx.ensure_browser())
            .map(|t| t.hash())
            .ok_or_else(|| AppError::internal("browser cookie not a token"))?;
        let start = Start {
            kind: FlowKind::SignIn,
            step: Step::SecondFactor,
            identifier: email.trim(),
            remember,
            return_to,
            session_hash: None,
            payload: String::new(),
            browser,
        };
        let (id, flow) = state
            .flows
            .start(&user, methods, start, &ctx.client_with_browser())
            .await
            .map_err(super::flows::flow_error)?;
        return Ok(SignInOutcome::SecondFactor {
            flow_id: id.encode(),
            flow: Box::new(flow),
        });
    }
    let mut used = vec![AuthMethod::Password];
    if trusted.is_some() {
        used.push(AuthMethod::TrustedDevice);
    }
    let session = finish_sign_in(state, ctx, &user, &used, remember, false).await?;
    Ok(SignInOutcome::SignedIn(session))
}

/// Every factor the account needs has succeeded: start the session and set the cookies — the
/// session, a remember-me family if asked for, a trusted-device token if asked for — and record
/// the sign-in in the history, which may judge it new (notice) or suspicious (long-lived
/// credentials end, none are issued).
pub async fn finish_sign_in(
    state: &AppState,
    ctx: &RequestContext,
    user: &User,
    methods: &[AuthMethod],
    remember: bool,
    trust_device: bool,
) -> Result<ActiveSession, AppError> {
    ctx.ensure_browser();
    let client = ctx.client_with_browser();
    let previous = ctx
        .session_cookie()
        .and_then(SecretToken::parse)
        .map(|t| t.hash());
    let (token, session) = state
        .signin
        .start_session(user, methods, &client, previous)
        .await
        .map_err(|e| sign_in_error(e).1)?;
    ctx.set_cookie(state.cookies.set_session(&token.encode()));
    let codes = tsuzuki_core::session::methods_to_string(methods);
    let suspicious = match state.history.success(user, &codes, &client).await {
        Ok(a) => a.suspicious,
        Err(e) => {
            tracing::warn!(error = %e, "login history not written");
            false
        }
    };
    if suspicious {
        let current = CurrentDevice {
            session: Some(session.id_hash),
            ..CurrentDevice::default()
        };
        state
            .remember
            .apply(SecurityEvent::SuspiciousSignIn, &user.id, &current)
            .await?;
        return Ok(session);
    }
    if remember {
        // A family this browser already had is replaced, not left to linger.
        if let Some(old) = ctx.remember_cookie() {
            state.remember.revoke_cookie(old).await?;
        }
        let issued = state.remember.issue(&session, &client).await?;
        ctx.set_cookie(state.cookies.set_remember(&issued.cookie, issued.max_age));
    }
    if trust_device {
        let (value, max_age) = state.factors.trust_device(&user.id, &client).await?;
        ctx.set_cookie(state.cookies.set_trusted(&value, max_age));
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

/// Sign in. 200 with the session when the password is all the account needs; 202 with the flow
/// when a second factor is due (continue with `/api/flows/{id}/…`).
#[utoipa::path(post, path = "/api/sign-in", tag = "session",
    request_body = SignInBody,
    responses(
        (status = 200, description = "Signed in: the session cookie is in Set-Cookie, never in the body", body = SessionInfo),
        (status = 202, description = "A second factor is due: the sign-in flow (continue at /api/flows/{id})", body = super::flows::FlowView),
        (status = 401, description = "`invalid_credentials`: unknown account, disabled account or wrong password alike", body = ErrorBody),
        (status = 429, description = "`throttled` (with Retry-After)", body = ErrorBody),
        Errors,
    ))]
pub async fn sign_in(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Json(body): Json<SignInBody>,
) -> Result<Response, AppError> {
    let return_to = state.return_target(body.return_to.as_deref(), super::pages::HOME);
    let outcome = password_sign_in(
        &state,
        &ctx,
        &body.email,
        body.password,
        body.remember,
        &return_to,
    )
    .await?;
    match outcome {
        // The token travels only in Set-Cookie, never in the body (SEC-18).
        SignInOutcome::SignedIn(session) => {
            Ok(Json(SessionInfo::new(&session, state.sessions.now().0)).into_response())
        }
        SignInOutcome::SecondFactor { flow_id, flow } => {
            let view = super::flows::FlowView::load(&state, &flow_id, &flow).await;
            Ok((StatusCode::ACCEPTED, Json(view)).into_response())
        }
    }
}

/// Sign out: ends the session and this device's remembered sign-in on the server and clears the
/// cookies. Idempotent (SEC-37).
#[utoipa::path(post, path = "/api/sign-out", tag = "session",
    request_body = Empty,
    responses(
        (status = 204, description = "Signed out (also when there was no session: idempotent)"),
        Errors,
    ),
    security((), ("session_cookie" = [])))]
pub async fn sign_out(State(state): State<AppState>, Ctx(ctx): Ctx) -> Result<Response, AppError> {
    match ctx.session(Activity::User).await {
        Ok(session) => end_this_device(&state, &ctx, Some(&session)).await?,
        Err(Rejection::Unavailable) => return Err(state.rejection_error(Rejection::Unavailable)),
        Err(_) => end_this_device(&state, &ctx, None).await?,
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The session as it stands. Never extends it: this is what polling code calls (SEC-11, SEC-12).
#[utoipa::path(get, path = "/api/session", tag = "session",
    responses(
        (status = 200, description = "The session", body = SessionInfo),
        (status = 401, description = "No live session: `not_signed_in`, `session_invalid`, `session_revoked`, `idle_timeout`, `absolute_timeout`", body = ErrorBody),
        Errors,
    ),
    security(("session_cookie" = [])))]
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
#[utoipa::path(post, path = "/api/session/extend", tag = "session",
    request_body = Empty,
    responses(
        (status = 200, description = "The session with its idle window slid", body = SessionInfo),
        (status = 401, description = "No live session: `not_signed_in`, `session_invalid`, `session_revoked`, `idle_timeout`, `absolute_timeout`", body = ErrorBody),
        Errors,
    ),
    security(("session_cookie" = [])))]
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
