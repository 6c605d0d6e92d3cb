//! ledger: double-entry books of every successful charge, in integer minor units per currency.
//! It consumes charge events, posts one balanced transfer per provider charge (failed charges
//! are recorded, never posted) and answers balances, statements and totals over gRPC. A test
//! order's charges go to a separate test book that never mixes with the live one.
#![forbid(unsafe_code)]

pub mod charge;
pub mod config;
pub mod consumer;
pub mod domain;
pub mod grpc;
pub mod startup;
pub mod store;

pub use config::Settings;
pub use startup::Application;
