//! The admin API: operator revocation by token, by user and of everything (R7), authenticated
//! by an operator token whose hash is in the configuration.

use crate::both_backends;
use crate::harness::*;
use reqwest::StatusCode;
use tsuzuki_store::testing::Kind;

both_backends!(
    admin_api_is_off_without_a_token,
    operator_revokes_by_handle_user_and_all
);

const TOKEN: &str = "test-operator-token-5a1f0e2b9c7d4e3f";

fn config() -> String {
    format!(
        "[admin]\ntoken_sha256 = \"{}\"\n",
        tsuzuki_server::http::admin::token_digest(TOKEN)
    )
}

async fn revoke(app: &TestApp, token: Option<&str>, body: serde_json::Value) -> reqwest::Response {
    let mut req = app.http.post(app.url("/api/admin/revoke")).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap()
}

async fn admin_api_is_off_without_a_token(kind: Kind) {
    let Some(app) = spawn_app(kind, "").await else {
        return;
    };
    let r = revoke(&app, Some(TOKEN), serde_json::json!({ "all": true })).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    app.finish().await;
}

async fn operator_revokes_by_handle_user_and_all(kind: Kind) {
    let Some(app) = spawn_app(kind, &config()).await else {
        return;
    };
    app.create_user("a@example.com").await;
    app.create_user("b@example.com").await;
    let a1 = app.signed_in("a@example.com").await;
    let a2 = app.signed_in("a@example.com").await;
    let b = app.signed_in("b@example.com").await;
    for token in [None, Some("wrong"), Some("")] {
        let r = revoke(&app, token, serde_json::json!({ "all": true })).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{token:?}");
        assert_eq!(error_body(r).await["code"], "operator_token_required");
    }
    assert_eq!(
        app.check(&a1).await.status(),
        StatusCode::OK,
        "nothing happened"
    );
    let r = app
        .http
        .get(app.url("/api/admin/users/a@example.com/tokens"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let lines: Vec<serde_json::Value> = r.json().await.unwrap();
    assert_eq!(lines.len(), 2);
    // By handle: effective at once on this node.
    let handle = lines[0]["handle"].as_str().unwrap();
    let r = revoke(&app, Some(TOKEN), serde_json::json!({ "handle": handle })).await;
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap(),
        serde_json::json!({ "sessions": 1, "remembered": 0 })
    );
    let statuses = [app.check(&a1).await.status(), app.check(&a2).await.status()];
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::UNAUTHORIZED)
            .count(),
        1
    );
    // By user.
    let r = revoke(
        &app,
        Some(TOKEN),
        serde_json::json!({ "user": "a@example.com" }),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(app.check(&a1).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.check(&a2).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.check(&b).await.status(),
        StatusCode::OK,
        "other users untouched"
    );
    // Unknown things are 404, ambiguous requests 400.
    assert_eq!(
        revoke(
            &app,
            Some(TOKEN),
            serde_json::json!({ "handle": "ses_nope" })
        )
        .await
        .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        revoke(
            &app,
            Some(TOKEN),
            serde_json::json!({ "user": "x@example.com", "all": true })
        )
        .await
        .status(),
        StatusCode::BAD_REQUEST
    );
    // Everything.
    let r = revoke(&app, Some(TOKEN), serde_json::json!({ "all": true })).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        app.check(&b).await.status(),
        StatusCode::UNAUTHORIZED,
        "SEC-41: every user"
    );
    app.finish().await;
}
