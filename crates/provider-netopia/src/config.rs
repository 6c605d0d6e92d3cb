//! provider-netopia settings: the shared sections plus `[netopia]` (config/default.toml
//! documents each). Keys are read from PEM files (or inline PEM for tests); a bad one stops the
//! service at start with a message naming the setting.

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

paysys_adapter::adapter_settings!(netopia: NetopiaSettings);

#[derive(Debug, Clone, Deserialize)]
pub struct NetopiaSettings {
    /// Internal: gRPC PaymentProvider, health, metrics.
    pub listen: String,
    /// Public: the provider's callback routes and pages only.
    pub callback_listen: String,
    /// Where the adapter is reached from outside: the form page and the IPN confirm URL.
    pub public_url: String,
    /// mobilPay's card payment page (the sealed form is posted there).
    pub card_url: String,
    /// The card page of mobilPay's test environment (`test: "True"` orders); unset: refused.
    #[serde(default, deserialize_with = "paysys_adapter::empty_as_none")]
    pub test_card_url: Option<String>,
    /// mobilPay's SOAP service (`logIn`, `cancelRecurrence`, ...).
    pub soap_url: String,
    pub soap_username: String,
    pub soap_password: SecretString,
    /// mobilPay's certificate: orders are sealed for it. PEM file, or inline PEM.
    #[serde(default)]
    pub netopia_certificate_pem_file: Option<String>,
    #[serde(default)]
    pub netopia_certificate_pem: Option<String>,
    /// Our (the seller's) private key: IPNs are sealed for our certificate.
    #[serde(default)]
    pub seller_private_key_pem_file: Option<String>,
    #[serde(default)]
    pub seller_private_key_pem: Option<SecretString>,
    /// `rc4` (mobilPay's default) or `aes-256-cbc`.
    pub cipher: String,
    pub request_timeout_ms: u64,
}

fn pem(inline: Option<&str>, file: Option<&str>, name: &str) -> Result<String, String> {
    match (
        inline.filter(|s| !s.trim().is_empty()),
        file.filter(|s| !s.is_empty()),
    ) {
        (Some(p), _) => Ok(p.to_string()),
        (None, Some(f)) => std::fs::read_to_string(f)
            .map_err(|e| format!("netopia.{name}_file {f:?} cannot be read: {e}")),
        (None, None) => Err(format!(
            "netopia.{name}_file (or netopia.{name}) is required"
        )),
    }
}

impl NetopiaSettings {
    pub fn netopia_certificate(&self) -> Result<String, String> {
        pem(
            self.netopia_certificate_pem.as_deref(),
            self.netopia_certificate_pem_file.as_deref(),
            "netopia_certificate_pem",
        )
    }

    pub fn seller_private_key(&self) -> Result<SecretString, String> {
        pem(
            self.seller_private_key_pem
                .as_ref()
                .map(|s| s.expose_secret()),
            self.seller_private_key_pem_file.as_deref(),
            "seller_private_key_pem",
        )
        .map(SecretString::from)
    }

    pub fn validate(&self) -> Result<(), String> {
        paysys_adapter::http_url_setting("netopia.public_url", &self.public_url)?;
        paysys_adapter::http_url_setting("netopia.card_url", &self.card_url)?;
        if let Some(t) = &self.test_card_url {
            paysys_adapter::http_url_setting("netopia.test_card_url", t)?;
        }
        paysys_adapter::http_url_setting("netopia.soap_url", &self.soap_url)?;
        if self.soap_username.is_empty() {
            return Err("netopia.soap_username is required".into());
        }
        if self.soap_password.expose_secret().is_empty() {
            return Err("netopia.soap_password is required".into());
        }
        if provider_cipher(&self.cipher).is_none() {
            return Err(format!(
                "netopia.cipher must be rc4 or aes-256-cbc, got {:?}",
                self.cipher
            ));
        }
        if self.request_timeout_ms == 0 {
            return Err("netopia.request_timeout_ms must be greater than 0".into());
        }
        let mut urls = vec![
            ("netopia.card_url", self.card_url.as_str()),
            ("netopia.soap_url", self.soap_url.as_str()),
        ];
        if let Some(t) = &self.test_card_url {
            urls.push(("netopia.test_card_url", t.as_str()));
        }
        paysys_adapter::sandbox_secrets_only_against_sandbox(
            &[
                ("netopia.soap_username", self.soap_username.as_str()),
                ("netopia.soap_password", self.soap_password.expose_secret()),
            ],
            &urls,
        )?;
        crate::wire::SealingKey::from_certificate_pem(&self.netopia_certificate()?)
            .map_err(|e| format!("netopia.netopia_certificate_pem: {e}"))?;
        crate::wire::OpeningKey::from_pem(self.seller_private_key()?.expose_secret())
            .map_err(|e| format!("netopia.seller_private_key_pem: {e}"))?;
        Ok(())
    }
}

pub fn provider_cipher(name: &str) -> Option<crate::wire::Cipher> {
    crate::wire::Cipher::parse(name)
}
