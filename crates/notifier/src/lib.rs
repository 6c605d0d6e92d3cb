//! notifier: turns domain events into signed JSON-RPC notifications to merchants (DESIGN
//! section 5) and delivers them from a persisted log with retries on a schedule spanning days,
//! dead letters and replay (gRPC `Notifier`).
#![forbid(unsafe_code)]

pub mod body;
pub mod config;
pub mod consumer;
pub mod delivery;
pub mod grpc;
pub mod schedule;
pub mod startup;
pub mod store;

pub use body::params_signature;
pub use config::Settings;
pub use startup::Application;
pub use store::upsert_endpoint;
