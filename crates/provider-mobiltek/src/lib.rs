//! provider-mobiltek: the Mobiltek adapter (seed 000, docs/providers/mobiltek.md). Speaks
//! Mobiltek's protocol outbound (PPE redirect links with their hash, unsubscribe), serves
//! Mobiltek's notifications, and turns them into PaySystem events through the transactional
//! outbox.
#![forbid(unsafe_code)]

pub mod callbacks;
pub mod config;
pub mod grpc;
pub mod hash;
pub mod startup;
pub mod store;
pub mod transitions;
pub mod wire;

pub use config::Settings;
pub use startup::Application;
