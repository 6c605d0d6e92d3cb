//! provider-mobiltek settings: the shared sections plus `[mobiltek]`.

use secrecy::SecretString;
use serde::Deserialize;

paysys_adapter::adapter_settings!(mobiltek: MobiltekSettings);

#[derive(Debug, Clone, Deserialize)]
pub struct MobiltekSettings {
    /// Internal: gRPC PaymentProvider, health, metrics.
    pub listen: String,
    /// Public: the provider's callback routes and pages only.
    pub callback_listen: String,
    /// Mobiltek's base URL: `{base_url}/ppe` and `{base_url}/unsubscribe`.
    pub base_url: String,
    /// Mobiltek's test environment, where `test: "True"` orders go; unset: test orders are
    /// refused (`-32602` naming `test`).
    #[serde(default, deserialize_with = "paysys_adapter::empty_as_none")]
    pub test_base_url: Option<String>,
    /// Key of every hash exchanged with Mobiltek.
    pub secret: SecretString,
    /// Mobiltek service of a channel without `service_id` in its config.
    pub default_service_id: String,
    /// Deadline of a call to Mobiltek (unsubscribe), also bounded by the caller's gRPC deadline.
    pub request_timeout_ms: u64,
}

impl MobiltekSettings {
    pub fn validate(&self) -> Result<(), String> {
        paysys_adapter::http_url_setting("mobiltek.base_url", &self.base_url)?;
        if let Some(t) = &self.test_base_url {
            paysys_adapter::http_url_setting("mobiltek.test_base_url", t)?;
        }
        if secrecy::ExposeSecret::expose_secret(&self.secret).len() < 8 {
            return Err("mobiltek.secret must be at least 8 characters".into());
        }
        if self.default_service_id.is_empty()
            || !self.default_service_id.bytes().all(|b| b.is_ascii_digit())
        {
            return Err("mobiltek.default_service_id must be digits".into());
        }
        if self.request_timeout_ms == 0 {
            return Err("mobiltek.request_timeout_ms must be greater than 0".into());
        }
        let mut urls = vec![("mobiltek.base_url", self.base_url.as_str())];
        if let Some(t) = &self.test_base_url {
            urls.push(("mobiltek.test_base_url", t.as_str()));
        }
        paysys_adapter::sandbox_secrets_only_against_sandbox(
            &[(
                "mobiltek.secret",
                secrecy::ExposeSecret::expose_secret(&self.secret),
            )],
            &urls,
        )
    }
}
