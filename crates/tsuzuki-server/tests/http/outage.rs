//! Fail closed, not "signed out" (SEC-75, SEC-76): when the database stops answering, requests
//! that need it get a quick 503 with Retry-After and keep their cookie; requests that do not need
//! it keep working; when it comes back, everything recovers without a restart.

use crate::harness::*;
use reqwest::StatusCode;
use std::time::{Duration, Instant};
use tsuzuki_core::token::SecretToken;
use tsuzuki_store::testing::Kind;

/// Stop or allow connections to the test database, and end the open ones.
async fn set_database_reachable(name: &str, reachable: bool) {
    let admin = tsuzuki_store::testing::postgres_admin_url();
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin)
        .await
        .unwrap();
    let sql = format!("ALTER DATABASE {name} ALLOW_CONNECTIONS {reachable}");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .execute(&mut conn)
        .await
        .unwrap();
    if !reachable {
        let kill = format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
        );
        sqlx::query(sqlx::AssertSqlSafe(kill))
            .execute(&mut conn)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn database_outage_answers_503_and_recovers() {
    let Some(app) = spawn_app(Kind::Postgres, "").await else {
        return;
    };
    app.create_user("a@example.com").await;
    let cookie = app.signed_in("a@example.com").await;
    let name = app.database_name().expect("a PostgreSQL test database");

    set_database_reachable(&name, false).await;
    // A cookie the cache has never seen needs the database: 503, quickly, cookie untouched.
    let unseen = SecretToken::generate().encode();
    let started = Instant::now();
    let r = app.check(&unseen).await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "took {:?}",
        started.elapsed()
    );
    assert!(r.headers().contains_key("retry-after"));
    assert!(
        set_cookie_line(r.headers(), &app.cookie_name()).is_none(),
        "never clears the cookie on an outage"
    );
    assert_eq!(error_body(r).await["code"], "service_unavailable");
    // Sign-in cannot be decided without the database: 503, not a wrong-password answer.
    let (r, c) = app.api_sign_in("a@example.com", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(c.is_none());
    // Requests that need no database keep working (SEC-76).
    assert_eq!(
        app.http
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        app.http
            .get(app.url("/sign-in"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        app.http
            .get(app.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::SERVICE_UNAVAILABLE
    );

    set_database_reachable(&name, true).await;
    let back = eventually(Duration::from_secs(10), || async {
        app.check(&cookie).await.status() == StatusCode::OK
    })
    .await;
    assert!(back, "recovers without a restart");
    assert_eq!(
        app.http
            .get(app.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    app.finish().await;
}

/// Forward-auth (issue #6): a public route stays reachable while the database is down; a
/// protected one answers 503 for a session the cache does not know, never 200.
#[tokio::test]
async fn public_routes_do_not_need_the_database() {
    use crate::forward_auth::{POLICIES, browser_page, forwarded};
    let Some(app) = spawn_app(Kind::Postgres, POLICIES).await else {
        return;
    };
    let jar = format!("{}={}", app.cookie_name(), SecretToken::generate().encode());
    set_database_reachable(&app.database_name().unwrap(), false).await;
    let ask = |uri: &'static str| {
        app.http
            .get(app.url("/auth/check"))
            .header("cookie", &jar)
            .headers(browser_page(forwarded("app.apps.example.com", uri)))
            .send()
    };
    assert_eq!(ask("/public/about").await.unwrap().status(), StatusCode::OK);
    assert_eq!(
        ask("/inbox").await.unwrap().status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    set_database_reachable(&app.database_name().unwrap(), true).await;
    app.finish().await;
}
