//! The simulated Teleaudio (docs/providers/teleaudio.md). Subscriptions (seed 001): created by
//! the adapter, confirmed by the user on Teleaudio's page, renewed by Teleaudio by the service's
//! period. Webbilling (seed 002): Teleaudio texts a code to the phone; the code is checked at
//! most three times (BADTOKEN, then TRYEXCEEDED at the third wrong one, BADTRANSACTION for an
//! unknown transaction); money collected -> PAYMENT_SUCCESS callback. Every body is signed with
//! `X-Teleaudio-Signature` (HMAC-SHA256), requests are checked, callbacks are signed.

use crate::config::{SandboxSettings, ServiceTerms};
use crate::state::{Fault, State};
use crate::App;
use axum::body::Bytes;
use axum::extract::{Path, State as AxState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use paysys_platform::signing::{ct_eq, hmac_sha256_hex};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Wrong codes allowed before the payment fails for good (seed 002: "third time").
pub const MAX_TRIES: u32 = 3;

#[derive(Debug, Clone, Serialize)]
pub struct Subscription {
    pub subscription_id: String,
    pub reference: String,
    pub service_id: String,
    pub msisdn: String,
    /// pending | active | failed | cancelled
    pub status: String,
    pub amount_minor: i64,
    pub period_secs: u64,
    pub next_charge_at: Option<chrono::DateTime<chrono::Utc>>,
    pub charges: u32,
    pub charges_fail: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Webbilling {
    pub transaction_id: String,
    pub reference: String,
    pub msisdn: String,
    pub amount_minor: i64,
    #[serde(skip)]
    pub code: String,
    pub tries: u32,
    /// pending | paid | failed
    pub status: String,
}

#[derive(Debug, Default)]
pub struct Records {
    pub subscriptions: BTreeMap<String, Subscription>,
    pub webbilling: BTreeMap<String, Webbilling>,
    /// reference -> id: a repeated start returns the same transaction (idempotency).
    pub by_reference: BTreeMap<String, String>,
    pub seq: u64,
}

impl Records {
    fn next_id(&mut self, prefix: &str) -> String {
        self.seq += 1;
        format!("{prefix}{:010}", 4_200_000_000u64 + self.seq)
    }
}

fn callback(
    kind: &str,
    reference: &str,
    provider_id: &str,
    msisdn: &str,
    amount: i64,
    reason: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> Value {
    let charge = matches!(kind, "CHARGE_SUCCESS" | "PAYMENT_SUCCESS");
    json!({
        "event_id": uuid::Uuid::new_v4().to_string(),
        "type": kind,
        "reference": reference,
        "provider_id": provider_id,
        "msisdn": msisdn,
        "amount": amount,
        "currency": "PLN",
        "charge_id": if charge { format!("{provider_id}-{}", uuid::Uuid::new_v4().simple()) } else { String::new() },
        "reason": reason,
        "timestamp": at.timestamp(),
    })
}

/// Checks the request's signature and fault mode; Err is the answer to send.
async fn guard(app: &App, headers: &HeaderMap, body: &[u8]) -> Result<(), Response> {
    match app.state.lock().await.fault("teleaudio") {
        // Hangs, then answers an error without acting: the caller has long given up.
        Fault::Timeout => {
            tokio::time::sleep(std::time::Duration::from_secs(
                app.settings.fault_timeout_secs,
            ))
            .await;
            return Err((
                StatusCode::GATEWAY_TIMEOUT,
                Json(json!({"status": "ERROR", "code": "504", "message": "timeout"})),
            )
                .into_response());
        }
        Fault::Error => {
            return Err((
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(json!({"status": "ERROR", "code": "500", "message": "internal error"})),
            )
                .into_response())
        }
        _ => {}
    }
    let sig = headers
        .get("x-teleaudio-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct_eq(
        &hmac_sha256_hex(app.settings.teleaudio_secret.as_bytes(), body),
        sig,
    ) {
        return Err((
            StatusCode::UNAUTHORIZED,
            Json(json!({"status": "ERROR", "code": "401", "message": "bad signature"})),
        )
            .into_response());
    }
    Ok(())
}

fn bad_request(msg: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"status": "ERROR", "code": "400", "message": msg})),
    )
        .into_response()
}

#[derive(Deserialize)]
struct CreateSubscription {
    reference: String,
    service_id: String,
    msisdn: String,
    #[serde(default)]
    amount: i64,
}

fn terms(settings: &SandboxSettings, service_id: &str, fallback_amount: i64) -> ServiceTerms {
    settings
        .teleaudio_services
        .get(service_id)
        .copied()
        .unwrap_or(ServiceTerms {
            period_secs: settings.teleaudio_default_period_secs,
            amount_minor: fallback_amount,
        })
}

/// `POST /teleaudio/subscriptions`.
pub async fn create_subscription(
    AxState(app): AxState<App>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = guard(&app, &headers, &body).await {
        return r;
    }
    let Ok(c) = serde_json::from_slice::<CreateSubscription>(&body) else {
        return bad_request("expected reference, service_id, msisdn");
    };
    if c.service_id.is_empty() || c.msisdn.is_empty() || c.reference.is_empty() {
        return bad_request("reference, service_id and msisdn are required");
    }
    let mut state = app.state.lock().await;
    let t = terms(&app.settings, &c.service_id, c.amount);
    let records = &mut state.teleaudio;
    let id = match records.by_reference.get(&c.reference) {
        Some(id) => id.clone(),
        None => {
            let id = records.next_id("TAS");
            records.by_reference.insert(c.reference.clone(), id.clone());
            records.subscriptions.insert(
                id.clone(),
                Subscription {
                    subscription_id: id.clone(),
                    reference: c.reference,
                    service_id: c.service_id,
                    msisdn: c.msisdn,
                    status: "pending".into(),
                    amount_minor: t.amount_minor,
                    period_secs: t.period_secs.max(1),
                    next_charge_at: None,
                    charges: 0,
                    charges_fail: false,
                },
            );
            id
        }
    };
    let confirm_url = format!(
        "{}/teleaudio/confirm/{id}",
        app.settings.public_url.trim_end_matches('/')
    );
    Json(json!({"subscription_id": id, "confirm_url": confirm_url})).into_response()
}

/// `GET /teleaudio/confirm/{id}`: the page where the user confirms the subscription.
pub async fn confirm_page(AxState(app): AxState<App>, Path(id): Path<String>) -> Response {
    let state = app.state.lock().await;
    match state.teleaudio.subscriptions.get(&id) {
        Some(s) => Html(format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>Teleaudio</title></head><body>\
             <h1>Teleaudio subscription (sandbox)</h1><p>Service {}: {} grosz every {} days, billed to {}.</p>\
             <button>Confirm</button><p>Sandbox: POST /_sandbox/complete {{\"redirect_url\": this page's URL, \"outcome\": \"success\"}}.</p></body></html>",
            html_escape::encode_text(&s.service_id),
            s.amount_minor,
            s.period_secs / 86_400,
            html_escape::encode_text(&s.msisdn)
        ))
        .into_response(),
        None => (StatusCode::NOT_FOUND, Html("<h1>Teleaudio</h1><p>No such subscription.</p>".to_string())).into_response(),
    }
}

/// The user confirmed (or refused) subscription `id` at its page. Returns the callbacks.
pub fn complete(
    state: &mut State,
    id: &str,
    success: bool,
    charges_fail: bool,
) -> Result<Vec<Value>, String> {
    let now = state.now();
    let s = state
        .teleaudio
        .subscriptions
        .get_mut(id)
        .ok_or_else(|| format!("no Teleaudio subscription {id}"))?;
    if s.status != "pending" {
        return Err(format!("subscription {id} is already {}", s.status));
    }
    s.charges_fail = charges_fail;
    if success {
        s.status = "active".into();
        s.charges = 1;
        s.next_charge_at = Some(now + chrono::Duration::seconds(s.period_secs as i64));
        Ok(vec![
            callback(
                "SUBSCRIPTION_STARTED",
                &s.reference,
                id,
                &s.msisdn,
                0,
                "",
                now,
            ),
            callback(
                "CHARGE_SUCCESS",
                &s.reference,
                id,
                &s.msisdn,
                s.amount_minor,
                "",
                now,
            ),
        ])
    } else {
        s.status = "failed".into();
        Ok(vec![callback(
            "CHARGE_FAILED",
            &s.reference,
            id,
            &s.msisdn,
            s.amount_minor,
            "subscription not confirmed",
            now,
        )])
    }
}

/// Renewals falling due at the sandbox's `now`, in due order.
pub fn due_charges(state: &mut State) -> Vec<(chrono::DateTime<chrono::Utc>, Value)> {
    let now = state.now();
    let mut due = Vec::new();
    for s in state.teleaudio.subscriptions.values_mut() {
        while s.status == "active" && s.next_charge_at.is_some_and(|at| at <= now) {
            let at = s.next_charge_at.unwrap_or(now);
            let cb = if s.charges_fail {
                callback(
                    "CHARGE_FAILED",
                    &s.reference,
                    &s.subscription_id,
                    &s.msisdn,
                    s.amount_minor,
                    "insufficient funds",
                    at,
                )
            } else {
                s.charges += 1;
                callback(
                    "CHARGE_SUCCESS",
                    &s.reference,
                    &s.subscription_id,
                    &s.msisdn,
                    s.amount_minor,
                    "",
                    at,
                )
            };
            due.push((at, cb));
            s.next_charge_at = Some(at + chrono::Duration::seconds(s.period_secs as i64));
        }
    }
    due
}

/// `POST /teleaudio/subscriptions/{id}/cancel`: answered verbatim to the merchant.
pub async fn cancel_subscription(
    AxState(app): AxState<App>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = guard(&app, &headers, &body).await {
        return r;
    }
    // Decided and delivered under the ordering lock: the cancellation reaches the adapter
    // after every charge decided before it, and before this answer.
    let _in_order = app.callback_order.lock().await;
    let cb = {
        let mut state = app.state.lock().await;
        let now = state.now();
        match state.teleaudio.subscriptions.get_mut(&id) {
            Some(s) if s.status == "active" => {
                s.status = "cancelled".into();
                s.next_charge_at = None;
                Some(callback(
                    "SUBSCRIPTION_CANCELLED",
                    &s.reference,
                    &id,
                    &s.msisdn,
                    0,
                    "unsubscribed",
                    now,
                ))
            }
            _ => None,
        }
    };
    match cb {
        Some(cb) => {
            app.deliver_teleaudio(vec![cb]).await;
            Json(json!({"status": "OK", "code": "200", "message": "Subscription cancelled"}))
                .into_response()
        }
        None => {
            Json(json!({"status": "ERROR", "code": "404", "message": "Subscription not found"}))
                .into_response()
        }
    }
}

#[derive(Deserialize)]
struct StartWebbilling {
    reference: String,
    msisdn: String,
    amount: i64,
}

/// `POST /teleaudio/webbilling`: texts a code to the phone.
pub async fn start_webbilling(
    AxState(app): AxState<App>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = guard(&app, &headers, &body).await {
        return r;
    }
    let Ok(w) = serde_json::from_slice::<StartWebbilling>(&body) else {
        return bad_request("expected reference, msisdn, amount");
    };
    if w.amount <= 0 || w.msisdn.is_empty() || w.reference.is_empty() {
        return bad_request("reference, msisdn and a positive amount are required");
    }
    let mut state = app.state.lock().await;
    if let Some(id) = state.teleaudio.by_reference.get(&w.reference).cloned() {
        return Json(json!({"transaction_id": id})).into_response();
    }
    let id = state.teleaudio.next_id("TAW");
    let code = format!("{:06}", rand::random::<u32>() % 1_000_000);
    state
        .teleaudio
        .by_reference
        .insert(w.reference.clone(), id.clone());
    state.teleaudio.webbilling.insert(
        id.clone(),
        Webbilling {
            transaction_id: id.clone(),
            reference: w.reference,
            msisdn: w.msisdn.clone(),
            amount_minor: w.amount,
            code: code.clone(),
            tries: 0,
            status: "pending".into(),
        },
    );
    let zl = paysys_platform::money::Money::new(
        w.amount,
        paysys_platform::money::Currency::parse("PLN").expect("PLN"),
    );
    state.send_sms(
        &w.msisdn,
        "Teleaudio",
        format!(
            "Your payment code: {code}. Amount {} PLN.",
            zl.to_decimal_fixed()
        ),
    );
    Json(json!({"transaction_id": id})).into_response()
}

#[derive(Deserialize)]
struct Confirm {
    code: String,
}

/// `POST /teleaudio/webbilling/{id}/confirm`: seed 002's answers.
pub async fn confirm_webbilling(
    AxState(app): AxState<App>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = guard(&app, &headers, &body).await {
        return r;
    }
    let Ok(c) = serde_json::from_slice::<Confirm>(&body) else {
        return bad_request("expected code");
    };
    let _in_order = app.callback_order.lock().await;
    let error = |code: &str| {
        Json(json!({"status": "ERROR", "code": code, "message": code})).into_response()
    };
    let cb = {
        let mut state = app.state.lock().await;
        let now = state.now();
        let Some(w) = state.teleaudio.webbilling.get_mut(&id) else {
            return error("BADTRANSACTION");
        };
        match w.status.as_str() {
            "failed" => return error("TRYEXCEEDED"),
            "paid" => return error("BADTRANSACTION"),
            _ => {}
        }
        if ct_eq(&c.code, &w.code) {
            w.status = "paid".into();
            callback(
                "PAYMENT_SUCCESS",
                &w.reference,
                &id,
                &w.msisdn,
                w.amount_minor,
                "",
                now,
            )
        } else {
            w.tries += 1;
            if w.tries < MAX_TRIES {
                return error("BADTOKEN");
            }
            w.status = "failed".into();
            callback(
                "PAYMENT_FAILED",
                &w.reference,
                &id,
                &w.msisdn,
                w.amount_minor,
                "TRYEXCEEDED",
                now,
            )
        }
    };
    let failed = cb["type"] == "PAYMENT_FAILED";
    // Teleaudio collects the money and calls back before it answers.
    app.deliver_teleaudio(vec![cb]).await;
    if failed {
        error("TRYEXCEEDED")
    } else {
        Json(json!({"status": "OK", "code": "200", "message": "OK"})).into_response()
    }
}
