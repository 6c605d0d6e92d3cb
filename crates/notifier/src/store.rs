//! The notifier schema: merchants' endpoints, the notification log and its attempts. Every
//! statement the service runs lives here.

use crate::choice::Choice;
use chrono::{DateTime, Utc};
use paysys_platform::cache::{self, Cache};
use paysys_platform::sealed::DataKey;
use secrecy::SecretString;
use sqlx::types::Json;
use sqlx::{PgExecutor, PgPool, Row};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// Where and how a merchant is notified.
#[derive(Clone)]
pub struct Endpoint {
    pub url: String,
    /// `whsec_<base64>`: signs both `params.signature` and the Standard Webhooks header.
    pub secret: SecretString,
    /// Which methods are delivered, and where some of them go instead of `url`.
    pub choice: Choice,
}

/// What a merchant's sealed notification secret is bound to: its own row (the operator CLI seals
/// with the same context).
pub fn secret_context(merchant_id: &str) -> String {
    format!("notifier.endpoints.secret:{merchant_id}")
}

/// The data key of the notifier built in this process: the consumer and the delivery worker
/// open notification secrets with it.
static PROCESS_KEY: std::sync::OnceLock<DataKey> = std::sync::OnceLock::new();

/// Makes `key` the one the notifier's store seals and opens with; a process runs with one key.
pub fn install_data_key(key: &DataKey) -> Result<(), String> {
    let installed = PROCESS_KEY.get_or_init(|| key.clone());
    // Same key, same digest of anything.
    if installed.digest("", "paysys.same-key") == key.digest("", "paysys.same-key") {
        Ok(())
    } else {
        Err(
            "secrets.data_key differs from the one this process already runs the notifier with"
                .into(),
        )
    }
}

fn process_key() -> sqlx::Result<&'static DataKey> {
    PROCESS_KEY.get().ok_or_else(|| {
        sqlx::Error::Configuration(
            "no secrets.data_key: notifier::Application::build installs it".into(),
        )
    })
}

/// Seals every notification secret still in plaintext (rows from before
/// `20261202000100_sealed_endpoint_secrets`) and clears the plaintext, in one transaction; the
/// number of rows converted. Run at start, after the migrations.
pub async fn seal_legacy_endpoints(pool: &PgPool, key: &DataKey) -> sqlx::Result<u64> {
    let mut tx = pool.begin().await?;
    let legacy: Vec<(String, String)> = sqlx::query_as(
        "SELECT merchant_id, secret FROM endpoints WHERE secret IS NOT NULL ORDER BY merchant_id FOR UPDATE",
    )
    .fetch_all(&mut *tx)
    .await?;
    for (merchant_id, secret) in &legacy {
        sqlx::query(
            "UPDATE endpoints SET secret = NULL, secret_sealed = $2 WHERE merchant_id = $1",
        )
        .bind(merchant_id)
        .bind(key.seal(secret, &secret_context(merchant_id)))
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(legacy.len() as u64)
}

/// Sets a merchant's notification URL and secret, every method at that URL (the operator CLI
/// does the same in SQL).
pub async fn upsert_endpoint(
    pool: &PgPool,
    merchant_id: &str,
    url: &str,
    secret: &str,
) -> sqlx::Result<()> {
    save_endpoint(pool, merchant_id, url, secret, &Choice::default()).await
}

/// Sets a merchant's notification URL, secret and choice, replacing an earlier choice. The
/// secret is stored sealed (the data key of the notifier built in this process).
pub async fn save_endpoint(
    pool: &PgPool,
    merchant_id: &str,
    url: &str,
    secret: &str,
    choice: &Choice,
) -> sqlx::Result<()> {
    let sealed = process_key()?.seal(secret, &secret_context(merchant_id));
    sqlx::query(
        "INSERT INTO endpoints (merchant_id, url, secret, secret_sealed, events, event_urls)
         VALUES ($1, $2, NULL, $3, $4, $5)
         ON CONFLICT (merchant_id) DO UPDATE SET url = excluded.url, secret = NULL,
           secret_sealed = excluded.secret_sealed, events = excluded.events,
           event_urls = excluded.event_urls",
    )
    .bind(merchant_id)
    .bind(url)
    .bind(sealed)
    .bind(choice.events.as_slice())
    .bind(Json(&choice.urls))
    .execute(pool)
    .await?;
    Ok(())
}

/// What a secret that cannot be used reads as: not `whsec_<base64>` (an empty string would
/// decode to an empty key), so the notification is dead-lettered as having a bad secret.
const UNUSABLE_SECRET: &str = "!unusable";

/// A merchant's endpoint, its secret opened. A secret that does not open (sealed for another
/// merchant's row, or with another key) or was never sealed comes back unusable, so the
/// notification is dead-lettered as having a bad secret (replayable once fixed), never signed.
pub async fn endpoint<'e>(
    ex: impl PgExecutor<'e>,
    merchant_id: &str,
) -> sqlx::Result<Option<Endpoint>> {
    let key = process_key()?;
    let row = sqlx::query(
        "SELECT url, secret_sealed, events, event_urls FROM endpoints WHERE merchant_id = $1",
    )
    .bind(merchant_id)
    .fetch_optional(ex)
    .await?;
    row.map(|r| {
        let sealed: Option<String> = r.try_get("secret_sealed")?;
        let secret = match sealed.map(|s| key.open(&s, &secret_context(merchant_id))) {
            Some(Ok(secret)) => secret,
            Some(Err(e)) => {
                tracing::error!(merchant_id, error = %e, "notification secret does not open with secrets.data_key for this merchant");
                SecretString::from(UNUSABLE_SECRET)
            }
            None => {
                tracing::error!(merchant_id, "notification secret is not sealed yet (the notifier seals it at start)");
                SecretString::from(UNUSABLE_SECRET)
            }
        };
        Ok(Endpoint {
            url: r.try_get("url")?,
            secret,
            choice: Choice {
                events: r.try_get("events")?,
                urls: r
                    .try_get::<Json<BTreeMap<String, String>>, _>("event_urls")?
                    .0,
            },
        })
    })
    .transpose()
}

/// The channel a committed change to `endpoints` notifies (migration
/// `20261205000000_endpoints_notify`).
pub const ENDPOINTS_CHANNEL: &str = "paysys_notifier_endpoints";

/// Merchants' endpoints, read through a cache that a change to `endpoints` empties
/// ([`paysys_platform::cache`]): the consumer and the delivery worker ask for the endpoint of
/// every event and every attempt, and it changes only when an operator changes it. A merchant
/// without an endpoint is asked of the database every time, so one configured a moment ago is
/// found at once.
#[derive(Clone)]
pub struct Endpoints {
    pool: PgPool,
    cache: Arc<Cache<String, Arc<Endpoint>>>,
}

impl Endpoints {
    pub fn new(pool: PgPool) -> Self {
        Self {
            pool,
            cache: Cache::new(
                "notifier_endpoints",
                cache::DEFAULT_TTL,
                cache::DEFAULT_MAX_ENTRIES,
            ),
        }
    }

    /// What [`cache::listen`] empties.
    pub fn cache(&self) -> Arc<dyn cache::Invalidate> {
        self.cache.clone()
    }

    pub async fn get(&self, merchant_id: &str) -> sqlx::Result<Option<Arc<Endpoint>>> {
        self.cache
            .get_or_load(&merchant_id.to_string(), || async {
                Ok(endpoint(&self.pool, merchant_id).await?.map(Arc::new))
            })
            .await
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pending,
    Delivered,
    Dead,
    /// Of a method the merchant did not choose: logged, never sent unless replayed.
    Skipped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Delivered => "delivered",
            Status::Dead => "dead",
            Status::Skipped => "skipped",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        match s {
            "pending" => Some(Status::Pending),
            "delivered" => Some(Status::Delivered),
            "dead" => Some(Status::Dead),
            "skipped" => Some(Status::Skipped),
            _ => None,
        }
    }
}

/// A notification as the consumer creates it.
pub struct NewNotification<'a> {
    pub id: Uuid,
    pub event_id: Uuid,
    pub merchant_id: &'a str,
    pub method: &'a str,
    pub order_id: &'a str,
    pub event: &'a [u8],
    pub body: Option<String>,
    pub disposition: Disposition,
}

/// What becomes of a new notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disposition {
    /// Due at once.
    Pending,
    /// Cannot be sent yet (the reason; replayable once fixed).
    Dead(String),
    /// The merchant did not choose its method (the reason; replayable).
    Skipped(String),
}

impl Disposition {
    pub fn status(&self) -> Status {
        match self {
            Disposition::Pending => Status::Pending,
            Disposition::Dead(_) => Status::Dead,
            Disposition::Skipped(_) => Status::Skipped,
        }
    }

    pub fn reason(&self) -> Option<&str> {
        match self {
            Disposition::Pending => None,
            Disposition::Dead(r) | Disposition::Skipped(r) => Some(r),
        }
    }
}

/// Claims the event in the inbox and inserts its notification, in one statement (one round
/// trip, one commit): false when the event was claimed before (a redelivery), and nothing is
/// written then.
pub async fn claim_and_insert(pool: &PgPool, n: &NewNotification<'_>) -> sqlx::Result<bool> {
    let status = n.disposition.status();
    let r = sqlx::query(
        "WITH claimed AS (
             INSERT INTO inbox (message_id) VALUES ($2) ON CONFLICT DO NOTHING RETURNING message_id)
         INSERT INTO notifications
           (id, event_id, merchant_id, method, order_id, event, body, status, next_attempt_at, last_error, trace_context)
         SELECT $1, message_id, $3, $4, $5, $6, $7, $8, CASE WHEN $8 = 'pending' THEN now() END, $9, $10
         FROM claimed
         ON CONFLICT (event_id) DO NOTHING",
    )
    .bind(n.id)
    .bind(n.event_id)
    .bind(n.merchant_id)
    .bind(n.method)
    .bind(n.order_id)
    .bind(n.event)
    .bind(n.body.as_deref())
    .bind(status.as_str())
    .bind(n.disposition.reason())
    // The event's trace (the consumer's span): its deliveries continue it.
    .bind(Json(paysys_platform::telemetry::current_context_headers()))
    .execute(pool)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// A due notification this worker holds until its lease runs out.
#[derive(Debug, Clone)]
pub struct Leased {
    pub id: Uuid,
    pub merchant_id: String,
    pub method: String,
    pub event: Vec<u8>,
    pub body: Option<String>,
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
    /// The trace of the event it was made from (W3C headers; empty for rows made before).
    pub trace_context: BTreeMap<String, String>,
}

/// Takes up to `limit` due pending notifications and pushes their next_attempt_at past `lease`,
/// committed before anything is sent: a worker that dies mid-delivery leaves them due again
/// once the lease ends, and other workers skip them meanwhile.
pub async fn lease_due(pool: &PgPool, limit: usize, lease: Duration) -> sqlx::Result<Vec<Leased>> {
    let rows = sqlx::query(
        "WITH due AS (
             SELECT id FROM notifications n
             WHERE status = 'pending' AND next_attempt_at <= now()
               -- Per order, first in first out: an earlier pending notification of the same
               -- order (in flight or waiting for its retry) holds the later ones back.
               AND NOT EXISTS (
                   SELECT 1 FROM notifications e
                   WHERE e.merchant_id = n.merchant_id AND e.order_id = n.order_id
                     AND e.status = 'pending' AND e.event_id < n.event_id)
             ORDER BY next_attempt_at
             LIMIT $1
             FOR UPDATE SKIP LOCKED)
         UPDATE notifications u
         SET next_attempt_at = now() + make_interval(secs => $2)
         FROM due WHERE u.id = due.id
         RETURNING u.id, u.merchant_id, u.method, u.event, u.body, u.attempts, u.created_at,
                   u.trace_context",
    )
    .bind(limit as i64)
    .bind(lease.as_secs_f64())
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Leased {
            id: r.get("id"),
            merchant_id: r.get("merchant_id"),
            method: r.get("method"),
            event: r.get("event"),
            body: r.get("body"),
            attempts: r.get("attempts"),
            created_at: r.get("created_at"),
            trace_context: r
                .get::<Json<BTreeMap<String, String>>, _>("trace_context")
                .0,
        })
        .collect())
}

/// Fixes the body of a notification created before its merchant had an endpoint; returns the
/// body that will be sent (an earlier one wins, so every attempt sends the same bytes).
pub async fn fix_body(pool: &PgPool, id: Uuid, body: &str) -> sqlx::Result<String> {
    sqlx::query_scalar(
        "UPDATE notifications SET body = COALESCE(body, $2) WHERE id = $1 RETURNING body",
    )
    .bind(id)
    .bind(body)
    .fetch_one(pool)
    .await
}

/// What one HTTP attempt got.
#[derive(Debug)]
pub struct AttemptResult {
    pub http_status: Option<u16>,
    pub error: Option<String>,
    pub duration: Duration,
}

/// What happens to the notification after an attempt.
#[derive(Debug, Clone, Copy)]
pub enum Next {
    Delivered,
    RetryIn(Duration),
    Dead,
}

/// Records the attempt and moves the notification on, in one transaction. The update applies
/// only if nobody replayed or re-leased the notification meanwhile (same attempts count).
pub async fn record_attempt(
    pool: &PgPool,
    leased: &Leased,
    result: &AttemptResult,
    next: Next,
) -> sqlx::Result<()> {
    let (status, delay) = match next {
        Next::Delivered => (Status::Delivered, None),
        Next::RetryIn(d) => (Status::Pending, Some(d.as_secs_f64())),
        Next::Dead => (Status::Dead, None),
    };
    // One statement, so one round trip and one commit: both parts or neither.
    sqlx::query(
        "WITH attempt AS (
             INSERT INTO attempts (notification_id, attempt_no, http_status, error, duration_ms)
             VALUES ($1, (SELECT count(*) + 1 FROM attempts WHERE notification_id = $1), $6, $5, $7))
         UPDATE notifications SET
           status = $3,
           attempts = attempts + 1,
           next_attempt_at = now() + make_interval(secs => $4),
           last_error = CASE WHEN $3 = 'delivered' THEN last_error ELSE $5 END,
           delivered_at = CASE WHEN $3 = 'delivered' THEN now() END
         WHERE id = $1 AND status = 'pending' AND attempts = $2",
    )
    .bind(leased.id)
    .bind(leased.attempts)
    .bind(status.as_str())
    .bind(delay)
    .bind(result.error.as_deref())
    .bind(result.http_status.map(i32::from))
    .bind(result.duration.as_millis() as i64)
    .execute(pool)
    .await?;
    Ok(())
}

/// Dead-letters a notification that cannot be sent at all (no endpoint, unusable secret).
pub async fn mark_dead(pool: &PgPool, leased: &Leased, reason: &str) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE notifications SET status = 'dead', next_attempt_at = NULL, last_error = $3
         WHERE id = $1 AND status = 'pending' AND attempts = $2",
    )
    .bind(leased.id)
    .bind(leased.attempts)
    .bind(reason)
    .execute(pool)
    .await?;
    Ok(())
}

/// One line of the delivery log.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: Uuid,
    pub merchant_id: String,
    pub method: String,
    pub order_id: String,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// The newest `limit` notifications, optionally of one merchant and/or one status.
pub async fn list(
    pool: &PgPool,
    merchant_id: Option<&str>,
    status: Option<Status>,
    limit: i64,
) -> sqlx::Result<Vec<Delivery>> {
    let rows = sqlx::query(
        "SELECT id, merchant_id, method, order_id, status, attempts, next_attempt_at, last_error, created_at
         FROM notifications
         WHERE ($1::text IS NULL OR merchant_id = $1) AND ($2::text IS NULL OR status = $2)
         ORDER BY created_at DESC, id DESC
         LIMIT $3",
    )
    .bind(merchant_id)
    .bind(status.map(Status::as_str))
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Delivery {
            id: r.get("id"),
            merchant_id: r.get("merchant_id"),
            method: r.get("method"),
            order_id: r.get("order_id"),
            status: r.get("status"),
            attempts: r.get("attempts"),
            next_attempt_at: r.get("next_attempt_at"),
            last_error: r.get("last_error"),
            created_at: r.get("created_at"),
        })
        .collect())
}

/// Makes a notification due at once with a fresh schedule, whatever its status (a skipped one
/// included: replay is how an operator sends it after all); false when
/// there is no such notification.
pub async fn replay(pool: &PgPool, id: Uuid) -> sqlx::Result<bool> {
    let r = sqlx::query(
        "UPDATE notifications
         SET status = 'pending', attempts = 0, next_attempt_at = now(), delivered_at = NULL
         WHERE id = $1",
    )
    .bind(id)
    .execute(pool)
    .await?;
    Ok(r.rows_affected() == 1)
}
