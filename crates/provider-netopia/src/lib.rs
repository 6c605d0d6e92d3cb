//! provider-netopia: the Netopia mobilPay adapter (seed 003, docs/providers/netopia.md) on the
//! adapter kit (crates/paysys-adapter): the `Provider` (sealed card orders, recurrence over
//! SOAP), the IPN endpoint, the page that posts the sealed form, and the wire layer.
//!
//! [`wire`] is the protocol as bytes: the OpenSSL-style envelope, the v1 card order XML, the IPN,
//! the merchant's `<crc>` answer and the SOAP recurrence service. It is pure (no I/O) and shared
//! by the adapter and by the sandbox's simulator, so both speak exactly one protocol.
#![forbid(unsafe_code)]

pub mod callbacks;
pub mod config;
pub mod pages;
pub mod provider;
pub mod soap_client;
pub mod wire;

#[cfg(any(test, feature = "test-keys"))]
pub mod test_keys;

pub use config::Settings;
pub use provider::Netopia;

/// The adapter process: the kit's startup around [`Netopia`].
pub type Application = paysys_adapter::Application<Netopia>;
