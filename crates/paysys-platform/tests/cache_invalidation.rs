//! The LISTEN/NOTIFY cache against a real PostgreSQL: a committed change empties the cache (a
//! rolled-back one does not notify), a read that raced the change is not kept, and while the
//! listener's connection is gone (terminated by the server) nothing is served from memory.

use paysys_platform::cache::{self, Cache, Invalidate};
use paysys_platform::{testing, Shutdown};
use std::sync::Arc;
use std::time::Duration;

const CHANNEL: &str = "paysys_test_directory";

async fn setup() -> sqlx::PgPool {
    let pool = testing::messaging_pool().await.unwrap();
    sqlx::raw_sql(&format!(
        "CREATE TABLE things (id TEXT PRIMARY KEY, value INT NOT NULL);
         INSERT INTO things VALUES ('a', 1);
         CREATE FUNCTION things_changed() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN PERFORM pg_notify('{CHANNEL}', TG_TABLE_NAME); RETURN NULL; END $$;
         CREATE TRIGGER things_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON things
           FOR EACH STATEMENT EXECUTE FUNCTION things_changed();"
    ))
    .execute(&pool)
    .await
    .unwrap();
    pool
}

/// Polls `f` until it holds, failing the test after `within`.
async fn wait_until<F, Fut>(within: Duration, what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + within;
    while !f().await {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn value(pool: &sqlx::PgPool, id: &str) -> Result<Option<i32>, sqlx::Error> {
    sqlx::query_scalar("SELECT value FROM things WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
}

#[tokio::test]
async fn a_committed_change_empties_the_cache_and_a_lost_listener_serves_nothing() {
    let pool = setup().await;
    let c: Arc<Cache<String, i32>> = Cache::new("things", cache::DEFAULT_TTL, 100);
    let shutdown = Shutdown::new();
    let listener = tokio::spawn(cache::listen(
        &pool,
        CHANNEL,
        vec![c.clone() as Arc<dyn Invalidate>],
        shutdown.clone(),
    ));
    let key = "a".to_string();
    // Live once connected: a load is kept and served without the database.
    wait_until(
        Duration::from_secs(10),
        "the cache serves a loaded row",
        || {
            let (c, pool, key) = (c.clone(), pool.clone(), key.clone());
            async move {
                c.get_or_load(&key, || value(&pool, "a")).await.unwrap();
                c.get(&key) == Some(1)
            }
        },
    )
    .await;

    // A rolled-back change notifies nobody.
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("UPDATE things SET value = 99 WHERE id = 'a'")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(c.get(&key), Some(1), "a rollback must not empty the cache");

    // A committed one does, and the next read sees the new value.
    sqlx::query("UPDATE things SET value = 2 WHERE id = 'a'")
        .execute(&pool)
        .await
        .unwrap();
    wait_until(
        Duration::from_secs(5),
        "the commit empties the cache",
        || {
            let c = c.clone();
            async move { c.get(&"a".to_string()).is_none() }
        },
    )
    .await;
    assert_eq!(
        c.get_or_load(&key, || value(&pool, "a")).await.unwrap(),
        Some(2)
    );
    assert_eq!(c.get(&key), Some(2));

    // A read that began before a change and returns after it is not kept.
    let g = c.generation();
    let stale = value(&pool, "a").await.unwrap().unwrap();
    sqlx::query("UPDATE things SET value = 3 WHERE id = 'a'")
        .execute(&pool)
        .await
        .unwrap();
    wait_until(Duration::from_secs(5), "the change is heard", || {
        let c = c.clone();
        async move { c.get(&"a".to_string()).is_none() }
    })
    .await;
    c.keep(g, key.clone(), stale);
    assert_eq!(c.get(&key), None, "a value read before the change was kept");

    // The server ends the listener's session: from then until it is back, nothing is served,
    // so a change made in the gap (whose notification nobody hears) is never hidden.
    c.get_or_load(&key, || value(&pool, "a")).await.unwrap();
    assert_eq!(c.get(&key), Some(3));
    let killed: i64 = sqlx::query_scalar(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
         WHERE datname = current_database() AND query LIKE 'LISTEN%'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(killed, 1, "one listener session");
    wait_until(
        Duration::from_secs(5),
        "the lost listener stops serving",
        || {
            let c = c.clone();
            async move { c.get(&"a".to_string()).is_none() }
        },
    )
    .await;
    // It reconnects, serves again, and hears changes again.
    wait_until(Duration::from_secs(10), "the listener is back", || {
        let (c, pool, key) = (c.clone(), pool.clone(), key.clone());
        async move {
            c.get_or_load(&key, || value(&pool, "a")).await.unwrap();
            c.get(&key) == Some(3)
        }
    })
    .await;
    sqlx::query("DELETE FROM things WHERE id = 'a'")
        .execute(&pool)
        .await
        .unwrap();
    wait_until(
        Duration::from_secs(5),
        "the delete empties the cache",
        || {
            let c = c.clone();
            async move { c.get(&"a".to_string()).is_none() }
        },
    )
    .await;
    assert_eq!(
        c.get_or_load(&key, || value(&pool, "a")).await.unwrap(),
        None
    );
    assert_eq!(c.len(), 0, "an unknown key is not kept");

    shutdown.trigger();
    tokio::time::timeout(Duration::from_secs(5), listener)
        .await
        .expect("the listener ends on shutdown")
        .unwrap();
}
