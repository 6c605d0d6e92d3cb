//! provider-sandbox settings: `[telemetry]` and `[sandbox]` (config/default.toml documents each).

use paysys_platform::config::TelemetrySettings;
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub telemetry: TelemetrySettings,
    pub sandbox: SandboxSettings,
}

/// Subscription terms a carrier-billing provider keeps per service (seed 000: "the amount of
/// money involved in a subscription and the period between payments need to be configured by
/// Mobiltek"; seed 001 likewise for Teleaudio).
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct ServiceTerms {
    pub period_secs: u64,
    pub amount_minor: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SandboxSettings {
    pub listen: String,
    /// Public base URL of the sandbox (pages link back to it).
    pub public_url: String,
    /// The Mobiltek adapter's notification endpoint.
    pub mobiltek_notify_url: String,
    /// The secret Mobiltek shares with the adapter (`mobiltek.secret` there).
    pub mobiltek_secret: String,
    /// Subscription period of a service not listed in `mobiltek_services`.
    pub mobiltek_default_period_secs: u64,
    #[serde(default)]
    pub mobiltek_services: BTreeMap<String, ServiceTerms>,
    pub teleaudio_notify_url: String,
    pub teleaudio_secret: String,
    pub teleaudio_default_period_secs: u64,
    #[serde(default)]
    pub teleaudio_services: BTreeMap<String, ServiceTerms>,
    /// Attempts per notification (connection errors and 5xx are retried, 4xx never).
    #[serde(default = "default_attempts")]
    pub callback_attempts: u32,
    /// Delay before the first resend, doubled for each further one.
    #[serde(default = "default_backoff")]
    pub callback_backoff_ms: u64,
    /// How long the `timeout` fault makes a provider API call hang.
    #[serde(default = "default_hang")]
    pub fault_timeout_secs: u64,
}

fn default_attempts() -> u32 {
    5
}
fn default_backoff() -> u64 {
    100
}
fn default_hang() -> u64 {
    30
}

impl SandboxSettings {
    /// Names the first bad setting.
    pub fn validate(&self) -> Result<(), String> {
        for (key, value) in [
            ("sandbox.public_url", &self.public_url),
            ("sandbox.mobiltek_notify_url", &self.mobiltek_notify_url),
            ("sandbox.teleaudio_notify_url", &self.teleaudio_notify_url),
        ] {
            if !url::Url::parse(value).is_ok_and(|u| matches!(u.scheme(), "http" | "https")) {
                return Err(format!("{key} must be an http(s) URL, got {value:?}"));
            }
        }
        if self.mobiltek_secret.is_empty() {
            return Err("sandbox.mobiltek_secret must not be empty".into());
        }
        if self.mobiltek_default_period_secs == 0 {
            return Err("sandbox.mobiltek_default_period_secs must be greater than 0".into());
        }
        let services = self
            .mobiltek_services
            .iter()
            .map(|s| ("mobiltek_services", s))
            .chain(
                self.teleaudio_services
                    .iter()
                    .map(|s| ("teleaudio_services", s)),
            );
        for (table, (service, terms)) in services {
            if terms.period_secs == 0 || terms.amount_minor <= 0 {
                return Err(format!(
                    "sandbox.{table}.{service}: period_secs and amount_minor must be greater than 0"
                ));
            }
        }
        if self.callback_attempts == 0 {
            return Err("sandbox.callback_attempts must be at least 1".into());
        }
        Ok(())
    }
}
