use super::*;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn zero_configuration_is_valid_and_safe() {
    let c = Config::defaults();
    assert_eq!(c.listen.to_string(), "127.0.0.1:8470");
    assert_eq!(c.public_url, "http://localhost:8470");
    assert!(
        c.database_url
            .starts_with("sqlite://tsuzuki-data/tsuzuki.db")
    );
    assert_eq!(
        c.session.idle_timeout,
        Duration::from_secs(1800),
        "S1 default idle 30 min"
    );
    assert_eq!(
        c.session.absolute_lifetime,
        Duration::from_secs(43_200),
        "S1 default absolute 12 h"
    );
    assert_eq!(
        (
            c.argon2_memory_kib,
            c.argon2_iterations,
            c.argon2_parallelism
        ),
        (19_456, 2, 1),
        "OWASP argon2id minimum"
    );
}

#[test]
fn file_then_environment() {
    let toml = "listen = \"127.0.0.1:9000\"\n[session]\nidle_timeout = \"5m\"\nabsolute_lifetime = \"1h\"\n";
    let c = load_from(
        Some(toml),
        env(&[("TSUZUKI_SESSION__IDLE_TIMEOUT", "10m"), ("PATH", "/bin")]),
    )
    .unwrap();
    assert_eq!(c.listen.port(), 9000);
    assert_eq!(
        c.public_url, "http://localhost:9000",
        "public URL follows the port"
    );
    assert_eq!(
        c.session.idle_timeout,
        Duration::from_secs(600),
        "environment wins over the file"
    );
    assert_eq!(c.session.absolute_lifetime, Duration::from_secs(3600));
}

#[test]
fn every_invalid_value_is_named_with_its_reason() {
    let toml = "[session]\nidle_timeout = \"soon\"\ncookie_nam = \"x\"\n[password]\nargon2_memory_kib = 1024\n";
    let issues = load_from(
        Some(toml),
        env(&[
            ("TSUZUKI_PUBLIC_URL", "http://example.com"),
            ("TSUZUKI_LOG__FORMAT", "xml"),
            ("TSUZUKI_HTTP__TRUSTED_PROXIES", "10.0.0.0/8, nope"),
        ]),
    )
    .unwrap_err();
    let keys: Vec<&str> = issues.iter().map(|i| i.key.as_str()).collect();
    for k in [
        "session.idle_timeout",
        "session.cookie_nam",
        "password.argon2_memory_kib",
        "public_url",
        "log.format",
        "http.trusted_proxies",
    ] {
        assert!(keys.contains(&k), "{k} missing from {keys:?}");
    }
    let public = issues.iter().find(|i| i.key == "public_url").unwrap();
    assert!(public.reason.contains("https"), "{}", public.reason);
    let unknown = issues
        .iter()
        .find(|i| i.key == "session.cookie_nam")
        .unwrap();
    assert!(unknown.reason.contains("unknown key"));
}

#[test]
fn reserved_and_test_variables_are_not_keys() {
    let c = load_from(
        None,
        env(&[
            ("TSUZUKI_REQUIRE_POSTGRES", "1"),
            ("TSUZUKI_TEST_POSTGRES_URL", "x"),
            ("TSUZUKI_CONFIG", "f"),
        ]),
    );
    assert!(c.is_ok());
}

#[test]
fn unknown_environment_key_is_reported() {
    let issues = load_from(None, env(&[("TSUZUKI_SESION__IDLE_TIMEOUT", "5m")])).unwrap_err();
    assert_eq!(issues[0].key, "sesion.idle_timeout");
}

#[test]
fn https_public_url_and_origin() {
    let c = load_from(
        None,
        env(&[("TSUZUKI_PUBLIC_URL", "https://auth.example.com/")]),
    )
    .unwrap();
    assert!(c.is_https());
    assert_eq!(c.public_origin(), "https://auth.example.com");
}

#[test]
fn rendered_configuration_redacts_secrets_and_parses_back() {
    let c = load_from(
        None,
        env(&[(
            "TSUZUKI_DATABASE__URL",
            "postgres://app:hunter2@db:5432/tsuzuki",
        )]),
    )
    .unwrap();
    let text = render_effective(&c);
    assert!(!text.contains("hunter2"));
    assert!(text.contains("postgres://app:***@db:5432/tsuzuki"));
    // The printed configuration is itself a valid configuration file (modulo the redaction).
    let again = load_from(Some(&text.replace("app:***@", "app@")), std::iter::empty()).unwrap();
    assert_eq!(again.session, c.session);
    assert_eq!(again.listen, c.listen);
}

#[test]
fn remember_presets_and_revocation_table() {
    let c = Config::defaults();
    assert_eq!(
        c.remember.lifetime,
        Duration::from_secs(14 * 86_400),
        "R10 default balanced"
    );
    assert_eq!(c.remember.grace, Duration::from_secs(10));
    assert_eq!(c.reauth_window, Duration::from_secs(600));
    let c = load_from(
        Some(
            "[remember]\npreset = \"secure\"\n[revocation.password_changed]\nsessions = \"all\"\n",
        ),
        std::iter::empty(),
    )
    .unwrap();
    assert_eq!(c.remember.lifetime, Duration::from_secs(7 * 86_400));
    use tsuzuki_core::revocation::{Scope, SecurityEvent};
    assert_eq!(
        c.revocation.get(SecurityEvent::PasswordChanged).sessions,
        Scope::All
    );
    assert_eq!(
        c.revocation.get(SecurityEvent::PasswordChanged).remembered,
        Scope::All
    );
    let issues = load_from(
        Some("[remember]\npreset = \"forever\"\ngrace = \"5m\"\n[revocation.password_changed]\nsessions = \"some\"\n"),
        std::iter::empty(),
    )
    .unwrap_err();
    let keys: Vec<&str> = issues.iter().map(|i| i.key.as_str()).collect();
    assert!(
        keys.contains(&"remember.preset")
            && keys.contains(&"remember.grace")
            && keys.contains(&"revocation.password_changed.sessions"),
        "{keys:?}"
    );
    // The printed table round-trips.
    let text = render_effective(&c);
    assert!(text.contains("[revocation.remember_theft]"));
    let again = load_from(Some(&text), std::iter::empty()).unwrap();
    assert_eq!(again.revocation, c.revocation);
    assert_eq!(again.remember, c.remember);
}

#[test]
fn mail_and_sms_are_off_by_default() {
    let c = Config::defaults();
    assert!(c.mail.is_none() && c.sms.is_none());
    let text = render_effective(&c);
    assert!(text.contains("# [mail] smtp_host unset"), "{text}");
}

#[test]
fn mail_defaults_and_invalid_tls_mode() {
    let c = load_from(
        None,
        env(&[("TSUZUKI_MAIL__SMTP_HOST", "smtp.example.com")]),
    )
    .unwrap();
    let mail = c.mail.unwrap();
    assert_eq!(mail.smtp_port, 587);
    assert_eq!(mail.tls, MailTls::StartTls);
    assert_eq!(mail.from, "tsuzuki <no-reply@localhost>");
    assert_eq!(mail.timeout, Duration::from_secs(10));
    let c = load_from(
        Some("[mail]\nsmtp_host = \"smtp.example.com\"\ntls = \"tls\"\n"),
        std::iter::empty(),
    )
    .unwrap();
    assert_eq!(
        c.mail.unwrap().smtp_port,
        465,
        "implicit TLS defaults to its own port"
    );

    let issues = load_from(
        Some("[mail]\nsmtp_host = \"smtp.example.com\"\ntls = \"ssl\"\nfrom = \"not a mailbox\"\n"),
        std::iter::empty(),
    )
    .unwrap_err();
    let tls = issues
        .iter()
        .find(|i| i.key == "mail.tls")
        .expect("mail.tls named");
    assert!(
        tls.reason.contains("\"starttls\"") && tls.reason.contains("\"none\""),
        "{tls}"
    );
    assert!(issues.iter().any(|i| i.key == "mail.from"), "{issues:?}");
}

#[test]
fn mail_password_needs_tls_to_another_machine() {
    let issues = load_from(
        Some("[mail]\nsmtp_host = \"smtp.example.com\"\ntls = \"none\"\nusername = \"u\"\npassword = \"p\"\n"),
        std::iter::empty(),
    )
    .unwrap_err();
    assert_eq!(issues[0].key, "mail.tls");
    assert!(issues[0].reason.contains("in the clear"));
    // A relay on this machine may be plain.
    let c = load_from(
        Some(
            "[mail]\nsmtp_host = \"127.0.0.1\"\nsmtp_port = 25\ntls = \"none\"\nusername = \"u\"\npassword = \"p\"\n",
        ),
        std::iter::empty(),
    );
    assert!(c.is_ok(), "{c:?}");
    let issues = load_from(
        Some("[mail]\nsmtp_host = \"smtp.example.com\"\nusername = \"u\"\n"),
        std::iter::empty(),
    )
    .unwrap_err();
    assert_eq!(issues[0].key, "mail.username");
}

#[test]
fn mail_password_is_redacted_in_the_rendering() {
    let c = load_from(
        Some("[mail]\nsmtp_host = \"smtp.example.com\"\nusername = \"tsuzuki\"\nfrom = \"つづき <auth@example.com>\"\n"),
        env(&[("TSUZUKI_MAIL__PASSWORD", "hunter2-smtp")]),
    )
    .unwrap();
    let mail = c.mail.as_ref().unwrap();
    assert_eq!(mail.password.as_deref(), Some("hunter2-smtp"));
    let text = render_effective(&c);
    assert!(!text.contains("hunter2"), "{text}");
    assert!(
        text.contains("[mail]") && text.contains("password = \"***\""),
        "{text}"
    );
    assert!(!format!("{c:?} {mail:?}").contains("hunter2"));
    // The printed configuration loads back (with the placeholder as the password).
    let again = load_from(Some(&text), std::iter::empty()).unwrap();
    let again = again.mail.unwrap();
    assert_eq!(
        (again.smtp_host.as_str(), again.from.as_str(), again.tls),
        (
            "smtp.example.com",
            "つづき <auth@example.com>",
            MailTls::StartTls
        )
    );
}

#[test]
fn sms_header_values_are_redacted_in_the_rendering() {
    let toml = "[sms]\nwebhook_url = \"https://sms.example.com/v1/messages?api_key=q-secret\"\nbody_template = '{\"to\": {to}, \"text\": {body}, \"from\": \"tsuzuki\"}'\n[sms.headers]\nAuthorization = \"Bearer h-secret\"\nX-Account = \"acct-secret\"\n";
    let c = load_from(Some(toml), std::iter::empty()).unwrap();
    let sms = c.sms.as_ref().unwrap();
    assert_eq!(sms.format, SmsFormat::Json);
    assert_eq!(sms.content_type, "application/json");
    assert_eq!(
        sms.headers,
        vec![
            ("Authorization".to_string(), "Bearer h-secret".to_string()),
            ("X-Account".to_string(), "acct-secret".to_string()),
        ]
    );
    let text = render_effective(&c);
    for secret in ["h-secret", "acct-secret", "q-secret"] {
        assert!(!text.contains(secret), "{secret} in {text}");
        assert!(!format!("{c:?} {sms:?}").contains(secret));
    }
    assert!(text.contains("\"Authorization\" = \"***\""), "{text}");
    // The rendering is valid TOML that loads back, template and all.
    let again = load_from(Some(&text), std::iter::empty()).unwrap();
    assert_eq!(again.sms.unwrap().body_template, sms.body_template);
}

#[test]
fn sms_problems_are_named() {
    let toml = "[sms]\nwebhook_url = \"http://sms.example.com/send\"\ncontent_type = \"text/plain\"\nbody_template = '{\"to\": \"{to}\"}'\n[sms.headers]\n\"Bad Name\" = \"x\"\nContent-Type = \"application/json\"\nX-Key = \"sk-1\\nsk-2\"\nX-Token = \"sk-caf\u{e9}\"\n";
    let issues = load_from(Some(toml), std::iter::empty()).unwrap_err();
    let keys: Vec<&str> = issues.iter().map(|i| i.key.as_str()).collect();
    for k in [
        "sms.webhook_url",
        "sms.content_type",
        "sms.body_template",
        "sms.headers.Bad Name",
        "sms.headers.Content-Type",
        "sms.headers.X-Key",
        // Not visible ASCII: an HTTP client would send it as obs-text, or refuse it.
        "sms.headers.X-Token",
    ] {
        assert!(keys.contains(&k), "{k} missing from {keys:?}");
    }
    assert!(
        !issues.iter().any(|i| i.reason.contains("sk-")),
        "values are not repeated"
    );
    // A JSON template must still be JSON once filled in.
    let issues = load_from(
        Some("[sms]\nwebhook_url = \"https://sms.example.com\"\nbody_template = '{\"to\": \"{to}\", \"body\": \"{body}\"}'\n"),
        std::iter::empty(),
    )
    .unwrap_err();
    assert_eq!(issues[0].key, "sms.body_template");
    assert!(
        issues[0].reason.contains("not JSON"),
        "{}",
        issues[0].reason
    );
    // Form content type: its own default template.
    let c = load_from(
        None,
        env(&[
            ("TSUZUKI_SMS__WEBHOOK_URL", "http://127.0.0.1:9/send"),
            (
                "TSUZUKI_SMS__CONTENT_TYPE",
                "application/x-www-form-urlencoded",
            ),
            ("TSUZUKI_SMS__HEADERS__AUTHORIZATION", "Basic abc"),
        ]),
    )
    .unwrap();
    let sms = c.sms.unwrap();
    assert_eq!(sms.format, SmsFormat::Form);
    assert_eq!(sms.body_template, "to={to}&body={body}");
    assert_eq!(sms.headers[0].0, "authorization");
}

#[test]
fn drafts_fit_in_the_body_limit() {
    // Lowering the body limit alone lowers the drafts' default with it; an explicit draft size
    // that cannot fit is named.
    let c = load_from(Some("[http]\nmax_body_bytes = 8192\n"), std::iter::empty()).unwrap();
    assert_eq!(c.drafts.max_bytes, 4096);
    assert_eq!(Config::defaults().drafts.max_bytes, 48 * 1024);
    let issues = load_from(
        Some("[http]\nmax_body_bytes = 8192\n[drafts]\nmax_bytes = 8000\n"),
        std::iter::empty(),
    )
    .unwrap_err();
    assert!(
        issues.iter().any(|i| i.key == "drafts.max_bytes"),
        "{issues:?}"
    );
}

/// Issue #6: forward-auth policies and the shared cookie domain are read, validated (every bad
/// rule named by its index and key) and shown by `config check`.
#[test]
fn forward_auth_policies_and_cookie_domain() {
    let toml = r#"
public_url = "https://auth.example.com"
[session]
cookie_domain = ".Example.com"
[forward_auth]
default_policy = "second_factor"
allowed_return_hosts = ["app.example.com", ".apps.example.com"]
[[forward_auth.rules]]
host = "app.example.com"
path = "/public"
policy = "public"
[[forward_auth.rules]]
path = "/admin"
policy = "recent_sign_in"
"#;
    let c = load_from(Some(toml), env(&[])).unwrap();
    assert_eq!(c.proxy.cookie_domain.as_deref(), Some("example.com"));
    assert_eq!(c.proxy.access.rules.len(), 2);
    use tsuzuki_core::access::Policy;
    assert_eq!(c.proxy.access.default, Policy::SecondFactor);
    assert_eq!(
        c.proxy
            .access
            .policy_for(Some("app.example.com"), Some("/public/x")),
        Policy::Public
    );
    assert!(
        c.proxy
            .returns
            .validate("https://x.apps.example.com/")
            .is_some()
    );
    assert!(c.proxy.returns.validate("https://evil.example/").is_none());
    let shown = render_effective(&c);
    for line in [
        "cookie_domain = \"example.com\"",
        "default_policy = \"second_factor\"",
        "[[forward_auth.rules]]",
        "policy = \"recent_sign_in\"",
    ] {
        assert!(shown.contains(line), "{line} missing from:\n{shown}");
    }
    // What `config check` prints loads back to the same configuration.
    let again = load_from(Some(&shown), env(&[])).unwrap();
    assert_eq!(again.proxy, c.proxy);

    let bad = r#"
public_url = "https://auth.example.com"
[session]
cookie_domain = "other.org"
[forward_auth]
default_policy = "open"
allowed_return_hosts = ["evil.com/x"]
[[forward_auth.rules]]
path = "admin"
policy = "recent_sign_in"
[[forward_auth.rules]]
path = "/x"
policy = "nobody"
colour = "red"
[[forward_auth.rules]]
host = "app.example.com"
"#;
    let issues = load_from(Some(bad), env(&[])).unwrap_err();
    let keys: Vec<&str> = issues.iter().map(|i| i.key.as_str()).collect();
    for k in [
        "session.cookie_domain",
        "forward_auth.default_policy",
        "forward_auth.allowed_return_hosts",
        "forward_auth.rules[0].path",
        "forward_auth.rules[1].policy",
        "forward_auth.rules[2].policy",
    ] {
        assert!(keys.contains(&k), "{k} missing from {keys:?}");
    }
}

#[test]
fn localhost_subdomains_may_use_plain_http() {
    let ok = load_from(
        Some("public_url = \"http://auth.tsuzuki.localhost:8470\"\n"),
        env(&[]),
    );
    assert!(ok.is_ok());
    let bad = load_from(
        Some("public_url = \"http://localhost.example.com\"\n"),
        env(&[]),
    );
    assert!(bad.is_err());
}
