//! What each simulated provider says it charged, for reconciliation (`paysys reconcile`): every
//! successful charge callback a simulator builds carries a [`ChargeInfo`] (`Callback::charge`);
//! the first time such a callback is sent, the sandbox keeps the charge and the signed callback
//! in its charge log. `GET /_sandbox/report?provider=P&since=<RFC 3339>` lists the charges of P
//! at or after `since` (sandbox clock), `POST /_sandbox/report/replay {"provider", "charge_key"}`
//! sends the kept callback again (the provider re-delivering a notification the merchant says
//! it missed), through the simulator's own `deliver`.
//!
//! `charge_key` is exactly the ledger's key of that charge (the adapters' `charge_id`):
//! Mobiltek and Teleaudio the callback's `charge_id`, Netopia `netopia:<purchase>`, MoCoPay
//! `mocopay:<transactionId>`.

use crate::callbacks::Callback;
use crate::App;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::{HashMap, VecDeque};

/// Charges kept for the report (oldest dropped first).
const CHARGE_LOG: usize = 10_000;

/// A successful charge as the provider reports it (one row of the report / CSV).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChargeInfo {
    /// The ledger's key of the charge (see the module documentation).
    pub charge_key: String,
    /// The provider's reference of the order or subscription the charge belongs to.
    pub order_reference: String,
    pub amount_minor: i64,
    pub currency: String,
    /// Sandbox clock time of the charge; `None` until sent (then the clock's time), or the due
    /// time of a recurring charge.
    #[serde(default)]
    pub charged_at: Option<DateTime<Utc>>,
}

impl ChargeInfo {
    pub fn new(
        charge_key: impl Into<String>,
        order_reference: impl Into<String>,
        amount_minor: i64,
        currency: impl Into<String>,
    ) -> Self {
        Self {
            charge_key: charge_key.into(),
            order_reference: order_reference.into(),
            amount_minor,
            currency: currency.into(),
            charged_at: None,
        }
    }
}

/// One charge of the log: which provider, what, and the callback that notified it.
#[derive(Debug, Clone)]
pub struct LoggedCharge {
    pub provider: String,
    pub charge: ChargeInfo,
    pub callback: Callback,
}

/// Every charge a simulator notified, oldest first, once each (by provider and key).
#[derive(Debug, Default)]
pub struct ChargeLog {
    charges: VecDeque<LoggedCharge>,
}

impl ChargeLog {
    /// Keeps the charge of `callback` (if it is one) the first time it is sent.
    pub fn record(&mut self, provider: &str, callback: &Callback, now: DateTime<Utc>) {
        let Some(charge) = &callback.charge else {
            return;
        };
        if self.find(provider, &charge.charge_key).is_some() {
            return;
        }
        if self.charges.len() == CHARGE_LOG {
            self.charges.pop_front();
        }
        let mut charge = charge.clone();
        charge.charged_at.get_or_insert(now);
        self.charges.push_back(LoggedCharge {
            provider: provider.into(),
            charge,
            callback: callback.clone(),
        });
    }

    pub fn find(&self, provider: &str, charge_key: &str) -> Option<&LoggedCharge> {
        self.charges
            .iter()
            .find(|c| c.provider == provider && c.charge.charge_key == charge_key)
    }

    /// The charges of `provider` at or after `since`, oldest first.
    pub fn report(&self, provider: &str, since: DateTime<Utc>) -> Vec<ChargeInfo> {
        self.charges
            .iter()
            .filter(|c| c.provider == provider && c.charge.charged_at.is_some_and(|t| t >= since))
            .map(|c| c.charge.clone())
            .collect()
    }
}

fn bad(status: StatusCode, field: &str, why: impl Into<String>) -> Response {
    (
        status,
        Json(json!({"ok": false, "error": {"field": field, "message": why.into()}})),
    )
        .into_response()
}

fn known(app: &App, provider: &str) -> Result<(), Box<Response>> {
    if app.simulators.iter().any(|s| s.name() == provider) {
        return Ok(());
    }
    let names: Vec<&str> = app.simulators.iter().map(|s| s.name()).collect();
    Err(Box::new(bad(
        StatusCode::BAD_REQUEST,
        "provider",
        format!("must be one of {}", names.join(", ")),
    )))
}

/// `GET /_sandbox/report?provider=P&since=<RFC 3339>` ->
/// `{"provider", "since", "charges": [{charge_key, order_reference, amount_minor, currency,
/// charged_at}]}`; without `since`, every charge kept.
pub async fn report(State(app): State<App>, Query(q): Query<HashMap<String, String>>) -> Response {
    let provider = q.get("provider").map(String::as_str).unwrap_or("");
    if let Err(r) = known(&app, provider) {
        return *r;
    }
    let since = match q.get("since").filter(|s| !s.is_empty()) {
        None => DateTime::<Utc>::MIN_UTC,
        Some(s) => match DateTime::parse_from_rfc3339(s) {
            Ok(t) => t.with_timezone(&Utc),
            Err(e) => {
                return bad(
                    StatusCode::BAD_REQUEST,
                    "since",
                    format!("not an RFC 3339 time: {e}"),
                )
            }
        },
    };
    let charges = app.state.lock().await.charges.report(provider, since);
    Json(json!({"provider": provider, "since": since.to_rfc3339(), "charges": charges}))
        .into_response()
}

#[derive(Deserialize)]
struct Replay {
    provider: String,
    charge_key: String,
}

/// `POST /_sandbox/report/replay {"provider", "charge_key"}`: sends the callback that notified
/// that charge again, exactly as first sent; `{"ok": <acknowledged>, "delivery": {..}}`, 404
/// when the sandbox has no such charge.
pub async fn replay(State(app): State<App>, raw: axum::body::Bytes) -> Response {
    let r: Replay = match serde_json::from_slice(&raw) {
        Ok(r) => r,
        Err(e) => {
            return bad(
                StatusCode::BAD_REQUEST,
                "body",
                format!("invalid JSON: {e}"),
            )
        }
    };
    if let Err(resp) = known(&app, &r.provider) {
        return *resp;
    }
    let Some(sim) = app
        .simulators
        .iter()
        .find(|s| s.name() == r.provider)
        .cloned()
    else {
        return bad(StatusCode::BAD_REQUEST, "provider", "unknown");
    };
    let _in_order = app.callback_order.lock().await;
    let callback = match app
        .state
        .lock()
        .await
        .charges
        .find(&r.provider, &r.charge_key)
    {
        Some(c) => c.callback.clone(),
        None => {
            return bad(
                StatusCode::NOT_FOUND,
                "charge_key",
                format!("{} reported no charge {}", r.provider, r.charge_key),
            )
        }
    };
    let delivery = sim.deliver(&app, &callback).await;
    tracing::info!(provider = %r.provider, charge_key = %r.charge_key, status = ?delivery.status, "charge callback replayed");
    Json(json!({"ok": delivery.acknowledged(), "provider": r.provider, "charge_key": r.charge_key, "delivery": delivery}))
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_charge_is_kept_once_and_reported_since() {
        let mut log = ChargeLog::default();
        let t0 = Utc::now();
        let cb = Callback::json("http://x/notify", "CHARGE_SUCCESS", "r", &json!({}))
            .charge(ChargeInfo::new("k-1", "r", 100, "PLN"));
        log.record("teleaudio", &cb, t0);
        log.record("teleaudio", &cb, t0 + chrono::Duration::days(1));
        log.record(
            "teleaudio",
            &Callback::json("http://x/notify", "CHARGE_FAILED", "r", &json!({})),
            t0,
        );
        let all = log.report("teleaudio", t0);
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].charged_at, Some(t0));
        assert!(log
            .report("teleaudio", t0 + chrono::Duration::seconds(1))
            .is_empty());
        assert!(log.report("mobiltek", t0).is_empty());
    }
}
