//! `/_sandbox` control endpoints (DESIGN section 7, a contract; JSON in and out): complete the
//! page behind a redirect URL, advance the clock, set faults, read SMS, dump the state. Each
//! simulated provider plugs in here: `complete` dispatches on the redirect URL's path, `advance`
//! collects every provider's due charges.

use crate::callbacks::Delivery;
use crate::faults::{Fault, PROVIDERS};
use crate::{mobiltek, teleaudio, App};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;

/// A 400 naming the bad field: `{"ok":false,"error":{"field":..,"message":..}}`.
fn bad(field: &str, why: impl Into<String>) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"ok": false, "error": {"field": field, "message": why.into()}})),
    )
        .into_response()
}

fn body<T: for<'de> Deserialize<'de>>(raw: &[u8]) -> Result<T, Box<Response>> {
    serde_json::from_slice(raw).map_err(|e| Box::new(bad("body", format!("invalid JSON: {e}"))))
}

#[derive(Deserialize)]
struct Complete {
    redirect_url: String,
    outcome: String,
    /// Extension: "fail" makes the subscription's later recurring charges fail.
    #[serde(default)]
    charges: Option<String>,
}

/// `POST /_sandbox/complete {"redirect_url", "outcome": "success"|"failure", "charges"?}`: the
/// end user finishes or abandons the page behind a redirect URL. Answers only after the adapter
/// answered the resulting notifications: `{"ok":true,"provider",..,"notifications":[types]}`.
pub async fn complete(State(app): State<App>, raw: axum::body::Bytes) -> Response {
    let c: Complete = match body(&raw) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let success = match c.outcome.as_str() {
        "success" => true,
        "failure" => false,
        _ => return bad("outcome", "must be \"success\" or \"failure\""),
    };
    let charges_fail = match c.charges.as_deref() {
        None | Some("succeed") => false,
        Some("fail") => true,
        Some(_) => return bad("charges", "must be \"fail\" or \"succeed\""),
    };
    let Ok(url) = url::Url::parse(&c.redirect_url) else {
        return bad("redirect_url", "not a URL");
    };
    if mobiltek::is_ppe_path(url.path()) {
        let query = url.query().unwrap_or("");
        return match mobiltek::complete(&app, query, success, charges_fail, "").await {
            Ok(done) => Json(json!({
                "ok": true,
                "provider": "mobiltek",
                "transaction_id": done.transaction_id,
                "notifications": kinds(&done.deliveries),
                "deliveries": done.deliveries,
            }))
            .into_response(),
            Err(e) => bad("redirect_url", e),
        };
    }
    if let Some(id) = url
        .path()
        .strip_suffix('/')
        .unwrap_or(url.path())
        .rsplit_once("/teleaudio/confirm/")
        .map(|(_, id)| id.to_string())
    {
        let _in_order = app.callback_order.lock().await;
        let callbacks = {
            let mut state = app.state.lock().await;
            match teleaudio::complete(&mut state, &id, success, charges_fail) {
                Ok(c) => c,
                Err(e) => return bad("redirect_url", e),
            }
        };
        let sent = app.deliver_teleaudio(callbacks).await;
        return Json(json!({"ok": true, "provider": "teleaudio", "notifications": sent}))
            .into_response();
    }
    bad(
        "redirect_url",
        "not a redirect URL of a simulated provider (.../mobiltek/ppe?... or .../teleaudio/confirm/...)",
    )
}

fn kinds(deliveries: &[Delivery]) -> Vec<&str> {
    deliveries.iter().map(|d| d.kind.as_str()).collect()
}

#[derive(Deserialize)]
struct Advance {
    seconds: i64,
}

/// `POST /_sandbox/clock/advance {"seconds": N}`: moves the clock; every recurring charge that
/// falls due is performed (several per subscription when several periods passed) and notified
/// in due order before the answer `{"ok":true,"now":..,"charges":count}`.
pub async fn advance(State(app): State<App>, raw: axum::body::Bytes) -> Response {
    let a: Advance = match body(&raw) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    if !(0..=10 * 365 * 86_400).contains(&a.seconds) {
        return bad("seconds", "must be between 0 and ten years");
    }
    let _in_order = app.callback_order.lock().await;
    let (now, mobiltek_due, teleaudio_due) = {
        let mut state = app.state.lock().await;
        let now = state.clock.advance(a.seconds);
        let mobiltek_due = mobiltek::due(&mut state);
        let mut teleaudio_due = teleaudio::due_charges(&mut state);
        teleaudio_due.sort_by_key(|(at, _)| *at);
        (now, mobiltek_due, teleaudio_due)
    };
    let count = mobiltek_due.len() + teleaudio_due.len();
    mobiltek::notify(&app, mobiltek_due).await;
    app.deliver_teleaudio(teleaudio_due.into_iter().map(|(_, c)| c).collect())
        .await;
    Json(json!({"ok": true, "now": now.to_rfc3339(), "charges": count})).into_response()
}

#[derive(Deserialize)]
struct Faults {
    provider: String,
    mode: String,
}

/// `POST /_sandbox/faults {"provider", "mode": "timeout"|"error"|"duplicate_callbacks"|"none"}`.
pub async fn faults(State(app): State<App>, raw: axum::body::Bytes) -> Response {
    let f: Faults = match body(&raw) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    if !PROVIDERS.contains(&f.provider.as_str()) {
        return bad(
            "provider",
            format!("must be one of {}", PROVIDERS.join(", ")),
        );
    }
    let Some(mode) = Fault::parse(&f.mode) else {
        return bad(
            "mode",
            "must be timeout, error, duplicate_callbacks or none",
        );
    };
    app.state.lock().await.faults.set(&f.provider, mode);
    tracing::info!(provider = %f.provider, ?mode, "sandbox fault set");
    Json(json!({"ok": true, "provider": f.provider, "mode": mode})).into_response()
}

/// `GET /_sandbox/sms?phone=...` -> `{"phone":..,"messages":[{at, from, text}]}`.
pub async fn sms(State(app): State<App>, Query(q): Query<HashMap<String, String>>) -> Response {
    let Some(phone) = q.get("phone").filter(|p| !p.is_empty()) else {
        return bad("phone", "required");
    };
    let messages = app.state.lock().await.sms.to(phone);
    Json(json!({"phone": phone, "messages": messages})).into_response()
}

/// `GET /_sandbox/state`: what the simulated providers know, and the latest callbacks.
pub async fn dump(State(app): State<App>) -> Response {
    let state = app.state.lock().await;
    Json(json!({
        "now": state.now().to_rfc3339(),
        "clock_offset_secs": state.clock.offset_secs(),
        "faults": state.faults,
        "mobiltek": {"transactions": state.mobiltek.transactions.values().collect::<Vec<_>>()},
        "teleaudio": {
            "subscriptions": state.teleaudio.subscriptions.values().collect::<Vec<_>>(),
            "webbilling": state.teleaudio.webbilling.values().collect::<Vec<_>>(),
        },
        "deliveries": state.deliveries,
    }))
    .into_response()
}
