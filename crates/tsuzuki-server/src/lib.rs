//! The tsuzuki server: HTTP adapters, services and background jobs around the rules in
//! `tsuzuki-core` and the storage in `tsuzuki-store`.

pub mod account;
pub mod app;
pub mod audit;
pub mod config;
pub mod courier;
pub mod drafts;
pub mod factors;
pub mod flows;
pub mod history;
pub mod http;
pub mod metrics;
pub mod not_me;
pub mod operator;
pub mod passwords;
pub mod recovery;
pub mod remember;
pub mod secrets;
pub mod sessions;
pub mod signin;
