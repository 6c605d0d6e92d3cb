//! Transactional outbox and idempotent inbox. A state change and the event it causes are written
//! in one transaction (`enqueue`); the relay publishes rows with confirms and deletes them only
//! once the broker confirmed, so a crash anywhere republishes rather than loses. Consumers dedup
//! on the message id inside the transaction of their effect (`claim`).
//!
//! The relay holds no database transaction across broker I/O: it claims a batch with a lease
//! (`claimed_until`, `FOR UPDATE SKIP LOCKED`, one short statement), publishes with confirms
//! (bounded by timeouts), then deletes the published rows in a second short transaction. A relay
//! that dies after claiming leaves rows that are due again once the lease ends. Any number of
//! relays may run on one outbox and each order's events still leave in the order they were
//! written: an event carries its order's key (`order_key`), and a row is claimed only when no
//! earlier row of its order is left (published rows are deleted), so an order's next event waits
//! until the previous one is confirmed.
//!
//! Each relay also reports its outbox's backlog every [`BACKLOG_INTERVAL`]
//! (`paysys_outbox_pending`, `paysys_outbox_oldest_age_seconds`), which the alert rules watch.

use crate::broker::{Outgoing, Publisher};
use crate::shutdown::Shutdown;
use prost::Message as _;
use sqlx::{PgPool, Postgres, Row, Transaction};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// Tables every publishing or consuming service has in its own schema.
pub const MESSAGING_SQL: &str = r#"
CREATE TABLE IF NOT EXISTS outbox (
    id           BIGSERIAL PRIMARY KEY,
    message_id   UUID NOT NULL,
    exchange     TEXT NOT NULL,
    routing_key  TEXT NOT NULL,
    payload      BYTEA NOT NULL,
    headers      JSONB NOT NULL DEFAULT '{}',
    attempts     INT NOT NULL DEFAULT 0,
    available_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS inbox (
    message_id  UUID PRIMARY KEY,
    received_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- Several relays per outbox (issue 9): the order an event belongs to, and the lease of the
-- relay publishing a row. ALTER, so outboxes created before gain them.
ALTER TABLE outbox ADD COLUMN IF NOT EXISTS order_key TEXT;
ALTER TABLE outbox ADD COLUMN IF NOT EXISTS claimed_until TIMESTAMPTZ;
CREATE INDEX IF NOT EXISTS outbox_order_key ON outbox (order_key, id) WHERE order_key IS NOT NULL;
"#;

/// How long a claimed batch is reserved for its relay: longer than connecting and publishing
/// may take ([`crate::broker::CONNECT_TIMEOUT`], [`crate::broker::PUBLISH_TIMEOUT`]), short
/// enough that a dead relay's rows are soon published by another.
pub const LEASE: Duration = Duration::from_secs(120);

/// Rows claimed per batch.
const BATCH: i64 = 200;

/// How often a relay reports its outbox's backlog: `paysys_outbox_pending` (rows waiting) and
/// `paysys_outbox_oldest_age_seconds` (how long the oldest has waited; 0 when none). The alert
/// rules wait minutes, so this is plenty.
pub const BACKLOG_INTERVAL: Duration = Duration::from_secs(10);

/// Wakes the relay right after a commit, so events do not wait for the poll interval.
#[derive(Clone, Default)]
pub struct OutboxSignal(Arc<Notify>);

impl OutboxSignal {
    pub fn notify(&self) {
        self.0.notify_one()
    }
}

/// Writes one message into the outbox inside the caller's transaction. The current trace
/// context travels with it into the AMQP headers.
pub async fn enqueue(
    tx: &mut Transaction<'_, Postgres>,
    exchange: &str,
    routing_key: &str,
    message_id: uuid::Uuid,
    payload: &[u8],
) -> sqlx::Result<()> {
    let headers = crate::telemetry::current_context_headers();
    sqlx::query(
        "INSERT INTO outbox (message_id, exchange, routing_key, payload, headers, order_key) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(message_id)
    .bind(exchange)
    .bind(routing_key)
    .bind(payload)
    .bind(sqlx::types::Json(headers))
    .bind(order_key(routing_key, payload))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The order a domain event belongs to, whose events must leave in sequence; None for other
/// messages (provider commands), which carry no order between them.
pub fn order_key(routing_key: &str, payload: &[u8]) -> Option<String> {
    if !crate::events::ALL.contains(&routing_key) {
        return None;
    }
    let event = paysys_proto::Event::decode(payload).ok()?;
    (!event.order_id.is_empty()).then(|| format!("{}\u{1f}{}", event.merchant_id, event.order_id))
}

/// Records `message_id` as consumed; false when it was already (a redelivery: skip the effect).
pub async fn claim(
    tx: &mut Transaction<'_, Postgres>,
    message_id: uuid::Uuid,
) -> sqlx::Result<bool> {
    let r = sqlx::query("INSERT INTO inbox (message_id) VALUES ($1) ON CONFLICT DO NOTHING")
        .bind(message_id)
        .execute(&mut **tx)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// Relays the outbox to RabbitMQ until shutdown. Failures (broker or database down) are retried
/// with backoff, up to 5 s between attempts.
pub async fn relay(
    pool: PgPool,
    publisher: Arc<Publisher>,
    signal: OutboxSignal,
    shutdown: Shutdown,
) {
    crate::broker_watch::ensure_running(publisher.settings(), &shutdown);
    // Reported by a task of its own, so a relay stuck on the broker still shows its backlog.
    let _backlog = AbortOnDrop(tokio::spawn(report_backlog(pool.clone(), shutdown.clone())));
    let mut failing = Duration::ZERO;
    loop {
        if shutdown.is_triggered() {
            return;
        }
        let wait = match relay_batch(&pool, &publisher).await {
            Ok(0) => {
                failing = Duration::ZERO;
                Duration::from_millis(250)
            }
            Ok(_) => {
                failing = Duration::ZERO;
                continue;
            }
            Err(e) => {
                failing = (failing * 2).clamp(Duration::from_millis(250), Duration::from_secs(5));
                tracing::warn!(error = %format!("{e:#}"), retry_in_ms = failing.as_millis() as u64, "outbox relay failed; retrying");
                failing
            }
        };
        tokio::select! {
            _ = shutdown.wait() => return,
            _ = signal.0.notified(), if failing.is_zero() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// Aborts a task when the relay that started it ends (or is aborted itself).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The outbox's backlog: rows waiting to be published, and the age in seconds of the oldest
/// (0 when the outbox is empty). One cheap statement, no lock taken.
pub async fn backlog(pool: &PgPool) -> sqlx::Result<(i64, f64)> {
    let row = sqlx::query(
        "SELECT count(*) AS pending,
                COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0)::float8 AS oldest
         FROM outbox",
    )
    .fetch_one(pool)
    .await?;
    Ok((row.get("pending"), row.get::<f64, _>("oldest").max(0.0)))
}

/// Sets the backlog gauges every [`BACKLOG_INTERVAL`] until shutdown. While the database does
/// not answer they keep their last values (readiness reports the database).
async fn report_backlog(pool: PgPool, shutdown: Shutdown) {
    loop {
        match backlog(&pool).await {
            Ok((pending, oldest)) => {
                metrics::gauge!("paysys_outbox_pending").set(pending as f64);
                metrics::gauge!("paysys_outbox_oldest_age_seconds").set(oldest);
            }
            Err(e) => tracing::debug!(error = %e, "cannot read the outbox backlog"),
        }
        tokio::select! {
            _ = shutdown.wait() => return,
            _ = tokio::time::sleep(BACKLOG_INTERVAL) => {}
        }
    }
}

/// One claimed outbox row.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: i64,
    pub message_id: uuid::Uuid,
    pub exchange: String,
    pub routing_key: String,
    pub payload: Vec<u8>,
    pub headers: BTreeMap<String, String>,
}

/// Claims up to `limit` due rows for `lease`, in one statement (no transaction stays open):
/// rows not leased by another relay and not backing off, and of each order only its oldest row.
/// Returned in outbox order.
pub async fn claim_batch(pool: &PgPool, lease: Duration, limit: i64) -> sqlx::Result<Vec<Claimed>> {
    let rows = sqlx::query(
        "WITH due AS (
             SELECT o.id FROM outbox o
             WHERE o.available_at <= now()
               AND (o.claimed_until IS NULL OR o.claimed_until <= now())
               AND (o.order_key IS NULL OR NOT EXISTS (
                     SELECT 1 FROM outbox earlier
                     WHERE earlier.order_key = o.order_key AND earlier.id < o.id))
             ORDER BY o.id
             LIMIT $2
             FOR UPDATE SKIP LOCKED
         )
         UPDATE outbox SET claimed_until = now() + make_interval(secs => $1)
         FROM due WHERE outbox.id = due.id
         RETURNING outbox.id, outbox.message_id, outbox.exchange, outbox.routing_key,
                   outbox.payload, outbox.headers",
    )
    .bind(lease.as_secs_f64())
    .bind(limit)
    .fetch_all(pool)
    .await?;
    let mut claimed: Vec<Claimed> = rows
        .iter()
        .map(|r| Claimed {
            id: r.get("id"),
            message_id: r.get("message_id"),
            exchange: r.get("exchange"),
            routing_key: r.get("routing_key"),
            payload: r.get("payload"),
            headers: r
                .get::<sqlx::types::Json<BTreeMap<String, String>>, _>("headers")
                .0,
        })
        .collect();
    claimed.sort_by_key(|c| c.id);
    Ok(claimed)
}

async fn relay_batch(pool: &PgPool, publisher: &Publisher) -> anyhow::Result<usize> {
    // Connect first: rows are never leased while the broker is unreachable.
    publisher.ensure_connected().await?;
    let items = claim_batch(pool, LEASE, BATCH).await?;
    if items.is_empty() {
        return Ok(0);
    }
    // Each message is published in a span of the trace that wrote it (the context stored with
    // the row) and carries that span on, so its consumers' spans are the publish's children:
    // the relay's hop shows in the trace, with its wait in the outbox.
    let spans: Vec<tracing::Span> = items
        .iter()
        .map(|i| {
            let span = tracing::info_span!("publish", routing_key = %i.routing_key, message_id = %i.message_id,
                otel.name = %format!("publish {}", i.routing_key), otel.kind = "producer");
            crate::telemetry::set_parent_from(&span, &i.headers);
            span
        })
        .collect();
    let headers: Vec<BTreeMap<String, String>> = items
        .iter()
        .zip(&spans)
        .map(|(i, span)| {
            let mut h = i.headers.clone();
            h.extend(crate::telemetry::context_headers_of(span));
            h
        })
        .collect();
    let outgoing: Vec<Outgoing<'_>> = items
        .iter()
        .zip(&headers)
        .map(|(i, headers)| Outgoing {
            exchange: &i.exchange,
            routing_key: &i.routing_key,
            message_id: i.message_id,
            payload: &i.payload,
            headers,
        })
        .collect();
    let ids: Vec<i64> = items.iter().map(|i| i.id).collect();
    let confirmed = match publisher.publish_batch(&outgoing).await {
        Ok(c) => c,
        Err(e) => {
            // Give the lease back so another attempt (ours or another relay's) takes them soon.
            let released = sqlx::query("UPDATE outbox SET claimed_until = NULL WHERE id = ANY($1)")
                .bind(&ids)
                .execute(pool)
                .await;
            if let Err(r) = released {
                tracing::warn!(error = %r, "cannot release claimed outbox rows; they wait for the lease");
            }
            return Err(e);
        }
    };
    let mut done = Vec::new();
    let mut failed = Vec::new();
    for (id, ok) in ids.iter().zip(confirmed) {
        if ok {
            done.push(*id)
        } else {
            failed.push(*id)
        }
    }
    let mut tx = pool.begin().await?;
    sqlx::query("DELETE FROM outbox WHERE id = ANY($1)")
        .bind(&done)
        .execute(&mut *tx)
        .await?;
    if !failed.is_empty() {
        // Unroutable (no queue bound yet) or refused: back off, keep the row (and, by its
        // order key, every later event of its order).
        sqlx::query(
            "UPDATE outbox SET attempts = attempts + 1, claimed_until = NULL,
             available_at = now() + make_interval(secs => LEAST(30, 0.5 * power(2, LEAST(attempts, 6))))
             WHERE id = ANY($1)",
        )
        .bind(&failed)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    metrics::counter!("paysys_outbox_published_total").increment(done.len() as u64);
    // Rows are claimed one per order per batch: report the batch, so the loop claims again at
    // once while anything was published.
    Ok(done.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn metric(series: &str) -> Option<f64> {
        let text = crate::server::metrics_handle().render();
        text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
            let (name, value) = l.rsplit_once(' ')?;
            (name == series).then(|| value.parse().ok()).flatten()
        })
    }

    /// The backlog counts the rows waiting and the age of the oldest, and the relay's reporter
    /// puts both into the gauges. Needs the test PostgreSQL.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_backlog_is_counted_and_reported() {
        crate::server::metrics_handle();
        let pool = crate::testing::messaging_pool().await.unwrap();
        assert_eq!(backlog(&pool).await.unwrap(), (0, 0.0));
        for age in [90, 5] {
            sqlx::query(
                "INSERT INTO outbox (message_id, exchange, routing_key, payload, created_at)
                 VALUES ($1, 'x', 'k', '\\x00', now() - make_interval(secs => $2))",
            )
            .bind(uuid::Uuid::now_v7())
            .bind(f64::from(age))
            .execute(&pool)
            .await
            .unwrap();
        }
        let (pending, oldest) = backlog(&pool).await.unwrap();
        assert_eq!(pending, 2);
        assert!((90.0..120.0).contains(&oldest), "oldest {oldest}");

        let shutdown = Shutdown::new();
        let reporter = tokio::spawn(report_backlog(pool.clone(), shutdown.clone()));
        let deadline = Instant::now() + Duration::from_secs(10);
        while metric("paysys_outbox_pending") != Some(2.0) {
            assert!(Instant::now() < deadline, "paysys_outbox_pending never 2");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let age = metric("paysys_outbox_oldest_age_seconds").unwrap();
        assert!((90.0..120.0).contains(&age), "age {age}");
        shutdown.trigger();
        tokio::time::timeout(Duration::from_secs(5), reporter)
            .await
            .expect("the reporter stops at shutdown")
            .unwrap();
    }
}
