//! Resumable sign-in with second factors (issue #4): email codes, resend, expiry, attempts,
//! authenticator apps, recovery codes, switching methods, the headline resume scenario and a
//! restart between the password and the code.

use crate::both_backends;
use crate::harness::{
    PASSWORD, TestApp, browser, csrf_of, error_code, post_json, set_cookie_value,
    signed_in_browser, spawn_app, totp_now,
};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use tsuzuki_core::flow::Method;
use tsuzuki_core::token::public_id;
use tsuzuki_core::totp::TotpSecret;
use tsuzuki_store::{FactorRecord, testing::Kind};

both_backends!(
    email_code_completes_the_sign_in,
    nothing_is_issued_before_the_second_factor,
    resend_has_a_cooldown_and_only_the_newest_code_works,
    an_expired_code_is_refused_and_says_so,
    too_many_wrong_codes_end_the_code_then_the_flow,
    two_authenticators_drift_and_replay,
    recovery_codes_work_once_and_methods_can_be_switched,
    resume_after_losing_the_session_and_restart_after_expiry,
    a_flow_survives_a_server_restart,
    a_flow_belongs_to_its_browser,
);

/// Give the account a confirmed email factor (the enrolment itself is tested elsewhere).
pub async fn with_email_factor(app: &TestApp, uid: &str) {
    app.state
        .store
        .insert_factor(&FactorRecord {
            id: public_id("fac"),
            user_id: uid.into(),
            method: Method::Email,
            name: "Email".into(),
            secret_sealed: None,
            target: Some("a@example.com".into()),
            last_step: None,
            confirmed_at: Some(app.state.flows.now()),
            created_at: app.state.flows.now(),
            last_used_at: None,
        })
        .await
        .unwrap();
}

/// The code in the newest message to `to`.
fn last_code(app: &TestApp) -> String {
    let mail = app.outbox.messages().pop().expect("a message was sent");
    code_in(&mail.body)
}

pub fn code_in(body: &str) -> String {
    let after = body.split("code: ").nth(1).expect("a code line");
    after.chars().take_while(|c| c.is_ascii_digit()).collect()
}

/// Start a sign-in with the password; returns the 202 flow body.
pub async fn start_flow(app: &TestApp, client: &Client, email: &str, remember: bool) -> Value {
    let r = post_json(
        app,
        client,
        "/api/sign-in",
        json!({"email": email, "password": PASSWORD, "remember": remember}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED, "a second factor is due");
    r.json().await.unwrap()
}

pub async fn verify(app: &TestApp, client: &Client, flow: &Value, code: &str) -> reqwest::Response {
    let id = flow["id"].as_str().unwrap();
    post_json(
        app,
        client,
        &format!("/api/flows/{id}/verify"),
        json!({"code": code}),
    )
    .await
}

async fn email_code_completes_the_sign_in(kind: Kind) {
    // S8: password → code by email → enter code.
    let Some(app) = spawn_app(kind, "").await else {
        return;
    };
    let uid = app.create_user("a@example.com").await;
    with_email_factor(&app, &uid).await;
    let b = browser();
    let flow = start_flow(&app, &b, "a@example.com", false).await;
    assert_eq!(flow["step"], "second_factor");
    assert_eq!(flow["method"], "email");
    assert_eq!(flow["sent_to"], "a•••@example.com");
    let mails = app.outbox.messages();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to, "a@example.com");
    let code = code_in(&mails[0].body);
    assert_eq!(code.len(), 6);
    // The email says until when the code works and which device asked (issue #4 item 3).
    let until = flow["code"]["expires_at"].as_i64().unwrap();
    assert_eq!(until, app.state.flows.now().0 + 600);
    assert!(mails[0].body.contains("until") && mails[0].body.contains("Requested from"));

    let r = verify(&app, &b, &flow, "000000").await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let _ = r;
    let r = verify(&app, &b, &flow, wrong).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(r).await, "code_invalid");
    let r = verify(&app, &b, &flow, &code).await;
    assert_eq!(r.status(), StatusCode::OK);
    let session: Value = r.json().await.unwrap();
    assert_eq!(session["methods"], json!(["pwd", "email"]));
    let r = b.get(app.url("/api/session")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "signed in");
    // SEC-15: the flow is single-use.
    let r = verify(&app, &b, &flow, &code).await;
    assert_eq!(r.status(), StatusCode::GONE);
    assert_eq!(error_code(r).await, "flow_completed");
    let events = app.state.store.events_of_user(&uid, 50).await.unwrap();
    assert!(events.iter().any(|e| e.kind == "second_factor_succeeded"));
    assert!(events.iter().any(|e| e.kind == "second_factor_failed"));
    app.finish().await;
}

async fn nothing_is_issued_before_the_second_factor(kind: Kind) {
    // SEC-26, SEC-45: after the password, no session and no remember-me cookie; the flow
    // grants nothing but its next step.
    let Some(app) = spawn_app(kind, "").await else {
        return;
    };
    let uid = app.create_user("a@example.com").await;
    with_email_factor(&app, &uid).await;
    let b = browser();
    let r = post_json(
        &app,
        &b,
        "/api/sign-in",
        json!({"email": "a@example.com", "password": PASSWORD, "remember": true}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    assert!(set_cookie_value(r.headers(), &app.cookie_name()).is_none());
    assert!(set_cookie_value(r.headers(), &app.state.cookies.remember).is_none());
    let flow: Value = r.json().await.unwrap();
    assert_eq!(flow["remember"], true);
    for path in [
        "/api/session",
        "/api/devices",
        "/api/factors",
        "/auth/check",
    ] {
        let r = b.get(app.url(path)).send().await.unwrap();
        assert_eq!(
            r.status(),
            StatusCode::UNAUTHORIZED,
            "{path} with a pending flow"
        );
    }
    let code = last_code(&app);
    let r = verify(&app, &b, &flow, &code).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(set_cookie_value(r.headers(), &app.cookie_name()).is_some());
    assert!(
        set_cookie_value(r.headers(), &app.state.cookies.remember).is_some_and(|v| !v.is_empty()),
        "remember-me only at completion"
    );
    app.finish().await;
}

async fn resend_has_a_cooldown_and_only_the_newest_code_works(kind: Kind) {
    // S8: resend with a growing cooldown; a new code invalidates the previous ones.
    let Some(app) = spawn_app(kind, "").await else {
        return;
    };
    let uid = app.create_user("a@example.com").await;
    with_email_factor(&app, &uid).await;
    let b = browser();
    let flow = start_flow(&app, &b, "a@example.com", false).await;
    let id = flow["id"].as_str().unwrap().to_string();
    let first = last_code(&app);
    let resend = format!("/api/flows/{id}/resend");
    let r = post_json(&app, &b, &resend, json!({})).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers()["retry-after"], "30");
    assert_eq!(error_code(r).await, "resend_cooldown");
    app.advance(30);
    let r = post_json(&app, &b, &resend, json!({})).await;
    assert_eq!(r.status(), StatusCode::OK);
    let view: Value = r.json().await.unwrap();
    assert_eq!(
        view["resend_available_at"].as_i64().unwrap(),
        app.state.flows.now().0 + 60,
        "the second wait is longer"
    );
    let second = last_code(&app);
    assert_eq!(app.outbox.messages().len(), 2);
    if first != second {
        let r = verify(&app, &b, &flow, &first).await;
        assert_eq!(error_code(r).await, "code_invalid", "the old code is dead");
    }
    let r = verify(&app, &b, &flow, &second).await;
    assert_eq!(r.status(), StatusCode::OK);
    app.finish().await;
}

async fn an_expired_code_is_refused_and_says_so(kind: Kind) {
    // SEC-51: a code lives 10 minutes.
    let Some(app) = spawn_app(kind, "[flows]\nlifetime = \"30m\"\n").await else {
        return;
    };
    let uid = app.create_user("a@example.com").await;
    with_email_factor(&app, &uid).await;
    let b = browser();
    let flow = start_flow(&app, &b, "a@example.com", false).await;
    let code = last_code(&app);
    app.advance(600);
    let r = verify(&app, &b, &flow, &code).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(r).await, "code_expired");
    let id = flow["id"].as_str().unwrap();
    let r = post_json(&app, &b, &format!("/api/flows/{id}/resend"), json!({})).await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = verify(&app, &b, &flow, &last_code(&app)).await;
    assert_eq!(r.status(), StatusCode::OK, "a new code works");
    app.finish().await;
}

async fn too_many_wrong_codes_end_the_code_then_the_flow(kind: Kind) {
    // SEC-46: 5 wrong tries per code, then a new code is needed; the flow's own limit ends it.
    let Some(app) = spawn_app(kind, "[flows]\nmax_failures = 7\n").await else {
        return;
    };
    let uid = app.create_user("a@example.com").await;
    with_email_factor(&app, &uid).await;
    let b = browser();
    let flow = start_flow(&app, &b, "a@example.com", false).await;
    let code = last_code(&app);
    let wrong = if code == "999999" { "888888" } else { "999999" };
    for left in (0..5).rev() {
        let r = verify(&app, &b, &flow, wrong).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "code_invalid");
        assert!(
            body["error"]["hint"]
                .as_str()
                .unwrap()
                .contains(&left.to_string()),
            "{body}"
        );
    }
    let r = verify(&app, &b, &flow, &code).await;
    assert_eq!(
        error_code(r).await,
        "code_attempts_exceeded",
        "even the right code, once the code is dead"
    );
    let id = flow["id"].as_str().unwrap();
    app.advance(30);
    let r = post_json(&app, &b, &format!("/api/flows/{id}/resend"), json!({})).await;
    assert_eq!(r.status(), StatusCode::OK);
    for _ in 0..2 {
        let r = verify(&app, &b, &flow, wrong).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let r = verify(&app, &b, &flow, &last_code(&app)).await;
    assert_eq!(r.status(), StatusCode::GONE);
    assert_eq!(
        error_code(r).await,
        "flow_locked",
        "7 wrong answers end the flow"
    );
    app.finish().await;
}

/// Enrol an authenticator through the API; returns its secret.
async fn enrol_totp(app: &TestApp, b: &Client, name: &str) -> TotpSecret {
    let r = post_json(app, b, "/api/factors/totp", json!({"name": name})).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["otpauth_uri"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/")
    );
    assert!(body["qr_svg"].as_str().unwrap().contains("<svg"));
    let text = body["secret"].as_str().unwrap();
    assert!(text.len() >= 32, "SEC-47: 160 bits");
    let bytes = data_encoding::BASE32_NOPAD.decode(text.as_bytes()).unwrap();
    let secret = TotpSecret::from_bytes(bytes).unwrap();
    let id = body["factor_id"].as_str().unwrap();
    let code = totp_now(app, &secret, 0);
    let r = post_json(
        app,
        b,
        &format!("/api/factors/totp/{id}/confirm"),
        json!({"code": code}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    secret
}

async fn two_authenticators_drift_and_replay(kind: Kind) {
    // S9, SEC-47..49: several authenticators; ±1 step accepted, ±2 refused; a code once only.
    let Some(app) = spawn_app(kind, "").await else {
        return;
    };
    app.create_user("a@example.com").await;
    let b = signed_in_browser(&app, "a@example.com", false).await;
    let phone = enrol_totp(&app, &b, "Phone").await;
    app.advance(30);
    let tablet = enrol_totp(&app, &b, "Tablet").await;
    let r = b.get(app.url("/api/factors")).send().await.unwrap();
    let listed: Value = r.json().await.unwrap();
    let names: Vec<&str> = listed["factors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Phone", "Tablet"]);
    assert!(
        !listed.to_string().contains(&phone.base32()),
        "no secret in listings"
    );
    assert_eq!(
        listed["recovery_codes_left"], 10,
        "the first factor brought recovery codes"
    );

    // SEC-49: the tablet's enrolment code cannot sign in.
    app.advance(1);
    let c = browser();
    let flow = start_flow(&app, &c, "a@example.com", false).await;
    assert_eq!(flow["method"], "totp");
    let r = verify(&app, &c, &flow, &totp_now(&app, &tablet, 0)).await;
    assert_eq!(error_code(r).await, "code_already_used");

    // Each authenticator signs in; drift of one step either way is accepted.
    app.advance(30);
    let r = verify(&app, &c, &flow, &totp_now(&app, &phone, -1)).await;
    assert_eq!(r.status(), StatusCode::OK, "one step back");
    let d = browser();
    let flow = start_flow(&app, &d, "a@example.com", false).await;
    let r = verify(&app, &d, &flow, &totp_now(&app, &tablet, 1)).await;
    assert_eq!(r.status(), StatusCode::OK, "one step ahead");

    // Two steps either way are refused; a replay is refused and reported.
    app.advance(90);
    let e = browser();
    let flow = start_flow(&app, &e, "a@example.com", false).await;
    for off in [-2, 2] {
        let r = verify(&app, &e, &flow, &totp_now(&app, &phone, off)).await;
        assert_eq!(error_code(r).await, "code_invalid", "offset {off}");
    }
    let now_code = totp_now(&app, &phone, 0);
    assert_eq!(
        verify(&app, &e, &flow, &now_code).await.status(),
        StatusCode::OK
    );
    let f = browser();
    let flow = start_flow(&app, &f, "a@example.com", false).await;
    let r = verify(&app, &f, &flow, &now_code).await;
    assert_eq!(error_code(r).await, "code_already_used", "SEC-48");
    let events = app
        .state
        .store
        .events_of_user(&listed_user(&app).await, 100)
        .await
        .unwrap();
    assert!(events.iter().any(|e| e.kind == "otp_replay"));
    assert!(
        app.outbox
            .messages()
            .iter()
            .any(|m| m.subject.contains("used code"))
    );
    app.finish().await;
}

async fn listed_user(app: &TestApp) -> String {
    app.state.store.list_users().await.unwrap()[0].id.clone()
}

async fn recovery_codes_work_once_and_methods_can_be_switched(kind: Kind) {
    // S9, SEC-50: switch to a recovery code at the code step; it works once; its use is told.
    let Some(app) = spawn_app(kind, "").await else {
        return;
    };
    let uid = app.create_user("a@example.com").await;
    let b = signed_in_browser(&app, "a@example.com", false).await;
    enrol_totp(&app, &b, "Phone").await;
    with_email_factor(&app, &uid).await;
    let r = post_json(&app, &b, "/api/recovery-codes", json!({})).await;
    assert_eq!(r.status(), StatusCode::OK);
    let codes: Vec<String> = r.json::<Value>().await.unwrap()["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    assert_eq!(codes.len(), 10);

    let c = browser();
    let flow = start_flow(&app, &c, "a@example.com", false).await;
    assert_eq!(flow["methods"], json!(["totp", "email", "recovery"]));
    let id = flow["id"].as_str().unwrap();
    let sent_before = app.outbox.messages().len();
    let r = post_json(
        &app,
        &c,
        &format!("/api/flows/{id}/method"),
        json!({"method": "email"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        app.outbox.messages().len(),
        sent_before + 1,
        "switching to email sends a code"
    );
    let r = post_json(
        &app,
        &c,
        &format!("/api/flows/{id}/method"),
        json!({"method": "sms"}),
    )
    .await;
    assert_eq!(error_code(r).await, "method_unavailable");
    let r = post_json(
        &app,
        &c,
        &format!("/api/flows/{id}/method"),
        json!({"method": "recovery"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = verify(&app, &c, &flow, &codes[3].to_uppercase()).await;
    assert_eq!(r.status(), StatusCode::OK, "typed in capitals still works");
    let told = app.outbox.messages().pop().unwrap();
    assert!(told.subject.contains("recovery code"), "{told:?}");
    assert!(told.body.contains("Codes left: 9"));
    assert!(!told.body.contains(&codes[3]));

    let d = browser();
    let flow = start_flow(&app, &d, "a@example.com", false).await;
    let id = flow["id"].as_str().unwrap();
    post_json(
        &app,
        &d,
        &format!("/api/flows/{id}/method"),
        json!({"method": "recovery"}),
    )
    .await;
    let r = verify(&app, &d, &flow, &codes[3]).await;
    assert_eq!(error_code(r).await, "code_invalid", "single use");
    assert_eq!(
        verify(&app, &d, &flow, &codes[4]).await.status(),
        StatusCode::OK
    );
    app.finish().await;
}

/// Sign in through the pages with a plain client, keeping cookies by hand. Returns the flow
/// page's path and the browser cookie (`name=value`) the server set.
async fn page_sign_in(app: &TestApp, email: &str, return_to: &str) -> (String, String) {
    let c = crate::harness::client();
    let page = c.get(app.url("/sign-in")).send().await.unwrap();
    let csrf_cookie = format!(
        "{}={}",
        app.state.cookies.csrf,
        set_cookie_value(page.headers(), &app.state.cookies.csrf).unwrap()
    );
    let csrf = csrf_of(&page.text().await.unwrap());
    let r = c
        .post(app.url("/sign-in"))
        .header("cookie", &csrf_cookie)
        .form(&[
            ("csrf", csrf.as_str()),
            ("email", email),
            ("password", PASSWORD),
            ("return_to", return_to),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(
        set_cookie_value(r.headers(), &app.cookie_name()).is_none(),
        "no session before the second factor"
    );
    let browser =
        set_cookie_value(r.headers(), &app.state.cookies.browser).expect("a browser cookie");
    let to = r.headers()["location"].to_str().unwrap().to_string();
    assert!(to.starts_with("/sign-in/flow/"), "{to}");
    (to, format!("{}={browser}", app.state.cookies.browser))
}

async fn resume_after_losing_the_session_and_restart_after_expiry(kind: Kind) {
    // S7, the headline: reach the code step, lose the session cookie and close the client,
    // come back with the flow URL: same step, and the first email's code still works. Past the
    // flow's lifetime: a plain page, and a restart that keeps the identifier.
    let Some(app) = spawn_app(kind, "[flows]\nlifetime = \"5m\"\nmax_lifetime = \"20m\"\n").await
    else {
        return;
    };
    let uid = app.create_user("a@example.com").await;
    with_email_factor(&app, &uid).await;
    let (path, browser_cookie) = page_sign_in(&app, "a@example.com", "/account?tab=2").await;
    let code = last_code(&app);
    // Four minutes later, a new client that kept only the persistent browser cookie (no
    // session cookie, no CSRF cookie): the flow URL lands on the same step.
    app.advance(240);
    let c = crate::harness::client();
    let r = c
        .get(app.url(&path))
        .header("cookie", &browser_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "same step");
    let html = r.text().await.unwrap();
    assert!(
        html.contains("a•••@example.com") && html.contains("name=\"code\""),
        "{html}"
    );
    // P3: the same step in Japanese, with its numbers filled in.
    let ja = c
        .get(app.url(&path))
        .header("cookie", &browser_cookie)
        .header("accept-language", "ja")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        ja.contains("a•••@example.com に認証コードを送信しました")
            && ja.contains("残り10回まで間違えられます"),
        "{ja}"
    );
    assert!(
        html.contains("10 wrong answers left"),
        "plural and count: {html}"
    );
    let r = c
        .post(app.url(&format!("{path}/verify")))
        .header("cookie", &browser_cookie)
        .form(&[("csrf", csrf_of(&html).as_str()), ("code", code.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "the first email's code works"
    );
    assert_eq!(
        r.headers()["location"],
        "/account?tab=2",
        "back where the person was going"
    );
    assert!(set_cookie_value(r.headers(), &app.cookie_name()).is_some_and(|v| !v.is_empty()));

    // A flow left past its lifetime: a plain page and one button that keeps the identifier.
    let (path, browser_cookie) = page_sign_in(&app, "a@example.com", "/account").await;
    app.advance(301);
    let r = c
        .get(app.url(&path))
        .header("cookie", &browser_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::GONE);
    let html = r.text().await.unwrap();
    assert!(html.contains("has expired"), "says what happened: {html}");
    let restart = html
        .split("class=\"button\" href=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("a restart button")
        .replace("&amp;", "&")
        .replace("&#x2f;", "/");
    assert_eq!(restart, "/sign-in?email=a%40example.com&return_to=/account");
    let r = c.get(app.url(&restart)).send().await.unwrap();
    assert!(
        r.text().await.unwrap().contains("value=\"a@example.com\""),
        "identifier filled in"
    );
    app.finish().await;
}

async fn a_flow_survives_a_server_restart(kind: Kind) {
    // S7: a restart between the password step and the code step changes nothing.
    let Some(mut app) = spawn_app(kind, "").await else {
        return;
    };
    let uid = app.create_user("a@example.com").await;
    with_email_factor(&app, &uid).await;
    let (path, browser_cookie) = page_sign_in(&app, "a@example.com", "/account").await;
    let code = last_code(&app);
    app.restart().await;
    let id = path.rsplit('/').next().unwrap();
    let r = crate::harness::client()
        .post(app.url(&format!("/api/flows/{id}/verify")))
        .header("cookie", &browser_cookie)
        .json(&json!({"code": code}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "the code from before the restart works"
    );
    app.finish().await;
}

async fn a_flow_belongs_to_its_browser(kind: Kind) {
    // SEC-15: another browser with the URL gets "not found", like an unknown id.
    let Some(app) = spawn_app(kind, "").await else {
        return;
    };
    let uid = app.create_user("a@example.com").await;
    with_email_factor(&app, &uid).await;
    let b = browser();
    let flow = start_flow(&app, &b, "a@example.com", false).await;
    let code = last_code(&app);
    let other = browser();
    let r = verify(&app, &other, &flow, &code).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(r).await, "flow_not_found");
    let r = other
        .get(app.url("/api/flows/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        verify(&app, &b, &flow, &code).await.status(),
        StatusCode::OK
    );
    app.finish().await;
}
