//! provider-netopia: the Netopia mobilPay adapter (seed 003, docs/providers/netopia.md).
//!
//! [`wire`] is the protocol as bytes: the OpenSSL-style envelope, the v1 card order XML, the IPN,
//! the merchant's `<crc>` answer and the SOAP recurrence service. It is pure (no I/O) and shared
//! by the adapter and by the sandbox's simulator, so both speak exactly one protocol.
#![forbid(unsafe_code)]

pub mod wire;

#[cfg(any(test, feature = "test-keys"))]
pub mod test_keys;
