//! RabbitMQ through lapin: one topic exchange of events plus a dead-letter exchange, durable
//! quorum queues with a delivery limit (poison messages end in `<exchange>.dead`), publisher
//! confirms with `mandatory` (an unroutable message is an error, not a silent loss), manual acks
//! after the handler's database commit, and our own reconnect loop with backoff (lapin's
//! auto-recovery has hung on broker restarts, lapin issue 450).

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
use std::time::Duration;
use tokio::sync::Mutex;
use tracing::Instrument;

/// A message as a consumer sees it.
#[derive(Debug, Clone)]
pub struct Message {
    pub message_id: Option<uuid::Uuid>,
    pub routing_key: String,
    pub payload: Vec<u8>,
    pub headers: BTreeMap<String, String>,
    pub redelivered: bool,
}

/// How a handler failed: a poison message goes to the dead-letter exchange at once, a transient
/// failure (database down) is requeued until the queue's delivery limit.
#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    #[error("poison message: {0:#}")]
    Poison(anyhow::Error),
    #[error("transient failure: {0:#}")]
    Transient(anyhow::Error),
}

pub type Handler =
    Arc<dyn Fn(Message) -> BoxFuture<'static, Result<(), HandleError>> + Send + Sync>;

/// Connects, retrying with capped exponential backoff until connected or shut down.
pub async fn connect(settings: &AmqpSettings, shutdown: &Shutdown) -> Option<Connection> {
    let mut delay = Duration::from_millis(200);
    loop {
        match Connection::connect(
            settings.url.expose_secret(),
            ConnectionProperties::default(),
        )
        .await
        {
            Ok(c) => return Some(c),
            Err(e) => {
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
    let dead = settings.queue(&format!("{}.dead", settings.exchange));
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

    /// Publishes a batch; returns, per message, whether the broker confirmed it as routed.
    pub async fn publish_batch(&self, batch: &[Outgoing<'_>]) -> anyhow::Result<Vec<bool>> {
        let ch = self.channel().await?;
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
                Ok(confirm) => pending.push(Some(confirm)),
                Err(e) => {
                    self.reset().await;
                    return Err(e.into());
                }
            }
        }
        let mut out = Vec::with_capacity(pending.len());
        for (i, p) in pending.into_iter().enumerate() {
            let ok = match p {
                Some(confirm) => match confirm.await {
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
                },
                None => false,
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
    let concurrency = settings.prefetch.max(1) as usize;
    consume_with(settings, queue, bindings, handler, shutdown, concurrency).await
}

/// As [`consume`], but one message at a time, in the queue's order: for a consumer whose effects
/// must follow the order events were published in (the notifier, per order).
pub async fn consume_in_order(
    settings: AmqpSettings,
    queue: String,
    bindings: Vec<String>,
    handler: Handler,
    shutdown: Shutdown,
) {
    consume_with(settings, queue, bindings, handler, shutdown, 1).await
}

async fn consume_with(
    settings: AmqpSettings,
    queue: String,
    bindings: Vec<String>,
    handler: Handler,
    shutdown: Shutdown,
    concurrency: usize,
) {
    while !shutdown.is_triggered() {
        let Some(conn) = connect(&settings, &shutdown).await else {
            return;
        };
        let result: anyhow::Result<()> = async {
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
            tracing::info!(queue = %queue, "consuming");
            let stream = consumer.take_until(Box::pin(shutdown.clone().wait_owned()));
            stream
                .for_each_concurrent(concurrency, |delivery| {
                    let handler = handler.clone();
                    let queue = queue.clone();
                    async move {
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
                        let span = tracing::info_span!("consume", queue = %queue, routing_key = %msg.routing_key, message_id = ?msg.message_id);
                        telemetry::set_parent_from(&span, &msg.headers);
                        let res = handler(msg).instrument(span).await;
                        let ack = match res {
                            Ok(()) => delivery.ack(Default::default()).await,
                            Err(HandleError::Poison(e)) => {
                                tracing::error!(error = %format!("{e:#}"), "dead-lettering poison message");
                                delivery
                                    .reject(BasicRejectOptions { requeue: false })
                                    .await
                            }
                            Err(HandleError::Transient(e)) => {
                                tracing::warn!(error = %format!("{e:#}"), "handler failed; requeueing");
                                tokio::time::sleep(Duration::from_millis(200)).await;
                                delivery
                                    .nack(BasicNackOptions {
                                        requeue: true,
                                        ..Default::default()
                                    })
                                    .await
                            }
                        };
                        if let Err(e) = ack {
                            tracing::warn!(error = %e, "ack failed; message will be redelivered");
                        }
                    }
                })
                .await;
            Ok(())
        }
        .await;
        let _ = conn.close(200, "bye".into()).await;
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
