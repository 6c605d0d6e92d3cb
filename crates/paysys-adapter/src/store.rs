//! The kit's tables in the adapter's own schema (migrations/adapter): `orders`, `callbacks`
//! (dedup), `discrepancies` (refused callbacks) and `charges` (each order's charge history).

use crate::machine::{Facts, State, Transition};
use paysys_platform::domain::OrderKind;
use paysys_platform::money::{Currency, Money};
use serde_json::{Map, Value};
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Postgres, Row, Transaction};
use std::collections::BTreeMap;

/// An order as the adapter keeps it.
#[derive(Debug, Clone)]
pub struct Order {
    pub reference: String,
    pub merchant_id: String,
    pub order_id: String,
    pub channel_id: String,
    pub kind: OrderKind,
    pub price: Money,
    pub current_price: Money,
    /// The price before the last `modify_subscription_price` and when it changed, until a
    /// charge at it was believed (read by [`lock`] and [`lock_by_order`], the callbacks' reads).
    pub previous_price: Option<(Money, chrono::DateTime<chrono::Utc>)>,
    /// The price being asked of the provider right now ([`set_pending_price`]).
    pub pending_price: Option<Money>,
    /// The trace context of the call that started the order (W3C headers), which its callbacks
    /// continue; read by the locking reads, like the previous price.
    pub trace_context: BTreeMap<String, String>,
    pub payments_no: u32,
    pub test: bool,
    pub fingerprint: String,
    /// Provider specifics (service_id, msisdn, ...).
    pub details: Map<String, Value>,
    pub provider_ref: String,
    pub redirect_url: String,
    pub started: bool,
    pub state: State,
    pub charges_count: u32,
    pub failed_count: u32,
    /// When an unfinished payment expires (`payment.validity_time`).
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl Order {
    /// A provider detail as text ("" when absent).
    pub fn detail(&self, key: &str) -> &str {
        self.details.get(key).and_then(Value::as_str).unwrap_or("")
    }

    pub fn facts(&self) -> Facts {
        Facts {
            kind: self.kind,
            state: self.state,
            price: self.price,
            current_price: self.current_price,
            previous_price: self
                .previous_price
                .filter(|(_, at)| chrono::Utc::now() - *at <= crate::machine::PRICE_CHANGE_GRACE)
                .map(|(p, _)| p),
            pending_price: self.pending_price,
            charges_count: self.charges_count,
            failed_count: self.failed_count,
            payments_no: self.payments_no,
        }
    }
}

/// [`COLUMNS`] and the previous price, for the reads a callback's transition is decided on.
const LOCK_COLUMNS: &str =
    "previous_price_minor, price_changed_at, pending_price_minor, trace_context";

pub const COLUMNS: &str = "reference, merchant_id, order_id, channel_id, kind, amount_minor, currency, current_price_minor, payments_no, test, fingerprint, details, provider_ref, redirect_url, started, state, charges_count, failed_count, expires_at";

fn from_row(r: &PgRow) -> sqlx::Result<Order> {
    let bad = |what: &str, v: String| sqlx::Error::Decode(format!("orders.{what}: {v:?}").into());
    let currency: String = r.try_get("currency")?;
    let currency = Currency::parse(currency.trim()).map_err(|e| bad("currency", e))?;
    let kind: String = r.try_get("kind")?;
    let state: String = r.try_get("state")?;
    let details: sqlx::types::Json<Map<String, Value>> = r.try_get("details")?;
    let count = |c: &str| -> sqlx::Result<u32> {
        let n: i32 = r.try_get(c)?;
        u32::try_from(n).map_err(|_| bad(c, n.to_string()))
    };
    Ok(Order {
        reference: r.try_get("reference")?,
        merchant_id: r.try_get("merchant_id")?,
        order_id: r.try_get("order_id")?,
        channel_id: r.try_get("channel_id")?,
        kind: OrderKind::parse(&kind).map_err(|e| bad("kind", e))?,
        price: Money::new(r.try_get("amount_minor")?, currency),
        current_price: Money::new(r.try_get("current_price_minor")?, currency),
        // Only the locking reads select it (a RETURNING of COLUMNS does not).
        previous_price: match (
            r.try_get::<Option<i64>, _>("previous_price_minor"),
            r.try_get::<Option<chrono::DateTime<chrono::Utc>>, _>("price_changed_at"),
        ) {
            (Ok(Some(p)), Ok(Some(at))) => Some((Money::new(p, currency), at)),
            _ => None,
        },
        pending_price: match r.try_get::<Option<i64>, _>("pending_price_minor") {
            Ok(Some(p)) => Some(Money::new(p, currency)),
            _ => None,
        },
        trace_context: r
            .try_get::<Option<sqlx::types::Json<BTreeMap<String, String>>>, _>("trace_context")
            .ok()
            .flatten()
            .map(|c| c.0)
            .unwrap_or_default(),
        payments_no: count("payments_no")?,
        test: r.try_get("test")?,
        fingerprint: r.try_get("fingerprint")?,
        details: details.0,
        provider_ref: r.try_get("provider_ref")?,
        redirect_url: r.try_get("redirect_url")?,
        started: r.try_get("started")?,
        state: State::parse(&state).ok_or_else(|| bad("state", state.clone()))?,
        charges_count: count("charges_count")?,
        failed_count: count("failed_count")?,
        expires_at: r.try_get("expires_at")?,
    })
}

/// What `claim` found.
pub enum Claimed {
    New(Order),
    /// The order was started before: the stored row.
    Existing(Order),
    /// The reference is taken by another order: try another one.
    ReferenceTaken,
}

/// Inserts `o` unless its (merchant_id, order_id) exists, with the current trace context (the
/// starting call's), which the order's callbacks continue ([`trace_context`]).
pub async fn claim(pool: &PgPool, o: &Order) -> sqlx::Result<Claimed> {
    let inserted = sqlx::query(&format!(
        "INSERT INTO orders ({COLUMNS}, trace_context) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20)
         ON CONFLICT DO NOTHING RETURNING {COLUMNS}"
    ))
    .bind(&o.reference)
    .bind(&o.merchant_id)
    .bind(&o.order_id)
    .bind(&o.channel_id)
    .bind(o.kind.as_str())
    .bind(o.price.minor)
    .bind(o.price.currency.as_str())
    .bind(o.current_price.minor)
    .bind(o.payments_no as i32)
    .bind(o.test)
    .bind(&o.fingerprint)
    .bind(sqlx::types::Json(&o.details))
    .bind(&o.provider_ref)
    .bind(&o.redirect_url)
    .bind(o.started)
    .bind(o.state.as_str())
    .bind(o.charges_count as i32)
    .bind(o.failed_count as i32)
    .bind(o.expires_at)
    .bind(sqlx::types::Json(
        paysys_platform::telemetry::current_context_headers(),
    ))
    .fetch_optional(pool)
    .await?;
    if let Some(r) = inserted {
        return Ok(Claimed::New(from_row(&r)?));
    }
    Ok(match by_order(pool, &o.merchant_id, &o.order_id).await? {
        Some(existing) => Claimed::Existing(existing),
        None => Claimed::ReferenceTaken,
    })
}

pub async fn by_order(
    pool: &PgPool,
    merchant_id: &str,
    order_id: &str,
) -> sqlx::Result<Option<Order>> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} FROM orders WHERE merchant_id = $1 AND order_id = $2"
    ))
    .bind(merchant_id)
    .bind(order_id)
    .fetch_optional(pool)
    .await?
    .as_ref()
    .map(from_row)
    .transpose()
}

/// How a callback names its order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// Our reference, echoed by the provider.
    Reference(String),
    /// The provider's own id of the order.
    ProviderRef(String),
}

/// The order, locked until the end of `tx`: claims on one order apply one at a time, so charge
/// counts never race.
pub async fn lock(tx: &mut Transaction<'_, Postgres>, by: &Lookup) -> sqlx::Result<Option<Order>> {
    let (column, value) = match by {
        Lookup::Reference(r) => ("reference", r),
        Lookup::ProviderRef(p) if !p.is_empty() => ("provider_ref", p),
        Lookup::ProviderRef(_) => return Ok(None),
    };
    sqlx::query(&format!(
        "SELECT {COLUMNS}, {LOCK_COLUMNS} FROM orders WHERE {column} = $1 FOR UPDATE"
    ))
    .bind(value)
    .fetch_optional(&mut **tx)
    .await?
    .as_ref()
    .map(from_row)
    .transpose()
}

/// Records what the provider answered to Start (first answer wins); returns the stored order.
pub async fn record_started(
    pool: &PgPool,
    reference: &str,
    provider_ref: &str,
    redirect_url: &str,
    details: &Map<String, Value>,
) -> sqlx::Result<Order> {
    // The first answer is stored and returned in one round trip; a later one finds it stored.
    let updated = sqlx::query(&format!(
        "UPDATE orders SET provider_ref = $2, redirect_url = $3, details = details || $4,
                started = true, updated_at = now()
         WHERE reference = $1 AND NOT started RETURNING {COLUMNS}"
    ))
    .bind(reference)
    .bind(provider_ref)
    .bind(redirect_url)
    .bind(sqlx::types::Json(details))
    .fetch_optional(pool)
    .await?;
    let r = match updated {
        Some(r) => r,
        None => {
            sqlx::query(&format!(
                "SELECT {COLUMNS} FROM orders WHERE reference = $1"
            ))
            .bind(reference)
            .fetch_one(pool)
            .await?
        }
    };
    from_row(&r)
}

/// The first answer given to a callback claim, if it was seen before.
pub async fn seen(
    tx: &mut Transaction<'_, Postgres>,
    dedup_key: &str,
) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("SELECT outcome FROM callbacks WHERE dedup_key = $1")
        .bind(dedup_key)
        .fetch_optional(&mut **tx)
        .await
}

/// Records a claim; false when its key was recorded before (a concurrent resend won).
pub async fn record_callback(
    tx: &mut Transaction<'_, Postgres>,
    dedup_key: &str,
    reference: &str,
    claim: &str,
    outcome: &str,
    body: &Value,
) -> sqlx::Result<bool> {
    let r = sqlx::query(
        "INSERT INTO callbacks (dedup_key, reference, claim, outcome, body) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT DO NOTHING",
    )
    .bind(dedup_key)
    .bind(reference)
    .bind(claim)
    .bind(outcome)
    .bind(sqlx::types::Json(body))
    .execute(&mut **tx)
    .await?;
    Ok(r.rows_affected() == 1)
}

pub struct NewDiscrepancy<'a> {
    pub order: &'a Order,
    pub dedup_key: &'a str,
    pub claim: &'a str,
    pub amount: Option<Money>,
    pub reason: &'a str,
    pub body: &'a Value,
}

pub async fn record_discrepancy(
    tx: &mut Transaction<'_, Postgres>,
    d: NewDiscrepancy<'_>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO discrepancies (reference, merchant_id, order_id, dedup_key, claim, amount_minor, currency, reason, body)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (dedup_key) DO NOTHING",
    )
    .bind(&d.order.reference)
    .bind(&d.order.merchant_id)
    .bind(&d.order.order_id)
    .bind(d.dedup_key)
    .bind(d.claim)
    .bind(d.amount.map(|m| m.minor))
    .bind(d.amount.map(|m| m.currency.as_str().to_string()))
    .bind(d.reason)
    .bind(sqlx::types::Json(d.body))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Stores a transition; provider details from the callback are merged into the order's.
pub async fn apply(
    tx: &mut Transaction<'_, Postgres>,
    order: &Order,
    t: &Transition,
    details: &Map<String, Value>,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE orders SET state = $2, charges_count = $3, failed_count = $4,
                details = details || $5, updated_at = now(),
                previous_price_minor = CASE WHEN $6 THEN NULL ELSE previous_price_minor END
         WHERE reference = $1",
    )
    .bind(&order.reference)
    .bind(t.state.as_str())
    .bind(t.charges_count as i32)
    .bind(t.failed_count as i32)
    .bind(sqlx::types::Json(details))
    .bind(t.previous_price_used)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub struct NewCharge<'a> {
    pub reference: &'a str,
    pub sequence: u32,
    pub charge_id: &'a str,
    pub amount: Money,
    pub succeeded: bool,
    pub late: bool,
}

pub async fn record_charge(
    tx: &mut Transaction<'_, Postgres>,
    c: NewCharge<'_>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO charges (reference, sequence, charge_id, amount_minor, currency, outcome, late)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
    )
    .bind(c.reference)
    .bind(c.sequence as i32)
    .bind(c.charge_id)
    .bind(c.amount.minor)
    .bind(c.amount.currency.as_str())
    .bind(if c.succeeded { "succeeded" } else { "failed" })
    .bind(c.late)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// An order's charge history, oldest first.
pub async fn charges(
    pool: &PgPool,
    reference: &str,
) -> sqlx::Result<Vec<paysys_proto::OrderCharge>> {
    let rows = sqlx::query(
        "SELECT sequence, charge_id, amount_minor, currency, outcome, at FROM charges
         WHERE reference = $1 ORDER BY at, sequence",
    )
    .bind(reference)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            let at: chrono::DateTime<chrono::Utc> = r.try_get("at")?;
            let currency: String = r.try_get("currency")?;
            Ok(paysys_proto::OrderCharge {
                sequence: r.try_get::<i32, _>("sequence")?.max(0) as u32,
                charge_id: r.try_get("charge_id")?,
                amount_minor: r.try_get("amount_minor")?,
                currency: currency.trim().to_string(),
                outcome: r.try_get("outcome")?,
                at: at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            })
        })
        .collect()
}

/// Sets a subscription's price for every later charge, keeping the one before for a charge
/// that raced the change ([`crate::machine::PRICE_CHANGE_GRACE`]).
pub async fn set_current_price(pool: &PgPool, reference: &str, price: Money) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE orders SET previous_price_minor = CASE WHEN current_price_minor <> $2
                    THEN current_price_minor ELSE previous_price_minor END,
                price_changed_at = CASE WHEN current_price_minor <> $2
                    THEN now() ELSE price_changed_at END,
                current_price_minor = $2, pending_price_minor = NULL, updated_at = now()
         WHERE reference = $1",
    )
    .bind(reference)
    .bind(price.minor)
    .execute(pool)
    .await?;
    Ok(())
}

/// Records (Some) or forgets (None) the price being asked of the provider, before the request
/// and after a refusal: a charge the provider makes at it before answering is believed.
pub async fn set_pending_price(
    pool: &PgPool,
    reference: &str,
    price: Option<Money>,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE orders SET pending_price_minor = $2, updated_at = now() WHERE reference = $1",
    )
    .bind(reference)
    .bind(price.map(|p| p.minor))
    .execute(pool)
    .await?;
    Ok(())
}

/// Merges provider details into an order's (e.g. a moved next charge date).
pub async fn merge_details(
    pool: &PgPool,
    reference: &str,
    details: &Map<String, Value>,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE orders SET details = details || $2, updated_at = now() WHERE reference = $1",
    )
    .bind(reference)
    .bind(sqlx::types::Json(details))
    .execute(pool)
    .await?;
    Ok(())
}

/// Orders whose `validity_time` passed while they were pending (at most `limit`).
pub async fn expired(pool: &PgPool, limit: i64) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT reference FROM orders WHERE state = 'pending' AND expires_at IS NOT NULL
         AND expires_at <= now() ORDER BY expires_at LIMIT $1",
    )
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Subscriptions `cancelling` for longer than `timeout_secs` (at most `limit`).
pub async fn cancelling_overdue(
    pool: &PgPool,
    timeout_secs: u64,
    limit: i64,
) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT reference FROM orders WHERE state = 'cancelling'
         AND updated_at <= now() - make_interval(secs => $1) ORDER BY updated_at LIMIT $2",
    )
    .bind(timeout_secs as f64)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Ends an order that never started at the provider (a start refused for good).
pub async fn lock_by_order(
    tx: &mut Transaction<'_, Postgres>,
    merchant_id: &str,
    order_id: &str,
) -> sqlx::Result<Option<Order>> {
    sqlx::query(&format!(
        "SELECT {COLUMNS}, {LOCK_COLUMNS} FROM orders WHERE merchant_id = $1 AND order_id = $2 FOR UPDATE"
    ))
    .bind(merchant_id)
    .bind(order_id)
    .fetch_optional(&mut **tx)
    .await?
    .as_ref()
    .map(from_row)
    .transpose()
}
