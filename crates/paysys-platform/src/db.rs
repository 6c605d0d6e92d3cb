//! PostgreSQL: one database, one schema per service. A service's pool sets `search_path` to its
//! own schema, so its tables (and sqlx's migration table) live there and nowhere else.

use crate::config::DatabaseSettings;
use secrecy::ExposeSecret;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;
use std::str::FromStr;
use std::time::Duration;

/// Connects a pool whose sessions use `schema`, creating the schema first when it is missing.
/// Under least privilege (scripts/db-roles.sh) the schema already exists, owned by the
/// service's own role, which may not create schemas: it is then only used, never created.
pub async fn connect(settings: &DatabaseSettings, schema: &str) -> anyhow::Result<PgPool> {
    let base = PgConnectOptions::from_str(settings.url.expose_secret())
        .map_err(|e| anyhow::anyhow!("database.url is invalid: {e}"))?;
    // Create the schema with a throwaway pool, then connect with the search_path set.
    let boot = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(base.clone())
        .await?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
            .bind(schema)
            .fetch_one(&boot)
            .await?;
    if !exists {
        sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
            .execute(&boot)
            .await
            .or_else(ignore_concurrent_create)?;
    }
    boot.close().await;
    let opts = base.options([("search_path", schema)]);
    Ok(PgPoolOptions::new()
        .max_connections(settings.max_connections)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(opts)
        .await?)
}

/// Two services starting at once may race on `CREATE SCHEMA IF NOT EXISTS`.
fn ignore_concurrent_create(e: sqlx::Error) -> Result<sqlx::postgres::PgQueryResult, sqlx::Error> {
    match &e {
        sqlx::Error::Database(d) if d.code().as_deref() == Some("23505") => Ok(Default::default()),
        _ => Err(e),
    }
}

/// Applies the shared messaging tables (outbox, inbox) and then the service's own migrations.
pub async fn migrate(pool: &PgPool, migrator: &sqlx::migrate::Migrator) -> anyhow::Result<()> {
    sqlx::raw_sql(crate::outbox::MESSAGING_SQL)
        .execute(pool)
        .await?;
    migrator.run(pool).await?;
    Ok(())
}

/// Readiness: the database answers.
pub async fn ping(pool: &PgPool) -> bool {
    sqlx::query("SELECT 1").execute(pool).await.is_ok()
}
