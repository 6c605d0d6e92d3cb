//! Provider callbacks: one trait each callback endpoint implements (authenticate the raw
//! request, say what it claims, answer in the provider's own format) and ONE pipeline that
//! applies the claims. Nothing is believed before `authenticate` returns; then, in one database
//! transaction per callback: find and lock the order, dedup the claim by the provider's id of it,
//! check it fits (kind, state, amount, currency, charge number) through the state machine, store
//! the new state and the charge, write the events to the outbox, commit, wake the relay. A claim
//! that does not fit is refused and kept as a discrepancy, never applied.

use crate::machine::{self, ClaimKind, Said};
use crate::provider::Provider;
use crate::store::{self, Lookup, Order};
use async_trait::async_trait;
use axum::body::Bytes;
use axum::response::Response;
use http::{HeaderMap, Method, Uri};
use paysys_platform::events::{self, new_event};
use paysys_platform::money::Money;
use paysys_platform::outbox::OutboxSignal;
use paysys_platform::telemetry;
use serde_json::{Map, Value};
use sqlx::PgPool;
use std::collections::BTreeMap;
use std::sync::Arc;
use tracing::Instrument;

/// A callback as it arrived, before anything in it is believed.
#[derive(Debug, Clone)]
pub struct Incoming {
    pub method: Method,
    pub uri: Uri,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Incoming {
    /// The query string's parameters (MoCoPay notifies with GET).
    pub fn query(&self) -> BTreeMap<String, String> {
        url::form_urlencoded::parse(self.uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect()
    }
    /// The body as an urlencoded form (Mobiltek, Netopia).
    pub fn form(&self) -> BTreeMap<String, String> {
        url::form_urlencoded::parse(&self.body)
            .into_owned()
            .collect()
    }
}

/// What an authenticated callback says about one order.
#[derive(Debug, Clone)]
pub struct Claim {
    pub order: Lookup,
    /// The provider's identity of this claim (notification id, event id, ...): a resend with
    /// the same key has no second effect.
    pub dedup_key: String,
    pub kind: ClaimKind,
    /// Required when money moved; compared with the order's amount or current price.
    pub amount: Option<Money>,
    /// The provider's identity of the charge (the ledger's idempotency key). Empty: the dedup
    /// key stands in (failures without a provider charge id).
    pub charge_id: String,
    /// The provider's number of this charge, when it gives one.
    pub sequence: Option<u32>,
    /// Why it failed, in the provider's words.
    pub failure_reason: String,
    /// Fields for the merchant's `additional_data` (override `Provider::event_fields`).
    pub fields: BTreeMap<String, String>,
    /// Provider specifics to merge into the order (e.g. the msisdn the user confirmed with).
    pub details: Map<String, Value>,
    /// What the provider sent, without secrets, for audits.
    pub raw: Value,
}

impl Claim {
    pub fn new(order: Lookup, dedup_key: impl Into<String>, kind: ClaimKind) -> Self {
        Self {
            order,
            dedup_key: dedup_key.into(),
            kind,
            amount: None,
            charge_id: String::new(),
            sequence: None,
            failure_reason: String::new(),
            fields: BTreeMap::new(),
            details: Map::new(),
            raw: Value::Null,
        }
    }
}

/// Why a callback was not even looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Signature, hash or envelope wrong or missing.
    Unauthenticated(String),
    /// Authenticated but malformed; names the field.
    Malformed(String),
    /// Cannot be checked right now (the provider's verification call failed): resend later.
    Unverifiable(String),
}

/// What the pipeline did with an authenticated callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Applied,
    /// Seen before: no second effect (the first answer stands).
    Duplicate,
    /// No such order here.
    UnknownOrder,
    /// Authenticated but did not fit its order: refused, recorded as a discrepancy.
    Misfit(String),
    /// Our failure (database): the provider should resend.
    Failed,
}

/// The verdict a callback endpoint turns into the provider's answer format.
pub enum Verdict<'a> {
    Refused(&'a Refusal),
    Done {
        outcome: &'a Outcome,
        /// What the provider wants echoed (Netopia's crc), from `Authenticated::reply`.
        reply: &'a str,
    },
}

pub struct Authenticated {
    pub claims: Vec<Claim>,
    pub reply: String,
}

/// One callback route of a provider.
#[async_trait]
pub trait CallbackEndpoint: Send + Sync + 'static {
    /// The route, e.g. `/mobiltek/notify`; GET and POST both reach it.
    fn path(&self) -> &'static str;

    /// Authenticates FIRST (nothing unsigned is believed, not even which field is wrong), then
    /// parses what the callback claims.
    async fn authenticate(&self, req: &Incoming) -> Result<Authenticated, Refusal>;

    /// Provider-specific fit beyond the state machine, with the order at hand (Mobiltek's
    /// service_id; MoCoPay's product and currency code, which only the order can map to ISO
    /// 4217): may complete the claim, or refuse it with the reason.
    fn fits(&self, _order: &Order, _claim: &mut Claim) -> Result<(), String> {
        Ok(())
    }

    /// The provider's own answer format (Mobiltek plain text, Netopia `<crc>` XML, ...).
    fn answer(&self, verdict: Verdict<'_>) -> Response;
}

/// What the pipeline needs.
#[derive(Clone)]
pub struct Pipeline {
    pub pool: PgPool,
    pub exchange: String,
    pub signal: OutboxSignal,
    pub provider: Arc<dyn Provider>,
}

fn rank(o: &Outcome) -> u8 {
    match o {
        Outcome::Applied => 0,
        Outcome::Duplicate => 1,
        Outcome::Misfit(_) => 2,
        Outcome::UnknownOrder => 3,
        Outcome::Failed => 4,
    }
}

impl Pipeline {
    /// Serves one callback: authenticate, apply, answer.
    pub async fn serve(&self, endpoint: &dyn CallbackEndpoint, req: Incoming) -> Response {
        let provider = self.provider.name();
        let auth = match endpoint.authenticate(&req).await {
            Ok(a) => a,
            Err(r) => {
                let result = match &r {
                    Refusal::Unauthenticated(_) => "unauthenticated",
                    Refusal::Malformed(_) => "malformed",
                    Refusal::Unverifiable(_) => "unverifiable",
                };
                metrics::counter!("paysys_callbacks_total", "provider" => provider, "result" => result)
                    .increment(1);
                tracing::warn!(provider, refusal = ?r, "callback refused");
                return endpoint.answer(Verdict::Refused(&r));
            }
        };
        let outcome = self.apply(Some(endpoint), &auth.claims).await;
        let result = match &outcome {
            Outcome::Applied => "applied",
            Outcome::Duplicate => "duplicate",
            Outcome::UnknownOrder => "unknown_order",
            Outcome::Misfit(_) => "misfit",
            Outcome::Failed => "error",
        };
        metrics::counter!("paysys_callbacks_total", "provider" => provider, "result" => result)
            .increment(1);
        endpoint.answer(Verdict::Done {
            outcome: &outcome,
            reply: &auth.reply,
        })
    }

    /// Applies the claims of one callback in one transaction; the worst outcome answers.
    /// `endpoint` adds its provider-specific fit checks (None for claims the kit makes itself).
    pub async fn apply(
        &self,
        endpoint: Option<&dyn CallbackEndpoint>,
        claims: &[Claim],
    ) -> Outcome {
        match self.apply_tx(endpoint, claims).await {
            Ok(o) => {
                if o == Outcome::Applied {
                    self.signal.notify();
                }
                o
            }
            Err(e) => {
                tracing::error!(provider = self.provider.name(), error = %format!("{e:#}"), "callback not stored; the provider will resend");
                Outcome::Failed
            }
        }
    }

    async fn apply_tx(
        &self,
        endpoint: Option<&dyn CallbackEndpoint>,
        claims: &[Claim],
    ) -> anyhow::Result<Outcome> {
        let mut tx = self.pool.begin().await?;
        let mut worst = Outcome::Applied;
        let mut applied_any = false;
        for claim in claims {
            let outcome = self.apply_one(&mut tx, endpoint, claim).await?;
            applied_any |= outcome == Outcome::Applied;
            if rank(&outcome) > rank(&worst) {
                worst = outcome;
            }
        }
        if worst == Outcome::UnknownOrder && !applied_any {
            // Nothing to keep: an unknown order leaves no trace.
            tx.rollback().await?;
            return Ok(worst);
        }
        tx.commit().await?;
        if applied_any && worst == Outcome::Duplicate {
            return Ok(Outcome::Applied);
        }
        Ok(worst)
    }

    async fn apply_one(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
        endpoint: Option<&dyn CallbackEndpoint>,
        claim: &Claim,
    ) -> anyhow::Result<Outcome> {
        let Some(order) = store::lock(tx, &claim.order).await? else {
            return Ok(Outcome::UnknownOrder);
        };
        let span = self.claim_span(endpoint.is_some(), &order, claim);
        if let Some(first) = store::seen(tx, &claim.dedup_key).await? {
            tracing::info!(parent: &span, provider = self.provider.name(), key = %claim.dedup_key, first = %first, "callback repeated; already handled");
            return Ok(if first == "applied" {
                Outcome::Duplicate
            } else {
                Outcome::Misfit("refused before".into())
            });
        }
        let mut claim = claim.clone();
        let fitted = endpoint.map_or(Ok(()), |e| e.fits(&order, &mut claim));
        let claim = &claim;
        let said = Said {
            kind: claim.kind,
            amount: claim.amount,
            sequence: claim.sequence,
        };
        let fit = fitted
            .and_then(|()| machine::transition(&order.facts(), &said).map_err(|m| m.to_string()));
        let t = match fit {
            Ok(t) => t,
            Err(reason) => {
                store::record_callback(
                    tx,
                    &claim.dedup_key,
                    &order.reference,
                    claim.kind.as_str(),
                    "refused",
                    &claim.raw,
                )
                .await?;
                store::record_discrepancy(
                    tx,
                    store::NewDiscrepancy {
                        order: &order,
                        dedup_key: &claim.dedup_key,
                        claim: claim.kind.as_str(),
                        amount: claim.amount,
                        reason: &reason,
                        body: &claim.raw,
                    },
                )
                .await?;
                metrics::counter!("paysys_callback_discrepancies_total", "provider" => self.provider.name()).increment(1);
                tracing::warn!(parent: &span, provider = self.provider.name(), reference = %order.reference, claim = claim.kind.as_str(), %reason, "callback does not fit its order; refused and recorded");
                return Ok(Outcome::Misfit(reason));
            }
        };
        if !store::record_callback(
            tx,
            &claim.dedup_key,
            &order.reference,
            claim.kind.as_str(),
            "applied",
            &claim.raw,
        )
        .await?
        {
            return Ok(Outcome::Duplicate);
        }
        store::apply(tx, &order, &t, &claim.details).await?;
        let charge_id = if claim.charge_id.is_empty() {
            claim.dedup_key.clone()
        } else {
            claim.charge_id.clone()
        };
        let mut fields = self.provider.event_fields(&order);
        for (k, v) in &claim.fields {
            if !v.is_empty() {
                fields.insert(k.clone(), v.clone());
            }
        }
        if order.test {
            fields.insert("test".into(), "true".into());
        }
        for step in &t.steps {
            let mut e = new_event(step.event_kind);
            e.merchant_id = order.merchant_id.clone();
            e.order_id = order.order_id.clone();
            e.provider = self.provider.name().into();
            e.channel_id = order.channel_id.clone();
            e.amount_minor = step.amount.minor;
            e.currency = step.amount.currency.as_str().into();
            e.sequence = step.sequence;
            e.user_id = order.detail("user_id").into();
            e.user_email = order.detail("user_email").into();
            e.provider_fields = fields.clone().into_iter().collect();
            let is_charge = matches!(
                step.event_kind,
                events::PAYMENT_SUCCEEDED
                    | events::PAYMENT_FAILED
                    | events::SUBSCRIPTION_CHARGED
                    | events::SUBSCRIPTION_CHARGE_FAILED
            );
            if is_charge {
                e.charge_id = charge_id.clone();
                e.failure_reason = claim.failure_reason.clone();
                store::record_charge(
                    tx,
                    store::NewCharge {
                        reference: &order.reference,
                        sequence: step.sequence,
                        charge_id: &charge_id,
                        amount: claim.amount.unwrap_or(step.amount),
                        succeeded: matches!(
                            step.event_kind,
                            events::PAYMENT_SUCCEEDED | events::SUBSCRIPTION_CHARGED
                        ),
                        late: step.late,
                    },
                )
                .await?;
            }
            if step.late {
                e.provider_fields.insert("late".into(), "true".into());
            }
            if let Some(reason) = &step.reason {
                e.failure_reason = reason.clone();
                if step.event_kind == events::SUBSCRIPTION_CANCELLED {
                    e.provider_fields
                        .insert("end_reason".into(), reason.clone());
                }
            } else if step.event_kind == events::SUBSCRIPTION_CANCELLED {
                e.failure_reason = claim.failure_reason.clone();
            }
            // In the claim's span: the event carries the payment's trace on.
            events::enqueue(tx, &self.exchange, &e)
                .instrument(span.clone())
                .await?;
            tracing::info!(parent: &span, provider = self.provider.name(), reference = %order.reference, event = %e.kind, event_id = %e.event_id, "callback applied");
        }
        Ok(Outcome::Applied)
    }

    /// The span a claim is applied in. A provider's callback carries no trace context, so its
    /// HTTP request is a trace of its own; what it does to the order belongs to the payment.
    /// Until the order's first charge is accounted (a one-time payment; a subscription's
    /// registration and first charge), the claim continues the trace of the call that started
    /// the order and links the callback's request: one payment, one trace, from the merchant's
    /// call to the notification. Later claims (renewals, the cancellation) are new work: they
    /// stay in the trace of their own request and link the order's start, so a subscription is
    /// not one trace months long.
    fn claim_span(&self, from_callback: bool, order: &Order, claim: &Claim) -> tracing::Span {
        // Read with the order's lock (`store::lock`): no extra round trip per callback.
        let started = &order.trace_context;
        let name = format!(
            "{} {} {}",
            self.provider.name(),
            if from_callback { "callback" } else { "claim" },
            claim.kind.as_str()
        );
        // The merchant's ids: a trace viewer finds the payment by them (Jaeger: tag
        // `order_id=<trans_ext_id>`).
        let span = tracing::info_span!("claim", provider = self.provider.name(), reference = %order.reference,
            merchant_id = %order.merchant_id, order_id = %order.order_id, claim = claim.kind.as_str(),
            otel.name = %name);
        if order.charges_count == 0 && started.contains_key("traceparent") {
            telemetry::set_parent_from(&span, started);
            telemetry::add_link_from(&span, &telemetry::current_context_headers());
        } else {
            telemetry::add_link_from(&span, started);
        }
        span
    }
}

/// The answer of providers that read HTTP statuses (Mobiltek, Teleaudio, MoCoPay): `200 OK` when
/// handled or a repeat; 5xx when we failed or could not verify (the provider resends); 4xx when it
/// can never apply (401 unauthenticated, 404 unknown order, 400 malformed or refused), never
/// resent. `ERROR <why>` in plain text.
pub fn plain_text_answer(verdict: Verdict<'_>, unknown_order: &str) -> Response {
    use axum::response::IntoResponse;
    use http::StatusCode;
    let (status, text) = match verdict {
        Verdict::Refused(Refusal::Unauthenticated(why)) => {
            (StatusCode::UNAUTHORIZED, format!("ERROR {why}"))
        }
        Verdict::Refused(Refusal::Malformed(why)) => {
            (StatusCode::BAD_REQUEST, format!("ERROR {why}"))
        }
        Verdict::Refused(Refusal::Unverifiable(_))
        | Verdict::Done {
            outcome: Outcome::Failed,
            ..
        } => (
            StatusCode::SERVICE_UNAVAILABLE,
            "ERROR try again".to_string(),
        ),
        Verdict::Done {
            outcome: Outcome::Applied | Outcome::Duplicate,
            ..
        } => (StatusCode::OK, "OK".to_string()),
        Verdict::Done {
            outcome: Outcome::UnknownOrder,
            ..
        } => (StatusCode::NOT_FOUND, format!("ERROR {unknown_order}")),
        Verdict::Done {
            outcome: Outcome::Misfit(why),
            ..
        } => (StatusCode::BAD_REQUEST, format!("ERROR {why}")),
    };
    (status, text).into_response()
}
