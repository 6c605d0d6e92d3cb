//! The messaging guarantees every service relies on, against the real PostgreSQL and RabbitMQ:
//! an event written in a transaction reaches its queue once the relay runs; a rolled-back one
//! never does; an unroutable event waits in the outbox instead of vanishing; a redelivered
//! message has one effect; a poison message is dead-lettered without blocking the queue.

use paysys_platform::broker::{self, HandleError, Handler, Message};
use paysys_platform::config::AmqpSettings;
use paysys_platform::outbox::{self, OutboxSignal};
use paysys_platform::{testing, Shutdown};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

async fn pool() -> sqlx::PgPool {
    let p = testing::messaging_pool().await.expect("messaging pool");
    sqlx::raw_sql("CREATE TABLE effects (id UUID PRIMARY KEY)")
        .execute(&p)
        .await
        .expect("effects");
    p
}

async fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn enqueue(
    pool: &sqlx::PgPool,
    settings: &AmqpSettings,
    key: &str,
    id: uuid::Uuid,
    commit: bool,
) {
    let mut tx = pool.begin().await.unwrap();
    outbox::enqueue(&mut tx, &settings.exchange, key, id, id.as_bytes())
        .await
        .unwrap();
    if commit {
        tx.commit().await.unwrap();
    } else {
        tx.rollback().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_to_idempotent_consumer_with_dead_letters() {
    let prefix = testing::unique_prefix();
    let settings = testing::amqp_settings(&prefix);
    let pool = pool().await;
    let shutdown = Shutdown::new();
    let signal = OutboxSignal::default();
    let publisher = Arc::new(broker::Publisher::new(
        settings.clone(),
        vec![],
        shutdown.clone(),
    ));
    tokio::spawn(outbox::relay(
        pool.clone(),
        publisher,
        signal.clone(),
        shutdown.clone(),
    ));

    // Before any queue is bound the event is unroutable: it must stay in the outbox.
    let early = uuid::Uuid::now_v7();
    enqueue(&pool, &settings, "thing.happened", early, true).await;
    signal.notify();
    // The relay tried it (the broker returned it: its attempt is counted), and kept it.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let attempts: Option<i32> =
            sqlx::query_scalar("SELECT attempts FROM outbox WHERE message_id = $1")
                .bind(early)
                .fetch_optional(&pool)
                .await
                .unwrap();
        match attempts {
            Some(n) if n >= 1 => break,
            Some(_) => {}
            None => panic!("an unroutable event must wait in the outbox"),
        }
        assert!(Instant::now() < deadline, "the relay never tried the event");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let waiting: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(waiting, 1, "an unroutable event must wait in the outbox");

    // A consumer whose effect and inbox claim share one transaction; "poison" payloads fail.
    let seen = Arc::new(Mutex::new(Vec::<uuid::Uuid>::new()));
    let (p2, s2) = (pool.clone(), seen.clone());
    let handler: Handler = Arc::new(move |m: Message| {
        let (pool, seen) = (p2.clone(), s2.clone());
        Box::pin(async move {
            if m.payload == b"poison" {
                return Err(HandleError::Poison(anyhow::anyhow!("cannot decode")));
            }
            let id = m
                .message_id
                .ok_or_else(|| HandleError::Poison(anyhow::anyhow!("no id")))?;
            let mut tx = pool
                .begin()
                .await
                .map_err(|e| HandleError::Transient(e.into()))?;
            if outbox::claim(&mut tx, id)
                .await
                .map_err(|e| HandleError::Transient(e.into()))?
            {
                sqlx::query("INSERT INTO effects (id) VALUES ($1)")
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| HandleError::Transient(e.into()))?;
                seen.lock().unwrap().push(id);
            }
            tx.commit()
                .await
                .map_err(|e| HandleError::Transient(e.into()))?;
            Ok(())
        })
    });
    tokio::spawn(broker::consume(
        settings.clone(),
        settings.queue("things"),
        vec!["thing.*".into()],
        handler,
        shutdown.clone(),
    ));

    // The early event arrives once the queue exists (relay backoff retries it).
    wait_until("the early event", || seen.lock().unwrap().contains(&early)).await;

    // A rolled-back transaction publishes nothing; a committed one arrives.
    let ghost = uuid::Uuid::now_v7();
    enqueue(&pool, &settings, "thing.happened", ghost, false).await;
    let real = uuid::Uuid::now_v7();
    enqueue(&pool, &settings, "thing.happened", real, true).await;
    signal.notify();
    wait_until("the committed event", || {
        seen.lock().unwrap().contains(&real)
    })
    .await;

    // The same message delivered twice (a relay crash before its delete) has one effect; a
    // poison message between them does not block the queue.
    let publisher = broker::Publisher::new(settings.clone(), vec![], shutdown.clone());
    let twice = uuid::Uuid::now_v7();
    let headers = Default::default();
    let msg = |id: uuid::Uuid, payload: &'static [u8]| broker::Outgoing {
        exchange: &settings.exchange,
        routing_key: "thing.happened",
        message_id: id,
        payload,
        headers: &headers,
    };
    let ok = publisher
        .publish_batch(&[
            msg(twice, b"x"),
            msg(uuid::Uuid::now_v7(), b"poison"),
            msg(twice, b"x"),
        ])
        .await
        .unwrap();
    assert_eq!(ok, vec![true, true, true]);
    let after = uuid::Uuid::now_v7();
    publisher.publish_batch(&[msg(after, b"y")]).await.unwrap();
    wait_until("the message after the poison one", || {
        seen.lock().unwrap().contains(&after)
    })
    .await;
    let effects: i64 = sqlx::query_scalar("SELECT count(*) FROM effects WHERE id = $1")
        .bind(twice)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(effects, 1, "a redelivered message must have one effect");
    assert!(
        !seen.lock().unwrap().contains(&ghost),
        "a rolled-back event was published"
    );
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(left, 0);
    // The poison message sits in the dead-letter queue.
    let conn = lapin::Connection::connect(&testing::amqp_url(), Default::default())
        .await
        .unwrap();
    let ch = conn.create_channel().await.unwrap();
    let dead = settings.queue(&format!("{}.dead", settings.exchange));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = ch
            .basic_get(dead.clone().into(), Default::default())
            .await
            .unwrap();
        if let Some(m) = got {
            assert_eq!(m.delivery.data, b"poison");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "poison message not dead-lettered"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    shutdown.trigger();
}
