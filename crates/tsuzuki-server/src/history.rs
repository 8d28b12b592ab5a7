//! The login history (S10): every sign-in attempt on a known account, and what follows a
//! successful one from a device and network never seen — a notice — or one the suspicious-
//! sign-in rules flag — revocation of long-lived credentials and a notice.

use crate::audit::{Audit, ClientInfo};
use crate::courier::{Courier, Message};
use std::sync::Arc;
use std::time::Duration;
use tsuzuki_core::alerts::{self, AlertRules, Assessment};
use tsuzuki_core::clock::{Clock, Timestamp};
use tsuzuki_core::device;
use tsuzuki_core::events::EventKind;
use tsuzuki_store::{SignInRecord, Store, StoreError, User};

#[derive(Clone)]
pub struct LoginHistory {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub audit: Audit,
    pub courier: Arc<dyn Courier>,
    pub rules: AlertRules,
    pub retention: Duration,
    /// Where "this wasn't me" links point (the public URL).
    pub public_url: String,
    /// Signs the "this wasn't me" links.
    pub not_me: crate::not_me::NotMeLinks,
}

/// Most entries `GET /api/history` and the history page show.
pub const MAX_ENTRIES: i64 = 200;

/// One attempt as the person sees it in their history (S10): when, how, what came of it, from
/// where. Never a token, a browser hash or another account's entry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct HistoryEntry {
    /// Unix seconds.
    pub at: i64,
    /// Method codes: `pwd`, `email`, `sms`, `totp`, `recovery`, `trusted`, or `code` for a
    /// second-factor answer that was wrong.
    pub methods: Vec<String>,
    /// `success`, `wrong_password`, `wrong_code`, …
    pub outcome: String,
    pub ip: String,
    /// "Firefox 132 on Linux".
    pub device: String,
    /// Signed in from a device and network never seen for the account.
    pub new_device: bool,
    /// Flagged by the suspicious-sign-in rules.
    pub suspicious: bool,
}

impl HistoryEntry {
    fn of(r: SignInRecord) -> Self {
        HistoryEntry {
            at: r.created_at.0,
            // Successes store the session's methods (`pwd,email`), failures the step (`pwd+code`).
            methods: r
                .methods
                .split([',', '+'])
                .filter(|m| !m.is_empty())
                .map(str::to_string)
                .collect(),
            outcome: r.outcome,
            device: device::describe(&r.user_agent).label(),
            ip: r.ip,
            new_device: r.new_device,
            suspicious: r.suspicious,
        }
    }
}

fn record(
    user_id: &str,
    now: Timestamp,
    methods: &str,
    outcome: &str,
    client: &ClientInfo,
) -> SignInRecord {
    SignInRecord {
        user_id: user_id.to_string(),
        created_at: now,
        methods: methods.to_string(),
        outcome: outcome.to_string(),
        ip: client.ip.clone(),
        network: alerts::network_of(&client.ip),
        user_agent: client.user_agent.clone(),
        browser_hash: client.browser,
        new_device: false,
        suspicious: false,
    }
}

impl LoginHistory {
    /// A failed attempt on a known account (`outcome`: `wrong_password`, `wrong_code`, …).
    /// History is best effort: a failure to write it never changes the answer.
    pub async fn failure(&self, user_id: &str, methods: &str, outcome: &str, client: &ClientInfo) {
        let row = record(user_id, self.clock.now(), methods, outcome, client);
        if let Err(e) = self.store.record_sign_in(&row).await {
            tracing::warn!(error = %e, "login history not written");
        }
    }

    /// A successful sign-in: judge it against the account's history, record it, and tell the
    /// person when it is new or suspicious. The caller applies the revocations a suspicious
    /// sign-in calls for (it knows the current device).
    pub async fn success(
        &self,
        user: &User,
        methods: &str,
        client: &ClientInfo,
    ) -> Result<Assessment, StoreError> {
        let now = self.clock.now();
        let network = alerts::network_of(&client.ip);
        let seen = self
            .store
            .familiarity(&user.id, client.browser.as_ref(), &network)
            .await?;
        let since = Timestamp(now.0 - self.rules.failure_window.as_secs() as i64);
        let failures = self.store.failures_since(&user.id, since).await?;
        let assessment = alerts::assess(seen, failures, &self.rules);
        let mut row = record(&user.id, now, methods, "success", client);
        row.new_device = assessment.new_device;
        row.suspicious = assessment.suspicious;
        self.store.record_sign_in(&row).await?;
        if assessment.new_device {
            let kind = if assessment.suspicious {
                EventKind::SuspiciousSignIn
            } else {
                EventKind::NewDeviceSignIn
            };
            self.audit
                .record(kind, now, Some(&user.id), None, Some(client), methods)
                .await;
            let link = format!(
                "{}/not-me/{}",
                self.public_url,
                self.not_me.issue(&user.id, now)
            );
            let message =
                new_device_message(&user.email, client, now, &link, assessment.suspicious);
            if let Err(e) = self.courier.send(message).await {
                tracing::warn!(error = %e, "new-device notice not sent");
            }
        }
        Ok(assessment)
    }

    /// The account's own history, newest first, within the retention period (entries older
    /// than that are gone or about to be).
    pub async fn of_user(
        &self,
        user_id: &str,
        limit: i64,
    ) -> Result<Vec<HistoryEntry>, StoreError> {
        let oldest = self.retention_start();
        Ok(self
            .store
            .sign_ins_of_user(user_id, limit.clamp(1, MAX_ENTRIES))
            .await?
            .into_iter()
            .filter(|r| r.created_at >= oldest)
            .map(HistoryEntry::of)
            .collect())
    }

    fn retention_start(&self) -> Timestamp {
        Timestamp(self.clock.now().0 - self.retention.as_secs() as i64)
    }

    /// Delete history older than the retention period, in small batches (letting live traffic
    /// in between). Returns how many entries went.
    pub async fn prune(&self) -> Result<u64, StoreError> {
        const BATCH: i64 = 1000;
        let before = self.retention_start();
        let mut total = 0;
        loop {
            let n = self.store.prune_sign_ins(before, BATCH).await?;
            total += n;
            if n < BATCH as u64 {
                return Ok(total);
            }
            tokio::task::yield_now().await;
        }
    }
}

fn new_device_message(
    to: &str,
    client: &ClientInfo,
    at: Timestamp,
    link: &str,
    suspicious: bool,
) -> Message {
    let device = device::describe(&client.user_agent).label();
    let when = crate::http::pages::human_time(at);
    let parts: &[&str] = if suspicious {
        &[
            "mail-new-device-body",
            "mail-new-device-suspicious",
            "mail-new-device-link",
        ]
    } else {
        &["mail-new-device-body", "mail-new-device-link"]
    };
    Message::bilingual(
        to,
        "mail-new-device",
        parts,
        &[
            ("when", &when),
            ("device", &device),
            ("ip", &client.ip),
            ("link", link),
        ],
    )
}
