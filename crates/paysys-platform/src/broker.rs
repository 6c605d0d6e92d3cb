//! RabbitMQ through lapin: one topic exchange of events plus a dead-letter exchange, durable
//! quorum queues with a delivery limit (poison messages end in `<exchange>.dead`), publisher
//! confirms with `mandatory` (an unroutable message is an error, not a silent loss), manual acks
//! after the handler's database commit, and our own reconnect loop with backoff (lapin's
//! auto-recovery has hung on broker restarts, lapin issue 450).
//!
//! A handler that fails because its database or a dependency is down does not burn the queue's
//! delivery limit: the consumer keeps the delivery and retries it in place with exponential
//! backoff and jitter ([`Backoff`]), so the prefetch window fills and consumption pauses until
//! the dependency is back. Only poison (undecodable, invalid) goes to the dead-letter queue.

use crate::config::AmqpSettings;
use crate::shutdown::Shutdown;
use crate::telemetry;
use futures::future::BoxFuture;
use futures::StreamExt;
use lapin::options::{
    BasicConsumeOptions, BasicNackOptions, BasicPublishOptions, BasicQosOptions,
    BasicRejectOptions, ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::Confirmation;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind};
use secrecy::ExposeSecret;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;
use tracing::Instrument;

/// lapin itself, for tools that read the broker below this module's API (`paysys dlq`).
pub use lapin;

/// How long a connection attempt may take before the caller gives up on it. It covers the
/// connection, the channel and declaring the exchanges and quorum queues, which a loaded broker
/// can take many seconds for (a quorum queue starts a Raft group); 10 s was seen to abandon
/// declarations half done under a full test run, start over, and never finish.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a batch's publishes and their confirms may take; the outbox lease is longer, so a
/// relay gives a batch up before another relay may claim its rows.
pub const PUBLISH_TIMEOUT: Duration = Duration::from_secs(20);

/// A message as a consumer sees it.
#[derive(Debug, Clone)]
pub struct Message {
    pub message_id: Option<uuid::Uuid>,
    pub routing_key: String,
    pub payload: Vec<u8>,
    pub headers: BTreeMap<String, String>,
    pub redelivered: bool,
}

/// How a handler failed. Poison: the message itself is wrong (undecodable, invalid, refused by
/// a constraint) and goes to the dead-letter exchange at once. Transient: something it needs is
/// down (database, a provider); the consumer holds the delivery and retries it with backoff
/// ([`Backoff`]), so an outage never dead-letters good messages.
#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    #[error("poison message: {0:#}")]
    Poison(anyhow::Error),
    #[error("transient failure: {0:#}")]
    Transient(anyhow::Error),
}

impl HandleError {
    /// A database error, classified: data exceptions and integrity violations (SQLSTATE classes
    /// 22 and 23) and values that cannot be encoded or decoded fail the same way every time, so
    /// they are poison; everything else (connection refused or lost, pool timeout, serialization
    /// failure, deadlock, admin shutdown, a table not migrated yet) is transient.
    pub fn database(e: sqlx::Error) -> Self {
        let permanent = match &e {
            sqlx::Error::Database(d) => d
                .code()
                .is_some_and(|c| c.starts_with("22") || c.starts_with("23")),
            sqlx::Error::Encode(_)
            | sqlx::Error::Decode(_)
            | sqlx::Error::ColumnDecode { .. }
            | sqlx::Error::TypeNotFound { .. } => true,
            _ => false,
        };
        if permanent {
            HandleError::Poison(e.into())
        } else {
            HandleError::Transient(e.into())
        }
    }

    pub fn is_transient(&self) -> bool {
        matches!(self, HandleError::Transient(_))
    }
}

/// How a consumer retries a delivery whose handler failed transiently: after `initial`,
/// doubling up to `max`, each delay drawn in its upper half (jitter, so replicas do not retry in
/// step). The delivery is held meanwhile (no redelivery, the delivery limit untouched) for at
/// most `hold`, then requeued once: below RabbitMQ's `consumer_timeout` (30 min), after which the
/// broker would close the channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
    pub hold: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(30),
            hold: Duration::from_secs(300),
        }
    }
}

impl Backoff {
    /// The delay before retry number `attempt` (1 for the first retry).
    pub fn delay(&self, attempt: u32) -> Duration {
        let ceiling = self
            .initial
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1).min(30)))
            .min(self.max);
        let half = ceiling / 2;
        half + ceiling.saturating_sub(half).mul_f64(rand::random::<f64>())
    }
}

/// The key of a message whose handling must wait for every earlier message of the same key
/// (routing key, payload); None: the shared key of all keyless messages.
pub type OrderKey = fn(&str, &[u8]) -> Option<String>;

/// How [`consume_with`] runs: handlers at once (1 keeps the queue's order), and retries.
#[derive(Debug, Clone, Copy)]
pub struct ConsumeOptions {
    pub concurrency: usize,
    pub backoff: Backoff,
    /// With a key, messages of one key are handled one after the other in the queue's order
    /// while messages of other keys run at once (up to `concurrency`).
    pub order_key: Option<OrderKey>,
}

/// Hands out turns in the order deliveries arrive: a delivery's turn comes when the previous
/// delivery of its key has been settled (or dropped). Taken synchronously as each delivery comes
/// off the stream, so the queue's order is the order of the chain, however the handlers are
/// scheduled afterwards.
#[derive(Clone, Default)]
struct Sequencer {
    tails: Arc<std::sync::Mutex<std::collections::HashMap<String, (u64, Tail)>>>,
    next: Arc<std::sync::atomic::AtomicU64>,
}

type Tail = futures::future::Shared<tokio::sync::oneshot::Receiver<()>>;

/// One delivery's place in its key's chain; dropping it lets the next delivery of the key go.
struct Turn {
    previous: Option<Tail>,
    _done: tokio::sync::oneshot::Sender<()>,
    release: Option<(Sequencer, String, u64)>,
}

impl Sequencer {
    fn turn(&self, key: String) -> Turn {
        use futures::FutureExt;
        let (done, rx) = tokio::sync::oneshot::channel();
        let seq = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut tails = self.tails.lock().unwrap_or_else(|p| p.into_inner());
        let previous = tails
            .insert(key.clone(), (seq, rx.shared()))
            .map(|(_, t)| t);
        Turn {
            previous,
            _done: done,
            release: Some((self.clone(), key, seq)),
        }
    }
}

impl Turn {
    fn free() -> Turn {
        Turn {
            previous: None,
            _done: tokio::sync::oneshot::channel().0,
            release: None,
        }
    }

    /// Waits until every earlier delivery of the key is settled.
    async fn wait(&mut self) {
        if let Some(previous) = self.previous.take() {
            // Ok or Canceled: either way the previous delivery is done with.
            let _ = previous.await;
        }
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        // The last of its key leaves no tail behind, so the map holds only keys in flight.
        if let Some((sequencer, key, seq)) = self.release.take() {
            let mut tails = sequencer.tails.lock().unwrap_or_else(|p| p.into_inner());
            if tails.get(&key).is_some_and(|(s, _)| *s == seq) {
                tails.remove(&key);
            }
        }
    }
}

/// `<prefix><exchange>.dead`, where dead letters wait for `paysys dlq`.
pub fn dead_letter_queue(settings: &AmqpSettings) -> String {
    settings.queue(&format!("{}.dead", settings.exchange))
}

/// Records whether the broker answered the last attempt to reach it (`paysys_broker_connected`).
pub(crate) fn set_connected(up: bool) {
    metrics::gauge!("paysys_broker_connected").set(if up { 1.0 } else { 0.0 });
}

pub type Handler =
    Arc<dyn Fn(Message) -> BoxFuture<'static, Result<(), HandleError>> + Send + Sync>;

/// Connects, retrying with capped exponential backoff until connected or shut down.
pub async fn connect(settings: &AmqpSettings, shutdown: &Shutdown) -> Option<Connection> {
    let mut delay = Duration::from_millis(200);
    loop {
        // One attempt is bounded too: a handshake whose connection dies may never end.
        let attempt = tokio::time::timeout(
            CONNECT_ATTEMPT_TIMEOUT,
            Connection::connect(
                settings.url.expose_secret(),
                ConnectionProperties::default(),
            ),
        )
        .await
        .unwrap_or_else(|_| {
            Err(lapin::Error::from(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "no answer",
            )))
        });
        match attempt {
            Ok(c) => {
                set_connected(true);
                return Some(c);
            }
            Err(e) => {
                set_connected(false);
                // The URL holds the password: log the error only.
                tracing::warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "RabbitMQ connect failed");
            }
        }
        tokio::select! {
            _ = shutdown.wait() => return None,
            _ = tokio::time::sleep(delay) => {}
        }
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

/// Declares the events exchange, the dead-letter exchange and its queue.
pub async fn declare_exchanges(ch: &Channel, settings: &AmqpSettings) -> lapin::Result<()> {
    let durable = ExchangeDeclareOptions {
        durable: true,
        ..Default::default()
    };
    ch.exchange_declare(
        settings.exchange.clone().into(),
        ExchangeKind::Topic,
        durable,
        FieldTable::default(),
    )
    .await?;
    let dlx = settings.dead_letter_exchange();
    ch.exchange_declare(
        dlx.clone().into(),
        ExchangeKind::Fanout,
        durable,
        FieldTable::default(),
    )
    .await?;
    let dead = dead_letter_queue(settings);
    declare_quorum(ch, &dead, None, settings.queue_expires_ms).await?;
    ch.queue_bind(
        dead.into(),
        dlx.into(),
        "".into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await
}

async fn declare_quorum(
    ch: &Channel,
    name: &str,
    dlx: Option<&str>,
    expires_ms: Option<u32>,
) -> lapin::Result<()> {
    let mut args = FieldTable::default();
    if let Some(ms) = expires_ms {
        args.insert("x-expires".into(), AMQPValue::LongUInt(ms));
    }
    args.insert(
        "x-queue-type".into(),
        AMQPValue::LongString("quorum".into()),
    );
    if let Some(dlx) = dlx {
        args.insert(
            "x-dead-letter-exchange".into(),
            AMQPValue::LongString(dlx.into()),
        );
        args.insert("x-delivery-limit".into(), AMQPValue::LongInt(20));
    }
    ch.queue_declare(
        name.into(),
        QueueDeclareOptions {
            durable: true,
            ..Default::default()
        },
        args,
    )
    .await
    .map(|_| ())
}

/// Declares a durable quorum queue dead-lettering to the DLX, bound to the events exchange
/// with `bindings` (routing-key patterns; none for a command queue fed by the default exchange).
pub async fn declare_queue(
    ch: &Channel,
    settings: &AmqpSettings,
    queue: &str,
    bindings: &[String],
) -> lapin::Result<()> {
    declare_quorum(
        ch,
        queue,
        Some(&settings.dead_letter_exchange()),
        settings.queue_expires_ms,
    )
    .await?;
    for key in bindings {
        ch.queue_bind(
            queue.into(),
            settings.exchange.clone().into(),
            key.clone().into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    }
    Ok(())
}

/// Publishes with confirms on one lazily (re)connected channel.
pub struct Publisher {
    settings: AmqpSettings,
    /// Queues declared on every (re)connect, so commands wait for an adapter that is down.
    queues: Vec<String>,
    state: Mutex<Option<(Connection, Channel)>>,
    shutdown: Shutdown,
}

/// One message to publish.
pub struct Outgoing<'a> {
    pub exchange: &'a str,
    pub routing_key: &'a str,
    pub message_id: uuid::Uuid,
    pub payload: &'a [u8],
    pub headers: &'a BTreeMap<String, String>,
}

impl Publisher {
    pub fn new(settings: AmqpSettings, queues: Vec<String>, shutdown: Shutdown) -> Self {
        Self {
            settings,
            queues,
            state: Mutex::new(None),
            shutdown,
        }
    }

    async fn channel(&self) -> anyhow::Result<Channel> {
        let mut state = self.state.lock().await;
        if let Some((conn, ch)) = state.as_ref() {
            if conn.status().connected() && ch.status().connected() {
                return Ok(ch.clone());
            }
        }
        let conn = connect(&self.settings, &self.shutdown)
            .await
            .ok_or_else(|| anyhow::anyhow!("shutting down"))?;
        let ch = conn.create_channel().await?;
        ch.confirm_select(ConfirmSelectOptions::default()).await?;
        declare_exchanges(&ch, &self.settings).await?;
        for q in &self.queues {
            declare_queue(&ch, &self.settings, q, &[]).await?;
        }
        *state = Some((conn, ch.clone()));
        Ok(ch)
    }

    async fn reset(&self) {
        *self.state.lock().await = None;
    }

    /// The settings it publishes with.
    pub fn settings(&self) -> &AmqpSettings {
        &self.settings
    }

    /// Connects (or checks the connection) within [`CONNECT_TIMEOUT`]: the relay calls it before
    /// claiming rows, so a broker outage never leaves rows claimed while it waits.
    pub async fn ensure_connected(&self) -> anyhow::Result<()> {
        self.connected_channel().await.map(|_| ())
    }

    async fn connected_channel(&self) -> anyhow::Result<Channel> {
        match tokio::time::timeout(CONNECT_TIMEOUT, self.channel()).await {
            Ok(r) => r,
            Err(_) => {
                set_connected(false);
                anyhow::bail!("RabbitMQ unreachable for {CONNECT_TIMEOUT:?}")
            }
        }
    }

    /// Publishes a batch; returns, per message, whether the broker confirmed it as routed.
    /// Connecting, publishing and the confirms are bounded ([`CONNECT_TIMEOUT`],
    /// [`PUBLISH_TIMEOUT`]); a timeout is an error and the channel is dropped.
    pub async fn publish_batch(&self, batch: &[Outgoing<'_>]) -> anyhow::Result<Vec<bool>> {
        let ch = self.connected_channel().await?;
        match tokio::time::timeout(PUBLISH_TIMEOUT, self.publish_on(&ch, batch)).await {
            Ok(r) => r,
            Err(_) => {
                self.reset().await;
                anyhow::bail!("RabbitMQ did not confirm within {PUBLISH_TIMEOUT:?}")
            }
        }
    }

    async fn publish_on(&self, ch: &Channel, batch: &[Outgoing<'_>]) -> anyhow::Result<Vec<bool>> {
        let mut pending = Vec::with_capacity(batch.len());
        for m in batch {
            let props = BasicProperties::default()
                .with_message_id(m.message_id.to_string().into())
                .with_delivery_mode(2)
                .with_content_type("application/x-protobuf".into())
                .with_headers(to_field_table(m.headers));
            match ch
                .basic_publish(
                    m.exchange.into(),
                    m.routing_key.into(),
                    BasicPublishOptions {
                        mandatory: true,
                        ..Default::default()
                    },
                    m.payload,
                    props,
                )
                .await
            {
                Ok(confirm) => pending.push(confirm),
                Err(e) => {
                    self.reset().await;
                    return Err(e.into());
                }
            }
        }
        let mut out = Vec::with_capacity(pending.len());
        for (i, confirm) in pending.into_iter().enumerate() {
            let ok = match confirm.await {
                Ok(Confirmation::Ack(None)) => true,
                Ok(Confirmation::Ack(Some(_))) => {
                    tracing::warn!(
                        routing_key = batch[i].routing_key,
                        "unroutable message returned; will retry"
                    );
                    false
                }
                Ok(other) => {
                    tracing::warn!(?other, "broker did not confirm message");
                    false
                }
                Err(e) => {
                    self.reset().await;
                    return Err(e.into());
                }
            };
            out.push(ok);
        }
        Ok(out)
    }
}

fn to_field_table(headers: &BTreeMap<String, String>) -> FieldTable {
    let mut t = FieldTable::default();
    for (k, v) in headers {
        t.insert(
            ShortString::from(k.as_str()),
            AMQPValue::LongString(LongString::from(v.as_str())),
        );
    }
    t
}

fn from_field_table(t: Option<&FieldTable>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if let Some(t) = t {
        for (k, v) in t.inner() {
            if let AMQPValue::LongString(s) = v {
                out.insert(k.to_string(), s.to_string());
            }
        }
    }
    out
}

/// Consumes `queue` until shutdown, reconnecting after any broker failure. Each delivery is
/// handed to `handler`; it is acked only after the handler returned Ok (its DB commit done).
pub async fn consume(
    settings: AmqpSettings,
    queue: String,
    bindings: Vec<String>,
    handler: Handler,
    shutdown: Shutdown,
) {
    let options = ConsumeOptions {
        concurrency: settings.prefetch.max(1) as usize,
        backoff: Backoff::default(),
        order_key: None,
    };
    consume_with(settings, queue, bindings, handler, shutdown, options).await
}

/// As [`consume`], but the messages of one key (`order_key`: for domain events, their
/// merchant's order) are handled one after the other in the queue's order, each only once the
/// one before is settled; messages of different keys are handled at once, up to the prefetch.
/// For a consumer whose effects must follow the order each order's events were published in
/// (the notifier) without handling all orders one at a time.
pub async fn consume_in_order_per_key(
    settings: AmqpSettings,
    queue: String,
    bindings: Vec<String>,
    handler: Handler,
    shutdown: Shutdown,
    order_key: OrderKey,
) {
    let options = ConsumeOptions {
        concurrency: settings.prefetch.max(1) as usize,
        backoff: Backoff::default(),
        order_key: Some(order_key),
    };
    consume_with(settings, queue, bindings, handler, shutdown, options).await
}

/// As [`consume`], but one message at a time, in the queue's order: for a consumer whose effects
/// must follow the order events were published in (the notifier, per order). A transient
/// failure is retried in place, so it never reorders the queue either.
pub async fn consume_in_order(
    settings: AmqpSettings,
    queue: String,
    bindings: Vec<String>,
    handler: Handler,
    shutdown: Shutdown,
) {
    let options = ConsumeOptions {
        concurrency: 1,
        backoff: Backoff::default(),
        order_key: None,
    };
    consume_with(settings, queue, bindings, handler, shutdown, options).await
}

/// How long acknowledging (or rejecting) one delivery, or closing a connection, may take before
/// the consumer gives up on it: on a healthy connection it takes milliseconds.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a consumer's setup (channel, declarations, qos, consume) may take.
const CONSUMER_SETUP_TIMEOUT: Duration = Duration::from_secs(60);

/// How long one connection attempt (TCP and AMQP handshake) may take.
const CONNECT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);

/// What became of one delivery.
enum Settled {
    Ack,
    DeadLetter,
    Requeue,
    /// The channel closed while the delivery was held: the broker has requeued it already.
    Lost,
}

/// As [`consume`], with explicit concurrency and retry backoff (tests shorten it).
pub async fn consume_with(
    settings: AmqpSettings,
    queue: String,
    bindings: Vec<String>,
    handler: Handler,
    shutdown: Shutdown,
    options: ConsumeOptions,
) {
    crate::broker_watch::ensure_running(&settings, &shutdown);
    crate::broker_watch::watch_queue(&settings, &queue);
    let concurrency = options.concurrency.max(1);
    let backoff = options.backoff;
    while !shutdown.is_triggered() {
        let Some(conn) = connect(&settings, &shutdown).await else {
            return;
        };
        let result: anyhow::Result<()> = async {
            // Every step is an exchange with the broker that may never be answered when the
            // connection dies in the middle (lapin): bounded, the consumer starts over.
            let setup = async {
                let ch = conn.create_channel().await?;
                declare_exchanges(&ch, &settings).await?;
                declare_queue(&ch, &settings, &queue, &bindings).await?;
                ch.basic_qos(settings.prefetch, BasicQosOptions::default())
                    .await?;
                let consumer = ch
                    .basic_consume(
                        queue.clone().into(),
                        format!("{}-{}", queue, uuid::Uuid::new_v4()).into(),
                        BasicConsumeOptions::default(),
                        FieldTable::default(),
                    )
                    .await?;
                anyhow::Ok((ch, consumer))
            };
            let (ch, consumer) = match tokio::time::timeout(CONSUMER_SETUP_TIMEOUT, setup).await {
                Ok(r) => r?,
                Err(_) => anyhow::bail!(
                    "RabbitMQ did not answer the consumer's setup within {CONSUMER_SETUP_TIMEOUT:?}"
                ),
            };
            tracing::info!(queue = %queue, "consuming");
            let sequencer = Sequencer::default();
            let stream = consumer
                .take_until(Box::pin(shutdown.clone().wait_owned()))
                // In the queue's order, before any handler runs.
                .map(|delivery| {
                    let turn = match (options.order_key, &delivery) {
                        (Some(key), Ok(d)) => sequencer
                            .turn(key(d.routing_key.as_str(), &d.data).unwrap_or_default()),
                        _ => Turn::free(),
                    };
                    (delivery, turn)
                });
            stream
                .for_each_concurrent(concurrency, |(delivery, mut turn)| {
                    let handler = handler.clone();
                    let queue = queue.clone();
                    let shutdown = shutdown.clone();
                    let ch = ch.clone();
                    async move {
                        turn.wait().await;
                        let delivery = match delivery {
                            Ok(d) => d,
                            Err(e) => {
                                tracing::warn!(error = %e, "delivery error");
                                return;
                            }
                        };
                        let msg = Message {
                            message_id: delivery
                                .properties
                                .message_id()
                                .as_ref()
                                .and_then(|s| uuid::Uuid::parse_str(s.as_str()).ok()),
                            routing_key: delivery.routing_key.to_string(),
                            payload: delivery.data.clone(),
                            headers: from_field_table(delivery.properties.headers().as_ref()),
                            redelivered: delivery.redelivered,
                        };
                        let span = tracing::info_span!("consume", queue = %queue, routing_key = %msg.routing_key, message_id = ?msg.message_id,
                            otel.name = %format!("consume {queue}"), otel.kind = "consumer");
                        telemetry::set_parent_from(&span, &msg.headers);
                        let settled = handle_with_retries(
                            &handler, msg, &span, &ch, &queue, &shutdown, backoff,
                        )
                        .await;
                        let settle = async {
                            match settled {
                                Settled::Ack => delivery.ack(Default::default()).await,
                                Settled::DeadLetter => {
                                    delivery
                                        .reject(BasicRejectOptions { requeue: false })
                                        .await
                                }
                                Settled::Requeue => {
                                    delivery
                                        .nack(BasicNackOptions {
                                            requeue: true,
                                            ..Default::default()
                                        })
                                        .await
                                }
                                Settled::Lost => Ok(false),
                            }
                        };
                        // An ack sent as the connection dies can wait forever (lapin resolves
                        // it only through the dead connection's I/O loop), and this consumer
                        // with it: bounded, the stream ends and the consumer reconnects. The
                        // broker redelivers whatever was not acknowledged.
                        match tokio::time::timeout(SETTLE_TIMEOUT, settle).await {
                            Ok(Ok(_)) => {}
                            Ok(Err(e)) => {
                                tracing::warn!(error = %e, "ack failed; message will be redelivered");
                            }
                            Err(_) => {
                                tracing::warn!(timeout = ?SETTLE_TIMEOUT, "ack not confirmed (connection lost?); message will be redelivered");
                            }
                        }
                    }
                })
                .await;
            Ok(())
        }
        .await;
        let _ = tokio::time::timeout(SETTLE_TIMEOUT, conn.close(200, "bye".into())).await;
        if let Err(e) = result {
            tracing::warn!(error = %format!("{e:#}"), queue = %queue, "consumer failed; reconnecting");
            tokio::select! {
                _ = shutdown.wait() => return,
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            }
        } else if !shutdown.is_triggered() {
            tracing::warn!(queue = %queue, "consumer stream ended; reconnecting");
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

/// Runs the handler until it succeeds, finds the message poison, or has been retried for
/// `backoff.hold`; transient failures wait out their backoff while the delivery stays unacked.
async fn handle_with_retries(
    handler: &Handler,
    msg: Message,
    span: &tracing::Span,
    ch: &Channel,
    queue: &str,
    shutdown: &Shutdown,
    backoff: Backoff,
) -> Settled {
    let held_since = Instant::now();
    let mut attempt = 0u32;
    loop {
        let e = match handler(msg.clone()).instrument(span.clone()).await {
            Ok(()) => {
                if attempt > 0 {
                    tracing::info!(parent: span, attempts = attempt + 1, "handled after transient failures");
                }
                return Settled::Ack;
            }
            Err(HandleError::Poison(e)) => {
                tracing::error!(parent: span, error = %format!("{e:#}"), "dead-lettering poison message");
                metrics::counter!("paysys_consumer_dead_lettered_total", "queue" => queue.to_string())
                    .increment(1);
                return Settled::DeadLetter;
            }
            Err(HandleError::Transient(e)) => e,
        };
        attempt += 1;
        metrics::counter!("paysys_consumer_transient_failures_total", "queue" => queue.to_string())
            .increment(1);
        let delay = backoff.delay(attempt);
        if held_since.elapsed() + delay > backoff.hold {
            tracing::warn!(parent: span, error = %format!("{e:#}"), attempts = attempt, "handler still failing; requeueing");
            return Settled::Requeue;
        }
        tracing::warn!(parent: span, error = %format!("{e:#}"), attempt, retry_in_ms = delay.as_millis() as u64, "handler failed; retrying later");
        tokio::select! {
            _ = shutdown.wait() => return Settled::Requeue,
            _ = tokio::time::sleep(delay) => {}
        }
        if !ch.status().connected() {
            return Settled::Lost;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_initial_to_max_with_jitter_in_the_upper_half() {
        let b = Backoff::default();
        for attempt in 1..=40 {
            let ceiling = (Duration::from_millis(100) * 2u32.pow((attempt - 1).min(20)))
                .min(Duration::from_secs(30));
            for _ in 0..20 {
                let d = b.delay(attempt);
                assert!(
                    d >= ceiling / 2 && d <= ceiling,
                    "attempt {attempt}: {d:?} outside [{:?}, {ceiling:?}]",
                    ceiling / 2
                );
            }
        }
        assert!(b.delay(u32::MAX) <= Duration::from_secs(30));
    }

    #[test]
    fn database_errors_are_transient_unless_the_message_causes_them() {
        assert!(HandleError::database(sqlx::Error::PoolTimedOut).is_transient());
        assert!(HandleError::database(sqlx::Error::Io(std::io::Error::from(
            std::io::ErrorKind::ConnectionRefused
        )))
        .is_transient());
        assert!(!HandleError::database(sqlx::Error::Decode("bad".into())).is_transient());
    }
}
