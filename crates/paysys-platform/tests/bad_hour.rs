//! A bad hour does not dead-letter good events (issue 9, point 7). A consumer whose handler
//! fails because a dependency or its database is down keeps the delivery and retries it with
//! growing, jittered delays instead of burning the queue's delivery limit (20) in seconds; the
//! event is handled once the dependency is back and never reaches the dead-letter queue. The
//! dead-letter queue's depth and the broker connection are metrics.

mod support;

use paysys_platform::broker::{self, HandleError, Handler, Message, Outgoing, Publisher};
use paysys_platform::config::AmqpSettings;
use paysys_platform::{broker_watch, outbox, testing, Shutdown};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::{dead_letters, metric, wait_until, DbProxy};

/// Publishes `payload` as `id` until a queue is bound to take it.
async fn publish(settings: &AmqpSettings, id: uuid::Uuid, payload: &[u8]) {
    let publisher = Publisher::new(settings.clone(), vec![], Shutdown::new());
    let headers = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let ok = publisher
            .publish_batch(&[Outgoing {
                exchange: &settings.exchange,
                routing_key: "thing.happened",
                message_id: id,
                payload,
                headers: &headers,
            }])
            .await
            .unwrap();
        if ok == [true] {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no queue bound to take the message"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every attempt the handler saw: when, and whether the broker marked it redelivered.
type Attempts = Arc<Mutex<Vec<(Instant, bool)>>>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dependency_down_for_seconds_delays_an_event_but_does_not_dead_letter_it() {
    let settings = testing::amqp_settings(&testing::unique_prefix());
    let shutdown = Shutdown::new();
    // The dependency is down until `back`: far more than 20 retries' worth at the old 200 ms.
    let back = Arc::new(Mutex::new(None::<Instant>));
    let attempts: Attempts = Default::default();
    let handled = Arc::new(Mutex::new(0u32));
    let (b2, a2, h2) = (back.clone(), attempts.clone(), handled.clone());
    let handler: Handler = Arc::new(move |m: Message| {
        let (back, attempts, handled) = (b2.clone(), a2.clone(), h2.clone());
        Box::pin(async move {
            attempts
                .lock()
                .unwrap()
                .push((Instant::now(), m.redelivered));
            let down = back.lock().unwrap().is_some_and(|t| Instant::now() < t);
            if down {
                return Err(HandleError::Transient(anyhow::anyhow!(
                    "dependency unavailable"
                )));
            }
            *handled.lock().unwrap() += 1;
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

    let outage = Duration::from_secs(6);
    let start = Instant::now();
    *back.lock().unwrap() = Some(start + outage);
    publish(&settings, uuid::Uuid::now_v7(), b"good").await;
    wait_until("the event, once the dependency is back", 30, || {
        *handled.lock().unwrap() == 1
    })
    .await;
    let handled_at = start.elapsed();

    let attempts = attempts.lock().unwrap().clone();
    let failures = attempts.len() - 1;
    assert!(
        handled_at >= outage,
        "handled while the dependency was down"
    );
    assert!(
        handled_at < outage + Duration::from_secs(8),
        "handled {handled_at:?} after the start of a {outage:?} outage: backoff too long"
    );
    // 100 ms doubling (jittered into its upper half) fits about 7 retries into 6 s; a tight
    // loop would have made 20 and dead-lettered the event.
    assert!(
        (3..=12).contains(&failures),
        "{failures} failed attempts in a {outage:?} outage"
    );
    assert!(
        attempts.iter().all(|(_, redelivered)| !redelivered),
        "the delivery was returned to the queue (each return counts toward the delivery limit)"
    );
    let gaps: Vec<Duration> = attempts.windows(2).map(|w| w[1].0 - w[0].0).collect();
    assert!(
        gaps.last().copied().unwrap_or_default() >= Duration::from_millis(800),
        "retries were not spaced out: {gaps:?}"
    );
    assert!(
        gaps.first().copied().unwrap_or_default() < Duration::from_millis(500),
        "the first retry should come quickly: {gaps:?}"
    );
    assert_eq!(
        dead_letters(&settings).await,
        0,
        "a good event was dead-lettered"
    );
    assert_eq!(*handled.lock().unwrap(), 1);
    shutdown.trigger();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_consumers_database_unreachable_delays_an_event_but_does_not_dead_letter_it() {
    let settings = testing::amqp_settings(&testing::unique_prefix());
    let shutdown = Shutdown::new();
    let proxy = DbProxy::start().await;
    let url = proxy.url(&testing::expose(&testing::fresh_database().await.unwrap()));
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(Duration::from_millis(500))
        .connect(&url)
        .await
        .unwrap();
    sqlx::raw_sql(outbox::MESSAGING_SQL)
        .execute(&pool)
        .await
        .unwrap();
    sqlx::raw_sql("CREATE TABLE effects (id UUID PRIMARY KEY)")
        .execute(&pool)
        .await
        .unwrap();

    // The usual consumer: inbox claim and effect in one transaction, database errors classified.
    let attempts: Attempts = Default::default();
    let (p2, a2) = (pool.clone(), attempts.clone());
    let handler: Handler = Arc::new(move |m: Message| {
        let (pool, attempts) = (p2.clone(), a2.clone());
        Box::pin(async move {
            attempts
                .lock()
                .unwrap()
                .push((Instant::now(), m.redelivered));
            let id = m
                .message_id
                .ok_or_else(|| HandleError::Poison(anyhow::anyhow!("no id")))?;
            let mut tx = pool.begin().await.map_err(HandleError::database)?;
            if outbox::claim(&mut tx, id)
                .await
                .map_err(HandleError::database)?
            {
                sqlx::query("INSERT INTO effects (id) VALUES ($1)")
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(HandleError::database)?;
            }
            tx.commit().await.map_err(HandleError::database)?;
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

    // Warm up: one event through while the database is there.
    let first = uuid::Uuid::now_v7();
    publish(&settings, first, b"x").await;
    let count = |id: uuid::Uuid| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM effects WHERE id = $1")
                .bind(id)
                .fetch_one(&pool)
                .await
                .unwrap_or(-1)
        }
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    while count(first).await != 1 {
        assert!(Instant::now() < deadline, "the first event was not handled");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    proxy.cut();
    let during = uuid::Uuid::now_v7();
    let cut_at = Instant::now();
    publish(&settings, during, b"y").await;
    tokio::time::sleep(Duration::from_secs(8)).await;
    let tried = attempts.lock().unwrap().len() - 1;
    assert!(
        tried >= 2,
        "the event was not tried while the database was down"
    );
    proxy.restore();
    let deadline = Instant::now() + Duration::from_secs(30);
    while count(during).await != 1 {
        assert!(
            Instant::now() < deadline,
            "the event was not handled once the database was back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let attempts = attempts.lock().unwrap().clone();
    let during_outage = attempts.iter().filter(|(t, _)| *t >= cut_at).count();
    assert!(
        during_outage <= 14,
        "{during_outage} attempts in about 8 s: not backing off"
    );
    assert!(
        attempts.iter().all(|(_, redelivered)| !redelivered),
        "the delivery was returned to the queue while the database was down"
    );
    assert_eq!(
        dead_letters(&settings).await,
        0,
        "a good event was dead-lettered"
    );
    shutdown.trigger();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_failing_transiently_more_often_than_the_delivery_limit_still_succeeds() {
    let settings = testing::amqp_settings(&testing::unique_prefix());
    let shutdown = Shutdown::new();
    let failures = Arc::new(Mutex::new(0u32));
    let handled = Arc::new(Mutex::new(false));
    let (f2, h2) = (failures.clone(), handled.clone());
    let handler: Handler = Arc::new(move |_m: Message| {
        let (failures, handled) = (f2.clone(), h2.clone());
        Box::pin(async move {
            let mut f = failures.lock().unwrap();
            if *f < 30 {
                *f += 1;
                return Err(HandleError::Transient(anyhow::anyhow!("database down")));
            }
            *handled.lock().unwrap() = true;
            Ok(())
        })
    });
    // Short delays, and a short hold so the delivery is also requeued a few times: 30 failures,
    // more than the queue's delivery limit of 20, and still no dead letter.
    let options = broker::ConsumeOptions {
        concurrency: 1,
        backoff: broker::Backoff {
            initial: Duration::from_millis(5),
            max: Duration::from_millis(40),
            hold: Duration::from_millis(400),
        },
        order_key: None,
    };
    tokio::spawn(broker::consume_with(
        settings.clone(),
        settings.queue("things"),
        vec!["thing.*".into()],
        handler,
        shutdown.clone(),
        options,
    ));
    publish(&settings, uuid::Uuid::now_v7(), b"good").await;
    wait_until("the event after 30 transient failures", 30, || {
        *handled.lock().unwrap()
    })
    .await;
    assert_eq!(
        dead_letters(&settings).await,
        0,
        "a good event was dead-lettered"
    );
    shutdown.trigger();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_and_the_broker_connection_are_metrics() {
    let settings = testing::amqp_settings(&testing::unique_prefix());
    let shutdown = Shutdown::new();
    let handler: Handler = Arc::new(|_m: Message| {
        Box::pin(async { Err(HandleError::Poison(anyhow::anyhow!("cannot decode"))) })
    });
    tokio::spawn(broker::consume(
        settings.clone(),
        settings.queue("things"),
        vec!["thing.*".into()],
        handler,
        shutdown.clone(),
    ));
    publish(&settings, uuid::Uuid::now_v7(), b"poison").await;
    publish(&settings, uuid::Uuid::now_v7(), b"poison").await;
    tokio::spawn(broker_watch::watch(
        settings.clone(),
        Duration::from_millis(200),
        shutdown.clone(),
    ));
    let series = format!(
        "paysys_dead_letters{{queue=\"{}\"}}",
        broker::dead_letter_queue(&settings)
    );
    wait_until("paysys_dead_letters = 2", 20, || {
        metric(&series) == Some(2.0)
    })
    .await;
    assert_eq!(metric("paysys_broker_connected"), Some(1.0));
    shutdown.trigger();
}
