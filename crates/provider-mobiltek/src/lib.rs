//! provider-mobiltek: the Mobiltek adapter (seed 000, docs/providers/mobiltek.md) on the adapter
//! kit (crates/paysys-adapter): the `Provider` implementation (PPE links, unsubscribe), the
//! notification endpoint, and Mobiltek's wire format with its hash.
#![forbid(unsafe_code)]

pub mod callbacks;
pub mod config;
pub mod hash;
pub mod provider;
pub mod wire;

pub use config::Settings;
pub use provider::Mobiltek;

/// The adapter process: the kit's startup around [`Mobiltek`].
pub type Application = paysys_adapter::Application<Mobiltek>;
