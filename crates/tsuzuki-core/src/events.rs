//! What happened, as the rules report it. One place in the server turns these into audit rows,
//! metrics and log lines, so that a new consumer (notifications, dashboards) is added there and
//! not scattered through handlers.

/// The kind of a recorded event; `as_str` is its stable name in the audit table and in metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    SignInSucceeded,
    SignInFailed,
    SignInThrottled,
    SignedOut,
    SessionExpired,
    SessionsRevoked,
    AddressChanged,
    PasswordChanged,
    PasswordRehashed,
    UserCreated,
    UserDisabled,
    RememberIssued,
    RememberRestored,
    /// The just-replaced validator came back within the grace window (a benign race).
    RememberGraceReplay,
    RememberTheft,
    RememberRevoked,
    SignedOutEverywhere,
    /// The person ended one of their sessions or remembered devices.
    DeviceRevoked,
    Reauthenticated,
    /// A sign-in, step-up, recovery or registration flow began (S7).
    FlowStarted,
    /// A one-time code was sent by email or SMS (S8).
    CodeSent,
    SecondFactorSucceeded,
    SecondFactorFailed,
    /// An authenticator code was presented again after it had been accepted (SEC-48).
    OtpReplay,
    RecoveryCodeUsed,
    RecoveryCodesGenerated,
    FactorEnrolled,
    FactorRemoved,
    TrustedDeviceAdded,
    TrustedDeviceRevoked,
    /// A sign-in from a device and network never seen for the account (S10).
    NewDeviceSignIn,
    /// A sign-in the suspicious-sign-in rules flagged (S10).
    SuspiciousSignIn,
    /// "This wasn't me" from a new-device notice.
    NotMeReported,
    PasswordReset,
    Registered,
    /// Something an operator did through the admin API (the detail says what).
    OperatorAction,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::SignInSucceeded => "sign_in_succeeded",
            EventKind::SignInFailed => "sign_in_failed",
            EventKind::SignInThrottled => "sign_in_throttled",
            EventKind::SignedOut => "signed_out",
            EventKind::SessionExpired => "session_expired",
            EventKind::SessionsRevoked => "sessions_revoked",
            EventKind::AddressChanged => "address_changed",
            EventKind::PasswordChanged => "password_changed",
            EventKind::PasswordRehashed => "password_rehashed",
            EventKind::UserCreated => "user_created",
            EventKind::UserDisabled => "user_disabled",
            EventKind::RememberIssued => "remember_issued",
            EventKind::RememberRestored => "remember_restored",
            EventKind::RememberGraceReplay => "remember_grace_replay",
            EventKind::RememberTheft => "remember_theft",
            EventKind::RememberRevoked => "remember_revoked",
            EventKind::SignedOutEverywhere => "signed_out_everywhere",
            EventKind::DeviceRevoked => "device_revoked",
            EventKind::Reauthenticated => "reauthenticated",
            EventKind::FlowStarted => "flow_started",
            EventKind::CodeSent => "code_sent",
            EventKind::SecondFactorSucceeded => "second_factor_succeeded",
            EventKind::SecondFactorFailed => "second_factor_failed",
            EventKind::OtpReplay => "otp_replay",
            EventKind::RecoveryCodeUsed => "recovery_code_used",
            EventKind::RecoveryCodesGenerated => "recovery_codes_generated",
            EventKind::FactorEnrolled => "factor_enrolled",
            EventKind::FactorRemoved => "factor_removed",
            EventKind::TrustedDeviceAdded => "trusted_device_added",
            EventKind::TrustedDeviceRevoked => "trusted_device_revoked",
            EventKind::NewDeviceSignIn => "new_device_sign_in",
            EventKind::SuspiciousSignIn => "suspicious_sign_in",
            EventKind::NotMeReported => "not_me_reported",
            EventKind::PasswordReset => "password_reset",
            EventKind::Registered => "registered",
            EventKind::OperatorAction => "operator_action",
        }
    }
}
