//! Ledger settings: the shared sections plus `[ledger]` of config/default.toml. The fee is
//! validated while loading, so a bad `ledger.fee_bps` exits with code 64 naming the setting.

use crate::domain::FeeBps;
use paysys_platform::config::{AmqpSettings, DatabaseSettings, TelemetrySettings};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub database: DatabaseSettings,
    pub amqp: AmqpSettings,
    pub telemetry: TelemetrySettings,
    pub internal: paysys_platform::internal::InternalSettings,
    pub ledger: LedgerSettings,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LedgerSettings {
    /// gRPC Ledger + health and metrics.
    pub listen: String,
    /// Platform fee per charge, 0..=10000 basis points, rounded down to the minor unit.
    pub fee_bps: FeeBps,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(fee_bps: i64) -> Result<Settings, String> {
        paysys_platform::config::load_with(|b| b.set_override("ledger.fee_bps", fee_bps).unwrap())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn default_fee_is_three_percent() {
        assert_eq!(load(300).unwrap().ledger.fee_bps.get(), 300);
    }

    #[test]
    fn out_of_range_fee_names_the_setting() {
        for bad in [-1, 10_001] {
            let err = load(bad).unwrap_err();
            assert!(err.contains("ledger.fee_bps"), "{err}");
        }
    }
}
