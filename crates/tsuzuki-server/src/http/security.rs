//! Second factors over HTTP (S8, S9, issue #4 item 7): the account's security page and its
//! JSON twin — authenticator apps (QR code and text secret, confirmed by a first code), email
//! and SMS codes (confirmed through an enrolment flow), recovery codes, removal.
//!
//! Every change here is sensitive (R12): it needs a recent sign-in, and without one the API
//! answers `step_up_required` and the pages ask for the password first.

use super::account::{
    Pending, api_session, check_csrf, is_recent, render_reauth, run_or_ask, step_up_required,
};
use super::context::{Ctx, RequestContext};
use super::error::{AppError, ErrorBody, Rendered};
use super::flows::{FlowView, flow_error, flow_path};
use super::openapi::{Empty, Errors};
use super::pages::{PageSession, error_context, human_time};
use super::{AppState, request_lang};
use crate::factors::{FactorError, PendingTotp};
use crate::flows::Start;
use crate::remember::CurrentDevice;
use crate::sessions::ActiveSession;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Form, Json};
use minijinja::context;
use serde::{Deserialize, Serialize};
use tsuzuki_core::flow::{FlowKind, Method, Step};
use tsuzuki_core::token::SecretToken;
use utoipa::ToSchema;

pub fn factor_error(e: FactorError) -> AppError {
    match e {
        FactorError::NotFound => AppError::not_found(),
        FactorError::WrongCode => {
            AppError::unauthorized("code_invalid").with_arg("attempts", "-".into())
        }
        FactorError::InvalidInput(code) => AppError::bad_request(code),
        FactorError::Unavailable => AppError::unavailable("factor store unavailable"),
    }
}

fn current_device(s: &ActiveSession) -> CurrentDevice {
    CurrentDevice {
        session: Some(s.id_hash),
        remember_handle: s.remember_handle.clone(),
        trusted_handle: None,
    }
}

/// An SVG QR code of the otpauth URI, inline in the page (no image requests, CSP-clean).
fn qr_svg(uri: &str) -> String {
    match qrcode::QrCode::new(uri.as_bytes()) {
        Ok(code) => code
            .render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(200, 200)
            .quiet_zone(true)
            .build(),
        Err(_) => String::new(),
    }
}

/// Remove a factor (after the step-up check, or as the pending operation it completed).
pub(super) async fn remove_factor(
    state: &AppState,
    ctx: &RequestContext,
    s: &ActiveSession,
    id: &str,
) -> Result<(), AppError> {
    state
        .factors
        .remove(&s.user_id, id, &current_device(s), ctx.client())
        .await
        .map_err(factor_error)
}

/// Start the flow that proves an email address or phone number for a new factor.
async fn start_enrolment(
    state: &AppState,
    ctx: &RequestContext,
    s: &ActiveSession,
    method: Method,
    target: &str,
    name: &str,
) -> Result<(String, tsuzuki_store::FlowRecord), AppError> {
    let factor = state
        .factors
        .add_code_factor(&s.user_id, method, target, name)
        .await
        .map_err(factor_error)?;
    let user = state
        .store
        .user_by_id(&s.user_id)
        .await?
        .ok_or_else(AppError::not_found)?;
    let browser = SecretToken::parse(&ctx.ensure_browser())
        .map(|t| t.hash())
        .ok_or_else(|| AppError::internal("browser cookie not a token"))?;
    let start = Start {
        kind: FlowKind::Enrolment,
        step: Step::SecondFactor,
        identifier: &s.email,
        remember: false,
        return_to: "/account/security?done=added",
        session_hash: Some(s.id_hash),
        payload: factor.id.clone(),
        browser,
    };
    let (id, flow) = state
        .flows
        .start(&user, vec![method], start, &ctx.client_with_browser())
        .await
        .map_err(flow_error)?;
    Ok((id.encode(), flow))
}

// ---- JSON API ----------------------------------------------------------------------------

async fn recent_api_session(
    state: &AppState,
    ctx: &RequestContext,
) -> Result<ActiveSession, AppError> {
    let s = api_session(state, ctx).await?;
    if !is_recent(state, &s) {
        return Err(step_up_required());
    }
    Ok(s)
}

#[derive(Serialize, ToSchema)]
pub struct FactorList {
    pub factors: Vec<crate::factors::FactorView>,
    pub recovery_codes_left: u32,
}

#[utoipa::path(get, path = "/api/factors", tag = "factors",
    responses(
        (status = 200, description = "The account's second factors", body = FactorList),
        (status = 401, description = "No live session: `not_signed_in`, `session_invalid`, `session_revoked`, `idle_timeout`, `absolute_timeout`", body = ErrorBody),
        Errors,
    ),
    security(("session_cookie" = [])))]
pub async fn api_list(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
) -> Result<Json<FactorList>, AppError> {
    let s = api_session(&state, &ctx).await?;
    let factors = state.factors.list(&s.user_id).await?;
    let recovery_codes_left = state.factors.recovery_codes_left(&s.user_id).await?;
    Ok(Json(FactorList {
        factors,
        recovery_codes_left,
    }))
}

#[derive(Deserialize, ToSchema)]
pub struct NameBody {
    /// What the person calls it ("Work phone"); a default when empty.
    #[serde(default)]
    name: String,
}

/// A new authenticator waiting for its first code.
#[derive(Serialize, ToSchema)]
pub struct TotpEnrolment {
    pub factor_id: String,
    /// Base32, for typing into the app by hand.
    pub secret: String,
    pub otpauth_uri: String,
    /// The URI as an inline SVG QR code.
    pub qr_svg: String,
}

fn totp_json(p: &PendingTotp) -> TotpEnrolment {
    TotpEnrolment {
        factor_id: p.factor_id.clone(),
        secret: p.secret_text.clone(),
        otpauth_uri: p.uri.clone(),
        qr_svg: qr_svg(&p.uri),
    }
}

#[utoipa::path(post, path = "/api/factors/totp", tag = "factors",
    request_body = NameBody,
    responses(
        (status = 201, description = "Scan or type the secret, then confirm with a code", body = TotpEnrolment),
        (status = 400, description = "`factor_name_invalid`", body = ErrorBody),
        (status = 401, description = "No live session (`not_signed_in`, `session_invalid`, `session_revoked`, `idle_timeout`, `absolute_timeout`), or the sign-in is not recent enough: `step_up_required` (POST /api/reauth)", body = ErrorBody),
        Errors,
    ),
    security(("session_cookie" = [])))]
pub async fn api_totp_begin(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Json(body): Json<NameBody>,
) -> Result<Response, AppError> {
    let s = recent_api_session(&state, &ctx).await?;
    let pending = state
        .factors
        .begin_totp(&s.user_id, &s.email, &body.name)
        .await
        .map_err(factor_error)?;
    Ok((StatusCode::CREATED, Json(totp_json(&pending))).into_response())
}

#[derive(Deserialize, ToSchema)]
pub struct CodeBody {
    /// The six digits the app shows now.
    code: String,
}

#[derive(Serialize, ToSchema)]
pub struct TotpConfirmed {
    pub confirmed: bool,
    /// When this was the account's first factor: its recovery codes, shown this once;
    /// otherwise null.
    pub recovery_codes: Option<Vec<String>>,
}

#[utoipa::path(post, path = "/api/factors/totp/{id}/confirm", tag = "factors",
    params(("id" = String, Path, description = "`factor_id` from POST /api/factors/totp")),
    request_body = CodeBody,
    responses(
        (status = 200, description = "The authenticator is confirmed", body = TotpConfirmed),
        (status = 401, description = "No live session (`not_signed_in`, `session_invalid`, `session_revoked`, `idle_timeout`, `absolute_timeout`), or the sign-in is not recent enough: `step_up_required` (POST /api/reauth)", body = ErrorBody),
        (status = 404, description = "`not_found`: no such pending authenticator", body = ErrorBody),
        Errors,
    ),
    security(("session_cookie" = [])))]
pub async fn api_totp_confirm(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Path(id): Path<String>,
    Json(body): Json<CodeBody>,
) -> Result<Json<TotpConfirmed>, AppError> {
    let s = recent_api_session(&state, &ctx).await?;
    let codes = confirm_totp(&state, &ctx, &s, &id, &body.code).await?;
    Ok(Json(TotpConfirmed {
        confirmed: true,
        recovery_codes: codes,
    }))
}

/// Confirm an authenticator; the account's first factor also brings its recovery codes
/// (returned once).
async fn confirm_totp(
    state: &AppState,
    ctx: &RequestContext,
    s: &ActiveSession,
    id: &str,
    code: &str,
) -> Result<Option<Vec<String>>, AppError> {
    let first = !state.factors.has_any(&s.user_id).await?;
    state
        .factors
        .confirm_totp(&s.user_id, id, code, &current_device(s), ctx.client())
        .await
        .map_err(factor_error)?;
    if first {
        let codes = state
            .factors
            .regenerate_recovery_codes(&s.user_id, ctx.client())
            .await?;
        return Ok(Some(codes));
    }
    Ok(None)
}

#[derive(Deserialize, ToSchema)]
pub struct CodeFactorBody {
    /// `email` or `sms`.
    method: String,
    /// The phone number for `sms` (E.164, e.g. `+81 90 1234 5678`).
    #[serde(default)]
    phone: String,
    #[serde(default)]
    name: String,
}

/// Add an email or SMS factor: 202 with the enrolment flow, whose code proves the address or
/// number (`POST /api/flows/{id}/verify` completes it).
#[utoipa::path(post, path = "/api/factors/code", tag = "factors",
    request_body = CodeFactorBody,
    responses(
        (status = 202, description = "The enrolment flow: a code went to the address or number", body = super::flows::FlowView),
        (status = 400, description = "`method_unavailable`, `phone_invalid`, `factor_name_invalid`", body = ErrorBody),
        (status = 401, description = "No live session (`not_signed_in`, `session_invalid`, `session_revoked`, `idle_timeout`, `absolute_timeout`), or the sign-in is not recent enough: `step_up_required` (POST /api/reauth)", body = ErrorBody),
        (status = 429, description = "`resend_cooldown`, `resend_daily_cap`, `throttled`", body = ErrorBody),
        (status = 502, description = "`code_send_failed`", body = ErrorBody),
        Errors,
    ),
    security(("session_cookie" = [])))]
pub async fn api_code_factor(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Json(body): Json<CodeFactorBody>,
) -> Result<Response, AppError> {
    let s = recent_api_session(&state, &ctx).await?;
    let (method, target) = match body.method.as_str() {
        "email" => (Method::Email, s.email.clone()),
        "sms" => (Method::Sms, body.phone.clone()),
        _ => return Err(AppError::bad_request("method_unavailable")),
    };
    let (id, flow) = start_enrolment(&state, &ctx, &s, method, &target, &body.name).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(FlowView::load(&state, &id, &flow).await),
    )
        .into_response())
}

#[utoipa::path(post, path = "/api/factors/{id}/remove", tag = "factors",
    params(("id" = String, Path, description = "The factor id")),
    request_body = Empty,
    responses(
        (status = 204, description = "Removed; the revocation table's `second_factor_changed` row applied"),
        (status = 401, description = "No live session (`not_signed_in`, `session_invalid`, `session_revoked`, `idle_timeout`, `absolute_timeout`), or the sign-in is not recent enough: `step_up_required` (POST /api/reauth)", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        Errors,
    ),
    security(("session_cookie" = [])))]
pub async fn api_remove(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let s = recent_api_session(&state, &ctx).await?;
    remove_factor(&state, &ctx, &s, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Serialize, ToSchema)]
pub struct RecoveryCodes {
    /// Shown this once; each works once. The previous set no longer works.
    pub recovery_codes: Vec<String>,
}

#[utoipa::path(post, path = "/api/recovery-codes", tag = "factors",
    request_body = Empty,
    responses(
        (status = 200, description = "A new set of recovery codes", body = RecoveryCodes),
        (status = 400, description = "`method_unavailable`: the account has no second factor", body = ErrorBody),
        (status = 401, description = "No live session (`not_signed_in`, `session_invalid`, `session_revoked`, `idle_timeout`, `absolute_timeout`), or the sign-in is not recent enough: `step_up_required` (POST /api/reauth)", body = ErrorBody),
        Errors,
    ),
    security(("session_cookie" = [])))]
pub async fn api_recovery_codes(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
) -> Result<Json<RecoveryCodes>, AppError> {
    let s = recent_api_session(&state, &ctx).await?;
    if !state.factors.has_any(&s.user_id).await? {
        return Err(AppError::bad_request("method_unavailable"));
    }
    let codes = state
        .factors
        .regenerate_recovery_codes(&s.user_id, ctx.client())
        .await?;
    Ok(Json(RecoveryCodes {
        recovery_codes: codes,
    }))
}

// ---- pages -------------------------------------------------------------------------------

#[derive(Deserialize)]
pub struct SecurityQuery {
    done: Option<String>,
}

pub async fn page(
    State(state): State<AppState>,
    PageSession(s): PageSession,
    headers: HeaderMap,
    Query(q): Query<SecurityQuery>,
) -> Result<Response, AppError> {
    let lang = request_lang(&headers);
    let notice = q.done.as_deref().and_then(|d| match d {
        "added" => Some(lang.t("security-added")),
        "removed" => Some(lang.t("security-removed")),
        _ => None,
    });
    render_security(&state, &headers, &s, notice, None, StatusCode::OK).await
}

async fn render_security(
    state: &AppState,
    headers: &HeaderMap,
    s: &ActiveSession,
    notice: Option<String>,
    error: Option<&AppError>,
    status: StatusCode,
) -> Result<Response, AppError> {
    let lang = request_lang(headers);
    let confirmed: Vec<_> = state
        .factors
        .list(&s.user_id)
        .await?
        .into_iter()
        .filter(|f| f.confirmed)
        .collect();
    let has_email = confirmed.iter().any(|f| f.method == "email");
    let factors: Vec<_> = confirmed
        .into_iter()
        .map(|f| {
            context! {
                id => f.id, method => f.method, name => f.name, target => f.target,
                added => human_time(tsuzuki_core::clock::Timestamp(f.created_at)),
                last_used => f.last_used_at.map(|t| human_time(tsuzuki_core::clock::Timestamp(t))),
            }
        })
        .collect();
    let left = state.factors.recovery_codes_left(&s.user_id).await?;
    let html = state.templates.render(
        "security.html",
        lang,
        "/account/security",
        context! {
            factors => factors,
            has_email => has_email,
            recovery_left => left,
            csrf => state.csrf.for_session(&s.id_hash),
            notice => notice,
            error => error_context(lang, error),
        },
    )?;
    let mut response = (status, Html(html)).into_response();
    response.extensions_mut().insert(Rendered);
    Ok(response)
}

/// Without a recent sign-in, the page to go back to after the password.
fn ask_first(
    state: &AppState,
    headers: &HeaderMap,
    s: &ActiveSession,
) -> Result<Response, AppError> {
    render_reauth(
        state,
        headers,
        s,
        &Pending::Return("/account/security".into()).sign(state, s),
        None,
        StatusCode::UNAUTHORIZED,
    )
}

#[derive(Deserialize)]
pub struct NameForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
}

pub async fn totp_begin_submit(
    State(state): State<AppState>,
    PageSession(s): PageSession,
    headers: HeaderMap,
    Form(form): Form<NameForm>,
) -> Result<Response, AppError> {
    check_csrf(&state, &s, &form.csrf)?;
    if !is_recent(&state, &s) {
        return ask_first(&state, &headers, &s);
    }
    match state
        .factors
        .begin_totp(&s.user_id, &s.email, &form.name)
        .await
    {
        Ok(p) => {
            Ok(Redirect::to(&format!("/account/security/totp/{}", p.factor_id)).into_response())
        }
        Err(e) => {
            let error = factor_error(e);
            render_security(&state, &headers, &s, None, Some(&error), error.status).await
        }
    }
}

/// The enrolment page of a pending authenticator: QR code, text secret, first-code form.
pub async fn totp_page(
    State(state): State<AppState>,
    PageSession(s): PageSession,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    render_totp(&state, &headers, &s, &id, None, StatusCode::OK).await
}

async fn render_totp(
    state: &AppState,
    headers: &HeaderMap,
    s: &ActiveSession,
    id: &str,
    error: Option<&AppError>,
    status: StatusCode,
) -> Result<Response, AppError> {
    let pending = state
        .factors
        .pending_totp(&s.user_id, &s.email, id)
        .await
        .map_err(factor_error)?;
    let lang = request_lang(headers);
    let html = state.templates.render(
        "totp_enrol.html",
        lang,
        "/account/security",
        context! {
            id => pending.factor_id,
            secret => pending.secret_text,
            qr => minijinja::Value::from_safe_string(qr_svg(&pending.uri)),
            csrf => state.csrf.for_session(&s.id_hash),
            error => error_context(lang, error),
        },
    )?;
    let mut response = (status, Html(html)).into_response();
    response.extensions_mut().insert(Rendered);
    Ok(response)
}

#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
}

pub async fn totp_confirm_submit(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    PageSession(s): PageSession,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<CodeForm>,
) -> Result<Response, AppError> {
    check_csrf(&state, &s, &form.csrf)?;
    if !is_recent(&state, &s) {
        return ask_first(&state, &headers, &s);
    }
    match confirm_totp(&state, &ctx, &s, &id, &form.code).await {
        Ok(Some(codes)) => render_codes(&state, &headers, &codes),
        Ok(None) => Ok(Redirect::to("/account/security?done=added").into_response()),
        Err(error) if error.status == StatusCode::UNAUTHORIZED => {
            render_totp(&state, &headers, &s, &id, Some(&error), error.status).await
        }
        Err(error) => Err(error),
    }
}

/// Recovery codes, shown once.
pub(super) fn render_codes(
    state: &AppState,
    headers: &HeaderMap,
    codes: &[String],
) -> Result<Response, AppError> {
    let lang = request_lang(headers);
    let html = state.templates.render(
        "recovery_codes.html",
        lang,
        "/account/security",
        context! { codes => codes.to_vec() },
    )?;
    Ok(Html(html).into_response())
}

#[derive(Deserialize)]
pub struct CodeFactorForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    method: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    name: String,
}

pub async fn code_factor_submit(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    PageSession(s): PageSession,
    headers: HeaderMap,
    Form(form): Form<CodeFactorForm>,
) -> Result<Response, AppError> {
    check_csrf(&state, &s, &form.csrf)?;
    if !is_recent(&state, &s) {
        return ask_first(&state, &headers, &s);
    }
    let (method, target) = match form.method.as_str() {
        "email" => (Method::Email, s.email.clone()),
        "sms" => (Method::Sms, form.phone.clone()),
        _ => return Err(AppError::bad_request("method_unavailable")),
    };
    match start_enrolment(&state, &ctx, &s, method, &target, &form.name).await {
        Ok((id, _)) => Ok(Redirect::to(&flow_path(&id)).into_response()),
        Err(error) if error.status.is_client_error() => {
            render_security(&state, &headers, &s, None, Some(&error), error.status).await
        }
        Err(error) => Err(error),
    }
}

#[derive(Deserialize)]
pub struct RemoveForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    id: String,
}

pub async fn remove_submit(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    PageSession(s): PageSession,
    headers: HeaderMap,
    Form(form): Form<RemoveForm>,
) -> Result<Response, AppError> {
    check_csrf(&state, &s, &form.csrf)?;
    run_or_ask(&state, &ctx, &headers, &s, Pending::RemoveFactor(form.id)).await
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

pub async fn recovery_codes_submit(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    PageSession(s): PageSession,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Result<Response, AppError> {
    check_csrf(&state, &s, &form.csrf)?;
    if !is_recent(&state, &s) {
        return ask_first(&state, &headers, &s);
    }
    if !state.factors.has_any(&s.user_id).await? {
        return Err(AppError::bad_request("method_unavailable"));
    }
    let codes = state
        .factors
        .regenerate_recovery_codes(&s.user_id, ctx.client())
        .await?;
    render_codes(&state, &headers, &codes)
}
