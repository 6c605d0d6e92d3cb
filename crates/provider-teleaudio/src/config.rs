//! provider-teleaudio settings: the shared sections plus `[teleaudio]`.

use secrecy::SecretString;
use serde::Deserialize;

paysys_adapter::adapter_settings!(teleaudio: TeleaudioSettings);

#[derive(Debug, Clone, Deserialize)]
pub struct TeleaudioSettings {
    pub listen: String,
    /// Teleaudio's API base URL.
    pub base_url: String,
    /// Teleaudio's test environment, where `test: "True"` orders go; unset: test orders are
    /// refused (`-32602` naming `test`).
    #[serde(default)]
    pub test_base_url: Option<String>,
    /// Key of the signatures exchanged with Teleaudio.
    pub secret: SecretString,
    pub request_timeout_ms: u64,
}

impl TeleaudioSettings {
    pub fn validate(&self) -> Result<(), String> {
        match url::Url::parse(&self.base_url) {
            Ok(u) if u.scheme() == "http" || u.scheme() == "https" => {}
            _ => {
                return Err(format!(
                    "teleaudio.base_url must be an http(s) URL, got {:?}",
                    self.base_url
                ))
            }
        }
        if let Some(t) = &self.test_base_url {
            if !url::Url::parse(t).is_ok_and(|u| matches!(u.scheme(), "http" | "https")) {
                return Err(format!(
                    "teleaudio.test_base_url must be an http(s) URL, got {t:?}"
                ));
            }
        }
        if secrecy::ExposeSecret::expose_secret(&self.secret).len() < 8 {
            return Err("teleaudio.secret must be at least 8 characters".into());
        }
        Ok(())
    }
}
