//! Account recovery ("forgot password") and self-registration (issue #4 item 8): the same flow
//! machinery (S7) with an email step; a reset ends every session and remembered device (SEC-39),
//! never skips a second factor and never signs in (SEC-53), and neither form tells whether an
//! address has an account (SEC-56).

use crate::both_backends;
use crate::harness::{
    PASSWORD, TestApp, browser, client, csrf_of, error_code, post_json, set_cookie_value,
    spawn_app, totp_now,
};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use tsuzuki_core::flow::Method;
use tsuzuki_core::token::{SecretToken, public_id};
use tsuzuki_core::totp::TotpSecret;
use tsuzuki_store::{FactorRecord, testing::Kind};

both_backends!(
    a_reset_ends_every_session_and_remembered_device,
    a_reset_still_asks_for_the_second_factor,
    an_unknown_address_gets_the_same_answer,
    a_recovery_flow_is_single_use,
    recovery_through_the_pages,
    registration_is_off_by_default,
    registration_proves_the_address_then_signs_in,
    registering_a_taken_address_reveals_nothing,
    a_too_short_password_is_a_clear_400,
);

const NEW_PASSWORD: &str = "a brand new passphrase";

/// The code in a message body (`… code: 123456`), if there is one.
fn code_in(body: &str) -> Option<String> {
    let after = body.split("code: ").nth(1)?;
    Some(after.chars().take_while(|c| c.is_ascii_digit()).collect())
}

/// The messages sent to `to`, oldest first.
fn mail_to(app: &TestApp, to: &str) -> Vec<tsuzuki_server::courier::Message> {
    app.outbox
        .messages()
        .into_iter()
        .filter(|m| m.to == to)
        .collect()
}

/// The code of the newest message to `to`.
fn last_code_to(app: &TestApp, to: &str) -> String {
    let mail = mail_to(app, to).pop().expect("a message to that address");
    code_in(&mail.body).expect("a code in the message")
}

/// POST /api/recover from `c`; the 202 flow body.
async fn recover(app: &TestApp, c: &Client, email: &str) -> Value {
    let r = post_json(app, c, "/api/recover", json!({ "email": email })).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    r.json().await.unwrap()
}

fn id_of(flow: &Value) -> String {
    flow["id"].as_str().unwrap().to_string()
}

async fn verify(app: &TestApp, c: &Client, id: &str, code: &str) -> reqwest::Response {
    post_json(
        app,
        c,
        &format!("/api/flows/{id}/verify"),
        json!({ "code": code }),
    )
    .await
}

async fn new_password(app: &TestApp, c: &Client, id: &str, password: &str) -> reqwest::Response {
    post_json(
        app,
        c,
        &format!("/api/flows/{id}/password"),
        json!({ "password": password }),
    )
    .await
}

/// Status of a plain sign-in with `password`.
async fn sign_in_status(app: &TestApp, email: &str, password: &str) -> StatusCode {
    app.api_sign_in(email, password).await.0.status()
}

/// A request from a browser holding only a remember-me cookie; the status and the rotated
/// cookie, if one was set.
async fn restore(app: &TestApp, remember: &str) -> (StatusCode, Option<String>) {
    let name = &app.state.cookies.remember;
    let r = client()
        .get(app.url("/api/session"))
        .header("cookie", format!("{name}={remember}"))
        .send()
        .await
        .unwrap();
    let next = set_cookie_value(r.headers(), name).filter(|v| !v.is_empty());
    (r.status(), next)
}

/// Give the account a confirmed authenticator app; returns its secret.
async fn with_totp(app: &TestApp, uid: &str) -> TotpSecret {
    let secret = TotpSecret::generate();
    let id = public_id("fac");
    let now = app.state.flows.now();
    app.state
        .store
        .insert_factor(&FactorRecord {
            id: id.clone(),
            user_id: uid.into(),
            method: Method::Totp,
            name: "Phone".into(),
            secret_sealed: Some(app.state.flows.seal_secret(&id, &secret)),
            target: None,
            last_step: None,
            confirmed_at: Some(now),
            created_at: now,
            last_used_at: None,
        })
        .await
        .unwrap();
    secret
}

/// Make `code` the stored code of a flow, as if it had been sent: lets a test show that a flow
/// which must not complete refuses even the right code.
async fn plant_code(app: &TestApp, id: &str, code: &str) {
    let hash = SecretToken::parse(id).unwrap().hash();
    let mut flow = app.state.store.flow_by_id(&hash).await.unwrap().unwrap();
    let pending = flow.code.as_mut().expect("a code was stored");
    pending.hash = tsuzuki_core::otp::code_hash(&app.state.flows.code_key, &hash, code);
    assert!(app.state.store.update_flow(&flow).await.unwrap());
}

/// A flow answer without what differs by nature between two flows (ids, the typed address,
/// times), so that two answers can be compared for shape and content.
fn stable(mut v: Value) -> Value {
    if let Some(o) = v.as_object_mut() {
        for k in [
            "id",
            "identifier",
            "expires_at",
            "now",
            "resend_available_at",
        ] {
            o.remove(k);
        }
        if let Some(code) = o.get_mut("code").and_then(Value::as_object_mut) {
            code.remove("expires_at");
        }
        if let Some(e) = o.get_mut("error").and_then(Value::as_object_mut) {
            e.remove("reference_id");
        }
    }
    v
}

async fn a_reset_ends_every_session_and_remembered_device(kind: Kind) {
    // SEC-39: a reset ends every session and remembered device, the current one included;
    // SEC-53: it yields no session. The new password works, the old one does not.
    let Some(app) = spawn_app(kind, "").await else {
        return;
    };
    let uid = app.create_user("a@example.com").await;
    let first = app.signed_in("a@example.com").await;
    let second = app.signed_in("a@example.com").await;
    let r = client()
        .post(app.url("/api/sign-in"))
        .json(&json!({ "email": "a@example.com", "password": PASSWORD, "remember": true }))
        .send()
        .await
        .unwrap();
    let remembered = set_cookie_value(r.headers(), &app.state.cookies.remember).unwrap();
    // The remembered device works before the reset (and rotates its cookie).
    let (status, rotated) = restore(&app, &remembered).await;
    assert_eq!(status, StatusCode::OK);
    let remembered = rotated.expect("a rotated remember cookie");
    for s in [&first, &second] {
        assert_eq!(app.check(s).await.status(), StatusCode::OK);
    }

    // The reset runs in a browser that is itself signed in.
    let b = browser();
    let r = post_json(
        &app,
        &b,
        "/api/sign-in",
        json!({ "email": "a@example.com", "password": PASSWORD }),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let current = set_cookie_value(r.headers(), &app.cookie_name()).unwrap();
    let flow = recover(&app, &b, "a@example.com").await;
    assert_eq!(flow["kind"], "recovery");
    assert_eq!(flow["step"], "verify_email");
    assert_eq!(flow["sent_to"], "a•••@example.com");
    let id = id_of(&flow);
    let code = last_code_to(&app, "a@example.com");
    // SEC-51: the code lives 10 minutes (the 15 is capped by the code policy).
    assert_eq!(
        flow["code"]["expires_at"].as_i64().unwrap(),
        app.state.flows.now().0 + 600
    );
    let r = verify(&app, &b, &id, &code).await;
    assert_eq!(r.status(), StatusCode::OK);
    let at: Value = r.json().await.unwrap();
    assert_eq!(at["step"], "new_password");
    assert_eq!(
        sign_in_status(&app, "a@example.com", PASSWORD).await,
        StatusCode::OK,
        "the account keeps its password until the flow is done"
    );
    let r = new_password(&app, &b, &id, NEW_PASSWORD).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        set_cookie_value(r.headers(), &app.cookie_name()).is_none_or(|v| v.is_empty()),
        "SEC-53: no session comes out of a reset"
    );
    let done: Value = r.json().await.unwrap();
    assert_eq!(done["done"], true);
    assert_eq!(
        done["return_to"],
        "/sign-in?email=a%40example.com&notice=reset"
    );

    for s in [&first, &second, &current] {
        assert_eq!(
            app.check(s).await.status(),
            StatusCode::UNAUTHORIZED,
            "SEC-39: every session, the one the reset was made from included"
        );
    }
    assert_eq!(
        restore(&app, &remembered).await.0,
        StatusCode::UNAUTHORIZED,
        "SEC-39: remembered devices end"
    );
    assert!(
        app.state
            .store
            .remember_of_user(&uid)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        sign_in_status(&app, "a@example.com", PASSWORD).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        sign_in_status(&app, "a@example.com", NEW_PASSWORD).await,
        StatusCode::OK
    );
    let events = app.state.store.events_of_user(&uid, 50).await.unwrap();
    assert!(events.iter().any(|e| e.kind == "password_reset"));
    let notice = mail_to(&app, "a@example.com").pop().unwrap();
    assert!(notice.subject.contains("reset"), "{}", notice.subject);
    assert!(code_in(&notice.body).is_none() && !notice.body.contains(NEW_PASSWORD));
    app.finish().await;
}

async fn a_reset_still_asks_for_the_second_factor(kind: Kind) {
    // SEC-53: the enrolled second factor is asked for during the recovery, which cannot finish
    // without it; SEC-45: the half-done recovery grants nothing.
    let Some(app) = spawn_app(kind, "").await else {
        return;
    };
    let uid = app.create_user("a@example.com").await;
    let secret = with_totp(&app, &uid).await;
    let b = browser();
    let flow = recover(&app, &b, "a@example.com").await;
    assert_eq!(
        flow["methods"],
        json!([]),
        "which factors the account has is not told before the address is proved"
    );
    let id = id_of(&flow);
    let r = verify(&app, &b, &id, &last_code_to(&app, "a@example.com")).await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = new_password(&app, &b, &id, NEW_PASSWORD).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(set_cookie_value(r.headers(), &app.cookie_name()).is_none());
    let at: Value = r.json().await.unwrap();
    assert_eq!(at["step"], "second_factor");
    assert_eq!(at["method"], "totp");
    for path in ["/api/session", "/api/devices", "/auth/check"] {
        let r = b.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "SEC-45: {path}");
    }
    assert_eq!(
        sign_in_status(&app, "a@example.com", NEW_PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "the new password is not set before the second factor"
    );
    let good = totp_now(&app, &secret, 0);
    let wrong = if good == "000000" { "111111" } else { "000000" };
    let r = verify(&app, &b, &id, wrong).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(r).await, "code_invalid");
    let r = verify(&app, &b, &id, &good).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        set_cookie_value(r.headers(), &app.cookie_name()).is_none_or(|v| v.is_empty()),
        "SEC-53: no session after the factor either"
    );
    let done: Value = r.json().await.unwrap();
    assert_eq!(done["done"], true);
    // The next sign-in still asks for the factor.
    let (r, cookie) = app.api_sign_in("a@example.com", NEW_PASSWORD).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    assert!(cookie.is_none());
    app.finish().await;
}

async fn an_unknown_address_gets_the_same_answer(kind: Kind) {
    // SEC-56: same status, same body (volatile fields aside), same next answers; the unknown
    // address gets a notice and no code, and its flow refuses even the right code.
    let Some(app) = spawn_app(kind, "").await else {
        return;
    };
    app.create_user("alice@example.com").await;
    let (k, u) = (browser(), browser());
    let known = recover(&app, &k, "alice@example.com").await;
    let unknown = recover(&app, &u, "anna@example.com").await;
    assert_eq!(stable(known.clone()), stable(unknown.clone()));
    assert_eq!(unknown["sent_to"], "a•••@example.com");

    // The next answers match too: a wrong code, and a resend within the cooldown.
    let code = last_code_to(&app, "alice@example.com");
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let (rk, ru) = (
        verify(&app, &k, &id_of(&known), wrong).await,
        verify(&app, &u, &id_of(&unknown), wrong).await,
    );
    assert_eq!(rk.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(rk.status(), ru.status());
    let (bk, bu): (Value, Value) = (rk.json().await.unwrap(), ru.json().await.unwrap());
    assert_eq!(stable(bk), stable(bu));
    for (c, f) in [(&k, &known), (&u, &unknown)] {
        let r = post_json(
            &app,
            c,
            &format!("/api/flows/{}/resend", id_of(f)),
            json!({}),
        )
        .await;
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(error_code(r).await, "resend_cooldown");
    }
    // The page form answers alike: a redirect to a flow page.
    for email in ["alice@example.com", "anna@example.com"] {
        let c = browser();
        let page = c.get(app.url("/recover")).send().await.unwrap();
        let csrf = csrf_of(&page.text().await.unwrap());
        let r = c
            .post(app.url("/recover"))
            .form(&[("csrf", csrf.as_str()), ("email", email)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{email}");
        assert!(
            r.headers()["location"]
                .to_str()
                .unwrap()
                .starts_with("/sign-in/flow/")
        );
    }

    // One message each: a code to the account, a notice (no code) to the unknown address.
    let to_unknown = mail_to(&app, "anna@example.com");
    assert_eq!(to_unknown.len(), 2, "one per recovery started");
    assert!(to_unknown.iter().all(|m| code_in(&m.body).is_none()));
    assert!(to_unknown[0].body.contains("no active account uses it"));
    // Even the right code does not open the unknown address's flow; the same planted code
    // opens the known account's (so the planting itself works).
    plant_code(&app, &id_of(&unknown), "123456").await;
    let r = verify(&app, &u, &id_of(&unknown), "123456").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(r).await, "code_invalid");
    plant_code(&app, &id_of(&known), "123456").await;
    let r = verify(&app, &k, &id_of(&known), "123456").await;
    assert_eq!(r.status(), StatusCode::OK);
    app.finish().await;
}

async fn a_recovery_flow_is_single_use(kind: Kind) {
    // SEC-15 via S7: a completed recovery cannot be used again, nor its code.
    let Some(app) = spawn_app(kind, "").await else {
        return;
    };
    app.create_user("a@example.com").await;
    let b = browser();
    let flow = recover(&app, &b, "a@example.com").await;
    let id = id_of(&flow);
    let code = last_code_to(&app, "a@example.com");
    assert_eq!(verify(&app, &b, &id, &code).await.status(), StatusCode::OK);
    let r = verify(&app, &b, &id, &code).await;
    assert!(r.status().is_client_error(), "the code is used up");
    let r = new_password(&app, &b, &id, NEW_PASSWORD).await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = new_password(&app, &b, &id, "yet another passphrase").await;
    assert_eq!(r.status(), StatusCode::GONE);
    assert_eq!(error_code(r).await, "flow_completed");
    let r = verify(&app, &b, &id, &code).await;
    assert_eq!(r.status(), StatusCode::GONE);
    assert_eq!(
        sign_in_status(&app, "a@example.com", NEW_PASSWORD).await,
        StatusCode::OK,
        "the second password did not replace the first"
    );
    app.finish().await;
}

async fn recovery_through_the_pages(kind: Kind) {
    // The HTML path: sign-in page link → /recover → code page → new password → sign-in page.
    let Some(app) = spawn_app(kind, "").await else {
        return;
    };
    app.create_user("a@example.com").await;
    let b = browser();
    let sign_in = b.get(app.url("/sign-in")).send().await.unwrap();
    let html = sign_in.text().await.unwrap();
    assert!(html.contains("href=\"/recover\"") && html.contains("Forgot your password?"));
    let page = b.get(app.url("/recover")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let csrf = csrf_of(&page.text().await.unwrap());
    let r = b
        .post(app.url("/recover"))
        .form(&[("csrf", "forged"), ("email", "a@example.com")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "SEC-61");
    let r = b
        .post(app.url("/recover"))
        .form(&[("csrf", csrf.as_str()), ("email", "a@example.com")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let flow_page = r.headers()["location"].to_str().unwrap().to_string();
    let html = b
        .get(app.url(&flow_page))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("We sent a code to a•••@example.com to confirm it is your address"),
        "{html}"
    );
    let code = last_code_to(&app, "a@example.com");
    let r = b
        .post(app.url(&format!("{flow_page}/verify")))
        .form(&[("csrf", csrf_of(&html).as_str()), ("code", code.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], flow_page.as_str());
    let html = b
        .get(app.url(&flow_page))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("minlength=\"12\"") && html.contains("maxlength=\"128\""),
        "{html}"
    );
    let csrf = csrf_of(&html);
    let r = b
        .post(app.url(&format!("{flow_page}/password")))
        .form(&[("csrf", csrf.as_str()), ("password", "short")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("at least 12 characters"));
    let r = b
        .post(app.url(&format!("{flow_page}/password")))
        .form(&[("csrf", csrf.as_str()), ("password", NEW_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let to = r.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(to, "/sign-in?email=a%40example.com&notice=reset");
    let html = b
        .get(app.url(&to))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("Your password was reset"), "{html}");
    assert!(html.contains("value=\"a@example.com\""));
    assert_eq!(
        sign_in_status(&app, "a@example.com", NEW_PASSWORD).await,
        StatusCode::OK
    );
    app.finish().await;
}

async fn registration_is_off_by_default(kind: Kind) {
    let Some(app) = spawn_app(kind, "").await else {
        return;
    };
    let c = client();
    assert_eq!(
        c.get(app.url("/register")).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    let r = post_json(
        &app,
        &c,
        "/api/register",
        json!({ "email": "new@example.com", "password": NEW_PASSWORD }),
    )
    .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let html = c
        .get(app.url("/sign-in"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!html.contains("/register"), "no link to a closed door");
    assert!(app.outbox.messages().is_empty());
    app.finish().await;
}

const REGISTRATION_ON: &str = "[registration]\nenabled = true\n";

async fn registration_proves_the_address_then_signs_in(kind: Kind) {
    // Issue #4 item 8: the address is verified by a code before the account exists; then it
    // is signed in and can sign in again with its password.
    let Some(app) = spawn_app(kind, REGISTRATION_ON).await else {
        return;
    };
    let html = client()
        .get(app.url("/sign-in"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("href=\"/register\""));
    let b = browser();
    let r = post_json(
        &app,
        &b,
        "/api/register",
        json!({ "email": "New@Example.com", "password": NEW_PASSWORD }),
    )
    .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let flow: Value = r.json().await.unwrap();
    assert_eq!(flow["kind"], "registration");
    assert_eq!(flow["step"], "verify_email");
    let email = tsuzuki_core::email::Email::parse("new@example.com").unwrap();
    assert!(
        app.state
            .store
            .user_by_email(&email)
            .await
            .unwrap()
            .is_none(),
        "no account before the address is proved"
    );
    assert_eq!(
        sign_in_status(&app, "new@example.com", NEW_PASSWORD).await,
        StatusCode::UNAUTHORIZED
    );
    let code = last_code_to(&app, "new@example.com");
    let r = verify(&app, &b, &id_of(&flow), &code).await;
    assert_eq!(r.status(), StatusCode::OK);
    let session: Value = r.json().await.unwrap();
    assert_eq!(session["user"]["email"], "new@example.com");
    assert_eq!(session["methods"], json!(["pwd", "email"]));
    let r = b.get(app.url("/api/session")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "signed in on this browser");
    let user = app
        .state
        .store
        .user_by_email(&email)
        .await
        .unwrap()
        .unwrap();
    assert!(user.id.starts_with("usr_"));
    let events = app.state.store.events_of_user(&user.id, 20).await.unwrap();
    assert!(events.iter().any(|e| e.kind == "registered"));
    assert_eq!(
        sign_in_status(&app, "new@example.com", NEW_PASSWORD).await,
        StatusCode::OK
    );
    let r = verify(&app, &b, &id_of(&flow), &code).await;
    assert_eq!(r.status(), StatusCode::GONE, "single use");
    app.finish().await;
}

async fn registering_a_taken_address_reveals_nothing(kind: Kind) {
    // SEC-56: registering an address that has an account answers like any other; that address
    // gets a notice instead of a code, and the flow can never complete.
    let Some(app) = spawn_app(kind, REGISTRATION_ON).await else {
        return;
    };
    let uid = app.create_user("taken@example.com").await;
    let (t, f) = (browser(), browser());
    let body = |email: &str| json!({ "email": email, "password": NEW_PASSWORD });
    let rt = post_json(&app, &t, "/api/register", body("taken@example.com")).await;
    let rf = post_json(&app, &f, "/api/register", body("tfree@example.com")).await;
    assert_eq!(rt.status(), StatusCode::ACCEPTED);
    assert_eq!(rt.status(), rf.status());
    let (taken, free): (Value, Value) = (rt.json().await.unwrap(), rf.json().await.unwrap());
    assert_eq!(stable(taken.clone()), stable(free.clone()));

    let to_taken = mail_to(&app, "taken@example.com");
    assert_eq!(to_taken.len(), 1);
    assert!(code_in(&to_taken[0].body).is_none(), "a notice, not a code");
    assert!(to_taken[0].body.contains("already has an account"));
    assert!(code_in(&mail_to(&app, "tfree@example.com")[0].body).is_some());

    plant_code(&app, &id_of(&taken), "123456").await;
    let r = verify(&app, &t, &id_of(&taken), "123456").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(r).await, "code_invalid");
    assert_eq!(
        sign_in_status(&app, "taken@example.com", PASSWORD).await,
        StatusCode::OK,
        "the account is untouched"
    );
    assert_eq!(app.state.store.list_users().await.unwrap().len(), 1);
    let events = app.state.store.events_of_user(&uid, 20).await.unwrap();
    assert!(!events.iter().any(|e| e.kind == "registered"));
    app.finish().await;
}

async fn a_too_short_password_is_a_clear_400(kind: Kind) {
    // The password policy (12..128 characters by default) speaks its numbers.
    let Some(app) = spawn_app(kind, REGISTRATION_ON).await else {
        return;
    };
    app.create_user("a@example.com").await;
    let b = browser();
    let r = post_json(
        &app,
        &b,
        "/api/register",
        json!({ "email": "new@example.com", "password": "short" }),
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "password_too_short");
    assert!(
        body["error"]["messages"]["en"]
            .as_str()
            .unwrap()
            .contains("at least 12 characters"),
        "{body}"
    );
    assert!(
        body["error"]["messages"]["ja"]
            .as_str()
            .unwrap()
            .contains("12")
    );
    assert!(app.outbox.messages().is_empty(), "nothing started");

    let flow = recover(&app, &b, "a@example.com").await;
    let id = id_of(&flow);
    let r = verify(&app, &b, &id, &last_code_to(&app, "a@example.com")).await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = new_password(&app, &b, &id, "short").await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "password_too_short");
    assert!(body["error"]["message"].as_str().unwrap().contains("12"));
    let r = new_password(&app, &b, &id, &"x".repeat(129)).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "new_password_too_long");
    assert!(body["error"]["message"].as_str().unwrap().contains("128"));
    // The step is still open: a good password goes through.
    let r = new_password(&app, &b, &id, NEW_PASSWORD).await;
    assert_eq!(r.status(), StatusCode::OK);
    app.finish().await;
}
