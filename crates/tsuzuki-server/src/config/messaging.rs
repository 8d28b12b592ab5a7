//! `[mail]` (an SMTP server) and `[sms]` (an SMS provider's HTTP webhook): where sign-in codes and
//! security notices go. Each is off — messages are only logged — until its address is set
//! (`mail.smtp_host`, `sms.webhook_url`). Passwords and header values are secrets: `Debug` and
//! `tsuzuki config check` print `***` for them.

use super::fields::Fields;
use crate::courier::sms::render_body;
use reqwest::Url;
use reqwest::header::HeaderName;
use std::str::FromStr;
use std::time::Duration;

/// The sender used when `mail.from` is not set.
pub const DEFAULT_FROM: &str = "tsuzuki <no-reply@localhost>";
/// The SMS body template used with a JSON content type when `sms.body_template` is not set.
pub const DEFAULT_JSON_TEMPLATE: &str = r#"{"to": {to}, "body": {body}}"#;
/// The SMS body template used with a form content type when `sms.body_template` is not set.
pub const DEFAULT_FORM_TEMPLATE: &str = "to={to}&body={body}";

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailTls {
    /// Plain text: only for a relay on the same machine or a test server.
    None,
    /// A plain connection upgraded with STARTTLS; a server that does not offer it is refused
    /// rather than spoken to in the clear.
    StartTls,
    /// TLS from the first byte ("implicit TLS", usually port 465).
    Tls,
}

impl MailTls {
    pub fn name(self) -> &'static str {
        match self {
            MailTls::None => "none",
            MailTls::StartTls => "starttls",
            MailTls::Tls => "tls",
        }
    }

    pub fn from_name(name: &str) -> Option<MailTls> {
        match name {
            "none" => Some(MailTls::None),
            "starttls" => Some(MailTls::StartTls),
            "tls" => Some(MailTls::Tls),
            _ => None,
        }
    }
}

/// Mail delivery over SMTP.
#[derive(Clone, PartialEq, Eq)]
pub struct MailConfig {
    pub smtp_host: String,
    pub smtp_port: u16,
    pub tls: MailTls,
    pub username: Option<String>,
    /// Secret: never printed.
    pub password: Option<String>,
    /// The sender mailbox, `Name <address>` or a bare address; validated at load.
    pub from: String,
    /// Bound on connecting and on delivering one message: lettre's asynchronous transport bounds
    /// only the connection, and a server that stops answering must not hold a sign-in forever.
    pub timeout: Duration,
}

impl std::fmt::Debug for MailConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailConfig")
            .field("smtp_host", &self.smtp_host)
            .field("smtp_port", &self.smtp_port)
            .field("tls", &self.tls)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("from", &self.from)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// How `{to}` and `{body}` are escaped into the SMS webhook's body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmsFormat {
    /// As JSON strings, quotes included: `{"to": {to}}` becomes `{"to": "+8190…"}`.
    Json,
    /// Form-urlencoded: `to={to}` becomes `to=%2B8190…`.
    Form,
}

/// Text messages through an SMS provider's HTTP webhook (one POST per message).
#[derive(Clone, PartialEq, Eq)]
pub struct SmsConfig {
    /// https, or http to this machine only: the request carries the provider's credentials.
    pub webhook_url: String,
    /// Extra request headers, name and value, in name order — typically the provider's API key.
    /// Values are secrets: never printed.
    pub headers: Vec<(String, String)>,
    /// The request body, in which `{to}` and `{body}` are replaced by escaped values.
    pub body_template: String,
    /// The Content-Type header sent; decides [`SmsFormat`].
    pub content_type: String,
    pub format: SmsFormat,
    /// Bound on the whole request (connection, sending, answer).
    pub timeout: Duration,
}

impl std::fmt::Debug for SmsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(name, _)| (name.as_str(), "***"))
            .collect();
        f.debug_struct("SmsConfig")
            .field("webhook_url", &redact_webhook_url(&self.webhook_url))
            .field("headers", &headers)
            .field("body_template", &self.body_template)
            .field("content_type", &self.content_type)
            .field("format", &self.format)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// A URL with any password and query replaced by `***`: some providers take the API key in the
/// query string.
pub fn redact_webhook_url(url: &str) -> String {
    let Ok(mut parsed) = Url::parse(url) else {
        return "***".into();
    };
    if parsed.password().is_some() {
        let _ = parsed.set_password(Some("***"));
    }
    if parsed.query().is_some() {
        parsed.set_query(Some("***"));
    }
    parsed.to_string()
}

fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn non_empty(s: String) -> Option<String> {
    if s.is_empty() { None } else { Some(s) }
}

/// `[mail]`; `None` when `mail.smtp_host` is unset or empty. Every key is read either way, so a
/// misspelt one is still reported.
pub(super) fn mail(f: &mut Fields) -> Option<MailConfig> {
    let smtp_host = f.string("mail.smtp_host", "");
    let tls_name = f.string("mail.tls", "starttls");
    let tls = MailTls::from_name(&tls_name).unwrap_or_else(|| {
        f.issue(
            "mail.tls",
            "must be \"starttls\" (upgrade a plain connection, refusing servers without TLS), \
             \"tls\" (TLS from the start, usually port 465) or \"none\" (a relay on this machine)",
        );
        MailTls::StartTls
    });
    // 465 is the implicit-TLS port (RFC 8314); 587 is submission with STARTTLS.
    let default_port: u16 = if tls == MailTls::Tls { 465 } else { 587 };
    let smtp_port = f.integer("mail.smtp_port", default_port, 1, 65_535);
    let username = non_empty(f.string("mail.username", ""));
    let password = non_empty(f.string("mail.password", ""));
    let from = f.string("mail.from", DEFAULT_FROM);
    let timeout = f.duration(
        "mail.timeout",
        Duration::from_secs(10),
        Duration::from_secs(1),
    );

    if !smtp_host.is_empty() {
        if smtp_host.contains("://") || smtp_host.contains(char::is_whitespace) {
            f.issue(
                "mail.smtp_host",
                "must be a host name or address, without scheme (the port is mail.smtp_port)",
            );
        }
        if username.is_some() != password.is_some() {
            f.issue(
                "mail.username",
                "mail.username and mail.password go together: set both or neither",
            );
        }
        if tls == MailTls::None && password.is_some() && !is_loopback(&smtp_host) {
            f.issue(
                "mail.tls",
                "\"none\" would send the password in the clear to another machine; \
                 use \"starttls\" or \"tls\"",
            );
        }
    }
    if let Err(e) = lettre::message::Mailbox::from_str(&from) {
        f.issue(
            "mail.from",
            &format!("not a mailbox ({e}); use \"Name <address@example.com>\" or an address"),
        );
    }
    let smtp_host = non_empty(smtp_host)?;
    Some(MailConfig {
        smtp_host,
        smtp_port,
        tls,
        username,
        password,
        from,
        timeout,
    })
}

/// `[sms]`; `None` when `sms.webhook_url` is unset or empty.
pub(super) fn sms(f: &mut Fields) -> Option<SmsConfig> {
    let webhook_url = f.string("sms.webhook_url", "");
    let headers = f.string_table("sms.headers");
    let content_type = f.string("sms.content_type", "application/json");
    let media_type = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let format = if media_type == "application/json" || media_type.ends_with("+json") {
        SmsFormat::Json
    } else if media_type == "application/x-www-form-urlencoded" {
        SmsFormat::Form
    } else {
        f.issue(
            "sms.content_type",
            "must be \"application/json\" (or another JSON type) or \
             \"application/x-www-form-urlencoded\": it decides how {to} and {body} are escaped",
        );
        SmsFormat::Json
    };
    let default_template = match format {
        SmsFormat::Json => DEFAULT_JSON_TEMPLATE,
        SmsFormat::Form => DEFAULT_FORM_TEMPLATE,
    };
    let body_template = f.string("sms.body_template", default_template);
    let timeout = f.duration(
        "sms.timeout",
        Duration::from_secs(10),
        Duration::from_secs(1),
    );

    for (name, value) in &headers {
        let key = format!("sms.headers.{name}");
        match HeaderName::from_str(name) {
            Err(_) => f.issue(&key, "not a valid HTTP header name"),
            Ok(h) if h == reqwest::header::CONTENT_TYPE => {
                f.issue(&key, "set sms.content_type instead");
            }
            Ok(h) if h == reqwest::header::HOST || h == reqwest::header::CONTENT_LENGTH => {
                f.issue(&key, "is set by the HTTP client and cannot be configured");
            }
            Ok(_) => {}
        }
        // The value is a secret: the reason must not repeat it. Checked as text, not with
        // `HeaderValue::from_str`, which lets UTF-8 through as obs-text.
        if !crate::http::is_header_text(value) {
            f.issue(
                &key,
                "value must be visible ASCII (no line breaks or control characters)",
            );
        }
    }
    if !body_template.contains("{to}") || !body_template.contains("{body}") {
        f.issue("sms.body_template", "must contain both {to} and {body}");
    } else if format == SmsFormat::Json
        && serde_json::from_str::<serde_json::Value>(&render_body(
            &body_template,
            format,
            "+810000000000",
            "x",
        ))
        .is_err()
    {
        f.issue(
            "sms.body_template",
            "is not JSON once {to} and {body} are filled in (they become quoted JSON strings: \
             write {body}, not \"{body}\")",
        );
    }

    if webhook_url.is_empty() {
        return None;
    }
    match Url::parse(&webhook_url) {
        Ok(url) if url.scheme() == "https" && url.host_str().is_some() => {}
        Ok(url) if url.scheme() == "http" && url.host_str().is_some_and(is_loopback) => {}
        Ok(url) if url.scheme() == "http" => f.issue(
            "sms.webhook_url",
            "must be https:// (plain http is allowed only to this machine: the request carries \
             credentials and codes)",
        ),
        _ => f.issue(
            "sms.webhook_url",
            "must be an https:// URL such as \"https://sms.example.com/v1/messages\"",
        ),
    }
    Some(SmsConfig {
        webhook_url,
        headers,
        body_template,
        content_type,
        format,
        timeout,
    })
}
