//! gRPC `PaymentProvider` for Mobiltek: `Start` builds the PPE link of seed 000 (idempotent per
//! merchant order), `Unsubscribe` asks Mobiltek and returns its answer verbatim (seed 000).

use crate::config::MobiltekSettings;
use crate::store::{self, Inserted, Kind, State, Transaction};
use crate::wire::{self, PpeLink, UnsubscribeAnswer};
use paysys_platform::money::{Currency, Money};
use paysys_proto::payment_provider_server::PaymentProvider;
use paysys_proto::{
    ConfirmRequest, ConfirmResponse, OrderKind, StartRequest, StartResponse, UnsubscribeRequest,
    UnsubscribeResponse,
};
use secrecy::ExposeSecret;
use sqlx::PgPool;
use std::time::Duration;
use tonic::{Request, Response, Status};

pub struct MobiltekProvider {
    pub pool: PgPool,
    pub settings: MobiltekSettings,
    pub http: reqwest::Client,
}

/// "<field>: <why>": rpc-edge turns this into `-32602` naming the merchant's field.
fn invalid(field: &str, why: impl std::fmt::Display) -> Status {
    Status::invalid_argument(format!("{field}: {why}"))
}

fn db(e: sqlx::Error) -> Status {
    tracing::error!(error = %e, "database error");
    Status::internal("database error")
}

/// A validated Start request.
struct Order {
    kind: Kind,
    price: Money,
    msisdn: String,
    service_id: String,
    user_ip: String,
    return_url: String,
}

fn validate(r: &StartRequest, default_service_id: &str) -> Result<Order, Status> {
    let kind = match OrderKind::try_from(r.kind) {
        Ok(OrderKind::OneTime) => Kind::OneTime,
        Ok(OrderKind::Subscription) => Kind::Subscription,
        _ => return Err(invalid("kind", "must be one-time or subscription")),
    };
    if r.merchant_id.is_empty() {
        return Err(invalid("merchant_id", "required"));
    }
    if r.order_id.is_empty() || r.order_id.len() > 128 {
        return Err(invalid("trans_ext_id", "required, at most 128 characters"));
    }
    let currency = Currency::parse(&r.currency).map_err(|e| invalid("payment.currency", e))?;
    if currency.as_str() != "PLN" {
        return Err(invalid("payment.currency", "Mobiltek charges PLN only"));
    }
    if r.amount_minor <= 0 {
        return Err(invalid("articles", "the amount must be greater than zero"));
    }
    let phone = r.customer.as_ref().map(|c| c.phone.as_str()).unwrap_or("");
    // Seed 000 sends `48501123123`; a leading `+` is harmless. Empty: the page asks for it.
    let msisdn = phone.trim().trim_start_matches('+').to_string();
    if !msisdn.is_empty() && !wire::is_msisdn(&msisdn) {
        return Err(invalid(
            "customer.phone",
            "must be an international number of 9 to 15 digits, e.g. 48501123123",
        ));
    }
    let service_id = r
        .channel_config
        .get("service_id")
        .filter(|s| !s.is_empty())
        .cloned()
        .unwrap_or_else(|| default_service_id.to_string());
    if !service_id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(
            "payment.channel_id",
            format!("the channel's Mobiltek service_id {service_id:?} is not numeric"),
        ));
    }
    let user_ip = r.client_ip.trim().to_string();
    if !user_ip.is_empty() && user_ip.parse::<std::net::IpAddr>().is_err() {
        return Err(invalid("client_ip", "not an IP address"));
    }
    let return_url = r.return_url.trim().to_string();
    if !return_url.is_empty()
        && !url::Url::parse(&return_url).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
    {
        return Err(invalid("next_url", "must be an http(s) URL"));
    }
    Ok(Order {
        kind,
        price: Money::new(r.amount_minor, currency),
        msisdn,
        service_id,
        user_ip,
        return_url,
    })
}

/// The deadline the caller gave this call (`grpc-timeout`: digits and a unit, gRPC over HTTP/2).
fn caller_deadline<T>(req: &Request<T>) -> Option<Duration> {
    let v = req.metadata().get("grpc-timeout")?.to_str().ok()?;
    let (n, unit) = v.split_at(v.len().checked_sub(1)?);
    let n: u64 = n.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n * 3600),
        "M" => Duration::from_secs(n * 60),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

#[tonic::async_trait]
impl PaymentProvider for MobiltekProvider {
    async fn start(&self, req: Request<StartRequest>) -> Result<Response<StartResponse>, Status> {
        let r = req.into_inner();
        let order = validate(&r, &self.settings.default_service_id)?;
        let customer = r.customer.clone().unwrap_or_default();
        // A retried Start (same merchant order) gets the link it got the first time.
        let mut existing = store::by_order(&self.pool, &r.merchant_id, &r.order_id)
            .await
            .map_err(db)?;
        for _ in 0..5 {
            if let Some(t) = existing.take() {
                if t.kind != order.kind
                    || t.amount_minor != order.price.minor
                    || t.channel_id != r.channel_id
                {
                    return Err(invalid(
                        "trans_ext_id",
                        "already used for a different payment of this merchant",
                    ));
                }
                return Ok(Response::new(StartResponse {
                    redirect_url: t.redirect_url,
                    provider_ref: t.transaction_id,
                }));
            }
            let transaction_id = store::new_transaction_id();
            let link = PpeLink {
                msisdn: order.msisdn.clone(),
                transaction_id: transaction_id.clone(),
                service_id: order.service_id.clone(),
                price: order.price,
                product: r.product_name.clone(),
                user_ip: order.user_ip.clone(),
                user_id: customer.ext_id.clone(),
                // Seed 000 sends the merchant's next_url as both.
                return_url: order.return_url.clone(),
                error_url: order.return_url.clone(),
                subscription: order.kind == Kind::Subscription,
            };
            let t = Transaction {
                redirect_url: link.url(
                    &self.settings.base_url,
                    self.settings.secret.expose_secret(),
                ),
                transaction_id,
                merchant_id: r.merchant_id.clone(),
                order_id: r.order_id.clone(),
                channel_id: r.channel_id.clone(),
                kind: order.kind,
                amount_minor: order.price.minor,
                currency: order.price.currency.as_str().to_string(),
                service_id: order.service_id.clone(),
                msisdn: order.msisdn.clone(),
                user_id: customer.ext_id.clone(),
                user_email: customer.email.clone(),
                state: State::Pending,
                charges_count: 0,
            };
            match store::insert_or_get(&self.pool, &t).await.map_err(db)? {
                Inserted::New(t) => {
                    metrics::counter!("paysys_mobiltek_starts_total", "kind" => t.kind.as_str())
                        .increment(1);
                    tracing::info!(transaction_id = %t.transaction_id, kind = t.kind.as_str(), "Mobiltek transaction started");
                    return Ok(Response::new(StartResponse {
                        redirect_url: t.redirect_url,
                        provider_ref: t.transaction_id,
                    }));
                }
                // A concurrent Start of the same order won: answer what it stored.
                Inserted::Existing(t) => existing = Some(t),
                Inserted::IdTaken => {}
            }
        }
        Err(Status::internal(
            "could not allocate a Mobiltek transaction id",
        ))
    }

    async fn unsubscribe(
        &self,
        req: Request<UnsubscribeRequest>,
    ) -> Result<Response<UnsubscribeResponse>, Status> {
        // Answer before the caller gives up, so it sees our clear UNAVAILABLE, not a bare
        // DEADLINE_EXCEEDED.
        let configured = Duration::from_millis(self.settings.request_timeout_ms);
        let timeout = caller_deadline(&req)
            .map(|d| d.saturating_sub(Duration::from_millis(250)))
            .map_or(configured, |d| d.min(configured))
            .max(Duration::from_millis(100));
        let r = req.into_inner();
        let t = store::by_order(&self.pool, &r.merchant_id, &r.order_id)
            .await
            .map_err(db)?
            .filter(|t| t.kind == Kind::Subscription)
            .ok_or_else(|| Status::not_found("no Mobiltek subscription for this order"))?;
        // Whatever our state, Mobiltek decides: a pending or cancelled subscription gets its
        // own answer (seed 000: `ERROR\n4321:Subscriber not found`), passed on verbatim.
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
        // Not idempotent at Mobiltek: sent once, never retried automatically.
        let sent = self
            .http
            .post(&url)
            .timeout(timeout)
            .form(&[
                ("service_id", t.service_id.as_str()),
                ("transaction_id", t.transaction_id.as_str()),
                ("msisdn", t.msisdn.as_str()),
                ("hash", hash.as_str()),
            ])
            .send()
            .await;
        let resp = sent.map_err(|e| {
            let why = if e.is_timeout() {
                format!("no answer within {} ms", timeout.as_millis())
            } else {
                "cannot connect".to_string()
            };
            tracing::warn!(transaction_id = %t.transaction_id, error = %e, "Mobiltek unsubscribe failed");
            Status::unavailable(format!(
                "Mobiltek unsubscribe failed: {why}; it may or may not have happened, check before retrying"
            ))
        })?;
        let status = resp.status();
        let answer = resp.text().await.map_err(|e| {
            Status::unavailable(format!("Mobiltek unsubscribe answer unreadable: {e}"))
        })?;
        if status.is_server_error() {
            tracing::warn!(transaction_id = %t.transaction_id, %status, "Mobiltek unsubscribe failed");
            return Err(Status::unavailable(format!(
                "Mobiltek unsubscribe failed: HTTP {status}"
            )));
        }
        let parsed = UnsubscribeAnswer::parse(&answer);
        let ok = status.is_success() && parsed.succeeded();
        tracing::info!(transaction_id = %t.transaction_id, ok, code = ?parsed.code, "Mobiltek unsubscribe answered");
        Ok(Response::new(UnsubscribeResponse {
            provider_answer: answer,
            ok,
        }))
    }

    /// Mobiltek confirms on its own page (phone, PIN); there is no code to confirm through us.
    async fn confirm(
        &self,
        _req: Request<ConfirmRequest>,
    ) -> Result<Response<ConfirmResponse>, Status> {
        Err(Status::unimplemented(
            "Mobiltek payments are confirmed on Mobiltek's page",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use paysys_proto::Customer;

    fn seed_request() -> StartRequest {
        StartRequest {
            merchant_id: "1".into(),
            order_id: "cab3131a-dec7-49cc-8607-0121a61d3427".into(),
            channel_id: "18912".into(),
            kind: OrderKind::OneTime as i32,
            amount_minor: 10,
            currency: "PLN".into(),
            product_name: "test product".into(),
            client_ip: "127.0.0.1".into(),
            return_url: "http://onet.pl".into(),
            customer: Some(Customer {
                ext_id: "1234qwera".into(),
                phone: "48501123123".into(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn field_of(r: StartRequest) -> String {
        let s = validate(&r, "30576").err().expect("refused");
        assert_eq!(s.code(), tonic::Code::InvalidArgument);
        s.message().split(':').next().unwrap().to_string()
    }

    #[test]
    fn seed_000_request_is_valid() {
        let o = validate(&seed_request(), "30576").unwrap();
        assert_eq!(
            (o.msisdn.as_str(), o.service_id.as_str()),
            ("48501123123", "30576")
        );
        assert_eq!(o.price.to_decimal_trimmed(), "0.1");
    }

    #[test]
    fn invalid_inputs_name_their_field() {
        let mut r = seed_request();
        r.amount_minor = 0;
        assert_eq!(field_of(r), "articles");
        let mut r = seed_request();
        r.currency = "EUR".into();
        assert_eq!(field_of(r), "payment.currency");
        let mut r = seed_request();
        r.customer.as_mut().unwrap().phone = "501-123-123".into();
        assert_eq!(field_of(r), "customer.phone");
        let mut r = seed_request();
        r.kind = 0;
        assert_eq!(field_of(r), "kind");
        let mut r = seed_request();
        r.client_ip = "localhost".into();
        assert_eq!(field_of(r), "client_ip");
        let mut r = seed_request();
        r.return_url = "javascript:alert(1)".into();
        assert_eq!(field_of(r), "next_url");
        let mut r = seed_request();
        r.channel_config.insert("service_id".into(), "abc".into());
        assert_eq!(field_of(r), "payment.channel_id");
    }

    #[test]
    fn caller_deadline_is_read_from_grpc_timeout() {
        let mut req = Request::new(());
        assert_eq!(caller_deadline(&req), None);
        req.metadata_mut()
            .insert("grpc-timeout", "9999m".parse().unwrap());
        assert_eq!(caller_deadline(&req), Some(Duration::from_millis(9999)));
        req.metadata_mut()
            .insert("grpc-timeout", "10S".parse().unwrap());
        assert_eq!(caller_deadline(&req), Some(Duration::from_secs(10)));
    }
}
