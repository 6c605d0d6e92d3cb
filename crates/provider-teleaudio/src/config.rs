//! provider-teleaudio settings: the shared sections plus `[teleaudio]`.

use secrecy::SecretString;
use serde::Deserialize;

paysys_adapter::adapter_settings!(teleaudio: TeleaudioSettings);

#[derive(Debug, Clone, Deserialize)]
pub struct TeleaudioSettings {
    /// Internal: gRPC PaymentProvider, health, metrics.
    pub listen: String,
    /// Public: the provider's callback routes and pages only.
    pub callback_listen: String,
    /// Teleaudio's API base URL.
    pub base_url: String,
    /// Teleaudio's test environment, where `test: "True"` orders go; unset: test orders are
    /// refused (`-32602` naming `test`).
    #[serde(default, deserialize_with = "paysys_adapter::empty_as_none")]
    pub test_base_url: Option<String>,
    /// Key of the signatures exchanged with Teleaudio.
    pub secret: SecretString,
    pub request_timeout_ms: u64,
}

impl TeleaudioSettings {
    pub fn validate(&self) -> Result<(), String> {
        paysys_adapter::http_url_setting("teleaudio.base_url", &self.base_url)?;
        if let Some(t) = &self.test_base_url {
            paysys_adapter::http_url_setting("teleaudio.test_base_url", t)?;
        }
        if secrecy::ExposeSecret::expose_secret(&self.secret).len() < 8 {
            return Err("teleaudio.secret must be at least 8 characters".into());
        }
        let mut urls = vec![("teleaudio.base_url", self.base_url.as_str())];
        if let Some(t) = &self.test_base_url {
            urls.push(("teleaudio.test_base_url", t.as_str()));
        }
        paysys_adapter::sandbox_secrets_only_against_sandbox(
            &[(
                "teleaudio.secret",
                secrecy::ExposeSecret::expose_secret(&self.secret),
            )],
            &urls,
        )
    }
}
