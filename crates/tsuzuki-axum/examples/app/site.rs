//! The example application's routes, shared by `examples/app.rs` and the integration test (which
//! includes this file), so that the test exercises exactly what the example runs.
//!
//! - `/` is public: it greets a signed-in person by email and anyone else as a guest.
//! - `/profile` and `/api/me` need a session (page and JSON).
//! - `/settings/security` is sensitive: it needs a recent real sign-in (step-up).

use axum::Router;
use axum::response::Html;
use axum::routing::get;
use tsuzuki_axum::{Identity, Tsuzuki};

pub fn router(tsuzuki: &Tsuzuki) -> Router {
    let public = Router::new()
        .route("/", get(home))
        .layer(tsuzuki.optional());
    let protected = Router::new()
        .route("/profile", get(profile))
        .route("/api/me", get(me))
        .layer(tsuzuki.require());
    // The step-up layer checks the session itself; it needs no `require` around it.
    let sensitive = Router::new()
        .route("/settings/security", get(security))
        .layer(tsuzuki.step_up());
    public.merge(protected).merge(sensitive)
}

async fn home(me: Option<Identity>) -> Html<String> {
    let greeting = match me {
        Some(me) => format!("Hello, {}", escape(&me.email)),
        None => "Hello, guest. <a href=\"/profile\">Sign in</a>".to_string(),
    };
    page(&greeting)
}

async fn profile(me: Identity) -> Html<String> {
    page(&format!(
        "Hello, {}<p>Signed in with {}{}.</p><p><a href=\"/settings/security\">Security settings</a></p>",
        escape(&me.email),
        escape(&me.methods.join(" + ")),
        if me.remembered {
            " (remembered device)"
        } else {
            ""
        },
    ))
}

async fn me(me: Identity) -> axum::Json<Identity> {
    axum::Json(me)
}

async fn security(me: Identity) -> Html<String> {
    page(&format!(
        "Security settings of {}: you signed in recently.",
        escape(&me.email)
    ))
}

fn page(body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>tsuzuki example</title><body>{body}</body></html>"
    ))
}

/// Emails come from tsuzuki, but they are still text in HTML.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
