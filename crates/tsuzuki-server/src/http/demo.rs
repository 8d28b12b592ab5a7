//! The demo application of `tsuzuki serve --demo` (issue #5 item 4): a protected page with a long
//! inquiry form that uses the browser client (expiry warning, autosaved draft, inline sign-in),
//! and the page that answers its submission. Outside demo mode both answer 404.

use super::context::Ctx;
use super::csrf::CsrfTokens;
use super::error::AppError;
use super::pages::page_session;
use super::{AppState, request_lang};
use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::{Html, IntoResponse, Response};
use minijinja::context;
use serde::Deserialize;

/// The form's draft key (`data-tsuzuki-autosave`), deleted when the inquiry is received.
pub const DRAFT_KEY: &str = "demo-inquiry";

/// The categories of the select, by value; labels are `demo-category-{value}`.
const CATEGORIES: [&str; 5] = ["order", "delivery", "return", "account", "other"];

/// The longest inquiry text accepted, in characters.
const MAX_MESSAGE: usize = 10_000;

/// The session of a demo request: 404 outside demo mode, the sign-in redirect without one.
async fn demo_session(
    state: &AppState,
    ctx: &super::context::RequestContext,
    headers: &HeaderMap,
    uri: &Uri,
) -> Result<Result<crate::sessions::ActiveSession, Response>, AppError> {
    if !state.config.demo {
        return Err(AppError::not_found());
    }
    Ok(page_session(state, ctx, headers, uri).await)
}

pub async fn page(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, AppError> {
    let session = match demo_session(&state, &ctx, &headers, &uri).await? {
        Ok(s) => s,
        Err(redirect) => return Ok(redirect),
    };
    let lang = request_lang(&headers);
    let idle = state.config.session.idle_timeout.as_secs();
    let html = state.templates.render(
        "demo_inquiry.html",
        lang,
        uri.path(),
        context! {
            csrf => state.csrf.for_session(&session.id_hash),
            draft_key => DRAFT_KEY,
            categories => CATEGORIES,
            max_message => MAX_MESSAGE,
            // In whole minutes when it is some; else in seconds (a 20 s test limit is not
            // "one minute").
            idle_minutes => (idle % 60 == 0).then(|| (idle / 60).to_string()),
            idle_seconds => idle.to_string(),
        },
    )?;
    Ok(Html(html).into_response())
}

#[derive(Deserialize)]
pub struct InquiryForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    order: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    message: String,
    consent: Option<String>,
}

pub async fn submit(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    headers: HeaderMap,
    uri: Uri,
    Form(form): Form<InquiryForm>,
) -> Result<Response, AppError> {
    let session = match demo_session(&state, &ctx, &headers, &uri).await? {
        Ok(s) => s,
        Err(redirect) => return Ok(redirect),
    };
    if !CsrfTokens::matches(&state.csrf.for_session(&session.id_hash), &form.csrf) {
        return Err(AppError::forbidden("csrf_failed"));
    }
    let name = form.name.trim();
    let message = form.message.trim();
    if name.is_empty()
        || form.email.trim().is_empty()
        || message.is_empty()
        || form.consent.is_none()
        || !CATEGORIES.contains(&form.category.as_str())
        || message.chars().count() > MAX_MESSAGE
        || name.chars().count() > 200
        || form.order.chars().count() > 100
    {
        return Err(AppError::bad_request("demo_incomplete"));
    }
    // Received: the draft has done its job. The page below also asks the browser client to delete
    // it (<meta name="tsuzuki-saved">), as a host application without access to the store would.
    match state.drafts.delete(&session.user_id, DRAFT_KEY).await {
        Ok(()) | Err(crate::drafts::DraftError::NotFound) => {}
        Err(e) => tracing::warn!(error = ?e, "demo: the draft could not be deleted"),
    }
    let lang = request_lang(&headers);
    let html = state.templates.render(
        "demo_received.html",
        lang,
        "/demo/inquiry",
        context! {
            draft_key => DRAFT_KEY,
            name => name,
            order => form.order.trim(),
            category => format!("demo-category-{}", form.category),
            chars => message.chars().count().to_string(),
        },
    )?;
    Ok(Html(html).into_response())
}
