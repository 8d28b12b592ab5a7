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

    /// Delete history older than the retention period, in small batches.
    pub async fn prune(&self) -> Result<u64, StoreError> {
        let before = Timestamp(self.clock.now().0 - self.retention.as_secs() as i64);
        self.store.prune_sign_ins(before, 1000).await
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
    let ip = &client.ip;
    let when = crate::http::pages::human_time(at);
    let (ja_extra, en_extra) = if suspicious {
        (
            "失敗が続いたあとのログインだったため、ログイン保持と信頼済みの端末を解除しました。\n",
            "It followed many failed attempts, so kept sign-ins and trusted devices were ended.\n",
        )
    } else {
        ("", "")
    };
    Message {
        to: to.to_string(),
        subject: "[tsuzuki] 新しい端末からのログイン / Sign-in from a new device".into(),
        body: format!(
            "新しい端末・ネットワークからログインがありました。\n\
             日時: {when}\n端末: {device}\nIPアドレス: {ip}\n{ja_extra}\
             心当たりがない場合は、次のリンクからすべての端末をログアウトし、パスワードを再設定してください:\n{link}\n\n\
             Your account was signed in to from a device and network not seen before.\n\
             Time: {when}\nDevice: {device}\nIP address: {ip}\n{en_extra}\
             If this wasn't you, sign out every device and reset your password here:\n{link}\n"
        ),
    }
}
