//! Sign-in, session checks, expiry, sliding extension, sign-out, fixation, revocation (S1, S2).

use crate::both_backends;
use crate::harness::*;
use reqwest::StatusCode;
use std::time::Duration;
use tsuzuki_core::token::SecretToken;
use tsuzuki_store::testing::Kind;

both_backends!(
    sign_in_then_session_check_and_session_endpoint,
    session_cookie_attributes_and_token_shape,
    idle_expiry_ends_an_inactive_session,
    absolute_expiry_ends_even_an_active_session,
    sliding_extension_with_coalesced_writes,
    background_requests_do_not_extend,
    extend_moves_idle_but_never_absolute,
    sign_out_kills_the_cookie_on_the_server,
    every_sign_in_gets_a_fresh_id,
    revocation_by_another_process_reaches_the_cache,
    address_change_is_recorded_not_a_sign_out,
    cleanup_deletes_only_long_expired_sessions,
    fast_and_full_path_answer_alike,
    the_cache_is_bounded_and_every_session_still_checks,
    a_cache_of_zero_reads_the_store_every_time,
);

async fn sign_in_then_session_check_and_session_endpoint(kind: Kind) {
    let Some(app) = spawn_app(kind, "").await else {
        return;
    };
    let uid = app.create_user("alice@example.com").await;
    let (r, cookie) = app.api_sign_in("Alice@Example.com", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["cache-control"], "no-store", "SEC-23");
    let cookie = cookie.expect("session cookie");
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(
        !body.to_string().contains(&cookie),
        "SEC-18: the token is never in a body"
    );

    // Forward-auth check: 200 with identity headers (issue #2 item 7).
    let r = app.check(&cookie).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["x-tsuzuki-user-id"], uid.as_str());
    assert_eq!(r.headers()["x-tsuzuki-email"], "alice@example.com");
    assert_eq!(r.headers()["x-tsuzuki-methods"], "pwd");
    assert_eq!(r.headers()["x-tsuzuki-remembered"], "false");
    assert_eq!(r.headers()["cache-control"], "no-store");

    // The session endpoint (SEC-12, SEC-70).
    let r = app.get_with_cookie("/api/session", &cookie).await;
    assert_eq!(r.status(), StatusCode::OK);
    let s: serde_json::Value = r.json().await.unwrap();
    let now = 1_800_000_000i64;
    assert_eq!(s["user"]["id"], uid.as_str());
    assert_eq!(s["user"]["email"], "alice@example.com");
    assert_eq!(s["authenticated_at"], now);
    assert_eq!(s["idle_expires_at"], now + 1800, "default idle 30 min");
    assert_eq!(s["expires_at"], now + 12 * 3600, "default absolute 12 h");
    assert_eq!(s["methods"], serde_json::json!(["pwd"]));
    assert_eq!(s["remembered"], false);
    assert_eq!(s["now"], now);
    assert!(s["session"]["handle"].as_str().unwrap().starts_with("ses_"));

    // No cookie: 401 with a reason, and no store access needed.
    let r = app.http.get(app.url("/auth/check")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_body(r).await["code"], "not_signed_in");
    app.finish().await;
}

async fn session_cookie_attributes_and_token_shape(kind: Kind) {
    let Some(app) = spawn_app(kind, "").await else {
        return;
    };
    app.create_user("a@example.com").await;
    let (r, cookie) = app.api_sign_in("a@example.com", PASSWORD).await;
    let line = set_cookie_line(r.headers(), &app.cookie_name()).unwrap();
    assert!(
        line.contains("HttpOnly") && line.contains("SameSite=Lax") && line.contains("Path=/"),
        "{line}"
    );
    assert!(
        !line.contains("Max-Age") && !line.contains("Expires"),
        "SEC-20: non-persistent: {line}"
    );
    assert!(!line.contains("Domain"), "SEC-17: host-only: {line}");
    // S1 / SEC-1: 256 random bits, base64url, opaque.
    let token = SecretToken::parse(&cookie.unwrap()).expect("43 base64url chars = 32 bytes");
    let raw = token.encode();
    assert!(!raw.contains("a@example"));
    // The database holds only the hash (white-box).
    let rows = app
        .state
        .store
        .sessions_of_user(
            &app.state
                .store
                .user_by_id(&app.state.store.list_users().await.unwrap()[0].id)
                .await
                .unwrap()
                .unwrap()
                .id,
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].id_hash, token.hash());
    assert_ne!(&rows[0].id_hash.0[..], raw.as_bytes().get(..32).unwrap());
    app.finish().await;
}

async fn idle_expiry_ends_an_inactive_session(kind: Kind) {
    // SEC-8: idle = 60 s: t=59 valid; a second session left alone until t=60 is dead.
    let Some(app) = spawn_app(
        kind,
        "[session]\nidle_timeout = \"60s\"\nabsolute_lifetime = \"1h\"\n",
    )
    .await
    else {
        return;
    };
    app.create_user("a@example.com").await;
    let kept = app.signed_in("a@example.com").await;
    let idle = app.signed_in("a@example.com").await;
    app.advance(59);
    assert_eq!(app.check(&kept).await.status(), StatusCode::OK);
    app.advance(1);
    let r = app.check(&idle).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let cleared = set_cookie_line(r.headers(), &app.cookie_name()).expect("SEC-21: cookie cleared");
    assert!(cleared.contains("Max-Age=0"));
    assert_eq!(error_body(r).await["code"], "idle_timeout");
    // Stays dead, with the same reason, whatever is tried (SEC-14).
    for path in ["/auth/check", "/api/session"] {
        let r = app.get_with_cookie(path, &idle).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(error_body(r).await["code"], "idle_timeout");
    }
    let r = app
        .http
        .post(app.url("/api/session/extend"))
        .header("cookie", format!("{}={idle}", app.cookie_name()))
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // The kept session was active at t=59, so it lives until t=119.
    assert_eq!(app.check(&kept).await.status(), StatusCode::OK);
    app.finish().await;
}

async fn absolute_expiry_ends_even_an_active_session(kind: Kind) {
    // SEC-9: idle 60 s, absolute 120 s, a request every 20 s: dead at 120 s all the same.
    let Some(app) = spawn_app(
        kind,
        "[session]\nidle_timeout = \"60s\"\nabsolute_lifetime = \"120s\"\n",
    )
    .await
    else {
        return;
    };
    app.create_user("a@example.com").await;
    let cookie = app.signed_in("a@example.com").await;
    for _ in 0..5 {
        app.advance(20);
        assert_eq!(app.check(&cookie).await.status(), StatusCode::OK);
    }
    app.advance(19); // t = 119
    let s: serde_json::Value = app
        .get_with_cookie("/api/session", &cookie)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        s["idle_expires_at"], s["expires_at"],
        "idle deadline capped by the absolute one"
    );
    app.advance(1); // t = 120
    let r = app.check(&cookie).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_body(r).await["code"], "absolute_timeout");
    app.finish().await;
}

async fn sliding_extension_with_coalesced_writes(kind: Kind) {
    // S2: activity slides the idle window; writes are coalesced to one per touch interval.
    let Some(app) = spawn_app(
        kind,
        "[session]\nidle_timeout = \"60s\"\nabsolute_lifetime = \"1h\"\ntouch_interval = \"30s\"\n",
    )
    .await
    else {
        return;
    };
    app.create_user("a@example.com").await;
    let cookie = app.signed_in("a@example.com").await;
    let hash = SecretToken::parse(&cookie).unwrap().hash();
    let writes = || app.state.metrics.session_touch_writes.get();
    let before = writes();
    // 200 requests in the same second: no write at all.
    for _ in 0..200 {
        assert_eq!(app.check(&cookie).await.status(), StatusCode::OK);
    }
    assert_eq!(writes(), before, "no write per request");
    // Keep the session alive for 5 minutes with a request every 40 s: 12 times the idle timeout
    // would have ended it without sliding.
    for _ in 0..8 {
        app.advance(40);
        assert_eq!(app.check(&cookie).await.status(), StatusCode::OK);
    }
    let w = writes() - before;
    assert!(
        (1..=8).contains(&w),
        "one write per request at most once per 30 s, got {w}"
    );
    // The database learns the activity (written in the background).
    let expected = 1_800_000_000 + 320;
    let stored = eventually(Duration::from_secs(5), || async {
        app.state
            .store
            .session_by_hash(&hash)
            .await
            .unwrap()
            .unwrap()
            .session
            .times
            .last_active_at
            .0
            == expected
    })
    .await;
    assert!(stored, "last_active_at reached the database");
    app.finish().await;
}

async fn background_requests_do_not_extend(kind: Kind) {
    // SEC-11: polling every 10 s with the background header for 70 s: the session still ends at 60 s.
    let Some(app) = spawn_app(
        kind,
        "[session]\nidle_timeout = \"60s\"\nabsolute_lifetime = \"1h\"\n",
    )
    .await
    else {
        return;
    };
    app.create_user("a@example.com").await;
    let cookie = app.signed_in("a@example.com").await;
    let mut statuses = Vec::new();
    for _ in 0..7 {
        app.advance(10);
        let r = app
            .http
            .get(app.url("/auth/check"))
            .header("cookie", format!("{}={cookie}", app.cookie_name()))
            .header("x-tsuzuki-background", "1")
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
    }
    assert_eq!(statuses, vec![200, 200, 200, 200, 200, 401, 401]);
    app.finish().await;
}

async fn extend_moves_idle_but_never_absolute(kind: Kind) {
    // SEC-12: GET /api/session does not extend; POST /api/session/extend slides idle only.
    let Some(app) = spawn_app(
        kind,
        "[session]\nidle_timeout = \"60s\"\nabsolute_lifetime = \"100s\"\n",
    )
    .await
    else {
        return;
    };
    app.create_user("a@example.com").await;
    let cookie = app.signed_in("a@example.com").await;
    let session = |app: &TestApp| {
        let c = cookie.clone();
        let req = app
            .http
            .get(app.url("/api/session"))
            .header("cookie", format!("{}={c}", app.cookie_name()));
        async move {
            req.send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap()
        }
    };
    let extend = |app: &TestApp| {
        let req = app
            .http
            .post(app.url("/api/session/extend"))
            .header("cookie", format!("{}={}", app.cookie_name(), cookie))
            .header("content-type", "application/json");
        async move { req.send().await.unwrap() }
    };
    let s0 = session(&app).await;
    app.advance(30);
    let s1 = session(&app).await;
    assert_eq!(
        s1["idle_expires_at"], s0["idle_expires_at"],
        "reading the session does not extend it"
    );
    let r = extend(&app).await;
    assert_eq!(r.status(), StatusCode::OK);
    let s2: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        s2["idle_expires_at"].as_i64().unwrap(),
        s0["idle_expires_at"].as_i64().unwrap() + 30
    );
    assert_eq!(s2["expires_at"], s0["expires_at"], "absolute never moves");
    app.advance(50);
    let s3: serde_json::Value = extend(&app).await.json().await.unwrap();
    assert_eq!(
        s3["idle_expires_at"], s0["expires_at"],
        "capped at the absolute limit"
    );
    app.finish().await;
}

async fn sign_out_kills_the_cookie_on_the_server(kind: Kind) {
    // R6 / SEC-37: the copied cookie is dead after sign-out; sign-out is idempotent.
    let Some(app) = spawn_app(kind, "").await else {
        return;
    };
    app.create_user("a@example.com").await;
    let cookie = app.signed_in("a@example.com").await;
    assert_eq!(app.check(&cookie).await.status(), StatusCode::OK);
    let sign_out = || {
        app.http
            .post(app.url("/api/sign-out"))
            .header("cookie", format!("{}={cookie}", app.cookie_name()))
            .header("content-type", "application/json")
            .send()
    };
    let r = sign_out().await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert!(
        set_cookie_line(r.headers(), &app.cookie_name())
            .unwrap()
            .contains("Max-Age=0")
    );
    let r = app.check(&cookie).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_body(r).await["code"], "session_revoked");
    assert_eq!(
        sign_out().await.unwrap().status(),
        StatusCode::NO_CONTENT,
        "idempotent"
    );
    app.finish().await;
}

async fn every_sign_in_gets_a_fresh_id(kind: Kind) {
    // SEC-4: an attacker-chosen id is never adopted; SEC-5: signing in again replaces the old id.
    let Some(app) = spawn_app(kind, "").await else {
        return;
    };
    app.create_user("a@example.com").await;
    let planted = SecretToken::generate().encode();
    let r = app
        .http
        .post(app.url("/api/sign-in"))
        .header("cookie", format!("{}={planted}", app.cookie_name()))
        .json(&serde_json::json!({ "email": "a@example.com", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    let first = set_cookie_value(r.headers(), &app.cookie_name()).unwrap();
    assert_ne!(first, planted);
    assert_eq!(app.check(&planted).await.status(), StatusCode::UNAUTHORIZED);
    // Signing in again from the same browser: a new id, and the old one ends.
    let r = app
        .http
        .post(app.url("/api/sign-in"))
        .header("cookie", format!("{}={first}", app.cookie_name()))
        .json(&serde_json::json!({ "email": "a@example.com", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    let second = set_cookie_value(r.headers(), &app.cookie_name()).unwrap();
    assert_ne!(second, first);
    assert_eq!(app.check(&first).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.check(&second).await.status(), StatusCode::OK);
    app.finish().await;
}

async fn revocation_by_another_process_reaches_the_cache(kind: Kind) {
    // The cache never outlives a revocation: one made straight in the database (as the CLI or
    // another node does) is honoured within the poll interval (20 ms here).
    let Some(app) = spawn_app(kind, "").await else {
        return;
    };
    let uid = app.create_user("a@example.com").await;
    let cookie = app.signed_in("a@example.com").await;
    assert_eq!(app.check(&cookie).await.status(), StatusCode::OK); // now cached
    let now = tsuzuki_core::clock::Clock::now(&*app.clock);
    app.state.store.set_disabled(&uid, true, now).await.unwrap();
    app.state
        .store
        .revoke_user_sessions(&uid, None, now)
        .await
        .unwrap();
    let dead = eventually(Duration::from_secs(5), || async {
        app.check(&cookie).await.status() == StatusCode::UNAUTHORIZED
    })
    .await;
    assert!(dead, "revoked session still accepted");
    // And the disabled account cannot sign in, with the same answer as a wrong password.
    let (r, c) = app.api_sign_in("a@example.com", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(c.is_none());
    assert_eq!(error_body(r).await["code"], "invalid_credentials");
    app.finish().await;
}

async fn address_change_is_recorded_not_a_sign_out(kind: Kind) {
    // Sessions are not bound to an IP: a new address is an event, not a 401.
    let Some(app) = spawn_app(kind, "[http]\ntrusted_proxies = [\"127.0.0.1\"]\n").await else {
        return;
    };
    let uid = app.create_user("a@example.com").await;
    let cookie = app.signed_in("a@example.com").await;
    let r = app
        .http
        .get(app.url("/auth/check"))
        .header("cookie", format!("{}={cookie}", app.cookie_name()))
        .header("x-forwarded-for", "198.51.100.23")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let events = app.state.store.events_of_user(&uid, 10).await.unwrap();
    let moved = events
        .iter()
        .find(|e| e.kind == "address_changed")
        .expect("address change recorded");
    assert_eq!(moved.ip.as_deref(), Some("198.51.100.23"));
    assert_eq!(moved.detail, "from 127.0.0.1");
    app.finish().await;
}

async fn cleanup_deletes_only_long_expired_sessions(kind: Kind) {
    // R9 / SEC-81: the cleanup job deletes sessions expired longer than the retention, only those.
    let Some(app) = spawn_app(kind, "[session]\nidle_timeout = \"60s\"\nabsolute_lifetime = \"1h\"\nexpired_retention = \"10m\"\n").await else { return };
    let uid = app.create_user("a@example.com").await;
    let old = app.signed_in("a@example.com").await;
    app.advance(20 * 60);
    let live = app.signed_in("a@example.com").await;
    tsuzuki_server::app::cleanup_once(&app.state).await;
    let left = app.state.store.sessions_of_user(&uid).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].id_hash, SecretToken::parse(&live).unwrap().hash());
    assert_eq!(app.check(&live).await.status(), StatusCode::OK);
    assert_eq!(app.check(&old).await.status(), StatusCode::UNAUTHORIZED);
    app.finish().await;
}

async fn fast_and_full_path_answer_alike(kind: Kind) {
    // The first check after sign-in misses the cache (full path); the next ones are cache hits,
    // answered by the connection loop's fast path. Same status, same headers, same counting.
    let Some(app) = spawn_app(kind, "").await else {
        return;
    };
    app.create_user("a@example.com").await;
    let cookie = app.signed_in("a@example.com").await;
    let misses = app.state.metrics.session_cache_misses.get();
    let headers_of = |r: &reqwest::Response| {
        let mut h: Vec<(String, String)> = r
            .headers()
            .iter()
            .filter(|(n, _)| n.as_str() != "date")
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_string()))
            .collect();
        h.sort();
        h
    };
    let full = app.check(&cookie).await;
    assert_eq!(
        app.state.metrics.session_cache_misses.get(),
        misses + 1,
        "first check read the store"
    );
    let fast = app.check(&cookie).await;
    assert_eq!(
        app.state.metrics.session_cache_misses.get(),
        misses + 1,
        "second check was a cache hit"
    );
    assert_eq!(
        (full.status(), fast.status()),
        (StatusCode::OK, StatusCode::OK)
    );
    assert_eq!(headers_of(&full), headers_of(&fast));
    let valid = app
        .state
        .metrics
        .session_checks
        .get_or_create(&tsuzuki_server::metrics::Outcome { outcome: "valid" })
        .get();
    assert_eq!(valid, 2, "both counted once");
    // A revoked session never passes the fast path.
    app.state
        .sessions
        .revoke(&SecretToken::parse(&cookie).unwrap().hash())
        .await
        .unwrap();
    assert_eq!(app.check(&cookie).await.status(), StatusCode::UNAUTHORIZED);
    app.finish().await;
}

async fn the_cache_is_bounded_and_every_session_still_checks(kind: Kind) {
    // The in-process cache holds at most `cache.capacity` sessions (the memory bound of the
    // benchmark); a session it dropped is read from the store again, never refused.
    let Some(app) = spawn_app(kind, "[cache]\ncapacity = 4\n").await else {
        return;
    };
    app.create_user("a@example.com").await;
    let mut cookies = Vec::new();
    for _ in 0..12 {
        cookies.push(app.signed_in("a@example.com").await);
    }
    let misses = app.state.metrics.session_cache_misses.get();
    for round in 0..3 {
        for c in &cookies {
            assert_eq!(app.check(c).await.status(), StatusCode::OK, "round {round}");
            let held = app.state.sessions.cached_entries();
            assert!(
                (1..=4).contains(&held),
                "{held} sessions cached, capacity 4"
            );
        }
    }
    let reads = app.state.metrics.session_cache_misses.get() - misses;
    assert!(
        reads > 12,
        "twelve sessions through a cache of four: more reads than sessions ({reads})"
    );
    // Signed out while possibly cached or not: refused either way.
    let gone = SecretToken::parse(&cookies[11]).unwrap().hash();
    app.state.sessions.revoke(&gone).await.unwrap();
    assert_eq!(
        app.check(&cookies[11]).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.check(&cookies[10]).await.status(), StatusCode::OK);
    app.finish().await;
}

async fn a_cache_of_zero_reads_the_store_every_time(kind: Kind) {
    // `cache.capacity = 0` turns the cache off: every check is a store read, and still valid.
    let Some(app) = spawn_app(kind, "[cache]\ncapacity = 0\n").await else {
        return;
    };
    app.create_user("a@example.com").await;
    let cookie = app.signed_in("a@example.com").await;
    let misses = app.state.metrics.session_cache_misses.get();
    for _ in 0..3 {
        assert_eq!(app.check(&cookie).await.status(), StatusCode::OK);
    }
    assert_eq!(app.state.metrics.session_cache_misses.get(), misses + 3);
    assert_eq!(app.state.sessions.cached_entries(), 0);
    app.finish().await;
}
