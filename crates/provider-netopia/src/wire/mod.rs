//! mobilPay's v1 card protocol as PaySystem speaks it (docs/providers/netopia.md).
//!
//! - [`envelope`]: `env_key`/`data`/`cipher`/`iv`, PHP's `openssl_seal`/`openssl_open`.
//! - [`order`]: the `<order type="card">` request (with seed 003's recurrence).
//! - [`ipn`]: the decrypted notification (`<order>` plus `<mobilpay>`) and its error codes.
//! - [`crc`]: the merchant's `<crc>` answer to an IPN, which drives mobilPay's resends.
//! - [`soap`]: `logIn`, `cancelRecurrence`, `modifyRecurrencePrice`, `moveRecurrence` and a WSDL.
//! - [`amount`]: minor units <-> mobilPay's `%.02f` strings, exactly.
//!
//! Everything that parses returns a [`WireError`] naming the offending field or element.

pub mod amount;
pub mod crc;
pub mod envelope;
pub mod ipn;
pub mod order;
pub mod soap;

mod der;
mod error;
pub(crate) mod pem;
mod urlcoding;
mod xml;

pub use amount::{format_amount, parse_amount, AmountError};
pub use crc::{crc_error, crc_ok, parse_crc_answer, CrcAnswer, ErrorType};
pub use envelope::{open, seal, Cipher, Envelope, EnvelopeError, OpeningKey, SealingKey};
pub use error::WireError;
pub use ipn::{Action, ErrorCode, Ipn, Notify, PaymentError};
pub use order::{Contact, ContactKind, Invoice, Order, Recurrence};
