//! provider-teleaudio: the Teleaudio adapter (seeds 001, 002, docs/providers/teleaudio.md) on the
//! adapter kit (crates/paysys-adapter): the `Provider` implementation (subscriptions, webbilling
//! with its SMS code), the callback endpoint, the signed client and Teleaudio's wire types.
#![forbid(unsafe_code)]

pub mod callbacks;
pub mod client;
pub mod config;
pub mod provider;
pub mod wire;

pub use config::Settings;
pub use provider::Teleaudio;

/// The adapter process: the kit's startup around [`Teleaudio`].
pub type Application = paysys_adapter::Application<Teleaudio>;
