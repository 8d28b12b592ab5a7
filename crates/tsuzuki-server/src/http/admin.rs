//! The admin API: operator actions over HTTP, authenticated by `Authorization: Bearer <token>`
//! whose SHA-256 is `admin.token_sha256` in the configuration (only the hash is kept). When no
//! token is configured, every admin route answers 404, as if it did not exist.

use super::AppState;
use super::error::AppError;
use crate::operator::{self, Ended, OperatorError, TokenLine};
use axum::Json;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::header;
use axum::http::request::Parts;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Proof that the request carries the operator token.
pub struct Operator;

impl FromRequestParts<AppState> for Operator {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Some(expected) = state.config.admin_token_sha256 else {
            return Err(AppError::not_found());
        };
        let presented = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        let digest: [u8; 32] = Sha256::digest(presented.trim().as_bytes()).into();
        if bool::from(digest.ct_eq(&expected)) && !presented.is_empty() {
            Ok(Operator)
        } else {
            Err(AppError::unauthorized("operator_token_required"))
        }
    }
}

/// The hex SHA-256 that `admin.token_sha256` holds for an operator token.
pub fn token_digest(token: &str) -> String {
    data_encoding::HEXLOWER.encode(&Sha256::digest(token.trim().as_bytes()))
}

fn operator_error(e: OperatorError) -> AppError {
    match e {
        OperatorError::NoSuchUser(_) | OperatorError::NoSuchHandle(_) => AppError::not_found(),
        OperatorError::BadEmail(_) => AppError::bad_request("invalid_email"),
        OperatorError::Store(e) => e.into(),
    }
}

pub async fn tokens_of_user(
    _: Operator,
    State(state): State<AppState>,
    Path(email): Path<String>,
) -> Result<Json<Vec<TokenLine>>, AppError> {
    operator::list(&*state.store, &email)
        .await
        .map(Json)
        .map_err(operator_error)
}

/// Exactly one of the three.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeBody {
    handle: Option<String>,
    user: Option<String>,
    #[serde(default)]
    all: bool,
}

pub async fn revoke(
    _: Operator,
    State(state): State<AppState>,
    Json(body): Json<RevokeBody>,
) -> Result<Json<Ended>, AppError> {
    let now = state.sessions.now();
    let ended = match (body.handle, body.user, body.all) {
        (Some(handle), None, false) => operator::revoke_handle(&*state.store, &handle, now).await,
        (None, Some(user), false) => operator::revoke_user(&*state.store, &user, now).await,
        (None, None, true) => operator::revoke_all(&*state.store, now).await,
        _ => return Err(AppError::bad_request("invalid_request")),
    }
    .map_err(operator_error)?;
    // This node honours it at once; the others through the revocation feed.
    state.sessions.apply_revocation_feed().await?;
    Ok(Json(ended))
}
