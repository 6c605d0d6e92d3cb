//! Starting Teleaudio payments, once. Used by the gRPC `Start` (subscriptions; a confirmation
//! that overtook its command) and by the command consumer (webbilling). The row is claimed and
//! locked before Teleaudio is called, and the reference is Teleaudio's idempotency key, so
//! concurrent or repeated starts of one order make one Teleaudio transaction (one SMS).

use crate::client::{ClientError, TeleaudioClient};
use crate::store::{self, Transaction};
use crate::wire;
use paysys_platform::money::Currency;
use paysys_proto::{OrderKind, StartRequest};
use sqlx::PgPool;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// "<field>: <why>", as rpc-edge expects.
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Provider(#[from] ClientError),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

#[derive(Clone)]
pub struct Teleaudio {
    pub pool: PgPool,
    pub client: TeleaudioClient,
}

fn invalid(field: &str, why: &str) -> StartError {
    StartError::Invalid(format!("{field}: {why}"))
}

impl Teleaudio {
    pub async fn start(&self, r: &StartRequest) -> Result<Transaction, StartError> {
        let kind = match OrderKind::try_from(r.kind) {
            Ok(OrderKind::OneTime) => "one_time",
            Ok(OrderKind::Subscription) => "subscription",
            _ => return Err(invalid("kind", "must be one-time or subscription")),
        };
        if r.merchant_id.is_empty() || r.order_id.is_empty() {
            return Err(invalid("trans_ext_id", "required"));
        }
        let currency = Currency::parse(&r.currency).map_err(|e| invalid("payment.currency", &e))?;
        if currency.as_str() != "PLN" {
            return Err(invalid("payment.currency", "Teleaudio charges PLN only"));
        }
        let customer = r.customer.clone().unwrap_or_default();
        let msisdn = customer.phone.trim_start_matches('+').to_string();
        if msisdn.len() < 9 || msisdn.len() > 15 || !msisdn.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid(
                "customer.phone",
                "required: Teleaudio bills this phone number",
            ));
        }
        // Seed 001: the service is named per article (`teleaudio_service_id`); a channel may set it too.
        let service_id = r
            .article_config
            .get("teleaudio_service_id")
            .or_else(|| r.channel_config.get("teleaudio_service_id"))
            .or_else(|| r.channel_config.get("service_id"))
            .cloned()
            .unwrap_or_default();
        if kind == "subscription" && service_id.is_empty() {
            return Err(invalid(
                "articles[0].config",
                "teleaudio_service_id is required for a Teleaudio subscription",
            ));
        }
        if kind == "one_time" && r.amount_minor <= 0 {
            return Err(invalid("articles", "the amount must be greater than zero"));
        }
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO transactions (reference, merchant_id, order_id, channel_id, kind, amount_minor, currency, service_id, msisdn, user_id, user_email, provider_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, '') ON CONFLICT (merchant_id, order_id) DO NOTHING",
        )
        .bind(uuid::Uuid::now_v7())
        .bind(&r.merchant_id)
        .bind(&r.order_id)
        .bind(&r.channel_id)
        .bind(kind)
        .bind(r.amount_minor)
        .bind(currency.as_str())
        .bind(&service_id)
        .bind(&msisdn)
        .bind(&customer.ext_id)
        .bind(&customer.email)
        .execute(&mut *tx)
        .await?;
        let row = sqlx::query(&format!(
            "SELECT {} FROM transactions WHERE merchant_id = $1 AND order_id = $2 FOR UPDATE",
            store::COLUMNS
        ))
        .bind(&r.merchant_id)
        .bind(&r.order_id)
        .fetch_one(&mut *tx)
        .await?;
        let mut t = store::from_row(&row);
        if !t.provider_id.is_empty() {
            return Ok(t);
        }
        if kind == "subscription" {
            let created: wire::SubscriptionCreated = self
                .client
                .post(
                    "/subscriptions",
                    &wire::CreateSubscription {
                        reference: t.reference.to_string(),
                        service_id: t.service_id.clone(),
                        msisdn: t.msisdn.clone(),
                        amount: t.amount_minor,
                        currency: t.currency.clone(),
                        return_url: r.return_url.clone(),
                    },
                )
                .await?;
            t.provider_id = created.subscription_id;
            t.redirect_url = created.confirm_url;
        } else {
            let started: wire::WebbillingStarted = self
                .client
                .post(
                    "/webbilling",
                    &wire::StartWebbilling {
                        reference: t.reference.to_string(),
                        service_id: t.service_id.clone(),
                        msisdn: t.msisdn.clone(),
                        amount: t.amount_minor,
                        currency: t.currency.clone(),
                    },
                )
                .await?;
            t.provider_id = started.transaction_id;
        }
        sqlx::query("UPDATE transactions SET provider_id = $2, redirect_url = $3, updated_at = now() WHERE reference = $1")
            .bind(t.reference)
            .bind(&t.provider_id)
            .bind(&t.redirect_url)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        metrics::counter!("paysys_teleaudio_starts_total", "kind" => kind).increment(1);
        tracing::info!(order_id = %t.order_id, provider_id = %t.provider_id, kind, "Teleaudio transaction started");
        Ok(t)
    }
}
