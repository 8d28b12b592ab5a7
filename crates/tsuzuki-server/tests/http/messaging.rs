//! Message delivery against real servers: mail to aiosmtpd over SMTP, text messages to a local
//! webhook receiver. Senders are built from configuration text, as `tsuzuki serve` builds them.

use crate::sms_sink::SmsSink;
use crate::smtp_sink::SmtpSink;
use std::time::{Duration, Instant};
use tsuzuki_server::config::{MailConfig, SmsConfig, load_from};
use tsuzuki_server::courier::{Courier, Message, Sms, SmsSender, SmtpCourier, WebhookSms};

fn mail_config(table: &str) -> MailConfig {
    load_from(Some(&format!("[mail]\n{table}")), std::iter::empty())
        .unwrap_or_else(|e| panic!("mail config invalid: {e:?}"))
        .mail
        .expect("[mail] is configured")
}

fn sms_config(table: &str) -> SmsConfig {
    load_from(Some(&format!("[sms]\n{table}")), std::iter::empty())
        .unwrap_or_else(|e| panic!("sms config invalid: {e:?}"))
        .sms
        .expect("[sms] is configured")
}

/// A port on which nothing listens (bound, then released).
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port()
}

const SUBJECT: &str = "【tsuzuki】サインインコード / Your sign-in code";

/// Japanese then English, with what SMTP and MIME must carry untouched: a line longer than 78
/// characters, a line starting with a dot (SMTP dot-stuffing), "From " at a line start, `=` and
/// trailing spaces (quoted-printable), and the code itself.
const BODY: &str = "こんにちは、花子さん。\n\
サインインコードは 482913 です。このコードは10分間有効です。心当たりがない場合は、このメールを無視してください。パスワードを変更する必要はありません。\n\
.このコードを他の人に教えないでください。\n\
\n\
Hello Hanako,\n\
Your sign-in code is 482913. It is valid for 10 minutes. If you did not ask for it, ignore this mail = nothing changes.  \n\
From tsuzuki, with care.\n";

#[tokio::test]
async fn smtp_delivers_a_bilingual_message_intact() {
    let Some(server) = SmtpSink::start().await else {
        return;
    };
    let mail = mail_config(&format!(
        "smtp_host = \"127.0.0.1\"\nsmtp_port = {}\ntls = \"none\"\nfrom = \"つづき tsuzuki <no-reply@example.test>\"\n",
        server.port()
    ));
    let courier = SmtpCourier::new(&mail).expect("courier");
    courier
        .send(Message {
            to: "hanako@example.jp".into(),
            subject: SUBJECT.into(),
            body: BODY.into(),
        })
        .await
        .expect("delivered");

    // ASCII only: sent as 7-bit text, where a line of "." alone would end the mail early unless
    // the client dot-stuffs it.
    let ascii = "Line one\n.\n..two dots\nThe end, after a line longer than seventy-eight characters, which SMTP allows up to 998.\n";
    courier
        .send(Message {
            to: "ops@example.com".into(),
            subject: "Security notice".into(),
            body: ascii.into(),
        })
        .await
        .expect("delivered");

    let received = server.wait_for(2, Duration::from_secs(10)).await;
    assert_eq!(received.len(), 2);
    let m = received
        .iter()
        .find(|m| m.to == ["hanako@example.jp"])
        .expect("the bilingual mail");
    assert_eq!(m.from, "つづき tsuzuki <no-reply@example.test>");
    assert_eq!(m.subject, SUBJECT);
    assert_eq!(m.body.trim_end(), BODY.trim_end());
    let m = received
        .iter()
        .find(|m| m.to == ["ops@example.com"])
        .expect("the ASCII mail");
    assert_eq!(m.subject, "Security notice");
    assert_eq!(m.body.trim_end(), ascii.trim_end());
}

#[tokio::test]
async fn starttls_required_refuses_a_server_without_it() {
    let Some(server) = SmtpSink::start().await else {
        return;
    };
    // aiosmtpd started without a certificate does not offer STARTTLS: the courier must refuse
    // to go on in the clear, not fall back.
    let mail = mail_config(&format!(
        "smtp_host = \"127.0.0.1\"\nsmtp_port = {}\ntls = \"starttls\"\ntimeout = \"5s\"\n",
        server.port()
    ));
    let courier = SmtpCourier::new(&mail).expect("courier");
    let err = courier
        .send(Message {
            to: "hanako@example.jp".into(),
            subject: SUBJECT.into(),
            body: BODY.into(),
        })
        .await
        .expect_err("no STARTTLS, no mail");
    assert!(
        err.to_string()
            .contains(&format!("127.0.0.1:{}", server.port())),
        "{err}"
    );
    assert!(
        server.messages().is_empty(),
        "nothing was sent in the clear"
    );
}

#[tokio::test]
async fn unreachable_or_silent_smtp_servers_are_errors_within_the_timeout() {
    let secret = "s3cret-Pa55word";
    let message = || Message {
        to: "hanako@example.jp".into(),
        subject: SUBJECT.into(),
        body: BODY.into(),
    };
    let config = |port: u16| {
        mail_config(&format!(
            "smtp_host = \"127.0.0.1\"\nsmtp_port = {port}\ntls = \"none\"\nusername = \"tsuzuki\"\npassword = \"{secret}\"\ntimeout = \"1s\"\n"
        ))
    };
    let assert_safe = |text: &str| {
        assert!(!text.contains(secret), "password in {text:?}");
        assert!(
            !text.contains("482913") && !text.contains("花子"),
            "body in {text:?}"
        );
    };

    // Nothing listens: refused at once.
    let port = closed_port();
    let started = Instant::now();
    let err = SmtpCourier::new(&config(port))
        .unwrap()
        .send(message())
        .await
        .expect_err("nothing listens");
    assert!(started.elapsed() < Duration::from_secs(5));
    let text = err.to_string();
    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
    assert_safe(&text);

    // Something accepts but never greets: given up after mail.timeout, not held forever.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let started = Instant::now();
    let err = SmtpCourier::new(&config(port))
        .unwrap()
        .send(message())
        .await
        .expect_err("no greeting");
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(5),
        "{elapsed:?}"
    );
    let text = err.to_string();
    assert!(text.contains("no answer within 1s"), "{text}");
    assert_safe(&text);
    silent.abort();
}

/// Quotes, backslashes, line breaks, Japanese, `&`, `=`, `+`, `%` and a placeholder lookalike.
const SMS_BODY: &str =
    "tsuzuki: コードは \"482913\" です。\nYour code is \"482913\" \\ 10 min & 100% = yes + {to}";
const NUMBER: &str = "+81 90-1234-5678";

#[tokio::test]
async fn webhook_posts_headers_and_a_json_escaped_body() {
    let receiver = SmsSink::start(200).await;
    let config = sms_config(&format!(
        "webhook_url = \"{}/v1/messages?account=acme\"\n[sms.headers]\nAuthorization = \"Bearer sk_live_0123456789\"\nX-Tenant = \"acme\"\n",
        receiver.base
    ));
    let sender = WebhookSms::new(&config).expect("sender");
    let debug = format!("{sender:?} {config:?}");
    assert!(!debug.contains("sk_live_0123456789"), "{debug}");

    sender
        .send(Sms {
            to: NUMBER.into(),
            body: SMS_BODY.into(),
        })
        .await
        .expect("sent");

    let requests = receiver.requests();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/v1/messages?account=acme");
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("authorization"), Some("Bearer sk_live_0123456789"));
    assert_eq!(r.header("x-tenant"), Some("acme"));
    let json: serde_json::Value = serde_json::from_slice(&r.body).expect("the body is JSON");
    assert_eq!(json, serde_json::json!({"to": NUMBER, "body": SMS_BODY}));
}

#[tokio::test]
async fn webhook_posts_a_form_encoded_body() {
    let receiver = SmsSink::start(201).await;
    let config = sms_config(&format!(
        "webhook_url = \"{}/send\"\ncontent_type = \"application/x-www-form-urlencoded\"\nbody_template = \"From=tsuzuki&To={{to}}&Body={{body}}\"\n[sms.headers]\nX-Api-Key = \"k-secret\"\n",
        receiver.base
    ));
    WebhookSms::new(&config)
        .expect("sender")
        .send(Sms {
            to: NUMBER.into(),
            body: SMS_BODY.into(),
        })
        .await
        .expect("sent (any 2xx)");

    let requests = receiver.requests();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(
        r.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(r.header("x-api-key"), Some("k-secret"));
    let body = std::str::from_utf8(&r.body).expect("form bodies are ASCII");
    assert!(body.is_ascii() && !body.contains('\n'), "{body}");
    let url = reqwest::Url::parse(&format!("http://form.invalid/?{body}")).unwrap();
    let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    assert_eq!(
        pairs,
        vec![
            ("From".to_string(), "tsuzuki".to_string()),
            ("To".to_string(), NUMBER.to_string()),
            ("Body".to_string(), SMS_BODY.to_string()),
        ]
    );
}

#[tokio::test]
async fn webhook_error_status_is_an_error_naming_the_status_only() {
    let receiver = SmsSink::start(500).await;
    let config = sms_config(&format!(
        "webhook_url = \"{}/v1/messages\"\ntimeout = \"5s\"\n[sms.headers]\nAuthorization = \"Bearer sk_live_0123456789\"\n",
        receiver.base
    ));
    let err = WebhookSms::new(&config)
        .expect("sender")
        .send(Sms {
            to: NUMBER.into(),
            body: SMS_BODY.into(),
        })
        .await
        .expect_err("500 is not delivered");
    let text = err.to_string();
    assert!(text.contains("500"), "{text}");
    assert!(
        !text.contains("482913") && !text.contains("sk_live") && !text.contains("5678"),
        "{text}"
    );
    assert_eq!(receiver.requests().len(), 1, "one attempt, no silent retry");
}
