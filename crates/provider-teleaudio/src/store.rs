//! The `teleaudio` schema: one row per Teleaudio subscription or webbilling payment.

use sqlx::{PgPool, Row};

#[derive(Debug, Clone)]
pub struct Transaction {
    pub reference: uuid::Uuid,
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
    pub provider_id: String,
    pub redirect_url: String,
    pub state: String,
    pub charges_count: i32,
}

pub const COLUMNS: &str = "reference, merchant_id, order_id, channel_id, kind, amount_minor, currency, service_id, msisdn, user_id, user_email, provider_id, redirect_url, state, charges_count";

pub fn from_row(r: &sqlx::postgres::PgRow) -> Transaction {
    Transaction {
        reference: r.get("reference"),
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
        provider_id: r.get("provider_id"),
        redirect_url: r.get("redirect_url"),
        state: r.get("state"),
        charges_count: r.get("charges_count"),
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
