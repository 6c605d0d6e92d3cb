//! Issue 9 point 5: least privilege in PostgreSQL. scripts/db-roles.sh (what `make up` runs)
//! makes one login role per service owning only its schema; each service migrates and works as
//! its own role, and no other role may read another service's tables (edge.merchants above all).

use paysys_platform::{testing, Shutdown};
use sqlx::Connection;
use std::process::Command;

/// The database URL of `role` on the test database `db_url`.
fn as_role(db_url: &str, role: &str, password: &str) -> String {
    let mut u = url::Url::parse(db_url).expect("database url");
    u.set_username(role).unwrap();
    u.set_password(Some(password)).unwrap();
    u.to_string()
}

struct Roles {
    prefix: String,
    dir: std::path::PathBuf,
}

impl Roles {
    fn password(&self, schema: &str) -> String {
        std::fs::read_to_string(self.dir.join(format!("{}{schema}", self.prefix)))
            .expect("password file")
            .trim()
            .to_string()
    }
    fn role(&self, schema: &str) -> String {
        format!("{}{schema}", self.prefix)
    }
}

async fn denied(url: &str, sql: &str) -> String {
    let mut c = sqlx::PgConnection::connect(url)
        .await
        .expect("role logs in");
    match sqlx::query(sql).fetch_all(&mut c).await {
        Ok(rows) => panic!("{sql} was allowed ({} rows)", rows.len()),
        Err(e) => e.to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_service_owns_only_its_schema_and_nobody_else_reads_edge_merchants() {
    let db = testing::fresh_database().await.expect("database");
    let db_url = testing::expose(&db);
    let db_name = url::Url::parse(&db_url)
        .unwrap()
        .path()
        .trim_start_matches('/')
        .to_string();
    let prefix = format!("t{}_", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    let dir = std::env::temp_dir().join(format!("paysys-roles-{prefix}"));
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/db-roles.sh");
    let out = Command::new("bash")
        .arg(script)
        .arg(testing::admin_database_url())
        .arg(&db_name)
        .arg(&prefix)
        .arg(&dir)
        .output()
        .expect("run db-roles.sh");
    assert!(
        out.status.success(),
        "db-roles.sh failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let roles = Roles { prefix, dir };
    let url_of = |schema: &str| as_role(&db_url, &roles.role(schema), &roles.password(schema));

    // Each service starts, migrates and serves as its own role.
    let shutdown = Shutdown::new();
    let edge =
        rpc_edge::Application::build(testing::settings(&url_of("edge"), &[]), shutdown.clone())
            .await
            .expect("rpc-edge migrates as its own role");
    let edge_pool = edge.pool();
    let merchants: i64 = sqlx::query_scalar("SELECT count(*) FROM edge.merchants")
        .fetch_one(&edge_pool)
        .await
        .expect("rpc-edge reads its own tables");
    assert_eq!(merchants, 0);
    sqlx::query("DELETE FROM edge.channels WHERE id = 'none'")
        .execute(&edge_pool)
        .await
        .expect("rpc-edge writes its own tables");
    let ledger =
        ledger::Application::build(testing::settings(&url_of("ledger"), &[]), shutdown.clone())
            .await
            .expect("ledger migrates as its own role");
    let notifier = notifier::Application::build(
        testing::settings(&url_of("notifier"), &[]),
        shutdown.clone(),
    )
    .await
    .expect("notifier migrates as its own role");
    let mobiltek = provider_mobiltek::Application::build(
        testing::settings(&url_of("mobiltek"), &[]),
        shutdown.clone(),
    )
    .await
    .expect("provider-mobiltek migrates as its own role");

    // Nobody but rpc-edge reads edge's tables; nobody writes into another's schema.
    for other in [
        "ledger",
        "notifier",
        "mobiltek",
        "teleaudio",
        "netopia",
        "mocopay",
    ] {
        let err = denied(&url_of(other), "SELECT * FROM edge.merchants").await;
        assert!(err.contains("permission denied"), "{other}: {err}");
    }
    let err = denied(&url_of("edge"), "SELECT * FROM ledger.transfers").await;
    assert!(err.contains("permission denied"), "{err}");
    let err = denied(&url_of("mobiltek"), "SELECT * FROM notifier.endpoints").await;
    assert!(err.contains("permission denied"), "{err}");
    let err = denied(&url_of("ledger"), "CREATE SCHEMA intruder").await;
    assert!(err.contains("permission denied"), "{err}");
    let err = denied(&url_of("ledger"), "CREATE TABLE public.intruder (x int)").await;
    assert!(err.contains("permission denied"), "{err}");

    // The schemas and their migration tables belong to the services' roles.
    let mut admin = sqlx::PgConnection::connect(&db_url).await.unwrap();
    let owners: Vec<(String, String)> = sqlx::query_as(
        "SELECT n.nspname::text, r.rolname::text FROM pg_namespace n JOIN pg_roles r ON r.oid = n.nspowner
          WHERE n.nspname IN ('edge', 'ledger', 'notifier', 'mobiltek') ORDER BY 1",
    )
    .fetch_all(&mut admin)
    .await
    .unwrap();
    for (schema, owner) in &owners {
        assert_eq!(owner, &roles.role(schema), "{schema}");
    }
    assert_eq!(owners.len(), 4, "{owners:?}");
    let migrated: String = sqlx::query_scalar(
        "SELECT tableowner::text FROM pg_tables WHERE schemaname = 'edge' AND tablename = 'merchants'",
    )
    .fetch_one(&mut admin)
    .await
    .unwrap();
    assert_eq!(migrated, roles.role("edge"));

    // Running the script again (make up twice) changes nothing and breaks nothing.
    let again = Command::new("bash")
        .arg(script)
        .arg(testing::admin_database_url())
        .arg(&db_name)
        .arg(&roles.prefix)
        .arg(&roles.dir)
        .output()
        .unwrap();
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );

    drop((edge, ledger, notifier, mobiltek));
    shutdown.trigger();
    edge_pool.close().await;
    let _ = admin.close().await;
    // Roles are cluster-wide: drop the database, then this test's roles.
    let mut cluster = sqlx::PgConnection::connect(&testing::admin_database_url())
        .await
        .unwrap();
    let _ = sqlx::query(&format!("DROP DATABASE {db_name} WITH (FORCE)"))
        .execute(&mut cluster)
        .await;
    for schema in [
        "edge",
        "ledger",
        "notifier",
        "mobiltek",
        "teleaudio",
        "netopia",
        "mocopay",
    ] {
        let _ = sqlx::query(&format!("DROP ROLE IF EXISTS {}", roles.role(schema)))
            .execute(&mut cluster)
            .await;
    }
    let _ = std::fs::remove_dir_all(&roles.dir);
}
