//! The effective configuration as TOML, for `tsuzuki config check`: every key with the value in
//! force, secrets redacted, so an operator sees what the server will really do.

use super::{Config, LogFormat};
use std::time::Duration;
use tsuzuki_core::throttle::ThrottlePolicy;

fn d(x: Duration) -> String {
    format!("{:?}", humantime::format_duration(x).to_string())
}

fn throttle(out: &mut String, name: &str, t: &ThrottlePolicy) {
    out.push_str(&format!(
        "\n[throttle.{name}]\nfree_attempts = {}\nbase_delay = {}\nmax_delay = {}\nwindow = {}\n",
        t.free_attempts,
        d(t.base_delay),
        d(t.max_delay),
        d(t.window)
    ));
}

pub fn render_effective(c: &Config) -> String {
    let mut out = format!(
        "listen = {:?}\npublic_url = {:?}\ndata_dir = {:?}\n\n[database]\nurl = {:?}\nmax_connections = {}\n",
        c.listen.to_string(),
        c.public_url,
        c.data_dir.display().to_string(),
        tsuzuki_store::backend::redact_url(&c.database_url),
        c.database_max_connections,
    );
    out.push_str(&format!(
        "\n[session]\nidle_timeout = {}\nabsolute_lifetime = {}\ntouch_interval = {}\ncookie_name = {:?}\ncookie_domain = {:?}\ncleanup_interval = {}\nexpired_retention = {}\nreauth_window = {}\n",
        d(c.session.idle_timeout),
        d(c.session.absolute_lifetime),
        d(c.session.touch_interval),
        c.session_cookie_name,
        c.proxy.cookie_domain.as_deref().unwrap_or(""),
        d(c.cleanup_interval),
        d(c.expired_retention),
        d(c.reauth_window),
    ));
    out.push_str(&format!(
        "\n[password]\nmin_length = {}\nmax_length = {}\nargon2_memory_kib = {}\nargon2_iterations = {}\nargon2_parallelism = {}\nhash_concurrency = {}\nhash_queue_timeout = {}\n",
        c.password.min_length,
        c.password.max_length,
        c.argon2_memory_kib,
        c.argon2_iterations,
        c.argon2_parallelism,
        c.hash_concurrency,
        d(c.hash_queue_timeout),
    ));
    throttle(&mut out, "account", &c.throttle_account);
    throttle(&mut out, "ip", &c.throttle_ip);
    throttle(&mut out, "second_factor", &c.throttle_second_factor);
    super::flows::render(&mut out, &c.flows);
    super::proxy::render(&mut out, &c.proxy);
    out.push_str(&format!(
        "\n[drafts]\nmax_bytes = {}\nretention = {}\nmax_per_account = {}\n",
        c.drafts.max_bytes,
        d(c.drafts.retention),
        c.drafts.max_per_account
    ));
    out.push_str(&format!(
        "\n[cache]\ncapacity = {}\nrevocation_poll_interval = {}\n",
        c.cache_capacity,
        d(c.revocation_poll_interval)
    ));
    let proxies: Vec<String> = c
        .trusted_proxies
        .iter()
        .map(|n| format!("{:?}", n.to_string()))
        .collect();
    out.push_str(&format!(
        "\n[http]\nmax_body_bytes = {}\nmax_header_bytes = {}\nrequest_timeout = {}\ntrusted_proxies = [{}]\n",
        c.max_body_bytes,
        c.max_header_bytes,
        d(c.request_timeout),
        proxies.join(", ")
    ));
    let format = match c.log_format {
        LogFormat::Text => "text",
        LogFormat::Json => "json",
    };
    out.push_str(&format!(
        "\n[log]\nformat = {format:?}\nlevel = {:?}\n",
        c.log_level
    ));
    out.push_str(&format!(
        "\n[remember]\nlifetime = {}\nidle_lifetime = {}\ngrace = {}\ncookie_name = {:?}\n",
        d(c.remember.lifetime),
        d(c.remember.idle_lifetime),
        d(c.remember.grace),
        c.remember_cookie_name
    ));
    out.push_str("\n# Which security event revokes what: none | others (all but the current device) | all.\n");
    for event in tsuzuki_core::revocation::SecurityEvent::ALL {
        let r = c.revocation.get(event);
        out.push_str(&format!(
            "[revocation.{}]\nsessions = {:?}\nremembered = {:?}\ntrusted_devices = {:?}\n",
            event.name(),
            r.sessions.name(),
            r.remembered.name(),
            r.trusted_devices.name()
        ));
    }
    if let Some(h) = &c.admin_token_sha256 {
        // A hash of a 256-bit token: safe to show, useless to replay.
        out.push_str(&format!(
            "\n[admin]\ntoken_sha256 = {:?}\n",
            data_encoding::HEXLOWER.encode(h)
        ));
    } else {
        out.push_str("\n# [admin] token_sha256 unset: the admin API is off.\n");
    }
    messaging(&mut out, c);
    out.push_str(
        "\n# The secret key is kept in <data_dir>/secret.key (mode 0600) and never printed.\n",
    );
    out
}

/// A TOML string (TOML's escapes, not Rust's: templates hold quotes, braces, any text).
fn s(x: &str) -> String {
    toml::Value::String(x.to_string()).to_string()
}

/// `[mail]` and `[sms]`, with the password and header values as `***`.
fn messaging(out: &mut String, c: &Config) {
    match &c.mail {
        Some(m) => {
            out.push_str(&format!(
                "\n[mail]\nsmtp_host = {}\nsmtp_port = {}\ntls = {}\nfrom = {}\ntimeout = {}\n",
                s(&m.smtp_host),
                m.smtp_port,
                s(m.tls.name()),
                s(&m.from),
                d(m.timeout),
            ));
            if let Some(user) = &m.username {
                out.push_str(&format!("username = {}\n", s(user)));
            }
            if m.password.is_some() {
                out.push_str("password = \"***\"\n");
            }
        }
        None => out.push_str("\n# [mail] smtp_host unset: mail is logged, not sent.\n"),
    }
    match &c.sms {
        Some(sms) => {
            out.push_str(&format!(
                "\n[sms]\nwebhook_url = {}\ncontent_type = {}\nbody_template = {}\ntimeout = {}\n",
                s(&super::redact_webhook_url(&sms.webhook_url)),
                s(&sms.content_type),
                s(&sms.body_template),
                d(sms.timeout),
            ));
            if !sms.headers.is_empty() {
                out.push_str("[sms.headers]\n");
                for (name, _) in &sms.headers {
                    out.push_str(&format!("{} = \"***\"\n", s(name)));
                }
            }
        }
        None => out.push_str("\n# [sms] webhook_url unset: text messages are logged, not sent.\n"),
    }
}
