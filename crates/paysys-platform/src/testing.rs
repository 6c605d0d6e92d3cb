//! Test support shared by every crate's integration tests: a fresh database per test and
//! unique broker names, so tests run in parallel and never touch a running `make up`.

use secrecy::{ExposeSecret, SecretString};

/// Admin URL of the test PostgreSQL (`PAYSYS_TEST_DATABASE_URL`, default local trust auth).
pub fn admin_database_url() -> String {
    std::env::var("PAYSYS_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

/// AMQP URL of the test RabbitMQ (`PAYSYS_TEST_AMQP_URL`, default guest on localhost).
pub fn amqp_url() -> String {
    std::env::var("PAYSYS_TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".to_string())
}

/// Creates an empty database with a random name; returns its URL.
pub async fn fresh_database() -> anyhow::Result<SecretString> {
    use sqlx::Connection;
    let admin = admin_database_url();
    let name = format!("paysys_test_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(&admin).await?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await?;
    let mut url = url::Url::parse(&admin)?;
    url.set_path(&format!("/{name}"));
    Ok(SecretString::from(url.to_string()))
}

/// The internal gRPC token every test service is started with (never a `make up`'s).
pub const INTERNAL_TOKEN: &str = "test-internal-token-0123456789abcdef0123456789abcdef";

/// The data key every test service is started with (base64 of 32 bytes).
pub const DATA_KEY: &str = "dGVzdC1kYXRhLWtleS0wMTIzNDU2Nzg5YWJjZGVmMDE=";

/// The test token, for gRPC clients in tests.
pub fn internal_token() -> crate::internal::InternalToken {
    crate::internal::InternalToken::new(INTERNAL_TOKEN)
}

/// A unique prefix for exchange and queue names.
pub fn unique_prefix() -> String {
    format!("t{}.", &uuid::Uuid::new_v4().simple().to_string()[..12])
}

/// The URL behind a secret, for tests that need to print or reuse it.
pub fn expose(s: &SecretString) -> String {
    s.expose_secret().to_string()
}

/// AMQP settings of the test broker with `prefix` on the exchange and every queue; queues
/// expire two minutes after their last consumer, so tests do not pile them up.
pub fn amqp_settings(prefix: &str) -> crate::config::AmqpSettings {
    crate::config::AmqpSettings {
        url: SecretString::from(amqp_url()),
        exchange: format!("{prefix}events"),
        queue_prefix: prefix.to_string(),
        prefetch: 4,
        queue_expires_ms: Some(120_000),
    }
}

/// A pool on a fresh database, in schema `svc`, with the outbox and inbox tables.
pub async fn messaging_pool() -> anyhow::Result<sqlx::PgPool> {
    let url = fresh_database().await?;
    let pool = crate::db::connect(
        &crate::config::DatabaseSettings {
            url,
            max_connections: 4,
            migrate: true,
            migrate_only: false,
        },
        "svc",
    )
    .await?;
    sqlx::raw_sql(crate::outbox::MESSAGING_SQL)
        .execute(&pool)
        .await?;
    Ok(pool)
}

/// A service's settings for a test: config/default.toml, then the test database `database_url`
/// (pool of 4), the test broker with a fresh unique prefix (queues expire), then `extra`.
pub fn settings<T: serde::de::DeserializeOwned>(
    database_url: &str,
    extra: &[(&str, config::Value)],
) -> T {
    let prefix = unique_prefix();
    crate::config::load_with(|b| {
        let mut b = b
            .set_override("database.url", database_url)
            .and_then(|b| b.set_override("database.max_connections", 4))
            .and_then(|b| b.set_override("amqp.url", amqp_url()))
            .and_then(|b| b.set_override("amqp.exchange", format!("{prefix}events")))
            .and_then(|b| b.set_override("amqp.queue_prefix", prefix.clone()))
            .and_then(|b| b.set_override("amqp.queue_expires_ms", 120_000))
            .and_then(|b| b.set_override("internal.token", INTERNAL_TOKEN))
            .and_then(|b| b.set_override("secrets.data_key", DATA_KEY))
            .expect("test overrides");
        // Every listener on a free port: a test never takes a `make up` port.
        for section in [
            "edge",
            "ledger",
            "notifier",
            "sandbox",
            "mobiltek",
            "teleaudio",
            "netopia",
            "mocopay",
        ] {
            b = b
                .set_override(format!("{section}.listen"), "127.0.0.1:0")
                .expect("test override");
        }
        for adapter in ["mobiltek", "teleaudio", "netopia", "mocopay"] {
            b = b
                .set_override(format!("{adapter}.callback_listen"), "127.0.0.1:0")
                .expect("test override");
        }
        for (k, v) in extra {
            b = b.set_override(*k, v.clone()).expect("test override");
        }
        b
    })
    .expect("test settings")
}
