//! The OpenAPI 3.1 document of the JSON API, generated from the handlers' `#[utoipa::path]`
//! annotations and the request and response types' `ToSchema` derives (issue #6), served at
//! `GET /api/openapi.json`. Nothing here is written by hand except the list of handlers and the
//! security schemes; the tests check that every `/api/…` route of the router is in the list.

use super::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use std::collections::BTreeMap;
use tsuzuki_core::password_policy::PasswordPolicy;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder, Schema, response::Response};
use utoipa::{IntoResponses, Modify, OpenApi, ToSchema};

/// The drafts routes' `key` parameter, as the document describes it.
pub const DRAFT_KEY_DOC: &str =
    "The form's key, e.g. `inquiry` or `/demo/inquiry` (may contain `/`)";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "tsuzuki",
        description = "Sessions, sign-in flows, devices, drafts and account operations; the admin \
                       API under /api/admin (operator token). Every error is an ErrorBody whose \
                       `code` is one of a fixed list.",
    ),
    paths(
        super::api::sign_in,
        super::api::sign_out,
        super::api::session,
        super::api::extend,
        super::flows::api_get,
        super::flows::api_verify,
        super::flows::api_resend,
        super::flows::api_method,
        super::recovery::api_password,
        super::recovery::api_recover,
        super::recovery::api_register,
        super::account::api_devices,
        super::account::api_revoke_device,
        super::account::api_sign_out_everywhere,
        super::account::api_change_password,
        super::account::api_reauth,
        super::history::api_history,
        super::security::api_list,
        super::security::api_totp_begin,
        super::security::api_totp_confirm,
        super::security::api_code_factor,
        super::security::api_remove,
        super::security::api_recovery_codes,
        super::drafts::list,
        super::drafts::get,
        super::drafts::save,
        super::drafts::delete,
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

/// The body of a write that takes no fields: `{}`. API writes must still say
/// `Content-Type: application/json` — a browser cannot send that cross-site without a preflight,
/// which is what keeps cross-site forms out (SEC-61).
#[derive(ToSchema)]
pub struct Empty {}

fn error_response(description: &str) -> RefOr<Response> {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build()
        .into()
}

/// What any request can be refused with before or besides its handler's own answers: the
/// framework's refusals (405, 408, 413, 415, 422, 431) and the 5xx of an unavailable database
/// or a saturated password hasher. Each is an `ErrorBody`.
pub struct Errors;

impl IntoResponses for Errors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        let mut map = ClientErrors::responses();
        map.extend(ServerErrors::responses());
        map
    }
}

pub struct ClientErrors;

impl IntoResponses for ClientErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        BTreeMap::from([(
            "4XX".to_string(),
            error_response(
                "A refused request: `invalid_request` (a malformed body or query), \
                 `unsupported_media_type` (a write that is not JSON), `payload_too_large`, \
                 `method_not_allowed`, `request_timeout`, `header_too_large`, `cross_origin`, \
                 or one of the codes above",
            ),
        )])
    }
}

pub struct ServerErrors;

impl IntoResponses for ServerErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        BTreeMap::from([(
            "5XX".to_string(),
            error_response(
                "`service_unavailable` or `busy` (503, with Retry-After), `code_send_failed` \
                 (502), `internal` (500, never with detail)",
            ),
        )])
    }
}

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

/// The fields that take a new password, by schema: their length limits are this server's
/// `password.min_length` / `max_length`, so they are filled in per configuration.
const NEW_PASSWORDS: [(&str, &str); 4] = [
    ("NewUserBody", "password"),
    ("RegisterBody", "password"),
    ("ChangePasswordBody", "new_password"),
    ("NewPasswordBody", "password"),
];

/// The document for a server with this configuration: the session cookie scheme names the
/// cookie this server actually sets, and new passwords carry its length limits.
pub fn document_for(cookie_name: &str, policy: &PasswordPolicy) -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    let schemas = &mut doc.components.get_or_insert_with(Default::default).schemas;
    for (schema, field) in NEW_PASSWORDS {
        let Some(RefOr::T(Schema::Object(object))) = schemas.get_mut(schema) else {
            panic!("{schema} is not an object schema in the document");
        };
        let Some(RefOr::T(Schema::Object(property))) = object.properties.get_mut(field) else {
            panic!("{schema}.{field} is not in the document");
        };
        property.min_length = Some(policy.min_length);
        property.max_length = Some(policy.max_length);
    }
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
    let doc = document_for(&state.cookies.session, &state.account.password_policy);
    ([(header::CACHE_CONTROL, "public, max-age=300")], Json(doc))
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: PasswordPolicy = PasswordPolicy {
        min_length: 15,
        max_length: 99,
    };

    /// The `/api/…` routes of the router, with their methods, read from `router()` in mod.rs:
    /// axum cannot list a router's routes, and a second hand-kept list could drift as easily as
    /// the document.
    fn api_routes() -> Vec<(String, String)> {
        let text = include_str!("mod.rs");
        let body = &text[text.find("pub fn router(").expect("router()")..];
        let body = &body[..body.find("\n}\n").expect("end of router()")];
        let mut routes = Vec::new();
        for chunk in body.split(".route(").skip(1) {
            let path = chunk.split('"').nth(1).expect("a path literal");
            if !path.starts_with("/api/") {
                continue;
            }
            // `{*key}` (a wildcard that may hold `/`) is `{key}` in OpenAPI.
            let path = path.replace("{*", "{");
            // The handler part up to the route's closing parenthesis at depth zero.
            let mut depth = 1;
            let mut end = chunk.len();
            for (i, c) in chunk.char_indices() {
                match c {
                    '(' => depth += 1,
                    ')' => {
                        depth -= 1;
                        if depth == 0 {
                            end = i;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            let handlers = &chunk[..end];
            for method in ["get", "post", "put", "delete", "patch"] {
                let call = format!("{method}(");
                let found = handlers.match_indices(&call).any(|(i, _)| {
                    i == 0 || {
                        let before = handlers.as_bytes()[i - 1];
                        before == b'.' || before.is_ascii_whitespace() || before == b','
                    }
                });
                if found {
                    routes.push((method.to_string(), path.clone()));
                }
            }
        }
        routes
    }

    fn documented() -> Vec<(String, String)> {
        let doc = serde_json::to_value(document_for("tsuzuki_session", &POLICY)).unwrap();
        let mut out = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                out.push((method.clone(), path.clone()));
            }
        }
        out
    }

    #[test]
    fn every_api_route_is_documented_and_nothing_else() {
        let mut routes = api_routes();
        // The scan must see the router at all.
        assert!(routes.len() > 30, "{routes:?}");
        assert!(routes.contains(&("put".into(), "/api/drafts/{key}".into())));
        let mut documented = documented();
        routes.sort();
        documented.sort();
        let undocumented: Vec<_> = routes.iter().filter(|r| !documented.contains(r)).collect();
        assert!(
            undocumented.is_empty(),
            "routes missing from the document: {undocumented:?}"
        );
        let unrouted: Vec<_> = documented.iter().filter(|r| !routes.contains(r)).collect();
        assert!(
            unrouted.is_empty(),
            "documented but not routed: {unrouted:?}"
        );
    }

    /// utoipa names a schema after its type, and a second type of the same name silently
    /// replaces the first in the document: every schema type needs its own name.
    #[test]
    fn schema_names_are_unique() {
        let src = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
        let mut names = std::collections::BTreeMap::<String, Vec<String>>::new();
        let mut files = vec![std::path::PathBuf::from(src)];
        while let Some(path) = files.pop() {
            if path.is_dir() {
                files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for (at, _) in text.match_indices("ToSchema") {
                // The derive's item: the next `pub struct`/`pub enum`, unless `as = …` renames it.
                let rest = &text[at..];
                let Some(item) = rest.find("pub struct ").or_else(|| rest.find("pub enum ")) else {
                    continue;
                };
                let head = &rest[..item];
                if head.contains("#[derive") {
                    continue; // that was a `use` or another derive's ToSchema
                }
                let name = match head.split("schema(as = ").nth(1) {
                    Some(renamed) => renamed.split(')').next().unwrap().to_string(),
                    None => rest[item..]
                        .split_whitespace()
                        .nth(2)
                        .unwrap()
                        .trim_end_matches(['{', '(', '<'])
                        .to_string(),
                };
                names
                    .entry(name)
                    .or_default()
                    .push(path.display().to_string());
            }
        }
        assert!(names.len() > 30, "{names:?}");
        let twice: Vec<_> = names.iter().filter(|(_, at)| at.len() > 1).collect();
        assert!(twice.is_empty(), "schema names used twice: {twice:?}");
        let doc = serde_json::to_value(document_for("tsuzuki_session", &POLICY)).unwrap();
        let body = |path: &str| {
            doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
                ["$ref"]
                .as_str()
                .unwrap()
                .to_string()
        };
        assert_eq!(
            body("/api/password"),
            "#/components/schemas/ChangePasswordBody"
        );
        assert_eq!(
            body("/api/flows/{id}/password"),
            "#/components/schemas/NewPasswordBody"
        );
    }

    #[test]
    fn the_document_is_openapi_3_1_with_every_error_code() {
        let doc = serde_json::to_value(document_for("__Host-tsuzuki_session", &POLICY)).unwrap();
        assert!(
            doc["openapi"].as_str().unwrap().starts_with("3.1."),
            "{}",
            doc["openapi"]
        );
        let code = &doc["components"]["schemas"]["ErrorDetail"]["properties"]["code"];
        let listed: Vec<&str> = code["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect();
        assert_eq!(listed, super::super::error::CODES);
        let schemes = &doc["components"]["securitySchemes"];
        assert_eq!(schemes["session_cookie"]["in"], "cookie");
        assert_eq!(schemes["session_cookie"]["name"], "__Host-tsuzuki_session");
        assert_eq!(schemes["operator_token"]["scheme"], "bearer");
        // Every operation says what its errors look like.
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                if path == "/api/openapi.json" {
                    continue;
                }
                let responses = op["responses"].as_object().unwrap();
                assert!(
                    responses.contains_key("4XX") && responses.contains_key("5XX"),
                    "{method} {path}"
                );
            }
        }
    }
}
