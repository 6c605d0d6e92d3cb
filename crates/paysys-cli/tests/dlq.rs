//! `paysys dlq list|replay` against the real RabbitMQ, the real binary: an operator lists the
//! events a consumer dead-lettered (as often as they like, losing none), fixes the consumer and
//! replays one event, then all the rest; each replayed event reaches the consumer again and
//! leaves the dead-letter queue.

use paysys_platform::broker::{self, HandleError, Handler, Message, Outgoing, Publisher};
use paysys_platform::config::AmqpSettings;
use paysys_platform::{testing, Shutdown};
use serde_json::Value;
use std::collections::BTreeMap;
use std::process::Output;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Runs the binary on the test broker with `settings`' exchange and queue prefix.
async fn paysys(settings: &AmqpSettings, args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_paysys"))
        .env("PAYSYS__AMQP__URL", testing::amqp_url())
        .env("PAYSYS__AMQP__EXCHANGE", &settings.exchange)
        .env("PAYSYS__AMQP__QUEUE_PREFIX", &settings.queue_prefix)
        .env("PAYSYS_CONFIG", "")
        .args(args)
        .output()
        .await
        .expect("run paysys")
}

fn json_of(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

async fn list(settings: &AmqpSettings) -> Vec<Value> {
    json_of(&paysys(settings, &["dlq", "list", "--json"]).await)
        .as_array()
        .cloned()
        .expect("an array")
}

/// Publishes `payload` as `id` with `routing_key` once a queue is bound to take it.
async fn publish(settings: &AmqpSettings, routing_key: &str, id: uuid::Uuid, payload: &[u8]) {
    let publisher = Publisher::new(settings.clone(), vec![], Shutdown::new());
    let headers = BTreeMap::from([(
        "traceparent".to_string(),
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".to_string(),
    )]);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let ok = publisher
            .publish_batch(&[Outgoing {
                exchange: &settings.exchange,
                routing_key,
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
            "no queue bound for {routing_key}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_lists_dead_letters_and_replays_them_once_fixed() {
    let settings = testing::amqp_settings(&testing::unique_prefix());
    let shutdown = Shutdown::new();

    // Before any service ran there is no dead-letter queue: said plainly, exit 1.
    let out = paysys(&settings, &["dlq", "list"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no dead-letter queue"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A consumer with a bug: it refuses every event as poison until it is fixed.
    let fixed = Arc::new(AtomicBool::new(false));
    let handled = Arc::new(Mutex::new(Vec::<(uuid::Uuid, String, String)>::new()));
    let (f2, h2) = (fixed.clone(), handled.clone());
    let handler: Handler = Arc::new(move |m: Message| {
        let (fixed, handled) = (f2.clone(), h2.clone());
        Box::pin(async move {
            if !fixed.load(Ordering::SeqCst) {
                return Err(HandleError::Poison(anyhow::anyhow!("cannot decode")));
            }
            let id = m
                .message_id
                .ok_or_else(|| HandleError::Poison(anyhow::anyhow!("no id")))?;
            let trace = m.headers.get("traceparent").cloned().unwrap_or_default();
            handled.lock().unwrap().push((id, m.routing_key, trace));
            Ok(())
        })
    });
    let queue = settings.queue("ledger.events");
    tokio::spawn(broker::consume(
        settings.clone(),
        queue.clone(),
        vec!["payment.*".into(), "subscription.*".into()],
        handler,
        shutdown.clone(),
    ));

    let paid = uuid::Uuid::now_v7();
    let charged = uuid::Uuid::now_v7();
    publish(&settings, "payment.succeeded", paid, b"paid").await;
    publish(&settings, "subscription.charged", charged, b"charged").await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let letters = loop {
        let letters = list(&settings).await;
        if letters.len() == 2 {
            break letters;
        }
        assert!(Instant::now() < deadline, "dead letters: {letters:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };

    // Listing takes nothing away, however often.
    for _ in 0..3 {
        assert_eq!(list(&settings).await.len(), 2);
    }
    let of = |id: uuid::Uuid| {
        letters
            .iter()
            .find(|l| l["id"] == id.to_string())
            .unwrap_or_else(|| panic!("{id} not listed: {letters:?}"))
            .clone()
    };
    let l = of(paid);
    assert_eq!(l["routing_key"], "payment.succeeded");
    assert_eq!(l["queue"], queue.as_str());
    assert_eq!(l["exchange"], settings.exchange.as_str());
    assert_eq!(l["reason"], "rejected");
    assert_eq!(l["count"], 1);
    let first_death = l["first_death_at"].as_str().expect("first_death_at");
    assert!(chrono::DateTime::parse_from_rfc3339(first_death).is_ok());
    assert_eq!(of(charged)["routing_key"], "subscription.charged");

    // The human table names both.
    let out = paysys(&settings, &["dlq", "list"]).await;
    assert!(out.status.success());
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains(&paid.to_string()) && table.contains("subscription.charged"));

    // An unknown id replays nothing and says so.
    let out = paysys(
        &settings,
        &["dlq", "replay", &uuid::Uuid::now_v7().to_string()],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no dead letter with id"));
    assert_eq!(list(&settings).await.len(), 2);
    // Neither an id nor --all is a usage error.
    let out = paysys(&settings, &["dlq", "replay"]).await;
    assert_eq!(out.status.code(), Some(2));

    // The consumer is fixed; one event is replayed, with its routing key and trace context.
    fixed.store(true, Ordering::SeqCst);
    let out = json_of(&paysys(&settings, &["--json", "dlq", "replay", &paid.to_string()]).await);
    assert_eq!(out["replayed"].as_array().map(Vec::len), Some(1));
    wait_until("the replayed event", || {
        handled.lock().unwrap().iter().any(|(id, _, _)| *id == paid)
    })
    .await;
    {
        let handled = handled.lock().unwrap();
        let (_, key, trace) = handled.iter().find(|(id, _, _)| *id == paid).unwrap();
        assert_eq!(key, "payment.succeeded");
        assert!(trace.starts_with("00-0af7651916cd43dd8448eb211c80319c"));
    }
    let left = list(&settings).await;
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0]["id"], charged.to_string());

    // Then everything left.
    let out = paysys(&settings, &["dlq", "replay", "--all"]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(&charged.to_string()));
    wait_until("the second replayed event", || {
        handled
            .lock()
            .unwrap()
            .iter()
            .any(|(id, _, _)| *id == charged)
    })
    .await;
    assert!(list(&settings).await.is_empty());
    let out = paysys(&settings, &["dlq", "list"]).await;
    assert!(String::from_utf8_lossy(&out.stdout).contains("no dead letters"));
    assert_eq!(
        handled.lock().unwrap().len(),
        2,
        "each replayed event arrives once"
    );
    shutdown.trigger();
}
