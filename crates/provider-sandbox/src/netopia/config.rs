//! `[sandbox.netopia]`: mobilPay's key pair (the card page opens orders with the private key; the
//! keys endpoint serves both halves), the seller's certificate (IPNs are sealed for it), the
//! SOAP account and the seller accounts it knows. Inline PEM wins over a file. When neither gives
//! mobilPay's pair, the sandbox makes a throwaway one (logged; `GET /_sandbox/netopia/keys`
//! serves it); without a seller certificate it cannot seal IPNs, so its card page refuses orders
//! saying so, while the other simulated providers run on.

use crate::config::SandboxSettings;
use provider_netopia::provider::is_seller_account;
use provider_netopia::wire::{Cipher, OpeningKey, SealingKey};
use serde::Deserialize;
use std::sync::OnceLock;

#[derive(Debug, Clone, Deserialize)]
struct Section {
    #[serde(default)]
    private_key_pem: Option<String>,
    #[serde(default)]
    private_key_pem_file: Option<String>,
    #[serde(default)]
    certificate_pem: Option<String>,
    #[serde(default)]
    certificate_pem_file: Option<String>,
    #[serde(default)]
    seller_certificate_pem: Option<String>,
    #[serde(default)]
    seller_certificate_pem_file: Option<String>,
    #[serde(default = "sandbox")]
    soap_username: String,
    #[serde(default = "sandbox")]
    soap_password: String,
    #[serde(default)]
    seller_accounts: Vec<String>,
}

fn sandbox() -> String {
    "sandbox".into()
}

/// The PEM texts the sandbox holds (the keys endpoint serves them as they are).
#[derive(Clone)]
pub struct KeysPem {
    pub netopia_private_key_pem: String,
    pub netopia_certificate_pem: String,
    pub seller_certificate_pem: Option<String>,
}

/// The simulated mobilPay's settings, keys loaded.
pub struct NetopiaSettings {
    pub pem: KeysPem,
    /// Opens the orders browsers post to the card page.
    pub opening: OpeningKey,
    /// Seals IPNs for the seller; none when no seller certificate is configured.
    pub seller: Option<SealingKey>,
    pub soap_username: String,
    pub soap_password: String,
    /// The seller accounts mobilPay knows; empty = any well-formed account.
    pub seller_accounts: Vec<String>,
}

/// Inline PEM, else the file's text; None when neither is there (an unreadable file that exists
/// is an error).
fn pem(
    inline: &Option<String>,
    file: &Option<String>,
    key: &str,
) -> Result<Option<String>, String> {
    if let Some(p) = inline.as_ref().filter(|p| !p.trim().is_empty()) {
        return Ok(Some(p.clone()));
    }
    let Some(path) = file.as_ref().filter(|f| !f.trim().is_empty()) else {
        return Ok(None);
    };
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!(
            "sandbox.netopia.{key}_file {path:?} cannot be read: {e}"
        )),
    }
}

/// One throwaway mobilPay identity per process (key generation is slow in debug builds).
fn generated() -> Result<(String, String), String> {
    static IDENTITY: OnceLock<Result<(String, String), String>> = OnceLock::new();
    IDENTITY
        .get_or_init(|| {
            provider_netopia::test_keys::generate_test_identity("mobilPay sandbox (generated)")
                .map(|i| (i.private_key_pem, i.certificate_pem))
                .map_err(|e| e.to_string())
        })
        .clone()
}

impl NetopiaSettings {
    /// Reads and checks `[sandbox.netopia]`; Err names the setting.
    pub fn load(sandbox: &SandboxSettings) -> Result<Self, String> {
        let s: Section = sandbox.section("netopia")?;
        if s.soap_username.is_empty() || s.soap_password.is_empty() {
            return Err("sandbox.netopia.soap_username and soap_password must not be empty".into());
        }
        for (i, account) in s.seller_accounts.iter().enumerate() {
            if !is_seller_account(account) {
                return Err(format!(
                    "sandbox.netopia.seller_accounts[{i}]: {account:?} is not XXXX-XXXX-XXXX-XXXX-XXXX"
                ));
            }
        }
        let private = pem(
            &s.private_key_pem,
            &s.private_key_pem_file,
            "private_key_pem",
        )?;
        let certificate = pem(
            &s.certificate_pem,
            &s.certificate_pem_file,
            "certificate_pem",
        )?;
        let (private, certificate) = match (private, certificate) {
            (Some(p), Some(c)) => (p, c),
            (None, None) => {
                tracing::warn!(
                    "sandbox.netopia: no mobilPay key pair configured (or its files are missing); using a generated one, served at GET /_sandbox/netopia/keys"
                );
                generated()?
            }
            (Some(_), None) => return Err(
                "sandbox.netopia.certificate_pem (or its file) is required with private_key_pem"
                    .into(),
            ),
            (None, Some(_)) => return Err(
                "sandbox.netopia.private_key_pem (or its file) is required with certificate_pem"
                    .into(),
            ),
        };
        let opening = OpeningKey::from_pem(&private)
            .map_err(|e| format!("sandbox.netopia.private_key_pem: {e}"))?;
        let sealing = SealingKey::from_certificate_pem(&certificate)
            .map_err(|e| format!("sandbox.netopia.certificate_pem: {e}"))?;
        // The two halves must belong together, or no order sealed for the certificate opens.
        let probe = sealing
            .seal(b"pair check", Cipher::Aes256Cbc)
            .map_err(|e| format!("sandbox.netopia.certificate_pem: {e}"))?;
        if opening.open(&probe).ok().as_deref() != Some(b"pair check".as_slice()) {
            return Err(
                "sandbox.netopia.certificate_pem does not belong to private_key_pem".into(),
            );
        }
        let seller_pem = pem(
            &s.seller_certificate_pem,
            &s.seller_certificate_pem_file,
            "seller_certificate_pem",
        )?;
        let seller = match &seller_pem {
            Some(p) => Some(
                SealingKey::from_certificate_pem(p)
                    .map_err(|e| format!("sandbox.netopia.seller_certificate_pem: {e}"))?,
            ),
            None => {
                tracing::warn!(
                    "sandbox.netopia: no seller certificate configured (or its file is missing); the card page refuses orders until one is"
                );
                None
            }
        };
        Ok(Self {
            pem: KeysPem {
                netopia_private_key_pem: private,
                netopia_certificate_pem: certificate,
                seller_certificate_pem: seller_pem,
            },
            opening,
            seller,
            soap_username: s.soap_username,
            soap_password: s.soap_password,
            seller_accounts: s.seller_accounts,
        })
    }

    /// mobilPay's check of an order's `<signature>`: well-formed, and listed when a list is set.
    pub fn knows_seller(&self, account: &str) -> bool {
        is_seller_account(account)
            && (self.seller_accounts.is_empty()
                || self.seller_accounts.iter().any(|a| a == account))
    }
}
