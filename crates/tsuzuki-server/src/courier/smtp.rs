//! Mail over SMTP: [`SmtpCourier`], built from `[mail]` ([`MailConfig`]) with lettre.
//!
//! One connection per message, not lettre's pool: lettre's asynchronous transport bounds only the
//! connection, so a whole delivery is bounded here with `mail.timeout`, and a pooled connection
//! abandoned by that bound mid-transaction would be handed back to the pool and reused. Sign-in
//! codes and notices are few; a fresh connection each costs little.
//!
//! Errors name the server and what failed, never the body (codes) or the password; a refusal
//! carries the server's reply code but not its text, which may quote what it was sent.

use super::{Courier, CourierError, Message};
use crate::config::{MailConfig, MailTls};
use async_trait::async_trait;
use lettre::message::{Mailbox, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use std::str::FromStr;
use std::time::Duration;

pub struct SmtpCourier {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// `host:port`, for error messages.
    server: String,
    timeout: Duration,
}

impl std::fmt::Debug for SmtpCourier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpCourier")
            .field("server", &self.server)
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

impl SmtpCourier {
    /// A courier for a validated configuration. Fails when the sender is not a mailbox (a
    /// configuration made by hand) or TLS cannot be set up (no certificate store on this machine).
    pub fn new(config: &MailConfig) -> Result<SmtpCourier, CourierError> {
        let from = Mailbox::from_str(&config.from)
            .map_err(|e| CourierError(format!("mail.from is not a mailbox: {e}")))?;
        let server = format!("{}:{}", config.smtp_host, config.smtp_port);
        let tls_parameters = || {
            TlsParameters::new(config.smtp_host.clone())
                .map_err(|e| CourierError(format!("SMTP server {server}: TLS: {e}")))
        };
        let tls = match config.tls {
            MailTls::None => Tls::None,
            MailTls::StartTls => Tls::Required(tls_parameters()?),
            MailTls::Tls => Tls::Wrapper(tls_parameters()?),
        };
        let mut builder =
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(config.smtp_host.as_str())
                .port(config.smtp_port)
                .tls(tls)
                .timeout(Some(config.timeout));
        if let (Some(user), Some(password)) = (&config.username, &config.password) {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        Ok(SmtpCourier {
            transport: builder.build(),
            from,
            server,
            timeout: config.timeout,
        })
    }

    /// `<random@sender-domain>`: unique without revealing this machine's host name.
    fn message_id(&self) -> String {
        let random: [u8; 16] = tsuzuki_core::token::random_bytes();
        format!(
            "<{}@{}>",
            data_encoding::HEXLOWER.encode(&random),
            self.from.email.domain()
        )
    }
}

/// What went wrong, without the server's reply text (see the module documentation).
fn describe(e: &lettre::transport::smtp::Error) -> String {
    match e.status() {
        Some(code) if code.to_string() == "535" => {
            "authentication refused (535): check mail.username and mail.password".into()
        }
        Some(code) if e.is_permanent() => format!("refused ({code})"),
        Some(code) => format!("refused for now, try later ({code})"),
        // lettre's own words plus the I/O or TLS cause: no message content.
        None => e.to_string(),
    }
}

#[async_trait]
impl Courier for SmtpCourier {
    async fn send(&self, message: Message) -> Result<(), CourierError> {
        let to = Mailbox::from_str(&message.to)
            .map_err(|_| CourierError("the recipient is not a mail address".into()))?;
        let domain = to.email.domain().to_string();
        let mail = lettre::Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(message.subject.as_str())
            .message_id(Some(self.message_id()))
            // A MIME part (not `.body`): it brings MIME-Version, which mail filters expect.
            .singlepart(SinglePart::plain(message.body))
            .map_err(|e| CourierError(format!("mail not built: {e}")))?;
        match tokio::time::timeout(self.timeout, self.transport.send(mail)).await {
            Err(_) => Err(CourierError(format!(
                "SMTP server {}: no answer within {}",
                self.server,
                humantime::format_duration(self.timeout)
            ))),
            Ok(Err(e)) => Err(CourierError(format!(
                "SMTP server {}: {}",
                self.server,
                describe(&e)
            ))),
            Ok(Ok(_)) => {
                tracing::info!(to_domain = %domain, subject = %message.subject, "mail sent");
                Ok(())
            }
        }
    }
}
