//! Ledger integration tests against the real PostgreSQL and RabbitMQ: charge events go onto the
//! exchange as a provider adapter publishes them; the books are read back over gRPC.

mod books;
mod helpers;
mod isolation;
mod poison;
mod posting;
mod subscriptions;
