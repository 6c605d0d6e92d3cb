//! The adapter kit (docs/adding-a-provider.md). A payment provider is a type implementing
//! [`Provider`] (start, and optionally unsubscribe, confirm, recurrence changes, refresh) and
//! [`Adapter`] (how to build it from its settings), plus its callback endpoints
//! ([`CallbackEndpoint`]: authenticate, claim, answer) and its wire module. Everything else
//! exists once, here: the `PaymentProvider` gRPC service, the order table and idempotent Start,
//! the callback pipeline and the one order state machine, the command consumer and the startup.
#![forbid(unsafe_code)]

pub mod callback;
pub mod commands;
pub mod error;
pub mod grpc;
pub mod machine;
pub mod order;
pub mod provider;
pub mod startup;
pub mod store;
#[cfg(feature = "testkit")]
pub mod testkit;

pub use callback::{
    plain_text_answer, Authenticated, CallbackEndpoint, Claim, Incoming, Outcome, Refusal, Verdict,
};
pub use error::ProviderError;
pub use machine::{ClaimKind, State};
pub use order::StartOrder;
pub use provider::{
    Answer, Capabilities, Confirmed, Prepared, Provider, RecurrenceChange, Started,
};
pub use startup::{
    empty_as_none, http_url_setting, is_sandbox_url, sandbox_secrets_only_against_sandbox, Adapter,
    AdapterSettings, Application, KitSettings, Platform,
};
pub use store::{Lookup, Order};
