//! notifier: turns domain events into signed JSON-RPC notifications to merchants (DESIGN
//! section 5) and delivers them from a persisted log with retries on a schedule spanning days,
//! dead letters and replay (gRPC `Notifier`), each merchant getting only the methods it chose,
//! at the URLs it chose (`choice`).
#![forbid(unsafe_code)]

pub mod body;
pub mod choice;
pub mod config;
pub mod consumer;
pub mod delivery;
pub mod destination;
pub mod grpc;
pub mod schedule;
pub mod startup;
pub mod store;

pub use body::params_signature;
pub use choice::{Choice, METHODS};
pub use config::Settings;
pub use startup::Application;
pub use store::{save_endpoint, upsert_endpoint};
