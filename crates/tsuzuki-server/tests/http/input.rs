//! Bad input gets a clear 4xx with a stable code, messages in both languages and a reference id;
//! never a panic or a 500 (issue #2 item 8, SEC-6, SEC-60, SEC-61).

use crate::both_backends;
use crate::harness::*;
use reqwest::StatusCode;
use std::io::{Read, Write};
use tsuzuki_store::testing::Kind;

both_backends!(
    malformed_cookies_are_refused_cheaply,
    oversized_and_mistyped_bodies,
    forms_need_csrf_and_cookies,
    cross_site_writes_are_refused,
    safe_methods_do_not_change_state,
    oversized_headers_are_refused,
    slow_requests_time_out,
    errors_carry_security_headers_and_language,
);

async fn malformed_cookies_are_refused_cheaply(kind: Kind) {
    let Some(app) = spawn_app(kind, "").await else {
        return;
    };
    let values = [
        String::new(),
        "A".repeat(8192),
        "not base64 !!".into(),
        "\"quoted\"".into(),
        "' OR 1=1 --".into(),
        "a:b".into(),
        "A".repeat(42),
        "A".repeat(44),
        format!("{}=", "A".repeat(43)),
    ];
    for v in values {
        let r = app.check(&v).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "cookie {v:?}");
        let e = error_body(r).await;
        assert!(
            ["session_invalid", "not_signed_in"].contains(&e["code"].as_str().unwrap()),
            "{e}"
        );
        assert!(!e.to_string().contains("OR 1=1"), "nothing reflected");
    }
    // Non-ASCII bytes in the Cookie header.
    let r = app
        .http
        .get(app.url("/auth/check"))
        .header(
            "cookie",
            reqwest::header::HeaderValue::from_bytes(b"tsuzuki_session=\xff\xfe").unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    app.finish().await;
}

async fn oversized_and_mistyped_bodies(kind: Kind) {
    let Some(app) = spawn_app(kind, "[http]\nmax_body_bytes = 8192\n").await else {
        return;
    };
    let post = |ct: &'static str, body: Vec<u8>| {
        app.http
            .post(app.url("/api/sign-in"))
            .header("content-type", ct)
            .body(body)
            .send()
    };
    let r = post(
        "application/json",
        format!(
            "{{\"email\":\"{}\",\"password\":\"x\"}}",
            "a".repeat(10_000)
        )
        .into_bytes(),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(error_body(r).await["code"], "payload_too_large");
    let r = post("text/plain", b"{}".to_vec()).await.unwrap();
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(error_body(r).await["code"], "unsupported_media_type");
    let r = post(
        "application/json",
        b"{\"email\":\"a\xff@b.c\",\"password\":\"x\"}".to_vec(),
    )
    .await
    .unwrap();
    assert!(
        r.status().is_client_error(),
        "invalid UTF-8 JSON: {}",
        r.status()
    );
    assert_eq!(error_body(r).await["code"], "invalid_request");
    let r = post("application/json", b"{\"email\": 5}".to_vec())
        .await
        .unwrap();
    assert!(r.status().is_client_error());
    assert_eq!(error_body(r).await["code"], "invalid_request");
    let r = post("application/json", b"[[[[[[[[".to_vec())
        .await
        .unwrap();
    assert!(r.status().is_client_error());
    // Field-level problems get their own codes.
    for (email, password, code) in [
        ("not-an-email", "x", "invalid_email"),
        ("a@example.com", "", "password_required"),
    ] {
        let (r, _) = app.api_sign_in(email, password).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert_eq!(error_body(r).await["code"], code);
    }
    let (r, _) = app.api_sign_in("a@example.com", &"p".repeat(4097)).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_body(r).await["code"], "password_too_long");
    app.finish().await;
}

async fn forms_need_csrf_and_cookies(kind: Kind) {
    let Some(app) = spawn_app(kind, "").await else {
        return;
    };
    app.create_user("a@example.com").await;
    // No CSRF cookie at all: cookies are off; the page says so (S12).
    let r = app
        .http
        .post(app.url("/sign-in"))
        .header("accept", "text/html")
        .form(&[
            ("email", "a@example.com"),
            ("password", PASSWORD),
            ("csrf", "x"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let page = r.text().await.unwrap();
    assert!(page.contains("Cookies are needed to sign in"), "{page}");
    // A cookie but a missing or wrong token: 403 csrf_failed.
    let r = app
        .http
        .post(app.url("/sign-in"))
        .header(
            "cookie",
            "tsuzuki_csrf=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        )
        .form(&[("email", "a@example.com"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_body(r).await["code"], "csrf_failed");
    // Invalid UTF-8 in a form body.
    let r = app
        .http
        .post(app.url("/sign-in"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(b"email=%ff%fe&password=x&csrf=y".to_vec())
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error(), "{}", r.status());
    // A signed-in form (sign-out) with another session's token is refused and signs nobody out.
    let a = app.signed_in("a@example.com").await;
    let r = app
        .http
        .post(app.url("/sign-out"))
        .header("cookie", format!("{}={a}", app.cookie_name()))
        .form(&[("csrf", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.check(&a).await.status(), StatusCode::OK);
    app.finish().await;
}

async fn cross_site_writes_are_refused(kind: Kind) {
    // SEC-61: Origin from elsewhere, or Sec-Fetch-Site: cross-site, on any write: 403.
    let Some(app) = spawn_app(kind, "").await else {
        return;
    };
    app.create_user("a@example.com").await;
    for (name, value) in [
        ("origin", "https://evil.example"),
        ("sec-fetch-site", "cross-site"),
    ] {
        let r = app
            .http
            .post(app.url("/api/sign-in"))
            .header(name, value)
            .json(&serde_json::json!({ "email": "a@example.com", "password": PASSWORD }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{name}: {value}");
        assert!(set_cookie_value(r.headers(), &app.cookie_name()).is_none());
        assert_eq!(error_body(r).await["code"], "cross_origin");
    }
    // Same-origin requests pass.
    let r = app
        .http
        .post(app.url("/api/sign-in"))
        .header("origin", app.base.clone())
        .header("sec-fetch-site", "same-origin")
        .json(&serde_json::json!({ "email": "a@example.com", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // SEC-62: no CORS grant to anyone.
    let r = app
        .http
        .request(reqwest::Method::OPTIONS, app.url("/api/session"))
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap();
    assert!(!r.headers().contains_key("access-control-allow-origin"));
    app.finish().await;
}

async fn safe_methods_do_not_change_state(kind: Kind) {
    // SEC-60: GET on state-changing endpoints is 405 and leaves the session alone.
    let Some(app) = spawn_app(kind, "").await else {
        return;
    };
    app.create_user("a@example.com").await;
    let cookie = app.signed_in("a@example.com").await;
    for path in [
        "/sign-out",
        "/api/sign-out",
        "/api/session/extend",
        "/api/sign-in",
    ] {
        let r = app.get_with_cookie(path, &cookie).await;
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED, "{path}");
        assert_eq!(error_body(r).await["code"], "method_not_allowed");
    }
    assert_eq!(app.check(&cookie).await.status(), StatusCode::OK);
    let r = app.http.get(app.url("/no/such/page")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_body(r).await["code"], "not_found");
    app.finish().await;
}

async fn oversized_headers_are_refused(kind: Kind) {
    // Limits on header size: hyper answers 431 beyond http.max_header_bytes (16 KiB default).
    let Some(app) = spawn_app(kind, "").await else {
        return;
    };
    let addr = app.base.trim_start_matches("http://").to_string();
    let status = tokio::task::spawn_blocking(move || {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        let big = "x".repeat(64 * 1024);
        let _ = write!(
            s,
            "GET /auth/check HTTP/1.1\r\nHost: localhost\r\nX-Big: {big}\r\n\r\n"
        );
        let mut buf = [0u8; 64];
        let n = s.read(&mut buf).unwrap_or(0);
        String::from_utf8_lossy(&buf[..n]).to_string()
    })
    .await
    .unwrap();
    assert!(status.starts_with("HTTP/1.1 431"), "{status:?}");
    app.finish().await;
}

async fn slow_requests_time_out(kind: Kind) {
    // Limits on request time: a body that never arrives is answered 408 after http.request_timeout.
    let Some(app) = spawn_app(kind, "[http]\nrequest_timeout = \"1s\"\n").await else {
        return;
    };
    let addr = app.base.trim_start_matches("http://").to_string();
    let answer = tokio::task::spawn_blocking(move || {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
        let _ = write!(
            s,
            "POST /api/sign-in HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"email\""
        );
        let mut buf = [0u8; 64];
        let n = s.read(&mut buf).unwrap_or(0);
        String::from_utf8_lossy(&buf[..n]).to_string()
    })
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer:?}");
    app.finish().await;
}

async fn errors_carry_security_headers_and_language(kind: Kind) {
    // SEC-63 on error responses; messages follow Accept-Language (P3).
    let Some(app) = spawn_app(kind, "").await else {
        return;
    };
    let r = app
        .http
        .get(app.url("/api/session"))
        .header("accept-language", "ja,en;q=0.5")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let h = r.headers().clone();
    assert!(
        h["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert_eq!(h["cache-control"], "no-store");
    let e = error_body(r).await;
    assert_eq!(e["message"], e["messages"]["ja"]);
    assert_eq!(e["message"], "ログインしていません。");
    app.finish().await;
}
