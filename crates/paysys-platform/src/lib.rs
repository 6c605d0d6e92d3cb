//! What every PaySystem service shares, so no binary copies it: typed configuration, telemetry,
//! PostgreSQL access, RabbitMQ (publisher confirms, quorum queues, dead letters, reconnects),
//! the transactional outbox and idempotent inbox, HTTP+gRPC serving with health and metrics,
//! graceful shutdown, money and signatures.
#![forbid(unsafe_code)]

pub mod broker;
pub mod broker_watch;
pub mod cache;
pub mod config;
pub mod db;
pub mod domain;
pub mod events;
pub mod grpc;
pub mod internal;
pub mod money;
pub mod outbox;
pub mod sealed;
pub mod server;
pub mod service;
pub mod shutdown;
pub mod signing;
pub mod telemetry;
pub mod testing;

pub use money::{Currency, Money};
pub use shutdown::Shutdown;
