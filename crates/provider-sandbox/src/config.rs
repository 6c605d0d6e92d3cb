//! provider-sandbox settings: `[telemetry]`, the shared `[sandbox]` keys, and one
//! `[sandbox.<provider>]` section per simulated provider, which only that provider's simulator
//! reads (`SandboxSettings::section`), so adding a provider adds a section, not fields here.
//! config/default.toml documents each key.

use paysys_platform::config::TelemetrySettings;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub telemetry: TelemetrySettings,
    pub sandbox: SandboxSettings,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SandboxSettings {
    pub listen: String,
    /// Public base URL of the sandbox (pages link back to it).
    pub public_url: String,
    /// Attempts per notification (connection errors and 5xx are retried, 4xx never).
    #[serde(default = "default_attempts")]
    pub callback_attempts: u32,
    /// Delay before the first resend, doubled for each further one.
    #[serde(default = "default_backoff")]
    pub callback_backoff_ms: u64,
    /// How many callbacks the sandbox sends at once (default 1: one after the other). Above 1,
    /// `/_sandbox/complete` calls for different orders overlap and a clock advance sends the
    /// charges of different subscriptions in parallel (each subscription's still in order), as a
    /// real provider does; `make bench` uses it so that the simulator is not the bottleneck.
    #[serde(default = "default_concurrency")]
    pub callback_concurrency: usize,
    /// How long the `timeout` fault makes a provider API call hang.
    #[serde(default = "default_hang")]
    pub fault_timeout_secs: u64,
    /// Every other key: the `[sandbox.<provider>]` sections, by provider name, left as read
    /// (`config::Value` keeps the config crate's coercions, e.g. a numeric secret from the
    /// environment still reads as a string).
    #[serde(flatten)]
    pub providers: BTreeMap<String, config::Value>,
}

fn default_attempts() -> u32 {
    5
}
fn default_backoff() -> u64 {
    100
}
fn default_concurrency() -> usize {
    1
}
fn default_hang() -> u64 {
    30
}

impl SandboxSettings {
    /// Names the first bad shared setting (each simulator checks its own section).
    pub fn validate(&self) -> Result<(), String> {
        check_url("sandbox.public_url", &self.public_url)?;
        if self.callback_attempts == 0 {
            return Err("sandbox.callback_attempts must be at least 1".into());
        }
        if !(1..=1024).contains(&self.callback_concurrency) {
            return Err("sandbox.callback_concurrency must be between 1 and 1024".into());
        }
        Ok(())
    }

    /// The `[sandbox.<provider>]` section read as `T`; Err names the section and what is wrong.
    pub fn section<T: DeserializeOwned>(&self, provider: &str) -> Result<T, String> {
        let value = self
            .providers
            .get(provider)
            .cloned()
            .ok_or_else(|| format!("sandbox.{provider}: section missing"))?;
        value
            .try_deserialize()
            .map_err(|e| format!("sandbox.{provider}: {e}"))
    }
}

/// Err unless `value` is an http(s) URL.
pub fn check_url(key: &str, value: &str) -> Result<(), String> {
    if url::Url::parse(value).is_ok_and(|u| matches!(u.scheme(), "http" | "https")) {
        Ok(())
    } else {
        Err(format!("{key} must be an http(s) URL, got {value:?}"))
    }
}

/// Subscription terms a carrier-billing provider keeps per service (seed 000: "the amount of
/// money involved in a subscription and the period between payments need to be configured by
/// Mobiltek"; seed 001 likewise for Teleaudio).
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct ServiceTerms {
    pub period_secs: u64,
    pub amount_minor: i64,
}

/// The section shape of a provider that signs its callbacks with a shared secret and keeps
/// subscription terms per service (`[sandbox.mobiltek]`, `[sandbox.teleaudio]`).
#[derive(Debug, Clone, Deserialize)]
pub struct ProviderSettings {
    /// The adapter's callback endpoint.
    pub notify_url: String,
    /// The secret the provider shares with the adapter.
    pub secret: String,
    /// Subscription period of a service not listed in `services`.
    pub default_period_secs: u64,
    #[serde(default)]
    pub services: BTreeMap<String, ServiceTerms>,
}

impl ProviderSettings {
    /// Reads and checks `[sandbox.<provider>]`.
    pub fn load(sandbox: &SandboxSettings, provider: &str) -> Result<Self, String> {
        let s: Self = sandbox.section(provider)?;
        check_url(&format!("sandbox.{provider}.notify_url"), &s.notify_url)?;
        if s.secret.is_empty() {
            return Err(format!("sandbox.{provider}.secret must not be empty"));
        }
        if s.default_period_secs == 0 {
            return Err(format!(
                "sandbox.{provider}.default_period_secs must be greater than 0"
            ));
        }
        for (service, terms) in &s.services {
            if terms.period_secs == 0 || terms.amount_minor <= 0 {
                return Err(format!(
                    "sandbox.{provider}.services.{service}: period_secs and amount_minor must be greater than 0"
                ));
            }
        }
        Ok(s)
    }

    /// The terms of `service_id`: as configured, else the default period and `fallback_amount`
    /// (what the merchant's request or link said).
    pub fn terms(&self, service_id: &str, fallback_amount: i64) -> ServiceTerms {
        self.services
            .get(service_id)
            .copied()
            .unwrap_or(ServiceTerms {
                period_secs: self.default_period_secs,
                amount_minor: fallback_amount,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> SandboxSettings {
        let s: Settings = paysys_platform::config::load_with(|b| b).expect("defaults");
        s.sandbox
    }

    #[test]
    fn each_provider_reads_its_own_section() {
        let s = defaults();
        let m = ProviderSettings::load(&s, "mobiltek").unwrap();
        assert_eq!(m.terms("30576", 1).amount_minor, 10);
        assert_eq!(m.terms("999", 7).period_secs, m.default_period_secs);
        assert_eq!(m.terms("999", 7).amount_minor, 7);
        let t = ProviderSettings::load(&s, "teleaudio").unwrap();
        assert_eq!(t.terms("511", 1).amount_minor, 100);
        assert!(ProviderSettings::load(&s, "paypal")
            .unwrap_err()
            .contains("sandbox.paypal"));
    }

    #[test]
    fn bad_sections_are_named() {
        let s: Settings = paysys_platform::config::load_with(|b| {
            b.set_override("sandbox.teleaudio.notify_url", "ftp://x")
                .unwrap()
                .set_override("sandbox.mobiltek.secret", 12345)
                .unwrap()
        })
        .unwrap();
        let err = ProviderSettings::load(&s.sandbox, "teleaudio").unwrap_err();
        assert!(err.starts_with("sandbox.teleaudio.notify_url"), "{err}");
        // A numeric secret (as the environment gives it) still reads as text.
        assert_eq!(
            ProviderSettings::load(&s.sandbox, "mobiltek")
                .unwrap()
                .secret,
            "12345"
        );
    }
}
