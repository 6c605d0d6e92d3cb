//! `paysys dlq list|replay`: the dead-letter queue `<exchange>.dead`, where a consumer puts a
//! message it can never handle (poison: undecodable, invalid). `list` reads it without taking
//! anything out (each message is fetched unacknowledged and handed back). `replay` republishes a
//! dead letter where it was first published (the events exchange, with its routing key) and
//! removes it from the dead-letter queue only after the broker confirmed the publish; consumers
//! dedup on the event id, so the queues that had handled it ignore it again.
//!
//! The broker and exchange come from the services' configuration (`[amqp]`, e.g.
//! `PAYSYS__AMQP__URL`, `PAYSYS__AMQP__EXCHANGE`, `PAYSYS__AMQP__QUEUE_PREFIX`).

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use paysys_platform::broker::lapin;
use paysys_platform::broker::{self, CONNECT_TIMEOUT};
use paysys_platform::config::AmqpSettings;

use lapin::message::BasicGetMessage;
use lapin::options::{
    BasicAckOptions, BasicGetOptions, BasicNackOptions, BasicPublishOptions, ConfirmSelectOptions,
    QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, Confirmation, Connection, ConnectionProperties};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

#[derive(Subcommand)]
pub enum DlqCmd {
    /// Lists the dead letters (id, routing key, original queue, reason, count, first death),
    /// leaving every one in the queue.
    List,
    /// Republishes dead letters to the exchange they were first published to, with their
    /// routing key, and removes them from the dead-letter queue once the broker confirmed.
    Replay(ReplayArgs),
}

#[derive(Args)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["id", "all"])))]
pub struct ReplayArgs {
    /// The id `paysys dlq list` shows (the message id: the event id of an event).
    id: Option<String>,
    /// Every dead letter.
    #[arg(long)]
    all: bool,
}

#[derive(Deserialize)]
struct AmqpOnly {
    amqp: AmqpSettings,
}

/// One message of the dead-letter queue, as `list` shows it.
#[derive(Debug, Serialize)]
pub struct DeadLetter {
    /// The message id; `body:<hash>` for a message published without one.
    pub id: String,
    pub routing_key: String,
    /// Where it was published (the events exchange; empty: the default exchange, a command).
    pub exchange: String,
    /// The queue whose consumer dead-lettered it.
    pub queue: String,
    /// `rejected` (poison), `delivery_limit`, `expired`, ...
    pub reason: String,
    /// How many times it was dead-lettered.
    pub count: i64,
    pub first_death_at: Option<String>,
    pub bytes: usize,
    /// The exchange x-death recorded, `Some("")` for the default exchange.
    #[serde(skip)]
    origin_exchange: Option<String>,
}

/// More than this many dead letters are not read in one run (run `replay --all` again).
const MAX_READ: usize = 10_000;

pub async fn run(cmd: &DlqCmd, json: bool) -> anyhow::Result<()> {
    let settings = paysys_platform::config::load::<AmqpOnly>()
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .amqp;
    let dead = broker::dead_letter_queue(&settings);
    // The URL holds the broker's password: errors never show it.
    let conn = match tokio::time::timeout(
        CONNECT_TIMEOUT,
        Connection::connect(
            settings.url.expose_secret(),
            ConnectionProperties::default(),
        ),
    )
    .await
    {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => bail!("cannot connect to RabbitMQ (amqp.url, PAYSYS__AMQP__URL): {e}"),
        Err(_) => bail!("RabbitMQ did not answer within {CONNECT_TIMEOUT:?} (amqp.url)"),
    };
    let result = match cmd {
        DlqCmd::List => list(&conn, &dead, json).await,
        DlqCmd::Replay(r) => replay(&conn, &settings, &dead, r, json).await,
    };
    let _ = conn.close(200, "bye".into()).await;
    result
}

/// Opens a channel on which the dead-letter queue exists (a passive declare: never created).
async fn channel(conn: &Connection, dead: &str) -> anyhow::Result<Channel> {
    let ch = conn.create_channel().await?;
    let passive = QueueDeclareOptions {
        passive: true,
        ..Default::default()
    };
    ch.queue_declare(dead.into(), passive, FieldTable::default())
        .await
        .with_context(|| {
            format!("no dead-letter queue {dead:?}: no PaySystem service has run against this broker and exchange (amqp.exchange, amqp.queue_prefix)")
        })?;
    Ok(ch)
}

/// Fetches every message unacknowledged: the broker hands each out once until it is acked or
/// returned, so this walks the queue without emptying it.
async fn read_all(ch: &Channel, dead: &str) -> anyhow::Result<Vec<BasicGetMessage>> {
    let mut out = Vec::new();
    while out.len() < MAX_READ {
        match ch
            .basic_get(dead.into(), BasicGetOptions { no_ack: false })
            .await?
        {
            Some(m) => out.push(m),
            None => break,
        }
    }
    if out.len() == MAX_READ {
        eprintln!("note: only the first {MAX_READ} dead letters were read");
    }
    Ok(out)
}

/// Hands messages back to the queue, as they were.
async fn give_back(ch: &Channel, messages: &[&BasicGetMessage]) -> anyhow::Result<()> {
    for m in messages {
        ch.basic_nack(
            m.delivery.delivery_tag,
            BasicNackOptions {
                multiple: false,
                requeue: true,
            },
        )
        .await?;
    }
    Ok(())
}

async fn list(conn: &Connection, dead: &str, json: bool) -> anyhow::Result<()> {
    let ch = channel(conn, dead).await?;
    let messages = read_all(&ch, dead).await?;
    let mut letters: Vec<DeadLetter> = messages.iter().map(describe).collect();
    give_back(&ch, &messages.iter().collect::<Vec<_>>()).await?;
    letters.sort_by(|a, b| a.first_death_at.cmp(&b.first_death_at));
    if json {
        println!("{}", serde_json::to_string_pretty(&letters)?);
        return Ok(());
    }
    if letters.is_empty() {
        println!("no dead letters in {dead}");
        return Ok(());
    }
    println!(
        "{:<38} {:<28} {:<28} {:<15} {:>5}  first death",
        "id", "routing key", "queue", "reason", "count"
    );
    for l in &letters {
        println!(
            "{:<38} {:<28} {:<28} {:<15} {:>5}  {}",
            l.id,
            l.routing_key,
            l.queue,
            l.reason,
            l.count,
            l.first_death_at.as_deref().unwrap_or("-")
        );
    }
    Ok(())
}

async fn replay(
    conn: &Connection,
    settings: &AmqpSettings,
    dead: &str,
    args: &ReplayArgs,
    json: bool,
) -> anyhow::Result<()> {
    let ch = channel(conn, dead).await?;
    ch.confirm_select(ConfirmSelectOptions::default()).await?;
    let messages = read_all(&ch, dead).await?;
    let mut others = Vec::new();
    let mut replayed = Vec::new();
    let mut published = HashSet::new();
    for m in &messages {
        let letter = describe(m);
        if !args.all && args.id.as_deref() != Some(letter.id.as_str()) {
            others.push(m);
            continue;
        }
        // The same event dead-lettered by two queues is published once: the exchange routes
        // it to both again.
        if published.insert(letter.id.clone()) {
            // Where it was first published; a letter without x-death came from nowhere we know,
            // so it goes to the events exchange.
            let exchange = letter
                .origin_exchange
                .clone()
                .unwrap_or_else(|| settings.exchange.clone());
            let confirm = ch
                .basic_publish(
                    exchange.as_str().into(),
                    letter.routing_key.as_str().into(),
                    BasicPublishOptions {
                        mandatory: true,
                        ..Default::default()
                    },
                    &m.delivery.data,
                    without_death_headers(&m.delivery.properties),
                )
                .await?
                .await?;
            match confirm {
                Confirmation::Ack(None) => {}
                // Nothing is acked: what was not replayed stays in the dead-letter queue.
                Confirmation::Ack(Some(_)) => bail!(
                    "{}: no queue is bound for routing key {:?} on exchange {exchange:?}; it stays in {dead}",
                    letter.id,
                    letter.routing_key
                ),
                other => bail!("{}: the broker did not confirm the publish ({other:?}); it stays in {dead}", letter.id),
            }
        }
        ch.basic_ack(m.delivery.delivery_tag, BasicAckOptions::default())
            .await?;
        replayed.push(letter);
    }
    give_back(&ch, &others).await?;
    if let (Some(id), true) = (&args.id, replayed.is_empty()) {
        bail!("no dead letter with id {id:?} in {dead} (see `paysys dlq list`)");
    }
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({ "replayed": replayed }))?
        );
    } else if replayed.is_empty() {
        println!("no dead letters in {dead}");
    } else {
        for l in &replayed {
            println!(
                "replayed {} ({}, dead-lettered by {})",
                l.id, l.routing_key, l.queue
            );
        }
    }
    Ok(())
}

/// The message's properties for its new life: the dead-lettering headers (`x-death`,
/// `x-first-death-*`, `x-last-death-*`) dropped, everything else (message id, trace context)
/// kept.
fn without_death_headers(p: &lapin::BasicProperties) -> lapin::BasicProperties {
    let mut headers = FieldTable::default();
    if let Some(h) = p.headers() {
        for (k, v) in h.inner() {
            let k = k.as_str();
            if k != "x-death" && !k.starts_with("x-first-death-") && !k.starts_with("x-last-death-")
            {
                headers.insert(k.into(), v.clone());
            }
        }
    }
    p.clone().with_headers(headers)
}

fn text(v: Option<&AMQPValue>) -> Option<String> {
    match v? {
        AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        AMQPValue::ShortString(s) => Some(s.as_str().to_string()),
        _ => None,
    }
}

fn number(v: Option<&AMQPValue>) -> Option<i64> {
    match v? {
        AMQPValue::LongLongInt(n) => Some(*n),
        AMQPValue::LongInt(n) => Some(i64::from(*n)),
        AMQPValue::LongUInt(n) => Some(i64::from(*n)),
        AMQPValue::ShortInt(n) => Some(i64::from(*n)),
        AMQPValue::ShortUInt(n) => Some(i64::from(*n)),
        AMQPValue::Timestamp(n) => i64::try_from(*n).ok(),
        _ => None,
    }
}

fn describe(m: &BasicGetMessage) -> DeadLetter {
    let d = &m.delivery;
    let headers = d.properties.headers().as_ref();
    let get = |k: &str| headers.and_then(|h| h.inner().get(k));
    // x-death: one table per (queue, reason), the most recent first.
    let deaths: Vec<&FieldTable> = match get("x-death") {
        Some(AMQPValue::FieldArray(a)) => a
            .as_slice()
            .iter()
            .filter_map(|v| match v {
                AMQPValue::FieldTable(t) => Some(t),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    let latest = |k: &str| deaths.first().and_then(|t| text(t.inner().get(k)));
    let first_death = deaths
        .iter()
        .filter_map(|t| number(t.inner().get("time")))
        .min()
        .and_then(|secs| chrono::DateTime::from_timestamp(secs, 0))
        .map(|t| t.to_rfc3339());
    let origin_exchange = text(get("x-first-death-exchange")).or_else(|| latest("exchange"));
    DeadLetter {
        id: d
            .properties
            .message_id()
            .as_ref()
            .map(|s| s.as_str().to_string())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| format!("body:{:016x}", fnv1a(&d.data))),
        routing_key: d.routing_key.as_str().to_string(),
        exchange: origin_exchange.clone().unwrap_or_default(),
        queue: text(get("x-first-death-queue"))
            .or_else(|| latest("queue"))
            .unwrap_or_default(),
        reason: latest("reason")
            .or_else(|| text(get("x-first-death-reason")))
            .unwrap_or_default(),
        count: deaths
            .iter()
            .filter_map(|t| number(t.inner().get("count")))
            .sum(),
        first_death_at: first_death,
        bytes: d.data.len(),
        origin_exchange,
    }
}

/// A stable id for a message published without a message id (FNV-1a of its body).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}
