//! rpc-edge settings: the shared sections plus `[edge]` of config/default.toml.

use paysys_platform::config::{AmqpSettings, DatabaseSettings, TelemetrySettings};
use paysys_platform::sealed::SecretsSettings;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub database: DatabaseSettings,
    pub amqp: AmqpSettings,
    pub telemetry: TelemetrySettings,
    pub internal: paysys_platform::internal::InternalSettings,
    /// The key merchants' API secrets are digested and sealed with (`edge.merchants`).
    pub secrets: SecretsSettings,
    pub edge: EdgeSettings,
}

#[derive(Debug, Clone, Deserialize)]
pub struct EdgeSettings {
    pub listen: String,
    pub provider_timeout_ms: u64,
    pub signature_max_age_secs: i64,
    /// Deadline of one merchant HTTP request, batch included (above `provider_timeout_ms`).
    pub request_timeout_ms: u64,
    /// Merchant HTTP requests handled at once; one more is answered "busy, retry" at once.
    pub max_concurrent_requests: usize,
    /// Provider name -> gRPC URL of its adapter.
    pub providers: BTreeMap<String, String>,
}

/// The longest signature window accepted: a day.
const MAX_SIGNATURE_AGE_SECS: i64 = 86_400;
/// More permits than this is no limit at all (and tokio's semaphore has a ceiling).
const MAX_CONCURRENT_REQUESTS: usize = 100_000;

impl EdgeSettings {
    /// Checks what serde cannot; the error names the key.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=MAX_SIGNATURE_AGE_SECS).contains(&self.signature_max_age_secs) {
            return Err(format!(
                "edge.signature_max_age_secs must be 1 to {MAX_SIGNATURE_AGE_SECS}, got {}",
                self.signature_max_age_secs
            ));
        }
        if self.request_timeout_ms == 0 {
            return Err("edge.request_timeout_ms must be positive".into());
        }
        if self.provider_timeout_ms == 0 {
            return Err("edge.provider_timeout_ms must be positive".into());
        }
        if !(1..=MAX_CONCURRENT_REQUESTS).contains(&self.max_concurrent_requests) {
            return Err(format!(
                "edge.max_concurrent_requests must be 1 to {MAX_CONCURRENT_REQUESTS}, got {}",
                self.max_concurrent_requests
            ));
        }
        Ok(())
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> EdgeSettings {
        let s: Settings = paysys_platform::config::load_with(|b| b).expect("defaults load");
        s.edge
    }

    #[test]
    fn defaults_are_valid_and_the_request_deadline_outlasts_a_provider_call() {
        let e = defaults();
        e.validate().expect("defaults are valid");
        assert!(e.request_timeout_ms > e.provider_timeout_ms);
    }

    #[test]
    fn limits_are_checked_by_name() {
        for (bad, name) in [
            (
                EdgeSettings {
                    max_concurrent_requests: 0,
                    ..defaults()
                },
                "edge.max_concurrent_requests",
            ),
            (
                EdgeSettings {
                    request_timeout_ms: 0,
                    ..defaults()
                },
                "edge.request_timeout_ms",
            ),
            (
                EdgeSettings {
                    signature_max_age_secs: -1,
                    ..defaults()
                },
                "edge.signature_max_age_secs",
            ),
            (
                EdgeSettings {
                    signature_max_age_secs: i64::MAX,
                    ..defaults()
                },
                "edge.signature_max_age_secs",
            ),
        ] {
            assert!(bad.validate().unwrap_err().contains(name), "{name}");
        }
    }
}
