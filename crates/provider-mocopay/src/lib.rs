//! provider-mocopay: the MoCoPay adapter (seed 004, docs/providers/mocopay.md).
//!
//! This library is the WIRE LAYER: pure functions and types, no I/O, shared by the adapter
//! service (which signs its calls and reads MoCoPay's answers, notifications and redirects) and
//! by provider-sandbox's MoCoPay simulator (which checks the same signatures and builds the same
//! answers).
//!
//! - [`signature`]: `base64(MD5(secret + request_uri + "?" + sorted k=v&k=v))`, header or parameter.
//! - [`init_payment`]: `GET /v1/payment/initPayment/` and its `{requestId, redirectUrl}` answer.
//! - [`verify_payment`]: `POST /v1/payment/verifyPayment/` answered by a [`session::Session`].
//! - [`notification`]: session and transaction notifications (GET to the notify URL).
//! - [`callback`]: the callbackUrl redirect of the user's browser.
//! - [`currency`]: MoCoPay codes (`TES`) to ISO 4217.
//! - [`response`]: reading answers, and our error shape `{"errorCode", "errorMessage"}`.
//! - [`wire`], [`query`]: endpoints, signed requests, query decoding shared by the above.
//!
//! Nothing MoCoPay sends is believed as such: notifications and redirects are unsigned hints,
//! and the adapter books money only after verifyPayment agrees, one ledger transfer per MoCoPay
//! transaction id.
#![forbid(unsafe_code)]

pub mod callback;
pub mod callbacks;
pub mod claims;
pub mod client;
pub mod config;
pub mod currency;
pub mod init_payment;
pub mod notification;
pub mod pages;
pub mod provider;
pub mod query;
pub mod response;
pub mod session;
pub mod signature;
pub mod verify_payment;
pub mod wire;

#[cfg(test)]
mod seed;

pub use callback::CallbackRedirect;
pub use currency::{CurrencyError, MocoCurrency};
pub use init_payment::{InitPayment, InitPaymentResponse};
pub use notification::{Notification, SessionNotification, TransactionNotification};
pub use query::{ParamError, Params};
pub use response::{ErrorBody, ErrorCode, ResponseError};
pub use session::{
    EndUser, Session, SessionStatus, SessionTransaction, SessionType, TransactionStatus,
};
pub use signature::SignatureError;
pub use verify_payment::VerifyPayment;
pub use wire::{
    authenticate_query, HttpMethod, InboundError, RequestError, SignedRequest, INIT_PAYMENT_PATH,
    VERIFY_PAYMENT_PATH,
};

pub use config::Settings;
pub use provider::Mocopay;

/// The adapter process: the kit's startup around [`Mocopay`].
pub type Application = paysys_adapter::Application<Mocopay>;
