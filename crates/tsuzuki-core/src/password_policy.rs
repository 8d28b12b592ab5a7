//! Which passwords are accepted: length only, as NIST SP 800-63B §5.1.1.2 says — no composition
//! rules, no forced rotation, every printable character and space allowed.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPolicy {
    /// Minimum length in characters (default 12, ASVS 4.0.3 V2.1.1).
    pub min_length: usize,
    /// Maximum length in characters (default 128; at least 64 by ASVS V2.1.2).
    pub max_length: usize,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        PasswordPolicy {
            min_length: 12,
            max_length: 128,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("the password must be at least {0} characters long")]
    TooShort(usize),
    #[error("the password must be at most {0} characters long")]
    TooLong(usize),
}

impl PasswordPolicy {
    /// Check a new password. Length is counted in Unicode characters, not bytes, so a Japanese
    /// passphrase is not penalised for its encoding.
    pub fn check(&self, password: &str) -> Result<(), PasswordError> {
        let n = password.chars().count();
        if n < self.min_length {
            return Err(PasswordError::TooShort(self.min_length));
        }
        if n > self.max_length {
            return Err(PasswordError::TooLong(self.max_length));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_only() {
        let p = PasswordPolicy::default();
        assert_eq!(p.check("short"), Err(PasswordError::TooShort(12)));
        assert!(
            p.check("all lowercase words").is_ok(),
            "no composition rules"
        );
        assert!(
            p.check("パスワードは十二文字以上です").is_ok(),
            "counted in characters"
        );
        assert!(p.check(&"x".repeat(64)).is_ok(), "64 allowed (ASVS V2.1.2)");
        assert_eq!(p.check(&"x".repeat(129)), Err(PasswordError::TooLong(128)));
    }
}
