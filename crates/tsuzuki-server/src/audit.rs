//! The one place where events become audit rows, metrics and log lines (architecture principle 6).
//!
//! Log lines name users by id and sessions by their public handle; they never contain a password,
//! a token or a session id. User-controlled strings (user agents) are written with `Debug`
//! formatting, which escapes control characters, so they cannot forge log lines (SEC-73).

use std::sync::Arc;
use tsuzuki_core::clock::Timestamp;
use tsuzuki_core::events::EventKind;
use tsuzuki_store::{EventRecord, Store};

/// Who is on the other end of a request, as far as the server can tell.
#[derive(Debug, Clone)]
pub struct ClientInfo {
    pub ip: String,
    pub user_agent: String,
    /// SHA-256 of the browser cookie, if the request carried one: binds sign-in flows to the
    /// browser that started them and recognises a browser seen before (S7, S10).
    pub browser: Option<tsuzuki_core::token::TokenHash>,
}

#[derive(Clone)]
pub struct Audit {
    store: Arc<dyn Store>,
}

impl Audit {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Audit { store }
    }

    pub async fn record(
        &self,
        kind: EventKind,
        now: Timestamp,
        user_id: Option<&str>,
        session_handle: Option<&str>,
        client: Option<&ClientInfo>,
        detail: &str,
    ) {
        tracing::info!(
            event = kind.as_str(),
            user_id = user_id.unwrap_or(""),
            session = session_handle.unwrap_or(""),
            ip = client.map(|c| c.ip.as_str()).unwrap_or(""),
            user_agent = ?client.map(|c| c.user_agent.as_str()).unwrap_or(""),
            detail = ?detail,
            "audit"
        );
        let row = EventRecord {
            created_at: now,
            kind: kind.as_str().to_string(),
            user_id: user_id.map(str::to_string),
            session_handle: session_handle.map(str::to_string),
            ip: client.map(|c| c.ip.clone()),
            user_agent: client.map(|c| c.user_agent.clone()),
            detail: detail.to_string(),
        };
        if let Err(e) = self.store.record_event(&row).await {
            // An audit row that cannot be written must not turn a sign-in into an error page;
            // the log line above still carries the event.
            tracing::warn!(event = kind.as_str(), error = %e, "audit row not written");
        }
    }
}
