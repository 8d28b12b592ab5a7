//! The drafts API (S5): `GET /api/drafts`, and `GET`/`PUT`/`DELETE /api/drafts/{key}`. The
//! browser client autosaves marked forms here and restores them after any re-login, on any
//! device. Every call needs a session; saving counts as the person's activity unless the request
//! says it is background work.

use super::context::Ctx;
use super::error::{AppError, ErrorBody};
use super::openapi::Errors;
use super::{AppState, activity};
use crate::drafts::DraftError;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tsuzuki_core::drafts::DraftRefusal;
use tsuzuki_store::DraftRecord;
use utoipa::ToSchema;

fn draft_error(e: DraftError) -> AppError {
    match e {
        DraftError::Refused(DraftRefusal::InvalidKey) => AppError::bad_request("draft_key_invalid"),
        DraftError::Refused(DraftRefusal::TooLarge { max }) => {
            AppError::new(StatusCode::PAYLOAD_TOO_LARGE, "draft_too_large")
                .with_arg("max", max.to_string())
        }
        DraftError::Refused(DraftRefusal::TooMany { max }) => {
            AppError::new(StatusCode::CONFLICT, "too_many_drafts").with_arg("max", max.to_string())
        }
        DraftError::NotFound => AppError::new(StatusCode::NOT_FOUND, "draft_not_found"),
        DraftError::Unavailable => AppError::unavailable("draft store unavailable"),
    }
}

/// A draft without its content (listings).
#[derive(Serialize, ToSchema)]
pub struct DraftSummary {
    pub key: String,
    pub page: String,
    pub size: usize,
    pub updated_at: i64,
    pub expires_at: i64,
}

impl From<&DraftRecord> for DraftSummary {
    fn from(d: &DraftRecord) -> Self {
        DraftSummary {
            key: d.form_key.clone(),
            page: d.page.clone(),
            size: d.content.len(),
            updated_at: d.updated_at.0,
            expires_at: d.expires_at.0,
        }
    }
}

async fn user_of(
    state: &AppState,
    ctx: &super::context::RequestContext,
    headers: &HeaderMap,
) -> Result<String, AppError> {
    ctx.session(activity(headers))
        .await
        .map(|s| s.user_id.clone())
        .map_err(|r| state.rejection_error(r))
}

#[derive(Serialize, ToSchema)]
pub struct DraftList {
    pub drafts: Vec<DraftSummary>,
}

/// A draft with its content.
#[derive(Serialize, ToSchema)]
pub struct DraftView {
    pub key: String,
    /// What was saved, as it was saved (any JSON).
    #[schema(value_type = Value)]
    pub content: serde_json::Value,
    pub page: String,
    pub updated_at: i64,
    pub expires_at: i64,
}

#[utoipa::path(get, path = "/api/drafts", tag = "drafts",
    responses(
        (status = 200, description = "The account's drafts, without their content", body = DraftList),
        (status = 401, description = "No live session: `not_signed_in`, `session_invalid`, `session_revoked`, `idle_timeout`, `absolute_timeout`", body = ErrorBody),
        Errors,
    ),
    security(("session_cookie" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    headers: HeaderMap,
) -> Result<Json<DraftList>, AppError> {
    let user = user_of(&state, &ctx, &headers).await?;
    let drafts = state.drafts.list(&user).await.map_err(draft_error)?;
    Ok(Json(DraftList {
        drafts: drafts.iter().map(DraftSummary::from).collect(),
    }))
}

#[utoipa::path(get, path = "/api/drafts/{key}", tag = "drafts",
    params(("key" = String, Path, description = super::openapi::DRAFT_KEY_DOC, pattern = "^[A-Za-z0-9._:/-]{1,128}$")),
    responses(
        (status = 200, description = "The draft", body = DraftView),
        (status = 400, description = "`draft_key_invalid`", body = ErrorBody),
        (status = 401, description = "No live session: `not_signed_in`, `session_invalid`, `session_revoked`, `idle_timeout`, `absolute_timeout`", body = ErrorBody),
        (status = 404, description = "`draft_not_found`", body = ErrorBody),
        Errors,
    ),
    security(("session_cookie" = [])))]
pub async fn get(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    headers: HeaderMap,
    Path(key): Path<String>,
) -> Result<Json<DraftView>, AppError> {
    let user = user_of(&state, &ctx, &headers).await?;
    let d = state.drafts.get(&user, &key).await.map_err(draft_error)?;
    let content: serde_json::Value = serde_json::from_str(&d.content)
        .map_err(|e| AppError::internal(format!("stored draft is not JSON: {e}")))?;
    Ok(Json(DraftView {
        key: d.form_key,
        content,
        page: d.page,
        updated_at: d.updated_at.0,
        expires_at: d.expires_at.0,
    }))
}

#[derive(Deserialize, ToSchema)]
pub struct SaveBody {
    /// The form's fields, as the client serialises them (any JSON).
    #[schema(value_type = Value)]
    content: serde_json::Value,
    /// The page the form is on (a local path).
    #[serde(default)]
    page: String,
}

#[utoipa::path(put, path = "/api/drafts/{key}", tag = "drafts",
    params(("key" = String, Path, description = super::openapi::DRAFT_KEY_DOC, pattern = "^[A-Za-z0-9._:/-]{1,128}$")),
    request_body = SaveBody,
    responses(
        (status = 200, description = "Saved", body = DraftSummary),
        (status = 400, description = "`draft_key_invalid`", body = ErrorBody),
        (status = 401, description = "No live session: `not_signed_in`, `session_invalid`, `session_revoked`, `idle_timeout`, `absolute_timeout`", body = ErrorBody),
        (status = 409, description = "`too_many_drafts`", body = ErrorBody),
        (status = 413, description = "`draft_too_large`, `payload_too_large`", body = ErrorBody),
        Errors,
    ),
    security(("session_cookie" = [])))]
pub async fn save(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    headers: HeaderMap,
    Path(key): Path<String>,
    Json(body): Json<SaveBody>,
) -> Result<Json<DraftSummary>, AppError> {
    let user = user_of(&state, &ctx, &headers).await?;
    let content = body.content.to_string();
    let d = state
        .drafts
        .save(&user, &key, &content, &body.page)
        .await
        .map_err(draft_error)?;
    Ok(Json(DraftSummary::from(&d)))
}

#[utoipa::path(delete, path = "/api/drafts/{key}", tag = "drafts",
    params(("key" = String, Path, description = super::openapi::DRAFT_KEY_DOC, pattern = "^[A-Za-z0-9._:/-]{1,128}$")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "`draft_key_invalid`", body = ErrorBody),
        (status = 401, description = "No live session: `not_signed_in`, `session_invalid`, `session_revoked`, `idle_timeout`, `absolute_timeout`", body = ErrorBody),
        (status = 404, description = "`draft_not_found`", body = ErrorBody),
        Errors,
    ),
    security(("session_cookie" = [])))]
pub async fn delete(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    headers: HeaderMap,
    Path(key): Path<String>,
) -> Result<Response, AppError> {
    let user = user_of(&state, &ctx, &headers).await?;
    state
        .drafts
        .delete(&user, &key)
        .await
        .map_err(draft_error)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
