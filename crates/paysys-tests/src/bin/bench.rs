//! `make bench`: the whole system in one process (release build, real PostgreSQL and RabbitMQ).
//! 1. `set_transaction_sync` at the edge, through the Mobiltek adapter, with concurrency.
//! 2. Provider notifications through to merchant delivery: the sandbox completes payments, and
//!    we time each until the merchant received its `new_payment`.
//!
//! Prints throughput and p50/p99 latency. A benchmark, not a test: it asserts nothing.

use paysys_tests::{seed_000_one_time, spawn_system_with};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn arg(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn report(label: &str, mut lat: Vec<Duration>, wall: Duration) {
    lat.sort();
    let pct = |p: f64| {
        lat[((lat.len() as f64 * p).ceil() as usize)
            .saturating_sub(1)
            .min(lat.len() - 1)]
    };
    println!(
        "{label}: {} requests in {:.2}s = {:.0}/s; latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        lat.len(),
        wall.as_secs_f64(),
        lat.len() as f64 / wall.as_secs_f64(),
        pct(0.50).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        lat[lat.len() - 1].as_secs_f64() * 1e3
    );
}

#[tokio::main]
async fn main() {
    let requests = arg("BENCH_REQUESTS", 4000);
    // Several concurrency levels: throughput saturates, latency then grows with the queue.
    let levels: Vec<usize> = std::env::var("BENCH_CONCURRENCY")
        .unwrap_or_else(|_| "8,16,32".into())
        .split(',')
        .filter_map(|v| v.trim().parse().ok())
        .collect();
    let concurrency = levels.iter().copied().max().unwrap_or(16);
    let notifications = arg("BENCH_NOTIFICATIONS", 1000);
    println!("starting PaySystem in-process (fresh database, unique queues)...");
    let sys = Arc::new(
        spawn_system_with(vec![
            ("database.max_connections".into(), 12i64.into()),
            ("amqp.prefetch".into(), 64i64.into()),
        ])
        .await,
    );
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .expect("client");

    // Warm-up: connections, prepared statements, gRPC channel.
    for i in 0..50 {
        sys.rpc(
            "set_transaction_sync",
            seed_000_one_time(&format!("warm-{i}")),
        )
        .await;
    }

    for (round, &concurrency) in levels.iter().enumerate() {
        println!("phase 1.{round}: {requests} set_transaction_sync, concurrency {concurrency}");
        let started = Instant::now();
        let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut workers = Vec::new();
        for _ in 0..concurrency {
            let (sys, client, next) = (sys.clone(), client.clone(), next.clone());
            workers.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= requests {
                    return lat;
                }
                let body = json!({"jsonrpc": "2.0", "id": i, "method": "set_transaction_sync", "params": seed_000_one_time(&format!("bench-{round}-{i}"))});
                let t = Instant::now();
                let r = client.post(&sys.edge_url).json(&body).send().await.expect("edge");
                let v: serde_json::Value = r.json().await.expect("json");
                assert_eq!(v["result"]["status"], "1", "{v}");
                lat.push(t.elapsed());
                if i > 0 && i % 1000 == 0 {
                    println!("  {i} done after {:.1}s", started.elapsed().as_secs_f64());
                }
            }
        }));
        }
        let mut lat = Vec::new();
        for w in workers {
            lat.extend(w.await.expect("worker"));
        }
        report(
            &format!("set_transaction_sync (concurrency {concurrency})"),
            lat,
            started.elapsed(),
        );
    }

    println!("phase 2: {notifications} payments completed at the sandbox -> merchant new_payment");
    let n = notifications.min(requests);
    let started = Instant::now();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..concurrency.min(16) {
        let (sys, next) = (sys.clone(), next.clone());
        workers.push(tokio::spawn(async move {
            let mut starts = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= n {
                    return starts;
                }
                let order = format!("bench-0-{i}");
                let resp = sys
                    .rpc("set_transaction_sync", seed_000_one_time(&order))
                    .await;
                let url = resp["result"]["data"]["redirect_url"]
                    .as_str()
                    .expect("redirect")
                    .to_string();
                let t = Instant::now();
                sys.complete(&url, "success").await;
                starts.push((order, t));
            }
        }));
    }
    let mut starts = std::collections::HashMap::new();
    for w in workers {
        starts.extend(w.await.expect("worker"));
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let got = sys.inbox.of("1", "new_payment").len();
        if got >= n || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let wall = started.elapsed();
    let mut lat = Vec::new();
    for r in sys.inbox.of("1", "new_payment") {
        if let Some(t) = r.json["params"]["order_id"]
            .as_str()
            .and_then(|o| starts.get(o))
        {
            lat.push(r.at.duration_since(*t));
        }
    }
    if lat.len() < n {
        println!(
            "  only {} of {n} notifications arrived within the deadline",
            lat.len()
        );
    }
    if !lat.is_empty() {
        report("notification end-to-end (sandbox callback -> adapter -> outbox -> RabbitMQ -> notifier -> merchant)", lat, wall);
    }
    if let Ok(sys) = Arc::try_unwrap(sys) {
        sys.stop().await;
    }
}
