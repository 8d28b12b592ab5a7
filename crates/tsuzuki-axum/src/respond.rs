//! What the middleware answers when it does not pass a request on: redirects for browsers, JSON
//! errors for everything else, and which of the two a request is.

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Seconds a client is told to wait when tsuzuki is unavailable.
pub(crate) const RETRY_AFTER_SECS: u32 = 5;

/// A browser navigation: a GET or HEAD that a person's browser makes to show a page —
/// `Sec-Fetch-Mode: navigate` where the browser sends it, else an `Accept` with `text/html` —
/// and not background work. Only these are redirected to a page: a redirect would lose a form's
/// body, and a script's `fetch` cannot show a sign-in page. The same rule as tsuzuki's own
/// forward-auth check.
pub(crate) fn is_navigation(method: &Method, headers: &HeaderMap) -> bool {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let navigation = match text("sec-fetch-mode") {
        Some(mode) => mode == "navigate",
        None => headers
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|a| a.to_ascii_lowercase().contains("text/html")),
    };
    let background = matches!(text("x-tsuzuki-background"), Some("1" | "true"));
    (method == Method::GET || method == Method::HEAD) && navigation && !background
}

/// `{base}{page}?return_to={app_url}{path_and_query}`, the return address percent-encoded.
pub(crate) fn redirect_target(
    base: &str,
    page: &str,
    app_url: &str,
    path_and_query: &str,
) -> String {
    let back = format!("{app_url}{path_and_query}");
    let encoded: String = form_urlencoded::byte_serialize(back.as_bytes()).collect();
    format!("{base}{page}?return_to={encoded}")
}

/// 303 See Other: the follow-up is a GET whatever the method was.
pub(crate) fn redirect(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(v) => {
            let mut r = StatusCode::SEE_OTHER.into_response();
            r.headers_mut().insert(header::LOCATION, v);
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        // The pieces are URLs we validated and an encoded path: cannot happen, and must not
        // become a pass.
        Err(_) => json_error(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", None),
    }
}

/// `{"error": {...}}` with `code`; `from_tsuzuki` is tsuzuki's own error object (localised
/// messages and the reference id in its log), passed on when there is one.
pub(crate) fn json_error(
    status: StatusCode,
    code: &str,
    from_tsuzuki: Option<serde_json::Value>,
) -> Response {
    let error = match from_tsuzuki {
        Some(e) if e.get("code").and_then(|c| c.as_str()) == Some(code) => e,
        _ => serde_json::json!({ "code": code }),
    };
    let body = serde_json::json!({ "error": error }).to_string();
    let mut r = (status, body).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// 503 with Retry-After: tsuzuki could not answer, so nobody can be let in.
pub(crate) fn unavailable() -> Response {
    let mut r = json_error(
        StatusCode::SERVICE_UNAVAILABLE,
        "auth_unavailable",
        Some(serde_json::json!({
            "code": "auth_unavailable",
            "message": "The sign-in service is unavailable. Try again in a few seconds."
        })),
    );
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn only_html_gets_and_heads_are_navigations() {
        let browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
        assert!(is_navigation(&Method::GET, &accept(browser)));
        assert!(is_navigation(&Method::HEAD, &accept("TEXT/HTML")));
        assert!(!is_navigation(&Method::POST, &accept(browser)));
        assert!(!is_navigation(&Method::GET, &accept("application/json")));
        assert!(!is_navigation(&Method::GET, &accept("*/*")));
        assert!(!is_navigation(&Method::GET, &HeaderMap::new()));
        // Sec-Fetch-Mode decides where the browser sends it.
        let mut h = accept(browser);
        h.insert("sec-fetch-mode", HeaderValue::from_static("cors"));
        assert!(
            !is_navigation(&Method::GET, &h),
            "a fetch() asking for HTML"
        );
        let mut h = accept("*/*");
        h.insert("sec-fetch-mode", HeaderValue::from_static("navigate"));
        assert!(is_navigation(&Method::GET, &h));
        // Background work never shows a page.
        let mut h = accept(browser);
        h.insert("x-tsuzuki-background", HeaderValue::from_static("1"));
        assert!(!is_navigation(&Method::GET, &h));
    }

    #[test]
    fn return_to_is_the_absolute_original_url_encoded() {
        assert_eq!(
            redirect_target(
                "http://127.0.0.1:8470",
                "/sign-in",
                "http://127.0.0.1:3000",
                "/profile?tab=a&x=1 2"
            ),
            "http://127.0.0.1:8470/sign-in?return_to=http%3A%2F%2F127.0.0.1%3A3000%2Fprofile%3Ftab%3Da%26x%3D1+2"
        );
        assert_eq!(
            redirect_target(
                "https://auth.example.com/t",
                "/account/reauth",
                "https://app.example.com/app",
                "/"
            ),
            "https://auth.example.com/t/account/reauth?return_to=https%3A%2F%2Fapp.example.com%2Fapp%2F"
        );
    }

    #[test]
    fn tsuzuki_error_objects_pass_only_with_the_same_code() {
        let e = serde_json::json!({"code": "session_revoked", "reference_id": "abc12345"});
        let r = json_error(StatusCode::UNAUTHORIZED, "session_revoked", Some(e.clone()));
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(r.headers()[header::CONTENT_TYPE], "application/json");
        let r = unavailable();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(r.headers()[header::RETRY_AFTER], "5");
    }
}
