//! Account recovery and self-registration over HTTP (issue #4 item 8): the `/recover` and
//! `/register` pages and their JSON twins, and the new-password step of a recovery flow. The
//! email and second-factor steps are the flow pages of `flows.rs` (`/sign-in/flow/{id}`,
//! `/api/flows/{id}/…`); what a finished flow yields is decided here and called from its
//! `complete()`.
//!
//! The recovery answers are the same for every address (SEC-56): `202` with the flow (JSON) or a
//! redirect to the flow's page, whether or not an account uses the address.

use super::api::finish_sign_in;
use super::context::{Ctx, RequestContext};
use super::csrf::CsrfTokens;
use super::error::{AppError, ErrorBody, Rendered};
use super::flows::FlowDone;
use super::flows::{FlowView, flow_error, flow_path};
use super::openapi::Errors;
use super::pages::{HOME, error_context, human_time, sign_in_error, urlencode};
use super::{AppState, cookies, request_lang};
use crate::recovery::{Begin, Recovery, RecoveryError};
use crate::remember::CurrentDevice;
use crate::sessions::ActiveSession;
use axum::Form;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use minijinja::context;
use serde::Deserialize;
use tsuzuki_core::flow::Step;
use tsuzuki_core::password_policy::PasswordError;
use tsuzuki_core::revocation::{Scope, SecurityEvent};
use tsuzuki_core::session::AuthMethod;
use tsuzuki_core::token::{SecretToken, TokenHash};
use tsuzuki_store::{FlowRecord, User};
use utoipa::ToSchema;

/// The recovery service over this application's parts.
fn service(state: &AppState) -> Recovery<'_> {
    Recovery {
        store: &state.store,
        flows: &state.flows,
        signin: &state.signin,
        remember: &state.remember,
        password_policy: state.account.password_policy,
    }
}

/// The HTTP form of a recovery or registration error.
pub fn recovery_error(e: RecoveryError) -> AppError {
    match e {
        RecoveryError::InvalidEmail => AppError::bad_request("invalid_email"),
        RecoveryError::Password(PasswordError::TooShort(n)) => {
            AppError::bad_request("password_too_short").with_arg("min", n.to_string())
        }
        RecoveryError::Password(PasswordError::TooLong(n)) => {
            AppError::bad_request("new_password_too_long").with_arg("max", n.to_string())
        }
        RecoveryError::PasswordInput(code) => AppError::bad_request(code),
        RecoveryError::Throttled { retry_after } => AppError::throttled(retry_after),
        // Only after the address was proved: a second registration of it that raced the first.
        RecoveryError::AddressTaken => AppError::new(StatusCode::CONFLICT, "flow_conflict"),
        RecoveryError::Flow(e) => flow_error(e),
        RecoveryError::SignIn(e) => sign_in_error(e).1,
    }
}

/// The browser cookie's hash, creating the cookie if the request had none: flows are bound to
/// the browser that started them (S7).
fn browser(ctx: &RequestContext) -> Result<TokenHash, AppError> {
    SecretToken::parse(&ctx.ensure_browser())
        .map(|t| t.hash())
        .ok_or_else(|| AppError::internal("browser cookie not a token"))
}

/// Registration answers 404 unless `registration.enabled` (off by default).
fn registration_enabled(state: &AppState) -> Result<(), AppError> {
    if state.flows.config.registration_enabled {
        Ok(())
    } else {
        Err(AppError::not_found())
    }
}

// ---- recovery ------------------------------------------------------------------------------

#[derive(Deserialize)]
pub struct EmailQuery {
    /// The address to fill in (from the sign-in page or a "this wasn't me" page).
    email: Option<String>,
}

pub async fn recover_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<EmailQuery>,
) -> Result<Response, AppError> {
    let email: String = q.email.unwrap_or_default().chars().take(320).collect();
    render_form(
        &state,
        &headers,
        "recover.html",
        "/recover",
        email.trim(),
        None,
        StatusCode::OK,
    )
}

#[derive(Deserialize)]
pub struct RecoverForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
}

pub async fn recover_submit(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    headers: HeaderMap,
    Form(form): Form<RecoverForm>,
) -> Result<Response, AppError> {
    check_anonymous_csrf(&state, &headers, &form.csrf)?;
    let begin = Begin {
        browser: browser(&ctx)?,
        return_to: HOME,
    };
    match service(&state)
        .start_recovery(&form.email, begin, &ctx.client_with_browser())
        .await
    {
        Ok((id, _)) => Ok(Redirect::to(&flow_path(&id.encode())).into_response()),
        Err(e) => {
            let error = recovery_error(e);
            if error.status.is_server_error() {
                return Err(error);
            }
            render_form(
                &state,
                &headers,
                "recover.html",
                "/recover",
                form.email.trim(),
                Some(&error),
                error.status,
            )
        }
    }
}

#[derive(Deserialize, ToSchema)]
pub struct RecoverBody {
    #[schema(format = Email)]
    email: String,
}

/// "Forgot password" (JSON): `202` with the flow, whatever the address (SEC-56). Continue with
/// `/api/flows/{id}/verify`, then `/api/flows/{id}/password`.
#[utoipa::path(post, path = "/api/recover", tag = "recovery",
    request_body = RecoverBody,
    responses(
        (status = 202, description = "The recovery flow, whatever the address (SEC-56)", body = FlowView),
        (status = 400, description = "`invalid_email`", body = ErrorBody),
        (status = 429, description = "`throttled`, `resend_daily_cap`", body = ErrorBody),
        Errors,
    ))]
pub async fn api_recover(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Json(body): Json<RecoverBody>,
) -> Result<Response, AppError> {
    let begin = Begin {
        browser: browser(&ctx)?,
        return_to: HOME,
    };
    let (id, flow) = service(&state)
        .start_recovery(&body.email, begin, &ctx.client_with_browser())
        .await
        .map_err(recovery_error)?;
    let view = FlowView::load(&state, &id.encode(), &flow).await;
    Ok((StatusCode::ACCEPTED, Json(view)).into_response())
}

// ---- the new-password step -----------------------------------------------------------------

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    password: String,
}

pub async fn password_submit(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<PasswordForm>,
) -> Result<Response, AppError> {
    let flow = match state.flows.open(&id, ctx.browser_cookie().as_deref()).await {
        Ok(f) => f,
        // The flow's page says plainly what happened and offers the restart (S7).
        Err(crate::flows::FlowError::Unavailable) => {
            return Err(AppError::unavailable("flow store unavailable"));
        }
        Err(_) => return Ok(Redirect::to(&flow_path(&id)).into_response()),
    };
    if !CsrfTokens::matches(&state.csrf.for_flow(&flow.id_hash), &form.csrf) {
        return Err(AppError::forbidden("csrf_failed"));
    }
    if flow.state.step != Step::NewPassword {
        // A second submission (another tab, a double click): show where the flow stands.
        return Ok(Redirect::to(&flow_path(&id)).into_response());
    }
    let shown = flow.clone();
    match service(&state)
        .choose_password(flow, form.password, &ctx.client_with_browser())
        .await
    {
        Ok(next) if next.state.step == Step::Done => {
            let to = finish_after_password(&state, &ctx, &next).await?;
            Ok(Redirect::to(&to).into_response())
        }
        Ok(_) => Ok(Redirect::to(&flow_path(&id)).into_response()),
        Err(e) => {
            let error = recovery_error(e);
            if error.status.is_server_error() {
                return Err(error);
            }
            render_password_step(&state, &headers, &id, &shown, Some(&error), error.status)
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[schema(as = NewPasswordBody)]
pub struct PasswordBody {
    /// The new password.
    password: String,
}

/// The new-password step's answer: the flow at its next step, or the end of the reset.
#[derive(serde::Serialize, ToSchema)]
#[serde(untagged)]
pub enum PasswordOutcome {
    Flow(FlowView),
    Done(FlowDone),
}

/// The new password of a recovery (JSON). The flow as it now stands — at the second factor if
/// the account has one (SEC-53) — or `{"done": true, "return_to": …}` when the reset is complete.
#[utoipa::path(post, path = "/api/flows/{id}/password", tag = "recovery",
    params(("id" = String, Path, description = "The recovery flow id")),
    request_body = PasswordBody,
    responses(
        (status = 200, description = "The flow at its second factor, or the reset done", body = PasswordOutcome),
        (status = 400, description = "`password_too_short`, `new_password_too_long`, `password_required`, `password_too_long`", body = ErrorBody),
        (status = 404, description = "`flow_not_found`", body = ErrorBody),
        (status = 409, description = "`flow_conflict`: the flow is not at its new-password step", body = ErrorBody),
        (status = 410, description = "`flow_expired`, `flow_completed`, `flow_locked`", body = ErrorBody),
        Errors,
    ))]
pub async fn api_password(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Path(id): Path<String>,
    Json(body): Json<PasswordBody>,
) -> Result<Json<PasswordOutcome>, AppError> {
    let flow = state
        .flows
        .open(&id, ctx.browser_cookie().as_deref())
        .await
        .map_err(flow_error)?;
    if flow.state.step != Step::NewPassword {
        return Err(flow_error(crate::flows::FlowError::Conflict));
    }
    let next = service(&state)
        .choose_password(flow, body.password, &ctx.client_with_browser())
        .await
        .map_err(recovery_error)?;
    if next.state.step == Step::Done {
        let to = finish_after_password(&state, &ctx, &next).await?;
        return Ok(Json(PasswordOutcome::Done(FlowDone {
            done: true,
            return_to: to,
            recovery_codes: None,
        })));
    }
    Ok(Json(PasswordOutcome::Flow(
        FlowView::load(&state, &id, &next).await,
    )))
}

/// A recovery that ended at the new password (the account has no second factor).
async fn finish_after_password(
    state: &AppState,
    ctx: &RequestContext,
    flow: &FlowRecord,
) -> Result<String, AppError> {
    let user_id = flow.user_id.as_deref().ok_or_else(AppError::not_found)?;
    let user = state
        .store
        .user_by_id(user_id)
        .await?
        .filter(|u| !u.disabled)
        .ok_or_else(|| flow_error(crate::flows::FlowError::NotFound))?;
    finish_reset(state, ctx, flow, &user).await
}

/// What a finished recovery yields (also called by `flows::complete` after a second factor):
/// the new password is set, the `password_reset` row of the revocation table applies — by
/// default every session, remembered device and trusted device, this browser's included
/// (SEC-39) — and no session is created (SEC-53). Returns where to go: the sign-in page with
/// the address filled in and a notice.
pub async fn finish_reset(
    state: &AppState,
    ctx: &RequestContext,
    flow: &FlowRecord,
    user: &User,
) -> Result<String, AppError> {
    let current = CurrentDevice {
        session: ctx
            .session_cookie()
            .and_then(SecretToken::parse)
            .map(|t| t.hash()),
        ..CurrentDevice::default()
    };
    service(state)
        .finish_reset(flow, user, &current, &ctx.client_with_browser())
        .await
        .map_err(recovery_error)?;
    // What the table ended on this browser too, its cookies say no more.
    let ended = state.remember.revocation.get(SecurityEvent::PasswordReset);
    if ended.sessions == Scope::All {
        ctx.set_cookie(state.cookies.clear_session());
    }
    if ended.remembered == Scope::All {
        ctx.set_cookie(state.cookies.clear_remember());
    }
    if ended.trusted_devices == Scope::All {
        ctx.set_cookie(state.cookies.clear_trusted());
    }
    Ok(format!(
        "/sign-in?email={}&notice=reset",
        urlencode(&user.email)
    ))
}

/// Render the new-password step of a recovery flow (the flow page shows this step through it).
pub fn render_password_step(
    state: &AppState,
    headers: &HeaderMap,
    id: &str,
    flow: &FlowRecord,
    error: Option<&AppError>,
    status: StatusCode,
) -> Result<Response, AppError> {
    let lang = request_lang(headers);
    let policy = state.account.password_policy;
    let failures_left = state
        .flows
        .config
        .flow
        .max_failures
        .saturating_sub(flow.state.failures);
    let html = state.templates.render(
        "flow.html",
        lang,
        &flow_path(id),
        context! {
            id => id,
            kind => flow.state.kind.code(),
            step => flow.state.step.code(),
            methods => Vec::<&str>::new(),
            identifier => &flow.identifier,
            min => policy.min_length.to_string(),
            max => policy.max_length.to_string(),
            flow_expires => human_time(flow.state.expires_at),
            failures_left => failures_left,
            csrf => state.csrf.for_flow(&flow.id_hash),
            error => error_context(lang, error),
        },
    )?;
    let mut response = (status, Html(html)).into_response();
    response.extensions_mut().insert(Rendered);
    Ok(response)
}

// ---- registration --------------------------------------------------------------------------

pub async fn register_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<EmailQuery>,
) -> Result<Response, AppError> {
    registration_enabled(&state)?;
    let email: String = q.email.unwrap_or_default().chars().take(320).collect();
    render_form(
        &state,
        &headers,
        "register.html",
        "/register",
        email.trim(),
        None,
        StatusCode::OK,
    )
}

#[derive(Deserialize)]
pub struct RegisterForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

pub async fn register_submit(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    headers: HeaderMap,
    Form(form): Form<RegisterForm>,
) -> Result<Response, AppError> {
    registration_enabled(&state)?;
    check_anonymous_csrf(&state, &headers, &form.csrf)?;
    let begin = Begin {
        browser: browser(&ctx)?,
        return_to: HOME,
    };
    match service(&state)
        .start_registration(
            &form.email,
            form.password,
            begin,
            &ctx.client_with_browser(),
        )
        .await
    {
        Ok((id, _)) => Ok(Redirect::to(&flow_path(&id.encode())).into_response()),
        Err(e) => {
            let error = recovery_error(e);
            if error.status.is_server_error() {
                return Err(error);
            }
            // The address is kept, never the password.
            render_form(
                &state,
                &headers,
                "register.html",
                "/register",
                form.email.trim(),
                Some(&error),
                error.status,
            )
        }
    }
}

#[derive(Deserialize, ToSchema)]
pub struct RegisterBody {
    #[schema(format = Email)]
    email: String,
    password: String,
}

/// Self-registration (JSON): `202` with the flow whose code proves the address; the same
/// answer whether or not the address already has an account (SEC-56).
#[utoipa::path(post, path = "/api/register", tag = "recovery",
    request_body = RegisterBody,
    responses(
        (status = 202, description = "The registration flow: a code went to the address (the same answer for an address that has an account, SEC-56)", body = FlowView),
        (status = 400, description = "`invalid_email`, `password_too_short`, `new_password_too_long`, `password_required`, `password_too_long`", body = ErrorBody),
        (status = 404, description = "`not_found`: registration is off (`registration.enabled`)", body = ErrorBody),
        (status = 429, description = "`throttled`, `resend_daily_cap`", body = ErrorBody),
        Errors,
    ))]
pub async fn api_register(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Json(body): Json<RegisterBody>,
) -> Result<Response, AppError> {
    registration_enabled(&state)?;
    let begin = Begin {
        browser: browser(&ctx)?,
        return_to: HOME,
    };
    let (id, flow) = service(&state)
        .start_registration(
            &body.email,
            body.password,
            begin,
            &ctx.client_with_browser(),
        )
        .await
        .map_err(recovery_error)?;
    let view = FlowView::load(&state, &id.encode(), &flow).await;
    Ok((StatusCode::ACCEPTED, Json(view)).into_response())
}

/// What a finished registration yields (called by `flows::complete`): the account is created
/// and signed in on this browser — the password was typed and the address proved in this very
/// flow, so asking for both again would add nothing.
pub async fn finish_registration(
    state: &AppState,
    ctx: &RequestContext,
    flow: &FlowRecord,
) -> Result<ActiveSession, AppError> {
    registration_enabled(state)?;
    let user = service(state)
        .finish_registration(flow, &ctx.client_with_browser())
        .await
        .map_err(recovery_error)?;
    finish_sign_in(
        state,
        ctx,
        &user,
        &[AuthMethod::Password, AuthMethod::EmailCode],
        false,
        false,
    )
    .await
}

// ---- shared --------------------------------------------------------------------------------

/// The anonymous CSRF check of the sign-in form (SEC-61): the token must be the one bound to
/// this browser's CSRF cookie.
fn check_anonymous_csrf(
    state: &AppState,
    headers: &HeaderMap,
    token: &str,
) -> Result<(), AppError> {
    let Some(cookie_value) = cookies::read_cookie(headers, &state.cookies.csrf) else {
        return Err(AppError::bad_request("cookies_required"));
    };
    if CsrfTokens::matches(&state.csrf.for_anonymous(cookie_value), token) {
        Ok(())
    } else {
        Err(AppError::forbidden("csrf_failed"))
    }
}

/// Render the recover or register form, creating the anonymous CSRF cookie if the browser has
/// none (as the sign-in form does).
fn render_form(
    state: &AppState,
    headers: &HeaderMap,
    template: &str,
    path: &str,
    email: &str,
    error: Option<&AppError>,
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
    let policy = state.account.password_policy;
    let html = state.templates.render(
        template,
        lang,
        path,
        context! {
            csrf => state.csrf.for_anonymous(&cookie_value),
            email => email,
            min => policy.min_length.to_string(),
            max => policy.max_length.to_string(),
            error => error_context(lang, error),
        },
    )?;
    let mut response = (status, Html(html)).into_response();
    response.extensions_mut().insert(Rendered);
    if let Some(h) = set_cookie {
        response.headers_mut().append(header::SET_COOKIE, h);
    }
    if let Some(secs) = error.and_then(|e| e.retry_after) {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    Ok(response)
}
