//! The messages flows send: codes by email and SMS, and security notices (SEC-74). Japanese and
//! English in one message, since the person's language is not known outside a browser (P3).
//! No message carries a password or a session token; a code message carries only its code.

use crate::courier::Message;
use crate::http::pages::human_time;
use tsuzuki_core::clock::Timestamp;

/// The sign-in code by email: the code, until when it works, and which device asked (S8).
pub fn code_email(to: &str, code: &str, expires_at: Timestamp, device: &str, ip: &str) -> Message {
    let until = human_time(expires_at);
    Message {
        to: to.to_string(),
        subject: format!("[tsuzuki] 認証コード / Your sign-in code: {code}"),
        body: format!(
            "認証コード: {code}\n\
             有効期限: {until} まで\n\
             要求した端末: {device}({ip})\n\
             心当たりがない場合は、このメールを無視し、パスワードを変更してください。\n\n\
             Your sign-in code: {code}\n\
             It works until {until}.\n\
             Requested from: {device} ({ip})\n\
             If this was not you, ignore this message and change your password.\n"
        ),
    }
}

/// The sign-in code by SMS: short, one segment where possible.
pub fn code_sms(code: &str, expires_at: Timestamp) -> String {
    format!(
        "tsuzuki 認証コード / code: {code} ({} まで / until)",
        human_time(expires_at)
    )
}

/// SEC-48: an authenticator code came back after it had been accepted.
pub fn otp_replay(to: &str, device: &str, ip: &str) -> Message {
    Message {
        to: to.to_string(),
        subject:
            "[tsuzuki] 使用済みの認証コードが再び使われました / A used code was presented again"
                .into(),
        body: format!(
            "認証アプリのコードが、すでに使われたあとに再び入力されました({device}、{ip})。\n\
             心当たりがない場合は、パスワードを変更してください。\n\n\
             An authenticator code was entered again after it had been used ({device}, {ip}).\n\
             If this was not you, change your password.\n"
        ),
    }
}

/// SEC-50: a recovery code was used; how many are left.
pub fn recovery_code_used(to: &str, left: u32, device: &str, ip: &str) -> Message {
    Message {
        to: to.to_string(),
        subject: "[tsuzuki] リカバリーコードが使われました / A recovery code was used".into(),
        body: format!(
            "リカバリーコードでログインしました({device}、{ip})。残りのコード: {left} 個。\n\
             心当たりがない場合は、パスワードを変更し、リカバリーコードを再発行してください。\n\n\
             A recovery code was used to sign in ({device}, {ip}). Codes left: {left}.\n\
             If this was not you, change your password and generate new recovery codes.\n"
        ),
    }
}

/// SEC-59: the password was right but the second factor was not.
pub fn second_factor_failed(to: &str, device: &str, ip: &str) -> Message {
    Message {
        to: to.to_string(),
        subject: "[tsuzuki] 2段階認証に失敗したログインがありました / A sign-in failed at the second step"
            .into(),
        body: format!(
            "正しいパスワードでのログインが、2段階目の認証で失敗しました({device}、{ip})。\n\
             心当たりがない場合、パスワードが知られている可能性があります。すぐに変更してください。\n\n\
             Someone entered your correct password but failed the second step ({device}, {ip}).\n\
             If this was not you, your password may be known to someone else: change it now.\n"
        ),
    }
}
