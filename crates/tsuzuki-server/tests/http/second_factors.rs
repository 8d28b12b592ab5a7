//! Second factors end to end (issue #4): step-up that asks for the factor the account has and
//! then completes the interrupted operation, enrolment effects (R7), removal behind step-up,
//! email and SMS factors through the real senders (SMTP server, webhook receiver).

use crate::both_backends;
use crate::flows::{code_in, start_flow, verify, with_email_factor};
use crate::harness::{
    PASSWORD, TestApp, browser, csrf_of, error_code, form_field, post_json, set_cookie_value,
    signed_in_browser, spawn_app, totp_now,
};
use crate::sms_sink::SmsSink;
use crate::smtp_sink::SmtpSink;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use std::time::Duration;
use tsuzuki_core::totp::TotpSecret;
use tsuzuki_store::testing::Kind;

both_backends!(
    step_up_asks_for_the_second_factor,
    step_up_page_completes_what_the_person_was_doing,
    enrolling_the_first_factor_ends_remembered_devices,
    removing_a_factor_needs_a_recent_sign_in,
    sms_codes_go_through_the_webhook,
    email_codes_go_through_real_smtp,
);

/// Enrol an authenticator; returns its secret and factor id.
pub async fn enrol_totp(app: &TestApp, b: &Client) -> (TotpSecret, String) {
    let r = post_json(app, b, "/api/factors/totp", json!({"name": "Phone"})).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let body: Value = r.json().await.unwrap();
    let bytes = data_encoding::BASE32_NOPAD
        .decode(body["secret"].as_str().unwrap().as_bytes())
        .unwrap();
    let secret = TotpSecret::from_bytes(bytes).unwrap();
    let id = body["factor_id"].as_str().unwrap().to_string();
    let r = post_json(
        app,
        b,
        &format!("/api/factors/totp/{id}/confirm"),
        json!({"code": totp_now(app, &secret, 0)}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    (secret, id)
}

async fn step_up_asks_for_the_second_factor(kind: Kind) {
    // R12, SEC-65, SEC-66: past the window a sensitive operation needs the password AND the
    // account's second factor; the password alone never satisfies it.
    let Some(app) = spawn_app(kind, "[session]\nreauth_window = \"5m\"\n").await else {
        return;
    };
    app.create_user("a@example.com").await;
    let b = signed_in_browser(&app, "a@example.com", false).await;
    let (secret, _) = enrol_totp(&app, &b).await;
    app.advance(301);
    let r = post_json(
        &app,
        &b,
        "/api/sign-out-everywhere",
        json!({"keep_current": true}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(r).await, "step_up_required");
    let r = post_json(&app, &b, "/api/reauth", json!({"password": PASSWORD})).await;
    assert_eq!(
        r.status(),
        StatusCode::ACCEPTED,
        "the password alone is not enough"
    );
    let flow: Value = r.json().await.unwrap();
    assert_eq!(flow["kind"], "step_up");
    assert_eq!(flow["method"], "totp");
    let r = post_json(
        &app,
        &b,
        "/api/sign-out-everywhere",
        json!({"keep_current": true}),
    )
    .await;
    assert_eq!(
        error_code(r).await,
        "step_up_required",
        "still not recent mid-flow"
    );
    let r = verify(&app, &b, &flow, &totp_now(&app, &secret, 0)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let s: Value = r.json().await.unwrap();
    assert_eq!(s["methods"], json!(["pwd", "totp"]));
    let r = post_json(
        &app,
        &b,
        "/api/sign-out-everywhere",
        json!({"keep_current": true}),
    )
    .await;
    assert!(r.status().is_success(), "{}", r.status());

    // A session whose factor a trusted device skipped is never "recent" (SEC-31).
    let c = browser();
    let flow = start_flow(&app, &c, "a@example.com", false).await;
    app.advance(30);
    let r = post_json(
        &app,
        &c,
        &format!("/api/flows/{}/verify", flow["id"].as_str().unwrap()),
        json!({"code": totp_now(&app, &secret, 0), "trust_device": true}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let d = c.clone();
    let r = post_json(
        &app,
        &d,
        "/api/sign-in",
        json!({"email": "a@example.com", "password": PASSWORD}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK, "trusted: no code asked");
    let s: Value = r.json().await.unwrap();
    assert_eq!(s["methods"], json!(["pwd", "trusted"]));
    let r = post_json(
        &app,
        &d,
        "/api/sign-out-everywhere",
        json!({"keep_current": true}),
    )
    .await;
    assert_eq!(error_code(r).await, "step_up_required", "SEC-66");
    app.finish().await;
}

async fn step_up_page_completes_what_the_person_was_doing(kind: Kind) {
    // Issue #4 item 5: the step-up runs through the flow pages and then completes the
    // operation with what the person had chosen ("sign out everywhere", keep this device).
    let Some(app) = spawn_app(kind, "[session]\nreauth_window = \"5m\"\n").await else {
        return;
    };
    app.create_user("a@example.com").await;
    let b = signed_in_browser(&app, "a@example.com", false).await;
    let (secret, _) = enrol_totp(&app, &b).await;
    // Another device, signed in with both factors.
    let other = browser();
    let flow = start_flow(&app, &other, "a@example.com", false).await;
    app.advance(30);
    assert_eq!(
        verify(&app, &other, &flow, &totp_now(&app, &secret, 0))
            .await
            .status(),
        StatusCode::OK
    );
    app.advance(301);
    let page = b.get(app.url("/account/devices")).send().await.unwrap();
    let csrf = csrf_of(&page.text().await.unwrap());
    let r = b
        .post(app.url("/account/sign-out-everywhere"))
        .form(&[("csrf", csrf.as_str()), ("keep_current", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "asks for the password first"
    );
    let html = r.text().await.unwrap();
    let then = form_field(&html, "then");
    let csrf = csrf_of(&html);
    let r = b
        .post(app.url("/account/reauth"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("then", then.as_str()),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let flow_page = r.headers()["location"].to_str().unwrap().to_string();
    assert!(flow_page.starts_with("/sign-in/flow/"), "{flow_page}");
    let html = b
        .get(app.url(&flow_page))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("authenticator app"),
        "asks for the app's code"
    );
    assert!(
        !html.contains("name=\"trust\""),
        "no trust offer at step-up"
    );
    app.advance(30);
    let r = b
        .post(app.url(&format!("{flow_page}/verify")))
        .form(&[
            ("csrf", csrf_of(&html).as_str()),
            ("code", totp_now(&app, &secret, 0).as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        r.headers()["location"],
        "/account/devices?done=everywhere",
        "completed"
    );
    assert_eq!(
        other
            .get(app.url("/api/session"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED,
        "the other device was signed out"
    );
    assert_eq!(
        b.get(app.url("/api/session"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK,
        "this one kept"
    );
    app.finish().await;
}

async fn enrolling_the_first_factor_ends_remembered_devices(kind: Kind) {
    // R7, SEC-40: a second-factor change ends every remembered device.
    let Some(app) = spawn_app(kind, "").await else {
        return;
    };
    let uid = app.create_user("a@example.com").await;
    signed_in_browser(&app, "a@example.com", true).await;
    assert_eq!(
        app.state.store.remember_of_user(&uid).await.unwrap().len(),
        1
    );
    let b = signed_in_browser(&app, "a@example.com", false).await;
    enrol_totp(&app, &b).await;
    assert!(
        app.state
            .store
            .remember_of_user(&uid)
            .await
            .unwrap()
            .is_empty(),
        "remembered devices ended"
    );
    let events = app.state.store.events_of_user(&uid, 50).await.unwrap();
    assert!(events.iter().any(|e| e.kind == "factor_enrolled"));
    app.finish().await;
}

async fn removing_a_factor_needs_a_recent_sign_in(kind: Kind) {
    // Issue #4 item 7: removing the last factor requires step-up.
    let Some(app) = spawn_app(kind, "[session]\nreauth_window = \"5m\"\n").await else {
        return;
    };
    app.create_user("a@example.com").await;
    let b = signed_in_browser(&app, "a@example.com", false).await;
    let (secret, id) = enrol_totp(&app, &b).await;
    app.advance(301);
    let r = post_json(&app, &b, &format!("/api/factors/{id}/remove"), json!({})).await;
    assert_eq!(error_code(r).await, "step_up_required");
    let r = post_json(&app, &b, "/api/reauth", json!({"password": PASSWORD})).await;
    let flow: Value = r.json().await.unwrap();
    assert_eq!(
        verify(&app, &b, &flow, &totp_now(&app, &secret, 0))
            .await
            .status(),
        StatusCode::OK
    );
    let r = post_json(&app, &b, &format!("/api/factors/{id}/remove"), json!({})).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = post_json(
        &app,
        &browser(),
        "/api/sign-in",
        json!({"email": "a@example.com", "password": PASSWORD}),
    )
    .await;
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "no factor left: the password is enough again"
    );
    app.finish().await;
}

async fn sms_codes_go_through_the_webhook(kind: Kind) {
    // S8: an SMS factor, enrolled and used, with the codes delivered to a real HTTP receiver.
    let sink = SmsSink::start(200).await;
    let toml = format!(
        "[sms]\nwebhook_url = \"{}/send\"\n[sms.headers]\nX-Api-Key = \"k-123\"\n",
        sink.base
    );
    let Some(app) = spawn_app(kind, &toml).await else {
        return;
    };
    app.create_user("a@example.com").await;
    let b = signed_in_browser(&app, "a@example.com", false).await;
    let r = post_json(
        &app,
        &b,
        "/api/factors/code",
        json!({"method": "sms", "phone": "+81 90-1234-5678", "name": "Mobile"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let flow: Value = r.json().await.unwrap();
    assert_eq!(flow["kind"], "enrolment");
    assert_eq!(flow["sent_to"], "•••• 5678");
    let sent = sink.requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].header("x-api-key"), Some("k-123"));
    let body: Value = serde_json::from_slice(&sent[0].body).unwrap();
    assert_eq!(body["to"], "+819012345678");
    let code = code_in(body["body"].as_str().unwrap());
    let r = verify(&app, &b, &flow, &code).await;
    assert_eq!(r.status(), StatusCode::OK);
    let done: Value = r.json().await.unwrap();
    assert_eq!(
        done["recovery_codes"].as_array().map(Vec::len),
        Some(10),
        "the first factor brings recovery codes, shown once"
    );

    // With email codes too, email is offered first; switching to SMS at once sends a text
    // without waiting out the email's resend cooldown (S9).
    let uid = app.state.store.list_users().await.unwrap()[0].id.clone();
    with_email_factor(&app, &uid).await;
    let c = browser();
    let flow = start_flow(&app, &c, "a@example.com", false).await;
    assert_eq!(flow["method"], "email");
    assert_eq!(flow["methods"], json!(["email", "sms", "recovery"]));
    let id = flow["id"].as_str().unwrap();
    let r = post_json(
        &app,
        &c,
        &format!("/api/flows/{id}/method"),
        json!({"method": "sms"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let sent = sink.requests();
    assert_eq!(sent.len(), 2, "the sign-in's code went out by SMS");
    let body: Value = serde_json::from_slice(&sent[1].body).unwrap();
    let code = code_in(body["body"].as_str().unwrap());
    let r = verify(&app, &c, &flow, &code).await;
    assert_eq!(r.status(), StatusCode::OK);
    let s: Value = r.json().await.unwrap();
    assert_eq!(s["methods"], json!(["pwd", "sms"]));
    app.finish().await;
}

async fn email_codes_go_through_real_smtp(kind: Kind) {
    // S8 with a real SMTP server: enrol email codes, then password → code by mail → code.
    let Some(smtp) = SmtpSink::start().await else {
        return;
    };
    let toml = format!(
        "[mail]\nsmtp_host = \"127.0.0.1\"\nsmtp_port = {}\ntls = \"none\"\nfrom = \"tsuzuki <no-reply@example.test>\"\n",
        smtp.port()
    );
    let Some(app) = spawn_app(kind, &toml).await else {
        return;
    };
    app.create_user("a@example.com").await;
    let b = signed_in_browser(&app, "a@example.com", false).await;
    let r = post_json(&app, &b, "/api/factors/code", json!({"method": "email"})).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let flow: Value = r.json().await.unwrap();
    let mails = smtp.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(mails[0].to, ["a@example.com"]);
    let code = code_in(&mails[0].body);
    assert!(mails[0].body.contains("認証コード"), "bilingual");
    assert_eq!(
        verify(&app, &b, &flow, &code).await.status(),
        StatusCode::OK
    );

    let c = browser();
    let flow = start_flow(&app, &c, "a@example.com", false).await;
    let mails = smtp.wait_for(2, Duration::from_secs(10)).await;
    let code = code_in(&mails[1].body);
    let r = verify(&app, &c, &flow, &code).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(set_cookie_value(r.headers(), &app.cookie_name()).is_some());
    app.finish().await;
}
