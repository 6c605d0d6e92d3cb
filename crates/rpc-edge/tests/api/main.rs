//! rpc-edge against the real PostgreSQL and RabbitMQ, through its HTTP port: what a stranger's
//! requests cost (load shedding), signed requests accepted once (replays), and merchants'
//! secrets at rest.

mod helpers;
mod load_shedding;
mod replays;
mod secrets_at_rest;
