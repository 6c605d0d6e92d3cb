//! notifier settings: the shared sections plus `[notifier]` of config/default.toml.

use paysys_platform::config::{AmqpSettings, DatabaseSettings, TelemetrySettings};
use serde::Deserialize;
use std::time::Duration;

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub database: DatabaseSettings,
    pub amqp: AmqpSettings,
    pub telemetry: TelemetrySettings,
    pub internal: paysys_platform::internal::InternalSettings,
    /// The key notification secrets are sealed with (`notifier.endpoints`).
    pub secrets: paysys_platform::sealed::SecretsSettings,
    pub notifier: NotifierSettings,
}

#[derive(Debug, Clone, Deserialize)]
pub struct NotifierSettings {
    /// HTTP (health, metrics) and gRPC `Notifier` on one port.
    pub listen: String,
    /// Delay before attempt n (0-based); its length is the number of attempts before dead.
    pub schedule_secs: Vec<u64>,
    /// +- this fraction of each delay.
    pub jitter: f64,
    pub request_timeout_ms: u64,
    /// Deliveries in flight at once.
    pub concurrency: usize,
    pub poll_ms: u64,
    /// A leased delivery becomes due again after request timeout + this margin (a crash
    /// mid-delivery is retried then).
    #[serde(default = "default_lease_margin_ms")]
    pub lease_margin_ms: u64,
    /// Loopback, private, CGNAT, link-local and reserved destinations are allowed (local
    /// development and tests, whose merchants listen on 127.0.0.1); production sets false.
    /// Cloud metadata, unspecified, multicast and broadcast addresses are refused regardless.
    pub allow_private_destinations: bool,
    /// An http:// notification URL is refused at delivery (production sets true).
    pub require_https: bool,
}

fn default_lease_margin_ms() -> u64 {
    30_000
}

impl NotifierSettings {
    /// Checks what serde cannot; the error names the key.
    pub fn validate(&self) -> Result<(), String> {
        if self.schedule_secs.is_empty() {
            return Err("notifier.schedule_secs must list at least one delay (0 = at once)".into());
        }
        if !(0.0..1.0).contains(&self.jitter) {
            return Err(format!(
                "notifier.jitter must be in [0, 1), got {}",
                self.jitter
            ));
        }
        if self.concurrency == 0 {
            return Err("notifier.concurrency must be at least 1".into());
        }
        if self.request_timeout_ms == 0 {
            return Err("notifier.request_timeout_ms must be positive".into());
        }
        if self.poll_ms == 0 {
            return Err("notifier.poll_ms must be positive".into());
        }
        Ok(())
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }

    /// How long a leased delivery stays invisible to other workers.
    pub fn lease(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms + self.lease_margin_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> NotifierSettings {
        NotifierSettings {
            listen: "127.0.0.1:0".into(),
            schedule_secs: vec![0, 5],
            jitter: 0.1,
            request_timeout_ms: 1000,
            concurrency: 4,
            poll_ms: 500,
            lease_margin_ms: 30_000,
            allow_private_destinations: false,
            require_https: true,
        }
    }

    #[test]
    fn defaults_are_valid() {
        let s: Settings = paysys_platform::config::load_with(|b| b).expect("defaults load");
        s.notifier.validate().expect("defaults are valid");
        assert_eq!(
            s.notifier.schedule_secs[0], 0,
            "the first attempt is immediate"
        );
    }

    #[test]
    fn defaults_allow_local_merchants_over_http() {
        let s: Settings = paysys_platform::config::load_with(|b| b).expect("defaults load");
        assert!(s.notifier.allow_private_destinations);
        assert!(!s.notifier.require_https);
    }

    #[test]
    fn destination_settings_must_be_booleans_and_the_error_names_them() {
        for key in [
            "notifier.allow_private_destinations",
            "notifier.require_https",
        ] {
            let err = paysys_platform::config::load_with::<Settings>(|b| {
                b.set_override(key, "sometimes").expect("override")
            })
            .expect_err("not a boolean");
            assert!(format!("{err:#}").contains(key), "{key}: {err:#}");
        }
    }

    #[test]
    fn empty_schedule_is_rejected_by_name() {
        let s = NotifierSettings {
            schedule_secs: vec![],
            ..settings()
        };
        assert!(s.validate().unwrap_err().contains("notifier.schedule_secs"));
    }

    #[test]
    fn jitter_outside_unit_interval_is_rejected_by_name() {
        for jitter in [-0.1, 1.0, 2.0, f64::NAN] {
            let s = NotifierSettings {
                jitter,
                ..settings()
            };
            assert!(
                s.validate().unwrap_err().contains("notifier.jitter"),
                "{jitter}"
            );
        }
        assert!(NotifierSettings {
            jitter: 0.0,
            ..settings()
        }
        .validate()
        .is_ok());
    }
}
