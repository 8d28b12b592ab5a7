//! Login history, new-device and suspicious sign-ins, "this wasn't me", and trusted devices end
//! to end (issue #4 items 4 and 6): S3, S10, SEC-31, SEC-38, SEC-71, SEC-74.

use crate::both_backends;
use crate::flows::code_in;
use crate::harness::{PASSWORD, TestApp, browser, client, eventually, set_cookie_line};
use crate::harness::{error_code, set_cookie_value, spawn_app};
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};
use std::time::Duration;
use tsuzuki_core::clock::{Clock, Timestamp};
use tsuzuki_core::device;
use tsuzuki_core::flow::Method;
use tsuzuki_core::token::public_id;
use tsuzuki_store::{FactorRecord, testing::Kind};

both_backends!(
    every_attempt_is_in_the_history_of_its_own_account,
    only_a_new_browser_on_a_new_network_is_new_and_mailed,
    not_me_link_asks_first_then_ends_everything,
    trusted_device_skips_only_the_code_and_is_listed_and_revocable,
    trusted_device_ends_with_password_change_and_expiry,
    failures_then_success_from_a_new_network_is_suspicious,
    cleanup_prunes_history_flows_and_trusted_devices,
);

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0";
const IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1";
const CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

/// Requests from 127.0.0.1 may name the client in X-Forwarded-For: other networks.
const PROXIED: &str = "[http]\ntrusted_proxies = [\"127.0.0.1/32\"]\n";

/// A browser: a cookie jar, a User-Agent, and optionally the address it appears to come from.
struct Browser {
    http: Client,
    ua: &'static str,
    from: Option<&'static str>,
}

impl Browser {
    fn new(ua: &'static str, from: Option<&'static str>) -> Self {
        Browser {
            http: browser(),
            ua,
            from,
        }
    }

    fn dress(&self, rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        let rb = rb.header("user-agent", self.ua);
        match self.from {
            Some(ip) => rb.header("x-forwarded-for", ip),
            None => rb,
        }
    }

    async fn post(&self, app: &TestApp, path: &str, body: Value) -> Response {
        self.dress(self.http.post(app.url(path)).json(&body))
            .send()
            .await
            .unwrap()
    }

    async fn get(&self, app: &TestApp, path: &str) -> Response {
        self.dress(self.http.get(app.url(path)))
            .send()
            .await
            .unwrap()
    }

    async fn page(&self, app: &TestApp, path: &str, lang: &str) -> Response {
        self.dress(self.http.get(app.url(path)))
            .header("accept", "text/html")
            .header("accept-language", lang)
            .send()
            .await
            .unwrap()
    }

    async fn sign_in(&self, app: &TestApp, email: &str, password: &str) -> Response {
        self.post(
            app,
            "/api/sign-in",
            json!({"email": email, "password": password}),
        )
        .await
    }

    /// The password, then the emailed code (asking to trust this device or not). Returns the
    /// final response.
    async fn sign_in_with_code(
        &self,
        app: &TestApp,
        email: &str,
        password: &str,
        remember: bool,
        trust: bool,
    ) -> Response {
        let r = self
            .post(
                app,
                "/api/sign-in",
                json!({"email": email, "password": password, "remember": remember}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::ACCEPTED, "the code is asked for");
        let flow: Value = r.json().await.unwrap();
        let code = newest_code(app, email);
        let id = flow["id"].as_str().unwrap();
        self.post(
            app,
            &format!("/api/flows/{id}/verify"),
            json!({"code": code, "trust_device": trust}),
        )
        .await
    }
}

/// Give the account a confirmed email factor.
async fn with_email_factor(app: &TestApp, uid: &str, email: &str) {
    let now = app.state.flows.now();
    app.state
        .store
        .insert_factor(&FactorRecord {
            id: public_id("fac"),
            user_id: uid.into(),
            method: Method::Email,
            name: "Email".into(),
            secret_sealed: None,
            target: Some(email.into()),
            last_step: None,
            confirmed_at: Some(now),
            created_at: now,
            last_used_at: None,
        })
        .await
        .unwrap();
}

fn newest_code(app: &TestApp, to: &str) -> String {
    let mail = app
        .outbox
        .messages()
        .into_iter()
        .rev()
        .find(|m| m.to == to && m.body.contains("code: "))
        .expect("a code was mailed");
    code_in(&mail.body)
}

fn now(app: &TestApp) -> Timestamp {
    app.clock.now()
}

async fn history(app: &TestApp, b: &Browser) -> Vec<Value> {
    let r = b.get(app, "/api/history").await;
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    body["entries"].as_array().unwrap().clone()
}

/// Wait for background writes (wrong passwords are recorded after the answer, SEC-56).
async fn wait_for_entries(app: &TestApp, uid: &str, n: usize) {
    let store = app.state.store.clone();
    let uid = uid.to_string();
    assert!(
        eventually(Duration::from_secs(10), || {
            let (store, uid) = (store.clone(), uid.clone());
            async move { store.sign_ins_of_user(&uid, 100).await.unwrap().len() >= n }
        })
        .await,
        "{n} history entries"
    );
}

async fn event_kinds(app: &TestApp, uid: &str) -> Vec<String> {
    app.state
        .store
        .events_of_user(uid, 200)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect()
}

/// What `/api/session` answers a browser holding only this remember-me cookie.
async fn remembered_status(app: &TestApp, remember: &str) -> StatusCode {
    client()
        .get(app.url("/api/session"))
        .header(
            "cookie",
            format!("{}={remember}", app.state.cookies.remember),
        )
        .send()
        .await
        .unwrap()
        .status()
}

fn session_of(app: &TestApp, r: &Response) -> String {
    set_cookie_value(r.headers(), &app.cookie_name()).expect("a session cookie")
}

fn not_me_path(body: &str) -> String {
    let start = body.find("/not-me/").expect("a not-me link");
    body[start..].split_whitespace().next().unwrap().to_string()
}

async fn every_attempt_is_in_the_history_of_its_own_account(kind: Kind) {
    // S10: every attempt — wrong password, wrong code, success — with time, method, IP, device
    // and outcome; the person sees their own and nobody else's.
    let Some(app) = spawn_app(kind, "").await else {
        return;
    };
    let a = app.create_user("a@example.com").await;
    with_email_factor(&app, &a, "a@example.com").await;
    app.create_user("b@example.com").await;
    let laptop = Browser::new(FIREFOX, None);
    let t0 = now(&app);

    let r = laptop
        .sign_in(&app, "a@example.com", "not the password")
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    wait_for_entries(&app, &a, 1).await;

    app.advance(10);
    let r = laptop
        .post(
            &app,
            "/api/sign-in",
            json!({"email": "a@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let browser_cookie = set_cookie_value(r.headers(), &app.state.cookies.browser).unwrap();
    let flow: Value = r.json().await.unwrap();
    let id = flow["id"].as_str().unwrap().to_string();
    let code = newest_code(&app, "a@example.com");
    let wrong = if code == "000000" { "111111" } else { "000000" };
    app.advance(10);
    let r = laptop
        .post(
            &app,
            &format!("/api/flows/{id}/verify"),
            json!({"code": wrong}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    app.advance(10);
    let r = laptop
        .post(
            &app,
            &format!("/api/flows/{id}/verify"),
            json!({"code": code}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let session = session_of(&app, &r);

    let phone = Browser::new(IPHONE, None);
    assert_eq!(
        phone
            .sign_in(&app, "b@example.com", PASSWORD)
            .await
            .status(),
        StatusCode::OK
    );

    let r = laptop.get(&app, "/api/history").await;
    assert_eq!(r.status(), StatusCode::OK);
    let text = r.text().await.unwrap();
    // Never a token or a browser hash in the history (S10).
    assert!(!text.contains(&session) && !text.contains(&browser_cookie));
    let body: Value = serde_json::from_str(&text).unwrap();
    let entries = body["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 3, "{body}");
    let firefox = device::describe(FIREFOX).label();
    let expected = [
        (t0.0 + 30, json!(["pwd", "email"]), "success"),
        (t0.0 + 20, json!(["pwd", "email"]), "wrong_code"),
        (t0.0, json!(["pwd"]), "wrong_password"),
    ];
    for (entry, (at, methods, outcome)) in entries.iter().zip(expected) {
        let mut keys: Vec<&str> = entry
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "at",
                "device",
                "ip",
                "methods",
                "new_device",
                "outcome",
                "suspicious"
            ]
        );
        assert_eq!(entry["at"], at, "{entry}");
        assert_eq!(entry["methods"], methods, "{entry}");
        assert_eq!(entry["outcome"], outcome, "{entry}");
        assert_eq!(entry["ip"], "127.0.0.1");
        assert_eq!(entry["device"], firefox.as_str());
        // The very first success has nothing to compare with: not "new" (S10).
        assert_eq!(entry["new_device"], false);
        assert_eq!(entry["suspicious"], false);
    }

    // The other account sees its one sign-in only.
    let theirs = history(&app, &phone).await;
    assert_eq!(theirs.len(), 1);
    assert_eq!(theirs[0]["outcome"], "success");
    assert_eq!(
        theirs[0]["device"],
        device::describe(IPHONE).label().as_str()
    );

    // Not signed in: nothing.
    let r = client().get(app.url("/api/history")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // The page, in both languages, times in UTC; linked from the account page.
    let r = laptop.page(&app, "/account/history", "en").await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    for text in [
        "Sign-in history",
        "Wrong password",
        "Wrong code",
        "Signed in",
        "Password + Code by email",
        "UTC",
        "127.0.0.1",
    ] {
        assert!(html.contains(text), "{text} in {html}");
    }
    let html = laptop
        .page(&app, "/account/history", "ja")
        .await
        .text()
        .await
        .unwrap();
    for text in [
        "ログイン履歴",
        "パスワード誤り",
        "コード誤り",
        "ログイン成功",
    ] {
        assert!(html.contains(text), "{text} in {html}");
    }
    let html = laptop
        .page(&app, "/account", "en")
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("href=\"/account/history\""));
    app.finish().await;
}

async fn only_a_new_browser_on_a_new_network_is_new_and_mailed(kind: Kind) {
    // S10, SEC-74: a sign-in from a device AND a network never seen for the account is marked
    // new and mailed (device, address, time, a "this wasn't me" link; no secret). A known
    // browser or a known network is not new.
    let Some(app) = spawn_app(kind, PROXIED).await else {
        return;
    };
    let a = app.create_user("a@example.com").await;
    let laptop = Browser::new(FIREFOX, None);
    assert_eq!(
        laptop
            .sign_in(&app, "a@example.com", PASSWORD)
            .await
            .status(),
        StatusCode::OK,
        "first sign-in"
    );
    let phone_home = Browser::new(IPHONE, None);
    assert_eq!(
        phone_home
            .sign_in(&app, "a@example.com", PASSWORD)
            .await
            .status(),
        StatusCode::OK,
        "new browser, known network"
    );
    let laptop_away = Browser {
        http: laptop.http.clone(),
        ua: FIREFOX,
        from: Some("198.51.100.7"),
    };
    assert_eq!(
        laptop_away
            .sign_in(&app, "a@example.com", PASSWORD)
            .await
            .status(),
        StatusCode::OK,
        "known browser, new network"
    );
    assert!(app.outbox.messages().is_empty(), "nothing new so far");

    app.advance(60);
    let stranger = Browser::new(CHROME, Some("203.0.113.9"));
    let r = stranger.sign_in(&app, "a@example.com", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::OK);
    let session = session_of(&app, &r);
    let browser_cookie = set_cookie_value(r.headers(), &app.state.cookies.browser).unwrap();
    let mails = app.outbox.messages();
    assert_eq!(mails.len(), 1, "one notice");
    let mail = &mails[0];
    assert_eq!(mail.to, "a@example.com");
    let chrome = device::describe(CHROME).label();
    let when = tsuzuki_server::http::pages::human_time(now(&app));
    for text in [chrome.as_str(), "203.0.113.9", when.as_str(), "/not-me/"] {
        assert!(mail.body.contains(text), "{text} in {}", mail.body);
    }
    assert!(
        !mail.body.contains(&session) && !mail.body.contains(&browser_cookie),
        "no secret in the notice (SEC-74)"
    );

    let entries = history(&app, &stranger).await;
    assert_eq!(entries.len(), 4);
    let flags: Vec<(bool, bool)> = entries
        .iter()
        .map(|e| {
            (
                e["new_device"].as_bool().unwrap(),
                e["suspicious"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        flags,
        [
            (true, false),
            (false, false),
            (false, false),
            (false, false)
        ],
        "newest first: only the stranger's is new"
    );
    assert_eq!(entries[0]["ip"], "203.0.113.9");
    assert_eq!(entries[1]["ip"], "198.51.100.7");
    // SEC-71: the decision is in the audit log too.
    let kinds = event_kinds(&app, &a).await;
    assert_eq!(
        kinds.iter().filter(|k| *k == "new_device_sign_in").count(),
        1
    );
    // The page marks it.
    let html = stranger
        .page(&app, "/account/history", "en")
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("New device"));
    app.finish().await;
}

async fn not_me_link_asks_first_then_ends_everything(kind: Kind) {
    // S10: the link in a new-device notice. Opening it (as a mail client's prefetcher would)
    // changes nothing; confirming ends every session, remembered device and trusted device of
    // the account and leads to a password reset.
    let Some(app) = spawn_app(kind, PROXIED).await else {
        return;
    };
    let a = app.create_user("a@example.com").await;
    with_email_factor(&app, &a, "a@example.com").await;
    let laptop = Browser::new(FIREFOX, None);
    let r = laptop
        .sign_in_with_code(&app, "a@example.com", PASSWORD, true, true)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let laptop_session = session_of(&app, &r);
    let laptop_remember = set_cookie_value(r.headers(), &app.state.cookies.remember).unwrap();
    assert!(set_cookie_value(r.headers(), &app.state.cookies.trusted).is_some());

    let stranger = Browser::new(CHROME, Some("203.0.113.9"));
    let r = stranger
        .sign_in_with_code(&app, "a@example.com", PASSWORD, false, false)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let stranger_session = session_of(&app, &r);
    let notice = app
        .outbox
        .messages()
        .into_iter()
        .find(|m| m.body.contains("/not-me/"))
        .expect("a new-device notice");
    let link = not_me_path(&notice.body);

    // Opening the link, twice, as a prefetcher would: a page with one button, nothing ended.
    for _ in 0..2 {
        let r = client()
            .get(app.url(&link))
            .header("accept", "text/html")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let html = r.text().await.unwrap();
        assert!(html.contains(&format!("action=\"{link}\"")), "{html}");
        assert_eq!(html.matches("<button").count(), 1);
    }
    assert_eq!(app.check(&laptop_session).await.status(), StatusCode::OK);
    assert_eq!(app.check(&stranger_session).await.status(), StatusCode::OK);
    assert!(
        !event_kinds(&app, &a)
            .await
            .contains(&"not_me_reported".into())
    );

    // A POST without the page's CSRF token is refused.
    let r = client()
        .post(app.url(&link))
        .form(&[("csrf", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "no CSRF cookie");
    let person = browser();
    let html = person
        .get(app.url(&link))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let r = person
        .post(app.url(&link))
        .form(&[("csrf", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.check(&laptop_session).await.status(), StatusCode::OK);

    let csrf = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_string();
    let r = person
        .post(app.url(&link))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/recover?email=a%40example.com");

    // Every session, remembered device and trusted device of the account is gone.
    assert_eq!(
        app.check(&laptop_session).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.check(&stranger_session).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        remembered_status(&app, &laptop_remember).await,
        StatusCode::UNAUTHORIZED,
        "remembered device ended"
    );
    assert_eq!(
        laptop
            .sign_in(&app, "a@example.com", PASSWORD)
            .await
            .status(),
        StatusCode::ACCEPTED,
        "the trusted device asks for the code again"
    );
    assert!(
        event_kinds(&app, &a)
            .await
            .contains(&"not_me_reported".into())
    );

    // A forged or week-old link: a clear page, 400 with a stable code.
    let r = client()
        .get(app.url("/not-me/forged.token"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(r).await, "not_me_link_invalid");
    app.advance(7 * 86_400 + 1);
    let r = client()
        .get(app.url(&link))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("not_me_link_invalid") && html.contains("7 days"),
        "{html}"
    );
    app.finish().await;
}

async fn trusted_device_skips_only_the_code_and_is_listed_and_revocable(kind: Kind) {
    // S3, SEC-31, SEC-38: "trust this device" skips the second factor, never the password; the
    // device is listed with the others and can be ended there, by its owner only.
    let Some(app) = spawn_app(kind, "").await else {
        return;
    };
    let a = app.create_user("a@example.com").await;
    with_email_factor(&app, &a, "a@example.com").await;
    app.create_user("b@example.com").await;
    let laptop = Browser::new(FIREFOX, None);
    let trusted_at = now(&app);
    let r = laptop
        .sign_in_with_code(&app, "a@example.com", PASSWORD, false, true)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let line = set_cookie_line(r.headers(), &app.state.cookies.trusted).expect("trusted cookie");
    assert!(
        line.contains("HttpOnly") && line.contains("SameSite=Strict"),
        "{line}"
    );
    assert!(line.contains(&format!("Max-Age={}", 30 * 86_400)), "{line}");
    let trusted_value = set_cookie_value(r.headers(), &app.state.cookies.trusted).unwrap();
    let info: Value = r.json().await.unwrap();
    assert_eq!(info["methods"], json!(["pwd", "email"]));

    // SEC-31: the password is still needed...
    let mails_before = app.outbox.messages().len();
    let r = laptop
        .sign_in(&app, "a@example.com", "not the password")
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // ...and only the code is skipped.
    app.advance(5);
    let r = laptop.sign_in(&app, "a@example.com", PASSWORD).await;
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "no code asked on a trusted device"
    );
    let info: Value = r.json().await.unwrap();
    assert_eq!(info["methods"], json!(["pwd", "trusted"]));
    assert_eq!(app.outbox.messages().len(), mails_before, "no code mailed");
    // The trust belongs to the account: another account on this browser still needs its code.
    let b2 = app.create_user("c@example.com").await;
    with_email_factor(&app, &b2, "c@example.com").await;
    assert_eq!(
        laptop
            .sign_in(&app, "c@example.com", PASSWORD)
            .await
            .status(),
        StatusCode::ACCEPTED
    );

    // Listed (SEC-38), with its own kind, public handle and lifetime; no token value.
    let phone = Browser::new(IPHONE, None);
    let r = phone
        .sign_in_with_code(&app, "a@example.com", PASSWORD, false, false)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = phone.get(&app, "/api/devices").await;
    assert_eq!(r.status(), StatusCode::OK);
    let text = r.text().await.unwrap();
    assert!(!text.contains(&trusted_value));
    let body: Value = serde_json::from_str(&text).unwrap();
    let trusted: Vec<&Value> = body["devices"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["kind"] == "trusted")
        .collect();
    assert_eq!(trusted.len(), 1, "{body}");
    let handle = trusted[0]["handle"].as_str().unwrap().to_string();
    assert!(handle.starts_with("trd_"));
    assert_eq!(
        trusted[0]["device"],
        device::describe(FIREFOX).label().as_str()
    );
    assert_eq!(trusted[0]["first_used_at"], trusted_at.0);
    assert_eq!(trusted[0]["last_used_at"], trusted_at.0 + 5, "used to skip");
    assert_eq!(trusted[0]["expires_at"], trusted_at.0 + 30 * 86_400);
    assert_eq!(trusted[0]["current"], false, "not the phone's");

    // The devices page shows it with its own label, as this device in the laptop's browser.
    let html = laptop
        .page(&app, "/account/devices", "en")
        .await
        .text()
        .await
        .unwrap();
    let current_rows: Vec<&str> = html
        .split("<tr")
        .filter(|row| row.starts_with(" class=\"current\""))
        .collect();
    assert!(
        current_rows
            .iter()
            .any(|row| row.contains("Trusted device (no code asked)")
                && row.contains(&handle)
                && row.contains("Stop trusting")),
        "{html}"
    );
    let html = laptop
        .page(&app, "/account/devices", "ja")
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("信頼済みの端末(コード入力を省略)"));

    // Only its owner can end it.
    let other = Browser::new(CHROME, None);
    assert_eq!(
        other
            .sign_in(&app, "b@example.com", PASSWORD)
            .await
            .status(),
        StatusCode::OK
    );
    let r = other
        .post(&app, "/api/devices/revoke", json!({"handle": handle}))
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    app.advance(5);
    assert_eq!(
        laptop
            .sign_in(&app, "a@example.com", PASSWORD)
            .await
            .status(),
        StatusCode::OK,
        "still trusted"
    );

    let r = phone
        .post(&app, "/api/devices/revoke", json!({"handle": handle}))
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = phone
        .post(&app, "/api/devices/revoke", json!({"handle": handle}))
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND, "already gone");
    let body: Value = phone.get(&app, "/api/devices").await.json().await.unwrap();
    assert!(
        !body["devices"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["kind"] == "trusted")
    );
    assert_eq!(
        laptop
            .sign_in(&app, "a@example.com", PASSWORD)
            .await
            .status(),
        StatusCode::ACCEPTED,
        "the code is asked again"
    );
    // SEC-71: added and removed are both in the audit log.
    let kinds = event_kinds(&app, &a).await;
    assert!(kinds.contains(&"trusted_device_added".into()));
    assert!(kinds.contains(&"trusted_device_revoked".into()));
    app.finish().await;
}

async fn trusted_device_ends_with_password_change_and_expiry(kind: Kind) {
    // Issue #4 item 4, SEC-31: a password change revokes trusted devices; one past
    // `trusted_devices.lifetime` skips nothing.
    let Some(app) = spawn_app(kind, "[trusted_devices]\nlifetime = \"2h\"\n").await else {
        return;
    };
    let a = app.create_user("a@example.com").await;
    with_email_factor(&app, &a, "a@example.com").await;
    let laptop = Browser::new(FIREFOX, None);
    let r = laptop
        .sign_in_with_code(&app, "a@example.com", PASSWORD, false, true)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let line = set_cookie_line(r.headers(), &app.state.cookies.trusted).unwrap();
    assert!(line.contains("Max-Age=7200"), "{line}");
    let r = laptop.sign_in(&app, "a@example.com", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::OK, "trusted");

    // A password change from another device (fresh, with its code).
    let phone = Browser::new(IPHONE, None);
    let r = phone
        .sign_in_with_code(&app, "a@example.com", PASSWORD, false, false)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let new_password = "a brand new passphrase";
    let r = phone
        .post(
            &app,
            "/api/password",
            json!({"current_password": PASSWORD, "new_password": new_password}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = laptop.sign_in(&app, "a@example.com", new_password).await;
    assert_eq!(
        r.status(),
        StatusCode::ACCEPTED,
        "the password change ended the trust"
    );

    // Trusted anew, then past its lifetime.
    let r = laptop
        .sign_in_with_code(&app, "a@example.com", new_password, false, true)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    app.advance(7100);
    assert_eq!(
        laptop
            .sign_in(&app, "a@example.com", new_password)
            .await
            .status(),
        StatusCode::OK,
        "within its lifetime"
    );
    app.advance(101);
    assert_eq!(
        laptop
            .sign_in(&app, "a@example.com", new_password)
            .await
            .status(),
        StatusCode::ACCEPTED,
        "expired: the code again"
    );
    // Nor is it listed any more (a fresh sign-in on the phone to look).
    let r = phone
        .sign_in_with_code(&app, "a@example.com", new_password, false, false)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = phone.get(&app, "/api/devices").await.json().await.unwrap();
    assert!(
        !body["devices"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["kind"] == "trusted"),
        "{body}"
    );
    app.finish().await;
}

async fn failures_then_success_from_a_new_network_is_suspicious(kind: Kind) {
    // S10, SEC-74: many failures, then a success from a new device on a new network: the
    // account's remembered and trusted devices end, and the person is told.
    let Some(app) = spawn_app(kind, PROXIED).await else {
        return;
    };
    let a = app.create_user("a@example.com").await;
    with_email_factor(&app, &a, "a@example.com").await;
    let laptop = Browser::new(FIREFOX, None);
    let r = laptop
        .sign_in_with_code(&app, "a@example.com", PASSWORD, true, true)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let laptop_session = session_of(&app, &r);
    let laptop_remember = set_cookie_value(r.headers(), &app.state.cookies.remember).unwrap();

    let attacker = Browser::new(CHROME, Some("203.0.113.9"));
    for _ in 0..5 {
        let r = attacker
            .sign_in(&app, "a@example.com", "guess guess guess")
            .await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    wait_for_entries(&app, &a, 6).await;
    // Past any throttle delay, well inside `alerts.failure_window`.
    app.advance(120);
    let r = attacker
        .sign_in_with_code(&app, "a@example.com", PASSWORD, true, true)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        set_cookie_value(r.headers(), &app.state.cookies.remember).is_none()
            && set_cookie_value(r.headers(), &app.state.cookies.trusted).is_none(),
        "no long-lived credential for a suspicious sign-in"
    );

    let entries = history(&app, &attacker).await;
    assert_eq!(entries[0]["outcome"], "success");
    assert_eq!(entries[0]["new_device"], true);
    assert_eq!(entries[0]["suspicious"], true);
    assert_eq!(
        entries
            .iter()
            .filter(|e| e["outcome"] == "wrong_password")
            .count(),
        5
    );

    // The laptop's session stands (the table's default), its long-lived credentials do not.
    assert_eq!(app.check(&laptop_session).await.status(), StatusCode::OK);
    assert_eq!(
        remembered_status(&app, &laptop_remember).await,
        StatusCode::UNAUTHORIZED,
        "remembered device ended"
    );
    assert_eq!(
        laptop
            .sign_in(&app, "a@example.com", PASSWORD)
            .await
            .status(),
        StatusCode::ACCEPTED,
        "trusted device ended"
    );

    // The person is told, with a way to end the rest.
    let notice = app
        .outbox
        .messages()
        .into_iter()
        .find(|m| m.body.contains("/not-me/"))
        .expect("a notice");
    assert!(
        notice
            .body
            .contains("kept sign-ins and trusted devices were ended"),
        "{}",
        notice.body
    );
    assert!(
        event_kinds(&app, &a)
            .await
            .contains(&"suspicious_sign_in".into())
    );
    let html = attacker
        .page(&app, "/account/history", "en")
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("Suspicious"));
    app.finish().await;
}

async fn cleanup_prunes_history_flows_and_trusted_devices(kind: Kind) {
    // S10 retention, S3, S7: the cleanup job deletes history older than `history.retention`,
    // flows past their hard limit plus `flows.ended_retention`, and expired trusted devices.
    let config = "[history]\nretention = \"1d\"\n[trusted_devices]\nlifetime = \"1h\"\n\
                  [flows]\nended_retention = \"1h\"\n";
    let Some(app) = spawn_app(kind, config).await else {
        return;
    };
    let a = app.create_user("a@example.com").await;
    with_email_factor(&app, &a, "a@example.com").await;
    app.create_user("b@example.com").await;
    let laptop = Browser::new(FIREFOX, None);
    let r = laptop
        .sign_in_with_code(&app, "a@example.com", PASSWORD, false, true)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let phone = Browser::new(IPHONE, None);
    let r = phone.sign_in(&app, "a@example.com", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let flow: Value = r.json().await.unwrap();
    let flow_path = format!("/api/flows/{}", flow["id"].as_str().unwrap());
    let other = Browser::new(CHROME, None);
    assert_eq!(
        other
            .sign_in(&app, "b@example.com", PASSWORD)
            .await
            .status(),
        StatusCode::OK
    );

    // Nothing is due yet.
    let before = app.state.metrics.cleanup_deleted.get();
    tsuzuki_server::app::cleanup_once(&app.state).await;
    assert_eq!(
        app.state
            .store
            .sign_ins_of_user(&a, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        app.state
            .store
            .trusted_devices_of_user(&a)
            .await
            .unwrap()
            .len(),
        1
    );

    // Two days on: b signs in again, then the job runs.
    app.advance(2 * 86_400);
    let r = phone.get(&app, &flow_path).await;
    assert_eq!(r.status(), StatusCode::GONE, "expired, still known");
    assert_eq!(error_code(r).await, "flow_expired");
    assert_eq!(
        other
            .sign_in(&app, "b@example.com", PASSWORD)
            .await
            .status(),
        StatusCode::OK
    );
    tsuzuki_server::app::cleanup_once(&app.state).await;
    assert!(
        app.state
            .store
            .sign_ins_of_user(&a, 10)
            .await
            .unwrap()
            .is_empty(),
        "history past retention deleted"
    );
    let kept = history(&app, &other).await;
    assert_eq!(kept.len(), 1, "the recent entry stays");
    assert_eq!(kept[0]["at"], now(&app).0);
    assert!(
        app.state
            .store
            .trusted_devices_of_user(&a)
            .await
            .unwrap()
            .is_empty(),
        "expired trusted device deleted"
    );
    let r = phone.get(&app, &flow_path).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND, "the flow row is gone");
    assert_eq!(error_code(r).await, "flow_not_found");
    // Counted: one history entry each of a and b, two flows (the completed one and the
    // abandoned one), one trusted device — and expired sessions, in the same metric.
    assert!(app.state.metrics.cleanup_deleted.get() >= before + 5);
    app.finish().await;
}
