//! `make bench`: PaySystem's figures beside this machine's own limits, in ONE run.
//!
//! The services run as their real release binaries (child processes on free ports, a fresh
//! database, own broker names; never a `make up`'s); this process is only the load generator
//! and the merchant's notification endpoint, and says what share of the CPU it took.
//!
//! 1. Raw limits, in-process: single-row INSERT + COMMIT at the benchmark's concurrency;
//!    persistent publishes with publisher confirms; consume + ack of what was published
//!    (a quorum queue, as the services use).
//! 2. `set_transaction` (asynchronous, Teleaudio webbilling, seed 002) and
//!    `set_transaction_sync` (Mobiltek, seed 000): closed loop at the concurrency.
//! 3. Provider callback -> merchant notification latency, open loop at a fixed offered rate:
//!    completions are scheduled at their instants whatever the system does, and each latency
//!    runs from the scheduled instant (no coordinated omission).
//! 4. Charge event -> ledger: the ledger stopped while payments complete, then started; the
//!    time until its queue is drained and every charge is posted.
//! 5. The notifier: stopped likewise, then started; deliveries per second to our endpoint.
//! 6. A recurring month: N active Mobiltek subscriptions (100,000; 1,000,000 with
//!    `BENCH_FULL=1`), the sandbox clock moved 30 days, the time until every renewal is posted
//!    and notified; the peak RSS of every service.
//!
//! Prints a table with the ratios and writes `target/bench/summary.json` (one key per figure,
//! its unit in the name). A benchmark, not a test: it asserts nothing about speed, but it stops
//! when a phase loses work (a figure over lost work would be a lie).
//!
//! Settings: BENCH_CONCURRENCY (16), BENCH_REQUESTS (6000), BENCH_RAW_SECS (5),
//! BENCH_OFFERED (500 per s), BENCH_OFFERED_SECS (8), BENCH_DRAIN (5000),
//! BENCH_SUBSCRIPTIONS (100000; BENCH_FULL=1: 1000000), BENCH_PHASES (any of
//! raw,async,sync,callback,ledger,notifier,month; default all), BENCH_POOL (each service's
//! PostgreSQL pool, 8), BENCH_PREFETCH (64), BENCH_SANDBOX_CONCURRENCY (32),
//! BENCH_NOTIFIER_CONCURRENCY (32, `notifier.concurrency`), BENCH_KEEP=1.

#[allow(dead_code)]
#[path = "chaos/merchant.rs"]
mod merchant;
#[allow(dead_code)]
#[path = "chaos/system.rs"]
mod system;

use merchant::{Clock, Receiver};
use paysys_platform::testing;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use system::{
    drop_database, load_fixtures, wait_capabilities, wait_consumers, Fresh, Setup, System, SERVICES,
};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().replace('_', "").parse().ok())
        .unwrap_or(default)
}

struct Opts {
    concurrency: usize,
    requests: usize,
    raw_secs: u64,
    offered: usize,
    offered_secs: usize,
    drain: usize,
    subscriptions: usize,
    phases: HashSet<String>,
    pool: u32,
    prefetch: u16,
    sandbox_concurrency: usize,
    notifier_concurrency: usize,
    keep: bool,
}

impl Opts {
    fn from_env() -> Self {
        let full = std::env::var("BENCH_FULL").is_ok_and(|v| v == "1");
        let all = "raw,async,sync,callback,ledger,notifier,month";
        Self {
            concurrency: env_usize("BENCH_CONCURRENCY", 16).max(1),
            requests: env_usize("BENCH_REQUESTS", 6000).max(100),
            raw_secs: env_usize("BENCH_RAW_SECS", 5).max(1) as u64,
            offered: env_usize("BENCH_OFFERED", 500).max(1),
            offered_secs: env_usize("BENCH_OFFERED_SECS", 8).max(1),
            drain: env_usize("BENCH_DRAIN", 5000).max(100),
            subscriptions: env_usize(
                "BENCH_SUBSCRIPTIONS",
                if full { 1_000_000 } else { 100_000 },
            ),
            phases: std::env::var("BENCH_PHASES")
                .unwrap_or_else(|_| all.into())
                .split(',')
                .map(|p| p.trim().to_string())
                .filter(|p| !p.is_empty())
                .collect(),
            pool: env_usize("BENCH_POOL", 8).max(1) as u32,
            prefetch: env_usize("BENCH_PREFETCH", 64).clamp(1, 65535) as u16,
            sandbox_concurrency: env_usize("BENCH_SANDBOX_CONCURRENCY", 32).clamp(1, 1024),
            notifier_concurrency: env_usize("BENCH_NOTIFIER_CONCURRENCY", 32).clamp(1, 1024),
            keep: std::env::var("BENCH_KEEP").is_ok_and(|v| v == "1"),
        }
    }

    fn runs(&self, phase: &str) -> bool {
        self.phases.contains(phase)
    }
}

// ---------------------------------------------------------------------------------------------
// Measuring: latencies, CPU shares, memory.

struct Latencies(Vec<f64>);

impl Latencies {
    fn pct(&self, p: f64) -> f64 {
        let mut v = self.0.clone();
        v.sort_by(f64::total_cmp);
        if v.is_empty() {
            return f64::NAN;
        }
        v[((v.len() as f64 * p).ceil() as usize)
            .saturating_sub(1)
            .min(v.len() - 1)]
    }
}

/// CPU ticks: the whole machine (all cores, idle included), idle, this process, each service.
struct CpuSnapshot {
    total: u64,
    idle: u64,
    me: u64,
    services: BTreeMap<&'static str, u64>,
    /// Every `postgres` process (backends included) and RabbitMQ's Erlang VM.
    postgres: u64,
    rabbitmq: u64,
}

/// CPU ticks of every process whose name is one of `names`.
fn ticks_of(names: &[&str]) -> u64 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0;
    };
    dir.filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter(|e| {
            std::fs::read_to_string(e.path().join("comm")).is_ok_and(|c| names.contains(&c.trim()))
        })
        .map(|e| process_ticks(&e.file_name().to_string_lossy()))
        .sum()
}

fn machine_ticks() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let line = stat.lines().next().unwrap_or_default();
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is inside user).
    let total = v.iter().take(8).sum();
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    (total, idle)
}

fn process_ticks(pid: &str) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or_default();
    let f: Vec<&str> = after.split_whitespace().collect();
    // Fields after the name: state is 0, utime 11, stime 12.
    let get = |i: usize| f.get(i).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0);
    get(11) + get(12)
}

fn cpu_snapshot(sys: &System) -> CpuSnapshot {
    let (total, idle) = machine_ticks();
    CpuSnapshot {
        total,
        idle,
        me: process_ticks("self"),
        services: SERVICES
            .iter()
            .map(|s| (*s, sys.pid(s).map_or(0, |p| process_ticks(&p.to_string()))))
            .collect(),
        postgres: ticks_of(&["postgres", "postmaster"]),
        rabbitmq: ticks_of(&["beam.smp", "erl_child_setup", "epmd"]),
    }
}

/// "load generator 12%, rpc-edge 20%, ..., PostgreSQL/RabbitMQ/other 30%, idle 5%" of the
/// machine (all cores) between two snapshots.
fn cpu_shares(a: &CpuSnapshot, b: &CpuSnapshot) -> (String, f64) {
    let total = b.total.saturating_sub(a.total).max(1) as f64;
    let pct = |x: u64| 100.0 * x as f64 / total;
    let me = b.me.saturating_sub(a.me);
    let mut parts = vec![format!("load generator {:.0}%", pct(me))];
    let mut services = 0;
    let mut by: Vec<(&str, u64)> = b
        .services
        .iter()
        .map(|(s, t)| (*s, t.saturating_sub(*a.services.get(s).unwrap_or(&0))))
        .collect();
    by.sort_by_key(|(_, t)| std::cmp::Reverse(*t));
    for (s, t) in by {
        services += t;
        if pct(t) >= 1.0 {
            parts.push(format!("{s} {:.0}%", pct(t)));
        }
    }
    let idle = b.idle.saturating_sub(a.idle);
    let busy = b.total.saturating_sub(a.total).saturating_sub(idle);
    let pg = b.postgres.saturating_sub(a.postgres);
    let mq = b.rabbitmq.saturating_sub(a.rabbitmq);
    let other = busy.saturating_sub(me + services + pg + mq);
    parts.push(format!("PostgreSQL {:.0}%", pct(pg)));
    parts.push(format!("RabbitMQ {:.0}%", pct(mq)));
    parts.push(format!("kernel and the rest {:.0}%", pct(other)));
    parts.push(format!("idle {:.0}%", pct(idle)));
    (parts.join(", "), pct(me))
}

/// Peak resident memory (VmHWM) of each service, MiB.
fn peak_rss(sys: &System) -> BTreeMap<&'static str, f64> {
    SERVICES
        .iter()
        .filter_map(|s| {
            let pid = sys.pid(s)?;
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
            let kb: f64 = status
                .lines()
                .find(|l| l.starts_with("VmHWM:"))?
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            Some((*s, kb / 1024.0))
        })
        .collect()
}

/// PostgreSQL's committed transactions and written rows in the benchmark's database.
async fn pg_counters(pool: &sqlx::PgPool) -> (i64, i64, i64) {
    sqlx::query_as::<_, (i64, i64, i64)>(
        "SELECT xact_commit, tup_inserted, tup_updated FROM pg_stat_database WHERE datname = current_database()",
    )
    .fetch_one(pool)
    .await
    .unwrap_or((0, 0, 0))
}

/// Transfers the ledger has posted so far.
async fn posted_transfers(pool: &sqlx::PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM ledger.transfers")
        .fetch_one(pool)
        .await
        .unwrap_or(0)
}

/// Messages ready in one of the run's queues.
async fn queue_depth(amqp: &lapin::Connection, name: &str) -> Option<u32> {
    paysys_tests::queue_counts(amqp, name)
        .await
        .map(|c| c.messages)
}

// ---------------------------------------------------------------------------------------------
// The merchant side: JSON-RPC calls, sandbox completions.

#[derive(Clone)]
struct Client {
    http: reqwest::Client,
    edge: String,
    sandbox: String,
}

impl Client {
    /// One JSON-RPC call; retried (same request) on what the API says to retry.
    async fn rpc(&self, method: &str, params: &Value) -> anyhow::Result<Value> {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        for attempt in 0.. {
            let r = self.http.post(&self.edge).json(&body).send().await;
            let v: Option<Value> = match r {
                Ok(r) if r.status().as_u16() != 503 => r.json().await.ok(),
                _ => None,
            };
            match v {
                Some(v) if v["error"]["code"] != -32603 => {
                    if v.get("error").is_some() {
                        anyhow::bail!("{method}: {}", v["error"]);
                    }
                    return Ok(v["result"].clone());
                }
                _ if attempt < 20 => tokio::time::sleep(Duration::from_millis(100)).await,
                other => anyhow::bail!("{method}: gave up: {other:?}"),
            }
        }
        unreachable!()
    }

    async fn complete(&self, redirect_url: &str) -> anyhow::Result<()> {
        let r = self
            .http
            .post(format!("{}/_sandbox/complete", self.sandbox))
            .json(&json!({"redirect_url": redirect_url, "outcome": "success"}))
            .send()
            .await?;
        anyhow::ensure!(r.status().is_success(), "complete: {}", r.text().await?);
        Ok(())
    }
}

fn one_time(id: &str) -> Value {
    paysys_tests::seed_000_one_time(id)
}

fn webbilling(id: &str, n: usize) -> Value {
    json!({
        "trans_ext_id": id, "merchant_id": "19", "secret": paysys_tests::MERCHANT_19.1,
        "payment": { "channel_id": "9042", "amount": "0", "currency": "PLN", "config": {} },
        "articles": [{ "prod_id": "512", "name": "premium article", "quantity": "1", "price": "250" }],
        "customer": { "ext_id": "user-7", "email": "reader@test.pl", "phone": format!("48{:09}", 500_000_000 + n % 499_999_999) },
        "client_ip": "127.0.0.1"
    })
}

/// Runs `job(i)` for i in 0..n with `concurrency` workers; returns each call's latency (ms)
/// and the wall time. Prints progress every 5 s.
async fn closed_loop<F, Fut>(
    label: &str,
    n: usize,
    concurrency: usize,
    job: F,
) -> anyhow::Result<(Latencies, f64)>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let job = Arc::new(job);
    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (job, next, done) = (job.clone(), next.clone(), done.clone());
        workers.spawn(async move {
            let mut lat = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return Ok::<_, anyhow::Error>(lat);
                }
                let t = Instant::now();
                job(i).await?;
                lat.push(t.elapsed().as_secs_f64() * 1e3);
                done.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
    let progress = {
        let (done, label) = (done.clone(), label.to_string());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(5)).await;
                let d = done.load(Ordering::Relaxed);
                let secs = started.elapsed().as_secs_f64();
                println!(
                    "  [{label}] {d}/{n} after {secs:.0}s ({:.0}/s)",
                    d as f64 / secs
                );
            }
        })
    };
    let mut lat = Vec::with_capacity(n);
    while let Some(r) = workers.join_next().await {
        lat.extend(r??);
    }
    progress.abort();
    Ok((Latencies(lat), started.elapsed().as_secs_f64()))
}

/// Waits until `f` is true, printing `what` every 5 s; Err after `within`.
async fn wait_until<F, Fut>(what: &str, within: Duration, mut f: F) -> anyhow::Result<f64>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = (bool, String)>,
{
    let started = Instant::now();
    let mut said = Instant::now();
    loop {
        let (ok, state) = f().await;
        if ok {
            return Ok(started.elapsed().as_secs_f64());
        }
        anyhow::ensure!(
            started.elapsed() < within,
            "{what}: not done after {within:?} ({state})"
        );
        if said.elapsed() > Duration::from_secs(5) {
            println!(
                "  [{what}] {state} after {:.0}s",
                started.elapsed().as_secs_f64()
            );
            said = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Notifications (answered) of `method` received so far, by order id.
fn received(receiver: &Receiver, method: &str) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    if let Ok(notes) = receiver.notes.lock() {
        for n in notes.iter().filter(|n| n.answered && n.method == method) {
            out.entry(n.order_id.clone()).or_insert(n.at);
        }
    }
    out
}

fn count_received(receiver: &Receiver, method: &str, from: usize) -> (usize, usize) {
    receiver
        .notes
        .lock()
        .map(|n| {
            let len = n.len();
            let c = n[from.min(len)..]
                .iter()
                .filter(|n| n.answered && n.method == method)
                .count();
            (c, len)
        })
        .unwrap_or((0, 0))
}

// ---------------------------------------------------------------------------------------------

struct Summary {
    figures: Map<String, Value>,
    rows: Vec<(String, String, String)>,
}

impl Summary {
    fn set(&mut self, key: &str, value: f64) {
        let v = if value.is_finite() {
            json!((value * 10.0).round() / 10.0)
        } else {
            Value::Null
        };
        self.figures.insert(key.into(), v);
    }
    fn row(&mut self, what: &str, figure: String, against: String) {
        println!("  => {what}: {figure}  {against}");
        self.rows.push((what.into(), figure, against));
    }
}

#[tokio::main]
async fn main() {
    system::install_safety_nets();
    match run().await {
        Ok(()) => {}
        Err(e) => {
            system::kill_children();
            eprintln!("[bench] failed: {e:#}");
            std::process::exit(1);
        }
    }
}

async fn run() -> anyhow::Result<()> {
    let o = Opts::from_env();
    let clock = Clock(Instant::now());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "[bench] {cores} cores; concurrency {}, {} requests per API phase, {}/s offered for {} s, {} pre-filled charges, {} subscriptions",
        o.concurrency, o.requests, o.offered, o.offered_secs, o.drain, o.subscriptions
    );
    let (receiver, receiver_url) = Receiver::serve(clock).await?;
    let Fresh {
        database_url,
        db_name,
        token,
        data_key,
        bin_dir,
        run_dir,
    } = Fresh::new("bench").await?;
    let mut setup = Setup::new(
        run_dir.clone(),
        bin_dir,
        database_url.clone(),
        token,
        "warn".into(),
        vec![0, 1, 2, 5, 10, 30, 60],
    );
    setup.db_max_connections = o.pool;
    setup.amqp_prefetch = o.prefetch;
    setup.sandbox_callback_concurrency = o.sandbox_concurrency;
    setup.notifier_concurrency = o.notifier_concurrency;
    let sys = Arc::new(System::prepare(setup, &data_key)?);
    let prefix = sys.setup.prefix.clone();
    println!(
        "[bench] database {db_name}, broker prefix {prefix}, logs in {}/logs",
        run_dir.display()
    );
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(o.concurrency as u32 + 2)
        .connect(&database_url)
        .await?;
    let amqp =
        lapin::Connection::connect(&testing::amqp_url(), lapin::ConnectionProperties::default())
            .await?;
    let mut s = Summary {
        figures: Map::new(),
        rows: Vec::new(),
    };
    s.figures.insert("cores".into(), json!(cores));
    s.figures.insert("concurrency".into(), json!(o.concurrency));

    // 1. Raw limits, before the services run (nothing else competes).
    let mut raw_insert = f64::NAN;
    let mut raw_consume = f64::NAN;
    if o.runs("raw") {
        raw_insert = raw_insert_rate(&pool, o.concurrency, o.raw_secs).await?;
        s.set("raw_insert_per_s", raw_insert);
        let (publish, consume) =
            raw_broker_rates(&amqp, &prefix, o.concurrency, o.raw_secs, o.prefetch).await?;
        raw_consume = consume;
        s.set("raw_publish_per_s", publish);
        s.set("raw_consume_per_s", consume);
        s.row(
            "raw PostgreSQL insert+commit",
            format!("{raw_insert:.0}/s"),
            format!("{} connections", o.concurrency),
        );
        s.row(
            "raw RabbitMQ publish (persistent, confirmed, quorum queue)",
            format!("{publish:.0}/s"),
            format!("{} publishers", o.concurrency),
        );
        s.row(
            "raw RabbitMQ consume + ack",
            format!("{consume:.0}/s"),
            format!("prefetch {}", o.prefetch),
        );
    }

    // The system.
    for name in SERVICES {
        sys.start(name)?;
    }
    for name in SERVICES {
        sys.wait_ready(name, Duration::from_secs(120)).await?;
    }
    load_fixtures(&sys, &receiver_url).await?;
    wait_consumers(&prefix).await?;
    wait_capabilities(&database_url).await?;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(o.concurrency * 2)
        .timeout(Duration::from_secs(60))
        .build()?;
    let client = Client {
        http,
        edge: format!("{}/", sys.ports.url("rpc-edge")),
        sandbox: sys.ports.url("provider-sandbox"),
    };
    println!(
        "[bench] {} services up at {:.0}s",
        SERVICES.len(),
        clock.secs()
    );
    // Warm-up: connections, statement caches, gRPC channels.
    {
        let c = client.clone();
        closed_loop("warm-up", 200, 8, move |i| {
            let c = c.clone();
            async move {
                let r = c
                    .rpc("set_transaction_sync", &one_time(&format!("warm-{i}")))
                    .await?;
                c.complete(r["data"]["redirect_url"].as_str().unwrap_or_default())
                    .await
            }
        })
        .await?;
    }

    // What the idle system costs PostgreSQL (relays, watchers, probes), subtracted below.
    let idle_commits_per_s = {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let before = pg_counters(&pool).await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        let after = pg_counters(&pool).await;
        (after.0 - before.0) as f64 / 3.0
    };
    s.set("idle_pg_commits_per_s", idle_commits_per_s);
    println!(
        "[bench] idle: {idle_commits_per_s:.0} PostgreSQL commits/s (relays, watchers, probes)"
    );

    // 2a. set_transaction (asynchronous).
    if o.runs("async") {
        println!("[bench] set_transaction (Teleaudio webbilling, asynchronous): {} requests, concurrency {}", o.requests, o.concurrency);
        let (a, before) = (cpu_snapshot(&sys), pg_counters(&pool).await);
        let c = client.clone();
        let (lat, wall) = closed_loop("set_transaction", o.requests, o.concurrency, move |i| {
            let c = c.clone();
            async move {
                let r = c
                    .rpc("set_transaction", &webbilling(&format!("async-{i}"), i))
                    .await?;
                anyhow::ensure!(r["status"] == "1", "set_transaction {i}: {r}");
                Ok(())
            }
        })
        .await?;
        let (b, after) = (cpu_snapshot(&sys), pg_counters(&pool).await);
        let rate = o.requests as f64 / wall;
        s.set("set_transaction_per_s", rate);
        s.set("set_transaction_p50_ms", lat.pct(0.5));
        s.set("set_transaction_p99_ms", lat.pct(0.99));
        let commits = ((after.0 - before.0) as f64 - idle_commits_per_s * wall) / o.requests as f64;
        s.set("set_transaction_pg_commits_per_request", commits);
        s.row(
            "set_transaction (async)",
            format!(
                "{rate:.0}/s, p50 {:.1} ms, p99 {:.1} ms",
                lat.pct(0.5),
                lat.pct(0.99)
            ),
            format!(
                "{:.0}% of raw insert; {:.1} PostgreSQL commits per request",
                100.0 * rate / raw_insert,
                commits
            ),
        );
        println!("  CPU: {}", cpu_shares(&a, &b).0);
        // The commands behind the answers: through the outbox and the queue to the adapter.
        let commands = format!("{prefix}provider.teleaudio.commands");
        let drained = wait_until("asynchronous commands", Duration::from_secs(300), || {
            let (pool, amqp, commands) = (&pool, &amqp, &commands);
            async move {
                let pending: i64 = sqlx::query_scalar("SELECT count(*) FROM edge.outbox")
                    .fetch_one(pool)
                    .await
                    .unwrap_or(-1);
                let queued = queue_depth(amqp, commands).await.unwrap_or(u32::MAX);
                (
                    pending == 0 && queued == 0,
                    format!("{pending} in the edge's outbox, {queued} queued"),
                )
            }
        })
        .await?;
        println!("  every command reached the adapter {drained:.1}s after the last answer");
    }

    // 2b. set_transaction_sync; its orders are completed in phase 3.
    let mut redirects: Vec<String> = Vec::new();
    if o.runs("sync") || o.runs("callback") {
        let n = if o.runs("sync") {
            o.requests
        } else {
            o.offered * o.offered_secs
        };
        println!(
            "[bench] set_transaction_sync (Mobiltek, seed 000): {n} requests, concurrency {}",
            o.concurrency
        );
        let urls = Arc::new(std::sync::Mutex::new(vec![String::new(); n]));
        let (a, before) = (cpu_snapshot(&sys), pg_counters(&pool).await);
        let (c, u) = (client.clone(), urls.clone());
        let (lat, wall) = closed_loop("set_transaction_sync", n, o.concurrency, move |i| {
            let (c, u) = (c.clone(), u.clone());
            async move {
                let r = c
                    .rpc("set_transaction_sync", &one_time(&format!("sync-{i}")))
                    .await?;
                let url = r["data"]["redirect_url"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                anyhow::ensure!(
                    r["status"] == "1" && !url.is_empty(),
                    "set_transaction_sync {i}: {r}"
                );
                u.lock().expect("urls")[i] = url;
                Ok(())
            }
        })
        .await?;
        let (b, after) = (cpu_snapshot(&sys), pg_counters(&pool).await);
        let rate = n as f64 / wall;
        let per = |x: i64| x as f64 / n as f64;
        let commits = ((after.0 - before.0) as f64 - idle_commits_per_s * wall) / n as f64;
        if o.runs("sync") {
            s.set("set_transaction_sync_per_s", rate);
            s.set("set_transaction_sync_p50_ms", lat.pct(0.5));
            s.set("set_transaction_sync_p99_ms", lat.pct(0.99));
            s.set("set_transaction_sync_pg_commits_per_request", commits);
            s.row(
                "set_transaction_sync",
                format!("{rate:.0}/s, p50 {:.1} ms, p99 {:.1} ms", lat.pct(0.5), lat.pct(0.99)),
                format!(
                    "{:.0}% of raw insert; per request {:.1} PostgreSQL commits, {:.1} rows inserted, {:.1} updated",
                    100.0 * rate / raw_insert,
                    commits,
                    per(after.1 - before.1),
                    per(after.2 - before.2)
                ),
            );
            println!("  CPU: {}", cpu_shares(&a, &b).0);
        }
        redirects = std::mem::take(&mut *urls.lock().expect("urls"));
    }

    // 3. Callback -> notification at a fixed offered rate (open loop).
    if o.runs("callback") {
        let n = (o.offered * o.offered_secs).min(redirects.len());
        println!("[bench] provider callback -> merchant notification: {n} completions offered at {}/s (open loop)", o.offered);
        let orders: Vec<String> = (0..n).map(|i| format!("sync-{i}")).collect();
        let interval = Duration::from_secs_f64(1.0 / o.offered as f64);
        let (a, pg_before) = (cpu_snapshot(&sys), pg_counters(&pool).await);
        let t0 = tokio::time::Instant::now() + Duration::from_millis(100);
        let base = clock.secs() + 0.1;
        let failures = Arc::new(AtomicUsize::new(0));
        let mut tasks = tokio::task::JoinSet::new();
        for (i, url) in redirects.iter().take(n).enumerate() {
            tokio::time::sleep_until(t0 + interval * i as u32).await;
            let (c, url, failures) = (client.clone(), url.clone(), failures.clone());
            tasks.spawn(async move {
                if let Err(e) = c.complete(&url).await {
                    if failures.fetch_add(1, Ordering::Relaxed) < 3 {
                        eprintln!("  completion failed: {e:#}");
                    }
                }
            });
        }
        let offered_wall = clock.secs() - base;
        while tasks.join_next().await.is_some() {}
        let want: HashSet<&String> = orders.iter().collect();
        let waited = wait_until("notifications", Duration::from_secs(300), || {
            let got = received(&receiver, "new_payment")
                .keys()
                .filter(|k| want.contains(k))
                .count();
            async move { (got >= n, format!("{got}/{n} notified")) }
        })
        .await;
        let phase_secs = clock.secs() - base;
        let (b, pg_after) = (cpu_snapshot(&sys), pg_counters(&pool).await);
        let commits =
            ((pg_after.0 - pg_before.0) as f64 - idle_commits_per_s * phase_secs) / n as f64;
        s.set("callback_to_notification_pg_commits_per_payment", commits);
        let got = received(&receiver, "new_payment");
        let lat = Latencies(
            orders
                .iter()
                .enumerate()
                .filter_map(|(i, id)| {
                    let scheduled = base + interval.as_secs_f64() * i as f64;
                    got.get(id).map(|at| (at - scheduled) * 1e3)
                })
                .collect(),
        );
        anyhow::ensure!(
            waited.is_ok() && failures.load(Ordering::Relaxed) == 0,
            "callback phase lost work: {} of {n} notified, {} completions failed",
            lat.0.len(),
            failures.load(Ordering::Relaxed)
        );
        let achieved = n as f64 / offered_wall;
        s.set("callback_to_notification_offered_per_s", o.offered as f64);
        s.set("callback_to_notification_achieved_per_s", achieved);
        s.set("callback_to_notification_p50_ms", lat.pct(0.5));
        s.set("callback_to_notification_p99_ms", lat.pct(0.99));
        s.row(
            "callback -> notification",
            format!("p50 {:.1} ms, p99 {:.1} ms, max {:.0} ms", lat.pct(0.5), lat.pct(0.99), lat.pct(1.0)),
            format!(
                "offered {}/s, sent {achieved:.0}/s; {commits:.1} PostgreSQL commits per payment (callback to ledger and notification)",
                o.offered
            ),
        );
        println!("  CPU: {}", cpu_shares(&a, &b).0);
    }

    // 4 + 5. Pre-filled queues: the ledger's, then the notifier's.
    if o.runs("ledger") || o.runs("notifier") {
        let k = o.drain;
        println!("[bench] ledger and notifier stopped; {k} payments completed meanwhile");
        sys.kill("ledger").await;
        sys.kill("notifier").await;
        let c = client.clone();
        closed_loop("pre-fill", k, o.concurrency, move |i| {
            let c = c.clone();
            async move {
                let r = c
                    .rpc("set_transaction_sync", &one_time(&format!("drain-{i}")))
                    .await?;
                c.complete(r["data"]["redirect_url"].as_str().unwrap_or_default())
                    .await
            }
        })
        .await?;
        let ledger_q = format!("{prefix}ledger.events");
        let notifier_q = format!("{prefix}notifier.events");
        // Everything the adapter's outbox holds has been published before the clock starts.
        let (ledger_msgs, notifier_msgs) = {
            let mut last = (0, 0);
            let mut stable = 0;
            while stable < 10 {
                let now = (
                    queue_depth(&amqp, &ledger_q).await.unwrap_or(0),
                    queue_depth(&amqp, &notifier_q).await.unwrap_or(0),
                );
                if now == last && now.0 > 0 {
                    stable += 1;
                } else {
                    stable = 0;
                }
                last = now;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            last
        };
        println!("  queued: {ledger_msgs} events for the ledger, {notifier_msgs} for the notifier");
        let transfers = || posted_transfers(&pool);
        let posted_before = transfers().await;
        let (a, pg_before) = (cpu_snapshot(&sys), pg_counters(&pool).await);
        sys.start("ledger")?;
        let secs = wait_until("ledger drain", Duration::from_secs(600), || {
            let (amqp, q) = (&amqp, &ledger_q);
            let posted = transfers();
            async move {
                let depth = queue_depth(amqp, q).await.unwrap_or(u32::MAX);
                // Counting the transfers costs PostgreSQL a scan that grows with the table:
                // only once the queue is empty, so the measurement does not slow the ledger.
                if depth != 0 {
                    return (false, format!("{depth} queued"));
                }
                let posted = posted.await - posted_before;
                (
                    depth == 0 && posted >= k as i64,
                    format!("{depth} queued, {posted} posted"),
                )
            }
        })
        .await?;
        let (b, pg_after) = (cpu_snapshot(&sys), pg_counters(&pool).await);
        let posted = transfers().await - posted_before;
        let rate = posted as f64 / secs;
        let commits =
            ((pg_after.0 - pg_before.0) as f64 - idle_commits_per_s * secs) / posted.max(1) as f64;
        s.set("event_to_ledger_per_s", rate);
        s.set("event_to_ledger_pg_commits_per_charge", commits);
        s.set("event_to_ledger_messages_per_s", ledger_msgs as f64 / secs);
        s.row(
            "charge event -> ledger posting",
            format!("{rate:.0} charges/s ({ledger_msgs} events in {secs:.1} s, start included)"),
            format!(
                "{:.0}% of raw consume+ack; {commits:.1} PostgreSQL commits per charge",
                100.0 * ledger_msgs as f64 / secs / raw_consume
            ),
        );
        println!("  CPU: {}", cpu_shares(&a, &b).0);

        let (_, notes_before) = count_received(&receiver, "new_payment", 0);
        let (a, pg_before) = (cpu_snapshot(&sys), pg_counters(&pool).await);
        sys.start("notifier")?;
        let secs = wait_until("notifier drain", Duration::from_secs(600), || {
            let (got, _) = count_received(&receiver, "new_payment", notes_before);
            async move { (got >= k, format!("{got}/{k} delivered")) }
        })
        .await?;
        let (b, pg_after) = (cpu_snapshot(&sys), pg_counters(&pool).await);
        let delivered = receiver.notes.lock().map(|n| n.len()).unwrap_or(0) - notes_before;
        let rate = delivered as f64 / secs;
        let commits = ((pg_after.0 - pg_before.0) as f64 - idle_commits_per_s * secs)
            / delivered.max(1) as f64;
        s.set("notifier_deliveries_per_s", rate);
        s.set("notifier_pg_commits_per_delivery", commits);
        s.row(
            "notifier deliveries",
            format!("{rate:.0}/s ({delivered} in {secs:.1} s, start included)"),
            format!("{notifier_msgs} events queued; {commits:.1} PostgreSQL commits per delivery"),
        );
        println!("  CPU: {}", cpu_shares(&a, &b).0);
        sys.wait_ready("notifier", Duration::from_secs(60)).await?;
        sys.wait_ready("ledger", Duration::from_secs(60)).await?;
    }

    // 6. A recurring month.
    if o.runs("month") && o.subscriptions > 0 {
        let n = o.subscriptions;
        println!("[bench] recurring month: {n} Mobiltek subscriptions (set_subscription, the user's page, REGISTRATION + first CHARGE)");
        let c = client.clone();
        let (_, wall) = closed_loop("subscriptions", n, o.concurrency, move |i| {
            let c = c.clone();
            async move {
                let r = c
                    .rpc(
                        "set_subscription",
                        &paysys_tests::seed_000_subscription(&format!("month-{i}")),
                    )
                    .await?;
                c.complete(r["data"]["redirect_url"].as_str().unwrap_or_default())
                    .await
            }
        })
        .await?;
        println!(
            "  {n} subscriptions set up in {wall:.0}s ({:.0}/s)",
            n as f64 / wall
        );
        s.set("month_setup_s", wall);
        // Every first charge posted and notified before the month starts.
        wait_until("first charges notified", Duration::from_secs(1800), || {
            let (got, _) = count_received(&receiver, "subscription_charge_success", 0);
            async move { (got >= n, format!("{got}/{n} first charges notified")) }
        })
        .await?;
        let base_posted = posted_transfers(&pool).await;
        let (_, base_notes) = count_received(&receiver, "subscription_charge_success", 0);
        let (a, pg_before) = (cpu_snapshot(&sys), pg_counters(&pool).await);
        let started = Instant::now();
        let advance = {
            let c = client.clone();
            tokio::spawn(async move {
                let r = c
                    .http
                    .post(format!("{}/_sandbox/clock/advance", c.sandbox))
                    .timeout(Duration::from_secs(7200))
                    .json(&json!({"seconds": 30 * 86_400}))
                    .send()
                    .await?;
                let v: Value = r.json().await?;
                Ok::<_, anyhow::Error>((v, started.elapsed().as_secs_f64()))
            })
        };
        // The count of transfers is a scan that grows with the table: taken once a second, not
        // at every poll, so the measurement does not load PostgreSQL.
        let counted = std::sync::Arc::new(std::sync::Mutex::new((Instant::now(), base_posted)));
        let secs = wait_until("month", Duration::from_secs(7200), || {
            let (pool, counted) = (pool.clone(), counted.clone());
            let (notified, _) =
                count_received(&receiver, "subscription_charge_success", base_notes);
            async move {
                let (at, last) = *counted.lock().unwrap_or_else(|p| p.into_inner());
                // Near the end (everything notified), ten times a second.
                let every = if notified >= n {
                    Duration::from_millis(100)
                } else {
                    Duration::from_secs(1)
                };
                let total = if at.elapsed() >= every {
                    let now = posted_transfers(&pool).await;
                    *counted.lock().unwrap_or_else(|p| p.into_inner()) = (Instant::now(), now);
                    now
                } else {
                    last
                };
                let posted = total - base_posted;
                (
                    posted >= n as i64 && notified >= n,
                    format!("{posted}/{n} renewals posted, {notified}/{n} notified"),
                )
            }
        })
        .await?;
        let (b, pg_after) = (cpu_snapshot(&sys), pg_counters(&pool).await);
        let commits = ((pg_after.0 - pg_before.0) as f64 - idle_commits_per_s * secs) / n as f64;
        s.set("month_pg_commits_per_renewal", commits);
        let (answer, sandbox_secs) = advance.await??;
        anyhow::ensure!(
            answer["charges"] == json!(n),
            "the sandbox performed {} charges, not {n}",
            answer["charges"]
        );
        let rss = peak_rss(&sys);
        // PaySystem's services; the sandbox (which keeps every simulated subscription in
        // memory) is reported beside them but is not deployed.
        let max_rss = rss
            .iter()
            .filter(|(s, _)| **s != "provider-sandbox")
            .map(|(_, v)| *v)
            .fold(0.0, f64::max);
        s.set("month_subscriptions", n as f64);
        s.set("month_s", secs);
        s.set("month_sandbox_callbacks_s", sandbox_secs);
        s.set("month_max_rss_mib", max_rss);
        for (svc, mib) in &rss {
            s.set(&format!("rss_{}_mib", svc.replace('-', "_")), *mib);
        }
        s.row(
            "recurring month",
            format!("{n} renewals posted and notified in {secs:.0} s ({:.0}/s)", n as f64 / secs),
            format!(
                "{commits:.1} PostgreSQL commits per renewal; the sandbox sent its callbacks in {sandbox_secs:.0} s; peak RSS {}",
                rss.iter().map(|(k, v)| format!("{k} {v:.0} MiB")).collect::<Vec<_>>().join(", ")
            ),
        );
        println!("  CPU: {}", cpu_shares(&a, &b).0);
    } else {
        let rss = peak_rss(&sys);
        s.set("max_rss_mib", rss.values().copied().fold(0.0, f64::max));
    }

    // The load generator's own share over the whole run.
    let me = process_ticks("self") as f64;
    let ticks_per_s = 100.0;
    s.set("load_generator_cpu_s", me / ticks_per_s);
    s.set("wall_s", clock.secs());

    println!(
        "\nPaySystem benchmark, {cores} cores, concurrency {}:\n",
        o.concurrency
    );
    println!("| what | figure | against |");
    println!("|---|---|---|");
    for (w, f, a) in &s.rows {
        println!("| {w} | {f} | {a} |");
    }
    let out = std::path::Path::new("target/bench");
    std::fs::create_dir_all(out)?;
    std::fs::write(
        out.join("summary.json"),
        serde_json::to_string_pretty(&Value::Object(s.figures.clone()))? + "\n",
    )?;
    println!(
        "\nfigures written to target/bench/summary.json ({} keys); run took {:.0}s",
        s.figures.len(),
        clock.secs()
    );

    sys.stop_all().await;
    let _ = amqp.close(200, "bye".into()).await;
    pool.close().await;
    if o.keep {
        println!("[bench] kept database {db_name} and {}", run_dir.display());
    } else {
        drop_database(&db_name).await;
        let _ = std::fs::remove_dir_all(&run_dir);
    }
    Ok(())
}

/// Single-row INSERT + COMMIT from `concurrency` connections for `secs`.
async fn raw_insert_rate(
    pool: &sqlx::PgPool,
    concurrency: usize,
    secs: u64,
) -> anyhow::Result<f64> {
    println!("[bench] raw: single-row INSERT + COMMIT, {concurrency} connections, {secs} s");
    sqlx::query("CREATE TABLE bench_raw (id bigserial PRIMARY KEY, order_id text NOT NULL, amount_minor bigint NOT NULL, created_at timestamptz NOT NULL DEFAULT now())")
        .execute(pool)
        .await?;
    let until = Instant::now() + Duration::from_secs(secs);
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..concurrency {
        let pool = pool.clone();
        tasks.spawn(async move {
            let mut n = 0u64;
            while Instant::now() < until {
                sqlx::query("INSERT INTO bench_raw (order_id, amount_minor) VALUES ($1, $2)")
                    .bind(format!("raw-{w}-{n}"))
                    .bind(10i64)
                    .execute(&pool)
                    .await?;
                n += 1;
            }
            Ok::<_, sqlx::Error>(n)
        });
    }
    let mut total = 0;
    while let Some(r) = tasks.join_next().await {
        total += r??;
    }
    sqlx::query("DROP TABLE bench_raw").execute(pool).await?;
    Ok(total as f64 / secs as f64)
}

/// Persistent, confirmed publishes from `concurrency` publishers (a channel each) for `secs`,
/// then consume + ack of all of them with `prefetch`; both on a quorum queue.
async fn raw_broker_rates(
    amqp: &lapin::Connection,
    prefix: &str,
    concurrency: usize,
    secs: u64,
    prefetch: u16,
) -> anyhow::Result<(f64, f64)> {
    use lapin::options::*;
    use lapin::types::{AMQPValue, FieldTable};
    println!("[bench] raw: persistent confirmed publishes to a quorum queue, {concurrency} publishers, {secs} s; then consume + ack");
    let queue = format!("{prefix}bench.raw");
    let setup = amqp.create_channel().await?;
    let mut args = FieldTable::default();
    args.insert(
        "x-queue-type".into(),
        AMQPValue::LongString("quorum".into()),
    );
    setup
        .queue_declare(
            queue.as_str().into(),
            QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            args,
        )
        .await?;
    let payload = serde_json::to_vec(
        &json!({"type": "payment.succeeded", "order_id": uuid::Uuid::new_v4(), "amount_minor": 10, "currency": "PLN", "provider": "mobiltek", "padding": "x".repeat(300)}),
    )?;
    let until = Instant::now() + Duration::from_secs(secs);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let ch = amqp.create_channel().await?;
        ch.confirm_select(ConfirmSelectOptions::default()).await?;
        let (queue, payload) = (queue.clone(), payload.clone());
        tasks.spawn(async move {
            let mut n = 0u64;
            while Instant::now() < until {
                let confirm = ch
                    .basic_publish(
                        "".into(),
                        queue.as_str().into(),
                        BasicPublishOptions::default(),
                        &payload,
                        lapin::BasicProperties::default().with_delivery_mode(2),
                    )
                    .await?
                    .await?;
                anyhow::ensure!(confirm.is_ack(), "publish not confirmed");
                n += 1;
            }
            let _ = ch.close(200, "ok".into()).await;
            Ok::<_, anyhow::Error>(n)
        });
    }
    let mut published = 0u64;
    while let Some(r) = tasks.join_next().await {
        published += r??;
    }
    let publish_rate = published as f64 / secs as f64;

    let ch = amqp.create_channel().await?;
    ch.basic_qos(prefetch, BasicQosOptions::default()).await?;
    let mut consumer = ch
        .basic_consume(
            queue.as_str().into(),
            "bench".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let started = Instant::now();
    let mut consumed = 0u64;
    use futures::StreamExt;
    while consumed < published {
        let Some(d) = tokio::time::timeout(Duration::from_secs(30), consumer.next()).await? else {
            break;
        };
        d?.ack(BasicAckOptions::default()).await?;
        consumed += 1;
    }
    let consume_rate = consumed as f64 / started.elapsed().as_secs_f64();
    anyhow::ensure!(consumed == published, "consumed {consumed} of {published}");
    setup
        .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
        .await?;
    let _ = ch.close(200, "ok".into()).await;
    let _ = setup.close(200, "ok".into()).await;
    Ok((publish_rate, consume_rate))
}
