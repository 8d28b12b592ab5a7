//! Email addresses as account identifiers: parsed once at the edge, compared in normal form.

use std::fmt;

/// An email address in normal form (trimmed, lowercased). The whole address is lowercased:
/// providers that distinguish case in the local part are vanishingly rare, and two accounts that
/// differ only by case are a support problem and a phishing aid.
#[derive(Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct Email(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("the email address is empty")]
    Empty,
    #[error("the email address is longer than 254 characters")]
    TooLong,
    #[error("the email address must have one @ with text on both sides and no spaces")]
    Malformed,
}

impl Email {
    pub fn parse(input: &str) -> Result<Email, EmailError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(EmailError::Empty);
        }
        if s.chars().count() > 254 {
            return Err(EmailError::TooLong);
        }
        let (local, domain) = s.split_once('@').ok_or(EmailError::Malformed)?;
        let bad = |p: &str| p.is_empty() || p.chars().any(|c| c.is_whitespace() || c.is_control());
        if bad(local) || bad(domain) || domain.contains('@') || domain.starts_with('.') {
            return Err(EmailError::Malformed);
        }
        Ok(Email(s.to_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Debug escapes control characters, which keeps user input from forging log lines.
        write!(f, "{:?}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_case_and_whitespace() {
        assert_eq!(
            Email::parse("  Alice@Example.COM ").unwrap().as_str(),
            "alice@example.com"
        );
    }

    #[test]
    fn refuses_malformed() {
        for bad in [
            "", "   ", "alice", "@x", "a@", "a@@b", "a b@c", "a@b@c", "a\n@b", "a@.b",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} should be refused");
        }
        assert_eq!(
            Email::parse(&format!("{}@x.org", "a".repeat(250))),
            Err(EmailError::TooLong)
        );
    }
}
