//! provider-mocopay settings: the shared sections plus `[mocopay]` (config/default.toml documents
//! each).

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

paysys_adapter::adapter_settings!(mocopay: MocopaySettings);

#[derive(Debug, Clone, Deserialize)]
pub struct MocopaySettings {
    /// Internal: gRPC PaymentProvider, health, metrics.
    pub listen: String,
    /// Public: the provider's callback routes and pages only.
    pub callback_listen: String,
    /// Where MoCoPay and browsers reach this adapter (notifyUrl, callbackUrl).
    pub public_url: String,
    /// Where MoCoPay's `/v1/payment/` API lives.
    pub base_url: String,
    /// MoCoPay's test environment (`test: "True"` orders); unset: refused.
    #[serde(default, deserialize_with = "paysys_adapter::empty_as_none")]
    pub test_base_url: Option<String>,
    pub api_key: String,
    pub api_secret: SecretString,
    pub request_timeout_ms: u64,
}

impl MocopaySettings {
    pub fn validate(&self) -> Result<(), String> {
        for (name, v) in [
            ("public_url", Some(&self.public_url)),
            ("base_url", Some(&self.base_url)),
            ("test_base_url", self.test_base_url.as_ref()),
        ] {
            if let Some(v) = v {
                paysys_adapter::http_url_setting(&format!("mocopay.{name}"), v)?;
            }
        }
        if self.api_key.is_empty() || self.api_key.contains(':') {
            return Err("mocopay.api_key is required and has no ':'".into());
        }
        if self.api_secret.expose_secret().len() < 8 {
            return Err("mocopay.api_secret must be at least 8 characters".into());
        }
        if self.request_timeout_ms == 0 {
            return Err("mocopay.request_timeout_ms must be greater than 0".into());
        }
        let mut urls = vec![("mocopay.base_url", self.base_url.as_str())];
        if let Some(t) = &self.test_base_url {
            urls.push(("mocopay.test_base_url", t.as_str()));
        }
        paysys_adapter::sandbox_secrets_only_against_sandbox(
            &[
                ("mocopay.api_key", self.api_key.as_str()),
                ("mocopay.api_secret", self.api_secret.expose_secret()),
            ],
            &urls,
        )
    }
}
