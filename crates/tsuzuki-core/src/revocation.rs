//! Which security event ends what (R7, SEC-39..42): one table, with safe defaults, that operators
//! can read in `tsuzuki config check` and tune in `[revocation.<event>]`.

/// How far a revocation reaches for one kind of credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Leave them all.
    None,
    /// All but the ones of the device where the event happened.
    Others,
    /// Every one, the current device's included.
    All,
}

impl Scope {
    pub fn name(self) -> &'static str {
        match self {
            Scope::None => "none",
            Scope::Others => "others",
            Scope::All => "all",
        }
    }
    pub fn from_name(s: &str) -> Option<Scope> {
        match s {
            "none" => Some(Scope::None),
            "others" => Some(Scope::Others),
            "all" => Some(Scope::All),
            _ => None,
        }
    }
}

/// What one event revokes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Revokes {
    pub sessions: Scope,
    pub remembered: Scope,
    /// Trusted devices (second-factor skipping) arrive with the sign-in flows; the scope is
    /// configured now so that the table is complete from the start.
    pub trusted_devices: Scope,
}

/// Events that revoke credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecurityEvent {
    PasswordChanged,
    /// "Forgot password" completed (issue #4 item 8): nobody is signed in to keep.
    PasswordReset,
    SecondFactorChanged,
    SignOutEverywhere,
    SuspiciousSignIn,
    RememberTheft,
    AccountDisabled,
}

impl SecurityEvent {
    pub const ALL: [SecurityEvent; 7] = [
        SecurityEvent::PasswordChanged,
        SecurityEvent::PasswordReset,
        SecurityEvent::SecondFactorChanged,
        SecurityEvent::SignOutEverywhere,
        SecurityEvent::SuspiciousSignIn,
        SecurityEvent::RememberTheft,
        SecurityEvent::AccountDisabled,
    ];

    pub fn name(self) -> &'static str {
        match self {
            SecurityEvent::PasswordChanged => "password_changed",
            SecurityEvent::PasswordReset => "password_reset",
            SecurityEvent::SecondFactorChanged => "second_factor_changed",
            SecurityEvent::SignOutEverywhere => "sign_out_everywhere",
            SecurityEvent::SuspiciousSignIn => "suspicious_sign_in",
            SecurityEvent::RememberTheft => "remember_theft",
            SecurityEvent::AccountDisabled => "account_disabled",
        }
    }

    /// The safe default for each event.
    pub fn default_revokes(self) -> Revokes {
        use Scope::*;
        let (sessions, remembered, trusted_devices) = match self {
            // SEC-39: other sessions and every remembered device; the person keeps working here.
            SecurityEvent::PasswordChanged => (Others, All, All),
            // SEC-39 "reset: also the current session": every session, remembered device and
            // trusted device ends, the one the reset was made from included.
            SecurityEvent::PasswordReset => (All, All, All),
            // SEC-40: as a password change.
            SecurityEvent::SecondFactorChanged => (Others, All, All),
            // The person may keep the current device; the page offers that choice.
            SecurityEvent::SignOutEverywhere => (All, All, All),
            // S10: the sign-in stands, but long-lived credentials go.
            SecurityEvent::SuspiciousSignIn => (None, All, All),
            // SEC-33, SEC-42: a stolen cookie: everything of the account ends.
            SecurityEvent::RememberTheft => (All, All, None),
            SecurityEvent::AccountDisabled => (All, All, All),
        };
        Revokes {
            sessions,
            remembered,
            trusted_devices,
        }
    }
}

/// The full table: one `Revokes` per event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevocationPolicy {
    table: Vec<(SecurityEvent, Revokes)>,
}

impl Default for RevocationPolicy {
    fn default() -> Self {
        RevocationPolicy {
            table: SecurityEvent::ALL
                .iter()
                .map(|e| (*e, e.default_revokes()))
                .collect(),
        }
    }
}

impl RevocationPolicy {
    pub fn get(&self, event: SecurityEvent) -> Revokes {
        self.table
            .iter()
            .find(|(e, _)| *e == event)
            .map(|(_, r)| *r)
            .unwrap_or(event.default_revokes())
    }
    pub fn set(&mut self, event: SecurityEvent, revokes: Revokes) {
        for (e, r) in &mut self.table {
            if *e == event {
                *r = revokes;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_requirements() {
        let p = RevocationPolicy::default();
        let pw = p.get(SecurityEvent::PasswordChanged);
        assert_eq!(
            (pw.sessions, pw.remembered),
            (Scope::Others, Scope::All),
            "SEC-39"
        );
        assert_eq!(
            p.get(SecurityEvent::PasswordReset),
            Revokes {
                sessions: Scope::All,
                remembered: Scope::All,
                trusted_devices: Scope::All,
            },
            "SEC-39: a reset also ends the current session"
        );
        assert_eq!(
            p.get(SecurityEvent::AccountDisabled).sessions,
            Scope::All,
            "SEC-41"
        );
        assert_eq!(
            p.get(SecurityEvent::RememberTheft).remembered,
            Scope::All,
            "SEC-33"
        );
        for e in SecurityEvent::ALL {
            assert_eq!(
                Scope::from_name(e.default_revokes().sessions.name()),
                Some(e.default_revokes().sessions)
            );
        }
    }

    #[test]
    fn set_overrides_one_event() {
        let mut p = RevocationPolicy::default();
        let none = Revokes {
            sessions: Scope::None,
            remembered: Scope::None,
            trusted_devices: Scope::None,
        };
        p.set(SecurityEvent::SuspiciousSignIn, none);
        assert_eq!(p.get(SecurityEvent::SuspiciousSignIn), none);
        assert_eq!(
            p.get(SecurityEvent::PasswordChanged),
            SecurityEvent::PasswordChanged.default_revokes()
        );
    }
}
