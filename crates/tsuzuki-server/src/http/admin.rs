//! The admin API: operator actions over HTTP, authenticated by `Authorization: Bearer <token>`
//! whose SHA-256 is `admin.token_sha256` in the configuration (only the hash is kept). When no
//! token is configured, every admin route answers 404, as if it did not exist.
//!
//! Accounts (list in pages, get, create, disable, enable, reset factors), sessions and
//! remembered devices (list, end one, end an account's, end everything) and audit events
//! (filtered, newest first). Each goes through `operator` — the code the CLI uses — and each
//! request that succeeds is itself recorded as an `operator_action` event (SEC-71).

use super::AppState;
use super::context::{Ctx, RequestContext};
use super::error::{AppError, ErrorBody};
use super::openapi::{Empty, ServerErrors};
use crate::operator::{self, Ended, OperatorError, TokenLine};
use crate::passwords::HashError;
use crate::remember::CurrentDevice;
use axum::Json;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tsuzuki_core::events::EventKind;
use tsuzuki_core::password_policy::PasswordError;
use tsuzuki_core::revocation::SecurityEvent;
use tsuzuki_store::{EventFilter, StoredEvent, User};
use utoipa::{IntoParams, ToSchema};

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
        OperatorError::Exists(_) => AppError::new(StatusCode::CONFLICT, "user_exists"),
        OperatorError::Password(PasswordError::TooShort(n)) => {
            AppError::bad_request("password_too_short").with_arg("min", n.to_string())
        }
        OperatorError::Password(PasswordError::TooLong(n)) => {
            AppError::bad_request("new_password_too_long").with_arg("max", n.to_string())
        }
        OperatorError::Hash(HashError::Busy) => AppError::busy(),
        OperatorError::Hash(e @ HashError::Failed(_)) => AppError::internal(e.to_string()),
        OperatorError::Store(e) => e.into(),
    }
}

/// The same list as `GET /api/admin/users/{user}/sessions`, kept for the clients written
/// against it first.
#[utoipa::path(get, path = "/api/admin/users/{user}/tokens", tag = "admin",
    params(("user" = String, Path, description = "Email or id (`usr_…`)")),
    responses(
        (status = 200, description = "The account's sessions and remembered devices", body = Vec<TokenLine>),
        (status = 401, description = "`operator_token_required`", body = ErrorBody),
        (status = "4XX", description = "`operator_token_required`, `invalid_email`, `not_found`", body = ErrorBody),
        ServerErrors,
    ),
    security(("operator_token" = [])))]
pub async fn tokens_of_user(
    op: Operator,
    state: State<AppState>,
    ctx: Ctx,
    path: Path<String>,
) -> Result<Json<Vec<TokenLine>>, AppError> {
    sessions_of_user(op, state, ctx, path).await
}

/// Exactly one of the three.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeBody {
    /// A session (`ses_…`) or remembered device (`rem_…`).
    handle: Option<String>,
    /// An account's email.
    #[schema(format = Email)]
    user: Option<String>,
    /// Every session and remembered device of every account.
    #[serde(default)]
    all: bool,
}

#[utoipa::path(post, path = "/api/admin/revoke", tag = "admin",
    request_body = RevokeBody,
    responses(
        (status = 200, description = "Ended; effective on the next request on every node within the revocation poll interval (SEC-41)", body = Ended),
        (status = 401, description = "`operator_token_required`", body = ErrorBody),
        (status = "4XX", description = "`operator_token_required`, `invalid_request` (not exactly one of the three), `invalid_email`, `not_found`", body = ErrorBody),
        ServerErrors,
    ),
    security(("operator_token" = [])))]
pub async fn revoke(
    _: Operator,
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Json(body): Json<RevokeBody>,
) -> Result<Json<Ended>, AppError> {
    let now = state.sessions.now();
    let (ended, action) = match (body.handle, body.user, body.all) {
        (Some(handle), None, false) => {
            let owner = owner_of_handle(&state, &handle).await?;
            let ended = operator::revoke_handle(&*state.store, &handle, now).await;
            (ended, (owner, format!("sessions.revoke {handle}")))
        }
        (None, Some(user), false) => {
            let owner = operator::find_user(&*state.store, &user)
                .await
                .map_err(operator_error)?;
            let ended = operator::revoke_user(&*state.store, &user, now).await;
            (ended, (Some(owner.id), "sessions.revoke_user".to_string()))
        }
        (None, None, true) => (
            operator::revoke_all(&*state.store, now).await,
            (None, "sessions.revoke_all".to_string()),
        ),
        _ => return Err(AppError::bad_request("invalid_request")),
    };
    let ended = ended.map_err(operator_error)?;
    // This node honours it at once; the others through the revocation feed.
    state.sessions.apply_revocation_feed().await?;
    record(&state, &ctx, action.0.as_deref(), &action.1).await;
    Ok(Json(ended))
}

// ---- Accounts, sessions and events (issue #6 item 5) ----

/// Largest page the admin lists hand out: a page is one query and one response, both bounded.
pub const MAX_PAGE: i64 = 100;
const DEFAULT_PAGE: i64 = 50;

fn page_limit(limit: Option<i64>) -> Result<i64, AppError> {
    match limit {
        None => Ok(DEFAULT_PAGE),
        Some(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
        Some(_) => {
            Err(AppError::bad_request("invalid_limit").with_arg("max", MAX_PAGE.to_string()))
        }
    }
}

/// An account as the admin API shows it: never its password hash.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    /// `usr_…`
    pub id: String,
    pub email: String,
    pub disabled: bool,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
}

impl From<User> for UserView {
    fn from(u: User) -> Self {
        UserView {
            id: u.id,
            email: u.email,
            disabled: u.disabled,
            created_at: u.created_at.0,
            updated_at: u.updated_at.0,
        }
    }
}

/// One page of accounts, in email order.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserPage {
    pub users: Vec<UserView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[schema(nullable = false)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserPageQuery {
    /// Page size, 1 to 100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// The cursor of an account page: the last email, base64url so that it is opaque and needs no
/// escaping in a query string.
fn user_cursor(email: &str) -> String {
    data_encoding::BASE64URL_NOPAD.encode(email.as_bytes())
}

fn parse_user_cursor(cursor: &str) -> Result<String, AppError> {
    data_encoding::BASE64URL_NOPAD
        .decode(cursor.as_bytes())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| AppError::bad_request("invalid_cursor"))
}

/// Record what the operator did: every admin request that succeeds leaves an `operator_action`
/// row — reads too, since what an operator looked at (emails, addresses, devices) is personal
/// data an audit must be able to account for.
async fn record(state: &AppState, ctx: &RequestContext, user_id: Option<&str>, action: &str) {
    state
        .account
        .audit
        .record(
            EventKind::OperatorAction,
            state.sessions.now(),
            user_id,
            None,
            Some(ctx.client()),
            action,
        )
        .await;
}

#[utoipa::path(get, path = "/api/admin/users", tag = "admin",
    params(UserPageQuery),
    responses(
        (status = 200, description = "One page of accounts", body = UserPage),
        (status = 401, description = "`operator_token_required`", body = ErrorBody),
        (status = "4XX", description = "`operator_token_required`, `invalid_limit`, `invalid_cursor`, `not_found` (no token configured)", body = ErrorBody),
        ServerErrors,
    ),
    security(("operator_token" = [])))]
pub async fn list_users(
    _: Operator,
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Query(q): Query<UserPageQuery>,
) -> Result<Json<UserPage>, AppError> {
    let limit = page_limit(q.limit)?;
    let after = q.cursor.as_deref().map(parse_user_cursor).transpose()?;
    // One more than asked tells whether there is a next page without a second query.
    let mut users = state.store.users_page(after.as_deref(), limit + 1).await?;
    let more = users.len() as i64 > limit;
    users.truncate(limit as usize);
    let next_cursor = more
        .then(|| users.last().map(|u| user_cursor(&u.email)))
        .flatten();
    record(&state, &ctx, None, "users.list").await;
    Ok(Json(UserPage {
        users: users.into_iter().map(UserView::from).collect(),
        next_cursor,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUserBody {
    #[schema(format = Email)]
    email: String,
    /// Checked against `password.min_length` / `max_length` and hashed with argon2id, as
    /// `tsuzuki user add` does.
    password: String,
}

#[utoipa::path(post, path = "/api/admin/users", tag = "admin",
    request_body = NewUserBody,
    responses(
        (status = 201, description = "The account was created", body = UserView),
        (status = 409, description = "`user_exists`", body = ErrorBody),
        (status = 401, description = "`operator_token_required`", body = ErrorBody),
        (status = "4XX", description = "`operator_token_required`, `invalid_email`, `password_too_short`, `new_password_too_long`, `invalid_request`", body = ErrorBody),
        ServerErrors,
    ),
    security(("operator_token" = [])))]
pub async fn create_user(
    _: Operator,
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Json(body): Json<NewUserBody>,
) -> Result<(StatusCode, Json<UserView>), AppError> {
    let now = state.sessions.now();
    let user = state
        .create_user(&body.email, body.password, now)
        .await
        .map_err(operator_error)?;
    // The same domain event as `tsuzuki user add`, and the operator's own.
    state
        .account
        .audit
        .record(
            EventKind::UserCreated,
            now,
            Some(&user.id),
            None,
            None,
            "admin api",
        )
        .await;
    record(&state, &ctx, Some(&user.id), "user.create").await;
    Ok((StatusCode::CREATED, Json(user.into())))
}

#[utoipa::path(get, path = "/api/admin/users/{user}", tag = "admin",
    params(("user" = String, Path, description = "Email or id (`usr_…`)")),
    responses(
        (status = 200, description = "The account", body = UserView),
        (status = 401, description = "`operator_token_required`", body = ErrorBody),
        (status = "4XX", description = "`operator_token_required`, `invalid_email`, `not_found`", body = ErrorBody),
        ServerErrors,
    ),
    security(("operator_token" = [])))]
pub async fn get_user(
    _: Operator,
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Path(user): Path<String>,
) -> Result<Json<UserView>, AppError> {
    let user = operator::find_user_by_key(&*state.store, &user)
        .await
        .map_err(operator_error)?;
    record(&state, &ctx, Some(&user.id), "users.get").await;
    Ok(Json(user.into()))
}

/// An account after an operator change, and what the change ended.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserChange {
    pub user: UserView,
    pub ended: Ended,
}

#[utoipa::path(post, path = "/api/admin/users/{user}/disable", tag = "admin",
    params(("user" = String, Path, description = "Email or id (`usr_…`)")),
    request_body = Empty,
    responses(
        (status = 200, description = "Disabled; the `account_disabled` row of the revocation table was applied", body = UserChange),
        (status = 401, description = "`operator_token_required`", body = ErrorBody),
        (status = "4XX", description = "`operator_token_required`, `invalid_email`, `not_found`", body = ErrorBody),
        ServerErrors,
    ),
    security(("operator_token" = [])))]
pub async fn disable_user(
    _: Operator,
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Path(user): Path<String>,
) -> Result<Json<UserChange>, AppError> {
    set_disabled(&state, &ctx, &user, true).await
}

#[utoipa::path(post, path = "/api/admin/users/{user}/enable", tag = "admin",
    params(("user" = String, Path, description = "Email or id (`usr_…`)")),
    request_body = Empty,
    responses(
        (status = 200, description = "Enabled; it can sign in again (nothing is restored)", body = UserChange),
        (status = 401, description = "`operator_token_required`", body = ErrorBody),
        (status = "4XX", description = "`operator_token_required`, `invalid_email`, `not_found`", body = ErrorBody),
        ServerErrors,
    ),
    security(("operator_token" = [])))]
pub async fn enable_user(
    _: Operator,
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Path(user): Path<String>,
) -> Result<Json<UserChange>, AppError> {
    set_disabled(&state, &ctx, &user, false).await
}

async fn set_disabled(
    state: &AppState,
    ctx: &RequestContext,
    key: &str,
    disabled: bool,
) -> Result<Json<UserChange>, AppError> {
    let user = operator::find_user_by_key(&*state.store, key)
        .await
        .map_err(operator_error)?;
    let now = state.sessions.now();
    state.store.set_disabled(&user.id, disabled, now).await?;
    let mut ended = Ended::default();
    if disabled {
        // The revocation table decides what a disabled account loses (R7; by default
        // everything), applied through the session service so this node's cache drops it now.
        let (sessions, remembered) = state
            .remember
            .apply(
                SecurityEvent::AccountDisabled,
                &user.id,
                &CurrentDevice::default(),
            )
            .await?;
        ended = Ended {
            sessions,
            remembered,
        };
        state
            .account
            .audit
            .record(
                EventKind::UserDisabled,
                now,
                Some(&user.id),
                None,
                None,
                "admin api",
            )
            .await;
        state.sessions.apply_revocation_feed().await?;
    }
    let action = if disabled {
        "user.disable"
    } else {
        "user.enable"
    };
    record(state, ctx, Some(&user.id), action).await;
    let user = state
        .store
        .user_by_id(&user.id)
        .await?
        .ok_or_else(AppError::not_found)?;
    Ok(Json(UserChange {
        user: user.into(),
        ended,
    }))
}

/// What resetting an account's second factors removed and ended.
#[derive(Debug, Serialize, ToSchema)]
pub struct FactorReset {
    pub factors_removed: u64,
    pub ended: Ended,
}

#[utoipa::path(post, path = "/api/admin/users/{user}/reset-factors", tag = "admin",
    params(("user" = String, Path, description = "Email or id (`usr_…`)")),
    request_body = Empty,
    responses(
        (status = 200, description = "Every factor and recovery code removed; the `second_factor_changed` row of the revocation table applied (like `tsuzuki user reset-factors`)", body = FactorReset),
        (status = 401, description = "`operator_token_required`", body = ErrorBody),
        (status = "4XX", description = "`operator_token_required`, `invalid_email`, `not_found`", body = ErrorBody),
        ServerErrors,
    ),
    security(("operator_token" = [])))]
pub async fn reset_factors(
    _: Operator,
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Path(key): Path<String>,
) -> Result<Json<FactorReset>, AppError> {
    let user = operator::find_user_by_key(&*state.store, &key)
        .await
        .map_err(operator_error)?;
    let now = state.sessions.now();
    let removed = operator::remove_all_factors(&*state.store, &user.id, now)
        .await
        .map_err(operator_error)?;
    // A factor change ends what the old factors protected (R7, SEC-40); the table says what.
    let (sessions, remembered) = state
        .remember
        .apply(
            SecurityEvent::SecondFactorChanged,
            &user.id,
            &CurrentDevice::default(),
        )
        .await?;
    state.sessions.apply_revocation_feed().await?;
    state
        .account
        .audit
        .record(
            EventKind::FactorRemoved,
            now,
            Some(&user.id),
            None,
            None,
            "admin api: all factors",
        )
        .await;
    record(&state, &ctx, Some(&user.id), "user.reset_factors").await;
    Ok(Json(FactorReset {
        factors_removed: removed as u64,
        ended: Ended {
            sessions,
            remembered,
        },
    }))
}

#[utoipa::path(get, path = "/api/admin/users/{user}/sessions", tag = "admin",
    params(("user" = String, Path, description = "Email or id (`usr_…`)")),
    responses(
        (status = 200, description = "The account's sessions and remembered devices", body = Vec<TokenLine>),
        (status = 401, description = "`operator_token_required`", body = ErrorBody),
        (status = "4XX", description = "`operator_token_required`, `invalid_email`, `not_found`", body = ErrorBody),
        ServerErrors,
    ),
    security(("operator_token" = [])))]
pub async fn sessions_of_user(
    _: Operator,
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Path(key): Path<String>,
) -> Result<Json<Vec<TokenLine>>, AppError> {
    let user = operator::find_user_by_key(&*state.store, &key)
        .await
        .map_err(operator_error)?;
    let lines = operator::list_of(&*state.store, &user)
        .await
        .map_err(operator_error)?;
    record(&state, &ctx, Some(&user.id), "users.sessions").await;
    Ok(Json(lines))
}

#[utoipa::path(post, path = "/api/admin/users/{user}/revoke", tag = "admin",
    params(("user" = String, Path, description = "Email or id (`usr_…`)")),
    request_body = Empty,
    responses(
        (status = 200, description = "Every session, remembered and trusted device of the account ended; effective on the next request (SEC-41)", body = Ended),
        (status = 401, description = "`operator_token_required`", body = ErrorBody),
        (status = "4XX", description = "`operator_token_required`, `invalid_email`, `not_found`", body = ErrorBody),
        ServerErrors,
    ),
    security(("operator_token" = [])))]
pub async fn revoke_user(
    _: Operator,
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Path(key): Path<String>,
) -> Result<Json<Ended>, AppError> {
    let user = operator::find_user_by_key(&*state.store, &key)
        .await
        .map_err(operator_error)?;
    let ended = operator::revoke_user(&*state.store, &user.email, state.sessions.now())
        .await
        .map_err(operator_error)?;
    state.sessions.apply_revocation_feed().await?;
    record(&state, &ctx, Some(&user.id), "sessions.revoke_user").await;
    Ok(Json(ended))
}

#[utoipa::path(post, path = "/api/admin/sessions/{handle}/revoke", tag = "admin",
    params(("handle" = String, Path, description = "`ses_…` (a session) or `rem_…` (a remembered device)")),
    request_body = Empty,
    responses(
        (status = 200, description = "Ended; effective on the next request (SEC-41)", body = Ended),
        (status = 401, description = "`operator_token_required`", body = ErrorBody),
        (status = "4XX", description = "`operator_token_required`, `not_found`", body = ErrorBody),
        ServerErrors,
    ),
    security(("operator_token" = [])))]
pub async fn revoke_session(
    _: Operator,
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Path(handle): Path<String>,
) -> Result<Json<Ended>, AppError> {
    let owner = owner_of_handle(&state, &handle).await?;
    let ended = operator::revoke_handle(&*state.store, &handle, state.sessions.now())
        .await
        .map_err(operator_error)?;
    state.sessions.apply_revocation_feed().await?;
    record(
        &state,
        &ctx,
        owner.as_deref(),
        &format!("sessions.revoke {handle}"),
    )
    .await;
    Ok(Json(ended))
}

/// Whose session or remembered device a handle names, for the audit row.
async fn owner_of_handle(state: &AppState, handle: &str) -> Result<Option<String>, AppError> {
    Ok(state
        .store
        .session_by_handle(handle)
        .await?
        .map(|s| s.user_id))
}

/// One audit event.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventView {
    pub id: i64,
    /// Unix seconds.
    pub created_at: i64,
    /// A stable event name, such as `sign_in_succeeded` or `operator_action`.
    pub kind: String,
    pub user_id: Option<String>,
    pub session_handle: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub detail: String,
}

impl From<StoredEvent> for EventView {
    fn from(e: StoredEvent) -> Self {
        EventView {
            id: e.id,
            created_at: e.event.created_at.0,
            kind: e.event.kind,
            user_id: e.event.user_id,
            session_handle: e.event.session_handle,
            ip: e.event.ip,
            user_agent: e.event.user_agent,
            detail: e.event.detail,
        }
    }
}

/// One page of audit events, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventPage {
    pub events: Vec<EventView>,
    /// Pass as `cursor` for the next (older) page; absent on the last page.
    #[schema(nullable = false)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventPageQuery {
    /// Only this account's events: email or id (`usr_…`).
    user: Option<String>,
    /// Only events of this kind, such as `sign_in_failed`.
    kind: Option<String>,
    /// Page size, 1 to 100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

#[utoipa::path(get, path = "/api/admin/events", tag = "admin",
    params(EventPageQuery),
    responses(
        (status = 200, description = "One page of audit events, newest first", body = EventPage),
        (status = 401, description = "`operator_token_required`", body = ErrorBody),
        (status = "4XX", description = "`operator_token_required`, `invalid_limit`, `invalid_cursor`, `invalid_email`, `not_found` (no such account)", body = ErrorBody),
        ServerErrors,
    ),
    security(("operator_token" = [])))]
pub async fn events(
    _: Operator,
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Query(q): Query<EventPageQuery>,
) -> Result<Json<EventPage>, AppError> {
    let limit = page_limit(q.limit)?;
    let before = match q.cursor.as_deref() {
        None => None,
        Some(c) => Some(
            c.parse::<i64>()
                .map_err(|_| AppError::bad_request("invalid_cursor"))?,
        ),
    };
    let user_id = match q.user.as_deref() {
        None => None,
        Some(key) => Some(
            operator::find_user_by_key(&*state.store, key)
                .await
                .map_err(operator_error)?
                .id,
        ),
    };
    let filter = EventFilter {
        user_id,
        kind: q.kind,
        before,
        limit: limit + 1,
    };
    let mut events = state.store.events_page(&filter).await?;
    let more = events.len() as i64 > limit;
    events.truncate(limit as usize);
    let next_cursor = more
        .then(|| events.last().map(|e| e.id.to_string()))
        .flatten();
    // After the query: a page never holds the row of its own reading.
    record(&state, &ctx, filter.user_id.as_deref(), "events.list").await;
    Ok(Json(EventPage {
        events: events.into_iter().map(EventView::from).collect(),
        next_cursor,
    }))
}
