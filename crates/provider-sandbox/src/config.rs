//! provider-sandbox settings: `[telemetry]` and `[sandbox]`.

use paysys_platform::config::TelemetrySettings;
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub telemetry: TelemetrySettings,
    pub sandbox: SandboxSettings,
}

/// Subscription terms a carrier-billing provider keeps per service (seeds 000 and 001:
/// "configured by Mobiltek/Teleaudio").
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct ServiceTerms {
    pub period_secs: u64,
    pub amount_minor: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SandboxSettings {
    pub listen: String,
    pub public_url: String,
    pub mobiltek_notify_url: String,
    pub mobiltek_secret: String,
    pub mobiltek_default_period_secs: u64,
    #[serde(default)]
    pub mobiltek_services: BTreeMap<String, ServiceTerms>,
    pub teleaudio_notify_url: String,
    pub teleaudio_secret: String,
    pub teleaudio_default_period_secs: u64,
    #[serde(default)]
    pub teleaudio_services: BTreeMap<String, ServiceTerms>,
}
