//! The example app (examples/app/site.rs, included as it is) in front of a real tsuzuki server:
//! what a person's browser and an API client see through the middleware.

// The example's routes, not a copy of them.
#[path = "../../examples/app/site.rs"]
mod site;

mod fake;
mod harness;

use harness::*;
use reqwest::StatusCode;
use std::time::{Duration, Instant};

/// The TTL of the tests that measure the revocation bound: small, so the bounded waits are short.
const SHORT_TTL: Duration = Duration::from_millis(300);
/// Slack on top of the TTL for a loaded machine (two cores shared by several test runs).
const SLACK: Duration = Duration::from_secs(2);
const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0";

fn return_to(app: &App, path_and_query: &str) -> String {
    let back = format!("{}{path_and_query}", app.base);
    url_encode(&back)
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_route_works_signed_out_and_greets_a_signed_in_person() {
    let tsz = spawn_tsuzuki().await;
    tsz.create_user("a@example.com").await;
    let app = spawn_example(&tsz, SHORT_TTL).await;
    let r = Browser::new().navigate(&app.url("/")).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("Hello, guest"));
    let b = Browser::sign_in(&tsz, "a@example.com", false).await;
    let r = b.navigate(&app.url("/")).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["cache-control"], "private", "a personal page");
    assert!(r.text().await.unwrap().contains("Hello, a@example.com"));
    let r = Browser::new().navigate(&app.url("/")).await;
    assert!(
        r.headers().get("cache-control").is_none(),
        "the guest page is public"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_out_browsers_are_sent_to_sign_in_and_api_clients_get_401() {
    let tsz = spawn_tsuzuki().await;
    let app = spawn_example(&tsz, SHORT_TTL).await;
    let b = Browser::new();
    let r = b.navigate(&app.url("/profile?tab=1")).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        r.headers()["location"].to_str().unwrap(),
        format!(
            "{}/sign-in?return_to={}",
            tsz.base,
            return_to(&app, "/profile?tab=1")
        )
    );
    // A script, and a form POST from a page (no redirect: it would lose the body).
    let r = b.fetch(&app.url("/api/me")).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(r).await, "not_signed_in");
    let r = b
        .http
        .post(app.url("/profile"))
        .header("accept", HTML)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // A cookie tsuzuki does not know: its code and reference id come through, and its
    // clearing of the dead cookie reaches the browser.
    let r = fetch_with_cookie(&app.url("/api/me"), "tsuzuki_session=bogus").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let cleared = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .any(|v| v.to_str().unwrap().starts_with("tsuzuki_session=;"));
    assert!(cleared, "the clearing Set-Cookie is relayed");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "session_invalid", "{body}");
    assert!(body["error"]["reference_id"].is_string(), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_sign_in_handlers_see_the_identity() {
    let tsz = spawn_tsuzuki().await;
    let id = tsz.create_user("a@example.com").await;
    let app = spawn_example(&tsz, SHORT_TTL).await;
    let b = Browser::sign_in(&tsz, "a@example.com", false).await;
    let r = b.navigate(&app.url("/profile")).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["cache-control"], "private");
    let page = r.text().await.unwrap();
    assert!(page.contains("Hello, a@example.com"), "{page}");
    assert!(page.contains("Signed in with pwd."), "{page}");
    let me: serde_json::Value = b.fetch(&app.url("/api/me")).await.json().await.unwrap();
    assert_eq!(me["user_id"], id.as_str());
    assert_eq!(me["email"], "a@example.com");
    assert_eq!(me["methods"], serde_json::json!(["pwd"]));
    assert_eq!(me["remembered"], false);
    assert_eq!(me["auth_time"], 1_800_000_000);
    assert!(me["session"].as_str().unwrap().starts_with("ses_"), "{me}");
}

/// An internationalised address crosses the header boundary percent-encoded (raw UTF-8 would
/// be obs-text, which `HeaderValue::to_str` refuses) and reaches the handler as it was typed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_internationalised_email_reaches_the_handler_whole() {
    let tsz = spawn_tsuzuki().await;
    tsz.create_user("たろう@例え.jp").await;
    let app = spawn_example(&tsz, SHORT_TTL).await;
    let b = Browser::sign_in(&tsz, "たろう@例え.jp", false).await;
    let r = b.fetch(&app.url("/api/me")).await;
    assert_eq!(r.status(), StatusCode::OK);
    let me: serde_json::Value = r.json().await.unwrap();
    assert_eq!(me["email"], "たろう@例え.jp", "{me}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_out_is_honoured_within_the_cache_ttl() {
    let tsz = spawn_tsuzuki().await;
    tsz.create_user("a@example.com").await;
    let app = spawn_example(&tsz, SHORT_TTL).await;
    assert_eq!(app.tsuzuki.revocation_bound(), SHORT_TTL);
    let b = Browser::sign_in(&tsz, "a@example.com", false).await;
    // Another tab's (or a thief's) copy of the cookie, which sign-out cannot take back.
    let copy = format!(
        "tsuzuki_session={}",
        b.cookie(&tsz, SESSION_COOKIE).unwrap()
    );
    assert_eq!(
        fetch_with_cookie(&app.url("/api/me"), &copy).await.status(),
        StatusCode::OK
    );
    let r = b
        .http
        .post(tsz.url("/api/sign-out"))
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let signed_out = Instant::now();
    let refused = eventually(SHORT_TTL + SLACK, || async {
        fetch_with_cookie(&app.url("/api/me"), &copy).await.status() == StatusCode::UNAUTHORIZED
    })
    .await;
    assert!(
        refused,
        "still let in {:?} after sign-out",
        signed_out.elapsed()
    );
    // The browser itself lost its cookie with the sign-out.
    assert_eq!(
        b.navigate(&app.url("/profile")).await.status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn within_the_ttl_a_revoked_session_is_served_from_the_cache_but_never_for_step_up() {
    // The bound is real in both directions: the cache does answer, for no longer than its TTL
    // (the other tests), and the step-up guard never uses it.
    let tsz = spawn_tsuzuki().await;
    tsz.create_user("a@example.com").await;
    let app = spawn_example(&tsz, Duration::from_secs(120)).await;
    let b = Browser::sign_in(&tsz, "a@example.com", false).await;
    let me: serde_json::Value = b.fetch(&app.url("/api/me")).await.json().await.unwrap();
    let r = tsz
        .operator_revoke(serde_json::json!({ "handle": me["session"] }))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        b.fetch(&app.url("/api/me")).await.status(),
        StatusCode::OK,
        "a cache hit within the TTL"
    );
    let r = b.fetch(&app.url("/settings/security")).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_ne!(
        error_code(r).await,
        "step_up_required",
        "the session is gone"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_from_another_device_or_by_the_operator_is_honoured_within_the_ttl() {
    let tsz = spawn_tsuzuki().await;
    tsz.create_user("a@example.com").await;
    let app = spawn_example(&tsz, SHORT_TTL).await;
    let laptop = Browser::sign_in(&tsz, "a@example.com", false).await;
    let phone = Browser::sign_in(&tsz, "a@example.com", false).await;
    let handle_of = |b: &Browser| {
        let url = app.url("/api/me");
        let http = b.http.clone();
        async move {
            let r = http
                .get(url)
                .header("accept", "application/json")
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            let me: serde_json::Value = r.json().await.unwrap();
            me["session"].as_str().unwrap().to_string()
        }
    };
    let phone_session = handle_of(&phone).await;
    let laptop_session = handle_of(&laptop).await;
    // The laptop signs the phone out from tsuzuki's devices API (fresh sign-in: allowed).
    let r = laptop
        .post_json(
            &tsz.url("/api/devices/revoke"),
            serde_json::json!({ "handle": phone_session }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let revoked = Instant::now();
    assert!(
        eventually(SHORT_TTL + SLACK, || async {
            phone.fetch(&app.url("/api/me")).await.status() == StatusCode::UNAUTHORIZED
        })
        .await,
        "phone still in after {:?}",
        revoked.elapsed()
    );
    assert_eq!(
        laptop.fetch(&app.url("/api/me")).await.status(),
        StatusCode::OK,
        "only the phone was signed out"
    );
    // The operator revokes the laptop's session.
    let r = tsz
        .operator_revoke(serde_json::json!({ "handle": laptop_session }))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let revoked = Instant::now();
    assert!(
        eventually(SHORT_TTL + SLACK, || async {
            laptop.fetch(&app.url("/api/me")).await.status() == StatusCode::UNAUTHORIZED
        })
        .await,
        "laptop still in after {:?}",
        revoked.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_session_is_refused() {
    let tsz = spawn_tsuzuki().await;
    tsz.create_user("a@example.com").await;
    // No cache: the manual clock jumps, the middleware's TTL runs on real time.
    let app = spawn_example(&tsz, Duration::ZERO).await;
    let b = Browser::sign_in(&tsz, "a@example.com", false).await;
    assert_eq!(b.fetch(&app.url("/api/me")).await.status(), StatusCode::OK);
    tsz.advance(29 * 60);
    assert_eq!(
        b.fetch(&app.url("/api/me")).await.status(),
        StatusCode::OK,
        "inside the 30-minute idle timeout"
    );
    tsz.advance(31 * 60);
    let r = b.fetch(&app.url("/api/me")).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(r).await, "idle_timeout");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_step_up_guard_needs_a_recent_sign_in() {
    let tsz = spawn_tsuzuki().await;
    tsz.create_user("a@example.com").await;
    // The default cache TTL: the guard must not be fooled by it.
    let app = spawn_example(&tsz, Duration::from_secs(2)).await;
    let b = Browser::sign_in(&tsz, "a@example.com", false).await;
    let r = b.navigate(&app.url("/settings/security")).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("Security settings of a@example.com")
    );
    // Past the 10-minute re-auth window; the session itself is still live (idle 30 min).
    tsz.advance(11 * 60);
    let r = b.navigate(&app.url("/settings/security?x=1")).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        r.headers()["location"].to_str().unwrap(),
        format!(
            "{}/account/reauth?return_to={}",
            tsz.base,
            return_to(&app, "/settings/security?x=1")
        )
    );
    let r = b.fetch(&app.url("/settings/security")).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(r).await, "step_up_required");
    assert_eq!(
        b.navigate(&app.url("/profile")).await.status(),
        StatusCode::OK,
        "ordinary routes still work"
    );
    // Re-authenticate on tsuzuki: the guard lets the person through again.
    let r = b
        .post_json(
            &tsz.url("/api/reauth"),
            serde_json::json!({ "password": PASSWORD }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        b.navigate(&app.url("/settings/security")).await.status(),
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remember_me_restore_reaches_the_browser() {
    let tsz = spawn_tsuzuki().await;
    tsz.create_user("a@example.com").await;
    let app = spawn_example(&tsz, Duration::from_secs(2)).await;
    let b = Browser::sign_in(&tsz, "a@example.com", true).await;
    let first_session = b.cookie(&tsz, SESSION_COOKIE).unwrap();
    let first_remember = b
        .cookie(&tsz, REMEMBER_COOKIE)
        .expect("a remember-me cookie");
    // The session ends (idle timeout); the remember-me cookie outlives it.
    tsz.advance(31 * 60);
    // The browser's address and user agent, as the app saw them, reach tsuzuki's records.
    let r = b
        .http
        .get(app.url("/profile"))
        .header("accept", HTML)
        .header("x-forwarded-for", "203.0.113.5")
        .header("user-agent", FIREFOX)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "restored through the middleware"
    );
    let set: Vec<String> = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    assert!(
        set.iter().any(|c| c.starts_with("tsuzuki_session=")),
        "{set:?}"
    );
    assert!(
        set.iter().any(|c| c.starts_with("tsuzuki_remember=")),
        "{set:?}"
    );
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("Hello, a@example.com<p>Signed in with remember (remembered device).")
    );
    let new_session = b.cookie(&tsz, SESSION_COOKIE).unwrap();
    let new_remember = b.cookie(&tsz, REMEMBER_COOKIE).unwrap();
    assert_ne!(new_session, first_session, "the jar holds the new session");
    assert_ne!(
        new_remember, first_remember,
        "and the rotated remember-me token"
    );
    // The browser goes on with what it was given: no second restore, no theft alarm.
    let me: serde_json::Value = b.fetch(&app.url("/api/me")).await.json().await.unwrap();
    assert_eq!(me["remembered"], true);
    let devices: serde_json::Value = b
        .http
        .get(tsz.url("/api/devices"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let restored = devices["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["handle"] == me["session"])
        .expect("the restored session is listed");
    assert_eq!(restored["ip"], "203.0.113.5", "{restored}");
    assert!(
        restored["device"].as_str().unwrap().contains("Firefox"),
        "{restored}"
    );
    let r = b.fetch(&app.url("/api/me")).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers().get("set-cookie").is_none(),
        "nothing more to set"
    );
    assert_eq!(b.cookie(&tsz, REMEMBER_COOKIE).unwrap(), new_remember);
    // A restored session is not a recent sign-in: the step-up guard asks for one.
    let r = b.navigate(&app.url("/settings/security")).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(
        r.headers()["location"]
            .to_str()
            .unwrap()
            .contains("/account/reauth?return_to=")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tsuzuki_down_means_503_never_200() {
    let mut tsz = spawn_tsuzuki().await;
    tsz.create_user("a@example.com").await;
    let app = spawn_example(&tsz, SHORT_TTL).await;
    let b = Browser::sign_in(&tsz, "a@example.com", false).await;
    assert_eq!(b.fetch(&app.url("/api/me")).await.status(), StatusCode::OK);
    tsz.stop().await;
    // Once the cached answer is older than the TTL, nobody gets in.
    assert!(
        eventually(SHORT_TTL + SLACK, || async {
            b.fetch(&app.url("/api/me")).await.status() == StatusCode::SERVICE_UNAVAILABLE
        })
        .await
    );
    let r = b.navigate(&app.url("/profile")).await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.headers()["retry-after"], "5");
    let r = b.navigate(&app.url("/settings/security")).await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    // The public page still answers, as for a guest.
    let r = b.navigate(&app.url("/")).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("Hello, guest"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_up_guard_inside_require_sees_the_restored_cookies() {
    // The outer layer restores from the remember-me cookie; the inner one must check the new
    // session, not present the just-rotated token again (which tsuzuki would have to treat as a
    // parallel request in the grace window, or after it as theft).
    let tsz = spawn_tsuzuki().await;
    tsz.create_user("a@example.com").await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let tsuzuki = tsuzuki_axum::Tsuzuki::builder()
        .tsuzuki_url(&tsz.base)
        .app_url(&base)
        .build()
        .unwrap();
    let router = axum::Router::new()
        .route(
            "/nested",
            axum::routing::get(|me: tsuzuki_axum::Identity| async move { me.email }),
        )
        .layer(tsuzuki.step_up())
        .layer(tsuzuki.require());
    let server = tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let b = Browser::sign_in(&tsz, "a@example.com", true).await;
    tsz.advance(31 * 60);
    let r = b.navigate(&format!("{base}/nested")).await;
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "a restore is no recent sign-in"
    );
    assert!(
        r.headers()["location"]
            .to_str()
            .unwrap()
            .contains("/account/reauth?return_to=")
    );
    let sessions_set = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter(|v| v.to_str().unwrap().starts_with("tsuzuki_session="))
        .count();
    assert_eq!(sessions_set, 1, "one restore, by the outer layer");
    // The browser's cookies are good: signed in (remembered) without a second restore.
    let r = b.fetch(&format!("{base}/nested")).await;
    assert_eq!(error_code(r).await, "step_up_required");
    let r = b
        .post_json(
            &tsz.url("/api/reauth"),
            serde_json::json!({ "password": PASSWORD }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = b.fetch(&format!("{base}/nested")).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.text().await.unwrap(), "a@example.com");
    server.abort();
}

/// The value of the hidden field `name` in a page's form, HTML entities undone.
fn field(html: &str, name: &str) -> String {
    let raw = html
        .split(&format!("name=\"{name}\" value=\""))
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("a {name} field in {html}"));
    raw.replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_and_re_authentication_come_back_to_the_app() {
    // The whole browser round trip: the middleware's redirect, tsuzuki's pages, and back.
    let tsz = spawn_tsuzuki().await;
    tsz.create_user("a@example.com").await;
    let app = spawn_example(&tsz, Duration::from_secs(2)).await;
    let b = Browser::new();
    let r = b.navigate(&app.url("/profile?tab=1")).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let sign_in = r.headers()["location"].to_str().unwrap().to_string();
    let page = b.navigate(&sign_in).await.text().await.unwrap();
    assert_eq!(
        field(&page, "return_to"),
        app.url("/profile?tab=1"),
        "tsuzuki accepts the app's absolute URL"
    );
    let r = b
        .http
        .post(tsz.url("/sign-in"))
        .form(&[
            ("csrf", field(&page, "csrf")),
            ("return_to", field(&page, "return_to")),
            ("email", "a@example.com".into()),
            ("password", PASSWORD.into()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], app.url("/profile?tab=1").as_str());
    let r = b.navigate(&app.url("/profile?tab=1")).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("Hello, a@example.com"));

    // Later, the sensitive page asks for the password again, and comes back.
    tsz.advance(11 * 60);
    let r = b.navigate(&app.url("/settings/security")).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let reauth = r.headers()["location"].to_str().unwrap().to_string();
    let page = b.navigate(&reauth).await;
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.unwrap();
    let r = b
        .http
        .post(tsz.url("/account/reauth"))
        .form(&[
            ("csrf", field(&page, "csrf")),
            ("then", field(&page, "then")),
            ("password", PASSWORD.into()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        r.headers()["location"],
        app.url("/settings/security").as_str()
    );
    let r = b.navigate(&app.url("/settings/security")).await;
    assert_eq!(r.status(), StatusCode::OK);
}
