//! rpc-edge settings: the shared sections plus `[edge]` of config/default.toml.

use paysys_platform::config::{AmqpSettings, DatabaseSettings, TelemetrySettings};
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub database: DatabaseSettings,
    pub amqp: AmqpSettings,
    pub telemetry: TelemetrySettings,
    pub edge: EdgeSettings,
}

#[derive(Debug, Clone, Deserialize)]
pub struct EdgeSettings {
    pub listen: String,
    pub provider_timeout_ms: u64,
    pub signature_max_age_secs: i64,
    /// Provider name -> gRPC URL of its adapter.
    pub providers: BTreeMap<String, String>,
}
