//! The admin API: operator revocation by token, by user and of everything (R7); accounts,
//! sessions and audit events (issue #6 item 5), authenticated by an operator token whose hash is
//! in the configuration.

use crate::both_backends;
use crate::harness::*;
use reqwest::StatusCode;
use tsuzuki_store::testing::Kind;

both_backends!(
    admin_api_is_off_without_a_token,
    operator_revokes_by_handle_user_and_all,
    operator_creates_finds_and_pages_accounts,
    disabling_ends_everything_at_the_next_request,
    reset_factors_removes_them_and_ends_sessions,
    sessions_are_listed_and_ended_by_handle_and_user,
    events_are_newest_first_filtered_and_paged,
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
    for path in [
        "/api/admin/users",
        "/api/admin/events",
        "/api/admin/users/a@example.com",
    ] {
        let r = app
            .http
            .get(app.url(path))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let r = admin_post(
        &app,
        "/api/admin/users",
        json!({ "email": "n@example.com", "password": PASSWORD }),
    )
    .await;
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

use serde_json::{Value, json};

async fn admin_get(app: &TestApp, path: &str) -> reqwest::Response {
    app.http
        .get(app.url(path))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
}

async fn admin_post(app: &TestApp, path: &str, body: Value) -> reqwest::Response {
    app.http
        .post(app.url(path))
        .bearer_auth(TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn ok_json(r: reqwest::Response) -> Value {
    assert_eq!(r.status(), StatusCode::OK, "{:?}", r.text().await);
    r.json().await.unwrap()
}

/// The newest `operator_action` rows, as (detail, user_id): admin actions are logged (SEC-71).
async fn operator_actions(app: &TestApp) -> Vec<(String, Option<String>)> {
    let page =
        ok_json(admin_get(app, "/api/admin/events?kind=operator_action&limit=100").await).await;
    page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["detail"].as_str().unwrap().to_string(),
                e["user_id"].as_str().map(str::to_string),
            )
        })
        .collect()
}

async fn operator_creates_finds_and_pages_accounts(kind: Kind) {
    let Some(app) = spawn_app(kind, &config()).await else {
        return;
    };
    let r = admin_post(
        &app,
        "/api/admin/users",
        json!({ "email": "New@Example.com", "password": PASSWORD }),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let created: Value = r.json().await.unwrap();
    assert_eq!(
        created["email"], "new@example.com",
        "normalised like sign-up"
    );
    assert_eq!(created["disabled"], false);
    assert!(created.get("password_hash").is_none(), "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("usr_"));
    // Same policy and hasher as `tsuzuki user add`: the account signs in with that password.
    let (r, cookie) = app.api_sign_in("new@example.com", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(cookie.is_some());
    // Bad input: stable codes, never a 500.
    for (body, status, code) in [
        (
            json!({ "email": "new@example.com", "password": PASSWORD }),
            StatusCode::CONFLICT,
            "user_exists",
        ),
        (
            json!({ "email": "not an email", "password": PASSWORD }),
            StatusCode::BAD_REQUEST,
            "invalid_email",
        ),
        (
            json!({ "email": "s@example.com", "password": "short" }),
            StatusCode::BAD_REQUEST,
            "password_too_short",
        ),
        (
            json!({ "email": "s@example.com" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
        ),
    ] {
        let r = admin_post(&app, "/api/admin/users", body.clone()).await;
        assert_eq!(r.status(), status, "{body}");
        assert_eq!(error_body(r).await["code"], code, "{body}");
    }
    // One account, by email or by id.
    for key in ["new@example.com", id.as_str()] {
        let user = ok_json(admin_get(&app, &format!("/api/admin/users/{key}")).await).await;
        assert_eq!(user["id"], id.as_str(), "{key}");
    }
    let r = admin_get(&app, "/api/admin/users/nobody@example.com").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = admin_get(&app, "/api/admin/users/usr_nope").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // Pages in email order, with a cursor.
    for email in ["c@example.com", "a@example.com", "b@example.com"] {
        app.create_user(email).await;
    }
    let first = ok_json(admin_get(&app, "/api/admin/users?limit=2").await).await;
    let emails = |page: &Value| -> Vec<String> {
        page["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["email"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(emails(&first), ["a@example.com", "b@example.com"]);
    let cursor = first["next_cursor"].as_str().expect("a next page");
    let second =
        ok_json(admin_get(&app, &format!("/api/admin/users?limit=2&cursor={cursor}")).await).await;
    assert_eq!(emails(&second), ["c@example.com", "new@example.com"]);
    assert!(second.get("next_cursor").is_none(), "last page: {second}");
    for (query, code) in [
        ("limit=0", "invalid_limit"),
        ("limit=101", "invalid_limit"),
        ("cursor=%21%21", "invalid_cursor"),
        ("limit=many", "invalid_request"),
    ] {
        let r = admin_get(&app, &format!("/api/admin/users?{query}")).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(error_body(r).await["code"], code, "{query}");
    }
    // The operator's writes are audited, with the account they concern.
    assert!(
        operator_actions(&app)
            .await
            .contains(&("user.create".to_string(), Some(id.clone())))
    );
    app.finish().await;
}

async fn disabling_ends_everything_at_the_next_request(kind: Kind) {
    let Some(app) = spawn_app(kind, &config()).await else {
        return;
    };
    let uid = app.create_user("a@example.com").await;
    app.create_user("b@example.com").await;
    let a1 = app.signed_in("a@example.com").await;
    let a2 = app.signed_in("a@example.com").await;
    let b = app.signed_in("b@example.com").await;
    // A remembered browser too: its cookie must not bring the account back.
    let remembered = signed_in_browser(&app, "a@example.com", true).await;
    let session = |client: &reqwest::Client| client.get(app.url("/api/session")).send();
    assert_eq!(session(&remembered).await.unwrap().status(), StatusCode::OK);
    let change =
        ok_json(admin_post(&app, "/api/admin/users/a@example.com/disable", json!({})).await).await;
    assert_eq!(change["user"]["disabled"], true);
    assert_eq!(change["ended"]["sessions"], 3);
    assert_eq!(change["ended"]["remembered"], 1);
    // SEC-41 (P4): an operator's action takes effect on the very next request, and
    // remember-me fails.
    assert_eq!(app.check(&a1).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.check(&a2).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        session(&remembered).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.check(&b).await.status(),
        StatusCode::OK,
        "other accounts untouched"
    );
    let (r, _) = app.api_sign_in("a@example.com", PASSWORD).await;
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "a disabled account cannot sign in"
    );
    // Enabling lets it sign in again; it restores nothing.
    let change =
        ok_json(admin_post(&app, &format!("/api/admin/users/{uid}/enable"), json!({})).await).await;
    assert_eq!(change["user"]["disabled"], false);
    assert_eq!(change["ended"]["sessions"], 0);
    assert_eq!(app.check(&a1).await.status(), StatusCode::UNAUTHORIZED);
    app.signed_in("a@example.com").await;
    let actions = operator_actions(&app).await;
    assert_eq!(
        actions[..2],
        [
            ("user.enable".to_string(), Some(uid.clone())),
            ("user.disable".to_string(), Some(uid.clone())),
        ],
        "newest first"
    );
    let r = admin_post(
        &app,
        "/api/admin/users/nobody@example.com/disable",
        json!({}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    app.finish().await;
}

async fn reset_factors_removes_them_and_ends_sessions(kind: Kind) {
    let Some(app) = spawn_app(kind, &config()).await else {
        return;
    };
    let uid = app.create_user("a@example.com").await;
    let before = app.signed_in("a@example.com").await;
    crate::flows::with_email_factor(&app, &uid).await;
    let (r, _) = app.api_sign_in("a@example.com", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED, "the factor is asked for");
    let reset = ok_json(
        admin_post(
            &app,
            "/api/admin/users/a@example.com/reset-factors",
            json!({}),
        )
        .await,
    )
    .await;
    assert_eq!(reset["factors_removed"], 1);
    assert_eq!(reset["ended"]["sessions"], 1);
    // R7, SEC-40: what the old factors protected ends at once.
    assert_eq!(app.check(&before).await.status(), StatusCode::UNAUTHORIZED);
    // The next sign-in needs the password only.
    app.signed_in("a@example.com").await;
    assert!(
        operator_actions(&app)
            .await
            .contains(&("user.reset_factors".to_string(), Some(uid)))
    );
    app.finish().await;
}

async fn sessions_are_listed_and_ended_by_handle_and_user(kind: Kind) {
    let Some(app) = spawn_app(kind, &config()).await else {
        return;
    };
    let uid = app.create_user("a@example.com").await;
    let a1 = app.signed_in("a@example.com").await;
    let a2 = app.signed_in("a@example.com").await;
    let lines = ok_json(admin_get(&app, &format!("/api/admin/users/{uid}/sessions")).await).await;
    let lines = lines.as_array().unwrap();
    assert_eq!(lines.len(), 2);
    assert!(lines.iter().all(|l| l["kind"] == "session"), "{lines:?}");
    // The older path answers the same list.
    let old = ok_json(admin_get(&app, "/api/admin/users/a@example.com/tokens").await).await;
    assert_eq!(old.as_array().unwrap().len(), 2);
    let handle = lines[0]["handle"].as_str().unwrap();
    let ended = ok_json(
        admin_post(
            &app,
            &format!("/api/admin/sessions/{handle}/revoke"),
            json!({}),
        )
        .await,
    )
    .await;
    assert_eq!(ended, json!({ "sessions": 1, "remembered": 0 }));
    // SEC-41: effective on the next request; exactly the one session.
    let statuses = [app.check(&a1).await.status(), app.check(&a2).await.status()];
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::UNAUTHORIZED)
            .count(),
        1
    );
    let r = admin_post(
        &app,
        &format!("/api/admin/sessions/{handle}/revoke"),
        json!({}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND, "already ended");
    let ended =
        ok_json(admin_post(&app, "/api/admin/users/a@example.com/revoke", json!({})).await).await;
    assert_eq!(ended["sessions"], 1);
    assert_eq!(app.check(&a1).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.check(&a2).await.status(), StatusCode::UNAUTHORIZED);
    let actions = operator_actions(&app).await;
    assert_eq!(
        actions[0],
        ("sessions.revoke_user".to_string(), Some(uid.clone()))
    );
    assert_eq!(
        actions[1],
        (format!("sessions.revoke {handle}"), Some(uid.clone()))
    );
    // Reads are operator actions too: what was looked at, and whose.
    assert!(
        actions.contains(&("users.sessions".to_string(), Some(uid))),
        "{actions:?}"
    );
    app.finish().await;
}

async fn events_are_newest_first_filtered_and_paged(kind: Kind) {
    let Some(app) = spawn_app(kind, &config()).await else {
        return;
    };
    let a = app.create_user("a@example.com").await;
    app.create_user("b@example.com").await;
    app.signed_in("a@example.com").await;
    app.api_sign_in("a@example.com", "wrong password").await;
    app.signed_in("b@example.com").await;
    let all = ok_json(admin_get(&app, "/api/admin/events").await).await;
    let events = all["events"].as_array().unwrap();
    let ids: Vec<i64> = events.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");
    assert!(all.get("next_cursor").is_none());
    let of_a = ok_json(
        admin_get(
            &app,
            "/api/admin/events?user=a@example.com&kind=sign_in_failed",
        )
        .await,
    )
    .await;
    let of_a = of_a["events"].as_array().unwrap();
    assert_eq!(of_a.len(), 1, "{of_a:?}");
    assert_eq!(of_a[0]["user_id"], a.as_str());
    assert_eq!(of_a[0]["kind"], "sign_in_failed");
    // Pages of one, following the cursor, give the whole list in order.
    let mut paged = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/admin/events?limit=1&cursor={c}"),
            None => "/api/admin/events?limit=1".to_string(),
        };
        let page = ok_json(admin_get(&app, &path).await).await;
        // The reads of this test are recorded as they happen (newer than `ids`): leave them out.
        paged.extend(
            page["events"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["kind"] != "operator_action")
                .map(|e| e["id"].as_i64().unwrap()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
        assert!(paged.len() <= ids.len(), "the cursor moves on");
    }
    assert_eq!(paged, ids);
    // Each read above left its own row, never inside the page it read.
    let newest = ok_json(admin_get(&app, "/api/admin/events?limit=1").await).await;
    assert_eq!(newest["events"][0]["kind"], "operator_action");
    assert_eq!(newest["events"][0]["detail"], "events.list");
    assert!(newest["events"][0]["id"].as_i64().unwrap() > ids[0]);
    for (query, status, code) in [
        ("limit=1000", StatusCode::BAD_REQUEST, "invalid_limit"),
        (
            "cursor=yesterday",
            StatusCode::BAD_REQUEST,
            "invalid_cursor",
        ),
        (
            "user=nobody@example.com",
            StatusCode::NOT_FOUND,
            "not_found",
        ),
    ] {
        let r = admin_get(&app, &format!("/api/admin/events?{query}")).await;
        assert_eq!(r.status(), status, "{query}");
        assert_eq!(error_body(r).await["code"], code, "{query}");
    }
    app.finish().await;
}
