//! paysys: the operator CLI. Merchants and channels are written straight into the owning
//! services' schemas (edge, notifier); ledger and notifications go through their gRPC services;
//! the sandbox through its HTTP control endpoints. `--json` prints machine-readable output.
#![forbid(unsafe_code)]

mod dlq;
mod reconcile;

use anyhow::{bail, Context};
use clap::{ArgGroup, Args, Parser, Subcommand};
use paysys_proto::ledger_client::LedgerClient;
use paysys_proto::notifier_client::NotifierClient;
use serde::Deserialize;
use serde_json::{json, Value};
use sqlx::{PgPool, Row};

#[derive(Parser)]
#[command(name = "paysys", version, about = "PaySystem operator CLI")]
struct Cli {
    /// PostgreSQL URL (default: PAYSYS__DATABASE__URL or config/default.toml).
    #[arg(long, global = true)]
    database_url: Option<String>,
    /// Ledger gRPC URL.
    #[arg(
        long,
        global = true,
        env = "PAYSYS_LEDGER_URL",
        default_value = "http://127.0.0.1:8111"
    )]
    ledger_url: String,
    /// Notifier gRPC URL.
    #[arg(
        long,
        global = true,
        env = "PAYSYS_NOTIFIER_URL",
        default_value = "http://127.0.0.1:8110"
    )]
    notifier_url: String,
    /// Provider sandbox URL.
    #[arg(
        long,
        global = true,
        env = "PAYSYS_SANDBOX_URL",
        default_value = "http://127.0.0.1:9090"
    )]
    sandbox_url: String,
    /// Print JSON.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Merchants: API secret, notification URL and secret, which notifications go where.
    #[command(subcommand)]
    Merchant(MerchantCmd),
    /// Payment channels of merchants.
    #[command(subcommand)]
    Channel(ChannelCmd),
    /// Ledger balances and statements.
    #[command(subcommand)]
    Ledger(LedgerCmd),
    /// Merchant notification log and replay.
    #[command(subcommand)]
    Notifications(NotificationsCmd),
    /// Drive the provider sandbox.
    #[command(subcommand)]
    Sandbox(SandboxCmd),
    /// Authenticated provider callbacks that did not fit their order (a second payment, a
    /// wrong amount or currency, a charge already accounted): refused, never applied, kept here.
    #[command(subcommand)]
    Discrepancies(DiscrepanciesCmd),
    /// Compares the ledger's live book with what a provider says it charged since a time:
    /// charges missing on either side, amounts or currencies that differ. Exit status 3 when
    /// differences remain.
    Reconcile(ReconcileArgs),
    /// The dead-letter queue `<exchange>.dead`: list it, replay what was fixed.
    #[command(subcommand)]
    Dlq(dlq::DlqCmd),
}

#[derive(Args)]
struct ReconcileArgs {
    #[arg(long)]
    provider: String,
    /// RFC 3339 time, e.g. 2026-11-01T00:00:00Z (the provider's charge time, the ledger's
    /// `occurred_at`).
    #[arg(long)]
    since: String,
    /// The provider's report endpoint (default: the sandbox's `/_sandbox/report`).
    #[arg(long, conflicts_with = "csv")]
    report_url: Option<String>,
    /// The provider's report as a CSV file:
    /// charge_key,order_reference,amount_minor,currency,charged_at (header line first).
    #[arg(long)]
    csv: Option<std::path::PathBuf>,
    /// Asks the provider to deliver again the callback of every charge the ledger lacks (the
    /// sandbox's `/_sandbox/report/replay`, or `<report-url>/replay`), then compares again.
    #[arg(long)]
    replay: bool,
}

#[derive(Subcommand)]
enum DiscrepanciesCmd {
    /// Lists them, newest first, across every provider adapter.
    List {
        #[arg(long)]
        provider: Option<String>,
        #[arg(long)]
        merchant: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
}

#[derive(Subcommand)]
enum MerchantCmd {
    /// Adds a merchant or updates it.
    Add(MerchantAdd),
    List,
}

/// Secrets stay out of argv (which other users of the machine can read) with `--secret-env VAR`
/// / `--notify-secret-env VAR`, or `-`: one line of stdin each, the API secret's first.
#[derive(Args)]
#[command(group(ArgGroup::new("api_secret").required(true).args(["secret", "secret_env"])))]
#[command(group(
    ArgGroup::new("notification_secret")
        .required(true)
        .args(["notify_secret", "notify_secret_env"])
))]
struct MerchantAdd {
    #[arg(long)]
    id: String,
    /// API secret (the `secret` parameter / body HMAC key), 8 to 256 characters; `-` reads it
    /// from a line of stdin.
    #[arg(long, value_name = "SECRET|-")]
    secret: Option<String>,
    /// Reads the API secret from this environment variable.
    #[arg(long, value_name = "VAR")]
    secret_env: Option<String>,
    /// Where notifications are POSTed.
    #[arg(long)]
    notify_url: String,
    /// Standard Webhooks secret, `whsec_<base64>`; `-` reads it from a line of stdin (after
    /// the API secret's, when that is `-` too).
    #[arg(long, value_name = "WHSEC|-")]
    notify_secret: Option<String>,
    /// Reads the notification secret from this environment variable.
    #[arg(long, value_name = "VAR")]
    notify_secret_env: Option<String>,
    /// Notifications delivered, comma-separated (default: all six); the others are logged
    /// `skipped` and can be replayed.
    #[arg(long, value_name = "EVENT,...")]
    notify_events: Option<String>,
    /// Sends one event to URL instead of --notify-url (repeatable).
    #[arg(long = "notify-url-for", value_name = "EVENT=URL")]
    notify_url_for: Vec<String>,
}

#[derive(Subcommand)]
enum ChannelCmd {
    Add(ChannelAdd),
    List,
}

#[derive(Args)]
struct ChannelAdd {
    #[arg(long)]
    id: String,
    #[arg(long)]
    provider: String,
    /// one_time | subscription
    #[arg(long)]
    kind: String,
    #[arg(long)]
    merchant: String,
    #[arg(long, default_value = "PLN")]
    currency: String,
    /// Provider settings of the channel, KEY=VALUE (e.g. service_id=30576).
    #[arg(long = "config")]
    config: Vec<String>,
}

/// Every query reads the live book unless `--test` picks the test book (test orders' charges).
#[derive(Subcommand)]
enum LedgerCmd {
    Balance {
        #[arg(long)]
        merchant: String,
        /// The test book instead of the live one.
        #[arg(long)]
        test: bool,
    },
    Statement {
        #[arg(long)]
        merchant: String,
        /// The test book instead of the live one.
        #[arg(long)]
        test: bool,
    },
    /// Total debits and credits per currency (they must be equal).
    Totals {
        /// The test book instead of the live one.
        #[arg(long)]
        test: bool,
    },
}

fn book(test: bool) -> &'static str {
    if test {
        "test"
    } else {
        "live"
    }
}

#[derive(Subcommand)]
enum NotificationsCmd {
    List {
        #[arg(long)]
        merchant: Option<String>,
        /// pending | delivered | dead | skipped
        #[arg(long)]
        status: Option<String>,
    },
    /// Delivers a notification again (dead, skipped or delivered), same webhook-id.
    Replay { id: String },
}

#[derive(Subcommand)]
enum SandboxCmd {
    /// The end user finishes the page behind a redirect URL.
    Complete {
        #[arg(long)]
        redirect_url: String,
        /// success | failure
        #[arg(long, default_value = "success")]
        outcome: String,
    },
    /// Moves the sandbox clock; due recurring charges happen.
    Advance {
        #[arg(long)]
        seconds: u64,
    },
}

const PROVIDERS: &[&str] = &["mobiltek", "teleaudio", "netopia", "mocopay"];

/// The notification methods a merchant can choose (the notifier's schema refuses any other).
use paysys_platform::events::NOTIFICATION_METHODS as NOTIFY_METHODS;

fn is_http_url(v: &str) -> bool {
    matches!(url::Url::parse(v), Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
}

/// `--notify-events` and `--notify-url-for`, checked: (methods delivered, method -> URL).
fn notify_choice(m: &MerchantAdd) -> (Vec<String>, serde_json::Map<String, Value>) {
    let known = || NOTIFY_METHODS.join(", ");
    let events: Vec<String> = match &m.notify_events {
        None => NOTIFY_METHODS.iter().map(|e| e.to_string()).collect(),
        Some(list) => {
            let mut events = Vec::new();
            for e in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
                if !NOTIFY_METHODS.contains(&e) {
                    fail_usage(format!(
                        "--notify-events: unknown event {e:?}; events are {}",
                        known()
                    ));
                }
                if events.iter().any(|x| x == e) {
                    fail_usage(format!("--notify-events: {e} is listed twice"));
                }
                events.push(e.to_string());
            }
            if events.is_empty() {
                fail_usage(format!(
                    "--notify-events must name at least one of {}",
                    known()
                ));
            }
            events
        }
    };
    let mut urls = serde_json::Map::new();
    for kv in &m.notify_url_for {
        let Some((event, url)) = kv.split_once('=') else {
            fail_usage(format!("--notify-url-for {kv:?} must be EVENT=URL"));
        };
        if !NOTIFY_METHODS.contains(&event) {
            fail_usage(format!(
                "--notify-url-for: unknown event {event:?}; events are {}",
                known()
            ));
        }
        if !is_http_url(url) {
            fail_usage(format!(
                "--notify-url-for {event}: {url:?} is not an http(s) URL"
            ));
        }
        if !events.iter().any(|e| e == event) {
            fail_usage(format!(
                "--notify-url-for {event}: the event is not in --notify-events"
            ));
        }
        if urls
            .insert(event.to_string(), Value::String(url.to_string()))
            .is_some()
        {
            fail_usage(format!("--notify-url-for: {event} is given twice"));
        }
    }
    (events, urls)
}

#[derive(Deserialize)]
struct DbOnly {
    database: paysys_platform::config::DatabaseSettings,
}

#[derive(Deserialize)]
struct InternalOnly {
    internal: paysys_platform::internal::InternalSettings,
}

/// The internal gRPC token from the configuration (`.run/paysys.toml` after `make up`, or
/// `PAYSYS__INTERNAL__TOKEN`); never printed.
fn internal_token() -> anyhow::Result<paysys_platform::internal::InternalToken> {
    let s = paysys_platform::config::load::<InternalOnly>().map_err(|e| anyhow::anyhow!("{e}"))?;
    s.internal.validate().map_err(|e| {
        anyhow::anyhow!(
            "{e} (run from the checkout after `make up`, or set PAYSYS__INTERNAL__TOKEN)"
        )
    })?;
    Ok(s.internal.token())
}

#[derive(Deserialize)]
struct SecretsOnly {
    secrets: paysys_platform::sealed::SecretsSettings,
}

/// The key secrets are sealed and digested with (`.run/paysys.toml` after `make up`, or
/// `PAYSYS__SECRETS__DATA_KEY`): the one rpc-edge and the notifier run with.
fn data_key() -> anyhow::Result<paysys_platform::sealed::DataKey> {
    let s = paysys_platform::config::load::<SecretsOnly>().map_err(|e| anyhow::anyhow!("{e}"))?;
    s.secrets.data_key().map_err(|e| {
        anyhow::anyhow!(
            "{e} (run from the checkout after `make up`, or set PAYSYS__SECRETS__DATA_KEY)"
        )
    })
}

/// A secret given as `flag VALUE`, `flag -` (the next line of stdin) or `env_flag VAR`.
fn secret_arg(
    flag: &str,
    value: Option<&str>,
    env_flag: &str,
    var: Option<&str>,
    stdin: &mut impl std::io::BufRead,
) -> secrecy::SecretString {
    let secret = match (value, var) {
        (Some("-"), _) => {
            let mut line = String::new();
            match stdin.read_line(&mut line) {
                Ok(0) => fail_usage(format!("{flag} -: stdin ended before the secret")),
                Ok(_) => line.trim_end_matches(['\n', '\r']).to_string(),
                Err(e) => fail_usage(format!("{flag} -: cannot read stdin: {e}")),
            }
        }
        (Some(v), _) => v.to_string(),
        (None, Some(var)) => match std::env::var(var) {
            Ok(v) => v,
            Err(std::env::VarError::NotPresent) => {
                fail_usage(format!("{env_flag}: {var} is not set"))
            }
            Err(std::env::VarError::NotUnicode(_)) => {
                fail_usage(format!("{env_flag}: {var} is not valid UTF-8"))
            }
        },
        // clap requires one of the two.
        (None, None) => fail_usage(format!("{flag} or {env_flag} is required")),
    };
    secrecy::SecretString::from(secret)
}

fn fail_usage(msg: String) -> ! {
    eprintln!("error: {msg}");
    std::process::exit(64)
}

fn valid_id(field: &str, v: &str) {
    if v.is_empty()
        || v.len() > 64
        || !v
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
    {
        fail_usage(format!(
            "{field} must be 1-64 characters of letters, digits, _ - ."
        ));
    }
}

async fn pool(cli: &Cli) -> anyhow::Result<PgPool> {
    use secrecy::ExposeSecret;
    let url = match &cli.database_url {
        Some(u) => u.clone(),
        None => paysys_platform::config::load::<DbOnly>()
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .database
            .url
            .expose_secret()
            .to_string(),
    };
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect(&url)
        .await
        .context("cannot connect to PostgreSQL (set --database-url or PAYSYS__DATABASE__URL)")
}

fn print(cli: &Cli, v: &Value, human: impl FnOnce(&Value)) {
    if cli.json {
        println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
    } else {
        human(v)
    }
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    if let Err(e) = run(&cli).await {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

async fn run(cli: &Cli) -> anyhow::Result<()> {
    match &cli.cmd {
        Cmd::Merchant(MerchantCmd::Add(m)) => {
            use secrecy::ExposeSecret;
            valid_id("--id", &m.id);
            if !is_http_url(&m.notify_url) {
                fail_usage("--notify-url must be an http(s) URL".into());
            }
            // Saved as given, replacing an earlier choice (absent flags: all six, one URL).
            let (events, urls) = notify_choice(m);
            let mut stdin = std::io::stdin().lock();
            let secret = secret_arg(
                "--secret",
                m.secret.as_deref(),
                "--secret-env",
                m.secret_env.as_deref(),
                &mut stdin,
            );
            let notify_secret = secret_arg(
                "--notify-secret",
                m.notify_secret.as_deref(),
                "--notify-secret-env",
                m.notify_secret_env.as_deref(),
                &mut stdin,
            );
            drop(stdin);
            // The edge refuses a longer `secret` without looking it up.
            if !(8..=256).contains(&secret.expose_secret().len()) {
                fail_usage("--secret must be 8 to 256 characters".into());
            }
            let whsec = notify_secret.expose_secret();
            if !whsec.starts_with("whsec_")
                || paysys_platform::signing::decode_whsec(whsec).is_err()
            {
                fail_usage("--notify-secret must be whsec_ followed by base64".into());
            }
            // Nothing in clear at rest: the API secret digested and sealed, the notification
            // secret sealed for this merchant's row (the notifier's context).
            let key = data_key()?;
            let sealed_whsec = key.seal(whsec, &format!("notifier.endpoints.secret:{}", m.id));
            let pool = pool(cli).await?;
            let mut tx = pool.begin().await?;
            match rpc_edge::store::save_merchant(&mut *tx, &key, &m.id, secret.expose_secret())
                .await
            {
                Ok(()) => {}
                Err(rpc_edge::store::SaveMerchantError::SecretTaken) => {
                    tx.rollback().await.ok();
                    fail_usage("--secret: another merchant already has this API secret; each merchant needs its own (a secret names its merchant where a call leaves merchant_id out)".into());
                }
                Err(e) => {
                    return Err(anyhow::Error::new(e)
                        .context("writing edge.merchants (is rpc-edge migrated? run `make up`)"))
                }
            }
            sqlx::query("INSERT INTO notifier.endpoints (merchant_id, url, secret, secret_sealed, events, event_urls) VALUES ($1, $2, NULL, $3, $4, $5) ON CONFLICT (merchant_id) DO UPDATE SET url = EXCLUDED.url, secret = NULL, secret_sealed = EXCLUDED.secret_sealed, events = EXCLUDED.events, event_urls = EXCLUDED.event_urls, updated_at = now()")
                .bind(&m.id)
                .bind(&m.notify_url)
                .bind(&sealed_whsec)
                .bind(&events)
                .bind(Value::Object(urls.clone()))
                .execute(&mut *tx)
                .await
                .context("writing notifier.endpoints (is the notifier migrated? run `make up`)")?;
            tx.commit().await?;
            print(
                cli,
                &json!({"id": m.id, "notify_url": m.notify_url, "notify_events": events, "notify_urls": urls}),
                |_| println!("merchant {} saved", m.id),
            );
        }
        Cmd::Discrepancies(DiscrepanciesCmd::List {
            provider,
            merchant,
            limit,
        }) => {
            if let Some(p) = provider {
                if !PROVIDERS.contains(&p.as_str()) {
                    fail_usage(format!(
                        "--provider must be one of {}",
                        PROVIDERS.join(", ")
                    ));
                }
            }
            let pool = pool(cli).await?;
            let mut all = Vec::new();
            for p in PROVIDERS
                .iter()
                .filter(|p| provider.as_deref().is_none_or(|f| f == **p))
            {
                // Each adapter keeps its own in its schema; one not deployed has none.
                let exists: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
                    .bind(format!("{p}.discrepancies"))
                    .fetch_one(&pool)
                    .await?;
                if !exists {
                    continue;
                }
                let rows = sqlx::query(&format!(
                    "SELECT id, merchant_id, order_id, claim, amount_minor, currency, reason, body, received_at
                     FROM {p}.discrepancies WHERE ($1::text IS NULL OR merchant_id = $1)
                     ORDER BY received_at DESC LIMIT $2"
                ))
                .bind(merchant.as_deref())
                .bind(*limit)
                .fetch_all(&pool)
                .await?;
                for r in rows {
                    let at: chrono::DateTime<chrono::Utc> = r.get("received_at");
                    all.push(json!({
                        "provider": p,
                        "id": r.get::<i64, _>("id"),
                        "merchant_id": r.get::<String, _>("merchant_id"),
                        "order_id": r.get::<String, _>("order_id"),
                        "claim": r.get::<String, _>("claim"),
                        "amount_minor": r.get::<Option<i64>, _>("amount_minor"),
                        "currency": r.get::<Option<String>, _>("currency").map(|c| c.trim().to_string()),
                        "reason": r.get::<String, _>("reason"),
                        "callback": r.get::<Value, _>("body"),
                        "received_at": at.to_rfc3339(),
                    }));
                }
            }
            all.sort_by(|a, b| b["received_at"].as_str().cmp(&a["received_at"].as_str()));
            all.truncate(usize::try_from(*limit).unwrap_or(100));
            print(cli, &Value::Array(all.clone()), |_| {
                if all.is_empty() {
                    println!("no discrepancies");
                }
                for d in &all {
                    println!(
                        "{}  {:<10} merchant {:<8} order {:<36} {:<14} {} {}  {}",
                        d["received_at"].as_str().unwrap_or(""),
                        d["provider"].as_str().unwrap_or(""),
                        d["merchant_id"].as_str().unwrap_or(""),
                        d["order_id"].as_str().unwrap_or(""),
                        d["claim"].as_str().unwrap_or(""),
                        d["amount_minor"],
                        d["currency"].as_str().unwrap_or(""),
                        d["reason"].as_str().unwrap_or(""),
                    );
                }
            });
        }
        Cmd::Reconcile(r) => return reconcile(cli, r).await,
        Cmd::Dlq(cmd) => return dlq::run(cmd, cli.json).await,
        Cmd::Merchant(MerchantCmd::List) => {
            let pool = pool(cli).await?;
            let rows = sqlx::query("SELECT m.id, e.url, e.events, e.event_urls FROM edge.merchants m LEFT JOIN notifier.endpoints e ON e.merchant_id = m.id ORDER BY m.id")
                .fetch_all(&pool)
                .await?;
            // Secrets are never printed. Without an endpoint nothing is delivered: no events.
            let list: Vec<Value> = rows
                .iter()
                .map(|r| {
                    json!({
                        "id": r.get::<String, _>("id"),
                        "notify_url": r.get::<Option<String>, _>("url"),
                        "notify_events": r.get::<Option<Vec<String>>, _>("events").unwrap_or_default(),
                        "notify_urls": r.get::<Option<Value>, _>("event_urls").unwrap_or_else(|| json!({})),
                    })
                })
                .collect();
            print(cli, &Value::Array(list.clone()), |_| {
                for m in &list {
                    let events: Vec<&str> = m["notify_events"]
                        .as_array()
                        .map(|a| a.iter().filter_map(Value::as_str).collect())
                        .unwrap_or_default();
                    let events = if events.len() == NOTIFY_METHODS.len() {
                        "all events".to_string()
                    } else {
                        events.join(",")
                    };
                    let urls: Vec<String> = m["notify_urls"]
                        .as_object()
                        .map(|o| {
                            o.iter()
                                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                                .collect()
                        })
                        .unwrap_or_default();
                    println!(
                        "{:<12} {}  {}  {}",
                        m["id"].as_str().unwrap_or(""),
                        m["notify_url"].as_str().unwrap_or("-"),
                        events,
                        urls.join(" ")
                    );
                }
            });
        }
        Cmd::Channel(ChannelCmd::Add(c)) => {
            valid_id("--id", &c.id);
            valid_id("--merchant", &c.merchant);
            if !PROVIDERS.contains(&c.provider.as_str()) {
                fail_usage(format!(
                    "--provider must be one of {}",
                    PROVIDERS.join(", ")
                ));
            }
            if c.kind != "one_time" && c.kind != "subscription" {
                fail_usage("--kind must be one_time or subscription".into());
            }
            if paysys_platform::Currency::parse(&c.currency).is_err() {
                fail_usage(format!(
                    "--currency {:?} is not a supported ISO 4217 code",
                    c.currency
                ));
            }
            let mut config = serde_json::Map::new();
            for kv in &c.config {
                match kv.split_once('=') {
                    Some((k, v)) if !k.is_empty() => {
                        config.insert(k.to_string(), Value::String(v.to_string()));
                    }
                    _ => fail_usage(format!("--config {kv:?} must be KEY=VALUE")),
                }
            }
            let pool = pool(cli).await?;
            let exists: Option<String> =
                sqlx::query_scalar("SELECT id FROM edge.merchants WHERE id = $1")
                    .bind(&c.merchant)
                    .fetch_optional(&pool)
                    .await?;
            if exists.is_none() {
                bail!(
                    "merchant {} does not exist (paysys merchant add first)",
                    c.merchant
                );
            }
            rpc_edge::store::upsert_channel(
                &pool,
                &c.id,
                &c.merchant,
                &c.provider,
                &c.kind,
                &c.currency,
                &config,
            )
            .await?;
            print(cli, &json!({"id": c.id}), |_| {
                println!("channel {} saved", c.id)
            });
        }
        Cmd::Channel(ChannelCmd::List) => {
            let pool = pool(cli).await?;
            let rows = sqlx::query("SELECT id, provider, kind, merchant_id, currency, config FROM edge.channels ORDER BY id")
                .fetch_all(&pool)
                .await?;
            let list: Vec<Value> = rows
                .iter()
                .map(|r| {
                    json!({
                        "id": r.get::<String, _>("id"),
                        "provider": r.get::<String, _>("provider"),
                        "kind": r.get::<String, _>("kind"),
                        "merchant_id": r.get::<String, _>("merchant_id"),
                        "currency": r.get::<String, _>("currency").trim(),
                        "config": r.get::<Value, _>("config"),
                    })
                })
                .collect();
            print(cli, &Value::Array(list.clone()), |_| {
                for c in &list {
                    println!(
                        "{:<8} {:<10} {:<13} merchant {:<8} {}",
                        c["id"].as_str().unwrap_or(""),
                        c["provider"].as_str().unwrap_or(""),
                        c["kind"].as_str().unwrap_or(""),
                        c["merchant_id"].as_str().unwrap_or(""),
                        c["currency"].as_str().unwrap_or("")
                    );
                }
            });
        }
        Cmd::Ledger(cmd) => {
            let mut client = LedgerClient::new(
                paysys_platform::grpc::connect(&cli.ledger_url, &internal_token()?)
                    .await
                    .with_context(|| format!("cannot reach the ledger at {}", cli.ledger_url))?,
            );
            match cmd {
                LedgerCmd::Balance { merchant, test } => {
                    let r = client
                        .balance(paysys_proto::BalanceRequest {
                            merchant_id: merchant.clone(),
                            test: *test,
                        })
                        .await?
                        .into_inner();
                    let list: Vec<Value> = r
                        .accounts
                        .iter()
                        .map(|a| json!({"account": a.account, "currency": a.currency, "balance": a.balance_minor}))
                        .collect();
                    print(
                        cli,
                        &json!({"merchant_id": merchant, "book": book(*test), "accounts": list}),
                        |_| {
                            println!("{} book of merchant {merchant}", book(*test));
                            for a in &r.accounts {
                                println!(
                                    "{:<32} {:>12} {}",
                                    a.account, a.balance_minor, a.currency
                                );
                            }
                        },
                    );
                }
                LedgerCmd::Statement { merchant, test } => {
                    let r = client
                        .statement(paysys_proto::StatementRequest {
                            merchant_id: merchant.clone(),
                            test: *test,
                        })
                        .await?
                        .into_inner();
                    let list: Vec<Value> = r
                        .charges
                        .iter()
                        .map(|c| {
                            json!({"order_id": c.order_id, "amount": c.amount, "currency": c.currency, "kind": c.kind,
                                   "sequence": c.sequence, "provider": c.provider, "occurred_at": c.occurred_at, "charge_id": c.charge_id,
                                   "book": book(c.test)})
                        })
                        .collect();
                    print(cli, &Value::Array(list), |_| {
                        println!("{} book of merchant {merchant}", book(*test));
                        for c in &r.charges {
                            println!(
                                "{} {:<40} {:>8} {} {:<9} #{} {}",
                                c.occurred_at,
                                c.order_id,
                                c.amount,
                                c.currency,
                                c.kind,
                                c.sequence,
                                c.provider
                            );
                        }
                    });
                }
                LedgerCmd::Totals { test } => {
                    let r = client
                        .totals(paysys_proto::TotalsRequest { test: *test })
                        .await?
                        .into_inner();
                    let list: Vec<Value> = r
                        .totals
                        .iter()
                        .map(|t| json!({"book": book(*test), "currency": t.currency, "debits": t.debits, "credits": t.credits, "balanced": t.debits == t.credits}))
                        .collect();
                    print(cli, &Value::Array(list), |_| {
                        for t in &r.totals {
                            println!(
                                "{} book {} debits {} credits {} {}",
                                book(*test),
                                t.currency,
                                t.debits,
                                t.credits,
                                if t.debits == t.credits {
                                    "balanced"
                                } else {
                                    "UNBALANCED"
                                }
                            );
                        }
                    });
                }
            }
        }
        Cmd::Notifications(cmd) => {
            let mut client = NotifierClient::new(
                paysys_platform::grpc::connect(&cli.notifier_url, &internal_token()?)
                    .await
                    .with_context(|| {
                        format!("cannot reach the notifier at {}", cli.notifier_url)
                    })?,
            );
            match cmd {
                NotificationsCmd::List { merchant, status } => {
                    let r = client
                        .list(paysys_proto::ListRequest {
                            merchant_id: merchant.clone().unwrap_or_default(),
                            status: status.clone().unwrap_or_default(),
                        })
                        .await?
                        .into_inner();
                    let list: Vec<Value> = r
                        .deliveries
                        .iter()
                        .map(|d| {
                            json!({"id": d.id, "merchant_id": d.merchant_id, "method": d.method, "order_id": d.order_id, "status": d.status,
                                   "attempts": d.attempts, "next_attempt_at": d.next_attempt_at, "last_error": d.last_error, "created_at": d.created_at})
                        })
                        .collect();
                    print(cli, &Value::Array(list), |_| {
                        for d in &r.deliveries {
                            println!(
                                "{} {:<8} {:<28} {:<40} {:<9} attempts {} {}",
                                d.id,
                                d.merchant_id,
                                d.method,
                                d.order_id,
                                d.status,
                                d.attempts,
                                d.last_error
                            );
                        }
                    });
                }
                NotificationsCmd::Replay { id } => {
                    let r = client
                        .replay(paysys_proto::ReplayRequest { id: id.clone() })
                        .await?
                        .into_inner();
                    print(cli, &json!({"id": id, "scheduled": r.scheduled}), |_| {
                        println!("notification {id} scheduled for redelivery")
                    });
                }
            }
        }
        Cmd::Sandbox(cmd) => {
            let http = reqwest::Client::new();
            let (path, body) = match cmd {
                SandboxCmd::Complete {
                    redirect_url,
                    outcome,
                } => (
                    "/_sandbox/complete",
                    json!({"redirect_url": redirect_url, "outcome": outcome}),
                ),
                SandboxCmd::Advance { seconds } => {
                    ("/_sandbox/clock/advance", json!({"seconds": seconds}))
                }
            };
            let resp = http
                .post(format!("{}{}", cli.sandbox_url.trim_end_matches('/'), path))
                .json(&body)
                .send()
                .await
                .with_context(|| format!("cannot reach the sandbox at {}", cli.sandbox_url))?;
            let status = resp.status();
            let v: Value = resp.json().await.unwrap_or(Value::Null);
            if !status.is_success() {
                bail!("sandbox answered {status}: {v}");
            }
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
    }
    Ok(())
}

/// `paysys reconcile`: exits 3 when differences remain after any replay.
async fn reconcile(cli: &Cli, r: &ReconcileArgs) -> anyhow::Result<()> {
    if !PROVIDERS.contains(&r.provider.as_str()) {
        fail_usage(format!(
            "--provider must be one of {}",
            PROVIDERS.join(", ")
        ));
    }
    let since = match chrono::DateTime::parse_from_rfc3339(&r.since) {
        Ok(t) => t.with_timezone(&chrono::Utc),
        Err(e) => fail_usage(format!(
            "--since {:?} is not an RFC 3339 time: {e}",
            r.since
        )),
    };
    if let Some(u) = &r.report_url {
        if !is_http_url(u) {
            fail_usage("--report-url must be an http(s) URL".into());
        }
    }
    let sandbox = cli.sandbox_url.trim_end_matches('/');
    let report_url = r
        .report_url
        .clone()
        .unwrap_or_else(|| format!("{sandbox}/_sandbox/report"));
    let replay_url = match &r.report_url {
        Some(u) => format!("{}/replay", u.trim_end_matches('/')),
        None => format!("{sandbox}/_sandbox/report/replay"),
    };
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(60))
        .build()?;
    let reported = match &r.csv {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            reconcile::parse_csv(&text, since).with_context(|| format!("{}", path.display()))?
        }
        None => reconcile::fetch_report(&http, &report_url, &r.provider, since).await?,
    };
    let keys: Vec<String> = reported.iter().map(|c| c.charge_key.clone()).collect();
    let pool = pool(cli).await?;
    let posted = reconcile::ledger_charges(&pool, &r.provider, since, &keys).await?;
    let mut comparison = reconcile::compare(&reported, &posted, since);
    let mut replayed = Vec::new();
    if r.replay && !comparison.missing_in_ledger.is_empty() {
        let mut sent = Vec::new();
        for c in &comparison.missing_in_ledger {
            let outcome =
                match reconcile::replay(&http, &replay_url, &r.provider, &c.charge_key).await {
                    Ok(v) if v["ok"] == json!(true) => {
                        sent.push(c.charge_key.clone());
                        "delivered".to_string()
                    }
                    Ok(v) => format!("not acknowledged: {}", v["delivery"]),
                    Err(e) => format!("failed: {e:#}"),
                };
            replayed.push(json!({"charge_key": c.charge_key, "outcome": outcome}));
        }
        // The adapter publishes the charge; the ledger posts it from the event bus.
        reconcile::wait_posted(
            &pool,
            &r.provider,
            &sent,
            std::time::Duration::from_secs(15),
        )
        .await;
        let posted = reconcile::ledger_charges(&pool, &r.provider, since, &keys).await?;
        comparison = reconcile::compare(&reported, &posted, since);
    }
    let agree = comparison.agree();
    let mut out = serde_json::to_value(&comparison)?;
    out["provider"] = json!(r.provider);
    out["since"] = json!(since.to_rfc3339());
    out["source"] = match &r.csv {
        Some(p) => json!(p.display().to_string()),
        None => json!(report_url),
    };
    out["replayed"] = json!(replayed);
    out["agree"] = json!(agree);
    print(cli, &out, |_| {
        reconcile::print_table(&r.provider, since, &comparison, &replayed)
    });
    if !agree {
        std::process::exit(3);
    }
    Ok(())
}
