//! axum/tower middleware that checks every request's tsuzuki session.
//!
//! A host application builds one [`Tsuzuki`] with the addresses of its tsuzuki server and puts
//! one of its layers on the routes that need it:
//!
//! - [`Tsuzuki::require`]: the route needs a session. Browsers without one are sent to
//!   tsuzuki's sign-in page (and come back to the page they asked for); API clients get a 401
//!   JSON error carrying tsuzuki's code.
//! - [`Tsuzuki::optional`]: never rejects; handlers take `Option<Identity>` (public pages that
//!   greet a signed-in person).
//! - [`Tsuzuki::step_up`]: the route is sensitive and needs a recent real sign-in; browsers are
//!   sent to tsuzuki's re-authentication page, API clients get 401 `step_up_required`.
//!
//! Each layer asks `GET /auth/check` on the tsuzuki server, passing the browser's cookies
//! through, and puts an [`Identity`] into the request's extensions; handlers extract it. Valid
//! answers are cached for a short TTL (2 s by default) keyed by a SHA-256 of the session cookie:
//! **that TTL is the bound within which a sign-out or revocation takes effect here**. If tsuzuki
//! cannot be reached or fails, requests get 503 — the middleware never lets a request through
//! without an answer. Cookies tsuzuki sets while checking (a "keep me signed in" restore) are
//! relayed to the browser, and such answers are never cached.
//!
//! ```no_run
//! use axum::{Router, routing::get};
//! use tsuzuki_axum::{Identity, Tsuzuki};
//!
//! # fn app() -> Result<Router, tsuzuki_axum::BuildError> {
//! let tsuzuki = Tsuzuki::builder()
//!     .tsuzuki_url("http://127.0.0.1:8470")
//!     .app_url("http://127.0.0.1:3000")
//!     .build()?;
//! let app = Router::new()
//!     .route("/profile", get(|me: Identity| async move { format!("Hello, {}", me.email) }))
//!     .layer(tsuzuki.require());
//! # Ok(app) }
//! ```
//!
//! See `docs/axum-middleware.md` for what is sent to tsuzuki and the revocation bound.

mod builder;
mod cache;
mod check;
mod cookies;
mod identity;
mod layer;
mod respond;

pub use builder::{BuildError, Builder, Tsuzuki};
pub use identity::{Identity, MissingIdentity};
pub use layer::{Mode, TsuzukiLayer, TsuzukiService};
