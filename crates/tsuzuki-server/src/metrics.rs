//! Prometheus metrics, in an explicit registry held by the application state so that tests read
//! the same numbers the scraper does. Names follow Prometheus conventions (`_total` counters).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Outcome {
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Status {
    pub class: &'static str,
}

const RESPONSE_CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

pub struct Metrics {
    registry: Registry,
    /// Sign-in attempts by outcome: success, invalid_credentials, throttled, invalid_input, error.
    pub sign_ins: Family<Outcome, Counter>,
    /// Session checks by outcome: valid, or the rejection code.
    pub session_checks: Family<Outcome, Counter>,
    pub sessions_created: Counter,
    /// Sessions found expired, by cause (idle_timeout, absolute_timeout).
    pub sessions_expired: Family<Outcome, Counter>,
    pub sessions_signed_out: Counter,
    /// Coalesced writes of session activity (S2: far fewer than session checks).
    pub session_touch_writes: Counter,
    pub session_cache_misses: Counter,
    pub revocations_applied: Counter,
    pub http_responses: Family<Status, Counter>,
    /// `http_responses` for 1xx..5xx, resolved once: every response counts itself with an atomic
    /// increment instead of a label lookup under the family's lock.
    response_classes: [Counter; 5],
    pub password_hashes_in_flight: Gauge,
    pub cleanup_deleted: Counter,
    /// Remember-me restores by outcome: restored, refused, unavailable.
    pub remember_restores: Family<Outcome, Counter>,
    pub remember_thefts: Counter,
    /// One-time codes sent, by channel (email, sms) (S8, S13).
    pub codes_sent: Family<Outcome, Counter>,
    /// Second-factor answers by outcome: success, or the error code (S13).
    pub second_factors: Family<Outcome, Counter>,
    /// Flows that ended without completing, by why (flow_expired, flow_locked).
    pub flows_ended: Family<Outcome, Counter>,
}

impl Metrics {
    /// Count one response with this status.
    pub fn count_response(&self, status: u16) {
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        self.response_classes[class].inc();
    }

    pub fn new(hashes_in_flight: Gauge) -> Metrics {
        let mut registry = Registry::with_prefix("tsuzuki");
        let m = Metrics {
            sign_ins: Family::default(),
            session_checks: Family::default(),
            sessions_created: Counter::default(),
            sessions_expired: Family::default(),
            sessions_signed_out: Counter::default(),
            session_touch_writes: Counter::default(),
            session_cache_misses: Counter::default(),
            revocations_applied: Counter::default(),
            http_responses: Family::default(),
            password_hashes_in_flight: hashes_in_flight,
            cleanup_deleted: Counter::default(),
            remember_restores: Family::default(),
            remember_thefts: Counter::default(),
            codes_sent: Family::default(),
            second_factors: Family::default(),
            flows_ended: Family::default(),
            registry: Registry::default(),
            response_classes: Default::default(),
        };
        let mut m = m;
        m.response_classes =
            RESPONSE_CLASSES.map(|class| m.http_responses.get_or_create(&Status { class }).clone());
        registry.register(
            "sign_ins",
            "Sign-in attempts by outcome",
            m.sign_ins.clone(),
        );
        registry.register(
            "session_checks",
            "Session checks by outcome",
            m.session_checks.clone(),
        );
        registry.register(
            "sessions_created",
            "Sessions created",
            m.sessions_created.clone(),
        );
        registry.register(
            "sessions_expired",
            "Sessions found expired, by cause",
            m.sessions_expired.clone(),
        );
        registry.register(
            "sessions_signed_out",
            "Sessions ended by sign-out",
            m.sessions_signed_out.clone(),
        );
        registry.register(
            "session_touch_writes",
            "Coalesced writes of session activity",
            m.session_touch_writes.clone(),
        );
        registry.register(
            "session_cache_misses",
            "Session checks that read the database",
            m.session_cache_misses.clone(),
        );
        registry.register(
            "revocations_applied",
            "Revocation feed entries applied to the cache",
            m.revocations_applied.clone(),
        );
        registry.register(
            "http_responses",
            "HTTP responses by status class",
            m.http_responses.clone(),
        );
        registry.register(
            "password_hashes_in_flight",
            "Password hashes running now",
            m.password_hashes_in_flight.clone(),
        );
        registry.register(
            "cleanup_deleted",
            "Expired sessions deleted by the cleanup job",
            m.cleanup_deleted.clone(),
        );
        registry.register(
            "remember_restores",
            "Remember-me restores by outcome",
            m.remember_restores.clone(),
        );
        registry.register(
            "remember_thefts",
            "Remember-me tokens presented after rotation (theft)",
            m.remember_thefts.clone(),
        );
        registry.register(
            "codes_sent",
            "One-time codes sent, by channel",
            m.codes_sent.clone(),
        );
        registry.register(
            "second_factors",
            "Second-factor answers, by outcome",
            m.second_factors.clone(),
        );
        registry.register(
            "flows_ended",
            "Sign-in flows that ended unfinished, by reason",
            m.flows_ended.clone(),
        );
        Metrics { registry, ..m }
    }

    /// The OpenMetrics text exposition.
    pub fn render_openmetrics(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }

    /// The classic Prometheus text format (0.0.4), for scrapers and tools that do not ask for
    /// OpenMetrics (`promtool check metrics`, curl).
    pub fn render_prometheus(&self) -> String {
        to_prometheus_text(&self.render_openmetrics())
    }
}

/// Convert OpenMetrics text to the classic format: a counter family's HELP and TYPE lines name
/// the `_total` series, and the `# UNIT` and `# EOF` lines go away.
fn to_prometheus_text(openmetrics: &str) -> String {
    let mut out = String::with_capacity(openmetrics.len());
    let mut pending_help: Option<&str> = None;
    for line in openmetrics.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            pending_help = Some(rest.split_once(' ').map(|(_, h)| h).unwrap_or(""));
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or((rest, "untyped"));
            let series = if kind == "counter" {
                format!("{name}_total")
            } else {
                name.to_string()
            };
            if let Some(help) = pending_help.take() {
                out.push_str(&format!("# HELP {series} {help}\n"));
            }
            out.push_str(&format!("# TYPE {series} {kind}\n"));
            continue;
        }
        if line.starts_with("# UNIT ") || line == "# EOF" {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classic_format_names_counter_series() {
        let m = Metrics::new(Default::default());
        m.sessions_created.inc();
        let text = m.render_prometheus();
        assert!(
            text.contains("# HELP tsuzuki_sessions_created_total Sessions created"),
            "{text}"
        );
        assert!(text.contains("# TYPE tsuzuki_sessions_created_total counter"));
        assert!(text.contains("tsuzuki_sessions_created_total 1"));
        assert!(text.contains("# TYPE tsuzuki_password_hashes_in_flight gauge"));
        assert!(!text.contains("# EOF"));
        assert!(m.render_openmetrics().ends_with("# EOF\n"));
    }
}
