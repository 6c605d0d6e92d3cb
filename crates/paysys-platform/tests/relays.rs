//! Several outbox relays on one outbox (issue 9, point 7): every event is published at least
//! once and each order's events arrive in the order they were written, however the relays
//! interleave; a relay that dies after claiming rows holds them only for its lease, then another
//! relay publishes them.

mod support;

use paysys_platform::broker::{self, HandleError, Handler, Message, Publisher};
use paysys_platform::config::AmqpSettings;
use paysys_platform::outbox::{self, OutboxSignal};
use paysys_platform::{events, testing, Shutdown};
use prost::Message as _;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::wait_until;

fn event(order: &str, sequence: u32) -> paysys_proto::Event {
    let mut e = events::new_event(events::SUBSCRIPTION_CHARGED);
    e.merchant_id = "m1".into();
    e.order_id = order.into();
    e.sequence = sequence;
    e
}

/// (order, sequence) of every event the consumer received, in arrival order.
type Arrivals = Arc<Mutex<Vec<(String, u32)>>>;

/// Declares the exchanges and `queue` with its bindings, so nothing published is unroutable.
async fn declare(settings: &AmqpSettings, queue: &str, bindings: &[String]) {
    let conn = lapin::Connection::connect(&testing::amqp_url(), Default::default())
        .await
        .unwrap();
    let ch = conn.create_channel().await.unwrap();
    broker::declare_exchanges(&ch, settings).await.unwrap();
    broker::declare_queue(&ch, settings, queue, bindings)
        .await
        .unwrap();
    let _ = conn.close(200, "bye".into()).await;
}

/// Declares the events queue before anything is published (so nothing is unroutable), then
/// consumes it in order, recording arrivals.
async fn consumer(settings: &AmqpSettings, shutdown: &Shutdown) -> Arrivals {
    let queue = settings.queue("orders");
    let bindings = vec!["subscription.*".to_string()];
    declare(settings, &queue, &bindings).await;
    let arrivals: Arrivals = Default::default();
    let a2 = arrivals.clone();
    let handler: Handler = Arc::new(move |m: Message| {
        let arrivals = a2.clone();
        Box::pin(async move {
            let (_, e) = events::decode(&m)?;
            arrivals.lock().unwrap().push((e.order_id, e.sequence));
            Ok::<(), HandleError>(())
        })
    });
    tokio::spawn(broker::consume_in_order(
        settings.clone(),
        queue,
        bindings,
        handler,
        shutdown.clone(),
    ));
    arrivals
}

fn relay(pool: &sqlx::PgPool, settings: &AmqpSettings, shutdown: &Shutdown) -> OutboxSignal {
    let signal = OutboxSignal::default();
    let publisher = Arc::new(Publisher::new(settings.clone(), vec![], shutdown.clone()));
    tokio::spawn(outbox::relay(
        pool.clone(),
        publisher,
        signal.clone(),
        shutdown.clone(),
    ));
    signal
}

/// Per order, the sequences in order of first arrival.
fn first_arrivals(arrivals: &[(String, u32)]) -> BTreeMap<String, Vec<u32>> {
    let mut seen = std::collections::HashSet::new();
    let mut out: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    for (order, seq) in arrivals {
        if seen.insert((order.clone(), *seq)) {
            out.entry(order.clone()).or_default().push(*seq);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_relays_publish_every_event_and_each_orders_events_in_sequence() {
    let settings = testing::amqp_settings(&testing::unique_prefix());
    let shutdown = Shutdown::new();
    let pool = testing::messaging_pool().await.unwrap();
    let arrivals = consumer(&settings, &shutdown).await;
    let signals = [
        relay(&pool, &settings, &shutdown),
        relay(&pool, &settings, &shutdown),
    ];

    // Six orders, 70 charges each, interleaved: 420 rows, more than one relay batch (200).
    const ORDERS: usize = 6;
    const CHARGES: u32 = 70;
    let orders: Vec<String> = (0..ORDERS).map(|i| format!("order-{i}")).collect();
    let mut tx = pool.begin().await.unwrap();
    for seq in 1..=CHARGES {
        for order in &orders {
            let e = event(order, seq);
            events::enqueue(&mut tx, &settings.exchange, &e)
                .await
                .unwrap();
        }
    }
    tx.commit().await.unwrap();
    for s in &signals {
        s.notify();
    }

    let total = ORDERS * CHARGES as usize;
    wait_until("every event", 60, || {
        first_arrivals(&arrivals.lock().unwrap())
            .values()
            .map(Vec::len)
            .sum::<usize>()
            == total
    })
    .await;
    let per_order = first_arrivals(&arrivals.lock().unwrap());
    let expected: Vec<u32> = (1..=CHARGES).collect();
    for order in &orders {
        assert_eq!(
            per_order.get(order),
            Some(&expected),
            "{order}'s events out of sequence"
        );
    }
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(left, 0);
    shutdown.trigger();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_claimed_by_a_relay_that_died_are_published_by_another_after_the_lease() {
    let settings = testing::amqp_settings(&testing::unique_prefix());
    let shutdown = Shutdown::new();
    let pool = testing::messaging_pool().await.unwrap();
    let arrivals = consumer(&settings, &shutdown).await;

    let mut tx = pool.begin().await.unwrap();
    for (order, seq) in [("a", 1), ("b", 1), ("a", 2)] {
        events::enqueue(&mut tx, &settings.exchange, &event(order, seq))
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();

    // A relay claims (a 1, b 1: of order a only its first event) and dies before publishing.
    let lease = Duration::from_secs(5);
    let claimed = outbox::claim_batch(&pool, lease, 200).await.unwrap();
    let claimed_at = Instant::now();
    let mut orders: Vec<(String, u32)> = claimed
        .iter()
        .map(|c| {
            let e = paysys_proto::Event::decode(c.payload.as_slice()).unwrap();
            (e.order_id, e.sequence)
        })
        .collect();
    orders.sort();
    assert_eq!(orders, [("a".to_string(), 1), ("b".to_string(), 1)]);

    // Another relay runs meanwhile: it publishes an event written after the claim (order c),
    // which proves it went over the outbox during the lease, and nothing of a or b.
    let signal = relay(&pool, &settings, &shutdown);
    let mut tx = pool.begin().await.unwrap();
    events::enqueue(&mut tx, &settings.exchange, &event("c", 1))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    signal.notify();
    wait_until("the other relay to publish order c", 20, || {
        !arrivals.lock().unwrap().is_empty()
    })
    .await;
    assert!(
        claimed_at.elapsed() < lease,
        "order c arrived only after the lease: the test proves nothing about it"
    );
    assert_eq!(
        *arrivals.lock().unwrap(),
        [("c".to_string(), 1)],
        "published during another relay's lease"
    );
    wait_until("the dead relay's rows, after its lease", 20, || {
        arrivals.lock().unwrap().len() >= 4
    })
    .await;
    assert!(claimed_at.elapsed() >= lease);
    let per_order = first_arrivals(&arrivals.lock().unwrap());
    assert_eq!(per_order["a"], [1, 2]);
    assert_eq!(per_order["b"], [1]);
    shutdown.trigger();
}

/// The notifier's consumer: each order's events are handled one after the other in their
/// sequence, never two of one order at once, while different orders are handled at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_consumer_in_order_per_key_keeps_each_orders_sequence_and_runs_orders_at_once() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let settings = testing::amqp_settings(&testing::unique_prefix());
    let shutdown = Shutdown::new();
    let queue = settings.queue("orders");
    let bindings = vec!["subscription.*".to_string()];
    declare(&settings, &queue, &bindings).await;

    let arrivals: Arrivals = Default::default();
    let in_flight = Arc::new(AtomicUsize::new(0));
    let most_in_flight = Arc::new(AtomicUsize::new(0));
    let busy_orders: Arc<Mutex<std::collections::HashSet<String>>> = Default::default();
    let overlaps = Arc::new(AtomicUsize::new(0));
    let handler: Handler = {
        let (arrivals, in_flight, most, busy, overlaps) = (
            arrivals.clone(),
            in_flight.clone(),
            most_in_flight.clone(),
            busy_orders.clone(),
            overlaps.clone(),
        );
        Arc::new(move |m: Message| {
            let (arrivals, in_flight, most, busy, overlaps) = (
                arrivals.clone(),
                in_flight.clone(),
                most.clone(),
                busy.clone(),
                overlaps.clone(),
            );
            Box::pin(async move {
                let (_, e) = events::decode(&m)?;
                if !busy.lock().unwrap().insert(e.order_id.clone()) {
                    overlaps.fetch_add(1, Ordering::SeqCst);
                }
                let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                // Handlers finish out of their arrival order.
                let pause = rand::random::<u64>() % 4;
                tokio::time::sleep(Duration::from_millis(pause)).await;
                arrivals
                    .lock()
                    .unwrap()
                    .push((e.order_id.clone(), e.sequence));
                in_flight.fetch_sub(1, Ordering::SeqCst);
                busy.lock().unwrap().remove(&e.order_id);
                Ok::<(), HandleError>(())
            })
        })
    };
    tokio::spawn(broker::consume_in_order_per_key(
        settings.clone(),
        queue,
        bindings,
        handler,
        shutdown.clone(),
        outbox::order_key,
    ));
    // Published straight, not through the relay (which sends one event per order at a time):
    // each order's events lie next to each other in the queue, in runs.
    const ORDERS: usize = 8;
    const CHARGES: u32 = 40;
    let orders: Vec<String> = (0..ORDERS).map(|i| format!("order-{i}")).collect();
    let publisher = Publisher::new(settings.clone(), vec![], shutdown.clone());
    let headers = BTreeMap::new();
    let mut payloads = Vec::new();
    for chunk in 0..4 {
        for order in &orders {
            for seq in chunk * 10 + 1..=chunk * 10 + 10 {
                let e = event(order, seq);
                payloads.push((e.event_id.clone(), e.encode_to_vec()));
            }
        }
    }
    let batch: Vec<broker::Outgoing> = payloads
        .iter()
        .map(|(id, payload)| broker::Outgoing {
            exchange: &settings.exchange,
            routing_key: events::SUBSCRIPTION_CHARGED,
            message_id: uuid::Uuid::parse_str(id).unwrap(),
            payload,
            headers: &headers,
        })
        .collect();
    assert!(publisher
        .publish_batch(&batch)
        .await
        .unwrap()
        .iter()
        .all(|ok| *ok));
    let total = ORDERS * CHARGES as usize;
    wait_until("every event", 60, || {
        arrivals.lock().unwrap().len() >= total
    })
    .await;
    shutdown.trigger();
    let per_order = first_arrivals(&arrivals.lock().unwrap());
    let expected: Vec<u32> = (1..=CHARGES).collect();
    for order in &orders {
        assert_eq!(
            per_order.get(order),
            Some(&expected),
            "{order}: out of sequence"
        );
    }
    assert_eq!(
        overlaps.load(Ordering::SeqCst),
        0,
        "two events of one order were handled at once"
    );
    assert!(
        most_in_flight.load(Ordering::SeqCst) > 1,
        "orders were handled one at a time (at most {} in flight)",
        most_in_flight.load(Ordering::SeqCst)
    );
}
