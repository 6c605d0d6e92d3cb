//! provider-teleaudio: the Teleaudio adapter (seeds 001, 002). Subscriptions confirmed by the
//! user and renewed by Teleaudio, and webbilling: an asynchronous start from its command queue
//! (Teleaudio sends an SMS code), then the code confirmed with at most three tries. Teleaudio's
//! callbacks become PaySystem events through the transactional outbox.
#![forbid(unsafe_code)]

pub mod callbacks;
pub mod client;
pub mod commands;
pub mod config;
pub mod grpc;
pub mod service;
pub mod startup;
pub mod store;
pub mod wire;

pub use config::Settings;
pub use startup::Application;
