//! Text messages: the [`SmsSender`] trait and its implementations.
//!
//! [`WebhookSms`] posts each message to an SMS provider's HTTP API, with a body built from the
//! configured template; [`LogSms`] (no `[sms]` configuration) logs the last two digits of the
//! number only; [`SmsOutbox`] keeps messages for tests. Bodies carry codes: they are never
//! logged, and errors name the HTTP status only.

use super::CourierError;
use crate::config::{SmsConfig, SmsFormat};
use async_trait::async_trait;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use std::str::FromStr;
use std::sync::{Arc, Mutex};

/// One text message. The body is bilingual like [`super::Message`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sms {
    pub to: String,
    pub body: String,
}

#[async_trait]
pub trait SmsSender: Send + Sync + 'static {
    async fn send(&self, sms: Sms) -> Result<(), CourierError>;
}

/// The last two digits of a number, which is all a log line may show of it.
fn number_tail(number: &str) -> String {
    let digits: Vec<char> = number.chars().filter(char::is_ascii_digit).collect();
    let tail: String = digits[digits.len().saturating_sub(2)..].iter().collect();
    format!("…{tail}")
}

/// Development default: a log line per message, naming the last two digits of the number.
pub struct LogSms;

#[async_trait]
impl SmsSender for LogSms {
    async fn send(&self, sms: Sms) -> Result<(), CourierError> {
        tracing::info!(to = %number_tail(&sms.to), "text message (log sender: not delivered)");
        Ok(())
    }
}

/// Keeps text messages in memory, for tests.
#[derive(Clone, Default)]
pub struct SmsOutbox(Arc<Mutex<Vec<Sms>>>);

impl SmsOutbox {
    pub fn messages(&self) -> Vec<Sms> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

#[async_trait]
impl SmsSender for SmsOutbox {
    async fn send(&self, sms: Sms) -> Result<(), CourierError> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(sms);
        Ok(())
    }
}

/// Fill `{to}` and `{body}` into `template`, escaped for `format`. One pass, so a placeholder
/// inside a value is left as it is.
pub fn render_body(template: &str, format: SmsFormat, to: &str, body: &str) -> String {
    let escape = |value: &str| match format {
        // A JSON string, quotes included; serde_json cannot fail on a &str.
        SmsFormat::Json => serde_json::to_string(value).unwrap_or_default(),
        SmsFormat::Form => form_urlencode(value),
    };
    let mut out = String::with_capacity(template.len() + to.len() + body.len() * 3);
    let mut rest = template;
    while let Some(i) = rest.find('{') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if let Some(after) = tail.strip_prefix("{to}") {
            out.push_str(&escape(to));
            rest = after;
        } else if let Some(after) = tail.strip_prefix("{body}") {
            out.push_str(&escape(body));
            rest = after;
        } else {
            out.push('{');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    out
}

/// application/x-www-form-urlencoded (the WHATWG URL standard's byte serializer): UTF-8 bytes,
/// `*-._` and alphanumerics kept, space as `+`, everything else `%XX`.
fn form_urlencode(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Sends each message as one POST to an SMS provider's HTTP API.
pub struct WebhookSms {
    client: reqwest::Client,
    url: reqwest::Url,
    /// The configured headers (values marked sensitive) and the Content-Type.
    headers: HeaderMap,
    template: String,
    format: SmsFormat,
}

impl std::fmt::Debug for WebhookSms {
    /// Header names and the URL without query or password: values are API keys.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.headers.keys().map(HeaderName::as_str).collect();
        f.debug_struct("WebhookSms")
            .field("url", &crate::config::redact_webhook_url(self.url.as_str()))
            .field("headers", &names)
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

impl WebhookSms {
    /// A sender for a validated configuration. Fails only if the HTTP client cannot be built
    /// (no TLS roots on this machine) or the configuration was made by hand and is invalid.
    pub fn new(config: &SmsConfig) -> Result<WebhookSms, CourierError> {
        let url = reqwest::Url::parse(&config.webhook_url)
            .map_err(|_| CourierError("SMS webhook: sms.webhook_url is not a URL".into()))?;
        let mut headers = HeaderMap::new();
        for (name, value) in &config.headers {
            let name = HeaderName::from_str(name)
                .map_err(|_| CourierError(format!("SMS webhook: {name:?} is not a header name")))?;
            let mut value = HeaderValue::from_str(value).map_err(|_| {
                CourierError(format!(
                    "SMS webhook: the value of header {name} is invalid"
                ))
            })?;
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        let content_type = HeaderValue::from_str(&config.content_type)
            .map_err(|_| CourierError("SMS webhook: sms.content_type is invalid".into()))?;
        headers.insert(CONTENT_TYPE, content_type);
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls_config()?)
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            // A redirect would resend credentials elsewhere, or turn the POST into a GET: a 3xx
            // is an error like any other non-2xx answer.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| CourierError(format!("SMS webhook: no HTTP client: {e}")))?;
        Ok(WebhookSms {
            client,
            url,
            headers,
            template: config.body_template.clone(),
            format: config.format,
        })
    }
}

/// rustls with the ring provider (the one lettre uses too, so one provider is compiled in) and
/// the platform's certificate store.
/// Make ring the process-wide TLS provider, for HTTP clients built without a preconfigured TLS
/// backend (tests' clients; reqwest is built with `rustls-no-provider` so that aws-lc is not
/// compiled). Idempotent.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn tls_config() -> Result<rustls::ClientConfig, CourierError> {
    use rustls_platform_verifier::BuilderVerifierExt;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_platform_verifier())
        .map(|b| b.with_no_client_auth())
        .map_err(|e| CourierError(format!("SMS webhook: TLS: {e}")))
}

#[async_trait]
impl SmsSender for WebhookSms {
    async fn send(&self, sms: Sms) -> Result<(), CourierError> {
        let body = render_body(&self.template, self.format, &sms.to, &sms.body);
        let answer = self
            .client
            .post(self.url.clone())
            .headers(self.headers.clone())
            .body(body)
            .send()
            .await
            // Without the URL: its query may hold the provider's key.
            .map_err(|e| CourierError(format!("SMS webhook: {}", e.without_url())))?;
        let status = answer.status();
        if !status.is_success() {
            // The status only: an error page may quote the request, codes included.
            return Err(CourierError(format!("SMS webhook answered {status}")));
        }
        tracing::info!(to = %number_tail(&sms.to), "text message handed to the SMS webhook");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_values_are_escaped_strings() {
        let t = r#"{"to": {to}, "text": {body}}"#;
        let out = render_body(t, SmsFormat::Json, "+8190", "a \"b\"\nこんにちは {to}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["to"], "+8190");
        assert_eq!(v["text"], "a \"b\"\nこんにちは {to}");
    }

    #[test]
    fn form_values_are_urlencoded() {
        let out = render_body(
            "To={to}&Body={body}&x={other}",
            SmsFormat::Form,
            "+81 90",
            "a&b=c/é",
        );
        assert_eq!(out, "To=%2B81+90&Body=a%26b%3Dc%2F%C3%A9&x={other}");
    }

    #[test]
    fn logs_show_two_digits() {
        assert_eq!(number_tail("+81 90-1234-5678"), "…78");
        assert_eq!(number_tail("7"), "…7");
    }
}
