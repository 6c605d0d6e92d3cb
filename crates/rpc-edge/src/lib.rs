//! rpc-edge: the merchant-facing JSON-RPC 2.0 API (and its gRPC twin). It authenticates and
//! validates merchants' requests, owns orders, asks provider adapters for redirects, and follows
//! the providers' events to keep each order's state.
#![forbid(unsafe_code)]

pub mod api;
pub mod auth;
pub mod config;
pub mod consumer;
pub mod directory;
pub mod domain;
pub mod grpc;
pub mod http;
pub mod jsonrpc;
pub mod params;
pub mod providers;
pub mod startup;
pub mod store;

pub use config::Settings;
pub use startup::Application;
