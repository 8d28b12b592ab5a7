//! Sending messages to people (security notifications now; codes with the sign-in flows).
//!
//! The default courier writes a log line with the recipient and subject only — never the body,
//! which will carry codes and links. Tests use [`Outbox`] to read what was sent. An SMTP courier
//! arrives with the sign-in flows issue.

use async_trait::async_trait;
use std::sync::{Arc, Mutex};

/// A message in both languages (P3): people get Japanese and English in one mail, since the
/// language of a person who is not in front of a browser is not known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub to: String,
    pub subject: String,
    pub body: String,
}

#[derive(Debug, thiserror::Error)]
#[error("message not sent: {0}")]
pub struct CourierError(pub String);

#[async_trait]
pub trait Courier: Send + Sync + 'static {
    async fn send(&self, message: Message) -> Result<(), CourierError>;
}

/// Development default: a log line per message.
pub struct LogCourier;

#[async_trait]
impl Courier for LogCourier {
    async fn send(&self, message: Message) -> Result<(), CourierError> {
        tracing::info!(to = %message.to, subject = %message.subject, "message (log courier: not delivered)");
        Ok(())
    }
}

/// Keeps messages in memory, for tests.
#[derive(Clone, Default)]
pub struct Outbox(Arc<Mutex<Vec<Message>>>);

impl Outbox {
    pub fn messages(&self) -> Vec<Message> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

#[async_trait]
impl Courier for Outbox {
    async fn send(&self, message: Message) -> Result<(), CourierError> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(message);
        Ok(())
    }
}
