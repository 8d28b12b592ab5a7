//! Sign-in flows over HTTP (S7): the code step as a page at `/sign-in/flow/{id}` and as JSON at
//! `/api/flows/{id}`. The URL carries the flow id, so reopening it — after a reload, a closed
//! tab, a browser restart, a server restart, an expired session — lands on the same step. The
//! browser cookie binds the flow to the browser that started it; forms carry a CSRF token bound
//! to the flow.

use super::api::{SessionInfo, finish_sign_in};
use super::context::{Ctx, RequestContext};
use super::csrf::CsrfTokens;
use super::error::{AppError, ErrorBody, Rendered};
use super::openapi::{Empty, Errors};
use super::pages::{error_context, human_time, iso_time, urlencode};
use super::{AppState, request_lang};
use crate::flows::{FlowError, Proved};
use crate::remember::CurrentDevice;
use axum::Form;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use minijinja::context;
use serde::{Deserialize, Serialize};
use tsuzuki_core::flow::{FlowKind, Method, Step};
use tsuzuki_core::otp;
use tsuzuki_core::session::AuthMethod;
use tsuzuki_store::FlowRecord;
use utoipa::ToSchema;

/// The page of a flow.
pub fn flow_path(id: &str) -> String {
    format!("/sign-in/flow/{id}")
}

/// The HTTP form of a flow error.
pub fn flow_error(e: FlowError) -> AppError {
    let mut err = match &e {
        FlowError::NotFound => AppError::new(StatusCode::NOT_FOUND, "flow_not_found"),
        FlowError::Ended { end, .. } => AppError::new(StatusCode::GONE, end.code()),
        FlowError::WrongCode { attempts_left, .. } => {
            AppError::unauthorized("code_invalid").with_arg("attempts", attempts_left.to_string())
        }
        FlowError::Replayed => AppError::unauthorized("code_already_used"),
        FlowError::CodeExpired => AppError::unauthorized("code_expired"),
        FlowError::CodeExhausted => AppError::unauthorized("code_attempts_exceeded"),
        FlowError::NoCode => AppError::bad_request("code_not_sent"),
        FlowError::MethodUnavailable => AppError::bad_request("method_unavailable"),
        FlowError::Conflict => AppError::new(StatusCode::CONFLICT, "flow_conflict"),
        FlowError::Cooldown { retry_after } | FlowError::DailyCap { retry_after } => {
            let mut a = AppError::new(StatusCode::TOO_MANY_REQUESTS, e.code());
            a.retry_after = Some((*retry_after).max(1));
            a
        }
        FlowError::Throttled { retry_after } => AppError::throttled(*retry_after),
        FlowError::SendFailed => {
            let mut a = AppError::new(StatusCode::BAD_GATEWAY, "code_send_failed");
            a.retry_after = Some(30);
            a
        }
        FlowError::Unavailable => AppError::unavailable("flow store unavailable"),
    };
    if let FlowError::Ended { identifier, .. } = &e {
        err = err.with_arg("identifier", identifier.clone());
    }
    err
}

/// A flow as the client sees it (JSON), and as the page shows it.
#[derive(Serialize, ToSchema)]
pub struct FlowView {
    /// The flow's id: part of its URL, and a secret of this browser's.
    pub id: String,
    /// `sign_in`, `step_up`, `recovery`, `registration` or `enrolment`.
    pub kind: &'static str,
    /// `password`, `second_factor`, `verify_email`, `new_password` or `done`.
    pub step: &'static str,
    /// Methods the person can switch to.
    pub methods: Vec<&'static str>,
    /// The method the step asks for now.
    pub method: Option<&'static str>,
    pub code: Option<CodeView>,
    /// When "send a new code" works again (Unix seconds), if a code was sent.
    pub resend_available_at: Option<i64>,
    /// When the flow ends without activity.
    pub expires_at: i64,
    /// Wrong answers left before the flow ends (SEC-46).
    pub failures_left: u32,
    pub identifier: String,
    /// Where the code went, masked.
    pub sent_to: Option<String>,
    pub remember: bool,
    /// Where the flow ends up.
    pub return_to: String,
    pub now: i64,
}

#[derive(Serialize, ToSchema)]
pub struct CodeView {
    pub method: &'static str,
    pub expires_at: i64,
    pub attempts_left: u32,
}

impl FlowView {
    /// The view with the masked target of the step's code.
    pub async fn load(state: &AppState, id: &str, flow: &FlowRecord) -> FlowView {
        let mut view = Self::new(state, id, flow);
        view.sent_to = state.flows.masked_target(flow).await;
        view
    }

    pub fn new(state: &AppState, id: &str, flow: &FlowRecord) -> FlowView {
        let cfg = &state.flows.config;
        let s = &flow.state;
        FlowView {
            id: id.to_string(),
            kind: s.kind.code(),
            step: s.step.code(),
            methods: s.methods.iter().map(|m| m.code()).collect(),
            method: match s.step {
                Step::VerifyEmail => Some(Method::Email.code()),
                _ => s.chosen.map(|m| m.code()),
            },
            code: flow.code.as_ref().map(|c| CodeView {
                method: c.method.code(),
                expires_at: c.expires_at.0,
                attempts_left: cfg.codes.max_attempts.saturating_sub(c.attempts),
            }),
            resend_available_at: otp::next_send_at(
                flow.codes_sent,
                flow.code.as_ref().map(|c| c.sent_at),
                &cfg.codes,
            )
            .map(|t| t.0),
            expires_at: s.expires_at.0,
            failures_left: cfg.flow.max_failures.saturating_sub(s.failures),
            identifier: flow.identifier.clone(),
            sent_to: None,
            remember: flow.remember,
            return_to: flow.return_to.clone(),
            now: state.flows.now().0,
        }
    }
}

/// Open the flow of this request (URL id + browser cookie).
async fn open(state: &AppState, ctx: &RequestContext, id: &str) -> Result<FlowRecord, FlowError> {
    state.flows.open(id, ctx.browser_cookie().as_deref()).await
}

// ---- JSON API ----------------------------------------------------------------------------

/// A flow that ended without a session: a recovery's new password, an enrolment.
#[derive(Serialize, ToSchema)]
pub struct FlowDone {
    pub done: bool,
    /// Where the client goes next (a local path).
    pub return_to: String,
    /// Only when an enrolment added the account's first factor: its recovery codes, shown this
    /// once; otherwise null.
    pub recovery_codes: Option<Vec<String>>,
}

/// What answering a flow's step gives: the session (sign-in, step-up, registration), the end of
/// a flow that yields no session, or the flow at its next step.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum StepOutcome {
    Session(SessionInfo),
    Done(FlowDone),
    Flow(FlowView),
}

#[utoipa::path(get, path = "/api/flows/{id}", tag = "flows",
    params(("id" = String, Path, description = "The flow id (from the 202 that started it)")),
    responses(
        (status = 200, description = "The flow", body = FlowView),
        (status = 404, description = "`flow_not_found`: no such flow, or it belongs to another browser", body = ErrorBody),
        (status = 410, description = "`flow_expired`, `flow_completed`, `flow_locked`", body = ErrorBody),
        Errors,
    ))]
pub async fn api_get(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Path(id): Path<String>,
) -> Result<Json<FlowView>, AppError> {
    let flow = open(&state, &ctx, &id).await.map_err(flow_error)?;
    Ok(Json(FlowView::load(&state, &id, &flow).await))
}

#[derive(Deserialize, ToSchema)]
pub struct VerifyBody {
    code: String,
    /// "Trust this device" (S3).
    #[serde(default)]
    trust_device: bool,
}

#[utoipa::path(post, path = "/api/flows/{id}/verify", tag = "flows",
    params(("id" = String, Path, description = "The flow id")),
    request_body = VerifyBody,
    responses(
        (status = 200, description = "The step was answered", body = StepOutcome),
        (status = 401, description = "`code_invalid`, `code_expired`, `code_already_used`, `code_attempts_exceeded`", body = ErrorBody),
        (status = 404, description = "`flow_not_found`", body = ErrorBody),
        (status = 409, description = "`flow_conflict`: another request moved the flow first", body = ErrorBody),
        (status = 410, description = "`flow_expired`, `flow_completed`, `flow_locked`", body = ErrorBody),
        (status = 429, description = "`throttled`", body = ErrorBody),
        Errors,
    ))]
pub async fn api_verify(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Path(id): Path<String>,
    Json(body): Json<VerifyBody>,
) -> Result<Json<StepOutcome>, AppError> {
    let flow = open(&state, &ctx, &id).await.map_err(flow_error)?;
    let proved = verify(&state, &ctx, flow, &body.code).await?;
    let now = state.sessions.now().0;
    Ok(Json(
        match complete(&state, &ctx, proved, body.trust_device).await? {
            Completion::SignedIn(session) | Completion::SteppedUp { session, .. } => {
                StepOutcome::Session(SessionInfo::new(&session, now))
            }
            Completion::Done { return_to } => StepOutcome::Done(FlowDone {
                done: true,
                return_to,
                recovery_codes: None,
            }),
            Completion::Enrolled {
                return_to,
                recovery_codes,
            } => StepOutcome::Done(FlowDone {
                done: true,
                return_to,
                recovery_codes,
            }),
            Completion::Continues(flow) => {
                StepOutcome::Flow(FlowView::load(&state, &id, &flow).await)
            }
        },
    ))
}

#[utoipa::path(post, path = "/api/flows/{id}/resend", tag = "flows",
    params(("id" = String, Path, description = "The flow id")),
    request_body = Empty,
    responses(
        (status = 200, description = "A new code was sent", body = FlowView),
        (status = 400, description = "`code_not_sent`, `method_unavailable`", body = ErrorBody),
        (status = 404, description = "`flow_not_found`", body = ErrorBody),
        (status = 410, description = "`flow_expired`, `flow_completed`, `flow_locked`", body = ErrorBody),
        (status = 429, description = "`resend_cooldown`, `resend_daily_cap`, `throttled` (with Retry-After)", body = ErrorBody),
        (status = 502, description = "`code_send_failed`", body = ErrorBody),
        Errors,
    ))]
pub async fn api_resend(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Path(id): Path<String>,
) -> Result<Json<FlowView>, AppError> {
    let flow = open(&state, &ctx, &id).await.map_err(flow_error)?;
    let flow = state
        .flows
        .resend(flow, &ctx.client_with_browser())
        .await
        .map_err(flow_error)?;
    Ok(Json(FlowView::load(&state, &id, &flow).await))
}

#[derive(Deserialize, ToSchema)]
pub struct MethodBody {
    /// One of the flow's `methods`: `totp`, `email`, `sms` or `recovery`.
    method: String,
}

#[utoipa::path(post, path = "/api/flows/{id}/method", tag = "flows",
    params(("id" = String, Path, description = "The flow id")),
    request_body = MethodBody,
    responses(
        (status = 200, description = "The flow with the method switched (a code sent if it takes one)", body = FlowView),
        (status = 400, description = "`method_unavailable`", body = ErrorBody),
        (status = 404, description = "`flow_not_found`", body = ErrorBody),
        (status = 410, description = "`flow_expired`, `flow_completed`, `flow_locked`", body = ErrorBody),
        (status = 429, description = "`resend_cooldown`, `resend_daily_cap`, `throttled`", body = ErrorBody),
        (status = 502, description = "`code_send_failed`", body = ErrorBody),
        Errors,
    ))]
pub async fn api_method(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Path(id): Path<String>,
    Json(body): Json<MethodBody>,
) -> Result<Json<FlowView>, AppError> {
    let flow = open(&state, &ctx, &id).await.map_err(flow_error)?;
    let method = Method::from_code(&body.method)
        .ok_or_else(|| AppError::bad_request("method_unavailable"))?;
    let flow = state
        .flows
        .choose(flow, method, &ctx.client_with_browser())
        .await
        .map_err(flow_error)?;
    Ok(Json(FlowView::load(&state, &id, &flow).await))
}

// ---- shared by both ----------------------------------------------------------------------

async fn verify(
    state: &AppState,
    ctx: &RequestContext,
    flow: FlowRecord,
    code: &str,
) -> Result<Proved, AppError> {
    let user_id = flow.user_id.clone();
    let kind = flow.state.kind;
    let method = flow.state.chosen.map_or("code", |m| m.code());
    let result = state
        .flows
        .verify(flow, code, &ctx.client_with_browser())
        .await;
    if let (Err(e), Some(uid), FlowKind::SignIn) = (&result, &user_id, kind)
        && matches!(e, FlowError::WrongCode { .. } | FlowError::Replayed)
    {
        state
            .history
            .failure(
                uid,
                &format!("pwd,{method}"),
                "wrong_code",
                &ctx.client_with_browser(),
            )
            .await;
    }
    result.map_err(flow_error)
}

enum Completion {
    SignedIn(crate::sessions::ActiveSession),
    Done {
        return_to: String,
    },
    /// A factor was added; the first one comes with recovery codes to show once.
    Enrolled {
        return_to: String,
        recovery_codes: Option<Vec<String>>,
    },
    /// A step-up: the fresh session, and the operation it interrupted (pages complete it).
    SteppedUp {
        session: crate::sessions::ActiveSession,
        pending: Option<super::account::Pending>,
    },
    /// A recovery whose address was proved: the flow goes on (new password, second factor).
    Continues(Box<FlowRecord>),
}

/// What a flow's last step yields, by kind.
async fn complete(
    state: &AppState,
    ctx: &RequestContext,
    proved: Proved,
    trust_device: bool,
) -> Result<Completion, AppError> {
    let flow = &proved.flow;
    if flow.state.kind == FlowKind::Recovery && flow.state.step != Step::Done {
        return Ok(Completion::Continues(Box::new(proved.flow)));
    }
    if flow.state.step != Step::Done {
        return Err(AppError::internal(
            "flow step after a proof is not the last",
        ));
    }
    if flow.state.kind == FlowKind::Registration {
        // The one kind that ends without an account: completing it creates one.
        let session = super::recovery::finish_registration(state, ctx, flow).await?;
        return Ok(Completion::SignedIn(session));
    }
    let user_id = flow.user_id.as_deref().ok_or_else(AppError::not_found)?;
    let user = state
        .store
        .user_by_id(user_id)
        .await?
        .filter(|u| !u.disabled)
        .ok_or_else(|| flow_error(FlowError::NotFound))?;
    match flow.state.kind {
        FlowKind::SignIn => {
            let methods = [AuthMethod::Password, proved.method];
            let session =
                finish_sign_in(state, ctx, &user, &methods, flow.remember, trust_device).await?;
            Ok(Completion::SignedIn(session))
        }
        FlowKind::Enrolment => {
            let current = CurrentDevice {
                session: ctx
                    .session_cookie()
                    .and_then(|c| tsuzuki_core::token::SecretToken::parse(c).map(|t| t.hash())),
                ..CurrentDevice::default()
            };
            let first = !state.factors.has_any(&user.id).await?;
            state
                .factors
                .confirm_by_flow(&user.id, &flow.payload, &current, ctx.client())
                .await
                .map_err(super::security::factor_error)?;
            // The account's first factor brings its recovery codes, shown once (as for an app).
            let recovery_codes = if first {
                Some(
                    state
                        .factors
                        .regenerate_recovery_codes(&user.id, ctx.client())
                        .await?,
                )
            } else {
                None
            };
            Ok(Completion::Enrolled {
                return_to: flow.return_to.clone(),
                recovery_codes,
            })
        }
        FlowKind::StepUp => {
            let (session, pending) =
                super::account::finish_step_up(state, ctx, flow, &user, proved.method).await?;
            Ok(Completion::SteppedUp { session, pending })
        }
        FlowKind::Recovery => Ok(Completion::Done {
            return_to: super::recovery::finish_reset(state, ctx, flow, &user).await?,
        }),
        _ => Err(AppError::bad_request("method_unavailable")),
    }
}

// ---- pages -------------------------------------------------------------------------------

#[derive(Deserialize)]
pub struct FlowQuery {
    /// `sent`: a new code went out (a notice on the page).
    notice: Option<String>,
}

pub async fn page(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<FlowQuery>,
) -> Result<Response, AppError> {
    match open(&state, &ctx, &id).await {
        Ok(flow) if flow.state.step == Step::NewPassword => super::recovery::render_password_step(
            &state,
            &headers,
            &id,
            &flow,
            None,
            StatusCode::OK,
        ),
        Ok(flow) => {
            let notice = match q.notice.as_deref() {
                Some("sent") => Some("flow-code-sent"),
                Some("method") => Some("flow-method-switched"),
                _ => None,
            };
            render_step(&state, &headers, &id, &flow, notice, None, StatusCode::OK).await
        }
        Err(e) => render_unusable(&state, &headers, e),
    }
}

#[derive(Deserialize)]
pub struct VerifyForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
    /// The "trust this device" checkbox: present when ticked.
    trust: Option<String>,
}

pub async fn page_verify(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<VerifyForm>,
) -> Result<Response, AppError> {
    let flow = match open_posted(&state, &ctx, &headers, &id, &form.csrf).await? {
        Ok(f) => f,
        Err(page) => return Ok(page),
    };
    let shown = flow.clone();
    match verify(&state, &ctx, flow, &form.code).await {
        Ok(proved) => match complete(&state, &ctx, proved, form.trust.is_some()).await? {
            Completion::SignedIn(_) => Ok(Redirect::to(&shown.return_to).into_response()),
            Completion::Done { return_to } => Ok(Redirect::to(&return_to).into_response()),
            Completion::Enrolled {
                return_to,
                recovery_codes,
            } => match recovery_codes {
                Some(codes) => super::security::render_codes(&state, &headers, &codes),
                None => Ok(Redirect::to(&return_to).into_response()),
            },
            Completion::SteppedUp { session, pending } => match pending {
                Some(p) => super::account::perform(&state, &ctx, &session, p).await,
                None => Ok(Redirect::to(&shown.return_to).into_response()),
            },
            Completion::Continues(_) => Ok(Redirect::to(&flow_path(&id)).into_response()),
        },
        Err(error) => show_refusal(&state, &ctx, &headers, &id, shown, error).await,
    }
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

pub async fn page_resend(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, AppError> {
    let flow = match open_posted(&state, &ctx, &headers, &id, &form.csrf).await? {
        Ok(f) => f,
        Err(page) => return Ok(page),
    };
    let client = ctx.client_with_browser();
    match state.flows.resend(flow.clone(), &client).await {
        Ok(_) => Ok(Redirect::to(&format!("{}?notice=sent", flow_path(&id))).into_response()),
        Err(e) => show_refusal(&state, &ctx, &headers, &id, flow, flow_error(e)).await,
    }
}

#[derive(Deserialize)]
pub struct MethodForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    method: String,
}

pub async fn page_method(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<MethodForm>,
) -> Result<Response, AppError> {
    let flow = match open_posted(&state, &ctx, &headers, &id, &form.csrf).await? {
        Ok(f) => f,
        Err(page) => return Ok(page),
    };
    let method = Method::from_code(&form.method)
        .ok_or_else(|| AppError::bad_request("method_unavailable"))?;
    let client = ctx.client_with_browser();
    match state.flows.choose(flow.clone(), method, &client).await {
        Ok(_) => Ok(Redirect::to(&format!("{}?notice=method", flow_path(&id))).into_response()),
        Err(e) => show_refusal(&state, &ctx, &headers, &id, flow, flow_error(e)).await,
    }
}

/// Open the flow a form was posted to and check the form's CSRF token. A flow that cannot be
/// used is answered with its plain page (`Err` inside).
async fn open_posted(
    state: &AppState,
    ctx: &RequestContext,
    headers: &HeaderMap,
    id: &str,
    csrf: &str,
) -> Result<Result<FlowRecord, Response>, AppError> {
    let flow = match open(state, ctx, id).await {
        Ok(f) => f,
        Err(e) => return render_unusable(state, headers, e).map(Err),
    };
    check_csrf(state, &flow, csrf)?;
    Ok(Ok(flow))
}

/// A refused step is shown again, as the flow stands now (attempts counted, a switch made),
/// with the message. A server failure is an error page — except a code that could not be sent,
/// where the page offers to send again or switch.
async fn show_refusal(
    state: &AppState,
    ctx: &RequestContext,
    headers: &HeaderMap,
    id: &str,
    before: FlowRecord,
    error: AppError,
) -> Result<Response, AppError> {
    if error.status.is_server_error() && error.code != "code_send_failed" {
        return Err(error);
    }
    let now = match open(state, ctx, id).await {
        Ok(f) => f,
        Err(FlowError::Unavailable) => before,
        Err(e) => return render_unusable(state, headers, e),
    };
    render_step(state, headers, id, &now, None, Some(&error), error.status).await
}

fn check_csrf(state: &AppState, flow: &FlowRecord, presented: &str) -> Result<(), AppError> {
    if CsrfTokens::matches(&state.csrf.for_flow(&flow.id_hash), presented) {
        Ok(())
    } else {
        Err(AppError::forbidden("csrf_failed"))
    }
}

/// Render the step a flow is at.
async fn render_step(
    state: &AppState,
    headers: &HeaderMap,
    id: &str,
    flow: &FlowRecord,
    notice: Option<&str>,
    error: Option<&AppError>,
    status: StatusCode,
) -> Result<Response, AppError> {
    let lang = request_lang(headers);
    let view = FlowView::load(state, id, flow).await;
    let target = view.sent_to.clone();
    let resend_at = view
        .resend_available_at
        .filter(|&t| t > view.now)
        .map(|t| human_time(tsuzuki_core::clock::Timestamp(t)));
    let trust_days = state.flows.config.trusted_device_lifetime.as_secs() / 86_400;
    let html = state.templates.render(
        "flow.html",
        lang,
        &flow_path(id),
        context! {
            id => id,
            kind => view.kind,
            step => view.step,
            method => view.method,
            methods => view.methods,
            target => target,
            code_expires => view.code.as_ref().map(|c| human_time(tsuzuki_core::clock::Timestamp(c.expires_at))),
            code_expires_iso => view.code.as_ref().map(|c| iso_time(tsuzuki_core::clock::Timestamp(c.expires_at))),
            code_sent => view.code.is_some(),
            resend_at => resend_at,
            flow_expires => human_time(flow.state.expires_at),
            failures_left => view.failures_left,
            csrf => state.csrf.for_flow(&flow.id_hash),
            trust_days => trust_days.to_string(),
            offer_trust => flow.state.kind == FlowKind::SignIn,
            notice => notice.map(|k| lang.t(k)),
            error => error_context(lang, error),
        },
    )?;
    let mut response = (status, Html(html)).into_response();
    response.extensions_mut().insert(Rendered);
    if let Some(secs) = error.and_then(|e| e.retry_after) {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    Ok(response)
}

/// A flow that cannot be used: expired, completed, locked, or unknown in this browser. A plain
/// page — what happened, what to do — and one button that starts again with the identifier
/// filled in (S7).
fn render_unusable(
    state: &AppState,
    headers: &HeaderMap,
    e: FlowError,
) -> Result<Response, AppError> {
    let (kind, identifier, return_to) = match &e {
        FlowError::Ended {
            kind,
            identifier,
            return_to,
            ..
        } => (*kind, identifier.clone(), return_to.clone()),
        FlowError::NotFound => (FlowKind::SignIn, String::new(), String::new()),
        _ => return Err(flow_error(e)),
    };
    let error = flow_error(e);
    let lang = request_lang(headers);
    // Start again where this kind of flow starts, with what the person typed.
    let start = match kind {
        FlowKind::Recovery => "/recover",
        FlowKind::Registration => "/register",
        _ => "/sign-in",
    };
    let mut restart = format!("{start}?email={}", urlencode(&identifier));
    if !return_to.is_empty() {
        restart.push_str(&format!("&return_to={}", urlencode(&return_to)));
    }
    let html = state.templates.render(
        "flow_ended.html",
        lang,
        "/sign-in",
        context! {
            restart => restart,
            identifier => identifier,
            error => error_context(lang, Some(&error)),
            code => error.code,
        },
    )?;
    let mut response = (error.status, Html(html)).into_response();
    response.extensions_mut().insert(Rendered);
    Ok(response)
}
