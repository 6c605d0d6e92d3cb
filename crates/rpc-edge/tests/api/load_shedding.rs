//! The edge sheds load instead of queueing it: a batch with a wrong secret costs one lookup, not
//! one per call; a request beyond `edge.max_concurrent_requests` is told "busy, retry" at once;
//! one past `edge.request_timeout_ms` is told so at the deadline, never left hanging.

use crate::helpers::*;
use rpc_edge::auth::MAX_FAILED_CREDENTIALS;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn codes(answers: &Value) -> Vec<i64> {
    answers
        .as_array()
        .expect("a batch answer")
        .iter()
        .map(|a| a["error"]["code"].as_i64().unwrap_or(0))
        .collect()
}

fn batch(calls: impl Iterator<Item = Value>) -> String {
    Value::Array(calls.collect()).to_string()
}

#[tokio::test]
async fn a_batch_costs_one_lookup_per_credential_and_strangers_few() {
    let edge = spawn_edge(&[]).await;
    let channels = |secret: &str| json!({ "merchant_id": MERCHANT, "secret": secret });

    // A hundred calls with one wrong secret: one lookup, a hundred refusals.
    let body = batch((0..100).map(|i| call(i, "get_channels_list", channels("wrong-secret"))));
    let (answers, lookups) = edge.handle(&body, None).await;
    assert_eq!(codes(&answers), vec![-32001; 100]);
    assert_eq!(lookups, 1, "one lookup for one credential");

    // A hundred different wrong secrets: the request stops looking after a few.
    let body =
        batch((0..100).map(|i| call(i, "get_channels_list", channels(&format!("wrong-{i}")))));
    let (answers, lookups) = edge.handle(&body, None).await;
    assert_eq!(codes(&answers), vec![-32001; 100]);
    assert!(lookups <= MAX_FAILED_CREDENTIALS, "{lookups} lookups");

    // The secret naming its merchant (no merchant_id), wrong: one lookup too.
    let body = batch((0..100).map(|i| {
        call(
            i,
            "unsubscribe",
            json!({ "secret": "wrong-secret", "order_ext_id": "x" }),
        )
    }));
    let (answers, lookups) = edge.handle(&body, None).await;
    assert_eq!(codes(&answers), vec![-32001; 100]);
    assert_eq!(lookups, 1);

    // The right secret: every call answered, still one lookup.
    let body = batch((0..100).map(|i| call(i, "get_channels_list", channels(SECRET))));
    let (answers, lookups) = edge.handle(&body, None).await;
    assert_eq!(codes(&answers), vec![0; 100], "{answers}");
    assert_eq!(answers[99]["result"]["data"][0]["id"], CHANNEL);
    assert_eq!(lookups, 1);

    // A stranger's call is refused before its params are read: no -32602 for a bad order.
    let mut bad = payment("x");
    bad["articles"] = json!("not a list");
    bad["secret"] = json!("wrong-secret");
    let (answer, _) = edge
        .handle(&call(1, "set_transaction_sync", bad).to_string(), None)
        .await;
    assert_eq!(answer["error"]["code"], -32001, "{answer}");
    edge.shutdown.trigger();
}

fn assert_busy(status: u16, answer: &Value, reason: &str) {
    assert_eq!(status, 503, "{answer}");
    assert_eq!(answer["error"]["code"], -32603, "{answer}");
    assert_eq!(answer["error"]["message"], "busy, retry", "{answer}");
    assert_eq!(answer["error"]["data"]["reason"], reason, "{answer}");
    assert_eq!(answer["id"], Value::Null);
}

#[tokio::test]
async fn beyond_the_concurrency_limit_a_request_is_told_busy_at_once() {
    let edge = spawn_edge(&[
        ("edge.max_concurrent_requests", 1.into()),
        ("edge.provider_timeout_ms", 4000.into()),
    ])
    .await;
    // A payment whose adapter never answers holds the only slot.
    let held = tokio::spawn({
        let edge = edge.clone();
        async move {
            edge.rpc("set_transaction_sync", payment("held-1"), SECRET)
                .await
        }
    });
    // It holds the slot once its order is stored, right before the adapter is called.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM edge.orders")
            .fetch_one(&edge.pool)
            .await
            .unwrap();
        if n == 1 {
            break;
        }
        assert!(Instant::now() < deadline, "the held payment never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let started = Instant::now();
    let body = call(
        2,
        "get_channels_list",
        json!({ "merchant_id": MERCHANT, "secret": SECRET }),
    );
    let (status, answer) = edge.post(&body.to_string(), None).await;
    assert_busy(status, &answer, "overloaded");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "answered at once"
    );

    // The held one ends on its own (the adapter's deadline), and the slot is free again.
    let held = held.await.unwrap();
    assert_eq!(held["error"]["code"], -32603, "{held}");
    assert_ne!(held["error"]["message"], "busy, retry", "{held}");
    let (status, answer) = edge.post(&body.to_string(), None).await;
    assert_eq!(status, 200);
    assert_eq!(answer["result"]["status"], "1", "{answer}");
    edge.shutdown.trigger();
}

#[tokio::test]
async fn a_request_past_its_deadline_is_told_busy_not_left_hanging() {
    // The adapter would be waited for 10 s; the whole request may take half a second.
    let edge = spawn_edge(&[
        ("edge.request_timeout_ms", 500.into()),
        ("edge.provider_timeout_ms", 10_000.into()),
    ])
    .await;
    let started = Instant::now();
    let mut params = payment("slow-1");
    params["secret"] = json!(SECRET);
    let (status, answer) = edge
        .post(&call(1, "set_transaction_sync", params).to_string(), None)
        .await;
    assert_busy(status, &answer, "timeout");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(500) && took < Duration::from_secs(3),
        "{took:?}"
    );
    // Nothing else is held up.
    let answer = edge
        .rpc(
            "get_channels_list",
            json!({ "merchant_id": MERCHANT }),
            SECRET,
        )
        .await;
    assert_eq!(answer["result"]["status"], "1", "{answer}");
    edge.shutdown.trigger();
}
