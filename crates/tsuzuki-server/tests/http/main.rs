//! Integration tests: the real server on an ephemeral port, driven over HTTP, on SQLite and on
//! PostgreSQL. Time moves through the injected clock, never through sleeps.

mod account;
mod admin;
mod client;
mod drafts;
mod flows;
mod forward_auth;
mod harness;
mod history;
mod input;
mod messaging;
mod openapi;
mod outage;
mod pages;
mod proxies;
mod recovery;
mod remember;
mod second_factors;
mod sessions;
mod sms_sink;
mod smtp_sink;
mod throttle;

/// Generate one test per backend for each named async fn taking `tsuzuki_store::testing::Kind`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite { $( #[tokio::test] async fn $name() { super::$name(tsuzuki_store::testing::Kind::Sqlite).await } )* }
        mod postgres { $( #[tokio::test] async fn $name() { super::$name(tsuzuki_store::testing::Kind::Postgres).await } )* }
    };
}
