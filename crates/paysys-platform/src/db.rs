//! PostgreSQL: one database, one schema per service. A service's pool sets `search_path` to its
//! own schema, so its tables (and sqlx's migration table) live there and nowhere else.
//!
//! A service brings its schema up to date at start ([`prepare`]) unless `database.migrate` is
//! false, as in Kubernetes production, where the Job `paysys-migrate` runs each binary with
//! `--migrate-only` before the rollout: the service then changes nothing and refuses to start
//! while a migration it carries is missing, naming it.

use crate::config::DatabaseSettings;
use secrecy::ExposeSecret;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;
use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

/// Connects a pool whose sessions use `schema`, creating the schema first when it is missing
/// (never when `database.migrate` is false: then nothing is created, and [`prepare`] reports it).
/// Under least privilege (scripts/db-roles.sh) the schema already exists, owned by the
/// service's own role, which may not create schemas: it is then only used, never created.
pub async fn connect(settings: &DatabaseSettings, schema: &str) -> anyhow::Result<PgPool> {
    connect_with(settings, schema, &[]).await
}

/// As [`connect`], every session also started with the run-time parameters `session`
/// (e.g. `plan_cache_mode`).
pub async fn connect_with(
    settings: &DatabaseSettings,
    schema: &str,
    session: &[(&str, &str)],
) -> anyhow::Result<PgPool> {
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
    if !exists && applies_migrations(settings) {
        sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
            .execute(&boot)
            .await
            .or_else(ignore_concurrent_create)?;
    }
    boot.close().await;
    let opts = base
        .options([("search_path", schema)])
        .options(session.iter().copied());
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
pub async fn migrate(pool: &PgPool, migrator: &Migrator) -> anyhow::Result<()> {
    sqlx::raw_sql(crate::outbox::MESSAGING_SQL)
        .execute(pool)
        .await?;
    migrator.run(pool).await?;
    Ok(())
}

fn applies_migrations(settings: &DatabaseSettings) -> bool {
    settings.migrate || settings.migrate_only
}

/// What every service does with its schema at start, after [`connect`]:
/// - `database.migrate` (the default): [`migrate`];
/// - `database.migrate_only` (`--migrate-only`, the Job): [`migrate`], then the error
///   [`MigratedOnly`], which stops the build before anything else and which
///   [`crate::service::run`] turns into exit code 0;
/// - `database.migrate = false`: no DDL at all, only [`verify`].
pub async fn prepare(
    settings: &DatabaseSettings,
    pool: &PgPool,
    migrator: &Migrator,
) -> anyhow::Result<()> {
    if !applies_migrations(settings) {
        return verify(pool, migrator).await;
    }
    migrate(pool, migrator).await?;
    if settings.migrate_only {
        return Err(MigratedOnly {
            schema: search_path(pool).await?,
        }
        .into());
    }
    Ok(())
}

/// The end of a `--migrate-only` run: the schema is migrated and the service goes no further.
#[derive(Debug, thiserror::Error)]
#[error("schema {schema} migrated; not serving (--migrate-only)")]
pub struct MigratedOnly {
    pub schema: String,
}

/// A schema that lacks what this binary needs, found with `database.migrate = false`.
#[derive(Debug, thiserror::Error)]
#[error(
    "schema {schema} is not migrated for this binary and database.migrate is false, so it \
     changes nothing: {}; apply the migrations first (run the service with --migrate-only; in \
     Kubernetes the Job paysys-migrate)",
    .problems.join("; ")
)]
pub struct NotMigrated {
    pub schema: String,
    /// One entry per problem, each naming the migration (`missing migration 3
    /// (balance per currency)`) or the messaging object.
    pub problems: Vec<String>,
}

/// Checks, without changing anything, that every migration `migrator` carries is applied
/// successfully and unchanged (sqlx's `_sqlx_migrations` in the pool's schema) and that the
/// messaging tables exist. Migrations applied but unknown to this binary (a newer release's,
/// while an older pod restarts during a rollout) are tolerated with a warning: migrations are
/// additive, and refusing would turn a rollout into an outage.
pub async fn verify(pool: &PgPool, migrator: &Migrator) -> anyhow::Result<()> {
    let schema = search_path(pool).await?;
    let has_table: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
        .fetch_one(pool)
        .await?;
    let applied: BTreeMap<i64, (bool, Vec<u8>)> = if has_table {
        sqlx::query_as::<_, (i64, bool, Vec<u8>)>(
            "SELECT version, success, checksum FROM _sqlx_migrations",
        )
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(|(v, ok, sum)| (v, (ok, sum)))
        .collect()
    } else {
        BTreeMap::new()
    };
    let mut problems = Vec::new();
    let mut known = std::collections::BTreeSet::new();
    for m in migrator
        .iter()
        .filter(|m| !m.migration_type.is_down_migration())
    {
        known.insert(m.version);
        let what = format!("{} ({})", m.version, m.description);
        match applied.get(&m.version) {
            None => problems.push(format!("missing migration {what}")),
            Some((false, _)) => problems.push(format!("migration {what} failed half way")),
            Some((true, sum)) if sum.as_slice() != &*m.checksum => problems.push(format!(
                "migration {what} was applied from a different file (checksum)"
            )),
            Some(_) => {}
        }
    }
    for (table, column) in messaging_objects()? {
        let present: bool =
            match column {
                None => {
                    sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
                        .bind(table)
                        .fetch_one(pool)
                        .await?
                }
                Some(column) => sqlx::query_scalar(
                    "SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass($1) \
                 AND attname = $2 AND NOT attisdropped)",
                )
                .bind(table)
                .bind(column)
                .fetch_one(pool)
                .await?,
            };
        if !present {
            problems.push(match column {
                None => format!("missing messaging table or index {table}"),
                Some(c) => format!("missing messaging column {table}.{c}"),
            });
        }
    }
    if !problems.is_empty() {
        return Err(NotMigrated { schema, problems }.into());
    }
    let newer: Vec<i64> = applied
        .keys()
        .filter(|v| !known.contains(v))
        .copied()
        .collect();
    if !newer.is_empty() {
        tracing::warn!(
            schema,
            ?newer,
            "the schema has migrations this binary does not know (a newer release's)"
        );
    }
    tracing::info!(
        schema,
        "every migration is applied (database.migrate = false: nothing changed)"
    );
    Ok(())
}

/// The pool's schema, as [`connect`] set it.
async fn search_path(pool: &PgPool) -> anyhow::Result<String> {
    Ok(sqlx::query_scalar("SHOW search_path")
        .fetch_one(pool)
        .await?)
}

/// The tables, indexes (`(name, None)`) and added columns (`(table, Some(column))`) that
/// [`crate::outbox::MESSAGING_SQL`] creates, read from it so the check cannot drift from it.
fn messaging_objects() -> anyhow::Result<Vec<(&'static str, Option<&'static str>)>> {
    let mut out = Vec::new();
    for statement in crate::outbox::MESSAGING_SQL.split(';') {
        let words: Vec<&str> = statement
            .lines()
            .filter(|l| !l.trim_start().starts_with("--"))
            .flat_map(str::split_whitespace)
            .collect();
        match words.as_slice() {
            [] => {}
            ["CREATE", "TABLE" | "INDEX", "IF", "NOT", "EXISTS", name, ..] => {
                out.push((name.trim_end_matches('('), None))
            }
            ["ALTER", "TABLE", table, "ADD", "COLUMN", "IF", "NOT", "EXISTS", column, ..] => {
                out.push((*table, Some(*column)))
            }
            other => anyhow::bail!("outbox::MESSAGING_SQL: db::verify cannot check {other:?}"),
        }
    }
    Ok(out)
}

/// Readiness: the database answers.
pub async fn ping(pool: &PgPool) -> bool {
    sqlx::query("SELECT 1").execute(pool).await.is_ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_messaging_statement_is_checked() {
        assert_eq!(
            super::messaging_objects().unwrap(),
            vec![
                ("outbox", None),
                ("inbox", None),
                ("outbox", Some("order_key")),
                ("outbox", Some("claimed_until")),
                ("outbox_order_key", None),
            ]
        );
    }
}
