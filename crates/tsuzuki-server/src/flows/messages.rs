//! The messages flows send: codes by email and SMS, and security notices (SEC-74). Their text is
//! in the catalogues (`locales/*/mail.ftl`), Japanese and English in one message, since the
//! person's language is not known outside a browser (P3). No message carries a password or a
//! session token; a code message carries only its code.

use crate::courier::Message;
use crate::http::i18n::Lang;
use crate::http::pages::human_time;
use tsuzuki_core::clock::Timestamp;

/// The sign-in code by email: the code, until when it works, and which device asked (S8).
pub fn code_email(to: &str, code: &str, expires_at: Timestamp, device: &str, ip: &str) -> Message {
    let until = human_time(expires_at);
    Message::bilingual(
        to,
        "mail-code",
        &["mail-code-body"],
        &[
            ("code", code),
            ("until", &until),
            ("device", device),
            ("ip", ip),
        ],
    )
}

/// The sign-in code by SMS: both languages in one segment (70 characters once there is any
/// Japanese), hence the time of day without date or seconds — a code lives minutes.
pub fn code_sms(code: &str, expires_at: Timestamp) -> String {
    let until = short_time(expires_at);
    let args = [("code", code), ("until", until.as_str())];
    format!(
        "{} / {}",
        Lang::Ja.t_str("sms-code", &args),
        Lang::En.t_str("sms-code", &args)
    )
}

/// `14:05 UTC`.
fn short_time(t: Timestamp) -> String {
    let fmt = time::macros::format_description!("[hour]:[minute] UTC");
    time::OffsetDateTime::from_unix_timestamp(t.0)
        .ok()
        .and_then(|d| d.format(&fmt).ok())
        .unwrap_or_default()
}

/// SEC-48: an authenticator code came back after it had been accepted.
pub fn otp_replay(to: &str, device: &str, ip: &str) -> Message {
    Message::bilingual(
        to,
        "mail-otp-replay",
        &["mail-otp-replay-body"],
        &[("device", device), ("ip", ip)],
    )
}

/// SEC-50: a recovery code was used; how many are left.
pub fn recovery_code_used(to: &str, left: u32, device: &str, ip: &str) -> Message {
    let left = left.to_string();
    Message::bilingual(
        to,
        "mail-recovery-used",
        &["mail-recovery-used-body"],
        &[("count", &left), ("device", device), ("ip", ip)],
    )
}

/// SEC-59: the password was right but the second factor was not.
pub fn second_factor_failed(to: &str, device: &str, ip: &str) -> Message {
    Message::bilingual(
        to,
        "mail-second-factor-failed",
        &["mail-second-factor-failed-body"],
        &[("device", device), ("ip", ip)],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sms_fits_one_segment_and_keeps_the_code() {
        let sms = code_sms("012345", Timestamp(1_800_000_000));
        assert!(sms.chars().count() <= 70, "{sms}");
        assert!(
            sms.contains("code: 012345") && sms.contains("認証コード: 012345"),
            "{sms}"
        );
    }

    #[test]
    fn mails_have_both_languages_and_no_unfilled_placeholder() {
        let m = code_email(
            "a@example.com",
            "001122",
            Timestamp(1_800_000_000),
            "Firefox",
            "192.0.2.1",
        );
        assert!(
            m.subject
                .starts_with("[tsuzuki] 認証コード / Your sign-in code: 001122"),
            "{}",
            m.subject
        );
        let (ja, en) = m.body.split_once("\n\n").expect("two halves");
        assert!(
            ja.contains("認証コード: 001122") && ja.contains("Firefox(192.0.2.1)"),
            "{ja}"
        );
        assert!(
            en.contains("Your sign-in code: 001122")
                && en.contains("Requested from: Firefox (192.0.2.1)"),
            "{en}"
        );
        assert!(m.body.ends_with('\n') && !m.body.contains('{') && !m.body.contains("mail-"));
    }
}
