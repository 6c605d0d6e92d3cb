//! Notifier integration tests against the real PostgreSQL and RabbitMQ: a merchant's story from
//! an event on the exchange to signed POSTs at its notification URL.

mod choice;
mod delivery;
mod destinations;
mod helpers;
mod recovery;
mod replicas;
mod retries;
mod secrets;
