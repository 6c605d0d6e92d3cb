//! `PaymentProvider` implemented ONCE, over the `Provider` trait: validation, idempotent Start
//! (claim the order, commit, call the provider, record: no transaction or row lock is held
//! across the provider's network call), and the optional methods with the same codes from every
//! adapter (crate::error).

use crate::callback::{Claim, Outcome, Pipeline};
use crate::error::ProviderError;
use crate::machine::ClaimKind;
use crate::machine::State;
use crate::order::StartOrder;
use crate::provider::{Confirmed, Provider, RecurrenceChange};
use crate::store::{self, Claimed, Order};
use paysys_platform::domain::OrderKind;
use paysys_platform::money::Money;
use paysys_proto::change_recurrence_request::Change;
use paysys_proto::payment_provider_server::PaymentProvider;
use paysys_proto::{
    Capabilities, ChangeRecurrenceRequest, ChangeRecurrenceResponse, ConfirmRequest,
    ConfirmResponse, DescribeRequest, RefreshRequest, RefreshResponse, StartRequest, StartResponse,
    UnsubscribeRequest, UnsubscribeResponse,
};
use sqlx::PgPool;
use std::sync::Arc;
use tonic::{Request, Response, Status};

/// The kit's core, shared by the gRPC service and the command consumer.
#[derive(Clone)]
pub struct Kit {
    pub pool: PgPool,
    pub provider: Arc<dyn Provider>,
    pub pipeline: Pipeline,
    /// `[adapter] cancel_confirm_timeout_secs`.
    pub cancel_confirm_timeout_secs: u64,
}

impl Kit {
    /// Starts an order once: a retried Start gets the first answer; the same order id with
    /// another content is refused.
    pub async fn start(&self, r: &StartRequest) -> Result<Order, ProviderError> {
        let order = StartOrder::parse(r)?;
        let caps = self.provider.capabilities();
        if !caps.currencies.is_empty() && !caps.currencies.contains(&order.price.currency.as_str())
        {
            return Err(ProviderError::invalid(
                "payment.currency",
                format!(
                    "{} charges {} only",
                    self.provider.name(),
                    caps.currencies.join(", ")
                ),
            ));
        }
        if order.test && !caps.test_environment {
            return Err(ProviderError::invalid(
                "test",
                format!(
                    "{} has no test environment configured",
                    self.provider.name()
                ),
            ));
        }
        if let Some(key) = order
            .order_config
            .keys()
            .find(|k| !caps.order_config_keys.contains(&k.as_str()))
        {
            return Err(ProviderError::invalid(
                format!("payment.config.{key}"),
                format!(
                    "{} takes no per-order setting {key:?}",
                    self.provider.name()
                ),
            ));
        }
        let prepared = self.provider.prepare(&order)?;
        let fingerprint = order.fingerprint();
        let mut details = prepared.details;
        details.insert("user_id".into(), order.customer.ext_id.clone().into());
        details.insert("user_email".into(), order.customer.email.clone().into());
        let mut stored = None;
        for _ in 0..5 {
            let row = Order {
                reference: self.provider.new_reference(),
                merchant_id: order.merchant_id.clone(),
                order_id: order.order_id.as_str().to_string(),
                channel_id: order.channel_id.clone(),
                kind: order.kind,
                price: order.price,
                current_price: order.price,
                previous_price: None,
                pending_price: None,
                trace_context: Default::default(),
                payments_no: prepared.payments_no,
                test: order.test,
                fingerprint: fingerprint.clone(),
                details: details.clone(),
                provider_ref: String::new(),
                redirect_url: String::new(),
                started: false,
                state: State::Pending,
                charges_count: 0,
                failed_count: 0,
                expires_at: (r.validity_secs > 0).then(|| {
                    chrono::Utc::now() + chrono::Duration::seconds(i64::from(r.validity_secs))
                }),
            };
            match store::claim(&self.pool, &row).await? {
                Claimed::New(o) | Claimed::Existing(o) => {
                    stored = Some(o);
                    break;
                }
                Claimed::ReferenceTaken => continue,
            }
        }
        let stored = stored.ok_or_else(|| {
            ProviderError::Internal(anyhow::anyhow!("could not allocate an order reference"))
        })?;
        // Orders moved from the adapters' tables before the kit have no fingerprint ("migrated",
        // see migrations/<provider>/20261130000100_onto_adapter_kit.sql); the edge, which keeps
        // the merchant's request fingerprint, still refuses a reused id with other content.
        if stored.fingerprint != fingerprint && stored.fingerprint != "migrated" {
            return Err(ProviderError::invalid(
                "trans_ext_id",
                "already used for a different payment of this merchant",
            ));
        }
        if stored.started {
            return Ok(stored);
        }
        // Committed before the call: a slow provider holds no connection or lock of ours.
        let started = self.provider.start(&stored).await?;
        let order = store::record_started(
            &self.pool,
            &stored.reference,
            &started.provider_ref,
            &started.redirect_url,
            &started.details,
        )
        .await?;
        metrics::counter!("paysys_adapter_starts_total", "provider" => self.provider.name(), "kind" => order.kind.as_str()).increment(1);
        tracing::info!(provider = self.provider.name(), reference = %order.reference, kind = order.kind.as_str(), "order started");
        Ok(order)
    }

    async fn order(&self, merchant_id: &str, order_id: &str) -> Result<Order, ProviderError> {
        store::by_order(&self.pool, merchant_id, order_id)
            .await?
            .ok_or_else(|| {
                ProviderError::NotFound(format!("no {} order {order_id}", self.provider.name()))
            })
    }

    async fn subscription(
        &self,
        merchant_id: &str,
        order_id: &str,
    ) -> Result<Order, ProviderError> {
        let o = self.order(merchant_id, order_id).await?;
        if o.kind != OrderKind::Subscription {
            return Err(ProviderError::NotFound(format!(
                "no {} subscription {order_id}",
                self.provider.name()
            )));
        }
        Ok(o)
    }

    /// Expires the orders whose `payment.validity_time` passed unfinished: `payment_failed` with
    /// failure_reason `expired`, through the same pipeline as callbacks (so a payment that
    /// arrived meanwhile wins). Returns how many expired.
    pub async fn expire_due(&self) -> anyhow::Result<usize> {
        let due = store::expired(&self.pool, 100).await?;
        let mut expired = 0;
        for reference in due {
            let mut claim = Claim::new(
                store::Lookup::Reference(reference.clone()),
                format!("expired:{reference}"),
                ClaimKind::Expired,
            );
            claim.failure_reason = crate::machine::EXPIRED.into();
            claim.raw = serde_json::json!({ "expired": true });
            match self.pipeline.apply(None, &[claim]).await {
                Outcome::Applied => expired += 1,
                Outcome::Failed => anyhow::bail!("could not record an expiry"),
                _ => {}
            }
        }
        Ok(expired)
    }

    /// Ends the cancellations the provider never confirmed within the configured time:
    /// `subscription.cancelled`, with the reason. Returns how many.
    pub async fn reconcile_cancellations(&self) -> anyhow::Result<usize> {
        let due =
            store::cancelling_overdue(&self.pool, self.cancel_confirm_timeout_secs, 100).await?;
        let mut ended = 0;
        for reference in due {
            let mut claim = Claim::new(
                store::Lookup::Reference(reference.clone()),
                format!("cancel-reconciled:{reference}"),
                ClaimKind::Cancelled,
            );
            claim.failure_reason = format!(
                "unsubscribed; the provider did not confirm within {} s, so reconciliation ended it",
                self.cancel_confirm_timeout_secs
            );
            claim.raw = serde_json::json!({ "reconciled": true });
            match self.pipeline.apply(None, &[claim]).await {
                Outcome::Applied => ended += 1,
                Outcome::Failed => anyhow::bail!("could not record a reconciled cancellation"),
                _ => {}
            }
        }
        Ok(ended)
    }

    /// Ends an order whose start the provider refused for good: failed, and the merchant is
    /// told (`payment.failed`, or `subscription.charge_failed` for a subscription), through the
    /// same pipeline as callbacks.
    pub async fn fail_unstarted(
        &self,
        merchant_id: &str,
        order_id: &str,
        reason: &str,
    ) -> anyhow::Result<()> {
        let Some(order) = store::by_order(&self.pool, merchant_id, order_id).await? else {
            return Ok(());
        };
        if order.state != State::Pending || order.started {
            return Ok(());
        }
        let kind = if order.kind == OrderKind::OneTime {
            ClaimKind::PaymentFailed
        } else {
            ClaimKind::ChargeFailed
        };
        let mut claim = Claim::new(
            store::Lookup::Reference(order.reference.clone()),
            format!("start-refused:{}", order.reference),
            kind,
        );
        claim.failure_reason = reason.to_string();
        claim.raw = serde_json::json!({ "start_refused": reason });
        if self.pipeline.apply(None, &[claim]).await == Outcome::Failed {
            anyhow::bail!("could not record the refused start");
        }
        Ok(())
    }
}

/// The gRPC face of the kit.
pub struct Service(pub Kit);

#[tonic::async_trait]
impl PaymentProvider for Service {
    async fn describe(
        &self,
        _req: Request<DescribeRequest>,
    ) -> Result<Response<Capabilities>, Status> {
        let p = &self.0.provider;
        let c = p.capabilities();
        Ok(Response::new(Capabilities {
            provider: p.name().into(),
            async_one_time: c.async_one_time,
            confirm: c.confirm,
            unsubscribe: c.unsubscribe,
            change_recurrence: c.change_recurrence,
            refresh: c.refresh,
            order_config_keys: c.order_config_keys.iter().map(|s| s.to_string()).collect(),
            test_environment: c.test_environment,
            currencies: c.currencies.iter().map(|s| s.to_string()).collect(),
        }))
    }

    async fn start(&self, req: Request<StartRequest>) -> Result<Response<StartResponse>, Status> {
        let o = self.0.start(req.get_ref()).await?;
        Ok(Response::new(StartResponse {
            redirect_url: o.redirect_url,
            provider_ref: if o.provider_ref.is_empty() {
                o.reference
            } else {
                o.provider_ref
            },
        }))
    }

    async fn unsubscribe(
        &self,
        req: Request<UnsubscribeRequest>,
    ) -> Result<Response<UnsubscribeResponse>, Status> {
        let r = req.into_inner();
        let o = self.0.subscription(&r.merchant_id, &r.order_id).await?;
        let ip = match r.client_ip.trim() {
            "" => None,
            ip => Some(ip.parse().map_err(|_| {
                ProviderError::invalid("client_ip", "must be an IPv4 or IPv6 address")
            })?),
        };
        // Whatever our state, the provider decides and its answer is passed on (seed 000).
        let a = self.0.provider.unsubscribe(&o, ip).await?;
        if a.ok {
            // The provider said yes: `cancelling` at once (no later charge is a normal renewal);
            // where its yes is the confirmation itself (Netopia), `cancelled` at once.
            let (key, kind) = if a.ends_subscription {
                (
                    format!("unsubscribed:{}", o.reference),
                    ClaimKind::Cancelled,
                )
            } else {
                (
                    format!("unsubscribe-requested:{}", o.reference),
                    ClaimKind::CancelRequested,
                )
            };
            let mut claim = Claim::new(store::Lookup::Reference(o.reference.clone()), key, kind);
            claim.failure_reason = "unsubscribed by the merchant".into();
            claim.raw = serde_json::json!({ "unsubscribe": a.text });
            if self.0.pipeline.apply(None, &[claim]).await == Outcome::Failed {
                return Err(ProviderError::Internal(anyhow::anyhow!(
                    "the provider cancelled the subscription but it could not be recorded"
                ))
                .into());
            }
        }
        tracing::info!(provider = self.0.provider.name(), reference = %o.reference, ok = a.ok, "unsubscribe answered");
        Ok(Response::new(UnsubscribeResponse {
            provider_answer: a.text,
            ok: a.ok,
        }))
    }

    async fn confirm(
        &self,
        req: Request<ConfirmRequest>,
    ) -> Result<Response<ConfirmResponse>, Status> {
        let r = req.into_inner();
        let o = self.0.order(&r.merchant_id, &r.order_id).await?;
        if !o.started {
            return Err(ProviderError::NotFound("not started at the provider yet".into()).into());
        }
        let answer = self.0.provider.confirm(&o, &r.code).await?;
        metrics::counter!("paysys_adapter_confirms_total", "provider" => self.0.provider.name(), "result" => match &answer { Confirmed::Ok => "ok", Confirmed::Refused(_) => "refused" }).increment(1);
        Ok(Response::new(match answer {
            Confirmed::Ok => ConfirmResponse {
                ok: true,
                error_code: String::new(),
            },
            Confirmed::Refused(code) => ConfirmResponse {
                ok: false,
                error_code: code,
            },
        }))
    }

    async fn change_recurrence(
        &self,
        req: Request<ChangeRecurrenceRequest>,
    ) -> Result<Response<ChangeRecurrenceResponse>, Status> {
        let r = req.into_inner();
        let o = self.0.subscription(&r.merchant_id, &r.order_id).await?;
        if o.state != State::Active {
            return Err(ProviderError::invalid(
                "order_ext_id",
                format!("the subscription is {}, not active", o.state.as_str()),
            )
            .into());
        }
        let change = match r.change {
            Some(Change::PriceMinor(p)) if p > 0 => {
                RecurrenceChange::Price(Money::new(p, o.current_price.currency))
            }
            Some(Change::PriceMinor(_)) => {
                return Err(ProviderError::invalid("price", "must be greater than zero").into())
            }
            Some(Change::NextChargeAt(at)) => RecurrenceChange::NextChargeAt(
                chrono::DateTime::parse_from_rfc3339(&at)
                    .map_err(|_| ProviderError::invalid("date", "not an RFC 3339 time"))?
                    .with_timezone(&chrono::Utc),
            ),
            None => return Err(ProviderError::invalid("change", "required").into()),
        };
        if let RecurrenceChange::Price(p) = &change {
            store::set_pending_price(&self.0.pool, &o.reference, Some(*p))
                .await
                .map_err(ProviderError::from)?;
        }
        let a = match self.0.provider.change_recurrence(&o, &change).await {
            Ok(a) => a,
            Err(e) => {
                // Not changed (as far as we know): a charge at the asked price is no longer
                // expected. Best effort; the next request sets it again.
                if matches!(change, RecurrenceChange::Price(_)) {
                    let _ = store::set_pending_price(&self.0.pool, &o.reference, None).await;
                }
                return Err(e.into());
            }
        };
        if !a.ok && matches!(change, RecurrenceChange::Price(_)) {
            store::set_pending_price(&self.0.pool, &o.reference, None)
                .await
                .map_err(ProviderError::from)?;
        }
        if a.ok {
            match change {
                RecurrenceChange::Price(p) => {
                    store::set_current_price(&self.0.pool, &o.reference, p).await
                }
                RecurrenceChange::NextChargeAt(at) => {
                    let mut d = serde_json::Map::new();
                    d.insert(
                        "next_charge_at".into(),
                        at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true).into(),
                    );
                    store::merge_details(&self.0.pool, &o.reference, &d).await
                }
            }
            .map_err(ProviderError::from)?;
        }
        Ok(Response::new(ChangeRecurrenceResponse {
            provider_answer: a.text,
            ok: a.ok,
        }))
    }

    async fn refresh(
        &self,
        req: Request<RefreshRequest>,
    ) -> Result<Response<RefreshResponse>, Status> {
        let r = req.into_inner();
        let mut o = self.0.order(&r.merchant_id, &r.order_id).await?;
        let (fresh, note) = match self.0.provider.refresh(&o).await {
            Ok(claims) => {
                // The provider's truth is believed as far as it fits, like a callback.
                self.0.pipeline.apply(None, &claims).await;
                o = self.0.order(&r.merchant_id, &r.order_id).await?;
                (true, String::new())
            }
            Err(ProviderError::Unsupported(_)) => (
                false,
                "stored state; the provider offers no status query".to_string(),
            ),
            Err(ProviderError::Unavailable(m)) => (
                false,
                format!("stored state; the provider could not be asked: {m}"),
            ),
            Err(e) => return Err(e.into()),
        };
        let charges = store::charges(&self.0.pool, &o.reference)
            .await
            .map_err(ProviderError::from)?;
        Ok(Response::new(RefreshResponse {
            state: o.state.as_str().into(),
            amount_minor: o.price.minor,
            currency: o.price.currency.as_str().into(),
            charges_count: o.charges_count,
            failed_count: o.failed_count,
            payments_no: o.payments_no,
            current_price_minor: o.current_price.minor,
            fresh,
            note,
            charges,
            test: o.test,
            next_charge_at: o.detail("next_charge_at").to_string(),
        }))
    }
}
