//! `make chaos`: the fault suite. Starts the real service binaries as child processes (fresh
//! database, own broker names, free ports; never a `make up`'s), drives a mixed load of every
//! provider's flows through the public API and the sandbox, and meanwhile, in turn: SIGKILLs
//! and restarts each service (edge and sandbox included), stops PostgreSQL, stops RabbitMQ,
//! makes the merchant's notification endpoint time out and answer 500, and turns on the
//! sandbox's `timeout`, `error` and `duplicate_callbacks` faults. Then it checks from outside
//! only (see `check`) and prints a table. Exit status 0 when nothing was lost, doubled or stuck.
//!
//! `CHAOS_SHORT=1` (or `--short`) runs the short version `make test` runs. Settings (seconds
//! unless said): CHAOS_WORKERS, CHAOS_FAULTS (any of kill,postgres,rabbitmq,merchant,sandbox),
//! CHAOS_KILL (services), CHAOS_PG_SECS, CHAOS_RABBIT_SECS, CHAOS_MERCHANT_SECS,
//! CHAOS_SANDBOX_SECS, CHAOS_GAP_SECS, CHAOS_KEEP=1 (keep the database and the run folder),
//! CHAOS_LOG (the services' log filter), CHAOS_PRICE_RACE=0 (keep Netopia price changes from
//! racing the sandbox clock; by default they race, README "Chaos").

#[path = "chaos/check.rs"]
mod check;
#[path = "chaos/load.rs"]
mod load;
#[path = "chaos/merchant.rs"]
mod merchant;
#[path = "chaos/system.rs"]
mod system;

use load::{Load, PROVIDERS};
use merchant::{Api, Clock, Ev, Mode, Receiver, Stats};
use paysys_platform::testing;
use std::sync::Arc;
use std::time::{Duration, Instant};
use system::{
    drop_database, load_fixtures, wait_capabilities, wait_consumers, Fresh, Setup, System, SERVICES,
};

/// One fault of the plan.
#[derive(Debug, Clone)]
enum Fault {
    Kill(&'static str),
    Postgres(Duration),
    Rabbitmq(Duration),
    Merchant(Mode, Duration),
    Sandbox(&'static str, Duration),
}

impl Fault {
    fn label(&self) -> String {
        match self {
            Fault::Kill(s) => format!("SIGKILL {s}, restart"),
            Fault::Postgres(_) => "PostgreSQL stopped".into(),
            Fault::Rabbitmq(_) => "RabbitMQ stopped".into(),
            Fault::Merchant(Mode::Timeout, _) => "merchant endpoint times out".into(),
            Fault::Merchant(_, _) => "merchant endpoint answers 500".into(),
            Fault::Sandbox(mode, _) => format!("sandbox fault {mode} (all 4)"),
        }
    }
}

struct Opts {
    short: bool,
    workers: usize,
    warmup: Duration,
    gap: Duration,
    kill_down: Duration,
    advance_every: Duration,
    drain: Duration,
    call_deadline: Duration,
    probe_within: Duration,
    plan: Vec<Fault>,
    keep: bool,
    log_level: String,
}

fn env_secs(name: &str, default: f64) -> Duration {
    Duration::from_secs_f64(
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default),
    )
}

impl Opts {
    fn from_env() -> Self {
        let short = std::env::args().any(|a| a == "--short")
            || std::env::var("CHAOS_SHORT").is_ok_and(|v| !v.is_empty() && v != "0");
        let groups: Vec<String> = std::env::var("CHAOS_FAULTS")
            .unwrap_or_else(|_| "kill,postgres,rabbitmq,merchant,sandbox".into())
            .split(',')
            .map(|s| s.trim().to_string())
            .collect();
        let on = |g: &str| groups.iter().any(|x| x == g);
        let kill: Vec<&'static str> = match std::env::var("CHAOS_KILL") {
            Ok(v) => SERVICES
                .iter()
                .copied()
                .filter(|s| v.split(',').any(|x| x.trim() == *s))
                .collect(),
            Err(_) => SERVICES.to_vec(),
        };
        let (pg, rabbit, merchant, sandbox) = if short {
            (5.0, 5.0, 10.0, 8.0)
        } else {
            (30.0, 30.0, 60.0, 20.0)
        };
        let mut plan = Vec::new();
        if on("kill") {
            plan.extend(kill.into_iter().map(Fault::Kill));
        }
        if on("postgres") {
            plan.push(Fault::Postgres(env_secs("CHAOS_PG_SECS", pg)));
        }
        if on("rabbitmq") {
            plan.push(Fault::Rabbitmq(env_secs("CHAOS_RABBIT_SECS", rabbit)));
        }
        if on("merchant") {
            let d = env_secs("CHAOS_MERCHANT_SECS", merchant);
            if !short {
                plan.push(Fault::Merchant(Mode::Timeout, d));
            }
            plan.push(Fault::Merchant(Mode::Error, d));
        }
        if on("sandbox") {
            let d = env_secs("CHAOS_SANDBOX_SECS", sandbox);
            if !short {
                plan.push(Fault::Sandbox("timeout", d));
                plan.push(Fault::Sandbox("error", d));
            }
            plan.push(Fault::Sandbox("duplicate_callbacks", d));
        }
        let workers = std::env::var("CHAOS_WORKERS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(if short { 3 } else { 4 });
        Self {
            short,
            workers,
            warmup: Duration::from_secs(if short { 3 } else { 15 }),
            gap: env_secs("CHAOS_GAP_SECS", if short { 1.0 } else { 10.0 }),
            kill_down: Duration::from_millis(if short { 300 } else { 2000 }),
            advance_every: Duration::from_secs(if short { 6 } else { 15 }),
            drain: Duration::from_secs(if short { 150 } else { 300 }),
            call_deadline: Duration::from_secs(if short { 120 } else { 240 }),
            probe_within: Duration::from_secs(if short { 90 } else { 240 }),
            plan,
            keep: std::env::var("CHAOS_KEEP").is_ok_and(|v| v == "1"),
            log_level: std::env::var("CHAOS_LOG").unwrap_or_else(|_| {
                "info,sqlx=warn,lapin=warn,h2=warn,tower=warn,hyper=warn".into()
            }),
        }
    }
}

/// One row of the table.
struct Row {
    label: String,
    start: f64,
    held: f64,
    /// Merchant endpoint faults: when the notifications it failed were all delivered.
    backlog: Option<Option<f64>>,
    /// Seconds from the fault's end until every provider's probe payment was through.
    recovered: Result<f64, String>,
    end: f64,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    system::install_safety_nets();
    let code = {
        let _guard = system::InfraGuard;
        match run().await {
            Ok(true) => 0,
            Ok(false) => 1,
            Err(e) => {
                eprintln!("[chaos] error: {e:#}");
                2
            }
        }
    };
    system::kill_children();
    std::process::exit(code);
}

async fn run() -> anyhow::Result<bool> {
    let opts = Opts::from_env();
    let clock = Clock(Instant::now());
    let (receiver, receiver_url) = Receiver::serve(clock).await?;
    let Fresh {
        database_url,
        db_name,
        token,
        data_key,
        bin_dir,
        run_dir,
    } = Fresh::new("chaos").await?;
    let sys = Arc::new(System::prepare(
        Setup::new(
            run_dir.clone(),
            bin_dir,
            database_url.clone(),
            token.clone(),
            opts.log_level.clone(),
            // Retries for minutes (the merchant's endpoint is down for minutes), not hours.
            vec![
                0, 1, 2, 4, 8, 15, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30,
            ],
        ),
        &data_key,
    )?);
    println!(
        "[chaos] {} run: database {db_name}, broker prefix {}, logs in {}/logs",
        if opts.short { "short" } else { "full" },
        sys.setup.prefix,
        run_dir.display()
    );
    for name in SERVICES {
        sys.start(name)?;
        // The adapters ask the sandbox nothing at start, but the edge asks the adapters.
        if name == "provider-mocopay" {
            for n in &SERVICES[..7] {
                sys.wait_ready(n, Duration::from_secs(90)).await?;
            }
        }
    }
    sys.wait_ready("rpc-edge", Duration::from_secs(90)).await?;
    load_fixtures(&sys, &receiver_url).await?;
    wait_consumers(&sys.setup.prefix).await?;
    wait_capabilities(&database_url).await?;
    println!(
        "[chaos] {} services up at {:.0}s; fixtures loaded",
        SERVICES.len(),
        clock.secs()
    );

    let stats = Arc::new(Stats::default());
    let api = Api::new(
        format!("{}/", sys.ports.url("rpc-edge")),
        stats.clone(),
        clock,
    );
    let load = Arc::new(Load::new(
        api,
        sys.ports.url("provider-sandbox"),
        receiver.clone(),
        clock,
        opts.call_deadline,
        sys.ports.url("ledger"),
        token.clone(),
    ));
    // Before any fault: one payment per provider goes through end to end.
    let baseline = load
        .probe_all(Instant::now(), Duration::from_secs(60))
        .await
        .map_err(|e| anyhow::anyhow!("the system does not work before any fault: {e}"))?;
    println!(
        "[chaos] every provider's payment through end to end in {:.1}s; load: {} workers",
        baseline.as_secs_f64(),
        opts.workers
    );

    let current = Arc::new(std::sync::Mutex::new(String::from("warm-up")));
    let mut tasks = Vec::new();
    for _ in 0..opts.workers {
        let l = load.clone();
        tasks.push(tokio::spawn(async move { l.worker().await }));
    }
    {
        let l = load.clone();
        let every = opts.advance_every;
        tasks.push(tokio::spawn(async move { l.advancer(every).await }));
    }
    let background = {
        let (sys, stats, current, receiver) = (
            sys.clone(),
            stats.clone(),
            current.clone(),
            receiver.clone(),
        );
        let load = load.clone();
        tokio::spawn(async move {
            let mut last_print = Instant::now();
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                sys.reap(clock.secs());
                if last_print.elapsed() >= Duration::from_secs(5) {
                    last_print = Instant::now();
                    progress(clock, &stats, &load, &receiver, &current);
                }
            }
        })
    };

    tokio::time::sleep(opts.warmup).await;
    let mut rows: Vec<Row> = Vec::new();
    for fault in &opts.plan {
        let label = fault.label();
        *current.lock().expect("current") = label.clone();
        let start = clock.secs();
        let (down, lifted) = match inject(fault, &sys, &load, &receiver, &opts).await {
            Ok(t) => t,
            Err(e) => {
                println!("[chaos] {label}: skipped: {e}");
                rows.push(Row {
                    label: format!("{label} (skipped: {e})"),
                    start,
                    held: 0.0,
                    backlog: None,
                    recovered: Err("skipped".into()),
                    end: clock.secs(),
                });
                continue;
            }
        };
        // From the moment the fault took effect (after waiting for the sandbox's users, or
        // PostgreSQL's checkpoint) to the moment it was lifted.
        let start = clock.secs() - down.elapsed().as_secs_f64();
        let held = (lifted - down).as_secs_f64();
        *current.lock().expect("current") = format!("{label}: recovering");
        let recovered = load
            .probe_all(lifted, opts.probe_within)
            .await
            .map(|d| d.as_secs_f64());
        match &recovered {
            Ok(r) => println!("[chaos] {label}: recovered {r:.1}s after the fault ended"),
            Err(e) => println!("[chaos] {label}: NOT recovered: {e}"),
        }
        *current.lock().expect("current") = "between faults".into();
        tokio::time::sleep(opts.gap).await;
        rows.push(Row {
            label,
            start,
            held,
            backlog: matches!(fault, Fault::Merchant(..)).then_some(None),
            recovered,
            end: clock.secs(),
        });
    }
    *current.lock().expect("current") = "stopping the load".into();
    println!(
        "[chaos] faults done at {:.0}s; stopping the load",
        clock.secs()
    );
    load.stop();
    for t in tasks {
        let _ = t.await;
    }
    {
        let _shared = load.gate.read().await;
        if let Err(e) = load.snapshot_report().await {
            eprintln!("[chaos] sandbox report: {e}");
        }
    }
    *current.lock().expect("current") = "draining".into();
    let load_end = clock.secs();
    let (findings, waited) = check::drain_and_check(&sys, &load, opts.drain).await;
    for r in rows.iter_mut().filter(|r| r.backlog.is_some()) {
        r.backlog = Some(receiver.backlog_cleared(r.start, r.start + r.held));
    }
    background.abort();
    let crashes = sys.crashes.lock().expect("crashes").clone();
    let passed = findings.failures() == 0
        && crashes.is_empty()
        && rows.iter().all(|r| {
            (r.recovered.is_ok() || r.recovered.as_ref().is_err_and(|e| e == "skipped"))
                && r.backlog != Some(None)
        })
        && stats
            .flows_abandoned
            .load(std::sync::atomic::Ordering::Relaxed)
            == 0;
    print_table(
        &opts, &rows, &stats, &load, &findings, &crashes, load_end, waited,
    );
    println!(
        "RESULT: {}",
        if passed {
            "PASS: nothing lost, doubled or stuck"
        } else {
            "FAIL"
        }
    );
    sys.stop_all().await;
    if passed && !opts.keep {
        let _ = std::fs::remove_dir_all(&run_dir);
        drop_database(&db_name).await;
    } else {
        println!(
            "[chaos] kept: database {db_name}, logs in {}/logs",
            run_dir.display()
        );
    }
    Ok(passed)
}

/// Injects one fault, holds it, lifts it; returns when it took effect and when it was lifted.
async fn inject(
    fault: &Fault,
    sys: &System,
    load: &Load,
    receiver: &Receiver,
    opts: &Opts,
) -> Result<(Instant, Instant), String> {
    match fault {
        Fault::Kill(name) => {
            if *name == "provider-sandbox" {
                // The sandbox keeps its providers' memory in the process: wait until no user
                // is on a provider page and no clock advance runs, keep its report, then kill.
                let _exclusive = load.gate.write().await;
                load.snapshot_report().await?;
                sys.kill(name).await;
            } else {
                sys.kill(name).await;
            }
            let down = Instant::now();
            tokio::time::sleep(opts.kill_down).await;
            sys.start(name).map_err(|e| format!("{e:#}"))?;
            let lifted = Instant::now();
            sys.wait_ready(name, Duration::from_secs(120))
                .await
                .map_err(|e| format!("{e:#}"))?;
            Ok((down, lifted))
        }
        Fault::Postgres(d) => {
            if let Some(why) = system::postgres_unavailable() {
                return Err(why);
            }
            // A checkpoint first, while PostgreSQL still serves, so that the shutdown's own
            // checkpoint is short and the outage lasts what was asked (on a machine holding
            // many test databases the shutdown checkpoint alone took 16 s).
            checkpoint().await;
            let down = Instant::now();
            blocking(system::stop_postgres).await?;
            tokio::time::sleep(*d).await;
            blocking(system::start_postgres).await?;
            Ok((down, Instant::now()))
        }
        Fault::Rabbitmq(d) => {
            if let Some(why) = system::rabbitmq_unavailable() {
                return Err(why);
            }
            let down = Instant::now();
            blocking(system::stop_rabbitmq).await?;
            tokio::time::sleep(*d).await;
            blocking(system::start_rabbitmq).await?;
            Ok((down, Instant::now()))
        }
        Fault::Merchant(mode, d) => {
            let down = Instant::now();
            receiver.set_mode(*mode);
            tokio::time::sleep(*d).await;
            receiver.set_mode(Mode::Ok);
            Ok((down, Instant::now()))
        }
        Fault::Sandbox(mode, d) => {
            let down = Instant::now();
            for p in PROVIDERS {
                load.sandbox.fault(p, mode).await?;
            }
            tokio::time::sleep(*d).await;
            for p in PROVIDERS {
                load.sandbox.fault(p, "none").await?;
            }
            Ok((down, Instant::now()))
        }
    }
}

async fn checkpoint() {
    use sqlx::Connection;
    if let Ok(mut conn) = sqlx::PgConnection::connect(&testing::admin_database_url()).await {
        let _ = sqlx::query("CHECKPOINT").execute(&mut conn).await;
    }
}

async fn blocking(f: fn() -> anyhow::Result<()>) -> Result<(), String> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("{e:#}"))
}

fn progress(
    clock: Clock,
    stats: &Stats,
    load: &Load,
    receiver: &Receiver,
    current: &std::sync::Mutex<String>,
) {
    use std::sync::atomic::Ordering::Relaxed;
    println!(
        "[chaos {:>4.0}s] flows {} ok, {} abandoned | API calls {}, retried {} | clock advances {} | notifications {} | {}",
        clock.secs(),
        stats.flows_ok.load(Relaxed),
        stats.flows_abandoned.load(Relaxed),
        stats.calls.load(Relaxed),
        stats.retried.load(Relaxed),
        load.advances.load(Relaxed),
        receiver.notes.lock().map(|n| n.len()).unwrap_or(0),
        current.lock().map(|c| c.clone()).unwrap_or_default()
    );
}

#[allow(clippy::too_many_arguments)]
fn print_table(
    opts: &Opts,
    rows: &[Row],
    stats: &Stats,
    load: &Load,
    f: &check::Findings,
    crashes: &[system::Crash],
    load_end: f64,
    drained: Duration,
) {
    use std::sync::atomic::Ordering::Relaxed;
    let w = 40;
    println!();
    println!(
        "PaySystem chaos run ({}): {} workers, load for {:.0}s, drained in {:.0}s",
        if opts.short { "short" } else { "full" },
        opts.workers,
        load_end,
        drained.as_secs_f64()
    );
    println!();
    // The first notification of each order, after its user finished: how late it came.
    let mut first_note: std::collections::HashMap<String, f64> = Default::default();
    for n in load.receiver.all().into_iter().filter(|n| n.answered) {
        let e = first_note.entry(n.order_id).or_insert(n.at);
        *e = e.min(n.at);
    }
    let finished = load
        .finished_at
        .lock()
        .map(|f| f.clone())
        .unwrap_or_default();
    let orders = load.orders.lock().map(|o| o.clone()).unwrap_or_default();
    let slowest = |from: f64, to: f64| {
        orders
            .iter()
            .filter(|o| o.created >= from && o.created < to)
            .filter_map(|o| Some(first_note.get(&o.id)? - finished.get(&o.id)?))
            .fold(0.0f64, f64::max)
    };
    println!(
        "| # | {:<w$} | at | held | recovered after | slowest notification | flows ok | retried | lost | doubled | stuck |",
        "fault injected"
    );
    println!(
        "|---|{}|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        "-".repeat(w + 2)
    );
    for (i, r) in rows.iter().enumerate() {
        let next = rows.get(i + 1).map(|n| n.start).unwrap_or(f64::MAX);
        let within = |t: f64| t >= r.start && t < next;
        let stuck = f.stuck.iter().filter(|(t, _)| within(*t)).count();
        let lost = f.lost.iter().filter(|(t, _)| t.is_some_and(within)).count();
        let doubled = f
            .doubled
            .iter()
            .filter(|(t, _)| t.is_some_and(within))
            .count();
        println!(
            "| {} | {:<w$} | {:.0}s | {:.1}s | {} | {:.1}s | {} | {} | {} | {} | {} |",
            i + 1,
            r.label,
            r.start,
            r.held,
            match (&r.recovered, r.backlog) {
                (Ok(s), Some(Some(b))) => format!("{s:.1}s (backlog delivered {b:.1}s after)"),
                (Ok(s), Some(None)) => format!("{s:.1}s (backlog NOT delivered)"),
                (Ok(s), None) => format!("{s:.1}s"),
                (Err(e), _) if e == "skipped" => "–".into(),
                (Err(_), _) => "NOT RECOVERED".into(),
            },
            slowest(r.start, next),
            stats.count(Ev::FlowOk, r.start, r.end),
            stats.count(Ev::Retry, r.start, r.end),
            lost,
            doubled,
            stuck
        );
    }
    println!(
        "|   | {:<w$} | | | | {:.1}s | {} | {} | {} | {} | {} |",
        "whole run",
        slowest(0.0, f64::MAX),
        stats.flows_ok.load(Relaxed),
        stats.retried.load(Relaxed),
        f.lost.len(),
        f.doubled.len(),
        f.stuck.len()
    );
    println!();
    println!(
        "operations: {} flows ({} abandoned by the merchant), {} orders, {} API calls ({} retried: {} transport errors, {} HTTP 503, {} -32603), {} clock advances of 30 days",
        stats.flows_ok.load(Relaxed) + stats.flows_abandoned.load(Relaxed),
        stats.flows_abandoned.load(Relaxed),
        f.orders,
        stats.calls.load(Relaxed),
        stats.retried.load(Relaxed),
        stats.transport.load(Relaxed),
        stats.busy.load(Relaxed),
        stats.internal.load(Relaxed),
        load.advances.load(Relaxed),
    );
    println!(
        "charges: {} performed by the sandbox, {} posted in the ledger; lost {}, doubled {}, wrong amount {}",
        f.performed,
        f.posted,
        f.lost.len(),
        f.doubled.len(),
        f.mismatched.len()
    );
    println!(
        "ledger: debits = credits per currency ({}){}",
        f.currencies.join(", "),
        if f.unbalanced.is_empty() {
            String::new()
        } else {
            format!("; UNBALANCED: {}", f.unbalanced.join("; "))
        }
    );
    println!(
        "notifications: {} expected, {} arrived; {} deliveries in all ({} bad signatures); missing {}, with more than one webhook-id {}, unexpected {}",
        f.notifications_expected,
        f.notifications_received,
        f.deliveries,
        f.bad_signatures,
        f.notif_missing.len(),
        f.notif_doubled.len(),
        f.notif_unexpected.len()
    );
    println!(
        "orders: {} stuck (not final, or the edge and the adapter disagree)",
        f.stuck.len()
    );
    let n = |v: Option<usize>| v.map(|n| n.to_string()).unwrap_or("?".into());
    println!(
        "dead: {} messages in the dead-letter queue, {} notifications dead-lettered",
        n(f.dead_letters),
        n(f.dead_notifications)
    );
    println!(
        "services that died by themselves: {}",
        if crashes.is_empty() {
            "none".to_string()
        } else {
            crashes
                .iter()
                .map(|c| format!("{} at {:.0}s ({})", c.service, c.at_secs, c.status))
                .collect::<Vec<_>>()
                .join(", ")
        }
    );
    let refused = load.refused_count.load(Relaxed);
    if refused > 0 {
        println!("answers that ended a flow early (refusals, not failures): {refused}");
        for (why, n) in load.refused.lock().map(|r| r.clone()).unwrap_or_default() {
            println!("  {n} x {why}");
        }
    }
    let undelivered = load
        .undelivered
        .lock()
        .map(|u| u.clone())
        .unwrap_or_default();
    if !undelivered.is_empty() {
        println!(
            "callbacks the adapters did not acknowledge at the sandbox: {}; e.g. {}",
            undelivered.len(),
            undelivered
                .iter()
                .take(5)
                .cloned()
                .collect::<Vec<_>>()
                .join(" | ")
        );
    }
    let details: [(&str, Vec<String>); 9] = [
        ("lost", f.lost.iter().map(|(_, s)| s.clone()).collect()),
        (
            "doubled",
            f.doubled.iter().map(|(_, s)| s.clone()).collect(),
        ),
        ("wrong amount", f.mismatched.clone()),
        (
            "stuck",
            f.stuck.iter().map(|(_, s)| s.clone()).collect::<Vec<_>>(),
        ),
        ("notification missing", f.notif_missing.clone()),
        ("notification doubled", f.notif_doubled.clone()),
        ("notification unexpected", f.notif_unexpected.clone()),
        ("check error", f.errors.clone()),
        (
            "abandoned flow",
            stats
                .abandoned
                .lock()
                .map(|a| a.clone())
                .unwrap_or_default(),
        ),
    ];
    for (what, list) in details {
        for line in list.iter().take(10) {
            println!("  {what}: {line}");
        }
        if list.len() > 10 {
            println!("  {what}: ... and {} more", list.len() - 10);
        }
    }
    for r in rows {
        if let Err(e) = &r.recovered {
            if e != "skipped" {
                println!("  not recovered after {}: {e}", r.label);
            }
        }
    }
}
