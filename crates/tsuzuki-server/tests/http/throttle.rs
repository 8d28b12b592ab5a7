//! Throttling and enumeration resistance (ASVS V2.2.1, SEC-54..56).

use crate::both_backends;
use crate::harness::*;
use reqwest::StatusCode;
use tsuzuki_store::testing::Kind;

both_backends!(
    wrong_password_and_unknown_account_look_the_same,
    account_throttle_grows_and_says_when_to_retry,
    address_throttle_stops_spraying_across_accounts,
);

async fn wrong_password_and_unknown_account_look_the_same(kind: Kind) {
    // SEC-56: same status, same body (but for the reference id), no cookie.
    let Some(app) = spawn_app(kind, "").await else {
        return;
    };
    app.create_user("known@example.com").await;
    let (wrong, c1) = app
        .api_sign_in("known@example.com", "not the password")
        .await;
    let (unknown, c2) = app
        .api_sign_in("nobody@example.com", "not the password")
        .await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.status(), wrong.status());
    assert!(c1.is_none() && c2.is_none());
    let mut a = error_body(wrong).await;
    let mut b = error_body(unknown).await;
    assert_ne!(a["reference_id"], b["reference_id"]);
    a["reference_id"] = serde_json::Value::Null;
    b["reference_id"] = serde_json::Value::Null;
    assert_eq!(a, b);
    assert_eq!(a["code"], "invalid_credentials");
    // Timing: both paths run one argon2 verification. Compare medians of a few samples each; the
    // bound is loose because this machine is shared (the real check is that both hash).
    let mut times = [Vec::new(), Vec::new()];
    for i in 0..5 {
        for (k, email) in ["known@example.com", "nobody@example.com"]
            .iter()
            .enumerate()
        {
            let started = std::time::Instant::now();
            let (r, _) = app.api_sign_in(email, &format!("wrong {i}")).await;
            assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
            times[k].push(started.elapsed().as_secs_f64());
        }
    }
    for t in &mut times {
        t.sort_by(|x, y| x.partial_cmp(y).unwrap());
    }
    let (known, unknown) = (times[0][2], times[1][2]);
    assert!(
        unknown > known * 0.5 && unknown < known * 2.0,
        "median known {known:.3}s vs unknown {unknown:.3}s"
    );
    app.finish().await;
}

async fn account_throttle_grows_and_says_when_to_retry(kind: Kind) {
    let Some(app) = spawn_app(kind, "").await else {
        return;
    };
    app.create_user("a@example.com").await;
    // Five failures are free (default), the sixth imposes 1 s, the seventh 2 s.
    for _ in 0..5 {
        let (r, _) = app.api_sign_in("a@example.com", "wrong password!").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let (r, _) = app.api_sign_in("a@example.com", "wrong password!").await;
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "the 6th failure is still checked"
    );
    // Now blocked: even the right password is refused until the delay has passed.
    let (r, cookie) = app.api_sign_in("a@example.com", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(cookie.is_none());
    assert_eq!(r.headers()["retry-after"], "1");
    let e = error_body(r).await;
    assert_eq!(e["code"], "throttled");
    assert_eq!(e["retry_after"], 1);
    app.advance(1);
    let (r, _) = app.api_sign_in("a@example.com", "wrong password!").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let (r, _) = app.api_sign_in("a@example.com", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers()["retry-after"], "2", "the delay doubles");
    app.advance(2);
    let (r, cookie) = app.api_sign_in("a@example.com", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::OK, "no permanent lockout");
    assert!(cookie.is_some());
    // Success resets the account's count.
    for _ in 0..5 {
        assert_eq!(
            app.api_sign_in("a@example.com", "wrong password!")
                .await
                .0
                .status(),
            StatusCode::UNAUTHORIZED
        );
    }
    app.finish().await;
}

async fn address_throttle_stops_spraying_across_accounts(kind: Kind) {
    // SEC-55: one address trying one password against many accounts is slowed down too.
    let Some(app) = spawn_app(kind, "[throttle.ip]\nfree_attempts = 3\n").await else {
        return;
    };
    for i in 0..4 {
        let (r, _) = app
            .api_sign_in(&format!("user{i}@example.com"), "Summer2026!Summer")
            .await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    let (r, _) = app
        .api_sign_in("user9@example.com", "Summer2026!Summer")
        .await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().contains_key("retry-after"));
    app.finish().await;
}
