//! The middleware against a scripted stand-in for tsuzuki: what it sends on the check request,
//! what it caches, and that a broken or failing tsuzuki never lets a request through.

use crate::harness::*;
use axum::http::{HeaderMap, StatusCode as AxStatus};
use axum::response::IntoResponse;
use reqwest::StatusCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the fake answers, and what it was asked.
#[derive(Clone, Default)]
struct Script {
    answer: Arc<Mutex<Reply>>,
    seen: Arc<Mutex<Vec<HeaderMap>>>,
}

#[derive(Clone, Copy, Default)]
enum Reply {
    #[default]
    Valid,
    /// Valid, with a Set-Cookie (a restore).
    ValidSettingCookies,
    ServerError,
    /// 200 without identity headers (tsuzuki's answer for a route it considers public).
    Empty,
    /// 200 with an identity missing a header.
    Partial,
    /// Answers after 5 s (the middleware waits 300 ms in that test).
    Slow,
}

impl Script {
    fn set(&self, reply: Reply) {
        *self.answer.lock().unwrap() = reply;
    }

    fn calls(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    fn last(&self) -> HeaderMap {
        self.seen.lock().unwrap().last().cloned().unwrap()
    }
}

async fn spawn_fake() -> (String, Script) {
    let script = Script::default();
    let s = script.clone();
    let router = axum::Router::new().route(
        "/auth/check",
        axum::routing::get(move |headers: HeaderMap| {
            let s = s.clone();
            async move {
                s.seen.lock().unwrap().push(headers);
                let reply = *s.answer.lock().unwrap();
                let identity = [
                    ("x-tsuzuki-user-id", "usr_fake"),
                    ("x-tsuzuki-email", "f@example.com"),
                    ("x-tsuzuki-auth-time", "1800000000"),
                    ("x-tsuzuki-methods", "pwd"),
                    ("x-tsuzuki-remembered", "false"),
                    ("x-tsuzuki-session", "ses_fake"),
                ];
                match reply {
                    Reply::Valid => (AxStatus::OK, identity).into_response(),
                    Reply::ValidSettingCookies => (
                        AxStatus::OK,
                        identity,
                        [("set-cookie", "tsuzuki_session=restored; Path=/")],
                    )
                        .into_response(),
                    Reply::ServerError => AxStatus::INTERNAL_SERVER_ERROR.into_response(),
                    Reply::Empty => AxStatus::OK.into_response(),
                    Reply::Partial => (AxStatus::OK, [identity[0], identity[1]]).into_response(),
                    Reply::Slow => {
                        tokio::time::sleep(Duration::from_secs(5)).await;
                        (AxStatus::OK, identity).into_response()
                    }
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (base, script)
}

const COOKIE: &str = "other=1; tsuzuki_session=abc";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_check_request_carries_what_tsuzuki_needs() {
    let (fake, script) = spawn_fake().await;
    let app = spawn_example_with(&fake, Duration::ZERO).await;
    let r = client()
        .get(app.url("/api/me"))
        .header("cookie", COOKIE)
        .header("x-forwarded-for", "198.51.100.9")
        .header("x-tsuzuki-background", "1")
        .header("user-agent", "Example/1.0")
        .header("accept-language", "ja")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let h = script.last();
    assert_eq!(h["cookie"], COOKIE, "the browser's cookies, as they came");
    assert_eq!(h["accept"], "application/json");
    assert_eq!(h["x-tsuzuki-relay-cookies"], "1");
    // The client's claim, then the address the app really saw.
    assert_eq!(h["x-forwarded-for"], "198.51.100.9, 127.0.0.1");
    assert_eq!(h["x-tsuzuki-background"], "1");
    assert_eq!(h["user-agent"], "Example/1.0");
    assert_eq!(h["accept-language"], "ja");
    assert!(h.get("x-tsuzuki-require").is_none());
    let r = client()
        .get(app.url("/settings/security"))
        .header("cookie", COOKIE)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let h = script.last();
    assert_eq!(h["x-tsuzuki-require"], "recent-sign-in");
    assert!(h.get("x-tsuzuki-background").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_requests_do_not_reach_tsuzuki() {
    let (fake, script) = spawn_fake().await;
    let app = spawn_example_with(&fake, Duration::from_secs(60)).await;
    let r = client()
        .get(app.url("/api/me"))
        .header("cookie", "other=1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        client().get(app.url("/")).send().await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(script.calls(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_answers_are_cached_and_answers_that_set_cookies_never() {
    let (fake, script) = spawn_fake().await;
    let app = spawn_example_with(&fake, Duration::from_secs(60)).await;
    let get = |path: &'static str, cookie: &'static str| {
        let url = app.url(path);
        async move { fetch_with_cookie(&url, cookie).await }
    };
    assert_eq!(get("/api/me", COOKIE).await.status(), StatusCode::OK);
    assert_eq!(get("/api/me", COOKIE).await.status(), StatusCode::OK);
    assert_eq!(script.calls(), 1, "the second was a cache hit");
    // The step-up guard asks every time.
    get("/settings/security", COOKIE).await;
    get("/settings/security", COOKIE).await;
    assert_eq!(script.calls(), 3);
    // A restore: relayed, and not cached.
    script.set(Reply::ValidSettingCookies);
    let restoring = "tsuzuki_session=old; tsuzuki_remember=r";
    for n in 0..2 {
        let r = get("/api/me", restoring).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(
            r.headers()["set-cookie"],
            "tsuzuki_session=restored; Path=/",
            "round {n}"
        );
    }
    assert_eq!(script.calls(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_or_broken_tsuzuki_never_lets_a_request_through() {
    let (fake, script) = spawn_fake().await;
    let app = spawn_example_timing(&fake, Duration::ZERO, Duration::from_millis(300)).await;
    for reply in [Reply::ServerError, Reply::Partial, Reply::Slow] {
        script.set(reply);
        for path in ["/api/me", "/settings/security"] {
            let r = fetch_with_cookie(&app.url(path), COOKIE).await;
            assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE, "{path}");
            assert_eq!(r.headers()["retry-after"], "5");
            assert_eq!(error_code(r).await, "auth_unavailable");
        }
        let r = fetch_with_cookie(&app.url("/"), COOKIE).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert!(r.text().await.unwrap().contains("Hello, guest"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_200_is_not_signed_in() {
    // tsuzuki answers a plain 200 when its own policy for the route is "public" and there is no
    // session; the application's route still needs one.
    let (fake, script) = spawn_fake().await;
    script.set(Reply::Empty);
    let app = spawn_example_with(&fake, Duration::from_secs(60)).await;
    let r = fetch_with_cookie(&app.url("/api/me"), COOKIE).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(r).await, "not_signed_in");
    let r = client()
        .get(app.url("/profile"))
        .header("accept", HTML)
        .header("cookie", COOKIE)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
}
