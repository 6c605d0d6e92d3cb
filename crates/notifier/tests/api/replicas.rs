//! Two notifier replicas on one database and one queue, as a scaled Deployment runs them: every
//! notification reaches the merchant, each under one webhook-id however often it is sent, and
//! the delivery lease keeps the replicas from sending the same one twice.

use crate::helpers::*;
use paysys_platform::events;
use std::collections::{BTreeMap, BTreeSet};

/// Events published, over fewer orders (so per-order ordering is exercised too).
const EVENTS: usize = 60;
const ORDERS: usize = 20;
/// The merchant answers the first this many POSTs 503, so retries are leased too.
const FAILURES: usize = 10;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_deliver_every_notification_once_under_one_webhook_id() {
    let env = Env::new().await;
    let opts = Options::default();
    let a = spawn_app_on(env.clone(), &opts).await;
    let b = spawn_app_on(env.clone(), &opts).await;
    let merchant = Merchant::start(vec![Reply::Status(503); FAILURES], Reply::Status(200)).await;
    a.configure_merchant(MERCHANT, &merchant.url).await;

    let kinds = [
        events::PAYMENT_SUCCEEDED,
        events::SUBSCRIPTION_STARTED,
        events::SUBSCRIPTION_CHARGED,
        events::SUBSCRIPTION_CANCELLED,
    ];
    let mut published = Vec::new();
    for i in 0..EVENTS {
        let e = event(kinds[i % kinds.len()], &format!("order-{}", i % ORDERS));
        // Half through each replica's publisher: both consumers take messages off the queue.
        let via = if i % 2 == 0 { &a } else { &b };
        via.publish(&e).await;
        published.push(e);
    }

    eventually("every notification delivered", || async {
        (a.count(
            "SELECT count(*) FROM notifications WHERE merchant_id = $1 AND status = 'delivered'",
            MERCHANT,
        )
        .await
            == EVENTS as i64)
            .then_some(())
    })
    .await;

    // One notification per event, none lost.
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT id::text, event_id::text, order_id FROM notifications WHERE merchant_id = $1",
    )
    .bind(MERCHANT)
    .fetch_all(&a.pool)
    .await
    .expect("notifications");
    assert_eq!(rows.len(), EVENTS);
    let by_event: BTreeMap<&str, (&str, &str)> = rows
        .iter()
        .map(|(id, event, order)| (event.as_str(), (id.as_str(), order.as_str())))
        .collect();
    for e in &published {
        assert!(
            by_event.contains_key(e.event_id.as_str()),
            "event {} has no notification",
            e.event_id
        );
    }

    // What the merchant got, by webhook-id: each id is one notification (one order, the same
    // bytes every time), and every notification was POSTed under its own id.
    let got = merchant.received();
    let mut posts: BTreeMap<String, Vec<&Received>> = BTreeMap::new();
    for r in &got {
        posts
            .entry(r.header("webhook-id").to_string())
            .or_default()
            .push(r);
    }
    let ids: BTreeSet<&str> = rows.iter().map(|(id, _, _)| id.as_str()).collect();
    assert_eq!(
        posts.keys().map(String::as_str).collect::<BTreeSet<_>>(),
        ids,
        "POSTed webhook-ids and notifications differ"
    );
    for (id, sent) in &posts {
        let order = by_event
            .values()
            .find(|(i, _)| i == id)
            .map(|(_, o)| *o)
            .expect("a known id");
        for r in sent {
            assert_eq!(r.json()["params"]["order_id"], order, "{id}");
            assert_eq!(r.body, sent[0].body, "{id} sent with other bytes");
        }
    }

    // Every POST is a recorded attempt, and each notification succeeded exactly once: the
    // replicas never both sent one (duplicates: 0).
    let attempts: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT notification_id::text, count(*), count(*) FILTER (WHERE http_status = 200)
           FROM attempts GROUP BY notification_id",
    )
    .fetch_all(&a.pool)
    .await
    .expect("attempts");
    let recorded: i64 = attempts.iter().map(|(_, n, _)| n).sum();
    assert_eq!(got.len() as i64, recorded, "a POST was not recorded");
    assert_eq!(got.len(), EVENTS + FAILURES, "duplicates were sent");
    let duplicates: Vec<&(String, i64, i64)> =
        attempts.iter().filter(|(_, _, ok)| *ok != 1).collect();
    assert!(duplicates.is_empty(), "delivered twice: {duplicates:?}");
    for (id, sent) in &posts {
        let n = attempts
            .iter()
            .find(|(i, _, _)| i == id)
            .map(|(_, n, _)| *n)
            .unwrap_or(0);
        assert_eq!(sent.len() as i64, n, "{id}");
    }

    a.stop().await;
    b.stop().await;
}
