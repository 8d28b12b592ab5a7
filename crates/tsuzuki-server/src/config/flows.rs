//! Configuration of sign-in flows and second factors (issue #4): `[flows]`, `[codes]`, `[totp]`,
//! `[trusted_devices]`, `[history]`, `[alerts]`, `[registration]`.

use super::fields::Fields;
use std::time::Duration;
use tsuzuki_core::alerts::AlertRules;
use tsuzuki_core::flow::FlowPolicy;
use tsuzuki_core::otp::CodePolicy;
use tsuzuki_core::totp::TotpPolicy;

#[derive(Debug, Clone)]
pub struct FlowConfig {
    /// Lifetime (extended by activity), hard limit and wrong-answer limit of a flow (S7).
    pub flow: FlowPolicy,
    /// How long an ended flow's row is kept, so that its URL still says "expired" and offers
    /// the one-click restart with the identifier (S7) instead of "unknown".
    pub ended_retention: Duration,
    /// Email and SMS codes: digits, validity, attempts, resend cooldowns, daily cap (S8).
    pub codes: CodePolicy,
    pub totp: TotpPolicy,
    /// The name authenticator apps show for tsuzuki's entries.
    pub totp_issuer: String,
    /// "Trust this device for N days" (S3).
    pub trusted_device_lifetime: Duration,
    /// How long the login history is kept (S10).
    pub history_retention: Duration,
    pub alerts: AlertRules,
    /// Self-registration (off by default; email verified by code before the first sign-in).
    pub registration_enabled: bool,
}

pub(super) fn flows(f: &mut Fields) -> FlowConfig {
    let d = FlowPolicy::default();
    let flow = FlowPolicy {
        lifetime: f.duration("flows.lifetime", d.lifetime, Duration::from_secs(10)),
        max_lifetime: f.duration(
            "flows.max_lifetime",
            d.max_lifetime,
            Duration::from_secs(10),
        ),
        max_failures: f.integer("flows.max_failures", d.max_failures, 1, 100),
    };
    if flow.lifetime > flow.max_lifetime {
        f.issue(
            "flows.lifetime",
            "must not be longer than flows.max_lifetime",
        );
    }
    let ended_retention = f.duration(
        "flows.ended_retention",
        Duration::from_secs(24 * 3600),
        Duration::ZERO,
    );

    let c = CodePolicy::default();
    let codes = CodePolicy {
        digits: f.integer("codes.digits", c.digits, 6, 10),
        lifetime: f.duration("codes.lifetime", c.lifetime, Duration::from_secs(30)),
        max_attempts: f.integer("codes.max_attempts", c.max_attempts, 1, 20),
        resend_cooldowns: cooldowns(f, "codes.resend_cooldowns", c.resend_cooldowns.clone()),
        daily_cap: f.integer("codes.daily_cap", c.daily_cap, 1, 1000),
    };
    if codes.lifetime > Duration::from_secs(600) {
        // SEC-51, NIST 63B: out-of-band codes live at most ten minutes.
        f.issue("codes.lifetime", "must be at most 10m");
    }
    if let Err(reason) = codes.validate() {
        f.issue("codes", reason);
    }

    let t = TotpPolicy::default();
    let totp = TotpPolicy {
        // RFC 6238 §5.2, SEC-47: at most one step either way; wider windows widen replays.
        skew_back: f.integer("totp.skew_back", t.skew_back, 0, 1),
        skew_forward: f.integer("totp.skew_forward", t.skew_forward, 0, 1),
        ..t
    };
    if let Err(reason) = totp.validate() {
        f.issue("totp", reason);
    }
    let totp_issuer = f.string("totp.issuer", "tsuzuki");
    if totp_issuer.trim().is_empty() || totp_issuer.contains(':') {
        f.issue("totp.issuer", "must be a non-empty name without ':'");
    }

    let trusted_device_lifetime = f.duration(
        "trusted_devices.lifetime",
        Duration::from_secs(30 * 86_400),
        Duration::from_secs(60),
    );
    if trusted_device_lifetime > Duration::from_secs(400 * 86_400) {
        f.issue(
            "trusted_devices.lifetime",
            "must be at most 400 days (browsers cap cookie lifetimes there)",
        );
    }
    let history_retention = f.duration(
        "history.retention",
        Duration::from_secs(90 * 86_400),
        Duration::from_secs(86_400),
    );
    let a = AlertRules::default();
    let alerts = AlertRules {
        failures_before_success: f.integer(
            "alerts.failures_before_success",
            a.failures_before_success,
            0,
            1000,
        ),
        failure_window: f.duration(
            "alerts.failure_window",
            a.failure_window,
            Duration::from_secs(60),
        ),
    };
    let registration_enabled = f.boolean("registration.enabled", false);
    FlowConfig {
        flow,
        ended_retention,
        codes,
        totp,
        totp_issuer,
        trusted_device_lifetime,
        history_retention,
        alerts,
        registration_enabled,
    }
}

/// The `[flows]`…`[registration]` sections of `tsuzuki config check`.
pub(super) fn render(out: &mut String, c: &FlowConfig) {
    let d = |x: Duration| format!("{:?}", humantime::format_duration(x).to_string());
    let cooldowns: Vec<String> = c
        .codes
        .resend_cooldowns
        .iter()
        .map(|x| humantime::format_duration(*x).to_string())
        .collect();
    out.push_str(&format!(
        "\n[flows]\nlifetime = {}\nmax_lifetime = {}\nmax_failures = {}\nended_retention = {}\n\
         \n[codes]\ndigits = {}\nlifetime = {}\nmax_attempts = {}\nresend_cooldowns = {:?}\ndaily_cap = {}\n\
         \n[totp]\nissuer = {:?}\nskew_back = {}\nskew_forward = {}\n\
         \n[trusted_devices]\nlifetime = {}\n\
         \n[history]\nretention = {}\n\
         \n[alerts]\nfailures_before_success = {}\nfailure_window = {}\n\
         \n[registration]\nenabled = {}\n",
        d(c.flow.lifetime),
        d(c.flow.max_lifetime),
        c.flow.max_failures,
        d(c.ended_retention),
        c.codes.digits,
        d(c.codes.lifetime),
        c.codes.max_attempts,
        cooldowns.join(", "),
        c.codes.daily_cap,
        c.totp_issuer,
        c.totp.skew_back,
        c.totp.skew_forward,
        d(c.trusted_device_lifetime),
        d(c.history_retention),
        c.alerts.failures_before_success,
        d(c.alerts.failure_window),
        c.registration_enabled,
    ));
}

/// A comma-separated list of durations (`"30s, 60s, 120s"`).
fn cooldowns(f: &mut Fields, key: &str, default: Vec<Duration>) -> Vec<Duration> {
    let text = f.string(key, "");
    if text.trim().is_empty() {
        return default;
    }
    let parsed: Result<Vec<Duration>, _> = text
        .split(',')
        .map(|p| humantime::parse_duration(p.trim()))
        .collect();
    match parsed {
        Ok(list) if !list.is_empty() && list.len() <= 10 => list,
        _ => {
            f.issue(
                key,
                "must be 1 to 10 comma-separated durations, e.g. \"30s, 60s, 120s\"",
            );
            default
        }
    }
}
