//! The drafts API (S5): `GET /api/drafts`, and `GET`/`PUT`/`DELETE /api/drafts/{key}`. The
//! browser client autosaves marked forms here and restores them after any re-login, on any
//! device. Every call needs a session; saving counts as the person's activity unless the request
//! says it is background work.

use super::context::Ctx;
use super::error::AppError;
use super::{AppState, activity};
use crate::drafts::DraftError;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tsuzuki_core::drafts::DraftRefusal;
use tsuzuki_store::DraftRecord;

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
#[derive(Serialize)]
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

pub async fn list(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, AppError> {
    let user = user_of(&state, &ctx, &headers).await?;
    let drafts = state.drafts.list(&user).await.map_err(draft_error)?;
    let summaries: Vec<DraftSummary> = drafts.iter().map(DraftSummary::from).collect();
    Ok(Json(serde_json::json!({ "drafts": summaries })))
}

pub async fn get(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    headers: HeaderMap,
    Path(key): Path<String>,
) -> Result<Json<serde_json::Value>, AppError> {
    let user = user_of(&state, &ctx, &headers).await?;
    let d = state.drafts.get(&user, &key).await.map_err(draft_error)?;
    let content: serde_json::Value = serde_json::from_str(&d.content)
        .map_err(|e| AppError::internal(format!("stored draft is not JSON: {e}")))?;
    Ok(Json(serde_json::json!({
        "key": d.form_key,
        "content": content,
        "page": d.page,
        "updated_at": d.updated_at.0,
        "expires_at": d.expires_at.0,
    })))
}

#[derive(Deserialize)]
pub struct SaveBody {
    /// The form's fields, as the client serialises them (any JSON).
    content: serde_json::Value,
    #[serde(default)]
    page: String,
}

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
