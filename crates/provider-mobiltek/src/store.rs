//! The `mobiltek` schema: one row per Mobiltek transaction (one-time payment or subscription).

use sqlx::{PgPool, Row};

#[derive(Debug, Clone)]
pub struct Transaction {
    pub transaction_id: String,
    pub merchant_id: String,
    pub order_id: String,
    pub channel_id: String,
    pub kind: String,
    pub amount_minor: i64,
    pub currency: String,
    pub service_id: String,
    pub msisdn: String,
    pub user_id: String,
    pub user_email: String,
    pub redirect_url: String,
    pub state: String,
    pub charges_count: i32,
}

pub const COLUMNS: &str = "transaction_id, merchant_id, order_id, channel_id, kind, amount_minor, currency, service_id, msisdn, user_id, user_email, redirect_url, state, charges_count";

pub fn from_row(r: &sqlx::postgres::PgRow) -> Transaction {
    Transaction {
        transaction_id: r.get("transaction_id"),
        merchant_id: r.get("merchant_id"),
        order_id: r.get("order_id"),
        channel_id: r.get("channel_id"),
        kind: r.get("kind"),
        amount_minor: r.get("amount_minor"),
        currency: r.get::<String, _>("currency").trim().to_string(),
        service_id: r.get("service_id"),
        msisdn: r.get("msisdn"),
        user_id: r.get("user_id"),
        user_email: r.get("user_email"),
        redirect_url: r.get("redirect_url"),
        state: r.get("state"),
        charges_count: r.get("charges_count"),
    }
}

pub async fn next_transaction_id(pool: &PgPool) -> sqlx::Result<String> {
    let id: i64 = sqlx::query_scalar("SELECT nextval('transaction_ids')")
        .fetch_one(pool)
        .await?;
    Ok(id.to_string())
}

/// Inserts `t` unless (merchant_id, order_id) exists; returns the stored transaction either way.
pub async fn insert_or_get(pool: &PgPool, t: &Transaction) -> sqlx::Result<Transaction> {
    let inserted = sqlx::query(&format!(
        "INSERT INTO transactions ({COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14)
         ON CONFLICT (merchant_id, order_id) DO NOTHING RETURNING {COLUMNS}"
    ))
    .bind(&t.transaction_id)
    .bind(&t.merchant_id)
    .bind(&t.order_id)
    .bind(&t.channel_id)
    .bind(&t.kind)
    .bind(t.amount_minor)
    .bind(&t.currency)
    .bind(&t.service_id)
    .bind(&t.msisdn)
    .bind(&t.user_id)
    .bind(&t.user_email)
    .bind(&t.redirect_url)
    .bind(&t.state)
    .bind(t.charges_count)
    .fetch_optional(pool)
    .await?;
    match inserted {
        Some(r) => Ok(from_row(&r)),
        None => by_order(pool, &t.merchant_id, &t.order_id)
            .await?
            .ok_or(sqlx::Error::RowNotFound),
    }
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
