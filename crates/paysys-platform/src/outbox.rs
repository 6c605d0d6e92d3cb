//! Transactional outbox and idempotent inbox. A state change and the event it causes are written
//! in one transaction (`enqueue`); the relay publishes rows with confirms and deletes them only
//! once the broker confirmed, so a crash anywhere republishes rather than loses. Consumers dedup
//! on the message id inside the transaction of their effect (`claim`).

use crate::broker::{Outgoing, Publisher};
use crate::shutdown::Shutdown;
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
"#;

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
        "INSERT INTO outbox (message_id, exchange, routing_key, payload, headers) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(message_id)
    .bind(exchange)
    .bind(routing_key)
    .bind(payload)
    .bind(sqlx::types::Json(headers))
    .execute(&mut **tx)
    .await?;
    Ok(())
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

/// Relays the outbox to RabbitMQ until shutdown.
pub async fn relay(
    pool: PgPool,
    publisher: Arc<Publisher>,
    signal: OutboxSignal,
    shutdown: Shutdown,
) {
    loop {
        if shutdown.is_triggered() {
            return;
        }
        let relayed = match relay_batch(&pool, &publisher).await {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "outbox relay failed; retrying");
                0
            }
        };
        if relayed == 0 {
            tokio::select! {
                _ = shutdown.wait() => return,
                _ = signal.0.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(250)) => {}
            }
        }
    }
}

async fn relay_batch(pool: &PgPool, publisher: &Publisher) -> anyhow::Result<usize> {
    let mut tx = pool.begin().await?;
    let rows = sqlx::query(
        "SELECT id, message_id, exchange, routing_key, payload, headers FROM outbox
         WHERE available_at <= now() ORDER BY id LIMIT 200 FOR UPDATE SKIP LOCKED",
    )
    .fetch_all(&mut *tx)
    .await?;
    if rows.is_empty() {
        return Ok(0);
    }
    struct Row_ {
        id: i64,
        message_id: uuid::Uuid,
        exchange: String,
        routing_key: String,
        payload: Vec<u8>,
        headers: BTreeMap<String, String>,
    }
    let items: Vec<Row_> = rows
        .iter()
        .map(|r| Row_ {
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
    let outgoing: Vec<Outgoing<'_>> = items
        .iter()
        .map(|i| Outgoing {
            exchange: &i.exchange,
            routing_key: &i.routing_key,
            message_id: i.message_id,
            payload: &i.payload,
            headers: &i.headers,
        })
        .collect();
    let confirmed = publisher.publish_batch(&outgoing).await?;
    let (done, failed): (Vec<i64>, Vec<i64>) = {
        let mut d = Vec::new();
        let mut f = Vec::new();
        for (i, ok) in items.iter().zip(confirmed) {
            if ok {
                d.push(i.id)
            } else {
                f.push(i.id)
            }
        }
        (d, f)
    };
    sqlx::query("DELETE FROM outbox WHERE id = ANY($1)")
        .bind(&done)
        .execute(&mut *tx)
        .await?;
    if !failed.is_empty() {
        // Unroutable (no queue bound yet) or refused: back off, keep the row.
        sqlx::query(
            "UPDATE outbox SET attempts = attempts + 1,
             available_at = now() + make_interval(secs => LEAST(30, 0.5 * power(2, LEAST(attempts, 6))))
             WHERE id = ANY($1)",
        )
        .bind(&failed)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    metrics::counter!("paysys_outbox_published_total").increment(done.len() as u64);
    Ok(done.len())
}
