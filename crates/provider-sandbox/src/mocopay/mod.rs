//! The simulated MoCoPay (seed 004, docs/providers/mocopay.md) under `/mocopay`: the signed
//! `initPayment` (GET) and `verifyPayment` (POST) of `/mocopay/v1/payment/`, checked and answered
//! with provider-mocopay's own wire layer; the checkout page behind `redirectUrl` (text a code to
//! a short code, or let the operator bill: pay or cancel); the session and transaction
//! notifications, GET to each initPayment's `notifyUrl` through the shared delivery; and the
//! user's return to its `callbackUrl`. Prices and renewal periods are per product (`pid`,
//! `[sandbox.mocopay.products]`); subscriptions renew as the sandbox clock moves.

mod api;
mod control;
mod pages;
pub mod settings;
pub mod sim;
mod view;

pub use settings::{MocopaySettings, Product};
pub use sim::{Finished, Notice, Records, SimSession, SimTransaction};

use crate::callbacks::{Callback, Delivery};
use crate::config::SandboxSettings;
use crate::report::ChargeInfo;
use crate::simulator::{CompleteRequest, Completed, Due, FieldError, Simulator};
use crate::state::State;
use crate::App;
use axum::routing::{get, post};
use axum::Extension;
use chrono::{DateTime, Utc};
use paysys_platform::money::{Currency, Money};
use provider_mocopay::{CallbackRedirect, Notification, TransactionStatus};
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// The simulated MoCoPay and its `[sandbox.mocopay]` settings.
pub struct Mocopay {
    pub settings: MocopaySettings,
}

/// A checkout finished, its notifications delivered.
pub struct Outcome {
    pub finished: Finished,
    /// Where MoCoPay sends the browser: the callbackUrl with seed 004's parameters.
    pub location: Option<String>,
    pub deliveries: Vec<Delivery>,
}

impl Mocopay {
    pub const NAME: &'static str = "mocopay";

    pub fn new(sandbox: &SandboxSettings) -> Result<Self, String> {
        Ok(Self {
            settings: MocopaySettings::load(sandbox, Self::NAME)?,
        })
    }

    /// The checkout page of `request_id`.
    pub fn checkout_url(public_url: &str, request_id: &str) -> String {
        format!(
            "{}/mocopay/checkout/{request_id}",
            public_url.trim_end_matches('/')
        )
    }

    /// The user finished (`success`) or abandoned checkout `request_id`, paying with `phone`.
    /// Call with `App::callback_order` held; answers after the adapter answered every
    /// notification. Err says why the checkout cannot be finished.
    pub async fn finish(
        &self,
        app: &App,
        request_id: &str,
        success: bool,
        charges_fail: bool,
        phone: Option<&str>,
    ) -> Result<Outcome, String> {
        let (finished, callback_url, reference_id) = {
            let mut state = app.state.lock().await;
            let now = state.now();
            let records = state.records::<Records>();
            let finished = records.complete(request_id, success, charges_fail, phone, now)?;
            let init = records
                .sessions
                .get(request_id)
                .map(|s| s.init.clone())
                .unwrap_or_default();
            billing_sms(&mut state, &finished.notices);
            (finished, init.callback_url, init.reference_id)
        };
        let location = (!callback_url.is_empty())
            .then(|| {
                CallbackRedirect {
                    request_id: request_id.into(),
                    session_id: finished.session_id.clone(),
                    reference_id,
                    status: Some(finished.status.clone()),
                }
                .url(&callback_url)
                .ok()
            })
            .flatten();
        let callbacks = finished.notices.iter().filter_map(callback).collect();
        let deliveries = self.deliver_all(app, callbacks).await;
        Ok(Outcome {
            finished,
            location,
            deliveries,
        })
    }
}

/// The GET MoCoPay sends for `n`; None when its checkout named no notifyUrl.
fn callback(n: &Notice) -> Option<Callback> {
    if n.notify_url.is_empty() {
        return None;
    }
    match n.url() {
        Ok(url) => {
            let c = Callback::get(&url, &n.kind(), n.reference());
            Some(match &n.notification {
                // A successful transaction: the adapter's ledger key is `mocopay:<transactionId>`.
                Notification::Transaction(t) if t.status == TransactionStatus::Success => {
                    c.charge(ChargeInfo::new(
                        format!("mocopay:{}", t.transaction_id),
                        t.reference_id.clone(),
                        t.amount,
                        t.currency_code.clone(),
                    ))
                }
                _ => c,
            })
        }
        Err(e) => {
            tracing::error!(error = %e, "MoCoPay notification not sent: it would not parse");
            None
        }
    }
}

/// MoCoPay's billing SMS for every successful charge among `notices` (seed 004: "MoCoPay server
/// returns to the user billing SMS message").
fn billing_sms(state: &mut State, notices: &[Notice]) {
    for n in notices {
        let Notification::Transaction(t) = &n.notification else {
            continue;
        };
        if t.status != TransactionStatus::Success {
            continue;
        }
        let price = match Currency::parse(&t.currency_code) {
            Ok(c) => format!(
                "{} {}",
                Money::new(t.amount, c).to_decimal_fixed(),
                c.as_str()
            ),
            Err(_) => format!("{} {} (test)", t.amount, t.currency_code),
        };
        state.send_sms(
            &t.phone,
            "MoCoPay",
            format!("MoCoPay: you paid {price} for {}. Thank you.", t.pid),
        );
    }
}

/// The requestId of a checkout page URL (`.../mocopay/checkout/{requestId}`).
fn checkout_id(url: &url::Url) -> Option<&str> {
    let path = url.path();
    path.strip_suffix('/')
        .unwrap_or(path)
        .rsplit_once("/mocopay/checkout/")
        .map(|(_, id)| id)
        .filter(|id| !id.is_empty() && !id.contains('/'))
}

#[async_trait::async_trait]
impl Simulator for Mocopay {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn routes(self: Arc<Self>) -> axum::Router<App> {
        axum::Router::new()
            .route("/mocopay/v1/payment/initPayment/", get(api::init_payment))
            .route("/mocopay/v1/payment/initPayment", get(api::init_payment))
            .route(
                "/mocopay/v1/payment/verifyPayment/",
                post(api::verify_payment),
            )
            .route(
                "/mocopay/v1/payment/verifyPayment",
                post(api::verify_payment),
            )
            .route("/mocopay/checkout/{id}", get(pages::checkout))
            .route("/mocopay/checkout/{id}/pay", post(pages::pay))
            .route("/mocopay/checkout/{id}/cancel", post(pages::cancel))
            .route("/mocopay/_sandbox/renewals", post(control::renewals))
            .layer(Extension(self))
    }

    /// The checkout page behind initPayment's `redirectUrl`.
    fn owns(&self, redirect_url: &url::Url) -> bool {
        checkout_id(redirect_url).is_some()
    }

    /// The user paid (or cancelled) on the checkout page. Extension: `"phone"`, the number the
    /// user paid with (else initPayment's, else `sim::DEFAULT_PHONE`).
    async fn complete(
        &self,
        app: &App,
        request: &CompleteRequest,
    ) -> Result<Completed, FieldError> {
        let id = checkout_id(&request.redirect_url).unwrap_or("");
        let phone = match request.extra.get("phone") {
            None => None,
            Some(Value::String(p)) => {
                provider_mocopay::query::check::phone(p)
                    .map_err(|why| FieldError::new("phone", why))?;
                Some(p.as_str())
            }
            Some(_) => return Err(FieldError::new("phone", "must be a string")),
        };
        let done = self
            .finish(app, id, request.success, request.charges_fail, phone)
            .await
            .map_err(FieldError::redirect_url)?;
        let f = &done.finished;
        let mut fields = Map::new();
        fields.insert("request_id".into(), id.into());
        fields.insert("session_id".into(), f.session_id.clone().into());
        fields.insert("status".into(), f.status.as_str().into());
        fields.insert("transaction_id".into(), json!(f.transaction_id));
        fields.insert("callback_location".into(), json!(done.location));
        Ok(Completed {
            fields,
            deliveries: done.deliveries,
        })
    }

    fn due(&self, state: &mut State, now: DateTime<Utc>) -> Vec<Due> {
        let due = state.records::<Records>().due(now);
        let notices: Vec<Notice> = due.iter().map(|(_, n)| n.clone()).collect();
        billing_sms(state, &notices);
        due.into_iter()
            .filter_map(|(at, n)| callback(&n).map(|callback| Due { at, callback }))
            .collect()
    }

    fn dump(&self, state: &State) -> Value {
        let Some(r) = state.records_ref::<Records>() else {
            return json!({"sessions": [], "transactions": []});
        };
        let sessions: Vec<Value> = r.sessions.values().map(summary).collect();
        json!({
            "sessions": sessions,
            "transactions": r.transactions.values().collect::<Vec<_>>(),
        })
    }
}

/// A session in `GET /_sandbox/state`.
fn summary(s: &SimSession) -> Value {
    json!({
        "request_id": s.request_id,
        "session_id": s.session_id,
        "reference_id": s.init.reference_id,
        "pid": s.init.pid,
        "type": s.kind,
        "test": s.test,
        "status": s.status.as_str(),
        "series": s.series,
        "amount_minor": s.amount_minor,
        "currency_code": s.currency_code(),
        "period_secs": s.period_secs,
        "phone": s.phone,
        "transactions": s.transactions,
        "next_charge_at": s.renewals.next_charge_at,
        "charges_fail": s.renewals.charges_fail,
        "notify_url": s.init.notify_url,
        "callback_url": s.init.callback_url,
    })
}
