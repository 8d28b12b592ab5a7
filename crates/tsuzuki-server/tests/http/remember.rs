//! "Keep me signed in" end to end: the source's own test table (R14) plus the race and theft
//! (R1–R6, R9–R11, SEC-25..35), on SQLite and PostgreSQL.

use crate::both_backends;
use crate::harness::*;
use reqwest::StatusCode;
use tsuzuki_core::remember::RememberCookie;
use tsuzuki_core::token::SecretToken;
use tsuzuki_store::testing::Kind;

both_backends!(
    normal_flow_sign_in_remember_revisit_sign_out,
    refused_cookies_all_look_the_same,
    replay_after_the_grace_window_is_theft,
    fifty_parallel_requests_share_one_rotation,
    a_lost_rotation_response_gets_the_same_successor,
    database_rows_do_not_make_a_usable_cookie,
    cookie_lifetime_matches_the_server_and_presets,
    cleanup_deletes_expired_and_stale_families_only,
);

const REMEMBER: &str = "tsuzuki_remember";

/// Sign in with the box ticked; returns (session cookie, remember cookie, remember Set-Cookie line).
async fn remembered_sign_in(app: &TestApp, email: &str) -> (String, String, String) {
    let r = app
        .http
        .post(app.url("/api/sign-in"))
        .json(&serde_json::json!({ "email": email, "password": PASSWORD, "remember": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let session = set_cookie_value(r.headers(), &app.cookie_name()).unwrap();
    let line = set_cookie_line(r.headers(), REMEMBER).expect("remember cookie issued");
    let remember = set_cookie_value(r.headers(), REMEMBER).unwrap();
    (session, remember, line)
}

/// A request from a "new browser" that holds only the remember cookie.
async fn visit(app: &TestApp, path: &str, remember: &str) -> reqwest::Response {
    app.http
        .get(app.url(path))
        .header("cookie", format!("{REMEMBER}={remember}"))
        .send()
        .await
        .unwrap()
}

async fn normal_flow_sign_in_remember_revisit_sign_out(kind: Kind) {
    let Some(app) = spawn_app(kind, "").await else {
        return;
    };
    let uid = app.create_user("a@example.com").await;
    // R1: off by default — a plain sign-in sets no remember cookie.
    let (r, _) = app.api_sign_in("a@example.com", PASSWORD).await;
    assert!(set_cookie_line(r.headers(), REMEMBER).is_none());
    let (_, c1, line) = remembered_sign_in(&app, "a@example.com").await;
    // R11: attributes on the real header.
    assert!(
        line.contains("HttpOnly") && line.contains("SameSite=Lax") && line.contains("Path=/"),
        "{line}"
    );
    assert!(!line.contains("Domain"), "{line}");
    assert!(
        line.contains("Max-Age=1209600"),
        "R10: 14 days (balanced): {line}"
    );
    // R2: selector:validator, random, no password inside.
    let parsed = RememberCookie::parse(&c1).expect("selector:validator");
    assert!(!c1.contains(PASSWORD));

    // Close the browser: a new jar with only the persistent cookie. Revisit: signed in, remembered.
    app.advance(3600);
    let r = visit(&app, "/api/session", &c1).await;
    assert_eq!(r.status(), StatusCode::OK);
    let session =
        set_cookie_value(r.headers(), &app.cookie_name()).expect("a session in the same request");
    let c2 = set_cookie_value(r.headers(), REMEMBER).expect("R5: rotated");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["remembered"], true);
    assert_eq!(
        body["methods"],
        serde_json::json!(["remember"]),
        "SEC-30: amr=remember"
    );
    assert_eq!(body["user"]["id"], uid.as_str());
    let next = RememberCookie::parse(&c2).unwrap();
    assert_eq!(next.selector, parsed.selector, "same family");
    assert_ne!(next.validator, parsed.validator, "new validator");
    // The identity headers say so too.
    let check = app.check(&session).await;
    assert_eq!(check.headers()["x-tsuzuki-remembered"], "true");
    assert_eq!(check.headers()["x-tsuzuki-methods"], "remember");

    // Sign out: both cookies cleared, and the remember cookie no longer restores anything (R6).
    let r = app
        .http
        .post(app.url("/api/sign-out"))
        .header(
            "cookie",
            format!("{}={session}; {REMEMBER}={c2}", app.cookie_name()),
        )
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert!(
        set_cookie_line(r.headers(), REMEMBER)
            .unwrap()
            .contains("Max-Age=0")
    );
    let r = visit(&app, "/api/session", &c2).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(
        set_cookie_line(r.headers(), REMEMBER)
            .unwrap()
            .contains("Max-Age=0"),
        "cookie cleared"
    );
    assert_eq!(app.check(&session).await.status(), StatusCode::UNAUTHORIZED);
    assert!(
        app.state.store.remember_of_user(&uid).await.unwrap().len() <= 1,
        "only the unrelated plain sign-in remains"
    );
    app.finish().await;
}

async fn refused_cookies_all_look_the_same(kind: Kind) {
    // R4, R14 abnormal: expired, unknown selector, tampered validator, malformed — one answer.
    let Some(app) = spawn_app(kind, "").await else {
        return;
    };
    app.create_user("a@example.com").await;
    let (_, expired, _) = remembered_sign_in(&app, "a@example.com").await;
    let (_, live, _) = remembered_sign_in(&app, "a@example.com").await;
    let live_parsed = RememberCookie::parse(&live).unwrap();
    let tampered = format!(
        "{}:{}",
        live_parsed.selector,
        SecretToken::generate().encode()
    );
    let unknown = RememberCookie::generate().encode();
    let cases = vec![
        ("unknown selector", unknown),
        ("no colon", live.replace(':', "")),
        ("empty parts", ":".into()),
        ("empty validator", format!("{}:", live_parsed.selector)),
        ("huge", "A".repeat(4000)),
        ("not base64", "!!!!!!!!!!!!!!!!!!!!!!:???".into()),
        // A live family with a wrong validator: the theft path, answered the same way.
        ("tampered validator", tampered),
        // Past the 14-day lifetime (the clock moves just before this one).
        ("expired", expired),
    ];
    let mut bodies = Vec::new();
    for (name, cookie) in cases {
        if name == "expired" {
            app.advance(15 * 86_400);
        }
        let r = visit(&app, "/api/session", &cookie).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{name}");
        assert!(
            set_cookie_line(r.headers(), REMEMBER).is_some_and(|l| l.contains("Max-Age=0")),
            "{name}: cleared"
        );
        assert!(
            set_cookie_value(r.headers(), &app.cookie_name()).is_none_or(|v| v.is_empty()),
            "{name}: no session"
        );
        let mut e = error_body(r).await;
        e["reference_id"] = serde_json::Value::Null;
        bodies.push((name, e));
    }
    for (name, b) in &bodies {
        assert_eq!(b, &bodies[0].1, "{name} answered differently");
    }
    assert_eq!(bodies[0].1["code"], "not_signed_in");
    app.finish().await;
}

async fn replay_after_the_grace_window_is_theft(kind: Kind) {
    // R5, SEC-33: C1 → C2 (rotation); C1 again after the grace window: the family is revoked,
    // every session it made ends, the event is recorded and the person is told.
    let Some(app) = spawn_app(kind, "").await else {
        return;
    };
    let uid = app.create_user("a@example.com").await;
    let (_, c1, _) = remembered_sign_in(&app, "a@example.com").await;
    let r = visit(&app, "/api/session", &c1).await;
    assert_eq!(r.status(), StatusCode::OK);
    let c2 = set_cookie_value(r.headers(), REMEMBER).unwrap();
    let restored_session = set_cookie_value(r.headers(), &app.cookie_name()).unwrap();
    app.advance(11); // grace is 10 s
    let r = visit(&app, "/api/session", &c1).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // Theft handling runs after the answer; wait (bounded) for its effects.
    let revoked = eventually(std::time::Duration::from_secs(5), || async {
        app.state
            .store
            .remember_of_user(&uid)
            .await
            .unwrap()
            .is_empty()
    })
    .await;
    assert!(revoked, "family revoked");
    assert_eq!(
        visit(&app, "/api/session", &c2).await.status(),
        StatusCode::UNAUTHORIZED,
        "the thief's successor is dead too"
    );
    let dead = eventually(std::time::Duration::from_secs(5), || async {
        app.check(&restored_session).await.status() == StatusCode::UNAUTHORIZED
    })
    .await;
    assert!(dead, "sessions restored from the family end");
    // The record and the mail come last in the background task: wait for them too.
    let recorded = eventually(std::time::Duration::from_secs(5), || async {
        let events = app.state.store.events_of_user(&uid, 50).await.unwrap();
        events.iter().any(|e| e.kind == "remember_theft") && !app.outbox.messages().is_empty()
    })
    .await;
    assert!(recorded, "security event recorded and the person told");
    let mails = app.outbox.messages();
    assert_eq!(mails.len(), 1, "the person is told once: {mails:?}");
    assert_eq!(mails[0].to, "a@example.com");
    assert!(
        mails[0].body.contains("keep me signed in")
            && mails[0].body.contains("ログイン状態を保持する")
    );
    assert!(
        !mails[0].body.contains(&c1) && !mails[0].body.contains(&c2),
        "no token in the mail"
    );
    assert_eq!(app.state.metrics.remember_thefts.get(), 1);
    app.finish().await;
}

async fn fifty_parallel_requests_share_one_rotation(kind: Kind) {
    // R5, SEC-32: fifty requests with the same cookie at the same moment (a page loading its
    // resources, restored tabs): all succeed, all get the same successor, no theft, one valid token.
    let Some(app) = spawn_app(kind, "").await else {
        return;
    };
    let uid = app.create_user("a@example.com").await;
    let (_, c1, _) = remembered_sign_in(&app, "a@example.com").await;
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let (http, url, cookie) = (
            app.http.clone(),
            app.url("/api/session"),
            format!("{REMEMBER}={c1}"),
        );
        tasks.push(tokio::spawn(async move {
            http.get(url).header("cookie", cookie).send().await.unwrap()
        }));
    }
    let mut successors = std::collections::HashSet::new();
    let mut sessions = std::collections::HashSet::new();
    for t in tasks {
        let r = t.await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        successors.insert(
            set_cookie_value(r.headers(), REMEMBER).expect("every response sets the successor"),
        );
        sessions.insert(set_cookie_value(r.headers(), &app.cookie_name()).unwrap());
    }
    assert_eq!(successors.len(), 1, "one successor for all");
    assert_eq!(sessions.len(), 1, "one session for all");
    let c2 = successors.into_iter().next().unwrap();
    let families = app.state.store.remember_of_user(&uid).await.unwrap();
    assert_eq!(families.len(), 1);
    assert_eq!(
        families[0].state.validator_hash,
        RememberCookie::parse(&c2).unwrap().validator.hash(),
        "exactly one valid token"
    );
    let events = app.state.store.events_of_user(&uid, 200).await.unwrap();
    assert!(
        !events.iter().any(|e| e.kind == "remember_theft"),
        "no false alarm"
    );
    assert_eq!(app.state.metrics.remember_thefts.get(), 0);
    // The browser's cookie works after the window closes.
    app.advance(60);
    let r = visit(&app, "/api/session", &c2).await;
    assert_eq!(r.status(), StatusCode::OK);
    app.finish().await;
}

async fn a_lost_rotation_response_gets_the_same_successor(kind: Kind) {
    // SEC-34: the browser never received C2; presenting C1 again within the window yields C2.
    let Some(app) = spawn_app(kind, "").await else {
        return;
    };
    app.create_user("a@example.com").await;
    let (_, c1, _) = remembered_sign_in(&app, "a@example.com").await;
    let first =
        set_cookie_value(visit(&app, "/api/session", &c1).await.headers(), REMEMBER).unwrap();
    app.advance(5);
    let r = visit(&app, "/api/session", &c1).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(set_cookie_value(r.headers(), REMEMBER).unwrap(), first);
    app.advance(1);
    let r = visit(&app, "/api/session", &first).await;
    assert_eq!(r.status(), StatusCode::OK, "the successor works");
    app.finish().await;
}

async fn database_rows_do_not_make_a_usable_cookie(kind: Kind) {
    // R3: a database leak must not yield a usable cookie. Build every cookie the stored values
    // could form and present it.
    let Some(app) = spawn_app(kind, "").await else {
        return;
    };
    let uid = app.create_user("a@example.com").await;
    let (_, c1, _) = remembered_sign_in(&app, "a@example.com").await;
    let r = visit(&app, "/api/session", &c1).await; // one rotation, so sealed values exist
    assert_eq!(r.status(), StatusCode::OK);
    let b64 = |b: &[u8]| data_encoding::BASE64URL_NOPAD.encode(b);
    let f = &app.state.store.remember_of_user(&uid).await.unwrap()[0];
    let mut stored: Vec<String> = vec![b64(&f.state.validator_hash.0)];
    stored.extend(f.state.previous_hash.map(|h| b64(&h.0)));
    stored.extend(f.sealed_successor.map(|s| b64(&s.0)));
    stored.extend(f.sealed_session.map(|s| b64(&s.0)));
    let sessions = app.state.store.sessions_of_user(&uid).await.unwrap();
    let session_hashes: Vec<String> = sessions.iter().map(|s| b64(&s.id_hash.0)).collect();
    app.advance(30); // outside the grace window
    for value in &stored {
        let r = visit(&app, "/api/session", &format!("{}:{value}", f.selector)).await;
        assert_eq!(
            r.status(),
            StatusCode::UNAUTHORIZED,
            "stored value {value} worked as a validator"
        );
    }
    for value in stored.iter().chain(&session_hashes) {
        assert_eq!(
            app.check(value).await.status(),
            StatusCode::UNAUTHORIZED,
            "stored value {value} worked as a session"
        );
    }
    // Nothing stored equals the live cookie's validator.
    let current = set_cookie_value(r.headers(), REMEMBER).unwrap();
    let validator = current.split(':').nth(1).unwrap().to_string();
    assert!(!stored.contains(&validator));
    app.finish().await;
}

async fn cookie_lifetime_matches_the_server_and_presets(kind: Kind) {
    // R10: the Max-Age equals the server-side expiry, also after rotation (which never extends it).
    let Some(app) = spawn_app(kind, "[remember]\npreset = \"secure\"\n").await else {
        return;
    };
    let uid = app.create_user("a@example.com").await;
    let (_, c1, line) = remembered_sign_in(&app, "a@example.com").await;
    assert!(line.contains("Max-Age=604800"), "7 days: {line}");
    app.advance(86_400);
    let r = visit(&app, "/api/session", &c1).await;
    let line = set_cookie_line(r.headers(), REMEMBER).unwrap();
    assert!(
        line.contains(&format!("Max-Age={}", 6 * 86_400)),
        "remaining lifetime: {line}"
    );
    let f = &app.state.store.remember_of_user(&uid).await.unwrap()[0];
    assert_eq!(f.state.expires_at.0, 1_800_000_000 + 7 * 86_400);
    // Past the absolute lifetime nothing restores, whatever the rotations.
    let mut cookie = set_cookie_value(r.headers(), REMEMBER).unwrap();
    for _ in 0..5 {
        app.advance(86_400);
        let r = visit(&app, "/api/session", &cookie).await;
        assert_eq!(r.status(), StatusCode::OK);
        cookie = set_cookie_value(r.headers(), REMEMBER).unwrap();
    }
    app.advance(86_400 + 1);
    assert_eq!(
        visit(&app, "/api/session", &cookie).await.status(),
        StatusCode::UNAUTHORIZED,
        "SEC-29"
    );
    app.finish().await;
}

async fn cleanup_deletes_expired_and_stale_families_only(kind: Kind) {
    // R9: the periodic job deletes expired and long-unused families, and only those.
    let Some(app) = spawn_app(
        kind,
        "[remember]\nlifetime = \"10d\"\nidle_lifetime = \"3d\"\n",
    )
    .await
    else {
        return;
    };
    let uid = app.create_user("a@example.com").await;
    let (_, stale, _) = remembered_sign_in(&app, "a@example.com").await;
    let (_, used, _) = remembered_sign_in(&app, "a@example.com").await;
    app.advance(2 * 86_400);
    let r = visit(&app, "/api/session", &used).await;
    assert_eq!(r.status(), StatusCode::OK);
    app.advance(2 * 86_400); // `stale` unused for 4 days (> 3), `used` for 2
    tsuzuki_server::app::cleanup_once(&app.state).await;
    let left = app.state.store.remember_of_user(&uid).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(
        left[0].selector,
        RememberCookie::parse(&used).unwrap().selector
    );
    assert_eq!(
        visit(&app, "/api/session", &stale).await.status(),
        StatusCode::UNAUTHORIZED
    );
    app.finish().await;
}
