//! Resumable sign-in flows as a service (S7–S9): open a flow by its URL id and browser cookie,
//! send and resend codes, switch methods, check answers.
//!
//! The rules (which step, when a flow ends, when a code may be sent, whether a code is right)
//! are in `tsuzuki_core::{flow, otp, totp, recovery}`; this module loads and stores rows, sends
//! messages and records events around them. Every write to a flow is a compare-and-set on its
//! version, so two tabs submitting the same step never both succeed.

mod messages;

use crate::audit::{Audit, ClientInfo};
use crate::config::FlowConfig;
use crate::courier::{Courier, SmsSender};
use crate::metrics::Metrics;
use crate::signin::SignIn;
use std::sync::Arc;
use tsuzuki_core::clock::{Clock, Timestamp};
use tsuzuki_core::events::EventKind;
use tsuzuki_core::flow::{FlowEnd, FlowKind, FlowState, Method, Step};
use tsuzuki_core::otp::{self, CodeState, CodeVerdict};
use tsuzuki_core::session::AuthMethod;
use tsuzuki_core::token::{SecretToken, TokenHash};
use tsuzuki_core::{recovery, sealing, totp};
use tsuzuki_store::{FactorRecord, FlowRecord, PendingCode, Store, StoreError, User};

/// Why a flow step did not go through. Each maps to one stable error code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlowError {
    /// Unknown id, or a flow that belongs to another browser: one answer for both, so a leaked
    /// URL tells nothing (SEC-15).
    NotFound,
    /// The flow can no longer be used; the page offers a restart with the identifier.
    Ended {
        end: FlowEnd,
        kind: FlowKind,
        identifier: String,
        return_to: String,
    },
    /// A wrong code. `attempts_left` for this code, `flow_left` for the flow.
    WrongCode {
        attempts_left: u32,
        flow_left: u32,
    },
    /// The code's validity is over: ask for a new one.
    CodeExpired,
    /// Too many wrong tries on this code: ask for a new one.
    CodeExhausted,
    /// The chosen method sends codes, and none was sent (or the last could not be).
    NoCode,
    /// An authenticator code that was already accepted once (SEC-48).
    Replayed,
    /// A new code cannot be sent yet.
    Cooldown {
        retry_after: u64,
    },
    DailyCap {
        retry_after: u64,
    },
    /// The account has no such method.
    MethodUnavailable,
    /// The same flow changed under this request (another tab): reload and try again.
    Conflict,
    /// Too many wrong second factors for this account or address (SEC-46).
    Throttled {
        retry_after: u64,
    },
    /// The message with the code could not be sent.
    SendFailed,
    Unavailable,
}

impl From<StoreError> for FlowError {
    fn from(e: StoreError) -> Self {
        tracing::warn!(error = %e, "store failed during a flow");
        FlowError::Unavailable
    }
}

impl FlowError {
    pub fn code(&self) -> &'static str {
        match self {
            FlowError::NotFound => "flow_not_found",
            FlowError::Ended { end, .. } => end.code(),
            FlowError::WrongCode { .. } => "code_invalid",
            FlowError::CodeExpired => "code_expired",
            FlowError::CodeExhausted => "code_attempts_exceeded",
            FlowError::NoCode => "code_not_sent",
            FlowError::Replayed => "code_already_used",
            FlowError::Cooldown { .. } => "resend_cooldown",
            FlowError::DailyCap { .. } => "resend_daily_cap",
            FlowError::MethodUnavailable => "method_unavailable",
            FlowError::Conflict => "flow_conflict",
            FlowError::Throttled { .. } => "too_many_attempts",
            FlowError::SendFailed => "code_send_failed",
            FlowError::Unavailable => "service_unavailable",
        }
    }
}

/// A second factor that was proved.
#[derive(Debug, Clone)]
pub struct Proved {
    pub flow: FlowRecord,
    pub method: AuthMethod,
}

#[derive(Clone)]
pub struct Flows {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub config: Arc<FlowConfig>,
    pub signin: SignIn,
    pub audit: Audit,
    pub metrics: Arc<Metrics>,
    pub courier: Arc<dyn Courier>,
    pub sms: Arc<dyn SmsSender>,
    /// HMAC key for one-time codes (bound to their flow).
    pub code_key: [u8; 32],
    /// HMAC key for recovery codes.
    pub recovery_key: [u8; 32],
    /// Encryption key for authenticator secrets at rest (SEC-47).
    pub seal_key: [u8; 32],
}

/// What starting a flow needs to know besides the account.
pub struct Start<'a> {
    pub kind: FlowKind,
    pub step: Step,
    pub identifier: &'a str,
    pub remember: bool,
    pub return_to: &'a str,
    pub session_hash: Option<TokenHash>,
    pub payload: String,
    /// The browser cookie's hash: the flow is bound to it.
    pub browser: TokenHash,
}

impl Flows {
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// The confirmed second factors of an account, as flow methods (recovery codes included
    /// when some are left).
    pub async fn methods_of(&self, user_id: &str) -> Result<Vec<Method>, StoreError> {
        let mut methods: Vec<Method> = Vec::new();
        for f in self.store.factors_of_user(user_id).await? {
            if f.confirmed_at.is_some() && !methods.contains(&f.method) {
                methods.push(f.method);
            }
        }
        if !methods.is_empty() && self.store.recovery_codes_left(user_id).await? > 0 {
            methods.push(Method::RecoveryCode);
        }
        methods.sort();
        Ok(methods)
    }

    /// Start a flow for `user` and, if its first step sends a code, send it. Returns the flow
    /// id for the URL (shown once; only its hash is stored).
    pub async fn start(
        &self,
        user: &User,
        methods: Vec<Method>,
        start: Start<'_>,
        client: &ClientInfo,
    ) -> Result<(SecretToken, FlowRecord), FlowError> {
        self.start_for(Some(user), methods, start, client).await
    }

    /// Start a flow that may have no account: a registration (the account does not exist yet)
    /// or a recovery for an address no account uses (issue #4 item 8). Such a flow takes the
    /// same path as any other — a row, a code stored, one message sent — but its codes go to
    /// `start.identifier` and never verify when no account may complete it (SEC-56).
    pub async fn start_for(
        &self,
        user: Option<&User>,
        methods: Vec<Method>,
        start: Start<'_>,
        client: &ClientInfo,
    ) -> Result<(SecretToken, FlowRecord), FlowError> {
        let now = self.now();
        let id = SecretToken::generate();
        let state = FlowState::begin(start.kind, start.step, methods, &self.config.flow, now);
        let mut flow = FlowRecord {
            id_hash: id.hash(),
            binding_hash: start.browser,
            state,
            user_id: user.map(|u| u.id.clone()),
            identifier: start.identifier.to_string(),
            session_hash: start.session_hash,
            remember: start.remember,
            return_to: start.return_to.to_string(),
            payload: start.payload,
            code: None,
            codes_sent: 0,
            ip: client.ip.clone(),
            user_agent: client.user_agent.clone(),
            version: 0,
        };
        self.store.insert_flow(&flow).await?;
        self.audit
            .record(
                EventKind::FlowStarted,
                now,
                user.map(|u| u.id.as_str()),
                None,
                Some(client),
                start.kind.code(),
            )
            .await;
        if let Some(method) = self.code_method_due(&flow) {
            // A failure to send is not a failure to start: the page offers "send again".
            match self.send_code(&flow, user, method, client).await {
                Ok(sent) => flow = sent,
                Err(e) => tracing::warn!(code = e.code(), "first code of a flow not sent"),
            }
        }
        Ok((id, flow))
    }

    /// The method whose code should be sent on arrival at the current step, if any.
    fn code_method_due(&self, flow: &FlowRecord) -> Option<Method> {
        match flow.state.step {
            Step::SecondFactor => flow.state.chosen.filter(|m| m.sends_code()),
            Step::VerifyEmail => Some(Method::Email),
            _ => None,
        }
    }

    /// Open a flow from its URL id and this browser's cookie. A flow of another browser, an
    /// unknown id and a malformed one are the same `NotFound` (SEC-15).
    pub async fn open(
        &self,
        id_text: &str,
        browser: Option<&str>,
    ) -> Result<FlowRecord, FlowError> {
        let id = SecretToken::parse(id_text).ok_or(FlowError::NotFound)?;
        let flow = self
            .store
            .flow_by_id(&id.hash())
            .await?
            .ok_or(FlowError::NotFound)?;
        let bound = browser
            .and_then(SecretToken::parse)
            .is_some_and(|b| b.hash().ct_eq(&flow.binding_hash));
        if !bound {
            return Err(FlowError::NotFound);
        }
        if let Err(end) = flow.state.check(&self.config.flow, self.now()) {
            if end != FlowEnd::Completed {
                self.metrics
                    .flows_ended
                    .get_or_create(&crate::metrics::Outcome {
                        outcome: end.code(),
                    })
                    .inc();
            }
            return Err(FlowError::Ended {
                end,
                kind: flow.state.kind,
                identifier: flow.identifier.clone(),
                return_to: flow.return_to.clone(),
            });
        }
        Ok(flow)
    }

    async fn user_of(&self, flow: &FlowRecord) -> Result<User, FlowError> {
        self.account_of(flow).await?.ok_or(FlowError::NotFound)
    }

    /// The flow's account if it has one (`None` for a registration, or a recovery of an address
    /// no account uses); `NotFound` if it had one that is gone or disabled.
    async fn account_of(&self, flow: &FlowRecord) -> Result<Option<User>, FlowError> {
        let Some(id) = flow.user_id.as_deref() else {
            return Ok(None);
        };
        match self.store.user_by_id(id).await? {
            Some(u) if !u.disabled => Ok(Some(u)),
            _ => Err(FlowError::NotFound),
        }
    }

    /// Whether a right answer to this flow's email code may move it on. False for a recovery of
    /// an address no account uses, and for a registration of an address that has an account:
    /// those flows look like any other, but their code never verifies (SEC-56).
    async fn code_may_verify(&self, flow: &FlowRecord) -> Result<bool, FlowError> {
        if flow.state.step != Step::VerifyEmail {
            return Ok(true);
        }
        Ok(match flow.state.kind {
            FlowKind::Recovery => flow.user_id.is_some(),
            FlowKind::Registration => self.address_owner(&flow.identifier).await?.is_none(),
            _ => true,
        })
    }

    /// The account that uses an address, if any (disabled ones included: the address is taken).
    async fn address_owner(&self, address: &str) -> Result<Option<User>, FlowError> {
        match tsuzuki_core::email::Email::parse(address) {
            Ok(email) => Ok(self.store.user_by_email(&email).await?),
            Err(_) => Ok(None),
        }
    }

    /// A recovery's new password (its argon2 hash in `payload`) was chosen: read the account's
    /// second factors now — a recovery never skips one (SEC-53) — and move on, to the second
    /// factor (sending its first code if its method sends codes) or to `Done`.
    pub async fn pass_new_password(
        &self,
        mut flow: FlowRecord,
        payload: String,
        client: &ClientInfo,
    ) -> Result<FlowRecord, FlowError> {
        if flow.state.kind != FlowKind::Recovery || flow.state.step != Step::NewPassword {
            return Err(FlowError::MethodUnavailable);
        }
        let user = self.user_of(&flow).await?;
        flow.payload = payload;
        flow.state.methods = self.methods_of(&user.id).await?;
        flow.state.chosen = None;
        flow.state.touch(&self.config.flow, self.now());
        flow.state.advance();
        let flow = self.save(flow).await?;
        if let Some(method) = self.code_method_due(&flow) {
            // As at the start of a flow: a code that could not be sent is offered again.
            match self.send_code(&flow, Some(&user), method, client).await {
                Ok(sent) => return Ok(sent),
                Err(e) => tracing::warn!(code = e.code(), "first second-factor code not sent"),
            }
        }
        Ok(flow)
    }

    /// Write a changed flow (compare-and-set on its version) and return it as stored.
    async fn save(&self, mut flow: FlowRecord) -> Result<FlowRecord, FlowError> {
        if !self.store.update_flow(&flow).await? {
            return Err(FlowError::Conflict);
        }
        flow.version += 1;
        Ok(flow)
    }

    /// Switch the second-factor method (S9). A method that sends codes sends one now, unless a
    /// live code of that method is already out.
    pub async fn choose(
        &self,
        mut flow: FlowRecord,
        method: Method,
        client: &ClientInfo,
    ) -> Result<FlowRecord, FlowError> {
        if !flow.state.choose(method) {
            return Err(FlowError::MethodUnavailable);
        }
        flow.state.touch(&self.config.flow, self.now());
        let flow = self.save(flow).await?;
        let live = flow
            .code
            .as_ref()
            .is_some_and(|c| c.method == method && self.now() < c.expires_at);
        if method.sends_code() && !live {
            let user = self.user_of(&flow).await?;
            return self.send_code(&flow, Some(&user), method, client).await;
        }
        Ok(flow)
    }

    /// "Send a new code" (S8): within the cooldown and the daily cap, a new code replaces the
    /// previous one, which stops working at once.
    pub async fn resend(
        &self,
        flow: FlowRecord,
        client: &ClientInfo,
    ) -> Result<FlowRecord, FlowError> {
        let method = self
            .code_method_due(&flow)
            .ok_or(FlowError::MethodUnavailable)?;
        let user = self.account_of(&flow).await?;
        self.send_code(&flow, user.as_ref(), method, client).await
    }

    async fn send_code(
        &self,
        flow: &FlowRecord,
        user: Option<&User>,
        method: Method,
        client: &ClientInfo,
    ) -> Result<FlowRecord, FlowError> {
        let now = self.now();
        let policy = &self.config.codes;
        let day_ago = Timestamp(now.0 - 86_400);
        // The daily cap counts per account, except for codes that prove an address (recovery,
        // registration): those count per address, known or not, so that the cap behaves alike
        // whether or not an account uses it (SEC-56).
        let cap_key = match (flow.state.step, user) {
            (Step::VerifyEmail, _) => address_key(&flow.identifier),
            (_, Some(u)) => u.id.clone(),
            (_, None) => return Err(FlowError::NotFound),
        };
        let (today, oldest) = self
            .store
            .count_events_since(&cap_key, EventKind::CodeSent.as_str(), day_ago)
            .await?;
        // The cooldown paces codes of one method; switching method (email → SMS) is a reason
        // to send at once. The daily cap counts them all.
        let last = flow
            .code
            .as_ref()
            .filter(|c| c.method == method)
            .map(|c| c.sent_at);
        otp::may_send(flow.codes_sent, last, today, oldest, now, policy).map_err(|r| match r {
            otp::ResendRefusal::Cooldown { retry_after } => FlowError::Cooldown { retry_after },
            otp::ResendRefusal::DailyCap { retry_after } => FlowError::DailyCap { retry_after },
        })?;
        let delivery = if flow.state.step == Step::VerifyEmail {
            self.address_delivery(flow, user).await?
        } else if flow.state.kind == FlowKind::Enrolment {
            // The factor being proved is not confirmed yet: its own target, not the account's.
            Delivery::Code(
                self.store
                    .factor_by_id(&flow.payload)
                    .await?
                    .filter(|f| Some(&f.user_id) == flow.user_id.as_ref())
                    .and_then(|f| f.target)
                    .ok_or(FlowError::MethodUnavailable)?,
            )
        } else {
            let user = user.ok_or(FlowError::NotFound)?;
            Delivery::Code(self.target_of(user, method).await?)
        };
        // A code is made and stored even when a notice goes out instead: the flow then looks
        // and behaves like any other (its code simply never verifies, `code_may_verify`).
        let code = otp::generate(policy.digits);
        let state = CodeState::new(now, policy);
        let mut next = flow.clone();
        next.code = Some(PendingCode {
            hash: otp::code_hash(&self.code_key, &flow.id_hash, &code),
            method,
            sent_at: now,
            expires_at: state.expires_at,
            attempts: 0,
        });
        next.codes_sent += 1;
        next.state.touch(&self.config.flow, now);
        // Store first: a code that was sent but not stored would be a code that cannot work.
        let next = self.save(next).await?;
        let device = tsuzuki_core::device::describe(&client.user_agent).label();
        let notice = matches!(delivery, Delivery::Notice(_));
        let mut detail = method.code().to_string();
        let sent = match (delivery, method) {
            (Delivery::Notice(message), _) => {
                detail.push_str(" notice");
                self.courier.send(message).await
            }
            (Delivery::Code(target), Method::Sms) => {
                let body = messages::code_sms(&code, state.expires_at);
                self.sms
                    .send(crate::courier::Sms { to: target, body })
                    .await
            }
            (Delivery::Code(target), _) => {
                let message = match (flow.state.step, flow.state.kind) {
                    (Step::VerifyEmail, FlowKind::Recovery) => {
                        crate::recovery::recovery_code_email(
                            &target,
                            &code,
                            state.expires_at,
                            &device,
                            &client.ip,
                        )
                    }
                    (Step::VerifyEmail, FlowKind::Registration) => {
                        crate::recovery::registration_code_email(
                            &target,
                            &code,
                            state.expires_at,
                            &device,
                            &client.ip,
                        )
                    }
                    _ => {
                        messages::code_email(&target, &code, state.expires_at, &device, &client.ip)
                    }
                };
                self.courier.send(message).await
            }
        };
        if let Err(e) = sent {
            tracing::warn!(error = %e, method = method.code(), "code not delivered");
            return Err(FlowError::SendFailed);
        }
        if !notice {
            self.metrics
                .codes_sent
                .get_or_create(&crate::metrics::Outcome {
                    outcome: method.code(),
                })
                .inc();
        }
        self.audit
            .record(
                EventKind::CodeSent,
                now,
                Some(&cap_key),
                None,
                Some(client),
                &detail,
            )
            .await;
        Ok(next)
    }

    /// What the email step of a recovery or registration sends, and to whom: a code when the
    /// flow can complete, otherwise a notice to the address — so that every address gets one
    /// message and the answers are the same (SEC-56).
    async fn address_delivery(
        &self,
        flow: &FlowRecord,
        user: Option<&User>,
    ) -> Result<Delivery, FlowError> {
        let device = tsuzuki_core::device::describe(&flow.user_agent).label();
        Ok(match (flow.state.kind, user) {
            (FlowKind::Registration, _) => match self.address_owner(&flow.identifier).await? {
                Some(_) => Delivery::Notice(crate::recovery::already_registered_notice(
                    &flow.identifier,
                    &device,
                    &flow.ip,
                )),
                None => Delivery::Code(flow.identifier.clone()),
            },
            (_, Some(u)) => Delivery::Code(u.email.clone()),
            (_, None) => Delivery::Notice(crate::recovery::no_account_notice(
                &flow.identifier,
                &device,
                &flow.ip,
            )),
        })
    }

    /// Where the step's code goes, masked for display (`a•••@example.com`, `•••• 5678`).
    pub async fn masked_target(&self, flow: &FlowRecord) -> Option<String> {
        let method = match flow.state.step {
            Step::VerifyEmail => {
                // The address being proved, whether or not an account uses it (SEC-56).
                return Some(crate::factors::mask_email(&flow.identifier));
            }
            _ => flow.state.chosen.filter(|m| m.sends_code())?,
        };
        if flow.state.kind == FlowKind::Enrolment {
            let f = self.store.factor_by_id(&flow.payload).await.ok()??;
            let t = f.target?;
            return Some(match method {
                Method::Sms => crate::factors::mask_phone(&t),
                _ => crate::factors::mask_email(&t),
            });
        }
        let user = self.user_of(flow).await.ok()?;
        match method {
            Method::Sms => self
                .target_of(&user, method)
                .await
                .ok()
                .map(|t| crate::factors::mask_phone(&t)),
            _ => Some(crate::factors::mask_email(&user.email)),
        }
    }

    /// Where codes of `method` go for this user.
    async fn target_of(&self, user: &User, method: Method) -> Result<String, FlowError> {
        if method == Method::Email {
            return Ok(user.email.clone());
        }
        self.store
            .factors_of_user(&user.id)
            .await?
            .into_iter()
            .find(|f| f.method == method && f.confirmed_at.is_some())
            .and_then(|f| f.target)
            .ok_or(FlowError::MethodUnavailable)
    }

    /// Check an answer at the second-factor or email step. On success the flow advances (for
    /// a sign-in, to `Done`: the caller then starts the session).
    pub async fn verify(
        &self,
        flow: FlowRecord,
        answer: &str,
        client: &ClientInfo,
    ) -> Result<Proved, FlowError> {
        let result = self.check_answer(flow, answer, client).await;
        let outcome = match &result {
            Ok(_) => "success",
            Err(e) => e.code(),
        };
        self.metrics
            .second_factors
            .get_or_create(&crate::metrics::Outcome { outcome })
            .inc();
        result
    }

    async fn check_answer(
        &self,
        flow: FlowRecord,
        answer: &str,
        client: &ClientInfo,
    ) -> Result<Proved, FlowError> {
        let user = self.account_of(&flow).await?;
        let uid = user.as_ref().map(|u| u.id.as_str());
        let now = self.now();
        let proving_address = flow.state.step == Step::VerifyEmail;
        // An address being proved is throttled per address, known or not (SEC-56); a second
        // factor per account (SEC-46). Both per client address as well.
        let subject = match (proving_address, &user) {
            (true, _) => address_key(&flow.identifier),
            (false, Some(u)) => u.id.clone(),
            (false, None) => return Err(FlowError::NotFound),
        };
        let keys = self.signin.mfa_throttle_keys(&subject, client);
        if let Some(wait) = self.signin.blocked_keys(&keys, now).await? {
            return Err(FlowError::Throttled { retry_after: wait });
        }
        let method = match flow.state.step {
            Step::VerifyEmail => Method::Email,
            Step::SecondFactor => flow.state.chosen.ok_or(FlowError::MethodUnavailable)?,
            _ => return Err(FlowError::MethodUnavailable),
        };
        let result = match (method, &user) {
            (Method::Totp, Some(user)) => self.check_totp(user, answer, client).await,
            (Method::RecoveryCode, Some(user)) => self.check_recovery(user, answer, client).await,
            (Method::Totp | Method::RecoveryCode, None) => return Err(FlowError::NotFound),
            (Method::Email | Method::Sms, _) => {
                let may_verify = self.code_may_verify(&flow).await?;
                self.check_code(&flow, method, answer, may_verify).await
            }
        };
        match result {
            Ok(auth) => {
                self.signin.clear_keys(&keys).await?;
                let mut next = flow;
                next.code = None;
                next.state.touch(&self.config.flow, now);
                next.state.advance();
                let next = self.save(next).await?;
                if flow_is_second_factor(&next) {
                    self.audit
                        .record(
                            EventKind::SecondFactorSucceeded,
                            now,
                            uid,
                            None,
                            Some(client),
                            method.code(),
                        )
                        .await;
                }
                Ok(Proved {
                    flow: next,
                    method: auth,
                })
            }
            Err(Wrong::Refused(e)) => Err(e),
            Err(wrong) => {
                self.signin.fail_keys(&keys, now).await?;
                let mut next = flow;
                let flow_left = next.state.fail(&self.config.flow);
                if let (Wrong::Code, Some(code)) = (&wrong, next.code.as_mut()) {
                    code.attempts += 1;
                }
                next.state.touch(&self.config.flow, now);
                let next = self.save(next).await?;
                self.audit
                    .record(
                        EventKind::SecondFactorFailed,
                        now,
                        uid,
                        None,
                        Some(client),
                        if proving_address {
                            "verify_email"
                        } else {
                            method.code()
                        },
                    )
                    .await;
                // SEC-59 is about a right password and a wrong second factor; a wrong code at
                // an address step says nothing of the kind.
                if let (false, Some(user)) = (proving_address, &user) {
                    self.notify_failed_factor(user, client).await;
                }
                let code_left = next.code.as_ref().map_or(0, |c| {
                    self.config.codes.max_attempts.saturating_sub(c.attempts)
                });
                Err(match wrong {
                    Wrong::Replayed => FlowError::Replayed,
                    Wrong::Code => FlowError::WrongCode {
                        attempts_left: code_left,
                        flow_left,
                    },
                    _ => FlowError::WrongCode {
                        attempts_left: flow_left,
                        flow_left,
                    },
                })
            }
        }
    }

    async fn check_code(
        &self,
        flow: &FlowRecord,
        method: Method,
        answer: &str,
        may_verify: bool,
    ) -> Result<AuthMethod, Wrong> {
        let Some(code) = flow.code.as_ref().filter(|c| c.method == method) else {
            return Err(Wrong::Refused(FlowError::NoCode));
        };
        // Compared in any case, so that a flow whose code may not verify takes as long.
        let matches =
            otp::code_matches(&self.code_key, &flow.id_hash, answer, &code.hash) & may_verify;
        let state = CodeState {
            sent_at: code.sent_at,
            expires_at: code.expires_at,
            attempts: code.attempts,
            consumed: false,
        };
        match otp::judge(&state, matches, self.now(), &self.config.codes) {
            CodeVerdict::Accepted => Ok(match method {
                Method::Sms => AuthMethod::SmsCode,
                _ => AuthMethod::EmailCode,
            }),
            CodeVerdict::Wrong { .. } => Err(Wrong::Code),
            CodeVerdict::Expired => Err(Wrong::Refused(FlowError::CodeExpired)),
            CodeVerdict::TooManyAttempts | CodeVerdict::Used => {
                Err(Wrong::Refused(FlowError::CodeExhausted))
            }
        }
    }

    async fn check_totp(
        &self,
        user: &User,
        answer: &str,
        client: &ClientInfo,
    ) -> Result<AuthMethod, Wrong> {
        let now = self.now();
        let factors = self.store.factors_of_user(&user.id).await.map_err(store)?;
        let mut replayed = false;
        for f in factors
            .iter()
            .filter(|f| f.method == Method::Totp && f.confirmed_at.is_some())
        {
            let Some(secret) = self.open_secret(f) else {
                tracing::error!(factor = %f.id, "authenticator secret cannot be opened");
                continue;
            };
            match totp::verify(&secret, answer, now, f.last_step, &self.config.totp) {
                totp::TotpVerdict::Accepted { step } => {
                    // The compare-and-set makes "accepted once" hold across requests and nodes.
                    if self
                        .store
                        .advance_totp_step(&f.id, step, now)
                        .await
                        .map_err(store)?
                    {
                        return Ok(AuthMethod::Totp);
                    }
                    replayed = true;
                }
                totp::TotpVerdict::Replayed => replayed = true,
                totp::TotpVerdict::Wrong => {}
            }
        }
        if replayed {
            self.audit
                .record(
                    EventKind::OtpReplay,
                    now,
                    Some(&user.id),
                    None,
                    Some(client),
                    "totp",
                )
                .await;
            let device = tsuzuki_core::device::describe(&client.user_agent).label();
            let message = messages::otp_replay(&user.email, &device, &client.ip);
            if let Err(e) = self.courier.send(message).await {
                tracing::warn!(error = %e, "replay notice not sent");
            }
            return Err(Wrong::Replayed);
        }
        Err(Wrong::Answer)
    }

    async fn check_recovery(
        &self,
        user: &User,
        answer: &str,
        client: &ClientInfo,
    ) -> Result<AuthMethod, Wrong> {
        let Some(normalized) = recovery::normalize(answer) else {
            return Err(Wrong::Answer);
        };
        let hash = recovery::code_hash(&self.recovery_key, &normalized);
        let now = self.now();
        if !self
            .store
            .use_recovery_code(&user.id, &hash, now)
            .await
            .map_err(store)?
        {
            return Err(Wrong::Answer);
        }
        let left = self
            .store
            .recovery_codes_left(&user.id)
            .await
            .map_err(store)?;
        self.audit
            .record(
                EventKind::RecoveryCodeUsed,
                now,
                Some(&user.id),
                None,
                Some(client),
                &format!("left={left}"),
            )
            .await;
        let device = tsuzuki_core::device::describe(&client.user_agent).label();
        let message = messages::recovery_code_used(&user.email, left, &device, &client.ip);
        if let Err(e) = self.courier.send(message).await {
            tracing::warn!(error = %e, "recovery-code notice not sent");
        }
        Ok(AuthMethod::RecoveryCode)
    }

    /// SEC-59: the password was right but the second factor was not. Tell the person, at most
    /// once an hour.
    async fn notify_failed_factor(&self, user: &User, client: &ClientInfo) {
        let now = self.now();
        let kind = "second_factor_failure_notice";
        let hour_ago = Timestamp(now.0 - 3600);
        match self
            .store
            .count_events_since(&user.id, kind, hour_ago)
            .await
        {
            Ok((0, _)) => {}
            Ok(_) => return,
            Err(e) => {
                tracing::warn!(error = %e, "failure notice skipped: store unavailable");
                return;
            }
        }
        let device = tsuzuki_core::device::describe(&client.user_agent).label();
        let message = messages::second_factor_failed(&user.email, &device, &client.ip);
        if self.courier.send(message).await.is_ok() {
            let row = tsuzuki_store::EventRecord {
                created_at: now,
                kind: kind.into(),
                user_id: Some(user.id.clone()),
                session_handle: None,
                ip: Some(client.ip.clone()),
                user_agent: Some(client.user_agent.clone()),
                detail: String::new(),
            };
            if let Err(e) = self.store.record_event(&row).await {
                tracing::warn!(error = %e, "failure notice not recorded");
            }
        }
    }

    /// The authenticator secret of a factor, decrypted with the server key and bound to the
    /// factor's id (a sealed secret moved to another row does not open).
    pub fn open_secret(&self, factor: &FactorRecord) -> Option<totp::TotpSecret> {
        let sealed = factor.secret_sealed.as_deref()?;
        let plain = sealing::open(&self.seal_key, sealed, factor.id.as_bytes())?;
        totp::TotpSecret::from_bytes(plain)
    }

    pub fn seal_secret(&self, factor_id: &str, secret: &totp::TotpSecret) -> Vec<u8> {
        sealing::seal(&self.seal_key, secret.as_bytes(), factor_id.as_bytes())
    }
}

/// Whether the step just passed was a second factor (for the audit record).
fn flow_is_second_factor(flow: &FlowRecord) -> bool {
    matches!(flow.state.kind, FlowKind::SignIn | FlowKind::StepUp)
}

/// What a code step sends.
enum Delivery {
    /// The code, to this address or number.
    Code(String),
    /// A notice instead of the code (an address that cannot complete the flow).
    Notice(crate::courier::Message),
}

/// The key an address is counted under — daily code cap, wrong-code throttle — when the step
/// proves an address rather than an account's factor: `addr:` and the first 128 bits of the
/// SHA-256 of its normal form, so that neither table holds addresses people typed.
pub fn address_key(address: &str) -> String {
    use sha2::{Digest, Sha256};
    let normal = tsuzuki_core::email::Email::parse(address)
        .map(|e| e.as_str().to_string())
        .unwrap_or_else(|_| address.trim().to_lowercase());
    let digest = Sha256::digest(normal.as_bytes());
    format!("addr:{}", data_encoding::HEXLOWER.encode(&digest[..16]))
}

/// How an answer failed, inside this module.
enum Wrong {
    /// A wrong email/SMS code: counts against the code and the flow.
    Code,
    /// A wrong authenticator or recovery code: counts against the flow.
    Answer,
    /// A replayed authenticator code: counts against the flow (SEC-48).
    Replayed,
    /// Not a guess at all (no code sent, code expired): counts against nothing.
    Refused(FlowError),
}

fn store(e: StoreError) -> Wrong {
    Wrong::Refused(e.into())
}
