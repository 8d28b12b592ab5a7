//! Storage of second factors, recovery codes and trusted devices (S3, S8, S9).

use crate::Result;
use async_trait::async_trait;
use tsuzuki_core::clock::Timestamp;
use tsuzuki_core::flow::Method;
use tsuzuki_core::token::TokenHash;

/// One second factor of an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactorRecord {
    /// Public handle (`fac_…`), what removal takes.
    pub id: String,
    pub user_id: String,
    /// Totp, Email or Sms (recovery codes are their own table).
    pub method: Method,
    /// The person's name for it ("Phone", "Work laptop").
    pub name: String,
    /// Authenticator secret, encrypted with the server key and bound to `id`.
    pub secret_sealed: Option<Vec<u8>>,
    /// Where codes go: the email address or phone number.
    pub target: Option<String>,
    /// The last accepted TOTP time step (SEC-48).
    pub last_step: Option<i64>,
    /// None while the enrolment waits for its first valid code.
    pub confirmed_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
}

/// A browser trusted to skip the second factor (S3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedDeviceRecord {
    pub token_hash: TokenHash,
    /// Public handle (`trd_…`) for device lists and revocation.
    pub handle: String,
    pub user_id: String,
    pub created_at: Timestamp,
    pub last_used_at: Timestamp,
    pub expires_at: Timestamp,
    pub ip: String,
    pub user_agent: String,
}

#[async_trait]
pub trait FactorStore: Send + Sync {
    async fn insert_factor(&self, factor: &FactorRecord) -> Result<()>;
    /// Every factor of the user, confirmed or pending, oldest first.
    async fn factors_of_user(&self, user_id: &str) -> Result<Vec<FactorRecord>>;
    async fn factor_by_id(&self, id: &str) -> Result<Option<FactorRecord>>;
    /// Mark a pending factor confirmed, recording the step of the code that confirmed it so
    /// that code cannot serve again (SEC-49).
    async fn confirm_factor(&self, id: &str, step: Option<i64>, now: Timestamp) -> Result<bool>;
    /// Delete one factor of `user_id`. Returns whether it existed.
    async fn delete_factor(&self, user_id: &str, id: &str) -> Result<bool>;
    /// Compare-and-set of the last accepted TOTP step: succeeds only if `step` is newer than
    /// the stored one, so two requests with one code never both pass (SEC-48).
    async fn advance_totp_step(&self, id: &str, step: i64, now: Timestamp) -> Result<bool>;
    async fn touch_factor(&self, id: &str, now: Timestamp) -> Result<()>;

    /// Replace the user's recovery codes by these keyed hashes.
    async fn replace_recovery_codes(
        &self,
        user_id: &str,
        hashes: &[TokenHash],
        now: Timestamp,
    ) -> Result<()>;
    /// Use a code once: true if it was the user's and unused (atomic).
    async fn use_recovery_code(
        &self,
        user_id: &str,
        hash: &TokenHash,
        now: Timestamp,
    ) -> Result<bool>;
    async fn recovery_codes_left(&self, user_id: &str) -> Result<u32>;

    async fn insert_trusted_device(&self, device: &TrustedDeviceRecord) -> Result<()>;
    async fn trusted_device_by_hash(&self, hash: &TokenHash)
    -> Result<Option<TrustedDeviceRecord>>;
    async fn touch_trusted_device(&self, hash: &TokenHash, now: Timestamp) -> Result<()>;
    async fn trusted_devices_of_user(&self, user_id: &str) -> Result<Vec<TrustedDeviceRecord>>;
    /// Delete one trusted device of `user_id` by handle. Returns whether it existed.
    async fn revoke_trusted_device(&self, user_id: &str, handle: &str) -> Result<bool>;
    /// Delete every trusted device of the user but `keep` (a handle).
    async fn revoke_user_trusted_devices(&self, user_id: &str, keep: Option<&str>) -> Result<u64>;
    async fn delete_expired_trusted_devices(&self, now: Timestamp, limit: i64) -> Result<u64>;
}
