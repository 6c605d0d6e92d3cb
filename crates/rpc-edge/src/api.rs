//! The merchant API's method table (DESIGN section 4). Both transports (JSON-RPC over HTTP and
//! the gRPC `PaySystem` service) call `Api::call`.

use crate::auth::Authenticator;
use crate::directory::Directory;
use crate::domain::{OrderRequest, TransExtId};
use crate::jsonrpc::{Call, CallContext, Dispatch, RpcError};
use crate::params::Fields;
use crate::providers::{status_to_rpc, status_to_rpc_uncertain, Providers};
use crate::store;
use futures::future::BoxFuture;
use paysys_proto::{
    Capabilities, ChangeRecurrenceRequest, ConfirmRequest, Customer, OrderKind, StartRequest,
    UnsubscribeRequest,
};
use serde_json::{json, Value};
use sqlx::PgPool;

pub const OPENRPC: &str = include_str!("openrpc.json");

#[derive(Clone)]
pub struct Api {
    pub pool: PgPool,
    pub providers: Providers,
    /// Who is calling: every method but `rpc.discover` authenticates first.
    pub auth: Authenticator,
    pub amqp_queue_prefix: String,
    /// Wakes the outbox relay after a command was stored.
    pub outbox: paysys_platform::outbox::OutboxSignal,
    /// Channels, cached until they change (the same caches as `auth`'s).
    pub directory: Directory,
}

impl Dispatch for Api {
    fn call<'a>(
        &'a self,
        call: &'a Call,
        ctx: &'a CallContext,
    ) -> BoxFuture<'a, Result<Value, RpcError>> {
        Box::pin(async move {
            let started = std::time::Instant::now();
            let out = match call.method.as_str() {
                "rpc.discover" => {
                    serde_json::from_str(OPENRPC).map_err(|e| RpcError::internal(e.to_string()))
                }
                m if MERCHANT_METHODS.contains(&m) => {
                    // Authenticated before its params are read: a stranger's call costs one
                    // lookup per credential and HTTP request, and no parsing.
                    match self.auth.merchant(&call.params, ctx).await {
                        Ok(merchant_id) => self.merchant_call(call, &merchant_id).await,
                        Err(e) => Err(e),
                    }
                }
                m => Err(RpcError::method_not_found(m)),
            };
            let outcome = match &out {
                Ok(_) => "ok".to_string(),
                Err(e) => e.code.to_string(),
            };
            // The label takes only the API's own method names: a name the table above did not
            // know is `unknown`, so made-up names cannot grow /metrics without bound.
            let method = match &out {
                Err(e) if e.code == crate::jsonrpc::METHOD_NOT_FOUND => "unknown".to_string(),
                _ => call.method.clone(),
            };
            metrics::counter!("paysys_rpc_calls_total", "method" => method.clone(), "outcome" => outcome)
                .increment(1);
            metrics::histogram!("paysys_rpc_duration_seconds", "method" => method)
                .record(started.elapsed().as_secs_f64());
            out
        })
    }
}

/// The methods a merchant calls; each authenticates its caller first.
const MERCHANT_METHODS: &[&str] = &[
    "set_transaction_sync",
    "set_subscription",
    "unsubscribe",
    "get_transaction_status",
    "get_channels_list",
    "set_transaction",
    "confirm_teleaudio_payment",
    "modify_subscription_price",
    "move_subscription_payment",
];

/// What the channel's adapter needs to start the payment (gRPC `Start`, or a queued command).
/// `payment.config` may set only the per-order keys the provider declared; the channel's own
/// settings belong to the operator.
fn start_request(
    req: &OrderRequest,
    channel: &store::Channel,
    kind: OrderKind,
    caps: &Capabilities,
) -> Result<StartRequest, RpcError> {
    let amount = req.amount();
    let mut order_config = std::collections::BTreeMap::new();
    let mut refused = Vec::new();
    for (k, v) in &req.payment_config {
        if caps.order_config_keys.iter().any(|d| d == k) {
            order_config.insert(k.clone(), v.clone());
        } else {
            refused.push((
                format!("payment.config.{k}"),
                if caps.order_config_keys.is_empty() {
                    format!("provider {} takes no per-order settings; channel settings are the operator's", channel.provider)
                } else {
                    format!(
                        "not a per-order setting of provider {} (allowed: {}); channel settings are the operator's",
                        channel.provider,
                        caps.order_config_keys.join(", ")
                    )
                },
            ));
        }
    }
    // Seed 001 names the Teleaudio service per article; a value the channel's own setting does
    // not have would bill under another (or pricier) service: refused, naming it.
    for (i, a) in req.articles.iter().enumerate() {
        for (k, v) in &a.config {
            if channel.config.get(k).is_some_and(|set| set != v) {
                refused.push((
                    format!("articles[{i}].config.{k}"),
                    format!(
                        "channel {} sets {k} itself; a request cannot change it",
                        channel.id
                    ),
                ));
            }
        }
    }
    if !refused.is_empty() {
        return Err(RpcError::invalid_fields(refused));
    }
    let c = &req.customer;
    Ok(StartRequest {
        merchant_id: req.merchant_id.clone(),
        order_id: req.trans_ext_id.as_str().to_string(),
        channel_id: channel.id.clone(),
        kind: kind as i32,
        amount_minor: amount.minor,
        currency: req.currency.as_str().to_string(),
        product_name: req.product_name(),
        client_ip: req.client_ip.clone().unwrap_or_default(),
        return_url: req.next_url.clone().unwrap_or_default(),
        customer: Some(Customer {
            ext_id: c.ext_id.clone().unwrap_or_default(),
            email: c.email.clone().unwrap_or_default(),
            phone: c
                .phone
                .as_ref()
                .map(|p| p.as_str().to_string())
                .unwrap_or_default(),
            firstname: c.firstname.clone().unwrap_or_default(),
            lastname: c.lastname.clone().unwrap_or_default(),
        }),
        channel_config: channel.config.clone().into_iter().collect(),
        article_config: req.article_config().into_iter().collect(),
        test: req.test,
        order_config: order_config.into_iter().collect(),
        validity_secs: req
            .validity_time
            .and_then(|v| u32::try_from(v).ok())
            .unwrap_or(0),
    })
}

impl Api {
    /// A merchant method, its caller authenticated as `merchant_id`.
    async fn merchant_call(&self, call: &Call, merchant_id: &str) -> Result<Value, RpcError> {
        match call.method.as_str() {
            "set_transaction_sync" => self.start(call, merchant_id, OrderKind::OneTime).await,
            "set_subscription" => self.start(call, merchant_id, OrderKind::Subscription).await,
            "unsubscribe" => self.unsubscribe(call, merchant_id).await,
            "get_transaction_status" => self.status(call, merchant_id).await,
            "get_channels_list" => self.channels(merchant_id).await,
            "set_transaction" => self.start_async(call, merchant_id).await,
            "confirm_teleaudio_payment" => self.confirm_teleaudio(call, merchant_id).await,
            "modify_subscription_price" | "move_subscription_payment" => {
                self.recurrence_change(call, merchant_id).await
            }
            m => Err(RpcError::method_not_found(m)),
        }
    }

    /// Parses an order request of the authenticated merchant (the `merchant_id` it names).
    fn order_request(call: &Call, merchant_id: &str) -> Result<OrderRequest, RpcError> {
        let req = OrderRequest::parse(&call.params)?;
        if req.merchant_id != merchant_id {
            // Only when the secret named the merchant and merchant_id was then spelled otherwise.
            return Err(RpcError::unauthorized());
        }
        Ok(req)
    }

    /// Loads the channel an order request names, which must be this merchant's, of `kind`
    /// (for `call.method`), and take the request's currency; a one-time payment must also
    /// cost something.
    async fn authorized_channel(
        &self,
        call: &Call,
        req: &OrderRequest,
        kind: OrderKind,
    ) -> Result<store::Channel, RpcError> {
        let want_kind = if kind == OrderKind::Subscription {
            "subscription"
        } else {
            "one_time"
        };
        let fits = |channel: &store::Channel| {
            if channel.kind != want_kind {
                return Err(RpcError::invalid_field(
                    "payment.channel_id",
                    format!(
                        "channel {} is a {} channel; {} needs a {} channel",
                        channel.id, channel.kind, call.method, want_kind
                    ),
                ));
            }
            if channel.currency.trim() != req.currency.as_str() {
                return Err(RpcError::invalid_field(
                    "payment.currency",
                    format!("channel {} takes {}", channel.id, channel.currency.trim()),
                ));
            }
            Ok(())
        };
        // A cached channel that does not fit is read again: only the database's is refused.
        let channel = self
            .directory
            .channel(&self.pool, &req.merchant_id, &req.channel_id, |c| {
                fits(c).is_ok()
            })
            .await
            .map_err(RpcError::database)?
            .ok_or_else(|| {
                RpcError::invalid_field("payment.channel_id", "no such channel for this merchant")
            })?;
        fits(&channel)?;
        if kind == OrderKind::OneTime && req.amount().minor <= 0 {
            return Err(RpcError::invalid_field(
                "articles",
                "the amount to pay must be greater than zero",
            ));
        }
        Ok(channel)
    }

    /// `set_transaction_sync` and `set_subscription`: validate, authenticate, claim the
    /// trans_ext_id, ask the channel's adapter for the redirect, remember the answer.
    async fn start(
        &self,
        call: &Call,
        merchant_id: &str,
        kind: OrderKind,
    ) -> Result<Value, RpcError> {
        let req = Self::order_request(call, merchant_id)?;
        let channel = self.authorized_channel(call, &req, kind).await?;
        let amount = req.amount();
        let client = self
            .providers
            .get(&channel.provider, "payment.channel_id", &channel.id)?;
        let caps = self.providers.capabilities(&channel.provider).await?;
        if kind == OrderKind::OneTime && caps.async_one_time {
            return Err(RpcError::invalid_field(
                "payment.channel_id",
                format!(
                    "channel {} ({}) takes asynchronous, code-confirmed payments: use set_transaction",
                    channel.id, channel.provider
                ),
            ));
        }
        let start = start_request(&req, &channel, kind, &caps)?;
        let fingerprint = req.fingerprint(&call.method);
        let (_, order) = store::insert_or_get_order(
            &self.pool,
            store::NewOrder {
                merchant_id: &req.merchant_id,
                trans_ext_id: req.trans_ext_id.as_str(),
                method: &call.method,
                channel: &channel,
                amount_minor: amount.minor,
                currency: req.currency.as_str(),
                fingerprint: &fingerprint,
                test: req.test,
            },
        )
        .await
        .map_err(RpcError::database)?;
        if order.fingerprint != fingerprint {
            return Err(RpcError::invalid_field(
                "trans_ext_id",
                "already used by this merchant for a different request; use a new trans_ext_id",
            ));
        }
        if let Some(resp) = order.response {
            return Ok(resp);
        }
        // No stored answer: first call, or a retry after a failure. Adapters are idempotent on
        // (merchant_id, order_id), so asking again returns the same redirect.
        let mut client = client;
        let started = match client.start(start).await {
            Ok(r) => r.into_inner(),
            Err(s) => {
                if s.code() == tonic::Code::InvalidArgument {
                    // The adapter refused the order before anything happened at the provider:
                    // bad input stores nothing, so the id stays free for a corrected request.
                    store::forget_unanswered_order(
                        &self.pool,
                        &req.merchant_id,
                        req.trans_ext_id.as_str(),
                    )
                    .await
                    .map_err(RpcError::database)?;
                }
                return Err(status_to_rpc(&channel.provider, s));
            }
        };
        let resp = json!({
            "status": "1",
            "data": { "redirect_url": started.redirect_url, "action_type": "REDIRECT_USER" }
        });
        store::save_response(
            &self.pool,
            &req.merchant_id,
            req.trans_ext_id.as_str(),
            &resp,
            &started.provider_ref,
        )
        .await
        .map_err(RpcError::database)?;
        Ok(resp)
    }

    /// The order of this merchant named by `field` (another merchant's order is "unknown").
    async fn own_order(
        &self,
        merchant_id: &str,
        params: &Value,
        field: &str,
    ) -> Result<store::Order, RpcError> {
        let mut f = Fields::new();
        let id = f.string(params, field, field, 64);
        f.finish()?;
        let id = id.unwrap_or_default();
        TransExtId::parse(&id).map_err(|e| RpcError::invalid_field(field, e))?;
        store::order(&self.pool, merchant_id, &id)
            .await
            .map_err(RpcError::database)?
            .ok_or_else(|| RpcError::invalid_field(field, "no such order for this merchant"))
    }

    async fn unsubscribe(&self, call: &Call, merchant_id: &str) -> Result<Value, RpcError> {
        let mut f = Fields::new();
        let client_ip = f.opt_string(&call.params, "client_ip", "client_ip", 45);
        if let Some(ip) = &client_ip {
            if ip.parse::<std::net::IpAddr>().is_err() {
                f.fail("client_ip", "must be an IPv4 or IPv6 address");
            }
        }
        f.finish()?;
        let order = self
            .own_order(merchant_id, &call.params, "order_ext_id")
            .await?;
        if order.kind != "subscription" {
            return Err(RpcError::invalid_field(
                "order_ext_id",
                "is not a subscription",
            ));
        }
        let mut client = self
            .providers
            .get(&order.provider, "order_ext_id", &order.channel_id)?;
        let answer = client
            .unsubscribe(UnsubscribeRequest {
                merchant_id: merchant_id.to_string(),
                order_id: order.trans_ext_id.clone(),
                client_ip: client_ip.unwrap_or_default(),
            })
            .await
            .map_err(|s| status_to_rpc_uncertain(&order.provider, s))?
            .into_inner();
        if answer.ok {
            // The provider said yes: `cancelling` until it confirms (its callback, or the
            // adapter's reconciliation), so no later charge reads as a normal renewal.
            sqlx::query(
                "UPDATE orders SET status = 'cancelling', updated_at = now()
                 WHERE merchant_id = $1 AND trans_ext_id = $2 AND status IN ('pending', 'active')",
            )
            .bind(merchant_id)
            .bind(&order.trans_ext_id)
            .execute(&self.pool)
            .await
            .map_err(RpcError::database)?;
        }
        // Seed 000: status 1 and the provider's original answer, whatever it says.
        Ok(json!({ "status": 1, "result": answer.provider_answer, "action_type": null }))
    }

    async fn status(&self, call: &Call, merchant_id: &str) -> Result<Value, RpcError> {
        let field = if call.params.get("order_ext_id").is_some()
            && call.params.get("trans_ext_id").is_none()
        {
            "order_ext_id"
        } else {
            "trans_ext_id"
        };
        let order = self.own_order(merchant_id, &call.params, field).await?;
        // The adapter's view, refreshed from the provider where it can ask (MoCoPay's
        // verifyPayment); what it learns reaches `events` once its events are consumed.
        let provider_view = self.provider_view(merchant_id, &order).await;
        let events = store::order_events(&self.pool, merchant_id, &order.trans_ext_id)
            .await
            .map_err(RpcError::database)?;
        let charges: Vec<&store::OrderEvent> = events
            .iter()
            .filter(|e| {
                matches!(
                    e.kind.as_str(),
                    "payment.succeeded"
                        | "payment.failed"
                        | "subscription.charged"
                        | "subscription.charge_failed"
                )
            })
            .collect();
        let redirect = order
            .response
            .as_ref()
            .and_then(|r| r.pointer("/data/redirect_url"))
            .cloned()
            .unwrap_or(Value::Null);
        Ok(json!({
            "status": "1",
            "data": {
                "trans_ext_id": order.trans_ext_id,
                "merchant_id": order.merchant_id,
                "channel_id": order.channel_id,
                "provider": order.provider,
                "kind": order.kind,
                "state": order.status,
                "test": order.test,
                "amount": order.amount_minor,
                "currency": order.currency.trim(),
                "redirect_url": redirect,
                "created_at": order.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "updated_at": order.updated_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "charges": charges,
                "events": events,
                "provider_view": provider_view,
            }
        }))
    }

    /// What the order's adapter knows (`PaymentProvider.Refresh`): its state, charges expected
    /// (`payments_no`), made and failed, the current price, the next due date and every charge;
    /// `fresh` says whether the provider itself was asked. With the adapter down: what the edge
    /// stored, said so.
    async fn provider_view(&self, merchant_id: &str, order: &store::Order) -> Value {
        let Ok(mut client) = self
            .providers
            .get(&order.provider, "trans_ext_id", &order.channel_id)
        else {
            return json!({"fresh": false, "note": "no adapter for this provider"});
        };
        match client
            .refresh(paysys_proto::RefreshRequest {
                merchant_id: merchant_id.to_string(),
                order_id: order.trans_ext_id.clone(),
            })
            .await
        {
            Ok(r) => {
                let r = r.into_inner();
                json!({
                    "state": r.state,
                    "test": r.test,
                    "amount": r.amount_minor,
                    "currency": r.currency,
                    "current_price": r.current_price_minor,
                    "payments_no": r.payments_no,
                    "charges_count": r.charges_count,
                    "failed_count": r.failed_count,
                    "next_charge_at": (!r.next_charge_at.is_empty()).then_some(r.next_charge_at),
                    "fresh": r.fresh,
                    "note": r.note,
                    "charges": r.charges.iter().map(|c| json!({
                        "sequence": c.sequence,
                        "charge_id": c.charge_id,
                        "amount": c.amount_minor,
                        "currency": c.currency,
                        "outcome": c.outcome,
                        "at": c.at,
                    })).collect::<Vec<_>>(),
                })
            }
            Err(s) => {
                tracing::warn!(provider = %order.provider, error = %s, "refresh failed; answering from stored state");
                json!({
                    "fresh": false,
                    "note": format!("provider {} could not be asked; this is the state PaySystem stored", order.provider),
                })
            }
        }
    }

    async fn channels(&self, merchant_id: &str) -> Result<Value, RpcError> {
        let list = store::channels_of(&self.pool, merchant_id)
            .await
            .map_err(RpcError::database)?;
        let data: Vec<Value> = list
            .iter()
            .map(|c| json!({ "id": c.id, "provider": c.provider, "kind": c.kind, "currency": c.currency.trim() }))
            .collect();
        Ok(json!({ "status": "1", "data": data }))
    }

    /// `set_transaction` (seed 002): asynchronous. The order and its provider command are stored
    /// in one transaction and the merchant gets the acceptance at once; the command travels
    /// through the provider's queue, so it waits there while the adapter is down.
    async fn start_async(&self, call: &Call, merchant_id: &str) -> Result<Value, RpcError> {
        let req = Self::order_request(call, merchant_id)?;
        if req.customer.phone.is_none() {
            return Err(RpcError::invalid_field(
                "customer.phone",
                "required for set_transaction: the provider sends the confirmation code there",
            ));
        }
        let channel = self
            .authorized_channel(call, &req, OrderKind::OneTime)
            .await?;
        // The adapter must exist, even if it is down right now.
        self.providers
            .get(&channel.provider, "payment.channel_id", &channel.id)?;
        let caps = self.providers.capabilities(&channel.provider).await?;
        if !caps.async_one_time {
            return Err(RpcError::invalid_field(
                "payment.channel_id",
                format!("set_transaction is the asynchronous, code-confirmed flow; channel {} ({}) takes set_transaction_sync", channel.id, channel.provider),
            ));
        }
        let start = start_request(&req, &channel, OrderKind::OneTime, &caps)?;
        let response = json!({ "status": "1", "result": "accepted", "action_type": "" });
        let queue = self.command_queue(&channel.provider);
        let order = store::insert_async_order(
            &self.pool,
            store::NewOrder {
                merchant_id: &req.merchant_id,
                trans_ext_id: req.trans_ext_id.as_str(),
                method: &call.method,
                channel: &channel,
                amount_minor: req.amount().minor,
                currency: req.currency.as_str(),
                fingerprint: &req.fingerprint(&call.method),
                test: req.test,
            },
            &response,
            &start,
            &queue,
        )
        .await
        .map_err(RpcError::database)?;
        if order.fingerprint != req.fingerprint(&call.method) {
            return Err(RpcError::invalid_field(
                "trans_ext_id",
                "already used by this merchant for a different request; use a new trans_ext_id",
            ));
        }
        self.outbox.notify();
        Ok(order.response.unwrap_or(response))
    }

    fn command_queue(&self, provider: &str) -> String {
        self.amqp_queue_prefix.clone() + &format!("provider.{provider}.commands")
    }

    /// `confirm_teleaudio_payment` (seed 002): the code the user received, checked by the
    /// provider. Answers in the seed's own shapes; an order this merchant does not have is
    /// `BADTRANSACTION`. A confirmation that overtakes the queued start command starts the
    /// payment itself (the adapter is idempotent), so it never sees `BADTRANSACTION`.
    async fn confirm_teleaudio(&self, call: &Call, merchant_id: &str) -> Result<Value, RpcError> {
        let mut f = Fields::new();
        let id = f.string(&call.params, "trans_ext_id", "trans_ext_id", 64);
        let code = f.string(&call.params, "code", "code", 32);
        f.finish()?;
        let (id, code) = (id.unwrap_or_default(), code.unwrap_or_default());
        let bad_transaction =
            json!({ "status": "-1", "result": "400 - BADTRANSACTION", "action_type": "" });
        let Some(order) = store::order(&self.pool, merchant_id, &id)
            .await
            .map_err(RpcError::database)?
        else {
            return Ok(bad_transaction);
        };
        let Some(start) = store::start_request(&self.pool, merchant_id, &id)
            .await
            .map_err(RpcError::database)?
        else {
            // Not an asynchronous (code-confirmed) payment.
            return Ok(bad_transaction);
        };
        let mut client = self
            .providers
            .get(&order.provider, "trans_ext_id", &order.channel_id)?;
        let req = ConfirmRequest {
            merchant_id: merchant_id.to_string(),
            order_id: id.clone(),
            code,
        };
        let answer = match client.confirm(req.clone()).await {
            Err(s) if s.code() == tonic::Code::NotFound => {
                client
                    .start(start)
                    .await
                    .map_err(|s| status_to_rpc(&order.provider, s))?;
                client.confirm(req).await
            }
            other => other,
        }
        .map_err(|s| status_to_rpc(&order.provider, s))?
        .into_inner();
        if answer.ok {
            Ok(json!({ "status": "1", "result": "", "action_type": "" }))
        } else {
            Ok(
                json!({ "status": "-1", "result": format!("400 - {}", answer.error_code), "action_type": "" }),
            )
        }
    }

    /// Recurrence changes (seed 003: Netopia `modifyRecurrencePrice`, `moveRecurrence`), for
    /// providers that declared them; answered like `unsubscribe`.
    async fn recurrence_change(&self, call: &Call, merchant_id: &str) -> Result<Value, RpcError> {
        let mut f = Fields::new();
        let change = if call.method == "modify_subscription_price" {
            f.integer(&call.params, "price", "price").map(|p| {
                if p <= 0 {
                    f.fail("price", "must be greater than zero (minor units)");
                }
                paysys_proto::change_recurrence_request::Change::PriceMinor(p)
            })
        } else {
            f.string(&call.params, "date", "date", 40).and_then(|d| {
                crate::domain::parse_recurrence_date(&d)
                    .map_err(|e| f.fail("date", e))
                    .ok()
                    .map(|at| {
                        paysys_proto::change_recurrence_request::Change::NextChargeAt(
                            at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                        )
                    })
            })
        };
        f.finish()?;
        let order = self
            .own_order(merchant_id, &call.params, "order_ext_id")
            .await?;
        if order.kind != "subscription" {
            return Err(RpcError::invalid_field(
                "order_ext_id",
                "is not a subscription",
            ));
        }
        let caps = self.providers.capabilities(&order.provider).await?;
        if !caps.change_recurrence {
            return Err(RpcError::invalid_field(
                "order_ext_id",
                format!("{} is not possible for provider {}: it cannot change a subscription's price or date", call.method, order.provider),
            ));
        }
        let mut client = self
            .providers
            .get(&order.provider, "order_ext_id", &order.channel_id)?;
        let answer = client
            .change_recurrence(ChangeRecurrenceRequest {
                merchant_id: merchant_id.to_string(),
                order_id: order.trans_ext_id.clone(),
                change,
            })
            .await
            .map_err(|s| status_to_rpc_uncertain(&order.provider, s))?
            .into_inner();
        Ok(json!({ "status": 1, "result": answer.provider_answer, "action_type": null }))
    }
}
