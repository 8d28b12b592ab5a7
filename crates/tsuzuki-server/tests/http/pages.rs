//! The server-rendered pages: sign-in form with CSRF, account page, sign-out, languages.

use crate::both_backends;
use crate::harness::*;
use reqwest::StatusCode;
use tsuzuki_store::testing::Kind;

both_backends!(
    sign_in_through_the_form_and_sign_out,
    pages_follow_the_language,
    wrong_password_reshows_the_form_without_the_password,
    return_to_never_leaves_the_site,
    operations_endpoints,
    privacy_page_names_every_cookie,
    error_pages_offer_details_for_support,
);

async fn error_pages_offer_details_for_support(kind: Kind) {
    // S11: what happened, what to do, the reference id, and the details support needs (device
    // type, OS and version, browser and version, time, page, error code), ready to copy.
    let Some(app) = spawn_app(kind, "").await else {
        return;
    };
    let ua = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36";
    for (lang, label) in [
        ("en", "Details for support"),
        ("ja", "サポート用の詳細情報"),
    ] {
        let r = app
            .http
            .get(app.url("/no/such/page?x=1"))
            .header("accept", "text/html")
            .header("accept-language", lang)
            .header("user-agent", ua)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        let html = r.text().await.unwrap();
        let details = html
            .split("<pre id=\"support-details\">")
            .nth(1)
            .and_then(|d| d.split("</pre>").next())
            .unwrap_or_else(|| panic!("{lang}: no details block: {html}"));
        assert!(html.contains(label), "{lang}");
        for part in [
            "not_found",
            "mobile",
            "Chrome 131 on Android 14",
            "2027-01-15 08:00:00 UTC",
            "&#x2f;no&#x2f;such&#x2f;page?x=1",
        ] {
            assert!(
                details.contains(part),
                "{lang}: {part} missing from {details}"
            );
        }
        let reference = html
            .split("<code>")
            .nth(1)
            .and_then(|c| c.split("</code>").next())
            .unwrap();
        assert!(details.contains(reference), "the same reference id");
        assert!(html.contains("<script src=\"/static/tsuzuki-copy.js\" defer></script>"));
        assert!(
            html.contains("return_to=&#x2f;no&#x2f;such&#x2f;page\""),
            "the language switch comes back to the failed page"
        );
    }
    let r = app
        .http
        .get(app.url("/static/tsuzuki-copy.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    // API clients get JSON, without a page's details.
    let r = app.http.get(app.url("/api/nothing")).send().await.unwrap();
    let body = r.text().await.unwrap();
    assert!(!body.contains("support-details") && body.contains("reference_id"));
    app.finish().await;
}

async fn privacy_page_names_every_cookie(kind: Kind) {
    // R13: every cookie tsuzuki can set is on the privacy page, with its purpose and lifetime,
    // in both languages.
    let Some(app) = spawn_app(kind, "[trusted_devices]\nlifetime = \"21d\"\n").await else {
        return;
    };
    let c = &app.state.cookies;
    let names = [
        c.session.clone(),
        c.remember.clone(),
        c.csrf.clone(),
        c.browser.clone(),
        c.trusted.clone(),
        "tsuzuki_lang".to_string(),
    ];
    for (lang, trusted_words) in [("en", "21 days at most"), ("ja", "最長21日")] {
        let html = app
            .http
            .get(app.url("/privacy"))
            .header("accept-language", lang)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        for name in &names {
            assert!(
                html.contains(&format!("<code>{name}</code>")),
                "{lang}: {name} missing"
            );
        }
        assert!(
            html.contains(trusted_words),
            "{lang}: the trusted-device lifetime"
        );
    }
    app.finish().await;
}

/// GET /sign-in; returns (csrf cookie value, csrf form token).
async fn open_form(app: &TestApp, query: &str) -> (String, String) {
    let r = app
        .http
        .get(app.url(&format!("/sign-in{query}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let cookie = set_cookie_value(r.headers(), "tsuzuki_csrf").expect("anonymous CSRF cookie");
    let line = set_cookie_line(r.headers(), "tsuzuki_csrf").unwrap();
    assert!(
        line.contains("HttpOnly") && line.contains("SameSite=Strict"),
        "{line}"
    );
    let html = r.text().await.unwrap();
    let token = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    (cookie, token)
}

async fn post_form(app: &TestApp, csrf_cookie: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    app.http
        .post(app.url("/sign-in"))
        .header("cookie", format!("tsuzuki_csrf={csrf_cookie}"))
        .header("accept", "text/html")
        .form(fields)
        .send()
        .await
        .unwrap()
}

async fn sign_in_through_the_form_and_sign_out(kind: Kind) {
    let Some(app) = spawn_app(kind, "").await else {
        return;
    };
    app.create_user("a@example.com").await;
    let (cookie, token) = open_form(&app, "?return_to=/account").await;
    let r = post_form(
        &app,
        &cookie,
        &[
            ("email", "a@example.com"),
            ("password", PASSWORD),
            ("csrf", &token),
            ("return_to", "/account"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/account");
    let session = set_cookie_value(r.headers(), &app.cookie_name()).unwrap();
    // The account page shows who is signed in, with a sign-out form carrying a session-bound token.
    let r = app.get_with_cookie("/account", &session).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let html = r.text().await.unwrap();
    assert!(html.contains("Signed in as a@example.com"), "{html}");
    let token = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let r = app
        .http
        .post(app.url("/sign-out"))
        .header("cookie", format!("{}={session}", app.cookie_name()))
        .form(&[("csrf", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/sign-in?signed_out=1");
    assert!(
        set_cookie_line(r.headers(), &app.cookie_name())
            .unwrap()
            .contains("Max-Age=0")
    );
    // Signed out on the server: the account page now sends the browser to sign in.
    let r = app.get_with_cookie("/account", &session).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/sign-in?return_to=/account");
    let r = app
        .http
        .get(app.url("/sign-in?signed_out=1"))
        .send()
        .await
        .unwrap();
    assert!(r.text().await.unwrap().contains("You have signed out."));
    app.finish().await;
}

async fn pages_follow_the_language(kind: Kind) {
    let Some(app) = spawn_app(kind, "").await else {
        return;
    };
    let ja = app
        .http
        .get(app.url("/sign-in"))
        .header("accept-language", "ja-JP,ja;q=0.9")
        .send()
        .await
        .unwrap();
    let html = ja.text().await.unwrap();
    assert!(
        html.contains("<html lang=\"ja\">") && html.contains("<h1>ログイン</h1>"),
        "{html}"
    );
    assert!(
        html.contains("href=\"/lang/en?return_to=&#x2f;sign-in\""),
        "visible switch: {html}"
    );
    let en = app
        .http
        .get(app.url("/sign-in"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(en.contains("<h1>Sign in</h1>"));
    // The switch sets a cookie that wins over Accept-Language.
    let r = app
        .http
        .get(app.url("/lang/ja?return_to=/sign-in"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/sign-in");
    assert!(
        set_cookie_line(r.headers(), "tsuzuki_lang")
            .unwrap()
            .starts_with("tsuzuki_lang=ja;")
    );
    let html = app
        .http
        .get(app.url("/sign-in"))
        .header("cookie", "tsuzuki_lang=ja")
        .header("accept-language", "en")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("<h1>ログイン</h1>"));
    // The HTML error page is localised too and shows the reference id.
    let page = app
        .http
        .get(app.url("/nowhere"))
        .header("accept", "text/html")
        .header("accept-language", "ja")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("このページは存在しません。") && page.contains("参照番号"),
        "{page}"
    );
    app.finish().await;
}

async fn wrong_password_reshows_the_form_without_the_password(kind: Kind) {
    let Some(app) = spawn_app(kind, "").await else {
        return;
    };
    app.create_user("a@example.com").await;
    let (cookie, token) = open_form(&app, "").await;
    let r = post_form(
        &app,
        &cookie,
        &[
            ("email", "a@example.com"),
            ("password", "a wrong password"),
            ("csrf", &token),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let html = r.text().await.unwrap();
    assert!(html.contains("The email address or password is incorrect."));
    assert!(html.contains("value=\"a@example.com\""), "email kept");
    assert!(!html.contains("a wrong password"), "password never echoed");
    assert!(html.contains("role=\"alert\""));
    app.finish().await;
}

async fn return_to_never_leaves_the_site(kind: Kind) {
    // SEC-16: no open redirect after sign-in.
    let Some(app) = spawn_app(kind, "").await else {
        return;
    };
    app.create_user("a@example.com").await;
    for evil in ["https://evil.example/", "//evil.example", "/\\evil.example"] {
        let (cookie, token) = open_form(&app, "").await;
        let r = post_form(
            &app,
            &cookie,
            &[
                ("email", "a@example.com"),
                ("password", PASSWORD),
                ("csrf", &token),
                ("return_to", evil),
            ],
        )
        .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(r.headers()["location"], "/account", "{evil}");
    }
    app.finish().await;
}

async fn operations_endpoints(kind: Kind) {
    let Some(app) = spawn_app(kind, "").await else {
        return;
    };
    assert_eq!(
        app.http
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        app.http
            .get(app.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    app.create_user("a@example.com").await;
    let cookie = app.signed_in("a@example.com").await;
    let _ = app.check(&cookie).await;
    let r = app
        .http
        .get(app.url("/metrics"))
        .header("accept", "application/openmetrics-text; version=1.0.0")
        .send()
        .await
        .unwrap();
    let ct = r.headers()["content-type"].to_str().unwrap().to_string();
    assert!(ct.starts_with("application/openmetrics-text"), "{ct}");
    assert!(r.text().await.unwrap().ends_with("# EOF\n"));
    let r = app.http.get(app.url("/metrics")).send().await.unwrap();
    let ct = r.headers()["content-type"].to_str().unwrap().to_string();
    assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
    let text = r.text().await.unwrap();
    assert!(
        text.contains("tsuzuki_sign_ins_total{outcome=\"success\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("tsuzuki_session_checks_total{outcome=\"valid\"} 1"),
        "{text}"
    );
    assert!(text.contains("tsuzuki_sessions_created_total 1"), "{text}");
    assert!(!text.contains(&cookie), "no secrets in metrics");
    promtool_check(&text);
    app.finish().await;
}

/// `promtool check metrics` from Debian's prometheus package (installed by .ci/run). Skipped with
/// a loud notice where it is missing, unless TSUZUKI_REQUIRE_TOOLS=1.
fn promtool_check(text: &str) {
    use std::io::Write;
    let child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            if std::env::var("TSUZUKI_REQUIRE_TOOLS").is_ok_and(|v| v == "1") {
                panic!("promtool required but not runnable: {e}");
            }
            eprintln!("\n!!! SKIPPING promtool check: {e} (apt-get install prometheus)\n");
            return;
        }
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && report.trim().is_empty(),
        "promtool: {report}\n{text}"
    );
}
