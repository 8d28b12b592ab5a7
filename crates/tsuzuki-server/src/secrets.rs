//! The server's secret key: 256 random bits kept in `<data_dir>/secret.key` with mode 0600,
//! generated on first start. Sub-keys for each purpose are derived from it with HMAC, so one file
//! serves every purpose and a leaked sub-key reveals nothing of the others.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::io::Write;
use std::path::Path;

pub struct SecretKey([u8; 32]);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

impl SecretKey {
    /// Read the key file, or create it (0600) if it does not exist yet.
    pub fn load_or_create(data_dir: &Path) -> std::io::Result<SecretKey> {
        let path = data_dir.join("secret.key");
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let bytes = data_encoding::HEXLOWER.decode(text.trim().as_bytes()).ok();
                let key: [u8; 32] = bytes.and_then(|b| b.try_into().ok()).ok_or_else(|| {
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("{} is not 64 hex digits; restore it from backup or delete it to sign everyone out", path.display()),
                    )
                })?;
                Ok(SecretKey(key))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key: [u8; 32] = tsuzuki_core::token::random_bytes();
                let mut file = create_private(&path)?;
                file.write_all(data_encoding::HEXLOWER.encode(&key).as_bytes())?;
                file.write_all(b"\n")?;
                file.sync_all()?;
                Ok(SecretKey(key))
            }
            Err(e) => Err(e),
        }
    }

    /// A key for tests and for processes that need no persistence.
    pub fn ephemeral() -> SecretKey {
        SecretKey(tsuzuki_core::token::random_bytes())
    }

    /// A sub-key bound to `purpose` (e.g. `"csrf"`).
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        let mut mac =
            <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(b"tsuzuki/");
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

#[cfg(unix)]
fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_with_private_mode_then_reused() {
        let dir = tsuzuki_store::testing::TempDir::new("key");
        let a = SecretKey::load_or_create(&dir.0).unwrap();
        let b = SecretKey::load_or_create(&dir.0).unwrap();
        assert_eq!(a.derive("csrf"), b.derive("csrf"));
        assert_ne!(a.derive("csrf"), a.derive("other"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.0.join("secret.key"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn corrupt_key_file_is_an_error_not_a_new_key() {
        let dir = tsuzuki_store::testing::TempDir::new("key");
        std::fs::write(dir.0.join("secret.key"), "not hex").unwrap();
        let err = SecretKey::load_or_create(&dir.0).unwrap_err();
        assert!(err.to_string().contains("64 hex digits"));
    }
}
