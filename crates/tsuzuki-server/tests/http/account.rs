//! Account operations end to end: devices (R8), revoking one or all (R6, R7), password change
//! (SEC-39, SEC-69), re-authentication for sensitive operations (R12, SEC-65..67).

use crate::both_backends;
use crate::harness::*;
use reqwest::StatusCode;
use tsuzuki_store::testing::Kind;

both_backends!(
    devices_list_marks_this_device_and_revokes_one,
    remembered_session_must_reauthenticate_for_sensitive_operations,
    stale_sign_in_must_reauthenticate,
    password_change_ends_other_sessions_and_remembered_devices,
    sign_out_everywhere_with_and_without_this_device,
    reauth_page_completes_the_interrupted_operation,
    password_page_changes_the_password,
);

const REMEMBER: &str = "tsuzuki_remember";

fn cookies(app: &TestApp, session: &str) -> String {
    format!("{}={session}", app.cookie_name())
}

async fn post_json(
    app: &TestApp,
    path: &str,
    cookie: &str,
    body: serde_json::Value,
) -> reqwest::Response {
    app.http
        .post(app.url(path))
        .header("cookie", cookie)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn sign_in_as(
    app: &TestApp,
    email: &str,
    password: &str,
    remember: bool,
    ua: &str,
) -> (String, Option<String>) {
    let r = app
        .http
        .post(app.url("/api/sign-in"))
        .header("user-agent", ua)
        .json(&serde_json::json!({ "email": email, "password": password, "remember": remember }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    (
        set_cookie_value(r.headers(), &app.cookie_name()).unwrap(),
        set_cookie_value(r.headers(), REMEMBER),
    )
}

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0";
const IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1";

/// A session restored from a remember cookie alone; returns (session, rotated remember cookie).
async fn restore(app: &TestApp, remember: &str) -> (String, String) {
    let r = app
        .http
        .get(app.url("/api/session"))
        .header("cookie", format!("{REMEMBER}={remember}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    (
        set_cookie_value(r.headers(), &app.cookie_name()).unwrap(),
        set_cookie_value(r.headers(), REMEMBER).unwrap(),
    )
}

async fn devices_list_marks_this_device_and_revokes_one(kind: Kind) {
    let Some(app) = spawn_app(kind, "").await else {
        return;
    };
    app.create_user("a@example.com").await;
    app.create_user("b@example.com").await;
    let (laptop, _) = sign_in_as(&app, "a@example.com", PASSWORD, false, FIREFOX).await;
    let (phone, phone_remember) = sign_in_as(&app, "a@example.com", PASSWORD, true, IPHONE).await;
    let phone_remember = phone_remember.unwrap();
    let r = app.get_with_cookie("/api/devices", &laptop).await;
    assert_eq!(r.status(), StatusCode::OK);
    let text = r.text().await.unwrap();
    assert!(
        !text.contains(&laptop) && !text.contains(&phone) && !text.contains(&phone_remember),
        "handles only (SEC-38)"
    );
    let body: serde_json::Value = serde_json::from_str(&text).unwrap();
    let devices = body["devices"].as_array().unwrap();
    assert_eq!(
        devices.len(),
        3,
        "two sessions and one remembered device: {body}"
    );
    let current: Vec<_> = devices.iter().filter(|d| d["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["device"], "Firefox 132 on Linux");
    let remembered = devices.iter().find(|d| d["kind"] == "remembered").unwrap();
    assert_eq!(remembered["device"], "Safari 18 on iOS 18");
    assert!(remembered["handle"].as_str().unwrap().starts_with("rem_"));
    let phone_session = devices
        .iter()
        .find(|d| d["kind"] == "session" && d["current"] == false)
        .unwrap();
    // End the phone's session and its remembered sign-in from the laptop.
    for handle in [
        phone_session["handle"].as_str().unwrap(),
        remembered["handle"].as_str().unwrap(),
    ] {
        let r = post_json(
            &app,
            "/api/devices/revoke",
            &cookies(&app, &laptop),
            serde_json::json!({ "handle": handle }),
        )
        .await;
        assert_eq!(r.status(), StatusCode::NO_CONTENT, "{handle}");
    }
    assert_eq!(app.check(&phone).await.status(), StatusCode::UNAUTHORIZED);
    let r = app
        .http
        .get(app.url("/api/session"))
        .header("cookie", format!("{REMEMBER}={phone_remember}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "the remembered device no longer restores"
    );
    assert_eq!(app.check(&laptop).await.status(), StatusCode::OK);
    // R14 security (XSS): a hostile User-Agent is shown escaped on the devices page.
    sign_in_as(
        &app,
        "a@example.com",
        PASSWORD,
        false,
        "<script>alert(1)</script>",
    )
    .await;
    let page = app
        .get_with_cookie("/account/devices", &laptop)
        .await
        .text()
        .await
        .unwrap();
    assert!(!page.contains("<script>alert(1)"), "escaped");
    assert!(page.contains("Unknown browser on unknown system"));
    // Another user's handle is not found, not revoked.
    let (other, _) = sign_in_as(&app, "b@example.com", PASSWORD, false, FIREFOX).await;
    let b_devices: serde_json::Value = app
        .get_with_cookie("/api/devices", &other)
        .await
        .json()
        .await
        .unwrap();
    let b_handle = b_devices["devices"][0]["handle"]
        .as_str()
        .unwrap()
        .to_string();
    let r = post_json(
        &app,
        "/api/devices/revoke",
        &cookies(&app, &laptop),
        serde_json::json!({ "handle": b_handle }),
    )
    .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.check(&other).await.status(), StatusCode::OK);
    app.finish().await;
}

async fn remembered_session_must_reauthenticate_for_sensitive_operations(kind: Kind) {
    // R12, SEC-30, SEC-66: a restored session alone never suffices.
    let Some(app) = spawn_app(kind, "").await else {
        return;
    };
    app.create_user("a@example.com").await;
    let (_, remember) = sign_in_as(&app, "a@example.com", PASSWORD, true, FIREFOX).await;
    let (session, rotated) = restore(&app, &remember.unwrap()).await;
    let jar = format!("{}={session}; {REMEMBER}={rotated}", app.cookie_name());
    let r = post_json(
        &app,
        "/api/sign-out-everywhere",
        &jar,
        serde_json::json!({ "keep_current": true }),
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_body(r).await["code"], "step_up_required");
    let r = post_json(
        &app,
        "/api/reauth",
        &jar,
        serde_json::json!({ "password": "wrong password!!" }),
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_body(r).await["code"], "invalid_credentials");
    let r = post_json(
        &app,
        "/api/reauth",
        &jar,
        serde_json::json!({ "password": PASSWORD }),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let fresh =
        set_cookie_value(r.headers(), &app.cookie_name()).expect("SEC-67: a new session id");
    assert_ne!(fresh, session);
    let info: serde_json::Value = r.json().await.unwrap();
    assert_eq!(info["remembered"], false);
    assert_eq!(info["methods"], serde_json::json!(["pwd"]));
    assert_eq!(
        app.check(&session).await.status(),
        StatusCode::UNAUTHORIZED,
        "the old id ends"
    );
    let jar = format!("{}={fresh}; {REMEMBER}={rotated}", app.cookie_name());
    let r = post_json(
        &app,
        "/api/sign-out-everywhere",
        &jar,
        serde_json::json!({ "keep_current": true }),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    app.finish().await;
}

async fn stale_sign_in_must_reauthenticate(kind: Kind) {
    // SEC-65: past the window (10 min default) the same operation asks again.
    let Some(app) = spawn_app(kind, "").await else {
        return;
    };
    app.create_user("a@example.com").await;
    let (s, _) = sign_in_as(&app, "a@example.com", PASSWORD, false, FIREFOX).await;
    let (other, _) = sign_in_as(&app, "a@example.com", PASSWORD, false, IPHONE).await;
    let devices: serde_json::Value = app
        .get_with_cookie("/api/devices", &s)
        .await
        .json()
        .await
        .unwrap();
    let handle = devices["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["current"] == false)
        .unwrap()["handle"]
        .as_str()
        .unwrap()
        .to_string();
    app.advance(601);
    let r = post_json(
        &app,
        "/api/devices/revoke",
        &cookies(&app, &s),
        serde_json::json!({ "handle": handle }),
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_body(r).await["code"], "step_up_required");
    assert_eq!(
        app.check(&other).await.status(),
        StatusCode::OK,
        "nothing happened"
    );
    app.finish().await;
}

async fn password_change_ends_other_sessions_and_remembered_devices(kind: Kind) {
    // R14 operations / SEC-39: A changes the password; B's session and C's remembered device end;
    // A continues with a new id; the person is told.
    let Some(app) = spawn_app(kind, "").await else {
        return;
    };
    app.create_user("a@example.com").await;
    let (a, _) = sign_in_as(&app, "a@example.com", PASSWORD, false, FIREFOX).await;
    let (b, _) = sign_in_as(&app, "a@example.com", PASSWORD, false, IPHONE).await;
    let (_, c_remember) = sign_in_as(&app, "a@example.com", PASSWORD, true, IPHONE).await;
    let c_remember = c_remember.unwrap();
    let new_password = "a brand new passphrase";
    // SEC-69: without the right current password, nothing changes.
    let r = post_json(
        &app,
        "/api/password",
        &cookies(&app, &a),
        serde_json::json!({ "current_password": "not it at all", "new_password": new_password }),
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = post_json(
        &app,
        "/api/password",
        &cookies(&app, &a),
        serde_json::json!({ "current_password": PASSWORD, "new_password": "short" }),
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let e = error_body(r).await;
    assert_eq!(e["code"], "password_too_short");
    assert_eq!(
        e["messages"]["en"],
        "The new password must be at least 12 characters long."
    );
    assert_eq!(app.check(&b).await.status(), StatusCode::OK);
    let r = post_json(
        &app,
        "/api/password",
        &cookies(&app, &a),
        serde_json::json!({ "current_password": PASSWORD, "new_password": new_password }),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let a2 = set_cookie_value(r.headers(), &app.cookie_name()).expect("a new session id for A");
    assert_ne!(a2, a);
    assert_eq!(app.check(&a2).await.status(), StatusCode::OK, "A continues");
    assert_eq!(
        app.check(&a).await.status(),
        StatusCode::UNAUTHORIZED,
        "A's old id is dead"
    );
    assert_eq!(
        app.check(&b).await.status(),
        StatusCode::UNAUTHORIZED,
        "B's session ended"
    );
    let r = app
        .http
        .get(app.url("/api/session"))
        .header("cookie", format!("{REMEMBER}={c_remember}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "C's remembered device ended"
    );
    assert_eq!(
        app.api_sign_in("a@example.com", PASSWORD).await.0.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.api_sign_in("a@example.com", new_password)
            .await
            .0
            .status(),
        StatusCode::OK
    );
    let mails = app.outbox.messages();
    assert!(
        mails
            .iter()
            .any(|m| m.subject.contains("password was changed")),
        "SEC-74: told: {mails:?}"
    );
    assert!(mails.iter().all(|m| !m.body.contains(new_password)));
    app.finish().await;
}

async fn sign_out_everywhere_with_and_without_this_device(kind: Kind) {
    let Some(app) = spawn_app(kind, "").await else {
        return;
    };
    app.create_user("a@example.com").await;
    let (here, here_remember) = sign_in_as(&app, "a@example.com", PASSWORD, true, FIREFOX).await;
    let here_remember = here_remember.unwrap();
    let (there, there_remember) = sign_in_as(&app, "a@example.com", PASSWORD, true, IPHONE).await;
    // Checked once, so that it is in the cache: ending it must reach the cache at once.
    assert_eq!(app.check(&there).await.status(), StatusCode::OK);
    let jar = format!("{}={here}; {REMEMBER}={here_remember}", app.cookie_name());
    let r = post_json(
        &app,
        "/api/sign-out-everywhere",
        &jar,
        serde_json::json!({ "keep_current": true }),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let counts: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        counts,
        serde_json::json!({ "sessions_ended": 1, "devices_ended": 1 })
    );
    assert_eq!(app.check(&there).await.status(), StatusCode::UNAUTHORIZED);
    let r = app
        .http
        .get(app.url("/api/session"))
        .header("cookie", format!("{REMEMBER}={}", there_remember.unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.check(&here).await.status(),
        StatusCode::OK,
        "this device kept"
    );
    // Now everything, this device included: cookies cleared here too.
    let r = post_json(
        &app,
        "/api/sign-out-everywhere",
        &jar,
        serde_json::json!({ "keep_current": false }),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        set_cookie_line(r.headers(), REMEMBER)
            .unwrap()
            .contains("Max-Age=0")
    );
    assert_eq!(app.check(&here).await.status(), StatusCode::UNAUTHORIZED);
    let r = app
        .http
        .get(app.url("/api/session"))
        .header("cookie", format!("{REMEMBER}={here_remember}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    app.finish().await;
}

async fn reauth_page_completes_the_interrupted_operation(kind: Kind) {
    // R12: on a remembered session, "sign out everywhere" shows a password prompt, and after the
    // password the operation completes without the person doing it again.
    let Some(app) = spawn_app(kind, "").await else {
        return;
    };
    app.create_user("a@example.com").await;
    let (other, _) = sign_in_as(&app, "a@example.com", PASSWORD, false, IPHONE).await;
    let (_, remember) = sign_in_as(&app, "a@example.com", PASSWORD, true, FIREFOX).await;
    let (session, rotated) = restore(&app, &remember.unwrap()).await;
    let jar = format!("{}={session}; {REMEMBER}={rotated}", app.cookie_name());
    let page = app
        .http
        .get(app.url("/account/devices"))
        .header("cookie", &jar)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("this device") && page.contains("Safari 18 on iOS 18"),
        "{page}"
    );
    let csrf = form_field(&page, "csrf");
    let r = app
        .post_form(
            "/account/sign-out-everywhere",
            &jar,
            &[("csrf", csrf.as_str()), ("keep_current", "1")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let prompt = r.text().await.unwrap();
    assert!(prompt.contains("Confirm it is you"), "{prompt}");
    assert_eq!(
        app.check(&other).await.status(),
        StatusCode::OK,
        "nothing done yet"
    );
    let then = form_field(&prompt, "then");
    // A forged `then` is refused.
    let forged = format!(
        "{}.{}",
        data_encoding::BASE64URL_NOPAD.encode(b"everywhere:0"),
        then.split('.').nth(1).unwrap()
    );
    let r = app
        .post_form(
            "/account/reauth",
            &jar,
            &[
                ("csrf", csrf.as_str()),
                ("password", PASSWORD),
                ("then", forged.as_str()),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // A wrong password shows the prompt again.
    let r = app
        .post_form(
            "/account/reauth",
            &jar,
            &[
                ("csrf", csrf.as_str()),
                ("password", "not my password"),
                ("then", then.as_str()),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("The email address or password is incorrect.")
    );
    let r = app
        .post_form(
            "/account/reauth",
            &jar,
            &[
                ("csrf", csrf.as_str()),
                ("password", PASSWORD),
                ("then", then.as_str()),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/account/devices?done=everywhere");
    let fresh = set_cookie_value(r.headers(), &app.cookie_name()).unwrap();
    assert_eq!(
        app.check(&other).await.status(),
        StatusCode::UNAUTHORIZED,
        "the operation completed"
    );
    assert_eq!(
        app.check(&fresh).await.status(),
        StatusCode::OK,
        "this device kept, with a new id"
    );
    app.finish().await;
}

async fn password_page_changes_the_password(kind: Kind) {
    let Some(app) = spawn_app(kind, "").await else {
        return;
    };
    app.create_user("a@example.com").await;
    let (s, _) = sign_in_as(&app, "a@example.com", PASSWORD, false, FIREFOX).await;
    let page = app
        .get_with_cookie("/account/password", &s)
        .await
        .text()
        .await
        .unwrap();
    let csrf = form_field(&page, "csrf");
    let r = app
        .http
        .post(app.url("/account/password"))
        .header("cookie", cookies(&app, &s))
        .form(&[
            ("csrf", csrf.as_str()),
            ("current_password", PASSWORD),
            ("new_password", "tiny"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("at least 12 characters"));
    let r = app
        .http
        .post(app.url("/account/password"))
        .header("cookie", cookies(&app, &s))
        .form(&[
            ("csrf", csrf.as_str()),
            ("current_password", PASSWORD),
            ("new_password", "another fine passphrase"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/account?done=password");
    let fresh = set_cookie_value(r.headers(), &app.cookie_name()).unwrap();
    let page = app
        .get_with_cookie("/account?done=password", &fresh)
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Your password was changed."));
    app.finish().await;
}

/// R12: a host application's sensitive route (marked by the proxy with `X-Tsuzuki-Require:
/// recent-sign-in`) refuses a remembered or stale session with `step_up_required`; the re-auth
/// page asks for the password and returns to the route, which then passes.
#[tokio::test]
async fn host_marked_sensitive_route_needs_a_recent_sign_in() {
    let Some(app) = spawn_app(Kind::Sqlite, "").await else {
        return;
    };
    app.create_user("a@example.com").await;
    let (_, remember) = sign_in_as(&app, "a@example.com", PASSWORD, true, FIREFOX).await;
    let (session, rotated) = restore(&app, &remember.unwrap()).await;
    let jar = format!("{}={session}; {REMEMBER}={rotated}", app.cookie_name());
    let check = |jar: String| {
        app.http
            .get(app.url("/auth/check"))
            .header("cookie", jar)
            .header("x-tsuzuki-require", "recent-sign-in")
            .send()
    };
    let r = check(jar.clone()).await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_body(r).await["code"], "step_up_required");
    // Without the marker the same session passes (it is a valid, remembered session).
    assert_eq!(
        app.get_with_cookie("/auth/check", &session).await.status(),
        StatusCode::OK
    );
    let page = app
        .http
        .get(app.url("/account/reauth?return_to=/app/payments"))
        .header("cookie", &jar)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let (csrf, then) = (form_field(&page, "csrf"), form_field(&page, "then"));
    let r = app
        .post_form(
            "/account/reauth",
            &jar,
            &[
                ("csrf", csrf.as_str()),
                ("password", PASSWORD),
                ("then", then.as_str()),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/app/payments");
    let fresh = set_cookie_value(r.headers(), &app.cookie_name()).unwrap();
    let r = check(format!("{}={fresh}", app.cookie_name()))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // And it stays so only for the window.
    app.advance(601);
    assert_eq!(
        check(format!("{}={fresh}", app.cookie_name()))
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    app.finish().await;
}
