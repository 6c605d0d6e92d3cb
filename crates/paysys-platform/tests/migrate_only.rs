//! Migrations as their own step (issue 12 point 5; the Kubernetes Job `paysys-migrate`):
//! `--migrate-only` applies a service's migrations and exits 0 without serving; with
//! `database.migrate = false` a service changes nothing and refuses to start, naming every
//! migration it lacks; once the schema is migrated, it starts.
//!
//! The service is wired as every PaySystem service is (`service::run`, `db::connect`,
//! `db::prepare`) on the ledger's real migrations, and runs as a real process: this test
//! binary, re-executed to run only `probe_service`, so exit codes and messages are the ones a
//! Job or a crash-looping pod would show.

use paysys_platform::config::{DatabaseSettings, TelemetrySettings};
use paysys_platform::service::{self, Service};
use paysys_platform::{db, testing, Shutdown};
use secrecy::SecretString;
use sqlx::migrate::Migrator;
use std::process::{Command, Output};

static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/ledger");
const SCHEMA: &str = "ledger";
/// The arguments of the re-executed probe (set only in the child process).
const CHILD_ARGS: &str = "PAYSYS_TEST_PROBE_ARGS";
const STARTED: &str = "probe service started";

#[derive(serde::Deserialize)]
struct Settings {
    database: DatabaseSettings,
    telemetry: TelemetrySettings,
}

/// A service that owns the ledger's schema and, once built, says so and stops.
struct Probe;

impl Service for Probe {
    type Settings = Settings;
    const NAME: &'static str = "probe";

    fn telemetry(settings: &Settings) -> &TelemetrySettings {
        &settings.telemetry
    }

    async fn build(settings: Settings, _shutdown: Shutdown) -> anyhow::Result<Self> {
        let pool = db::connect(&settings.database, SCHEMA).await?;
        db::prepare(&settings.database, &pool, &MIGRATOR).await?;
        Ok(Probe)
    }

    async fn run_until_stopped(self) -> anyhow::Result<()> {
        println!("{STARTED}");
        Ok(())
    }
}

/// The probe's `main`, run only when the tests below re-execute this binary.
#[tokio::test]
#[ignore = "run by the other tests of this file, in a process of its own"]
async fn probe_service() {
    let Ok(args) = std::env::var(CHILD_ARGS) else {
        return;
    };
    let argv =
        std::iter::once("probe".to_string()).chain(args.split_whitespace().map(String::from));
    service::run_with_args::<Probe>(argv).await;
}

/// Runs the probe on `database_url` with `args` and `PAYSYS__*` variables `env` (nothing else
/// of this process's PaySystem configuration leaks in).
fn probe(database_url: &str, args: &str, env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(std::env::current_exe().expect("test binary"));
    cmd.args(["probe_service", "--exact", "--ignored", "--nocapture"]);
    for (k, _) in std::env::vars() {
        if k.starts_with("PAYSYS__") || k == "PAYSYS_CONFIG" {
            cmd.env_remove(k);
        }
    }
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env(CHILD_ARGS, args)
        .env("PAYSYS__DATABASE__URL", database_url)
        .env("PAYSYS__DATABASE__MAX_CONNECTIONS", "2")
        .env("PAYSYS__TELEMETRY__LOG_FORMAT", "pretty");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run the probe")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A pool on the probe's schema, as an administrator (never through `db::connect`, which could
/// create the schema).
async fn admin_pool(url: &str) -> sqlx::PgPool {
    let opts: sqlx::postgres::PgConnectOptions = url.parse().unwrap();
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect_with(opts.options([("search_path", SCHEMA)]))
        .await
        .unwrap()
}

async fn applied_versions(pool: &sqlx::PgPool) -> Vec<i64> {
    sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
        .fetch_all(pool)
        .await
        .unwrap()
}

fn carried_versions() -> Vec<i64> {
    MIGRATOR.iter().map(|m| m.version).collect()
}

async fn fresh_database() -> String {
    testing::expose(&testing::fresh_database().await.unwrap())
}

#[tokio::test]
async fn migrate_only_applies_every_migration_and_exits_zero() {
    // As the Job runs it in production: the shared ConfigMap says database.migrate = false,
    // the argument wins.
    let url = fresh_database().await;
    let out = probe(
        &url,
        "--migrate-only",
        &[("PAYSYS__DATABASE__MIGRATE", "false")],
    );
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert!(
        stderr(&out).contains("schema ledger migrated"),
        "{}",
        stderr(&out)
    );
    assert!(
        !stdout(&out).contains(STARTED),
        "a migrate-only run must not serve"
    );
    let pool = admin_pool(&url).await;
    assert_eq!(applied_versions(&pool).await, carried_versions());
    let outbox: bool = sqlx::query_scalar("SELECT to_regclass('outbox') IS NOT NULL")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(outbox, "the messaging tables are part of the migration");

    // Again (the Job is re-run on every rollout): nothing to do, still 0.
    let again = probe(&url, "--migrate-only", &[]);
    assert_eq!(again.status.code(), Some(0), "stderr: {}", stderr(&again));

    // The variable does what the argument does.
    let url = fresh_database().await;
    let out = probe(&url, "", &[("PAYSYS__DATABASE__MIGRATE_ONLY", "true")]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert_eq!(
        applied_versions(&admin_pool(&url).await).await,
        carried_versions()
    );
}

#[tokio::test]
async fn with_migrate_false_an_unmigrated_schema_is_refused_naming_each_migration() {
    let url = fresh_database().await;
    let out = probe(&url, "", &[("PAYSYS__DATABASE__MIGRATE", "false")]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "stderr: {err}");
    assert!(err.contains("probe failed to start"), "{err}");
    assert!(!stdout(&out).contains(STARTED));
    for m in MIGRATOR.iter() {
        let named = format!("missing migration {} ({})", m.version, m.description);
        assert!(err.contains(&named), "{named:?} not in: {err}");
    }
    assert!(
        err.contains("--migrate-only"),
        "the error says what to do: {err}"
    );
    // Not even the schema was created: no DDL at all.
    let admin = admin_pool(&url).await;
    let schema: bool = sqlx::query_scalar("SELECT to_regnamespace($1) IS NULL")
        .bind(SCHEMA)
        .fetch_one(&admin)
        .await
        .unwrap();
    assert!(schema, "database.migrate = false created the schema");

    // A misspelt flag is refused, never taken for a plain start.
    let out = probe(&url, "--migrate_only", &[]);
    assert_eq!(out.status.code(), Some(64), "stderr: {}", stderr(&out));
    assert!(
        stderr(&out).contains("unknown argument"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test]
async fn once_migrated_it_starts_and_a_missing_migration_is_named() {
    let url = fresh_database().await;
    let out = probe(&url, "--migrate-only", &[]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));

    let out = probe(&url, "", &[("PAYSYS__DATABASE__MIGRATE", "false")]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert!(stdout(&out).contains(STARTED), "stdout: {}", stdout(&out));

    // A release that carries one more migration than the Job applied: refused, naming it only.
    let admin = admin_pool(&url).await;
    let last = MIGRATOR.iter().last().unwrap();
    sqlx::query("DELETE FROM _sqlx_migrations WHERE version = $1")
        .bind(last.version)
        .execute(&admin)
        .await
        .unwrap();
    let out = probe(&url, "", &[("PAYSYS__DATABASE__MIGRATE", "false")]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "stderr: {err}");
    let named = format!("missing migration {} ({})", last.version, last.description);
    assert!(err.contains(&named), "{named:?} not in: {err}");
    assert_eq!(err.matches("missing migration").count(), 1, "{err}");
}

#[tokio::test]
async fn verify_reports_a_changed_migration_and_missing_messaging_tables() {
    let url = fresh_database().await;
    let settings = DatabaseSettings {
        url: SecretString::from(url.clone()),
        max_connections: 2,
        migrate: true,
        migrate_only: false,
    };
    let pool = db::connect(&settings, SCHEMA).await.unwrap();
    db::prepare(&settings, &pool, &MIGRATOR).await.unwrap();
    db::verify(&pool, &MIGRATOR).await.unwrap();

    let first = MIGRATOR.iter().next().unwrap();
    sqlx::query("UPDATE _sqlx_migrations SET checksum = '\\x00' WHERE version = $1")
        .bind(first.version)
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("DROP TABLE inbox")
        .execute(&pool)
        .await
        .unwrap();
    let err = db::verify(&pool, &MIGRATOR).await.unwrap_err();
    let not = err
        .downcast_ref::<db::NotMigrated>()
        .expect("a NotMigrated");
    assert_eq!(not.schema, SCHEMA);
    assert_eq!(
        not.problems,
        vec![
            format!(
                "migration {} ({}) was applied from a different file (checksum)",
                first.version, first.description
            ),
            "missing messaging table or index inbox".to_string(),
        ]
    );
}
