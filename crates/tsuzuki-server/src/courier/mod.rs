//! Sending messages to people: mail ([`Courier`]) and text messages ([`sms::SmsSender`]) carrying
//! sign-in codes and security notices.
//!
//! Real delivery: [`smtp::SmtpCourier`] (SMTP, `[mail]`) and [`sms::WebhookSms`] (an HTTP webhook
//! of an SMS provider, `[sms]`). Without configuration, [`LogCourier`] and [`sms::LogSms`] write a
//! log line naming the recipient and subject only — never the body, which carries codes and
//! links. Tests read what was sent from [`Outbox`] and [`sms::SmsOutbox`].

pub mod sms;
pub mod smtp;

pub use sms::{LogSms, Sms, SmsOutbox, SmsSender, WebhookSms};
pub use smtp::SmtpCourier;

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

impl Message {
    /// A message from the catalogues (`locales/*/mail.ftl`): the subject is `{key}-subject`, the
    /// body the messages `parts` one after another, each on its own lines; Japanese first, then
    /// English. Every argument goes in as text (a code's leading zero must stay).
    pub fn bilingual(
        to: &str,
        key: &str,
        parts: &[&str],
        args: &[(&'static str, &str)],
    ) -> Message {
        use crate::http::i18n::Lang;
        let subject = |lang: Lang| lang.t_str(&format!("{key}-subject"), args);
        let body = |lang: Lang| -> String {
            parts
                .iter()
                .map(|part| lang.t_str(part, args) + "\n")
                .collect()
        };
        Message {
            to: to.to_string(),
            subject: format!("[tsuzuki] {} / {}", subject(Lang::Ja), subject(Lang::En)),
            body: format!("{}\n{}", body(Lang::Ja), body(Lang::En)),
        }
    }
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
