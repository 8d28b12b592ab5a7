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
        }
    }
}
