//! Sign-in flows (S7): the rules of a multi-step authentication that survives a closed tab, a
//! reload, a browser restart, a server restart and an expired session.
//!
//! A flow is created once its first step has been passed (the password, or the email for an
//! account recovery), lives on its own clock — independent of any session — and ends when it
//! completes, expires or has seen too many wrong answers. Everything here is a decision on plain
//! data; storing the flow and sending codes belong to the adapters.

use crate::clock::Timestamp;
use std::time::Duration;

/// What a flow is for. The kind decides the steps and what completion yields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FlowKind {
    /// Password accepted; a second factor is due before a session exists.
    SignIn,
    /// A signed-in person proves again who they are before a sensitive operation (R12).
    StepUp,
    /// "Forgot password": email code, new password, then any enrolled second factor.
    Recovery,
    /// Self-registration: the email address is verified by a code before the account can sign in.
    Registration,
    /// Adding an email or SMS factor: a code sent to it proves the address or number works.
    Enrolment,
}

impl FlowKind {
    pub const ALL: [FlowKind; 5] = [
        FlowKind::SignIn,
        FlowKind::StepUp,
        FlowKind::Recovery,
        FlowKind::Registration,
        FlowKind::Enrolment,
    ];

    pub fn code(self) -> &'static str {
        match self {
            FlowKind::SignIn => "sign_in",
            FlowKind::StepUp => "step_up",
            FlowKind::Recovery => "recovery",
            FlowKind::Registration => "registration",
            FlowKind::Enrolment => "enrolment",
        }
    }

    pub fn from_code(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.code() == s)
    }
}

/// A way to prove the second factor (S8, S9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Method {
    Totp,
    Email,
    Sms,
    RecoveryCode,
}

impl Method {
    pub const ALL: [Method; 4] = [
        Method::Totp,
        Method::Email,
        Method::Sms,
        Method::RecoveryCode,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Method::Totp => "totp",
            Method::Email => "email",
            Method::Sms => "sms",
            Method::RecoveryCode => "recovery",
        }
    }

    pub fn from_code(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.code() == s)
    }

    /// Whether proving this method starts by sending a code to the person.
    pub fn sends_code(self) -> bool {
        matches!(self, Method::Email | Method::Sms)
    }
}

/// Where a flow stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Step-up begins here: the password again.
    Password,
    /// A second factor, by the chosen method; the person may switch to any other they have.
    SecondFactor,
    /// A code sent to the account's email address (recovery, registration).
    VerifyEmail,
    /// Recovery: choose a new password.
    NewPassword,
    /// Nothing left: the flow has produced its result and cannot be used again (SEC-15).
    Done,
}

impl Step {
    pub fn code(self) -> &'static str {
        match self {
            Step::Password => "password",
            Step::SecondFactor => "second_factor",
            Step::VerifyEmail => "verify_email",
            Step::NewPassword => "new_password",
            Step::Done => "done",
        }
    }

    pub fn from_code(s: &str) -> Option<Self> {
        [
            Step::Password,
            Step::SecondFactor,
            Step::VerifyEmail,
            Step::NewPassword,
            Step::Done,
        ]
        .into_iter()
        .find(|x| x.code() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowPolicy {
    /// How long a flow lives without activity; every step taken extends it (S7).
    pub lifetime: Duration,
    /// The limit activity cannot extend past.
    pub max_lifetime: Duration,
    /// Wrong answers (codes of every method, passwords in a step-up) before the flow is dead and
    /// a new one must be started (SEC-46).
    pub max_failures: u32,
}

impl Default for FlowPolicy {
    fn default() -> Self {
        FlowPolicy {
            lifetime: Duration::from_secs(15 * 60),
            max_lifetime: Duration::from_secs(60 * 60),
            max_failures: 10,
        }
    }
}

/// The state of one flow, as the adapters store it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowState {
    pub kind: FlowKind,
    pub step: Step,
    /// Second-factor methods the account has: what the person may switch between.
    pub methods: Vec<Method>,
    /// The method the second-factor step asks for now.
    pub chosen: Option<Method>,
    /// Wrong answers so far in this flow.
    pub failures: u32,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    /// `created_at + max_lifetime`: activity never extends past it.
    pub hard_expires_at: Timestamp,
}

/// Why a flow can no longer be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowEnd {
    Expired,
    /// Completed already: a flow handle is single-use (SEC-15).
    Completed,
    /// Too many wrong answers (SEC-46).
    Locked,
}

impl FlowEnd {
    pub fn code(self) -> &'static str {
        match self {
            FlowEnd::Expired => "flow_expired",
            FlowEnd::Completed => "flow_completed",
            FlowEnd::Locked => "flow_locked",
        }
    }
}

/// The method offered first: an authenticator app needs no message and works offline, so it
/// comes first; then email, then SMS. Recovery codes are a last resort and never the default.
pub fn default_method(methods: &[Method]) -> Option<Method> {
    [Method::Totp, Method::Email, Method::Sms]
        .into_iter()
        .find(|m| methods.contains(m))
}

impl FlowState {
    /// A new flow of `kind` at `step`, for an account with `methods`.
    pub fn begin(
        kind: FlowKind,
        step: Step,
        methods: Vec<Method>,
        policy: &FlowPolicy,
        now: Timestamp,
    ) -> FlowState {
        let hard = now.plus(policy.max_lifetime);
        let chosen = if step == Step::SecondFactor {
            default_method(&methods).or_else(|| methods.first().copied())
        } else {
            None
        };
        FlowState {
            kind,
            step,
            chosen,
            methods,
            failures: 0,
            created_at: now,
            expires_at: now.plus(policy.lifetime).min(hard),
            hard_expires_at: hard,
        }
    }

    /// Can the flow take another step at `now`?
    pub fn check(&self, policy: &FlowPolicy, now: Timestamp) -> Result<(), FlowEnd> {
        if self.step == Step::Done {
            Err(FlowEnd::Completed)
        } else if now >= self.expires_at {
            Err(FlowEnd::Expired)
        } else if self.failures >= policy.max_failures {
            Err(FlowEnd::Locked)
        } else {
            Ok(())
        }
    }

    /// Activity (a page view, a code sent, an answer) extends the flow's life (S7).
    pub fn touch(&mut self, policy: &FlowPolicy, now: Timestamp) {
        self.expires_at = now.plus(policy.lifetime).min(self.hard_expires_at);
    }

    /// Switch the second-factor method. Only to a method the account has.
    pub fn choose(&mut self, method: Method) -> bool {
        if self.step == Step::SecondFactor && self.methods.contains(&method) {
            self.chosen = Some(method);
            true
        } else {
            false
        }
    }

    /// Count a wrong answer. Returns how many remain before the flow locks.
    pub fn fail(&mut self, policy: &FlowPolicy) -> u32 {
        self.failures = self.failures.saturating_add(1);
        policy.max_failures.saturating_sub(self.failures)
    }

    /// The step after the current one succeeded.
    pub fn advance(&mut self) {
        self.step = next_step(self.kind, self.step, !self.methods.is_empty());
        if self.step == Step::SecondFactor && self.chosen.is_none() {
            self.chosen = default_method(&self.methods).or_else(|| self.methods.first().copied());
        }
    }
}

/// The step that follows `step` in a flow of `kind`, for an account with or without second
/// factors. A recovery never skips an enrolled second factor (SEC-53).
pub fn next_step(kind: FlowKind, step: Step, has_second_factor: bool) -> Step {
    match (kind, step) {
        (FlowKind::StepUp, Step::Password) if has_second_factor => Step::SecondFactor,
        (FlowKind::Recovery, Step::VerifyEmail) => Step::NewPassword,
        (FlowKind::Recovery, Step::NewPassword) if has_second_factor => Step::SecondFactor,
        _ => Step::Done,
    }
}

/// Whether a sign-in needs a second factor after the password: the account has one and the
/// browser holds no valid trusted-device token for it (S3, SEC-31).
pub fn second_factor_due(methods: &[Method], trusted_device: bool) -> bool {
    !methods.is_empty() && !trusted_device
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> FlowPolicy {
        FlowPolicy {
            lifetime: Duration::from_secs(900),
            max_lifetime: Duration::from_secs(3600),
            max_failures: 3,
        }
    }

    #[test]
    fn activity_extends_a_flow_up_to_its_hard_limit() {
        // S7: a flow lives 15 min from its last step, never past max_lifetime.
        let p = policy();
        let mut f = FlowState::begin(
            FlowKind::SignIn,
            Step::SecondFactor,
            vec![Method::Email],
            &p,
            Timestamp(0),
        );
        assert_eq!(f.expires_at, Timestamp(900));
        assert!(f.check(&p, Timestamp(899)).is_ok());
        assert_eq!(f.check(&p, Timestamp(900)), Err(FlowEnd::Expired));
        f.touch(&p, Timestamp(800));
        assert!(f.check(&p, Timestamp(1600)).is_ok());
        f.touch(&p, Timestamp(3500));
        assert_eq!(f.expires_at, Timestamp(3600), "capped by max_lifetime");
        assert_eq!(f.check(&p, Timestamp(3600)), Err(FlowEnd::Expired));
    }

    #[test]
    fn too_many_wrong_answers_lock_the_flow() {
        // SEC-46: the per-flow limit ends the flow.
        let p = policy();
        let mut f = FlowState::begin(
            FlowKind::SignIn,
            Step::SecondFactor,
            vec![Method::Totp],
            &p,
            Timestamp(0),
        );
        assert_eq!(f.fail(&p), 2);
        assert_eq!(f.fail(&p), 1);
        assert!(f.check(&p, Timestamp(1)).is_ok());
        assert_eq!(f.fail(&p), 0);
        assert_eq!(f.check(&p, Timestamp(1)), Err(FlowEnd::Locked));
    }

    #[test]
    fn a_completed_flow_cannot_be_used_again() {
        // SEC-15: single use.
        let p = policy();
        let mut f = FlowState::begin(
            FlowKind::SignIn,
            Step::SecondFactor,
            vec![Method::Totp],
            &p,
            Timestamp(0),
        );
        f.advance();
        assert_eq!(f.step, Step::Done);
        assert_eq!(f.check(&p, Timestamp(1)), Err(FlowEnd::Completed));
    }

    #[test]
    fn the_default_method_prefers_an_app_and_never_a_recovery_code() {
        assert_eq!(
            default_method(&[Method::Sms, Method::Email, Method::Totp]),
            Some(Method::Totp)
        );
        assert_eq!(
            default_method(&[Method::Sms, Method::Email]),
            Some(Method::Email)
        );
        assert_eq!(default_method(&[Method::RecoveryCode]), None);
        let f = FlowState::begin(
            FlowKind::SignIn,
            Step::SecondFactor,
            vec![Method::RecoveryCode],
            &policy(),
            Timestamp(0),
        );
        assert_eq!(
            f.chosen,
            Some(Method::RecoveryCode),
            "the only method left is still offered"
        );
    }

    #[test]
    fn switching_only_to_methods_the_account_has() {
        // S9: switching method at the code step.
        let mut f = FlowState::begin(
            FlowKind::SignIn,
            Step::SecondFactor,
            vec![Method::Totp, Method::Sms],
            &policy(),
            Timestamp(0),
        );
        assert!(f.choose(Method::Sms));
        assert_eq!(f.chosen, Some(Method::Sms));
        assert!(!f.choose(Method::Email), "not enrolled");
        assert_eq!(f.chosen, Some(Method::Sms));
    }

    #[test]
    fn recovery_never_skips_an_enrolled_second_factor() {
        // SEC-53.
        assert_eq!(
            next_step(FlowKind::Recovery, Step::VerifyEmail, true),
            Step::NewPassword
        );
        assert_eq!(
            next_step(FlowKind::Recovery, Step::NewPassword, true),
            Step::SecondFactor
        );
        assert_eq!(
            next_step(FlowKind::Recovery, Step::NewPassword, false),
            Step::Done
        );
        assert_eq!(
            next_step(FlowKind::StepUp, Step::Password, true),
            Step::SecondFactor
        );
        assert_eq!(
            next_step(FlowKind::StepUp, Step::Password, false),
            Step::Done
        );
        assert_eq!(
            next_step(FlowKind::Registration, Step::VerifyEmail, false),
            Step::Done
        );
    }

    #[test]
    fn a_trusted_device_skips_only_the_second_factor() {
        // S3, SEC-31.
        assert!(second_factor_due(&[Method::Totp], false));
        assert!(!second_factor_due(&[Method::Totp], true));
        assert!(!second_factor_due(&[], false));
    }

    #[test]
    fn codes_round_trip() {
        for k in FlowKind::ALL {
            assert_eq!(FlowKind::from_code(k.code()), Some(k));
        }
        for m in Method::ALL {
            assert_eq!(Method::from_code(m.code()), Some(m));
        }
        for s in [
            Step::Password,
            Step::SecondFactor,
            Step::VerifyEmail,
            Step::NewPassword,
            Step::Done,
        ] {
            assert_eq!(Step::from_code(s.code()), Some(s));
        }
    }
}
