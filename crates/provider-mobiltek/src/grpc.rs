//! gRPC `PaymentProvider` for Mobiltek: `Start` builds the PPE link of seed 000 (idempotent per
//! merchant order), `Unsubscribe` asks Mobiltek and returns its answer verbatim.

use crate::config::MobiltekSettings;
use crate::store::{self, Transaction};
use crate::wire;
use paysys_platform::money::{Currency, Money};
use paysys_proto::payment_provider_server::PaymentProvider;
use paysys_proto::{
    ConfirmRequest, ConfirmResponse, OrderKind, StartRequest, StartResponse, UnsubscribeRequest, UnsubscribeResponse,
};
use secrecy::ExposeSecret;
use sqlx::PgPool;
use tonic::{Request, Response, Status};

pub struct MobiltekProvider {
    pub pool: PgPool,
    pub settings: MobiltekSettings,
    pub http: reqwest::Client,
}

fn invalid(field: &str, why: &str) -> Status {
    // "<field>: <why>": rpc-edge turns this into -32602 naming the field.
    Status::invalid_argument(format!("{field}: {why}"))
}

fn db(e: sqlx::Error) -> Status {
    tracing::error!(error = %e, "database error");
    Status::internal("database error")
}

#[tonic::async_trait]
impl PaymentProvider for MobiltekProvider {
    async fn start(&self, req: Request<StartRequest>) -> Result<Response<StartResponse>, Status> {
        let r = req.into_inner();
        let kind = match OrderKind::try_from(r.kind) {
            Ok(OrderKind::OneTime) => "one_time",
            Ok(OrderKind::Subscription) => "subscription",
            _ => return Err(invalid("kind", "must be one-time or subscription")),
        };
        if r.merchant_id.is_empty() {
            return Err(invalid("merchant_id", "required"));
        }
        if r.order_id.is_empty() {
            return Err(invalid("trans_ext_id", "required"));
        }
        let currency = Currency::parse(&r.currency).map_err(|e| invalid("payment.currency", &e))?;
        if currency.as_str() != "PLN" {
            return Err(invalid("payment.currency", "Mobiltek charges PLN only"));
        }
        if r.amount_minor <= 0 {
            return Err(invalid("articles", "the amount must be greater than zero"));
        }
        let customer = r.customer.clone().unwrap_or_default();
        let msisdn = customer.phone.trim_start_matches('+').to_string();
        if !msisdn.is_empty()
            && (msisdn.len() < 9
                || msisdn.len() > 15
                || !msisdn.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(invalid(
                "customer.phone",
                "must be an international number of 9 to 15 digits",
            ));
        }
        let service_id = r
            .channel_config
            .get("service_id")
            .cloned()
            .unwrap_or_else(|| self.settings.default_service_id.clone());
        if let Some(existing) = store::by_order(&self.pool, &r.merchant_id, &r.order_id)
            .await
            .map_err(db)?
        {
            return Ok(Response::new(StartResponse {
                redirect_url: existing.redirect_url,
                provider_ref: existing.transaction_id,
            }));
        }
        let transaction_id = store::next_transaction_id(&self.pool).await.map_err(db)?;
        let price = Money::new(r.amount_minor, currency).to_decimal_trimmed();
        let mut params: Vec<(&str, String)> = vec![
            ("msisdn", msisdn.clone()),
            ("transaction_id", transaction_id.clone()),
            ("service_id", service_id.clone()),
            ("price", price),
            ("product", r.product_name.clone()),
            ("user_ip", r.client_ip.clone()),
            ("user_id", customer.ext_id.clone()),
            ("return_url", r.return_url.clone()),
            ("error_url", r.return_url.clone()),
        ];
        if kind == "subscription" {
            // Our protocol: the subscription registration page is the PPE page with mode=subscription.
            params.push(("mode", "subscription".to_string()));
        }
        let query = wire::ppe_query(self.settings.secret.expose_secret(), &params);
        let redirect_url = format!(
            "{}/ppe?{query}",
            self.settings.base_url.trim_end_matches('/')
        );
        let stored = store::insert_or_get(
            &self.pool,
            &Transaction {
                transaction_id,
                merchant_id: r.merchant_id,
                order_id: r.order_id,
                channel_id: r.channel_id,
                kind: kind.to_string(),
                amount_minor: r.amount_minor,
                currency: currency.as_str().to_string(),
                service_id,
                msisdn,
                user_id: customer.ext_id,
                user_email: customer.email,
                redirect_url,
                state: "pending".to_string(),
                charges_count: 0,
            },
        )
        .await
        .map_err(db)?;
        metrics::counter!("paysys_mobiltek_starts_total", "kind" => kind).increment(1);
        Ok(Response::new(StartResponse {
            redirect_url: stored.redirect_url,
            provider_ref: stored.transaction_id,
        }))
    }

    async fn unsubscribe(
        &self,
        req: Request<UnsubscribeRequest>,
    ) -> Result<Response<UnsubscribeResponse>, Status> {
        let r = req.into_inner();
        let t = store::by_order(&self.pool, &r.merchant_id, &r.order_id)
            .await
            .map_err(db)?
            .ok_or_else(|| Status::not_found("no such Mobiltek transaction"))?;
        if t.kind != "subscription" {
            return Err(invalid("order_ext_id", "is not a subscription"));
        }
        let hash = wire::unsubscribe_hash(
            self.settings.secret.expose_secret(),
            &t.service_id,
            &t.transaction_id,
            &t.msisdn,
        );
        let url = format!(
            "{}/unsubscribe",
            self.settings.base_url.trim_end_matches('/')
        );
        // Not idempotent at Mobiltek's side: never retried automatically.
        let resp = self
            .http
            .post(&url)
            .form(&[
                ("service_id", t.service_id.as_str()),
                ("transaction_id", t.transaction_id.as_str()),
                ("msisdn", t.msisdn.as_str()),
                ("hash", hash.as_str()),
            ])
            .send()
            .await
            .map_err(|e| {
                Status::unavailable(format!(
                    "Mobiltek unsubscribe failed: {}",
                    if e.is_timeout() {
                        "timeout"
                    } else {
                        "connection error"
                    }
                ))
            })?;
        let status = resp.status();
        let answer = resp
            .text()
            .await
            .map_err(|_| Status::unavailable("Mobiltek answer unreadable"))?;
        if status.is_server_error() {
            return Err(Status::unavailable(format!(
                "Mobiltek answered HTTP {status}"
            )));
        }
        let ok = wire::unsubscribe_succeeded(&answer);
        tracing::info!(transaction_id = %t.transaction_id, ok, "Mobiltek unsubscribe answered");
        Ok(Response::new(UnsubscribeResponse {
            provider_answer: answer,
            ok,
        }))
    }

    /// Mobiltek confirms on its own page (phone, PIN); there is no code to confirm through us.
    async fn confirm(&self, _req: Request<ConfirmRequest>) -> Result<Response<ConfirmResponse>, Status> {
        Err(Status::unimplemented("Mobiltek payments are confirmed on Mobiltek's page"))
    }
}
