//! Account pages and API: devices and sessions (R8), ending one or all (R6, R7), password
//! change (SEC-69) and re-authentication for sensitive operations (R12).
//!
//! Sensitive operations need a recent real sign-in (`session.reauth_window`). Without one, the
//! API answers 401 `step_up_required`; the pages show a password prompt that carries the
//! interrupted operation as a signed `then` value, and after the password completes it.

use super::api::SessionInfo;
use super::context::{Ctx, RequestContext};
use super::csrf::CsrfTokens;
use super::error::{AppError, ErrorBody, Rendered};
use super::openapi::Errors;
use super::pages::{PageSession, error_context, human_time, sign_in_error};
use super::{AppState, request_lang};
use crate::account::{AccountError, DeviceEntry};
use crate::sessions::ActiveSession;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Form, Json};
use data_encoding::BASE64URL_NOPAD;
use minijinja::context;
use serde::{Deserialize, Serialize};
use tsuzuki_core::flow::{FlowKind, Step};
use tsuzuki_core::session::{Activity, AuthMethod, recent_enough};
use utoipa::ToSchema;

/// The error for an operation that needs a fresh sign-in (SEC-65).
pub(super) fn step_up_required() -> AppError {
    AppError::unauthorized("step_up_required")
}

pub(super) fn is_recent(state: &AppState, s: &ActiveSession) -> bool {
    recent_enough(
        &s.methods,
        s.remembered,
        s.auth_time,
        state.config.reauth_window,
        state.sessions.now(),
    )
}

fn account_error(e: AccountError) -> AppError {
    match e {
        AccountError::SignIn(e) => sign_in_error(e).1,
        AccountError::Password(tsuzuki_core::password_policy::PasswordError::TooShort(n)) => {
            AppError::bad_request("password_too_short").with_arg("min", n.to_string())
        }
        AccountError::Password(tsuzuki_core::password_policy::PasswordError::TooLong(n)) => {
            AppError::bad_request("new_password_too_long").with_arg("max", n.to_string())
        }
        AccountError::NotFound => AppError::not_found(),
    }
}

pub(super) async fn api_session(
    state: &AppState,
    ctx: &RequestContext,
) -> Result<ActiveSession, AppError> {
    ctx.session(Activity::User)
        .await
        .map_err(|r| state.rejection_error(r))
}

/// The cookies that name this browser's remembered and trusted device ("this device").
fn device_cookies(ctx: &RequestContext) -> crate::account::DeviceCookies<'_> {
    crate::account::DeviceCookies {
        remember: ctx.remember_cookie(),
        trusted: ctx.trusted_cookie(),
    }
}

/// Set the cookie of a session that replaced the current one.
fn adopt(state: &AppState, ctx: &RequestContext, token: &tsuzuki_core::token::SecretToken) {
    ctx.set_cookie(state.cookies.set_session(&token.encode()));
}

// ---------------------------------------------------------------------------------------------
// JSON API

#[derive(Serialize, ToSchema)]
pub struct DevicesBody {
    pub devices: Vec<DeviceEntry>,
}

#[utoipa::path(get, path = "/api/devices", tag = "account",
    responses(
        (status = 200, description = "The account's sessions, remembered and trusted devices", body = DevicesBody),
        (status = 401, description = "No live session: `not_signed_in`, `session_invalid`, `session_revoked`, `idle_timeout`, `absolute_timeout`", body = ErrorBody),
        Errors,
    ),
    security(("session_cookie" = [])))]
pub async fn api_devices(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
) -> Result<Json<DevicesBody>, AppError> {
    let s = api_session(&state, &ctx).await?;
    let current = state
        .account
        .current_device(&s, device_cookies(&ctx))
        .await?;
    Ok(Json(DevicesBody {
        devices: state.account.devices(&s, &current).await?,
    }))
}

#[derive(Deserialize, ToSchema)]
pub struct HandleBody {
    /// `ses_…`, `rem_…` or `trd_…`, from GET /api/devices.
    handle: String,
}

#[utoipa::path(post, path = "/api/devices/revoke", tag = "account",
    request_body = HandleBody,
    responses(
        (status = 204, description = "Ended"),
        (status = 401, description = "No live session (`not_signed_in`, `session_invalid`, `session_revoked`, `idle_timeout`, `absolute_timeout`), or the sign-in is not recent enough: `step_up_required` (POST /api/reauth)", body = ErrorBody),
        (status = 404, description = "`not_found`: no such device of this account", body = ErrorBody),
        Errors,
    ),
    security(("session_cookie" = [])))]
pub async fn api_revoke_device(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Json(body): Json<HandleBody>,
) -> Result<Response, AppError> {
    let s = api_session(&state, &ctx).await?;
    if !is_recent(&state, &s) {
        return Err(step_up_required());
    }
    state
        .account
        .revoke_device(&s, &body.handle, ctx.client())
        .await
        .map_err(account_error)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize, ToSchema)]
pub struct EverywhereBody {
    /// Keep this device signed in.
    #[serde(default)]
    keep_current: bool,
}

#[derive(Serialize, ToSchema)]
pub struct EverywhereResult {
    sessions_ended: u64,
    devices_ended: u64,
}

#[utoipa::path(post, path = "/api/sign-out-everywhere", tag = "account",
    request_body = EverywhereBody,
    responses(
        (status = 200, description = "What ended", body = EverywhereResult),
        (status = 401, description = "No live session (`not_signed_in`, `session_invalid`, `session_revoked`, `idle_timeout`, `absolute_timeout`), or the sign-in is not recent enough: `step_up_required` (POST /api/reauth)", body = ErrorBody),
        Errors,
    ),
    security(("session_cookie" = [])))]
pub async fn api_sign_out_everywhere(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Json(body): Json<EverywhereBody>,
) -> Result<Json<EverywhereResult>, AppError> {
    let s = api_session(&state, &ctx).await?;
    if !is_recent(&state, &s) {
        return Err(step_up_required());
    }
    let (sessions_ended, devices_ended) = everywhere(&state, &ctx, &s, body.keep_current).await?;
    Ok(Json(EverywhereResult {
        sessions_ended,
        devices_ended,
    }))
}

async fn everywhere(
    state: &AppState,
    ctx: &RequestContext,
    s: &ActiveSession,
    keep_current: bool,
) -> Result<(u64, u64), AppError> {
    let current = state.account.current_device(s, device_cookies(ctx)).await?;
    let counts = state
        .account
        .sign_out_everywhere(s, keep_current, &current, ctx.client())
        .await
        .map_err(account_error)?;
    if !keep_current {
        ctx.set_cookie(state.cookies.clear_session());
        ctx.set_cookie(state.cookies.clear_remember());
    }
    Ok(counts)
}

#[derive(Deserialize, ToSchema)]
#[schema(as = ChangePasswordBody)]
pub struct PasswordBody {
    current_password: String,
    new_password: String,
}

#[utoipa::path(post, path = "/api/password", tag = "account",
    request_body = PasswordBody,
    responses(
        (status = 200, description = "Changed: a fresh session (in Set-Cookie); other sessions and remembered devices ended", body = SessionInfo),
        (status = 400, description = "`password_too_short`, `new_password_too_long`, `password_required`, `password_too_long`", body = ErrorBody),
        (status = 401, description = "`invalid_credentials` (the current password is wrong), or no live session", body = ErrorBody),
        (status = 429, description = "`throttled`", body = ErrorBody),
        Errors,
    ),
    security(("session_cookie" = [])))]
pub async fn api_change_password(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Json(body): Json<PasswordBody>,
) -> Result<Json<SessionInfo>, AppError> {
    let s = api_session(&state, &ctx).await?;
    let fresh = change_password(&state, &ctx, &s, body.current_password, body.new_password).await?;
    Ok(Json(SessionInfo::new(&fresh, state.sessions.now().0)))
}

async fn change_password(
    state: &AppState,
    ctx: &RequestContext,
    s: &ActiveSession,
    current: String,
    new: String,
) -> Result<ActiveSession, AppError> {
    let device = state.account.current_device(s, device_cookies(ctx)).await?;
    let (token, fresh) = state
        .account
        .change_password(s, current, new, &device, ctx.client())
        .await
        .map_err(account_error)?;
    adopt(state, ctx, &token);
    // The table's default ends every remembered device, this one's too: drop its cookie.
    ctx.set_cookie(state.cookies.clear_remember());
    Ok(fresh)
}

#[derive(Deserialize, ToSchema)]
pub struct ReauthBody {
    password: String,
}

#[utoipa::path(post, path = "/api/reauth", tag = "account",
    request_body = ReauthBody,
    responses(
        (status = 200, description = "A fresh sign-in for sensitive operations", body = SessionInfo),
        (status = 202, description = "The account has a second factor: a `step_up` flow", body = super::flows::FlowView),
        (status = 401, description = "`invalid_credentials`, or no live session", body = ErrorBody),
        (status = 429, description = "`throttled`", body = ErrorBody),
        Errors,
    ),
    security(("session_cookie" = [])))]
pub async fn api_reauth(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Json(body): Json<ReauthBody>,
) -> Result<Response, AppError> {
    let s = api_session(&state, &ctx).await?;
    match reauthenticate(&state, &ctx, &s, body.password, "", "/account").await? {
        Reauth::Done(fresh) => {
            Ok(Json(SessionInfo::new(&fresh, state.sessions.now().0)).into_response())
        }
        Reauth::Flow { id, flow } => {
            let view = super::flows::FlowView::load(&state, &id, &flow).await;
            Ok((StatusCode::ACCEPTED, Json(view)).into_response())
        }
    }
}

/// Where the password step of a re-authentication leads.
enum Reauth {
    /// No second factor on the account: the new session is in place.
    Done(ActiveSession),
    /// A step-up flow asks for the second factor (R12: a password alone never satisfies an
    /// account that has one).
    Flow {
        id: String,
        flow: Box<tsuzuki_store::FlowRecord>,
    },
}

/// The password again; then, for an account with a second factor, a step-up flow that carries
/// `then` (the signed pending operation) to its end.
async fn reauthenticate(
    state: &AppState,
    ctx: &RequestContext,
    s: &ActiveSession,
    password: String,
    then: &str,
    return_to: &str,
) -> Result<Reauth, AppError> {
    let user = state
        .account
        .verify_again(s, password, ctx.client())
        .await
        .map_err(account_error)?;
    let methods = state.flows.methods_of(&user.id).await?;
    if methods.is_empty() {
        let (token, fresh) = state
            .account
            .finish_reauth(s, &user, &[AuthMethod::Password], ctx.client())
            .await
            .map_err(account_error)?;
        adopt(state, ctx, &token);
        return Ok(Reauth::Done(fresh));
    }
    let browser = tsuzuki_core::token::SecretToken::parse(&ctx.ensure_browser())
        .map(|t| t.hash())
        .ok_or_else(|| AppError::internal("browser cookie not a token"))?;
    let start = crate::flows::Start {
        kind: FlowKind::StepUp,
        step: Step::SecondFactor,
        identifier: &s.email,
        remember: false,
        return_to,
        session_hash: Some(s.id_hash),
        payload: then.to_string(),
        browser,
    };
    let (id, flow) = state
        .flows
        .start(&user, methods, start, &ctx.client_with_browser())
        .await
        .map_err(super::flows::flow_error)?;
    Ok(Reauth::Flow {
        id: id.encode(),
        flow: Box::new(flow),
    })
}

/// The end of a step-up flow: the session that asked is replaced by one authenticated now with
/// the password and `method`; the pending operation, if the flow carried one, is returned for
/// the caller to complete (issue #4 item 5).
pub(super) async fn finish_step_up(
    state: &AppState,
    ctx: &RequestContext,
    flow: &tsuzuki_store::FlowRecord,
    user: &tsuzuki_store::User,
    method: AuthMethod,
) -> Result<(ActiveSession, Option<Pending>), AppError> {
    let s = api_session(state, ctx).await?;
    if flow.session_hash.as_ref() != Some(&s.id_hash) {
        // A step-up belongs to the session that started it.
        return Err(super::flows::flow_error(crate::flows::FlowError::NotFound));
    }
    let pending = Pending::verify(state, &s, &flow.payload);
    let (token, fresh) = state
        .account
        .finish_reauth(&s, user, &[AuthMethod::Password, method], ctx.client())
        .await
        .map_err(account_error)?;
    adopt(state, ctx, &token);
    Ok((fresh, pending))
}

// ---------------------------------------------------------------------------------------------
// Pages

/// An operation interrupted by the re-authentication prompt, carried through it signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Pending {
    RevokeDevice(String),
    SignOutEverywhere {
        keep_current: bool,
    },
    /// Back to a page of the host application that demanded a recent sign-in.
    Return(String),
    /// Remove a second factor (the last one needs a recent sign-in: issue #4 item 7).
    RemoveFactor(String),
}

impl Pending {
    fn encode(&self) -> String {
        match self {
            Pending::RevokeDevice(h) => format!("revoke:{h}"),
            Pending::SignOutEverywhere { keep_current } => {
                format!("everywhere:{}", u8::from(*keep_current))
            }
            Pending::Return(path) => format!("return:{path}"),
            Pending::RemoveFactor(id) => format!("factor:{id}"),
        }
    }
    fn decode(state: &AppState, s: &str) -> Option<Pending> {
        match s.split_once(':')? {
            ("revoke", h)
                if ["ses_", "rem_", "trd_"].iter().any(|p| h.starts_with(p)) && h.len() < 64 =>
            {
                Some(Pending::RevokeDevice(h.to_string()))
            }
            ("everywhere", "1") => Some(Pending::SignOutEverywhere { keep_current: true }),
            ("everywhere", "0") => Some(Pending::SignOutEverywhere {
                keep_current: false,
            }),
            ("return", path) => Some(Pending::Return(state.return_target(Some(path), "/account"))),
            ("factor", id) if id.starts_with("fac_") && id.len() < 64 => {
                Some(Pending::RemoveFactor(id.to_string()))
            }
            _ => None,
        }
    }
    /// `action.mac`, bound to the session that asked (it cannot be replayed by another).
    pub(super) fn sign(&self, state: &AppState, s: &ActiveSession) -> String {
        let action = self.encode();
        let mac = state.csrf.for_session_action(&s.id_hash, &action);
        format!("{}.{mac}", BASE64URL_NOPAD.encode(action.as_bytes()))
    }
    fn verify(state: &AppState, s: &ActiveSession, signed: &str) -> Option<Pending> {
        let (action, mac) = signed.split_once('.')?;
        let action = String::from_utf8(BASE64URL_NOPAD.decode(action.as_bytes()).ok()?).ok()?;
        CsrfTokens::matches(&state.csrf.for_session_action(&s.id_hash, &action), mac)
            .then_some(())?;
        Pending::decode(state, &action)
    }
}

#[derive(Deserialize)]
pub struct NoticeQuery {
    done: Option<String>,
}

pub async fn devices_page(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    PageSession(s): PageSession,
    headers: HeaderMap,
    Query(q): Query<NoticeQuery>,
) -> Result<Response, AppError> {
    let lang = request_lang(&headers);
    // This browser's trusted device is "this device" too (S3, SEC-38).
    let current = state
        .account
        .current_device(&s, device_cookies(&ctx))
        .await?;
    let devices: Vec<_> = state
        .account
        .devices(&s, &current)
        .await?
        .into_iter()
        .map(|d| {
            context! {
                handle => d.handle, kind => d.kind, device => d.device, ip => d.ip, current => d.current,
                first_used => human_time(tsuzuki_core::clock::Timestamp(d.first_used_at)),
                last_used => human_time(tsuzuki_core::clock::Timestamp(d.last_used_at)),
                expires => human_time(tsuzuki_core::clock::Timestamp(d.expires_at)),
            }
        })
        .collect();
    let notice = q.done.as_deref().and_then(|d| match d {
        "revoked" => Some(lang.t("devices-revoked")),
        "everywhere" => Some(lang.t("devices-everywhere-done")),
        _ => None,
    });
    let html = state.templates.render(
        "devices.html",
        lang,
        "/account/devices",
        context! { devices => devices, csrf => state.csrf.for_session(&s.id_hash), notice => notice },
    )?;
    Ok(Html(html).into_response())
}

#[derive(Deserialize)]
pub struct RevokeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    handle: String,
}

pub async fn revoke_device_submit(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    PageSession(s): PageSession,
    headers: HeaderMap,
    Form(form): Form<RevokeForm>,
) -> Result<Response, AppError> {
    check_csrf(&state, &s, &form.csrf)?;
    run_or_ask(
        &state,
        &ctx,
        &headers,
        &s,
        Pending::RevokeDevice(form.handle),
    )
    .await
}

#[derive(Deserialize)]
pub struct EverywhereForm {
    #[serde(default)]
    csrf: String,
    keep_current: Option<String>,
}

pub async fn sign_out_everywhere_submit(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    PageSession(s): PageSession,
    headers: HeaderMap,
    Form(form): Form<EverywhereForm>,
) -> Result<Response, AppError> {
    check_csrf(&state, &s, &form.csrf)?;
    run_or_ask(
        &state,
        &ctx,
        &headers,
        &s,
        Pending::SignOutEverywhere {
            keep_current: form.keep_current.is_some(),
        },
    )
    .await
}

pub(super) fn check_csrf(
    state: &AppState,
    s: &ActiveSession,
    presented: &str,
) -> Result<(), AppError> {
    if CsrfTokens::matches(&state.csrf.for_session(&s.id_hash), presented) {
        Ok(())
    } else {
        Err(AppError::forbidden("csrf_failed"))
    }
}

/// Do the operation if the sign-in is recent; otherwise ask for the password first.
pub(super) async fn run_or_ask(
    state: &AppState,
    ctx: &RequestContext,
    headers: &HeaderMap,
    s: &ActiveSession,
    pending: Pending,
) -> Result<Response, AppError> {
    if is_recent(state, s) {
        return perform(state, ctx, s, pending).await;
    }
    render_reauth(
        state,
        headers,
        s,
        &pending.sign(state, s),
        None,
        StatusCode::UNAUTHORIZED,
    )
}

pub(super) async fn perform(
    state: &AppState,
    ctx: &RequestContext,
    s: &ActiveSession,
    pending: Pending,
) -> Result<Response, AppError> {
    match pending {
        Pending::RevokeDevice(handle) => {
            state
                .account
                .revoke_device(s, &handle, ctx.client())
                .await
                .map_err(account_error)?;
            Ok(Redirect::to("/account/devices?done=revoked").into_response())
        }
        Pending::SignOutEverywhere { keep_current } => {
            everywhere(state, ctx, s, keep_current).await?;
            let target = if keep_current {
                "/account/devices?done=everywhere"
            } else {
                "/sign-in?signed_out=1"
            };
            Ok(Redirect::to(target).into_response())
        }
        Pending::Return(path) => Ok(Redirect::to(&path).into_response()),
        Pending::RemoveFactor(id) => {
            super::security::remove_factor(state, ctx, s, &id).await?;
            Ok(Redirect::to("/account/security?done=removed").into_response())
        }
    }
}

#[derive(Deserialize)]
pub struct ReauthQuery {
    return_to: Option<String>,
    /// `second-factor`: the application's route needs a second factor proven in this session
    /// (forward-auth policy `second_factor`), not only a recent password.
    require: Option<String>,
}

/// The password prompt a host application sends people to when one of its sensitive routes
/// needs a recent sign-in (`X-Tsuzuki-Require: recent-sign-in` on the forward-auth check, or a
/// `recent_sign_in` / `second_factor` forward-auth policy). After the password — and the second
/// factor, when the account has one — back to `return_to` (a local path, or an absolute URL on an
/// allowed host).
pub async fn reauth_page(
    State(state): State<AppState>,
    PageSession(s): PageSession,
    headers: HeaderMap,
    Query(q): Query<ReauthQuery>,
) -> Result<Response, AppError> {
    let path = state.return_target(q.return_to.as_deref(), "/account");
    if q.require.as_deref() == Some("second-factor") {
        if s.methods
            .iter()
            .any(|m| tsuzuki_core::access::is_second_factor(*m))
        {
            return Ok(Redirect::to(&path).into_response());
        }
        // Without a factor to prove, the prompt would only lead back here: say what to do.
        if !state.factors.has_any(&s.user_id).await? {
            return Err(AppError::forbidden("second_factor_enrolment_required"));
        }
    } else if is_recent(&state, &s) {
        return Ok(Redirect::to(&path).into_response());
    }
    render_reauth(
        &state,
        &headers,
        &s,
        &Pending::Return(path).sign(&state, &s),
        None,
        StatusCode::OK,
    )
}

pub(super) fn render_reauth(
    state: &AppState,
    headers: &HeaderMap,
    s: &ActiveSession,
    then: &str,
    error: Option<&AppError>,
    status: StatusCode,
) -> Result<Response, AppError> {
    let lang = request_lang(headers);
    let error_ctx = error_context(lang, error);
    let html = state.templates.render(
        "reauth.html",
        lang,
        "/account/reauth",
        context! { email => &s.email, then => then, csrf => state.csrf.for_session(&s.id_hash), error => error_ctx },
    )?;
    let mut response = (status, Html(html)).into_response();
    response.extensions_mut().insert(Rendered);
    Ok(response)
}

#[derive(Deserialize)]
pub struct ReauthForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    then: String,
}

pub async fn reauth_submit(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    PageSession(s): PageSession,
    headers: HeaderMap,
    Form(form): Form<ReauthForm>,
) -> Result<Response, AppError> {
    check_csrf(&state, &s, &form.csrf)?;
    let pending = Pending::verify(&state, &s, &form.then)
        .ok_or_else(|| AppError::bad_request("invalid_request"))?;
    match reauthenticate(&state, &ctx, &s, form.password, &form.then, "/account").await {
        Ok(Reauth::Done(fresh)) => perform(&state, &ctx, &fresh, pending).await,
        Ok(Reauth::Flow { id, .. }) => {
            Ok(Redirect::to(&super::flows::flow_path(&id)).into_response())
        }
        Err(error) => {
            if error.status.is_server_error() {
                return Err(error);
            }
            render_reauth(&state, &headers, &s, &form.then, Some(&error), error.status)
        }
    }
}

pub async fn password_page(
    State(state): State<AppState>,
    PageSession(s): PageSession,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    render_password(&state, &headers, &s, None, StatusCode::OK)
}

fn render_password(
    state: &AppState,
    headers: &HeaderMap,
    s: &ActiveSession,
    error: Option<&AppError>,
    status: StatusCode,
) -> Result<Response, AppError> {
    let lang = request_lang(headers);
    let error_ctx = error_context(lang, error);
    let p = &state.config.password;
    let html = state.templates.render(
        "password.html",
        lang,
        "/account/password",
        context! {
            csrf => state.csrf.for_session(&s.id_hash), error => error_ctx,
            min => p.min_length.to_string(), max => p.max_length.to_string(),
        },
    )?;
    let mut response = (status, Html(html)).into_response();
    response.extensions_mut().insert(Rendered);
    Ok(response)
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
}

pub async fn password_submit(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    PageSession(s): PageSession,
    headers: HeaderMap,
    Form(form): Form<PasswordForm>,
) -> Result<Response, AppError> {
    check_csrf(&state, &s, &form.csrf)?;
    match change_password(&state, &ctx, &s, form.current_password, form.new_password).await {
        Ok(_) => Ok(Redirect::to("/account?done=password").into_response()),
        Err(error) if error.status == StatusCode::SERVICE_UNAVAILABLE => Err(error),
        Err(error) => render_password(&state, &headers, &s, Some(&error), error.status),
    }
}
