//! The OpenAPI document as the server serves it (issue #6 item 3): generated, 3.1, naming this
//! server's session cookie, and describing the error bodies the server actually writes.

use crate::harness::*;
use reqwest::StatusCode;
use serde_json::Value;
use tsuzuki_store::testing::Kind;

#[tokio::test]
async fn the_document_is_served_and_matches_the_server() {
    let Some(app) = spawn_app(Kind::Sqlite, "").await else {
        return;
    };
    let r = app
        .http
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/json");
    let doc: Value = r.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1."));
    let cookie = &doc["components"]["securitySchemes"]["session_cookie"];
    assert_eq!(cookie["in"], "cookie");
    assert_eq!(
        cookie["name"],
        app.cookie_name().as_str(),
        "this server's cookie"
    );
    for path in [
        "/api/sign-in",
        "/api/session",
        "/api/drafts/{key}",
        "/api/admin/events",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path}");
    }
    // A real error body has exactly the documented fields, and its code is in the enum.
    let detail = &doc["components"]["schemas"]["ErrorDetail"];
    let r = app.http.get(app.url("/api/session")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let body: Value = r.json().await.unwrap();
    let error = body["error"].as_object().unwrap();
    for field in detail["required"].as_array().unwrap() {
        assert!(
            error.contains_key(field.as_str().unwrap()),
            "{field} in {body}"
        );
    }
    for field in error.keys() {
        assert!(
            detail["properties"].get(field).is_some(),
            "undocumented {field}"
        );
    }
    let codes = detail["properties"]["code"]["enum"].as_array().unwrap();
    assert!(codes.contains(&body["error"]["code"]), "{body}");
    app.finish().await;
}
