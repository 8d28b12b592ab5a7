//! The OpenAPI 3.1 document of the JSON API, generated from the handlers' `#[utoipa::path]`
//! annotations and the request and response types' `ToSchema` derives (issue #6), served at
//! `GET /api/openapi.json`. Nothing here is written by hand except the list of handlers and the
//! security schemes; the tests check that every `/api/…` route of the router is in the list.

use super::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "tsuzuki",
        description = "Sessions, sign-in flows, devices, drafts and account operations; the admin \
                       API under /api/admin (operator token). Every error is an ErrorBody whose \
                       `code` is one of a fixed list.",
    ),
    paths(
        super::admin::list_users,
        super::admin::create_user,
        super::admin::get_user,
        super::admin::tokens_of_user,
        super::admin::sessions_of_user,
        super::admin::disable_user,
        super::admin::enable_user,
        super::admin::reset_factors,
        super::admin::revoke_user,
        super::admin::revoke_session,
        super::admin::revoke,
        super::admin::events,
        document,
    ),
    components(schemas(super::error::ErrorBody)),
    modifiers(&SecuritySchemes),
)]
pub struct ApiDoc;

/// The session cookie's name depends on the configuration (`__Host-` only over https), so the
/// scheme is added when the document is built for this server.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "operator_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The operator token whose SHA-256 is `admin.token_sha256` \
                         (`tsuzuki admin new-token`). Without one configured, /api/admin is 404.",
                    ))
                    .build(),
            ),
        );
    }
}

/// The document for a server with this configuration: the session cookie scheme names the
/// cookie this server actually sets.
pub fn document_for(cookie_name: &str) -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.components
        .get_or_insert_with(Default::default)
        .add_security_scheme(
            "session_cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                cookie_name,
                "The session cookie set by POST /api/sign-in (HttpOnly; `__Host-` prefixed over \
                 https).",
            ))),
        );
    doc
}

#[utoipa::path(get, path = "/api/openapi.json", tag = "meta",
    responses((status = 200, description = "This document", content_type = "application/json")))]
pub async fn document(State(state): State<AppState>) -> impl IntoResponse {
    let doc = document_for(&state.cookies.session);
    ([(header::CACHE_CONTROL, "public, max-age=300")], Json(doc))
}
