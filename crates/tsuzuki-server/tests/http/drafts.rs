//! Autosaved drafts (issue #5, S5): kept for the account, not the session — they survive an
//! expired session, a re-login and another device; limited in key, size, count and time.

use crate::both_backends;
use crate::harness::{TestApp, browser, error_code, signed_in_browser, spawn_app};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use tsuzuki_store::testing::Kind;

both_backends!(
    a_draft_outlives_its_session_and_its_device,
    drafts_belong_to_their_account,
    drafts_are_limited_in_key_size_and_count,
    drafts_expire_and_are_cleaned_up,
);

async fn put(app: &TestApp, b: &Client, key: &str, body: Value) -> reqwest::Response {
    b.put(app.url(&format!("/api/drafts/{key}")))
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn get(app: &TestApp, b: &Client, key: &str) -> reqwest::Response {
    b.get(app.url(&format!("/api/drafts/{key}")))
        .send()
        .await
        .unwrap()
}

async fn a_draft_outlives_its_session_and_its_device(kind: Kind) {
    // S5: typed on one device, the session expires, signed in again elsewhere: the draft is there.
    let Some(app) = spawn_app(kind, "[session]\nidle_timeout = \"10m\"\n").await else {
        return;
    };
    app.create_user("a@example.com").await;
    let laptop = signed_in_browser(&app, "a@example.com", false).await;
    let text = "お問い合わせの内容です。\nLine two, with \"quotes\".";
    let r = put(
        &app,
        &laptop,
        "support/inquiry",
        json!({"content": {"subject": "Refund", "body": text}, "page": "/support?step=2"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let saved: Value = r.json().await.unwrap();
    assert_eq!(saved["key"], "support/inquiry");
    assert_eq!(
        saved["expires_at"].as_i64().unwrap(),
        saved["updated_at"].as_i64().unwrap() + 30 * 86_400
    );

    app.advance(601);
    assert_eq!(
        get(&app, &laptop, "support/inquiry").await.status(),
        StatusCode::UNAUTHORIZED,
        "the session is over"
    );
    let phone = signed_in_browser(&app, "a@example.com", false).await;
    let r = get(&app, &phone, "support/inquiry").await;
    assert_eq!(r.status(), StatusCode::OK);
    let d: Value = r.json().await.unwrap();
    assert_eq!(d["content"]["body"], text, "every character kept");
    assert_eq!(d["page"], "/support?step=2");
    let listed: Value = phone
        .get(app.url("/api/drafts"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["drafts"][0]["key"], "support/inquiry");
    assert!(
        listed["drafts"][0].get("content").is_none(),
        "listings carry no content"
    );

    // Submitted: the draft goes.
    let r = phone
        .delete(app.url("/api/drafts/support/inquiry"))
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = get(&app, &phone, "support/inquiry").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(r).await, "draft_not_found");
    app.finish().await;
}

async fn drafts_belong_to_their_account(kind: Kind) {
    let Some(app) = spawn_app(kind, "").await else {
        return;
    };
    app.create_user("a@example.com").await;
    app.create_user("b@example.com").await;
    let a = signed_in_browser(&app, "a@example.com", false).await;
    let b = signed_in_browser(&app, "b@example.com", false).await;
    assert_eq!(
        put(&app, &a, "inquiry", json!({"content": "a's"}))
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        get(&app, &b, "inquiry").await.status(),
        StatusCode::NOT_FOUND,
        "b sees nothing"
    );
    assert_eq!(
        put(&app, &b, "inquiry", json!({"content": "b's"}))
            .await
            .status(),
        StatusCode::OK
    );
    let d: Value = get(&app, &a, "inquiry").await.json().await.unwrap();
    assert_eq!(d["content"], "a's", "b's save did not touch a's draft");
    let anonymous = browser();
    let r = get(&app, &anonymous, "inquiry").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    app.finish().await;
}

async fn drafts_are_limited_in_key_size_and_count(kind: Kind) {
    // Bad input gets a clear error and nothing is lost: the limits say their numbers.
    let Some(app) = spawn_app(kind, "[drafts]\nmax_bytes = 2048\nmax_per_account = 2\n").await
    else {
        return;
    };
    app.create_user("a@example.com").await;
    let a = signed_in_browser(&app, "a@example.com", false).await;
    let r = put(&app, &a, "bad%20key", json!({"content": 1})).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(r).await, "draft_key_invalid");
    let r = put(&app, &a, "big", json!({"content": "x".repeat(3000)})).await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "draft_too_large");
    assert!(
        body["error"]["hint"].as_str().unwrap().contains("2048"),
        "{body}"
    );
    for key in ["one", "two"] {
        assert_eq!(
            put(&app, &a, key, json!({"content": key})).await.status(),
            StatusCode::OK
        );
    }
    let r = put(&app, &a, "three", json!({"content": 3})).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(error_code(r).await, "too_many_drafts");
    assert_eq!(
        put(&app, &a, "two", json!({"content": "again"}))
            .await
            .status(),
        StatusCode::OK,
        "replacing one is always possible"
    );
    let r = a
        .put(app.url("/api/drafts/one"))
        .header("content-type", "text/plain")
        .body("{\"content\": 1}")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "SEC-61: JSON only"
    );
    app.finish().await;
}

async fn drafts_expire_and_are_cleaned_up(kind: Kind) {
    let Some(app) = spawn_app(kind, "[drafts]\nretention = \"1h\"\n[session]\nidle_timeout = \"2h\"\nabsolute_lifetime = \"4h\"\n").await else {
        return;
    };
    let uid = app.create_user("a@example.com").await;
    let a = signed_in_browser(&app, "a@example.com", false).await;
    assert_eq!(
        put(&app, &a, "old", json!({"content": 1})).await.status(),
        StatusCode::OK
    );
    app.advance(1800);
    assert_eq!(
        put(&app, &a, "young", json!({"content": 2})).await.status(),
        StatusCode::OK
    );
    app.advance(1801);
    assert_eq!(
        get(&app, &a, "old").await.status(),
        StatusCode::NOT_FOUND,
        "expired"
    );
    assert_eq!(get(&app, &a, "young").await.status(), StatusCode::OK);
    tsuzuki_server::app::cleanup_once(&app.state).await;
    let left: Vec<String> = app
        .state
        .store
        .drafts_of_user(&uid)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.form_key)
        .collect();
    assert_eq!(left, ["young"], "the expired row is deleted");
    app.finish().await;
}
