//! Secrets at rest. A secret the system only compares (a merchant's API secret presented in a
//! request) is kept as a keyed digest ([`DataKey::digest`]); a secret the system must use (the
//! key of an HMAC it computes: a merchant's API secret for body signatures, a notification
//! secret) is kept sealed with AES-256-GCM ([`DataKey::seal`]), bound to where it is stored
//! (the `context`, e.g. `edge.merchants.secret:34801`) so a sealed value copied to another row
//! does not open. The key is `[secrets] data_key` (`PAYSYS__SECRETS__DATA_KEY`): 32 random bytes,
//! base64; `make up` generates one into `.run/paysys.toml`; there is no default.

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sha2::Sha256;

const PREFIX: &str = "v1.";

/// `[secrets]` of config/default.toml.
#[derive(Debug, Clone, Deserialize)]
pub struct SecretsSettings {
    /// 32 random bytes, base64 (`openssl rand -base64 32`).
    pub data_key: SecretString,
}

impl SecretsSettings {
    /// The error names the setting and never shows the value.
    pub fn data_key(&self) -> Result<DataKey, String> {
        DataKey::from_base64(self.data_key.expose_secret())
    }
}

/// The key that seals and digests secrets at rest.
#[derive(Clone)]
pub struct DataKey {
    raw: std::sync::Arc<[u8; 32]>,
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey([redacted])")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("sealed value is malformed")]
    Malformed,
    #[error("sealed value does not open with this key and context")]
    DoesNotOpen,
}

impl DataKey {
    pub fn from_base64(b64: &str) -> Result<Self, String> {
        let b64 = b64.trim();
        if b64.is_empty() {
            return Err("secrets.data_key is not set (PAYSYS__SECRETS__DATA_KEY); `make up` generates one into .run/paysys.toml".into());
        }
        if b64.contains("REPLACE") {
            return Err("secrets.data_key is a placeholder (REPLACE...)".into());
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|_| "secrets.data_key must be base64".to_string())?;
        let raw: [u8; 32] = bytes.try_into().map_err(|_| {
            "secrets.data_key must be 32 bytes (base64 of `openssl rand 32`)".to_string()
        })?;
        Ok(Self {
            raw: std::sync::Arc::new(raw),
        })
    }

    /// A fresh random key (tests).
    pub fn generate() -> Self {
        let mut raw = [0u8; 32];
        SystemRandom::new()
            .fill(&mut raw)
            .expect("system randomness");
        Self {
            raw: std::sync::Arc::new(raw),
        }
    }

    pub fn to_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.raw.as_ref())
    }

    fn aead(&self) -> LessSafeKey {
        LessSafeKey::new(UnboundKey::new(&AES_256_GCM, self.raw.as_ref()).expect("32-byte key"))
    }

    /// `v1.<base64url(nonce || ciphertext || tag)>`, bound to `context`.
    pub fn seal(&self, plaintext: &str, context: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .expect("system randomness");
        let mut buf = plaintext.as_bytes().to_vec();
        self.aead()
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context.as_bytes()),
                &mut buf,
            )
            .expect("AES-GCM seal");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        format!(
            "{PREFIX}{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(out)
        )
    }

    pub fn open(&self, sealed: &str, context: &str) -> Result<SecretString, SealError> {
        let body = sealed.strip_prefix(PREFIX).ok_or(SealError::Malformed)?;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| SealError::Malformed)?;
        if bytes.len() < NONCE_LEN + AES_256_GCM.tag_len() {
            return Err(SealError::Malformed);
        }
        let (nonce, ct) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError::Malformed)?;
        let mut buf = ct.to_vec();
        let plain = self
            .aead()
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut buf)
            .map_err(|_| SealError::DoesNotOpen)?;
        String::from_utf8(plain.to_vec())
            .map(SecretString::from)
            .map_err(|_| SealError::Malformed)
    }

    /// A keyed digest (HMAC-SHA256, hex) of a secret that is only compared: equal secrets give
    /// equal digests (so it can be looked up by a unique index), and a database dump without
    /// the key allows no offline guessing.
    pub fn digest(&self, secret: &str, purpose: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.raw.as_ref()).expect("any key");
        mac.update(purpose.as_bytes());
        mac.update(b"\0");
        mac.update(secret.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_only_with_its_key_and_context() {
        let key = DataKey::generate();
        let sealed = key.seal("whsec_abc", "notifier.endpoints.secret:1");
        assert!(sealed.starts_with("v1."));
        assert!(!sealed.contains("whsec_abc"));
        let opened = key.open(&sealed, "notifier.endpoints.secret:1").unwrap();
        assert_eq!(opened.expose_secret(), "whsec_abc");
        assert!(matches!(
            key.open(&sealed, "notifier.endpoints.secret:2"),
            Err(SealError::DoesNotOpen)
        ));
        assert!(matches!(
            DataKey::generate().open(&sealed, "notifier.endpoints.secret:1"),
            Err(SealError::DoesNotOpen)
        ));
        assert!(matches!(
            key.open("whsec_abc", "x"),
            Err(SealError::Malformed)
        ));
        assert!(matches!(
            key.open("v1.AAAA", "x"),
            Err(SealError::Malformed)
        ));
        // Two seals of one secret differ (fresh nonce), both open.
        let again = key.seal("whsec_abc", "notifier.endpoints.secret:1");
        assert_ne!(sealed, again);
    }

    #[test]
    fn digests_are_keyed_and_stable() {
        let key = DataKey::generate();
        let a = key.digest("merchant-1-secret", "edge.merchants.secret");
        assert_eq!(a, key.digest("merchant-1-secret", "edge.merchants.secret"));
        assert_ne!(a, key.digest("merchant-1-secret", "other"));
        assert_ne!(
            a,
            DataKey::generate().digest("merchant-1-secret", "edge.merchants.secret")
        );
        assert_eq!(a.len(), 64);
    }

    #[test]
    fn the_key_setting_is_validated_by_name() {
        assert!(DataKey::from_base64("")
            .unwrap_err()
            .contains("secrets.data_key"));
        assert!(DataKey::from_base64("REPLACE_ME")
            .unwrap_err()
            .contains("placeholder"));
        assert!(DataKey::from_base64("!!").unwrap_err().contains("base64"));
        assert!(DataKey::from_base64("YWJj")
            .unwrap_err()
            .contains("32 bytes"));
        let k = DataKey::generate();
        assert!(DataKey::from_base64(&k.to_base64()).is_ok());
    }
}
