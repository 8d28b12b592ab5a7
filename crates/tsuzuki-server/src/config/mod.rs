//! Configuration: a TOML file plus `TSUZUKI_*` environment overrides, read in two phases.
//!
//! Phase one merges the file and the environment into one TOML table. Phase two ([`fields`])
//! walks the known keys, parses and validates each, and collects *every* problem (key and
//! reason) instead of stopping at the first, so that `tsuzuki config check` can list them all.
//! Unknown keys are errors too: a typo must not silently leave a default in force.
//!
//! Environment variables map to keys by lowercasing and splitting on `__`:
//! `TSUZUKI_SESSION__IDLE_TIMEOUT=5m` sets `session.idle_timeout`.

mod fields;
mod flows;
mod messaging;
mod proxy;
mod render;

use fields::Fields;
pub use flows::FlowConfig;
use ipnet::IpNet;
pub use messaging::{MailConfig, MailTls, SmsConfig, SmsFormat, redact_webhook_url};
pub use proxy::ProxyConfig;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tsuzuki_core::password_policy::PasswordPolicy;
use tsuzuki_core::remember::{Preset, RememberPolicy};
use tsuzuki_core::revocation::{RevocationPolicy, Revokes, Scope, SecurityEvent};
use tsuzuki_core::session::SessionPolicy;
use tsuzuki_core::throttle::ThrottlePolicy;

/// The default port: unassigned by IANA, so it rarely collides on a developer machine.
pub const DEFAULT_PORT: u16 = 8470;

/// Environment variables with the `TSUZUKI_` prefix that are not configuration keys.
const RESERVED_ENV: &[&str] = &[
    "TSUZUKI_CONFIG",
    "TSUZUKI_REQUIRE_POSTGRES",
    "TSUZUKI_TEST_POSTGRES_URL",
];

/// One invalid value: which key, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    pub key: String,
    pub reason: String,
}

impl std::fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.key, self.reason)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// The validated, typed configuration every other module reads.
#[derive(Clone)]
pub struct Config {
    pub listen: SocketAddr,
    /// The URL people and proxies reach tsuzuki at; decides cookie security.
    pub public_url: String,
    pub data_dir: PathBuf,
    pub database_url: String,
    pub database_max_connections: u32,
    pub session: SessionPolicy,
    pub session_cookie_name: String,
    /// How often expired sessions and stale counters are deleted.
    pub cleanup_interval: Duration,
    /// How long an expired session is kept so that its cookie still gets the precise reason
    /// (`idle_timeout`, `absolute_timeout`) rather than "unknown" (SEC-14).
    pub expired_retention: Duration,
    pub password: PasswordPolicy,
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    pub argon2_parallelism: u32,
    /// How many password hashes may run at once; the rest queue, so that a burst of sign-ins
    /// cannot take every core from session checks.
    pub hash_concurrency: usize,
    /// How long a sign-in waits for a hashing slot before answering 503.
    pub hash_queue_timeout: Duration,
    pub throttle_account: ThrottlePolicy,
    pub throttle_ip: ThrottlePolicy,
    pub throttle_second_factor: ThrottlePolicy,
    pub cache_capacity: u64,
    /// How often the revocation feed is read, bounding how long a session revoked by another
    /// process (CLI, another node) can still pass this node's cache.
    pub revocation_poll_interval: Duration,
    pub max_body_bytes: usize,
    pub max_header_bytes: usize,
    pub request_timeout: Duration,
    pub trusted_proxies: Vec<IpNet>,
    pub log_format: LogFormat,
    pub log_level: String,
    /// "Keep me signed in" (R10): lifetime, idle lifetime, rotation grace window.
    pub remember: RememberPolicy,
    pub remember_cookie_name: String,
    /// Which security event revokes what (R7).
    pub revocation: RevocationPolicy,
    /// How recent a real sign-in must be for sensitive operations (R12, SEC-65).
    pub reauth_window: Duration,
    /// SHA-256 of the operator token for the admin API (`tsuzuki admin new-token`); the admin
    /// API is off when unset.
    pub admin_token_sha256: Option<[u8; 32]>,
    /// SMTP delivery (`[mail]`); `None` = messages are logged, not sent.
    pub mail: Option<MailConfig>,
    /// The SMS provider's webhook (`[sms]`); `None` = text messages are logged, not sent.
    pub sms: Option<SmsConfig>,
    /// Sign-in flows, codes, authenticators, trusted devices, history and alerts (issue #4).
    pub flows: FlowConfig,
    /// Autosaved drafts: size, count and retention (S5).
    pub drafts: tsuzuki_core::drafts::DraftPolicy,
    /// Forward-auth policies, allowed return hosts and the shared cookie domain (issue #6).
    pub proxy: ProxyConfig,
    /// `tsuzuki serve --demo`: the demo inquiry page (`/demo/inquiry`) is served. Set by the
    /// binary, never by a configuration key; false otherwise.
    pub demo: bool,
}

impl std::fmt::Debug for Config {
    /// The redacted rendering: a `Config` printed by accident never leaks a database password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&render_effective(self))
    }
}

impl Config {
    /// Whether cookies must carry `Secure` and the `__Host-` prefix.
    pub fn is_https(&self) -> bool {
        self.public_url.starts_with("https://")
    }

    /// The origin (scheme://host[:port]) of the public URL, for Origin checks.
    pub fn public_origin(&self) -> String {
        let rest = self
            .public_url
            .split_once("://")
            .map(|(_, r)| r)
            .unwrap_or("");
        let host = rest.split('/').next().unwrap_or("");
        let scheme = if self.is_https() { "https" } else { "http" };
        format!("{scheme}://{host}")
    }

    /// Defaults only: what `tsuzuki serve` uses with no file and no environment.
    pub fn defaults() -> Config {
        load_from(None, std::iter::empty()).expect("defaults are valid")
    }
}

/// Load from an optional file and the process environment.
pub fn load(path: Option<&Path>) -> Result<Config, Vec<ConfigIssue>> {
    let text = match path {
        Some(p) => Some(std::fs::read_to_string(p).map_err(|e| {
            vec![ConfigIssue {
                key: "--config".into(),
                reason: format!("cannot read {}: {e}", p.display()),
            }]
        })?),
        None => None,
    };
    load_from(text.as_deref(), std::env::vars())
}

/// Load from TOML text and environment pairs. Separate from [`load`] so tests need no files or
/// process-wide environment changes.
pub fn load_from(
    toml_text: Option<&str>,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Config, Vec<ConfigIssue>> {
    let mut table = match toml_text {
        Some(text) => text.parse::<toml::Table>().map_err(|e| {
            vec![ConfigIssue {
                key: "(file)".into(),
                reason: format!("not valid TOML: {}", e.message()),
            }]
        })?,
        None => toml::Table::new(),
    };
    let mut issues = Vec::new();
    for (name, value) in env {
        let Some(rest) = name.strip_prefix("TSUZUKI_") else {
            continue;
        };
        if RESERVED_ENV.contains(&name.as_str())
            || rest.starts_with("TEST_")
            || rest.starts_with("REQUIRE_")
        {
            continue;
        }
        let path: Vec<String> = rest.split("__").map(|p| p.to_ascii_lowercase()).collect();
        if let Err(reason) = fields::set_path(&mut table, &path, toml::Value::String(value)) {
            issues.push(ConfigIssue {
                key: name.clone(),
                reason,
            });
        }
    }
    let mut f = Fields::new(table, issues);
    let config = resolve(&mut f);
    let issues = f.finish();
    if issues.is_empty() {
        Ok(config)
    } else {
        Err(issues)
    }
}

fn resolve(f: &mut Fields) -> Config {
    let listen = f.socket_addr("listen", SocketAddr::from(([127, 0, 0, 1], DEFAULT_PORT)));
    let data_dir = PathBuf::from(f.string("data_dir", "tsuzuki-data"));
    let default_public = format!("http://localhost:{}", listen.port());
    let public_url = f
        .string("public_url", &default_public)
        .trim_end_matches('/')
        .to_string();
    f.check("public_url", validate_public_url(&public_url));
    let default_db = format!(
        "sqlite://{}?mode=rwc",
        data_dir.join("tsuzuki.db").display()
    );
    let database_url = f.string("database.url", &default_db);
    f.check(
        "database.url",
        tsuzuki_store::Backend::from_url(&database_url)
            .map(|_| ())
            .ok_or_else(|| "must start with sqlite: or postgres://".to_string()),
    );
    let database_max_connections = f.integer("database.max_connections", 8, 1, 1000);

    let session = SessionPolicy {
        idle_timeout: f.duration(
            "session.idle_timeout",
            Duration::from_secs(30 * 60),
            Duration::from_secs(1),
        ),
        absolute_lifetime: f.duration(
            "session.absolute_lifetime",
            Duration::from_secs(12 * 3600),
            Duration::from_secs(1),
        ),
        touch_interval: f.duration(
            "session.touch_interval",
            Duration::from_secs(60),
            Duration::ZERO,
        ),
    };
    if session.idle_timeout > session.absolute_lifetime {
        f.issue(
            "session.idle_timeout",
            "must not be longer than session.absolute_lifetime",
        );
    }
    let session_cookie_name = f.string("session.cookie_name", "tsuzuki_session");
    f.check(
        "session.cookie_name",
        validate_cookie_name(&session_cookie_name),
    );
    let cleanup_interval = f.duration(
        "session.cleanup_interval",
        Duration::from_secs(300),
        Duration::from_secs(1),
    );
    let expired_retention = f.duration(
        "session.expired_retention",
        Duration::from_secs(24 * 3600),
        Duration::ZERO,
    );

    let min_length = f.integer("password.min_length", 12, 8, 1024);
    let max_length = f.integer("password.max_length", 128, 64, 4096);
    if min_length > max_length {
        f.issue("password.min_length", "must not exceed password.max_length");
    }
    // OWASP minimum for argon2id: 19 MiB, 2 iterations, 1 lane. Lower values are refused.
    let argon2_memory_kib = f.integer(
        "password.argon2_memory_kib",
        19_456,
        19_456,
        4 * 1024 * 1024,
    );
    let argon2_iterations = f.integer("password.argon2_iterations", 2, 2, 100);
    let argon2_parallelism = f.integer("password.argon2_parallelism", 1, 1, 64);
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let hash_concurrency = f.integer("password.hash_concurrency", (cores / 2).max(1), 1, 1024);
    let hash_queue_timeout = f.duration(
        "password.hash_queue_timeout",
        Duration::from_secs(10),
        Duration::from_millis(1),
    );

    let throttle_account = throttle(f, "throttle.account", ThrottlePolicy::per_account());
    let throttle_ip = throttle(f, "throttle.ip", ThrottlePolicy::per_ip());
    let throttle_second_factor = throttle(
        f,
        "throttle.second_factor",
        ThrottlePolicy::per_second_factor(),
    );

    let cache_capacity = f.integer("cache.capacity", 10_000u64, 0, 10_000_000);
    let revocation_poll_interval = f.duration(
        "cache.revocation_poll_interval",
        Duration::from_millis(250),
        Duration::from_millis(10),
    );

    let max_body_bytes = f.integer("http.max_body_bytes", 64 * 1024, 1024, 16 * 1024 * 1024);
    let max_header_bytes = f.integer("http.max_header_bytes", 16 * 1024, 8192, 1024 * 1024);
    let request_timeout = f.duration(
        "http.request_timeout",
        Duration::from_secs(30),
        Duration::from_secs(1),
    );
    let trusted_proxies = f.cidr_list("http.trusted_proxies");

    let remember = remember_policy(f);
    let remember_cookie_name = f.string("remember.cookie_name", "tsuzuki_remember");
    f.check(
        "remember.cookie_name",
        validate_cookie_name(&remember_cookie_name),
    );
    if remember_cookie_name == session_cookie_name {
        f.issue(
            "remember.cookie_name",
            "must differ from session.cookie_name",
        );
    }
    let revocation = revocation_policy(f);
    let reauth_window = f.duration(
        "session.reauth_window",
        Duration::from_secs(600),
        Duration::from_secs(1),
    );

    let admin_token_sha256 = match f.string("admin.token_sha256", "").as_str() {
        "" => None,
        hex => match data_encoding::HEXLOWER_PERMISSIVE
            .decode(hex.as_bytes())
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
        {
            Some(h) => Some(h),
            None => {
                f.issue(
                    "admin.token_sha256",
                    "must be 64 hexadecimal digits (see `tsuzuki admin new-token`)",
                );
                None
            }
        },
    };

    let log_format = match f.string("log.format", "text").as_str() {
        "text" => LogFormat::Text,
        "json" => LogFormat::Json,
        _ => {
            f.issue("log.format", "must be \"text\" or \"json\"");
            LogFormat::Text
        }
    };
    let log_level = f.string("log.level", "info");
    f.check(
        "log.level",
        tracing_subscriber::EnvFilter::try_new(&log_level)
            .map(|_| ())
            .map_err(|e| format!("not a log filter: {e}")),
    );

    let mail = messaging::mail(f);
    let sms = messaging::sms(f);
    let flows = flows::flows(f);
    let drafts = drafts_policy(f, max_body_bytes);
    let proxy = proxy::proxy(f, &public_url);

    Config {
        listen,
        public_url,
        data_dir,
        database_url,
        database_max_connections: u32::try_from(database_max_connections).unwrap_or(8),
        session,
        session_cookie_name,
        cleanup_interval,
        expired_retention,
        password: PasswordPolicy {
            min_length,
            max_length,
        },
        argon2_memory_kib,
        argon2_iterations,
        argon2_parallelism,
        hash_concurrency,
        hash_queue_timeout,
        throttle_account,
        throttle_ip,
        throttle_second_factor,
        cache_capacity,
        revocation_poll_interval,
        max_body_bytes,
        max_header_bytes,
        request_timeout,
        trusted_proxies,
        log_format,
        log_level,
        remember,
        remember_cookie_name,
        revocation,
        reauth_window,
        admin_token_sha256,
        mail,
        sms,
        flows,
        drafts,
        proxy,
        demo: false,
    }
}

fn drafts_policy(f: &mut Fields, max_body_bytes: usize) -> tsuzuki_core::drafts::DraftPolicy {
    let d = tsuzuki_core::drafts::DraftPolicy::default();
    // By default as large as the body limit allows, at most 48 KiB: lowering
    // http.max_body_bytes alone must not make the configuration invalid.
    let fitting = max_body_bytes.saturating_sub(4096).clamp(1024, 48 * 1024);
    let p = tsuzuki_core::drafts::DraftPolicy {
        max_bytes: f.integer("drafts.max_bytes", fitting, 1024, 16 * 1024 * 1024),
        retention: f.duration("drafts.retention", d.retention, Duration::from_secs(60)),
        max_per_account: f.integer("drafts.max_per_account", d.max_per_account, 1, 10_000),
    };
    // A draft travels in a JSON body with its key and page around it.
    if p.max_bytes + 4096 > max_body_bytes {
        f.issue(
            "drafts.max_bytes",
            "must be at least 4 KiB under http.max_body_bytes (the request also carries the page and the JSON around the draft)",
        );
    }
    p
}

fn remember_policy(f: &mut Fields) -> RememberPolicy {
    let preset_name = f.string("remember.preset", "balanced");
    let preset = Preset::from_name(&preset_name).unwrap_or_else(|| {
        f.issue(
            "remember.preset",
            "must be \"secure\" (7 days), \"balanced\" (14 days) or \"convenient\" (30 days)",
        );
        Preset::Balanced
    });
    let lifetime = f.duration(
        "remember.lifetime",
        preset.lifetime(),
        Duration::from_secs(60),
    );
    // Browsers cap cookies at 400 days (RFC 6265bis); a longer server lifetime would lie.
    if lifetime > Duration::from_secs(400 * 86_400) {
        f.issue(
            "remember.lifetime",
            "must be at most 400 days (browsers cap cookie lifetimes there)",
        );
    }
    let idle_lifetime = f.duration("remember.idle_lifetime", lifetime, Duration::from_secs(60));
    let grace = f.duration("remember.grace", Duration::from_secs(10), Duration::ZERO);
    if grace > Duration::from_secs(60) {
        f.issue(
            "remember.grace",
            "must be at most 60s: a longer window is a longer replay window",
        );
    }
    RememberPolicy {
        lifetime,
        idle_lifetime,
        grace,
    }
}

fn revocation_policy(f: &mut Fields) -> RevocationPolicy {
    let mut policy = RevocationPolicy::default();
    for event in SecurityEvent::ALL {
        let d = event.default_revokes();
        let mut scope = |kind: &str, default: Scope| {
            let key = format!("revocation.{}.{kind}", event.name());
            let value = f.string(&key, default.name());
            Scope::from_name(&value).unwrap_or_else(|| {
                f.issue(
                    &key,
                    "must be \"none\", \"others\" (all but the current device) or \"all\"",
                );
                default
            })
        };
        let revokes = Revokes {
            sessions: scope("sessions", d.sessions),
            remembered: scope("remembered", d.remembered),
            trusted_devices: scope("trusted_devices", d.trusted_devices),
        };
        policy.set(event, revokes);
    }
    policy
}

fn throttle(f: &mut Fields, prefix: &str, d: ThrottlePolicy) -> ThrottlePolicy {
    let p = ThrottlePolicy {
        free_attempts: f.integer(&format!("{prefix}.free_attempts"), d.free_attempts, 1, 1000),
        base_delay: f.duration(
            &format!("{prefix}.base_delay"),
            d.base_delay,
            Duration::from_secs(1),
        ),
        max_delay: f.duration(
            &format!("{prefix}.max_delay"),
            d.max_delay,
            Duration::from_secs(1),
        ),
        window: f.duration(
            &format!("{prefix}.window"),
            d.window,
            Duration::from_secs(1),
        ),
    };
    if p.base_delay > p.max_delay {
        f.issue(&format!("{prefix}.base_delay"), "must not exceed max_delay");
    }
    p
}

fn validate_public_url(url: &str) -> Result<(), String> {
    let rest = if let Some(r) = url.strip_prefix("https://") {
        r
    } else if let Some(r) = url.strip_prefix("http://") {
        // Plain http only where the browser treats it as secure anyway: the local machine.
        let host = r.split('/').next().unwrap_or("");
        let host = host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host);
        if !matches!(host, "127.0.0.1" | "[::1]")
            && !tsuzuki_core::return_to::is_loopback_host(host)
        {
            return Err(
                "must be https:// (plain http is allowed only for localhost and *.localhost)"
                    .into(),
            );
        }
        r
    } else {
        return Err("must start with https:// (or http://localhost)".into());
    };
    if rest.split('/').next().unwrap_or("").is_empty() {
        return Err("has no host".into());
    }
    Ok(())
}

fn validate_cookie_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        && !name.starts_with("__");
    if ok {
        Ok(())
    } else {
        Err("use 1–64 letters, digits, '_' or '-' (the __Host- prefix is added for https)".into())
    }
}

pub use render::render_effective;

#[cfg(test)]
mod tests;
