//! provider-mobiltek integration tests against the real PostgreSQL and RabbitMQ: gRPC Start and
//! Unsubscribe as rpc-edge calls them, Mobiltek's notifications as Mobiltek posts them, events
//! observed on the test's own exchange.

mod helpers;
mod kit;
mod notify;
mod start;
mod surfaces;
mod unsubscribe;
mod vectors;
