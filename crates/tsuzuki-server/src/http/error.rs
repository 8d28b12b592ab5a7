//! Errors at the HTTP boundary: one type, stable codes, one renderer.
//!
//! Handlers return [`AppError`]. Its response carries the error in an extension and no body;
//! [`render_errors`] — which knows the request's language and whether it wants HTML — writes the
//! body: JSON `{ "error": { code, message, messages: {en, ja}, reference_id } }` or a readable
//! page with the same reference id. Errors produced by the framework itself (404, 405, 413, 415,
//! extractor rejections, timeouts) get the same treatment, mapped by status. Internal details
//! go to the log under the reference id and never to the client (SEC-64).

use super::i18n::Lang;
use super::templates::Templates;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Marks an error response whose handler already wrote the page (e.g. the sign-in form shown
/// again with its message): [`render_errors`] leaves it as it is.
#[derive(Debug, Clone, Copy)]
pub struct Rendered;

/// What went wrong, as a stable machine code with its status.
#[derive(Debug, Clone)]
pub struct AppError {
    pub status: StatusCode,
    pub code: &'static str,
    pub retry_after: Option<u64>,
    /// Detail for the log only.
    pub internal: Option<String>,
    /// Extra headers (e.g. a Set-Cookie that clears a dead session cookie).
    pub headers: Vec<(header::HeaderName, HeaderValue)>,
    /// Values for the message's placeholders (e.g. `min` for a password length).
    pub args: Vec<(&'static str, String)>,
}

impl AppError {
    pub fn new(status: StatusCode, code: &'static str) -> Self {
        AppError {
            status,
            code,
            retry_after: None,
            internal: None,
            headers: Vec::new(),
            args: Vec::new(),
        }
    }
    pub fn bad_request(code: &'static str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code)
    }
    pub fn unauthorized(code: &'static str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code)
    }
    pub fn forbidden(code: &'static str) -> Self {
        Self::new(StatusCode::FORBIDDEN, code)
    }
    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found")
    }
    pub fn throttled(retry_after: u64) -> Self {
        AppError {
            retry_after: Some(retry_after.max(1)),
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, "throttled")
        }
    }
    /// The database or another dependency failed: 503 with Retry-After, never "signed out".
    pub fn unavailable(detail: impl Into<String>) -> Self {
        AppError {
            retry_after: Some(5),
            internal: Some(detail.into()),
            ..Self::new(StatusCode::SERVICE_UNAVAILABLE, "service_unavailable")
        }
    }
    pub fn busy() -> Self {
        AppError {
            retry_after: Some(2),
            ..Self::new(StatusCode::SERVICE_UNAVAILABLE, "busy")
        }
    }
    pub fn internal(detail: impl Into<String>) -> Self {
        AppError {
            internal: Some(detail.into()),
            ..Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal")
        }
    }
    pub fn with_arg(mut self, name: &'static str, value: String) -> Self {
        self.args.push((name, value));
        self
    }
    pub fn with_header(mut self, name: header::HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }
}

impl From<tsuzuki_store::StoreError> for AppError {
    fn from(e: tsuzuki_store::StoreError) -> Self {
        AppError::unavailable(e.to_string())
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let mut response = Response::new(Body::empty());
        *response.status_mut() = self.status;
        for (name, value) in &self.headers {
            response.headers_mut().append(name, value.clone());
        }
        response.extensions_mut().insert(self);
        response
    }
}

/// The stable code for an error status the framework produced on its own.
fn code_for_status(status: StatusCode) -> &'static str {
    match status {
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::REQUEST_TIMEOUT => "request_timeout",
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => "header_too_large",
        StatusCode::FORBIDDEN => "cross_origin",
        s if s.is_server_error() => "internal",
        _ => "invalid_request",
    }
}

/// What rendering an error needs from its request, taken before the request is handed on. Only
/// cheap copies: the language is worked out from them only when an error is actually rendered.
pub struct ErrorContext {
    html: bool,
    accept_language: Option<HeaderValue>,
    lang_cookie: Option<String>,
    /// For pages only: what the "details for support" block shows (S11).
    support: Option<SupportSource>,
}

/// What a support request needs from the request that failed: taken only when the error would
/// be an HTML page, and only rendered when there is an error.
struct SupportSource {
    user_agent: Option<HeaderValue>,
    path: axum::http::Uri,
}

/// The "details for support" of an error page (S11): device type, OS and version, browser and
/// version, time, page and error code — ready to copy.
pub struct SupportDetails {
    pub device_kind: &'static str,
    pub device: String,
    pub time: String,
    pub page: String,
}

/// API and forward-auth paths always get JSON; other paths get HTML when the client accepts it.
fn wants_html(path: &str, accept: Option<&str>) -> bool {
    let api = path.starts_with("/api/") || path == "/api" || path.starts_with("/auth/");
    !api && accept.is_some_and(|a| a.contains("text/html"))
}

impl ErrorContext {
    pub fn of(request: &Request) -> Self {
        let headers = request.headers();
        let html = wants_html(
            request.uri().path(),
            headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()),
        );
        ErrorContext {
            html,
            accept_language: headers.get(header::ACCEPT_LANGUAGE).cloned(),
            lang_cookie: super::cookies::read_cookie(headers, super::i18n::LANG_COOKIE)
                .map(str::to_string),
            support: html.then(|| SupportSource {
                user_agent: headers.get(header::USER_AGENT).cloned(),
                path: request.uri().clone(),
            }),
        }
    }

    fn lang(&self) -> Lang {
        super::i18n::negotiate(
            self.lang_cookie.as_deref(),
            self.accept_language.as_ref().and_then(|v| v.to_str().ok()),
        )
    }

    /// Write the body of an error response (JSON or HTML, with a reference id); any other
    /// response passes unchanged.
    pub fn render(
        self,
        templates: &Templates,
        response: Response,
        now: tsuzuki_core::clock::Timestamp,
    ) -> Response {
        let status = response.status();
        if !(status.is_client_error() || status.is_server_error())
            || response.extensions().get::<Rendered>().is_some()
        {
            return response;
        }
        let traits = RequestTraits {
            lang: self.lang(),
            html: self.html,
        };
        let support = self.support.map(|s| {
            let ua = s
                .user_agent
                .as_ref()
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .unwrap_or_default();
            let page: String = s
                .path
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/")
                .chars()
                .take(300)
                .collect();
            SupportDetails {
                device_kind: tsuzuki_core::device::kind(&ua),
                device: tsuzuki_core::device::describe(&ua).label(),
                time: super::pages::human_time(now),
                page,
            }
        });
        render_error(templates, traits, response, support)
    }
}

#[derive(Clone, Copy)]
struct RequestTraits {
    lang: Lang,
    html: bool,
}

fn render_error(
    templates: &Templates,
    traits: RequestTraits,
    response: Response,
    support: Option<SupportDetails>,
) -> Response {
    let status = response.status();
    let (mut parts, _body) = response.into_parts();
    let error = parts
        .extensions
        .remove::<AppError>()
        .unwrap_or_else(|| AppError::new(status, code_for_status(status)));
    let reference = tsuzuki_core::token::reference_id();
    if status.is_server_error() {
        tracing::error!(reference = %reference, code = error.code, detail = ?error.internal, "request failed");
    } else {
        tracing::debug!(reference = %reference, code = error.code, detail = ?error.internal, "request refused");
    }
    if let Some(secs) = error.retry_after {
        parts
            .headers
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    let body = if traits.html {
        parts.headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        Body::from(templates.error_page(traits.lang, &error, &reference, support.as_ref()))
    } else {
        parts.headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        Body::from(json_body(traits.lang, &error, &reference))
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, body)
}

/// The message and the hint (what to do next) for an error, in one language.
pub fn messages(lang: Lang, error: &AppError) -> (String, String) {
    let mut args = error.args.clone();
    args.push(("seconds", error.retry_after.unwrap_or(0).to_string()));
    let message = lang.t_args(&format!("error-{}", error.code), &args);
    let hint = lang.t_args(&format!("error-{}-hint", error.code), &args);
    (message, hint)
}

/// Every error code the server can answer with, in one place: the OpenAPI document lists them
/// as the `code` enum, and the tests below check that every code the source uses is here and
/// that each has a message and a hint in both catalogues.
pub const CODES: &[&str] = &[
    "invalid_credentials",
    "throttled",
    "invalid_email",
    "password_required",
    "password_too_long",
    "not_signed_in",
    "session_invalid",
    "session_revoked",
    "idle_timeout",
    "absolute_timeout",
    "csrf_failed",
    "cookies_required",
    "cross_origin",
    "busy",
    "service_unavailable",
    "not_found",
    "method_not_allowed",
    "payload_too_large",
    "unsupported_media_type",
    "invalid_request",
    "step_up_required",
    "password_too_short",
    "new_password_too_long",
    "request_timeout",
    "header_too_large",
    "internal",
    "flow_not_found",
    "flow_expired",
    "flow_completed",
    "flow_locked",
    "flow_conflict",
    "code_invalid",
    "code_expired",
    "code_attempts_exceeded",
    "code_not_sent",
    "code_already_used",
    "resend_cooldown",
    "resend_daily_cap",
    "method_unavailable",
    "code_send_failed",
    "too_many_attempts",
    "factor_name_invalid",
    "phone_invalid",
    "draft_key_invalid",
    "draft_too_large",
    "too_many_drafts",
    "draft_not_found",
    "not_me_link_invalid",
    "demo_incomplete",
    "operator_token_required",
    "invalid_limit",
    "invalid_cursor",
    "user_exists",
    "second_factor_required",
    "second_factor_enrolment_required",
];

/// The body of every JSON error. Serialised by [`json_body`] and described by the same type
/// in the OpenAPI document, so the two cannot drift apart.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// The stable machine code: what clients branch on.
    #[schema(schema_with = code_schema)]
    pub code: &'static str,
    /// In the request's language (`Accept-Language` or the language cookie).
    pub message: String,
    /// What to do next, in the request's language.
    pub hint: String,
    pub messages: Localised,
    pub hints: Localised,
    /// Also in the server's log line for this error: what to quote to support.
    pub reference_id: String,
    /// Seconds to wait (also the `Retry-After` header), when waiting helps.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, minimum = 1)]
    pub retry_after: Option<u64>,
}

/// A text in both languages.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Localised {
    pub en: String,
    pub ja: String,
}

fn code_schema() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(CODES.iter().copied()))
        .build()
}

fn json_body(lang: Lang, error: &AppError, reference: &str) -> String {
    let (en, en_hint) = messages(Lang::En, error);
    let (ja, ja_hint) = messages(Lang::Ja, error);
    let (message, hint) = if lang == Lang::Ja {
        (ja.clone(), ja_hint.clone())
    } else {
        (en.clone(), en_hint.clone())
    };
    let body = ErrorBody {
        error: ErrorDetail {
            code: error.code,
            message,
            hint,
            messages: Localised { en, ja },
            hints: Localised {
                en: en_hint,
                ja: ja_hint,
            },
            reference_id: reference.to_string(),
            retry_after: error.retry_after,
        },
    };
    serde_json::to_string(&body).expect("plain strings and numbers serialise")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_messages_in_both_languages() {
        for code in CODES {
            for lang in [Lang::En, Lang::Ja] {
                assert!(lang.has(&format!("error-{code}")), "{code} {lang:?}");
                assert!(
                    lang.has(&format!("error-{code}-hint")),
                    "{code} hint {lang:?}"
                );
            }
        }
    }

    /// Every string literal the source hands to `AppError` (or to the error variants whose
    /// payload becomes an `AppError` code, or to `code_for_status`) is in [`CODES`].
    #[test]
    fn every_code_in_the_source_is_listed() {
        let src = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
        let mut found = std::collections::BTreeSet::new();
        let mut files = vec![std::path::PathBuf::from(src)];
        while let Some(path) = files.pop() {
            if path.is_dir() {
                files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for literal in error_code_literals(&text) {
                found.insert(literal);
            }
        }
        // The scan must see the constructors at all (a scanner that finds nothing passes).
        assert!(found.contains("flow_conflict") && found.contains("user_exists"));
        assert!(found.contains("password_required") && found.contains("method_not_allowed"));
        let missing: Vec<_> = found
            .iter()
            .filter(|c| !CODES.contains(&c.as_str()))
            .collect();
        assert!(
            missing.is_empty(),
            "codes used but not in CODES: {missing:?}"
        );
        let mut seen = std::collections::BTreeSet::new();
        for code in CODES {
            assert!(seen.insert(code), "{code} listed twice");
        }
    }

    /// Codes that reach `AppError` through a function rather than a literal at the call.
    #[test]
    fn codes_from_functions_are_listed() {
        use crate::flows::FlowError;
        use crate::sessions::Rejection;
        use tsuzuki_core::flow::FlowEnd;
        use tsuzuki_core::session::ExpiryCause;
        let mut codes = vec![
            Rejection::Missing.code(),
            Rejection::Invalid.code(),
            Rejection::Revoked.code(),
            Rejection::Expired(ExpiryCause::Idle).code(),
            Rejection::Expired(ExpiryCause::Absolute).code(),
            Rejection::Unavailable.code(),
            FlowError::Cooldown { retry_after: 1 }.code(),
            FlowError::DailyCap { retry_after: 1 }.code(),
        ];
        for end in [FlowEnd::Expired, FlowEnd::Completed, FlowEnd::Locked] {
            codes.push(end.code());
        }
        // Forward-auth's refusals by policy.
        use tsuzuki_core::access::Verdict;
        for verdict in [
            Verdict::SignInRequired,
            Verdict::SecondFactorRequired,
            Verdict::StepUpRequired,
        ] {
            codes.extend(verdict.code());
        }
        for status in 400..600u16 {
            codes.push(code_for_status(StatusCode::from_u16(status).unwrap()));
        }
        for code in codes {
            assert!(CODES.contains(&code), "{code}");
        }
    }

    /// The `"code"` literals in calls of `AppError::new/bad_request/unauthorized/forbidden`, of
    /// the `InvalidInput`/`PasswordInput` variants, and the arms of `code_for_status`.
    fn error_code_literals(text: &str) -> Vec<String> {
        const CALLS: [&str; 6] = [
            "AppError::new(",
            "AppError::bad_request(",
            "AppError::unauthorized(",
            "AppError::forbidden(",
            "InvalidInput(",
            "PasswordInput(",
        ];
        let mut out = Vec::new();
        for call in CALLS {
            for (at, _) in text.match_indices(call) {
                // The first string literal of the call, before its closing parenthesis.
                let rest = &text[at + call.len()..];
                let end = rest.find(')').unwrap_or(rest.len());
                let mut parts = rest[..end].split('"');
                let before = parts.next().unwrap_or("").trim();
                let status_first = before.starts_with("StatusCode::") && before.ends_with(',');
                if let Some(literal) = parts.next()
                    && (before.is_empty() || status_first)
                    && !literal.is_empty()
                    && literal.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
                {
                    out.push(literal.to_string());
                }
            }
        }
        if let Some(at) = text.find("fn code_for_status(") {
            let body = &text[at..];
            let body = &body[..body.find("\n}").unwrap_or(body.len())];
            for arm in body.split("=> \"").skip(1) {
                out.push(arm.split('"').next().unwrap_or("").to_string());
            }
        }
        out
    }

    #[test]
    fn html_only_outside_the_api() {
        assert!(wants_html(
            "/sign-in",
            Some("text/html,application/xhtml+xml")
        ));
        assert!(!wants_html("/api/session", Some("text/html")));
        assert!(!wants_html("/auth/check", Some("text/html")));
        assert!(!wants_html("/sign-in", Some("application/json")));
        assert!(!wants_html("/sign-in", None));
    }
}
