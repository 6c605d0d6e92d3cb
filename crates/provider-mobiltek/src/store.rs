//! The `mobiltek` schema (migrations/mobiltek): one `transactions` row per merchant order (a
//! one-time payment or a subscription) and the `notifications` already handled.

use crate::transitions::Effect;
use crate::wire::Notification;
use rand::Rng;
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Postgres, Row};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    OneTime,
    Subscription,
}

impl Kind {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::OneTime => "one_time",
            Self::Subscription => "subscription",
        }
    }
    fn parse(s: &str) -> Self {
        if s == "subscription" {
            Self::Subscription
        } else {
            Self::OneTime
        }
    }
    pub fn describe(&self) -> &'static str {
        match self {
            Self::OneTime => "one-time payment",
            Self::Subscription => "subscription",
        }
    }
}

/// one-time: pending -> paid | failed; subscription: pending -> active | failed, active ->
/// cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Pending,
    Paid,
    Failed,
    Active,
    Cancelled,
}

impl State {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Paid => "paid",
            Self::Failed => "failed",
            Self::Active => "active",
            Self::Cancelled => "cancelled",
        }
    }
    fn parse(s: &str) -> Self {
        match s {
            "paid" => Self::Paid,
            "failed" => Self::Failed,
            "active" => Self::Active,
            "cancelled" => Self::Cancelled,
            _ => Self::Pending,
        }
    }
    /// `next`, unless the subscription is already cancelled (a cancellation is final).
    pub fn or_if_cancelled(self, next: State) -> State {
        if self == Self::Cancelled {
            self
        } else {
            next
        }
    }
}

#[derive(Debug, Clone)]
pub struct Transaction {
    /// Our id at Mobiltek: 16 digits, like seed 000's `1000014896266637`.
    pub transaction_id: String,
    pub merchant_id: String,
    pub order_id: String,
    pub channel_id: String,
    pub kind: Kind,
    pub amount_minor: i64,
    pub currency: String,
    pub service_id: String,
    pub msisdn: String,
    pub user_id: String,
    pub user_email: String,
    /// The PPE link returned by Start, returned again to a retried Start.
    pub redirect_url: String,
    pub state: State,
    pub charges_count: i32,
}

const COLUMNS: &str = "transaction_id, merchant_id, order_id, channel_id, kind, amount_minor, currency, service_id, msisdn, user_id, user_email, redirect_url, state, charges_count";

fn from_row(r: &PgRow) -> Transaction {
    Transaction {
        transaction_id: r.get("transaction_id"),
        merchant_id: r.get("merchant_id"),
        order_id: r.get("order_id"),
        channel_id: r.get("channel_id"),
        kind: Kind::parse(r.get("kind")),
        amount_minor: r.get("amount_minor"),
        currency: r.get::<String, _>("currency").trim().to_string(),
        service_id: r.get("service_id"),
        msisdn: r.get("msisdn"),
        user_id: r.get("user_id"),
        user_email: r.get("user_email"),
        redirect_url: r.get("redirect_url"),
        state: State::parse(r.get("state")),
        charges_count: r.get("charges_count"),
    }
}

/// A fresh 16-digit transaction id. Random rather than a sequence, so two PaySystem
/// environments (or a reset database) on one Mobiltek account never reuse an id.
pub fn new_transaction_id() -> String {
    let mut rng = rand::rng();
    format!(
        "{}{:015}",
        rng.random_range(1..=9u8),
        rng.random_range(0..1_000_000_000_000_000u64)
    )
}

/// What `insert_or_get` found.
pub enum Inserted {
    New(Transaction),
    /// The order was started before: the stored transaction.
    Existing(Transaction),
    /// The random id is taken: build the link again with another one.
    IdTaken,
}

/// Inserts `t` unless its (merchant_id, order_id) exists.
pub async fn insert_or_get(pool: &PgPool, t: &Transaction) -> sqlx::Result<Inserted> {
    let inserted = sqlx::query(&format!(
        "INSERT INTO transactions ({COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14)
         ON CONFLICT DO NOTHING RETURNING {COLUMNS}"
    ))
    .bind(&t.transaction_id)
    .bind(&t.merchant_id)
    .bind(&t.order_id)
    .bind(&t.channel_id)
    .bind(t.kind.as_str())
    .bind(t.amount_minor)
    .bind(&t.currency)
    .bind(&t.service_id)
    .bind(&t.msisdn)
    .bind(&t.user_id)
    .bind(&t.user_email)
    .bind(&t.redirect_url)
    .bind(t.state.as_str())
    .bind(t.charges_count)
    .fetch_optional(pool)
    .await?;
    if let Some(r) = inserted {
        return Ok(Inserted::New(from_row(&r)));
    }
    Ok(match by_order(pool, &t.merchant_id, &t.order_id).await? {
        Some(existing) => Inserted::Existing(existing),
        None => Inserted::IdTaken,
    })
}

pub async fn by_order(
    pool: &PgPool,
    merchant_id: &str,
    order_id: &str,
) -> sqlx::Result<Option<Transaction>> {
    let r = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM transactions WHERE merchant_id = $1 AND order_id = $2"
    ))
    .bind(merchant_id)
    .bind(order_id)
    .fetch_optional(pool)
    .await?;
    Ok(r.as_ref().map(from_row))
}

/// The transaction, locked until the end of `tx` (notifications of one transaction apply one
/// at a time, so charge counts never race).
pub async fn lock(
    tx: &mut sqlx::Transaction<'_, Postgres>,
    transaction_id: &str,
) -> sqlx::Result<Option<Transaction>> {
    let r = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM transactions WHERE transaction_id = $1 FOR UPDATE"
    ))
    .bind(transaction_id)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(r.as_ref().map(from_row))
}

/// Records the notification; false when its id was seen before (a resend: no effect).
pub async fn record_notification(
    tx: &mut sqlx::Transaction<'_, Postgres>,
    n: &Notification,
    fields: serde_json::Value,
) -> sqlx::Result<bool> {
    let r = sqlx::query(
        "INSERT INTO notifications (notification_id, transaction_id, type, fields)
         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
    )
    .bind(&n.notification_id)
    .bind(&n.transaction_id)
    .bind(n.kind.as_str())
    .bind(sqlx::types::Json(fields))
    .execute(&mut **tx)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Stores the effect; Mobiltek's msisdn (the number the user confirmed with) replaces ours.
pub async fn apply(
    tx: &mut sqlx::Transaction<'_, Postgres>,
    t: &Transaction,
    n: &Notification,
    fx: &Effect,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE transactions SET state = $2, charges_count = $3,
                msisdn = COALESCE(NULLIF($4, ''), msisdn), updated_at = now()
         WHERE transaction_id = $1",
    )
    .bind(&t.transaction_id)
    .bind(fx.state.as_str())
    .bind(fx.charges_count)
    .bind(&n.msisdn)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn transaction_ids_have_16_digits() {
        for _ in 0..1000 {
            let id = super::new_transaction_id();
            assert_eq!(id.len(), 16, "{id}");
            assert!(id.bytes().all(|b| b.is_ascii_digit()));
            assert_ne!(&id[..1], "0");
        }
    }
}
